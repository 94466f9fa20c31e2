//! Property tests: any dataset written with `FileWriter` reads back equal
//! with `FileReader`, and any value survives DUMP and RESTORE.

use proptest::prelude::*;
use rubedo_engine::types::{hash::Hash, list::List, set::Set, zset::ZSet};
use rubedo_engine::{Str, Value};
use rubedo_persist::rdb::{
    dump_payload, read_value, restore_payload, write_value_with, FileReader, FileWriter,
    WriteOptions,
};
use rubedo_persist::snapshot::value::Limits;

/// Small limits (so both encodings of every type show up) or the defaults.
fn limits(small: bool) -> Limits {
    let mut l = Limits::default();
    if small {
        l.hash.entries = 4;
        l.hash.value = 8;
        l.zset.entries = 4;
        l.zset.value = 8;
        l.set_max_intset = 4;
        l.list_fill = 3;
    }
    l
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..12),
        2 => any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        2 => (-300i64..300).prop_map(|n| n.to_string().into_bytes()),
        1 => prop::collection::vec(prop::sample::select(b"ab".to_vec()), 20..200),
        1 => prop::collection::vec(any::<u8>(), 60..400),
    ]
}

#[derive(Clone, Debug)]
enum Spec {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (-1000i64..1000).prop_map(|n| n as f64),
        3 => any::<f64>().prop_filter("not NaN", |s| !s.is_nan()),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => -1e6f64..1e6,
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    prop_oneof![
        bytes().prop_map(Spec::Str),
        prop::collection::vec(bytes(), 1..60).prop_map(Spec::List),
        prop::collection::vec(bytes(), 1..20).prop_map(Spec::Set),
        prop::collection::vec((-50i64..50).prop_map(|n| n.to_string().into_bytes()), 1..10)
            .prop_map(Spec::Set),
        prop::collection::vec((bytes(), score()), 1..20).prop_map(Spec::ZSet),
        prop::collection::vec((bytes(), bytes()), 1..20).prop_map(Spec::Hash),
    ]
}

fn build(s: &Spec, lim: &Limits) -> Value {
    match s {
        Spec::Str(b) => Value::Str(Str::from_bytes(b)),
        Spec::List(items) => {
            let mut l = List::new();
            for e in items {
                l.push_back(e, lim.list_fill);
            }
            Value::List(Box::new(l))
        }
        Spec::Set(items) => {
            let mut st = Set::new();
            for m in items {
                st.add(m, lim.set_max_intset);
            }
            Value::Set(Box::new(st))
        }
        Spec::ZSet(items) => {
            let mut z = ZSet::for_first(&items[0].0, lim.zset);
            for (m, sc) in items {
                z.insert(m, *sc, lim.zset);
            }
            Value::ZSet(Box::new(z))
        }
        Spec::Hash(items) => {
            let mut h = Hash::new();
            for (f, v) in items {
                h.set(f, v, lim.hash);
            }
            Value::Hash(Box::new(h))
        }
    }
}

type Key = (u32, Vec<u8>, Spec, Option<u64>, Option<u32>);

fn dataset() -> impl Strategy<Value = Vec<Key>> {
    prop::collection::vec(
        (
            0u32..4,
            prop::collection::vec(any::<u8>(), 0..10),
            spec(),
            prop::option::of(0u64..(1 << 50)),
            prop::option::of(any::<u32>()),
        ),
        0..25,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn files_round_trip(
        keys in dataset(),
        small in any::<bool>(),
        compress in any::<bool>(),
        checksum in any::<bool>(),
        libs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..3),
    ) {
        let lim = limits(small);
        // One entry per (db, key), grouped by database as a server writes them.
        let mut keys = keys;
        keys.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        keys.dedup_by(|a, b| (a.0, &a.1) == (b.0, &b.1));
        let values: Vec<Value> = keys.iter().map(|k| build(&k.2, &lim)).collect();
        let aux = [("redis-ver", "7.0.15".to_string()), ("ctime", "1700000000".to_string())];
        let mut w = FileWriter::new(Vec::new(), &aux, compress, checksum).unwrap();
        let mut opts = WriteOptions::new(compress);
        opts.list_fill = lim.list_fill;
        w.set_options(opts);
        for l in &libs {
            w.function(l).unwrap();
        }
        let mut db = None;
        for (k, v) in keys.iter().zip(&values) {
            if db != Some(k.0) {
                db = Some(k.0);
                let n = keys.iter().filter(|o| o.0 == k.0).count() as u64;
                w.select_db(k.0, n, 0).unwrap();
            }
            w.key(&k.1, v, k.3, k.4).unwrap();
        }
        let file = w.finish().unwrap();
        let len = if compress { Some(file.len() as u64) } else { None };
        let mut r = FileReader::new(&file[..], len).unwrap();
        let mut i = 0;
        while let Some(got) = r.next_key(&lim).unwrap() {
            let (k, v) = (&keys[i], &values[i]);
            prop_assert_eq!(got.db, k.0);
            prop_assert_eq!(&got.key, &k.1);
            prop_assert_eq!(&got.value, v);
            // A hash that outgrew the compact form and shrank back keeps
            // the table in memory but reloads compact, as in Redis.
            if !matches!(v, Value::Hash(_)) {
                prop_assert_eq!(got.value.encoding(), v.encoding());
            }
            prop_assert_eq!(got.expire_at_ms, k.3);
            prop_assert_eq!(got.idle_secs, k.4);
            i += 1;
        }
        prop_assert_eq!(i, keys.len());
        prop_assert_eq!(r.functions(), &libs[..]);
        prop_assert_eq!(r.aux()[0].1.as_slice(), b"7.0.15");
        prop_assert_eq!(r.offset(), file.len() as u64);
    }

    #[test]
    fn payloads_round_trip(s in spec(), small in any::<bool>(), compress in any::<bool>()) {
        let lim = limits(small);
        let v = build(&s, &lim);
        let p = dump_payload(&v, compress);
        let got = restore_payload(&p, &lim).unwrap();
        prop_assert_eq!(&got, &v);
        if !matches!(v, Value::Hash(_)) {
            prop_assert_eq!(got.encoding(), v.encoding());
        }
        // And the same bytes as a value body.
        let mut body = Vec::new();
        let mut opts = WriteOptions::new(compress);
        opts.list_fill = lim.list_fill;
        write_value_with(&mut body, &v, &opts);
        let (again, used) = read_value(body[0], &body[1..], &lim).unwrap();
        prop_assert_eq!(used, body.len() - 1);
        prop_assert_eq!(&again, &v);
    }
}
