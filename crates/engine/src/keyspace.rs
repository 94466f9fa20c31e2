//! The `Keyspace` trait and the views commands use to reach the data.
//!
//! A command never touches tables directly. It asks the keyspace to `run` a
//! closure over a [`Scope`] (the keys it names, one whole database, or
//! everything), and inside the closure it sees [`Dbs`] / [`Db`] views whose
//! methods are the same under both engines. The single-threaded engine hands
//! out its plain tables; the concurrent engine locks exactly the shards the
//! scope needs, in a fixed order, for the duration of the closure. That is
//! what makes every command atomic under both engines.

use parking_lot::{Mutex, MutexGuard};
use smallvec::SmallVec;

use crate::dict::Key;
use crate::observe::Observer;
use crate::table::{Events, Table, Touch};
use crate::value::{Entry, Value};

/// What a command will touch; the concurrent engine locks exactly this.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// Only these keys of one database. With no keys (a keyless command)
    /// nothing is locked for the whole run; whole-database reads through
    /// [`Dbs::db_len`], [`Dbs::db_sizes`] and [`Dbs::scan_db`] then lock
    /// one shard at a time, so they never stop the rest of the database.
    Keys { db: usize, keys: &'a [&'a [u8]] },
    /// Every key of one database (KEYS, RANDOMKEY, FLUSHDB...).
    Db(usize),
    /// Everything, exclusively (transactions, scripts, FLUSHALL, SWAPDB, MOVE...).
    All,
    /// No data at all, and no lock, not even against a run holding
    /// everything (MULTI, AUTH, HELLO...: commands that only change their
    /// connection, answered even while a long script runs). A key reached
    /// is outside the scope.
    Nothing,
}

/// A set of databases with atomic access; implemented by the single-threaded
/// [`crate::SingleKeyspace`] and the sharded [`crate::ConcurrentKeyspace`].
pub trait Keyspace: 'static {
    /// How many databases exist (SELECT's range).
    fn databases(&self) -> usize;

    /// Whether `Scope::Keys` must name the keys. The single-threaded engine
    /// locks nothing, so callers can skip computing them.
    fn wants_keys(&self) -> bool;

    /// The engine clock, in Unix ms.
    fn now_ms(&self) -> u64;

    /// Runs `f` with exclusive access to what `scope` names. Nothing else
    /// can observe or change those keys until `f` returns.
    fn run<R>(&self, scope: Scope<'_>, f: impl FnOnce(&mut Dbs<'_>) -> R) -> R;

    /// One active-expiry pass: visits up to `budget` keys with a TTL per
    /// database and deletes the expired ones, which are reported in `ev`.
    /// After each table's step, while that table is still locked,
    /// `under_lock(ev)` runs: whatever it does with the deletions (emit
    /// their DELs to the effect log, signal WATCH) happens before any other
    /// command can touch those keys again.
    /// Returns (visited, expired) so the caller can decide to go on.
    fn active_expire(
        &self,
        budget: usize,
        ev: &mut Events,
        under_lock: &mut dyn FnMut(&mut Events),
    ) -> (usize, usize);

    /// A few steps of incremental rehashing for every table.
    fn rehash(&self, steps: usize);

    /// One step of a walk over every table (database by database, shard by
    /// shard, in scan order): visits about `budget` entries from `pos` on,
    /// each under its table's lock, as `f(db, key, entry, expire_at)`.
    /// Returns false once the walk has passed the last table. Entries
    /// present for the whole walk are visited at least once; one may come
    /// twice when its table resizes meanwhile (a caller that must see each
    /// once marks what it visited).
    fn walk(&self, pos: &mut WalkPos, budget: usize, f: &mut WalkFn<'_>) -> bool;

    /// Keys and keys-with-TTL per database, for INFO keyspace.
    fn sizes(&self) -> Vec<(usize, usize)>;

    /// Approximate bytes used by the tables themselves.
    fn table_bytes(&self) -> usize;

    /// Registers (or with `None` removes) the observer every run's writes
    /// are reported to (see [`crate::observe`]).
    fn set_observer(&self, observer: Option<std::sync::Arc<dyn Observer>>);
}

/// What a walk calls for each entry: (db, key, entry, expiry time).
pub type WalkFn<'a> = dyn FnMut(usize, &Key, &mut Entry, Option<u64>) + 'a;

/// Where a walk over every table is (see [`Keyspace::walk`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalkPos {
    /// Table number: db * shards + shard.
    pub table: usize,
    pub cursor: u64,
}

/// One walk step over `tables` (db-major, `per_db` tables each), each
/// reached through `with`, which locks it for the call.
pub(crate) fn walk_tables(
    pos: &mut WalkPos,
    budget: usize,
    count: usize,
    per_db: usize,
    f: &mut WalkFn<'_>,
    mut with: impl FnMut(usize, &mut dyn FnMut(&mut Table)),
) -> bool {
    let mut visited = 0;
    while pos.table < count {
        let db = pos.table / per_db;
        let mut next = 0;
        with(pos.table, &mut |t: &mut Table| loop {
            let (c, n) = t.walk_step(pos.cursor, |k, e, at| f(db, k, e, at));
            visited += n;
            pos.cursor = c;
            if c == 0 || visited >= budget {
                next = c;
                return;
            }
        });
        if next == 0 {
            pos.table += 1;
            pos.cursor = 0;
        }
        if visited >= budget {
            return pos.table < count;
        }
    }
    false
}

/// The guards a concurrent run holds, sorted by (db, shard).
pub(crate) type Guards<'a> = SmallVec<[(usize, usize, MutexGuard<'a, Table>); 4]>;

pub(crate) enum DbsInner<'a> {
    Single(&'a mut [Table]),
    Sharded {
        guards: Guards<'a>,
        /// Every shard of every database, for the shard-at-a-time reads of
        /// a run that holds no shard.
        locks: &'a [Box<[Mutex<Table>]>],
        hasher: &'a ahash::RandomState,
        shards: usize,
        databases: usize,
        /// The run holds the world lock exclusively (`Scope::All`): no
        /// other run holds any shard, so a database's shards are locked
        /// when the run first reaches it, not all up front.
        lazy_all: bool,
    },
}

impl DbsInner<'_> {
    /// Under `lazy_all`, locks every shard of `db` unless the run holds
    /// them already, keeping the guards sorted by (db, shard).
    #[inline]
    fn ensure_db(&mut self, db: usize) {
        if let DbsInner::Sharded {
            guards,
            locks,
            lazy_all: true,
            databases,
            ..
        } = self
        {
            if db >= *databases {
                return;
            }
            let at = guards.partition_point(|g| g.0 < db);
            if guards.get(at).is_some_and(|g| g.0 == db) {
                return;
            }
            let fresh: Guards<'_> = locks[db]
                .iter()
                .enumerate()
                .map(|(s, m)| (db, s, m.lock()))
                .collect();
            guards.insert_many(at, fresh);
        }
    }

    /// Under `lazy_all`, locks every database not reached yet.
    fn ensure_all(&mut self) {
        if let DbsInner::Sharded {
            lazy_all: true,
            databases,
            ..
        } = self
        {
            for db in 0..*databases {
                self.ensure_db(db);
            }
        }
    }
}

/// All databases, as visible to one run.
pub struct Dbs<'a> {
    pub(crate) now: u64,
    pub(crate) inner: DbsInner<'a>,
    pub(crate) events: Events,
    /// What an access outside the locked scope reaches instead of a shard
    /// (see `Events::outside_scope`); dropped with the run.
    /// Made only when a key outside the scope is reached.
    pub(crate) scratch: Option<Box<Table>>,
    /// The engine's observer registration (see `set_observer`).
    pub(crate) observers: &'a crate::observe::ObserverCell,
}

impl<'a> Dbs<'a> {
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Runs the rest of this run at the instant `ms` (a script resumed in
    /// a later run keeps the time it started at).
    pub fn set_now(&mut self, ms: u64) {
        self.now = ms;
    }

    /// How many databases exist.
    pub fn count(&self) -> usize {
        match &self.inner {
            DbsInner::Single(t) => t.len(),
            DbsInner::Sharded { databases, .. } => *databases,
        }
    }

    /// A fresh view, for an engine's `run`.
    pub(crate) fn new(
        now: u64,
        inner: DbsInner<'a>,
        events: Events,
        observers: &'a crate::observe::ObserverCell,
    ) -> Dbs<'a> {
        Dbs {
            now,
            inner,
            events,
            scratch: None,
            observers,
        }
    }

    /// Registers (or with `None` removes) the engine's observer from inside
    /// a run that holds every lock (`Scope::All`), so no other run is in
    /// flight: every run that starts later carries it, and so does the rest
    /// of this one. The writes this run made so far are finished first
    /// (told to the observer they were made under, if any).
    pub fn set_observer(&mut self, observer: Option<std::sync::Arc<dyn Observer>>) {
        self.finish();
        self.observers.set(observer.clone());
        self.events.observer = crate::observe::ObserverSlot(observer);
    }

    /// The view of database `index`.
    pub fn db(&mut self, index: usize) -> Db<'_> {
        let now = self.now;
        let scratch = &mut self.scratch;
        self.inner.ensure_db(index);
        let tables = match &mut self.inner {
            DbsInner::Single(t) => match t.get_mut(index) {
                Some(t) => Tables::One(t),
                None => {
                    self.events.outside_scope.set(true);
                    Tables::One(scratch.get_or_insert_with(Default::default))
                }
            },
            DbsInner::Sharded {
                guards,
                hasher,
                shards,
                ..
            } => {
                let lo = guards.partition_point(|g| g.0 < index);
                let hi = guards.partition_point(|g| g.0 <= index);
                Tables::Shards {
                    tables: guards[lo..hi]
                        .iter_mut()
                        .map(|g| (g.1, &mut *g.2))
                        .collect(),
                    hasher,
                    shards: *shards,
                    scratch,
                }
            }
        };
        Db {
            index,
            now,
            tables,
            ev: &mut self.events,
        }
    }

    /// Shards per database (1 for the single-threaded engine).
    pub fn shard_count(&self) -> usize {
        match &self.inner {
            DbsInner::Single(_) => 1,
            DbsInner::Sharded { shards, .. } => *shards,
        }
    }

    /// Runs `f` on shard `shard` of database `db`: the run's own guard when
    /// it holds that shard, else (a run that holds no shard at all) the
    /// shard's lock taken just for `f`. A run holding other shards could
    /// deadlock by taking one more out of order, so there the access is
    /// flagged as outside the scope and `None` returned.
    fn with_table<R>(
        &mut self,
        db: usize,
        shard: usize,
        f: impl FnOnce(&mut Table, &mut Events, u64) -> R,
    ) -> Option<R> {
        let now = self.now;
        self.inner.ensure_db(db);
        let ev = &mut self.events;
        match &mut self.inner {
            DbsInner::Single(t) => match t.get_mut(db) {
                Some(t) => Some(f(t, ev, now)),
                None => {
                    ev.outside_scope.set(true);
                    None
                }
            },
            DbsInner::Sharded {
                guards,
                locks,
                shards,
                ..
            } => {
                if db >= locks.len() || shard >= *shards {
                    ev.outside_scope.set(true);
                    return None;
                }
                if let Some(g) = guards.iter_mut().find(|g| g.0 == db && g.1 == shard) {
                    return Some(f(&mut g.2, ev, now));
                }
                if !guards.is_empty() {
                    ev.outside_scope.set(true);
                    return None;
                }
                let mut t = locks[db][shard].lock();
                Some(f(&mut t, ev, now))
            }
        }
    }

    /// Number of keys in database `db`, expired-but-not-reclaimed ones
    /// included (DBSIZE): a sum over its shards, each read under its own
    /// lock when the run holds none.
    pub fn db_len(&mut self, db: usize) -> usize {
        (0..self.shard_count())
            .filter_map(|s| self.with_table(db, s, |t, _, _| t.len()))
            .sum()
    }

    /// (keys, keys with a TTL, estimated average TTL in ms) of database
    /// `db`, for INFO keyspace; shard by shard as [`Dbs::db_len`].
    pub fn db_sizes(&mut self, db: usize) -> (usize, usize, u64) {
        let (mut keys, mut expires, mut ttl_sum) = (0usize, 0usize, 0u128);
        for s in 0..self.shard_count() {
            if let Some((k, e, avg)) =
                self.with_table(db, s, |t, _, _| (t.len(), t.expires_len(), t.avg_ttl()))
            {
                keys += k;
                expires += e;
                ttl_sum += avg as u128 * e as u128;
            }
        }
        let avg = ttl_sum.checked_div(expires as u128).map_or(0, |v| v as u64);
        (keys, expires, avg)
    }

    /// One SCAN step over database `db`, a shard at a time (each under its
    /// own lock when the run holds none). The cursor packs the shard number
    /// in its low bits, so each shard's table keeps its own guarantee: a key
    /// present from the first call to the last is returned. Keys for which
    /// `wanted` says yes are expired if their time has passed (reported as
    /// lazily expired, as Redis's SCAN does) and the live ones handed to `f`,
    /// while their shard is locked. When a step expired keys,
    /// `under_lock(events)` runs while that shard is still locked, as in
    /// [`Keyspace::active_expire`]: a run that holds no shard must act on
    /// the deletions there (their DELs in the effect log before any other
    /// write to those keys), not after the run.
    pub fn scan_db(
        &mut self,
        db: usize,
        cursor: u64,
        mut wanted: impl FnMut(&Key) -> bool,
        mut f: impl FnMut(&Key, &Entry),
        under_lock: &mut dyn FnMut(&mut Events),
    ) -> u64 {
        let n = self.shard_count() as u64;
        let bits = n.trailing_zeros();
        let mut shard = cursor & (n - 1);
        let c = cursor >> bits;
        let step = self.with_table(db, shard as usize, |t, ev, now| {
            let mut keys: SmallVec<[Key; 16]> = SmallVec::new();
            let next = t.scan(c, |k, _| {
                if wanted(k) {
                    keys.push(k.clone());
                }
            });
            let before = ev.expired.len();
            for k in &keys {
                if !t.expire_if_needed(db, k.as_bytes(), now, ev) {
                    if let Some(e) = t.raw(k.as_bytes()) {
                        f(k, e);
                    }
                }
            }
            if ev.expired.len() > before {
                under_lock(ev);
            }
            next
        });
        let Some(next) = step else {
            return 0;
        };
        if next != 0 {
            return (next << bits) | shard;
        }
        // This shard is done: the next one that holds keys starts at its
        // cursor 0 (a shard empty now holds no key present for the whole
        // scan). Return there so COUNT stays meaningful.
        loop {
            shard += 1;
            if shard == n {
                return 0;
            }
            if self.with_table(db, shard as usize, |t, _, _| !t.is_empty()) == Some(true) {
                return shard;
            }
        }
    }

    /// The stored entry of `key` in `db`, if the run holds it.
    fn raw_in(&self, db: usize, key: &[u8]) -> Option<&Entry> {
        match &self.inner {
            DbsInner::Single(t) => t.get(db)?.raw(key),
            DbsInner::Sharded {
                guards,
                hasher,
                shards,
                ..
            } => {
                let s = shard_of(hasher, *shards, key);
                guards
                    .iter()
                    .find(|g| g.0 == db && g.1 == s)
                    .and_then(|g| g.2.raw(key))
            }
        }
    }

    /// Ends a run: reports its writes to the observer, while the run's
    /// locks are still held.
    pub(crate) fn finish(&mut self) {
        let from = self.events.written_observed;
        self.events.written_observed = self.events.written.len();
        let Some(o) = self.events.observer.0.clone() else {
            return;
        };
        for (db, key) in &self.events.written[from..] {
            o.after_write(*db, key, self.raw_in(*db, key));
        }
    }

    /// Calls `f(db, key, entry, expire_at)` for every entry of every table
    /// the run holds (under `Scope::All`, the whole dataset), expired ones
    /// included: a snapshot taken in the foreground.
    pub fn for_each_entry(&mut self, f: &mut WalkFn<'_>) {
        let mut visit = |db: usize, t: &mut Table| t.walk_all(|k, e, at| f(db, k, e, at));
        self.inner.ensure_all();
        match &mut self.inner {
            DbsInner::Single(t) => t.iter_mut().enumerate().for_each(|(i, t)| visit(i, t)),
            DbsInner::Sharded { guards, .. } => {
                guards.iter_mut().for_each(|g| visit(g.0, &mut g.2))
            }
        }
    }

    /// Sets the snapshot epoch of every table the run holds (under
    /// `Scope::All`, every table): see `Table::epoch`.
    pub fn set_epoch(&mut self, e: u32) {
        self.inner.ensure_all();
        match &mut self.inner {
            DbsInner::Single(t) => t.iter_mut().for_each(|t| t.set_epoch(e)),
            DbsInner::Sharded { guards, .. } => guards.iter_mut().for_each(|g| g.2.set_epoch(e)),
        }
    }

    /// Swaps the contents of two databases (SWAPDB). Needs `Scope::All`.
    pub fn swap(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        if let Some(o) = self.events.observer.get() {
            o.before_swap(a, b);
        }
        self.inner.ensure_db(a);
        self.inner.ensure_db(b);
        match &mut self.inner {
            DbsInner::Single(t) => t.swap(a, b),
            DbsInner::Sharded { guards, shards, .. } => {
                let shards = *shards;
                let (lo, hi) = (a.min(b), a.max(b));
                let lo_start = guards.partition_point(|g| g.0 < lo);
                let hi_start = guards.partition_point(|g| g.0 < hi);
                let whole = |start: usize, db: usize| {
                    guards[start..]
                        .iter()
                        .take(shards)
                        .filter(|g| g.0 == db)
                        .count()
                        == shards
                };
                if !whole(lo_start, lo) || !whole(hi_start, hi) {
                    // SWAPDB needs Scope::All; a run without it swaps nothing.
                    self.events.outside_scope.set(true);
                    return;
                }
                let (left, right) = guards.split_at_mut(hi_start);
                for s in 0..shards {
                    std::mem::swap(&mut *left[lo_start + s].2, &mut *right[s].2);
                }
            }
        }
    }

    /// Side effects collected so far (lazily expired keys, hit counters).
    pub fn events(&mut self) -> &mut Events {
        &mut self.events
    }

    /// The collected side effects, in place, with the writes so far
    /// finished for the observer (its after-write calls). The caller
    /// `reset`s them once acted on.
    pub fn settle_events(&mut self) -> &mut Events {
        if self.events.observer.0.is_some() {
            self.finish();
            self.events.written.clear();
            self.events.written_signalled = 0;
            self.events.written_observed = 0;
        }
        &mut self.events
    }

    /// Takes the collected side effects. The writes so far are finished
    /// first (the observer's after-write calls), and the observer stays for
    /// whatever the run does next.
    pub fn take_events(&mut self) -> Events {
        self.finish();
        let observer = self.events.observer.clone();
        let mut ev = std::mem::take(&mut self.events);
        self.events.observer = observer;
        // Finished: the final `finish` must not report them again.
        ev.observer = Default::default();
        ev
    }
}

enum Tables<'a> {
    One(&'a mut Table),
    Shards {
        /// (shard number, table), ascending by shard.
        tables: SmallVec<[(usize, &'a mut Table); 4]>,
        hasher: &'a ahash::RandomState,
        shards: usize,
        /// Reached by keys whose shard the run did not lock.
        scratch: &'a mut Option<Box<Table>>,
    },
}

/// Records a write access to `key` (whose value is `old`) for the
/// key-modified signal and tells the observer, before the change is made.
/// `old` is only looked at when an observer listens, so an idle write path
/// does no extra lookup.
fn record_write<'e>(
    ev: &mut Events,
    db: usize,
    key: &[u8],
    old: impl FnOnce() -> (Option<&'e Entry>, Option<u64>),
) {
    if let Some(o) = ev.observer.get() {
        let (old, expire_at) = old();
        o.before_write(db, key, old, expire_at);
    } else if !ev.track_writes {
        return;
    }
    ev.written.push((db, Key::new(key)));
}

/// The shard a key lives in, for a given shard count (a power of two).
pub(crate) fn shard_of(hasher: &ahash::RandomState, shards: usize, key: &[u8]) -> usize {
    (hasher.hash_one(key) as usize) & (shards - 1)
}

/// Values clients can block on (BLPOP, BZPOPMIN...): creating such a key
/// may serve a blocked client.
fn is_blockable(v: &Value) -> bool {
    matches!(v, Value::List(_) | Value::ZSet(_))
}

/// One database as a command sees it.
pub struct Db<'a> {
    index: usize,
    now: u64,
    tables: Tables<'a>,
    ev: &'a mut Events,
}

macro_rules! table_for {
    ($self:ident, $key:expr) => {
        match &mut $self.tables {
            Tables::One(t) => &mut **t,
            Tables::Shards {
                tables,
                hasher,
                shards,
                scratch,
            } => {
                let s = shard_of(hasher, *shards, $key);
                match tables.iter_mut().find(|g| g.0 == s) {
                    Some(g) => &mut *g.1,
                    None => {
                        $self.ev.outside_scope.set(true);
                        &mut **scratch.get_or_insert_with(Default::default)
                    }
                }
            }
        }
    };
}

impl<'a> Db<'a> {
    pub fn index(&self) -> usize {
        self.index
    }

    /// The command's time, fixed for the whole run.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Every table of the database. Whole-database access needs
    /// `Scope::Db`; a run that locked only some shards sees only those,
    /// and the command is answered with an error.
    fn tables(&self) -> Vec<&Table> {
        match &self.tables {
            Tables::One(t) => vec![&**t],
            Tables::Shards { tables, shards, .. } => {
                if tables.len() != *shards {
                    self.ev.outside_scope.set(true);
                }
                tables.iter().map(|g| &*g.1).collect()
            }
        }
    }

    fn tables_mut(&mut self) -> Vec<&mut Table> {
        match &mut self.tables {
            Tables::One(t) => vec![&mut **t],
            Tables::Shards { tables, shards, .. } => {
                if tables.len() != *shards {
                    self.ev.outside_scope.set(true);
                }
                tables.iter_mut().map(|g| &mut *g.1).collect()
            }
        }
    }

    /// A read access (counts in keyspace_hits / keyspace_misses).
    pub fn read(&mut self, key: &[u8]) -> Option<&Entry> {
        self.counted(key, Touch::Yes).map(|e| &*e)
    }

    /// A read that counts as a hit or miss without touching the key's
    /// access time (EXISTS, TYPE, TTL: Redis's LOOKUP_NOTOUCH).
    pub fn read_untouched(&mut self, key: &[u8]) -> Option<&Entry> {
        self.counted(key, Touch::No).map(|e| &*e)
    }

    fn counted(&mut self, key: &[u8], touch: Touch) -> Option<&mut Entry> {
        let (idx, now) = (self.index, self.now);
        let t = table_for!(self, key);
        let ev = &mut *self.ev;
        let r = t.lookup(idx, key, now, touch, ev);
        if r.is_some() {
            ev.hits += 1;
        } else {
            ev.misses += 1;
            if ev.track_missed {
                ev.missed.push((idx, Key::new(key)));
            }
        }
        r
    }

    /// A write-path lookup (Redis's lookupKeyWrite): touches the key but
    /// does not count as a hit or miss, and changes nothing.
    pub fn get(&mut self, key: &[u8]) -> Option<&Entry> {
        self.lookup(key, Touch::Yes).map(|e| &*e)
    }

    /// The one way to change a stored value in place: the key is recorded
    /// as written (the key-modified signal) and the observer is told before
    /// the caller changes it. `None` if the key is absent.
    pub fn entry_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let (idx, now) = (self.index, self.now);
        let t = table_for!(self, key);
        let ev = &mut *self.ev;
        t.expire_if_needed(idx, key, now, ev);
        let observed = ev.observer.is_some();
        if observed || ev.track_writes {
            let old = t.raw(key)?;
            record_write(ev, idx, key, || (Some(old), t.expire_at(key)));
        }
        let epoch = t.epoch();
        let e = t.lookup(idx, key, now, Touch::Yes, ev)?;
        if observed {
            e.epoch = epoch;
        }
        Some(e)
    }

    /// Changes how a value is represented without changing what it holds
    /// (SORT converting a sorted set's encoding, as Redis does): not a
    /// write, so nothing is recorded or observed.
    pub fn reencode(&mut self, key: &[u8], f: impl FnOnce(&mut Value)) {
        let (idx, now) = (self.index, self.now);
        if let Some(e) = table_for!(self, key).lookup(idx, key, now, Touch::No, self.ev) {
            f(&mut e.value);
        }
    }

    /// An introspection access: expires but does not touch.
    pub fn peek(&mut self, key: &[u8]) -> Option<&Entry> {
        self.lookup(key, Touch::No).map(|e| &*e)
    }

    fn lookup(&mut self, key: &[u8], touch: Touch) -> Option<&mut Entry> {
        let (idx, now) = (self.index, self.now);
        let t = table_for!(self, key);
        t.lookup(idx, key, now, touch, self.ev)
    }

    pub fn contains(&mut self, key: &[u8]) -> bool {
        self.peek(key).is_some()
    }

    /// Stores a value, replacing the old one; clears the TTL unless `keep_ttl`.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool) -> Option<Entry> {
        let (idx, now) = (self.index, self.now);
        let blockable = is_blockable(&value);
        let t = table_for!(self, key);
        t.expire_if_needed(idx, key, now, self.ev);
        record_write(self.ev, idx, key, || (t.raw(key), t.expire_at(key)));
        let old = t.set(key, value, now, keep_ttl);
        if old.is_none() {
            if blockable {
                self.ev.ready.push((idx, Key::new(key)));
            }
            if self.ev.track_created {
                self.ev.created.push((idx, Key::new(key)));
            }
        }
        old
    }

    /// Inserts a key the caller has just found absent.
    pub fn insert_new(&mut self, key: &[u8], value: Value) -> &mut Entry {
        let (idx, now) = (self.index, self.now);
        if is_blockable(&value) {
            self.ev.ready.push((idx, Key::new(key)));
        }
        if self.ev.track_created {
            self.ev.created.push((idx, Key::new(key)));
        }
        record_write(self.ev, idx, key, || (None, None));
        table_for!(self, key).insert_new(key, value, now)
    }

    /// Deletes a key; an already expired key counts as absent.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let (idx, now) = (self.index, self.now);
        let t = table_for!(self, key);
        if t.expire_if_needed(idx, key, now, self.ev) {
            return None;
        }
        let old = t.raw(key)?;
        record_write(self.ev, idx, key, || (Some(old), t.expire_at(key)));
        t.remove(key).map(|(_, e)| e)
    }

    /// The key's absolute expiry time (ms), if it has one.
    pub fn expire_at(&mut self, key: &[u8]) -> Option<u64> {
        table_for!(self, key).expire_at(key)
    }

    /// Sets or clears the TTL of an existing key.
    pub fn set_expire(&mut self, key: &[u8], at: Option<u64>) -> bool {
        let idx = self.index;
        let t = table_for!(self, key);
        let Some(old) = t.raw(key) else {
            return false;
        };
        record_write(self.ev, idx, key, || (Some(old), t.expire_at(key)));
        if self.ev.observer.is_some() {
            t.stamp(key);
        }
        t.set_expire(key, at)
    }

    /// Number of keys, expired-but-not-yet-reclaimed ones included (like DBSIZE).
    pub fn len(&self) -> usize {
        self.tables().iter().map(|t| t.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Estimated average remaining TTL (ms) of the keys with one, weighted
    /// over shards; 0 when none has been sampled.
    pub fn avg_ttl(&self) -> u64 {
        let (mut sum, mut n) = (0u128, 0u128);
        for t in self.tables() {
            let e = t.expires_len() as u128;
            sum += t.avg_ttl() as u128 * e;
            n += e;
        }
        sum.checked_div(n).map_or(0, |v| v as u64)
    }

    pub fn expires_len(&self) -> usize {
        self.tables().iter().map(|t| t.expires_len()).sum()
    }

    /// Removes every key; returns how many there were. (The server signals
    /// a flush as a whole, not key by key.)
    pub fn clear(&mut self) -> usize {
        let idx = self.index;
        let observer = self.ev.observer.clone();
        self.tables_mut()
            .into_iter()
            .map(|t| {
                if let Some(o) = observer.get() {
                    o.before_clear(idx, t);
                }
                t.clear()
            })
            .sum()
    }

    /// Calls `f` for each live key.
    pub fn for_each_live(&self, mut f: impl FnMut(&Key, &Entry)) {
        let now = self.now;
        for t in self.tables() {
            t.for_each_live(now, &mut f);
        }
    }

    /// Calls `f` for every key in the tables, including expired keys not
    /// reclaimed yet (DEBUG DIGEST looks at the raw data).
    pub fn for_each_raw(&self, mut f: impl FnMut(&Key, &Entry)) {
        for t in self.tables() {
            t.for_each_raw(&mut f);
        }
    }

    /// The entry stored under `key`, even if its time has passed; no side effects.
    pub fn raw(&mut self, key: &[u8]) -> Option<&Entry> {
        table_for!(self, key).raw(key)
    }

    /// The stored entry, through a shared borrow so several can be held at
    /// once (after the caller's lookups have expired what had to expire).
    pub fn stored(&self, key: &[u8]) -> Option<&Entry> {
        match &self.tables {
            Tables::One(t) => t.raw(key),
            Tables::Shards {
                tables,
                hasher,
                shards,
                ..
            } => {
                let s = shard_of(hasher, *shards, key);
                match tables.iter().find(|g| g.0 == s) {
                    Some(g) => g.1.raw(key),
                    None => {
                        self.ev.outside_scope.set(true);
                        None
                    }
                }
            }
        }
    }

    /// True if the command reached something its scope did not lock.
    pub fn outside_scope(&self) -> bool {
        self.ev.outside_scope.get()
    }

    /// True if the key exists and is live, without side effects.
    pub fn is_live(&self, key: &[u8]) -> bool {
        let now = self.now;
        match &self.tables {
            Tables::One(t) => t.is_live(key, now),
            Tables::Shards {
                tables,
                hasher,
                shards,
                ..
            } => {
                let s = shard_of(hasher, *shards, key);
                match tables.iter().find(|g| g.0 == s) {
                    Some(g) => g.1.is_live(key, now),
                    None => {
                        self.ev.outside_scope.set(true);
                        false
                    }
                }
            }
        }
    }

    /// One SCAN step. The cursor packs the shard number in its low bits, so
    /// the guarantee of the underlying table holds per shard.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&Key, &Entry)) -> u64 {
        let tables = self.tables();
        let n = tables.len() as u64;
        if n == 1 {
            return tables[0].scan(cursor, f);
        }
        let bits = n.trailing_zeros();
        let mut shard = cursor & (n - 1);
        let mut c = cursor >> bits;
        loop {
            c = tables[shard as usize].scan(c, &mut f);
            if c != 0 {
                return (c << bits) | shard;
            }
            shard += 1;
            if shard == n {
                return 0;
            }
            if tables[shard as usize].is_empty() {
                continue;
            }
            // A fresh shard starts at cursor 0; return so COUNT stays meaningful.
            return shard;
        }
    }

    /// A random live key.
    pub fn random_key(&mut self) -> Option<Key> {
        let (idx, now) = (self.index, self.now);
        let mut tables: Vec<&mut Table> = match &mut self.tables {
            Tables::One(t) => vec![&mut **t],
            Tables::Shards { tables, .. } => tables.iter_mut().map(|g| &mut *g.1).collect(),
        };
        let ev = &mut *self.ev;
        use rand::Rng;
        let mut rng = rand::thread_rng();
        for _ in 0..16 {
            // Recounted every round: a try may reclaim expired keys.
            let total: usize = tables.iter().map(|t| t.len()).sum();
            if total == 0 {
                return None;
            }
            // A table chosen in proportion to its size, so keys are equally likely.
            let mut pick = rng.gen_range(0..total);
            let i = tables
                .iter()
                .position(|t| {
                    if pick < t.len() {
                        true
                    } else {
                        pick -= t.len();
                        false
                    }
                })
                .expect("pick is below the total");
            if let Some(k) = tables[i].random_key(idx, now, ev) {
                return Some(k);
            }
        }
        tables.iter_mut().find_map(|t| t.random_key(idx, now, ev))
    }

    /// Side effects collected so far.
    pub fn events(&mut self) -> &mut Events {
        self.ev
    }
}
