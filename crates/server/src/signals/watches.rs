//! WATCH bookkeeping and the signal tap: who is told when a key changes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use bytes::Bytes;
use parking_lot::Mutex;

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

    pub(super) fn note(&self, db: usize, key: &[u8]) {
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
