//! A client's outbox: frames other clients send it (published messages,
//! keyspace notifications, invalidations, MONITOR lines), queued in order
//! until its connection writes them, with Redis's output-buffer limits.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering, Ordering::Relaxed};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::Notify;

/// Which `client-output-buffer-limit` class applies to a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Normal = 0,
    Replica = 1,
    Pubsub = 2,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Normal, Class::Replica, Class::Pubsub];

    /// The name `client-output-buffer-limit` uses ("slave" is Redis's spelling there).
    pub fn config_name(self) -> &'static str {
        match self {
            Class::Normal => "normal",
            Class::Replica => "slave",
            Class::Pubsub => "pubsub",
        }
    }

    pub fn parse(name: &[u8]) -> Option<Class> {
        match name.to_ascii_lowercase().as_slice() {
            b"normal" => Some(Class::Normal),
            b"slave" | b"replica" => Some(Class::Replica),
            b"pubsub" => Some(Class::Pubsub),
            _ => None,
        }
    }
}

/// One class's limits: past `hard` bytes the client is disconnected at once;
/// past `soft` bytes for `soft_secs` seconds in a row, too. 0 disables a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Limit {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

/// The three classes' limits, changeable at run time (CONFIG SET).
pub struct Limits {
    v: [[AtomicU64; 3]; 3],
}

impl Default for Limits {
    /// Redis's defaults: normal 0 0 0, replica 256mb 64mb 60, pubsub 32mb 8mb 60.
    fn default() -> Limits {
        let l = Limits {
            v: Default::default(),
        };
        l.set(
            Class::Replica,
            Limit {
                hard: 256 << 20,
                soft: 64 << 20,
                soft_secs: 60,
            },
        );
        l.set(
            Class::Pubsub,
            Limit {
                hard: 32 << 20,
                soft: 8 << 20,
                soft_secs: 60,
            },
        );
        l
    }
}

impl Limits {
    pub fn get(&self, c: Class) -> Limit {
        let v = &self.v[c as usize];
        Limit {
            hard: v[0].load(Relaxed),
            soft: v[1].load(Relaxed),
            soft_secs: v[2].load(Relaxed),
        }
    }

    pub fn set(&self, c: Class, l: Limit) {
        let v = &self.v[c as usize];
        v[0].store(l.hard, Relaxed);
        v[1].store(l.soft, Relaxed);
        v[2].store(l.soft_secs, Relaxed);
    }
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Bytes>,
    bytes: usize,
    /// When the soft limit was first found exceeded (ms), while it still is.
    soft_since: Option<u64>,
    /// Over a limit: nothing more is queued, the client is being disconnected.
    closed: bool,
}

/// What `push` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// Dropped: the outbox was closed before.
    Dropped,
    /// This push crossed a limit: the outbox is now closed and emptied, and
    /// the caller must disconnect the client.
    Overflow,
}

/// The queue itself. Frames are shared `Bytes`: one published message
/// encoded once serves every subscriber speaking the same protocol.
#[derive(Default)]
pub struct Outbox {
    q: Mutex<Queue>,
    /// Bytes queued, readable without the lock (the connection's fast check).
    queued: AtomicUsize,
    /// Bytes the connection took out and has not written yet.
    unsent: AtomicUsize,
    /// Wakes the connection; a wake-up before it waits is kept (one permit).
    pub wake: Notify,
    /// Frames the client's own running command sent it (its subscribe
    /// confirmations, messages it published to itself, notifications of its
    /// own writes): written next to that command's reply, so nothing
    /// another client sends meanwhile can come between (those wait in the
    /// queue until after the reply).
    own: Mutex<Own>,
    /// True while `own` may hold something: the per-command check that
    /// spares the lock when it does not (nearly always).
    own_any: std::sync::atomic::AtomicBool,
}

/// A command's frames for its own client: those made before the command
/// declared its reply written go before it, the rest after (Redis writes
/// some replies before notifying, e.g. RPUSH, LPOP).
#[derive(Default)]
struct Own {
    before: Vec<Bytes>,
    after: Vec<Bytes>,
    replied: bool,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Queues `frame` unless that takes the client past `limit` (counting what
    /// the connection holds unsent too), in which case the outbox closes.
    pub fn push(&self, frame: Bytes, limit: Limit, now_ms: u64) -> Pushed {
        let mut q = self.q.lock();
        if q.closed {
            return Pushed::Dropped;
        }
        let total = (q.bytes + frame.len() + self.unsent.load(Relaxed)) as u64;
        if limit.hard > 0 && total >= limit.hard {
            return self.overflow(&mut q);
        }
        if limit.soft > 0 && total >= limit.soft {
            match q.soft_since {
                None => q.soft_since = Some(now_ms),
                Some(t) if now_ms.saturating_sub(t) > limit.soft_secs * 1000 => {
                    return self.overflow(&mut q);
                }
                Some(_) => {}
            }
        } else {
            q.soft_since = None;
        }
        q.bytes += frame.len();
        q.items.push_back(frame);
        self.queued.store(q.bytes, Relaxed);
        drop(q);
        self.wake.notify_one();
        Pushed::Queued
    }

    fn overflow(&self, q: &mut Queue) -> Pushed {
        q.closed = true;
        q.items = VecDeque::new();
        q.bytes = 0;
        self.queued.store(0, Relaxed);
        self.wake.notify_one();
        Pushed::Overflow
    }

    /// Keeps a frame the client's own command produced (see `own`).
    pub fn push_own(&self, frame: Bytes) {
        self.own_any.store(true, Ordering::Release);
        let mut own = self.own.lock();
        if own.replied {
            own.after.push(frame);
        } else {
            own.before.push(frame);
        }
    }

    /// Keeps a frame of the client's own command that always follows its
    /// reply (its own invalidations, its MONITOR line).
    pub fn push_own_after(&self, frame: Bytes) {
        self.own_any.store(true, Ordering::Release);
        self.own.lock().after.push(frame);
    }

    /// From now on the running command's own frames follow its reply.
    pub fn replied(&self) {
        self.own_any.store(true, Ordering::Release);
        self.own.lock().replied = true;
    }

    /// True if the running command may have frames for its own client
    /// (one atomic load: the per-command check).
    pub fn has_own(&self) -> bool {
        self.own_any.load(Ordering::Acquire)
    }

    /// Appends the running command's frames that precede its reply to
    /// `before` and those that follow it to `after`, and starts afresh for
    /// the next command; returns how many frames there were.
    pub fn take_own(&self, before: &mut BytesMut, after: &mut BytesMut) -> usize {
        if !self.own_any.swap(false, Ordering::Acquire) {
            return 0;
        }
        let mut own = self.own.lock();
        for f in &own.before {
            before.extend_from_slice(f);
        }
        for f in &own.after {
            after.extend_from_slice(f);
        }
        let n = own.before.len() + own.after.len();
        own.before.clear();
        own.after.clear();
        own.replied = false;
        n
    }

    /// True if nothing is queued (no lock taken).
    pub fn is_empty(&self) -> bool {
        self.queued.load(Relaxed) == 0
    }

    /// Bytes queued plus bytes taken but not yet written: the client's
    /// output buffer as CLIENT LIST `omem` reports it.
    pub fn used(&self) -> usize {
        self.queued.load(Relaxed) + self.unsent.load(Relaxed)
    }

    /// Frames queued (CLIENT LIST `oll`).
    pub fn len(&self) -> usize {
        self.q.lock().items.len()
    }

    /// Moves queued frames to `out` until it holds at least `max` bytes or
    /// the queue is empty; returns the bytes moved.
    pub fn drain_into(&self, out: &mut BytesMut, max: usize) -> usize {
        let mut q = self.q.lock();
        let mut moved = 0;
        while out.len() < max {
            let Some(f) = q.items.pop_front() else { break };
            moved += f.len();
            out.extend_from_slice(&f);
        }
        q.bytes -= moved;
        self.queued.store(q.bytes, Relaxed);
        moved
    }

    /// The connection reports the bytes it holds unsent (0 after a write).
    pub fn set_unsent(&self, n: usize) {
        self.unsent.store(n, Relaxed);
    }

    /// True once a limit closed the outbox.
    pub fn is_closed(&self) -> bool {
        self.q.lock().closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim(hard: u64, soft: u64, secs: u64) -> Limit {
        Limit {
            hard,
            soft,
            soft_secs: secs,
        }
    }

    #[test]
    fn fifo_and_accounting() {
        let o = Outbox::new();
        let none = Limit::default();
        assert_eq!(o.push(Bytes::from_static(b"ab"), none, 0), Pushed::Queued);
        assert_eq!(o.push(Bytes::from_static(b"cde"), none, 0), Pushed::Queued);
        assert_eq!(o.used(), 5);
        assert_eq!(o.len(), 2);
        let mut out = BytesMut::new();
        assert_eq!(o.drain_into(&mut out, 1), 2);
        assert_eq!(&out[..], b"ab");
        assert_eq!(o.drain_into(&mut out, 100), 3);
        assert_eq!(&out[..], b"abcde");
        assert!(o.is_empty());
    }

    #[test]
    fn hard_limit_closes_and_frees() {
        let o = Outbox::new();
        let l = lim(10, 0, 0);
        assert_eq!(o.push(Bytes::from_static(b"12345"), l, 0), Pushed::Queued);
        o.set_unsent(4);
        assert_eq!(o.push(Bytes::from_static(b"6"), l, 0), Pushed::Overflow);
        assert!(o.is_closed());
        assert_eq!(o.len(), 0);
        assert_eq!(o.push(Bytes::from_static(b"7"), l, 0), Pushed::Dropped);
    }

    #[test]
    fn soft_limit_needs_to_last() {
        let o = Outbox::new();
        let l = lim(0, 4, 2);
        assert_eq!(
            o.push(Bytes::from_static(b"12345"), l, 1_000),
            Pushed::Queued
        );
        assert_eq!(o.push(Bytes::from_static(b"6"), l, 2_500), Pushed::Queued);
        // Back under the soft limit: the clock restarts.
        let mut out = BytesMut::new();
        o.drain_into(&mut out, 100);
        assert_eq!(o.push(Bytes::from_static(b"1"), l, 2_600), Pushed::Queued);
        assert_eq!(
            o.push(Bytes::from_static(b"2345"), l, 2_700),
            Pushed::Queued
        );
        assert_eq!(o.push(Bytes::from_static(b"6"), l, 4_000), Pushed::Queued);
        assert_eq!(o.push(Bytes::from_static(b"7"), l, 4_700), Pushed::Queued);
        assert_eq!(o.push(Bytes::from_static(b"8"), l, 4_701), Pushed::Overflow);
    }
}
