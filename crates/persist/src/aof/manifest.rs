//! The manifest: which files make up the log.
//!
//! One line per file, written by Redis 7.0 as
//!
//! ```text
//! file appendonly.aof.2.base.rdb seq 2 type b
//! file appendonly.aof.1.incr.aof seq 1 type h
//! file appendonly.aof.3.incr.aof seq 3 type i
//! ```
//!
//! base first, then history (newest first), then incrs (oldest first). A
//! name that needs it is written quoted with escapes (`"a b\x00"`), the way
//! `sdscatrepr` does.
//!
//! Reading follows Redis 7.0.15: lines of at most 1024 bytes with their
//! `\n` (a last line without `\n` counts as too long), `#` lines skipped,
//! no blank lines, key/value pairs in any order with case-insensitive keys
//! (`file`, `seq`, `type`; others ignored, at least 6 words and an even
//! number), the type is the first byte of its value, at most one base,
//! incr sequence numbers strictly increasing, names without `/` or `\`.
//! Where Redis is laxer than that, this reader refuses (and says so in the
//! error): a sequence number that is not a plain positive decimal (Redis's
//! `atoll` takes `-5` or `3x`), an empty name, a name that is not UTF-8.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Longest line, with its `\n` (Redis's `MANIFEST_MAX_LINE`).
pub const MAX_LINE: usize = 1024;

/// What a manifest line says a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// `type b`: the dataset as of the last rewrite.
    Base,
    /// `type h`: replaced by a rewrite, to be deleted.
    History,
    /// `type i`: writes after the base, replayed in order.
    Incr,
}

impl FileKind {
    /// The letter after `type`.
    pub fn letter(self) -> u8 {
        match self {
            FileKind::Base => b'b',
            FileKind::History => b'h',
            FileKind::Incr => b'i',
        }
    }

    fn from_letter(c: u8) -> Option<FileKind> {
        match c {
            b'b' => Some(FileKind::Base),
            b'h' => Some(FileKind::History),
            b'i' => Some(FileKind::Incr),
            _ => None,
        }
    }
}

/// One file of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    /// A name inside the AOF directory, never a path.
    pub name: String,
    pub seq: u64,
    pub kind: FileKind,
}

/// The manifest, as Redis keeps it in memory.
///
/// `curr_base_seq` and `curr_incr_seq` are the last sequence numbers handed
/// out. Parsing sets them from the base line and the last incr line (as
/// Redis does; history lines do not count); operations move them forward.
/// They are not recomputed from the lists: after a rewrite with the log
/// off (every incr became history) the next incr still gets the next
/// number, until a restart re-reads the manifest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    /// Oldest first.
    pub incrs: Vec<AofFile>,
    /// In the order Redis writes them: newest first.
    pub history: Vec<AofFile>,
    pub curr_base_seq: u64,
    pub curr_incr_seq: u64,
}

/// Where the log stands when a rewrite finishes (Redis's `aof_state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AofState {
    /// `appendonly no`: a BGREWRITEAOF only writes a new base.
    Off,
    /// `appendonly yes`, writing to the last incr.
    On,
    /// Just turned on (`CONFIG SET appendonly yes`): writes go to the
    /// temp incr (`temp_incr_name`) until the first rewrite finishes.
    WaitRewrite,
}

/// The files a finished rewrite brings in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewriteNames {
    /// Rename the rewrite's temp file to this.
    pub base: String,
    /// With `AofState::WaitRewrite`: rename the temp incr to this.
    pub incr: Option<String>,
}

/// `<prefix>.<seq>.base.rdb` (`rdb_preamble`) or `<prefix>.<seq>.base.aof`.
pub fn base_name(prefix: &str, seq: u64, rdb_preamble: bool) -> String {
    let format = if rdb_preamble { "rdb" } else { "aof" };
    format!("{prefix}.{seq}.base.{format}")
}

/// `<prefix>.<seq>.incr.aof`.
pub fn incr_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.incr.aof")
}

/// `<prefix>.manifest`.
pub fn manifest_name(prefix: &str) -> String {
    format!("{prefix}.manifest")
}

/// `temp-<prefix>.manifest`: where the manifest is written before the rename.
pub fn temp_manifest_name(prefix: &str) -> String {
    format!("temp-{prefix}.manifest")
}

/// `temp-<prefix>.incr`: the incr written while the log is being turned on.
pub fn temp_incr_name(prefix: &str) -> String {
    format!("temp-{prefix}.incr")
}

/// Redis's `pathIsBaseName`: no `/` and no `\`.
pub fn is_plain_name(name: &str) -> bool {
    !name.contains('/') && !name.contains('\\')
}

impl Manifest {
    pub fn new() -> Manifest {
        Manifest::default()
    }

    /// The manifest Redis builds when it moves an old single-file AOF
    /// (`<prefix>` in `dir`) into the directory: that file as base 1.
    pub fn for_old_style_file(prefix: &str) -> Manifest {
        Manifest {
            base: Some(AofFile {
                name: prefix.to_string(),
                seq: 1,
                kind: FileKind::Base,
            }),
            curr_base_seq: 1,
            ..Manifest::default()
        }
    }

    /// No base and no incr: nothing to load (history does not count).
    pub fn is_empty(&self) -> bool {
        self.base.is_none() && self.incrs.is_empty()
    }

    /// The files to replay, in order: the base, then the incrs.
    pub fn files_to_load(&self) -> impl Iterator<Item = &AofFile> {
        self.base.iter().chain(self.incrs.iter())
    }

    /// The sequence number the next base gets.
    pub fn next_base_seq(&self) -> u64 {
        self.curr_base_seq + 1
    }

    /// The sequence number the next incr gets.
    pub fn next_incr_seq(&self) -> u64 {
        self.curr_incr_seq + 1
    }

    /// A new base (Redis's `getNewBaseFileNameAndMarkPreAsHistory`): the
    /// current base, if any, goes to the front of the history. Returns the
    /// new base's name.
    pub fn new_base(&mut self, prefix: &str, rdb_preamble: bool) -> String {
        if let Some(mut old) = self.base.take() {
            old.kind = FileKind::History;
            self.history.insert(0, old);
        }
        self.curr_base_seq += 1;
        let name = base_name(prefix, self.curr_base_seq, rdb_preamble);
        self.base = Some(AofFile {
            name: name.clone(),
            seq: self.curr_base_seq,
            kind: FileKind::Base,
        });
        name
    }

    /// A new incr at the end (Redis's `getNewIncrAofName`); returns its name.
    pub fn new_incr(&mut self, prefix: &str) -> String {
        self.curr_incr_seq += 1;
        let name = incr_name(prefix, self.curr_incr_seq);
        self.incrs.push(AofFile {
            name: name.clone(),
            seq: self.curr_incr_seq,
            kind: FileKind::Incr,
        });
        name
    }

    /// The incr to append to: the last one, or a new one when there is
    /// none (Redis's `getLastIncrAofName`, at startup). The flag says
    /// whether it was created (the manifest then needs writing).
    pub fn last_incr_or_new(&mut self, prefix: &str) -> (String, bool) {
        match self.incrs.last() {
            Some(f) => (f.name.clone(), false),
            None => (self.new_incr(prefix), true),
        }
    }

    /// Every incr but the one being written (`keep_last`, when the log is
    /// on) becomes history, at the front of the history in their order
    /// (Redis's `markRewrittenIncrAofAsHistory`).
    pub fn mark_rewritten_incrs_as_history(&mut self, keep_last: bool) {
        let cut = if keep_last {
            self.incrs.len().saturating_sub(1)
        } else {
            self.incrs.len()
        };
        let mut moved: Vec<AofFile> = self
            .incrs
            .drain(..cut)
            .map(|mut f| {
                f.kind = FileKind::History;
                f
            })
            .collect();
        moved.append(&mut self.history);
        self.history = moved;
    }

    /// What a successful rewrite does to the manifest (Redis's
    /// `backgroundRewriteDoneHandler`): a new base (the old one becomes
    /// history); while the log is being turned on, a new incr for the temp
    /// incr to be renamed to; then the incrs the rewrite covered become
    /// history (all of them with the log off; all but the last otherwise).
    ///
    /// The caller does this on a clone, renames the files, writes the
    /// manifest, and only then adopts the clone (Redis keeps the old
    /// manifest when any step fails).
    pub fn finish_rewrite(
        &mut self,
        prefix: &str,
        rdb_preamble: bool,
        state: AofState,
    ) -> RewriteNames {
        let base = self.new_base(prefix, rdb_preamble);
        let incr = match state {
            AofState::WaitRewrite => Some(self.new_incr(prefix)),
            AofState::On | AofState::Off => None,
        };
        self.mark_rewritten_incrs_as_history(state != AofState::Off);
        RewriteNames { base, incr }
    }

    /// The same manifest with no history.
    pub fn without_history(&self) -> Manifest {
        Manifest {
            history: Vec::new(),
            ..self.clone()
        }
    }

    /// The bytes Redis 7.0 writes for this manifest: base, history, incrs.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for f in self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incrs.iter())
        {
            out.extend_from_slice(b"file ");
            let name = f.name.as_bytes();
            if needs_repr(name) {
                repr(name, &mut out);
            } else {
                out.extend_from_slice(name);
            }
            out.extend_from_slice(format!(" seq {} type ", f.seq).as_bytes());
            out.push(f.kind.letter());
            out.push(b'\n');
        }
        out
    }

    /// Reads a manifest the way Redis 7.0.15 does (see the module docs).
    pub fn parse(data: &[u8]) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::new();
        let mut line_no = 0usize;
        let mut rest = data;
        if rest.is_empty() {
            return Err(ManifestError::whole(ManifestErrorKind::Empty));
        }
        while !rest.is_empty() {
            // One fgets: through the first '\n', at most MAX_LINE bytes.
            let take = match rest.iter().take(MAX_LINE).position(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => rest.len().min(MAX_LINE),
            };
            let (chunk, after) = rest.split_at(take);
            rest = after;
            line_no += 1;
            if chunk[0] == b'#' {
                continue;
            }
            let err = |kind| ManifestError {
                line: line_no,
                text: Some(String::from_utf8_lossy(trim(chunk)).into_owned()),
                kind,
            };
            if chunk.last() != Some(&b'\n') {
                return Err(ManifestError {
                    line: line_no,
                    text: None,
                    kind: ManifestErrorKind::LineTooLong,
                });
            }
            let line = trim(chunk);
            if line.is_empty() || line.contains(&0) {
                return Err(err(ManifestErrorKind::InvalidFormat));
            }
            let words = match split_args(line) {
                Some(w) if w.len() >= 6 && w.len() % 2 == 0 => w,
                _ => return Err(err(ManifestErrorKind::InvalidFormat)),
            };
            let (mut name, mut seq, mut kind) = (None, None, None::<u8>);
            for pair in words.chunks(2) {
                let (key, value) = (&pair[0], &pair[1]);
                if key.eq_ignore_ascii_case(b"file") {
                    if value.contains(&b'/') || value.contains(&b'\\') {
                        return Err(err(ManifestErrorKind::NotAFileName));
                    }
                    name = Some(value.clone());
                } else if key.eq_ignore_ascii_case(b"seq") {
                    seq = Some(value.clone());
                } else if key.eq_ignore_ascii_case(b"type") {
                    kind = Some(value.first().copied().unwrap_or(0));
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(err(ManifestErrorKind::InvalidFormat));
            };
            if kind == 0 {
                return Err(err(ManifestErrorKind::InvalidFormat));
            }
            let Some(seq) = parse_seq(&seq) else {
                return Err(err(ManifestErrorKind::BadSeq));
            };
            if name.is_empty() {
                return Err(err(ManifestErrorKind::InvalidFormat));
            }
            let Ok(name) = String::from_utf8(name) else {
                return Err(err(ManifestErrorKind::NameNotUtf8));
            };
            let Some(kind) = FileKind::from_letter(kind) else {
                return Err(err(ManifestErrorKind::UnknownType));
            };
            let file = AofFile { name, seq, kind };
            match kind {
                FileKind::Base => {
                    if m.base.is_some() {
                        return Err(err(ManifestErrorKind::DuplicateBase));
                    }
                    m.curr_base_seq = seq;
                    m.base = Some(file);
                }
                FileKind::History => m.history.push(file),
                FileKind::Incr => {
                    if m.incrs.last().is_some_and(|last| seq <= last.seq) {
                        return Err(err(ManifestErrorKind::NonMonotonic));
                    }
                    m.curr_incr_seq = seq;
                    m.incrs.push(file);
                }
            }
        }
        Ok(m)
    }

    /// Reads `<dir>/<prefix>.manifest`. `Ok(None)` when the directory or
    /// the manifest does not exist (Redis then starts with an empty
    /// manifest).
    pub fn read_from_dir(dir: &Path, prefix: &str) -> Result<Option<Manifest>, ManifestError> {
        let path = dir.join(manifest_name(prefix));
        match fs::read(&path) {
            Ok(data) => Manifest::parse(&data).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ManifestError::whole(ManifestErrorKind::Io(format!(
                "can't open the AOF manifest file {} for reading: {e}",
                path.display()
            )))),
        }
    }
}

/// Writes `<dir>/<prefix>.manifest` the way Redis does: the bytes go to
/// `temp-<prefix>.manifest` in the same directory, which is fsynced and
/// renamed over the manifest, and then the directory is fsynced.
pub fn write_atomically(dir: &Path, prefix: &str, m: &Manifest) -> io::Result<()> {
    let temp = dir.join(temp_manifest_name(prefix));
    let result = (|| {
        let mut opts = OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o644);
        }
        let mut f = opts.open(&temp)?;
        f.write_all(&m.to_bytes())?;
        f.sync_all()?;
        drop(f);
        fs::rename(&temp, dir.join(manifest_name(prefix)))?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Deletes the history: writes the manifest without it (atomically, as
/// `write_atomically`), then removes each history file from `dir`, and
/// returns the new manifest. With no history, nothing is written.
///
/// Redis does this after every rewrite unless `aof-disable-auto-gc` is
/// on. A file that cannot be removed is left behind (Redis ignores those
/// failures too: a history file is never read again).
pub fn remove_history(dir: &Path, prefix: &str, m: &Manifest) -> io::Result<Manifest> {
    if m.history.is_empty() {
        return Ok(m.clone());
    }
    let kept = m.without_history();
    write_atomically(dir, prefix, &kept)?;
    for f in &m.history {
        if is_plain_name(&f.name) {
            let _ = fs::remove_file(dir.join(&f.name));
        }
    }
    Ok(kept)
}

/// Why a manifest cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestError {
    /// 1-based line (counting comment lines); 0 for the whole file.
    pub line: usize,
    /// The line, trimmed (lossy UTF-8), when Redis would print it.
    pub text: Option<String>,
    pub kind: ManifestErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestErrorKind {
    /// The file is empty.
    Empty,
    /// A line over 1024 bytes, or a last line without `\n`.
    LineTooLong,
    /// A blank line, unbalanced quotes, too few or an odd number of words,
    /// or a missing `file`, `seq` or `type`.
    InvalidFormat,
    /// `seq` is not a positive decimal number (Redis is laxer here).
    BadSeq,
    /// The name has a `/` or a `\`.
    NotAFileName,
    /// The name is not UTF-8 (Redis takes any bytes).
    NameNotUtf8,
    /// A second base line.
    DuplicateBase,
    /// An incr whose seq is not above the previous incr's.
    NonMonotonic,
    /// `type` is not `b`, `h` or `i`.
    UnknownType,
    /// The manifest cannot be read at all.
    Io(String),
}

impl ManifestError {
    fn whole(kind: ManifestErrorKind) -> ManifestError {
        ManifestError {
            line: 0,
            text: None,
            kind,
        }
    }

    /// What Redis 7.0.15 logs for this error (its last line).
    pub fn redis_message(&self) -> &str {
        match &self.kind {
            ManifestErrorKind::Empty => "Found an empty AOF manifest",
            ManifestErrorKind::LineTooLong => "The AOF manifest file contains too long line",
            ManifestErrorKind::InvalidFormat
            | ManifestErrorKind::BadSeq
            | ManifestErrorKind::NameNotUtf8 => "Invalid AOF manifest file format",
            ManifestErrorKind::NotAFileName => "File can't be a path, just a filename",
            ManifestErrorKind::DuplicateBase => "Found duplicate base file information",
            ManifestErrorKind::NonMonotonic => "Found a non-monotonic sequence number",
            ManifestErrorKind::UnknownType => "Unknown AOF file type",
            ManifestErrorKind::Io(s) => s,
        }
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "AOF manifest line {}", self.line)?;
            if let Some(t) = &self.text {
                write!(f, " ('{t}')")?;
            }
            f.write_str(": ")?;
        }
        f.write_str(self.redis_message())?;
        match self.kind {
            ManifestErrorKind::BadSeq => f.write_str(" (seq must be a positive decimal number)"),
            ManifestErrorKind::NameNotUtf8 => f.write_str(" (the file name is not UTF-8)"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for ManifestError {}

fn trim(mut s: &[u8]) -> &[u8] {
    let strip = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    while s.first().is_some_and(strip) {
        s = &s[1..];
    }
    while s.last().is_some_and(strip) {
        s = &s[..s.len() - 1];
    }
    s
}

fn parse_seq(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n: u64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    // Redis keeps it in a long long.
    (n > 0 && n <= i64::MAX as u64).then_some(n)
}

/// C's `isspace` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// C's `isprint` in the C locale.
fn is_c_print(b: u8) -> bool {
    (0x20..=0x7e).contains(&b)
}

/// Whether the name is written quoted: Redis's `sdsneedsrepr`, and also
/// for a `'`, which Redis writes bare and then cannot read back (a name
/// with a `'` stops Redis 7.0.15 from starting: "Invalid AOF manifest file
/// format"). Every other name comes out as Redis writes it.
fn needs_repr(s: &[u8]) -> bool {
    s.iter()
        .any(|&b| matches!(b, b'\\' | b'"' | b'\'') || !is_c_print(b) || is_c_space(b))
}

/// `sdscatrepr`: quoted, with `\\ \" \n \r \t \a \b` and `\xhh` escapes.
fn repr(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            b if is_c_print(b) => out.push(b),
            b => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Redis's `sdssplitargs`: words split on spaces, `"..."` with escapes,
/// `'...'` with only `\'`. None for unbalanced quotes or a closing quote
/// followed by something other than a space.
fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_c_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Some(words);
        }
        let mut cur = Vec::new();
        let (mut dq, mut sq) = (false, false);
        loop {
            let c = line.get(i).copied();
            let next = line.get(i + 1).copied();
            if dq {
                match c? {
                    b'\\'
                        if next == Some(b'x')
                            && line.get(i + 2).and_then(|&h| hex(h)).is_some()
                            && line.get(i + 3).and_then(|&h| hex(h)).is_some() =>
                    {
                        cur.push(hex(line[i + 2])? * 16 + hex(line[i + 3])?);
                        i += 3;
                    }
                    b'\\' if next.is_some() => {
                        cur.push(match next? {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                        i += 1;
                    }
                    b'"' => {
                        if next.is_some_and(|n| !is_c_space(n)) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    b => cur.push(b),
                }
            } else if sq {
                match c? {
                    b'\\' if next == Some(b'\'') => {
                        cur.push(b'\'');
                        i += 1;
                    }
                    b'\'' => {
                        if next.is_some_and(|n| !is_c_space(n)) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    b => cur.push(b),
                }
            } else {
                match c {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t') => {
                        if c.is_some() {
                            i += 1;
                        }
                        break;
                    }
                    Some(b'"') => dq = true,
                    Some(b'\'') => sq = true,
                    Some(b) => cur.push(b),
                }
            }
            i += 1;
        }
        words.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(m: &Manifest) -> Vec<(String, u64, char)> {
        m.base
            .iter()
            .chain(&m.history)
            .chain(&m.incrs)
            .map(|f| (f.name.clone(), f.seq, f.kind.letter() as char))
            .collect()
    }

    #[test]
    fn names() {
        assert_eq!(
            base_name("appendonly.aof", 1, true),
            "appendonly.aof.1.base.rdb"
        );
        assert_eq!(
            base_name("appendonly.aof", 12, false),
            "appendonly.aof.12.base.aof"
        );
        assert_eq!(incr_name("appendonly.aof", 3), "appendonly.aof.3.incr.aof");
        assert_eq!(manifest_name("x.aof"), "x.aof.manifest");
        assert_eq!(temp_manifest_name("x.aof"), "temp-x.aof.manifest");
        assert_eq!(temp_incr_name("x.aof"), "temp-x.aof.incr");
        assert!(is_plain_name("a b"));
        assert!(!is_plain_name("a/b"));
        assert!(!is_plain_name("a\\b"));
    }

    #[test]
    fn parses_any_order_comments_case_and_quotes() {
        let m = Manifest::parse(
            b"# a comment\n\
              type b SEQ 5 file \"appendonly.aof.5.base.aof\" extra x\n\
              file 'appendonly.aof.5.incr.aof' seq 5 type incr\n\
              \t file  \"a\\x20b\"   seq 2 type h  \r\n",
        )
        .unwrap();
        assert_eq!(
            kinds(&m),
            vec![
                ("appendonly.aof.5.base.aof".into(), 5, 'b'),
                ("a b".into(), 2, 'h'),
                ("appendonly.aof.5.incr.aof".into(), 5, 'i'),
            ]
        );
        assert_eq!((m.curr_base_seq, m.curr_incr_seq), (5, 5));
        assert_eq!((m.next_base_seq(), m.next_incr_seq()), (6, 6));
    }

    #[test]
    fn quoted_names_round_trip() {
        for name in [
            "plain.aof",
            "a b.aof",
            "q\"uote.aof",
            "tab\there",
            "nl\nx",
            "bell\x07\x08",
            "é.aof",
            "\x7f\x01",
            "'single'",
            "a'b",
            "#hash",
        ] {
            let mut m = Manifest::new();
            m.base = Some(AofFile {
                name: name.into(),
                seq: 1,
                kind: FileKind::Base,
            });
            let bytes = m.to_bytes();
            let back = Manifest::parse(&bytes).unwrap_or_else(|e| {
                panic!("{name:?}: {e} in {:?}", String::from_utf8_lossy(&bytes))
            });
            assert_eq!(back.base.unwrap().name, name, "{bytes:?}");
        }
        let mut m = Manifest::new();
        m.base = Some(AofFile {
            name: "a \"b\"\té".into(),
            seq: 1,
            kind: FileKind::Base,
        });
        assert_eq!(
            m.to_bytes(),
            b"file \"a \\\"b\\\"\\t\\xc3\\xa9\" seq 1 type b\n".to_vec()
        );
    }

    fn err_of(data: &[u8]) -> ManifestError {
        Manifest::parse(data).expect_err("should be refused")
    }

    #[test]
    fn refuses_like_redis() {
        let e = err_of(b"");
        assert_eq!((e.line, e.kind.clone()), (0, ManifestErrorKind::Empty));
        assert_eq!(e.to_string(), "Found an empty AOF manifest");

        let e = err_of(b"file a.aof seq 1 type b");
        assert_eq!((e.line, e.kind), (1, ManifestErrorKind::LineTooLong));

        let e = err_of(b"file a seq 1 type b\n\nfile b seq 1 type i\n");
        assert_eq!(
            (e.line, e.kind.clone()),
            (2, ManifestErrorKind::InvalidFormat)
        );
        assert_eq!(
            e.to_string(),
            "AOF manifest line 2 (''): Invalid AOF manifest file format"
        );

        let e = err_of(b"# c\nfile a seq 1 type b\nfile b seq 2 type b\n");
        assert_eq!(
            (e.line, e.kind.clone()),
            (3, ManifestErrorKind::DuplicateBase)
        );
        assert_eq!(e.text.as_deref(), Some("file b seq 2 type b"));
        assert_eq!(e.redis_message(), "Found duplicate base file information");

        let e = err_of(b"file a seq 2 type i\nfile b seq 2 type i\n");
        assert_eq!((e.line, e.kind), (2, ManifestErrorKind::NonMonotonic));
        let e = err_of(b"file a type i x y\n");
        assert_eq!(e.kind, ManifestErrorKind::InvalidFormat);
        let e = err_of(b"file a seq 1 type\n");
        assert_eq!(e.kind, ManifestErrorKind::InvalidFormat);
        let e = err_of(b"file a seq 1 type i x\n");
        assert_eq!(e.kind, ManifestErrorKind::InvalidFormat);
        let e = err_of(b"file ../a seq 1 type i\n");
        assert_eq!(e.kind, ManifestErrorKind::NotAFileName);
        assert_eq!(e.redis_message(), "File can't be a path, just a filename");
        let e = err_of(b"file a\\\\b seq 1 type i\n");
        assert_eq!(e.kind, ManifestErrorKind::NotAFileName);
        let e = err_of(b"file a seq 1 type x\n");
        assert_eq!(e.kind, ManifestErrorKind::UnknownType);
        let e = err_of(b"file \"a seq 1 type i\n");
        assert_eq!(e.kind, ManifestErrorKind::InvalidFormat);
        let e = err_of(b"file \"a\"b seq 1 type i\n");
        assert_eq!(e.kind, ManifestErrorKind::InvalidFormat);
        let e = err_of(b"file '' seq 1 type i\n");
        assert_eq!(e.kind, ManifestErrorKind::InvalidFormat);
        for seq in [
            "0",
            "-5",
            "+5",
            "3x",
            "",
            "99999999999999999999",
            "9223372036854775808",
        ] {
            let line = format!("file a seq '{seq}' type i\n");
            assert_eq!(
                err_of(line.as_bytes()).kind,
                ManifestErrorKind::BadSeq,
                "{seq}"
            );
        }
        let m = Manifest::parse(b"file a seq 9223372036854775807 type i\n").unwrap();
        assert_eq!(m.curr_incr_seq, i64::MAX as u64);
        let e = err_of(b"file \"\\xff\" seq 1 type i\n");
        assert_eq!(e.kind, ManifestErrorKind::NameNotUtf8);
        let e = err_of(b"file a\x00 seq 1 type i\n");
        assert_eq!(e.kind, ManifestErrorKind::InvalidFormat);
    }

    #[test]
    fn line_length_limit() {
        // 1024 bytes with the '\n' is the longest line.
        let fixed = "file  seq 1 type i".len();
        let fits = format!("file {} seq 1 type i", "a".repeat(1024 - 1 - fixed));
        assert_eq!(fits.len() + 1, 1024);
        let m = Manifest::parse(format!("{fits}\n").as_bytes()).unwrap();
        assert_eq!(m.incrs.len(), 1);
        let long = format!("file {} seq 1 type i\n", "a".repeat(1024 - fixed));
        assert_eq!(err_of(long.as_bytes()).kind, ManifestErrorKind::LineTooLong);
        // A comment is skipped a fgets buffer at a time: its tail reads as
        // a line of its own.
        let comment = format!("#{}\n", "c".repeat(2000));
        let e = err_of(comment.as_bytes());
        assert_eq!((e.line, e.kind), (2, ManifestErrorKind::InvalidFormat));
        // Only comments: an empty manifest, not an error.
        assert!(Manifest::parse(b"# nothing\n").unwrap().is_empty());
    }

    fn f(name: &str, seq: u64, kind: FileKind) -> AofFile {
        AofFile {
            name: name.into(),
            seq,
            kind,
        }
    }

    #[test]
    fn rewrite_moves_files_to_history_like_redis() {
        let p = "appendonly.aof";
        // Startup with nothing: base 1 and incr 1.
        let mut m = Manifest::new();
        assert_eq!(m.new_base(p, false), "appendonly.aof.1.base.aof");
        assert_eq!(
            m.last_incr_or_new(p),
            ("appendonly.aof.1.incr.aof".into(), true)
        );
        assert_eq!(
            m.last_incr_or_new(p),
            ("appendonly.aof.1.incr.aof".into(), false)
        );
        // BGREWRITEAOF with the log on: a new incr at the start...
        assert_eq!(m.new_incr(p), "appendonly.aof.2.incr.aof");
        // ...and at the end the old base and incr 1 become history.
        let names = m.finish_rewrite(p, true, AofState::On);
        assert_eq!(names.base, "appendonly.aof.2.base.rdb");
        assert_eq!(names.incr, None);
        assert_eq!(
            m.base,
            Some(f("appendonly.aof.2.base.rdb", 2, FileKind::Base))
        );
        assert_eq!(
            m.incrs,
            vec![f("appendonly.aof.2.incr.aof", 2, FileKind::Incr)]
        );
        assert_eq!(
            m.history,
            vec![
                f("appendonly.aof.1.incr.aof", 1, FileKind::History),
                f("appendonly.aof.1.base.aof", 1, FileKind::History),
            ]
        );
        // A second one, history kept: the newest history comes first.
        m.new_incr(p);
        m.finish_rewrite(p, true, AofState::On);
        assert_eq!(
            String::from_utf8(m.to_bytes()).unwrap(),
            "file appendonly.aof.3.base.rdb seq 3 type b\n\
             file appendonly.aof.2.incr.aof seq 2 type h\n\
             file appendonly.aof.2.base.rdb seq 2 type h\n\
             file appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.1.base.aof seq 1 type h\n\
             file appendonly.aof.3.incr.aof seq 3 type i\n"
        );
        // With the log off every incr goes; the counter stays.
        let mut off = m.without_history();
        off.finish_rewrite(p, true, AofState::Off);
        assert!(off.incrs.is_empty());
        assert_eq!(off.history.len(), 2);
        assert_eq!(off.next_incr_seq(), 4);
        // Turning the log on: the temp incr becomes the next incr.
        let names = off
            .without_history()
            .finish_rewrite(p, true, AofState::WaitRewrite);
        assert_eq!(names.incr.as_deref(), Some("appendonly.aof.4.incr.aof"));
    }

    #[test]
    fn several_incrs_keep_their_order_in_history() {
        let mut m = Manifest::parse(
            b"file b.1 seq 1 type b\nfile i.1 seq 1 type i\nfile i.2 seq 2 type i\nfile i.3 seq 3 type i\n",
        )
        .unwrap();
        m.finish_rewrite("p", false, AofState::On);
        let h: Vec<_> = m.history.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(h, ["i.1", "i.2", "b.1"]);
        assert_eq!(m.incrs, vec![f("i.3", 3, FileKind::Incr)]);
    }

    #[test]
    fn old_style_upgrade() {
        let m = Manifest::for_old_style_file("appendonly.aof");
        assert_eq!(m.to_bytes(), b"file appendonly.aof seq 1 type b\n");
        assert_eq!(m.next_base_seq(), 2);
        assert_eq!(m.files_to_load().count(), 1);
    }

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("rubedo-aof-manifest-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn writes_atomically_and_removes_history() {
        let dir = temp_dir("write");
        let p = "appendonly.aof";
        let mut m = Manifest::new();
        m.new_base(p, false);
        m.new_incr(p);
        m.new_incr(p);
        m.finish_rewrite(p, false, AofState::On);
        for h in &m.history {
            fs::write(dir.join(&h.name), b"old").unwrap();
        }
        fs::write(dir.join("unrelated"), b"x").unwrap();
        write_atomically(&dir, p, &m).unwrap();
        assert!(!dir.join(temp_manifest_name(p)).exists());
        let read = Manifest::read_from_dir(&dir, p).unwrap().unwrap();
        assert_eq!(read, m);

        let kept = remove_history(&dir, p, &m).unwrap();
        assert!(kept.history.is_empty());
        for h in &m.history {
            assert!(!dir.join(&h.name).exists(), "{} left", h.name);
        }
        assert!(dir.join("unrelated").exists());
        let read = Manifest::read_from_dir(&dir, p).unwrap().unwrap();
        assert_eq!(read.to_bytes(), kept.to_bytes());
        assert!(read.history.is_empty());
        // Nothing to remove: nothing written.
        fs::remove_file(dir.join(manifest_name(p))).unwrap();
        remove_history(&dir, p, &kept).unwrap();
        assert!(!dir.join(manifest_name(p)).exists());
        assert_eq!(Manifest::read_from_dir(&dir, p).unwrap(), None);
        assert_eq!(
            Manifest::read_from_dir(&dir.join("missing"), p).unwrap(),
            None
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
