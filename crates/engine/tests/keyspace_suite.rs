//! One behavioural suite for the `Keyspace` trait, run against both
//! implementations, so the engines cannot drift apart.

use std::sync::Arc;

use rubedo_engine::types::string as st;
use rubedo_engine::{
    ConcurrentKeyspace, Events, Keyspace, ManualClock, Scope, SingleKeyspace, Str, Value,
};

fn v(s: &str) -> Value {
    Value::Str(Str::from_bytes(s.as_bytes()))
}

fn text(ks: &impl Keyspace, db: usize, key: &str) -> Option<String> {
    ks.run(
        Scope::Keys {
            db,
            keys: &[key.as_bytes()],
        },
        |dbs| {
            st::read(&mut dbs.db(db), key.as_bytes())
                .unwrap()
                .map(|s| String::from_utf8(s.to_vec()).unwrap())
        },
    )
}

fn set(ks: &impl Keyspace, db: usize, key: &str, val: &str) {
    ks.run(
        Scope::Keys {
            db,
            keys: &[key.as_bytes()],
        },
        |dbs| {
            dbs.db(db).set(key.as_bytes(), v(val), false);
        },
    );
}

/// An observer that writes down what it is told.
#[derive(Default)]
struct Seen {
    log: std::sync::Mutex<Vec<String>>,
}

fn show(e: Option<&rubedo_engine::Entry>) -> String {
    format!(
        "{:?}",
        e.map(|e| match &e.value {
            Value::Str(s) => String::from_utf8(s.to_vec()).unwrap(),
            _ => "?".into(),
        })
    )
}

impl rubedo_engine::Observer for Seen {
    fn before_write(
        &self,
        _db: usize,
        key: &[u8],
        old: Option<&rubedo_engine::Entry>,
        _expire_at: Option<u64>,
    ) {
        let k = String::from_utf8_lossy(key);
        self.log
            .lock()
            .unwrap()
            .push(format!("before {k}={}", show(old)));
    }

    fn after_write(&self, _db: usize, key: &[u8], new: Option<&rubedo_engine::Entry>) {
        let k = String::from_utf8_lossy(key);
        self.log
            .lock()
            .unwrap()
            .push(format!("after {k}={}", show(new)));
    }

    fn before_clear(&self, db: usize, _table: &mut rubedo_engine::Table) {
        // Once per database, however many shards it has.
        let mut log = self.log.lock().unwrap();
        let line = format!("clear {db}");
        if log.last() != Some(&line) {
            log.push(line);
        }
    }
}

macro_rules! suite {
    ($modname:ident, $make:expr) => {
        mod $modname {
            use super::*;

            fn make() -> (impl Keyspace, Arc<ManualClock>) {
                let clock = Arc::new(ManualClock::new(1_000_000));
                let f: fn(Arc<ManualClock>) -> _ = $make;
                (f(clock.clone()), clock)
            }

            #[test]
            fn set_get_remove() {
                let (ks, _) = make();
                assert_eq!(text(&ks, 0, "a"), None);
                set(&ks, 0, "a", "1");
                assert_eq!(text(&ks, 0, "a").as_deref(), Some("1"));
                assert_eq!(text(&ks, 1, "a"), None, "databases are separate");
                let removed = ks.run(
                    Scope::Keys {
                        db: 0,
                        keys: &[b"a"],
                    },
                    |dbs| dbs.db(0).remove(b"a").is_some(),
                );
                assert!(removed);
                assert_eq!(text(&ks, 0, "a"), None);
            }

            #[test]
            fn lazy_expiry_uses_the_injected_clock() {
                let (ks, clock) = make();
                set(&ks, 0, "k", "v");
                ks.run(
                    Scope::Keys {
                        db: 0,
                        keys: &[b"k"],
                    },
                    |dbs| {
                        assert!(dbs.db(0).set_expire(b"k", Some(1_000_100)));
                    },
                );
                clock.set(1_000_100);
                assert_eq!(
                    text(&ks, 0, "k").as_deref(),
                    Some("v"),
                    "alive at exactly its expiry time"
                );
                clock.set(1_000_101);
                let (value, expired) = ks.run(
                    Scope::Keys {
                        db: 0,
                        keys: &[b"k"],
                    },
                    |dbs| {
                        let value = dbs.db(0).get(b"k").is_some();
                        (value, dbs.take_events().expired.len())
                    },
                );
                assert!(!value);
                assert_eq!(expired, 1, "the expired key is reported once");
            }

            #[test]
            fn active_expiry_reclaims_unread_keys() {
                let (ks, clock) = make();
                for i in 0..1000 {
                    let key = format!("k{i}");
                    set(&ks, 0, &key, "v");
                    ks.run(
                        Scope::Keys {
                            db: 0,
                            keys: &[key.as_bytes()],
                        },
                        |dbs| {
                            dbs.db(0).set_expire(key.as_bytes(), Some(1_000_010));
                        },
                    );
                }
                set(&ks, 0, "keep", "v");
                clock.advance(100);
                let mut ev = Events::default();
                let mut told = 0;
                for _ in 0..200 {
                    ks.active_expire(100, &mut ev, &mut |ev| {
                        // Told of each step's deletions while the table is locked.
                        told = ev.expired.len();
                    });
                }
                assert_eq!(ev.expired.len(), 1000);
                assert_eq!(told, 1000);
                assert_eq!(ks.sizes()[0], (1, 0));
            }

            #[test]
            fn active_expiry_estimates_the_average_ttl() {
                let (ks, _) = make();
                for i in 0..100 {
                    let key = format!("k{i}");
                    set(&ks, 0, &key, "v");
                    ks.run(
                        Scope::Keys {
                            db: 0,
                            keys: &[key.as_bytes()],
                        },
                        |dbs| {
                            dbs.db(0)
                                .set_expire(key.as_bytes(), Some(1_000_000 + 10_000));
                        },
                    );
                }
                assert_eq!(
                    ks.run(Scope::Db(0), |dbs| dbs.db(0).avg_ttl()),
                    0,
                    "nothing sampled yet"
                );
                let mut ev = Events::default();
                ks.active_expire(1000, &mut ev, &mut |_| panic!("nothing expired"));
                assert!(ev.expired.is_empty());
                let avg = ks.run(Scope::Db(0), |dbs| dbs.db(0).avg_ttl());
                assert_eq!(avg, 10_000);
            }

            #[test]
            fn db_scope_sees_every_key_and_scans_them_all() {
                let (ks, _) = make();
                for i in 0..500 {
                    set(&ks, 2, &format!("key:{i}"), "x");
                }
                let mut seen = std::collections::HashSet::new();
                ks.run(Scope::Db(2), |dbs| {
                    let db = dbs.db(2);
                    assert_eq!(db.len(), 500);
                    let mut cursor = 0;
                    loop {
                        cursor = db.scan(cursor, |k, _| {
                            seen.insert(k.as_bytes().to_vec());
                        });
                        if cursor == 0 {
                            break;
                        }
                    }
                });
                assert_eq!(seen.len(), 500);
            }

            #[test]
            fn keyless_runs_count_and_scan_a_shard_at_a_time() {
                let (ks, clock) = make();
                for i in 0..300 {
                    set(&ks, 3, &format!("key:{i}"), "x");
                }
                set(&ks, 3, "dying", "x");
                ks.run(
                    Scope::Keys {
                        db: 3,
                        keys: &[b"dying".as_slice()],
                    },
                    |dbs| dbs.db(3).set_expire(b"dying", Some(1_000_010)),
                );
                clock.advance(20);
                let keyless = Scope::Keys { db: 3, keys: &[] };
                // Not reclaimed yet: counted, as DBSIZE counts it.
                let (len, sizes) = ks.run(keyless, |dbs| (dbs.db_len(3), dbs.db_sizes(3)));
                assert_eq!(len, 301);
                assert_eq!((sizes.0, sizes.1), (301, 1));
                assert_eq!(ks.run(keyless, |dbs| dbs.db_len(4)), 0);
                let mut seen = std::collections::HashSet::new();
                let mut expired = Vec::new();
                let mut cursor = 0;
                loop {
                    cursor = ks.run(keyless, |dbs| {
                        let c = dbs.scan_db(
                            3,
                            cursor,
                            |k| k.as_bytes() != b"key:7",
                            |k, _| {
                                assert!(seen.insert(k.as_bytes().to_vec()), "seen twice");
                            },
                            // Told while the shard is locked.
                            &mut |ev| expired.append(&mut ev.expired),
                        );
                        assert!(!dbs.db(3).outside_scope());
                        assert!(dbs.take_events().expired.is_empty());
                        c
                    });
                    if cursor == 0 {
                        break;
                    }
                }
                // Every key but the one left out and the expired one, which
                // the scan reclaimed and reported.
                assert_eq!(seen.len(), 299);
                assert!(!seen.contains(b"key:7".as_slice()));
                assert_eq!(expired.len(), 1);
                assert_eq!(expired[0].1.as_bytes(), b"dying");
                assert_eq!(ks.run(keyless, |dbs| dbs.db_len(3)), 300);
                // Under a whole-database scope the same calls use its locks.
                let n = ks.run(Scope::Db(3), |dbs| dbs.db_len(3));
                assert_eq!(n, 300);
                let n = ks.run(Scope::All, |dbs| dbs.db_sizes(3).0);
                assert_eq!(n, 300);
            }

            #[test]
            fn whole_database_reads_need_a_whole_or_keyless_scope() {
                let (ks, _) = make();
                set(&ks, 0, "a", "1");
                set(&ks, 0, "b", "1");
                // A run holding some shards may not take others (out of
                // order, it could deadlock): flagged, never a hang. The
                // single engine holds everything and has nothing to flag.
                let keys: [&[u8]; 1] = [b"a"];
                let (n, flagged) = ks.run(Scope::Keys { db: 0, keys: &keys }, |dbs| {
                    let n = dbs.db_len(0);
                    (n, dbs.db(0).outside_scope())
                });
                if ks.wants_keys() {
                    assert!(flagged);
                    assert!(n <= 2);
                } else {
                    assert_eq!((n, flagged), (2, false));
                }
            }

            #[test]
            fn observers_see_every_write_before_and_after() {
                let (ks, clock) = make();
                let seen = Arc::new(Seen::default());
                set(&ks, 0, "old", "1");
                ks.set_observer(Some(seen.clone()));
                set(&ks, 0, "old", "2");
                set(&ks, 0, "new", "x");
                // A read is no write; an in-place change is.
                assert_eq!(text(&ks, 0, "new").as_deref(), Some("x"));
                ks.run(
                    Scope::Keys {
                        db: 0,
                        keys: &[b"new"],
                    },
                    |dbs| {
                        let mut db = dbs.db(0);
                        st::append(&mut db, b"new", b"y", usize::MAX).unwrap();
                        db.set_expire(b"new", Some(1_000_010));
                    },
                );
                clock.advance(11);
                assert_eq!(text(&ks, 0, "new"), None, "expired");
                ks.run(Scope::All, |dbs| dbs.db(0).clear());
                ks.set_observer(None);
                set(&ks, 0, "unseen", "1");
                assert_eq!(
                    *seen.log.lock().unwrap(),
                    vec![
                        "before old=Some(\"1\")",
                        "after old=Some(\"2\")",
                        "before new=None",
                        "after new=Some(\"x\")",
                        "before new=Some(\"x\")",
                        "before new=Some(\"xy\")",
                        "after new=Some(\"xy\")",
                        "after new=Some(\"xy\")",
                        "before new=Some(\"xy\")",
                        "clear 0",
                    ]
                );
            }

            #[test]
            fn a_key_outside_the_scope_is_flagged_not_a_panic() {
                let (ks, _) = make();
                let keys: Vec<String> = (0..64).map(|i| format!("k{i}")).collect();
                let flagged = ks.run(
                    Scope::Keys {
                        db: 0,
                        keys: &[b"k0"],
                    },
                    |dbs| {
                        let mut db = dbs.db(0);
                        for k in &keys {
                            db.set(k.as_bytes(), v("1"), false);
                        }
                        db.outside_scope()
                    },
                );
                // The single engine locks nothing, so nothing is outside its scope.
                assert_eq!(flagged, ks.wants_keys());
            }

            #[test]
            fn swap_and_clear_need_everything() {
                let (ks, _) = make();
                set(&ks, 0, "a", "0");
                set(&ks, 1, "b", "1");
                ks.run(Scope::All, |dbs| dbs.swap(0, 1));
                assert_eq!(text(&ks, 0, "b").as_deref(), Some("1"));
                assert_eq!(text(&ks, 1, "a").as_deref(), Some("0"));
                let n = ks.run(Scope::All, |dbs| {
                    (0..dbs.count()).map(|i| dbs.db(i).clear()).sum::<usize>()
                });
                assert_eq!(n, 2);
            }

            #[test]
            fn counters_and_type_errors() {
                let (ks, _) = make();
                let r = ks.run(
                    Scope::Keys {
                        db: 0,
                        keys: &[b"n"],
                    },
                    |dbs| {
                        let mut db = dbs.db(0);
                        st::incr_by(&mut db, b"n", 5).unwrap();
                        st::incr_by(&mut db, b"n", i64::MAX)
                    },
                );
                assert_eq!(r, Err(rubedo_engine::Error::Overflow));
                set(&ks, 0, "s", "abc");
                let r = ks.run(
                    Scope::Keys {
                        db: 0,
                        keys: &[b"s"],
                    },
                    |dbs| st::incr_by(&mut dbs.db(0), b"s", 1),
                );
                assert_eq!(r, Err(rubedo_engine::Error::NotInteger));
            }

            #[test]
            fn random_key_finds_live_keys_only() {
                let (ks, clock) = make();
                assert!(ks.run(Scope::Db(0), |dbs| dbs.db(0).random_key()).is_none());
                set(&ks, 0, "live", "v");
                clock.advance(1);
                // Each round plants expired keys (likely in other shards) that
                // the lookup has to reclaim on its way to the live one.
                for round in 0..50 {
                    for j in 0..3 {
                        let dead = format!("dead{round}:{j}");
                        set(&ks, 0, &dead, "v");
                        ks.run(
                            Scope::Keys {
                                db: 0,
                                keys: &[dead.as_bytes()],
                            },
                            |dbs| dbs.db(0).set_expire(dead.as_bytes(), Some(1)),
                        );
                    }
                    let k = ks.run(Scope::Db(0), |dbs| dbs.db(0).random_key());
                    assert_eq!(
                        k.map(|k| k.as_bytes().to_vec()),
                        Some(b"live".to_vec()),
                        "round {round}"
                    );
                }
            }
        }
    };
}

suite!(single, |c| SingleKeyspace::new(16, c));
suite!(concurrent, |c| ConcurrentKeyspace::new(16, 8, c));

/// Many threads increment many keys through multi-key runs: the sum must
/// be exact, so locking in the concurrent engine is atomic and deadlock-free.
#[test]
fn concurrent_multi_key_runs_are_atomic() {
    let ks = Arc::new(ConcurrentKeyspace::new(1, 8, Arc::new(ManualClock::new(0))));
    let keys: Vec<String> = (0..16).map(|i| format!("k{i}")).collect();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let ks = ks.clone();
            let keys = keys.clone();
            std::thread::spawn(move || {
                for i in 0..2000 {
                    let a = &keys[(i + t) % 16];
                    let b = &keys[(i * 7 + t * 3) % 16];
                    ks.run(
                        Scope::Keys {
                            db: 0,
                            keys: &[a.as_bytes(), b.as_bytes()],
                        },
                        |dbs| {
                            let mut db = dbs.db(0);
                            st::incr_by(&mut db, a.as_bytes(), 1).unwrap();
                            st::incr_by(&mut db, b.as_bytes(), -1).unwrap();
                        },
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let total: i64 = ks.run(Scope::Db(0), |dbs| {
        let mut sum = 0;
        dbs.db(0).for_each_live(|_, e| {
            sum += e.value.as_str().and_then(|s| s.as_i64()).unwrap();
        });
        sum
    });
    assert_eq!(total, 0);
}

/// A keyless run (DBSIZE, SCAN, INFO) holds no shard while it runs: a write
/// to any key of the same database completes in the middle of it. (With the
/// whole database locked, the writer would wait for the run to end.)
#[test]
fn keyless_runs_do_not_stop_the_database() {
    let ks = Arc::new(ConcurrentKeyspace::new(1, 8, Arc::new(ManualClock::new(0))));
    for i in 0..64 {
        set(&*ks, 0, &format!("k{i}"), "x");
    }
    let wrote = ks.run(Scope::Keys { db: 0, keys: &[] }, |dbs| {
        assert_eq!(dbs.db_len(0), 64);
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = ks.clone();
        std::thread::spawn(move || {
            for i in 0..64 {
                set(&*writer, 0, &format!("k{i}"), "y");
            }
            let _ = tx.send(());
        });
        let done = rx.recv_timeout(std::time::Duration::from_secs(10)).is_ok();
        let mut seen = 0;
        let mut cursor = 0;
        loop {
            cursor = dbs.scan_db(0, cursor, |_| true, |_, _| seen += 1, &mut |_| {});
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, 64);
        done
    });
    assert!(wrote, "a write waited for a keyless run");
    assert_eq!(text(&*ks, 0, "k63").as_deref(), Some("y"));
}

/// SCAN's guarantee under the concurrent engine with writers running
/// between (and during) its steps: every key present for the whole scan is
/// returned, while other keys come and go and tables grow and rehash.
#[test]
fn concurrent_scan_returns_every_key_present_throughout() {
    let ks = Arc::new(ConcurrentKeyspace::new(1, 8, Arc::new(ManualClock::new(0))));
    for i in 0..400 {
        set(&*ks, 0, &format!("stable:{i}"), "x");
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let (ks, stop) = (ks.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let k = format!("churn:{}", i % 5000);
                if i % 3 == 2 {
                    ks.run(
                        Scope::Keys {
                            db: 0,
                            keys: &[k.as_bytes()],
                        },
                        |dbs| {
                            dbs.db(0).remove(k.as_bytes());
                        },
                    );
                } else {
                    set(&*ks, 0, &k, "c");
                }
                if i & 63 == 0 {
                    ks.rehash(1);
                }
                i += 1;
            }
        })
    };
    for _round in 0..5 {
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        loop {
            cursor = ks.run(Scope::Keys { db: 0, keys: &[] }, |dbs| {
                dbs.scan_db(
                    0,
                    cursor,
                    |k| k.as_bytes().starts_with(b"stable:"),
                    |k, _| {
                        seen.insert(k.as_bytes().to_vec());
                    },
                    &mut |_| {},
                )
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 400);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    churn.join().unwrap();
}
