//! Benchmarks of the keyspace hash table at the size the memory target is set for:
//! 1,000,000 entries of a 16-byte key and a 32-byte value.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rubedo_engine::dict::Dict;

const N: usize = 1_000_000;

type Value = [u64; 4];

type KeyBytes = [u8; 16];

/// `count` distinct 16-byte keys with the given 4-byte prefix, stored flat so that fetching
/// the next key to look up is not itself a cache miss.
fn keys(prefix: &str, count: usize) -> Vec<KeyBytes> {
    (0..count)
        .map(|i| {
            let text = format!("{prefix}{i:012}");
            text.as_bytes().try_into().expect("16-byte key")
        })
        .collect()
}

fn filled(keys: &[KeyBytes]) -> Dict<Value> {
    let mut d = Dict::new();
    for (i, k) in keys.iter().enumerate() {
        d.insert(k, [i as u64; 4]);
    }
    // Finish any rehash so every lookup sees the steady state.
    while d.rehash_steps(10_000) {}
    d
}

/// Cycles through `keys` in a shuffled order, so lookups do not walk the nodes in the order
/// they were allocated (which would flatter the cache).
fn shuffled(keys: &[KeyBytes]) -> Vec<KeyBytes> {
    let mut keys = keys.to_vec();
    keys.shuffle(&mut rand::rngs::StdRng::seed_from_u64(1));
    keys
}

fn bench(c: &mut Criterion) {
    let present = keys("key:", N);
    let absent = keys("mis:", N);

    let mut group = c.benchmark_group("dict");
    group.sample_size(10);
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("insert_1m", |b| {
        b.iter_batched(
            || (),
            |()| {
                let mut d = Dict::new();
                for (i, k) in present.iter().enumerate() {
                    d.insert(k, [i as u64; 4]);
                }
                d
            },
            BatchSize::PerIteration,
        )
    });

    let d = filled(&present);
    group.bench_function("scan_1m", |b| {
        b.iter(|| {
            let mut seen = 0usize;
            let mut cursor = 0;
            loop {
                cursor = d.scan(cursor, |_, v| seen += v[0] as usize & 1);
                if cursor == 0 {
                    break;
                }
            }
            seen
        })
    });
    group.finish();

    let mut group = c.benchmark_group("dict_1m");
    group.throughput(Throughput::Elements(1));
    let hits = shuffled(&present);
    let mut i = 0;
    group.bench_function("get_hit", |b| {
        b.iter(|| {
            i = if i + 1 == N { 0 } else { i + 1 };
            black_box(d.get(&hits[i]))
        })
    });
    let misses = shuffled(&absent);
    let mut i = 0;
    group.bench_function("get_miss", |b| {
        b.iter(|| {
            i = if i + 1 == N { 0 } else { i + 1 };
            black_box(d.get(&misses[i]))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
