//! Benchmarks of the sorted set at the size redis-benchmark's ZADD builds:
//! one set of 100,000 members, re-scored at random (ZADD's steady state),
//! ranked, and read by range.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rubedo_engine::types::zset::{AddFlags, Limits, ZSet};

const N: usize = 100_000;
const LIM: Limits = Limits {
    entries: 128,
    value: 64,
};

fn member(i: usize) -> Vec<u8> {
    format!("element:{i}").into_bytes()
}

fn filled(rng: &mut impl Rng) -> ZSet {
    let mut z = ZSet::new();
    for i in 0..N {
        z.insert(&member(i), rng.gen_range(0..N) as f64, LIM);
    }
    z
}

fn bench(c: &mut Criterion) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let members: Vec<Vec<u8>> = (0..N).map(member).collect();
    let mut z = filled(&mut rng);
    let mut g = c.benchmark_group("zset_100k");
    g.throughput(Throughput::Elements(1));
    g.bench_function("zadd_rescore", |b| {
        b.iter(|| {
            let m = &members[rng.gen_range(0..N)];
            let s = rng.gen_range(0..N) as f64;
            black_box(z.add(m, s, AddFlags::default(), LIM));
        })
    });
    g.bench_function("zrank", |b| {
        b.iter(|| black_box(z.rank(&members[rng.gen_range(0..N)])))
    });
    g.bench_function("zrange_100", |b| {
        b.iter(|| {
            let lo = rng.gen_range(0..N - 100);
            black_box(z.range(lo, lo + 100))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
