//! The propagation stream: after a write executes, its effect (as a list of
//! commands, already rewritten into deterministic form such as absolute
//! PEXPIREAT times) is offered to every registered sink. The append-only log
//! and replicas will be sinks; today only tests register one.

use bytes::Bytes;
use parking_lot::Mutex;

/// One unit of propagation: the commands a write turned into, for one
/// database, applied atomically (a transaction's writes arrive as one unit
/// wrapped in MULTI/EXEC).
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub db: usize,
    pub commands: Vec<Vec<Bytes>>,
}

/// A consumer of write effects.
pub trait Sink: Send + Sync {
    fn write(&self, effect: &Effect);
}

/// A sink that keeps every effect in memory, for tests and tools that
/// want to see what a write turned into.
#[derive(Clone, Default)]
pub struct Recorder(pub std::sync::Arc<Mutex<Vec<Effect>>>);

impl Recorder {
    /// The recorded effects as text: effect -> command -> word.
    pub fn words(&self) -> Vec<Vec<Vec<String>>> {
        self.0
            .lock()
            .iter()
            .map(|e| {
                e.commands
                    .iter()
                    .map(|c| {
                        c.iter()
                            .map(|w| String::from_utf8_lossy(w).into_owned())
                            .collect()
                    })
                    .collect()
            })
            .collect()
    }
}

impl Sink for Recorder {
    fn write(&self, effect: &Effect) {
        self.0.lock().push(effect.clone());
    }
}

#[derive(Default)]
pub struct Propagation {
    sinks: Mutex<Vec<Box<dyn Sink>>>,
    /// Fast check so the write path builds nothing when there is no sink.
    active: std::sync::atomic::AtomicBool,
}

impl Propagation {
    pub fn add_sink(&self, s: Box<dyn Sink>) {
        self.sinks.lock().push(s);
        self.active
            .store(true, std::sync::atomic::Ordering::Release);
    }

    pub fn is_active(&self) -> bool {
        self.active.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn emit(&self, effect: Effect) {
        for s in self.sinks.lock().iter() {
            s.write(&effect);
        }
    }
}
