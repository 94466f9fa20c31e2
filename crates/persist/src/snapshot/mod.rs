//! Rubedo's native snapshot file.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! header   "RUBEDOSN" | version u16 | flags u16
//! block*   codec u8 | stored_len u32 | raw_len u32 | xxh3(stored) u64 | stored bytes
//! trailer  0xFF | 0u32 | 0u32 | xxh3(every byte before this field) u64
//! ```
//!
//! A block's raw bytes are whole msgpack records (see `record`), never a
//! record cut in two; `codec` says whether they are stored as they are or
//! as one zstd frame. Each block carries its own checksum, so damage is
//! found at the block it hits (and reported with that block's offset)
//! before anything in it is used; the trailer's checksum covers the whole
//! file, so a missing or repeated block is found too. With checksums off
//! (`rdbchecksum no`) the checksum fields are 0 and not verified.
//!
//! Readers refuse a version newer than theirs and accept every older one.

pub mod load;
pub mod record;
pub mod take;
pub mod value;

use std::io::{self, Read, Write};

use xxhash_rust::xxh3::{xxh3_64, Xxh3};

pub use record::{KeyRecord, Record};

pub const MAGIC: &[u8; 8] = b"RUBEDOSN";
/// The format version this build writes.
pub const VERSION: u16 = 1;
/// Header flag: blocks and the trailer carry checksums.
const FLAG_CHECKSUMS: u16 = 1;

const CODEC_RAW: u8 = 0;
const CODEC_ZSTD: u8 = 1;
const TRAILER: u8 = 0xFF;
const BLOCK_HEADER: usize = 1 + 4 + 4 + 8;
/// Raw bytes gathered before a block is written.
const BLOCK_TARGET: usize = 256 << 10;

/// How a snapshot is written.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// zstd-compress blocks (`rdbcompression`).
    pub compress: bool,
    /// Write checksums (`rdbchecksum`).
    pub checksum: bool,
    /// A pause per key written, for tests (`rdb-key-save-delay`, see
    /// [`key_delay`]).
    pub key_delay: i64,
    /// What the file holds.
    pub format: Format,
    /// fsync every 4 MiB as the file is written, so the kernel never holds
    /// a large dirty backlog to flush at the end (`rdb-save-incremental-
    /// fsync`, `aof-rewrite-incremental-fsync`).
    pub incremental_fsync: bool,
}

/// The shape of a written dataset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// This module's snapshot format.
    #[default]
    Snapshot,
    /// RESP commands, as a log base with `aof-use-rdb-preamble no`
    /// (a `#TS:` annotation first when `timestamps`).
    Commands { timestamps: bool },
    /// Redis's RDB (`snapshot-format rdb`): lists cut by `list_fill`, the
    /// `redis-ver` aux field saying `redis_ver`.
    Rdb {
        list_fill: i64,
        redis_ver: &'static str,
    },
}

impl Default for Options {
    fn default() -> Self {
        Options {
            compress: true,
            checksum: true,
            key_delay: 0,
            format: Format::Snapshot,
            incremental_fsync: true,
        }
    }
}

/// The pause a test knob asks for at the `n`th key: `us` microseconds
/// (positive), or one microsecond every `-us` keys (negative), as Redis's
/// `rdb-key-save-delay` and `key-load-delay`.
pub fn key_delay(us: i64, n: u64) {
    if us > 0 {
        std::thread::sleep(std::time::Duration::from_micros(us as u64));
    } else if us < 0 && n.is_multiple_of(us.unsigned_abs()) {
        std::thread::sleep(std::time::Duration::from_micros(1));
    }
}

/// Writes a snapshot: records in, blocks out.
pub struct Writer<W: Write> {
    out: W,
    opts: Options,
    /// Every byte written so far, for the trailer.
    whole: Xxh3,
    written: u64,
    pending: Vec<u8>,
}

impl<W: Write> Writer<W> {
    pub fn new(mut out: W, opts: Options) -> io::Result<Writer<W>> {
        let mut header = Vec::with_capacity(12);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        let flags = if opts.checksum { FLAG_CHECKSUMS } else { 0 };
        header.extend_from_slice(&flags.to_le_bytes());
        out.write_all(&header)?;
        let mut whole = Xxh3::new();
        whole.update(&header);
        Ok(Writer {
            out,
            opts,
            whole,
            written: header.len() as u64,
            pending: Vec::with_capacity(BLOCK_TARGET + 4096),
        })
    }

    /// Bytes written to the output so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Adds a record.
    pub fn record(&mut self, r: &Record) -> io::Result<()> {
        record::encode(r, &mut self.pending);
        self.maybe_flush()
    }

    /// Adds a key record without copying it.
    pub fn key(&mut self, k: &KeyRecord) -> io::Result<()> {
        record::encode_key(k, &mut self.pending).map_err(io::Error::other)?;
        self.maybe_flush()
    }

    /// Adds a MORE record without copying its items.
    pub fn more(&mut self, items: &[serde_bytes::ByteBuf], scores: &[f64]) -> io::Result<()> {
        record::encode_more(items, scores, &mut self.pending);
        self.maybe_flush()
    }

    fn maybe_flush(&mut self) -> io::Result<()> {
        if self.pending.len() >= BLOCK_TARGET {
            self.flush_block()?;
        }
        Ok(())
    }

    fn flush_block(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let compressed;
        let (codec, stored): (u8, &[u8]) = if self.opts.compress {
            compressed = zstd::bulk::compress(&self.pending, 1)?;
            if compressed.len() < self.pending.len() {
                (CODEC_ZSTD, &compressed)
            } else {
                (CODEC_RAW, &self.pending)
            }
        } else {
            (CODEC_RAW, &self.pending)
        };
        let (stored_len, raw_len) = (len32(stored.len())?, len32(self.pending.len())?);
        let sum = if self.opts.checksum {
            xxh3_64(stored)
        } else {
            0
        };
        let mut h = [0u8; BLOCK_HEADER];
        h[0] = codec;
        h[1..5].copy_from_slice(&stored_len.to_le_bytes());
        h[5..9].copy_from_slice(&raw_len.to_le_bytes());
        h[9..17].copy_from_slice(&sum.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(stored)?;
        self.whole.update(&h);
        self.whole.update(stored);
        self.written += (h.len() + stored.len()) as u64;
        self.pending.clear();
        Ok(())
    }

    /// Writes the END record, the last block and the trailer; returns the
    /// output (not yet synced: the caller fsyncs and renames).
    pub fn finish(mut self, keys: u64) -> io::Result<W> {
        self.record(&Record::End { keys })?;
        self.flush_block()?;
        let mut t = [0u8; BLOCK_HEADER];
        t[0] = TRAILER;
        self.whole.update(&t[..9]);
        let sum = if self.opts.checksum {
            self.whole.digest()
        } else {
            0
        };
        t[9..17].copy_from_slice(&sum.to_le_bytes());
        self.out.write_all(&t)?;
        self.written += t.len() as u64;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn len32(n: usize) -> io::Result<u32> {
    u32::try_from(n).map_err(|_| io::Error::other("a snapshot block over 4 GiB"))
}

/// Why a snapshot cannot be loaded: where and what.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError {
    /// Byte offset in the file of the part that is wrong.
    pub offset: u64,
    pub reason: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at offset {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for LoadError {}

/// Reads a snapshot's records in order. It yields nothing past the first
/// error; the END record is checked against the number of keys read and
/// the trailer against the whole file before `finish` says the file is good.
pub struct Reader<R: Read> {
    input: R,
    whole: Xxh3,
    offset: u64,
    checksums: bool,
    /// Records of the current block not handed out yet.
    block: Vec<u8>,
    at: usize,
    block_offset: u64,
    pub version: u16,
    end: Option<u64>,
    keys: u64,
    done: bool,
}

impl<R: Read> Reader<R> {
    pub fn new(mut input: R) -> Result<Reader<R>, LoadError> {
        let mut h = [0u8; 12];
        read_full(&mut input, &mut h).map_err(|e| LoadError {
            offset: 0,
            reason: format!("cannot read the header: {e}"),
        })?;
        if h.starts_with(b"REDIS") {
            return Err(LoadError {
                offset: 0,
                reason:
                    "a Redis RDB file, not a Rubedo snapshot (this build reads only its own format)"
                        .into(),
            });
        }
        if &h[..8] != MAGIC {
            return Err(LoadError {
                offset: 0,
                reason: "not a Rubedo snapshot (wrong magic)".into(),
            });
        }
        let version = u16::from_le_bytes([h[8], h[9]]);
        if version == 0 || version > VERSION {
            return Err(LoadError {
                offset: 8,
                reason: format!(
                    "snapshot format version {version}; this build reads versions 1 to {VERSION}"
                ),
            });
        }
        let flags = u16::from_le_bytes([h[10], h[11]]);
        let mut whole = Xxh3::new();
        whole.update(&h);
        Ok(Reader {
            input,
            whole,
            offset: 12,
            checksums: flags & FLAG_CHECKSUMS != 0,
            block: Vec::new(),
            at: 0,
            block_offset: 12,
            version,
            end: None,
            keys: 0,
            done: false,
        })
    }

    fn err(&self, offset: u64, reason: impl Into<String>) -> LoadError {
        LoadError {
            offset,
            reason: reason.into(),
        }
    }

    /// The file offset of the block holding the record read last.
    pub fn block_offset(&self) -> u64 {
        self.block_offset
    }

    /// The next record; None after END (call `finish` then).
    pub fn next_record(&mut self) -> Result<Option<Record>, LoadError> {
        if self.end.is_some() {
            return Ok(None);
        }
        while self.at >= self.block.len() {
            self.read_block()?;
        }
        let (r, n) = record::decode(&self.block[self.at..]).map_err(|e| {
            let what = match e {
                record::DecodeError::Truncated => "a record is cut short".to_string(),
                record::DecodeError::Invalid(s) => format!("a record cannot be read ({s})"),
            };
            self.err(
                self.block_offset,
                format!("{what} in the block at this offset"),
            )
        })?;
        self.at += n;
        match &r {
            Record::Key(_) => self.keys += 1,
            Record::End { keys } => {
                if *keys != self.keys {
                    return Err(self.err(
                        self.block_offset,
                        format!("END says {keys} keys, {} were read", self.keys),
                    ));
                }
                if self.at != self.block.len() {
                    return Err(self.err(self.block_offset, "data after the END record"));
                }
                self.end = Some(*keys);
                return Ok(None);
            }
            _ => {}
        }
        Ok(Some(r))
    }

    fn read_block(&mut self) -> Result<(), LoadError> {
        let start = self.offset;
        let mut h = [0u8; BLOCK_HEADER];
        read_full(&mut self.input, &mut h).map_err(|e| {
            self.err(
                start,
                format!("the file ends before its END record (truncated?): {e}"),
            )
        })?;
        if h[0] == TRAILER {
            return Err(self.err(start, "the trailer comes before the END record"));
        }
        let stored_len = u32::from_le_bytes(h[1..5].try_into().unwrap()) as u64;
        let raw_len = u32::from_le_bytes(h[5..9].try_into().unwrap()) as usize;
        let sum = u64::from_le_bytes(h[9..17].try_into().unwrap());
        let mut stored = Vec::new();
        (&mut self.input)
            .take(stored_len)
            .read_to_end(&mut stored)
            .map_err(|e| self.err(start, format!("cannot read a block: {e}")))?;
        if stored.len() as u64 != stored_len {
            return Err(self.err(
                start,
                format!(
                    "the file ends inside a block ({} of {stored_len} bytes; truncated?)",
                    stored.len()
                ),
            ));
        }
        if self.checksums && xxh3_64(&stored) != sum || !self.checksums && sum != 0 {
            return Err(self.err(start, "a block fails its checksum (the file is damaged)"));
        }
        self.whole.update(&h);
        self.whole.update(&stored);
        self.offset += (BLOCK_HEADER as u64) + stored_len;
        self.block = match h[0] {
            CODEC_RAW => stored,
            CODEC_ZSTD => {
                let raw = zstd::bulk::decompress(&stored, raw_len)
                    .map_err(|e| self.err(start, format!("a block cannot be decompressed: {e}")))?;
                if raw.len() != raw_len {
                    return Err(self.err(start, "a block decompresses to the wrong size"));
                }
                raw
            }
            c => return Err(self.err(start, format!("unknown block codec {c}"))),
        };
        self.at = 0;
        self.block_offset = start;
        Ok(())
    }

    /// After END: checks the trailer and that nothing follows it. Returns
    /// the number of keys the file holds.
    pub fn finish(mut self) -> Result<u64, LoadError> {
        let Some(keys) = self.end else {
            return Err(self.err(self.offset, "finish before the END record"));
        };
        let start = self.offset;
        let mut t = [0u8; BLOCK_HEADER];
        read_full(&mut self.input, &mut t)
            .map_err(|e| self.err(start, format!("the trailer is missing (truncated?): {e}")))?;
        if t[0] != TRAILER || t[1..9] != [0u8; 8] {
            return Err(self.err(start, "a block follows the END record"));
        }
        self.whole.update(&t[..9]);
        let sum = u64::from_le_bytes(t[9..17].try_into().unwrap());
        if self.checksums && self.whole.digest() != sum || !self.checksums && sum != 0 {
            return Err(self.err(start, "the file fails its checksum (the file is damaged)"));
        }
        let mut rest = [0u8; 1];
        match self.input.read(&mut rest) {
            Ok(0) => {}
            Ok(_) => return Err(self.err(start + BLOCK_HEADER as u64, "bytes after the trailer")),
            Err(e) => return Err(self.err(start, format!("cannot read: {e}"))),
        }
        self.done = true;
        Ok(keys)
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<()> {
    r.read_exact(buf)
}

#[cfg(test)]
mod tests;
