//! The server-side request parser: multibulk (`*N` then `$L` arguments) and
//! inline (telnet-style) commands, with Redis 7.0's limits, error texts and
//! leniencies.
//!
//! The parser is incremental: finished arguments are split off the read
//! buffer as soon as they are complete, so a command that arrives in many
//! reads is scanned only once. Arguments share the read buffer's memory
//! (no copy); a value kept for long should be copied if it is small, or it
//! pins the whole read buffer.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

/// An argument at least this long gets room reserved for it in the read
/// buffer, so that it is received without repeated reallocation.
const BIG_ARG: usize = 32 * 1024;

/// Before AUTH, a multibulk may announce at most this many arguments.
const UNAUTH_MAX_MULTIBULK: i64 = 10;

/// Before AUTH, an argument may announce at most this many bytes.
const UNAUTH_MAX_BULK: i64 = 16 * 1024;

/// Limits on what a client may send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    /// The longest argument accepted (Redis's `proto-max-bulk-len`).
    pub max_bulk_len: usize,
    /// The most arguments a multibulk may announce.
    pub max_multibulk_len: usize,
    /// How much may be buffered while waiting for the end of an inline
    /// command or of a `*N` / `$L` header line.
    pub max_inline_len: usize,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: i32::MAX as usize,
            max_inline_len: 64 * 1024,
        }
    }
}

/// A framing error: the client gets `-ERR <message>` and is disconnected.
///
/// The message has no `ERR ` prefix, e.g. `Protocol error: invalid bulk
/// length`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(msg: &str) -> Self {
        ProtocolError(msg.to_owned())
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Parses commands out of a connection's read buffer, one per call.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Arguments of the current multibulk still to come; 0 between commands.
    remaining: usize,
    /// Arguments of the current multibulk received so far.
    args: Vec<Bytes>,
    /// The announced length of the argument being received, once its `$L`
    /// line has been read.
    bulk_len: Option<usize>,
    /// While set, headers are held to the small limits Redis applies to
    /// clients that have not authenticated yet.
    auth_required: bool,
}

impl RequestParser {
    /// A parser waiting for the first byte of a command.
    pub fn new() -> Self {
        Self::default()
    }

    /// Until the client authenticates, refuse multibulks of more than 10
    /// arguments and arguments longer than 16 KiB, as Redis does to keep
    /// unauthenticated clients from making it allocate much memory. Call it
    /// again with `false` after a successful AUTH (or HELLO with AUTH).
    pub fn set_auth_required(&mut self, required: bool) {
        self.auth_required = required;
    }

    /// Parses one complete command from the front of `buf`, consuming its
    /// bytes.
    ///
    /// `Ok(Some(args))` is a command (never empty). `Ok(None)` means more
    /// bytes are needed; what was parsed so far is kept. `Err` means the
    /// client must get `-ERR <message>` and be closed. Empty requests (`*0`,
    /// negative counts, blank inline lines) are consumed silently.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: &RequestLimits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let result = self.parse_inner(buf, limits);
        if result.is_err() {
            self.reset();
        }
        result
    }

    fn reset(&mut self) {
        self.remaining = 0;
        self.args = Vec::new();
        self.bulk_len = None;
    }

    fn parse_inner(
        &mut self,
        buf: &mut BytesMut,
        limits: &RequestLimits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if self.remaining == 0 {
                match buf.first() {
                    None => return Ok(None),
                    Some(b'*') => match self.multibulk_header(buf, limits)? {
                        Header::Incomplete => return Ok(None),
                        Header::Empty => continue,
                        Header::Started => {}
                    },
                    Some(_) => match parse_inline(buf, limits)? {
                        None => return Ok(None),
                        Some(args) if args.is_empty() => continue,
                        Some(args) => return Ok(Some(args)),
                    },
                }
            }
            return self.multibulk_args(buf, limits);
        }
    }

    /// Reads the `*N` line.
    fn multibulk_header(
        &mut self,
        buf: &mut BytesMut,
        limits: &RequestLimits,
    ) -> Result<Header, ProtocolError> {
        let cr = match find_header_end(buf) {
            LineEnd::Missing if buf.len() > limits.max_inline_len => {
                return Err(ProtocolError::new(
                    "Protocol error: too big mbulk count string",
                ))
            }
            LineEnd::Missing | LineEnd::Partial => return Ok(Header::Incomplete),
            LineEnd::At(cr) => cr,
        };
        let count = match parse_strict_i64(&buf[1..cr]) {
            Some(n) if n <= 0 || (n as u64) <= limits.max_multibulk_len as u64 => n,
            _ => {
                return Err(ProtocolError::new(
                    "Protocol error: invalid multibulk length",
                ))
            }
        };
        if self.auth_required && count > UNAUTH_MAX_MULTIBULK {
            return Err(ProtocolError::new(
                "Protocol error: unauthenticated multibulk length",
            ));
        }
        // The byte after CR is skipped unchecked, as Redis does.
        buf.advance(cr + 2);
        if count <= 0 {
            return Ok(Header::Empty);
        }
        let count = count as usize;
        self.remaining = count;
        // A hostile count must not make us allocate up front.
        self.args = Vec::with_capacity(count.min(1024));
        self.bulk_len = None;
        Ok(Header::Started)
    }

    /// Reads as many `$L` arguments of the current multibulk as are buffered.
    fn multibulk_args(
        &mut self,
        buf: &mut BytesMut,
        limits: &RequestLimits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        while self.remaining > 0 {
            let len = match self.bulk_len {
                Some(len) => len,
                None => {
                    let cr = match find_header_end(buf) {
                        LineEnd::Missing if buf.len() > limits.max_inline_len => {
                            return Err(ProtocolError::new(
                                "Protocol error: too big bulk count string",
                            ))
                        }
                        LineEnd::Missing | LineEnd::Partial => return Ok(None),
                        LineEnd::At(cr) => cr,
                    };
                    if buf[0] != b'$' {
                        return Err(ProtocolError(format!(
                            "Protocol error: expected '$', got '{}'",
                            printable(buf[0])
                        )));
                    }
                    let len = match parse_strict_i64(&buf[1..cr]) {
                        Some(n) if n >= 0 && (n as u64) <= limits.max_bulk_len as u64 => n,
                        _ => return Err(ProtocolError::new("Protocol error: invalid bulk length")),
                    };
                    if self.auth_required && len > UNAUTH_MAX_BULK {
                        return Err(ProtocolError::new(
                            "Protocol error: unauthenticated bulk length",
                        ));
                    }
                    buf.advance(cr + 2);
                    let len = len as usize;
                    if len >= BIG_ARG && buf.len() < len + 2 {
                        buf.reserve(len + 2 - buf.len());
                    }
                    self.bulk_len = Some(len);
                    len
                }
            };
            if buf.len() < len + 2 {
                return Ok(None);
            }
            self.args.push(buf.split_to(len).freeze());
            // The two bytes after the data are skipped unchecked, as Redis does.
            buf.advance(2);
            self.bulk_len = None;
            self.remaining -= 1;
        }
        Ok(Some(std::mem::take(&mut self.args)))
    }
}

enum Header {
    Incomplete,
    Empty,
    Started,
}

enum LineEnd {
    /// No CR yet.
    Missing,
    /// A CR, but not yet the byte after it.
    Partial,
    /// The CR ending the line is at this index.
    At(usize),
}

/// Finds the CR ending a `*N` / `$L` line the way Redis 7.0 does: with a C
/// string search, so a NUL byte hides everything after it (such a line is
/// never complete and eventually exceeds the size limit).
fn find_header_end(buf: &[u8]) -> LineEnd {
    match buf.iter().position(|&b| b == b'\r' || b == 0) {
        Some(i) if buf[i] == b'\r' => {
            if i + 1 < buf.len() {
                LineEnd::At(i)
            } else {
                LineEnd::Partial
            }
        }
        _ => LineEnd::Missing,
    }
}

/// Error texts may not contain line breaks; Redis turns them into spaces.
fn printable(b: u8) -> char {
    match b {
        b'\r' | b'\n' => ' ',
        b => b as char,
    }
}

/// Parses a decimal integer as strictly as Redis's `string2ll`: an optional
/// `-`, no `+`, no leading zeros (so no `-0`), no spaces, no overflow.
fn parse_strict_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Reads one inline command (a line ending in LF, with an optional CR before
/// it). `Ok(Some(vec![]))` is a blank line.
fn parse_inline(
    buf: &mut BytesMut,
    limits: &RequestLimits,
) -> Result<Option<Vec<Bytes>>, ProtocolError> {
    // As with headers, Redis searches with a C string function: a NUL byte
    // before the LF means "no line yet".
    let lf = match buf.iter().position(|&b| b == b'\n' || b == 0) {
        Some(i) if buf[i] == b'\n' => i,
        _ if buf.len() > limits.max_inline_len => {
            return Err(ProtocolError::new("Protocol error: too big inline request"))
        }
        _ => return Ok(None),
    };
    let line_len = if lf > 0 && buf[lf - 1] == b'\r' {
        lf - 1
    } else {
        lf
    };
    let mut line = buf.split_to(lf + 1).freeze();
    line.truncate(line_len);
    split_args(&line)
        .map(Some)
        .ok_or_else(|| ProtocolError::new("Protocol error: unbalanced quotes in request"))
}

/// C's `isspace` in the "C" locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits an inline command into arguments with the rules of Redis's
/// `sdssplitargs`: arguments are separated by whitespace; `"..."` understands
/// `\n \r \t \b \a \xHH` and `\<any>`; `'...'` understands only `\'`; a
/// closing quote must be followed by whitespace or the end; quotes may start
/// in the middle of an argument (`a"b c"` is `ab c`). `None` means unbalanced
/// quotes.
///
/// Unquoted arguments are slices of `line`; only quoted ones are copied.
/// A NUL in `line` reads as its end. (Redis splits shebang lines of
/// scripts and libraries with the same rules.)
pub fn split_args(line: &Bytes) -> Option<Vec<Bytes>> {
    let s: &[u8] = line;
    // The end of the line reads as NUL, like the end of a C string. The line
    // holds no NUL of its own (see `parse_inline`).
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut p = 0;
    loop {
        while p < s.len() && is_space(s[p]) {
            p += 1;
        }
        if p >= s.len() {
            return Some(args);
        }
        let start = p;
        // Becomes `Some` once the argument differs from its source bytes.
        let mut owned: Option<Vec<u8>> = None;
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = at(p);
            if in_double {
                let cur = owned.as_mut().expect("quoted arguments are owned");
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(hi), Some(lo)) = (hex_value(at(p + 2)), hex_value(at(p + 3))) {
                        cur.push(hi * 16 + lo);
                        p += 4;
                        continue;
                    }
                }
                if c == b'\\' && at(p + 1) != 0 {
                    cur.push(match at(p + 1) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    p += 2;
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                    p += 1;
                }
            } else if in_single {
                let cur = owned.as_mut().expect("quoted arguments are owned");
                if c == b'\\' && at(p + 1) == b'\'' {
                    cur.push(b'\'');
                    p += 2;
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                    p += 1;
                }
            } else {
                match c {
                    // Only these end an unquoted argument (not \v or \f).
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' | b'\'' => {
                        owned.get_or_insert_with(|| s[start..p].to_vec());
                        if c == b'"' {
                            in_double = true;
                        } else {
                            in_single = true;
                        }
                    }
                    _ => {
                        if let Some(cur) = owned.as_mut() {
                            cur.push(c);
                        }
                    }
                }
                p += 1;
            }
        }
        args.push(match owned {
            Some(v) => Bytes::from(v),
            None => line.slice(start..p),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Option<String>, usize) {
        parse_all_with(input, &RequestLimits::default())
    }

    /// Parses everything in `input`: the commands, the error if any, and how
    /// many bytes were left unconsumed.
    fn parse_all_with(
        input: &[u8],
        limits: &RequestLimits,
    ) -> (Vec<Vec<Vec<u8>>>, Option<String>, usize) {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(input);
        let mut cmds = Vec::new();
        loop {
            match parser.parse(&mut buf, limits) {
                Ok(Some(args)) => {
                    assert!(!args.is_empty());
                    cmds.push(args.iter().map(|a| a.to_vec()).collect())
                }
                Ok(None) => return (cmds, None, buf.len()),
                Err(e) => return (cmds, Some(e.0), buf.len()),
            }
        }
    }

    fn cmds(input: &[u8]) -> Vec<Vec<Vec<u8>>> {
        let (cmds, err, _) = parse_all(input);
        assert_eq!(err, None, "input {:?}", String::from_utf8_lossy(input));
        cmds
    }

    fn one(input: &[u8]) -> Vec<Vec<u8>> {
        let mut c = cmds(input);
        assert_eq!(c.len(), 1, "input {:?}", String::from_utf8_lossy(input));
        c.pop().unwrap()
    }

    fn err(input: &[u8]) -> String {
        let (_, err, _) = parse_all(input);
        err.unwrap_or_else(|| panic!("no error for {:?}", String::from_utf8_lossy(input)))
    }

    fn v(args: &[&str]) -> Vec<Vec<u8>> {
        args.iter().map(|a| a.as_bytes().to_vec()).collect()
    }

    /// True when `input` is accepted so far but is not yet a command.
    fn waits(input: &[u8]) -> bool {
        let (cmds, err, _) = parse_all(input);
        cmds.is_empty() && err.is_none()
    }

    #[test]
    fn multibulk_basic() {
        assert_eq!(one(b"*1\r\n$4\r\nPING\r\n"), v(&["PING"]));
        assert_eq!(
            one(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"),
            v(&["SET", "k", ""])
        );
        assert_eq!(one(b"*1\r\n$3\r\na\r\n\r\n"), vec![b"a\r\n".to_vec()]);
        assert_eq!(
            cmds(b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n"),
            vec![v(&["PING"]), v(&["ECHO", "hi"])]
        );
    }

    #[test]
    fn multibulk_is_lenient_where_redis_is() {
        // The byte after CR and the two bytes after the data are not checked.
        assert_eq!(one(b"*1\rX$4\rYPINGxy"), v(&["PING"]));
        // Both are consumed.
        let (c, e, left) = parse_all(b"*1\r\n$4\r\nPINGxy*1\r\n$1\r\na\r\n");
        assert_eq!((c, e, left), (vec![v(&["PING"]), v(&["a"])], None, 0));
    }

    #[test]
    fn empty_multibulks_are_skipped() {
        assert_eq!(cmds(b"*0\r\n"), Vec::<Vec<Vec<u8>>>::new());
        assert_eq!(one(b"*0\r\n*1\r\n$4\r\nPING\r\n"), v(&["PING"]));
        assert_eq!(one(b"*-5\r\nPING\r\n"), v(&["PING"]));
        assert_eq!(
            one(b"*-9223372036854775808\r\n*1\r\n$1\r\nx\r\n"),
            v(&["x"])
        );
        let (c, e, left) = parse_all(b"*0\r\n*-1\r\n");
        assert_eq!((c.len(), e, left), (0, None, 0));
    }

    #[test]
    fn invalid_multibulk_length() {
        for input in [
            &b"*abc\r\n"[..],
            b"*\r\n",
            b"*-0\r\n",
            b"*+1\r\n",
            b"*01\r\n",
            b"*1 \r\n",
            b"* 1\r\n",
            b"*2147483648\r\n",
            b"*9223372036854775807\r\n",
            b"*9223372036854775808\r\n",
            b"*-9223372036854775809\r\n",
            b"*1\n$4\r\nPING\r\n",
        ] {
            assert_eq!(
                err(input),
                "Protocol error: invalid multibulk length",
                "{input:?}"
            );
        }
        assert!(waits(b"*2147483647\r\n"));
        let limits = RequestLimits {
            max_multibulk_len: 3,
            ..RequestLimits::default()
        };
        let (_, e, _) = parse_all_with(b"*4\r\n", &limits);
        assert_eq!(e.unwrap(), "Protocol error: invalid multibulk length");
        let (_, e, _) = parse_all_with(b"*3\r\n", &limits);
        assert_eq!(e, None);
    }

    #[test]
    fn invalid_bulk_length() {
        for input in [
            &b"*1\r\n$-1\r\n"[..],
            b"*1\r\n$-0\r\n",
            b"*1\r\n$\r\n\r\n",
            b"*1\r\n$+4\r\nPING\r\n",
            b"*1\r\n$04\r\nPING\r\n",
            b"*1\r\n$4 \r\nPING\r\n",
            b"*1\r\n$x\r\n",
            b"*1\r\n$\xe9\r\n",
            b"*1\r\n$536870913\r\n",
            b"*1\r\n$99999999999999999999\r\n",
            b"*2\r\n$4\r\nPING\r\n$-5\r\n",
        ] {
            assert_eq!(
                err(input),
                "Protocol error: invalid bulk length",
                "{input:?}"
            );
        }
        assert!(waits(b"*1\r\n$536870912\r\n"));
        let limits = RequestLimits {
            max_bulk_len: 3,
            ..RequestLimits::default()
        };
        let (_, e, _) = parse_all_with(b"*1\r\n$4\r\nPING\r\n", &limits);
        assert_eq!(e.unwrap(), "Protocol error: invalid bulk length");
        let (c, e, _) = parse_all_with(b"*1\r\n$3\r\nGET\r\n", &limits);
        assert_eq!((c, e), (vec![v(&["GET"])], None));
    }

    #[test]
    fn commands_before_an_error_are_returned() {
        let (c, e, _) = parse_all(b"*1\r\n$4\r\nPING\r\n*1\r\n$-5\r\n");
        assert_eq!(c, vec![v(&["PING"])]);
        assert_eq!(e.unwrap(), "Protocol error: invalid bulk length");
    }

    #[test]
    fn expected_dollar() {
        assert_eq!(
            err(b"*1\r\nx4\r\n"),
            "Protocol error: expected '$', got 'x'"
        );
        assert_eq!(
            err(b"*1\r\n:4\r\n"),
            "Protocol error: expected '$', got ':'"
        );
        // Line breaks in the message become spaces.
        assert_eq!(
            err(b"*1\r\n\r\n\r\n"),
            "Protocol error: expected '$', got ' '"
        );
        assert_eq!(
            err(b"*1\r\n\n4\r\n"),
            "Protocol error: expected '$', got ' '"
        );
        // The check comes only once the header line is complete.
        assert!(waits(b"*1\r\nx"));
        assert!(waits(b"*1\r\nx4\r"));
    }

    #[test]
    fn too_big_headers() {
        let mut input = b"*".to_vec();
        input.extend_from_slice(&[b'1'; 65535]);
        assert!(waits(&input));
        input.push(b'1');
        assert_eq!(err(&input), "Protocol error: too big mbulk count string");

        let mut input = b"*1\r\n$".to_vec();
        input.extend_from_slice(&[b'1'; 65535]);
        assert!(waits(&input));
        input.push(b'1');
        assert_eq!(err(&input), "Protocol error: too big bulk count string");
        // Once the CR has arrived the size check no longer applies; the
        // length itself is then invalid.
        input.push(b'\r');
        assert!(waits(&input));
        input.push(b'\n');
        assert_eq!(err(&input), "Protocol error: invalid bulk length");

        let limits = RequestLimits {
            max_inline_len: 10,
            ..RequestLimits::default()
        };
        let (_, e, _) = parse_all_with(b"*111111111", &limits);
        assert_eq!(e, None);
        let (_, e, _) = parse_all_with(b"*1111111111", &limits);
        assert_eq!(e.unwrap(), "Protocol error: too big mbulk count string");
    }

    #[test]
    fn nul_hides_the_rest_of_a_header_line() {
        assert!(waits(b"*1\x00\r\n"));
        assert!(waits(b"*1\r\n$4\x00\r\nPING\r\n"));
        let mut input = b"*1\x00\r\n".to_vec();
        input.extend_from_slice(&[b'x'; 65536]);
        assert_eq!(err(&input), "Protocol error: too big mbulk count string");
        // NUL inside the data is ordinary.
        assert_eq!(one(b"*1\r\n$4\r\nPI\x00G\r\n"), vec![b"PI\x00G".to_vec()]);
    }

    #[test]
    fn partial_input_waits() {
        for input in [
            &b"*"[..],
            b"*1",
            b"*1\r",
            b"*1\r\n",
            b"*1\r\n$",
            b"*1\r\n$4",
            b"*1\r\n$4\r",
            b"*1\r\n$4\r\n",
            b"*1\r\n$4\r\nPING",
            b"*1\r\n$4\r\nPING\r",
            b"PING",
            b"PING\r",
        ] {
            assert!(waits(input), "{input:?}");
        }
    }

    #[test]
    fn unauthenticated_limits() {
        let parse = |input: &[u8]| {
            let mut p = RequestParser::new();
            p.set_auth_required(true);
            let mut buf = BytesMut::from(input);
            p.parse(&mut buf, &RequestLimits::default())
        };
        assert_eq!(
            parse(b"*11\r\n").unwrap_err().0,
            "Protocol error: unauthenticated multibulk length"
        );
        assert_eq!(parse(b"*10\r\n").unwrap(), None);
        assert_eq!(
            parse(b"*1\r\n$16385\r\n").unwrap_err().0,
            "Protocol error: unauthenticated bulk length"
        );
        assert_eq!(parse(b"*1\r\n$16384\r\n").unwrap(), None);
        assert_eq!(
            parse(b"*1\r\n$-1\r\n").unwrap_err().0,
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            parse(b"*abc\r\n").unwrap_err().0,
            "Protocol error: invalid multibulk length"
        );

        let mut p = RequestParser::new();
        p.set_auth_required(true);
        let mut buf = BytesMut::from(&b"*2\r\n$4\r\nAUTH\r\n$1\r\np\r\n*1\r\n$20000\r\n"[..]);
        let limits = RequestLimits::default();
        assert_eq!(p.parse(&mut buf, &limits).unwrap().unwrap().len(), 2);
        p.set_auth_required(false);
        assert_eq!(p.parse(&mut buf, &limits).unwrap(), None);
    }

    #[test]
    fn incremental_multibulk_keeps_state() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        for split in 0..=input.len() {
            let mut parser = RequestParser::new();
            let limits = RequestLimits::default();
            let mut buf = BytesMut::from(&input[..split]);
            let first = parser.parse(&mut buf, &limits).unwrap();
            if split < input.len() {
                assert_eq!(first, None, "split {split}");
                buf.extend_from_slice(&input[split..]);
                let args = parser.parse(&mut buf, &limits).unwrap().unwrap();
                assert_eq!(args, vec!["SET", "key", "value"]);
            } else {
                assert_eq!(first.unwrap(), vec!["SET", "key", "value"]);
            }
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn finished_args_leave_the_buffer() {
        let mut parser = RequestParser::new();
        let limits = RequestLimits::default();
        let mut buf = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva"[..]);
        assert_eq!(parser.parse(&mut buf, &limits).unwrap(), None);
        // Only the incomplete argument's data remains.
        assert_eq!(&buf[..], b"va");
        buf.extend_from_slice(b"lue\r\n");
        assert_eq!(
            parser.parse(&mut buf, &limits).unwrap().unwrap(),
            vec!["SET", "key", "value"]
        );
    }

    #[test]
    fn big_argument_reserves_room() {
        let mut parser = RequestParser::new();
        let limits = RequestLimits::default();
        let len = 1 << 20;
        let mut buf = BytesMut::from(format!("*2\r\n$3\r\nSET\r\n${len}\r\nabc").as_bytes());
        assert_eq!(parser.parse(&mut buf, &limits).unwrap(), None);
        assert!(buf.capacity() >= len + 2);
        let data = vec![b'z'; len - 3];
        let ptr = buf.as_ptr();
        buf.extend_from_slice(&data);
        buf.extend_from_slice(b"\r\n");
        assert_eq!(buf.as_ptr(), ptr, "the buffer was reallocated");
        let args = parser.parse(&mut buf, &limits).unwrap().unwrap();
        assert_eq!(args[1].len(), len);
        // The argument is the buffer's memory, not a copy.
        assert_eq!(args[1].as_ptr(), ptr);
    }

    #[test]
    fn arguments_are_not_copied() {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let args = parser
            .parse(&mut buf, &RequestLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(args[0].as_ptr() as usize, base + 8);
        assert_eq!(args[1].as_ptr() as usize, base + 17);
    }

    #[test]
    fn inline_basic() {
        assert_eq!(one(b"PING\n"), v(&["PING"]));
        assert_eq!(one(b"PING\r\n"), v(&["PING"]));
        assert_eq!(one(b"  SET  k\tv  \r\n"), v(&["SET", "k", "v"]));
        assert_eq!(one(b"\r\n\n  \t\nPING\n"), v(&["PING"]));
        assert_eq!(cmds(b"\n    \n\r\n"), Vec::<Vec<Vec<u8>>>::new());
        assert_eq!(
            cmds(b"GET a\nGET b\r\n*1\r\n$1\r\nc\r\n"),
            vec![v(&["GET", "a"]), v(&["GET", "b"]), v(&["c"])]
        );
        // Only one CR is stripped; a CR inside a line separates arguments.
        assert_eq!(one(b"ECHO x\r\r\n"), v(&["ECHO", "x"]));
        assert_eq!(one(b"ECHO x\rb\n"), v(&["ECHO", "x", "b"]));
        // A line starting with a space is inline even if a '*' follows.
        assert_eq!(one(b" *1\r\n"), v(&["*1"]));
    }

    #[test]
    fn inline_whitespace_rules() {
        // \v and \f are skipped before an argument but do not end one.
        assert_eq!(
            one(b"ECHO a\x0bb\n"),
            vec![b"ECHO".to_vec(), b"a\x0bb".to_vec()]
        );
        assert_eq!(one(b"\x0bECHO\x0cx\n"), vec![b"ECHO\x0cx".to_vec()]);
        // But they do count as whitespace after a closing quote.
        assert_eq!(one(b"ECHO \"a\"\x0b\n"), v(&["ECHO", "a"]));
    }

    #[test]
    fn inline_quotes() {
        assert_eq!(
            one(b"ECHO \"a\\x41\\x4g\\n\\z\\\\\"\n"),
            vec![b"ECHO".to_vec(), b"aAx4g\nz\\".to_vec()]
        );
        assert_eq!(one(b"ECHO \"\\t\\b\\a\\r\\\"\"\n")[1], b"\t\x08\x07\r\"");
        assert_eq!(one(b"ECHO \"\\x41\\xfF\"\n")[1], b"A\xff");
        assert_eq!(one(b"ECHO \"\\xZZ\"\n")[1], b"xZZ");
        assert_eq!(one(b"ECHO \"\\x4\"\n")[1], b"x4");
        assert_eq!(one(b"ECHO \"x\rb\"\n")[1], b"x\rb");
        assert_eq!(one(b"ECHO \"a\\\rb\"\n")[1], b"a\rb");
        assert_eq!(one(b"ECHO \"\xe9\"\n")[1], b"\xe9");
        assert_eq!(one(b"ECHO \"\"\n"), v(&["ECHO", ""]));
        assert_eq!(one(b"ECHO ''\n"), v(&["ECHO", ""]));
        assert_eq!(one(b"ECHO a \"\" b\n"), v(&["ECHO", "a", "", "b"]));
        assert_eq!(one(b"ECHO \"x\"\t\n"), v(&["ECHO", "x"]));
        assert_eq!(one(b"ECHO 'a\\'b'\n"), v(&["ECHO", "a'b"]));
        assert_eq!(one(b"ECHO 'a\\nb'\n"), v(&["ECHO", "a\\nb"]));
        assert_eq!(one(b"ECHO 'a\"b'\n"), v(&["ECHO", "a\"b"]));
        // A quote may open in the middle of an argument.
        assert_eq!(one(b"ECHO a'b c'\n"), v(&["ECHO", "ab c"]));
        assert_eq!(one(b"ECHO a\"b c\" d\n"), v(&["ECHO", "ab c", "d"]));
    }

    #[test]
    fn inline_unbalanced_quotes() {
        for input in [
            &b"ECHO \"abc\"def\n"[..],
            b"ECHO \"abc\n",
            b"ECHO 'ab'c\n",
            b"ECHO a\"b c\"d\n",
            b"ECHO 'a\\\\'\n",
            b"ECHO \"\\\"\n",
            b"ECHO \"a\\\n",
            b"ECHO \"a\"'b'\n",
            b"ECHO 'abc\n",
        ] {
            assert_eq!(
                err(input),
                "Protocol error: unbalanced quotes in request",
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn inline_too_big() {
        let input = vec![b'a'; 65536];
        assert!(waits(&input));
        let input = vec![b'a'; 65537];
        assert_eq!(err(&input), "Protocol error: too big inline request");
        // A complete line may be longer than the limit.
        let mut input = vec![b'a'; 70000];
        input.push(b'\n');
        assert_eq!(one(&input)[0].len(), 70000);
        // A NUL hides the newline after it.
        assert!(waits(b"ECHO\x00 x\n"));
        assert!(waits(b"\x00\n"));
        let mut input = b"\x00\n".to_vec();
        input.extend(vec![b'a'; 65535]);
        assert_eq!(err(&input), "Protocol error: too big inline request");
    }

    #[test]
    fn unquoted_inline_args_are_not_copied() {
        let mut parser = RequestParser::new();
        let mut buf = BytesMut::from(&b"GET key\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let args = parser
            .parse(&mut buf, &RequestLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(args[1].as_ptr() as usize, base + 4);
    }

    #[test]
    fn strict_integers() {
        assert_eq!(parse_strict_i64(b"0"), Some(0));
        assert_eq!(parse_strict_i64(b"-1"), Some(-1));
        assert_eq!(parse_strict_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_strict_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"00",
            b"-0",
            b"01",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999",
            b"-99999999999999999999",
            b"123456789012345678901",
        ] {
            assert_eq!(parse_strict_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn protocol_error_display() {
        let e = ProtocolError("Protocol error: invalid bulk length".into());
        assert_eq!(e.to_string(), "Protocol error: invalid bulk length");
    }
}
