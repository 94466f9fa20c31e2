//! In-process tests of the sorted-set group under both engines, plus what ZMPOP and
//! ZADD propagate.

use std::collections::BTreeSet;
use std::sync::Arc;

use rubedo_engine::ManualClock;
use rubedo_resp::Frame;
use rubedo_server::server::Harness;

mod support;
use support::{arr, both, bulk, err};

/// A RESP2 WITHSCORES reply: member, score, member, score...
fn scored(items: &[(&str, f64)]) -> Frame {
    let mut v = Vec::new();
    for (m, s) in items {
        v.push(bulk(m));
        v.push(Frame::Double(*s));
    }
    Frame::Array(v)
}

#[test]
fn add_score_rank_and_options() {
    both(|run| {
        assert_eq!(
            run(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]),
            Frame::Integer(3)
        );
        assert_eq!(
            run(&["ZADD", "z", "CH", "5", "a", "2", "b"]),
            Frame::Integer(1)
        );
        assert_eq!(run(&["ZSCORE", "z", "a"]), Frame::Double(5.0));
        assert_eq!(run(&["ZRANK", "z", "a"]), Frame::Integer(2));
        assert_eq!(run(&["ZREVRANK", "z", "a"]), Frame::Integer(0));
        assert_eq!(run(&["ZRANK", "z", "x"]), Frame::Null);
        assert_eq!(run(&["ZADD", "z", "GT", "1", "a"]), Frame::Integer(0));
        assert_eq!(run(&["ZSCORE", "z", "a"]), Frame::Double(5.0));
        assert_eq!(run(&["ZADD", "z", "INCR", "1.5", "a"]), Frame::Double(6.5));
        assert_eq!(run(&["ZADD", "z", "INCR", "NX", "1", "a"]), Frame::Null);
        assert_eq!(run(&["ZINCRBY", "z", "-0.5", "a"]), Frame::Double(6.0));
        assert_eq!(
            run(&["ZADD", "z", "NX", "XX", "1", "a"]),
            err("ERR XX and NX options at the same time are not compatible")
        );
        assert_eq!(
            run(&["ZADD", "z", "GT", "LT", "1", "a"]),
            err("ERR GT, LT, and/or NX options at the same time are not compatible")
        );
        assert_eq!(
            run(&["ZADD", "z", "INCR", "1", "a", "2", "b"]),
            err("ERR INCR option supports a single increment-element pair")
        );
        assert_eq!(
            run(&["ZADD", "z", "x", "a"]),
            err("ERR value is not a valid float")
        );
        run(&["ZADD", "i", "inf", "m"]);
        assert_eq!(
            run(&["ZINCRBY", "i", "-inf", "m"]),
            err("ERR resulting score is not a number (NaN)")
        );
        assert_eq!(
            run(&["ZMSCORE", "z", "b", "nope"]),
            Frame::Array(vec![Frame::Double(2.0), Frame::Null])
        );
        assert_eq!(run(&["ZADD", "nokey", "XX", "1", "a"]), Frame::Integer(0));
        assert_eq!(run(&["EXISTS", "nokey"]), Frame::Integer(0));
        run(&["SET", "s", "v"]);
        assert_eq!(
            run(&["ZADD", "s", "1", "a"]),
            err("WRONGTYPE Operation against a key holding the wrong kind of value")
        );
    });
}

#[test]
fn ranges() {
    both(|run| {
        run(&[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ]);
        assert_eq!(run(&["ZRANGE", "z", "1", "2"]), arr(&["b", "c"]));
        assert_eq!(run(&["ZRANGE", "z", "0", "1", "REV"]), arr(&["e", "d"]));
        assert_eq!(run(&["ZREVRANGE", "z", "-2", "-1"]), arr(&["b", "a"]));
        assert_eq!(
            run(&["ZRANGE", "z", "(1", "3", "BYSCORE", "WITHSCORES"]),
            scored(&[("b", 2.0), ("c", 3.0)])
        );
        assert_eq!(
            run(&["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "1", "2"]),
            arr(&["b", "c"])
        );
        assert_eq!(
            run(&["ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", "1", "2"]),
            arr(&["d", "c"])
        );
        assert_eq!(
            run(&["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]),
            err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
        );
        assert_eq!(run(&["ZCOUNT", "z", "(1", "4"]), Frame::Integer(3));
        assert_eq!(
            run(&["ZCOUNT", "z", "x", "4"]),
            err("ERR min or max is not a float")
        );
        run(&["ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d"]);
        assert_eq!(run(&["ZRANGEBYLEX", "l", "(a", "[c"]), arr(&["b", "c"]));
        assert_eq!(
            run(&["ZREVRANGEBYLEX", "l", "+", "-", "LIMIT", "0", "2"]),
            arr(&["d", "c"])
        );
        assert_eq!(run(&["ZLEXCOUNT", "l", "-", "(c"]), Frame::Integer(2));
        assert_eq!(
            run(&["ZLEXCOUNT", "l", "a", "+"]),
            err("ERR min or max not valid string range item")
        );
        assert_eq!(run(&["ZRANGESTORE", "d", "z", "1", "3"]), Frame::Integer(3));
        assert_eq!(run(&["ZRANGE", "d", "0", "-1"]), arr(&["b", "c", "d"]));
        assert_eq!(
            run(&["ZRANGESTORE", "d", "z", "9", "10"]),
            Frame::Integer(0)
        );
        assert_eq!(run(&["EXISTS", "d"]), Frame::Integer(0));
    });
}

#[test]
fn removal_and_pops() {
    both(|run| {
        run(&[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f",
        ]);
        assert_eq!(run(&["ZREM", "z", "a", "x"]), Frame::Integer(1));
        assert_eq!(run(&["ZREMRANGEBYRANK", "z", "0", "0"]), Frame::Integer(1));
        assert_eq!(
            run(&["ZREMRANGEBYSCORE", "z", "(3", "4"]),
            Frame::Integer(1)
        );
        assert_eq!(run(&["ZRANGE", "z", "0", "-1"]), arr(&["c", "e", "f"]));
        assert_eq!(run(&["ZPOPMIN", "z"]), scored(&[("c", 3.0)]));
        assert_eq!(
            run(&["ZPOPMAX", "z", "5"]),
            scored(&[("f", 6.0), ("e", 5.0)])
        );
        assert_eq!(run(&["EXISTS", "z"]), Frame::Integer(0));
        assert_eq!(run(&["ZPOPMIN", "z"]), Frame::Array(vec![]));
        run(&["ZADD", "l", "0", "a", "0", "b", "0", "c"]);
        assert_eq!(run(&["ZREMRANGEBYLEX", "l", "-", "+"]), Frame::Integer(3));
        assert_eq!(run(&["EXISTS", "l"]), Frame::Integer(0));
        run(&["ZADD", "m", "1", "a", "2", "b"]);
        assert_eq!(
            run(&["ZMPOP", "2", "nokey", "m", "MAX", "COUNT", "5"]),
            Frame::Array(vec![
                bulk("m"),
                Frame::Array(vec![
                    Frame::Array(vec![bulk("b"), Frame::Double(2.0)]),
                    Frame::Array(vec![bulk("a"), Frame::Double(1.0)]),
                ])
            ])
        );
        assert_eq!(run(&["ZMPOP", "1", "m", "MIN"]), Frame::NullArray);
        assert_eq!(
            run(&["ZMPOP", "0", "m", "MIN"]),
            err("ERR numkeys should be greater than 0")
        );
    });
}

#[test]
fn algebra_and_random() {
    both(|run| {
        run(&["ZADD", "a", "1", "x", "2", "y"]);
        run(&["ZADD", "b", "10", "y", "20", "z"]);
        run(&["SADD", "s", "y"]);
        assert_eq!(
            run(&["ZUNION", "2", "a", "b", "WITHSCORES"]),
            scored(&[("x", 1.0), ("y", 12.0), ("z", 20.0)])
        );
        assert_eq!(
            run(&[
                "ZINTER",
                "3",
                "a",
                "b",
                "s",
                "AGGREGATE",
                "MAX",
                "WITHSCORES"
            ]),
            scored(&[("y", 10.0)])
        );
        assert_eq!(run(&["ZDIFF", "2", "a", "b"]), arr(&["x"]));
        assert_eq!(run(&["ZINTERCARD", "2", "a", "b"]), Frame::Integer(1));
        assert_eq!(
            run(&["ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "2", "1"]),
            Frame::Integer(3)
        );
        assert_eq!(run(&["ZSCORE", "d", "y"]), Frame::Double(14.0));
        assert_eq!(
            run(&["ZUNION", "0", "a"]),
            err("ERR at least 1 input key is needed for 'zunion' command")
        );
        let Frame::Array(r) = run(&["ZRANDMEMBER", "b", "-5"]) else {
            panic!("array expected")
        };
        assert_eq!(r.len(), 5);
        let Frame::Array(r) = run(&["ZRANDMEMBER", "b", "2"]) else {
            panic!("array expected")
        };
        assert_eq!(r.len(), 2);
        assert_ne!(r[0], r[1]);
    });
}

#[test]
fn encodings_and_scan() {
    both(|run| {
        run(&["ZADD", "z", "1", "a"]);
        assert_eq!(run(&["OBJECT", "ENCODING", "z"]), bulk("listpack"));
        for i in 0..200 {
            run(&["ZADD", "z", &i.to_string(), &format!("m{i}")]);
        }
        assert_eq!(run(&["OBJECT", "ENCODING", "z"]), bulk("skiplist"));
        assert_eq!(run(&["ZCARD", "z"]), Frame::Integer(201));
        assert_eq!(run(&["ZRANK", "z", "m150"]), Frame::Integer(151));
        let mut seen = BTreeSet::new();
        let mut cursor = "0".to_string();
        loop {
            let Frame::Array(reply) = run(&["ZSCAN", "z", &cursor, "COUNT", "20"]) else {
                panic!("array expected")
            };
            let (Frame::Bulk(c), Frame::Array(items)) = (&reply[0], &reply[1]) else {
                panic!("cursor and items expected")
            };
            for pair in items.chunks(2) {
                if let Frame::Bulk(m) = &pair[0] {
                    seen.insert(m.clone());
                }
            }
            cursor = String::from_utf8_lossy(c).into_owned();
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 201);
        run(&["ZREMRANGEBYRANK", "z", "0", "-2"]);
        assert_eq!(run(&["OBJECT", "ENCODING", "z"]), bulk("skiplist"));
        run(&["ZUNIONSTORE", "u", "1", "z"]);
        assert_eq!(run(&["OBJECT", "ENCODING", "u"]), bulk("listpack"));
    });
}

#[test]
fn resp3_shapes() {
    both(|run| {
        run(&["HELLO", "3"]);
        run(&["ZADD", "z", "1", "a", "2", "b"]);
        let pair = |m: &str, s: f64| Frame::Array(vec![bulk(m), Frame::Double(s)]);
        assert_eq!(
            run(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
            Frame::Array(vec![pair("a", 1.0), pair("b", 2.0)])
        );
        assert_eq!(
            run(&["ZPOPMIN", "z", "1"]),
            Frame::Array(vec![pair("a", 1.0)])
        );
        assert_eq!(run(&["ZPOPMIN", "z"]), scored(&[("b", 2.0)]));
    });
}

#[test]
fn zmpop_propagates_as_zpop() {
    let mut h = Harness::single(Arc::new(ManualClock::new(1_000_000)));
    let log = h.record();
    h.run(&["ZADD", "z", "1", "a", "2", "b"]);
    h.run(&["ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "5"]);
    h.run(&["ZMPOP", "1", "z", "MIN"]);
    h.run(&["ZADD", "z", "INCR", "1", "a"]);
    let got = log.words();
    assert_eq!(
        got,
        vec![
            vec![vec!["ZADD", "z", "1", "a", "2", "b"]],
            vec![vec!["ZPOPMAX", "z", "5"]],
            vec![vec!["ZADD", "z", "INCR", "1", "a"]],
        ]
    );
}
