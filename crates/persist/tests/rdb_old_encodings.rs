//! Encodings Redis 7.0 no longer writes but older files hold (linked
//! lists, ziplists, zipmaps, string doubles, version-1 quicklists) and
//! Redis 7.2's set listpack, built byte by byte from the format, and the
//! checks every reader must make on them.

use rubedo_engine::Value;
use rubedo_persist::rdb::{
    crc64, intset, listpack, read_value, restore_payload, ty, ziplist, FileReader, VERSION,
};
use rubedo_persist::snapshot::value::{Limits, Loaded};

fn lim() -> Limits {
    Limits::default()
}

fn len(out: &mut Vec<u8>, n: usize) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

fn string(out: &mut Vec<u8>, s: &[u8]) {
    len(out, s.len());
    out.extend_from_slice(s);
}

/// A string double of the old ZSET type.
fn sdouble(out: &mut Vec<u8>, s: &str) {
    match s {
        "nan" => out.push(253),
        "inf" => out.push(254),
        "-inf" => out.push(255),
        _ => {
            out.push(s.len() as u8);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// A file of `version` holding `keys` (type, key, body) in db 0.
fn file(version: u16, keys: &[(u8, &[u8], Vec<u8>)]) -> Vec<u8> {
    let mut f = format!("REDIS{version:04}").into_bytes();
    f.extend_from_slice(&[0xfe, 0]);
    for (t, k, body) in keys {
        f.push(*t);
        string(&mut f, k);
        f.extend_from_slice(body);
    }
    f.push(0xff);
    let crc = crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f
}

fn read_file(f: &[u8], lim: &Limits) -> Result<(Vec<Loaded>, u64), String> {
    let mut r = FileReader::new(f, Some(f.len() as u64)).map_err(|e| e.to_string())?;
    let mut keys = Vec::new();
    while let Some(k) = r.next_key(lim).map_err(|e| e.to_string())? {
        keys.push(k);
    }
    Ok((keys, r.empty_skipped()))
}

fn body_value(t: u8, body: &[u8], lim: &Limits) -> Result<Value, String> {
    let (v, used) = read_value(t, body, lim).map_err(|e| e.to_string())?;
    assert_eq!(used, body.len());
    Ok(v)
}

fn items(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match v {
        Value::Str(x) => out.push(s(&x.to_vec())),
        Value::List(l) => l.for_each(|e| out.push(s(e))),
        Value::Set(x) => {
            x.for_each(|e| out.push(s(e)));
            out.sort();
        }
        Value::Hash(h) => {
            let mut p = Vec::new();
            h.for_each(|f, v| p.push(format!("{}={}", s(f), s(v))));
            p.sort();
            out = p;
        }
        Value::ZSet(z) => z.for_each(|m, sc| out.push(format!("{}:{sc}", s(m)))),
    }
    out
}

fn blob(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    string(&mut out, b);
    out
}

#[test]
fn a_version_6_file_of_old_encodings() {
    let mut linked = Vec::new();
    len(&mut linked, 3);
    for e in [&b"a"[..], b"12", b"-7000"] {
        string(&mut linked, e);
    }
    linked[3] = 0xc0; // "12" as an int8 string instead of raw
    linked[4] = 12;
    linked.remove(5);
    let zl_list = blob(&ziplist::encode(&[b"x", b"300", b"y"]));
    let mut ql1 = Vec::new();
    len(&mut ql1, 3);
    ql1.extend_from_slice(&blob(&ziplist::encode(&[b"n1", b"n2"])));
    ql1.extend_from_slice(&blob(&ziplist::encode(&[])));
    ql1.extend_from_slice(&blob(&ziplist::encode(&[b"n3"])));
    let mut set_ints = Vec::new();
    len(&mut set_ints, 3);
    for m in [&b"5"[..], b"-3", b"100000"] {
        string(&mut set_ints, m);
    }
    let mut set_strs = Vec::new();
    len(&mut set_strs, 2);
    for m in [&b"5"[..], b"five"] {
        string(&mut set_strs, m);
    }
    let intset = blob(&intset::encode(&[-70000, 1, 2]));
    let mut zset1 = Vec::new();
    len(&mut zset1, 4);
    for (m, s) in [
        ("a", "3.5"),
        ("b", "-2"),
        ("top", "inf"),
        ("bottom", "-inf"),
    ] {
        string(&mut zset1, m.as_bytes());
        sdouble(&mut zset1, s);
    }
    let zzl = blob(&ziplist::encode(&[
        b"m1", b"1.5", b"m2", b"-1", b"m3", b"inf",
    ]));
    let mut hash = Vec::new();
    len(&mut hash, 2);
    for f in [&b"f1"[..], b"v1", b"f2", b"v2"] {
        string(&mut hash, f);
    }
    let hzl = blob(&ziplist::encode(&[b"a", b"1", b"b", b"two"]));
    let zm = blob(b"\x02\x01k\x02\x00v1\x02kk\x02\x01v2X\xff");
    let f = file(
        6,
        &[
            (ty::LIST, b"linked", linked),
            (ty::LIST_ZIPLIST, b"zl-list", zl_list),
            (ty::LIST_QUICKLIST, b"ql1", ql1),
            (ty::SET, b"set-ints", set_ints),
            (ty::SET, b"set-strs", set_strs),
            (ty::SET_INTSET, b"intset", intset),
            (ty::ZSET, b"zset1", zset1),
            (ty::ZSET_ZIPLIST, b"zset-zl", zzl),
            (ty::HASH, b"hash", hash),
            (ty::HASH_ZIPLIST, b"hash-zl", hzl),
            (ty::HASH_ZIPMAP, b"zipmap", zm),
        ],
    );
    let (keys, empty) = read_file(&f, &lim()).unwrap();
    assert_eq!(empty, 0);
    let got: Vec<(String, Vec<String>, &str)> = keys
        .iter()
        .map(|k| {
            (
                String::from_utf8_lossy(&k.key).into_owned(),
                items(&k.value),
                k.value.encoding(),
            )
        })
        .collect();
    let want: Vec<(&str, Vec<&str>, &str)> = vec![
        ("linked", vec!["a", "12", "-7000"], "quicklist"),
        ("zl-list", vec!["x", "300", "y"], "quicklist"),
        ("ql1", vec!["n1", "n2", "n3"], "quicklist"),
        ("set-ints", vec!["-3", "100000", "5"], "intset"),
        ("set-strs", vec!["5", "five"], "hashtable"),
        ("intset", vec!["-70000", "1", "2"], "intset"),
        (
            "zset1",
            vec!["bottom:-inf", "b:-2", "a:3.5", "top:inf"],
            "listpack",
        ),
        ("zset-zl", vec!["m2:-1", "m1:1.5", "m3:inf"], "listpack"),
        ("hash", vec!["f1=v1", "f2=v2"], "listpack"),
        ("hash-zl", vec!["a=1", "b=two"], "listpack"),
        ("zipmap", vec!["k=v1", "kk=v2"], "listpack"),
    ];
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.0, w.0);
        assert_eq!(g.1, w.1, "{}", w.0);
        assert_eq!(g.2, w.2, "{}", w.0);
    }
}

#[test]
fn expiry_records_of_both_units() {
    let mut f = b"REDIS0007\xfe\x00".to_vec();
    f.push(253); // EXPIRETIME, seconds
    f.extend_from_slice(&2_000_000_000i32.to_le_bytes());
    f.extend_from_slice(b"\x00\x01a\x01x");
    f.push(252); // EXPIRETIME_MS
    f.extend_from_slice(&1_234_567_890_123i64.to_le_bytes());
    f.push(248); // IDLE
    f.push(0x40);
    f.push(200);
    f.extend_from_slice(b"\x00\x01b\x01y");
    f.extend_from_slice(b"\x00\x01c\x01z");
    f.extend_from_slice(b"\xfe\x03\xfb\x01\x00\x00\x01d\x01w");
    f.push(0xff);
    f.extend_from_slice(&[0; 8]); // no checksum kept
    let (keys, _) = read_file(&f, &lim()).unwrap();
    let got: Vec<_> = keys
        .iter()
        .map(|k| (k.db, k.key.clone(), k.expire_at_ms, k.idle_secs))
        .collect();
    assert_eq!(
        got,
        [
            (0, b"a".to_vec(), Some(2_000_000_000_000), None),
            (0, b"b".to_vec(), Some(1_234_567_890_123), Some(200)),
            (0, b"c".to_vec(), None, None),
            (3, b"d".to_vec(), None, None),
        ]
    );
}

#[test]
fn version_11_set_listpack_and_quicklist_nodes() {
    let mut lp = listpack::Builder::new();
    for m in [&b"a"[..], b"7", b"bb"] {
        lp.push(m);
    }
    let set_lp = blob(&lp.finish());
    let mut ql2 = Vec::new();
    len(&mut ql2, 3);
    ql2.push(2);
    let mut n1 = listpack::Builder::new();
    n1.push(b"p1");
    n1.push(b"10");
    ql2.extend_from_slice(&blob(&n1.finish()));
    ql2.push(1);
    ql2.extend_from_slice(&blob(&[b'P'; 300]));
    ql2.push(2);
    ql2.extend_from_slice(&blob(&listpack::Builder::new().finish()));
    let f = file(
        11,
        &[
            (ty::SET_LISTPACK, b"s", set_lp),
            (ty::LIST_QUICKLIST_2, b"l", ql2),
        ],
    );
    let (keys, _) = read_file(&f, &lim()).unwrap();
    assert_eq!(items(&keys[0].value), ["7", "a", "bb"]);
    assert_eq!(keys[0].value.encoding(), "hashtable");
    let l = items(&keys[1].value);
    assert_eq!(l.len(), 3);
    assert_eq!(&l[..2], ["p1", "10"]);
    assert_eq!(l[2], "P".repeat(300));
}

#[test]
fn empty_values_are_skipped_and_counted() {
    let mut empty_list = Vec::new();
    len(&mut empty_list, 1);
    empty_list.push(2);
    empty_list.extend_from_slice(&blob(&listpack::Builder::new().finish()));
    let f = file(
        10,
        &[
            (ty::SET, b"s", vec![0]),
            (
                ty::HASH_LISTPACK,
                b"h",
                blob(&listpack::Builder::new().finish()),
            ),
            (ty::LIST_QUICKLIST_2, b"l", empty_list),
            (ty::STRING, b"k", blob(b"")),
        ],
    );
    let (keys, empty) = read_file(&f, &lim()).unwrap();
    assert_eq!(empty, 3);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key, b"k");
}

#[test]
fn loading_rebuilds_encodings_from_the_limits() {
    let mut lp = listpack::Builder::new();
    for i in 0..600 {
        lp.push(format!("f{i}").as_bytes());
        lp.push(b"v");
    }
    let v = body_value(ty::HASH_LISTPACK, &blob(&lp.finish()), &lim()).unwrap();
    assert_eq!(v.encoding(), "hashtable");
    let mut big = lim();
    big.hash.entries = 1000;
    let mut lp = listpack::Builder::new();
    for i in 0..600 {
        lp.push(format!("f{i}").as_bytes());
        lp.push(b"v");
    }
    let v = body_value(ty::HASH_LISTPACK, &blob(&lp.finish()), &big).unwrap();
    assert_eq!(v.encoding(), "listpack");
    let mut zset2 = Vec::new();
    len(&mut zset2, 2);
    for (m, s) in [("a", 1.0f64), ("b", 2.0)] {
        string(&mut zset2, m.as_bytes());
        zset2.extend_from_slice(&s.to_le_bytes());
    }
    let v = body_value(ty::ZSET_2, &zset2, &lim()).unwrap();
    assert_eq!(v.encoding(), "listpack");
    let ints: Vec<i64> = (0..600).collect();
    let v = body_value(ty::SET_INTSET, &blob(&intset::encode(&ints)), &lim()).unwrap();
    assert_eq!(v.encoding(), "hashtable");
}

fn bad(t: u8, body: &[u8]) -> String {
    match body_value(t, body, &lim()) {
        Ok(v) => panic!("accepted: {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn damage_and_duplicates_are_errors() {
    let mut dup_set = Vec::new();
    len(&mut dup_set, 2);
    string(&mut dup_set, b"x");
    string(&mut dup_set, b"x");
    assert!(bad(ty::SET, &dup_set).contains("duplicate set member"));
    let mut lp = listpack::Builder::new();
    lp.push(b"1");
    lp.push(b"1");
    assert!(bad(ty::SET_LISTPACK, &blob(&lp.finish())).contains("duplicate"));
    let mut h = Vec::new();
    len(&mut h, 2);
    for f in [&b"f"[..], b"1", b"f", b"2"] {
        string(&mut h, f);
    }
    assert!(bad(ty::HASH, &h).contains("duplicate hash field"));
    assert!(bad(
        ty::HASH_ZIPLIST,
        &blob(&ziplist::encode(&[b"f", b"1", b"f", b"2"]))
    )
    .contains("duplicate"));
    assert!(bad(
        ty::HASH_ZIPLIST,
        &blob(&ziplist::encode(&[b"f", b"1", b"g"]))
    )
    .contains("odd"));
    assert!(bad(
        ty::ZSET_ZIPLIST,
        &blob(&ziplist::encode(&[b"m", b"1", b"m", b"2"]))
    )
    .contains("duplicate"));
    assert!(
        bad(ty::ZSET_ZIPLIST, &blob(&ziplist::encode(&[b"m", b"x1"]))).contains("not a number")
    );
    let mut z = Vec::new();
    len(&mut z, 1);
    string(&mut z, b"m");
    sdouble(&mut z, "nan");
    assert!(bad(ty::ZSET, &z).contains("NaN"));
    let mut z2 = Vec::new();
    len(&mut z2, 1);
    string(&mut z2, b"m");
    z2.extend_from_slice(&f64::NAN.to_le_bytes());
    assert!(bad(ty::ZSET_2, &z2).contains("NaN"));
    assert!(bad(ty::SET_INTSET, &blob(&intset::encode_width(&[2, 1], 2))).contains("order"));
    assert!(bad(ty::LIST_QUICKLIST_2, b"\x01\x03\x01x").contains("container"));
    assert!(bad(ty::HASH_ZIPMAP, &blob(b"\x01\x01k\x01\x00v")).contains("zipmap"));
    assert!(bad(ty::STREAM_LISTPACKS, b"").contains("stream"));
    assert!(bad(ty::MODULE_2, b"").contains("module"));
    assert!(bad(8, b"").contains("unknown value type 8"));
    // A length far beyond the data allocates nothing and fails.
    assert!(bad(ty::STRING, b"\x81\x7f\xff\xff\xff\xff\xff\xff\xff").contains("runs past"));
    assert!(bad(
        ty::STRING,
        b"\xc3\x05\x81\x7f\xff\xff\xff\xff\xff\xff\xff\x00abcd"
    )
    .contains("LZF"));
    assert!(bad(ty::LIST, b"\x80\xff\xff\xff\xff\x01a").contains("ends early"));
}

#[test]
fn file_level_refusals() {
    let module = file(10, &[(ty::MODULE_2, b"mk", vec![0])]);
    let e = read_file(&module, &lim()).unwrap_err();
    assert!(
        e.contains("the key 'mk' is a module value: Rubedo has no modules"),
        "{e}"
    );
    let mut aux = b"REDIS0010\xf7".to_vec();
    aux.extend_from_slice(&[0; 20]);
    assert!(read_file(&aux, &lim()).unwrap_err().contains("module data"));
    // A release candidate's function record cut short names what is missing.
    let pre = b"REDIS0010\xf6\x00\x01x".to_vec();
    assert!(read_file(&pre, &lim())
        .unwrap_err()
        .contains("a function record: Failed loading library description indicator"));
    let mut wrong = file(10, &[(ty::STRING, b"k", blob(b"v"))]);
    let n = wrong.len();
    wrong[n - 1] ^= 1;
    assert!(read_file(&wrong, &lim()).unwrap_err().contains("checksum"));
    let unknown = file(10, &[(200, b"k", vec![])]);
    assert!(read_file(&unknown, &lim())
        .unwrap_err()
        .contains("unknown record type 200"));
}

#[test]
fn release_candidate_function_records_are_read_as_libraries() {
    let mut f = b"REDIS0010\xf6\x02fa\x03LUA\x01\x01d\x08return 1".to_vec();
    f.extend_from_slice(b"\xff\0\0\0\0\0\0\0\0");
    let mut r = FileReader::new(&f[..], Some(f.len() as u64)).unwrap();
    assert!(r.next_key(&lim()).unwrap().is_none());
    assert_eq!(r.functions(), [b"#!LUA name=fa\nreturn 1".to_vec()]);
}

#[test]
fn restore_takes_old_encodings_and_ignores_trailing_bytes() {
    let seal = |body: &[u8], version: u16| {
        let mut p = body.to_vec();
        p.extend_from_slice(&version.to_le_bytes());
        let crc = crc64(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    };
    let mut b = vec![ty::LIST_ZIPLIST];
    b.extend_from_slice(&blob(&ziplist::encode(&[b"a", b"b"])));
    let v = restore_payload(&seal(&b, 6), &lim()).unwrap();
    assert_eq!(items(&v), ["a", "b"]);
    // As Redis, bytes after the value are not looked at.
    b.push(0);
    let v = restore_payload(&seal(&b, VERSION), &lim()).unwrap();
    assert_eq!(items(&v), ["a", "b"]);
}
