//! The single-threaded engine: plain tables owned by the thread that runs
//! every connection, as in Redis. `run` is a direct call; the `RefCell` only
//! catches accidental re-entry, it is never contended.

use std::cell::RefCell;
use std::sync::Arc;

use crate::clock::Clock;
use crate::keyspace::{Dbs, DbsInner, Keyspace, Scope};
use crate::observe::{Observer, ObserverCell};
use crate::table::{Events, Table};

pub struct SingleKeyspace {
    tables: RefCell<Vec<Table>>,
    clock: Arc<dyn Clock>,
    observer: ObserverCell,
}

impl SingleKeyspace {
    pub fn new(databases: usize, clock: Arc<dyn Clock>) -> Self {
        SingleKeyspace {
            tables: RefCell::new((0..databases).map(|_| Table::new()).collect()),
            clock,
            observer: ObserverCell::default(),
        }
    }
}

impl Keyspace for SingleKeyspace {
    fn databases(&self) -> usize {
        self.tables.borrow().len()
    }

    fn wants_keys(&self) -> bool {
        false
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn run<R>(&self, _scope: Scope<'_>, f: impl FnOnce(&mut Dbs<'_>) -> R) -> R {
        let mut tables = self.tables.borrow_mut();
        let events = Events {
            observer: self.observer.get(),
            ..Events::default()
        };
        let mut dbs = Dbs::new(
            self.clock.now_ms(),
            DbsInner::Single(&mut tables),
            events,
            &self.observer,
        );
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
        ev.observer = self.observer.get();
        for (i, t) in self.tables.borrow_mut().iter_mut().enumerate() {
            let (v, e) = t.active_expire_step(i, now, budget, ev);
            if e > 0 {
                under_lock(ev);
            }
            total = (total.0 + v, total.1 + e);
        }
        total
    }

    fn walk(
        &self,
        pos: &mut crate::keyspace::WalkPos,
        budget: usize,
        f: &mut crate::keyspace::WalkFn<'_>,
    ) -> bool {
        let mut tables = self.tables.borrow_mut();
        let n = tables.len();
        crate::keyspace::walk_tables(pos, budget, n, 1, f, |i, g| g(&mut tables[i]))
    }

    fn rehash(&self, steps: usize) {
        for t in self.tables.borrow_mut().iter_mut() {
            t.rehash_steps(steps);
        }
    }

    fn sizes(&self) -> Vec<(usize, usize)> {
        self.tables
            .borrow()
            .iter()
            .map(|t| (t.len(), t.expires_len()))
            .collect()
    }

    fn table_bytes(&self) -> usize {
        self.tables.borrow().iter().map(|t| t.table_bytes()).sum()
    }

    fn set_observer(&self, observer: Option<Arc<dyn Observer>>) {
        self.observer.set(observer);
    }
}
