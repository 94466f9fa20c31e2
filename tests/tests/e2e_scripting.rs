//! Lua scripts with the real binary: a busy script answers other clients
//! -BUSY and is killed by SCRIPT KILL (or is unkillable once it wrote),
//! under both engines; the `redis` crate's `Script` and a lock library's
//! pattern under concurrent clients; a script's effects reach the
//! append-only log as one MULTI/EXEC; hostile scripts leave the server up.

use std::thread;
use std::time::Duration;

use rubedo_resp::Frame;
use rubedo_tests::{text, Dir, Server};

const ENGINES: [&str; 2] = ["single", "concurrent"];

fn start(engine: &str) -> Server {
    Server::start(&["--engine", engine, "--threads", "2"])
}

/// Sends PING until the busy script is past its threshold (until then a
/// PING may be served before the script's EVAL was even read).
fn ping_until_busy(c: &mut rubedo_tests::Raw) -> String {
    for _ in 0..1000 {
        match c.call(&["PING"]) {
            Frame::Error(e) => return String::from_utf8_lossy(&e).into_owned(),
            _ => thread::sleep(Duration::from_millis(10)),
        }
    }
    panic!("the script never got busy");
}

fn err_text(f: &Frame) -> String {
    match f {
        Frame::Error(e) => String::from_utf8_lossy(e).into_owned(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn a_busy_script_answers_busy_and_script_kill_stops_it() {
    for engine in ENGINES {
        let srv = start(engine);
        let mut b = srv.raw();
        assert_eq!(
            b.call(&["CONFIG", "SET", "busy-reply-threshold", "100"]),
            Frame::ok()
        );
        let mut a = srv.raw();
        a.cmd(&["EVAL", "while true do end", "0"]);
        assert_eq!(
            ping_until_busy(&mut b),
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
            "{engine}"
        );
        // A new connection is served too, and MULTI (allowed while busy).
        let mut c = srv.raw();
        assert!(
            err_text(&c.call(&["GET", "k"])).starts_with("BUSY "),
            "{engine}"
        );
        assert_eq!(c.call(&["MULTI"]), Frame::ok(), "{engine}");
        assert_eq!(c.call(&["DISCARD"]), Frame::ok(), "{engine}");
        assert_eq!(b.call(&["SCRIPT", "KILL"]), Frame::ok(), "{engine}");
        let killed = err_text(&a.read().expect("the script's reply"));
        assert!(
            killed.starts_with("ERR Script killed by user with SCRIPT KILL... script: "),
            "{engine}: {killed}"
        );
        assert_eq!(b.call(&["PING"]), Frame::Simple("PONG".into()), "{engine}");
        assert!(err_text(&b.call(&["SCRIPT", "KILL"])).starts_with("NOTBUSY "));
        // The same connection runs scripts again.
        assert_eq!(a.call(&["EVAL", "return 7", "0"]), Frame::Integer(7));
    }
}

#[test]
fn a_script_that_wrote_is_unkillable_and_runs_to_its_end() {
    for engine in ENGINES {
        let srv = start(engine);
        let mut b = srv.raw();
        b.call(&["CONFIG", "SET", "busy-reply-threshold", "50"]);
        let mut a = srv.raw();
        a.cmd(&[
            "EVAL",
            "redis.call('incr', KEYS[1]) local i = 0 while i < 30000000 do i = i + 1 end redis.call('incr', KEYS[1]) return i",
            "1",
            "w",
        ]);
        assert!(ping_until_busy(&mut b).starts_with("BUSY "), "{engine}");
        assert!(
            err_text(&b.call(&["SCRIPT", "KILL"])).starts_with("UNKILLABLE "),
            "{engine}"
        );
        assert_eq!(a.read(), Some(Frame::Integer(30000000)), "{engine}");
        // Both writes happened, nothing in between was let in.
        assert_eq!(b.call(&["GET", "w"]), Frame::Bulk("2".into()), "{engine}");
    }
}

#[test]
fn shutdown_nosave_ends_a_server_stuck_in_a_script() {
    for engine in ENGINES {
        let mut srv = start(engine);
        let mut b = srv.raw();
        b.call(&["CONFIG", "SET", "busy-reply-threshold", "50"]);
        let mut a = srv.raw();
        a.cmd(&["EVAL", "redis.call('set', 'x', 'y') while true do end", "0"]);
        assert!(ping_until_busy(&mut b).starts_with("BUSY "));
        // A shutdown that would save the half-done dataset is refused.
        assert!(err_text(&b.call(&["SHUTDOWN", "SAVE"])).starts_with("BUSY "));
        b.cmd(&["SHUTDOWN", "NOSAVE"]);
        assert!(
            srv.wait_exit(Duration::from_secs(10)).is_some(),
            "{engine}: the server exits"
        );
    }
}

#[test]
fn the_redis_crate_script_type_and_a_lock_pattern_under_concurrent_clients() {
    for engine in ENGINES {
        let srv = start(engine);
        let url = srv.redis_url();
        let mut c = srv.client();
        // redis::Script: EVALSHA first, EVAL (loading it) on NOSCRIPT.
        let script = redis::Script::new("return redis.call('incrby', KEYS[1], ARGV[1])");
        let n: i64 = script.key("counter").arg(5).invoke(&mut c).unwrap();
        assert_eq!(n, 5);
        let n: i64 = script.key("counter").arg(2).invoke(&mut c).unwrap();
        assert_eq!(n, 7);
        // A lock as redis-py's Lock takes it: SET NX PX, then a Lua
        // compare-and-delete. The protected section is a non-atomic
        // read-modify-write that only the lock keeps exact.
        let release = redis::Script::new(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
        );
        let threads = 8;
        let rounds = 40;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let url = url.clone();
                let release = release.clone();
                thread::spawn(move || {
                    let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                    for r in 0..rounds {
                        let token = format!("{t}-{r}");
                        loop {
                            let got: Option<String> = redis::cmd("SET")
                                .arg("lock")
                                .arg(&token)
                                .arg("NX")
                                .arg("PX")
                                .arg(10000)
                                .query(&mut c)
                                .unwrap();
                            if got.is_some() {
                                break;
                            }
                            thread::yield_now();
                        }
                        let v: i64 = redis::cmd("GET")
                            .arg("shared")
                            .query::<Option<i64>>(&mut c)
                            .unwrap()
                            .unwrap_or(0);
                        let _: () = redis::cmd("SET")
                            .arg("shared")
                            .arg(v + 1)
                            .query(&mut c)
                            .unwrap();
                        let freed: i64 = release.key("lock").arg(&token).invoke(&mut c).unwrap();
                        assert_eq!(freed, 1);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let total: i64 = redis::cmd("GET").arg("shared").query(&mut c).unwrap();
        assert_eq!(total, threads * rounds, "{engine}");
        // Releasing with the wrong token deletes nothing.
        let _: () = redis::cmd("SET")
            .arg("lock")
            .arg("mine")
            .query(&mut c)
            .unwrap();
        let freed: i64 = release.key("lock").arg("theirs").invoke(&mut c).unwrap();
        assert_eq!(freed, 0);
    }
}

#[test]
fn a_scripts_writes_reach_the_log_as_one_transaction() {
    for engine in ENGINES {
        let dir = Dir::new("lua-aof");
        let srv = Server::start(&[
            "--engine",
            engine,
            "--dir",
            dir.path(),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ]);
        let mut c = srv.raw();
        c.call(&[
            "EVAL",
            "redis.call('set', KEYS[1], 'a') redis.call('select', '3') redis.call('incr', 'n') return 1",
            "1",
            "k",
        ]);
        c.call(&[
            "EVAL",
            "redis.set_repl(redis.REPL_NONE) redis.call('set', 'hidden', '1') redis.set_repl(redis.REPL_ALL) return redis.call('set', 'shown', '1')",
            "0",
        ]);
        c.call(&["EVAL", "return redis.call('set', 'single', 'one')", "0"]);
        c.call(&["EVAL", "return redis.call('get', 'k')", "0"]);
        let log = std::fs::read_dir(format!("{}/appendonlydir", dir.path()))
            .unwrap()
            .filter_map(|e| e.ok())
            .find(|e| e.file_name().to_string_lossy().ends_with(".incr.aof"))
            .map(|e| std::fs::read(e.path()).unwrap())
            .expect("an incr file");
        let log = String::from_utf8_lossy(&log).replace("\r\n", " ");
        let unit = "*1 $5 MULTI *3 $3 set $1 k $1 a *2 $6 SELECT $1 3 *2 $4 incr $1 n *1 $4 EXEC";
        assert!(log.contains(unit), "{engine}: {log}");
        // REPL_NONE keeps a command out of the log.
        assert!(
            !log.contains("hidden") && log.contains("$5 shown"),
            "{engine}: {log}"
        );
        // One command needs no MULTI; a read-only script logs nothing.
        assert!(
            log.ends_with("*2 $6 SELECT $1 0 *3 $3 set $5 shown $1 1 *3 $3 set $6 single $3 one "),
            "{engine}: {log}"
        );
    }
}

#[test]
fn hostile_scripts_leave_the_server_serving() {
    for engine in ENGINES {
        let srv = start(engine);
        let mut c = srv.raw();
        let cases: &[(&str, &str)] = &[
            ("return string.rep('x', 2^30 + 2^29)", "not enough memory"),
            (
                "local t = {} for i = 1, 1e9 do t[i] = i end return #t",
                "not enough memory",
            ),
            (
                "local function f(n) return f(n + 1) + 1 end return f(1)",
                "stack overflow",
            ),
            (
                "local s = 'x' while true do s = s .. s end",
                "not enough memory",
            ),
            (
                "return os.execute('true')",
                "nonexistent global variable 'os'",
            ),
            (
                "return io.open('/etc/passwd')",
                "nonexistent global variable 'io'",
            ),
            (
                "return debug.getinfo(1)",
                "nonexistent global variable 'debug'",
            ),
            (
                "setmetatable(string, {})",
                "Attempt to modify a readonly table",
            ),
            (
                "redis.call = function() return 1 end",
                "Attempt to modify a readonly table",
            ),
            (
                "rawset(redis, 'x', 1)",
                "Attempt to modify a readonly table",
            ),
            (
                "return loadstring(string.dump(print))",
                "nonexistent global variable 'print'",
            ),
            (
                "return require('os')",
                "nonexistent global variable 'require'",
            ),
        ];
        for (script, want) in cases {
            let r = c.call(&["EVAL", script, "0"]);
            let e = err_text(&r);
            assert!(e.contains(want), "{engine}: {script}: {e}");
            assert_eq!(c.call(&["PING"]), Frame::Simple("PONG".into()));
        }
        // The memory the failed scripts took is given back.
        c.call(&["EVAL", "collectgarbage('collect') return 1", "0"]);
        let lua: u64 = text(c.call(&["INFO", "memory"]))
            .lines()
            .find_map(|l| l.strip_prefix("used_memory_lua:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("used_memory_lua");
        assert!(lua < 16 << 20, "{engine}: {lua}");
        // Binary data and huge results come back intact.
        let big = c.call(&["EVAL", "return string.rep('ab', 5000000)", "0"]);
        assert!(matches!(big, Frame::Bulk(ref b) if b.len() == 10_000_000));
    }
}
