//! Replies too large to build: SRANDMEMBER, HRANDFIELD and ZRANDMEMBER with a
//! huge negative count answer Redis's bytes, written as the client reads them
//! (Redis would build them whole until it ran out of memory).

use std::io::Read;

use rubedo_resp::Frame;
use rubedo_tests::{bulk, Server};

const ENGINES: &[&str] = &["single", "concurrent"];

/// Reads `n` bytes from the connection.
fn read_bytes(raw: &mut rubedo_tests::Raw, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    raw.stream.read_exact(&mut out).expect("reply bytes");
    out
}

#[test]
fn a_huge_negative_count_streams_and_keeps_the_server_responsive() {
    for engine in ENGINES {
        let srv = Server::start(&["--engine", engine]);
        let mut c = srv.raw();
        assert_eq!(c.call(&["SADD", "s", "a", "bb"]), Frame::Integer(2));
        assert_eq!(c.call(&["HSET", "h", "f", "v"]), Frame::Integer(1));
        assert_eq!(c.call(&["ZADD", "z", "1.5", "m"]), Frame::Integer(1));
        let cases: &[(&[&str], &[u8])] = &[
            (
                &["SRANDMEMBER", "s", "-9223372036854775807"],
                b"*9223372036854775807\r\n",
            ),
            (
                &["HRANDFIELD", "h", "-4611686018427387903", "WITHVALUES"],
                b"*9223372036854775806\r\n",
            ),
            (
                &["ZRANDMEMBER", "z", "-4611686018427387903", "WITHSCORES"],
                b"*9223372036854775806\r\n",
            ),
            (
                &["ZRANDMEMBER", "z", "-9223372036854775807"],
                b"*9223372036854775807\r\n",
            ),
        ];
        for (i, (words, header)) in cases.iter().enumerate() {
            let mut r = srv.raw();
            r.cmd(words);
            // Far more than the server keeps pending: it writes as we read.
            let got = read_bytes(&mut r, 4 << 20);
            assert!(got.starts_with(header), "{engine} {words:?}");
            let body = &got[header.len()..];
            let unit: &[u8] = match words[0] {
                "HRANDFIELD" => b"$1\r\nf\r\n$1\r\nv\r\n",
                "ZRANDMEMBER" if words.len() == 4 => b"$1\r\nm\r\n$3\r\n1.5\r\n",
                "ZRANDMEMBER" => b"$1\r\nm\r\n",
                _ => b"",
            };
            if !unit.is_empty() {
                let whole = body.len() / unit.len() * unit.len();
                assert!(
                    body[..whole].chunks(unit.len()).all(|c| c == unit),
                    "{words:?}"
                );
            } else {
                // Members a and bb in any order.
                let mut rest = body;
                while rest.len() > 8 {
                    let n = if rest.starts_with(b"$1\r\na\r\n") {
                        7
                    } else {
                        8
                    };
                    assert!(
                        rest.starts_with(b"$1\r\na\r\n") || rest.starts_with(b"$2\r\nbb\r\n"),
                        "{engine}"
                    );
                    rest = &rest[n..];
                }
            }
            // Another client is served while this one stops reading, and
            // writes land (the stream holds no lock).
            let mut other = srv.raw();
            assert_eq!(
                other.call(&["PING"]),
                Frame::Simple("PONG".into()),
                "{engine}"
            );
            assert_eq!(
                other.call(&["SADD", "s2", &i.to_string()]),
                Frame::Integer(1)
            );
            drop(r);
        }
        assert_eq!(c.call(&["SCARD", "s"]), Frame::Integer(2), "{engine}");
    }
}

#[test]
fn streamed_replies_keep_their_place_in_pipelines_and_exec() {
    for engine in ENGINES {
        let srv = Server::start(&["--engine", engine]);
        let mut c = srv.raw();
        c.call(&["SADD", "s", "a"]);
        c.call(&["ZADD", "z", "1.5", "m"]);
        let n = 70_000; // above the streaming threshold
        let count = format!("-{n}");
        c.cmd(&["MULTI"]);
        c.cmd(&["PING"]);
        c.cmd(&["SRANDMEMBER", "s", &count]);
        c.cmd(&["ECHO", "between"]);
        c.cmd(&["ZRANDMEMBER", "z", &count, "WITHSCORES"]);
        c.cmd(&["EXEC"]);
        c.cmd(&["SRANDMEMBER", "s", &count]);
        c.cmd(&["ECHO", "after"]);
        assert_eq!(c.read(), Some(Frame::ok()));
        for _ in 0..4 {
            assert_eq!(c.read(), Some(Frame::Simple("QUEUED".into())));
        }
        let members = |m: &str| Frame::Array(vec![bulk(m); n]);
        let mut scored = Vec::new();
        for _ in 0..n {
            scored.push(bulk("m"));
            scored.push(bulk("1.5"));
        }
        assert_eq!(
            c.read(),
            Some(Frame::Array(vec![
                Frame::Simple("PONG".into()),
                members("a"),
                bulk("between"),
                Frame::Array(scored),
            ])),
            "{engine}"
        );
        assert_eq!(c.read(), Some(members("a")), "{engine}");
        assert_eq!(c.read(), Some(bulk("after")), "{engine}");
    }
}
