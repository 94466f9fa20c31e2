//! Snapshot files written by an earlier build must load in every later one:
//! type tags, record kinds and the block layout never change meaning. The
//! files in `tests/golden/` were written once (format version 1) and are
//! committed; this test loads them and compares every key with the dataset
//! they were written from. If it fails, the change broke old files.
//!
//! `RUBEDO_WRITE_GOLDEN=1 cargo test -p rubedo-persist --test golden`
//! writes them (only ever for a new format version, under a new name).

use std::path::PathBuf;

use rubedo_engine::types::{hash::Hash, list::List, set::Set, zset::ZSet};
use rubedo_engine::{Str, Value};
use rubedo_persist::snapshot::load::{load_file, LoadStats};
use rubedo_persist::snapshot::value::{write_key, Limits, Loaded};
use rubedo_persist::snapshot::{Options, Record, Writer};

type Key = (u32, Vec<u8>, Value, Option<u64>, u32);

/// Every type, in its compact and large encodings, with and without TTLs,
/// over three databases; values large enough to need MORE records.
fn dataset() -> Vec<Key> {
    let lim = Limits::default();
    let mut small_hash = Hash::new();
    small_hash.set(b"f", b"v", lim.hash);
    small_hash.set(b"", b"\x00\xff", lim.hash);
    let mut big_hash = Hash::new();
    for i in 0..1500 {
        big_hash.set(
            format!("field:{i}").as_bytes(),
            format!("{i}").as_bytes(),
            lim.hash,
        );
    }
    let mut intset = Set::new();
    for m in [&b"1"[..], b"-7", b"9223372036854775807"] {
        intset.add(m, lim.set_max_intset);
    }
    let mut big_set = Set::new();
    for i in 0..2000 {
        big_set.add(format!("m{i}").as_bytes(), lim.set_max_intset);
    }
    let mut small_z = ZSet::new();
    small_z.insert(b"a", 1.5, lim.zset);
    small_z.insert(b"b", f64::INFINITY, lim.zset);
    small_z.insert(b"c", f64::NEG_INFINITY, lim.zset);
    small_z.insert(b"d", -0.0, lim.zset);
    let mut big_z = ZSet::new();
    for i in 0..1300 {
        big_z.insert(format!("z{i}").as_bytes(), i as f64 / 3.0, lim.zset);
    }
    let items: Vec<Vec<u8>> = (0..2500).map(|i| format!("e{i}").into_bytes()).collect();
    let big_list = List::from_items(items.iter().map(|v| &v[..]), lim.list_fill);
    let small_list = List::from_items([&b"x"[..], b"", b"123"], lim.list_fill);
    let s = |v: &[u8]| Value::Str(Str::from_bytes(v));
    vec![
        (0, b"str".to_vec(), s(b"hello"), None, 0),
        (
            0,
            b"int".to_vec(),
            s(b"-12345"),
            Some(4_102_444_800_000),
            10,
        ),
        (0, b"empty".to_vec(), s(b""), None, 0),
        (0, b"big".to_vec(), s(&vec![b'x'; 100_000]), None, 3),
        (
            0,
            b"list".to_vec(),
            Value::List(Box::new(small_list)),
            None,
            0,
        ),
        (
            0,
            b"biglist".to_vec(),
            Value::List(Box::new(big_list)),
            Some(4_102_444_800_123),
            0,
        ),
        (
            1,
            b"\x00bin\xff".to_vec(),
            Value::Hash(Box::new(small_hash)),
            None,
            7,
        ),
        (
            1,
            b"bighash".to_vec(),
            Value::Hash(Box::new(big_hash)),
            None,
            0,
        ),
        (1, b"intset".to_vec(), Value::Set(Box::new(intset)), None, 0),
        (
            1,
            b"bigset".to_vec(),
            Value::Set(Box::new(big_set)),
            None,
            0,
        ),
        (
            15,
            b"zset".to_vec(),
            Value::ZSet(Box::new(small_z)),
            None,
            0,
        ),
        (
            15,
            b"bigzset".to_vec(),
            Value::ZSet(Box::new(big_z)),
            Some(1),
            86_400,
        ),
    ]
}

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn write(opts: Options) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), opts).unwrap();
    w.record(&Record::Aux {
        name: b"rubedo-ver".to_vec(),
        value: b"golden".to_vec(),
    })
    .unwrap();
    let data = dataset();
    let mut db = None;
    for (d, k, v, at, idle) in &data {
        if db != Some(*d) {
            w.record(&Record::SelectDb(*d)).unwrap();
            db = Some(*d);
        }
        write_key(&mut w, k, v, *at, Some(*idle)).unwrap();
    }
    w.finish(data.len() as u64).unwrap()
}

const FILES: [(&str, Options); 2] = [
    (
        "v1-zstd-checksum.rsnap",
        Options {
            compress: true,
            checksum: true,
            key_delay: 0,
            format: rubedo_persist::snapshot::Format::Snapshot,
            incremental_fsync: false,
        },
    ),
    (
        "v1-raw-nochecksum.rsnap",
        Options {
            compress: false,
            checksum: false,
            key_delay: 0,
            format: rubedo_persist::snapshot::Format::Snapshot,
            incremental_fsync: false,
        },
    ),
];

#[test]
fn files_written_by_format_version_1_load() {
    if std::env::var_os("RUBEDO_WRITE_GOLDEN").is_some() {
        for (name, opts) in FILES {
            std::fs::write(golden(name), write(opts)).unwrap();
        }
    }
    for (name, _) in FILES {
        let mut got: Vec<Loaded> = Vec::new();
        let stats = load_file(&golden(name), Limits::default(), &mut |k| got.push(k))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = dataset();
        assert_eq!(
            stats,
            LoadStats {
                keys: want.len() as u64,
                empty_skipped: 0,
                version: 1,
                rdb: false,
                functions: Vec::new(),
            },
            "{name}"
        );
        assert_eq!(got.len(), want.len(), "{name}");
        for (g, (d, k, v, at, idle)) in got.iter().zip(&want) {
            let shown = String::from_utf8_lossy(k);
            assert_eq!(
                (g.db, &g.key, g.expire_at_ms, g.idle_secs),
                (*d, k, *at, Some(*idle)),
                "{name} {shown}"
            );
            assert_eq!(&g.value, v, "{name} {shown}");
        }
    }
}

#[test]
fn a_damaged_golden_file_is_refused_naming_the_file_and_offset() {
    let (name, _) = FILES[0];
    let mut bytes = std::fs::read(golden(name)).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    let dir = std::env::temp_dir().join(format!("rubedo-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("damaged.rsnap");
    std::fs::write(&path, &bytes).unwrap();
    let e = load_file(&path, Limits::default(), &mut |_| {})
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        e.contains("damaged.rsnap") && e.contains("at offset "),
        "{e}"
    );
}

/// A Redis RDB file is read as one (told by its magic); a damaged one (here
/// its checksum is cut off) is refused with its name and the offset.
#[test]
fn a_damaged_redis_rdb_file_is_refused_with_its_name_and_offset() {
    let dir = std::env::temp_dir().join(format!("rubedo-rdb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dump.rdb");
    std::fs::write(&path, b"REDIS0010\xfa\x09redis-ver\x067.0.15\xff").unwrap();
    let e = load_file(&path, Limits::default(), &mut |_| {})
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(e.contains("dump.rdb") && e.contains("at offset "), "{e}");
}
