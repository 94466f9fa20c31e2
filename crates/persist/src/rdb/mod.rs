//! Redis's RDB format: files (`dump.rdb`, an AOF base) and the DUMP /
//! RESTORE payload.
//!
//! Written as Redis 7.0 writes it (version 10), so redis-server 7.0 loads
//! what this writes and DUMP gives Redis's bytes for strings, intsets and
//! listpacks. Read: every encoding of versions 6 to 11 (Redis 3.2 to 7.2).
//!
//! ```text
//! file     "REDIS" + 4 version digits | record* | 0xFF | CRC-64 LE (0: not kept)
//! record   AUX key value | FUNCTION2 code | SELECTDB n | RESIZEDB keys expires
//!          | [EXPIRETIME_MS t] [IDLE s | FREQ f] type key value
//! payload  type value | version u16 LE | CRC-64 LE of everything before it
//! ```
//! Lengths (`len` below) take 1, 2, 5 or 9 bytes: `00xxxxxx`, `01xxxxxx
//! xxxxxxxx` (big-endian), `0x80` + u32 BE, `0x81` + u64 BE. A string is a
//! length and its bytes, or `11xxxxxx`: an integer in 1, 2 or 4 bytes (LE)
//! standing for its decimal text, or LZF (`0xC3`, compressed length, length,
//! compressed bytes).
//!
//! Nothing here panics on any input, and no length read from the data is
//! allocated before it is checked against the bytes that remain.

pub mod crc64;
pub mod double;
pub mod functions;
mod input;
pub mod intset;
pub mod listpack;
pub mod lzf;
mod read;
mod write;
pub mod ziplist;
pub mod zipmap;

pub use crc64::crc64;
pub use functions::{functions_payload, FunctionsPayload};
pub use read::{read_value, FileReader};
pub use write::{value_type, write_value, write_value_with, FileWriter, WriteOptions};

use crate::snapshot::value::Limits;
use rubedo_engine::Value;

/// The RDB version this writes (Redis 7.0's).
pub const VERSION: u16 = 10;
/// The file versions read: 6 (Redis 2.8) to 11 (Redis 7.2); 7 is Redis 3.2,
/// 8 Redis 4.0, 9 Redis 5.0 and 6.x, 10 Redis 7.0.
pub const MIN_READ_VERSION: u16 = 6;
pub const MAX_READ_VERSION: u16 = 11;
/// The magic every file starts with, before the four version digits.
pub const MAGIC: &[u8; 5] = b"REDIS";
/// A list element at least this long gets a plain quicklist node of its own
/// (Redis's default `packed_threshold`, 1 GiB).
pub const PACKED_THRESHOLD: usize = 1 << 30;

/// Record opcodes.
pub mod opcode {
    pub const FUNCTION2: u8 = 245;
    /// Redis 7.0's release candidates only: one function, read as a library.
    pub const FUNCTION_PRE_GA: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Value types.
pub mod ty {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;

    /// Whether `t` is a value type (of any version up to 11).
    pub fn is_value_type(t: u8) -> bool {
        matches!(t, 0..=7 | 9..=21)
    }

    pub fn is_stream(t: u8) -> bool {
        matches!(
            t,
            STREAM_LISTPACKS | STREAM_LISTPACKS_2 | STREAM_LISTPACKS_3
        )
    }

    pub fn is_module(t: u8) -> bool {
        matches!(t, MODULE_PRE_GA | MODULE_2)
    }
}

/// Length and string encodings.
pub(crate) mod enc {
    pub const LEN_32: u8 = 0x80;
    pub const LEN_64: u8 = 0x81;
    pub const INT8: u8 = 0;
    pub const INT16: u8 = 1;
    pub const INT32: u8 = 2;
    pub const LZF: u8 = 3;
    /// Quicklist 2 node containers.
    pub const PLAIN: u64 = 1;
    pub const PACKED: u64 = 2;
}

/// Why RDB data cannot be read: where, and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    /// Offset from the start of the file or payload.
    pub offset: u64,
    pub reason: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at offset {}", self.reason, self.offset)
    }
}

impl std::error::Error for Error {}

/// Whether `head` is the start of an RDB file: "REDIS" and four digits.
pub fn is_rdb(head: &[u8]) -> bool {
    head.len() >= 9 && head.starts_with(MAGIC) && head[5..9].iter().all(u8::is_ascii_digit)
}

/// DUMP's payload: the type byte and the value as RDB writes them, the RDB
/// version (2 bytes LE) and the CRC-64 (8 bytes LE) of all that.
pub fn dump_payload(value: &Value, compress: bool) -> Vec<u8> {
    dump_payload_with(value, &WriteOptions::new(compress))
}

/// [`dump_payload`] with the list fill and packed threshold given.
pub fn dump_payload_with(value: &Value, opts: &WriteOptions) -> Vec<u8> {
    let mut out = Vec::new();
    write_value_with(&mut out, value, opts);
    out.extend_from_slice(&VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Why RESTORE refuses a payload.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadError {
    /// Shorter than its footer, from a newer RDB version, or a wrong CRC
    /// (Redis: "DUMP payload version or checksum are wrong").
    VersionOrChecksum,
    /// Anything else (Redis: "Bad data format"): the reason, for logs.
    Bad(String),
}

/// RESTORE's reading of a payload, with Redis 7.0's checks
/// (`verifyDumpPayload`): at least the 10 footer bytes, a version of at
/// most [`VERSION`], a matching CRC-64 (a stored 0 is no exception). Then the
/// value must be a known type, whole and non-empty. As Redis, the value is
/// read from the whole payload, footer included, and what follows it is
/// not looked at (so ten zero bytes are an empty string).
pub fn restore_payload(payload: &[u8], lim: &Limits) -> Result<Value, PayloadError> {
    if payload.len() < 10 {
        return Err(PayloadError::VersionOrChecksum);
    }
    let foot = payload.len() - 10;
    let version = u16::from_le_bytes([payload[foot], payload[foot + 1]]);
    if version > VERSION {
        return Err(PayloadError::VersionOrChecksum);
    }
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&payload[foot + 2..]);
    if crc64(&payload[..foot + 2]) != u64::from_le_bytes(crc) {
        return Err(PayloadError::VersionOrChecksum);
    }
    let (&t, rest) = payload
        .split_first()
        .expect("at least ten bytes were checked");
    let (value, _) = read_value(t, rest, lim).map_err(|e| PayloadError::Bad(e.to_string()))?;
    if read::is_empty(&value) {
        return Err(PayloadError::Bad("an empty value".into()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests;
