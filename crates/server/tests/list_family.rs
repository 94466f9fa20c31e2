//! In-process tests of the list group under both engines, plus LMPOP's propagation as
//! LPOP/RPOP with a count.

use std::sync::Arc;

use rubedo_engine::ManualClock;
use rubedo_resp::Frame;
use rubedo_server::server::Harness;

mod support;
use support::{arr, both, bulk, err, ints};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn push_pop_range_index() {
    both(|run| {
        assert_eq!(run(&["LPUSH", "l", "b", "a"]), Frame::Integer(2));
        assert_eq!(run(&["RPUSH", "l", "c", "d"]), Frame::Integer(4));
        assert_eq!(run(&["LRANGE", "l", "0", "-1"]), arr(&["a", "b", "c", "d"]));
        assert_eq!(run(&["LRANGE", "l", "-2", "100"]), arr(&["c", "d"]));
        assert_eq!(run(&["LRANGE", "l", "3", "1"]), arr(&[]));
        assert_eq!(run(&["LINDEX", "l", "-1"]), bulk("d"));
        assert_eq!(run(&["LINDEX", "l", "4"]), Frame::Null);
        assert_eq!(run(&["LLEN", "l"]), Frame::Integer(4));
        assert_eq!(run(&["OBJECT", "ENCODING", "l"]), bulk("quicklist"));
        assert_eq!(run(&["TYPE", "l"]), Frame::simple("list"));
        assert_eq!(run(&["LPOP", "l"]), bulk("a"));
        assert_eq!(run(&["RPOP", "l", "2"]), arr(&["d", "c"]));
        assert_eq!(run(&["LPOP", "l", "0"]), arr(&[]));
        assert_eq!(run(&["RPOP", "l", "5"]), arr(&["b"]));
        assert_eq!(run(&["EXISTS", "l"]), Frame::Integer(0));
        assert_eq!(run(&["LPOP", "l"]), Frame::Null);
        assert_eq!(run(&["LPOP", "l", "2"]), Frame::NullArray);
        assert_eq!(
            run(&["LPOP", "l", "-1"]),
            err("ERR value is out of range, must be positive")
        );
        assert_eq!(run(&["LPUSHX", "l", "a"]), Frame::Integer(0));
        assert_eq!(run(&["EXISTS", "l"]), Frame::Integer(0));
        run(&["RPUSH", "l", "x"]);
        assert_eq!(run(&["RPUSHX", "l", "y", "z"]), Frame::Integer(3));
        assert_eq!(run(&["LPUSHX", "l", "w"]), Frame::Integer(4));
        assert_eq!(run(&["LRANGE", "l", "0", "-1"]), arr(&["w", "x", "y", "z"]));
    });
}

#[test]
fn set_trim_rem_insert() {
    both(|run| {
        run(&["RPUSH", "l", "a", "b", "a", "c", "a"]);
        assert_eq!(run(&["LSET", "l", "1", "B"]), Frame::ok());
        assert_eq!(run(&["LSET", "l", "5", "x"]), err("ERR index out of range"));
        assert_eq!(run(&["LSET", "nokey", "0", "x"]), err("ERR no such key"));
        assert_eq!(run(&["LREM", "l", "-1", "a"]), Frame::Integer(1));
        assert_eq!(run(&["LRANGE", "l", "0", "-1"]), arr(&["a", "B", "a", "c"]));
        assert_eq!(
            run(&["LINSERT", "l", "AFTER", "B", "b2"]),
            Frame::Integer(5)
        );
        assert_eq!(
            run(&["LINSERT", "l", "before", "zz", "x"]),
            Frame::Integer(-1)
        );
        assert_eq!(
            run(&["LINSERT", "nokey", "before", "a", "x"]),
            Frame::Integer(0)
        );
        assert_eq!(
            run(&["LINSERT", "l", "around", "a", "x"]),
            err("ERR syntax error")
        );
        assert_eq!(run(&["LTRIM", "l", "1", "-2"]), Frame::ok());
        assert_eq!(run(&["LRANGE", "l", "0", "-1"]), arr(&["B", "b2", "a"]));
        assert_eq!(run(&["LREM", "l", "0", "a"]), Frame::Integer(1));
        assert_eq!(run(&["LTRIM", "l", "5", "1"]), Frame::ok());
        assert_eq!(run(&["EXISTS", "l"]), Frame::Integer(0));
    });
}

#[test]
fn lpos_options() {
    both(|run| {
        run(&["RPUSH", "q", "a", "b", "c", "1", "2", "3", "c", "c"]);
        assert_eq!(run(&["LPOS", "q", "c"]), Frame::Integer(2));
        assert_eq!(run(&["LPOS", "q", "c", "RANK", "-1"]), Frame::Integer(7));
        assert_eq!(run(&["LPOS", "q", "c", "COUNT", "0"]), ints(&[2, 6, 7]));
        assert_eq!(
            run(&["LPOS", "q", "c", "RANK", "-2", "COUNT", "0"]),
            ints(&[6, 2])
        );
        assert_eq!(run(&["LPOS", "q", "c", "MAXLEN", "2"]), Frame::Null);
        assert_eq!(run(&["LPOS", "nokey", "c", "COUNT", "1"]), ints(&[]));
        assert_eq!(
            run(&["LPOS", "q", "c", "RANK", "0"]),
            err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
        );
        assert_eq!(
            run(&["LPOS", "q", "c", "COUNT", "-1"]),
            err("ERR COUNT can't be negative")
        );
        assert_eq!(
            run(&["LPOS", "q", "c", "MAXLEN", "x"]),
            err("ERR MAXLEN can't be negative")
        );
        assert_eq!(
            run(&[
                "LPOS",
                "q",
                "c",
                "RANK",
                "-9223372036854775808",
                "COUNT",
                "1"
            ]),
            ints(&[7, 6, 2])
        );
    });
}

#[test]
fn moves_and_mpop() {
    both(|run| {
        run(&["RPUSH", "a", "1", "2", "3"]);
        assert_eq!(run(&["LMOVE", "a", "b", "LEFT", "RIGHT"]), bulk("1"));
        assert_eq!(run(&["RPOPLPUSH", "a", "b"]), bulk("3"));
        assert_eq!(run(&["LRANGE", "b", "0", "-1"]), arr(&["3", "1"]));
        assert_eq!(run(&["LMOVE", "b", "b", "LEFT", "RIGHT"]), bulk("3"));
        assert_eq!(run(&["LRANGE", "b", "0", "-1"]), arr(&["1", "3"]));
        assert_eq!(run(&["RPOPLPUSH", "a", "a"]), bulk("2"));
        assert_eq!(run(&["LLEN", "a"]), Frame::Integer(1));
        assert_eq!(run(&["LMOVE", "nokey", "a", "LEFT", "LEFT"]), Frame::Null);
        run(&["SET", "s", "v"]);
        assert_eq!(run(&["LMOVE", "a", "s", "LEFT", "LEFT"]), err(WRONGTYPE));
        assert_eq!(run(&["LLEN", "a"]), Frame::Integer(1));
        assert_eq!(
            run(&["LMOVE", "a", "b", "UP", "LEFT"]),
            err("ERR syntax error")
        );
        assert_eq!(
            run(&["LMPOP", "3", "nokey", "b", "a", "RIGHT", "COUNT", "5"]),
            Frame::Array(vec![bulk("b"), arr(&["3", "1"])])
        );
        assert_eq!(run(&["EXISTS", "b"]), Frame::Integer(0));
        assert_eq!(run(&["LMPOP", "1", "nokey", "LEFT"]), Frame::NullArray);
        assert_eq!(run(&["LMPOP", "2", "nokey", "s", "LEFT"]), err(WRONGTYPE));
        assert_eq!(
            run(&["LMPOP", "0", "a", "LEFT"]),
            err("ERR numkeys should be greater than 0")
        );
        assert_eq!(
            run(&["LMPOP", "1", "a", "LEFT", "COUNT", "0"]),
            err("ERR count should be greater than 0")
        );
        assert_eq!(run(&["LMPOP", "3", "a", "LEFT"]), err("ERR syntax error"));
    });
}

#[test]
fn wrongtype_both_ways() {
    both(|run| {
        run(&["SET", "s", "v"]);
        for cmd in [
            &["LPUSH", "s", "a"][..],
            &["RPUSHX", "s", "a"],
            &["LLEN", "s"],
            &["LRANGE", "s", "0", "1"],
            &["LINDEX", "s", "0"],
            &["LSET", "s", "0", "a"],
            &["LTRIM", "s", "0", "1"],
            &["LREM", "s", "0", "a"],
            &["LINSERT", "s", "before", "a", "b"],
            &["LPOS", "s", "a"],
            &["LPOP", "s"],
            &["RPOP", "s", "1"],
        ] {
            assert_eq!(run(cmd), err(WRONGTYPE), "{cmd:?}");
        }
        run(&["RPUSH", "l", "a"]);
        assert_eq!(run(&["GET", "l"]), err(WRONGTYPE));
        assert_eq!(run(&["SADD", "l", "x"]), err(WRONGTYPE));
    });
}

#[test]
fn many_nodes_under_every_fill() {
    both(|run| {
        for fill in ["1", "3", "-1", "-5", "-2"] {
            assert_eq!(
                run(&["CONFIG", "SET", "list-max-listpack-size", fill]),
                Frame::ok()
            );
            run(&["DEL", "l"]);
            let mut model: Vec<String> = Vec::new();
            for i in 0..300 {
                let v = format!("{i}-{}", "x".repeat(i % 50));
                if i % 3 == 0 {
                    run(&["LPUSH", "l", &v]);
                    model.insert(0, v);
                } else {
                    run(&["RPUSH", "l", &v]);
                    model.push(v);
                }
            }
            assert_eq!(run(&["LINDEX", "l", "150"]), bulk(&model[150]));
            assert_eq!(run(&["LSET", "l", "200", "set"]), Frame::ok());
            model[200] = "set".into();
            assert_eq!(
                run(&["LINSERT", "l", "BEFORE", "set", "ins"]),
                Frame::Integer(301)
            );
            model.insert(200, "ins".into());
            run(&["LTRIM", "l", "10", "-11"]);
            model = model[10..model.len() - 10].to_vec();
            let want: Vec<&str> = model.iter().map(|s| s.as_str()).collect();
            assert_eq!(run(&["LRANGE", "l", "0", "-1"]), arr(&want));
            assert_eq!(run(&["LRANGE", "l", "100", "102"]), arr(&want[100..=102]));
        }
    });
}

#[test]
fn lmpop_propagates_as_pop_with_count() {
    let mut h = Harness::single(Arc::new(ManualClock::new(1_000_000)));
    let log = h.record();
    h.run(&["RPUSH", "l", "a", "b", "c"]);
    h.run(&["LMPOP", "2", "nokey", "l", "RIGHT", "COUNT", "2"]);
    h.run(&["LMPOP", "1", "nokey", "LEFT"]);
    h.run(&["LPOP", "nokey"]);
    h.run(&["LMPOP", "1", "l", "LEFT", "COUNT", "9"]);
    let got = log.words();
    assert_eq!(
        got,
        vec![
            vec![vec!["RPUSH", "l", "a", "b", "c"]],
            vec![vec!["RPOP", "l", "2"]],
            vec![vec!["LPOP", "l", "1"]],
        ]
    );
}
