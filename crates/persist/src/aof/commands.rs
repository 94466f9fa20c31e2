//! Reading the command stream incr files (and command-format bases) hold:
//!
//! ```text
//! #TS:1700000000\r\n                 an annotation (any line starting with '#')
//! *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n   a command
//! ```
//!
//! The reader yields commands and annotations and keeps the offset where
//! the last complete one ends, so a loader can tell
//! - a clean end (`Ok(None)`: the file ends between items),
//! - a truncated tail (`ReadError::Truncated`: the file ends inside an
//!   item; with `aof-load-truncated yes` Redis truncates the file at
//!   `valid_up_to` and goes on, and only the last file may be truncated),
//! - damage (`ReadError::Corrupt`: a byte that cannot be there, with its
//!   offset; Redis refuses to start).
//!
//! It is stricter than Redis's loader where Redis would read garbage as a
//! command (Redis parses counts with `atoi` and skips the two bytes after a
//! bulk without looking at them): counts and lengths must be plain decimal
//! numbers, and every line and bulk must end in `\r\n`. Lines (annotations
//! and headers) are limited as Redis's are: at most 1023 bytes with the
//! `\n`. A partial annotation at the very end counts as truncated (Redis
//! ignores it, and the next write would then be glued to it).
//!
//! MULTI: the reader remembers where the open transaction's MULTI starts
//! (`open_multi`). Redis only runs a transaction at its EXEC, and a file
//! that ends with one open is "truncated" at its MULTI.

use std::fmt;
use std::io::{self, Read};

use bytes::Bytes;

/// Longest line (annotation, `*n`, `$n`) with its `\n`: Redis reads lines
/// into a 1024-byte buffer (`AOF_ANNOTATION_LINE_MAX_LEN`), so 1023 bytes.
pub const MAX_LINE: usize = 1023;
const BUF: usize = 64 << 10;
/// Bulks are read in pieces this big, so a length is never allocated
/// before its bytes are there.
const PIECE: usize = 1 << 20;

/// What a file may claim before it is called damaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Arguments of one command. Redis's protocol limit (`INT_MAX`).
    pub max_args: u64,
    /// Bytes of one argument. Default: `proto-max-bulk-len`'s default (512 MB);
    /// pass the configured value (Redis itself has no limit when loading).
    pub max_bulk: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_args: i32::MAX as u64,
            max_bulk: 512 << 20,
        }
    }
}

/// One thing in the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A command's arguments (never empty).
    Command(Vec<Bytes>),
    /// `#TS:<unix seconds>` (written with `aof-timestamp-enabled yes`).
    Timestamp(u64),
    /// Any other `#` line: its bytes after the `#`, without the line end.
    Annotation(Vec<u8>),
}

/// Why reading stopped early.
#[derive(Debug)]
pub enum ReadError {
    /// The data ends inside an item. Everything before `valid_up_to` is
    /// whole items.
    Truncated { valid_up_to: u64 },
    /// A byte that cannot be there, at `offset`; the items before
    /// `valid_up_to` were whole.
    Corrupt {
        offset: u64,
        valid_up_to: u64,
        reason: String,
    },
    /// Reading failed.
    Io { valid_up_to: u64, error: io::Error },
}

impl ReadError {
    /// The end of the last whole item before the problem.
    pub fn valid_up_to(&self) -> u64 {
        match self {
            ReadError::Truncated { valid_up_to }
            | ReadError::Corrupt { valid_up_to, .. }
            | ReadError::Io { valid_up_to, .. } => *valid_up_to,
        }
    }

    /// The line Redis 7.0.15 logs when it gives up on `file` for this
    /// reason (for a truncated file: when `aof-load-truncated` is no, or
    /// the file is not the last one).
    pub fn redis_message(&self, file: &str) -> String {
        match self {
            ReadError::Truncated { .. } => unexpected_eof_message(file),
            ReadError::Corrupt { .. } => bad_format_message(file),
            ReadError::Io { error, .. } => {
                format!("Unrecoverable error reading the append only file {file}: {error}")
            }
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Truncated { valid_up_to } => write!(
                f,
                "the file ends inside a command (truncated); \
                 the last complete one ends at offset {valid_up_to}"
            ),
            ReadError::Corrupt { offset, reason, .. } => {
                write!(f, "bad file format at offset {offset}: {reason}")
            }
            ReadError::Io { valid_up_to, error } => {
                write!(f, "cannot read after offset {valid_up_to}: {error}")
            }
        }
    }
}

impl std::error::Error for ReadError {}

/// Redis's message for a damaged file.
pub fn bad_format_message(file: &str) -> String {
    format!(
        "Bad file format reading the append only file {file}: make a backup of your AOF file, \
         then use ./redis-check-aof --fix <filename.manifest>"
    )
}

/// Redis's message for a truncated file it will not load.
pub fn unexpected_eof_message(file: &str) -> String {
    format!(
        "Unexpected end of file reading the append only file {file}. You can: \
         1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. \
         2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and \
         restart the server."
    )
}

/// Redis's warnings when it truncates `file` at `offset` and loads it anyway.
pub fn truncating_messages(file: &str, offset: u64) -> [String; 3] {
    [
        format!("!!! Warning: short read while loading the AOF file {file}!!!"),
        format!("!!! Truncating the AOF {file} at offset {offset} !!!"),
        format!("AOF {file} loaded anyway because aof-load-truncated is enabled"),
    ]
}

/// Redis's warning when a file ends inside MULTI/EXEC (then truncated at
/// the MULTI like a short read).
pub fn revert_multi_message(file: &str) -> String {
    format!("Revert incomplete MULTI/EXEC transaction in AOF file {file}")
}

/// Reads items from a stream, buffered.
pub struct CommandReader<R> {
    input: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    /// File offset of `buf[start]`.
    pos: u64,
    /// End of the last whole item.
    valid: u64,
    item_start: u64,
    multi: Option<u64>,
    limits: Limits,
    stopped: bool,
}

enum Line {
    /// `len` bytes at `buf[start..]`, the last one `\n`.
    Whole(usize),
    /// The data ends after these bytes, with no `\n`.
    Partial(usize),
    TooLong,
}

impl<R: Read> CommandReader<R> {
    pub fn new(input: R) -> CommandReader<R> {
        CommandReader::with_limits(input, Limits::default())
    }

    pub fn with_limits(input: R, limits: Limits) -> CommandReader<R> {
        CommandReader {
            input,
            buf: vec![0u8; BUF].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            pos: 0,
            valid: 0,
            item_start: 0,
            multi: None,
            limits,
            stopped: false,
        }
    }

    /// The end of the last whole item read (where a truncated file would
    /// be cut).
    pub fn offset(&self) -> u64 {
        self.valid
    }

    /// Where the last item read starts.
    pub fn item_start(&self) -> u64 {
        self.item_start
    }

    /// Where the MULTI of a transaction still open (no EXEC read yet)
    /// starts. At a clean end, `Some` means the file must be treated as
    /// truncated there: Redis logs `revert_multi_message` and, with
    /// `aof-load-truncated yes`, cuts the file at this offset (without it,
    /// it refuses to start). The loader queues a transaction's commands
    /// and runs them at EXEC, so nothing of it has been applied.
    pub fn open_multi(&self) -> Option<u64> {
        self.multi
    }

    /// The next item; `Ok(None)` at a clean end. After an error it keeps
    /// returning one.
    pub fn next_item(&mut self) -> Result<Option<Item>, ReadError> {
        if self.stopped {
            return Err(self.corrupt(self.valid, "read after an earlier error"));
        }
        let r = self.read_item();
        if r.is_err() {
            self.stopped = true;
        }
        r
    }

    fn read_item(&mut self) -> Result<Option<Item>, ReadError> {
        self.item_start = self.pos;
        if self.buffered() == 0 && !self.fill()? {
            return Ok(None);
        }
        match self.buf[self.start] {
            b'#' => self.annotation().map(Some),
            b'*' => self.command().map(Some),
            b => Err(self.corrupt(
                self.pos,
                format!(
                    "expected '*' or '#' at the start of a command, found {}",
                    show(b)
                ),
            )),
        }
    }

    fn annotation(&mut self) -> Result<Item, ReadError> {
        let len = match self.line()? {
            Line::Whole(n) => n,
            Line::Partial(_) => return Err(self.truncated()),
            Line::TooLong => {
                return Err(self.corrupt(self.pos, "an annotation line over 1023 bytes"));
            }
        };
        let line = &self.buf[self.start + 1..self.start + len - 1];
        let text = line.strip_suffix(b"\r").unwrap_or(line);
        let item = match text.strip_prefix(b"TS:").and_then(parse_decimal) {
            Some(ts) => Item::Timestamp(ts),
            None => Item::Annotation(text.to_vec()),
        };
        self.consume(len);
        self.valid = self.pos;
        Ok(item)
    }

    fn command(&mut self) -> Result<Item, ReadError> {
        let argc = self.header(b'*')?;
        if argc == 0 {
            return Err(self.corrupt(self.item_start, "a command with no arguments"));
        }
        if argc > self.limits.max_args {
            return Err(self.corrupt(
                self.item_start,
                format!(
                    "a command with {argc} arguments (over {})",
                    self.limits.max_args
                ),
            ));
        }
        let mut argv = Vec::with_capacity(argc.min(1024) as usize);
        for _ in 0..argc {
            let at = self.pos;
            let len = self.header(b'$')?;
            if len > self.limits.max_bulk {
                return Err(self.corrupt(
                    at,
                    format!("an argument of {len} bytes (over {})", self.limits.max_bulk),
                ));
            }
            argv.push(self.bulk(len as usize)?);
        }
        if argv[0].eq_ignore_ascii_case(b"multi") {
            self.multi = Some(self.item_start);
        } else if argv[0].eq_ignore_ascii_case(b"exec") {
            self.multi = None;
        }
        self.valid = self.pos;
        Ok(Item::Command(argv))
    }

    /// `<prefix><digits>\r\n`.
    fn header(&mut self, prefix: u8) -> Result<u64, ReadError> {
        if self.buffered() == 0 && !self.fill()? {
            return Err(self.truncated());
        }
        let (len, whole) = match self.line()? {
            Line::Whole(n) => (n, true),
            Line::Partial(n) => (n, false),
            Line::TooLong => return Err(self.corrupt(self.pos, "a line over 1023 bytes")),
        };
        let line = &self.buf[self.start..self.start + len];
        let what = if prefix == b'*' {
            "an argument count"
        } else {
            "an argument length"
        };
        if line[0] != prefix {
            let found = show(line[0]);
            return Err(self.corrupt(
                self.pos,
                format!("expected '{}' before {what}, found {found}", prefix as char),
            ));
        }
        let digits = line[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        let after = 1 + digits;
        let tail = &line[after..];
        let ok_tail = if whole {
            tail == b"\r\n"
        } else {
            tail.is_empty() || tail == b"\r"
        };
        if !ok_tail {
            let bad = self.pos + after as u64 + (tail.first() == Some(&b'\r')) as u64;
            let reason = if tail.first().is_some_and(|&b| b == b'\r' || b == b'\n') {
                format!("{what} not ended by \\r\\n")
            } else {
                format!("{what} that is not a number")
            };
            return Err(self.corrupt(bad, reason));
        }
        if !whole {
            return Err(self.truncated());
        }
        if digits == 0 {
            return Err(self.corrupt(self.pos, format!("{what} with no digits")));
        }
        let Some(n) = parse_decimal(&line[1..after]) else {
            return Err(self.corrupt(self.pos, format!("{what} too large")));
        };
        self.consume(len);
        Ok(n)
    }

    /// `len` bytes and `\r\n`.
    fn bulk(&mut self, len: usize) -> Result<Bytes, ReadError> {
        let mut data = Vec::with_capacity(len.min(PIECE));
        while data.len() < len {
            if self.buffered() == 0 && !self.fill()? {
                return Err(self.truncated());
            }
            let n = self.buffered().min(len - data.len());
            if data.len() + n > data.capacity() {
                data.reserve((len - data.len()).min(PIECE));
            }
            data.extend_from_slice(&self.buf[self.start..self.start + n]);
            self.consume(n);
        }
        while self.buffered() < 2 {
            if !self.fill()? {
                if self.buffered() == 1 && self.buf[self.start] != b'\r' {
                    return Err(self.corrupt(self.pos, "an argument not followed by \\r\\n"));
                }
                return Err(self.truncated());
            }
        }
        if &self.buf[self.start..self.start + 2] != b"\r\n" {
            let bad = self.pos + (self.buf[self.start] == b'\r') as u64;
            return Err(self.corrupt(bad, "an argument not followed by \\r\\n"));
        }
        self.consume(2);
        Ok(Bytes::from(data))
    }

    /// Finds the line at `buf[start..]`, reading more as needed.
    fn line(&mut self) -> Result<Line, ReadError> {
        let mut searched = 0;
        loop {
            let avail = &self.buf[self.start..self.end];
            let limit = avail.len().min(MAX_LINE);
            if let Some(i) = avail[searched..limit].iter().position(|&b| b == b'\n') {
                return Ok(Line::Whole(searched + i + 1));
            }
            if avail.len() >= MAX_LINE {
                return Ok(Line::TooLong);
            }
            searched = avail.len();
            if !self.fill()? {
                return Ok(Line::Partial(self.buffered()));
            }
        }
    }

    fn buffered(&self) -> usize {
        self.end - self.start
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.pos += n as u64;
    }

    /// Reads more; false at the end of the data.
    fn fill(&mut self) -> Result<bool, ReadError> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        loop {
            match self.input.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    return Err(ReadError::Io {
                        valid_up_to: self.valid,
                        error,
                    })
                }
            }
        }
    }

    fn truncated(&self) -> ReadError {
        ReadError::Truncated {
            valid_up_to: self.valid,
        }
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> ReadError {
        ReadError::Corrupt {
            offset,
            valid_up_to: self.valid,
            reason: reason.into(),
        }
    }
}

impl<R: Read> Iterator for CommandReader<R> {
    type Item = Result<Item, ReadError>;

    /// Items until a clean end or the first error (then stops).
    fn next(&mut self) -> Option<Self::Item> {
        if self.stopped {
            return None;
        }
        self.next_item().transpose()
    }
}

/// How a whole buffer reads.
#[derive(Debug)]
pub struct Parsed {
    pub items: Vec<Item>,
    /// None: a clean end.
    pub error: Option<ReadError>,
    /// Where the MULTI of a transaction left open at the end starts.
    pub open_multi: Option<u64>,
    /// The end of the last whole item.
    pub valid_up_to: u64,
}

/// Reads every item of `data`.
pub fn parse_all(data: &[u8]) -> Parsed {
    let mut r = CommandReader::new(data);
    let mut items = Vec::new();
    let error = loop {
        match r.next_item() {
            Ok(Some(item)) => items.push(item),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    Parsed {
        items,
        error,
        open_multi: r.open_multi(),
        valid_up_to: r.offset(),
    }
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn show(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}
