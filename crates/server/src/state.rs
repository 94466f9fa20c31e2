//! State shared by every connection, in parts that change for different
//! reasons: the command table, configuration, statistics, the client
//! registry, the signal registries, the effect log, the process's
//! identity, the cron's switches and the shutdown handshake.

use std::collections::BTreeMap;
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
use crate::signals::Signals;
use crate::stats::Stats;

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

/// The client registry: every connected client by id (in id order, as
/// CLIENT LIST shows them), and the next id to hand out.
pub struct Clients {
    map: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    /// `map.len()`, kept beside it so counting takes no lock (the log's
    /// group commit asks once per batch of commands).
    count: AtomicUsize,
    next_id: AtomicU64,
}

impl Default for Clients {
    fn default() -> Self {
        Clients {
            map: Mutex::new(BTreeMap::new()),
            count: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
        }
    }
}

impl Clients {
    /// A fresh client id (ids start at 1 and are never reused).
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Relaxed)
    }

    /// Registers `info` unless `max` clients are registered already
    /// (maxclients); false when it was turned away.
    pub fn admit(&self, info: Arc<ClientInfo>, max: u64) -> bool {
        let mut m = self.map.lock();
        let ok = (m.len() as u64) < max;
        if ok {
            m.insert(info.id, info);
            self.count.store(m.len(), Relaxed);
        }
        ok
    }

    /// Registers `info` whatever the count (in-process harnesses).
    pub fn register(&self, info: Arc<ClientInfo>) {
        let mut m = self.map.lock();
        m.insert(info.id, info);
        self.count.store(m.len(), Relaxed);
    }

    pub fn unregister(&self, id: u64) {
        let mut m = self.map.lock();
        m.remove(&id);
        self.count.store(m.len(), Relaxed);
    }

    pub fn client(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.map.lock().get(&id).cloned()
    }

    pub fn len(&self) -> usize {
        self.count.load(Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every registered client, in id order.
    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        self.map.lock().values().cloned().collect()
    }

    /// The registered clients `keep` selects, in id order.
    pub fn matching(&self, mut keep: impl FnMut(&ClientInfo) -> bool) -> Vec<Arc<ClientInfo>> {
        self.map
            .lock()
            .values()
            .filter(|c| keep(c))
            .cloned()
            .collect()
    }

    /// The first client (in id order) `is` selects.
    pub fn find(&self, mut is: impl FnMut(&ClientInfo) -> bool) -> Option<Arc<ClientInfo>> {
        self.map.lock().values().find(|c| is(c)).cloned()
    }
}

/// What the process is: fixed at startup (but the port, which is known
/// once the listener is bound when 0 was asked for).
pub struct Process {
    pub started: Instant,
    /// Wall-clock milliseconds at startup.
    pub started_ms: u64,
    pub run_id: String,
    pub port: AtomicU64,
    pub executable: String,
    pub config_file: String,
    pub engine_name: &'static str,
    /// Worker threads asked for (0 = one per core).
    pub threads: usize,
}

impl Process {
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

/// The cron's clock and switches.
pub struct Cron {
    /// The engine clock as of the last cron tick: for bookkeeping that needs
    /// no precision (a client's last interaction), without a clock read per
    /// request (Redis's cached `server.unixtime`).
    pub coarse_ms: AtomicU64,
    /// Active expiry on (DEBUG SET-ACTIVE-EXPIRE).
    pub active_expire: AtomicBool,
    /// While set (DEBUG PAUSE-CRON, for tests) the cron only keeps the clock.
    pub cron_paused: AtomicBool,
    /// The cron frequency in use (INFO hz), which dynamic-hz may raise.
    pub effective_hz: AtomicU64,
}

impl Cron {
    pub fn new(now_ms: u64) -> Cron {
        Cron {
            coarse_ms: AtomicU64::new(now_ms),
            active_expire: AtomicBool::new(true),
            cron_paused: AtomicBool::new(false),
            effective_hz: AtomicU64::new(10),
        }
    }
}

/// The shutdown handshake: SHUTDOWN sets `shutting_down` and notifies
/// `shutdown`, which the server's main task waits on.
#[derive(Default)]
pub struct Lifecycle {
    pub shutdown: Notify,
    pub shutting_down: AtomicBool,
}

/// Everything connections share, independent of the engine, by part.
pub struct Shared {
    /// The command table.
    pub table: Table,
    pub config: Config,
    pub stats: Stats,
    pub clients: Clients,
    pub signals: Signals,
    pub propagation: Propagation,
    pub process: Process,
    pub cron: Cron,
    pub lifecycle: Lifecycle,
    /// Snapshots: the one running, the last one's outcome, loading.
    pub persist: crate::persistence::Persistence,
    /// The append-only log.
    pub aof: crate::aof::Aof,
    /// MIGRATE's cached connections to its targets.
    pub migrate: crate::cmd::migrate::Sockets,
    /// Lua: EVAL's script cache and state.
    pub scripting: crate::cmd::scripting::Scripting,
}
