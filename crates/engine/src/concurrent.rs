//! The concurrent engine: every database is split into shards, each behind
//! its own mutex. A run locks exactly the shards its scope needs, in
//! ascending (database, shard) order, so two runs can never deadlock and a
//! multi-key command is atomic. Whole-keyspace runs (transactions, scripts,
//! FLUSHALL, SWAPDB) take the world lock exclusively; every other run holds
//! it shared, so an exclusive run sees no command in flight.

use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::clock::Clock;
use crate::keyspace::{shard_of, Dbs, DbsInner, Guards, Keyspace, Scope};
use crate::observe::{Observer, ObserverCell};
use crate::table::{Events, Table};

pub struct ConcurrentKeyspace {
    dbs: Vec<Box<[Mutex<Table>]>>,
    shards: usize,
    hasher: ahash::RandomState,
    world: RwLock<()>,
    clock: Arc<dyn Clock>,
    observer: ObserverCell,
}

impl ConcurrentKeyspace {
    /// `shards` is rounded up to a power of two.
    pub fn new(databases: usize, shards: usize, clock: Arc<dyn Clock>) -> Self {
        let shards = shards.max(1).next_power_of_two();
        ConcurrentKeyspace {
            dbs: (0..databases)
                .map(|_| (0..shards).map(|_| Mutex::new(Table::new())).collect())
                .collect(),
            shards,
            hasher: ahash::RandomState::new(),
            world: RwLock::new(()),
            clock,
            observer: ObserverCell::default(),
        }
    }

    fn lock_db<'a>(&'a self, db: usize, guards: &mut Guards<'a>) {
        for (s, m) in self.dbs[db].iter().enumerate() {
            guards.push((db, s, m.lock()));
        }
    }
}

impl Keyspace for ConcurrentKeyspace {
    fn databases(&self) -> usize {
        self.dbs.len()
    }

    fn wants_keys(&self) -> bool {
        true
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn run<R>(&self, scope: Scope<'_>, f: impl FnOnce(&mut Dbs<'_>) -> R) -> R {
        let mut guards: Guards<'_> = Guards::new();
        let (_shared, _exclusive);
        let mut lazy_all = false;
        match scope {
            Scope::Keys { db, keys } => {
                _shared = Some(self.world.read());
                let mut idx: smallvec::SmallVec<[usize; 4]> = keys
                    .iter()
                    .map(|k| shard_of(&self.hasher, self.shards, k))
                    .collect();
                idx.sort_unstable();
                idx.dedup();
                guards.reserve(idx.len());
                for s in idx {
                    guards.push((db, s, self.dbs[db][s].lock()));
                }
            }
            Scope::Db(db) => {
                _shared = Some(self.world.read());
                self.lock_db(db, &mut guards);
            }
            Scope::All => {
                // Exclusive: every other run waits, so each database's
                // shards are locked when this run first reaches it.
                _exclusive = Some(self.world.write());
                lazy_all = true;
            }
            Scope::Nothing => {}
        }
        let events = Events {
            observer: self.observer.get(),
            ..Events::default()
        };
        let inner = DbsInner::Sharded {
            guards,
            locks: &self.dbs,
            hasher: &self.hasher,
            shards: self.shards,
            databases: self.dbs.len(),
            lazy_all,
        };
        let mut dbs = Dbs::new(self.clock.now_ms(), inner, events, &self.observer);
        let r = f(&mut dbs);
        dbs.finish();
        r
    }

    fn active_expire(
        &self,
        budget: usize,
        ev: &mut Events,
        under_lock: &mut dyn FnMut(&mut Events),
    ) -> (usize, usize) {
        let mut total = (0, 0);
        let now = self.clock.now_ms();
        let per_shard = (budget / self.shards).max(1);
        ev.observer = self.observer.get();
        for (i, db) in self.dbs.iter().enumerate() {
            for shard in db.iter() {
                // Background work never waits behind a run that holds
                // everything (a long script, EXEC): it comes back later
                // instead of parking the thread it runs on.
                let Some(_shared) = self.world.try_read() else {
                    return total;
                };
                let mut table = shard.lock();
                let (v, e) = table.active_expire_step(i, now, per_shard, ev);
                if e > 0 {
                    under_lock(ev);
                }
                drop(table);
                total = (total.0 + v, total.1 + e);
            }
        }
        total
    }

    fn walk(
        &self,
        pos: &mut crate::keyspace::WalkPos,
        budget: usize,
        f: &mut crate::keyspace::WalkFn<'_>,
    ) -> bool {
        let n = self.dbs.len() * self.shards;
        crate::keyspace::walk_tables(pos, budget, n, self.shards, f, |i, g| {
            let _shared = self.world.read();
            g(&mut self.dbs[i / self.shards][i % self.shards].lock())
        })
    }

    fn rehash(&self, steps: usize) {
        for db in &self.dbs {
            for shard in db.iter() {
                let Some(_shared) = self.world.try_read() else {
                    return;
                };
                shard.lock().rehash_steps(steps);
            }
        }
    }

    fn sizes(&self) -> Vec<(usize, usize)> {
        self.dbs
            .iter()
            .map(|db| {
                db.iter().fold((0, 0), |(k, e), s| {
                    let t = s.lock();
                    (k + t.len(), e + t.expires_len())
                })
            })
            .collect()
    }

    fn set_observer(&self, observer: Option<Arc<dyn Observer>>) {
        self.observer.set(observer);
    }

    fn table_bytes(&self) -> usize {
        self.dbs
            .iter()
            .flat_map(|db| db.iter())
            .map(|s| s.lock().table_bytes())
            .sum()
    }
}
