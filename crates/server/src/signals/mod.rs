//! What a command sets off for other clients: WATCH invalidation, serving
//! blocked clients, pub/sub delivery, client-side caching invalidations,
//! MONITOR lines. [`Signals`] holds their registries.

pub mod blocking;
pub mod monitor;
pub mod tracking;
pub mod watches;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::session::client::Client;
use crate::state::{ClientInfo, Clients};

use self::watches::{SignalTap, Watches};

/// The registries a write or a message reaches other clients through.
pub struct Signals {
    /// Which clients watch which keys (WATCH).
    pub watches: Watches,
    /// A copy of every key-modified signal, for tests and tools.
    pub tap: SignalTap,
    /// Blocked clients and the keys they wait on.
    pub blocking: blocking::Blocking,
    /// Pub/sub subscriptions and delivery.
    pub hub: rubedo_pubsub::Hub<ClientInfo>,
    /// Client-side caching tables.
    pub tracking: tracking::Tracking,
    /// Clients in MONITOR mode.
    pub monitors: monitor::Monitors,
}

impl Signals {
    /// Empty registries: the hub applies `output_limits`, tracking keeps
    /// at most `tracking_max_keys` (both shared with the configuration).
    pub fn new(
        output_limits: Arc<rubedo_pubsub::Limits>,
        tracking_max_keys: Arc<AtomicU64>,
    ) -> Signals {
        Signals {
            watches: Watches::default(),
            tap: SignalTap::default(),
            blocking: Default::default(),
            hub: rubedo_pubsub::Hub::new(output_limits),
            tracking: tracking::Tracking::new(tracking_max_keys),
            monitors: Default::default(),
        }
    }

    /// Marks every client watching `key` as dirty, so its EXEC fails.
    pub fn touch_watched(&self, clients: &Clients, db: usize, key: &[u8]) {
        if self.watches.is_empty() {
            return;
        }
        for id in self.watches.watchers(db, key) {
            if let Some(c) = clients.client(id) {
                c.dirty_cas.store(true, Relaxed);
            }
        }
    }

    /// The "key modified" signal: WATCH and client-side caching. `current`
    /// is the client whose command changed (or expired) the key, if any.
    pub fn signal_modified(
        &self,
        clients: &Clients,
        db: usize,
        key: &[u8],
        current: Option<&mut Client>,
        now_ms: u64,
    ) {
        self.tap.note(db, key);
        self.touch_watched(clients, db, key);
        tracking::modified(self, clients, key, current, now_ms);
    }

    /// True if a key-modified signal could reach anyone (a WATCH or a
    /// tracking client), so the write path must record written keys.
    pub fn listens_for_writes(&self) -> bool {
        !self.watches.is_empty() || self.tracking.clients() > 0 || self.tap.is_on()
    }
}
