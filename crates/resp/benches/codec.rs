//! Codec benchmarks: request parsing (multibulk pipeline and inline) and reply
//! encoding.

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rubedo_resp::{
    decode_frame, encode, write_array_len, write_bulk, Frame, Protocol, RequestLimits,
    RequestParser,
};

fn pipeline(n: usize, inline: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let key = format!("key:{i:09}");
        if inline {
            out.extend_from_slice(format!("SET {key} xxx\r\n").as_bytes());
        } else {
            out.extend_from_slice(
                format!(
                    "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$3\r\nxxx\r\n",
                    key.len()
                )
                .as_bytes(),
            );
        }
    }
    out
}

fn bench_parse(c: &mut Criterion) {
    let limits = RequestLimits::default();
    let mut group = c.benchmark_group("parse");
    for (name, inline) in [("multibulk_set_x16", false), ("inline_set_x16", true)] {
        let input = pipeline(16, inline);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(name, |b| {
            b.iter_batched_ref(
                || BytesMut::from(&input[..]),
                |buf| {
                    let mut parser = RequestParser::new();
                    let mut n = 0;
                    while let Some(args) = parser.parse(buf, &limits).unwrap() {
                        n += args.len();
                        black_box(args);
                    }
                    assert_eq!(n, 48);
                },
                BatchSize::SmallInput,
            )
        });
    }
    let big = {
        let mut v = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$1048576\r\n".to_vec();
        v.extend_from_slice(&vec![b'v'; 1 << 20]);
        v.extend_from_slice(b"\r\n");
        v
    };
    group.throughput(Throughput::Bytes(big.len() as u64));
    group.bench_function("multibulk_1MiB_value_in_16KiB_reads", |b| {
        b.iter(|| {
            let mut parser = RequestParser::new();
            let mut buf = BytesMut::with_capacity(16 * 1024);
            for chunk in big.chunks(16 * 1024) {
                buf.extend_from_slice(chunk);
                if let Some(args) = parser.parse(&mut buf, &limits).unwrap() {
                    return black_box(args);
                }
            }
            unreachable!()
        })
    });
    group.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let value = vec![b'x'; 64];
    group.bench_function("write_bulk_64B", |b| {
        let mut out = BytesMut::with_capacity(4096);
        b.iter(|| {
            out.clear();
            write_bulk(&mut out, black_box(&value));
            black_box(&out);
        })
    });

    let items: Vec<Bytes> = (0..100)
        .map(|i| Bytes::from(format!("member:{i:06}")))
        .collect();
    group.bench_function("write_array_of_100_bulks", |b| {
        let mut out = BytesMut::with_capacity(8192);
        b.iter(|| {
            out.clear();
            write_array_len(&mut out, items.len());
            for item in &items {
                write_bulk(&mut out, item);
            }
            black_box(&out);
        })
    });

    let frame = Frame::Array(items.iter().cloned().map(Frame::Bulk).collect());
    group.bench_function("encode_array_frame_of_100_bulks", |b| {
        let mut out = BytesMut::with_capacity(8192);
        b.iter(|| {
            out.clear();
            encode(black_box(&frame), Protocol::Resp2, &mut out);
            black_box(&out);
        })
    });

    let scores = Frame::Map(
        (0..100)
            .map(|i| {
                (
                    Frame::Bulk(Bytes::from(format!("m{i}"))),
                    Frame::Double(i as f64 * 1.1),
                )
            })
            .collect(),
    );
    for (name, proto) in [
        ("map_of_100_doubles_resp2", Protocol::Resp2),
        ("map_of_100_doubles_resp3", Protocol::Resp3),
    ] {
        group.bench_function(name, |b| {
            let mut out = BytesMut::with_capacity(8192);
            b.iter(|| {
                out.clear();
                encode(black_box(&scores), proto, &mut out);
                black_box(&out);
            })
        });
    }
    group.finish();
}

fn bench_decode(c: &mut Criterion) {
    let mut wire = BytesMut::new();
    encode(
        &Frame::Array((0..100).map(|i| Frame::Integer(i * 1000)).collect()),
        Protocol::Resp3,
        &mut wire,
    );
    let wire = wire.freeze();
    c.bench_function("decode/array_of_100_integers", |b| {
        b.iter_batched_ref(
            || BytesMut::from(&wire[..]),
            |buf| black_box(decode_frame(buf).unwrap().unwrap()),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench_parse, bench_encode, bench_decode);
criterion_main!(benches);
