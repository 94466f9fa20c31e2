//! Redis's RDB format with the real binaries: a `dump.rdb` written by
//! redis-server 7.0.15 loads in Rubedo with the same DEBUG DIGEST, an AOF
//! directory Redis wrote with an RDB preamble loads, and a snapshot Rubedo
//! writes with `snapshot-format rdb` loads in redis-server with the same
//! digest. Runs only where `redis-server` is on PATH (else a note, and the
//! test passes); every server started is stopped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rubedo_resp::Frame;
use rubedo_tests::{fill_every_type, have_redis_server, text, Dir, Raw, RedisServer, Server};

const ENGINES: [&str; 2] = ["single", "concurrent"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/persist/tests/fixtures/redis-7.0.15-rdb")
}

/// Rubedo in `dir` with no save points, DEBUG allowed.
fn rubedo(engine: &str, dir: &Dir, extra: &[&str]) -> Server {
    let mut args = vec!["--engine", engine, "--dir", dir.path(), "--save", ""];
    args.extend_from_slice(&["--enable-debug-command", "yes"]);
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn digest(c: &mut Raw) -> String {
    text(c.call(&["DEBUG", "DIGEST"]))
}

/// Files redis-server wrote load with the digest Redis computes over them.
#[test]
fn a_dump_rdb_written_by_redis_loads_with_the_same_digest() {
    if !have_redis_server("this test") {
        return;
    }
    for name in [
        "all-types.rdb",
        "idle-lru.rdb",
        "nocompress.rdb",
        "nochecksum.rdb",
    ] {
        let dir = Dir::new("rdb-from-redis");
        std::fs::copy(fixtures().join(name), dir.0.join("dump.rdb")).unwrap();
        let want = {
            let r = RedisServer::start(Some(&dir), &[]);
            digest(&mut r.raw())
        };
        for engine in ENGINES {
            let s = rubedo(engine, &dir, &[]);
            let mut c = s.raw();
            assert_eq!(digest(&mut c), want, "{name} under {engine}");
        }
    }
    // The idle times the file kept are kept.
    let dir = Dir::new("rdb-idle");
    std::fs::copy(fixtures().join("idle-lru.rdb"), dir.0.join("dump.rdb")).unwrap();
    let s = rubedo("single", &dir, &[]);
    let mut c = s.raw();
    let keys = c.call(&["KEYS", "*"]);
    let Frame::Array(keys) = keys else {
        panic!("{keys:?}")
    };
    let idle: Vec<i64> = keys
        .iter()
        .map(
            |k| match c.call(&["OBJECT", "IDLETIME", &text(k.clone())]) {
                Frame::Integer(n) => n,
                f => panic!("{f:?}"),
            },
        )
        .collect();
    assert!(idle.iter().any(|&n| n > 0), "no idle time kept: {idle:?}");
}

/// A directory Redis wrote with its default RDB preamble (the base is an
/// RDB file) loads with its digest.
#[test]
fn a_redis_aof_directory_with_an_rdb_base_loads() {
    if !have_redis_server("this test") {
        return;
    }
    let dir = Dir::new("aof-rdb-base");
    let want = {
        let mut r = RedisServer::start(Some(&dir), &["--appendonly", "yes"]);
        let c = &mut r.raw();
        fill_every_type(c);
        assert!(!matches!(c.call(&["BGREWRITEAOF"]), Frame::Error(_)));
        let until = Instant::now() + Duration::from_secs(60);
        while c.info_field("persistence", "aof_rewrite_in_progress") != "0"
            || c.info_field("persistence", "aof_rewrite_scheduled") != "0"
        {
            assert!(Instant::now() < until, "the rewrite did not finish");
            std::thread::sleep(Duration::from_millis(10));
        }
        c.call(&["SET", "after", "rewrite"]);
        c.call(&["DEL", "s"]);
        let d = digest(c);
        c.cmd(&["SHUTDOWN", "NOSAVE"]);
        let _ = c.read();
        r.wait();
        d
    };
    let manifest =
        std::fs::read_to_string(dir.0.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert!(manifest.contains(".base.rdb"), "{manifest}");
    for engine in ENGINES {
        let s = rubedo(engine, &dir, &["--appendonly", "yes"]);
        let mut c = s.raw();
        assert_eq!(digest(&mut c), want, "{engine}");
        assert_eq!(c.call(&["EXISTS", "s"]), Frame::Integer(0));
        drop(s);
    }
}

/// With `snapshot-format rdb`, SAVE writes a file redis-server loads with
/// the same digest, and Rubedo loads it back.
#[test]
fn a_snapshot_in_rdb_format_loads_in_redis() {
    if !have_redis_server("this test") {
        return;
    }
    for engine in ENGINES {
        let dir = Dir::new("rdb-to-redis");
        let s = rubedo(engine, &dir, &["--snapshot-format", "rdb"]);
        let mut c = s.raw();
        fill_every_type(&mut c);
        let want = digest(&mut c);
        assert_eq!(text(c.call(&["SAVE"])), "OK");
        let head = std::fs::read(dir.0.join("dump.rdb")).unwrap();
        assert!(head.starts_with(b"REDIS0010"), "{:?}", &head[..9]);
        drop(c);
        drop(s);
        let r = RedisServer::start(Some(&dir), &[]);
        assert_eq!(
            digest(&mut r.raw()),
            want,
            "redis-server loading {engine}'s file"
        );
        drop(r);
        let s = rubedo(engine, &dir, &[]);
        let mut c = s.raw();
        assert_eq!(digest(&mut c), want, "{engine} loading its own RDB file");
        // BGSAVE writes the same format.
        let s2 = rubedo(engine, &dir, &["--snapshot-format", "rdb"]);
        drop(s);
        let mut c = s2.raw();
        c.call(&["SET", "more", "x"]);
        let want = digest(&mut c);
        assert!(!matches!(c.call(&["BGSAVE"]), Frame::Error(_)));
        let until = Instant::now() + Duration::from_secs(60);
        while c.info_field("persistence", "rdb_bgsave_in_progress") != "0" {
            assert!(Instant::now() < until, "BGSAVE did not finish");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(c.info_field("persistence", "rdb_last_bgsave_status"), "ok");
        drop(c);
        drop(s2);
        let r = RedisServer::start(Some(&dir), &[]);
        assert_eq!(
            digest(&mut r.raw()),
            want,
            "redis-server loading {engine}'s BGSAVE"
        );
    }
}

/// `redis-cli --rdb` downloads the dataset in RDB format (redis-server
/// loads it with the same digest); `--functions-rdb` an RDB with no keys.
#[test]
fn redis_cli_rdb_downloads_a_snapshot() {
    if !have_redis_server("this test") {
        return;
    }
    for engine in ENGINES {
        let dir = Dir::new("cli-rdb");
        let s = rubedo(engine, &dir, &[]);
        let mut c = s.raw();
        fill_every_type(&mut c);
        let want = digest(&mut c);
        let out = dir.0.join("fetched.rdb");
        let run = |flag: &str, path: &Path| {
            let o = Command::new("redis-cli")
                .args(["-p", &s.port.to_string(), flag])
                .arg(path)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        };
        run("--rdb", &out);
        // The server goes on serving after it.
        assert_eq!(digest(&mut c), want);
        let fdir = Dir::new("cli-functions-rdb");
        run("--functions-rdb", &fdir.0.join("dump.rdb"));
        drop(c);
        drop(s);
        std::fs::rename(&out, dir.0.join("dump.rdb")).unwrap();
        let r = RedisServer::start(Some(&dir), &[]);
        assert_eq!(digest(&mut r.raw()), want, "{engine}");
        let r = RedisServer::start(Some(&fdir), &[]);
        assert_eq!(r.raw().call(&["DBSIZE"]), Frame::Integer(0));
    }
}

/// SYNC and PSYNC serve only a snapshot download (`REPLCONF rdb-only 1`):
/// a replica that would stay for the write stream is refused, not fed a
/// snapshot that goes stale.
#[test]
fn sync_without_rdb_only_is_refused() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for cmd in [&["SYNC"][..], &["PSYNC", "?", "-1"][..]] {
        match c.call(cmd) {
            Frame::Error(e) => assert!(
                String::from_utf8_lossy(&e).contains("does not replicate yet"),
                "{e:?}"
            ),
            f => panic!("{f:?}"),
        }
    }
    // PSYNC answers +FULLRESYNC, then the RDB as a bulk without CRLF, and
    // the connection closes; an empty filter list leaves everything out.
    let fetch = |filter: Option<&str>, cmd: &[u8]| -> Vec<u8> {
        use std::io::{Read, Write};
        let mut t = std::net::TcpStream::connect(s.addr()).unwrap();
        t.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut req = b"REPLCONF rdb-only 1\r\n".to_vec();
        if let Some(f) = filter {
            req.extend_from_slice(format!("REPLCONF rdb-filter-only \"{f}\"\r\n").as_bytes());
        }
        req.extend_from_slice(cmd);
        t.write_all(&req).unwrap();
        let mut all = Vec::new();
        t.read_to_end(&mut all).unwrap();
        let oks = if filter.is_some() { 2 } else { 1 };
        let head = b"+OK\r\n".repeat(oks);
        assert!(
            all.starts_with(&head),
            "{:?}",
            String::from_utf8_lossy(&all)
        );
        all.split_off(head.len())
    };
    c.call(&["SET", "k", "v"]);
    for (filter, cmd) in [
        (None, &b"PSYNC ? -1\r\n"[..]),
        (None, &b"SYNC\r\n"[..]),
        (Some(""), &b"SYNC\r\n"[..]),
    ] {
        let mut got = fetch(filter, cmd);
        if cmd.starts_with(b"PSYNC") {
            let nl = got.iter().position(|&b| b == b'\n').unwrap();
            assert!(got.starts_with(b"+FULLRESYNC "), "{got:?}");
            got.drain(..=nl);
        }
        let nl = got.iter().position(|&b| b == b'\n').unwrap();
        let len: usize = std::str::from_utf8(&got[1..nl - 1])
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(got[0], b'$');
        let rdb = &got[nl + 1..];
        assert_eq!(
            rdb.len(),
            len,
            "exactly the announced bytes, then the close"
        );
        assert!(rdb.starts_with(b"REDIS0010"));
        let has_key = rdb.windows(3).any(|w| w == b"\x01kv" || w == b"\x01k\x01");
        assert_eq!(has_key, filter.is_none(), "{filter:?}: {rdb:?}");
    }
}

/// The function libraries of a loaded file are loaded (Rubedo runs them),
/// kept through Rubedo's own snapshots and written into RDB files and
/// `--functions-rdb` downloads, where redis-server runs them.
#[test]
fn function_libraries_are_kept_and_handed_back_to_redis() {
    if !have_redis_server("this test") {
        return;
    }
    let dir = Dir::new("rdb-functions");
    std::fs::copy(fixtures().join("all-types.rdb"), dir.0.join("dump.rdb")).unwrap();
    {
        // Through Rubedo's own format and a restart.
        let s = rubedo("single", &dir, &[]);
        assert_eq!(s.raw().call(&["FCALL", "f", "0"]), Frame::Integer(1));
        assert_eq!(text(s.raw().call(&["SAVE"])), "OK");
    }
    let head = std::fs::read(dir.0.join("dump.rdb")).unwrap();
    assert!(!head.starts_with(b"REDIS"), "saved in Rubedo's format");
    let s = rubedo("single", &dir, &["--snapshot-format", "rdb"]);
    let mut c = s.raw();
    assert_eq!(text(c.call(&["SAVE"])), "OK");
    let fdir = Dir::new("rdb-functions-only");
    let o = Command::new("redis-cli")
        .args(["-p", &s.port.to_string(), "--functions-rdb"])
        .arg(fdir.0.join("dump.rdb"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    drop(c);
    drop(s);
    for d in [&dir, &fdir] {
        let r = RedisServer::start(Some(d), &[]);
        let mut c = r.raw();
        assert_eq!(c.call(&["FCALL", "f", "0"]), Frame::Integer(1));
        let list = format!("{:?}", c.call(&["FUNCTION", "LIST"]));
        assert!(list.contains("mylib"), "{list}");
    }
}

/// An RDB file that holds a key twice is damaged: the start is refused
/// with the key named (Redis refuses it too), nothing is served.
#[test]
fn an_rdb_file_with_a_key_twice_is_refused() {
    let dir = Dir::new("rdb-duplicate");
    let mut f = b"REDIS0010\xfe\x00".to_vec();
    for v in [&b"one"[..], b"two"] {
        f.extend_from_slice(b"\x00\x03dup");
        f.push(v.len() as u8);
        f.extend_from_slice(v);
    }
    f.push(0xff);
    f.extend_from_slice(&[0; 8]); // a zero CRC is not checked
    std::fs::write(dir.0.join("dump.rdb"), &f).unwrap();
    let out = Command::new(rubedo_tests::server_binary())
        .args(["--port", "0", "--bind", "127.0.0.1", "--dir", dir.path()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "the server started");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'dup'") && err.contains("twice"), "{err}");
}
