//! In-process tests of the hash group under both engines: replies, encodings,
//! key lifetime, WATCH, propagation of HINCRBYFLOAT.

use std::sync::Arc;

use bytes::Bytes;
use rubedo_engine::ManualClock;
use rubedo_resp::{Frame, Protocol};
use rubedo_server::server::Harness;

mod support;
use support::{bulk, err};

fn bulks(v: &[&str]) -> Frame {
    Frame::Array(v.iter().map(|s| bulk(s)).collect())
}

fn int(n: i64) -> Frame {
    Frame::Integer(n)
}

/// Runs `test` against a fresh single-engine harness, then a concurrent one.
fn both(test: impl Fn(&mut dyn FnMut(&[&str]) -> Frame, &mut dyn FnMut(Protocol))) {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let h = std::cell::RefCell::new(Harness::single(clock));
    test(&mut |w| h.borrow_mut().run(w), &mut |p| {
        h.borrow_mut().client.proto = p
    });
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let h = std::cell::RefCell::new(Harness::concurrent(clock));
    test(&mut |w| h.borrow_mut().run(w), &mut |p| {
        h.borrow_mut().client.proto = p
    });
}

/// Sorted bulk strings of an array reply.
fn sorted(f: Frame) -> Vec<Bytes> {
    let Frame::Array(items) = f else {
        panic!("not an array: {f:?}")
    };
    let mut v: Vec<Bytes> = items
        .into_iter()
        .map(|i| match i {
            Frame::Bulk(b) => b,
            other => panic!("not a bulk: {other:?}"),
        })
        .collect();
    v.sort();
    v
}

#[test]
fn set_get_and_friends() {
    both(|run, _| {
        assert_eq!(run(&["HSET", "h", "a", "1", "b", "2"]), int(2));
        assert_eq!(run(&["HSET", "h", "a", "x", "c", "3"]), int(1));
        assert_eq!(run(&["HMSET", "h", "d", "4"]), Frame::ok());
        assert_eq!(run(&["HSETNX", "h", "a", "y"]), int(0));
        assert_eq!(run(&["HSETNX", "h", "e", "5"]), int(1));
        assert_eq!(run(&["HGET", "h", "a"]), bulk("x"));
        assert_eq!(run(&["HGET", "h", "zz"]), Frame::Null);
        assert_eq!(run(&["HGET", "nokey", "a"]), Frame::Null);
        assert_eq!(run(&["HLEN", "h"]), int(5));
        assert_eq!(run(&["HEXISTS", "h", "b"]), int(1));
        assert_eq!(run(&["HEXISTS", "h", "zz"]), int(0));
        assert_eq!(run(&["HSTRLEN", "h", "a"]), int(1));
        assert_eq!(
            run(&["HMGET", "h", "a", "zz", "b"]),
            Frame::Array(vec![bulk("x"), Frame::Null, bulk("2")])
        );
        assert_eq!(run(&["HKEYS", "h"]), bulks(&["a", "b", "c", "d", "e"]));
        assert_eq!(run(&["HVALS", "h"]), bulks(&["x", "2", "3", "4", "5"]));
        assert_eq!(
            run(&["HGETALL", "h"]),
            Frame::Map(vec![
                (bulk("a"), bulk("x")),
                (bulk("b"), bulk("2")),
                (bulk("c"), bulk("3")),
                (bulk("d"), bulk("4")),
                (bulk("e"), bulk("5")),
            ])
        );
        assert_eq!(
            run(&["TYPE", "h"]),
            Frame::Simple(Bytes::from_static(b"hash"))
        );
        assert_eq!(
            run(&["HSET", "h", "a"]),
            err("ERR wrong number of arguments for 'hset' command")
        );
        assert_eq!(
            run(&["HMSET", "h", "a", "1", "b"]),
            err("ERR wrong number of arguments for 'hmset' command")
        );
    });
}

#[test]
fn last_field_deletes_the_key() {
    both(|run, _| {
        run(&["HSET", "h", "a", "1", "b", "2"]);
        assert_eq!(run(&["HDEL", "h", "a", "a", "zz"]), int(1));
        assert_eq!(run(&["EXISTS", "h"]), int(1));
        assert_eq!(run(&["HDEL", "h", "b"]), int(1));
        assert_eq!(run(&["EXISTS", "h"]), int(0));
        assert_eq!(run(&["HDEL", "h", "b"]), int(0));
        assert_eq!(run(&["HGETALL", "h"]), Frame::Map(vec![]));
    });
}

#[test]
fn counters() {
    both(|run, _| {
        assert_eq!(run(&["HINCRBY", "c", "n", "5"]), int(5));
        assert_eq!(run(&["HINCRBY", "c", "n", "-7"]), int(-2));
        assert_eq!(
            run(&["HINCRBY", "c", "n", "x"]),
            err("ERR value is not an integer or out of range")
        );
        run(&["HSET", "c", "s", "abc", "max", "9223372036854775807"]);
        assert_eq!(
            run(&["HINCRBY", "c", "s", "1"]),
            err("ERR hash value is not an integer")
        );
        assert_eq!(
            run(&["HINCRBY", "c", "max", "1"]),
            err("ERR increment or decrement would overflow")
        );
        assert_eq!(run(&["HINCRBYFLOAT", "c", "f", "10.5"]), bulk("10.5"));
        assert_eq!(run(&["HINCRBYFLOAT", "c", "f", "0.1"]), bulk("10.6"));
        assert_eq!(run(&["HINCRBYFLOAT", "c", "n", "0.5"]), bulk("-1.5"));
        assert_eq!(
            run(&["HINCRBYFLOAT", "c", "s", "1"]),
            err("ERR hash value is not a float")
        );
        assert_eq!(
            run(&["HINCRBYFLOAT", "c", "f", "abc"]),
            err("ERR value is not a valid float")
        );
        assert_eq!(
            run(&["HINCRBYFLOAT", "c", "f", "inf"]),
            err("ERR value is NaN or Infinity")
        );
        assert_eq!(
            run(&["HINCRBYFLOAT", "c", "f", "1e99999"]),
            err("ERR value is not a valid float")
        );
        run(&["HSET", "c", "i", "inf"]);
        assert_eq!(
            run(&["HINCRBYFLOAT", "c", "i", "1"]),
            err("ERR increment would produce NaN or Infinity")
        );
        assert_eq!(run(&["HINCRBYFLOAT", "new", "f", "1"]), bulk("1"));
    });
}

#[test]
fn wrong_type_both_ways() {
    both(|run, _| {
        let wt = err("WRONGTYPE Operation against a key holding the wrong kind of value");
        run(&["SET", "s", "v"]);
        run(&["HSET", "h", "f", "v"]);
        for cmd in [
            &["HSET", "s", "f", "v"][..],
            &["HGET", "s", "f"],
            &["HDEL", "s", "f"],
            &["HGETALL", "s"],
            &["HINCRBY", "s", "f", "1"],
            &["HINCRBYFLOAT", "s", "f", "1"],
            &["HRANDFIELD", "s"],
            &["HRANDFIELD", "s", "2"],
            &["HSCAN", "s", "0"],
            &["HMGET", "s", "a"],
            &["HSETNX", "s", "a", "b"],
            &["GET", "h"],
            &["INCR", "h"],
            &["APPEND", "h", "x"],
        ] {
            assert_eq!(run(cmd), wt, "{cmd:?}");
        }
        assert_eq!(
            run(&["MGET", "h", "s"]),
            Frame::Array(vec![Frame::Null, bulk("v")])
        );
    });
}

#[test]
fn encodings_convert_once_and_never_back() {
    both(|run, _| {
        let enc = |run: &mut dyn FnMut(&[&str]) -> Frame, k: &str| run(&["OBJECT", "ENCODING", k]);
        run(&["HSET", "h", "a", "1"]);
        assert_eq!(enc(run, "h"), bulk("listpack"));
        let long = "x".repeat(65);
        run(&["HSET", "h", "b", &long]);
        assert_eq!(enc(run, "h"), bulk("hashtable"));
        run(&["HDEL", "h", "b"]);
        assert_eq!(enc(run, "h"), bulk("hashtable"));
        assert_eq!(
            run(&["CONFIG", "SET", "hash-max-listpack-entries", "3"]),
            Frame::ok()
        );
        run(&["HSET", "g", "a", "1", "b", "2", "c", "3"]);
        assert_eq!(enc(run, "g"), bulk("listpack"));
        run(&["HSET", "g", "d", "4"]);
        assert_eq!(enc(run, "g"), bulk("hashtable"));
        assert_eq!(sorted(run(&["HKEYS", "g"])), vec!["a", "b", "c", "d"]);
        // A whole HSCAN of the table form returns every pair once.
        let mut cursor = "0".to_string();
        let mut seen = Vec::new();
        loop {
            let Frame::Array(parts) = run(&["HSCAN", "g", &cursor, "COUNT", "1"]) else {
                panic!()
            };
            let (Frame::Bulk(c), Frame::Array(items)) = (&parts[0], &parts[1]) else {
                panic!()
            };
            for pair in items.chunks(2) {
                seen.push((pair[0].clone(), pair[1].clone()));
            }
            cursor = String::from_utf8(c.to_vec()).unwrap();
            if cursor == "0" {
                break;
            }
        }
        seen.sort_by_key(|(f, _)| format!("{f:?}"));
        assert_eq!(
            seen,
            vec![
                (bulk("a"), bulk("1")),
                (bulk("b"), bulk("2")),
                (bulk("c"), bulk("3")),
                (bulk("d"), bulk("4"))
            ]
        );
        // The compact form is scanned in one call.
        run(&["HSET", "small", "x", "1", "y", "2"]);
        assert_eq!(
            run(&["HSCAN", "small", "0", "MATCH", "y"]),
            Frame::Array(vec![bulk("0"), bulks(&["y", "2"])])
        );
    });
}

#[test]
fn random_fields() {
    both(|run, proto| {
        run(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
        assert_eq!(run(&["HRANDFIELD", "h", "3"]), bulks(&["a", "b", "c"]));
        assert_eq!(run(&["HRANDFIELD", "h", "0"]), Frame::Array(vec![]));
        assert_eq!(run(&["HRANDFIELD", "nokey"]), Frame::Null);
        assert_eq!(run(&["HRANDFIELD", "nokey", "3"]), Frame::Array(vec![]));
        let Frame::Array(two) = run(&["HRANDFIELD", "h", "2"]) else {
            panic!()
        };
        assert_eq!(two.len(), 2);
        assert_ne!(two[0], two[1], "a positive count gives distinct fields");
        let Frame::Array(many) = run(&["HRANDFIELD", "h", "-10", "WITHVALUES"]) else {
            panic!()
        };
        assert_eq!(many.len(), 20);
        assert_eq!(
            run(&["HRANDFIELD", "h", "1", "WITHVALUES", "x"]),
            err("ERR syntax error")
        );
        assert_eq!(
            run(&["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"]),
            err("ERR value is out of range")
        );
        // A table-encoded hash: distinct fields whether few or most are asked for.
        let fields: Vec<String> = (0..300).map(|i| format!("f{i}")).collect();
        for f in &fields {
            run(&["HSET", "big", f, "v"]);
        }
        for n in [10usize, 250] {
            let got = sorted(run(&["HRANDFIELD", "big", &n.to_string()]));
            let mut dedup = got.clone();
            dedup.dedup();
            assert_eq!(got.len(), n);
            assert_eq!(dedup.len(), n, "distinct fields");
        }
        assert_eq!(sorted(run(&["HRANDFIELD", "big", "1000"])).len(), 300);
        proto(Protocol::Resp3);
        assert_eq!(
            run(&["HRANDFIELD", "h", "5", "WITHVALUES"]),
            Frame::Array(vec![
                bulks(&["a", "1"]),
                bulks(&["b", "2"]),
                bulks(&["c", "3"])
            ])
        );
        let Frame::Array(pairs) = run(&["HRANDFIELD", "h", "-4", "WITHVALUES"]) else {
            panic!()
        };
        assert_eq!(pairs.len(), 4);
        assert!(pairs
            .iter()
            .all(|p| matches!(p, Frame::Array(v) if v.len() == 2)));
        proto(Protocol::Resp2);
    });
}

#[test]
fn hincrbyfloat_propagates_as_hset() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let mut h = Harness::single(clock);
    let log = h.record();
    h.run(&["HINCRBYFLOAT", "k", "f", "1.5"]);
    h.run(&["HINCRBYFLOAT", "k", "f", "x"]);
    h.run(&["HSET", "k", "g", "1"]);
    h.run(&["HDEL", "k", "nofield"]);
    let got = log.words();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        got,
        vec![
            vec![s(&["HSET", "k", "f", "1.5"])],
            vec![s(&["HSET", "k", "g", "1"])],
        ]
    );
}

#[test]
fn watch_sees_hash_changes() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let mut a = Harness::single(clock);
    a.run(&["HSET", "k", "f", "1"]);
    assert_eq!(a.run(&["WATCH", "k"]), Frame::ok());
    a.run(&["HINCRBY", "k", "f", "1"]);
    a.run(&["MULTI"]);
    a.run(&["HGET", "k", "f"]);
    assert_eq!(a.run(&["EXEC"]), Frame::NullArray);
}
