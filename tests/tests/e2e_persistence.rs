//! Snapshots with the real binary and real files: SAVE and BGSAVE survive
//! kill -9 and a restart with the same DEBUG DIGEST; BGSAVE's image is the
//! dataset at the instant it started, whatever runs after it; a damaged
//! file stops the server from starting, naming the file and the offset.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rubedo_resp::Frame;
use rubedo_tests::{
    connect_when_listening, fill_every_type, free_port, server_binary, text, Dir, Raw, Server,
};

const ENGINES: [&str; 2] = ["single", "concurrent"];

fn start(engine: &str, dir: &Dir) -> Server {
    Server::start(&[
        "--engine",
        engine,
        "--threads",
        "2",
        "--dir",
        dir.path(),
        "--enable-debug-command",
        "yes",
    ])
}

fn info_field(c: &mut Raw, field: &str) -> String {
    c.info_field("persistence", field)
}

#[test]
fn save_and_bgsave_survive_kill_9_with_the_same_digest() {
    for engine in ENGINES {
        for cmd in ["SAVE", "BGSAVE"] {
            let dir = Dir::new(&format!("save-{engine}-{cmd}"));
            let digest;
            {
                let s = start(engine, &dir);
                let mut c = s.raw();
                fill_every_type(&mut c);
                digest = text(c.call(&["DEBUG", "DIGEST"]));
                let r = text(c.call(&[cmd]));
                if cmd == "SAVE" {
                    assert_eq!(r, "OK");
                } else {
                    assert_eq!(r, "Background saving started");
                    wait_bgsave(&mut c);
                }
                assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
                assert_eq!(info_field(&mut c, "rdb_saves"), "1");
                assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
                // Dropping the server kills it with SIGKILL.
            }
            let s = start(engine, &dir);
            let mut c = s.raw();
            assert_eq!(text(c.call(&["DEBUG", "DIGEST"])), digest, "{engine} {cmd}");
            let ttl: i64 = text(c.call(&["PTTL", "ttl"])).parse().unwrap();
            assert!(ttl > 90_000_000, "{ttl}");
            assert_eq!(
                text(c.call(&["OBJECT", "ENCODING", "bighash"])),
                "hashtable"
            );
            assert_eq!(text(c.call(&["OBJECT", "ENCODING", "is"])), "intset");
            assert_eq!(info_field(&mut c, "rdb_last_load_keys_loaded"), "20013");
        }
    }
}

fn wait_bgsave(c: &mut Raw) {
    let until = Instant::now() + Duration::from_secs(60);
    while info_field(c, "rdb_bgsave_in_progress") != "0" {
        assert!(Instant::now() < until, "BGSAVE did not finish");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn bgsave_is_the_dataset_at_the_instant_it_started() {
    for engine in ENGINES {
        let dir = Dir::new(&format!("bgsave-{engine}"));
        let digest;
        {
            let s = start(engine, &dir);
            let mut c = s.raw();
            fill_every_type(&mut c);
            c.call(&["DEBUG", "POPULATE", "200000", "big"]);
            digest = text(c.call(&["DEBUG", "DIGEST"]));
            // Pipelined behind BGSAVE: changes the walk has not reached yet.
            let mut pipe: Vec<Vec<String>> = vec![vec!["BGSAVE".into()]];
            for i in (0..200_000).step_by(97) {
                pipe.push(vec!["SET".into(), format!("big:{i}"), "changed".into()]);
                pipe.push(vec!["DEL".into(), format!("big:{}", i + 1)]);
            }
            pipe.push(vec![
                "HSET".into(),
                "bighash".into(),
                "new".into(),
                "1".into(),
            ]);
            let w = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<String>>();
            pipe.push(w(&["MOVE", "big:5", "3"]));
            pipe.push(w(&["RENAME", "big:7", "renamed"]));
            // Expired (and reclaimed) while the walk runs.
            pipe.push(w(&["PEXPIRE", "big:9", "1"]));
            pipe.push(w(&["PEXPIRE", "big:199999", "1"]));
            // Blocking pops that find data.
            pipe.push(w(&["BLMOVE", "biglist", "dst", "LEFT", "RIGHT", "0"]));
            pipe.push(w(&["BLPOP", "l", "0"]));
            pipe.push(w(&["SWAPDB", "0", "5"]));
            pipe.push(w(&["FLUSHDB"]));
            pipe.push(w(&["SET", "s", "after"]));
            pipe.push(w(&["FLUSHALL"]));
            pipe.push(w(&["SET", "s", "after-flushall"]));
            for p in &pipe {
                let words: Vec<&str> = p.iter().map(|s| s.as_str()).collect();
                c.cmd(&words);
            }
            let first = text(c.read().unwrap());
            assert_eq!(first, "Background saving started");
            for _ in 1..pipe.len() {
                let f = c.read().unwrap();
                assert!(!matches!(f, Frame::Error(_)), "{f:?}");
            }
            wait_bgsave(&mut c);
            assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
            assert_eq!(c.call(&["DBSIZE"]), Frame::Integer(1));
        }
        let s = start(engine, &dir);
        let mut c = s.raw();
        assert_eq!(text(c.call(&["DEBUG", "DIGEST"])), digest, "{engine}");
    }
}

#[test]
fn bgsave_answers_as_redis_does() {
    let dir = Dir::new("bgsave-replies");
    let s = start("single", &dir);
    let mut c = s.raw();
    let e = |f: Frame| match f {
        Frame::Error(e) => String::from_utf8_lossy(&e).into_owned(),
        f => panic!("{f:?}"),
    };
    assert_eq!(e(c.call(&["BGSAVE", "x"])), "ERR syntax error");
    assert_eq!(e(c.call(&["BGSAVE", "SCHEDULE", "x"])), "ERR syntax error");
    c.call(&["MULTI"]);
    c.call(&["BGSAVE"]);
    match c.call(&["EXEC"]) {
        Frame::Array(v) => assert_eq!(text(v[0].clone()), "Background saving scheduled"),
        f => panic!("{f:?}"),
    }
    wait_bgsave(&mut c);
    let until = Instant::now() + Duration::from_secs(60);
    while info_field(&mut c, "rdb_saves") != "1" {
        assert!(Instant::now() < until, "the scheduled BGSAVE did not run");
        std::thread::sleep(Duration::from_millis(5));
    }
    let last: u64 = text(c.call(&["LASTSAVE"])).parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(last + 60 > now && last <= now, "{last} {now}");
    assert!(Path::new(&dir.0).join("dump.rdb").exists());
    assert_eq!(
        e(c.call(&["CONFIG", "SET", "dir", "/"])),
        "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"
    );
    assert_eq!(
        e(c.call(&["CONFIG", "SET", "save", "0 1"])),
        "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
    );
}

#[test]
fn a_damaged_snapshot_stops_the_start_naming_the_file_and_offset() {
    for engine in ENGINES {
        let dir = Dir::new(&format!("damaged-{engine}"));
        {
            let s = start(engine, &dir);
            let mut c = s.raw();
            fill_every_type(&mut c);
            assert_eq!(text(c.call(&["SAVE"])), "OK");
        }
        let file = dir.0.join("dump.rdb");
        let mut bytes = std::fs::read(&file).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        std::fs::write(&file, &bytes).unwrap();
        let out = Command::new(server_binary())
            .args([
                "--port",
                "0",
                "--bind",
                "127.0.0.1",
                "--engine",
                engine,
                "--dir",
                dir.path(),
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("dump.rdb") && err.contains("at offset "),
            "{err}"
        );
        // Nothing was served: no ready line.
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("Ready"),
            "{err}"
        );
    }
}

#[test]
fn a_save_point_starts_a_background_save() {
    let dir = Dir::new("save-point");
    let s = Server::start(&["--dir", dir.path(), "--save", "1 2"]);
    let mut c = s.raw();
    c.call(&["SET", "a", "1"]);
    // One change is below the point's two: no save however long it waits.
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(info_field(&mut c, "rdb_saves"), "0");
    c.call(&["SET", "b", "2"]);
    let until = Instant::now() + Duration::from_secs(30);
    while info_field(&mut c, "rdb_saves") != "1" {
        assert!(Instant::now() < until, "the save point never fired");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert!(dir.0.join("dump.rdb").exists());
}

fn exits(s: &mut Server) {
    let st = s.wait_exit(Duration::from_secs(30));
    assert!(
        st.is_some_and(|st| st.success()),
        "server did not exit cleanly: {st:?}"
    );
}

fn get(c: &mut Raw, key: &str) -> Frame {
    c.call(&["GET", key])
}

#[test]
fn shutdown_and_sigterm_save_when_save_points_exist() {
    for engine in ENGINES {
        let dir = Dir::new(&format!("shutdown-{engine}"));
        // SHUTDOWN with the default save points saves.
        let digest = {
            let mut s = start(engine, &dir);
            let mut c = s.raw();
            fill_every_type(&mut c);
            let d = text(c.call(&["DEBUG", "DIGEST"]));
            c.cmd(&["SHUTDOWN"]);
            assert!(c.read().is_none(), "SHUTDOWN closes without a reply");
            exits(&mut s);
            d
        };
        // SIGTERM saves too; NOSAVE does not.
        {
            let mut s = start(engine, &dir);
            let mut c = s.raw();
            assert_eq!(text(c.call(&["DEBUG", "DIGEST"])), digest);
            assert_eq!(text(c.call(&["SET", "after", "term"])), "OK");
            // SAFETY: signalling the child we started.
            unsafe { libc::kill(s.pid() as libc::pid_t, libc::SIGTERM) };
            exits(&mut s);
        }
        {
            let mut s = start(engine, &dir);
            let mut c = s.raw();
            assert_eq!(text(get(&mut c, "after")), "term");
            c.call(&["SET", "lost", "1"]);
            c.cmd(&["SHUTDOWN", "NOSAVE"]);
            assert!(c.read().is_none());
            exits(&mut s);
        }
        let mut s = start(engine, &dir);
        let mut c = s.raw();
        assert_eq!(get(&mut c, "lost"), Frame::Null);
        assert_eq!(text(get(&mut c, "after")), "term");
        // Without save points a signal writes nothing, SHUTDOWN SAVE does.
        c.call(&["CONFIG", "SET", "save", ""]);
        c.call(&["SET", "after", "nosave"]);
        // SAFETY: signalling the child we started.
        unsafe { libc::kill(s.pid() as libc::pid_t, libc::SIGINT) };
        exits(&mut s);
        let mut s = start(engine, &dir);
        let mut c = s.raw();
        assert_eq!(text(get(&mut c, "after")), "term");
        c.call(&["CONFIG", "SET", "save", ""]);
        c.call(&["SET", "after", "save"]);
        c.cmd(&["SHUTDOWN", "SAVE"]);
        assert!(c.read().is_none());
        exits(&mut s);
        let s = start(engine, &dir);
        assert_eq!(text(get(&mut s.raw(), "after")), "save");
    }
}

#[test]
fn a_failing_disk_refuses_writes_and_shutdown_as_redis() {
    let root = Dir::new("misconf");
    let gone = root.0.join("gone");
    std::fs::create_dir_all(&gone).unwrap();
    let mut s = Server::start(&["--dir", gone.to_str().unwrap()]);
    let mut c = s.raw();
    assert_eq!(text(c.call(&["SET", "a", "1"])), "OK");
    std::fs::remove_dir_all(&gone).unwrap();
    assert_eq!(text(c.call(&["BGSAVE"])), "Background saving started");
    wait_bgsave(&mut c);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "err");
    let misconf = |f: Frame| match f {
        Frame::Error(e) => assert!(
            e.starts_with(b"MISCONF Redis is configured to save RDB snapshots"),
            "{e:?}"
        ),
        f => panic!("{f:?}"),
    };
    misconf(c.call(&["SET", "a", "2"]));
    misconf(c.call(&["PING"]));
    assert_eq!(text(get(&mut c, "a")), "1");
    // SAVE fails with a bare ERR; SHUTDOWN refuses to lose the data...
    assert_eq!(c.call(&["SAVE"]), Frame::Error("ERR".into()));
    assert_eq!(
        c.call(&["SHUTDOWN"]),
        Frame::Error("ERR Errors trying to SHUTDOWN. Check logs.".into())
    );
    assert!(s.alive());
    // ...writes come back when the option is off, and FORCE exits anyway.
    c.call(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]);
    assert_eq!(text(c.call(&["SET", "a", "3"])), "OK");
    c.cmd(&["SHUTDOWN", "FORCE"]);
    assert!(c.read().is_none());
    exits(&mut s);
}

#[test]
fn clients_get_loading_while_the_snapshot_loads() {
    for engine in ENGINES {
        let dir = Dir::new(&format!("loading-{engine}"));
        {
            let s = start(engine, &dir);
            let mut c = s.raw();
            c.call(&["DEBUG", "POPULATE", "3000"]);
            assert_eq!(text(c.call(&["SAVE"])), "OK");
        }
        // A port of our own: the ready line comes only after the load.
        let port = free_port();
        let mut child = Command::new(server_binary())
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--engine", engine, "--dir", dir.path()])
            // 3000 keys at 10 ms each: the load lasts until the test says.
            .args(["--key-load-delay", "10000"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut c = connect_when_listening(port, Duration::from_secs(30));
        assert_eq!(
            c.call(&["GET", "key:1"]),
            Frame::Error("LOADING Redis is loading the dataset in memory".into())
        );
        assert_eq!(
            c.call(&["PING"]),
            Frame::Error("LOADING Redis is loading the dataset in memory".into())
        );
        assert_eq!(info_field(&mut c, "loading"), "1");
        let total: u64 = info_field(&mut c, "loading_total_bytes").parse().unwrap();
        assert_eq!(
            total,
            std::fs::metadata(dir.0.join("dump.rdb")).unwrap().len()
        );
        // Commands flagged `loading` run; the load goes on at full speed.
        assert_eq!(
            text(c.call(&["CONFIG", "SET", "key-load-delay", "0"])),
            "OK"
        );
        let until = Instant::now() + Duration::from_secs(60);
        while info_field(&mut c, "loading") != "0" {
            assert!(Instant::now() < until, "the load never finished");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(c.call(&["DBSIZE"]), Frame::Integer(3000));
        assert_eq!(text(c.call(&["GET", "key:1"])), "value:1");
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[test]
fn debug_reload_keeps_the_digest_and_its_options_act_as_redis() {
    for engine in ENGINES {
        let dir = Dir::new(&format!("reload-{engine}"));
        let s = start(engine, &dir);
        let mut c = s.raw();
        fill_every_type(&mut c);
        let d = text(c.call(&["DEBUG", "DIGEST"]));
        assert_eq!(text(c.call(&["DEBUG", "RELOAD"])), "OK");
        assert_eq!(text(c.call(&["DEBUG", "DIGEST"])), d);
        assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
        // NOSAVE loads the file as it is: later writes are gone.
        c.call(&["SET", "s", "changed"]);
        c.call(&["SET", "extra", "1"]);
        assert_eq!(text(c.call(&["DEBUG", "RELOAD", "NOSAVE"])), "OK");
        assert_eq!(text(c.call(&["DEBUG", "DIGEST"])), d);
        // NOFLUSH keeps memory; a clash is refused unless MERGE.
        c.call(&["SET", "extra", "1"]);
        c.call(&["SET", "s", "changed"]);
        assert_eq!(
            c.call(&["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH"]),
            Frame::Error("ERR Error trying to load the RDB dump".into())
        );
        assert_eq!(
            text(c.call(&["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"])),
            "OK"
        );
        assert_eq!(text(get(&mut c, "s")), "hello");
        assert_eq!(text(get(&mut c, "extra")), "1");
        assert_eq!(
            c.call(&["DEBUG", "RELOAD", "FAST"]),
            Frame::Error(
                "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.".into()
            )
        );
        std::fs::remove_file(dir.0.join("dump.rdb")).unwrap();
        assert_eq!(
            c.call(&["DEBUG", "RELOAD", "NOSAVE"]),
            Frame::Error("ERR Error trying to load the RDB dump".into())
        );
    }
}
