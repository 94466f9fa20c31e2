//! In-process tests of SORT and SORT_RO under both engines, plus the
//! propagation of SORT ... STORE.

use std::sync::Arc;

use bytes::Bytes;
use rubedo_engine::ManualClock;
use rubedo_resp::Frame;
use rubedo_server::server::Harness;

mod support;
use support::{arr, both, bulk, err};

const NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";

#[test]
fn numeric_and_alpha_order() {
    both(|run| {
        run(&["RPUSH", "l", "3", "1", "2", "10", "02", "2.0", "-5"]);
        assert_eq!(
            run(&["SORT", "l"]),
            arr(&["-5", "1", "02", "2", "2.0", "3", "10"])
        );
        assert_eq!(
            run(&["SORT", "l", "DESC"]),
            arr(&["10", "3", "2.0", "2", "02", "1", "-5"])
        );
        assert_eq!(
            run(&["SORT_RO", "l", "ALPHA"]),
            arr(&["-5", "02", "1", "10", "2", "2.0", "3"])
        );
        run(&["RPUSH", "w", "b", "a"]);
        assert_eq!(run(&["SORT", "w"]), err(NOT_DOUBLE));
        assert_eq!(run(&["SORT", "w", "ALPHA", "DESC"]), arr(&["b", "a"]));
        run(&["RPUSH", "f", "0x10", " 7", "", "1e2", "-inf"]);
        assert_eq!(run(&["SORT", "f"]), arr(&["-inf", "", " 7", "0x10", "1e2"]));
        run(&["RPUSH", "r", "1", "1e400"]);
        assert_eq!(run(&["SORT", "r"]), err(NOT_DOUBLE));
        assert_eq!(run(&["SORT", "nokey"]), arr(&[]));
    });
}

#[test]
fn limit_window() {
    both(|run| {
        run(&["RPUSH", "l", "5", "4", "3", "2", "1"]);
        assert_eq!(run(&["SORT", "l", "LIMIT", "1", "2"]), arr(&["2", "3"]));
        assert_eq!(run(&["SORT", "l", "LIMIT", "-3", "1"]), arr(&["1"]));
        assert_eq!(run(&["SORT", "l", "LIMIT", "3", "-1"]), arr(&["4", "5"]));
        assert_eq!(run(&["SORT", "l", "LIMIT", "5", "1"]), arr(&[]));
        assert_eq!(run(&["SORT", "l", "LIMIT", "1", "0"]), arr(&[]));
        assert_eq!(
            run(&["SORT", "l", "LIMIT", "3", "9223372036854775807"]),
            arr(&["4", "5"])
        );
        assert_eq!(
            run(&["SORT", "l", "LIMIT", "x", "1"]),
            err("ERR value is not an integer or out of range")
        );
        assert_eq!(run(&["SORT", "l", "LIMIT", "1"]), err("ERR syntax error"));
    });
}

#[test]
fn by_nosort_keeps_native_order() {
    both(|run| {
        run(&["RPUSH", "l", "c", "a", "b", "d"]);
        assert_eq!(run(&["SORT", "l", "BY", "x"]), arr(&["c", "a", "b", "d"]));
        assert_eq!(
            run(&["SORT", "l", "BY", "x", "DESC", "LIMIT", "1", "2"]),
            arr(&["b", "a"])
        );
        run(&["ZADD", "z", "3", "a", "1", "b", "2", "c"]);
        assert_eq!(run(&["OBJECT", "ENCODING", "z"]), bulk("listpack"));
        assert_eq!(run(&["SORT", "z", "BY", "nosort"]), arr(&["b", "c", "a"]));
        // SORT converts a sorted set to a skiplist, as Redis does.
        assert_eq!(run(&["OBJECT", "ENCODING", "z"]), bulk("skiplist"));
        assert_eq!(
            run(&["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "0", "2"]),
            arr(&["a", "c"])
        );
        assert_eq!(run(&["SORT", "z", "ALPHA"]), arr(&["a", "b", "c"]));
        // A set BY nosort with STORE is sorted ALPHA for determinism.
        run(&["SADD", "s", "b", "c", "a"]);
        assert_eq!(
            run(&["SORT", "s", "BY", "nosort", "STORE", "d"]),
            Frame::Integer(3)
        );
        assert_eq!(run(&["LRANGE", "d", "0", "-1"]), arr(&["a", "b", "c"]));
    });
}

#[test]
fn by_and_get_patterns() {
    both(|run| {
        run(&["RPUSH", "l", "a", "b", "c"]);
        run(&["MSET", "w_a", "3", "w_b", "1"]);
        run(&["HSET", "h_a", "f", "x"]);
        run(&["HSET", "h_c", "f", "y"]);
        assert_eq!(run(&["SORT", "l", "BY", "w_*"]), arr(&["c", "b", "a"]));
        assert_eq!(
            run(&["SORT", "l", "BY", "h_*->f", "ALPHA", "DESC"]),
            arr(&["c", "a", "b"])
        );
        assert_eq!(
            run(&["SORT", "l", "ALPHA", "GET", "#", "GET", "w_*", "GET", "h_*->f"]),
            Frame::Array(vec![
                bulk("a"),
                bulk("3"),
                bulk("x"),
                bulk("b"),
                bulk("1"),
                Frame::Null,
                bulk("c"),
                Frame::Null,
                bulk("y"),
            ])
        );
        assert_eq!(
            run(&["SORT", "l", "ALPHA", "GET", "nostar"]),
            Frame::Array(vec![Frame::Null; 3])
        );
    });
}

#[test]
fn store_and_errors() {
    both(|run| {
        run(&["RPUSH", "l", "2", "1"]);
        run(&["SET", "dst", "x"]);
        assert_eq!(run(&["SORT", "l", "STORE", "dst"]), Frame::Integer(2));
        assert_eq!(run(&["TYPE", "dst"]), Frame::Simple(Bytes::from("list")));
        assert_eq!(run(&["LRANGE", "dst", "0", "-1"]), arr(&["1", "2"]));
        assert_eq!(
            run(&["SORT", "l", "GET", "#", "GET", "nope_*", "STORE", "dst"]),
            Frame::Integer(4)
        );
        assert_eq!(run(&["LRANGE", "dst", "0", "-1"]), arr(&["1", "", "2", ""]));
        assert_eq!(run(&["SORT", "nokey", "STORE", "dst"]), Frame::Integer(0));
        assert_eq!(run(&["EXISTS", "dst"]), Frame::Integer(0));
        assert_eq!(
            run(&["SORT_RO", "l", "STORE", "dst"]),
            err("ERR syntax error")
        );
        run(&["SET", "str", "v"]);
        assert_eq!(
            run(&["SORT", "str"]),
            err("WRONGTYPE Operation against a key holding the wrong kind of value")
        );
        assert_eq!(run(&["SORT", "str", "BAD"]), err("ERR syntax error"));
        assert_eq!(
            run(&["SORT"]),
            err("ERR wrong number of arguments for 'sort' command")
        );
        assert_eq!(
            run(&["COMMAND", "GETKEYS", "SORT", "l", "STORE", "a", "STORE", "b"]),
            arr(&["l", "b"])
        );
    });
}

#[test]
fn limited_alpha_by_places_ties_like_redis() {
    both(|run| {
        let l = [
            "e", "d", "c", "b", "a", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q",
            "r", "s", "t", "u", "v", "w", "x", "y", "z",
        ];
        let mut cmd = vec!["RPUSH", "tl"];
        cmd.extend(l);
        run(&cmd);
        // Without LIMIT: a stable sort keeps the list order of equal elements.
        assert_eq!(run(&["SORT", "tl", "BY", "nokey_*", "ALPHA"]), arr(&l));
        // With LIMIT: Redis's partial quicksort (values checked against redis-server 7.0.15).
        assert_eq!(
            run(&["SORT", "tl", "BY", "nokey_*", "ALPHA", "LIMIT", "0", "5"]),
            arr(&["z", "d", "c", "b", "a"])
        );
        assert_eq!(
            run(&["SORT", "tl", "BY", "nokey_*", "ALPHA", "LIMIT", "3", "4", "DESC"]),
            arr(&["b", "a", "f", "g"])
        );
    });
}

#[test]
fn sort_store_propagates_only_when_it_writes() {
    let mut h = Harness::single(Arc::new(ManualClock::new(1_000_000)));
    let log = h.record();
    h.run(&["RPUSH", "l", "b", "a"]);
    h.run(&["SORT", "l", "ALPHA"]);
    h.run(&["SORT", "l", "ALPHA", "STORE", "d"]);
    h.run(&["SORT", "nokey", "STORE", "none"]);
    h.run(&["SORT", "nokey", "STORE", "d"]);
    let got = log.words();
    assert_eq!(
        got,
        vec![
            vec![vec!["RPUSH", "l", "b", "a"]],
            vec![vec!["SORT", "l", "ALPHA", "STORE", "d"]],
            vec![vec!["SORT", "nokey", "STORE", "d"]],
        ]
    );
}
