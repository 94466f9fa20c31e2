//! The background snapshot is the dataset as of its start, whatever the
//! commands do while it runs (writes, deletes, new keys, expiry, FLUSHDB,
//! SWAPDB), under both engines. The model is a copy of the dataset taken at
//! the start; the snapshot file, loaded back, must equal it key by key.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rubedo_engine::types::list::List;
use rubedo_engine::{ConcurrentKeyspace, Keyspace, ManualClock, Scope, SingleKeyspace, Str, Value};
use rubedo_persist::snapshot::take::{save_dbs, Background, Target};
use rubedo_persist::snapshot::value::{Limits, Loader};
use rubedo_persist::snapshot::{Options, Reader};

const DBS: usize = 4;

type Image = BTreeMap<(u32, Vec<u8>), (Value, Option<u64>)>;

fn image(ks: &impl Keyspace, now: u64) -> Image {
    let mut out = Image::new();
    ks.run(Scope::All, |dbs| {
        dbs.for_each_entry(&mut |db, k, e, at| {
            if at.is_none_or(|t| t >= now) {
                out.insert((db as u32, k.as_bytes().to_vec()), (e.value.clone(), at));
            }
        })
    });
    out
}

fn load(path: &std::path::Path) -> Image {
    let bytes = std::fs::read(path).unwrap();
    let mut r = Reader::new(&bytes[..]).unwrap();
    let mut l = Loader::new(Limits::default());
    let mut out = Image::new();
    let mut put = |k: rubedo_persist::snapshot::value::Loaded| {
        let old = out.insert((k.db, k.key), (k.value, k.expire_at_ms));
        assert!(old.is_none(), "a key written twice");
    };
    while let Some(rec) = r.next_record().unwrap() {
        l.feed(rec, &mut put).unwrap();
    }
    l.end(&mut put).unwrap();
    r.finish().unwrap();
    out
}

fn val(rng: &mut impl Rng) -> Value {
    if rng.gen_bool(0.8) {
        Value::Str(Str::from_bytes(format!("v{}", rng.gen::<u32>()).as_bytes()))
    } else {
        let items: Vec<Vec<u8>> = (0..rng.gen_range(1..50))
            .map(|i| format!("e{i}").into_bytes())
            .collect();
        Value::List(Box::new(List::from_items(items.iter().map(|v| &v[..]), -2)))
    }
}

fn key(rng: &mut impl Rng) -> Vec<u8> {
    format!("k{}", rng.gen_range(0..3000)).into_bytes()
}

fn scenario(ks: &impl Keyspace, clock: &ManualClock, seed: u64, foreground_check: bool) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let now = clock.now_ms_value();
    // The dataset: keys in every database, some with a TTL (some of which
    // are already past, so not part of the image).
    ks.run(Scope::All, |dbs| {
        for db in 0..DBS {
            let mut d = dbs.db(db);
            for _ in 0..2000 {
                let k = key(&mut rng);
                d.set(&k, val(&mut rng), false);
                if rng.gen_bool(0.1) {
                    d.set_expire(&k, Some(now + rng.gen_range(0..4000) - 1000));
                }
            }
        }
    });
    let at_start = image(ks, now);
    let dir = tempdir();
    let target = Target::new(dir.clone(), "bg.rsnap".into());
    let bg = Background::start(ks, 0, target, Options::default()).unwrap();
    // Steps of the walk, with commands in between.
    let mut steps = 0;
    loop {
        for _ in 0..rng.gen_range(0..20) {
            let db = rng.gen_range(0..DBS);
            let k = key(&mut rng);
            match rng.gen_range(0..1000) {
                0..=399 => ks.run(Scope::Keys { db, keys: &[&k] }, |dbs| {
                    dbs.db(db).set(&k, val(&mut rng), false);
                }),
                400..=599 => ks.run(Scope::Keys { db, keys: &[&k] }, |dbs| {
                    dbs.db(db).remove(&k);
                }),
                600..=799 => ks.run(Scope::Keys { db, keys: &[&k] }, |dbs| {
                    if let Some(e) = dbs.db(db).entry_mut(&k) {
                        e.value = Value::Str(Str::from_bytes(b"changed in place"));
                    }
                }),
                800..=899 => ks.run(Scope::Keys { db, keys: &[&k] }, |dbs| {
                    dbs.db(db).set_expire(&k, Some(now + 99_999));
                }),
                900..=979 => clock.advance(rng.gen_range(0..300)),
                980..=996 => ks.run(Scope::All, |dbs| {
                    let b = rng.gen_range(0..DBS);
                    dbs.swap(db, b);
                }),
                _ => ks.run(Scope::All, |dbs| {
                    dbs.db(db).clear();
                }),
            }
        }
        // Lazy expiry as time passes (reads that find keys expired).
        ks.run(Scope::All, |dbs| {
            for db in 0..DBS {
                let k = key(&mut rng);
                dbs.db(db).get(&k);
            }
        });
        steps += 1;
        if !bg.step(ks, rng.gen_range(1..100)) {
            break;
        }
    }
    let saved = bg.wait().unwrap();
    assert!(
        steps > 10,
        "the walk took {steps} steps: too few to interleave"
    );
    let got = load(&dir.join("bg.rsnap"));
    assert_eq!(saved.keys as usize, got.len());
    assert_eq!(got.len(), at_start.len());
    for (k, v) in &at_start {
        assert_eq!(
            got.get(k),
            Some(v),
            "key {:?}",
            String::from_utf8_lossy(&k.1)
        );
    }
    // A foreground save of the dataset as it is now.
    if foreground_check {
        let now = clock.now_ms_value();
        let t = Target::new(dir.clone(), "fg.rsnap".into());
        ks.run(Scope::All, |dbs| save_dbs(dbs, &t, Options::default()))
            .unwrap();
        assert_eq!(load(&dir.join("fg.rsnap")), image(ks, now));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "rubedo-bgsave-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

trait NowMs {
    fn now_ms_value(&self) -> u64;
}

impl NowMs for ManualClock {
    fn now_ms_value(&self) -> u64 {
        rubedo_engine::Clock::now_ms(self)
    }
}

#[test]
fn the_image_is_the_dataset_at_the_start_single() {
    for seed in 0..6 {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let ks = SingleKeyspace::new(DBS, clock.clone());
        scenario(&ks, &clock, seed, seed == 0);
    }
}

#[test]
fn the_image_is_the_dataset_at_the_start_concurrent() {
    for seed in 0..6 {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let ks = ConcurrentKeyspace::new(DBS, 8, clock.clone());
        scenario(&ks, &clock, seed, seed == 0);
    }
}

#[test]
fn a_second_snapshot_sees_what_the_first_stamped() {
    let clock = Arc::new(ManualClock::new(1_000_000));
    let ks = SingleKeyspace::new(DBS, clock.clone());
    ks.run(Scope::All, |dbs| {
        for i in 0..500 {
            dbs.db(0).set(
                format!("a{i}").as_bytes(),
                Value::Str(Str::from_bytes(b"x")),
                false,
            );
        }
    });
    let dir = tempdir();
    let mut last = 0;
    for round in 0..3 {
        let t = Target::new(dir.clone(), format!("s{round}.rsnap"));
        let bg = Background::start(&ks, last, t, Options::default()).unwrap();
        last = bg.epoch();
        while bg.step(&ks, 50) {
            ks.run(Scope::All, |dbs| {
                dbs.db(1).set(
                    format!("r{round}").as_bytes(),
                    Value::Str(Str::from_bytes(b"y")),
                    false,
                );
            });
        }
        bg.wait().unwrap();
        let got = load(&dir.join(format!("s{round}.rsnap")));
        assert_eq!(got.len(), 500 + round, "round {round}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
