//! Observers of the write path.
//!
//! Every mutation of the keyspace goes through a [`crate::Db`] write access
//! (`entry_mut`, `set`, `insert_new`, `remove`, `set_expire`, `clear`,
//! `Dbs::swap`) or through expiry. Those are the only places that call an
//! [`Observer`], so a subsystem that must see every change (the fork-less
//! snapshot serializing a key before its first change, eviction's memory
//! accounting, a per-slot key index) registers one here instead of being
//! called from command code. With no observer registered the write path
//! pays one branch.

use std::fmt;
use std::sync::Arc;

use crate::table::Table;
use crate::value::Entry;

/// Told about every change to the keyspace, while the run that makes it
/// still holds its locks (so what it sees is exactly what the change saw).
pub trait Observer: Send + Sync {
    /// Before a key is written, deleted or expired; `old` is its value as it
    /// is now (`None` when the key is about to be created) and `expire_at`
    /// its expiry time (ms) as it is now.
    fn before_write(&self, db: usize, key: &[u8], old: Option<&Entry>, expire_at: Option<u64>);

    /// At the end of the run that wrote `key`, once per write access;
    /// `new` is what the key holds now (`None` if it was deleted).
    fn after_write(&self, _db: usize, _key: &[u8], _new: Option<&Entry>) {}

    /// Before every key of one table (a database, or one shard of it) is
    /// dropped. The observer may take the table's contents (`Table::take`),
    /// leaving it empty, to use them after the run (a snapshot does).
    fn before_clear(&self, _db: usize, _table: &mut Table) {}

    /// Before two databases exchange their contents (SWAPDB).
    fn before_swap(&self, _a: usize, _b: usize) {}
}

/// Where an engine keeps its observer. A run reads one flag when nobody
/// listens; the observer itself sits behind a lock. A run holding every
/// lock (BGSAVE) may register one through `Dbs::set_observer`, so it
/// observes from that instant on, that run's own later writes included.
#[derive(Default)]
pub struct ObserverCell {
    on: std::sync::atomic::AtomicBool,
    slot: parking_lot::Mutex<ObserverSlot>,
}

impl ObserverCell {
    pub(crate) fn get(&self) -> ObserverSlot {
        if self.on.load(std::sync::atomic::Ordering::Acquire) {
            self.slot.lock().clone()
        } else {
            ObserverSlot::default()
        }
    }

    pub(crate) fn set(&self, observer: Option<Arc<dyn Observer>>) {
        let on = observer.is_some();
        *self.slot.lock() = ObserverSlot(observer);
        self.on.store(on, std::sync::atomic::Ordering::Release);
    }
}

/// The observer a run carries, if any.
#[derive(Clone, Default)]
pub struct ObserverSlot(pub(crate) Option<Arc<dyn Observer>>);

impl ObserverSlot {
    pub fn get(&self) -> Option<&dyn Observer> {
        self.0.as_deref()
    }

    pub fn is_some(&self) -> bool {
        self.0.is_some()
    }
}

impl fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "ObserverSlot(Some)"
        } else {
            "ObserverSlot(None)"
        })
    }
}
