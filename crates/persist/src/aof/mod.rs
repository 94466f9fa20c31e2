//! The append-only log, in Redis 7's multi-part layout.
//!
//! A directory (`appenddirname`, default `appendonlydir`) holds:
//!
//! ```text
//! <prefix>.manifest            which files make up the log, one line each
//! <prefix>.<seq>.base.(aof|rdb) the dataset as of the last rewrite (at most one)
//! <prefix>.<seq>.incr.aof      the writes since, in order (usually one)
//! ```
//!
//! where `prefix` is `appendfilename` (default `appendonly.aof`). After a
//! rewrite the previous base and incrs become *history* and are deleted
//! unless `aof-disable-auto-gc` is on.
//!
//! This module is the pure part: the manifest (`manifest`), the command
//! stream incr files and command-format bases hold (`commands`), and
//! writing that stream (`encode`). It never looks at the server's state;
//! the server decides when to call what.

pub mod commands;
pub mod encode;
pub mod manifest;
pub mod rewrite;

pub use commands::{CommandReader, Item, Limits, ReadError};
pub use encode::{encode_command, encode_select, encode_timestamp, Feeder};
pub use manifest::{
    base_name, incr_name, manifest_name, remove_history, temp_incr_name, temp_manifest_name,
    write_atomically, AofFile, AofState, FileKind, Manifest, ManifestError, ManifestErrorKind,
    RewriteNames,
};

/// The default `appendfilename`.
pub const DEFAULT_PREFIX: &str = "appendonly.aof";
/// The default `appenddirname`.
pub const DEFAULT_DIR: &str = "appendonlydir";

/// What a base file holds, judged by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// A Redis RDB file (`REDIS` magic): what Redis writes with
    /// `aof-use-rdb-preamble yes`.
    RedisRdb,
    /// A Rubedo snapshot (`RUBEDOSN` magic).
    RubedoSnapshot,
    /// Anything else: read it as a command stream (an empty file too).
    Commands,
}

/// Tells the format of a base file from its first bytes (8 are enough).
/// Redis decides the same way: a file starting with `REDIS` is RDB,
/// anything else is commands.
pub fn detect_format(head: &[u8]) -> FileFormat {
    if head.starts_with(b"REDIS") {
        FileFormat::RedisRdb
    } else if head.starts_with(crate::snapshot::MAGIC) {
        FileFormat::RubedoSnapshot
    } else {
        FileFormat::Commands
    }
}

#[cfg(test)]
mod tests;
