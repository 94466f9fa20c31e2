//! Per-connection state owned by the connection task.

use std::sync::Arc;

use bytes::Bytes;
use rubedo_resp::Protocol;

use crate::command::Cmd;
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
    /// Close the connection after writing the pending replies (QUIT).
    pub close: bool,
    /// Out-of-band frames to write before the next reply (RESP3 push).
    pub pushes: Vec<rubedo_resp::Frame>,
    /// Connected from a loopback address (for `enable-debug-command local`).
    pub is_local: bool,
    /// Set by a blocking command that found nothing to serve.
    pub block: Option<crate::blocking::BlockRequest>,
    /// True while EXEC runs the queued commands (blocking commands then
    /// answer at once instead of blocking).
    pub in_exec: bool,
    /// Pub/sub subscriptions.
    pub subs: rubedo_pubsub::ClientSubs,
    /// Set by a command whose replies went to the outbox (SUBSCRIBE and
    /// friends): the connection then writes no reply of its own.
    pub no_reply: bool,
    /// BCAST prefixes registered with CLIENT TRACKING.
    pub tracking_prefixes: std::collections::BTreeSet<Bytes>,
    /// Frames to write right after the current reply (the client's own
    /// invalidations, which Redis sends once the command has answered).
    pub after_reply: Vec<Bytes>,
    /// True while a blocked command is run again to serve it (MONITOR
    /// showed it when it first ran).
    pub retrying: bool,
    /// The rest of the current reply, written after it as the client reads
    /// (see `tail`).
    pub tail: Vec<crate::tail::Part>,
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
            close: false,
            pushes: Vec::new(),
            is_local: false,
            block: None,
            in_exec: false,
            subs: Default::default(),
            no_reply: false,
            tracking_prefixes: Default::default(),
            after_reply: Vec::new(),
            retrying: false,
            tail: Vec::new(),
        }
    }
}
