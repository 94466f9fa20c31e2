//! State shared by every connection: the command table, configuration,
//! the client registry, statistics and WATCH bookkeeping.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::config::Config;
use crate::dispatch::table::Table;
use crate::propagate::Propagation;

/// What other connections may see or change about a client (CLIENT LIST,
/// CLIENT KILL, WATCH invalidation). The owning connection keeps the rest.
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub created_ms: u64,
    pub name: Mutex<Option<Bytes>>,
    pub db: AtomicUsize,
    pub last_ms: AtomicU64,
    /// Id + 1 of the last command run (0 = none yet).
    pub last_cmd: AtomicUsize,
    pub resp: AtomicU8,
    pub in_multi: AtomicBool,
    pub multi_len: AtomicUsize,
    pub watch_count: AtomicUsize,
    pub qbuf: AtomicUsize,
    pub qbuf_free: AtomicUsize,
    /// Capacity of the read buffer (CLIENT LIST rbs).
    pub rbs: AtomicUsize,
    /// Bytes of the arguments queued by MULTI (CLIENT LIST multi-mem).
    pub multi_mem: AtomicUsize,
    /// The socket's file descriptor (CLIENT LIST fd), -1 when unknown.
    pub fd: std::sync::atomic::AtomicI64,
    pub tot_net_in: AtomicU64,
    pub tot_net_out: AtomicU64,
    pub tot_cmds: AtomicU64,
    /// Set when a watched key changed; EXEC then fails.
    pub dirty_cas: AtomicBool,
    /// Set by CLIENT KILL / timeout; the connection closes when it sees it.
    pub killed: AtomicBool,
    /// CLIENT UNBLOCK: how to end the wait (1 = timeout, 2 = error) and the wake-up.
    pub unblock_mode: AtomicU8,
    pub unblock: tokio::sync::Notify,
    /// Frames other clients send this one (messages, notifications,
    /// invalidations, MONITOR lines), written by its connection in order.
    pub outbox: rubedo_pubsub::Outbox,
    /// Channels, patterns and shard channels subscribed (CLIENT LIST sub/psub/ssub).
    pub subs: [AtomicUsize; 3],
    /// CLIENT TRACKING state.
    pub tracking: crate::signals::tracking::ClientTracking,
    /// In MONITOR mode.
    pub monitor: AtomicBool,
    /// Of the client's last blocking wait (read while the blocking registry
    /// says it waits): the bytes of its command's arguments (CLIENT LIST
    /// argv-mem) and whether it has a timeout (INFO clients_in_timeout_table).
    pub blocked_argv_mem: AtomicUsize,
    pub blocked_with_timeout: AtomicBool,
}

impl rubedo_pubsub::Subscriber for ClientInfo {
    fn id(&self) -> u64 {
        self.id
    }

    fn outbox(&self) -> &rubedo_pubsub::Outbox {
        &self.outbox
    }

    fn protocol(&self) -> rubedo_resp::Protocol {
        if self.resp.load(Relaxed) == 3 {
            rubedo_resp::Protocol::Resp3
        } else {
            rubedo_resp::Protocol::Resp2
        }
    }

    fn class(&self) -> rubedo_pubsub::Class {
        if self.is_pubsub() {
            rubedo_pubsub::Class::Pubsub
        } else {
            rubedo_pubsub::Class::Normal
        }
    }

    fn overflowed(&self) {
        self.kill();
    }
}

impl ClientInfo {
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr, now_ms: u64) -> ClientInfo {
        ClientInfo {
            id,
            addr: addr.to_string(),
            laddr: laddr.to_string(),
            created_ms: now_ms,
            name: Mutex::new(None),
            db: AtomicUsize::new(0),
            last_ms: AtomicU64::new(now_ms),
            last_cmd: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            in_multi: AtomicBool::new(false),
            multi_len: AtomicUsize::new(0),
            watch_count: AtomicUsize::new(0),
            qbuf: AtomicUsize::new(0),
            qbuf_free: AtomicUsize::new(0),
            rbs: AtomicUsize::new(0),
            multi_mem: AtomicUsize::new(0),
            fd: std::sync::atomic::AtomicI64::new(-1),
            tot_net_in: AtomicU64::new(0),
            tot_net_out: AtomicU64::new(0),
            tot_cmds: AtomicU64::new(0),
            dirty_cas: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            unblock_mode: AtomicU8::new(0),
            unblock: tokio::sync::Notify::new(),
            outbox: rubedo_pubsub::Outbox::new(),
            subs: Default::default(),
            tracking: Default::default(),
            monitor: AtomicBool::new(false),
            blocked_argv_mem: AtomicUsize::new(0),
            blocked_with_timeout: AtomicBool::new(false),
        }
    }

    /// True while the client has any subscription (Redis's pubsub client class).
    pub fn is_pubsub(&self) -> bool {
        self.subs.iter().any(|n| n.load(Relaxed) > 0)
    }

    /// Marks the client killed and wakes its connection, which closes it.
    pub fn kill(&self) {
        self.killed.store(true, Relaxed);
        self.outbox.wake.notify_one();
    }
}

/// Per-command counters (INFO commandstats).
#[derive(Default)]
pub struct CmdStats {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
}

/// Server-wide counters (INFO stats).
#[derive(Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub expired_keys: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub total_error_replies: AtomicU64,
    pub dirty: AtomicU64,
    pub errors: ErrorStats,
    pub per_cmd: Vec<CmdStats>,
}

/// The prefixes Rubedo's own errors (and Redis's usual ones) start with,
/// sorted: each has its own counter, so counting one is an atomic add.
const KNOWN_PREFIXES: [&[u8]; 24] = [
    b"ASK",
    b"BUSY",
    b"BUSYGROUP",
    b"BUSYKEY",
    b"CROSSSLOT",
    b"ERR",
    b"EXECABORT",
    b"LOADING",
    b"MASTERDOWN",
    b"MISCONF",
    b"MOVED",
    b"NOAUTH",
    b"NOGROUP",
    b"NOPERM",
    b"NOPROTO",
    b"NOREPLICAS",
    b"NOSCRIPT",
    b"NOTBUSY",
    b"OOM",
    b"READONLY",
    b"UNBLOCKED",
    b"UNKILLABLE",
    b"WRONGPASS",
    b"WRONGTYPE",
];

/// Where `ERR` is in [`KNOWN_PREFIXES`].
const ERR_SLOT: usize = 5;

/// INFO errorstats: error replies counted by prefix word. Known prefixes
/// are atomics; any other prefix (rare: errors whose text is dynamic) goes
/// to a map behind a lock. Redis 7.0 keeps every distinct prefix (no cap).
pub struct ErrorStats {
    known: [AtomicU64; KNOWN_PREFIXES.len()],
    other: Mutex<BTreeMap<Box<[u8]>, u64>>,
}

impl Default for ErrorStats {
    fn default() -> Self {
        ErrorStats {
            known: std::array::from_fn(|_| AtomicU64::new(0)),
            other: Mutex::new(BTreeMap::new()),
        }
    }
}

impl ErrorStats {
    /// Counts one error reply whose text (without the leading `-`) is `text`.
    pub fn record(&self, text: &[u8]) {
        let prefix = crate::error::error_prefix(text);
        // Nearly every error is an ERR: no search for it.
        let slot = if prefix == b"ERR" {
            Ok(ERR_SLOT)
        } else {
            KNOWN_PREFIXES.binary_search(&prefix)
        };
        match slot {
            Ok(i) => {
                self.known[i].fetch_add(1, Relaxed);
            }
            Err(_) => *self.other.lock().entry(prefix.into()).or_insert(0) += 1,
        }
    }

    /// (prefix, count) of every prefix seen, in byte order (as Redis lists them).
    pub fn counts(&self) -> Vec<(Vec<u8>, u64)> {
        let mut out: Vec<(Vec<u8>, u64)> = KNOWN_PREFIXES
            .iter()
            .zip(&self.known)
            .map(|(p, n)| (p.to_vec(), n.load(Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        out.extend(self.other.lock().iter().map(|(p, n)| (p.to_vec(), *n)));
        out.sort();
        out
    }

    pub fn reset(&self) {
        for n in &self.known {
            n.store(0, Relaxed);
        }
        self.other.lock().clear();
    }
}

impl Stats {
    pub fn new(commands: usize) -> Stats {
        Stats {
            per_cmd: (0..commands).map(|_| CmdStats::default()).collect(),
            ..Stats::default()
        }
    }

    /// Counts an error reply by its prefix word (INFO errorstats).
    pub fn error(&self, text: &[u8]) {
        self.total_error_replies.fetch_add(1, Relaxed);
        self.errors.record(text);
    }

    pub fn reset(&self) {
        for a in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.expired_keys,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.total_error_replies,
        ] {
            a.store(0, Relaxed);
        }
        self.errors.reset();
        for c in &self.per_cmd {
            c.calls.store(0, Relaxed);
            c.usec.store(0, Relaxed);
            c.rejected.store(0, Relaxed);
            c.failed.store(0, Relaxed);
        }
    }
}

/// Which clients watch which keys. `count` lets the write path skip the
/// lock entirely when nobody watches anything (the common case).
#[derive(Default)]
pub struct Watches {
    count: AtomicUsize,
    map: Mutex<HashMap<(usize, Bytes), HashSet<u64>>>,
}

impl Watches {
    pub fn watch(&self, db: usize, key: Bytes, client: u64) {
        let mut m = self.map.lock();
        if m.entry((db, key)).or_default().insert(client) {
            self.count.fetch_add(1, Relaxed);
        }
    }

    pub fn unwatch(&self, db: usize, key: &Bytes, client: u64) {
        let mut m = self.map.lock();
        let k = (db, key.clone());
        if let Some(set) = m.get_mut(&k) {
            if set.remove(&client) {
                self.count.fetch_sub(1, Relaxed);
            }
            if set.is_empty() {
                m.remove(&k);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count.load(Relaxed) == 0
    }

    /// Clients watching `key` in `db`.
    pub fn watchers(&self, db: usize, key: &[u8]) -> Vec<u64> {
        if self.is_empty() {
            return Vec::new();
        }
        let m = self.map.lock();
        m.get(&(db, Bytes::copy_from_slice(key)))
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Every watched (db, key, client) triple, for flushes and SWAPDB.
    pub fn all(&self) -> Vec<(usize, Bytes, u64)> {
        if self.is_empty() {
            return Vec::new();
        }
        let m = self.map.lock();
        m.iter()
            .flat_map(|((db, k), s)| s.iter().map(move |c| (*db, k.clone(), *c)))
            .collect()
    }
}

/// A copy of every key-modified signal, for tests and tools that check the
/// write path (off unless switched on; then every write records its keys).
#[derive(Default)]
pub struct SignalTap {
    on: AtomicBool,
    seen: Mutex<Vec<(usize, Bytes)>>,
    flushed: Mutex<Vec<usize>>,
}

impl SignalTap {
    pub fn start(&self) {
        self.on.store(true, Relaxed);
    }

    pub fn is_on(&self) -> bool {
        self.on.load(Relaxed)
    }

    fn note(&self, db: usize, key: &[u8]) {
        if self.is_on() {
            self.seen.lock().push((db, Bytes::copy_from_slice(key)));
        }
    }

    pub fn note_flush(&self, db: usize) {
        if self.is_on() {
            self.flushed.lock().push(db);
        }
    }

    /// Databases signalled as flushed (or swapped) since the last call.
    pub fn take_flushed(&self) -> Vec<usize> {
        std::mem::take(&mut *self.flushed.lock())
    }

    /// The signals since the last call.
    pub fn take(&self) -> Vec<(usize, Bytes)> {
        std::mem::take(&mut *self.seen.lock())
    }
}

/// Everything connections share, independent of the engine.
pub struct Shared {
    pub table: Table,
    pub config: Config,
    pub stats: Stats,
    pub clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    pub next_client_id: AtomicU64,
    pub watches: Watches,
    pub propagation: Propagation,
    pub signal_tap: SignalTap,
    pub blocking: crate::signals::blocking::Blocking,
    /// Pub/sub subscriptions and delivery.
    pub hub: rubedo_pubsub::Hub<ClientInfo>,
    /// Client-side caching tables.
    pub tracking: crate::signals::tracking::Tracking,
    /// Clients in MONITOR mode.
    pub monitors: crate::signals::monitor::Monitors,
    pub started: Instant,
    pub started_ms: u64,
    /// The engine clock as of the last cron tick: for bookkeeping that needs
    /// no precision (a client's last interaction), without a clock read per
    /// request (Redis's cached `server.unixtime`).
    pub coarse_ms: AtomicU64,
    pub run_id: String,
    pub port: AtomicU64,
    pub active_expire: AtomicBool,
    pub cron_paused: AtomicBool,
    pub shutdown: Notify,
    pub shutting_down: AtomicBool,
    pub executable: String,
    pub config_file: String,
    pub engine_name: &'static str,
    /// Commands per second over the last cron interval (INFO instantaneous_ops_per_sec).
    pub ops_per_sec: AtomicU64,
    /// The cron frequency in use (INFO hz), which dynamic-hz may raise.
    pub effective_hz: AtomicU64,
    /// Highest used_memory seen (INFO used_memory_peak).
    pub memory_peak: AtomicU64,
    pub threads: usize,
}

impl Shared {
    pub fn client(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.clients.lock().get(&id).cloned()
    }

    /// Marks every client watching `key` as dirty, so its EXEC fails.
    pub fn touch_watched(&self, db: usize, key: &[u8]) {
        if self.watches.is_empty() {
            return;
        }
        for id in self.watches.watchers(db, key) {
            if let Some(c) = self.client(id) {
                c.dirty_cas.store(true, Relaxed);
            }
        }
    }

    /// The "key modified" signal: WATCH and client-side caching. `current`
    /// is the client whose command changed (or expired) the key, if any.
    pub fn signal_modified(
        &self,
        db: usize,
        key: &[u8],
        current: Option<&mut crate::session::client::Client>,
        now_ms: u64,
    ) {
        self.signal_tap.note(db, key);
        self.touch_watched(db, key);
        crate::signals::tracking::modified(self, key, current, now_ms);
    }

    /// True if a key-modified signal could reach anyone (a WATCH or a
    /// tracking client), so the write path must record written keys.
    pub fn listens_for_writes(&self) -> bool {
        !self.watches.is_empty() || self.tracking.clients() > 0 || self.signal_tap.is_on()
    }

    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_prefixes_are_sorted_and_err_has_its_slot() {
        assert!(KNOWN_PREFIXES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(KNOWN_PREFIXES[ERR_SLOT], b"ERR");
    }

    #[test]
    fn errors_are_counted_by_prefix_in_byte_order() {
        let e = ErrorStats::default();
        for t in [
            "WRONGTYPE Operation against a key holding the wrong kind of value",
            "ERR syntax error",
            "ERR wrong number of arguments for 'get' command",
            "NOAUTH Authentication required.",
            "Zlater x",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123 thirty bytes before the space",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234 thirty-one: counted as ERR",
            "NOSPACE",
            " leading space",
            "A b",
        ] {
            e.record(t.as_bytes());
        }
        let got: Vec<(String, u64)> = e
            .counts()
            .into_iter()
            .map(|(p, n)| (String::from_utf8(p).unwrap(), n))
            .collect();
        let want: Vec<(String, u64)> = [
            ("", 1),
            ("A", 1),
            ("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123", 1),
            ("ERR", 4),
            ("NOAUTH", 1),
            ("WRONGTYPE", 1),
            ("Zlater", 1),
        ]
        .into_iter()
        .map(|(p, n)| (p.to_string(), n))
        .collect();
        assert_eq!(got, want);
        // No cap on distinct prefixes in Redis 7.0.
        for i in 0..200 {
            e.record(format!("E{i} x").as_bytes());
        }
        assert_eq!(e.counts().len(), 207);
        e.reset();
        assert!(e.counts().is_empty());
    }
}
