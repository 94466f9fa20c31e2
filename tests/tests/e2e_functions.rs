//! Function libraries with the real binary: they survive SAVE, kill -9 and
//! a restart in both snapshot formats, the append-only log replays FUNCTION
//! LOAD / DELETE / FLUSH / RESTORE (and a rewrite keeps them, as a snapshot
//! base or as FUNCTION LOAD commands), DEBUG RELOAD keeps them, a library
//! that does not load stops the start, and FUNCTION DUMP / RESTORE payloads
//! go both ways between Rubedo and redis-server 7.0.15 (when installed).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rubedo_resp::Frame;
use rubedo_tests::{bulk, have_redis_server, server_binary, text, Dir, Raw, RedisServer, Server};

const ENGINES: [&str; 2] = ["single", "concurrent"];

const LIB_A: &str =
    "#!lua name=liba\nredis.register_function('fa', function(keys, args) return 'a1' end)";
const LIB_A2: &str =
    "#!lua name=liba\nredis.register_function('fa', function(keys, args) return 'a2' end)";
/// Long enough, and repetitive enough, for the payload's LZF to matter.
fn lib_b() -> String {
    let mut code = String::from("#!lua name=libb\nlocal t = {}\n");
    for i in 0..40 {
        code.push_str(&format!("t[{i}] = 'value number {i} of the table'\n"));
    }
    code.push_str(
        "redis.register_function{function_name='fb', callback=function(keys, args) \
         return redis.call('set', keys[1], t[tonumber(args[1])]) end, \
         description='sets a key', flags={'allow-oom'}}\n",
    );
    code
}

fn start(engine: &str, dir: &Dir, extra: &[&str]) -> Server {
    let mut args = vec![
        "--engine",
        engine,
        "--dir",
        dir.path(),
        "--save",
        "",
        "--enable-debug-command",
        "yes",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn load(c: &mut Raw, code: &str) -> Frame {
    c.call(&["FUNCTION", "LOAD", "REPLACE", code])
}

/// The libraries' code, sorted by name.
fn codes(c: &mut Raw) -> Vec<String> {
    let Frame::Array(libs) = c.call(&["FUNCTION", "LIST", "WITHCODE"]) else {
        panic!("FUNCTION LIST")
    };
    let mut out: Vec<String> = libs
        .into_iter()
        .map(|l| {
            let items = match l {
                Frame::Array(items) => items,
                Frame::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
                other => panic!("{other:?}"),
            };
            let at = items
                .iter()
                .position(|f| *f == bulk("library_code"))
                .expect("library_code");
            text(items[at + 1].clone())
        })
        .collect();
    out.sort();
    out
}

/// The state every check expects: `liba` as `LIB_A2`, `libb`, and `fb`
/// working.
fn check(c: &mut Raw, what: &str) {
    assert_eq!(c.call(&["FCALL", "fa", "0"]), bulk("a2"), "{what}");
    assert_eq!(
        c.call(&["FCALL", "fb", "1", "k", "3"]),
        Frame::Simple("OK".into()),
        "{what}"
    );
    assert_eq!(c.call(&["GET", "k"]), bulk("value number 3 of the table"));
    assert_eq!(codes(c), vec![LIB_A2.to_string(), lib_b()], "{what}");
}

fn fill(c: &mut Raw) {
    assert_eq!(load(c, LIB_A), bulk("liba"));
    assert_eq!(load(c, &lib_b()), bulk("libb"));
    let gone = "#!lua name=gone\nredis.register_function('fg', function() return 1 end)";
    assert_eq!(load(c, gone), bulk("gone"));
    assert_eq!(c.call(&["FUNCTION", "DELETE", "gone"]), Frame::ok());
    assert_eq!(load(c, LIB_A2), bulk("liba"));
}

#[test]
fn functions_survive_save_kill_and_restart() {
    for engine in ENGINES {
        for format in ["rubedo", "rdb"] {
            let what = format!("{engine}, {format}");
            let dir = Dir::new("fn-save");
            let fmt = ["--snapshot-format", format];
            {
                let s = start(engine, &dir, &fmt);
                let mut c = s.raw();
                fill(&mut c);
                assert_eq!(text(c.call(&["SAVE"])), "OK");
                // Dropped: killed with SIGKILL.
            }
            let s = start(engine, &dir, &fmt);
            let mut c = s.raw();
            check(&mut c, &what);
            let info = text(c.call(&["INFO", "memory"]));
            assert!(info.contains("number_of_libraries:2\r\n"), "{info}");
            assert!(info.contains("number_of_functions:2\r\n"), "{info}");
            // DEBUG RELOAD saves, empties (functions too) and loads again.
            assert_eq!(c.call(&["DEBUG", "RELOAD"]), Frame::ok());
            check(&mut c, &format!("{what}, after DEBUG RELOAD"));
            assert_eq!(c.call(&["FUNCTION", "FLUSH"]), Frame::ok());
            assert_eq!(text(c.call(&["SAVE"])), "OK");
            drop(c);
            drop(s);
            let s = start(engine, &dir, &fmt);
            assert_eq!(codes(&mut s.raw()), Vec::<String>::new(), "{what}");
        }
    }
}

fn aof_field(c: &mut Raw, field: &str) -> String {
    c.info_field("persistence", field)
}

fn wait_rewrite(c: &mut Raw) {
    let until = Instant::now() + Duration::from_secs(60);
    while aof_field(c, "aof_rewrite_in_progress") != "0"
        || aof_field(c, "aof_rewrite_scheduled") != "0"
    {
        assert!(Instant::now() < until, "the rewrite did not finish");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every file of the log's directory, concatenated.
fn log_bytes(dir: &Dir) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir.0.join("appendonlydir")).unwrap() {
        out.extend(std::fs::read(e.unwrap().path()).unwrap());
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_log_replays_function_commands_and_rewrites_keep_them() {
    for engine in ENGINES {
        for preamble in ["yes", "no"] {
            let what = format!("{engine}, aof-use-rdb-preamble {preamble}");
            let dir = Dir::new("fn-aof");
            let args = [
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--aof-use-rdb-preamble",
                preamble,
            ];
            {
                let s = start(engine, &dir, &args);
                let mut c = s.raw();
                fill(&mut c);
                let dump = c.call(&["FUNCTION", "DUMP"]);
                let Frame::Bulk(payload) = dump else {
                    panic!("{dump:?}")
                };
                assert_eq!(c.call(&["FUNCTION", "FLUSH", "ASYNC"]), Frame::ok());
                assert_eq!(
                    c.call_bytes(&[b"FUNCTION", b"RESTORE", &payload]),
                    Frame::ok()
                );
                let log = log_bytes(&dir);
                for word in [&b"FUNCTION"[..], b"LOAD", b"DELETE", b"FLUSH", b"RESTORE"] {
                    assert!(contains(&log, word), "{what}: {word:?} in the log");
                }
            }
            let s = start(engine, &dir, &args);
            let mut c = s.raw();
            check(&mut c, &format!("{what}, replayed"));
            assert_eq!(
                text(c.call(&["BGREWRITEAOF"])),
                "Background append only file rewriting started"
            );
            wait_rewrite(&mut c);
            let log = log_bytes(&dir);
            if preamble == "no" {
                // A base of commands loads the libraries with FUNCTION LOAD.
                let load = format!(
                    "*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n${}\r\n{LIB_A2}\r\n",
                    LIB_A2.len()
                );
                assert!(
                    contains(&log, load.as_bytes()),
                    "{what}: the base loads liba"
                );
            }
            drop(c);
            drop(s);
            let s = start(engine, &dir, &args);
            let mut c = s.raw();
            check(&mut c, &format!("{what}, after the rewrite"));
            // DEBUG LOADAOF empties everything and loads the log again.
            assert_eq!(c.call(&["DEBUG", "LOADAOF"]), Frame::ok());
            check(&mut c, &format!("{what}, after DEBUG LOADAOF"));
            assert_eq!(c.call(&["FUNCTION", "FLUSH"]), Frame::ok());
            drop(c);
            drop(s);
            let s = start(engine, &dir, &args);
            assert_eq!(codes(&mut s.raw()), Vec::<String>::new(), "{what}, flushed");
        }
    }
}

/// An RDB file whose one FUNCTION2 record holds `code`.
fn rdb_with_library(code: &[u8]) -> Vec<u8> {
    let mut f = b"REDIS0010\xf5".to_vec();
    // RDB's one- and two-byte lengths.
    assert!(code.len() < 1 << 14);
    if code.len() < 64 {
        f.push(code.len() as u8);
    } else {
        f.extend_from_slice(&[0x40 | (code.len() >> 8) as u8, code.len() as u8]);
    }
    f.extend_from_slice(code);
    f.push(0xff);
    f.extend_from_slice(&[0; 8]); // a zero CRC is not checked
    f
}

#[test]
fn a_library_that_does_not_load_stops_the_start() {
    for (code, why) in [
        (&b"#!lua name=bad\nreturn +"[..], "Error compiling function"),
        (b"#!lua name=bad\nreturn 1", "No functions registered"),
        (b"no shebang", "Missing library metadata"),
    ] {
        let dir = Dir::new("fn-bad-lib");
        std::fs::write(dir.0.join("dump.rdb"), rdb_with_library(code)).unwrap();
        let out = Command::new(server_binary())
            .args(["--port", "0", "--bind", "127.0.0.1", "--dir", dir.path()])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "the server started");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("Failed loading library") && err.contains(why),
            "{err}"
        );
    }
    // The same file with a good library starts and runs it.
    let dir = Dir::new("fn-good-lib");
    let good = b"#!lua name=ok\nredis.register_function('ok', function() return 7 end)";
    std::fs::write(dir.0.join("dump.rdb"), rdb_with_library(good)).unwrap();
    let s = start("single", &dir, &[]);
    assert_eq!(s.raw().call(&["FCALL", "ok", "0"]), Frame::Integer(7));
}

#[test]
fn dump_and_restore_go_both_ways_with_redis_server() {
    if !have_redis_server("this test") {
        return;
    }
    let r = RedisServer::start(None, &[]);
    let mut rc = r.raw();
    assert_eq!(load(&mut rc, LIB_A2), bulk("liba"));
    assert_eq!(load(&mut rc, &lib_b()), bulk("libb"));
    let Frame::Bulk(from_redis) = rc.call(&["FUNCTION", "DUMP"]) else {
        panic!("DUMP")
    };
    for engine in ENGINES {
        let dir = Dir::new("fn-dump");
        let s = start(engine, &dir, &[]);
        let mut c = s.raw();
        assert_eq!(
            c.call_bytes(&[b"FUNCTION", b"RESTORE", &from_redis]),
            Frame::ok(),
            "{engine}"
        );
        check(&mut c, &format!("{engine}: Redis's payload"));
        // One library at a time, the payloads are the same bytes (the
        // order of several is each server's own).
        for code in [LIB_A2.to_string(), lib_b()] {
            for x in [&mut c, &mut rc] {
                assert_eq!(x.call(&["FUNCTION", "FLUSH"]), Frame::ok());
                load(x, &code);
            }
            assert_eq!(
                c.call(&["FUNCTION", "DUMP"]),
                rc.call(&["FUNCTION", "DUMP"]),
                "{engine}"
            );
        }
        // Rubedo's payload of both restores in redis-server.
        load(&mut c, LIB_A2);
        let Frame::Bulk(from_rubedo) = c.call(&["FUNCTION", "DUMP"]) else {
            panic!("DUMP")
        };
        assert_eq!(
            rc.call_bytes(&[b"FUNCTION", b"RESTORE", &from_rubedo, b"FLUSH"]),
            Frame::ok(),
            "{engine}"
        );
        check(
            &mut rc,
            &format!("{engine}: Rubedo's payload in redis-server"),
        );
        // And with compression off (one library, as above).
        for x in [&mut c, &mut rc] {
            assert_eq!(x.call(&["FUNCTION", "FLUSH"]), Frame::ok());
            load(x, &lib_b());
            assert_eq!(
                x.call(&["CONFIG", "SET", "rdbcompression", "no"]),
                Frame::ok()
            );
        }
        assert_eq!(
            c.call(&["FUNCTION", "DUMP"]),
            rc.call(&["FUNCTION", "DUMP"]),
            "{engine}: uncompressed"
        );
        for x in [&mut c, &mut rc] {
            assert_eq!(
                x.call(&["CONFIG", "SET", "rdbcompression", "yes"]),
                Frame::ok()
            );
        }
        // Restore where `libb` is loaded: Redis's error.
        for x in [&mut c, &mut rc] {
            let e = x.call_bytes(&[b"FUNCTION", b"RESTORE", &from_redis]);
            assert!(
                matches!(&e, Frame::Error(t) if t.starts_with(b"ERR Library ")),
                "{e:?}"
            );
        }
        assert_eq!(c.call(&["FUNCTION", "FLUSH"]), Frame::ok());
        assert_eq!(rc.call(&["FUNCTION", "FLUSH"]), Frame::ok());
        for code in [LIB_A2.to_string(), lib_b()] {
            load(&mut rc, &code);
        }
    }
}
