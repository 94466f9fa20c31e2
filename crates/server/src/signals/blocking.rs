//! Blocked clients (BLPOP, BLMOVE, BZPOPMIN...): who waits on which key, in
//! arrival order, and serving them when a key becomes ready.
//!
//! A blocking handler that finds no data records a [`BlockRequest`] on the
//! client instead of replying. The connection then parks the client here:
//! its whole [`Client`] state moves into the registry with the command to
//! retry. When a write creates a key someone waits on (the engine's "key
//! ready" signal), the server retries the waiting commands right after the
//! writing command (or EXEC) finishes, first blocked first served, in the
//! writer's own execution, as Redis does, so no other command can take the
//! data in between. A served client gets its reply and its state back
//! through a oneshot channel; a timeout, CLIENT UNBLOCK or a disconnect
//! takes it back out.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use rubedo_resp::Frame;
use tokio::sync::oneshot;

use crate::session::client::Client;

/// What a blocking handler asks for when it finds nothing to serve.
#[derive(Debug, Clone)]
pub struct BlockRequest {
    pub db: usize,
    pub keys: Vec<Bytes>,
    /// The type the command pops from: a key of another type does not
    /// serve it.
    pub pops: rubedo_engine::Kind,
    /// None = wait forever.
    pub deadline: Option<Instant>,
    /// The command to run again when a key is ready.
    pub argv: Vec<Bytes>,
}

/// The reply a blocked client gets when its time runs out (or CLIENT
/// UNBLOCK ... TIMEOUT): the null array, for every blocking command.
pub fn timeout_reply() -> Frame {
    Frame::NullArray
}

/// A parked client.
pub struct Parked {
    pub client: Client,
    pub req: BlockRequest,
    pub done: oneshot::Sender<(crate::dispatch::outcome::Outcome, Client)>,
}

#[derive(Default)]
struct Inner {
    /// Waiting client ids per (db, key), first blocked first.
    queues: HashMap<(usize, Bytes), VecDeque<u64>>,
    /// Parked clients not being served right now.
    parked: HashMap<u64, Parked>,
    /// Keys signalled ready and not yet looked at, in signal order.
    ready: VecDeque<(usize, Bytes)>,
    /// Clients whose wait ended (timeout, unblock) while they were being retried.
    cancelled: HashSet<u64>,
}

#[derive(Default)]
pub struct Blocking {
    /// Blocked clients; lets the write path skip everything when zero.
    waiting: AtomicUsize,
    /// A ready key was signalled and not served yet.
    has_ready: AtomicBool,
    /// Someone is serving ready keys (serving is not re-entrant).
    serving: AtomicBool,
    inner: Mutex<Inner>,
}

/// Why a wait ended without data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancel {
    Timeout,
    Error,
}

impl Blocking {
    pub fn blocked_clients(&self) -> usize {
        self.waiting.load(Relaxed)
    }

    /// Parks a client on its keys.
    pub fn park(&self, id: u64, parked: Parked) {
        let mut g = self.inner.lock();
        for k in &parked.req.keys {
            let q = g.queues.entry((parked.req.db, k.clone())).or_default();
            if !q.contains(&id) {
                q.push_back(id);
            }
        }
        g.parked.insert(id, parked);
        self.waiting.fetch_add(1, Relaxed);
    }

    /// The "key ready" signal: remembered only if somebody waits on the key.
    pub fn signal(&self, db: usize, key: &[u8]) {
        if self.waiting.load(Relaxed) == 0 {
            return;
        }
        let mut g = self.inner.lock();
        let k = (db, Bytes::copy_from_slice(key));
        if g.queues.get(&k).is_some_and(|q| !q.is_empty()) && !g.ready.contains(&k) {
            g.ready.push_back(k);
            self.has_ready.store(true, Relaxed);
        }
    }

    /// Signals every key of database `db` someone waits on (SWAPDB gives a
    /// database new contents: a waited key may now hold data). A signalled
    /// key that still has nothing keeps its waiters waiting.
    pub fn signal_db(&self, db: usize) {
        if self.waiting.load(Relaxed) == 0 {
            return;
        }
        let mut g = self.inner.lock();
        let keys: Vec<(usize, Bytes)> = g
            .queues
            .iter()
            .filter(|(k, q)| k.0 == db && !q.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            if !g.ready.contains(&k) {
                g.ready.push_back(k);
                self.has_ready.store(true, Relaxed);
            }
        }
    }

    /// True if a client waits on one of `keys` of database `db`.
    pub fn waits_on(&self, db: usize, keys: &[&[u8]]) -> bool {
        if self.waiting.load(Relaxed) == 0 {
            return false;
        }
        let g = self.inner.lock();
        keys.iter().any(|k| {
            g.queues
                .get(&(db, Bytes::copy_from_slice(k)))
                .is_some_and(|q| !q.is_empty())
        })
    }

    pub fn has_ready(&self) -> bool {
        self.has_ready.load(Relaxed)
    }

    /// Claims the right to serve; false if another run is serving.
    pub fn begin_serving(&self) -> bool {
        !self.serving.swap(true, Relaxed)
    }

    pub fn end_serving(&self) {
        self.serving.store(false, Relaxed);
    }

    /// The next ready key.
    pub fn next_ready(&self) -> Option<(usize, Bytes)> {
        let mut g = self.inner.lock();
        let k = g.ready.pop_front();
        if g.ready.is_empty() {
            self.has_ready.store(false, Relaxed);
        }
        k
    }

    /// Takes the first parked client waiting on `key`, leaving its place in
    /// the queues so it keeps its turn if it finds nothing.
    pub fn take_head(&self, db: usize, key: &Bytes) -> Option<(u64, Parked)> {
        let mut g = self.inner.lock();
        let ids: Vec<u64> = g.queues.get(&(db, key.clone()))?.iter().copied().collect();
        for id in ids {
            if let Some(p) = g.parked.remove(&id) {
                return Some((id, p));
            }
        }
        None
    }

    /// Returns a retried client that found nothing; if its wait was
    /// cancelled meanwhile, ends the wait instead.
    pub fn put_back(&self, id: u64, parked: Parked) {
        let mut g = self.inner.lock();
        if g.cancelled.remove(&id) {
            Self::forget(&mut g, id, &parked.req);
            drop(g);
            self.waiting.fetch_sub(1, Relaxed);
            let _ = parked.done.send((
                crate::dispatch::outcome::Outcome::reply(timeout_reply()),
                parked.client,
            ));
            return;
        }
        g.parked.insert(id, parked);
    }

    /// Removes a served client from every queue.
    pub fn finish(&self, id: u64, req: &BlockRequest) {
        let mut g = self.inner.lock();
        g.cancelled.remove(&id);
        Self::forget(&mut g, id, req);
        drop(g);
        self.waiting.fetch_sub(1, Relaxed);
    }

    fn forget(g: &mut Inner, id: u64, req: &BlockRequest) {
        for k in &req.keys {
            let key = (req.db, k.clone());
            if let Some(q) = g.queues.get_mut(&key) {
                q.retain(|x| *x != id);
                if q.is_empty() {
                    g.queues.remove(&key);
                }
            }
        }
    }

    /// Ends a client's wait from its own side (timeout, disconnect) or from
    /// CLIENT UNBLOCK. Returns its state if it was parked; if it is being
    /// retried right now, marks it so the retry ends the wait instead.
    pub fn cancel(&self, id: u64) -> Option<Parked> {
        let mut g = self.inner.lock();
        match g.parked.remove(&id) {
            Some(p) => {
                Self::forget(&mut g, id, &p.req);
                drop(g);
                self.waiting.fetch_sub(1, Relaxed);
                Some(p)
            }
            None => {
                g.cancelled.insert(id);
                None
            }
        }
    }

    /// Forgets a cancel mark that arrived after the client was served.
    pub fn clear_cancel(&self, id: u64) {
        self.inner.lock().cancelled.remove(&id);
    }

    /// True if the client waits here (for CLIENT UNBLOCK).
    pub fn is_waiting(&self, id: u64) -> bool {
        let g = self.inner.lock();
        g.parked.contains_key(&id) || g.queues.values().any(|q| q.contains(&id))
    }
}
