//! Bad input: garbage, huge length headers, unterminated requests and
//! oversized inline lines get Redis's protocol errors, close only the
//! offending connection, and leave the server serving everyone else.

use rubedo_resp::Frame;
use rubedo_tests::{bulk, Server};

fn protocol_error(f: Option<Frame>) -> String {
    match f {
        Some(Frame::Error(e)) => String::from_utf8_lossy(&e).into_owned(),
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[test]
fn hostile_input_closes_only_that_client() {
    for engine in ["single", "concurrent"] {
        let srv = Server::start(&["--engine", engine]);
        let mut bystander = srv.raw();
        assert_eq!(bystander.call(&["SET", "safe", "1"]), Frame::ok());

        let mut g = srv.raw();
        g.send(b"*1\r\n$x\r\n");
        assert_eq!(
            protocol_error(g.read()),
            "ERR Protocol error: invalid bulk length"
        );
        assert_eq!(g.read(), None, "closed after the error");

        let mut huge = srv.raw();
        huge.send(b"*1\r\n$2147483648\r\n");
        assert_eq!(
            protocol_error(huge.read()),
            "ERR Protocol error: invalid bulk length"
        );

        let mut count = srv.raw();
        count.send(b"*3000000000\r\n");
        assert_eq!(
            protocol_error(count.read()),
            "ERR Protocol error: invalid multibulk length"
        );

        let mut expected = srv.raw();
        expected.send(b"*1\r\n+PING\r\n");
        assert_eq!(
            protocol_error(expected.read()),
            "ERR Protocol error: expected '$', got '+'"
        );

        let mut quotes = srv.raw();
        quotes.send(b"SET a \"unterminated\r\n");
        assert_eq!(
            protocol_error(quotes.read()),
            "ERR Protocol error: unbalanced quotes in request"
        );

        let mut inline = srv.raw();
        inline.send(&vec![b'a'; 1024 * 1024]);
        assert_eq!(
            protocol_error(inline.read()),
            "ERR Protocol error: too big inline request"
        );

        // An unterminated multibulk just waits; the client can still finish it.
        let mut partial = srv.raw();
        partial.send(b"*2\r\n$4\r\nECHO\r\n$5\r\nhel");
        assert_eq!(bystander.call(&["GET", "safe"]), bulk("1"));
        partial.send(b"lo\r\n");
        assert_eq!(partial.read(), Some(bulk("hello")));

        // Random bytes never crash the server.
        let mut noise = srv.raw();
        let mut x: u32 = 12345;
        let bytes: Vec<u8> = (0..4096)
            .map(|_| {
                x = x.wrapping_mul(1103515245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        noise.send(&bytes);
        drop(noise);

        assert_eq!(bystander.call(&["GET", "safe"]), bulk("1"), "{engine}");
        let mut fresh = srv.raw();
        assert_eq!(fresh.call(&["PING"]), Frame::simple("PONG"));
    }
}

#[test]
fn inline_commands_and_pipelines_work() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    c.send(b"SET k \"a b\"\r\nGET k\r\n\r\nPING\r\n");
    assert_eq!(c.read(), Some(Frame::ok()));
    assert_eq!(c.read(), Some(bulk("a b")));
    assert_eq!(c.read(), Some(Frame::simple("PONG")));
    let mut batch = Vec::new();
    for _ in 0..1000 {
        batch.extend_from_slice(b"*2\r\n$4\r\nINCR\r\n$3\r\nctr\r\n");
    }
    c.send(&batch);
    for i in 1..=1000 {
        assert_eq!(c.read(), Some(Frame::Integer(i)));
    }
}

/// A client that pipelines big replies and never reads keeps being read and
/// its replies wait in memory, as with Redis (bounded only by
/// client-output-buffer-limit normal, unlimited by default): CLIENT LIST
/// `omem` and INFO used_memory count them, and everyone else is served.
#[test]
fn a_client_that_never_reads_has_its_replies_buffered_and_counted() {
    for engine in ["single", "concurrent"] {
        let srv = Server::start(&["--engine", engine]);
        let mut admin = srv.raw();
        let big = "x".repeat(1 << 20);
        assert_eq!(admin.call(&["SET", "big", &big]), Frame::ok());
        let mut hog = srv.raw();
        let hog_id = match hog.call(&["CLIENT", "ID"]) {
            Frame::Integer(n) => n,
            f => panic!("{f:?}"),
        };
        let mut batch = Vec::new();
        for _ in 0..200 {
            batch.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
        }
        hog.send(&batch);
        // 200 MB of replies, of which the socket holds a few: the rest is
        // buffered and shown.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let list = match admin.call(&["CLIENT", "LIST", "ID", &hog_id.to_string()]) {
                Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                f => panic!("{f:?}"),
            };
            let omem: usize = list
                .split_whitespace()
                .find_map(|f| f.strip_prefix("omem="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if omem > 150 << 20 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{engine}: omem stayed at {omem}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let info = match admin.call(&["INFO", "memory"]) {
            Frame::Bulk(b) | Frame::Verbatim { data: b, .. } => {
                String::from_utf8_lossy(&b).into_owned()
            }
            f => panic!("{f:?}"),
        };
        let used: u64 = info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("used_memory");
        assert!(used > 150 << 20, "{engine}: used_memory {used}");
        assert_eq!(admin.call(&["PING"]), Frame::simple("PONG"));
    }
}
