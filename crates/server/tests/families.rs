//! In-process family tests: commands in, replies out, no socket, under
//! both engines; plus the propagation rewrites and the table's coverage.

use std::sync::Arc;

use rubedo_engine::{Keyspace, ManualClock};
use rubedo_resp::Frame;
use rubedo_server::server::Harness;

mod support;
use support::{bulk, err};

fn both(test: impl Fn(&mut dyn FnMut(&[&str]) -> Frame, &ManualClock)) {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mut h = Harness::single(clock.clone());
    test(&mut |w| h.run(w), &clock);
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mut h = Harness::concurrent(clock.clone());
    test(&mut |w| h.run(w), &clock);
}

#[test]
fn string_family() {
    both(|run, _| {
        assert_eq!(run(&["SET", "k", "v"]), Frame::ok());
        assert_eq!(run(&["GET", "k"]), bulk("v"));
        assert_eq!(run(&["SET", "k", "w", "NX"]), Frame::Null);
        assert_eq!(run(&["SET", "k", "w", "XX", "GET"]), bulk("v"));
        assert_eq!(run(&["APPEND", "k", "xyz"]), Frame::Integer(4));
        assert_eq!(run(&["GETRANGE", "k", "1", "-1"]), bulk("xyz"));
        assert_eq!(
            run(&["INCR", "k"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(run(&["INCRBYFLOAT", "f", "0.1"]), bulk("0.1"));
        assert_eq!(run(&["INCRBYFLOAT", "f", "0.2"]), bulk("0.3"));
        assert_eq!(run(&["SETRANGE", "r", "2", "ab"]), Frame::Integer(4));
        assert_eq!(run(&["GET", "r"]), Frame::bulk(b"\0\0ab"));
        assert_eq!(run(&["MSETNX", "r", "1", "new", "2"]), Frame::Integer(0));
        assert_eq!(run(&["LCS", "r", "k"]), bulk(""));
        assert_eq!(
            run(&["GET"]),
            err("ERR wrong number of arguments for 'get' command")
        );
    });
}

#[test]
fn expiry_follows_the_injected_clock() {
    both(|run, clock| {
        assert_eq!(run(&["SET", "k", "v", "PX", "100"]), Frame::ok());
        assert_eq!(run(&["PTTL", "k"]), Frame::Integer(100));
        clock.advance(100);
        assert_eq!(run(&["GET", "k"]), bulk("v"), "alive at its expiry time");
        clock.advance(1);
        assert_eq!(run(&["GET", "k"]), Frame::Null);
        assert_eq!(run(&["TTL", "k"]), Frame::Integer(-2));
        assert_eq!(run(&["SET", "k", "v"]), Frame::ok());
        assert_eq!(run(&["EXPIRE", "k", "10", "GT"]), Frame::Integer(0));
        assert_eq!(run(&["EXPIRE", "k", "10", "LT"]), Frame::Integer(1));
        assert_eq!(run(&["TTL", "k"]), Frame::Integer(10));
        clock.advance(5_500);
        assert_eq!(run(&["TTL", "k"]), Frame::Integer(5), "rounded like Redis");
        assert_eq!(run(&["PERSIST", "k"]), Frame::Integer(1));
        assert_eq!(run(&["TTL", "k"]), Frame::Integer(-1));
    });
}

#[test]
fn transactions_queue_and_abort() {
    both(|run, _| {
        assert_eq!(run(&["MULTI"]), Frame::ok());
        assert_eq!(run(&["SET", "a", "1"]), Frame::simple("QUEUED"));
        assert_eq!(run(&["INCR", "a"]), Frame::simple("QUEUED"));
        assert_eq!(
            run(&["EXEC"]),
            Frame::Array(vec![Frame::ok(), Frame::Integer(2)])
        );
        assert_eq!(run(&["MULTI"]), Frame::ok());
        assert_eq!(
            run(&["GET"]),
            err("ERR wrong number of arguments for 'get' command")
        );
        assert_eq!(
            run(&["EXEC"]),
            err("EXECABORT Transaction discarded because of previous errors.")
        );
        assert_eq!(run(&["EXEC"]), err("ERR EXEC without MULTI"));
    });
}

#[test]
fn generic_family() {
    both(|run, _| {
        run(&["MSET", "a", "1", "b", "2"]);
        assert_eq!(run(&["EXISTS", "a", "b", "c", "a"]), Frame::Integer(3));
        assert_eq!(run(&["RENAME", "a", "c"]), Frame::ok());
        assert_eq!(run(&["RENAME", "nope", "x"]), err("ERR no such key"));
        assert_eq!(run(&["COPY", "c", "d", "DB", "3"]), Frame::Integer(1));
        assert_eq!(run(&["MOVE", "b", "3"]), Frame::Integer(1));
        assert_eq!(run(&["DBSIZE"]), Frame::Integer(1));
        assert_eq!(run(&["SELECT", "3"]), Frame::ok());
        assert_eq!(run(&["KEYS", "b"]), Frame::Array(vec![bulk("b")]));
        assert_eq!(run(&["TYPE", "d"]), Frame::simple("string"));
        assert_eq!(run(&["DEL", "b", "d", "zz"]), Frame::Integer(2));
        assert_eq!(run(&["SWAPDB", "0", "3"]), Frame::ok());
        assert_eq!(run(&["GET", "c"]), bulk("1"));
        assert_eq!(run(&["FLUSHALL"]), Frame::ok());
        assert_eq!(run(&["RANDOMKEY"]), Frame::Null);
    });
}

#[test]
fn writes_propagate_in_deterministic_form() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let mut h = Harness::single(clock.clone());
    let log = h.record();
    h.run(&["SET", "k", "v", "EX", "10"]);
    h.run(&["GET", "k"]);
    h.run(&["EXPIRE", "k", "5"]);
    h.run(&["INCRBYFLOAT", "f", "1.5"]);
    h.run(&["SET", "k", "v", "NX"]);
    h.run(&["MULTI"]);
    h.run(&["SET", "a", "1"]);
    h.run(&["INCR", "a"]);
    h.run(&["EXEC"]);
    h.run(&["SET", "gone", "v", "PX", "1"]);
    clock.advance(2);
    h.run(&["GET", "gone"]);
    let got = log.words();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        got,
        vec![
            vec![s(&["SET", "k", "v", "PXAT", "1010000"])],
            vec![s(&["PEXPIREAT", "k", "1005000"])],
            vec![s(&["SET", "f", "1.5", "KEEPTTL"])],
            vec![
                s(&["MULTI"]),
                s(&["SET", "a", "1"]),
                s(&["INCR", "a"]),
                s(&["EXEC"])
            ],
            vec![s(&["SET", "gone", "v", "PXAT", "1000001"])],
            vec![s(&["DEL", "gone"])],
        ]
    );
    assert!(h.server.ks.databases() == 16);
}

/// A transaction that changes database is one unit of the log, each command
/// carrying its database; units are numbered in order; expired keys' DELs
/// go before the command that found them.
#[test]
fn an_exec_across_databases_is_one_numbered_unit() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let mut h = Harness::concurrent(clock.clone());
    let log = h.record();
    h.run(&["SET", "t", "v", "PX", "5"]);
    h.run(&["MULTI"]);
    h.run(&["SET", "a", "1"]);
    h.run(&["SELECT", "1"]);
    h.run(&["SET", "b", "2"]);
    assert_eq!(
        h.run(&["EXEC"]),
        Frame::Array(vec![Frame::ok(), Frame::ok(), Frame::ok()])
    );
    h.run(&["SELECT", "0"]);
    clock.advance(10);
    h.run(&["SET", "t", "w"]);
    let effects = log.0.lock().clone();
    let seqs: Vec<u64> = effects.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    let shape: Vec<Vec<(usize, String)>> = effects
        .iter()
        .map(|e| {
            e.ops
                .iter()
                .map(|o| (o.db, String::from_utf8_lossy(&o.argv[0]).into_owned()))
                .collect()
        })
        .collect();
    let op = |db: usize, w: &str| (db, w.to_string());
    assert_eq!(
        shape,
        vec![
            vec![op(0, "SET")],
            vec![op(0, "MULTI"), op(0, "SET"), op(1, "SET"), op(1, "EXEC")],
            vec![op(0, "DEL")],
            vec![op(0, "SET")],
        ]
    );
}

/// Every command in the table appears in at least one conformance scenario whose
/// reply is compared, so no row goes untested against real Redis. A line under
/// `!type` (only the RESP type byte is compared), `!any` (nothing is) or
/// `!noreply` (not read there) does not count. (The conformance runner itself
/// checks the stronger condition, on a full run: every row got a reply from the
/// reference that was not an error, on a line compared by value.)
#[test]
fn every_command_row_has_a_conformance_scenario() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance");
    let mut text = String::new();
    for e in std::fs::read_dir(&dir).expect("tests/conformance exists") {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "txt") {
            text.push_str(&std::fs::read_to_string(&p).unwrap().to_ascii_lowercase());
            text.push('\n');
        }
    }
    let unchecked = |w: &str| matches!(w, "!type" | "!any" | "!noreply");
    let lines: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.split_whitespace().collect::<Vec<&str>>())
        .filter(|w| {
            !w.iter()
                .take_while(|w| w.starts_with('!'))
                .any(|w| unchecked(w))
        })
        .map(|w| w.into_iter().filter(|w| !w.starts_with('!')).collect())
        .collect();
    let h = Harness::single(Arc::new(ManualClock::new(0)));
    let mut missing = Vec::new();
    for c in h.server.shared.table.all.iter() {
        let covered = match c.name.split_once('|') {
            Some((parent, sub)) => lines
                .iter()
                .any(|w| w.len() > 1 && w[0] == parent && w[1] == sub),
            None => lines.iter().any(|w| w.first() == Some(&c.name)),
        };
        if !covered {
            missing.push(c.name);
        }
    }
    assert!(
        missing.is_empty(),
        "commands without a conformance line whose reply is compared: {missing:?}"
    );
}

/// An observer registered on the keyspace hears of every write of a
/// command, before and after, when the write goes through the server.
#[test]
fn observers_hear_the_servers_writes() {
    use rubedo_engine::{Entry, Keyspace, Observer};
    #[derive(Default)]
    struct Count(std::sync::Mutex<Vec<String>>);
    impl Observer for Count {
        fn before_write(&self, _db: usize, key: &[u8], _old: Option<&Entry>, _at: Option<u64>) {
            let k = String::from_utf8_lossy(key);
            self.0.lock().unwrap().push(format!("before {k}"));
        }
        fn after_write(&self, _db: usize, key: &[u8], new: Option<&Entry>) {
            let k = String::from_utf8_lossy(key);
            let there = if new.is_some() { "set" } else { "gone" };
            self.0.lock().unwrap().push(format!("after {k} {there}"));
        }
    }
    for concurrent in [false, true] {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let seen = Arc::new(Count::default());
        let run = |words: &[&str], h: &mut dyn FnMut(&[&str]) -> Frame| h(words);
        let log = if concurrent {
            let mut h = Harness::concurrent(clock);
            h.server.ks.set_observer(Some(seen.clone()));
            run(&["SET", "k", "v"], &mut |w| h.run(w));
            run(&["DEL", "k"], &mut |w| h.run(w));
            seen.0.lock().unwrap().clone()
        } else {
            let mut h = Harness::single(clock);
            h.server.ks.set_observer(Some(seen.clone()));
            run(&["SET", "k", "v"], &mut |w| h.run(w));
            run(&["DEL", "k"], &mut |w| h.run(w));
            seen.0.lock().unwrap().clone()
        };
        assert_eq!(
            log,
            vec!["before k", "after k set", "before k", "after k gone"],
            "concurrent: {concurrent}"
        );
    }
}
