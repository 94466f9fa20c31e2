//! Errors the data layer can report; the server maps each to Redis's reply text.

use std::fmt;

/// A failure of a data operation. Each variant has exactly one reply text,
/// chosen by the server, so the engine never formats protocol errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The key holds a value of another type.
    WrongType,
    /// The value is not an integer or out of range.
    NotInteger,
    /// The value is not a valid float.
    NotFloat,
    /// An increment or decrement would overflow.
    Overflow,
    /// INCRBYFLOAT would produce NaN or Infinity.
    NanOrInfinity,
    /// A string would grow beyond proto-max-bulk-len.
    StringTooLong,
    /// The offset argument is out of range.
    OffsetOutOfRange,
    /// The source and destination objects are the same.
    SameObject,
    /// No such key.
    NoSuchKey,
    /// The memory limit forbids this write.
    OutOfMemory,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
