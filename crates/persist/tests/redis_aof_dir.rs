//! An AOF directory written by the real redis-server 7.0.15 (committed in
//! `tests/fixtures/redis-7.0.15-aof/`, see its README): its manifest and
//! files must read as Redis wrote them, and manifests must come out byte
//! for byte as Redis writes them.

use std::path::PathBuf;

use bytes::Bytes;
use rubedo_persist::aof::commands::parse_all;
use rubedo_persist::aof::{
    detect_format, encode_command, AofFile, AofState, FileFormat, FileKind, Item, Manifest,
    ReadError,
};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/redis-7.0.15-aof")
}

fn cmd(args: &[&str]) -> Item {
    Item::Command(
        args.iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect(),
    )
}

fn file(name: &str, seq: u64, kind: FileKind) -> AofFile {
    AofFile {
        name: name.into(),
        seq,
        kind,
    }
}

#[test]
fn manifest_of_the_directory() {
    let dir = fixtures().join("appendonlydir");
    let bytes = std::fs::read(dir.join("appendonly.aof.manifest")).unwrap();
    let m = Manifest::read_from_dir(&dir, "appendonly.aof")
        .unwrap()
        .expect("a manifest");
    assert_eq!(
        m.base,
        Some(file("appendonly.aof.2.base.aof", 2, FileKind::Base))
    );
    assert_eq!(
        m.incrs,
        vec![file("appendonly.aof.2.incr.aof", 2, FileKind::Incr)]
    );
    assert!(m.history.is_empty());
    assert_eq!((m.next_base_seq(), m.next_incr_seq()), (3, 3));
    assert_eq!(m.to_bytes(), bytes);
    let order: Vec<_> = m.files_to_load().map(|f| f.name.as_str()).collect();
    assert_eq!(
        order,
        ["appendonly.aof.2.base.aof", "appendonly.aof.2.incr.aof"]
    );
}

#[test]
fn manifests_round_trip_byte_for_byte() {
    for name in [
        "manifest-with-history",
        "manifest-aof-off-rewrite",
        "manifest-quoted",
    ] {
        let bytes = std::fs::read(fixtures().join(name)).unwrap();
        let m = Manifest::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            String::from_utf8_lossy(&m.to_bytes()),
            String::from_utf8_lossy(&bytes),
            "{name}"
        );
    }
    let quoted =
        Manifest::parse(&std::fs::read(fixtures().join("manifest-quoted")).unwrap()).unwrap();
    assert_eq!(
        quoted.base.unwrap().name,
        "my \"f\"ile\ttab\u{e9}.aof.1.base.rdb"
    );
}

/// The history manifest was written by two rewrites with
/// `aof-disable-auto-gc yes`, then the log turned off and one more
/// rewrite: the operations must produce exactly what Redis wrote.
#[test]
fn operations_reproduce_what_redis_wrote() {
    let p = "appendonly.aof";
    let mut m = Manifest::new();
    // Startup, empty: base 1 and incr 1.
    m.new_base(p, true);
    m.last_incr_or_new(p);
    for _ in 0..2 {
        // BGREWRITEAOF: a new incr now, the rest when it finishes.
        m.new_incr(p);
        m.finish_rewrite(p, true, AofState::On);
    }
    let with_history = std::fs::read(fixtures().join("manifest-with-history")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&m.to_bytes()),
        String::from_utf8_lossy(&with_history)
    );
    // CONFIG SET appendonly no, then BGREWRITEAOF: no new incr, and every
    // incr becomes history.
    m.finish_rewrite(p, true, AofState::Off);
    let off = std::fs::read(fixtures().join("manifest-aof-off-rewrite")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&m.to_bytes()),
        String::from_utf8_lossy(&off)
    );
}

#[test]
fn base_file_commands() {
    let data = std::fs::read(fixtures().join("appendonlydir/appendonly.aof.2.base.aof")).unwrap();
    assert_eq!(detect_format(&data), FileFormat::Commands);
    let p = parse_all(&data);
    assert!(p.error.is_none(), "{:?}", p.error);
    assert_eq!(p.valid_up_to, data.len() as u64);
    assert_eq!(
        p.items,
        vec![
            Item::Timestamp(1796410168),
            cmd(&["SELECT", "0"]),
            cmd(&["SET", "greeting", "hello"]),
            cmd(&["PEXPIREAT", "greeting", "1796510168153"]),
            cmd(&["SET", "counter", "11"]),
            cmd(&["ZADD", "board", "1", "alice", "2.5", "bob"]),
            cmd(&["HMSET", "user:1", "name", "ada", "lang", "rust"]),
            cmd(&["RPUSH", "queue", "a", "b", "c"]),
            cmd(&["SELECT", "2"]),
            cmd(&["SET", "other", "two words"]),
        ]
    );
}

#[test]
fn incr_file_commands() {
    let data = std::fs::read(fixtures().join("appendonlydir/appendonly.aof.2.incr.aof")).unwrap();
    let p = parse_all(&data);
    assert!(p.error.is_none(), "{:?}", p.error);
    assert_eq!(p.open_multi, None);
    assert_eq!(p.valid_up_to, data.len() as u64);
    assert_eq!(
        p.items,
        vec![
            Item::Timestamp(1796410169),
            cmd(&["SELECT", "0"]),
            cmd(&["set", "after", "rewrite"]),
            cmd(&["MULTI"]),
            cmd(&["INCR", "counter"]),
            cmd(&["RPUSH", "queue", "d"]),
            cmd(&["EXEC"]),
            cmd(&["zadd", "board", "3", "carol"]),
            cmd(&["PEXPIREAT", "after", "1796415169710"]),
            cmd(&["SELECT", "3"]),
            cmd(&["hset", "h3", "f", "v"]),
            cmd(&["SELECT", "0"]),
            cmd(&["del", "queue"]),
            cmd(&["sadd", "tags", "x", "y"]),
            Item::Timestamp(1796410170),
            cmd(&["set", "late", "1"]),
        ]
    );
    // Our encoder writes Redis's bytes: re-encoding the commands gives
    // the file back once the annotations are put back in.
    let mut again = Vec::new();
    for it in &p.items {
        match it {
            Item::Command(argv) => encode_command(&mut again, argv),
            Item::Timestamp(t) => rubedo_persist::aof::encode_timestamp(&mut again, *t),
            Item::Annotation(_) => unreachable!(),
        }
    }
    assert_eq!(again, data);
}

/// Cutting Redis's incr file anywhere gives a clean end exactly at a
/// command boundary and a truncation at the last boundary otherwise; cut
/// inside the transaction, the MULTI is reported open.
#[test]
fn incr_file_cut_anywhere() {
    let data = std::fs::read(fixtures().join("appendonlydir/appendonly.aof.2.incr.aof")).unwrap();
    let whole = parse_all(&data);
    let mut boundaries = vec![0u64];
    {
        let mut r = rubedo_persist::aof::CommandReader::new(&data[..]);
        while r.next_item().unwrap().is_some() {
            boundaries.push(r.offset());
        }
    }
    let multi_at = boundaries[3];
    let exec_end = boundaries[7];
    for k in 0..=data.len() {
        let p = parse_all(&data[..k]);
        let last = *boundaries.iter().rfind(|&&b| b <= k as u64).unwrap();
        assert_eq!(p.valid_up_to, last, "cut at {k}");
        let n = boundaries.iter().filter(|&&b| b <= k as u64).count() - 1;
        assert_eq!(p.items[..], whole.items[..n], "cut at {k}");
        if last == k as u64 {
            assert!(p.error.is_none(), "cut at {k}: {:?}", p.error);
        } else {
            assert!(
                matches!(p.error, Some(ReadError::Truncated { valid_up_to }) if valid_up_to == last),
                "cut at {k}: {:?}",
                p.error
            );
        }
        let open = last > multi_at && last < exec_end;
        assert_eq!(p.open_multi, open.then_some(multi_at), "cut at {k}");
    }
}
