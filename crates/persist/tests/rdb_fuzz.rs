//! Damaged input: Redis-made files and payloads, and files of every type
//! written here, with bytes flipped, inserted, deleted and cut. Reading
//! must never panic, must end, and must never make a large allocation
//! (this binary's allocator records the largest one asked for).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use rubedo_engine::types::{hash::Hash, list::List, set::Set, zset::ZSet};
use rubedo_engine::{Str, Value};
use rubedo_persist::rdb::{read_value, restore_payload, FileReader, FileWriter};
use rubedo_persist::snapshot::value::Limits;

struct Tracking;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        System.alloc(l)
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LARGEST.fetch_max(new, Ordering::Relaxed);
        System.realloc(p, l, new)
    }
}

#[global_allocator]
static ALLOC: Tracking = Tracking;

/// No single allocation may exceed this while reading damaged input of at
/// most a few tens of KiB (the reader's own buffers are 64 KiB and, for a
/// stream of unknown size, steps of 1 MiB; LZF's table is 256 KiB).
const MAX_ALLOC: usize = 4 << 20;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/redis-7.0.15-rdb")
}

fn small_file() -> Vec<u8> {
    let lim = Limits::default();
    let mut w = FileWriter::new(Vec::new(), &[("redis-ver", "7.0.15".into())], true, true).unwrap();
    w.function(b"#!lua name=x\nredis.register_function('f', function() return 1 end)")
        .unwrap();
    w.select_db(0, 9, 1).unwrap();
    w.key(
        b"s",
        &Value::Str(Str::from_bytes(&b"abc".repeat(30))),
        Some(1 << 45),
        None,
    )
    .unwrap();
    w.key(b"i", &Value::Str(Str::from_bytes(b"-12345")), None, Some(7))
        .unwrap();
    let mut l = List::new();
    for i in 0..700 {
        l.push_back(format!("e{i}").as_bytes(), -2);
    }
    w.key(b"l", &Value::List(Box::new(l)), None, None).unwrap();
    let mut s = Set::new();
    for m in ["1", "2", "300000"] {
        s.add(m.as_bytes(), 512);
    }
    w.key(b"is", &Value::Set(Box::new(s)), None, None).unwrap();
    let mut s = Set::new();
    for m in ["a", "b", "1"] {
        s.add(m.as_bytes(), 512);
    }
    w.key(b"hs", &Value::Set(Box::new(s)), None, None).unwrap();
    let mut z = ZSet::new();
    for (m, sc) in [("a", 1.0), ("b", 0.5), ("c", f64::INFINITY)] {
        z.insert(m.as_bytes(), sc, lim.zset);
    }
    w.key(b"zl", &Value::ZSet(Box::new(z)), None, None).unwrap();
    let mut z = ZSet::new();
    for i in 0..200 {
        z.insert(format!("m{i}").as_bytes(), i as f64 / 3.0, lim.zset);
    }
    w.key(b"zs", &Value::ZSet(Box::new(z)), None, None).unwrap();
    let mut h = Hash::new();
    h.set(b"f", b"v", lim.hash);
    h.set(b"1", b"2", lim.hash);
    w.key(b"hl", &Value::Hash(Box::new(h)), None, None).unwrap();
    let mut h = Hash::new();
    for i in 0..200 {
        h.set(format!("f{i}").as_bytes(), b"v", lim.hash);
    }
    w.key(b"hh", &Value::Hash(Box::new(h)), None, None).unwrap();
    w.finish().unwrap()
}

fn inputs() -> Vec<Vec<u8>> {
    let mut v = vec![small_file()];
    for f in [
        "idle-lru.rdb",
        "freq-lfu.rdb",
        "nochecksum.rdb",
        "stream.rdb",
        "empty.rdb",
    ] {
        v.push(std::fs::read(fixtures().join(f)).unwrap());
    }
    v
}

fn payloads() -> Vec<Vec<u8>> {
    let mut names: Vec<_> = std::fs::read_dir(fixtures().join("dumps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .filter(|p| p.len() < 4096)
        .collect()
}

#[derive(Clone, Debug)]
enum Edit {
    Flip(prop::sample::Index, u8),
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Delete(prop::sample::Index, usize),
    Cut(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(i, b)| Edit::Flip(i, b)),
        3 => (any::<prop::sample::Index>(), prop::sample::select(vec![0u8, 0x3f, 0x40, 0x7f, 0x80, 0x81, 0xc0, 0xc3, 0xfe, 0xff]))
            .prop_map(|(i, b)| Edit::Set(i, b)),
        2 => (any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 1..9))
            .prop_map(|(i, b)| Edit::Insert(i, b)),
        2 => (any::<prop::sample::Index>(), 1usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => any::<prop::sample::Index>().prop_map(Edit::Cut),
    ]
}

fn apply(mut b: Vec<u8>, edits: &[Edit], keep: usize) -> Vec<u8> {
    for e in edits {
        if b.len() <= keep {
            break;
        }
        let span = b.len() - keep;
        match e {
            Edit::Flip(i, x) => {
                let at = keep + i.index(span);
                b[at] ^= x;
            }
            Edit::Set(i, x) => {
                let at = keep + i.index(span);
                b[at] = *x;
            }
            Edit::Insert(i, bytes) => {
                let at = keep + i.index(span);
                b.splice(at..at, bytes.iter().copied());
            }
            Edit::Delete(i, n) => {
                let at = keep + i.index(span);
                let end = (at + n).min(b.len());
                b.drain(at..end);
            }
            Edit::Cut(i) => {
                let at = keep + i.index(span);
                b.truncate(at);
            }
        }
    }
    b
}

fn read_all(b: &[u8], len: Option<u64>) {
    let lim = Limits::default();
    let Ok(mut r) = FileReader::new(b, len) else {
        return;
    };
    // Every record reads at least one byte, so this ends.
    for _ in 0..=b.len() {
        match r.next_key(&lim) {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return,
        }
    }
    panic!("the reader did not end");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn damaged_files_never_panic(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..5),
        known_len in any::<bool>(),
    ) {
        let files = inputs();
        let f = which.get(&files).clone();
        let b = apply(f, &edits, 9);
        let len = known_len.then_some(b.len() as u64);
        read_all(&b, len);
        prop_assert!(LARGEST.load(Ordering::Relaxed) <= MAX_ALLOC, "{}", LARGEST.load(Ordering::Relaxed));
    }

    #[test]
    fn damaged_payloads_never_panic(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..5),
    ) {
        let lim = Limits::default();
        let all = payloads();
        let p = which.get(&all).clone();
        let b = apply(p, &edits, 0);
        let _ = restore_payload(&b, &lim);
        // Past the checksum: the value decoder on the damaged body itself.
        if b.len() > 11 {
            let _ = read_value(b[0], &b[1..b.len() - 10], &lim);
        }
        if !b.is_empty() {
            let _ = read_value(b[0], &b[1..], &lim);
        }
        prop_assert!(LARGEST.load(Ordering::Relaxed) <= MAX_ALLOC, "{}", LARGEST.load(Ordering::Relaxed));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn damaged_large_redis_files_never_panic(
        big in any::<bool>(),
        edits in prop::collection::vec(edit(), 1..4),
        known_len in any::<bool>(),
    ) {
        let name = if big { "all-types.rdb" } else { "nocompress.rdb" };
        let f = std::fs::read(fixtures().join(name)).unwrap();
        let b = apply(f, &edits, 9);
        read_all(&b, known_len.then_some(b.len() as u64));
        prop_assert!(LARGEST.load(Ordering::Relaxed) <= MAX_ALLOC, "{}", LARGEST.load(Ordering::Relaxed));
    }
}

#[test]
fn random_bytes_after_a_header_never_panic() {
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for n in 0..3000 {
        let mut b = b"REDIS0010".to_vec();
        for _ in 0..(n % 200) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b.push(x as u8);
        }
        read_all(&b, None);
        read_all(&b, Some(b.len() as u64));
        for t in 0..=21u8 {
            let _ = read_value(t, &b[9..], &Limits::default());
        }
    }
    assert!(LARGEST.load(Ordering::Relaxed) <= MAX_ALLOC);
}
