//! The append-only log as the server runs it, in Redis 7's multi-part
//! layout (`rubedo_persist::aof` holds the formats): a sink of the effect
//! log that encodes every effect as RESP commands, appended to the current
//! incr file and fsynced by `appendfsync`, rewrites that take a new base
//! like a background snapshot, and the load at startup and for DEBUG
//! LOADAOF.
//!
//! Durability: the sink gates replies. A connection writes what is pending
//! itself before it replies ([`Aof::commit`]), taking every effect encoded
//! so far in one write (and with `always` one fsync): group commit without
//! a thread hop. The writer thread writes what no client waits for, retries
//! failed writes and runs the everysec fsync. An effect is marked durable
//! once written, and with `always` once the fsync covering it is done.
//!
//! Rewrites: under every lock the log switches to a new incr file (the
//! writer closes the old one with an fsync) and a background snapshot
//! starts; when it is written the manifest names the new base and only the
//! new incr, atomically, and the old files are removed. A crash at any
//! point leaves a manifest whose files hold the whole dataset.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use rubedo_engine::{Dbs, Keyspace, Scope};
use rubedo_persist::aof::{
    self, detect_format, remove_history, write_atomically, AofState, CommandReader, Feeder,
    FileFormat, Item, Manifest, ReadError,
};
use rubedo_persist::snapshot::take::{save_dbs, Background, Saved, Target};

use crate::dispatch::gate::Caller;
use crate::persistence::{unix_secs, Child, Running};
use crate::propagate::{Durable, Effect, Sink};
use crate::session::client::Client;
use crate::state::{ClientInfo, Shared};

/// `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    No = 0,
    EverySec = 1,
    Always = 2,
}

impl Fsync {
    fn parse(v: &str) -> Fsync {
        match v {
            "always" => Fsync::Always,
            "no" => Fsync::No,
            _ => Fsync::EverySec,
        }
    }

    fn from_u8(v: u8) -> Fsync {
        match v {
            2 => Fsync::Always,
            0 => Fsync::No,
            _ => Fsync::EverySec,
        }
    }
}

/// What the sink hands the writer, in order.
enum Seg {
    /// Encoded commands, and the last effect they hold.
    Data(Vec<u8>, u64),
    /// Go on in this file (a rewrite started); the old one is fsynced.
    Switch(File),
    /// Write what came before, fsync, and stop.
    Stop(std::sync::mpsc::SyncSender<()>),
}

#[derive(Default)]
struct Pending {
    segs: VecDeque<Seg>,
    /// Commands encoded since the last segment was pushed.
    cur: Vec<u8>,
    cur_seq: u64,
    feeder: Feeder,
}

impl Pending {
    fn push(&mut self, seg: Seg) {
        if !self.cur.is_empty() {
            let data = std::mem::take(&mut self.cur);
            self.segs.push_back(Seg::Data(data, self.cur_seq));
        }
        self.segs.push_back(seg);
    }

    fn take(&mut self) -> Vec<Seg> {
        if !self.cur.is_empty() {
            let data = std::mem::take(&mut self.cur);
            self.segs.push_back(Seg::Data(data, self.cur_seq));
        }
        self.segs.drain(..).collect()
    }

    fn is_empty(&self) -> bool {
        self.segs.is_empty() && self.cur.is_empty()
    }

    fn len(&self) -> usize {
        self.cur.len()
            + self
                .segs
                .iter()
                .map(|s| match s {
                    Seg::Data(d, _) => d.len(),
                    _ => 0,
                })
                .sum::<usize>()
    }
}

/// What the sink, the writer thread and the server share.
struct Core {
    pending: Mutex<Pending>,
    wake: Condvar,
    policy: AtomicU8,
    /// `no-appendfsync-on-rewrite` and whether a child runs now.
    no_fsync_on_rewrite: AtomicBool,
    child_active: AtomicBool,
    write_ok: AtomicBool,
    write_err: Mutex<String>,
    /// Bytes of the base and incr files (INFO aof_current_size).
    current_size: AtomicU64,
    /// Fsyncs of `everysec` that came late (INFO aof_delayed_fsync).
    delayed_fsync: AtomicU64,
    /// The last effect written to the file (not necessarily fsynced).
    written: AtomicU64,
    durable: Durable,
    /// The open file; `None` while the log is off.
    out: Mutex<Option<Out>>,
    /// The writer thread is to end (its `Stop` was handled).
    stopped: AtomicBool,
}

impl Core {
    fn policy(&self) -> Fsync {
        Fsync::from_u8(self.policy.load(Relaxed))
    }
}

/// The sink registered while the log is on.
struct AofSink(Arc<Core>);

impl Sink for AofSink {
    fn write(&self, effect: &Effect) {
        let now = unix_secs();
        let mut p = self.0.pending.lock();
        let Pending { cur, feeder, .. } = &mut *p;
        for op in &effect.ops {
            feeder.feed(cur, op.db as u32, &op.argv, now);
        }
        p.cur_seq = effect.seq;
        // No wake-up: the connection that wrote it writes it before it
        // replies (`Aof::commit`), and the writer thread picks up the rest.
    }

    /// Always: as Redis, a write reaches the file (and with `always` the
    /// disk) before its reply is sent, so kill -9 loses nothing answered.
    fn gates_replies(&self) -> bool {
        true
    }
}

/// The log's state on the command side.
struct Ctl {
    state: AofState,
    /// The log's directory (absolute, fixed when the log was opened).
    dir: PathBuf,
    manifest: Manifest,
    sink: Option<u64>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// While the log is being turned on: the temporary incr file.
    temp_incr: Option<PathBuf>,
    /// The base the running rewrite writes.
    rewrite_base: Option<String>,
}

/// The append-only log: off, on, or being turned on (waiting for its
/// first rewrite).
pub struct Aof {
    core: Arc<Core>,
    ctl: Mutex<Ctl>,
    /// Cheap check of `ctl.state != Off`.
    enabled: AtomicBool,
    scheduled: AtomicBool,
    rewrites: AtomicU64,
    failures: AtomicU64,
    last_rewrite_ok: AtomicBool,
    last_rewrite_secs: AtomicI64,
    /// Size of the log after the last rewrite or load (the base the
    /// automatic rewrite measures growth against).
    base_size: AtomicU64,
    /// When the last automatic rewrite failed (for the retry pause).
    last_auto_fail: AtomicU64,
}

/// Bytes of commands replayed from a file per run of the tables' locks.
const REPLAY_BATCH: usize = 1024;

impl Aof {
    pub fn new(durable: Durable) -> Aof {
        Aof {
            core: Arc::new(Core {
                pending: Mutex::new(Pending::default()),
                wake: Condvar::new(),
                policy: AtomicU8::new(Fsync::EverySec as u8),
                no_fsync_on_rewrite: AtomicBool::new(false),
                child_active: AtomicBool::new(false),
                write_ok: AtomicBool::new(true),
                write_err: Mutex::new(String::new()),
                current_size: AtomicU64::new(0),
                delayed_fsync: AtomicU64::new(0),
                written: AtomicU64::new(0),
                durable,
                out: Mutex::new(None),
                stopped: AtomicBool::new(false),
            }),
            ctl: Mutex::new(Ctl {
                state: AofState::Off,
                dir: PathBuf::new(),
                manifest: Manifest::new(),
                sink: None,
                writer: None,
                temp_incr: None,
                rewrite_base: None,
            }),
            enabled: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
            rewrites: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            last_rewrite_ok: AtomicBool::new(true),
            last_rewrite_secs: AtomicI64::new(-1),
            base_size: AtomicU64::new(0),
            last_auto_fail: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Relaxed)
    }

    /// False after a failed write or fsync while the log is on.
    pub fn write_ok(&self) -> bool {
        !self.enabled() || self.core.write_ok.load(Relaxed)
    }

    /// The error of the last failed write, while it is not resolved.
    pub fn write_error(&self) -> Option<String> {
        (!self.write_ok()).then(|| self.core.write_err.lock().clone())
    }

    pub fn set_child_active(&self, on: bool) {
        self.core.child_active.store(on, Relaxed);
    }

    /// A rewrite was asked for while it could not start; true once.
    pub fn take_scheduled(&self) -> bool {
        self.scheduled.swap(false, Relaxed)
    }

    pub fn is_scheduled(&self) -> bool {
        self.scheduled.load(Relaxed)
    }

    /// Picks up `appendfsync` and `no-appendfsync-on-rewrite`.
    pub fn configure(&self, srv: &Shared) {
        let policy = Fsync::parse(&srv.config.get("appendfsync").unwrap_or_default());
        self.core.policy.store(policy as u8, Relaxed);
        self.core
            .no_fsync_on_rewrite
            .store(srv.config.yes("no-appendfsync-on-rewrite"), Relaxed);
        self.core.pending.lock().feeder.timestamps = srv.config.yes("aof-timestamp-enabled");
        srv.propagation.refresh();
        self.core.wake.notify_one();
    }

    /// INFO persistence's aof_* fields.
    pub fn info(&self, srv: &Shared, out: &mut String) {
        let p = &srv.persist;
        let state = self.ctl.lock().state;
        let mut f = |s: String| {
            out.push_str(&s);
            out.push_str("\r\n");
        };
        f(format!("aof_enabled:{}", (state != AofState::Off) as u8));
        f(format!(
            "aof_rewrite_in_progress:{}",
            p.running(Child::Rewrite) as u8
        ));
        f(format!(
            "aof_rewrite_scheduled:{}",
            self.is_scheduled() as u8
        ));
        f(format!(
            "aof_last_rewrite_time_sec:{}",
            self.last_rewrite_secs.load(Relaxed)
        ));
        f(format!(
            "aof_current_rewrite_time_sec:{}",
            p.current_secs(Child::Rewrite)
        ));
        f(format!(
            "aof_last_bgrewrite_status:{}",
            ok_err(self.last_rewrite_ok.load(Relaxed))
        ));
        f(format!("aof_rewrites:{}", self.rewrites.load(Relaxed)));
        f(format!(
            "aof_rewrites_consecutive_failures:{}",
            self.failures.load(Relaxed)
        ));
        f(format!(
            "aof_last_write_status:{}",
            ok_err(self.core.write_ok.load(Relaxed))
        ));
        f("aof_last_cow_size:0".into());
        f("module_fork_in_progress:0".into());
        f("module_fork_last_cow_size:0".into());
        if state != AofState::Off {
            let pending = self.core.pending.lock().len();
            f(format!(
                "aof_current_size:{}",
                self.core.current_size.load(Relaxed)
            ));
            f(format!("aof_base_size:{}", self.base_size.load(Relaxed)));
            f(format!("aof_pending_rewrite:{}", self.is_scheduled() as u8));
            f(format!("aof_buffer_length:{pending}"));
            f("aof_pending_bio_fsync:0".into());
            f(format!(
                "aof_delayed_fsync:{}",
                self.core.delayed_fsync.load(Relaxed)
            ));
        }
    }
}

fn ok_err(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "err"
    }
}

/// The log's directory as configured now (under `dir`).
fn dir_of(srv: &Shared) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    cwd.join(srv.config.get("appenddirname").unwrap_or_default())
}

fn prefix(srv: &Shared) -> String {
    srv.config.get("appendfilename").unwrap_or_default()
}

fn preamble(srv: &Shared) -> bool {
    srv.config.yes("aof-use-rdb-preamble")
}

/// How a base is written: a snapshot, or commands with
/// `aof-use-rdb-preamble no`.
fn base_options(srv: &Shared) -> rubedo_persist::snapshot::Options {
    let mut o = crate::persistence::options(srv);
    o.incremental_fsync = srv.config.yes("aof-rewrite-incremental-fsync");
    if !preamble(srv) {
        o.format = rubedo_persist::snapshot::Format::Commands {
            timestamps: srv.config.yes("aof-timestamp-enabled"),
        };
    }
    o
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The file end of the log. Whoever holds it writes: a connection before
/// it replies (as Redis writes in the event loop before answering), or the
/// writer thread (what nobody else wrote, retries, the everysec fsync).
struct Out {
    /// Shared so the everysec fsync runs on it without holding the lock
    /// (writes go on meanwhile).
    file: Arc<File>,
    size: u64,
    /// Written and not fsynced yet.
    unsynced: bool,
    /// Counts writes; an fsync that started at the same count covered all.
    writes: u64,
    last_fsync: Instant,
    /// Segments a failed write left, tried again by the writer thread
    /// after a pause, ahead of anything newer.
    retry: Vec<Seg>,
    /// The last fsync failed: writes stay refused until one succeeds.
    fsync_failed: bool,
}

impl Out {
    fn new(file: File) -> Out {
        Out {
            size: file.metadata().map_or(0, |m| m.len()),
            file: Arc::new(file),
            unsynced: false,
            writes: 0,
            last_fsync: Instant::now(),
            retry: Vec::new(),
            fsync_failed: false,
        }
    }

    fn fsynced(&mut self, core: &Core, at: Instant) {
        let policy = core.policy();
        if policy == Fsync::EverySec && at.duration_since(self.last_fsync) >= Duration::from_secs(2)
        {
            core.delayed_fsync.fetch_add(1, Relaxed);
        }
        self.last_fsync = at;
        if self.fsync_failed {
            self.fsync_failed = false;
            if !core.write_ok.swap(true, Relaxed) {
                crate::log!("AOF fsync error looks solved. Writes are accepted again.");
            }
        }
    }
}

/// Whether fsyncs are held back now (`no-appendfsync-on-rewrite` while a
/// snapshot or a rewrite runs).
fn fsync_skipped(core: &Core) -> bool {
    core.no_fsync_on_rewrite.load(Relaxed) && core.child_active.load(Relaxed)
}

/// Writes every pending segment in order, with `always` fsyncs what it
/// wrote, and reports how far the file got. Returns false once a `Stop`
/// was handled (the log is closed). `slot` is `None` after that.
fn drain(core: &Core, slot: &mut Option<Out>) -> bool {
    let Some(out) = slot.as_mut() else {
        return false;
    };
    let mut segs = std::mem::take(&mut out.retry);
    segs.extend(core.pending.lock().take());
    if segs.is_empty() {
        return true;
    }
    let mut done_seq = None;
    let mut stop = None;
    let mut segs = segs.into_iter();
    while let Some(seg) = segs.next() {
        match seg {
            Seg::Data(buf, seq) => match (&*out.file).write_all(&buf) {
                Ok(()) => {
                    out.size += buf.len() as u64;
                    core.current_size.fetch_add(buf.len() as u64, Relaxed);
                    out.unsynced = true;
                    out.writes += 1;
                    done_seq = Some(seq);
                    if !out.fsync_failed && !core.write_ok.swap(true, Relaxed) {
                        crate::log!("AOF write error looks solved. Writes are accepted again.");
                    }
                }
                Err(e) => {
                    // Never a torn command at the end: cut back to the last
                    // whole write and try it all again.
                    let _ = out.file.set_len(out.size);
                    note_error(core, &e);
                    // As Redis, only `always` holds the replies back
                    // meanwhile; the others answer and refuse new writes
                    // (MISCONF) until the disk takes them.
                    if core.policy() != Fsync::Always {
                        core.durable.mark(seq);
                    }
                    out.retry.push(Seg::Data(buf, seq));
                    out.retry.extend(segs.by_ref());
                    // Told to stop (the log turned off, shutdown): what the
                    // disk refuses is given up, never waited for.
                    if let Some(i) = out.retry.iter().position(|s| matches!(s, Seg::Stop(_))) {
                        let lost: usize = out.retry[..i]
                            .iter()
                            .map(|s| match s {
                                Seg::Data(d, _) => d.len(),
                                _ => 0,
                            })
                            .sum();
                        crate::log!("The AOF writer stops with {lost} bytes the disk did not take");
                        if let Seg::Stop(tx) = out.retry.swap_remove(i) {
                            stop = Some(tx);
                        }
                    }
                    break;
                }
            },
            Seg::Switch(next) => {
                if core.policy() != Fsync::No {
                    let _ = out.file.sync_data();
                }
                *out = Out {
                    retry: std::mem::take(&mut out.retry),
                    ..Out::new(next)
                };
            }
            Seg::Stop(tx) => {
                let _ = out.file.sync_data();
                stop = Some(tx);
                break;
            }
        }
    }
    let policy = core.policy();
    let skip = fsync_skipped(core);
    if out.unsynced && out.retry.is_empty() && policy == Fsync::Always && !skip {
        let at = Instant::now();
        match out.file.sync_data() {
            Ok(()) => {
                out.unsynced = false;
                out.fsynced(core, at);
            }
            Err(e) => {
                out.fsync_failed = true;
                note_error(core, &e);
            }
        }
    }
    if let Some(seq) = done_seq {
        core.written.store(seq, Relaxed);
        // With `always` this is after the fsync; otherwise no reply waits.
        if policy != Fsync::Always || !out.unsynced || skip {
            core.durable.mark(seq);
        }
    }
    if let Some(tx) = stop {
        *slot = None;
        core.stopped.store(true, Relaxed);
        // The writer thread may be waiting: it ends now.
        drop(core.pending.lock());
        core.wake.notify_all();
        let _ = tx.send(());
        return false;
    }
    true
}

/// The writer thread: every 100 ms (or when woken) it writes what nobody
/// else wrote (effects of the cron's expiry, a group a connection could
/// not take), retries a failed write, and runs the everysec fsync.
fn writer(core: Arc<Core>) {
    loop {
        {
            let mut p = core.pending.lock();
            if core.stopped.load(Relaxed) {
                return;
            }
            if p.is_empty() {
                core.wake.wait_for(&mut p, Duration::from_millis(100));
            }
            if core.stopped.load(Relaxed) {
                return;
            }
        }
        let retrying = core
            .out
            .lock()
            .as_ref()
            .is_some_and(|o| !o.retry.is_empty());
        if retrying {
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut slot = core.out.lock();
        if !drain(&core, &mut slot) {
            return;
        }
        let Some(out) = slot.as_mut() else {
            return;
        };
        // A failed fsync of `always` is tried again here.
        let due = out.unsynced
            && out.retry.is_empty()
            && !fsync_skipped(&core)
            && match core.policy() {
                Fsync::Always => true,
                Fsync::EverySec => out.last_fsync.elapsed() >= Duration::from_secs(1),
                Fsync::No => false,
            };
        if !due {
            continue;
        }
        // The fsync runs without the lock: connections keep writing.
        let (file, writes, written) = (out.file.clone(), out.writes, core.written.load(Relaxed));
        drop(slot);
        let at = Instant::now();
        let res = file.sync_data();
        let mut slot = core.out.lock();
        let Some(out) = slot.as_mut() else {
            return;
        };
        if !Arc::ptr_eq(&out.file, &file) {
            // The file was switched meanwhile (and the old one fsynced).
            continue;
        }
        match res {
            Ok(()) => {
                if out.writes == writes {
                    out.unsynced = false;
                }
                out.fsynced(&core, at);
                if core.policy() == Fsync::Always {
                    core.durable.mark(written);
                }
            }
            Err(e) => {
                out.fsync_failed = true;
                note_error(&core, &e);
            }
        }
    }
}

impl Aof {
    /// Writes what is pending from the calling thread, as Redis writes
    /// before it replies: one write (and with `always` one fsync) serves
    /// every effect encoded so far (group commit). True once effects up to
    /// `seq` are durable; false when another thread is writing or a failed
    /// write waits for its retry: the caller then waits for the mark.
    pub fn commit(&self, seq: u64) -> bool {
        let core = &self.core;
        let Some(mut slot) = core.out.try_lock() else {
            return false;
        };
        if slot.as_ref().is_none_or(|o| !o.retry.is_empty()) {
            return false;
        }
        drain(core, &mut slot);
        drop(slot);
        // Written after our take: the writer thread takes it at once.
        if !core.pending.lock().is_empty() {
            core.wake.notify_one();
        }
        core.durable.get() >= seq
    }
}

fn note_error(core: &Core, e: &io::Error) {
    let text = crate::config::os_reason(e);
    if core.write_ok.swap(false, Relaxed) {
        crate::log!("Error writing to the AOF file: {text}");
    }
    *core.write_err.lock() = text;
}

/// Starts the writer on `file` and registers the sink. The feeder starts
/// with a SELECT.
fn start_logging(srv: &Shared, ctl: &mut Ctl, file: File) -> io::Result<()> {
    let core = srv.aof.core.clone();
    core.pending.lock().feeder.forget_db();
    *core.out.lock() = Some(Out::new(file));
    core.stopped.store(false, Relaxed);
    let handle = std::thread::Builder::new()
        .name("rubedo-aof".into())
        .spawn(move || writer(core))?;
    ctl.writer = Some(handle);
    ctl.sink = Some(
        srv.propagation
            .add_sink(Box::new(AofSink(srv.aof.core.clone()))),
    );
    srv.aof.configure(srv);
    Ok(())
}

/// Unregisters the sink, lets the writer write and fsync what it has, and
/// waits for it.
fn stop_logging(srv: &Shared, ctl: &mut Ctl) {
    if let Some(id) = ctl.sink.take() {
        srv.propagation.remove_sink(id);
    }
    if let Some(h) = ctl.writer.take() {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        srv.aof.core.pending.lock().push(Seg::Stop(tx));
        srv.aof.core.wake.notify_one();
        // The writer answers at once, even with a failing disk; the limit
        // only guards against a writer that died.
        if rx.recv_timeout(Duration::from_secs(30)).is_ok() {
            let _ = h.join();
        } else {
            crate::log!("The AOF writer did not stop; going on without it");
        }
    }
}

/// Hands the writer a new file: what was encoded before goes to the old one.
fn switch_to(srv: &Shared, file: File) {
    let mut p = srv.aof.core.pending.lock();
    p.push(Seg::Switch(file));
    p.feeder.forget_db();
    drop(p);
    srv.aof.core.wake.notify_one();
}

fn file_size(dir: &Path, name: &str) -> u64 {
    std::fs::metadata(dir.join(name)).map_or(0, |m| m.len())
}

/// Sizes of the files the manifest names.
fn manifest_size(dir: &Path, m: &Manifest) -> u64 {
    m.files_to_load().map(|f| file_size(dir, &f.name)).sum()
}

/// Opens the log after the load at startup (or when DEBUG LOADAOF found
/// none): a fresh log gets a base of the dataset now, then the last incr
/// is appended to (or a new one made) and the manifest written if it
/// changed.
fn open_after_load(srv: &Shared, dbs: &mut Dbs<'_>, mut m: Manifest) -> Result<(), String> {
    let dir = dir_of(srv);
    let pre = prefix(srv);
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {}: {e}",
            dir.display()
        )
    })?;
    let mut changed = false;
    let fresh = m.is_empty();
    if fresh {
        let name = m.new_base(&pre, preamble(srv));
        write_base(srv, dbs, &dir, &name)
            .map_err(|e| format!("Can't create the AOF base file {name}: {e}"))?;
        crate::log!("Creating AOF base file {name} on server start");
        changed = true;
    }
    let (incr, created) = m.last_incr_or_new(&pre);
    let file = open_append(&dir.join(&incr))
        .map_err(|e| format!("Can't open the append-only file {incr}: {e}"))?;
    if created {
        crate::log!("Creating AOF incr file {incr} on server start");
        changed = true;
    }
    if changed {
        write_atomically(&dir, &pre, &m)
            .map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
        sync_dir(&dir);
    }
    // As Redis: a log just created counts 0 bytes; a loaded one its files,
    // the base alone being what automatic rewrites measure growth against.
    let (current, base) = if fresh {
        (0, 0)
    } else {
        let base = m.base.as_ref().map_or(0, |b| file_size(&dir, &b.name));
        (manifest_size(&dir, &m), base)
    };
    srv.aof.core.current_size.store(current, Relaxed);
    srv.aof.base_size.store(base, Relaxed);
    let mut ctl = srv.aof.ctl.lock();
    ctl.dir = dir;
    ctl.manifest = m;
    ctl.state = AofState::On;
    start_logging(srv, &mut ctl, file).map_err(|e| format!("Can't start the AOF writer: {e}"))?;
    srv.aof.enabled.store(true, Relaxed);
    Ok(())
}

/// Writes the dataset `dbs` holds as the base `name` in `dir`, in the
/// foreground.
fn write_base(srv: &Shared, dbs: &mut Dbs<'_>, dir: &Path, name: &str) -> io::Result<Saved> {
    let t = Target {
        functions: crate::persistence::functions(srv),
        ..Target::new(dir.to_path_buf(), name.to_string())
    };
    save_dbs(dbs, &t, base_options(srv))
}

/// BGREWRITEAOF (and turning the log on): under every lock, switch the
/// log to a new incr and start a background snapshot of this instant as
/// the new base. A failure to start counts as a failed rewrite.
pub fn start_rewrite(srv: &Shared, dbs: &mut Dbs<'_>) {
    let mut bg = srv.persist.bg.lock();
    if bg.is_some() {
        srv.aof.scheduled.store(true, Relaxed);
        return;
    }
    let mut ctl = srv.aof.ctl.lock();
    let pre = prefix(srv);
    let dir = if ctl.state == AofState::Off {
        dir_of(srv)
    } else {
        ctl.dir.clone()
    };
    let started = (|| -> Result<Arc<Background>, String> {
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("Can't create {}: {e}", dir.display()))?;
        if ctl.state == AofState::Off && ctl.dir != dir {
            // The log was never opened here: go on from what is on disk.
            ctl.manifest = Manifest::read_from_dir(&dir, &pre)
                .map_err(|e| e.to_string())?
                .unwrap_or_default();
            ctl.dir = dir.clone();
        }
        match ctl.state {
            AofState::On => {
                let mut m = ctl.manifest.clone();
                let name = m.new_incr(&pre);
                let file = open_append(&dir.join(&name))
                    .map_err(|e| format!("Can't open the append-only file {name}: {e}"))?;
                write_atomically(&dir, &pre, &m)
                    .map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
                ctl.manifest = m;
                switch_to(srv, file);
                crate::log!("Creating AOF incr file {name} on background rewrite");
            }
            AofState::WaitRewrite => {
                let temp = dir.join(aof::temp_incr_name(&pre));
                // A new file, never the one a writer may still hold (a
                // retry after a failed first rewrite).
                let _ = std::fs::remove_file(&temp);
                let file = OpenOptions::new()
                    .create(true)
                    .write(true)
                    .truncate(true)
                    .open(&temp)
                    .map_err(|e| format!("Can't open {}: {e}", temp.display()))?;
                if ctl.writer.is_some() {
                    switch_to(srv, file);
                } else {
                    start_logging(srv, &mut ctl, file).map_err(|e| e.to_string())?;
                }
                ctl.temp_incr = Some(temp);
                crate::log!(
                    "Creating AOF incr file {} on background rewrite",
                    aof::temp_incr_name(&pre)
                );
            }
            AofState::Off => {}
        }
        let base = aof::base_name(&pre, ctl.manifest.next_base_seq(), preamble(srv));
        ctl.rewrite_base = Some(base.clone());
        let last = srv.persist.last_epoch.load(Relaxed);
        let t = Target {
            functions: crate::persistence::functions(srv),
            ..Target::new(dir.clone(), base)
        };
        Background::start_in(dbs, last, t, base_options(srv)).map_err(|e| e.to_string())
    })();
    srv.aof.rewrites.fetch_add(1, Relaxed);
    match started {
        Ok(snap) => {
            srv.persist.last_epoch.store(snap.epoch(), Relaxed);
            *bg = Some(Running {
                kind: Child::Rewrite,
                snap,
                started: Instant::now(),
                dirty_at_start: srv.stats.dirty.load(Relaxed),
            });
            drop(bg);
            drop(ctl);
            srv.aof.set_child_active(true);
            crate::log!("Background append only file rewriting started");
            srv.persist.wake.notify_one();
        }
        Err(e) => {
            drop(bg);
            drop(ctl);
            crate::log!("Can't rewrite append only file in background: {e}");
            rewrite_failed(srv);
        }
    }
}

fn rewrite_failed(srv: &Shared) {
    let a = &srv.aof;
    a.last_rewrite_ok.store(false, Relaxed);
    a.failures.fetch_add(1, Relaxed);
    a.last_auto_fail.store(unix_secs(), Relaxed);
    let ctl = a.ctl.lock();
    if ctl.state == AofState::WaitRewrite {
        // Turning the log on goes on: another rewrite, a fresh temp incr.
        a.scheduled.store(true, Relaxed);
    }
}

/// The persistence task saw a rewrite's snapshot end: adopt it as the base.
pub fn rewrite_done(srv: &Shared, r: &crate::persistence::Done, result: io::Result<Saved>) {
    let a = &srv.aof;
    a.last_rewrite_secs
        .store(r.started.elapsed().as_secs() as i64, Relaxed);
    let saved = match result {
        Ok(s) => s,
        Err(e) => {
            crate::log!("Background AOF rewrite failed: {e}");
            rewrite_failed(srv);
            return;
        }
    };
    let pre = prefix(srv);
    let mut ctl = a.ctl.lock();
    let dir = ctl.dir.clone();
    let mut m = ctl.manifest.clone();
    let names = m.finish_rewrite(&pre, preamble(srv), ctl.state);
    let done = (|| -> Result<(), String> {
        if ctl.state == AofState::WaitRewrite && ctl.temp_incr.is_none() {
            return Err("the log is being turned on but this rewrite has no incr".into());
        }
        if Some(&names.base) != ctl.rewrite_base.as_ref() {
            // A rename of the log's files meanwhile; never adopt a stranger.
            return Err("the base written is not the one the manifest expects".into());
        }
        if let (Some(incr), Some(temp)) = (&names.incr, &ctl.temp_incr) {
            std::fs::rename(temp, dir.join(incr))
                .map_err(|e| format!("Can't rename the temp incr file: {e}"))?;
        }
        write_atomically(&dir, &pre, &m)
            .map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
        Ok(())
    })();
    if let Err(e) = done {
        drop(ctl);
        crate::log!("Background AOF rewrite failed: {e}");
        rewrite_failed(srv);
        return;
    }
    if !srv.config.yes("aof-disable-auto-gc") {
        match remove_history(&dir, &pre, &m) {
            Ok(kept) => m = kept,
            Err(e) => crate::log!("Can't remove the AOF history files: {e}"),
        }
    }
    ctl.manifest = m;
    ctl.temp_incr = None;
    ctl.rewrite_base = None;
    if ctl.state == AofState::WaitRewrite {
        ctl.state = AofState::On;
        crate::log!("Background AOF rewrite finished; the append only file is on");
    }
    let size = manifest_size(&dir, &ctl.manifest);
    drop(ctl);
    a.core.current_size.store(size, Relaxed);
    a.base_size.store(size, Relaxed);
    a.last_rewrite_ok.store(true, Relaxed);
    a.failures.store(0, Relaxed);
    crate::log!(
        "Background AOF rewrite terminated with success ({} keys, {} bytes)",
        saved.keys,
        saved.bytes
    );
}

/// CONFIG SET of a log parameter, with every lock held.
pub fn config_changed(srv: &Shared, dbs: &mut Dbs<'_>, name: &str) {
    match name {
        "appendonly" => {
            if srv.config.yes("appendonly") {
                turn_on(srv, dbs);
            } else {
                turn_off(srv, dbs);
            }
        }
        "appendfsync" | "no-appendfsync-on-rewrite" | "aof-timestamp-enabled" => {
            srv.aof.configure(srv)
        }
        "aof-disable-auto-gc" if !srv.config.yes("aof-disable-auto-gc") => {
            let pre = prefix(srv);
            let mut ctl = srv.aof.ctl.lock();
            if ctl.state != AofState::Off && !ctl.manifest.history.is_empty() {
                let dir = ctl.dir.clone();
                if let Ok(kept) = remove_history(&dir, &pre, &ctl.manifest) {
                    ctl.manifest = kept;
                }
            }
        }
        _ => {}
    }
}

/// `appendonly yes` at run time: the log starts in a temporary incr and a
/// rewrite makes its base; it is on once that rewrite is done.
fn turn_on(srv: &Shared, dbs: &mut Dbs<'_>) {
    {
        let mut ctl = srv.aof.ctl.lock();
        if ctl.state != AofState::Off {
            return;
        }
        // The sequence goes on from the files already there.
        let dir = dir_of(srv);
        if ctl.dir != dir {
            ctl.manifest = Manifest::read_from_dir(&dir, &prefix(srv))
                .ok()
                .flatten()
                .unwrap_or_default();
            ctl.dir = dir;
        }
        ctl.state = AofState::WaitRewrite;
        srv.aof.enabled.store(true, Relaxed);
    }
    // A rewrite of the log while it was off is of no use now: a new one
    // starts. Behind a save, the rewrite follows it (the cron starts it).
    give_up_rewrite(srv, dbs);
    if srv.persist.child_active() {
        srv.aof.scheduled.store(true, Relaxed);
        return;
    }
    start_rewrite(srv, dbs);
}

/// A running rewrite is abandoned (the log is being turned off).
fn give_up_rewrite(srv: &Shared, dbs: &mut Dbs<'_>) {
    let running = {
        let mut bg = srv.persist.bg.lock();
        if bg.as_ref().is_some_and(|r| r.kind == Child::Rewrite) {
            bg.take()
        } else {
            None
        }
    };
    if let Some(r) = running {
        crate::log!("Killing running AOF rewrite");
        r.snap.abort_in(dbs);
        srv.aof.set_child_active(false);
    }
}

/// `appendonly no`: the writer writes and fsyncs what it has and stops;
/// the files stay as they are.
fn turn_off(srv: &Shared, dbs: &mut Dbs<'_>) {
    give_up_rewrite(srv, dbs);
    let mut ctl = srv.aof.ctl.lock();
    if ctl.state == AofState::Off {
        return;
    }
    stop_logging(srv, &mut ctl);
    if let Some(t) = ctl.temp_incr.take() {
        let _ = std::fs::remove_file(t);
    }
    ctl.state = AofState::Off;
    ctl.rewrite_base = None;
    srv.aof.enabled.store(false, Relaxed);
    srv.aof.scheduled.store(false, Relaxed);
    srv.aof.core.write_ok.store(true, Relaxed);
}

/// BGREWRITEAOF's reply, under every lock.
pub fn bgrewriteaof(
    srv: &Shared,
    dbs: &mut Dbs<'_>,
    in_exec: bool,
) -> Result<&'static str, String> {
    if srv.persist.running(Child::Rewrite) {
        return Err("Background append only file rewriting already in progress".into());
    }
    if srv.persist.child_active() || in_exec {
        srv.aof.scheduled.store(true, Relaxed);
        srv.aof.failures.store(0, Relaxed);
        return Ok("Background append only file rewriting scheduled");
    }
    start_rewrite(srv, dbs);
    if srv.persist.running(Child::Rewrite) {
        Ok("Background append only file rewriting started")
    } else {
        Err("Can't execute an AOF background rewriting. Please check the server logs for more information.".into())
    }
}

/// After three failed rewrites in a row, scheduled and automatic ones
/// wait 1, 2, 4 ... 60 minutes (as Redis limits them).
fn limited(a: &Aof) -> bool {
    let fails = a.failures.load(Relaxed);
    if fails < 3 {
        return false;
    }
    let pause = 60u64.saturating_mul(1 << (fails - 3).min(6)).min(3600);
    unix_secs().saturating_sub(a.last_auto_fail.load(Relaxed)) < pause
}

/// A rewrite scheduled while another snapshot ran (cron).
pub fn scheduled_rewrite<K: Keyspace>(ks: &K, srv: &Shared) {
    let a = &srv.aof;
    if !a.is_scheduled()
        || srv.persist.child_active()
        || srv.persist.loading.load(Relaxed)
        || limited(a)
    {
        return;
    }
    if a.take_scheduled() {
        ks.run(Scope::All, |dbs| start_rewrite(srv, dbs));
    }
}

/// Automatic rewrites (cron): the log grew by `auto-aof-rewrite-percentage`
/// over its size after the last rewrite, and is over the minimum size.
pub fn auto_rewrite<K: Keyspace>(ks: &K, srv: &Shared) {
    let a = &srv.aof;
    if !a.enabled() || srv.persist.child_active() || srv.persist.loading.load(Relaxed) {
        return;
    }
    if a.ctl.lock().state != AofState::On {
        return;
    }
    let perc: u64 = srv
        .config
        .get("auto-aof-rewrite-percentage")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let min: u64 = srv
        .config
        .get("auto-aof-rewrite-min-size")
        .and_then(|v| crate::config::parse_memory(&v))
        .unwrap_or(0);
    let current = a.core.current_size.load(Relaxed);
    if perc == 0 || current <= min {
        return;
    }
    if limited(a) {
        return;
    }
    let base = a.base_size.load(Relaxed).max(1);
    let growth = (current * 100 / base).saturating_sub(100);
    if growth >= perc {
        crate::log!("Starting automatic rewriting of AOF on {growth}% growth");
        ks.run(Scope::All, |dbs| start_rewrite(srv, dbs));
    }
}

/// Whether the server may exit: not while the log is still being turned
/// on, unless `force`.
pub fn may_shutdown(srv: &Shared, force: bool) -> bool {
    if srv.aof.ctl.lock().state == AofState::WaitRewrite {
        if !force {
            crate::log!("Writing initial AOF, can't exit.");
            return false;
        }
        crate::log!("Writing initial AOF. Exit anyway.");
    }
    true
}

/// Before exiting: what is pending is written and fsynced.
pub fn flush_at_exit(srv: &Shared) {
    let mut ctl = srv.aof.ctl.lock();
    if ctl.writer.is_some() {
        crate::log!("Calling fsync() on the AOF file.");
        stop_logging(srv, &mut ctl);
    }
}

/// A problem with the log on disk, worded as the server reports it.
fn bad(path: &Path, what: String) -> String {
    format!("the append-only file {}: {what}", path.display())
}

/// How reading one command file ended.
struct Replayed {
    commands: u64,
    /// The file ends inside a command (or with an open MULTI): where the
    /// last whole one ends.
    truncated_at: Option<u64>,
}

/// Reads the command file at `path`, handing each command (MULTI ... EXEC
/// as one group, without the wrapping) to `out`. Annotations are skipped.
fn read_commands(path: &Path, mut out: impl FnMut(Vec<Vec<Bytes>>)) -> Result<Replayed, String> {
    let file = File::open(path).map_err(|e| bad(path, format!("can't open: {e}")))?;
    let mut r = CommandReader::new(io::BufReader::with_capacity(1 << 20, file));
    let mut txn: Option<Vec<Vec<Bytes>>> = None;
    let mut commands = 0u64;
    loop {
        match r.next_item() {
            Ok(Some(Item::Command(argv))) => {
                commands += 1;
                if argv[0].eq_ignore_ascii_case(b"multi") && txn.is_none() {
                    txn = Some(Vec::new());
                } else if argv[0].eq_ignore_ascii_case(b"exec") && txn.is_some() {
                    out(txn.take().unwrap_or_default());
                } else if let Some(t) = txn.as_mut() {
                    t.push(argv);
                } else {
                    out(vec![argv]);
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                let truncated_at = r.open_multi();
                if truncated_at.is_some() {
                    crate::log!(
                        "{}",
                        aof::commands::revert_multi_message(&path.display().to_string())
                    );
                }
                return Ok(Replayed {
                    commands,
                    truncated_at,
                });
            }
            Err(ReadError::Truncated { valid_up_to }) => {
                return Ok(Replayed {
                    commands,
                    truncated_at: Some(r.open_multi().unwrap_or(valid_up_to)),
                })
            }
            Err(e) => {
                return Err(format!(
                    "{} ({e})",
                    e.redis_message(&path.display().to_string())
                ))
            }
        }
    }
}

/// Runs one replayed group of commands in `dbs` for the loading client.
fn apply(
    srv: &Shared,
    dbs: &mut Dbs<'_>,
    client: &mut Client,
    group: Vec<Vec<Bytes>>,
    file: &Path,
) -> Result<(), String> {
    for argv in group {
        let cmd = match crate::dispatch::gate::resolve(srv, &argv) {
            Ok(c) => c,
            Err(_) => {
                return Err(format!(
                    "Unknown command '{}' reading the append only file {}",
                    String::from_utf8_lossy(&argv[0]),
                    file.display()
                ))
            }
        };
        let mut effects = Vec::new();
        // As Redis while loading: nothing expires as the history replays
        // (a later command may act on a key whose time has passed since).
        dbs.events().hold_expiry = true;
        // Errors a command answers are part of the history, not of the load.
        let _ =
            crate::dispatch::exec::call(srv, client, dbs, cmd, &argv, &mut effects, Caller::Exec);
        dbs.events().reset();
        dbs.events().hold_expiry = false;
    }
    Ok(())
}

/// The client commands from the log run as.
fn loading_client(srv: &Shared) -> Client {
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    let info = Arc::new(ClientInfo::new(srv.clients.next_id(), addr, addr, 0));
    Client::new(info, true)
}

/// What to do about a truncated file: cut it back and go on, or refuse.
fn handle_truncation(srv: &Shared, path: &Path, at: u64, last: bool) -> Result<(), String> {
    let name = path.display().to_string();
    if !srv.config.yes("aof-load-truncated") {
        return Err(aof::commands::unexpected_eof_message(&name));
    }
    for line in aof::commands::truncating_messages(&name, at) {
        crate::log!("{line}");
    }
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| {
            f.set_len(at)?;
            f.sync_all()
        })
        .map_err(|e| bad(path, format!("can't truncate at {at}: {e}")))?;
    if !last {
        return Err("Fatal error: the truncated file is not the last file".into());
    }
    Ok(())
}

/// The manifest and the files it names, checked before anything is read.
fn read_manifest(srv: &Shared, dir: &Path) -> Result<Option<Manifest>, String> {
    let pre = prefix(srv);
    let m = Manifest::read_from_dir(dir, &pre)
        .map_err(|e| format!("*** FATAL AOF MANIFEST FILE ERROR *** {e}"))?;
    if let Some(m) = &m {
        for f in m.files_to_load() {
            let p = dir.join(&f.name);
            if let Err(e) = std::fs::metadata(&p) {
                return Err(format!(
                    "Unable to obtain the AOF file {} length. stat: {e}",
                    f.name
                ));
            }
        }
    }
    Ok(m)
}

/// A single-file log of an older Redis (`<dir>/<appendfilename>`) becomes
/// the base of a new directory, as Redis 7 migrates it: the manifest is
/// written first, then the file moved in.
fn upgrade_old_style(srv: &Shared, dir: &Path) -> Result<(), String> {
    let pre = prefix(srv);
    let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
    let old = cwd.join(&pre);
    if !old.is_file() {
        return Ok(());
    }
    let m = Manifest::read_from_dir(dir, &pre).ok().flatten();
    let needed = match &m {
        None => true,
        Some(m) if m.is_empty() => true,
        Some(m) => {
            m.incrs.is_empty()
                && m.base
                    .as_ref()
                    .is_some_and(|b| b.name == pre && !dir.join(&pre).exists())
        }
    };
    if !needed {
        return Ok(());
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("Can't create the AOF directory {}: {e}", dir.display()))?;
    let m = Manifest::for_old_style_file(&pre);
    write_atomically(dir, &pre, &m).map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    std::fs::rename(&old, dir.join(&pre))
        .map_err(|e| format!("Can't move {} into {}: {e}", old.display(), dir.display()))?;
    sync_dir(dir);
    sync_dir(&cwd);
    crate::log!("Successfully migrated an old-style AOF into the AOF directory");
    Ok(())
}

/// Loads the log at startup (`appendonly yes`): the base, then every incr,
/// in batches under every lock with clients answered -LOADING meanwhile;
/// then opens it for appending. The snapshot file is not read.
pub async fn load_at_startup<K: Keyspace>(ks: &K, srv: &Shared) -> Result<(), String> {
    let dir = dir_of(srv);
    upgrade_old_style(srv, &dir)?;
    let m = read_manifest(srv, &dir)?.unwrap_or_default();
    let total = manifest_size(&dir, &m);
    crate::persistence::begin_loading(srv, total);
    let started = Instant::now();
    let r = load_files(ks, srv, &dir, &m).await;
    if let Err(e) = r {
        ks.run(Scope::All, |dbs| {
            for d in 0..dbs.count() {
                dbs.db(d).clear();
            }
        });
        srv.persist.loading.store(false, Relaxed);
        return Err(e);
    }
    if srv.lifecycle.shutting_down.load(Relaxed) {
        srv.persist.loading.store(false, Relaxed);
        return Ok(());
    }
    if !m.is_empty() {
        crate::log!(
            "DB loaded from append only file: {:.3} seconds",
            started.elapsed().as_secs_f64()
        );
    }
    srv.stats.dirty.store(0, Relaxed);
    // The log is open before any write is admitted.
    let r = ks.run(Scope::All, |dbs| open_after_load(srv, dbs, m.clone()));
    srv.persist.loading.store(false, Relaxed);
    r
}

async fn load_files<K: Keyspace>(
    ks: &K,
    srv: &Shared,
    dir: &Path,
    m: &Manifest,
) -> Result<(), String> {
    let files: Vec<_> = m.files_to_load().cloned().collect();
    let mut client = loading_client(srv);
    for (i, f) in files.iter().enumerate() {
        let path = dir.join(&f.name);
        let last = i + 1 == files.len();
        if i == 0 && m.base.is_some() && std::fs::metadata(&path).map_or(0, |x| x.len()) > 0 {
            match format_of(&path)? {
                FileFormat::RubedoSnapshot | FileFormat::RedisRdb => {
                    // Keys whose time has passed stay until the incrs are
                    // replayed (as Redis loads a log's base). A base Redis
                    // wrote (RDB preamble) loads the same way.
                    crate::persistence::load_snapshot(ks, srv, &path, true).await?;
                    continue;
                }
                FileFormat::Commands => {}
            }
        }
        let progress = srv.persist.loading_loaded.clone();
        let before = progress.load(Relaxed);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Vec<Vec<Bytes>>>>(4);
        let p2 = path.clone();
        let delay = srv.config.key_load_delay.clone();
        let reader = std::thread::Builder::new()
            .name("rubedo-aof-load".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(REPLAY_BATCH);
                let mut n = 0u64;
                let r = read_commands(&p2, |g| {
                    batch.push(g);
                    n += 1;
                    rubedo_persist::snapshot::key_delay(delay.load(Relaxed), n);
                    if batch.len() >= REPLAY_BATCH {
                        let _ = tx.blocking_send(std::mem::replace(
                            &mut batch,
                            Vec::with_capacity(REPLAY_BATCH),
                        ));
                    }
                });
                if !batch.is_empty() {
                    let _ = tx.blocking_send(batch);
                }
                r
            })
            .map_err(|e| e.to_string())?;
        let size = std::fs::metadata(&path).map_or(0, |x| x.len());
        let mut done = 0u64;
        let mut failed = None;
        while let Some(batch) = rx.recv().await {
            if srv.lifecycle.shutting_down.load(Relaxed) {
                return Ok(());
            }
            if failed.is_some() {
                continue;
            }
            let r = ks.run(Scope::All, |dbs| {
                for g in batch {
                    done += 1;
                    apply(srv, dbs, &mut client, g, &path)?;
                }
                Ok::<(), String>(())
            });
            if let Err(e) = r {
                failed = Some(e);
            }
            // Progress by commands, as bytes of this file.
            progress.store(before + size.min(done * 64), Relaxed);
            tokio::task::yield_now().await;
        }
        progress.store(before + size, Relaxed);
        let r = reader
            .join()
            .map_err(|_| "the log reader panicked".to_string())??;
        if let Some(e) = failed {
            return Err(e);
        }
        if let Some(at) = r.truncated_at {
            handle_truncation(srv, &path, at, last)?;
        }
        let kind = if i == 0 && m.base.is_some() {
            "base"
        } else {
            "incr"
        };
        crate::log!(
            "DB loaded from {kind} file {}: {} commands",
            f.name,
            r.commands
        );
    }
    Ok(())
}

fn format_of(path: &Path) -> Result<FileFormat, String> {
    use std::io::Read;
    let mut head = [0u8; 8];
    let mut f = File::open(path).map_err(|e| bad(path, format!("can't open: {e}")))?;
    let n = f.read(&mut head).map_err(|e| bad(path, e.to_string()))?;
    Ok(detect_format(&head[..n]))
}

/// DEBUG LOADAOF: writes and fsyncs what is pending, empties the dataset
/// and loads the log again, in the foreground with every lock held.
pub fn debug_loadaof(srv: &Shared, dbs: &mut Dbs<'_>) -> Result<(), String> {
    let dir = {
        let ctl = srv.aof.ctl.lock();
        if ctl.state == AofState::Off {
            return Err("the append only file is off".into());
        }
        ctl.dir.clone()
    };
    flush_pending(srv);
    let m = read_manifest(srv, &dir)?.unwrap_or_default();
    for d in 0..dbs.count() {
        dbs.db(d).clear();
    }
    // The log's base and its FUNCTION commands make the libraries again.
    crate::cmd::functions::flush_libraries(srv);
    let mut client = loading_client(srv);
    let files: Vec<_> = m.files_to_load().cloned().collect();
    for (i, f) in files.iter().enumerate() {
        let path = dir.join(&f.name);
        if i == 0 && m.base.is_some() && std::fs::metadata(&path).map_or(0, |x| x.len()) > 0 {
            match format_of(&path)? {
                FileFormat::RubedoSnapshot | FileFormat::RedisRdb => {
                    crate::persistence::load_path_now(srv, dbs, &path, true)?;
                    continue;
                }
                FileFormat::Commands => {}
            }
        }
        let mut err = None;
        let r = read_commands(&path, |g| {
            if err.is_none() {
                if let Err(e) = apply(srv, dbs, &mut client, g, &path) {
                    err = Some(e);
                }
            }
        })?;
        if let Some(e) = err {
            return Err(e);
        }
        if let Some(at) = r.truncated_at {
            handle_truncation(srv, &path, at, i + 1 == files.len())?;
        }
    }
    srv.stats.dirty.store(0, Relaxed);
    Ok(())
}

/// Waits (10 s at most) until the writer has written everything encoded
/// so far.
fn flush_pending(srv: &Shared) {
    let core = &srv.aof.core;
    let target = core.pending.lock().cur_seq;
    let until = Instant::now() + Duration::from_secs(10);
    while core.written.load(Relaxed) < target && Instant::now() < until {
        core.wake.notify_one();
        std::thread::sleep(Duration::from_millis(1));
    }
}
