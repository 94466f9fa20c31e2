//! The effect log: every write, in the order it was applied, as the
//! commands that reproduce it deterministically (absolute PEXPIREAT times,
//! the value INCRBYFLOAT produced, the members SPOP picked). The append-only
//! log and replicas will be its sinks; today tests register one.
//!
//! Ordering: an effect is emitted while its run still holds the keyspace
//! locks of the keys it wrote (active expiry's DELs too), and numbered as it
//! is handed to the sinks, so the log's order is an order in which the
//! writes could have happened: a `DEL k` from expiry always precedes a later
//! `SET k`. One effect is one unit of atomicity: a command, a whole EXEC
//! (wrapped in MULTI/EXEC, across databases), later a script.
//!
//! Durability: a sink that makes effects durable (an fsync-always log)
//! reports how far it got with [`Propagation::mark_durable`]; while such a
//! sink is registered, a connection waits for its client's last effect to be
//! durable before writing the replies ([`Propagation::wait_durable`]).

use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;
use rubedo_engine::types::list::End;

/// One command of an effect, in the database it applies to.
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub db: usize,
    pub argv: Vec<Bytes>,
}

/// One unit of propagation, applied atomically.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    /// Position in the log: 1, 2, 3... in emission order, without gaps.
    pub seq: u64,
    pub ops: Vec<Op>,
}

/// A command a handler propagates instead of itself, built only by these
/// constructors so its shape is right wherever it is made.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewrite(pub(crate) Vec<Bytes>);

fn word(w: &'static [u8]) -> Bytes {
    Bytes::from_static(w)
}

fn num(n: impl ToString) -> Bytes {
    Bytes::from(n.to_string())
}

fn side(e: End) -> Bytes {
    word(match e {
        End::Head => b"LEFT",
        End::Tail => b"RIGHT",
    })
}

impl Rewrite {
    /// `DEL key`: a key deleted by expiry or by a time already past.
    pub fn del(key: &[u8]) -> Rewrite {
        Rewrite(vec![word(b"DEL"), Bytes::copy_from_slice(key)])
    }

    /// `DEL key...`: the keys MIGRATE moved away.
    pub fn del_keys(keys: Vec<Bytes>) -> Rewrite {
        let mut argv = Vec::with_capacity(keys.len() + 1);
        argv.push(word(b"DEL"));
        argv.extend(keys);
        Rewrite(argv)
    }

    /// `PEXPIREAT key ms`: every relative or absolute TTL, made absolute.
    pub fn pexpireat(key: &Bytes, at_ms: u64) -> Rewrite {
        Rewrite(vec![word(b"PEXPIREAT"), key.clone(), num(at_ms)])
    }

    /// `PERSIST key`.
    pub fn persist(key: &Bytes) -> Rewrite {
        Rewrite(vec![word(b"PERSIST"), key.clone()])
    }

    /// `SET key value PXAT ms`: a SET with a TTL, made absolute.
    pub fn set_pxat(key: &Bytes, value: &Bytes, at_ms: u64) -> Rewrite {
        Rewrite(vec![
            word(b"SET"),
            key.clone(),
            value.clone(),
            word(b"PXAT"),
            num(at_ms),
        ])
    }

    /// `SET key value KEEPTTL`: the value a float increment produced.
    pub fn set_keepttl(key: &Bytes, value: &Bytes) -> Rewrite {
        Rewrite(vec![
            word(b"SET"),
            key.clone(),
            value.clone(),
            word(b"KEEPTTL"),
        ])
    }

    /// `HSET key field value`: the value HINCRBYFLOAT produced.
    pub fn hset(key: &Bytes, field: &Bytes, value: &Bytes) -> Rewrite {
        Rewrite(vec![
            word(b"HSET"),
            key.clone(),
            field.clone(),
            value.clone(),
        ])
    }

    /// `SREM key member`: a member SPOP picked.
    pub fn srem(key: &Bytes, member: &[u8]) -> Rewrite {
        Rewrite(vec![
            word(b"SREM"),
            key.clone(),
            Bytes::copy_from_slice(member),
        ])
    }

    /// `LPOP|RPOP key [count]`: what a (blocking, multi-key) pop took.
    pub fn pop(end: End, key: &Bytes, count: Option<usize>) -> Rewrite {
        let w = word(match end {
            End::Head => b"LPOP",
            End::Tail => b"RPOP",
        });
        let mut v = vec![w, key.clone()];
        v.extend(count.map(num));
        Rewrite(v)
    }

    /// `ZPOPMIN|ZPOPMAX key [count]`.
    pub fn zpop(max: bool, key: &Bytes, count: Option<usize>) -> Rewrite {
        let w = word(if max { b"ZPOPMAX" } else { b"ZPOPMIN" });
        let mut v = vec![w, key.clone()];
        v.extend(count.map(num));
        Rewrite(v)
    }

    /// `LMOVE src dst LEFT|RIGHT LEFT|RIGHT`: what a blocking move did.
    pub fn lmove(src: &Bytes, dst: &Bytes, from: End, to: End) -> Rewrite {
        Rewrite(vec![
            word(b"LMOVE"),
            src.clone(),
            dst.clone(),
            side(from),
            side(to),
        ])
    }

    /// `RESTORE key <absolute ms> payload [options] ABSTTL`: the RESTORE
    /// `argv` with its relative TTL made the absolute time `at_ms`.
    pub fn restore_at(argv: &[Bytes], at_ms: i64) -> Rewrite {
        let mut v = argv.to_vec();
        v[2] = num(at_ms);
        v.push(word(b"ABSTTL"));
        Rewrite(v)
    }

    /// `MULTI`/`EXEC`: the wrapping of a unit of several commands.
    pub(crate) fn multi() -> Vec<Bytes> {
        vec![word(b"MULTI")]
    }

    pub(crate) fn exec() -> Vec<Bytes> {
        vec![word(b"EXEC")]
    }
}

/// A consumer of write effects. `write` is called in `seq` order, one
/// effect at a time.
pub trait Sink: Send + Sync {
    fn write(&self, effect: &Effect);

    /// True if replies must wait until this sink reports an effect durable
    /// (through [`Propagation::mark_durable`]).
    fn gates_replies(&self) -> bool {
        false
    }
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
                e.ops
                    .iter()
                    .map(|c| {
                        c.argv
                            .iter()
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

fn mark(durable: &tokio::sync::watch::Sender<u64>, seq: u64) {
    durable.send_if_modified(|d| {
        let moved = seq > *d;
        if moved {
            *d = seq;
        }
        moved
    });
}

/// Reports effects durable from any thread.
#[derive(Clone)]
pub struct Durable(std::sync::Arc<tokio::sync::watch::Sender<u64>>);

impl Durable {
    pub fn mark(&self, seq: u64) {
        mark(&self.0, seq);
    }

    /// Effects up to this seq are durable.
    pub fn get(&self) -> u64 {
        *self.0.borrow()
    }
}

struct Log {
    /// Registered sinks with the id `add_sink` gave them.
    sinks: Vec<(u64, Box<dyn Sink>)>,
    next_id: u64,
    /// The last sequence number handed out.
    seq: u64,
}

pub struct Propagation {
    log: Mutex<Log>,
    /// Fast check so the write path builds nothing when there is no sink.
    active: AtomicBool,
    /// A registered sink gates replies on durability.
    gated: AtomicBool,
    /// Effects up to this seq are durable.
    durable: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

impl Default for Propagation {
    fn default() -> Self {
        Propagation {
            log: Mutex::new(Log {
                sinks: Vec::new(),
                next_id: 0,
                seq: 0,
            }),
            active: AtomicBool::new(false),
            gated: AtomicBool::new(false),
            durable: std::sync::Arc::new(tokio::sync::watch::channel(0).0),
        }
    }
}

impl Propagation {
    /// Registers a sink; the id removes it again.
    pub fn add_sink(&self, s: Box<dyn Sink>) -> u64 {
        let mut log = self.log.lock();
        // What was emitted before is not this sink's to make durable.
        mark(&self.durable, log.seq);
        log.next_id += 1;
        let id = log.next_id;
        log.sinks.push((id, s));
        self.refresh_locked(&log);
        id
    }

    /// Unregisters a sink: it sees no effect emitted after this returns.
    pub fn remove_sink(&self, id: u64) {
        let mut log = self.log.lock();
        log.sinks.retain(|(i, _)| *i != id);
        self.refresh_locked(&log);
    }

    /// Asks the sinks again whether they gate replies (a policy changed).
    pub fn refresh(&self) {
        let log = self.log.lock();
        self.refresh_locked(&log);
    }

    fn refresh_locked(&self, log: &Log) {
        let gates = log.sinks.iter().any(|(_, s)| s.gates_replies());
        self.gated.store(gates, Ordering::Release);
        if !gates {
            // No one waits any more for what was emitted so far.
            mark(&self.durable, log.seq);
        }
        self.active.store(!log.sinks.is_empty(), Ordering::Release);
    }

    /// What a sink working on another thread reports durability through
    /// (the same as `mark_durable`).
    pub fn durable_handle(&self) -> Durable {
        Durable(self.durable.clone())
    }

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Numbers `ops` as the next unit and hands it to every sink; returns
    /// its sequence number (0 if there was nothing to emit). A unit of
    /// several commands (an EXEC, a command that propagates several) is
    /// wrapped in MULTI/EXEC, as Redis does, so a replica or a log replay
    /// applies it atomically; each op keeps its own database.
    pub fn emit(&self, mut ops: Vec<Op>) -> u64 {
        if ops.is_empty() {
            return 0;
        }
        if ops.len() > 1 {
            let (first, last) = (ops[0].db, ops[ops.len() - 1].db);
            ops.insert(
                0,
                Op {
                    db: first,
                    argv: Rewrite::multi(),
                },
            );
            ops.push(Op {
                db: last,
                argv: Rewrite::exec(),
            });
        }
        let mut log = self.log.lock();
        log.seq += 1;
        let effect = Effect { seq: log.seq, ops };
        for (_, s) in log.sinks.iter() {
            s.write(&effect);
        }
        effect.seq
    }

    /// The last sequence number emitted.
    pub fn last_seq(&self) -> u64 {
        self.log.lock().seq
    }

    /// A gating sink reports effects up to `seq` durable.
    pub fn mark_durable(&self, seq: u64) {
        mark(&self.durable, seq);
    }

    /// True if effects up to `seq` are durable.
    pub fn is_durable(&self, seq: u64) -> bool {
        *self.durable.borrow() >= seq
    }

    /// True if replies wait for durability (a gating sink is registered).
    pub fn gates_replies(&self) -> bool {
        self.gated.load(Ordering::Acquire)
    }

    /// Waits until effects up to `seq` are durable (at once when no sink
    /// gates replies or `seq` is 0).
    pub async fn wait_durable(&self, seq: u64) {
        if seq == 0 || !self.gates_replies() {
            return;
        }
        let mut rx = self.durable.subscribe();
        let _ = rx.wait_for(|d| *d >= seq).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effects_are_numbered_in_emission_order() {
        let p = Propagation::default();
        let r = Recorder::default();
        p.add_sink(Box::new(r.clone()));
        assert_eq!(p.emit(Vec::new()), 0, "nothing to emit takes no number");
        let op = |w: &'static [u8]| Op {
            db: 0,
            argv: vec![Bytes::from_static(w)],
        };
        assert_eq!(p.emit(vec![op(b"A")]), 1);
        assert_eq!(p.emit(vec![op(b"B"), op(b"C")]), 2);
        let seqs: Vec<u64> = r.0.lock().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2]);
        assert_eq!(
            r.words(),
            [
                vec![vec!["A"]],
                vec![vec!["MULTI"], vec!["B"], vec!["C"], vec!["EXEC"]]
            ],
            "a unit of several commands is wrapped, a single one is not"
        );
        assert_eq!(p.last_seq(), 2);
    }

    struct Gate;
    impl Sink for Gate {
        fn write(&self, _: &Effect) {}
        fn gates_replies(&self) -> bool {
            true
        }
    }

    #[tokio::test]
    async fn a_wait_ends_when_its_effect_is_durable() {
        let p = std::sync::Arc::new(Propagation::default());
        // No gating sink: no wait.
        p.wait_durable(5).await;
        p.add_sink(Box::new(Gate));
        let seq = p.emit(vec![Op {
            db: 0,
            argv: vec![Bytes::from_static(b"SET")],
        }]);
        let waiter = tokio::spawn({
            let p = p.clone();
            async move { p.wait_durable(seq).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "not durable yet");
        p.mark_durable(seq);
        waiter.await.unwrap();
        // Already durable: at once.
        p.wait_durable(seq).await;
    }
}
