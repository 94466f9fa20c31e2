//! The reply encoder: writes a [`Frame`] in the connection's protocol, plus
//! `write_*` helpers that let hot paths emit replies without building frames.
//!
//! RESP3-only types are downgraded for RESP2 clients the way Redis 7.0 does
//! it, so callers never branch on the protocol version.

use bytes::{BufMut, BytesMut};

use crate::frame::{Frame, Protocol};

const CRLF: &[u8] = b"\r\n";

/// Writes `frame` to `out` in protocol `proto`.
///
/// RESP2 downgrades: null → `$-1`, null array → `*-1`, map → flat array of
/// 2N items, pairs → flat array of 2N items (nested two-element arrays in
/// RESP3), set and push → array, double → bulk string of its text, boolean →
/// `:1` / `:0`, big number → bulk string, verbatim → bulk string of the data,
/// attribute → only the annotated value.
pub fn encode(frame: &Frame, proto: Protocol, out: &mut BytesMut) {
    match frame {
        Frame::Simple(s) => write_simple(out, s),
        Frame::Error(e) => write_error(out, e),
        Frame::Integer(i) => write_int(out, *i),
        Frame::Bulk(b) => write_bulk(out, b),
        Frame::Null => write_null(out, proto),
        Frame::NullArray => write_null_array(out, proto),
        Frame::Array(items) => {
            write_array_len(out, items.len());
            for item in items {
                encode(item, proto, out);
            }
        }
        Frame::Map(pairs) => {
            write_map_len(out, pairs.len(), proto);
            for (k, v) in pairs {
                encode(k, proto, out);
                encode(v, proto, out);
            }
        }
        Frame::Pairs(pairs) => {
            write_array_len(out, pairs_len(pairs.len(), proto));
            for (a, b) in pairs {
                write_pair(a, b, proto, out);
            }
        }
        Frame::Set(items) => {
            write_set_len(out, items.len(), proto);
            for item in items {
                encode(item, proto, out);
            }
        }
        Frame::Push(items) => {
            write_push_len(out, items.len(), proto);
            for item in items {
                encode(item, proto, out);
            }
        }
        Frame::Double(d) => write_double(out, *d, proto),
        Frame::Boolean(b) => write_bool(out, *b, proto),
        Frame::BigNumber(n) => write_big_number(out, n, proto),
        Frame::Verbatim { format, data } => write_verbatim(out, format, data, proto),
        Frame::Raw(bytes) => out.extend_from_slice(bytes),
        Frame::Attribute(pairs, value) => {
            // RESP2 has no attributes: such clients see only the value.
            if proto == Protocol::Resp3 {
                write_len_line(out, b'|', pairs.len() as u64);
                for (k, v) in pairs {
                    encode(k, proto, out);
                    encode(v, proto, out);
                }
            }
            encode(value, proto, out);
        }
    }
}

/// The array length of `n` pairs as [`Frame::Pairs`] lays them out: `n`
/// two-element arrays in RESP3, `2n` flat items in RESP2. For replies
/// written pair by pair (streamed).
pub fn pairs_len(n: usize, proto: Protocol) -> usize {
    if proto == Protocol::Resp3 {
        n
    } else {
        n * 2
    }
}

/// One pair as [`Frame::Pairs`] lays it out: a two-element array in RESP3,
/// the two items in RESP2.
pub fn write_pair(a: &Frame, b: &Frame, proto: Protocol, out: &mut BytesMut) {
    if proto == Protocol::Resp3 {
        write_array_len(out, 2);
    }
    encode(a, proto, out);
    encode(b, proto, out);
}

/// `+<s>\r\n`. CR and LF in `s` become spaces so the reply stays well framed.
pub fn write_simple(out: &mut BytesMut, s: &[u8]) {
    write_line(out, b'+', s);
}

/// `-<msg>\r\n`; `msg` carries its prefix word (`ERR ...`). CR and LF become
/// spaces, as Redis does for formatted errors.
pub fn write_error(out: &mut BytesMut, msg: &[u8]) {
    write_line(out, b'-', msg);
}

/// `:<i>\r\n`
pub fn write_int(out: &mut BytesMut, i: i64) {
    out.reserve(1 + 20 + 2);
    out.put_u8(b':');
    put_i64(out, i);
    out.put_slice(CRLF);
}

/// `$<len>\r\n<data>\r\n`
pub fn write_bulk(out: &mut BytesMut, data: &[u8]) {
    out.reserve(1 + 20 + 2 + data.len() + 2);
    write_len_line(out, b'$', data.len() as u64);
    out.put_slice(data);
    out.put_slice(CRLF);
}

/// Only the `$<len>\r\n` header of a bulk string: the caller then writes
/// exactly `len` bytes and [`write_crlf`].
pub fn write_bulk_header(out: &mut BytesMut, len: usize) {
    write_len_line(out, b'$', len as u64);
}

/// `\r\n`, to close a bulk string begun with [`write_bulk_header`].
pub fn write_crlf(out: &mut BytesMut) {
    out.extend_from_slice(CRLF);
}

/// The null bulk: `$-1\r\n` (RESP2) or `_\r\n` (RESP3).
pub fn write_null(out: &mut BytesMut, proto: Protocol) {
    out.extend_from_slice(match proto {
        Protocol::Resp2 => b"$-1\r\n",
        Protocol::Resp3 => b"_\r\n",
    });
}

/// The null array: `*-1\r\n` (RESP2) or `_\r\n` (RESP3).
pub fn write_null_array(out: &mut BytesMut, proto: Protocol) {
    out.extend_from_slice(match proto {
        Protocol::Resp2 => b"*-1\r\n",
        Protocol::Resp3 => b"_\r\n",
    });
}

/// `*<n>\r\n`; the caller then writes `n` items.
pub fn write_array_len(out: &mut BytesMut, n: usize) {
    write_len_line(out, b'*', n as u64);
}

/// `%<n>\r\n` (RESP3) or `*<2n>\r\n` (RESP2); the caller then writes `n`
/// key/value pairs.
pub fn write_map_len(out: &mut BytesMut, n: usize, proto: Protocol) {
    match proto {
        Protocol::Resp2 => write_len_line(out, b'*', 2 * n as u64),
        Protocol::Resp3 => write_len_line(out, b'%', n as u64),
    }
}

/// `~<n>\r\n` (RESP3) or `*<n>\r\n` (RESP2).
pub fn write_set_len(out: &mut BytesMut, n: usize, proto: Protocol) {
    match proto {
        Protocol::Resp2 => write_len_line(out, b'*', n as u64),
        Protocol::Resp3 => write_len_line(out, b'~', n as u64),
    }
}

/// `><n>\r\n` (RESP3) or `*<n>\r\n` (RESP2): the header of a push message.
pub fn write_push_len(out: &mut BytesMut, n: usize, proto: Protocol) {
    match proto {
        Protocol::Resp2 => write_len_line(out, b'*', n as u64),
        Protocol::Resp3 => write_len_line(out, b'>', n as u64),
    }
}

/// `,<text>\r\n` (RESP3) or a bulk string of the text (RESP2), the text being
/// [`format_double`]'s.
pub fn write_double(out: &mut BytesMut, d: f64, proto: Protocol) {
    let mut buf = [0u8; 32];
    let n = format_double_into(d, &mut buf);
    match proto {
        Protocol::Resp2 => write_bulk(out, &buf[..n]),
        Protocol::Resp3 => {
            out.reserve(1 + n + 2);
            out.put_u8(b',');
            out.put_slice(&buf[..n]);
            out.put_slice(CRLF);
        }
    }
}

/// `#t\r\n` / `#f\r\n` (RESP3) or `:1\r\n` / `:0\r\n` (RESP2).
pub fn write_bool(out: &mut BytesMut, b: bool, proto: Protocol) {
    out.extend_from_slice(match (proto, b) {
        (Protocol::Resp2, true) => b":1\r\n",
        (Protocol::Resp2, false) => b":0\r\n",
        (Protocol::Resp3, true) => b"#t\r\n",
        (Protocol::Resp3, false) => b"#f\r\n",
    });
}

/// `(<digits>\r\n` (RESP3) or a bulk string of the digits (RESP2).
pub fn write_big_number(out: &mut BytesMut, digits: &[u8], proto: Protocol) {
    match proto {
        Protocol::Resp2 => write_bulk(out, digits),
        Protocol::Resp3 => write_line(out, b'(', digits),
    }
}

/// `=<len+4>\r\n<fmt>:<data>\r\n` (RESP3) or a bulk string of `data` (RESP2).
pub fn write_verbatim(out: &mut BytesMut, format: &[u8; 3], data: &[u8], proto: Protocol) {
    match proto {
        Protocol::Resp2 => write_bulk(out, data),
        Protocol::Resp3 => {
            out.reserve(1 + 20 + 2 + 4 + data.len() + 2);
            write_len_line(out, b'=', data.len() as u64 + 4);
            out.put_slice(format);
            out.put_u8(b':');
            out.put_slice(data);
            out.put_slice(CRLF);
        }
    }
}

/// Writes `<prefix><s>\r\n`, replacing CR and LF in `s` with spaces.
fn write_line(out: &mut BytesMut, prefix: u8, s: &[u8]) {
    out.reserve(1 + s.len() + 2);
    out.put_u8(prefix);
    if s.iter().any(|&b| b == b'\r' || b == b'\n') {
        out.extend(s.iter().map(|&b| match b {
            b'\r' | b'\n' => b' ',
            b => b,
        }));
    } else {
        out.put_slice(s);
    }
    out.put_slice(CRLF);
}

/// Writes `<prefix><n>\r\n`.
fn write_len_line(out: &mut BytesMut, prefix: u8, n: u64) {
    out.reserve(1 + 20 + 2);
    out.put_u8(prefix);
    put_u64(out, n);
    out.put_slice(CRLF);
}

/// Two ASCII digits for every value 0..100, for formatting integers two
/// digits at a time.
const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Formats `n` in decimal into the tail of `buf`, returning where it starts.
fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> usize {
    let mut pos = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        pos -= 1;
        buf[pos] = b'0' + n as u8;
    }
    pos
}

fn put_u64(out: &mut BytesMut, n: u64) {
    let mut buf = [0u8; 20];
    let start = format_u64(n, &mut buf);
    out.put_slice(&buf[start..]);
}

fn put_i64(out: &mut BytesMut, i: i64) {
    if i < 0 {
        out.put_u8(b'-');
    }
    put_u64(out, i.unsigned_abs());
}

/// Formats a double like C's `printf("%.17g")`, which Redis 7.0 uses for
/// double replies: 17 significant digits, trailing zeros dropped, exponent
/// form (`1e+20`, at least two exponent digits) when the decimal exponent is
/// below -4 or at least 17. Infinities are `inf` / `-inf`, NaN is `nan`.
pub fn format_double(d: f64) -> String {
    let mut buf = [0u8; 32];
    let n = format_double_into(d, &mut buf);
    // The formatter writes only ASCII.
    String::from_utf8(buf[..n].to_vec()).expect("ASCII")
}

/// [`format_double`] into a stack buffer; returns the length written.
fn format_double_into(d: f64, out: &mut [u8; 32]) -> usize {
    use std::io::Write;

    if d.is_nan() {
        out[..3].copy_from_slice(b"nan");
        return 3;
    }
    if d.is_infinite() {
        let s: &[u8] = if d > 0.0 { b"inf" } else { b"-inf" };
        out[..s.len()].copy_from_slice(s);
        return s.len();
    }
    // Fast path for whole numbers (common scores): below 1e15 they are
    // exact and %.17g prints all their digits, nothing after the point.
    if d.fract() == 0.0 && d.abs() < 1e15 && !(d == 0.0 && d.is_sign_negative()) {
        let i = d as i64;
        let mut digits = [0u8; 20];
        let start = format_u64(i.unsigned_abs(), &mut digits);
        let mut n = 0;
        if i < 0 {
            out[0] = b'-';
            n = 1;
        }
        let len = digits.len() - start;
        out[n..n + len].copy_from_slice(&digits[start..]);
        return n + len;
    }

    // Rust's exact formatting gives the correctly rounded 17 significant
    // digits (ties to even, as glibc does) as `d.dddddddddddddddde<exp>`.
    let mut sci = [0u8; 32];
    let len = {
        let mut cursor = std::io::Cursor::new(&mut sci[..]);
        write!(cursor, "{:.16e}", d).expect("a double fits in 32 bytes");
        cursor.position() as usize
    };
    let sci = &sci[..len];
    let negative = sci[0] == b'-';
    let body = if negative { &sci[1..] } else { sci };
    let e_pos = body
        .iter()
        .position(|&b| b == b'e')
        .expect("exponent marker");
    let mut digits = [0u8; 17];
    digits[0] = body[0];
    digits[1..].copy_from_slice(&body[2..e_pos]);
    let exp: i32 = std::str::from_utf8(&body[e_pos + 1..])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("decimal exponent");
    let mut ndigits = 17;
    while ndigits > 1 && digits[ndigits - 1] == b'0' {
        ndigits -= 1;
    }
    let digits = &digits[..ndigits];

    let mut n = 0;
    let mut push = |b: u8| {
        out[n] = b;
        n += 1;
    };
    if negative {
        push(b'-');
    }
    if !(-4..17).contains(&exp) {
        push(digits[0]);
        if digits.len() > 1 {
            push(b'.');
            digits[1..].iter().for_each(|&b| push(b));
        }
        push(b'e');
        push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e >= 100 {
            push(b'0' + (e / 100) as u8);
        }
        push(b'0' + (e / 10 % 10) as u8);
        push(b'0' + (e % 10) as u8);
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        for i in 0..int_len {
            push(*digits.get(i).unwrap_or(&b'0'));
        }
        if digits.len() > int_len {
            push(b'.');
            digits[int_len..].iter().for_each(|&b| push(b));
        }
    } else {
        push(b'0');
        push(b'.');
        for _ in 0..(-exp - 1) {
            push(b'0');
        }
        digits.iter().for_each(|&b| push(b));
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn enc(frame: &Frame, proto: Protocol) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(frame, proto, &mut out);
        out.to_vec()
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn pairs_nest_in_resp3_and_flatten_in_resp2() {
        let p = Frame::Pairs(vec![
            (Frame::Bulk(b("a")), Frame::Double(1.5)),
            (Frame::Bulk(b("b")), Frame::Double(2.0)),
        ]);
        assert_eq!(
            enc(&p, Protocol::Resp2),
            b"*4\r\n$1\r\na\r\n$3\r\n1.5\r\n$1\r\nb\r\n$1\r\n2\r\n"
        );
        assert_eq!(
            enc(&p, Protocol::Resp3),
            b"*2\r\n*2\r\n$1\r\na\r\n,1.5\r\n*2\r\n$1\r\nb\r\n,2\r\n"
        );
        assert_eq!(enc(&Frame::Pairs(vec![]), Protocol::Resp3), b"*0\r\n");
    }

    #[test]
    fn integers() {
        for (i, text) in [
            (0i64, "0"),
            (7, "7"),
            (10, "10"),
            (99, "99"),
            (100, "100"),
            (-1, "-1"),
            (1234567890, "1234567890"),
            (i64::MAX, "9223372036854775807"),
            (i64::MIN, "-9223372036854775808"),
        ] {
            let mut out = BytesMut::new();
            write_int(&mut out, i);
            assert_eq!(out, format!(":{text}\r\n").as_bytes());
        }
        let mut out = BytesMut::new();
        write_array_len(&mut out, usize::MAX);
        assert_eq!(out, format!("*{}\r\n", usize::MAX).as_bytes());
    }

    #[test]
    fn integer_formatting_matches_std() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for v in [x as i64, (x >> 40) as i64, -((x >> 50) as i64)] {
                let mut out = BytesMut::new();
                put_i64(&mut out, v);
                assert_eq!(out, v.to_string().as_bytes());
            }
        }
    }

    #[test]
    fn scalars_in_both_protocols() {
        use Protocol::*;
        let cases: Vec<(Frame, &str, &str)> = vec![
            (Frame::ok(), "+OK\r\n", "+OK\r\n"),
            (Frame::error("ERR x"), "-ERR x\r\n", "-ERR x\r\n"),
            (Frame::Integer(-5), ":-5\r\n", ":-5\r\n"),
            (Frame::bulk(b"foo"), "$3\r\nfoo\r\n", "$3\r\nfoo\r\n"),
            (Frame::bulk(b""), "$0\r\n\r\n", "$0\r\n\r\n"),
            (Frame::Null, "$-1\r\n", "_\r\n"),
            (Frame::NullArray, "*-1\r\n", "_\r\n"),
            (Frame::Double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n"),
            (
                Frame::Double(0.1),
                "$19\r\n0.10000000000000001\r\n",
                ",0.10000000000000001\r\n",
            ),
            (Frame::Double(f64::INFINITY), "$3\r\ninf\r\n", ",inf\r\n"),
            (
                Frame::Double(f64::NEG_INFINITY),
                "$4\r\n-inf\r\n",
                ",-inf\r\n",
            ),
            (Frame::Boolean(true), ":1\r\n", "#t\r\n"),
            (Frame::Boolean(false), ":0\r\n", "#f\r\n"),
            (
                Frame::BigNumber(b("-12345678901234567890")),
                "$21\r\n-12345678901234567890\r\n",
                "(-12345678901234567890\r\n",
            ),
            (
                Frame::Verbatim {
                    format: *b"txt",
                    data: b("hello"),
                },
                "$5\r\nhello\r\n",
                "=9\r\ntxt:hello\r\n",
            ),
        ];
        for (frame, r2, r3) in cases {
            assert_eq!(
                String::from_utf8(enc(&frame, Resp2)).unwrap(),
                r2,
                "{frame:?}"
            );
            assert_eq!(
                String::from_utf8(enc(&frame, Resp3)).unwrap(),
                r3,
                "{frame:?}"
            );
        }
    }

    #[test]
    fn aggregates_in_both_protocols() {
        use Protocol::*;
        let map = Frame::Map(vec![
            (Frame::simple("a"), Frame::Integer(1)),
            (Frame::bulk(b"b"), Frame::Null),
        ]);
        assert_eq!(enc(&map, Resp2), b"*4\r\n+a\r\n:1\r\n$1\r\nb\r\n$-1\r\n");
        assert_eq!(enc(&map, Resp3), b"%2\r\n+a\r\n:1\r\n$1\r\nb\r\n_\r\n");

        let set = Frame::Set(vec![Frame::Integer(1), Frame::Boolean(true)]);
        assert_eq!(enc(&set, Resp2), b"*2\r\n:1\r\n:1\r\n");
        assert_eq!(enc(&set, Resp3), b"~2\r\n:1\r\n#t\r\n");

        let push = Frame::Push(vec![Frame::bulk(b"message"), Frame::Double(3.0)]);
        assert_eq!(enc(&push, Resp2), b"*2\r\n$7\r\nmessage\r\n$1\r\n3\r\n");
        assert_eq!(enc(&push, Resp3), b">2\r\n$7\r\nmessage\r\n,3\r\n");

        let arr = Frame::Array(vec![Frame::Array(vec![]), Frame::NullArray]);
        assert_eq!(enc(&arr, Resp2), b"*2\r\n*0\r\n*-1\r\n");
        assert_eq!(enc(&arr, Resp3), b"*2\r\n*0\r\n_\r\n");

        let attr = Frame::Attribute(
            vec![(Frame::simple("ttl"), Frame::Integer(3))],
            Box::new(Frame::bulk(b"v")),
        );
        assert_eq!(enc(&attr, Resp2), b"$1\r\nv\r\n");
        assert_eq!(enc(&attr, Resp3), b"|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n");

        let mut out = BytesMut::new();
        write_map_len(&mut out, 3, Resp2);
        write_map_len(&mut out, 3, Resp3);
        write_set_len(&mut out, 2, Resp2);
        write_set_len(&mut out, 2, Resp3);
        write_push_len(&mut out, 1, Resp2);
        write_push_len(&mut out, 1, Resp3);
        assert_eq!(out, &b"*6\r\n%3\r\n*2\r\n~2\r\n*1\r\n>1\r\n"[..]);
    }

    #[test]
    fn status_and_error_lines_stay_framed() {
        let mut out = BytesMut::new();
        write_simple(&mut out, b"a\r\nb");
        write_error(&mut out, b"ERR x\ny\r");
        assert_eq!(out, &b"+a  b\r\n-ERR x y \r\n"[..]);
    }

    #[test]
    fn bulk_header_and_crlf() {
        let mut out = BytesMut::new();
        write_bulk_header(&mut out, 3);
        out.extend_from_slice(b"abc");
        write_crlf(&mut out);
        assert_eq!(out, &b"$3\r\nabc\r\n"[..]);
    }

    #[test]
    fn format_double_examples() {
        for (d, s) in [
            (0.1, "0.10000000000000001"),
            (1.5, "1.5"),
            (1e20, "1e+20"),
            (3.0, "3"),
            (0.0, "0"),
            (-0.0, "-0"),
            (-2.5, "-2.5"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (123456789.0, "123456789"),
            (99999999999999984.0, "99999999999999984"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (0.00012345, "0.00012344999999999999"),
            (1e-7, "9.9999999999999995e-08"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (2f64.powi(-25), "2.9802322387695312e-08"),
            (1e100, "1e+100"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (1.1, "1.1000000000000001"),
            (-7.0, "-7"),
            (999999999999999.0, "999999999999999"),
            (-999999999999999.0, "-999999999999999"),
            (1e15, "1000000000000000"),
            (9007199254740993.0, "9007199254740992"),
            (100.0, "100"),
            (1e-4, "0.0001"),
            (123.456, "123.456"),
        ] {
            assert_eq!(format_double(d), s, "{d:e}");
        }
    }
}
