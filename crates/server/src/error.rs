//! Command errors and the one place that turns them into Redis's reply text.

use bytes::Bytes;
use rubedo_engine::Error as EngineError;
use rubedo_resp::Frame;

/// Why a command failed. `reply` is the single mapping to RESP error text;
/// INFO errorstats counts by the first word of that text.
#[derive(Debug, Clone, PartialEq)]
pub enum CmdError {
    Engine(EngineError),
    Syntax,
    WrongArity(String),
    NotInteger,
    NotFloat,
    OutOfRange(&'static str),
    InvalidExpire(String),
    InvalidDbIndex,
    DbIndexOutOfRange,
    NoAuth,
    ExecAbort,
    ExecWithoutMulti,
    DiscardWithoutMulti,
    MultiNested,
    WatchInMulti,
    NotAllowedInMulti(String),
    /// The handler reached a key its key specs did not name (a bug in the
    /// command table; under the concurrent engine that key was not locked).
    KeyOutsideScope,
    /// Any other error, with its full text including the prefix word.
    Other(String),
    /// Like `Other`, for a text that echoes an argument's bytes as they are
    /// (not necessarily UTF-8).
    OtherBytes(Vec<u8>),
}

impl From<EngineError> for CmdError {
    fn from(e: EngineError) -> Self {
        CmdError::Engine(e)
    }
}

/// Shorthand for an `ERR ...` error with a custom message.
pub fn err(msg: impl Into<String>) -> CmdError {
    CmdError::Other(format!("ERR {}", msg.into()))
}

/// An `ERR ...` error that quotes an argument's bytes as they came, as
/// Redis's `%s` does: bytes >= 0x80 unchanged, up to the first NUL.
pub fn err_quoting(before: &str, arg: &[u8], after: &str) -> CmdError {
    let mut t = format!("ERR {before}").into_bytes();
    t.extend_from_slice(c_str(arg, usize::MAX));
    t.extend_from_slice(after.as_bytes());
    CmdError::OtherBytes(t)
}

/// At most `max` bytes of `b`, up to its first NUL (C's `%.*s`).
pub fn c_str(b: &[u8], max: usize) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end.min(max)]
}

impl CmdError {
    /// The reply text, including the prefix word (`ERR`, `WRONGTYPE`...).
    pub fn text(&self) -> String {
        use CmdError::*;
        match self {
            Engine(e) => match e {
                EngineError::WrongType => {
                    "WRONGTYPE Operation against a key holding the wrong kind of value".into()
                }
                EngineError::NotInteger => "ERR value is not an integer or out of range".into(),
                EngineError::NotFloat => "ERR value is not a valid float".into(),
                EngineError::Overflow => "ERR increment or decrement would overflow".into(),
                EngineError::NanOrInfinity => "ERR increment would produce NaN or Infinity".into(),
                EngineError::StringTooLong => {
                    "ERR string exceeds maximum allowed size (proto-max-bulk-len)".into()
                }
                EngineError::OffsetOutOfRange => "ERR offset is out of range".into(),
                EngineError::SameObject => "ERR source and destination objects are the same".into(),
                EngineError::NoSuchKey => "ERR no such key".into(),
                EngineError::OutOfMemory => {
                    "OOM command not allowed when used memory > 'maxmemory'.".into()
                }
            },
            Syntax => "ERR syntax error".into(),
            KeyOutsideScope => {
                "ERR internal error: the command reached a key outside its declared key specs"
                    .into()
            }
            WrongArity(name) => format!("ERR wrong number of arguments for '{name}' command"),
            NotInteger => "ERR value is not an integer or out of range".into(),
            NotFloat => "ERR value is not a valid float".into(),
            OutOfRange(what) => format!("ERR {what} is out of range"),
            InvalidExpire(cmd) => format!("ERR invalid expire time in '{cmd}' command"),
            InvalidDbIndex => "ERR invalid DB index".into(),
            DbIndexOutOfRange => "ERR DB index is out of range".into(),
            NoAuth => "NOAUTH Authentication required.".into(),
            ExecAbort => "EXECABORT Transaction discarded because of previous errors.".into(),
            ExecWithoutMulti => "ERR EXEC without MULTI".into(),
            DiscardWithoutMulti => "ERR DISCARD without MULTI".into(),
            MultiNested => "ERR MULTI calls can not be nested".into(),
            WatchInMulti => "ERR WATCH inside MULTI is not allowed".into(),
            NotAllowedInMulti(_) => "ERR Command not allowed inside a transaction".into(),
            Other(s) => s.clone(),
            OtherBytes(b) => String::from_utf8_lossy(b).into_owned(),
        }
    }

    /// The error as a reply frame. Newlines are replaced so the reply stays
    /// one protocol line, as Redis does.
    pub fn reply(&self) -> Frame {
        let mut t = match self {
            CmdError::OtherBytes(b) => b.clone(),
            e => e.text().into_bytes(),
        };
        for b in t.iter_mut() {
            if *b == b'\r' || *b == b'\n' {
                *b = b' ';
            }
        }
        Frame::Error(Bytes::from(t))
    }
}

/// The prefix word of an error text (what errorstats counts by), as Redis
/// finds it: the text up to its first space when that space is among the
/// first 31 bytes (32 with the `-` of the reply line), else `ERR`.
pub fn error_prefix(text: &[u8]) -> &[u8] {
    match text[..text.len().min(31)].iter().position(|&b| b == b' ') {
        Some(end) => &text[..end],
        None => b"ERR",
    }
}

pub type CmdResult = Result<Frame, CmdError>;
