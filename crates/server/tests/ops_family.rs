//! In-process tests of server-wide reads and introspection: DBSIZE, SCAN
//! and INFO reading the keyspace shard by shard, INFO errorstats, and the
//! fields of DEBUG OBJECT, CLIENT LIST and INFO that must be real.

use std::sync::Arc;

use rubedo_engine::ManualClock;
use rubedo_resp::Frame;
use rubedo_server::dispatch::table::Lock;
use rubedo_server::server::Harness;

mod support;
use support::both;

fn text(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Frame::Simple(b) | Frame::Error(b) => String::from_utf8_lossy(b).into_owned(),
        Frame::Verbatim { data, .. } => String::from_utf8_lossy(data).into_owned(),
        other => panic!("not a string reply: {other:?}"),
    }
}

/// Every key a full SCAN returns, sorted.
fn scan_all(run: &mut dyn FnMut(&[&str]) -> Frame, extra: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    loop {
        let mut words = vec!["SCAN", cursor.as_str()];
        words.extend_from_slice(extra);
        let Frame::Array(parts) = run(&words) else {
            panic!("SCAN reply")
        };
        let Frame::Array(found) = &parts[1] else {
            panic!("SCAN keys")
        };
        keys.extend(found.iter().map(text));
        cursor = text(&parts[0]);
        if cursor == "0" {
            break;
        }
    }
    keys.sort();
    keys
}

#[test]
fn whole_database_reads_lock_no_shard_for_their_run() {
    let h = Harness::single(Arc::new(ManualClock::new(0)));
    for name in ["dbsize", "scan", "info"] {
        let cmd = h.server.shared.table.get(name.as_bytes()).unwrap();
        assert!(
            matches!(cmd.lock, Lock::Keys),
            "{name} locks more than it needs"
        );
        assert!(cmd.key_indexes(&[]).is_empty(), "{name} has keys");
    }
}

#[test]
fn dbsize_scan_and_info_keyspace_under_both_engines() {
    both(|run| {
        for i in 0..200 {
            let k = format!("k{i}");
            run(&["SET", &k, "v"]);
        }
        run(&["LPUSH", "list", "a"]);
        run(&["SELECT", "5"]);
        run(&["SET", "other", "1"]);
        run(&["EXPIRE", "other", "100"]);
        run(&["SELECT", "0"]);
        assert_eq!(run(&["DBSIZE"]), Frame::Integer(201));
        let keys = scan_all(run, &["COUNT", "7"]);
        assert_eq!(keys.len(), 201);
        let keys = scan_all(run, &["MATCH", "k1*", "COUNT", "3"]);
        assert_eq!(keys.len(), 111);
        assert_eq!(scan_all(run, &["TYPE", "list"]), vec!["list".to_string()]);
        let info = text(&run(&["INFO", "keyspace"]));
        assert!(
            info.contains("db0:keys=201,expires=0,avg_ttl=0\r\n"),
            "{info}"
        );
        assert!(info.contains("db5:keys=1,expires=1,avg_ttl="), "{info}");
        // Inside a transaction (which holds everything) the same answers.
        run(&["MULTI"]);
        run(&["DBSIZE"]);
        run(&["SCAN", "0", "COUNT", "1000"]);
        let Frame::Array(r) = run(&["EXEC"]) else {
            panic!("EXEC")
        };
        assert_eq!(r[0], Frame::Integer(201));
        let Frame::Array(scan) = &r[1] else { panic!() };
        assert_eq!(scan[0], Frame::bulk(&b"0"[..]));
        assert!(matches!(&scan[1], Frame::Array(k) if k.len() == 201));
        run(&["SELECT", "9"]);
        assert_eq!(run(&["DBSIZE"]), Frame::Integer(0));
        assert_eq!(scan_all(run, &[]), Vec::<String>::new());
    });
}

/// SCAN reclaims the expired keys it meets (matching its pattern), under
/// both engines, and DBSIZE counts them until then, as Redis does.
#[test]
fn scan_reclaims_expired_keys() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let mut single = Harness::single(clock.clone());
    let mut conc = Harness::concurrent(clock.clone());
    fn check(run: &mut dyn FnMut(&[&str]) -> Frame, clock: &ManualClock) {
        run(&["SET", "live", "v"]);
        run(&["SET", "dying", "v", "PX", "10"]);
        run(&["RPUSH", "dying-list", "a"]);
        run(&["PEXPIRE", "dying-list", "10"]);
        clock.advance(20);
        assert_eq!(run(&["DBSIZE"]), Frame::Integer(3));
        // The type filter comes after expiry: the expired list goes too.
        assert_eq!(scan_all(run, &["TYPE", "string"]), vec!["live".to_string()]);
        assert_eq!(run(&["DBSIZE"]), Frame::Integer(1));
    }
    let logs = [single.record(), conc.record()];
    check(&mut |w| single.run(w), &clock);
    check(&mut |w| conc.run(w), &clock);
    // Each reclaimed key is a DEL in the effect log and an expired key in
    // the statistics.
    for (log, h) in logs.iter().zip([&mut single as &mut dyn Run, &mut conc]) {
        let dels: Vec<Vec<String>> = log
            .words()
            .into_iter()
            .flatten()
            .filter(|c| c[0].eq_ignore_ascii_case("del"))
            .collect();
        let mut dels: Vec<String> = dels.into_iter().map(|c| c[1].clone()).collect();
        dels.sort();
        assert_eq!(dels, ["dying", "dying-list"]);
        let stats = text(&h.call(&["INFO", "stats"]));
        assert!(stats.contains("\r\nexpired_keys:2\r\n"), "{stats}");
    }
}

trait Run {
    fn call(&mut self, w: &[&str]) -> Frame;
}

impl<K: rubedo_engine::Keyspace> Run for Harness<K> {
    fn call(&mut self, w: &[&str]) -> Frame {
        self.run(w)
    }
}

fn harness_with_debug() -> Harness<rubedo_engine::SingleKeyspace> {
    let h = Harness::single(Arc::new(ManualClock::new(1_700_000_000_000)));
    h.server
        .shared
        .config
        .set("enable-debug-command", "yes", true)
        .unwrap();
    h
}

/// DEBUG OBJECT: a real refcount (shared small integers as Redis shows
/// them) and serializedlength where it is known, left out where not.
#[test]
fn debug_object_prints_only_what_is_known() {
    let mut h = harness_with_debug();
    h.run(&["SET", "small", "5"]);
    h.run(&["SET", "s", "hello"]);
    h.run(&["SET", "big", "12345678901"]);
    h.run(&[
        "SET",
        "long",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ]);
    h.run(&["RPUSH", "l", "a", "b"]);
    let obj = |h: &mut Harness<_>, k: &str| {
        let t = text(&h.run(&["DEBUG", "OBJECT", k]));
        t.split_once(' ')
            .unwrap()
            .1
            .split_once(' ')
            .unwrap()
            .1
            .to_string()
    };
    let small = obj(&mut h, "small");
    assert!(
        small.starts_with("refcount:2147483647 encoding:int serializedlength:2 lru:"),
        "{small}"
    );
    let s = obj(&mut h, "s");
    assert!(
        s.starts_with("refcount:1 encoding:embstr serializedlength:6 lru:"),
        "{s}"
    );
    let big = obj(&mut h, "big");
    assert!(
        big.starts_with("refcount:1 encoding:int serializedlength:12 lru:"),
        "{big}"
    );
    let long = obj(&mut h, "long");
    assert!(long.starts_with("refcount:1 encoding:raw lru:"), "{long}");
    let l = obj(&mut h, "l");
    assert!(l.starts_with("refcount:1 encoding:quicklist lru:"), "{l}");
}

/// INFO has no fields Rubedo cannot fill honestly, and CLIENT INFO shows
/// the asking command's arguments.
#[test]
fn info_and_client_info_fields_are_real() {
    let mut h = harness_with_debug();
    let all = text(&h.run(&["INFO", "everything"]));
    for gone in [
        "gcc_version:",
        "redis_build_id:",
        "used_memory_dataset_keys:",
    ] {
        assert!(!all.contains(gone), "{gone} in INFO");
    }
    assert!(all.contains("\r\nclients_in_timeout_table:0\r\n"), "{all}");
    let line = text(&h.run(&["CLIENT", "INFO"]));
    assert!(line.contains(" argv-mem=10 "), "{line}");
    assert!(line.contains(" obl=0 "), "{line}");
    assert!(line.contains(" events=r "), "{line}");
    assert!(line.contains(" user=default "), "{line}");
    assert!(line.contains(" flags=N "), "{line}");
}
