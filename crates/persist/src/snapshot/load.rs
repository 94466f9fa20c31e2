//! Loading a whole snapshot: every record checked and rebuilt, keys handed
//! out as they are finished. A caller must not serve what it was handed
//! unless the load as a whole succeeds (the trailer's checksum is only
//! known at the end), so a damaged file never yields a partial dataset.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::value::{Limits, Loaded, Loader};
use super::{LoadError, Reader};

/// What a successful load read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadStats {
    /// Keys in the file.
    pub keys: u64,
    /// Keys with nothing in them (skipped, as Redis does).
    pub empty_skipped: u64,
    /// The file's format version.
    pub version: u16,
    /// A Redis RDB file (not a Rubedo snapshot).
    pub rdb: bool,
    /// The code of the function libraries the file holds.
    pub functions: Vec<Vec<u8>>,
}

/// Reads every record of `input`, handing each finished key to `out`.
pub fn load_from<R: Read>(
    input: R,
    lim: Limits,
    out: &mut impl FnMut(Loaded),
) -> Result<LoadStats, LoadError> {
    let mut r = Reader::new(input)?;
    let version = r.version;
    let mut l = Loader::new(lim);
    let mut functions = Vec::new();
    while let Some(rec) = r.next_record()? {
        if let super::record::Record::Aux { name, value } = &rec {
            if name == super::take::FUNCTION_AUX {
                functions.push(value.clone());
            }
        }
        l.feed(rec, out).map_err(|reason| LoadError {
            offset: r.block_offset(),
            reason: format!("{reason} (in the block at this offset)"),
        })?;
    }
    let at = r.block_offset();
    l.end(out)
        .map_err(|reason| LoadError { offset: at, reason })?;
    let keys = r.finish()?;
    Ok(LoadStats {
        keys,
        empty_skipped: l.empty_skipped,
        version,
        rdb: false,
        functions,
    })
}

/// Reads a whole Redis RDB file (`len`: its size, bounding every length).
pub fn load_rdb_from<R: Read>(
    input: R,
    len: Option<u64>,
    lim: Limits,
    out: &mut impl FnMut(Loaded),
) -> Result<LoadStats, LoadError> {
    let to_load = |e: crate::rdb::Error| LoadError {
        offset: e.offset,
        reason: e.reason,
    };
    let mut r = crate::rdb::FileReader::new(input, len).map_err(to_load)?;
    let mut keys = 0;
    while let Some(k) = r.next_key(&lim).map_err(to_load)? {
        keys += 1;
        out(k);
    }
    Ok(LoadStats {
        keys,
        empty_skipped: r.empty_skipped(),
        version: r.version(),
        rdb: true,
        functions: r.functions().to_vec(),
    })
}

/// A snapshot file that cannot be loaded: the message names the file and,
/// when the content is at fault, the offset.
#[derive(Debug)]
pub enum FileError {
    /// The file is not there (a fresh start, not an error for a server).
    Missing,
    /// It exists but cannot be opened or read.
    Io(String),
    /// Its content is damaged, truncated or not a snapshot.
    Bad(String),
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::Missing => f.write_str("no such file"),
            FileError::Io(s) | FileError::Bad(s) => f.write_str(s),
        }
    }
}

/// Loads the snapshot at `path`.
pub fn load_file(
    path: &Path,
    lim: Limits,
    out: &mut impl FnMut(Loaded),
) -> Result<LoadStats, FileError> {
    load_file_counted(path, lim, &AtomicU64::new(0), out)
}

/// Counts the bytes read through it (a load's progress).
struct Counted<'a, R> {
    inner: R,
    read: &'a AtomicU64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// `load_file`, adding the bytes read so far to `progress` as it goes.
pub fn load_file_counted(
    path: &Path,
    lim: Limits,
    progress: &AtomicU64,
    out: &mut impl FnMut(Loaded),
) -> Result<LoadStats, FileError> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(FileError::Missing),
        Err(e) => {
            return Err(FileError::Io(format!(
                "cannot open the snapshot {}: {e}",
                path.display()
            )))
        }
    };
    let len = file.metadata().ok().map(|m| m.len());
    let counted = Counted {
        inner: file,
        read: progress,
    };
    let mut input = BufReader::with_capacity(1 << 20, counted);
    // The format is told by the magic: Redis's RDB or Rubedo's own.
    let head = input
        .fill_buf()
        .map_err(|e| FileError::Io(format!("cannot read {}: {e}", path.display())))?;
    let result = if crate::rdb::is_rdb(head) {
        load_rdb_from(input, len, lim, out)
    } else {
        load_from(input, lim, out)
    };
    result.map_err(|e| {
        FileError::Bad(format!(
            "the snapshot {} cannot be loaded: at offset {}: {}",
            path.display(),
            e.offset,
            e.reason
        ))
    })
}
