//! The `timeout` setting against the real binary: idle clients are closed,
//! inside MULTI or not, but subscribers, monitors and blocked clients are
//! kept (Redis 7.0's rules), under both engines.

use std::time::{Duration, Instant};

use rubedo_resp::Frame;
use rubedo_tests::{bulk, Raw, Server};

/// Waits for the server to close `c`; fails if it is still open after a
/// generous deadline (the timeout is 1 s, the cron runs 10 times a second).
fn assert_closed(c: &mut Raw, what: &str) {
    let start = Instant::now();
    c.stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    loop {
        match c.read() {
            None => break,
            // A MONITOR or subscriber feed is not what we wait for.
            Some(_) => continue,
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(19),
        "{what} was not closed"
    );
}

fn id(c: &mut Raw) -> String {
    match c.call(&["CLIENT", "ID"]) {
        Frame::Integer(n) => n.to_string(),
        f => panic!("{f:?}"),
    }
}

fn listed_ids(c: &mut Raw) -> Vec<String> {
    let list = match c.call(&["CLIENT", "LIST"]) {
        Frame::Bulk(b) | Frame::Verbatim { data: b, .. } => {
            String::from_utf8_lossy(&b).into_owned()
        }
        f => panic!("{f:?}"),
    };
    list.lines()
        .filter_map(|l| l.strip_prefix("id=")?.split(' ').next().map(str::to_string))
        .collect()
}

#[test]
fn timeout_closes_idle_clients_but_not_subscribers_monitors_or_blocked() {
    for engine in ["single", "concurrent"] {
        let srv = Server::start(&["--engine", engine, "--threads", "2", "--timeout", "1"]);
        // The clients to keep come first: whenever a later client is
        // closed for idling, these have been idle longer.
        let mut sub = srv.raw();
        let sub_id = id(&mut sub);
        assert!(matches!(sub.call(&["SUBSCRIBE", "ch"]), Frame::Array(_)));
        let mut ssub = srv.raw();
        let ssub_id = id(&mut ssub);
        assert!(matches!(ssub.call(&["SSUBSCRIBE", "sch"]), Frame::Array(_)));
        let mut mon = srv.raw();
        let mon_id = id(&mut mon);
        assert_eq!(mon.call(&["MONITOR"]), Frame::ok());
        let mut blocked = srv.raw();
        let blocked_id = id(&mut blocked);
        blocked.cmd(&["BLPOP", "q", "0"]);
        // The clients to close.
        let mut plain = srv.raw();
        assert_eq!(plain.call(&["PING"]), Frame::simple("PONG"));
        let mut multi = srv.raw();
        assert_eq!(multi.call(&["MULTI"]), Frame::ok());
        assert_eq!(multi.call(&["INCR", "n"]), Frame::simple("QUEUED"));
        let mut unsub = srv.raw();
        unsub.call(&["SUBSCRIBE", "x"]);
        unsub.call(&["UNSUBSCRIBE"]);
        assert_closed(&mut plain, &format!("{engine}: an idle client"));
        assert_closed(&mut multi, &format!("{engine}: an idle client in MULTI"));
        assert_closed(
            &mut unsub,
            &format!("{engine}: a client with no subscription left"),
        );
        // One more round of the check, so that any close of the kept
        // clients decided with the ones above has taken effect.
        let mut probe = srv.raw();
        probe.call(&["PING"]);
        assert_closed(&mut probe, &format!("{engine}: the probe"));
        let mut w = srv.raw();
        let ids = listed_ids(&mut w);
        for (what, i) in [
            ("subscriber", &sub_id),
            ("shard subscriber", &ssub_id),
            ("monitor", &mon_id),
            ("blocked client", &blocked_id),
        ] {
            assert!(ids.contains(i), "{engine}: the {what} was closed: {ids:?}");
        }
        assert_eq!(
            sub.call(&["PING"]),
            Frame::Array(vec![bulk("pong"), bulk("")]),
            "{engine}"
        );
        w.call(&["RPUSH", "q", "v"]);
        assert_eq!(
            blocked.read(),
            Some(Frame::Array(vec![bulk("q"), bulk("v")])),
            "{engine}"
        );
    }
}
