//! MIGRATE with real servers: every type moved from Rubedo (both engines)
//! to a second Rubedo and to redis-server, and from redis-server into
//! Rubedo, with TTLs; COPY, REPLACE, KEYS, BUSYKEY, AUTH/AUTH2 against a
//! password-protected target; one cached connection reused (SELECT sent
//! once per database) and closed by the cron once idle; the IOERR paths
//! (nothing listening, a silent target, a target that hangs up, an
//! address that does not resolve); the effect propagated as DEL, the
//! `del` events and AUTH redacted in MONITOR. The redis-server parts run
//! only where it is on PATH; every server and listener started is stopped.

use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rubedo_resp::Frame;
use rubedo_tests::{bulk, free_port, have_redis_server, text, Dir, Raw, RedisServer, Server};

const ENGINES: [&str; 2] = ["single", "concurrent"];

fn rubedo(engine: &str, extra: &[&str]) -> Server {
    let mut args = vec!["--engine", engine, "--enable-debug-command", "yes"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// A MIGRATE target: a second Rubedo or a redis-server.
enum Target {
    Rubedo(Server),
    Redis(RedisServer),
}

impl Target {
    fn port(&self) -> u16 {
        match self {
            Target::Rubedo(s) => s.port,
            Target::Redis(r) => r.port,
        }
    }

    fn raw(&self) -> Raw {
        match self {
            Target::Rubedo(s) => s.raw(),
            Target::Redis(r) => r.raw(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Target::Rubedo(_) => "rubedo",
            Target::Redis(_) => "redis-server",
        }
    }
}

/// A Rubedo target (of the other engine than `engine`) and, where it is
/// installed, a redis-server, both with `extra`.
fn targets(engine: &str, extra: &[&str]) -> Vec<Target> {
    let other = if engine == "single" {
        "concurrent"
    } else {
        "single"
    };
    let mut t = vec![Target::Rubedo(rubedo(other, extra))];
    if have_redis_server("the redis-server part") {
        t.push(Target::Redis(RedisServer::start(None, extra)));
    }
    t
}

fn ok(f: Frame) {
    assert!(!matches!(f, Frame::Error(_)), "{f:?}");
}

fn err_text(f: Frame) -> String {
    match f {
        Frame::Error(e) => String::from_utf8_lossy(&e).into_owned(),
        f => panic!("not an error: {f:?}"),
    }
}

/// Every type in its compact and its large encodings, a TTL; the key
/// names, sorted.
fn fill(c: &mut Raw) -> Vec<String> {
    ok(c.call(&["SET", "s", "hello"]));
    ok(c.call(&["SET", "n", "-12345"]));
    ok(c.call(&["SET", "raw", &"x".repeat(200)]));
    ok(c.call(&["SET", "ttl", "v", "PX", "100000000"]));
    ok(c.call(&["RPUSH", "l", "a", "", "123"]));
    ok(c.call(&["SADD", "is", "1", "2", "-3"]));
    ok(c.call(&["SADD", "ss", "a", "b"]));
    ok(c.call(&["ZADD", "z", "1.5", "a", "-inf", "b", "inf", "c"]));
    ok(c.call(&["HSET", "h", "f", "v", "", "x"]));
    ok(c.call(&["HSET", "httl", "f", "v"]));
    ok(c.call(&["PEXPIRE", "httl", "50000000"]));
    for i in 0..1500 {
        let (m, v) = (format!("m{i}"), format!("{i}"));
        c.cmd(&["HSET", "bighash", &m, &v]);
        c.cmd(&["ZADD", "bigzset", &v, &m]);
        c.cmd(&["SADD", "bigset", &m]);
        c.cmd(&["SADD", "bigintset", &v]);
        c.cmd(&["RPUSH", "biglist", &m]);
    }
    for _ in 0..7500 {
        ok(c.read().unwrap());
    }
    let mut keys: Vec<String> = match c.call(&["KEYS", "*"]) {
        Frame::Array(v) => v.into_iter().map(text).collect(),
        f => panic!("{f:?}"),
    };
    keys.sort();
    assert_eq!(keys.len(), 15);
    keys
}

fn digests(c: &mut Raw, keys: &[String]) -> Vec<String> {
    let mut cmd = vec!["DEBUG", "DIGEST-VALUE"];
    cmd.extend(keys.iter().map(String::as_str));
    match c.call(&cmd) {
        Frame::Array(v) => v.into_iter().map(text).collect(),
        f => panic!("{f:?}"),
    }
}

fn pttl(c: &mut Raw, key: &str) -> i64 {
    match c.call(&["PTTL", key]) {
        Frame::Integer(n) => n,
        f => panic!("{f:?}"),
    }
}

fn int(f: Frame) -> i64 {
    match f {
        Frame::Integer(n) => n,
        f => panic!("not an integer: {f:?}"),
    }
}

fn migrate_keys(c: &mut Raw, port: u16, db: &str, opts: &[&str], keys: &[String]) -> Frame {
    let port = port.to_string();
    let mut cmd = vec!["MIGRATE", "127.0.0.1", &port, "", db, "5000"];
    cmd.extend_from_slice(opts);
    cmd.push("KEYS");
    cmd.extend(keys.iter().map(String::as_str));
    c.call(&cmd)
}

/// Checks that `keys` arrived in `db` of the target with `want` digests
/// and their TTLs (at most what the source had, and some left).
fn assert_arrived(t: &mut Raw, db: &str, keys: &[String], want: &[String], ttls: [i64; 2]) {
    ok(t.call(&["SELECT", db]));
    assert_eq!(digests(t, keys), want);
    for (k, had) in ["ttl", "httl"].into_iter().zip(ttls) {
        let left = pttl(t, k);
        assert!(left > 0 && left <= had, "{k}: {left} of {had}");
    }
    assert_eq!(pttl(t, "s"), -1);
}

#[test]
fn every_type_moves_to_rubedo_and_to_redis_with_its_ttl() {
    for engine in ENGINES {
        for target in targets(engine, &[]) {
            let s = rubedo(engine, &[]);
            let mut c = s.raw();
            let keys = fill(&mut c);
            let want = digests(&mut c, &keys);
            let ttls = [pttl(&mut c, "ttl"), pttl(&mut c, "httl")];
            let what = format!("{engine} -> {}", target.name());
            // One key alone, then all the others at once (in database 3).
            let r = c.call(&[
                "MIGRATE",
                "127.0.0.1",
                &target.port().to_string(),
                "s",
                "3",
                "5000",
            ]);
            assert_eq!(r, Frame::ok(), "{what}");
            assert_eq!(int(c.call(&["EXISTS", "s"])), 0, "{what}");
            let rest: Vec<String> = keys.iter().filter(|k| *k != "s").cloned().collect();
            assert_eq!(
                migrate_keys(&mut c, target.port(), "3", &[], &rest),
                Frame::ok(),
                "{what}"
            );
            assert_eq!(
                int(c.call(&["DBSIZE"])),
                0,
                "{what}: the source keys are deleted"
            );
            let mut t = target.raw();
            assert_arrived(&mut t, "3", &keys, &want, ttls);
            assert_eq!(int(t.call(&["DBSIZE"])), keys.len() as i64, "{what}");
            // Missing keys: nothing to do.
            let r = c.call(&[
                "MIGRATE",
                "127.0.0.1",
                &target.port().to_string(),
                "s",
                "3",
                "5000",
            ]);
            assert_eq!(r, Frame::simple("NOKEY"), "{what}");
        }
    }
}

#[test]
fn redis_migrates_every_type_into_rubedo() {
    if !have_redis_server("the redis-server part") {
        return;
    }
    for engine in ENGINES {
        let r = RedisServer::start(None, &[]);
        let mut c = r.raw();
        let keys = fill(&mut c);
        let want = digests(&mut c, &keys);
        let ttls = [pttl(&mut c, "ttl"), pttl(&mut c, "httl")];
        let s = rubedo(engine, &[]);
        assert_eq!(
            migrate_keys(&mut c, s.port, "2", &[], &keys),
            Frame::ok(),
            "{engine}"
        );
        assert_eq!(int(c.call(&["DBSIZE"])), 0);
        let mut t = s.raw();
        assert_arrived(&mut t, "2", &keys, &want, ttls);
        // The values are usable, not only equal.
        assert_eq!(int(t.call(&["LLEN", "biglist"])), 1500);
        assert_eq!(t.call(&["ZSCORE", "bigzset", "m77"]), bulk("77"));
        assert_eq!(t.call(&["HGET", "bighash", "m5"]), bulk("5"));
        assert_eq!(int(t.call(&["SISMEMBER", "bigintset", "1499"])), 1);
        assert_eq!(t.call(&["GET", "raw"]), bulk(&"x".repeat(200)));
    }
}

#[test]
fn copy_keeps_replace_overwrites_and_busykey_keeps_the_key() {
    for engine in ENGINES {
        for target in targets(engine, &[]) {
            let what = format!("{engine} -> {}", target.name());
            let port = target.port().to_string();
            let s = rubedo(engine, &[]);
            let mut c = s.raw();
            let mut t = target.raw();
            ok(c.call(&["SET", "k", "new"]));
            ok(c.call(&["RPUSH", "l", "a", "b"]));
            // COPY: the source keeps its keys.
            let r = c.call(&[
                "MIGRATE",
                "127.0.0.1",
                &port,
                "",
                "0",
                "5000",
                "COPY",
                "KEYS",
                "k",
                "l",
            ]);
            assert_eq!(r, Frame::ok(), "{what}");
            assert_eq!(int(c.call(&["EXISTS", "k", "l"])), 2, "{what}");
            assert_eq!(t.call(&["GET", "k"]), bulk("new"), "{what}");
            // Again: the target has them.
            ok(c.call(&["SET", "k", "newer"]));
            let r = c.call(&["MIGRATE", "127.0.0.1", &port, "k", "0", "5000", "COPY"]);
            assert_eq!(
                err_text(r),
                "ERR Target instance replied with error: BUSYKEY Target key name already exists.",
                "{what}"
            );
            let r = c.call(&["MIGRATE", "127.0.0.1", &port, "k", "0", "5000"]);
            assert!(err_text(r).contains("BUSYKEY"), "{what}");
            assert_eq!(
                c.call(&["GET", "k"]),
                bulk("newer"),
                "{what}: kept after BUSYKEY"
            );
            assert_eq!(t.call(&["GET", "k"]), bulk("new"), "{what}");
            // REPLACE overwrites; COPY REPLACE keeps the source too.
            let r = c.call(&[
                "MIGRATE",
                "127.0.0.1",
                &port,
                "k",
                "0",
                "5000",
                "COPY",
                "REPLACE",
            ]);
            assert_eq!(r, Frame::ok(), "{what}");
            assert_eq!(t.call(&["GET", "k"]), bulk("newer"), "{what}");
            assert_eq!(c.call(&["GET", "k"]), bulk("newer"), "{what}");
            ok(c.call(&["SET", "k", "newest"]));
            let r = c.call(&["MIGRATE", "127.0.0.1", &port, "k", "0", "5000", "REPLACE"]);
            assert_eq!(r, Frame::ok(), "{what}");
            assert_eq!(int(c.call(&["EXISTS", "k"])), 0, "{what}");
            assert_eq!(t.call(&["GET", "k"]), bulk("newest"), "{what}");
            // Several keys, one refused: the others move, the refused one
            // stays, and the reply is the error.
            ok(c.call(&["SET", "a", "1"]));
            ok(c.call(&["SET", "b", "2"]));
            ok(c.call(&["SET", "c", "3"]));
            ok(t.call(&["SET", "b", "theirs"]));
            let r = c.call(&[
                "MIGRATE",
                "127.0.0.1",
                &port,
                "",
                "0",
                "5000",
                "KEYS",
                "a",
                "b",
                "nokey",
                "c",
            ]);
            assert!(err_text(r).contains("BUSYKEY"), "{what}");
            assert_eq!(int(c.call(&["EXISTS", "a", "b", "c"])), 1, "{what}");
            assert_eq!(c.call(&["GET", "b"]), bulk("2"), "{what}");
            assert_eq!(
                t.call(&["MGET", "a", "b", "c"]),
                Frame::Array(vec![bulk("1"), bulk("theirs"), bulk("3")]),
                "{what}"
            );
            // Inside a transaction.
            ok(c.call(&["MULTI"]));
            c.call(&["MIGRATE", "127.0.0.1", &port, "b", "7", "5000"]);
            c.call(&["GET", "b"]);
            assert_eq!(
                c.call(&["EXEC"]),
                Frame::Array(vec![Frame::ok(), Frame::Null]),
                "{what}"
            );
            ok(t.call(&["SELECT", "7"]));
            assert_eq!(t.call(&["GET", "b"]), bulk("2"), "{what}");
            // A database the target does not have.
            ok(c.call(&["SET", "x", "1"]));
            let r = c.call(&["MIGRATE", "127.0.0.1", &port, "x", "99", "5000"]);
            assert_eq!(
                err_text(r),
                "ERR Target instance replied with error: ERR DB index is out of range",
                "{what}"
            );
            assert_eq!(int(c.call(&["EXISTS", "x"])), 1, "{what}");
            // And the connection still works for the next one.
            let r = c.call(&["MIGRATE", "127.0.0.1", &port, "x", "1", "5000"]);
            assert_eq!(r, Frame::ok(), "{what}");
        }
    }
}

#[test]
fn auth_and_auth2_reach_a_password_protected_target() {
    for engine in ENGINES {
        for target in targets(engine, &["--requirepass", "sekret"]) {
            let what = format!("{engine} -> {}", target.name());
            let port = target.port().to_string();
            let s = rubedo(engine, &[]);
            let mut c = s.raw();
            ok(c.call(&["SET", "k", "v"]));
            ok(c.call(&["SET", "k2", "v2"]));
            let r = c.call(&["MIGRATE", "127.0.0.1", &port, "k", "0", "5000"]);
            assert_eq!(
                err_text(r),
                "ERR Target instance replied with error: NOAUTH Authentication required.",
                "{what}"
            );
            let r = c.call(&[
                "MIGRATE",
                "127.0.0.1",
                &port,
                "k",
                "0",
                "5000",
                "AUTH",
                "wrong",
            ]);
            assert_eq!(
                err_text(r),
                "ERR Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled.",
                "{what}"
            );
            assert_eq!(int(c.call(&["EXISTS", "k"])), 1, "{what}");
            let r = c.call(&[
                "MIGRATE",
                "127.0.0.1",
                &port,
                "k",
                "0",
                "5000",
                "AUTH",
                "sekret",
            ]);
            assert_eq!(r, Frame::ok(), "{what}");
            let r = c.call(&[
                "MIGRATE",
                "127.0.0.1",
                &port,
                "",
                "0",
                "5000",
                "AUTH2",
                "default",
                "sekret",
                "KEYS",
                "k2",
            ]);
            assert_eq!(r, Frame::ok(), "{what}");
            assert_eq!(int(c.call(&["EXISTS", "k", "k2"])), 0, "{what}");
            let mut t = target.raw();
            ok(t.call(&["AUTH", "sekret"]));
            assert_eq!(
                t.call(&["MGET", "k", "k2"]),
                Frame::Array(vec![bulk("v"), bulk("v2")]),
                "{what}"
            );
        }
    }
}

fn select_calls(t: &mut Raw) -> i64 {
    let stats = text(t.call(&["INFO", "commandstats"]));
    stats
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_select:calls="))
        .and_then(|l| l.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

#[test]
fn one_connection_is_reused_and_selects_only_when_the_database_changes() {
    for engine in ENGINES {
        for target in targets(engine, &[]) {
            let what = format!("{engine} -> {}", target.name());
            let port = target.port().to_string();
            let s = rubedo(engine, &[]);
            let mut c = s.raw();
            let mut t = target.raw();
            // The start's own readiness connection may still be closing.
            let until = std::time::Instant::now() + Duration::from_secs(10);
            while t.info_field("clients", "connected_clients") != "1" {
                assert!(
                    std::time::Instant::now() < until,
                    "{what}: other clients stay"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            for k in ["a", "b", "c", "d"] {
                ok(c.call(&["SET", k, "v"]));
            }
            for (k, db) in [("a", "0"), ("b", "0"), ("c", "4"), ("d", "4")] {
                let r = c.call(&["MIGRATE", "127.0.0.1", &port, k, db, "5000"]);
                assert_eq!(r, Frame::ok(), "{what}");
                assert_eq!(
                    t.info_field("clients", "connected_clients"),
                    "2",
                    "{what}: one connection"
                );
            }
            // SELECT 0 for the first, SELECT 4 when it changed.
            assert_eq!(select_calls(&mut t), 2, "{what}");
            // The same target written another way is another connection
            // (cached by host and port as written; the port is read as atoi).
            ok(c.call(&["SET", "e", "v"]));
            let r = c.call(&[
                "MIGRATE",
                "127.0.0.1",
                &format!("0{port}"),
                "e",
                "4",
                "5000",
            ]);
            assert_eq!(r, Frame::ok(), "{what}");
            assert_eq!(t.info_field("clients", "connected_clients"), "3", "{what}");
            // A connection the target closed is replaced at once (the retry).
            ok(t.call(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]));
            ok(c.call(&["SET", "f", "v"]));
            let r = c.call(&["MIGRATE", "127.0.0.1", &port, "f", "4", "5000"]);
            assert_eq!(r, Frame::ok(), "{what}");
            ok(t.call(&["SELECT", "4"]));
            assert_eq!(int(t.call(&["EXISTS", "c", "d", "e", "f"])), 4, "{what}");
        }
    }
}

#[test]
fn an_idle_cached_connection_is_closed_by_the_cron() {
    let target = rubedo("single", &[]);
    let s = rubedo("concurrent", &[]);
    let mut c = s.raw();
    let mut t = target.raw();
    ok(c.call(&["SET", "k", "v"]));
    let port = target.port.to_string();
    assert_eq!(
        c.call(&["MIGRATE", "127.0.0.1", &port, "k", "0", "5000"]),
        Frame::ok()
    );
    assert_eq!(t.info_field("clients", "connected_clients"), "2");
    // Closed after 10 s unused (the cron checks every tick).
    let until = Instant::now() + Duration::from_secs(60);
    while t.info_field("clients", "connected_clients") != "1" {
        assert!(Instant::now() < until, "the idle connection stayed open");
        std::thread::sleep(Duration::from_millis(200));
    }
    // And a new one is made for the next MIGRATE.
    ok(c.call(&["SET", "k2", "v"]));
    assert_eq!(
        c.call(&["MIGRATE", "127.0.0.1", &port, "k2", "0", "5000"]),
        Frame::ok()
    );
    assert_eq!(t.info_field("clients", "connected_clients"), "2");
}

/// A listener that `serve`s each connection it accepts until stopped.
struct Listener {
    port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// `hang_up`: read what comes, then close; else keep it and say nothing.
    fn start(hang_up: bool) -> Listener {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (n, halt) = (accepted.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut kept = Vec::new();
            while !halt.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut s, _)) => {
                        n.fetch_add(1, Ordering::Relaxed);
                        s.set_nonblocking(false).unwrap();
                        if hang_up {
                            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                            let _ = s.read(&mut [0u8; 16]);
                        } else {
                            kept.push(s);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Listener {
            port,
            accepted,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn io_errors_are_reported_and_keep_the_keys() {
    for engine in ENGINES {
        let s = rubedo(engine, &[]);
        let mut c = s.raw();
        ok(c.call(&["SET", "k", "v"]));
        // Nothing listens: the refused connection fails the write (twice).
        let closed = free_port().to_string();
        let r = c.call(&["MIGRATE", "127.0.0.1", &closed, "k", "0", "1000"]);
        assert_eq!(
            err_text(r),
            "IOERR error or timeout writing to target instance",
            "{engine}"
        );
        // An address that does not resolve.
        let r = c.call(&["MIGRATE", "", "1", "k", "0", "1000"]);
        assert_eq!(
            err_text(r),
            "IOERR error or timeout connecting to the client",
            "{engine}"
        );
        let r = c.call(&["MIGRATE", "127.0.0.1", "-1", "k", "0", "1000"]);
        assert_eq!(
            err_text(r),
            "IOERR error or timeout connecting to the client",
            "{engine}"
        );
        // A target that never answers: the timeout, and no retry.
        let silent = Listener::start(false);
        let r = c.call(&[
            "MIGRATE",
            "127.0.0.1",
            &silent.port.to_string(),
            "k",
            "0",
            "100",
        ]);
        assert_eq!(
            err_text(r),
            "IOERR error or timeout reading to target instance",
            "{engine}"
        );
        assert_eq!(silent.accepted.load(Ordering::Relaxed), 1, "{engine}");
        // A target that hangs up before replying: tried again once.
        let rude = Listener::start(true);
        let r = c.call(&[
            "MIGRATE",
            "127.0.0.1",
            &rude.port.to_string(),
            "k",
            "0",
            "5000",
        ]);
        assert_eq!(
            err_text(r),
            "IOERR error or timeout reading to target instance",
            "{engine}"
        );
        assert_eq!(rude.accepted.load(Ordering::Relaxed), 2, "{engine}");
        // A failed connection is not kept: the next MIGRATE connects again.
        let r = c.call(&[
            "MIGRATE",
            "127.0.0.1",
            &rude.port.to_string(),
            "k",
            "0",
            "5000",
        ]);
        assert!(err_text(r).starts_with("IOERR"), "{engine}");
        assert_eq!(rude.accepted.load(Ordering::Relaxed), 4, "{engine}");
        assert_eq!(c.call(&["GET", "k"]), bulk("v"), "{engine}: nothing moved");
        assert_eq!(
            c.info_field("errorstats", "errorstat_IOERR"),
            "count=6",
            "{engine}"
        );
        // The server still serves.
        assert_eq!(c.call(&["PING"]), Frame::simple("PONG"));
    }
}

#[test]
fn the_effect_is_a_del_with_del_events_and_auth_is_redacted() {
    for engine in ENGINES {
        let dir = Dir::new("migrate-aof");
        let target = rubedo(engine, &["--requirepass", "pw"]);
        let port = target.port.to_string();
        let s = rubedo(
            engine,
            &[
                "--dir",
                dir.path(),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
        );
        let mut c = s.raw();
        for k in ["a", "b", "c"] {
            ok(c.call(&["SET", k, "v"]));
        }
        let mut sub = s.raw();
        sub.call(&["CONFIG", "SET", "notify-keyspace-events", "Eg"]);
        let _ = sub.call(&["SUBSCRIBE", "__keyevent@0__:del"]);
        // A client watching a moved key sees it changed; one watching the
        // copied key does not.
        let mut watcher = s.raw();
        ok(watcher.call(&["WATCH", "b"]));
        let mut calm = s.raw();
        ok(calm.call(&["WATCH", "c"]));
        let mut mon = s.raw();
        assert_eq!(mon.call(&["MONITOR"]), Frame::ok());
        let r = c.call(&[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "",
            "0",
            "5000",
            "AUTH",
            "pw",
            "KEYS",
            "a",
            "nokey",
            "b",
        ]);
        assert_eq!(r, Frame::ok(), "{engine}");
        let r = c.call(&[
            "MIGRATE",
            "127.0.0.1",
            &port,
            "c",
            "0",
            "5000",
            "COPY",
            "AUTH2",
            "default",
            "pw",
        ]);
        assert_eq!(r, Frame::ok(), "{engine}");
        ok(c.call(&["SET", "after", "x"]));
        ok(watcher.call(&["MULTI"]));
        watcher.call(&["PING"]);
        let aborted = watcher.call(&["EXEC"]);
        assert!(!matches!(aborted, Frame::Array(_)), "{engine}: {aborted:?}");
        ok(calm.call(&["MULTI"]));
        calm.call(&["PING"]);
        assert_eq!(
            calm.call(&["EXEC"]),
            Frame::Array(vec![Frame::simple("PONG")]),
            "{engine}"
        );
        for k in ["a", "b"] {
            let m = sub.read().unwrap();
            assert_eq!(
                m,
                Frame::Array(vec![bulk("message"), bulk("__keyevent@0__:del"), bulk(k)]),
                "{engine}"
            );
        }
        let line = |m: Frame| text(m);
        let first = line(mon.read().unwrap());
        assert!(
            first.ends_with(r#""MIGRATE" "127.0.0.1" "PORT" "" "0" "5000" "AUTH" "(redacted)" "KEYS" "a" "nokey" "b""#.replace("PORT", &port).as_str()),
            "{engine}: {first}"
        );
        let second = line(mon.read().unwrap());
        assert!(
            second.ends_with(r#""COPY" "AUTH2" "(redacted)" "(redacted)""#),
            "{engine}: {second}"
        );
        // The log has the DEL of what moved, and no MIGRATE; COPY wrote nothing.
        let mut log = Vec::new();
        for e in std::fs::read_dir(dir.0.join("appendonlydir")).unwrap() {
            let p = e.unwrap().path();
            if p.to_string_lossy().ends_with(".incr.aof") {
                log.extend(std::fs::read(p).unwrap());
            }
        }
        let log = String::from_utf8_lossy(&log).to_ascii_lowercase();
        let del = "*3\r\n$3\r\ndel\r\n$1\r\na\r\n$1\r\nb\r\n";
        let set_after = "*3\r\n$3\r\nset\r\n$5\r\nafter\r\n";
        let (d, a) = (log.find(del), log.find(set_after));
        assert!(d.is_some() && a.is_some() && d < a, "{engine}: {log:?}");
        assert_eq!(log.matches("\r\ndel\r\n").count(), 1, "{engine}: {log:?}");
        assert!(!log.contains("migrate"), "{engine}: {log:?}");
        assert_eq!(int(c.call(&["EXISTS", "a", "b", "c"])), 1, "{engine}");
        drop(sub);
        drop(mon);
    }
}

#[test]
fn command_getkeys_finds_the_keys_as_redis() {
    let s = rubedo("single", &[]);
    let mut c = s.raw();
    let keys = |c: &mut Raw, rest: &[&str]| {
        let mut cmd = vec!["COMMAND", "GETKEYS", "MIGRATE", "h", "1"];
        cmd.extend_from_slice(rest);
        c.call(&cmd)
    };
    let arr = |k: &[&str]| Frame::Array(k.iter().map(|k| bulk(k)).collect());
    assert_eq!(keys(&mut c, &["k", "0", "0"]), arr(&["k"]));
    assert_eq!(
        keys(&mut c, &["", "0", "0", "COPY", "KEYS", "a", "b"]),
        arr(&["a", "b"])
    );
    assert_eq!(
        keys(&mut c, &["", "0", "0", "AUTH", "KEYS", "a"]),
        arr(&[""])
    );
    assert_eq!(
        err_text(keys(&mut c, &["k", "0", "0", "KEYS", "a", "b"])),
        "ERR Invalid arguments specified for command"
    );
    let info = c.call(&["COMMAND", "INFO", "MIGRATE"]);
    let Frame::Array(rows) = info else {
        panic!("{info:?}")
    };
    let Frame::Array(row) = &rows[0] else {
        panic!("{rows:?}")
    };
    assert_eq!(row[1], Frame::Integer(-6));
    assert_eq!(
        row[2],
        Frame::Array(vec![Frame::simple("write"), Frame::simple("movablekeys")])
    );
    assert_eq!(
        &row[3..6],
        &[Frame::Integer(3), Frame::Integer(3), Frame::Integer(1)]
    );
}
