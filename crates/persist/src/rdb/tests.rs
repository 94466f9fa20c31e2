//! Unit tests of the value codec: lengths, strings, every type both ways.

use super::input::{self, SliceInput};
use super::write::{put_len, put_string};
use super::*;
use rubedo_engine::types::{hash::Hash, list::List, set::Set, zset::ZSet};
use rubedo_engine::Str;

fn lim() -> Limits {
    Limits::default()
}

#[test]
fn lengths_round_trip() {
    for n in [
        0u64,
        1,
        63,
        64,
        16383,
        16384,
        u32::MAX as u64,
        u32::MAX as u64 + 1,
        u64::MAX,
    ] {
        let mut v = Vec::new();
        put_len(&mut v, n).unwrap();
        let want = match n {
            0..=63 => 1,
            64..=16383 => 2,
            16384..=0xffff_ffff => 5,
            _ => 9,
        };
        assert_eq!(v.len(), want, "{n}");
        let mut inp = SliceInput::new(&v);
        assert_eq!(input::len(&mut inp).unwrap(), n);
        assert_eq!(inp.pos(), v.len());
    }
}

#[test]
fn strings_pick_redis_encodings() {
    let enc = |s: &[u8], compress: bool| {
        let mut v = Vec::new();
        put_string(&mut v, s, compress).unwrap();
        v
    };
    assert_eq!(enc(b"12", true), [0xc0, 12]);
    assert_eq!(enc(b"-128", true), [0xc0, 0x80]);
    assert_eq!(enc(b"1000", true), [0xc1, 0xe8, 0x03]);
    assert_eq!(enc(b"100000", true), [0xc2, 0xa0, 0x86, 0x01, 0x00]);
    assert_eq!(enc(b"12345678901", true)[0], 11);
    assert_eq!(enc(b"0123", true), b"\x040123");
    assert_eq!(enc(b"", true), [0]);
    assert_eq!(
        enc(&[b'a'; 93], true),
        b"\xc3\x09\x40\x5d\x01aa\xe0P\x00\x01aa"
    );
    assert_eq!(enc(&[b'a'; 93], false)[..2], [0x40, 93]);
    // Too short to try compression.
    assert_eq!(enc(&[b'a'; 20], true)[0], 20);
    for s in [
        &b"12"[..],
        b"-2147483648",
        b"2147483648",
        b"abc",
        &[b'z'; 500],
    ] {
        let v = enc(s, true);
        assert_eq!(input::string(&mut SliceInput::new(&v)).unwrap(), s);
    }
}

fn round(v: &Value) -> Value {
    let mut out = Vec::new();
    write_value(&mut out, v, true);
    let (got, used) = read_value(out[0], &out[1..], &lim()).unwrap();
    assert_eq!(used, out.len() - 1);
    let p = dump_payload(v, false);
    assert_eq!(restore_payload(&p, &lim()).unwrap(), got);
    got
}

#[test]
fn every_type_round_trips() {
    let l = lim();
    let s = Value::Str(Str::from_bytes(b"hello"));
    assert_eq!(round(&s), s);
    let mut list = List::new();
    for i in 0..5000 {
        list.push_back(format!("item-{i}").as_bytes(), -2);
    }
    list.push_back(&vec![b'x'; 20000], -2);
    let list = Value::List(Box::new(list));
    assert_eq!(round(&list), list);
    let mut set = Set::new();
    for m in [&b"1"[..], b"-5", b"99999999999"] {
        set.add(m, 512);
    }
    let set = Value::Set(Box::new(set));
    assert_eq!(round(&set).encoding(), "intset");
    assert_eq!(round(&set), set);
    let mut set = Set::new();
    for m in [&b"a"[..], b"1"] {
        set.add(m, 512);
    }
    let set = Value::Set(Box::new(set));
    assert_eq!(round(&set), set);
    let mut z = ZSet::new();
    for (m, sc) in [("a", 1.0), ("b", 0.1), ("c", f64::INFINITY), ("d", -1e300)] {
        z.insert(m.as_bytes(), sc, l.zset);
    }
    let z = Value::ZSet(Box::new(z));
    assert_eq!(round(&z).encoding(), "listpack");
    assert_eq!(round(&z), z);
    let mut big = ZSet::new();
    for i in 0..3000 {
        big.insert(format!("m{i}").as_bytes(), i as f64 / 7.0, l.zset);
    }
    let big = Value::ZSet(Box::new(big));
    assert_eq!(round(&big).encoding(), "skiplist");
    assert_eq!(round(&big), big);
    let mut h = Hash::new();
    h.set(b"f", b"1", l.hash);
    h.set(b"123", b"v", l.hash);
    let h = Value::Hash(Box::new(h));
    assert_eq!(round(&h).encoding(), "listpack");
    assert_eq!(round(&h), h);
    let mut h = Hash::new();
    for i in 0..600 {
        h.set(format!("f{i}").as_bytes(), b"v", l.hash);
    }
    let h = Value::Hash(Box::new(h));
    assert_eq!(round(&h).encoding(), "hashtable");
    assert_eq!(round(&h), h);
}

#[test]
fn payload_checks() {
    let v = Value::Str(Str::from_bytes(b"v"));
    let p = dump_payload(&v, true);
    assert_eq!(restore_payload(&p, &lim()), Ok(v));
    let mut bad = p.clone();
    bad[1] ^= 1;
    assert_eq!(
        restore_payload(&bad, &lim()),
        Err(PayloadError::VersionOrChecksum)
    );
    let mut newer = p[..p.len() - 10].to_vec();
    newer.extend_from_slice(&11u16.to_le_bytes());
    let crc = crc64(&newer);
    newer.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(
        restore_payload(&newer, &lim()),
        Err(PayloadError::VersionOrChecksum)
    );
    let mut zero = p.clone();
    let n = zero.len();
    zero[n - 8..].fill(0);
    assert_eq!(
        restore_payload(&zero, &lim()),
        Err(PayloadError::VersionOrChecksum)
    );
    assert_eq!(
        restore_payload(b"short", &lim()),
        Err(PayloadError::VersionOrChecksum)
    );
    let seal = |body: &[u8]| {
        let mut p = body.to_vec();
        p.extend_from_slice(&VERSION.to_le_bytes());
        let crc = crc64(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    };
    assert!(matches!(
        restore_payload(&seal(b""), &lim()),
        Err(PayloadError::Bad(_))
    ));
    // As Redis, what follows the value is not looked at.
    assert!(matches!(
        restore_payload(&seal(b"\x00\x01vX"), &lim()),
        Ok(Value::Str(_))
    ));
    assert!(matches!(
        restore_payload(&seal(b"\x08\x01v"), &lim()),
        Err(PayloadError::Bad(_))
    ));
    assert!(matches!(
        restore_payload(&seal(b"\x02\x00"), &lim()),
        Err(PayloadError::Bad(_))
    ));
    assert!(matches!(
        restore_payload(&seal(b"\x0f\x00"), &lim()),
        Err(PayloadError::Bad(_))
    ));
    assert_eq!(
        restore_payload(&seal(b"\x00\x01v"), &lim()),
        Ok(Value::Str(Str::from_bytes(b"v")))
    );
}

#[test]
fn is_rdb_needs_the_digits() {
    assert!(is_rdb(b"REDIS0010\xfa"));
    assert!(is_rdb(b"REDIS0009"));
    assert!(!is_rdb(b"REDIS001"));
    assert!(!is_rdb(b"REDISx010"));
    assert!(!is_rdb(b"RUBEDOSN\x01\x00"));
}

#[test]
fn the_reader_stops_at_the_checksum() {
    // An RDB preamble followed by an AOF tail: the reader hands back what follows.
    let mut w = FileWriter::new(Vec::new(), &[("aof-base", "1".into())], true, true).unwrap();
    w.select_db(0, 1, 0).unwrap();
    w.key(b"k", &Value::Str(Str::from_bytes(b"v")), None, None)
        .unwrap();
    let mut file = w.finish().unwrap();
    let rdb_len = file.len() as u64;
    file.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    let mut r = FileReader::new(&file[..], None).unwrap();
    assert_eq!(r.version(), VERSION);
    let k = r.next_key(&lim()).unwrap().unwrap();
    assert_eq!((k.db, k.key.as_slice()), (0, &b"k"[..]));
    assert!(r.next_key(&lim()).unwrap().is_none());
    assert!(r.next_key(&lim()).unwrap().is_none());
    assert_eq!(r.offset(), rdb_len);
    assert_eq!(r.aux(), [(b"aof-base".to_vec(), b"1".to_vec())]);
    let (rest, buffered) = r.into_parts();
    assert_eq!([&buffered[..], rest].concat(), b"*1\r\n$4\r\nPING\r\n");
}

#[test]
fn a_huge_length_in_a_stream_of_unknown_size_costs_little() {
    // A string claiming 2^40 bytes in a stream whose size is not known is
    // read a step at a time and fails at the end of the data.
    let mut f = b"REDIS0010\xfe\x00\x00\x01k\x81".to_vec();
    f.extend_from_slice(&(1u64 << 40).to_be_bytes());
    f.extend_from_slice(b"abc");
    let mut r = FileReader::new(&f[..], None).unwrap();
    let e = r.next_key(&lim()).unwrap_err();
    assert!(e.reason.contains("ends early"), "{e}");
    let mut r = FileReader::new(&f[..], Some(f.len() as u64)).unwrap();
    let e = r.next_key(&lim()).unwrap_err();
    assert!(e.reason.contains("runs past the end of the file"), "{e}");
}
