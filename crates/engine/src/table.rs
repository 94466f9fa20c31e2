//! One hash table of keys with their expiry times: a whole database in the
//! single-threaded engine, one shard of a database in the concurrent engine.

use crate::dict::{Dict, Key};
use crate::observe::ObserverSlot;
use crate::value::{secs, Entry, Value};

/// Side effects of keyspace access that the caller must act on after a
/// command: lazily expired keys (for notifications, WATCH and propagation)
/// and the hit/miss counters INFO reports.
#[derive(Debug, Default)]
pub struct Events {
    /// Keys deleted because their time had passed, with their database.
    pub expired: Vec<(usize, Key)>,
    /// Keys that came into existence holding a type clients can block on
    /// (lists, sorted sets): the "key ready" signal for blocked clients.
    pub ready: Vec<(usize, Key)>,
    /// Keys that came into existence, recorded only while `track_created`
    /// is set (for "new" keyspace notifications).
    pub created: Vec<(usize, Key)>,
    pub track_created: bool,
    /// Keys a read found missing, recorded only while `track_missed` is set
    /// (for "keymiss" keyspace notifications).
    pub missed: Vec<(usize, Key)>,
    pub track_missed: bool,
    /// How many of `expired` the caller has already reported (notifications
    /// go out as they happen, the rest of the bookkeeping after the run).
    pub expired_reported: usize,
    /// How many of `expired` the caller has already signalled as modified
    /// (WATCH, client-side caching) with the client that ran into them.
    pub expired_signalled: usize,
    pub hits: u64,
    pub misses: u64,
    /// Keys the run's write accesses reached (the "key modified" signal's
    /// source), recorded only while `track_writes` is set or an observer
    /// listens. A write access that turns out to change nothing is
    /// recorded too; the server drops a command's keys when it reports no change.
    pub written: Vec<(usize, Key)>,
    pub track_writes: bool,
    /// Nothing expires on access while set (a log being replayed, as Redis
    /// while it loads): a key whose time has passed is still found.
    pub hold_expiry: bool,
    /// How many of `written` the caller has already signalled.
    pub written_signalled: usize,
    /// How many of `written` the observer was already told about (its
    /// after-write calls).
    pub written_observed: usize,
    /// Set when a command reached a key or database its scope did not lock
    /// (a wrong key spec). The access saw an empty scratch table instead;
    /// the server answers the command with an error.
    pub outside_scope: std::cell::Cell<bool>,
    /// Told about every change (see [`crate::observe`]).
    pub observer: ObserverSlot,
}

impl Events {
    /// Forgets what a run recorded (keeping the observer, the tracking
    /// switches and the vectors' room), for the next command of the run.
    pub fn reset(&mut self) {
        self.expired.clear();
        self.ready.clear();
        self.created.clear();
        self.missed.clear();
        self.written.clear();
        self.expired_reported = 0;
        self.expired_signalled = 0;
        self.written_signalled = 0;
        self.written_observed = 0;
        self.hits = 0;
        self.misses = 0;
        self.outside_scope.set(false);
    }

    pub fn is_empty(&self) -> bool {
        self.expired.is_empty()
            && self.written.is_empty()
            && self.ready.is_empty()
            && self.created.is_empty()
            && self.missed.is_empty()
            && self.hits == 0
            && self.misses == 0
    }
}

/// Keys and expiry times. Expiry lives in a second table, as in Redis, so
/// keys without a TTL pay nothing for it and active expiry visits only keys
/// that have one.
#[derive(Default)]
pub struct Table {
    keys: Dict<Entry>,
    expires: Dict<u64>,
    /// Where the next active-expiry pass resumes in `expires`.
    expire_cursor: u64,
    /// Running estimate of the remaining TTL of keys with one, in ms,
    /// refreshed from the keys active expiry samples (INFO's avg_ttl).
    avg_ttl: u64,
    /// The current snapshot epoch: entries created here are stamped with it,
    /// and so are entries written while an observer listens. A snapshot
    /// raises it on every table as it starts; entries stamped with its epoch
    /// are then exactly those it has already seen or that did not exist
    /// when it started.
    epoch: u32,
}

/// How a lookup treats the entry's access time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Touch {
    /// A normal read or write: counts as an access.
    Yes,
    /// Introspection (TYPE, OBJECT, TTL...): leaves the access time alone.
    No,
}

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// True if the key has a TTL that has passed. Like Redis, a key whose
    /// expiry time equals `now` is still alive.
    fn is_expired(&self, key: &[u8], now: u64) -> bool {
        if self.expires.is_empty() {
            return false;
        }
        matches!(self.expires.get(key), Some(&t) if t < now)
    }

    /// Deletes `key` if its time has passed; returns true if it did.
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8], now: u64, ev: &mut Events) -> bool {
        if !ev.hold_expiry && self.is_expired(key, now) {
            if let Some(o) = ev.observer.get() {
                o.before_write(db, key, self.keys.get(key), self.expires.get(key).copied());
            }
            self.expires.remove(key);
            if let Some((k, _)) = self.keys.remove(key) {
                ev.expired.push((db, k));
            }
            true
        } else {
            false
        }
    }

    /// Finds a live key, expiring it first if its time has passed.
    pub fn lookup(
        &mut self,
        db: usize,
        key: &[u8],
        now: u64,
        touch: Touch,
        ev: &mut Events,
    ) -> Option<&mut Entry> {
        self.expire_if_needed(db, key, now, ev);
        let e = self.keys.get_mut(key)?;
        if touch == Touch::Yes {
            e.atime = secs(now);
        }
        Some(e)
    }

    /// Stores `value` under `key`, replacing any old value. The TTL is
    /// cleared unless `keep_ttl`.
    pub fn set(&mut self, key: &[u8], value: Value, now: u64, keep_ttl: bool) -> Option<Entry> {
        let e = Entry {
            epoch: self.epoch,
            ..Entry::new(value, now)
        };
        let old = self.keys.insert(key, e);
        if !keep_ttl && old.is_some() && !self.expires.is_empty() {
            self.expires.remove(key);
        }
        old
    }

    /// Inserts a key known to be absent (the caller just looked it up).
    pub fn insert_new(&mut self, key: &[u8], value: Value, now: u64) -> &mut Entry {
        let e = Entry {
            epoch: self.epoch,
            ..Entry::new(value, now)
        };
        self.keys.insert_new(key, e)
    }

    /// The table's snapshot epoch (see `epoch`).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn set_epoch(&mut self, e: u32) {
        self.epoch = e;
    }

    /// Stamps `key`'s entry with the table's epoch (it was just written
    /// while an observer listens).
    pub fn stamp(&mut self, key: &[u8]) {
        let e = self.epoch;
        if let Some(entry) = self.keys.get_mut(key) {
            entry.epoch = e;
        }
    }

    /// Every entry with its expiry time, mutably, by walk steps.
    pub fn walk_all(&mut self, mut f: impl FnMut(&Key, &mut Entry, Option<u64>)) {
        let mut c = 0;
        loop {
            c = self.walk_step(c, &mut f).0;
            if c == 0 {
                return;
            }
        }
    }

    /// One walk step: the entries of one scan step at `cursor`, with their
    /// expiry times, mutably (a snapshot stamps what it visits). Returns the
    /// next cursor (0 = done) and the number of entries visited.
    pub fn walk_step(
        &mut self,
        cursor: u64,
        mut f: impl FnMut(&Key, &mut Entry, Option<u64>),
    ) -> (u64, usize) {
        let mut n = 0;
        let expires = &self.expires;
        let next = self.keys.scan_mut(cursor, |k, e| {
            n += 1;
            let at = if expires.is_empty() {
                None
            } else {
                expires.get(k).copied()
            };
            f(k, e, at)
        });
        (next, n)
    }

    /// Removes a key and its TTL.
    pub fn remove(&mut self, key: &[u8]) -> Option<(Key, Entry)> {
        let r = self.keys.remove(key)?;
        if !self.expires.is_empty() {
            self.expires.remove(key);
        }
        Some(r)
    }

    /// The absolute expiry time in ms, if the key has one.
    pub fn expire_at(&self, key: &[u8]) -> Option<u64> {
        if self.expires.is_empty() {
            return None;
        }
        self.expires.get(key).copied()
    }

    /// Sets or clears the TTL of an existing key; returns false if the key is absent.
    pub fn set_expire(&mut self, key: &[u8], at: Option<u64>) -> bool {
        if !self.keys.contains_key(key) {
            return false;
        }
        match at {
            Some(t) => {
                self.expires.insert(key, t);
            }
            None => {
                self.expires.remove(key);
            }
        }
        true
    }

    /// Removes everything; returns the number of keys removed.
    pub fn clear(&mut self) -> usize {
        let n = self.keys.len();
        let epoch = self.epoch;
        *self = Table {
            epoch,
            ..Table::default()
        };
        n
    }

    /// The estimated average remaining TTL (ms) of keys with one; 0 if none.
    pub fn avg_ttl(&self) -> u64 {
        if self.expires.is_empty() {
            0
        } else {
            self.avg_ttl
        }
    }

    /// One SCAN step over the raw table; expired keys are reported too and
    /// the caller filters them.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&Key, &Entry)) -> u64 {
        self.keys.scan(cursor, |k, v| f(k, v))
    }

    /// Every live key, in table order.
    pub fn for_each_live(&self, now: u64, mut f: impl FnMut(&Key, &Entry)) {
        for (k, v) in self.keys.iter() {
            if !self.is_expired(k, now) {
                f(k, v);
            }
        }
    }

    /// Every key, expired or not.
    pub fn for_each_raw(&self, mut f: impl FnMut(&Key, &Entry)) {
        for (k, v) in self.keys.iter() {
            f(k, v);
        }
    }

    /// The stored entry, ignoring expiry.
    pub fn raw(&self, key: &[u8]) -> Option<&Entry> {
        self.keys.get(key)
    }

    /// True if the key exists and has not expired, without deleting it.
    pub fn is_live(&self, key: &[u8], now: u64) -> bool {
        self.keys.contains_key(key) && !self.is_expired(key, now)
    }

    /// A random live key. Expired keys met on the way are deleted, as Redis does.
    pub fn random_key(&mut self, db: usize, now: u64, ev: &mut Events) -> Option<Key> {
        let mut rng = rand::thread_rng();
        // Bounded, so a table where every key is expired cannot loop forever.
        for _ in 0..100 {
            let k = self.keys.random(&mut rng)?.0.clone();
            if !self.expire_if_needed(db, &k, now, ev) {
                return Some(k);
            }
        }
        None
    }

    /// One active-expiry step: visits up to `budget` keys with a TTL from the
    /// resume cursor and deletes the expired ones. Returns (visited, expired).
    pub fn active_expire_step(
        &mut self,
        db: usize,
        now: u64,
        budget: usize,
        ev: &mut Events,
    ) -> (usize, usize) {
        if self.expires.is_empty() {
            return (0, 0);
        }
        let mut dead: Vec<Key> = Vec::new();
        let mut visited = 0;
        let (mut ttl_sum, mut ttl_n) = (0u64, 0u64);
        let mut cursor = self.expire_cursor;
        loop {
            cursor = self.expires.scan(cursor, |k, &t| {
                visited += 1;
                if t < now {
                    dead.push(k.clone());
                } else {
                    ttl_sum += t - now;
                    ttl_n += 1;
                }
            });
            if cursor == 0 || visited >= budget {
                break;
            }
        }
        self.expire_cursor = cursor;
        if let Some(sample) = ttl_sum.checked_div(ttl_n) {
            // Smoothed like Redis: each sample moves the estimate by 2%.
            self.avg_ttl = if self.avg_ttl == 0 {
                sample
            } else {
                self.avg_ttl / 50 * 49 + sample / 50
            };
        }
        let n = dead.len();
        for k in dead {
            if let Some(o) = ev.observer.get() {
                o.before_write(db, &k, self.keys.get(&k), self.expires.get(&k).copied());
            }
            self.expires.remove(&k);
            if let Some((k, _)) = self.keys.remove(&k) {
                ev.expired.push((db, k));
            }
        }
        (visited, n)
    }

    /// Approximate memory the table uses, for INFO memory and MEMORY-like figures.
    pub fn table_bytes(&self) -> usize {
        self.keys.table_bytes() + self.expires.table_bytes()
    }

    /// Incremental rehashing, driven by the server's cron.
    pub fn rehash_steps(&mut self, n: usize) -> bool {
        let a = self.keys.rehash_steps(n);
        let b = self.expires.rehash_steps(n);
        a || b
    }

    /// Moves every key of `self` into a new table and leaves `self` empty.
    pub fn take(&mut self) -> Table {
        let epoch = self.epoch;
        std::mem::replace(
            self,
            Table {
                epoch,
                ..Table::default()
            },
        )
    }
}
