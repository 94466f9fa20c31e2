//! Taking a snapshot of a live keyspace.
//!
//! In the foreground ([`save_dbs`], for SAVE and DEBUG RELOAD) the caller
//! holds every lock and the dataset is written as it is.
//!
//! In the background ([`Background`], for BGSAVE) nothing is forked and
//! nothing is copied up front. The snapshot starts a new epoch on every
//! table (under every lock, so it is one instant) and registers itself as
//! the engine's observer. From then on:
//!
//! - a walk visits every table a step at a time between commands, and
//!   hands each entry not stamped with the epoch to the writer, stamping it;
//! - a command about to change, delete or expire an entry not stamped yet
//!   first hands the entry's current value (its value at the start) to the
//!   writer, and the engine stamps it as it writes;
//! - entries created after the start are stamped at creation, so neither
//!   path takes them;
//! - a flushed table is handed over whole (no copy) and walked later; a
//!   SWAPDB relabels the databases and restarts the walk, which skips
//!   what is stamped.
//!
//! So every key present at the start is written exactly once, with its
//! value as of the start. Values are cloned as they are handed over and
//! serialized and compressed by the writer's thread, off the command path;
//! the queue between them is bounded, so a write burst waits for the disk
//! rather than growing memory.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use rubedo_engine::{Dbs, Entry, Key, Keyspace, Observer, Table, Value, WalkPos};

use super::record::Record;
use super::value::write_key;
use super::{Format, Options, Writer};

/// What a finished snapshot reports.
#[derive(Clone, Debug)]
pub struct Saved {
    pub keys: u64,
    pub bytes: u64,
    pub secs: f64,
}

/// One key for the writer.
struct Item {
    db: u32,
    key: Vec<u8>,
    value: Value,
    expire_at_ms: Option<u64>,
    atime: u32,
}

enum Msg {
    Key(Item),
    Finish,
    /// Give up: the temporary file is removed, nothing is renamed.
    Abort,
}

/// The AUX name a function library's code is kept under in a snapshot.
pub const FUNCTION_AUX: &[u8] = b"function";

/// Writes `dir/name` through a temporary file in the same directory:
/// written, fsynced, renamed over the old file, directory fsynced.
pub struct Target {
    pub dir: PathBuf,
    pub name: String,
    /// Function libraries (their code) the file carries with the keys.
    pub functions: Vec<Vec<u8>>,
    /// fsync the file and its directory (not for a file only read back
    /// at once and thrown away, as a snapshot sent to a client).
    pub durable: bool,
}

impl Target {
    /// `dir/name`, with no function libraries.
    pub fn new(dir: PathBuf, name: String) -> Target {
        Target {
            dir,
            name,
            functions: Vec::new(),
            durable: true,
        }
    }

    fn temp(&self) -> PathBuf {
        self.dir
            .join(format!("temp-{}-{}.rsnap", std::process::id(), next_temp()))
    }

    fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }
}

fn next_temp() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Relaxed)
}

/// Makes the temporary file the snapshot: fsync, rename, fsync the
/// directory. Returns the file's size.
fn commit(file: std::fs::File, temp: &Path, target: &Target) -> io::Result<u64> {
    if !target.durable {
        let bytes = file.metadata()?.len();
        drop(file);
        std::fs::rename(temp, target.path())?;
        return Ok(bytes);
    }
    file.sync_all()?;
    let bytes = file.metadata()?.len();
    drop(file);
    std::fs::rename(temp, target.path())?;
    if let Ok(d) = std::fs::File::open(&target.dir) {
        d.sync_all()?;
    }
    Ok(bytes)
}

/// Writes every key of `dbs` (which must hold every lock: `Scope::All`)
/// to `target`. Keys whose time has passed by `now_ms` are left out (a
/// load would drop them).
pub fn save_dbs(dbs: &mut Dbs<'_>, target: &Target, opts: Options) -> io::Result<Saved> {
    let started = Instant::now();
    let now_ms = dbs.now();
    let temp = target.temp();
    let result = (|| {
        let file = std::fs::File::create(&temp)?;
        let mut w = Out::new(file, opts, now_ms, &target.functions)?;
        let mut keys = 0u64;
        let mut db = None;
        let mut err = None;
        dbs.for_each_entry(&mut |d, k, e, at| {
            if err.is_some() || at.is_some_and(|t| t < now_ms) {
                return;
            }
            let r = (|| {
                if db != Some(d) {
                    w.select(d as u32)?;
                    db = Some(d);
                }
                let idle = idle_secs(now_ms, e.atime);
                w.key(k.as_bytes(), &e.value, at, idle)
            })();
            match r {
                Ok(()) => {
                    keys += 1;
                    super::key_delay(opts.key_delay, keys);
                }
                Err(e) => err = Some(e),
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        let file = w.finish(keys)?;
        let bytes = commit(file, &temp, target)?;
        Ok(Saved {
            keys,
            bytes,
            secs: started.elapsed().as_secs_f64(),
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Bytes between the fsyncs of an incremental fsync.
const AUTOSYNC_BYTES: u64 = 4 << 20;

/// A file that is fsynced every `AUTOSYNC_BYTES` written, when asked to.
struct Autosync {
    file: std::fs::File,
    every: bool,
    since: u64,
}

impl Write for Autosync {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.since += n as u64;
        if self.every && self.since >= AUTOSYNC_BYTES {
            self.file.sync_data()?;
            self.since = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Where a dataset's keys go, in the format the options name.
enum Out {
    Snap(Box<Writer<BufWriter<Autosync>>>),
    Rdb(Box<crate::rdb::FileWriter<BufWriter<Autosync>>>),
    Cmds {
        w: BufWriter<Autosync>,
        buf: Vec<u8>,
    },
}

impl Out {
    /// Starts the file; the function libraries come first (Redis writes
    /// them before the keys): FUNCTION2 records, AUX records, or in a
    /// command stream a `FUNCTION LOAD` of each library's code.
    fn new(
        file: std::fs::File,
        opts: Options,
        now_ms: u64,
        functions: &[Vec<u8>],
    ) -> io::Result<Out> {
        let file = Autosync {
            file,
            every: opts.incremental_fsync,
            since: 0,
        };
        let w = BufWriter::with_capacity(1 << 20, file);
        Ok(match opts.format {
            Format::Snapshot => {
                let mut w = Writer::new(w, opts)?;
                aux(&mut w, now_ms)?;
                for code in functions {
                    w.record(&Record::Aux {
                        name: FUNCTION_AUX.to_vec(),
                        value: code.clone(),
                    })?;
                }
                Out::Snap(Box::new(w))
            }
            Format::Rdb {
                list_fill,
                redis_ver,
            } => {
                let aux = [
                    ("redis-ver", redis_ver.to_string()),
                    ("redis-bits", (usize::BITS).to_string()),
                    ("ctime", (now_ms / 1000).to_string()),
                    ("aof-base", "0".to_string()),
                ];
                let mut w = crate::rdb::FileWriter::new(w, &aux, opts.compress, opts.checksum)?;
                w.set_options(crate::rdb::WriteOptions {
                    list_fill,
                    ..crate::rdb::WriteOptions::new(opts.compress)
                });
                for code in functions {
                    w.function(code)?;
                }
                Out::Rdb(Box::new(w))
            }
            Format::Commands { timestamps } => {
                let mut buf = Vec::new();
                if timestamps {
                    crate::aof::encode_timestamp(&mut buf, now_ms / 1000);
                }
                for code in functions {
                    crate::aof::encode_command(&mut buf, &[&b"FUNCTION"[..], b"LOAD", code]);
                }
                Out::Cmds { w, buf }
            }
        })
    }

    fn select(&mut self, db: u32) -> io::Result<()> {
        match self {
            Out::Snap(w) => w.record(&Record::SelectDb(db)),
            // The size hints are optional; a load sizes its tables as it goes.
            Out::Rdb(w) => w.select_db(db, 0, 0),
            Out::Cmds { buf, .. } => {
                crate::aof::encode_select(buf, db);
                Ok(())
            }
        }
    }

    fn key(&mut self, key: &[u8], value: &Value, at: Option<u64>, idle: u32) -> io::Result<()> {
        match self {
            Out::Snap(w) => write_key(w, key, value, at, Some(idle)),
            Out::Rdb(w) => w.key(key, value, at, Some(idle)),
            Out::Cmds { w, buf } => {
                crate::aof::rewrite::encode_key(buf, key, value, at);
                if buf.len() >= 1 << 16 {
                    w.write_all(buf)?;
                    buf.clear();
                }
                Ok(())
            }
        }
    }

    fn finish(self, keys: u64) -> io::Result<std::fs::File> {
        match self {
            Out::Snap(w) => Ok(w
                .finish(keys)?
                .into_inner()
                .map_err(|e| e.into_error())?
                .file),
            Out::Rdb(w) => Ok(w.finish()?.into_inner().map_err(|e| e.into_error())?.file),
            Out::Cmds { mut w, buf } => {
                w.write_all(&buf)?;
                Ok(w.into_inner().map_err(|e| e.into_error())?.file)
            }
        }
    }
}

fn aux<W: Write>(w: &mut Writer<W>, now_ms: u64) -> io::Result<()> {
    for (name, value) in [
        ("rubedo-ver", env!("CARGO_PKG_VERSION").to_string()),
        ("ctime", (now_ms / 1000).to_string()),
    ] {
        w.record(&Record::Aux {
            name: name.as_bytes().to_vec(),
            value: value.into_bytes(),
        })?;
    }
    Ok(())
}

fn idle_secs(now_ms: u64, atime: u32) -> u32 {
    ((now_ms / 1000) as u32).saturating_sub(atime)
}

/// A snapshot being taken in the background; also the engine observer
/// that hands over values about to change.
pub struct Background {
    epoch: u32,
    start_ms: u64,
    /// Current database index -> the database it was at the start.
    map: Mutex<Vec<u32>>,
    tx: Sender<Msg>,
    /// Values handed over and not taken by the writer yet.
    queued: Arc<AtomicUsize>,
    /// Flushed tables, with the database they were at the start.
    adopted: Mutex<Vec<(u32, Table)>>,
    /// A SWAPDB happened: the walk starts over.
    rewalk: AtomicBool,
    /// The walk is over: nothing more to hand over.
    finished: AtomicBool,
    pos: Mutex<WalkPos>,
    writer: Mutex<Option<std::thread::JoinHandle<io::Result<Saved>>>>,
    /// Keys at the start, and keys handed to the writer so far.
    keys_total: u64,
    sent: AtomicU64,
}

/// Values queued for the writer beyond which the walk waits. A command
/// handing over a value never waits (each key is handed over once, so the
/// queue stays below the dataset); the walk is what is paced.
const QUEUE: usize = 1024;

impl Background {
    /// Starts a snapshot of `ks` into `target`, in a run of its own
    /// holding every lock (see `start_in`).
    pub fn start<K: Keyspace>(
        ks: &K,
        last_epoch: u32,
        target: Target,
        opts: Options,
    ) -> io::Result<Arc<Background>> {
        ks.run(rubedo_engine::Scope::All, |dbs| {
            Background::start_in(dbs, last_epoch, target, opts)
        })
    }

    /// Starts a snapshot of the dataset `dbs` sees, which must hold every
    /// lock (`Scope::All`), so the image is this instant: a new epoch on
    /// every table and the observer registered, before anything else runs
    /// (BGSAVE starts it inside its own command). `last_epoch` is the
    /// epoch of the previous snapshot (0 if none).
    pub fn start_in(
        dbs: &mut Dbs<'_>,
        last_epoch: u32,
        target: Target,
        opts: Options,
    ) -> io::Result<Arc<Background>> {
        let temp = target.temp();
        let file = std::fs::File::create(&temp)?;
        let (tx, rx) = channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let epoch = last_epoch.wrapping_add(1).max(1);
        let start_ms = dbs.now();
        let databases = dbs.count();
        let keys_total = (0..databases).map(|d| dbs.db_len(d) as u64).sum();
        let bg = Arc::new(Background {
            epoch,
            start_ms,
            map: Mutex::new((0..databases as u32).collect()),
            tx,
            queued: queued.clone(),
            adopted: Mutex::new(Vec::new()),
            rewalk: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            pos: Mutex::new(WalkPos::default()),
            writer: Mutex::new(None),
            keys_total,
            sent: AtomicU64::new(0),
        });
        let started = Instant::now();
        let temp_path = temp.clone();
        let spawned = std::thread::Builder::new()
            .name("rubedo-bgsave".into())
            .spawn(move || {
                let r = write_all(rx, &queued, file, &temp, &target, opts, start_ms, started);
                if r.is_err() {
                    let _ = std::fs::remove_file(&temp);
                }
                r
            });
        let handle = match spawned {
            Ok(h) => h,
            Err(e) => {
                let _ = std::fs::remove_file(&temp_path);
                return Err(e);
            }
        };
        *bg.writer.lock() = Some(handle);
        let obs: Arc<dyn Observer> = bg.clone();
        dbs.set_epoch(epoch);
        dbs.set_observer(Some(obs));
        Ok(bg)
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Keys in the dataset when the snapshot started (expired ones not
    /// reclaimed yet included).
    pub fn keys_total(&self) -> u64 {
        self.keys_total
    }

    /// The writer is behind: a step now would only grow its queue (the
    /// caller had better wait a little than walk).
    pub fn backlogged(&self) -> bool {
        self.queued.load(Relaxed) >= QUEUE
    }

    /// Keys handed to the writer so far.
    pub fn keys_processed(&self) -> u64 {
        self.sent.load(Relaxed)
    }

    fn send(&self, db: u32, key: &[u8], e: &Entry, expire_at_ms: Option<u64>) {
        if expire_at_ms.is_some_and(|t| t < self.start_ms) {
            // Already expired at the start: not part of the image.
            return;
        }
        self.sent.fetch_add(1, Relaxed);
        self.queued.fetch_add(1, Relaxed);
        // The writer only stops early on an error; then there is nothing to save for.
        let _ = self.tx.send(Msg::Key(Item {
            db,
            key: key.to_vec(),
            value: e.value.clone(),
            expire_at_ms,
            atime: e.atime,
        }));
    }

    /// One step of the walk, visiting about `budget` entries. Returns true
    /// while there is more to walk; once it returns false the snapshot is
    /// handed to the writer to finish (see `wait`) and the observer is gone.
    pub fn step<K: Keyspace>(&self, ks: &K, budget: usize) -> bool {
        if self.finished.load(Relaxed) {
            return false;
        }
        if self.backlogged() {
            return true;
        }
        let mut pos = self.pos.lock();
        if self.rewalk.swap(false, Relaxed) {
            *pos = WalkPos::default();
        }
        let epoch = self.epoch;
        let more = ks.walk(&mut pos, budget, &mut |db, k: &Key, e: &mut Entry, at| {
            if e.epoch != epoch {
                let image = self.map.lock()[db];
                self.send(image, k.as_bytes(), e, at);
                e.epoch = epoch;
            }
        });
        if more || self.rewalk.load(Relaxed) {
            return true;
        }
        // Tables flushed meanwhile: owned here now, walked without locks.
        loop {
            let Some((db, mut t)) = self.adopted.lock().pop() else {
                break;
            };
            t.walk_all(|k, e, at| {
                if e.epoch != epoch {
                    self.send(db, k.as_bytes(), e, at);
                }
            });
        }
        // Every entry present at the start has been handed over: nothing a
        // command does from now on concerns this snapshot.
        self.finished.store(true, Relaxed);
        ks.set_observer(None);
        let _ = self.tx.send(Msg::Finish);
        false
    }

    /// Gives the snapshot up (SHUTDOWN, a failing disk): the observer is
    /// removed from `dbs` (which holds every lock), the writer stops and
    /// removes its temporary file; returns once it has.
    pub fn abort_in(&self, dbs: &mut Dbs<'_>) {
        if !self.finished.swap(true, Relaxed) {
            dbs.set_observer(None);
            let _ = self.tx.send(Msg::Abort);
        }
        let _ = self.wait();
    }

    /// Waits for the writer to finish the file (after `step` returned false).
    pub fn wait(&self) -> io::Result<Saved> {
        match self.writer.lock().take() {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the snapshot writer panicked"))),
            None => Err(io::Error::other("the snapshot was already waited for")),
        }
    }

    /// True once the writer is done (`wait` returns at once).
    pub fn is_written(&self) -> bool {
        self.writer.lock().as_ref().is_none_or(|h| h.is_finished())
    }
}

impl Observer for Background {
    fn before_write(&self, db: usize, key: &[u8], old: Option<&Entry>, expire_at: Option<u64>) {
        if let Some(e) = old {
            if e.epoch != self.epoch && !self.finished.load(Relaxed) {
                let image = self.map.lock()[db];
                self.send(image, key, e, expire_at);
            }
        }
    }

    fn before_clear(&self, db: usize, table: &mut Table) {
        if !self.finished.load(Relaxed) {
            let image = self.map.lock()[db];
            self.adopted.lock().push((image, table.take()));
        }
    }

    fn before_swap(&self, a: usize, b: usize) {
        if !self.finished.load(Relaxed) {
            self.map.lock().swap(a, b);
            self.rewalk.store(true, Relaxed);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn write_all(
    rx: Receiver<Msg>,
    queued: &AtomicUsize,
    file: std::fs::File,
    temp: &Path,
    target: &Target,
    opts: Options,
    start_ms: u64,
    started: Instant,
) -> io::Result<Saved> {
    let mut w = Out::new(file, opts, start_ms, &target.functions)?;
    let mut keys = 0u64;
    let mut db = None;
    loop {
        match rx.recv() {
            Ok(Msg::Key(it)) => {
                queued.fetch_sub(1, Relaxed);
                if db != Some(it.db) {
                    w.select(it.db)?;
                    db = Some(it.db);
                }
                let idle = idle_secs(start_ms, it.atime);
                w.key(&it.key, &it.value, it.expire_at_ms, idle)?;
                keys += 1;
                super::key_delay(opts.key_delay, keys);
            }
            Ok(Msg::Finish) => break,
            Ok(Msg::Abort) | Err(_) => return Err(io::Error::other("the snapshot was abandoned")),
        }
    }
    let file = w.finish(keys)?;
    let bytes = commit(file, temp, target)?;
    Ok(Saved {
        keys,
        bytes,
        secs: started.elapsed().as_secs_f64(),
    })
}
