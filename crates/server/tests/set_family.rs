//! In-process tests of the set group under both engines, plus SPOP's
//! propagation as SREM/DEL.

use std::collections::BTreeSet;
use std::sync::Arc;

use rubedo_engine::ManualClock;
use rubedo_resp::Frame;
use rubedo_server::server::Harness;

mod support;
use support::{both, bulk, err};

fn set(items: &[&str]) -> Frame {
    Frame::Set(items.iter().map(|s| bulk(s)).collect())
}

/// The members of a reply (set or array of bulks), as a sorted set of strings.
fn members(f: &Frame) -> BTreeSet<String> {
    let items = match f {
        Frame::Set(v) | Frame::Array(v) => v,
        other => panic!("not a collection: {other:?}"),
    };
    items
        .iter()
        .map(|i| match i {
            Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
            other => panic!("not a bulk: {other:?}"),
        })
        .collect()
}

fn names(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn membership_and_encodings() {
    both(|run| {
        assert_eq!(run(&["SADD", "s", "3", "1", "2", "1"]), Frame::Integer(3));
        assert_eq!(run(&["OBJECT", "ENCODING", "s"]), bulk("intset"));
        assert_eq!(run(&["SMEMBERS", "s"]), set(&["1", "2", "3"]));
        assert_eq!(run(&["SISMEMBER", "s", "2"]), Frame::Integer(1));
        assert_eq!(
            run(&["SMISMEMBER", "s", "2", "9"]),
            Frame::Array(vec![Frame::Integer(1), Frame::Integer(0)])
        );
        assert_eq!(run(&["SADD", "s", "x"]), Frame::Integer(1));
        assert_eq!(run(&["OBJECT", "ENCODING", "s"]), bulk("hashtable"));
        assert_eq!(run(&["SREM", "s", "x", "nope"]), Frame::Integer(1));
        assert_eq!(run(&["OBJECT", "ENCODING", "s"]), bulk("hashtable"));
        assert_eq!(run(&["SCARD", "s"]), Frame::Integer(3));
        assert_eq!(run(&["SREM", "s", "1", "2", "3"]), Frame::Integer(3));
        assert_eq!(run(&["EXISTS", "s"]), Frame::Integer(0));
        assert_eq!(
            run(&["CONFIG", "SET", "set-max-intset-entries", "2"]),
            Frame::ok()
        );
        assert_eq!(run(&["SADD", "t", "1", "2"]), Frame::Integer(2));
        assert_eq!(run(&["OBJECT", "ENCODING", "t"]), bulk("intset"));
        assert_eq!(run(&["SADD", "t", "3"]), Frame::Integer(1));
        assert_eq!(run(&["OBJECT", "ENCODING", "t"]), bulk("hashtable"));
        run(&["SET", "str", "v"]);
        assert_eq!(
            run(&["SADD", "str", "a"]),
            err("WRONGTYPE Operation against a key holding the wrong kind of value")
        );
        assert_eq!(
            run(&["GET", "t"]),
            err("WRONGTYPE Operation against a key holding the wrong kind of value")
        );
    });
}

#[test]
fn algebra_and_stores() {
    both(|run| {
        run(&["SADD", "a", "1", "2", "3", "x"]);
        run(&["SADD", "b", "2", "3", "4"]);
        assert_eq!(run(&["SINTER", "a", "b"]), set(&["2", "3"]));
        assert_eq!(
            members(&run(&["SUNION", "a", "b"])),
            names(&["1", "2", "3", "4", "x"])
        );
        assert_eq!(members(&run(&["SDIFF", "a", "b"])), names(&["1", "x"]));
        assert_eq!(
            run(&["SINTERCARD", "2", "a", "b", "LIMIT", "1"]),
            Frame::Integer(1)
        );
        assert_eq!(run(&["SINTERSTORE", "d", "a", "b"]), Frame::Integer(2));
        assert_eq!(run(&["OBJECT", "ENCODING", "d"]), bulk("intset"));
        assert_eq!(run(&["SUNIONSTORE", "d", "a", "b"]), Frame::Integer(5));
        assert_eq!(run(&["OBJECT", "ENCODING", "d"]), bulk("hashtable"));
        assert_eq!(run(&["SDIFFSTORE", "d", "a", "a"]), Frame::Integer(0));
        assert_eq!(run(&["EXISTS", "d"]), Frame::Integer(0));
        assert_eq!(run(&["SINTER", "a", "nokey"]), Frame::Set(vec![]));
        assert_eq!(
            run(&["SINTERCARD", "0", "a"]),
            err("ERR numkeys should be greater than 0")
        );
        assert_eq!(
            run(&["SINTERCARD", "3", "a", "b"]),
            err("ERR Number of keys can't be greater than number of args")
        );
        assert_eq!(
            run(&["SINTERCARD", "1", "a", "LIMIT", "-1"]),
            err("ERR LIMIT can't be negative")
        );
        assert_eq!(run(&["SMOVE", "a", "b", "x"]), Frame::Integer(1));
        assert_eq!(run(&["OBJECT", "ENCODING", "b"]), bulk("hashtable"));
        assert_eq!(run(&["SMOVE", "a", "b", "x"]), Frame::Integer(0));
        // Sources stay intact after being borrowed for the computation.
        assert_eq!(members(&run(&["SMEMBERS", "a"])), names(&["1", "2", "3"]));
        assert_eq!(
            members(&run(&["SINTER", "a", "a", "b"])),
            names(&["2", "3"])
        );
        assert_eq!(members(&run(&["SMEMBERS", "a"])), names(&["1", "2", "3"]));
        assert_eq!(run(&["OBJECT", "ENCODING", "a"]), bulk("hashtable"));
    });
}

#[test]
fn random_members_and_pops() {
    both(|run| {
        let all = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
        let mut args = vec!["SADD", "s"];
        args.extend(all);
        run(&args);
        let r = run(&["SRANDMEMBER", "s", "4"]);
        let got = members(&r);
        assert_eq!(got.len(), 4, "distinct members");
        assert!(got.is_subset(&names(&all)));
        let Frame::Array(v) = run(&["SRANDMEMBER", "s", "-30"]) else {
            panic!("array expected")
        };
        assert_eq!(v.len(), 30, "negative counts may repeat");
        assert_eq!(members(&run(&["SRANDMEMBER", "s", "100"])), names(&all));
        let popped = members(&run(&["SPOP", "s", "3"]));
        assert_eq!(popped.len(), 3);
        assert_eq!(run(&["SCARD", "s"]), Frame::Integer(7));
        let rest = members(&run(&["SMEMBERS", "s"]));
        assert!(popped.is_disjoint(&rest));
        assert_eq!(popped.union(&rest).count(), 10);
        let Frame::Bulk(_) = run(&["SPOP", "s"]) else {
            panic!("bulk expected")
        };
        assert_eq!(members(&run(&["SPOP", "s", "100"])).len(), 6);
        assert_eq!(run(&["EXISTS", "s"]), Frame::Integer(0));
        assert_eq!(run(&["SPOP", "s"]), Frame::Null);
        assert_eq!(
            run(&["SPOP", "s", "-1"]),
            err("ERR value is out of range, must be positive")
        );
    });
}

#[test]
fn sscan_walks_a_large_set() {
    both(|run| {
        let owned: Vec<String> = (0..1000).map(|i| format!("m{i}")).collect();
        let mut args = vec!["SADD", "big"];
        args.extend(owned.iter().map(|s| s.as_str()));
        assert_eq!(run(&args), Frame::Integer(1000));
        let mut seen = BTreeSet::new();
        let mut cursor = "0".to_string();
        let mut calls = 0;
        loop {
            let Frame::Array(reply) = run(&["SSCAN", "big", &cursor, "COUNT", "50"]) else {
                panic!("array expected")
            };
            let Frame::Bulk(c) = &reply[0] else {
                panic!("cursor expected")
            };
            seen.extend(members(&reply[1]));
            cursor = String::from_utf8_lossy(c).into_owned();
            calls += 1;
            if cursor == "0" {
                break;
            }
        }
        assert!(calls > 1, "a hashtable set is walked in steps");
        assert_eq!(seen.len(), 1000);
        let Frame::Array(reply) = run(&["SSCAN", "big", "0", "MATCH", "m99*", "COUNT", "5000"])
        else {
            panic!("array expected")
        };
        assert_eq!(reply[0], bulk("0"));
        assert_eq!(
            members(&reply[1]),
            names(&[
                "m99", "m990", "m991", "m992", "m993", "m994", "m995", "m996", "m997", "m998",
                "m999"
            ])
        );
    });
}

#[test]
fn spop_propagates_as_srem_or_del() {
    let mut h = Harness::single(Arc::new(ManualClock::new(1_000_000)));
    let log = h.record();
    h.run(&["SADD", "s", "7"]);
    h.run(&["SPOP", "s"]);
    h.run(&["SADD", "s", "1", "2", "3"]);
    h.run(&["SPOP", "s", "0"]);
    h.run(&["SPOP", "s", "2"]);
    h.run(&["SPOP", "s", "5"]);
    h.run(&["SPOP", "s", "5"]);
    let got = log.words();
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(got[0], vec![vec!["SADD", "s", "7"]]);
    assert_eq!(got[1], vec![vec!["SREM", "s", "7"]]);
    assert_eq!(got[2], vec![vec!["SADD", "s", "1", "2", "3"]]);
    // Two popped members: one SREM each, one unit wrapped in MULTI/EXEC.
    let srems: &Vec<Vec<String>> = &got[3];
    assert_eq!(srems.len(), 4, "{srems:?}");
    assert_eq!((&srems[0][0][..], &srems[3][0][..]), ("MULTI", "EXEC"));
    let flat: Vec<Vec<String>> = srems
        .iter()
        .filter(|c| c[0] != "MULTI" && c[0] != "EXEC")
        .cloned()
        .collect();
    assert_eq!(flat.len(), 2, "{srems:?}");
    assert!(flat
        .iter()
        .all(|c| c.len() == 3 && c[0] == "SREM" && c[1] == "s"));
    assert_eq!(got[4], vec![vec!["DEL", "s"]]);
}
