//! MULTI/EXEC isolation and WATCH under concurrent clients, both engines.

use std::thread;

use rubedo_resp::Frame;
use rubedo_tests::Server;

/// Many clients increment one counter with optimistic locking
/// (WATCH/GET/MULTI/SET/EXEC, retried on conflict). If EXEC were not
/// atomic or WATCH missed a change, increments would be lost.
#[test]
fn watch_multi_exec_never_loses_an_update() {
    for engine in ["single", "concurrent"] {
        let srv = Server::start(&["--engine", engine, "--threads", "4"]);
        let clients = 8;
        let per_client = 50;
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let mut c = srv.raw();
                thread::spawn(move || {
                    let mut done = 0;
                    while done < per_client {
                        c.call(&["WATCH", "counter"]);
                        let cur = match c.call(&["GET", "counter"]) {
                            Frame::Bulk(b) => String::from_utf8_lossy(&b).parse::<i64>().unwrap(),
                            _ => 0,
                        };
                        c.call(&["MULTI"]);
                        c.call(&["SET", "counter", &(cur + 1).to_string()]);
                        if let Frame::Array(_) = c.call(&["EXEC"]) {
                            done += 1;
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let mut c = srv.raw();
        let total = clients * per_client;
        assert_eq!(
            c.call(&["GET", "counter"]),
            Frame::bulk(total.to_string().as_bytes()),
            "{engine}"
        );
    }
}

/// A transaction moving value between two keys: an observer reading both
/// with MGET must always see the same sum.
#[test]
fn transactions_are_isolated_from_readers() {
    for engine in ["single", "concurrent"] {
        let srv = Server::start(&["--engine", engine, "--threads", "4"]);
        let mut setup = srv.raw();
        setup.call(&["MSET", "a", "1000", "b", "0"]);
        let mut writer = srv.raw();
        let w = thread::spawn(move || {
            for _ in 0..300 {
                writer.call(&["MULTI"]);
                writer.call(&["DECR", "a"]);
                writer.call(&["INCR", "b"]);
                writer.call(&["EXEC"]);
            }
        });
        let mut reader = srv.raw();
        for _ in 0..300 {
            if let Frame::Array(v) = reader.call(&["MGET", "a", "b"]) {
                let n = |f: &Frame| match f {
                    Frame::Bulk(b) => String::from_utf8_lossy(b).parse::<i64>().unwrap(),
                    _ => panic!("{f:?}"),
                };
                assert_eq!(n(&v[0]) + n(&v[1]), 1000, "{engine}: torn read");
            }
        }
        w.join().unwrap();
        assert_eq!(setup.call(&["GET", "b"]), Frame::bulk(b"300"));
    }
}

#[test]
fn client_kill_closes_the_other_connection() {
    let srv = Server::start(&[]);
    let mut victim = srv.raw();
    let id = match victim.call(&["CLIENT", "ID"]) {
        Frame::Integer(n) => n,
        f => panic!("{f:?}"),
    };
    let mut admin = srv.raw();
    assert_eq!(
        admin.call(&["CLIENT", "KILL", "ID", &id.to_string()]),
        Frame::Integer(1)
    );
    victim.cmd(&["PING"]);
    assert_eq!(victim.read(), None);
    assert_eq!(admin.call(&["PING"]), Frame::simple("PONG"));
}
