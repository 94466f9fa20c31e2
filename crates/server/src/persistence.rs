//! Snapshots as the server runs them: SAVE in the foreground, BGSAVE as a
//! fork-less background snapshot (`rubedo_persist::snapshot::take`) whose
//! walk the persistence task drives between commands, the load at startup,
//! and the state INFO persistence and LASTSAVE report.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use rubedo_engine::{Dbs, Keyspace, Scope};
use rubedo_persist::snapshot::load::{load_file, load_file_counted, FileError, LoadStats};
use rubedo_persist::snapshot::take::{save_dbs, Background, Saved, Target};
use rubedo_persist::snapshot::value::{Limits, Loaded};
use rubedo_persist::snapshot::Options;
use tokio::sync::Notify;

use crate::state::Shared;

/// Entries the background walk visits per step, between commands.
const WALK_STEP: usize = 64;
/// How long the walk runs between its pauses (and how long it pauses).
const WALK_SLICE: Duration = Duration::from_millis(1);

/// What the server knows about its snapshots.
pub struct Persistence {
    /// The background snapshot being taken, if any.
    pub bg: Mutex<Option<Running>>,
    /// Wakes the persistence task (a snapshot started or was scheduled).
    pub wake: Notify,
    /// BGSAVE asked for while it could not start (inside EXEC).
    pub scheduled: AtomicBool,
    /// The epoch of the last snapshot started (see `Table::epoch`).
    pub last_epoch: AtomicU32,
    /// Unix seconds of the last successful save (LASTSAVE).
    pub lastsave: AtomicU64,
    pub last_bgsave_ok: AtomicBool,
    /// Duration of the last background save in seconds, -1 if none.
    pub last_bgsave_secs: AtomicI64,
    /// Unix seconds of the last failed background save attempt.
    pub last_bgsave_try: AtomicU64,
    /// Successful saves (INFO rdb_saves).
    pub saves: AtomicU64,
    /// Keys read and keys dropped as expired by the last load.
    pub loaded_keys: AtomicU64,
    pub loaded_expired: AtomicU64,
    /// The startup load is running: commands get -LOADING.
    pub loading: AtomicBool,
    /// The load's start (unix seconds), the file's size and the bytes read.
    pub loading_start: AtomicU64,
    pub loading_total: AtomicU64,
    pub loading_loaded: Arc<AtomicU64>,
}

/// What a background snapshot is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Child {
    /// BGSAVE: the snapshot file.
    Save,
    /// BGREWRITEAOF: the append-only log's new base.
    Rewrite,
}

/// A background snapshot in flight (Redis's child process).
pub struct Running {
    pub kind: Child,
    pub snap: Arc<Background>,
    pub started: Instant,
    /// `dirty` when it started: what a success leaves of the change count.
    pub dirty_at_start: u64,
}

impl Persistence {
    pub fn new(now_secs: u64) -> Persistence {
        Persistence {
            bg: Mutex::new(None),
            wake: Notify::new(),
            scheduled: AtomicBool::new(false),
            last_epoch: AtomicU32::new(0),
            lastsave: AtomicU64::new(now_secs),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_secs: AtomicI64::new(-1),
            last_bgsave_try: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            loaded_keys: AtomicU64::new(0),
            loaded_expired: AtomicU64::new(0),
            loading: AtomicBool::new(false),
            loading_start: AtomicU64::new(0),
            loading_total: AtomicU64::new(0),
            loading_loaded: Arc::new(AtomicU64::new(0)),
        }
    }

    /// False once some save or log write failed: the gate then asks
    /// `disk_error`.
    pub fn healthy(&self, srv: &Shared) -> bool {
        self.last_bgsave_ok.load(Relaxed) && srv.aof.write_ok()
    }

    /// Some background snapshot runs (a save or a rewrite).
    pub fn child_active(&self) -> bool {
        self.bg.lock().is_some()
    }

    /// The running background snapshot is of this kind.
    pub fn running(&self, kind: Child) -> bool {
        self.bg.lock().as_ref().is_some_and(|r| r.kind == kind)
    }

    /// A BGSAVE runs.
    pub fn in_progress(&self) -> bool {
        self.running(Child::Save)
    }

    /// Seconds the running child of `kind` has taken so far, -1 if none.
    pub fn current_secs(&self, kind: Child) -> i64 {
        self.bg
            .lock()
            .as_ref()
            .filter(|r| r.kind == kind)
            .map_or(-1, |r| r.started.elapsed().as_secs() as i64)
    }
}

pub fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The code of every function library, as snapshots carry it.
pub fn functions(srv: &Shared) -> Vec<Vec<u8>> {
    srv.scripting
        .functions_published
        .codes()
        .iter()
        .map(|c| c.to_vec())
        .collect()
}

/// Where the snapshot goes: `dbfilename` in the working directory (`dir`).
pub fn target(srv: &Shared) -> Target {
    Target {
        functions: functions(srv),
        ..Target::new(
            std::env::current_dir().unwrap_or_else(|_| ".".into()),
            srv.config
                .get("dbfilename")
                .unwrap_or_else(|| "dump.rdb".into()),
        )
    }
}

pub(crate) fn options(srv: &Shared) -> Options {
    Options {
        compress: srv.config.yes("rdbcompression"),
        checksum: srv.config.yes("rdbchecksum"),
        key_delay: int(srv, "rdb-key-save-delay"),
        incremental_fsync: srv.config.yes("rdb-save-incremental-fsync"),
        format: match srv.config.get("snapshot-format").as_deref() {
            Some("rdb") => rubedo_persist::snapshot::Format::Rdb {
                list_fill: srv.config.list_max_listpack_size.load(Relaxed),
                redis_ver: crate::REDIS_VERSION,
            },
            _ => rubedo_persist::snapshot::Format::Snapshot,
        },
    }
}

fn int(srv: &Shared, name: &str) -> i64 {
    srv.config
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The encodings loaded values get, as configured now.
pub(crate) fn limits(srv: &Shared) -> Limits {
    let c = &srv.config;
    Limits {
        hash: rubedo_engine::types::hash::Limits {
            entries: c.hash_max_listpack_entries.load(Relaxed) as usize,
            value: c.hash_max_listpack_value.load(Relaxed) as usize,
        },
        zset: rubedo_engine::types::zset::Limits {
            entries: c.zset_max_listpack_entries.load(Relaxed) as usize,
            value: c.zset_max_listpack_value.load(Relaxed) as usize,
        },
        set_max_intset: c.set_max_intset_entries.load(Relaxed) as usize,
        list_fill: c.list_max_listpack_size.load(Relaxed),
    }
}

/// SAVE: writes the dataset `dbs` holds (every lock) in the foreground.
pub fn save(srv: &Shared, dbs: &mut Dbs<'_>) -> io::Result<Saved> {
    let t = target(srv);
    match save_dbs(dbs, &t, options(srv)) {
        Ok(s) => {
            crate::log!("DB saved on disk ({} keys, {} bytes)", s.keys, s.bytes);
            srv.stats.dirty.store(0, Relaxed);
            srv.persist.lastsave.store(unix_secs(), Relaxed);
            srv.persist.last_bgsave_ok.store(true, Relaxed);
            srv.persist.saves.fetch_add(1, Relaxed);
            Ok(s)
        }
        Err(e) => {
            crate::log!(
                "Failed saving the DB to {}: {e}",
                t.dir.join(&t.name).display()
            );
            Err(e)
        }
    }
}

/// BGSAVE: starts a background snapshot of this instant; the run holds
/// every lock.
pub fn start_bgsave(srv: &Shared, dbs: &mut Dbs<'_>) -> io::Result<()> {
    let mut bg = srv.persist.bg.lock();
    if bg.is_some() {
        return Err(io::Error::other(
            "another background snapshot is in progress",
        ));
    }
    let last = srv.persist.last_epoch.load(Relaxed);
    match Background::start_in(dbs, last, target(srv), options(srv)) {
        Ok(snap) => {
            srv.persist.last_epoch.store(snap.epoch(), Relaxed);
            *bg = Some(Running {
                kind: Child::Save,
                snap,
                started: Instant::now(),
                dirty_at_start: srv.stats.dirty.load(Relaxed),
            });
            drop(bg);
            srv.aof.set_child_active(true);
            crate::log!("Background saving started");
            srv.persist.wake.notify_one();
            Ok(())
        }
        Err(e) => {
            // As a forked child failing at once: the save started and failed.
            srv.persist.last_bgsave_ok.store(false, Relaxed);
            srv.persist.last_bgsave_try.store(unix_secs(), Relaxed);
            crate::log!("Background saving error: {e}");
            Ok(())
        }
    }
}

/// Why write commands (and PING) are refused, if they are: the last
/// background save failed while save points exist and
/// `stop-writes-on-bgsave-error` is on.
pub fn disk_error(srv: &Shared) -> Option<crate::error::CmdError> {
    let rdb = !srv.persist.last_bgsave_ok.load(Relaxed)
        && srv.config.yes("stop-writes-on-bgsave-error")
        && !srv.config.save_points().is_empty();
    if rdb {
        return Some(crate::error::CmdError::Other(MISCONF_RDB.into()));
    }
    srv.aof.write_error().map(|e| {
        crate::error::CmdError::Other(format!("MISCONF Errors writing to the AOF file: {e}"))
    })
}

const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// The persistence task: walks a running background snapshot a step at a
/// time between commands, records how it ended, and starts a scheduled one.
pub async fn run<K: Keyspace>(ks: &K, srv: &Shared) {
    loop {
        let snap = srv.persist.bg.lock().as_ref().map(|r| r.snap.clone());
        let Some(snap) = snap else {
            if !srv.scripting.suspended() && srv.persist.scheduled.swap(false, Relaxed) {
                let _ = ks.run(Scope::All, |dbs| start_bgsave(srv, dbs));
                continue;
            }
            srv.persist.wake.notified().await;
            continue;
        };
        // The walk takes at most about half of the loop's thread: after a
        // slice of steps it sleeps as long, so the thread goes idle and the
        // kernel wakes it at once for a client instead of leaving it
        // runnable behind the snapshot's writer and the clients' load.
        let mut slice = Instant::now();
        while srv.scripting.suspended() || snap.step(ks, WALK_STEP) {
            if snap.backlogged() || slice.elapsed() >= WALK_SLICE {
                // The writer is behind, or the slice is used up.
                tokio::time::sleep(WALK_SLICE).await;
                slice = Instant::now();
            } else {
                tokio::task::yield_now().await;
            }
        }
        while !snap.is_written() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let result = snap.wait();
        // The slot stays taken while the outcome is recorded, so nothing
        // starts a snapshot in between; and it must still be this one (a
        // SHUTDOWN or `appendonly no` may have given it up).
        let done = srv
            .persist
            .bg
            .lock()
            .as_ref()
            .filter(|r| Arc::ptr_eq(&r.snap, &snap))
            .map(|r| Done {
                kind: r.kind,
                started: r.started,
                dirty_at_start: r.dirty_at_start,
            });
        let Some(d) = done else {
            continue;
        };
        match d.kind {
            Child::Save => save_done(srv, &d, result),
            Child::Rewrite => crate::aof::rewrite_done(srv, &d, result),
        }
        let mut bg = srv.persist.bg.lock();
        if bg.as_ref().is_some_and(|r| Arc::ptr_eq(&r.snap, &snap)) {
            *bg = None;
            srv.aof.set_child_active(false);
        }
    }
}

/// How a finished background snapshot started.
pub struct Done {
    pub kind: Child,
    pub started: Instant,
    pub dirty_at_start: u64,
}

/// Records how a background save ended.
fn save_done(srv: &Shared, r: &Done, result: io::Result<Saved>) {
    let p = &srv.persist;
    p.last_bgsave_secs
        .store(r.started.elapsed().as_secs() as i64, Relaxed);
    match result {
        Ok(s) => {
            crate::log!(
                "Background saving terminated with success ({} keys, {} bytes)",
                s.keys,
                s.bytes
            );
            let _ = srv.stats.dirty.fetch_update(Relaxed, Relaxed, |d| {
                Some(d.saturating_sub(r.dirty_at_start))
            });
            p.lastsave.store(unix_secs(), Relaxed);
            p.last_bgsave_ok.store(true, Relaxed);
            p.saves.fetch_add(1, Relaxed);
        }
        Err(e) => {
            crate::log!("Background saving error: {e}");
            p.last_bgsave_ok.store(false, Relaxed);
            p.last_bgsave_try.store(unix_secs(), Relaxed);
        }
    }
}

/// After a failed background save, the next attempt a save point makes
/// waits this long (Redis's CONFIG_BGSAVE_RETRY_DELAY).
const RETRY_SECS: u64 = 5;

/// The cron's check of the `save` points: a background save starts once
/// some point's seconds have passed since the last save with at least its
/// number of changes.
pub fn save_points<K: Keyspace>(ks: &K, srv: &Shared) {
    let points = srv.config.save_points();
    if points.is_empty() || srv.persist.child_active() || srv.persist.loading.load(Relaxed) {
        return;
    }
    let p = &srv.persist;
    let now = unix_secs();
    let dirty = srv.stats.dirty.load(Relaxed);
    let since = now.saturating_sub(p.lastsave.load(Relaxed));
    let may_retry = p.last_bgsave_ok.load(Relaxed)
        || now.saturating_sub(p.last_bgsave_try.load(Relaxed)) > RETRY_SECS;
    if may_retry
        && points
            .iter()
            .any(|&(secs, changes)| dirty >= changes && since > secs)
    {
        let _ = ks.run(Scope::All, |dbs| start_bgsave(srv, dbs));
    }
}

/// Keys handed from the decoding thread to the tables at a time.
const LOAD_BATCH: usize = 1024;

/// Keys dropped or refused by one load.
#[derive(Default)]
struct Tally {
    /// Keep keys whose time has passed (a log's base: its incrs may still
    /// act on them, as Redis loads a preamble).
    keep_expired: bool,
    loaded: u64,
    expired: u64,
    /// The first database beyond `databases` the file holds.
    beyond: Option<u32>,
    /// The tables started empty: a key met twice means a damaged file
    /// (Redis refuses it too).
    refuse_duplicates: bool,
    /// The first key the file held twice, and its database.
    duplicate: Option<(u32, Vec<u8>)>,
}

impl Tally {
    /// Puts one decoded key into `dbs`, unless its time has passed by
    /// `now` or its database does not exist.
    fn insert(&mut self, dbs: &mut Dbs<'_>, k: Loaded, now: u64) {
        if k.db as usize >= dbs.count() {
            self.beyond.get_or_insert(k.db);
            return;
        }
        if !self.keep_expired && k.expire_at_ms.is_some_and(|t| t <= now) {
            self.expired += 1;
            return;
        }
        let mut db = dbs.db(k.db as usize);
        if db.set(&k.key, k.value, false).is_some() && self.refuse_duplicates {
            self.duplicate.get_or_insert_with(|| (k.db, k.key.clone()));
        }
        if let Some(idle) = k.idle_secs {
            // The access time the file kept (OBJECT IDLETIME goes on from it).
            if let Some(e) = db.entry_mut(&k.key) {
                e.atime = rubedo_engine::value::secs(now).saturating_sub(idle);
            }
        }
        if let Some(at) = k.expire_at_ms {
            db.set_expire(&k.key, Some(at));
        }
        self.loaded += 1;
    }
}

fn clear_all(dbs: &mut Dbs<'_>) {
    for d in 0..dbs.count() {
        dbs.db(d).clear();
    }
}

/// The result of a load as the server reports it. The file's function
/// libraries are created (replacing loaded ones of the same name if
/// `replace`; else such a clash fails the load, as a library that does not
/// load does).
fn finish_load(
    srv: &Shared,
    path: &std::path::Path,
    result: Result<LoadStats, FileError>,
    t: &Tally,
    databases: usize,
    started: Instant,
    replace: bool,
) -> Result<Option<LoadStats>, String> {
    let stats = match result {
        Ok(s) => s,
        Err(FileError::Missing) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if let Some(db) = t.beyond {
        return Err(format!(
            "the snapshot {} holds database {db}, but this server has {databases} (see 'databases')",
            path.display()
        ));
    }
    if let Some((db, key)) = &t.duplicate {
        return Err(format!(
            "the snapshot {} holds the key '{}' of database {db} twice",
            path.display(),
            String::from_utf8_lossy(key)
        ));
    }
    srv.persist.loaded_keys.store(t.loaded, Relaxed);
    srv.persist.loaded_expired.store(t.expired, Relaxed);
    crate::cmd::functions::load_libraries(srv, &stats.functions, replace)
        .map_err(|e| format!("{e} (in {})", path.display()))?;
    crate::log!(
        "DB loaded from disk: {:.3} seconds ({} keys, {} expired keys dropped)",
        started.elapsed().as_secs_f64(),
        t.loaded,
        t.expired
    );
    Ok(Some(stats))
}

/// The snapshot's path, as configured now.
fn snapshot_path(srv: &Shared) -> std::path::PathBuf {
    let t = target(srv);
    t.dir.join(&t.name)
}

/// Loads the snapshot at startup, if there is one, while the listeners
/// already answer: commands meanwhile get -LOADING. A thread decodes the
/// file; its keys go into the tables in batches, each under every lock,
/// with a yield between them. Keys whose time has passed are dropped. On a
/// damaged file nothing is served: the tables are emptied and the error
/// names the file and the offset (the server then stops).
/// With `appendonly yes` the log is loaded instead (see `aof`).
pub async fn load_at_startup<K: Keyspace>(ks: &K, srv: &Shared) -> Result<(), String> {
    if srv.config.yes("appendonly") {
        return crate::aof::load_at_startup(ks, srv).await;
    }
    let path = snapshot_path(srv);
    let total = match std::fs::metadata(&path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) => 0,
    };
    begin_loading(srv, total);
    let r = load_snapshot(ks, srv, &path, false).await;
    srv.persist.loading.store(false, Relaxed);
    r.map(|_| ())
}

/// Commands get -LOADING from now on; `total` bytes are to be read.
pub(crate) fn begin_loading(srv: &Shared, total: u64) {
    let p = &srv.persist;
    p.loading_start.store(unix_secs(), Relaxed);
    p.loading_total.store(total, Relaxed);
    p.loading_loaded.store(0, Relaxed);
    p.loading.store(true, Relaxed);
}

/// Loads the snapshot at `path` into the tables in batches (see
/// `load_at_startup`); the tables are emptied again if it fails.
pub(crate) async fn load_snapshot<K: Keyspace>(
    ks: &K,
    srv: &Shared,
    path: &std::path::Path,
    keep_expired: bool,
) -> Result<Option<LoadStats>, String> {
    let p = &srv.persist;
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Loaded>>(4);
    let lim = limits(srv);
    let delay = srv.config.key_load_delay.clone();
    let progress = p.loading_loaded.clone();
    let file = path.to_path_buf();
    let decoder = std::thread::Builder::new()
        .name("rubedo-load".into())
        .spawn(move || {
            let mut batch = Vec::with_capacity(LOAD_BATCH);
            let mut n = 0u64;
            let r = load_file_counted(&file, lim, &progress, &mut |k| {
                batch.push(k);
                n += 1;
                rubedo_persist::snapshot::key_delay(delay.load(Relaxed), n);
                if batch.len() >= LOAD_BATCH {
                    let _ = tx.blocking_send(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(LOAD_BATCH),
                    ));
                }
            });
            if r.is_ok() && !batch.is_empty() {
                let _ = tx.blocking_send(batch);
            }
            r
        })
        .map_err(|e| format!("cannot start loading {}: {e}", path.display()))?;
    let mut tally = Tally {
        keep_expired,
        refuse_duplicates: true,
        ..Tally::default()
    };
    while let Some(batch) = rx.recv().await {
        if srv.lifecycle.shutting_down.load(Relaxed) {
            // SHUTDOWN while loading: nothing to keep, nothing to save.
            return Ok(None);
        }
        let now = ks.now_ms();
        ks.run(Scope::All, |dbs| {
            for k in batch {
                tally.insert(dbs, k, now);
            }
        });
        tokio::task::yield_now().await;
    }
    let result = decoder
        .join()
        .unwrap_or_else(|_| Err(FileError::Io("the snapshot decoder panicked".into())));
    if result.is_err() || tally.beyond.is_some() || tally.duplicate.is_some() {
        ks.run(Scope::All, clear_all);
    }
    finish_load(srv, path, result, &tally, ks.databases(), started, false)
}

/// Loads the snapshot into `dbs` (every lock held) in one go, for DEBUG
/// RELOAD. With `merge` a key in the file replaces one in memory; without,
/// the one in memory stays and the load reports the clash.
pub fn load_now(srv: &Shared, dbs: &mut Dbs<'_>, merge: bool) -> Result<Option<LoadStats>, String> {
    let path = snapshot_path(srv);
    let started = Instant::now();
    let now = dbs.now();
    let mut tally = Tally::default();
    let mut clash = None;
    let result = load_file(&path, limits(srv), &mut |k| {
        if !merge && (k.db as usize) < dbs.count() && dbs.db(k.db as usize).contains(&k.key) {
            clash.get_or_insert_with(|| String::from_utf8_lossy(&k.key).into_owned());
            return;
        }
        tally.insert(dbs, k, now);
    });
    if matches!(result, Err(FileError::Missing)) {
        return Err(format!("no snapshot at {}", path.display()));
    }
    let databases = dbs.count();
    let r = finish_load(srv, &path, result, &tally, databases, started, merge)?;
    if let Some(key) = clash {
        return Err(format!(
            "the snapshot holds the key '{key}', already in memory"
        ));
    }
    Ok(r)
}

/// Loads the snapshot at `path` into `dbs` (every lock held) in one go:
/// the log's base for DEBUG LOADAOF.
pub fn load_path_now(
    srv: &Shared,
    dbs: &mut Dbs<'_>,
    path: &std::path::Path,
    keep_expired: bool,
) -> Result<(), String> {
    let started = Instant::now();
    let now = dbs.now();
    let mut tally = Tally {
        keep_expired,
        ..Tally::default()
    };
    let result = load_file(path, limits(srv), &mut |k| tally.insert(dbs, k, now));
    let databases = dbs.count();
    finish_load(srv, path, result, &tally, databases, started, false).map(|_| ())
}

/// SHUTDOWN's flags (also what `shutdown-on-sigint`/`-sigterm` hold).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShutdownFlags {
    pub save: bool,
    pub nosave: bool,
    pub now: bool,
    pub force: bool,
}

impl ShutdownFlags {
    /// The flags a `shutdown-on-*` value names (validated by the config).
    pub fn from_config(v: &str) -> ShutdownFlags {
        let has = |w: &str| v.split(' ').any(|x| x == w);
        ShutdownFlags {
            save: has("save"),
            nosave: has("nosave"),
            now: has("now"),
            force: has("force"),
        }
    }
}

/// What must happen before the process may exit, under every lock: a
/// background snapshot is given up (its temporary file removed), and the
/// dataset is saved when save points exist (unless NOSAVE) or SAVE asks.
/// A save that fails stops the shutdown unless FORCE: false then.
pub fn prepare_shutdown(srv: &Shared, dbs: &mut Dbs<'_>, f: ShutdownFlags) -> bool {
    if !crate::aof::may_shutdown(srv, f.force) {
        return false;
    }
    let running = srv.persist.bg.lock().take();
    // (While a script is busy the run holds no data: the snapshot is just
    // dropped with the process.)
    if let Some(r) = running.filter(|_| !srv.scripting.busy()) {
        crate::log!("There is a background snapshot in progress. Giving it up!");
        r.snap.abort_in(dbs);
        srv.aof.set_child_active(false);
    }
    let wants = (!srv.config.save_points().is_empty() && !f.nosave) || f.save;
    // A dataset still loading is not the dataset: never written over the file.
    if wants && !srv.persist.loading.load(Relaxed) {
        crate::log!("Saving the final snapshot before exiting.");
        if save(srv, dbs).is_err() {
            if !f.force {
                crate::log!("Error trying to save the DB, can't exit.");
                return false;
            }
            crate::log!("Error trying to save the DB. Exit anyway.");
        }
    }
    crate::aof::flush_at_exit(srv);
    true
}
