//! Just enough RESP for a test driver: encode a command, find where one reply frame
//! ends, and show bytes readably. It is kept apart from `rubedo-resp` on purpose, so
//! the conformance runner does not trust the decoder it is meant to check.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Encodes words as a RESP multibulk command.
pub fn encode_command(words: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for w in words {
        out.extend_from_slice(format!("${}\r\n", w.len()).as_bytes());
        out.extend_from_slice(w);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Returns the byte length of the first complete RESP2/RESP3 frame in `buf`,
/// `Ok(None)` if more bytes are needed, or an error for bytes that are not RESP.
/// An attribute (`|`) is counted together with the value it annotates.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, String> {
    let mut pos = 0usize;
    // Values still to read at the current position, across nesting levels.
    let mut pending: u64 = 1;
    while pending > 0 {
        if pos >= buf.len() {
            return Ok(None);
        }
        let Some(end) = find_crlf(buf, pos + 1) else {
            return Ok(None);
        };
        let kind = buf[pos];
        let header = &buf[pos + 1..end];
        pos = end + 2;
        pending -= 1;
        match kind {
            b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => {}
            b'$' | b'!' | b'=' => {
                let n = parse_len(header)?;
                if n < 0 {
                    if kind == b'$' && n == -1 {
                        continue;
                    }
                    return Err(format!("bad length {n} for '{}'", kind as char));
                }
                let n = n as usize;
                if buf.len() < pos + n + 2 {
                    return Ok(None);
                }
                if &buf[pos + n..pos + n + 2] != b"\r\n" {
                    return Err("bulk payload not followed by CRLF".into());
                }
                pos += n + 2;
            }
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = parse_len(header)?;
                if n < 0 {
                    if kind == b'*' && n == -1 {
                        continue;
                    }
                    return Err(format!("bad length {n} for '{}'", kind as char));
                }
                let n = n as u64;
                pending += match kind {
                    b'%' => 2 * n,
                    b'|' => 2 * n + 1,
                    _ => n,
                };
            }
            other => return Err(format!("unknown RESP type byte {:?}", other as char)),
        }
    }
    Ok(Some(pos))
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|i| from + i)
}

fn parse_len(header: &[u8]) -> Result<i64, String> {
    let s = std::str::from_utf8(header).map_err(|_| "non-UTF-8 length".to_string())?;
    let n: i64 = s.parse().map_err(|_| format!("bad length {s:?}"))?;
    // Far beyond anything a test reply carries; keeps the arithmetic above safe.
    if n > (1 << 32) {
        return Err(format!("length {n} too large"));
    }
    Ok(n)
}

/// Rewrites one complete frame with the elements of every array, set and push sorted
/// by their bytes, and the entries of every map sorted as pairs, at any depth.
/// Anything it does not understand is returned unchanged.
pub fn sort_frame(frame: &[u8]) -> Vec<u8> {
    sort_frame_with(frame, false)
}

/// Like `sort_frame`, but a flat array (an even number of elements, none of them an
/// aggregate) is sorted as consecutive pairs, the way a map is: HGETALL, HSCAN's
/// field/value list, ZRANGE ... WITHSCORES in RESP2, so each field stays beside its
/// value. Any other array is sorted element by element, as `sort_frame` does.
pub fn sort_pairs_frame(frame: &[u8]) -> Vec<u8> {
    sort_frame_with(frame, true)
}

fn is_aggregate(item: &[u8]) -> bool {
    matches!(item.first(), Some(b'*' | b'~' | b'>' | b'%' | b'|'))
}

fn sort_frame_with(frame: &[u8], pairs: bool) -> Vec<u8> {
    let Some(kind) = frame.first().copied() else {
        return frame.to_vec();
    };
    if !matches!(kind, b'*' | b'~' | b'>' | b'%') {
        return frame.to_vec();
    }
    let Some(header_end) = find_crlf(frame, 1) else {
        return frame.to_vec();
    };
    let Ok(n) = parse_len(&frame[1..header_end]) else {
        return frame.to_vec();
    };
    let count = if kind == b'%' { 2 * n.max(0) } else { n.max(0) };
    let mut pos = header_end + 2;
    let mut elems: Vec<Vec<u8>> = Vec::new();
    for _ in 0..count {
        match frame_len(&frame[pos..]) {
            Ok(Some(len)) => {
                elems.push(sort_frame_with(&frame[pos..pos + len], pairs));
                pos += len;
            }
            _ => return frame.to_vec(),
        }
    }
    let per_item = if kind == b'%'
        || (pairs
            && kind == b'*'
            && elems.chunks_exact(2).remainder().is_empty()
            && !elems.iter().any(|e| is_aggregate(e)))
    {
        2
    } else {
        1
    };
    let mut items: Vec<Vec<u8>> = elems.chunks(per_item).map(|c| c.concat()).collect();
    items.sort();
    let mut out = frame[..header_end + 2].to_vec();
    out.extend(items.concat());
    out.extend_from_slice(&frame[pos..]);
    out
}

/// The shape of one complete frame: every type byte and every aggregate's length,
/// with the scalars' contents (and bulk lengths) left out, so `*2 $10 <secs> $6
/// <usecs>` (TIME) and `*3` of three random members compare equal to any other
/// reply of the same structure. A null keeps its `-1`. Anything it does not
/// understand is returned unchanged.
pub fn shape_frame(frame: &[u8]) -> Vec<u8> {
    fn walk(frame: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        let kind = *frame.first()?;
        let end = find_crlf(frame, 1)?;
        let header = &frame[1..end];
        let len = frame_len(frame).ok()??;
        out.push(kind);
        match kind {
            b'*' | b'~' | b'>' | b'%' | b'|' => {
                let n = parse_len(header).ok()?;
                out.extend_from_slice(header);
                out.extend_from_slice(b"\r\n");
                let count = match kind {
                    b'%' | b'|' => 2 * n.max(0) + i64::from(kind == b'|'),
                    _ => n.max(0),
                };
                let mut pos = end + 2;
                for _ in 0..count {
                    pos += walk(&frame[pos..], out)?;
                }
            }
            _ => {
                if header == b"-1" && matches!(kind, b'$' | b'*') {
                    out.extend_from_slice(header);
                }
                out.extend_from_slice(b"\r\n");
            }
        }
        Some(len)
    }
    let mut out = Vec::new();
    match walk(frame, &mut out) {
        Some(len) if len == frame.len() => out,
        _ => frame.to_vec(),
    }
}

/// A parsed reply, as much of one as the runner reads for itself (the candidate's
/// command table); scalars other than strings and integers are `Other`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(Vec<u8>),
    Int(i64),
    Null,
    Array(Vec<Value>),
    Other,
}

impl Value {
    pub fn as_str(&self) -> Option<&[u8]> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Parses the first complete frame in `buf` into a `Value` and its byte length.
/// Maps, sets and pushes become arrays (a map's keys and values alternate).
pub fn parse_value(buf: &[u8]) -> Result<(Value, usize), String> {
    let end = find_crlf(buf, 1).ok_or("incomplete frame")?;
    let kind = *buf.first().ok_or("empty frame")?;
    let header = &buf[1..end];
    let pos = end + 2;
    match kind {
        b'+' => Ok((Value::Str(header.to_vec()), pos)),
        b':' => Ok((Value::Int(parse_len(header)?), pos)),
        b'_' => Ok((Value::Null, pos)),
        b'-' | b'#' | b',' | b'(' => Ok((Value::Other, pos)),
        b'$' | b'=' | b'!' => {
            let n = parse_len(header)?;
            if n < 0 {
                return Ok((Value::Null, pos));
            }
            let n = n as usize;
            let body = buf.get(pos..pos + n).ok_or("incomplete bulk")?;
            let v = if kind == b'$' {
                Value::Str(body.to_vec())
            } else {
                Value::Other
            };
            Ok((v, pos + n + 2))
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n = parse_len(header)?;
            if n < 0 {
                return Ok((Value::Null, pos));
            }
            let count = if kind == b'%' { 2 * n } else { n };
            let mut items = Vec::new();
            let mut at = pos;
            for _ in 0..count {
                let (v, len) = parse_value(&buf[at..])?;
                items.push(v);
                at += len;
            }
            Ok((Value::Array(items), at))
        }
        other => Err(format!("unexpected RESP type byte {:?}", other as char)),
    }
}

/// An error reply (simple or blob error).
pub fn is_error(reply: &[u8]) -> bool {
    matches!(reply.first(), Some(b'-' | b'!'))
}

/// Shows bytes as a quoted string with `\r`, `\n`, `\xHH` escapes, cut after `max` chars.
pub fn escape(bytes: &[u8], max: usize) -> String {
    let mut s = String::from("\"");
    for &b in bytes {
        if s.len() >= max {
            s.push_str(&format!("\"... ({} bytes in all)", bytes.len()));
            return s;
        }
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}

/// What reading one reply produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Reply(Vec<u8>),
    /// The server closed the connection before a full frame arrived.
    Closed,
    Timeout,
    /// Connect or I/O failure, or bytes that are not RESP.
    Failed(String),
}

impl Outcome {
    pub fn show(&self, max: usize) -> String {
        match self {
            Outcome::Reply(b) => escape(b, max),
            Outcome::Closed => "<connection closed>".into(),
            Outcome::Timeout => "<timeout>".into(),
            Outcome::Failed(e) => format!("<error: {e}>"),
        }
    }

    /// The same kind of outcome, and for replies the same RESP type byte.
    pub fn same_type(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Reply(a), Outcome::Reply(b)) => a.first() == b.first(),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }

    /// A MONITOR line with its time stamp and client address replaced, the
    /// parts that differ between servers: `+1.2 [0 127.0.0.1:5]` → `+T [0 A]`.
    pub fn monitor_masked(&self) -> Outcome {
        let Outcome::Reply(b) = self else {
            return self.clone();
        };
        let Some(open) = b.iter().position(|&c| c == b'[') else {
            return self.clone();
        };
        let Some(close) = b.iter().position(|&c| c == b']') else {
            return self.clone();
        };
        let inner = &b[open + 1..close];
        let db_end = inner.iter().position(|&c| c == b' ').unwrap_or(inner.len());
        let mut out = b"+T [".to_vec();
        out.extend_from_slice(&inner[..db_end]);
        // Scripts show "lua" where clients show their address: keep that.
        if &inner[db_end..] == b" lua" {
            out.extend_from_slice(b" lua");
        } else {
            out.extend_from_slice(b" A");
        }
        out.extend_from_slice(&b[close..]);
        Outcome::Reply(out)
    }

    /// The outcome with every aggregate's elements sorted (see `sort_frame`).
    pub fn sorted(&self) -> Outcome {
        match self {
            Outcome::Reply(b) => Outcome::Reply(sort_frame(b)),
            other => other.clone(),
        }
    }

    /// The outcome's shape (see `shape_frame`).
    pub fn shape(&self) -> Outcome {
        match self {
            Outcome::Reply(b) => Outcome::Reply(shape_frame(b)),
            other => other.clone(),
        }
    }

    /// The outcome with flat arrays sorted as pairs (see `sort_pairs_frame`).
    pub fn sorted_pairs(&self) -> Outcome {
        match self {
            Outcome::Reply(b) => Outcome::Reply(sort_pairs_frame(b)),
            other => other.clone(),
        }
    }

    pub fn same_kind(&self, other: &Outcome) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// One client connection with its unread bytes.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn connect(port: u16, timeout: Duration) -> std::io::Result<Conn> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
        })
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads one complete frame, waiting until `deadline` at most.
    pub fn read_reply(&mut self, deadline: Instant) -> Outcome {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match frame_len(&self.buf) {
                Ok(Some(n)) => return Outcome::Reply(self.buf.drain(..n).collect()),
                Ok(None) => {}
                Err(e) => {
                    let shown = escape(&self.buf, 120);
                    self.buf.clear();
                    return Outcome::Failed(format!("not RESP ({e}): {shown}"));
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Outcome::Timeout;
            }
            if let Err(e) = self.stream.set_read_timeout(Some(deadline - now)) {
                return Outcome::Failed(e.to_string());
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return Outcome::Closed,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Outcome::Timeout
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Outcome::Closed,
                Err(e) => return Outcome::Failed(e.to_string()),
            }
        }
    }
}

/// Sends one command on a fresh connection and returns its reply.
pub fn command(port: u16, words: &[&str], timeout: Duration) -> Outcome {
    let mut conn = match Conn::connect(port, timeout) {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let words: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
    if let Err(e) = conn.send(&encode_command(&words)) {
        return Outcome::Failed(e.to_string());
    }
    conn.read_reply(Instant::now() + timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let cases: &[(&[u8], Option<usize>)] = &[
            (b"", None),
            (b"+OK\r\n", Some(5)),
            (b"+OK\r", None),
            (b"-ERR x\r\n+OK\r\n", Some(8)),
            (b":12\r\n", Some(5)),
            (b"$3\r\nfoo\r\n", Some(9)),
            (b"$3\r\nfoo\r", None),
            (b"$-1\r\n", Some(5)),
            (b"$0\r\n\r\n", Some(6)),
            (b"$4\r\na\r\nb\r\n", Some(10)),
            (b"*-1\r\n", Some(5)),
            (b"*0\r\n", Some(4)),
            (b"*2\r\n$1\r\na\r\n", None),
            (b"*2\r\n$1\r\na\r\n:1\r\n", Some(15)),
            (b"*1\r\n*1\r\n*0\r\n", Some(12)),
            (b"%1\r\n+a\r\n:1\r\n", Some(12)),
            (b"%1\r\n+a\r\n", None),
            (b"_\r\n", Some(3)),
            (b",1.5\r\n#t\r\n", Some(6)),
            (b"=7\r\ntxt:abc\r\n", Some(13)),
            (b">2\r\n+a\r\n+b\r\n", Some(12)),
            (b"|1\r\n+k\r\n+v\r\n:5\r\n", Some(16)),
            (b"~1\r\n(123\r\n", Some(10)),
        ];
        for (input, want) in cases {
            assert_eq!(frame_len(input), Ok(*want), "{}", escape(input, 100));
        }
        assert!(frame_len(b"x\r\n").is_err());
        assert!(frame_len(b"$x\r\n").is_err());
        assert!(frame_len(b"$1\r\nab\r\n").is_err());
        assert!(frame_len(b"*-2\r\n").is_err());
    }

    #[test]
    fn sorts_aggregates() {
        let sorted = |b: &[u8]| String::from_utf8(sort_frame(b)).unwrap();
        assert_eq!(
            sorted(b"*2\r\n$1\r\nb\r\n$1\r\na\r\n"),
            "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
        );
        // SCAN: the cursor and the nested key list are both put in order.
        assert_eq!(
            sorted(b"*2\r\n$1\r\n0\r\n*2\r\n$1\r\nz\r\n$1\r\ny\r\n"),
            "*2\r\n$1\r\n0\r\n*2\r\n$1\r\ny\r\n$1\r\nz\r\n"
        );
        assert_eq!(
            sorted(b"%2\r\n+k2\r\n:1\r\n+k1\r\n:2\r\n"),
            "%2\r\n+k1\r\n:2\r\n+k2\r\n:1\r\n"
        );
        assert_eq!(sorted(b"*-1\r\n"), "*-1\r\n");
        assert_eq!(sorted(b"$3\r\nfoo\r\n"), "$3\r\nfoo\r\n");
    }

    #[test]
    fn sorts_pairs() {
        let pairs = |b: &[u8]| String::from_utf8(sort_pairs_frame(b)).unwrap();
        // HGETALL: fields move with their values.
        let hgetall = b"*4\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n2\r\n";
        assert_eq!(
            pairs(hgetall),
            "*4\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nb\r\n$1\r\n1\r\n"
        );
        // A swapped pairing stays different, where sorting by element hides it.
        let swapped = b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n";
        assert_ne!(pairs(hgetall), pairs(swapped));
        assert_eq!(sort_frame(hgetall), sort_frame(swapped));
        // HSCAN: the outer [cursor, list] keeps its order (one pair), the list is paired.
        assert_eq!(
            pairs(b"*2\r\n$1\r\n0\r\n*4\r\n$1\r\nz\r\n:1\r\n$1\r\ny\r\n:2\r\n"),
            "*2\r\n$1\r\n0\r\n*4\r\n$1\r\ny\r\n:2\r\n$1\r\nz\r\n:1\r\n"
        );
        // RESP3 WITHSCORES: an array of [member, score] arrays is sorted by element.
        assert_eq!(
            pairs(b"*2\r\n*2\r\n+b\r\n,1\r\n*2\r\n+a\r\n,2\r\n"),
            "*2\r\n*2\r\n+a\r\n,2\r\n*2\r\n+b\r\n,1\r\n"
        );
        // An odd count cannot be paired: sorted by element.
        assert_eq!(
            pairs(b"*3\r\n+c\r\n+a\r\n+b\r\n"),
            "*3\r\n+a\r\n+b\r\n+c\r\n"
        );
        assert_eq!(
            pairs(b"%2\r\n+k2\r\n:1\r\n+k1\r\n:2\r\n"),
            "%2\r\n+k1\r\n:2\r\n+k2\r\n:1\r\n"
        );
    }

    #[test]
    fn shapes() {
        let shape = |b: &[u8]| String::from_utf8(shape_frame(b)).unwrap();
        let time = shape(b"*2\r\n$10\r\n1700000000\r\n$6\r\n123456\r\n");
        assert_eq!(time, "*2\r\n$\r\n$\r\n");
        assert_eq!(time, shape(b"*2\r\n$10\r\n1700000001\r\n$5\r\n12345\r\n"));
        // The count and the types are kept.
        assert_ne!(time, shape(b"*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"));
        assert_ne!(shape(b"$1\r\na\r\n"), shape(b"$-1\r\n"));
        assert_ne!(shape(b"$1\r\na\r\n"), shape(b"+a\r\n"));
        assert_eq!(shape(b":1\r\n"), shape(b":12\r\n"));
        assert_eq!(shape(b"%1\r\n+a\r\n*1\r\n:1\r\n"), "%1\r\n+\r\n*1\r\n:\r\n");
        assert_eq!(shape(b"*-1\r\n"), "*-1\r\n");
    }

    #[test]
    fn parses_values() {
        let (v, n) = parse_value(b"*2\r\n$3\r\nget\r\n*1\r\n*1\r\n+x|y\r\n:7\r\n").unwrap();
        assert_eq!(n, 27);
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Str(b"get".to_vec()),
                Value::Array(vec![Value::Array(vec![Value::Str(b"x|y".to_vec())])]),
            ])
        );
        assert_eq!(parse_value(b"$-1\r\n").unwrap(), (Value::Null, 5));
        assert_eq!(
            parse_value(b"%1\r\n+k\r\n:1\r\n").unwrap().0,
            Value::Array(vec![Value::Str(b"k".to_vec()), Value::Int(1)])
        );
        assert!(parse_value(b"*2\r\n:1\r\n").is_err());
        assert!(is_error(b"-ERR x\r\n") && is_error(b"!3\r\nERR\r\n"));
        assert!(!is_error(b"+OK\r\n"));
    }

    #[test]
    fn encodes_and_escapes() {
        let cmd = encode_command(&[b"SET".to_vec(), b"k".to_vec(), b"".to_vec()]);
        assert_eq!(cmd, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        assert_eq!(escape(b"a\r\n\x00\"", 100), r#""a\r\n\x00\"""#);
        assert!(escape(&[b'a'; 50], 10).ends_with("(50 bytes in all)"));
    }
}
