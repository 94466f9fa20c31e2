use super::value::{write_key, Limits, Loaded, Loader};
use super::*;
use rubedo_engine::types::{hash::Hash, list::List, set::Set, zset::ZSet};
use rubedo_engine::{Str, Value};

/// A small dataset of every type, over two databases.
fn sample() -> Vec<(u32, Vec<u8>, Value, Option<u64>)> {
    let lim = Limits::default();
    let mut h = Hash::new();
    h.set(b"f", b"v", lim.hash);
    h.set(b"", b"\x00\xff", lim.hash);
    let mut s = Set::new();
    for m in [&b"1"[..], b"2", b"x"] {
        s.add(m, lim.set_max_intset);
    }
    let mut z = ZSet::new();
    z.insert(b"a", 1.5, lim.zset);
    z.insert(b"b", f64::INFINITY, lim.zset);
    z.insert(b"c", -0.0, lim.zset);
    let big_list = List::from_items(
        (0..3000)
            .map(|i| format!("e{i}").into_bytes())
            .collect::<Vec<_>>()
            .iter()
            .map(|v| &v[..]),
        -2,
    );
    vec![
        (
            0,
            b"str".to_vec(),
            Value::Str(Str::from_bytes(b"hello")),
            None,
        ),
        (
            0,
            b"int".to_vec(),
            Value::Str(Str::from_bytes(b"12345")),
            Some(1_900_000_000_000),
        ),
        (0, b"list".to_vec(), Value::List(Box::new(big_list)), None),
        (
            3,
            b"\x00bin\xff".to_vec(),
            Value::Hash(Box::new(h)),
            Some(5),
        ),
        (3, b"set".to_vec(), Value::Set(Box::new(s)), None),
        (3, b"zset".to_vec(), Value::ZSet(Box::new(z)), None),
        (3, b"empty".to_vec(), Value::Str(Str::from_bytes(b"")), None),
    ]
}

fn write(opts: Options) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), opts).unwrap();
    w.record(&Record::Aux {
        name: b"ctime".to_vec(),
        value: b"0".to_vec(),
    })
    .unwrap();
    let mut db = None;
    let data = sample();
    for (d, k, v, ttl) in &data {
        if db != Some(*d) {
            w.record(&Record::SelectDb(*d)).unwrap();
            db = Some(*d);
        }
        write_key(&mut w, k, v, *ttl, Some(7)).unwrap();
    }
    w.finish(data.len() as u64).unwrap()
}

fn load(bytes: &[u8]) -> Result<Vec<Loaded>, LoadError> {
    let mut r = Reader::new(bytes)?;
    let mut l = Loader::new(Limits::default());
    let mut out = Vec::new();
    while let Some(rec) = r.next_record()? {
        l.feed(rec, &mut |k| out.push(k))
            .map_err(|reason| LoadError { offset: 0, reason })?;
    }
    l.end(&mut |k| out.push(k)).unwrap();
    r.finish()?;
    Ok(out)
}

#[test]
fn every_type_reads_back_under_every_option() {
    for compress in [true, false] {
        for checksum in [true, false] {
            let bytes = write(Options {
                compress,
                checksum,
                ..Options::default()
            });
            let got = load(&bytes).unwrap();
            let want = sample();
            assert_eq!(got.len(), want.len());
            for (g, (d, k, v, ttl)) in got.iter().zip(&want) {
                assert_eq!(
                    (g.db, &g.key, g.expire_at_ms, g.idle_secs),
                    (*d, k, *ttl, Some(7))
                );
                assert_eq!(&g.value, v, "{}", String::from_utf8_lossy(k));
            }
        }
    }
}

#[test]
fn compression_makes_the_file_smaller() {
    let z = write(Options::default());
    let raw = write(Options {
        compress: false,
        ..Options::default()
    });
    assert!(z.len() * 2 < raw.len(), "{} vs {}", z.len(), raw.len());
}

#[test]
fn any_flipped_byte_is_refused() {
    let bytes = write(Options::default());
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= bit;
            assert!(load(&b).is_err(), "byte {i} ^ {bit:#x} went unnoticed");
        }
    }
}

#[test]
fn any_truncation_is_refused_with_an_offset_inside_the_file() {
    let bytes = write(Options::default());
    for n in 0..bytes.len() {
        let e = load(&bytes[..n]).expect_err("a truncated file loads");
        assert!(
            e.offset <= n as u64,
            "offset {} past the {n} bytes",
            e.offset
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(load(&longer).is_err(), "bytes after the trailer");
}

#[test]
fn a_newer_version_is_refused_by_name() {
    let mut bytes = write(Options::default());
    bytes[8] = 9;
    let e = load(&bytes).unwrap_err();
    assert_eq!(e.offset, 8);
    assert!(e.reason.contains("version 9"), "{}", e.reason);
}

#[test]
fn records_that_do_not_fit_their_type_are_refused() {
    use serde_bytes::ByteBuf;
    let key = |ty: u8, items: &[&str], scores: Vec<f64>| {
        Record::Key(KeyRecord {
            key: ByteBuf::from(b"k".to_vec()),
            ty,
            expire_at_ms: None,
            idle_secs: None,
            items: items
                .iter()
                .map(|s| ByteBuf::from(s.as_bytes().to_vec()))
                .collect(),
            scores,
        })
    };
    use record::ty;
    for bad in [
        vec![key(ty::STRING, &[], vec![])],
        vec![key(ty::STRING, &["a", "b"], vec![])],
        vec![key(ty::ZSET, &["a"], vec![])],
        vec![key(ty::ZSET, &["a"], vec![f64::NAN])],
        vec![key(ty::SET, &["a", "a"], vec![])],
        vec![key(ty::HASH, &["f"], vec![]), Record::End { keys: 1 }],
        vec![key(9, &["a"], vec![])],
        vec![Record::More {
            items: vec![],
            scores: vec![],
        }],
    ] {
        let mut l = Loader::new(Limits::default());
        let r: Result<(), String> = bad.into_iter().try_for_each(|r| l.feed(r, &mut |_| {}));
        assert!(r.is_err());
    }
    // An empty collection is skipped, as Redis skips empty keys.
    let mut l = Loader::new(Limits::default());
    let mut n = 0;
    l.feed(key(ty::LIST, &[], vec![]), &mut |_| n += 1).unwrap();
    l.end(&mut |_| n += 1).unwrap();
    assert_eq!((n, l.empty_skipped), (0, 1));
}

proptest::proptest! {
    #[test]
    fn random_values_read_back(
        items in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..40), 1..2500),
        ty in 0u8..5,
        ttl in proptest::option::of(0u64..u64::MAX),
    ) {
        let lim = Limits { set_max_intset: 16, ..Limits::default() };
        let mut uniq = items.clone();
        uniq.sort();
        uniq.dedup();
        let v = match ty {
            0 => Value::Str(Str::from_bytes(&items[0])),
            1 => Value::List(Box::new(List::from_items(items.iter().map(|v| &v[..]), 4))),
            2 => {
                let mut s = Set::new();
                for m in &uniq { s.add(m, lim.set_max_intset); }
                Value::Set(Box::new(s))
            }
            3 => {
                let mut z = ZSet::new();
                for (i, m) in uniq.iter().enumerate() { z.insert(m, (i as f64) * 0.5 - 3.0, lim.zset); }
                Value::ZSet(Box::new(z))
            }
            _ => {
                let mut h = Hash::new();
                for m in &uniq { h.set(m, &items[0], lim.hash); }
                Value::Hash(Box::new(h))
            }
        };
        let mut w = Writer::new(Vec::new(), Options::default()).unwrap();
        write_key(&mut w, b"key", &v, ttl, None).unwrap();
        let bytes = w.finish(1).unwrap();
        let mut r = Reader::new(&bytes[..]).unwrap();
        let mut l = Loader::new(lim);
        let mut out = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            l.feed(rec, &mut |k| out.push(k)).unwrap();
        }
        l.end(&mut |k| out.push(k)).unwrap();
        r.finish().unwrap();
        proptest::prop_assert_eq!(out.len(), 1);
        proptest::prop_assert_eq!(&out[0].value, &v);
        proptest::prop_assert_eq!(out[0].expire_at_ms, ttl);
    }
}
