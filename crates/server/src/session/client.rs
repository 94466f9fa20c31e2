//! Per-connection state owned by the connection task.

use std::sync::Arc;

use bytes::Bytes;
use rubedo_resp::Protocol;

use crate::dispatch::table::Cmd;
use crate::state::ClientInfo;

/// CLIENT REPLY modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMode {
    On,
    Off,
    /// Skip the reply of the next command only.
    SkipNext,
    /// Set while the command after SKIP runs.
    Skip,
}

/// A transaction being queued.
#[derive(Default)]
pub struct Multi {
    pub queue: Vec<(&'static Cmd, Vec<Bytes>)>,
    /// A queued command was refused (unknown, wrong arity...): EXEC aborts.
    pub error: bool,
    /// Bytes of queued arguments.
    pub mem: usize,
}

/// A watched key and whether it was live when watched (so that its expiry
/// before EXEC counts as a change, as in Redis).
pub struct Watched {
    pub db: usize,
    pub key: Bytes,
    pub existed: bool,
}

pub struct Client {
    pub info: Arc<ClientInfo>,
    pub id: u64,
    pub db: usize,
    pub proto: Protocol,
    pub authenticated: bool,
    pub multi: Option<Multi>,
    pub watched: Vec<Watched>,
    pub reply: ReplyMode,
    /// The seq of the last effect this client's commands emitted: its
    /// replies wait until the log has made it durable, when a sink asks.
    pub last_effect: u64,
    /// Close the connection after writing the pending replies (QUIT).
    pub close: bool,
    /// Connected from a loopback address (for `enable-debug-command local`).
    pub is_local: bool,
    /// Pub/sub subscriptions.
    pub subs: rubedo_pubsub::ClientSubs,
    /// BCAST prefixes registered with CLIENT TRACKING.
    pub tracking_prefixes: std::collections::BTreeSet<Bytes>,
    /// What REPLCONF said.
    pub repl: crate::cmd::replication::ReplConf,
}

impl Client {
    /// Leaves MULTI state (after EXEC, DISCARD, RESET or an aborted EXEC).
    pub fn end_multi(&mut self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.multi = None;
        self.info.in_multi.store(false, Relaxed);
        self.info.multi_len.store(0, Relaxed);
        self.info.multi_mem.store(0, Relaxed);
    }

    /// True in RESP2 with a subscription: only a few commands may run.
    pub fn in_resp2_pubsub(&self) -> bool {
        self.proto == Protocol::Resp2 && !self.subs.is_empty()
    }

    pub fn new(info: Arc<ClientInfo>, authenticated: bool) -> Client {
        Client {
            id: info.id,
            info,
            db: 0,
            proto: Protocol::Resp2,
            authenticated,
            multi: None,
            watched: Vec::new(),
            reply: ReplyMode::On,
            last_effect: 0,
            close: false,
            is_local: false,
            subs: Default::default(),
            tracking_prefixes: Default::default(),
            repl: Default::default(),
        }
    }
}
