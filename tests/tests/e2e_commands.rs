//! The real binary driven by the `redis` crate, under both engines.

use redis::{Commands, Value};
use rubedo_tests::Server;

const ENGINES: &[&str] = &["single", "concurrent"];

#[test]
fn strings_round_trip_through_a_real_client() {
    for engine in ENGINES {
        let srv = Server::start(&["--engine", engine]);
        let mut c = srv.client();
        let _: () = c.set("greeting", "hello").unwrap();
        let v: String = c.get("greeting").unwrap();
        assert_eq!(v, "hello", "{engine}");
        let n: i64 = c.incr("counter", 5).unwrap();
        assert_eq!(n, 5);
        let vals: Vec<Option<String>> = redis::cmd("MGET")
            .arg("greeting")
            .arg("nokey")
            .query(&mut c)
            .unwrap();
        assert_eq!(vals, vec![Some("hello".to_string()), None]);
        let err = redis::cmd("INCR")
            .arg("greeting")
            .query::<i64>(&mut c)
            .unwrap_err();
        assert_eq!(err.code(), Some("ERR"), "{engine}: {err}");
        let size: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        assert_eq!(size, 2);
    }
}

#[test]
fn pipelined_commands_get_replies_in_order() {
    for engine in ENGINES {
        let srv = Server::start(&["--engine", engine]);
        let mut c = srv.client();
        let mut p = redis::pipe();
        for i in 0..500 {
            p.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
        }
        for i in 0..500 {
            p.cmd("GET").arg(format!("k{i}"));
        }
        let got: Vec<i64> = p.query(&mut c).unwrap();
        assert_eq!(got, (0..500).collect::<Vec<i64>>(), "{engine}");
    }
}

#[test]
fn databases_are_separate_and_selectable() {
    for engine in ENGINES {
        let srv = Server::start(&["--engine", engine, "--databases", "4"]);
        let mut c = srv.client();
        let _: () = c.set("k", "db0").unwrap();
        let _: () = redis::cmd("SELECT").arg(3).query(&mut c).unwrap();
        let v: Option<String> = c.get("k").unwrap();
        assert_eq!(v, None);
        let err = redis::cmd("SELECT").arg(4).query::<()>(&mut c).unwrap_err();
        assert!(
            err.to_string().contains("DB index is out of range"),
            "{err}"
        );
    }
}

#[test]
fn expired_keys_vanish_lazily_and_actively() {
    for engine in ENGINES {
        let srv = Server::start(&["--engine", engine]);
        let mut c = srv.client();
        // An absolute time in the past expires at once (no waiting involved).
        let _: () = redis::cmd("SET")
            .arg("old")
            .arg("v")
            .arg("PXAT")
            .arg(1)
            .query(&mut c)
            .unwrap();
        let v: Option<String> = c.get("old").unwrap();
        assert_eq!(v, None, "{engine}: lazy expiry");
        // Keys nobody reads again are reclaimed by the active cycle.
        for i in 0..200 {
            let _: () = redis::cmd("SET")
                .arg(format!("t{i}"))
                .arg("v")
                .arg("PX")
                .arg(1)
                .query(&mut c)
                .unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
            if n == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{engine}: {n} expired keys never reclaimed"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
        assert!(info.contains("expired_keys:201"), "{engine}: {info}");
    }
}

#[test]
fn resp3_hello_switches_reply_types() {
    for engine in ENGINES {
        let srv = Server::start(&["--engine", engine]);
        let mut raw = srv.raw();
        let hello = raw.call(&["HELLO", "3"]);
        assert!(
            matches!(hello, rubedo_resp::Frame::Map(_)),
            "{engine}: {hello:?}"
        );
        assert_eq!(raw.call(&["GET", "nokey"]), rubedo_resp::Frame::Null);
        let mut c = srv.client();
        let v: Value = redis::cmd("PING").query(&mut c).unwrap();
        assert_eq!(v, Value::SimpleString("PONG".into()));
    }
}
