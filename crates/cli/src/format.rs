//! Reply formatting, as redis-cli prints replies.
//!
//! Two styles:
//! - **TTY** (the default on a terminal, or with `--no-raw`): typed and
//!   quoted, e.g. `(integer) 1`, `"bar"`, numbered nested lists.
//! - **raw** (the default when stdout is not a terminal, or with `--raw`):
//!   bare values, aggregate elements separated by a delimiter (`-d`, `\n` by
//!   default).
//!
//! Everything here is a pure function from a [`Frame`] to bytes.

use rubedo_resp::{quote_into, Frame};

/// A TTY-style rendering of `frame`, ending with a newline.
pub fn tty(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    tty_into(&mut out, frame, b"");
    out
}

/// A raw rendering of `frame`. Aggregate elements are joined with
/// `bulk_delim`; no delimiter is added after the whole reply (the caller
/// appends the response delimiter, `-D`, when it should).
pub fn raw(frame: &Frame, bulk_delim: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    raw_into(&mut out, frame, bulk_delim);
    out
}

/// A TTY rendering of an out-of-band push message: client-side caching
/// invalidations of named keys get the one-line form
/// `-> invalidate: 'k1', 'k2'`; anything else is formatted as usual.
pub fn tty_push(frame: &Frame) -> Vec<u8> {
    if let Frame::Push(items) = frame {
        if let [kind, Frame::Array(keys)] = items.as_slice() {
            if bytes_of(kind).is_some_and(|k| k.eq_ignore_ascii_case(b"invalidate")) {
                let mut out = b"-> invalidate: ".to_vec();
                for (i, key) in keys.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    out.push(b'\'');
                    match bytes_of(key) {
                        Some(k) => out.extend_from_slice(k),
                        None => out.extend_from_slice(&raw(key, b" ")),
                    }
                    out.push(b'\'');
                }
                out.push(b'\n');
                return out;
            }
        }
    }
    tty(frame)
}

/// Commands whose replies redis-cli always prints raw, even in TTY mode:
/// they are human-readable reports.
pub fn prints_raw(args: &[Vec<u8>]) -> bool {
    let Some(name) = args.first() else {
        return false;
    };
    let is = |a: &[u8], b: &str| a.eq_ignore_ascii_case(b.as_bytes());
    if is(name, "info") || is(name, "lolwut") {
        return true;
    }
    let Some(sub) = args.get(1) else {
        return false;
    };
    let pairs: &[(&str, &[&str])] = &[
        ("client", &["list", "info"]),
        ("cluster", &["nodes", "info"]),
        ("memory", &["doctor", "malloc-stats"]),
        ("latency", &["doctor", "graph"]),
        ("debug", &["htstats", "htstats-key"]),
    ];
    pairs
        .iter()
        .any(|(cmd, subs)| is(name, cmd) && subs.iter().any(|s| is(sub, s)))
}

/// The payload of a string-like frame.
fn bytes_of(frame: &Frame) -> Option<&[u8]> {
    match frame {
        Frame::Simple(b) | Frame::Bulk(b) | Frame::Error(b) | Frame::BigNumber(b) => Some(b),
        Frame::Verbatim { data, .. } => Some(data),
        _ => None,
    }
}

/// The members of an aggregate, and the marker written after each index:
/// `)` for arrays and pushes, `#` for maps, `~` for sets.
enum Members<'a> {
    List(&'a [Frame], u8),
    Pairs(&'a [(Frame, Frame)]),
}

fn tty_into(out: &mut Vec<u8>, frame: &Frame, prefix: &[u8]) {
    let members = match frame {
        Frame::Error(e) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(e);
            out.push(b'\n');
            return;
        }
        Frame::Simple(s) => {
            out.extend_from_slice(s);
            out.push(b'\n');
            return;
        }
        Frame::Integer(i) => {
            out.extend_from_slice(format!("(integer) {i}\n").as_bytes());
            return;
        }
        Frame::Double(d) => {
            out.extend_from_slice(format!("(double) {}\n", fmt_double(*d)).as_bytes());
            return;
        }
        Frame::Bulk(b) => {
            quote_into(out, b);
            out.push(b'\n');
            return;
        }
        Frame::Verbatim { data, .. } => {
            out.extend_from_slice(data);
            out.push(b'\n');
            return;
        }
        Frame::Null | Frame::NullArray => {
            out.extend_from_slice(b"(nil)\n");
            return;
        }
        Frame::Boolean(b) => {
            out.extend_from_slice(if *b { b"(true)\n" } else { b"(false)\n" });
            return;
        }
        Frame::BigNumber(n) => {
            out.extend_from_slice(b"(big number) ");
            out.extend_from_slice(n);
            out.push(b'\n');
            return;
        }
        Frame::Attribute(_, inner) => return tty_into(out, inner, prefix),
        // Only the server builds these; shown as they are.
        Frame::Raw(b) => {
            out.extend_from_slice(b);
            return;
        }
        Frame::Pairs(p) => return tty_into(out, &nested(p), prefix),
        Frame::Array(items) => Members::List(items, b')'),
        Frame::Push(items) => Members::List(items, b')'),
        Frame::Set(items) => Members::List(items, b'~'),
        Frame::Map(pairs) => Members::Pairs(pairs),
    };

    let count = match &members {
        Members::List(items, _) => items.len(),
        Members::Pairs(pairs) => pairs.len(),
    };
    if count == 0 {
        let empty: &[u8] = match frame {
            Frame::Map(_) => b"(empty hash)\n",
            Frame::Set(_) => b"(empty set)\n",
            Frame::Push(_) => b"(empty push)\n",
            _ => b"(empty array)\n",
        };
        out.extend_from_slice(empty);
        return;
    }

    // Indices are right-aligned to the width of the largest one; nested
    // lines are indented past "N) ".
    let width = count.to_string().len();
    let mut inner = prefix.to_vec();
    inner.resize(prefix.len() + width + 2, b' ');
    let marker = match members {
        Members::List(_, m) => m,
        Members::Pairs(_) => b'#',
    };
    for i in 0..count {
        if i > 0 {
            out.extend_from_slice(prefix);
        }
        out.extend_from_slice(format!("{:>width$}", i + 1).as_bytes());
        out.push(marker);
        out.push(b' ');
        match members {
            Members::List(items, _) => tty_into(out, &items[i], &inner),
            Members::Pairs(pairs) => {
                let (key, value) = &pairs[i];
                tty_into(out, key, &inner);
                if out.last() == Some(&b'\n') {
                    out.pop();
                }
                out.extend_from_slice(b" => ");
                // A non-empty array or map value starts on its own line.
                let own_line = match value {
                    Frame::Array(v) => !v.is_empty(),
                    Frame::Map(v) => !v.is_empty(),
                    _ => false,
                };
                if own_line {
                    out.push(b'\n');
                    out.extend_from_slice(&inner);
                }
                tty_into(out, value, &inner);
            }
        }
    }
}

fn raw_into(out: &mut Vec<u8>, frame: &Frame, delim: &[u8]) {
    match frame {
        Frame::Error(e) => {
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        Frame::Simple(b) | Frame::Bulk(b) | Frame::BigNumber(b) => out.extend_from_slice(b),
        Frame::Verbatim { data, .. } => out.extend_from_slice(data),
        Frame::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Frame::Double(d) => out.extend_from_slice(fmt_double(*d).as_bytes()),
        Frame::Boolean(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Frame::Null | Frame::NullArray => {}
        Frame::Attribute(_, inner) => raw_into(out, inner, delim),
        Frame::Raw(b) => out.extend_from_slice(b),
        Frame::Pairs(p) => raw_into(out, &nested(p), delim),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(delim);
                }
                raw_into(out, item, delim);
            }
        }
        Frame::Map(pairs) => {
            for (i, (key, value)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(delim);
                }
                raw_into(out, key, delim);
                out.push(b' ');
                raw_into(out, value, delim);
            }
        }
    }
}

/// Pairs (built only by the server) shown as RESP3 reads them.
fn nested(pairs: &[(Frame, Frame)]) -> Frame {
    Frame::Array(
        pairs
            .iter()
            .map(|(a, b)| Frame::Array(vec![a.clone(), b.clone()]))
            .collect(),
    )
}

/// A double as Redis writes it on the wire (C's `%.17g`), which is what
/// redis-cli shows: `1.5`, `0.10000000000000001`, `1e+20`, `inf`.
pub fn fmt_double(v: f64) -> String {
    if v.is_nan() {
        return "nan".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // 17 significant digits, exactly rounded; the exponent is the one after
    // rounding, as %g uses it to choose the notation.
    let sci = format!("{v:.16e}");
    let (mantissa, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if !(-4..17).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim_fraction(mantissa), exp.abs())
    } else {
        let decimals = (16 - exp) as usize;
        trim_fraction(&format!("{v:.decimals$}")).to_string()
    }
}

/// Drop trailing zeros of a fraction, and the point if nothing is left.
fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    // Expected texts below were taken from redis-cli 7.0.15 talking to
    // redis-server 7.0.15 (`--no-raw` for TTY, a pipe for raw).

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }
    fn int(i: i64) -> Frame {
        Frame::Integer(i)
    }
    fn arr(v: Vec<Frame>) -> Frame {
        Frame::Array(v)
    }
    fn map(v: Vec<(&str, Frame)>) -> Frame {
        Frame::Map(v.into_iter().map(|(k, v)| (bulk(k), v)).collect())
    }
    fn t(f: &Frame) -> String {
        String::from_utf8(tty(f)).unwrap()
    }
    fn r(f: &Frame) -> String {
        String::from_utf8(raw(f, b"\n")).unwrap()
    }

    #[test]
    fn tty_scalars() {
        assert_eq!(t(&Frame::ok()), "OK\n");
        assert_eq!(t(&bulk("bar")), "\"bar\"\n");
        assert_eq!(t(&int(-3)), "(integer) -3\n");
        assert_eq!(t(&Frame::Null), "(nil)\n");
        assert_eq!(t(&Frame::NullArray), "(nil)\n");
        assert_eq!(
            t(&Frame::error("ERR value is not an integer or out of range")),
            "(error) ERR value is not an integer or out of range\n"
        );
        assert_eq!(t(&Frame::Double(1.5)), "(double) 1.5\n");
        assert_eq!(t(&Frame::Double(0.1)), "(double) 0.10000000000000001\n");
        assert_eq!(t(&Frame::Boolean(true)), "(true)\n");
        assert_eq!(t(&Frame::Boolean(false)), "(false)\n");
        assert_eq!(
            t(&Frame::BigNumber(Bytes::from_static(
                b"1234567890123456789012"
            ))),
            "(big number) 1234567890123456789012\n"
        );
        let verb = Frame::Verbatim {
            format: *b"txt",
            data: Bytes::from_static(b"Redis ver. 7.0.15\n"),
        };
        assert_eq!(t(&verb), "Redis ver. 7.0.15\n\n");
    }

    #[test]
    fn tty_quoting() {
        let v = b"a\x00b\x01\n\r\t\x07\x08\"\\ \xc3\xa9\x7f~";
        assert_eq!(
            t(&Frame::bulk(v)),
            "\"a\\x00b\\x01\\n\\r\\t\\a\\b\\\"\\\\ \\xc3\\xa9\\x7f~\"\n"
        );
        assert_eq!(t(&bulk("")), "\"\"\n");
    }

    #[test]
    fn tty_arrays() {
        assert_eq!(t(&arr(vec![])), "(empty array)\n");
        assert_eq!(
            t(&arr(vec![bulk("bar"), Frame::Null, bulk("bar")])),
            "1) \"bar\"\n2) (nil)\n3) \"bar\"\n"
        );
        // eval 'return {1,{2,{3,"x"}},nil,"a"}' 0  (Lua stops at nil)
        let nested = arr(vec![
            int(1),
            arr(vec![int(2), arr(vec![int(3), bulk("x")])]),
        ]);
        assert_eq!(
            t(&nested),
            "1) (integer) 1\n2) 1) (integer) 2\n   2) 1) (integer) 3\n      2) \"x\"\n"
        );
        assert_eq!(t(&arr(vec![arr(vec![])])), "1) (empty array)\n");
        assert_eq!(
            t(&arr(vec![int(1), Frame::error("MYERR x")])),
            "1) (integer) 1\n2) (error) MYERR x\n"
        );
    }

    #[test]
    fn tty_index_width() {
        // eval 'return {1,2,3,4,5,6,7,8,9,10,{1,...,11}}' 0
        let eleven: Vec<Frame> = (1..=11).map(int).collect();
        let mut outer: Vec<Frame> = (1..=10).map(int).collect();
        outer.push(arr(eleven.clone()));
        let mut want = String::new();
        for i in 1..=9 {
            want += &format!(" {i}) (integer) {i}\n");
        }
        want += "10) (integer) 10\n";
        want += "11)  1) (integer) 1\n";
        for i in 2..=9 {
            want += &format!("     {i}) (integer) {i}\n");
        }
        want += "    10) (integer) 10\n    11) (integer) 11\n";
        assert_eq!(t(&arr(outer)), want);

        let mut want = "1)  1) (integer) 1\n".to_string();
        for i in 2..=9 {
            want += &format!("    {i}) (integer) {i}\n");
        }
        want += "   10) (integer) 10\n   11) (integer) 11\n";
        assert_eq!(t(&arr(vec![arr(eleven)])), want);
    }

    #[test]
    fn tty_maps_and_sets() {
        let h = map(vec![("f1", bulk("v1")), ("f2", bulk("v2"))]);
        assert_eq!(t(&h), "1# \"f1\" => \"v1\"\n2# \"f2\" => \"v2\"\n");
        assert_eq!(t(&Frame::Map(vec![])), "(empty hash)\n");
        assert_eq!(t(&Frame::Set(vec![])), "(empty set)\n");
        assert_eq!(
            t(&Frame::Set(vec![bulk("a"), bulk("b")])),
            "1~ \"a\"\n2~ \"b\"\n"
        );
        // Non-empty array and map values start on their own line ...
        assert_eq!(
            t(&map(vec![("a", arr(vec![int(1), int(2)]))])),
            "1# \"a\" => \n   1) (integer) 1\n   2) (integer) 2\n"
        );
        assert_eq!(
            t(&map(vec![(
                "a",
                map(vec![("b", arr(vec![int(1), arr(vec![int(2), int(3)])]))])
            )])),
            "1# \"a\" => \n   1# \"b\" => \n      1) (integer) 1\n      2) 1) (integer) 2\n         2) (integer) 3\n"
        );
        // ... empty ones and sets stay inline.
        assert_eq!(
            t(&map(vec![("a", arr(vec![]))])),
            "1# \"a\" => (empty array)\n"
        );
        assert_eq!(
            t(&map(vec![("a", Frame::Map(vec![]))])),
            "1# \"a\" => (empty hash)\n"
        );
        assert_eq!(
            t(&map(vec![("a", Frame::Set(vec![bulk("x")]))])),
            "1# \"a\" => 1~ \"x\"\n"
        );
        let two = arr(vec![
            map(vec![("a", arr(vec![int(1), int(2)]))]),
            map(vec![("a", arr(vec![int(1), int(2)])), ("b", int(1))]),
        ]);
        assert_eq!(
            t(&two),
            "1) 1# \"a\" => \n      1) (integer) 1\n      2) (integer) 2\n\
             2) 1# \"a\" => \n      1) (integer) 1\n      2) (integer) 2\n   2# \"b\" => (integer) 1\n"
        );
        // zrange z 0 -1 withscores, RESP3
        let z = arr(vec![
            arr(vec![bulk("a"), Frame::Double(1.5)]),
            arr(vec![bulk("b"), Frame::Double(2.0)]),
        ]);
        assert_eq!(
            t(&z),
            "1) 1) \"a\"\n   2) (double) 1.5\n2) 1) \"b\"\n   2) (double) 2\n"
        );
    }

    #[test]
    fn tty_pushes() {
        let msg = Frame::Push(vec![bulk("message"), bulk("ch"), bulk("hello")]);
        assert_eq!(t(&msg), "1) \"message\"\n2) \"ch\"\n3) \"hello\"\n");
        let inv = Frame::Push(vec![bulk("invalidate"), arr(vec![bulk("tk"), bulk("tk2")])]);
        assert_eq!(
            String::from_utf8(tty_push(&inv)).unwrap(),
            "-> invalidate: 'tk', 'tk2'\n"
        );
        let flush = Frame::Push(vec![bulk("invalidate"), Frame::Null]);
        assert_eq!(
            String::from_utf8(tty_push(&flush)).unwrap(),
            "1) \"invalidate\"\n2) (nil)\n"
        );
    }

    #[test]
    fn raw_values() {
        assert_eq!(r(&Frame::ok()), "OK");
        assert_eq!(r(&bulk("a\"b")), "a\"b");
        assert_eq!(r(&int(2)), "2");
        assert_eq!(r(&Frame::Null), "");
        assert_eq!(r(&Frame::error("ERR x")), "ERR x\n");
        assert_eq!(r(&Frame::Double(1.5)), "1.5");
        assert_eq!(r(&Frame::Boolean(true)), "(true)");
        assert_eq!(r(&Frame::Boolean(false)), "(false)");
        assert_eq!(r(&arr(vec![])), "");
        assert_eq!(r(&arr(vec![arr(vec![])])), "");
        assert_eq!(
            r(&arr(vec![bulk("bar"), Frame::Null, bulk("bar")])),
            "bar\n\nbar"
        );
        let nested = arr(vec![
            int(1),
            arr(vec![int(2), arr(vec![int(3), bulk("x")])]),
        ]);
        assert_eq!(r(&nested), "1\n2\n3\nx");
        assert_eq!(
            r(&arr(vec![int(1), Frame::error("MYERR x")])),
            "1\nMYERR x\n"
        );
        let h = map(vec![("port", bulk("7393")), ("maxmemory", bulk("0"))]);
        assert_eq!(r(&h), "port 7393\nmaxmemory 0");
        assert_eq!(
            String::from_utf8(raw(&h, b"X")).unwrap(),
            "port 7393Xmaxmemory 0"
        );
        assert_eq!(r(&map(vec![("a", arr(vec![int(1), int(2)]))])), "a 1\n2");
        let lst = arr(vec![bulk("c"), bulk("b"), bulk("a")]);
        assert_eq!(String::from_utf8(raw(&lst, b"X")).unwrap(), "cXbXa");
    }

    #[test]
    fn doubles_like_percent_17g() {
        let cases = [
            (1.5, "1.5"),
            (2.0, "2"),
            (3.25, "3.25"),
            (0.1, "0.10000000000000001"),
            (1e20, "1e+20"),
            (1e-5, "1.0000000000000001e-05"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (0.0001, "0.0001"),
            (-2.5, "-2.5"),
            (123456789.125, "123456789.125"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (0.0, "0"),
        ];
        for (v, want) in cases {
            assert_eq!(fmt_double(v), want, "{v}");
        }
    }

    #[test]
    fn raw_report_commands() {
        let a = |v: &[&str]| v.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        assert!(prints_raw(&a(&["INFO"])));
        assert!(prints_raw(&a(&["info", "server"])));
        assert!(prints_raw(&a(&["lolwut", "version", "5"])));
        assert!(prints_raw(&a(&["client", "LIST"])));
        assert!(prints_raw(&a(&["cluster", "nodes"])));
        assert!(prints_raw(&a(&["memory", "doctor"])));
        assert!(!prints_raw(&a(&["client"])));
        assert!(!prints_raw(&a(&["client", "getname"])));
        assert!(!prints_raw(&a(&["latency", "histogram"])));
        assert!(!prints_raw(&a(&["get", "info"])));
    }
}
