//! Unit tests of the hash table.
use super::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

fn k(i: usize) -> Vec<u8> {
    format!("key:{i}").into_bytes()
}

/// Checks the structural invariants: every node sits in the bucket its hash selects, the
/// counters match, and drained buckets of the old table are empty.
fn check_invariants<V>(d: &Dict<V>) {
    for (t, table) in [&d.main, &d.next].into_iter().enumerate() {
        let mut count = 0;
        for (i, slot) in table.buckets.iter().enumerate() {
            if t == 0 && d.is_rehashing() && i < d.rehash_idx {
                assert!(slot.is_none(), "moved bucket {i} not empty");
            }
            let mut cur = slot.as_deref();
            while let Some(node) = cur {
                let h = d.hasher.hash_one(node.key.as_bytes()) as usize;
                assert_eq!(h & table.mask(), i, "node in the wrong bucket");
                count += 1;
                cur = node.next.as_deref();
            }
        }
        assert_eq!(count, table.used);
    }
    assert!(d.main.buckets.is_empty() || d.main.buckets.len().is_power_of_two());
    let heap: usize = d.iter().map(|(k, _)| k.heap_bytes()).sum();
    assert_eq!(heap, d.key_heap_bytes);
}

#[test]
fn key_inline_and_heap() {
    for len in [0, 1, 21, 22, 23, 100] {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 37) as u8).collect();
        let key = Key::new(&bytes);
        assert_eq!(key.as_bytes(), &bytes[..]);
        assert_eq!(&*key, &bytes[..]);
        assert_eq!(key.heap_bytes(), if len > INLINE_CAP { len } else { 0 });
        assert_eq!(key.clone(), key);
        let b: &[u8] = key.borrow();
        assert_eq!(b, &bytes[..]);
    }
    assert_ne!(Key::new(b"a"), Key::new(b"a\0"));
    assert_eq!(format!("{:?}", Key::new(b"a\n\xff")), r#"b"a\n\xff""#);
    // Hash agrees with the borrowed form, as `Borrow` requires.
    let s = RandomState::new();
    assert_eq!(s.hash_one(Key::new(b"hello")), s.hash_one(&b"hello"[..]));
}

#[test]
fn basic_operations() {
    let mut d = Dict::new();
    assert!(d.is_empty());
    assert_eq!(d.get(b"a"), None);
    assert_eq!(d.remove(b"a"), None);
    assert_eq!(d.scan(0, |_, _| panic!("empty")), 0);
    assert_eq!(d.insert(b"a", 1), None);
    assert_eq!(d.insert(b"a", 2), Some(1));
    *d.insert_new(b"b", 3) += 10;
    assert_eq!(d.get(b"b"), Some(&13));
    *d.get_mut(b"a").unwrap() += 1;
    assert_eq!(d.get_key_value(b"a"), Some((&Key::new(b"a"), &3)));
    assert!(d.contains_key(b"b"));
    assert!(!d.contains_key(b"c"));
    assert_eq!(d.len(), 2);
    let (key, v) = d.remove(b"a").unwrap();
    assert_eq!((key.as_bytes(), v), (&b"a"[..], 3));
    assert_eq!(d.len(), 1);
    d.clear();
    assert!(d.is_empty());
    assert_eq!(d.table_bytes(), 0);
    d.insert(b"", 0);
    assert_eq!(d.get(b""), Some(&0));
}

#[test]
fn grows_and_shrinks_incrementally() {
    let mut d = Dict::new();
    let mut saw_rehash = false;
    for i in 0..10_000 {
        d.insert(&k(i), i);
        saw_rehash |= d.is_rehashing();
        if i % 997 == 0 {
            check_invariants(&d);
        }
    }
    assert!(saw_rehash, "growth should go through incremental rehashing");
    for i in 0..10_000 {
        assert_eq!(d.get(&k(i)), Some(&i));
    }
    while d.rehash_steps(100) {}
    assert_eq!(d.main.buckets.len(), 16_384);
    for i in 0..9_990 {
        assert_eq!(d.remove(&k(i)), Some((Key::new(&k(i)), i)));
        if i % 997 == 0 {
            check_invariants(&d);
        }
    }
    while d.rehash_steps(100) {}
    check_invariants(&d);
    assert_eq!(d.len(), 10);
    // Shrinking stops once at least 1/8 of the buckets are used (the exact size depends on
    // how far removals got while each shrink was still rehashing).
    let buckets = d.main.buckets.len();
    assert!((16..=64).contains(&buckets), "{buckets} buckets");
    for i in 9_990..10_000 {
        assert_eq!(d.get(&k(i)), Some(&i));
    }
}

#[test]
fn growth_moves_entries_a_bucket_at_a_time() {
    let mut d = Dict::new();
    for i in 0..4096 {
        d.insert(&k(i), ());
    }
    // Fill to load factor 1: the next insert starts a resize but moves only one bucket.
    for i in 4096..8192 {
        d.insert(&k(i), ());
    }
    while d.rehash_steps(1000) {}
    assert_eq!(d.main.buckets.len(), 8192);
    d.insert(b"trigger", ());
    assert!(d.is_rehashing());
    assert!(
        d.main.used > 8000,
        "only a bucket or two moved: {}",
        d.main.used
    );
    let mut steps = 0;
    while d.rehash_steps(1) {
        steps += 1;
        if steps % 1000 == 0 {
            check_invariants(&d);
        }
    }
    assert!(steps > 1000);
    assert_eq!(d.main.buckets.len(), 16_384);
    assert_eq!(d.len(), 8193);
}

#[test]
fn iter_visits_everything_once_even_while_rehashing() {
    let mut d = Dict::new();
    for i in 0..1000 {
        d.insert(&k(i), i);
    }
    d.insert(b"more", 0);
    for i in 1000..1024 {
        d.insert(&k(i), i);
    }
    assert!(d.is_rehashing());
    let it = d.iter();
    assert_eq!(it.len(), 1025);
    let seen: HashSet<Vec<u8>> = it.map(|(k, _)| k.to_vec()).collect();
    assert_eq!(seen.len(), 1025);
    assert!(seen.contains(&b"more"[..]));
}

#[test]
fn long_chain_drops_without_recursion() {
    // Build a chain far longer than hashing would ever produce, to check that dropping and
    // clearing do not recurse per node.
    fn long_chain() -> Dict<u64> {
        let mut d = Dict::new();
        d.insert(b"seed", 0);
        let mut head = d.main.buckets[0].take();
        for i in 0..1_000_000u64 {
            head = Some(Box::new(Node {
                next: head,
                key: Key::new(&i.to_le_bytes()),
                value: i,
            }));
        }
        d.main.buckets[0] = head;
        d.main.used = 1_000_001;
        d
    }
    drop(long_chain());
    let mut d = long_chain();
    d.clear();
    assert!(d.is_empty());
}

#[test]
fn memory_layout_stays_compact() {
    // Sizes, not timings: the per-entry cost the keyspace budget is based on.
    assert_eq!(mem::size_of::<Key>(), 24);
    assert_eq!(mem::size_of::<Link<[u8; 32]>>(), 8);
    assert_eq!(mem::size_of::<Node<[u8; 32]>>(), 64);
    let mut d = Dict::new();
    for i in 0..1_000_000u64 {
        // 16-byte keys, 32-byte values.
        let key = format!("key:{i:012}");
        d.insert_new(key.as_bytes(), [0u8; 32]);
    }
    while d.rehash_steps(10_000) {}
    let per_entry = d.table_bytes() as f64 / d.len() as f64;
    // 64-byte node + ~8.4 bytes of bucket array; malloc adds ~16 bytes per node on top.
    assert!(per_entry < 76.0, "{per_entry} bytes/entry");
}

#[test]
fn table_bytes_counts_long_keys() {
    let mut d = Dict::new();
    d.insert(&[7u8; 100], ());
    assert_eq!(d.table_bytes(), 4 * 8 + mem::size_of::<Node<()>>() + 100);
    d.remove(&[7u8; 100]);
    assert_eq!(d.table_bytes(), 4 * 8);
}

/// Runs a full scan, calling `between` after each call with the call number.
fn scan_all(d: &mut Dict<usize>, mut between: impl FnMut(&mut Dict<usize>, usize)) -> Vec<Vec<u8>> {
    let mut seen = Vec::new();
    let mut cursor = 0;
    let mut calls = 0;
    loop {
        cursor = d.scan(cursor, |k, _| seen.push(k.to_vec()));
        if cursor == 0 {
            return seen;
        }
        calls += 1;
        assert!(calls < 1_000_000, "scan does not terminate");
        between(d, calls);
    }
}

#[test]
fn scan_without_changes_returns_each_entry_once() {
    for n in [1, 3, 4, 5, 100, 1000] {
        let mut d = Dict::new();
        for i in 0..n {
            d.insert(&k(i), i);
        }
        let seen = scan_all(&mut d, |_, _| {});
        assert_eq!(seen.len(), n);
        assert_eq!(seen.iter().collect::<HashSet<_>>().len(), n);
    }
    // And in the middle of a rehash, in both directions.
    let mut d = Dict::new();
    for i in 0..1024 {
        d.insert(&k(i), i);
    }
    d.insert(b"grow", 0);
    d.rehash_steps(100);
    assert!(d.is_rehashing());
    let seen = scan_all(&mut d, |_, _| {});
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 1025);
    assert_eq!(seen.len(), 1025);
    while d.rehash_steps(100) {}
    for i in 0..1000 {
        d.remove(&k(i));
    }
    assert!(d.is_rehashing());
    let seen = scan_all(&mut d, |_, _| {});
    assert_eq!(seen.len(), 25);
}

#[test]
fn scan_survives_grow_and_shrink_mid_scan() {
    let mut d = Dict::new();
    for i in 0..2000 {
        d.insert(&k(i), i);
    }
    // Keys 0..500 stay for the whole scan; the rest come and go.
    let seen = scan_all(&mut d, |d, call| match call {
        5 => {
            // Grow twice over, stopping in the middle of the last rehash.
            for i in 10_000..20_000 {
                d.insert(&k(i), i);
            }
            assert!(d.is_rehashing() || d.main.buckets.len() >= 16_384);
        }
        20 => {
            while d.rehash_steps(100) {}
            // Shrink, stopping in the middle of the rehash.
            for i in (500..2000).chain(10_000..20_000) {
                d.remove(&k(i));
            }
            d.rehash_steps(3);
        }
        30 => while d.rehash_steps(100) {},
        _ => {
            d.rehash_steps(1);
        }
    });
    let seen: HashSet<Vec<u8>> = seen.into_iter().collect();
    for i in 0..500 {
        assert!(seen.contains(&k(i)), "key {i} missed");
    }
}

#[test]
fn random_returns_existing_entries_and_reaches_all() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut d = Dict::new();
    assert!(d.random(&mut rng).is_none());
    for i in 0..50 {
        d.insert(&k(i), i);
    }
    let mut seen = HashSet::new();
    for _ in 0..5000 {
        let (key, &v) = d.random(&mut rng).unwrap();
        assert_eq!(key.as_bytes(), k(v));
        seen.insert(v);
    }
    assert_eq!(seen.len(), 50, "every entry should come up");
    // Sparse while rehashing: grow, then delete almost everything before the rehash ends.
    for i in 50..4096 {
        d.insert(&k(i), i);
    }
    d.insert(b"grow", 0);
    assert!(d.is_rehashing());
    for i in 0..4096 {
        if i % 1000 != 0 {
            d.remove(&k(i));
        }
    }
    d.remove(b"grow");
    let live: HashSet<usize> = d.iter().map(|(_, &v)| v).collect();
    for _ in 0..2000 {
        let (key, v) = d.random(&mut rng).unwrap();
        assert!(live.contains(v));
        assert_eq!(d.get(key), Some(v));
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert(usize, u32),
    InsertNew(usize, u32),
    Remove(usize),
    Get(usize),
    GetMut(usize, u32),
    Steps(usize),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..300usize;
    prop_oneof![
        8 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => (key.clone(), any::<u32>()).prop_map(|(k, v)| Op::InsertNew(k, v)),
        6 => key.clone().prop_map(Op::Remove),
        3 => key.clone().prop_map(Op::Get),
        2 => (key, any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
        1 => (0..20usize).prop_map(Op::Steps),
        1 => Just(Op::Clear),
    ]
}

/// Key number `i`, at lengths spread around the inline limit.
fn model_key(i: usize) -> Vec<u8> {
    let mut key = format!("{i}:").into_bytes();
    key.resize(key.len() + (i * 7) % 40, b'x');
    key
}

proptest! {
    #[test]
    fn behaves_like_a_hash_map(ops in prop::collection::vec(op(), 1..600)) {
        let mut d = Dict::new();
        let mut model: HashMap<Vec<u8>, u32> = HashMap::new();
        for op in ops {
            match op {
                Op::Insert(i, v) => {
                    let key = model_key(i);
                    prop_assert_eq!(d.insert(&key, v), model.insert(key, v));
                }
                Op::InsertNew(i, v) => {
                    if let Entry::Vacant(slot) = model.entry(model_key(i)) {
                        prop_assert_eq!(*d.insert_new(slot.key(), v), v);
                        slot.insert(v);
                    }
                }
                Op::Remove(i) => {
                    let key = model_key(i);
                    let got = d.remove(&key).map(|(k, v)| (k.to_vec(), v));
                    prop_assert_eq!(got, model.remove_entry(&key));
                }
                Op::Get(i) => {
                    let key = model_key(i);
                    prop_assert_eq!(d.get(&key), model.get(&key));
                    prop_assert_eq!(d.contains_key(&key), model.contains_key(&key));
                }
                Op::GetMut(i, v) => {
                    let key = model_key(i);
                    match (d.get_mut(&key), model.get_mut(&key)) {
                        (Some(a), Some(b)) => { *a = v; *b = v; }
                        (None, None) => {}
                        (a, b) => prop_assert!(false, "get_mut {:?} vs {:?}", a, b),
                    }
                }
                Op::Steps(n) => { d.rehash_steps(n); }
                Op::Clear => { d.clear(); model.clear(); }
            }
            prop_assert_eq!(d.len(), model.len());
        }
        check_invariants(&d);
        let got: HashMap<Vec<u8>, u32> = d.iter().map(|(k, v)| (k.to_vec(), *v)).collect();
        prop_assert_eq!(got, model);
    }

    #[test]
    fn scan_keeps_its_guarantee_under_random_changes(
        initial in 0..3000usize,
        stable in 0..200usize,
        changes in prop::collection::vec((0..4u8, 0..3000usize), 0..40),
    ) {
        let mut d = Dict::new();
        for i in 0..initial {
            d.insert(&k(i), i);
        }
        let stable = stable.min(initial);
        let mut changes = changes.into_iter();
        let mut next_key = 1_000_000;
        let seen = scan_all(&mut d, |d, _| match changes.next() {
            Some((0, n)) => {
                for _ in 0..n {
                    d.insert(&k(next_key), next_key);
                    next_key += 1;
                }
            }
            Some((1, n)) => {
                // Remove anything but the stable keys.
                let doomed: Vec<Vec<u8>> = d
                    .iter()
                    .filter(|(_, &v)| v >= stable)
                    .take(n)
                    .map(|(k, _)| k.to_vec())
                    .collect();
                for key in doomed {
                    d.remove(&key);
                }
            }
            Some((2, n)) => { d.rehash_steps(n % 50); }
            _ => {}
        });
        let seen: HashSet<Vec<u8>> = seen.into_iter().collect();
        for i in 0..stable {
            prop_assert!(seen.contains(&k(i)), "key {} missed", i);
        }
    }
}

/// Resident memory of 1M entries (16-byte keys, 32-byte values), bucket array included.
/// Ignored by default because RSS is process-wide: run it alone, in release mode:
/// `cargo test -p rubedo-engine --release --lib dict::tests::rss -- --ignored --nocapture`.
#[test]
#[ignore]
#[cfg(target_os = "linux")]
fn rss_per_entry_of_a_million_entries() {
    fn rss() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
        let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    }
    let before = rss();
    let mut d = Dict::new();
    for i in 0..1_000_000u64 {
        let key = format!("key:{i:012}");
        d.insert_new(key.as_bytes(), [i; 4]);
    }
    while d.rehash_steps(10_000) {}
    let per_entry = (rss() - before) as f64 / 1e6;
    println!("RSS: {per_entry:.1} bytes/entry");
    assert!(per_entry < 100.0, "{per_entry} bytes/entry");
    drop(d);
}
