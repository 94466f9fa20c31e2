//! The client-side decoder: reads one whole reply frame of any RESP2 or RESP3
//! type from a buffer, or nothing until the frame is complete.
//!
//! A frame is first measured without recursion ([`frame_len`]), then built
//! from a frozen copy-free slice of the buffer, so partial input costs no
//! allocation and nesting deeper than [`MAX_DEPTH`] is refused rather than
//! overflowing the stack.

use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::frame::Frame;

/// The deepest nesting of aggregates accepted.
pub const MAX_DEPTH: usize = 512;

/// Malformed reply data; the connection cannot be used any more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl DecodeError {
    fn new(msg: impl Into<String>) -> Self {
        DecodeError(msg.into())
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol error: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Decodes the first frame in `buf`, consuming exactly its bytes.
///
/// Returns `Ok(None)`, leaving `buf` untouched, while the frame is
/// incomplete. Bulk payloads share `buf`'s memory.
pub fn decode_frame(buf: &mut BytesMut) -> Result<Option<Frame>, DecodeError> {
    let Some(len) = frame_len(buf)? else {
        return Ok(None);
    };
    let bytes = buf.split_to(len).freeze();
    let (frame, end) = build(&bytes, 0)?;
    debug_assert_eq!(end, len);
    Ok(Some(frame))
}

/// The length in bytes of the first frame in `buf` (an attribute counts
/// together with the value it annotates), or `None` while it is incomplete.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    let mut pos = 0;
    // Items still expected by each open aggregate, innermost last.
    let mut open: Vec<usize> = Vec::new();
    loop {
        let Some(item) = read_item(buf, pos)? else {
            return Ok(None);
        };
        pos = item.end;
        let children = item.kind.children()?;
        if children > 0 {
            if open.len() >= MAX_DEPTH {
                return Err(DecodeError::new("nesting too deep"));
            }
            open.push(children);
            continue;
        }
        // This item is complete; so may be the aggregates it closes.
        loop {
            match open.last_mut() {
                None => return Ok(Some(pos)),
                Some(left) => {
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                    open.pop();
                }
            }
        }
    }
}

/// One element's own bytes: a scalar, or an aggregate's header.
struct Item {
    kind: Kind,
    /// Where the next element starts.
    end: usize,
}

enum Kind {
    Simple(usize, usize),
    Error(usize, usize),
    Integer(i64),
    Bulk(usize, usize),
    Null,
    NullArray,
    Double(f64),
    Boolean(bool),
    BigNumber(usize, usize),
    Verbatim([u8; 3], usize, usize),
    Array(usize),
    Map(usize),
    Set(usize),
    Push(usize),
    Attribute(usize),
}

impl Kind {
    /// How many elements follow this one as its children.
    fn children(&self) -> Result<usize, DecodeError> {
        let too_long = || DecodeError::new("aggregate too long");
        Ok(match *self {
            Kind::Array(n) | Kind::Set(n) | Kind::Push(n) => n,
            Kind::Map(n) => n.checked_mul(2).ok_or_else(too_long)?,
            // The pairs, then the value they annotate.
            Kind::Attribute(n) => n
                .checked_mul(2)
                .and_then(|n| n.checked_add(1))
                .ok_or_else(too_long)?,
            _ => 0,
        })
    }
}

/// Finds the CRLF ending the line that starts at `start`; returns the index
/// of its CR. A lone CR or LF is an error.
fn line_end(buf: &[u8], start: usize) -> Result<Option<usize>, DecodeError> {
    let rest = buf.get(start..).unwrap_or_default();
    match rest.iter().position(|&b| b == b'\r' || b == b'\n') {
        None => Ok(None),
        Some(i) if rest[i] == b'\n' => Err(DecodeError::new("line feed without carriage return")),
        Some(i) => match rest.get(i + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some(start + i)),
            Some(_) => Err(DecodeError::new("carriage return without line feed")),
        },
    }
}

fn parse_int(s: &[u8]) -> Result<i64, DecodeError> {
    std::str::from_utf8(s)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            DecodeError::new(format!("invalid integer {:?}", String::from_utf8_lossy(s)))
        })
}

fn parse_double(s: &[u8]) -> Result<f64, DecodeError> {
    let bad = || DecodeError::new(format!("invalid double {:?}", String::from_utf8_lossy(s)));
    let text = std::str::from_utf8(s).map_err(|_| bad())?;
    match text {
        "inf" | "+inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        "nan" | "-nan" => Ok(f64::NAN),
        // Rust also accepts words like "infinity"; RESP only digits.
        _ if text
            .bytes()
            .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') =>
        {
            Err(bad())
        }
        _ => text.parse().map_err(|_| bad()),
    }
}

/// A length header: `-1` is `None` (null), other negatives are errors.
fn parse_len(s: &[u8]) -> Result<Option<usize>, DecodeError> {
    match parse_int(s)? {
        -1 => Ok(None),
        n if n < 0 => Err(DecodeError::new(format!("invalid length {n}"))),
        n => usize::try_from(n)
            .map(Some)
            .map_err(|_| DecodeError::new("length too large")),
    }
}

/// Reads the element starting at `pos`: a whole scalar, or an aggregate's
/// header line. `None` if it is not all buffered yet.
fn read_item(buf: &[u8], pos: usize) -> Result<Option<Item>, DecodeError> {
    let Some(&tag) = buf.get(pos) else {
        return Ok(None);
    };
    let Some(cr) = line_end(buf, pos + 1)? else {
        return Ok(None);
    };
    let line = &buf[pos + 1..cr];
    let after = cr + 2;
    let item = |kind| Ok(Some(Item { kind, end: after }));
    let count = |line: &[u8]| -> Result<usize, DecodeError> {
        parse_len(line)?.ok_or_else(|| DecodeError::new("invalid aggregate length -1"))
    };
    match tag {
        b'+' => item(Kind::Simple(pos + 1, cr)),
        b'-' => item(Kind::Error(pos + 1, cr)),
        b':' => item(Kind::Integer(parse_int(line)?)),
        b'_' if line.is_empty() => item(Kind::Null),
        b',' => item(Kind::Double(parse_double(line)?)),
        b'#' => match line {
            b"t" => item(Kind::Boolean(true)),
            b"f" => item(Kind::Boolean(false)),
            _ => Err(DecodeError::new("invalid boolean")),
        },
        b'(' => {
            let digits = line.strip_prefix(b"-").unwrap_or(line);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(DecodeError::new("invalid big number"));
            }
            item(Kind::BigNumber(pos + 1, cr))
        }
        b'*' => match parse_len(line)? {
            None => item(Kind::NullArray),
            Some(n) => item(Kind::Array(n)),
        },
        b'%' => item(Kind::Map(count(line)?)),
        b'~' => item(Kind::Set(count(line)?)),
        b'>' => item(Kind::Push(count(line)?)),
        b'|' => item(Kind::Attribute(count(line)?)),
        b'$' | b'!' | b'=' => {
            let Some(len) = parse_len(line)? else {
                if tag == b'$' {
                    return item(Kind::Null);
                }
                return Err(DecodeError::new("invalid length -1"));
            };
            let end = after
                .checked_add(len)
                .filter(|&e| e.checked_add(2).is_some())
                .ok_or_else(|| DecodeError::new("length too large"))?;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            if &buf[end..end + 2] != b"\r\n" {
                return Err(DecodeError::new("string not terminated by CRLF"));
            }
            let kind = match tag {
                b'$' => Kind::Bulk(after, end),
                b'!' => Kind::Error(after, end),
                _ => {
                    if len < 4 || buf[after + 3] != b':' {
                        return Err(DecodeError::new("invalid verbatim string"));
                    }
                    let format = [buf[after], buf[after + 1], buf[after + 2]];
                    Kind::Verbatim(format, after + 4, end)
                }
            };
            Ok(Some(Item { kind, end: end + 2 }))
        }
        _ => Err(DecodeError::new(format!(
            "unexpected type byte {:?}",
            tag as char
        ))),
    }
}

/// Builds the frame starting at `pos` of a buffer that `frame_len` has
/// measured, so it is complete and nested at most `MAX_DEPTH` deep.
fn build(bytes: &Bytes, pos: usize) -> Result<(Frame, usize), DecodeError> {
    let item = read_item(bytes, pos)?.ok_or_else(|| DecodeError::new("truncated frame"))?;
    let mut pos = item.end;
    let items = |n: usize, pos: &mut usize| -> Result<Vec<Frame>, DecodeError> {
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let (f, next) = build(bytes, *pos)?;
            v.push(f);
            *pos = next;
        }
        Ok(v)
    };
    let frame = match item.kind {
        Kind::Simple(s, e) => Frame::Simple(bytes.slice(s..e)),
        Kind::Error(s, e) => Frame::Error(bytes.slice(s..e)),
        Kind::Integer(i) => Frame::Integer(i),
        Kind::Bulk(s, e) => Frame::Bulk(bytes.slice(s..e)),
        Kind::Null => Frame::Null,
        Kind::NullArray => Frame::NullArray,
        Kind::Double(d) => Frame::Double(d),
        Kind::Boolean(b) => Frame::Boolean(b),
        Kind::BigNumber(s, e) => Frame::BigNumber(bytes.slice(s..e)),
        Kind::Verbatim(format, s, e) => Frame::Verbatim {
            format,
            data: bytes.slice(s..e),
        },
        Kind::Array(n) => Frame::Array(items(n, &mut pos)?),
        Kind::Set(n) => Frame::Set(items(n, &mut pos)?),
        Kind::Push(n) => Frame::Push(items(n, &mut pos)?),
        Kind::Map(n) => Frame::Map(pairs(items(2 * n, &mut pos)?)),
        Kind::Attribute(n) => {
            let attrs = pairs(items(2 * n, &mut pos)?);
            let value = items(1, &mut pos)?.pop().expect("one value");
            Frame::Attribute(attrs, Box::new(value))
        }
    };
    Ok((frame, pos))
}

fn pairs(flat: Vec<Frame>) -> Vec<(Frame, Frame)> {
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(input: &[u8]) -> Frame {
        let mut buf = BytesMut::from(input);
        let f = decode_frame(&mut buf)
            .unwrap()
            .unwrap_or_else(|| panic!("incomplete: {:?}", String::from_utf8_lossy(input)));
        assert!(buf.is_empty(), "left over: {buf:?}");
        f
    }

    fn dec_err(input: &[u8]) -> DecodeError {
        let mut buf = BytesMut::from(input);
        let e = decode_frame(&mut buf).unwrap_err();
        assert_eq!(frame_len(input).unwrap_err(), e);
        e
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn scalars() {
        assert_eq!(dec(b"+OK\r\n"), Frame::ok());
        assert_eq!(dec(b"+\r\n"), Frame::Simple(Bytes::new()));
        assert_eq!(dec(b"-ERR bad\r\n"), Frame::error("ERR bad"));
        assert_eq!(dec(b"!7\r\nERR a\nb\r\n"), Frame::Error(b("ERR a\nb")));
        assert_eq!(dec(b":-42\r\n"), Frame::Integer(-42));
        assert_eq!(dec(b":9223372036854775807\r\n"), Frame::Integer(i64::MAX));
        assert_eq!(dec(b"$3\r\nfoo\r\n"), Frame::bulk(b"foo"));
        assert_eq!(dec(b"$0\r\n\r\n"), Frame::bulk(b""));
        assert_eq!(dec(b"$4\r\na\r\nb\r\n"), Frame::bulk(b"a\r\nb"));
        assert_eq!(dec(b"$-1\r\n"), Frame::Null);
        assert_eq!(dec(b"*-1\r\n"), Frame::NullArray);
        assert_eq!(dec(b"_\r\n"), Frame::Null);
        assert_eq!(dec(b",1.5\r\n"), Frame::Double(1.5));
        assert_eq!(dec(b",3\r\n"), Frame::Double(3.0));
        assert_eq!(dec(b",1e+20\r\n"), Frame::Double(1e20));
        assert_eq!(dec(b",0.10000000000000001\r\n"), Frame::Double(0.1));
        assert_eq!(dec(b",inf\r\n"), Frame::Double(f64::INFINITY));
        assert_eq!(dec(b",-inf\r\n"), Frame::Double(f64::NEG_INFINITY));
        assert!(matches!(dec(b",nan\r\n"), Frame::Double(d) if d.is_nan()));
        assert!(matches!(dec(b",-nan\r\n"), Frame::Double(d) if d.is_nan()));
        assert_eq!(dec(b"#t\r\n"), Frame::Boolean(true));
        assert_eq!(dec(b"#f\r\n"), Frame::Boolean(false));
        assert_eq!(
            dec(b"(3492890328409238509324850943850943825024385\r\n"),
            Frame::BigNumber(b("3492890328409238509324850943850943825024385"))
        );
        assert_eq!(dec(b"(-1\r\n"), Frame::BigNumber(b("-1")));
        assert_eq!(
            dec(b"=15\r\ntxt:Some string\r\n"),
            Frame::Verbatim {
                format: *b"txt",
                data: b("Some string")
            }
        );
        assert_eq!(
            dec(b"=4\r\nmkd:\r\n"),
            Frame::Verbatim {
                format: *b"mkd",
                data: Bytes::new()
            }
        );
    }

    #[test]
    fn aggregates() {
        assert_eq!(
            dec(b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n"),
            Frame::Array(vec![
                Frame::bulk(b"a"),
                Frame::Array(vec![Frame::Integer(1)])
            ])
        );
        assert_eq!(dec(b"*0\r\n"), Frame::Array(vec![]));
        assert_eq!(
            dec(b"%2\r\n+a\r\n:1\r\n+b\r\n_\r\n"),
            Frame::Map(vec![
                (Frame::simple("a"), Frame::Integer(1)),
                (Frame::simple("b"), Frame::Null)
            ])
        );
        assert_eq!(dec(b"%0\r\n"), Frame::Map(vec![]));
        assert_eq!(
            dec(b"~2\r\n:1\r\n#f\r\n"),
            Frame::Set(vec![Frame::Integer(1), Frame::Boolean(false)])
        );
        assert_eq!(
            dec(b">2\r\n+message\r\n$2\r\nhi\r\n"),
            Frame::Push(vec![Frame::simple("message"), Frame::bulk(b"hi")])
        );
        assert_eq!(
            dec(b"|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n*1\r\n:2\r\n"),
            Frame::Attribute(
                vec![(
                    Frame::simple("key-popularity"),
                    Frame::Map(vec![(Frame::bulk(b"a"), Frame::Double(0.1923))])
                )],
                Box::new(Frame::Array(vec![Frame::Integer(2)]))
            )
        );
        // An attribute inside an array annotates one element.
        assert_eq!(
            dec(b"*2\r\n|0\r\n:1\r\n:2\r\n"),
            Frame::Array(vec![
                Frame::Attribute(vec![], Box::new(Frame::Integer(1))),
                Frame::Integer(2)
            ])
        );
    }

    #[test]
    fn one_frame_at_a_time() {
        let mut buf = BytesMut::from(&b"+a\r\n*1\r\n:1\r\n$1\r\nx"[..]);
        assert_eq!(decode_frame(&mut buf).unwrap(), Some(Frame::simple("a")));
        assert_eq!(
            decode_frame(&mut buf).unwrap(),
            Some(Frame::Array(vec![Frame::Integer(1)]))
        );
        assert_eq!(decode_frame(&mut buf).unwrap(), None);
        assert_eq!(&buf[..], b"$1\r\nx");
        assert_eq!(frame_len(b"+a\r\n*1\r\n:1\r\n").unwrap(), Some(4));
        assert_eq!(frame_len(b"*1\r\n:1\r\n+a\r\n").unwrap(), Some(8));
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let input: &[u8] = b"|1\r\n+k\r\n:1\r\n*3\r\n$3\r\nfoo\r\n%1\r\n=5\r\ntxt:a\r\n~1\r\n,1.5\r\n>1\r\n(12\r\n";
        for i in 0..input.len() {
            let mut buf = BytesMut::from(&input[..i]);
            assert_eq!(decode_frame(&mut buf).unwrap(), None, "prefix {i}");
            assert_eq!(buf.len(), i);
            assert_eq!(frame_len(&input[..i]).unwrap(), None);
        }
        assert_eq!(frame_len(input).unwrap(), Some(input.len()));
        dec(input);
    }

    #[test]
    fn bulk_payload_shares_the_buffer() {
        let mut buf = BytesMut::from(&b"$3\r\nfoo\r\n"[..]);
        let base = buf.as_ptr() as usize;
        match decode_frame(&mut buf).unwrap().unwrap() {
            Frame::Bulk(data) => assert_eq!(data.as_ptr() as usize, base + 4),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed() {
        for input in [
            &b"?\r\n"[..],
            b"+a\rb\r\n",
            b"+a\nb\r\n",
            b":abc\r\n",
            b":\r\n",
            b":9223372036854775808\r\n",
            b"$-2\r\n",
            b"$abc\r\n",
            b"$3\r\nfooXY",
            b"*-2\r\n",
            b"*x\r\n",
            b"%-1\r\n",
            b"~-1\r\n",
            b">-1\r\n",
            b"|-1\r\n",
            b"!-1\r\n",
            b"=-1\r\n",
            b"=3\r\ntxt\r\n",
            b"=4\r\ntxtx\r\n",
            b"_x\r\n",
            b"#x\r\n",
            b"#\r\n",
            b",abc\r\n",
            b",infinity\r\n",
            b",\r\n",
            b"(\r\n",
            b"(12a\r\n",
            b"(-\r\n",
            b"*?\r\n",
            b"*1\r\n?\r\n",
        ] {
            dec_err(input);
        }
        assert_eq!(
            dec_err(b":x\r\n").to_string(),
            "protocol error: invalid integer \"x\""
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut ok = b"*1\r\n".repeat(MAX_DEPTH);
        ok.extend_from_slice(b":1\r\n");
        let mut f = dec(&ok);
        let mut depth = 0;
        while let Frame::Array(mut v) = f {
            depth += 1;
            f = v.pop().unwrap();
        }
        assert_eq!(depth, MAX_DEPTH);

        let mut deep = b"*1\r\n".repeat(MAX_DEPTH + 1);
        deep.extend_from_slice(b":1\r\n");
        assert_eq!(dec_err(&deep).0, "nesting too deep");
        // Even before the frame is complete.
        let huge = b"*1\r\n".repeat(100_000);
        assert!(frame_len(&huge).is_err());
    }

    #[test]
    fn huge_counts_do_not_allocate() {
        assert_eq!(frame_len(b"*9223372036854775807\r\n:1\r\n").unwrap(), None);
        assert_eq!(frame_len(b"%9223372036854775807\r\n").unwrap(), None);
        assert_eq!(frame_len(b"$9223372036854775807\r\n").unwrap(), None);
        let mut buf = BytesMut::from(&b"*1000000000\r\n"[..]);
        assert_eq!(decode_frame(&mut buf).unwrap(), None);
    }
}
