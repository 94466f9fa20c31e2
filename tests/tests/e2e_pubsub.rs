//! Pub/sub, notifications, client-side caching and output-buffer limits
//! over real sockets, under both engines.

use std::time::{Duration, Instant};

use redis::Commands;
use rubedo_resp::Frame;
use rubedo_tests::{bulk, Raw, Server};

const ENGINES: [&str; 2] = ["single", "concurrent"];

fn start(engine: &str) -> Server {
    Server::start(&["--engine", engine, "--threads", "2"])
}

fn info_field(c: &mut Raw, section: &str, field: &str) -> String {
    match c.call(&["INFO", section]) {
        Frame::Bulk(b) | Frame::Verbatim { data: b, .. } => String::from_utf8_lossy(&b)
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
            .unwrap_or_else(|| panic!("no {field} in INFO {section}")),
        f => panic!("{f:?}"),
    }
}

fn int(f: Frame) -> i64 {
    match f {
        Frame::Integer(n) => n,
        f => panic!("not an integer: {f:?}"),
    }
}

#[test]
fn redis_crate_subscribers_get_every_message_in_order() {
    for engine in ENGINES {
        let srv = start(engine);
        let mut sub_conn = srv.client();
        let mut publisher = srv.client();
        let mut ps = sub_conn.as_pubsub();
        ps.subscribe("news").unwrap();
        ps.psubscribe("n*").unwrap();
        ps.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        for i in 0..500 {
            let n: i64 = publisher.publish("news", format!("m{i}")).unwrap();
            // One delivery per matching subscription, as Redis counts.
            assert_eq!(n, 2, "{engine}");
        }
        let n: i64 = publisher.publish("nothing", "x").unwrap();
        assert_eq!(n, 1, "{engine}: pattern only");
        let (mut direct, mut pattern) = (0, 0);
        for _ in 0..1001 {
            let msg = ps.get_message().unwrap();
            let payload: String = msg.get_payload().unwrap();
            if msg.from_pattern() {
                assert_eq!(msg.get_pattern::<String>().unwrap(), "n*");
                if msg.get_channel_name() == "nothing" {
                    assert_eq!(payload, "x");
                    continue;
                }
                assert_eq!(payload, format!("m{pattern}"), "{engine}");
                pattern += 1;
            } else {
                assert_eq!(msg.get_channel_name(), "news");
                assert_eq!(payload, format!("m{direct}"), "{engine}");
                direct += 1;
            }
        }
        assert_eq!((direct, pattern), (500, 500), "{engine}");
    }
}

#[test]
fn resp3_subscriber_keeps_running_commands() {
    for engine in ENGINES {
        let srv = start(engine);
        let mut s = srv.raw();
        let mut p = srv.raw();
        assert!(matches!(s.call(&["HELLO", "3"]), Frame::Map(_)));
        assert_eq!(
            s.call(&["SUBSCRIBE", "ch"]),
            Frame::Push(vec![bulk("subscribe"), bulk("ch"), Frame::Integer(1)])
        );
        assert_eq!(s.call(&["SET", "k", "v"]), Frame::ok());
        assert_eq!(int(p.call(&["PUBLISH", "ch", "hello"])), 1);
        assert_eq!(
            s.read(),
            Some(Frame::Push(vec![
                bulk("message"),
                bulk("ch"),
                bulk("hello")
            ])),
            "{engine}"
        );
        assert_eq!(s.call(&["GET", "k"]), bulk("v"), "{engine}");
        // RESP2 subscribers may only run the subscription commands.
        let mut r2 = srv.raw();
        r2.call(&["SUBSCRIBE", "ch"]);
        match r2.call(&["GET", "k"]) {
            Frame::Error(e) => assert!(e.starts_with(b"ERR Can't execute 'get'"), "{e:?}"),
            f => panic!("{f:?}"),
        }
    }
}

#[test]
fn a_blocked_resp3_subscriber_still_gets_messages() {
    for engine in ENGINES {
        let srv = start(engine);
        let mut s = srv.raw();
        let mut p = srv.raw();
        s.call(&["HELLO", "3"]);
        s.call(&["SUBSCRIBE", "ch"]);
        s.cmd(&["BLPOP", "q", "0"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while info_field(&mut p, "clients", "blocked_clients") != "1" {
            assert!(Instant::now() < deadline, "never blocked");
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(int(p.call(&["PUBLISH", "ch", "during"])), 1);
        assert_eq!(
            s.read(),
            Some(Frame::Push(vec![
                bulk("message"),
                bulk("ch"),
                bulk("during")
            ])),
            "{engine}"
        );
        p.call(&["RPUSH", "q", "x"]);
        assert_eq!(
            s.read(),
            Some(Frame::Array(vec![bulk("q"), bulk("x")])),
            "{engine}"
        );
    }
}

#[test]
fn keyspace_notifications_reach_pattern_subscribers() {
    for engine in ENGINES {
        let srv = start(engine);
        let mut admin = srv.raw();
        let mut s = srv.raw();
        assert_eq!(
            admin.call(&["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
            Frame::ok()
        );
        s.call(&["PSUBSCRIBE", "__key*@0__:*"]);
        let mut expect = |event: &str| {
            for (channel, payload) in [
                ("__keyspace@0__:k".to_string(), event),
                (format!("__keyevent@0__:{event}"), "k"),
            ] {
                assert_eq!(
                    s.read(),
                    Some(Frame::Array(vec![
                        bulk("pmessage"),
                        bulk("__key*@0__:*"),
                        bulk(&channel),
                        bulk(payload),
                    ])),
                    "{engine}"
                );
            }
        };
        admin.call(&["SET", "k", "v", "PX", "1"]);
        expect("set");
        expect("expire");
        std::thread::sleep(Duration::from_millis(5));
        // Expired lazily here, or already by the active cycle: one event either way.
        assert_eq!(admin.call(&["GET", "k"]), Frame::Null);
        expect("expired");
        assert_eq!(
            admin.call(&["CONFIG", "GET", "notify-keyspace-events"]),
            Frame::Array(vec![bulk("notify-keyspace-events"), bulk("AKE")])
        );
    }
}

#[test]
fn tracking_redirects_invalidations_to_a_resp2_subscriber() {
    for engine in ENGINES {
        let srv = start(engine);
        let mut inval = srv.raw();
        let id = int(inval.call(&["CLIENT", "ID"]));
        inval.call(&["SUBSCRIBE", "__redis__:invalidate"]);
        let mut c = srv.raw();
        let id_s = id.to_string();
        assert_eq!(
            c.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id_s]),
            Frame::ok()
        );
        assert_eq!(int(c.call(&["CLIENT", "GETREDIR"])), id);
        c.call(&["GET", "k"]);
        let mut w = srv.raw();
        w.call(&["SET", "k", "1"]);
        assert_eq!(
            inval.read(),
            Some(Frame::Array(vec![
                bulk("message"),
                bulk("__redis__:invalidate"),
                Frame::Array(vec![bulk("k")]),
            ])),
            "{engine}"
        );
        w.call(&["FLUSHALL"]);
        assert_eq!(
            inval.read(),
            Some(Frame::Array(vec![
                bulk("message"),
                bulk("__redis__:invalidate"),
                Frame::Null,
            ])),
            "{engine}"
        );
        // The redirection target goes away: the tracking client learns it
        // (RESP3) and its flags say so.
        drop(inval);
        c.call(&["HELLO", "3"]);
        c.call(&["GET", "k"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let listed = match w.call(&["CLIENT", "LIST", "ID", &id_s]) {
                Frame::Bulk(b) | Frame::Verbatim { data: b, .. } => !b.is_empty(),
                f => panic!("{f:?}"),
            };
            if !listed {
                break;
            }
            assert!(Instant::now() < deadline, "redirect client never left");
            std::thread::sleep(Duration::from_millis(5));
        }
        w.call(&["SET", "k", "2"]);
        assert_eq!(
            c.read(),
            Some(Frame::Push(vec![
                bulk("tracking-redir-broken"),
                Frame::Integer(id)
            ])),
            "{engine}"
        );
        match c.call(&["CLIENT", "TRACKINGINFO"]) {
            Frame::Map(m) => assert!(
                format!("{m:?}").contains("broken_redirect"),
                "{engine}: {m:?}"
            ),
            f => panic!("{f:?}"),
        }
    }
}

#[test]
fn monitor_sees_other_clients_commands() {
    for engine in ENGINES {
        let srv = start(engine);
        let mut m = srv.raw();
        assert_eq!(m.call(&["MONITOR"]), Frame::ok());
        let mut c = srv.raw();
        c.call(&["SET", "key", "a b"]);
        match m.read() {
            Some(Frame::Simple(line)) => {
                let line = String::from_utf8_lossy(&line).into_owned();
                assert!(line.ends_with("] \"SET\" \"key\" \"a b\""), "{line}");
                assert!(line.contains(" [0 127.0.0.1:"), "{line}");
            }
            f => panic!("{f:?}"),
        }
    }
}

/// A subscriber that stops reading while 100 MB are published is cut off
/// at the pubsub hard limit; its memory comes back; a reading subscriber
/// and ordinary clients are unaffected.
#[test]
fn slow_subscriber_is_disconnected_at_the_output_limit() {
    for engine in ENGINES {
        let srv = start(engine);
        let mut admin = srv.raw();
        let base: u64 = info_field(&mut admin, "memory", "used_memory")
            .parse()
            .unwrap();
        let mut slow = srv.raw();
        slow.call(&["CLIENT", "SETNAME", "slow"]);
        slow.call(&["SUBSCRIBE", "flood"]);
        // A subscriber that keeps reading, counting message bytes.
        let mut fast = srv.raw();
        fast.call(&["SUBSCRIBE", "flood"]);
        let read = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let reader = std::thread::spawn({
            let read = read.clone();
            move || {
                let mut n = 0usize;
                while n < 1000 {
                    match fast.read() {
                        Some(Frame::Array(parts)) if parts.len() == 3 => n += 1,
                        other => panic!("fast subscriber got {other:?}"),
                    }
                    read.store(n, std::sync::atomic::Ordering::Relaxed);
                }
                (n, fast)
            }
        });
        let payload = "x".repeat(100 * 1024);
        let mut p = srv.raw();
        let mut receivers = Vec::new();
        let mut seen_backlog = 0usize;
        for i in 0..1000 {
            // The reading subscriber keeps up: never more than 5 MB behind
            // (however fast this machine publishes), far under the limit.
            while i > 50 && read.load(std::sync::atomic::Ordering::Relaxed) < i - 50 {
                std::thread::yield_now();
            }
            receivers.push(int(p.call(&["PUBLISH", "flood", &payload])));
            if i == 100 {
                // ~10 MB sent: the stalled subscriber's backlog shows in CLIENT LIST.
                if let Frame::Bulk(b) | Frame::Verbatim { data: b, .. } =
                    admin.call(&["CLIENT", "LIST"])
                {
                    let text = String::from_utf8_lossy(&b).into_owned();
                    let line = text.lines().find(|l| l.contains("name=slow")).unwrap();
                    seen_backlog = line
                        .split(' ')
                        .find_map(|f| f.strip_prefix("omem="))
                        .unwrap()
                        .parse()
                        .unwrap();
                }
            }
        }
        assert!(seen_backlog > 1 << 20, "{engine}: omem {seen_backlog}");
        assert_eq!(receivers[0], 2, "{engine}");
        assert_eq!(*receivers.last().unwrap(), 1, "{engine}: slow one cut off");
        let (delivered, _fast) = reader.join().unwrap();
        assert_eq!(delivered, 1000, "{engine}");
        // The stalled connection was closed by the server: reading drains
        // what the kernel held, then ends.
        let deadline = Instant::now() + Duration::from_secs(20);
        while slow.read().is_some() {
            assert!(Instant::now() < deadline, "{engine}: never closed");
        }
        let after: u64 = info_field(&mut admin, "memory", "used_memory")
            .parse()
            .unwrap();
        assert!(
            after < base + (8 << 20),
            "{engine}: used_memory {base} -> {after}"
        );
        assert_eq!(admin.call(&["SET", "k", "v"]), Frame::ok());
        assert_eq!(admin.call(&["GET", "k"]), bulk("v"));
        assert_eq!(
            admin.call(&["PUBSUB", "NUMSUB", "flood"]),
            Frame::Array(vec![bulk("flood"), Frame::Integer(1)])
        );
    }
}

#[test]
fn redis_crate_sees_published_count() {
    let srv = start("single");
    let mut c = srv.client();
    let n: i64 = c.publish("nobody", "x").unwrap();
    assert_eq!(n, 0);
}

/// The soft limit: a subscriber over it for longer than its seconds is cut
/// off at the next message, while one under it is kept.
#[test]
fn soft_output_limit_needs_to_last() {
    let srv = start("single");
    let mut admin = srv.raw();
    assert_eq!(
        admin.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 0 1mb 1"
        ]),
        Frame::ok()
    );
    let mut slow = srv.raw();
    slow.call(&["SUBSCRIBE", "soft"]);
    let payload = "y".repeat(64 * 1024);
    let mut p = srv.raw();
    // Far more than the kernel's socket buffers hold: the rest waits in the
    // server, over the soft limit (there is no hard limit).
    for _ in 0..200 {
        p.call(&["PUBLISH", "soft", &payload]);
    }
    // Over the limit for longer than a second: the next message cuts it off.
    std::thread::sleep(Duration::from_millis(1100));
    p.call(&["PUBLISH", "soft", &payload]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n = admin.call(&["PUBSUB", "NUMSUB", "soft"]);
        if n == Frame::Array(vec![bulk("soft"), Frame::Integer(0)]) {
            break;
        }
        assert!(Instant::now() < deadline, "never disconnected: {n:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        admin.call(&["CONFIG", "GET", "client-output-buffer-limit"]),
        Frame::Array(vec![
            bulk("client-output-buffer-limit"),
            bulk("normal 0 0 0 slave 268435456 67108864 60 pubsub 0 1048576 1"),
        ])
    );
}

/// Lowering tracking-table-max-keys evicts from the cron, as Redis does:
/// each evicted key is one invalidation message (a one-key array) to the
/// redirection target, until the table is back at the limit.
#[test]
fn lowering_tracking_table_max_keys_evicts_with_invalidations() {
    for engine in ENGINES {
        let srv = start(engine);
        let mut inval = srv.raw();
        let id = int(inval.call(&["CLIENT", "ID"]));
        inval.call(&["SUBSCRIBE", "__redis__:invalidate"]);
        let mut c = srv.raw();
        let id_s = id.to_string();
        c.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id_s]);
        for k in ["k1", "k2", "k3"] {
            c.call(&["GET", k]);
        }
        assert_eq!(info_field(&mut c, "stats", "tracking_total_keys"), "3");
        assert_eq!(
            c.call(&["CONFIG", "SET", "tracking-table-max-keys", "1"]),
            Frame::ok()
        );
        // The cron evicts two of the three (which two is arbitrary).
        let mut evicted = Vec::new();
        for _ in 0..2 {
            match inval.read() {
                Some(Frame::Array(m)) if m.len() == 3 => {
                    assert_eq!(m[0], bulk("message"), "{engine}");
                    assert_eq!(m[1], bulk("__redis__:invalidate"), "{engine}");
                    match &m[2] {
                        Frame::Array(keys) if keys.len() == 1 => evicted.push(keys[0].clone()),
                        f => panic!("{engine}: {f:?}"),
                    }
                }
                f => panic!("{engine}: no eviction message: {f:?}"),
            }
        }
        evicted.sort_by_key(|f| format!("{f:?}"));
        evicted.dedup();
        assert_eq!(evicted.len(), 2, "{engine}");
        assert_eq!(info_field(&mut c, "stats", "tracking_total_keys"), "1");
        // The one left is still tracked: changing it invalidates it.
        let left = ["k1", "k2", "k3"]
            .into_iter()
            .find(|k| !evicted.contains(&bulk(k)))
            .unwrap();
        let mut w = srv.raw();
        w.call(&["SET", left, "v"]);
        assert_eq!(
            inval.read(),
            Some(Frame::Array(vec![
                bulk("message"),
                bulk("__redis__:invalidate"),
                Frame::Array(vec![bulk(left)]),
            ])),
            "{engine}"
        );
        c.call(&["CONFIG", "SET", "tracking-table-max-keys", "0"]);
    }
}
