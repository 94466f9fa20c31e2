//! What a handler sees: its arguments, the databases its scope locked, its
//! client's state and the shared server state.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use rubedo_engine::{Db, Dbs};
use rubedo_pubsub::notify;

use crate::dispatch::args::Args;
use crate::dispatch::table::Cmd;
use crate::session::client::Client;
use crate::signals::Signals;
use crate::state::Shared;

pub struct Ctx<'a, 'b> {
    pub argv: &'a [Bytes],
    pub cmd: &'static Cmd,
    pub dbs: &'a mut Dbs<'b>,
    pub client: &'a mut Client,
    pub srv: &'a Shared,
    /// Changes made (Redis's `server.dirty`): drives propagation and INFO.
    pub dirty: u64,
    /// Write effects of this run, when propagation is active.
    pub effects: &'a mut Vec<crate::propagate::Op>,
    /// True once the handler has recorded its own (rewritten) effects.
    pub rewritten: bool,
    /// Who runs the command (a client, EXEC, a blocked client's retry).
    pub caller: crate::dispatch::gate::Caller,
    /// An answer other than the handler's reply frame (block, silence).
    pub answer: Option<crate::dispatch::outcome::Answer>,
    /// The rest of a reply too large to build (see `tail`).
    pub tail: Option<Vec<crate::session::tail::Part>>,
    /// Arguments the handler declared secret (see `redact`).
    pub redacted: Vec<usize>,
    /// The error reply was counted in the error statistics already (a
    /// script's error made of a command's).
    pub error_counted: bool,
}

impl<'a, 'b> Ctx<'a, 'b> {
    /// The argument cursor, positioned after the command name.
    pub fn args(&self) -> Args<'a> {
        Args::new(self.argv)
    }

    /// The client's current database.
    pub fn db(&mut self) -> Db<'_> {
        self.dbs.db(self.client.db)
    }

    pub fn now(&self) -> u64 {
        self.dbs.now()
    }

    /// Whether an absolute expiry time `at` (ms) has passed, so a command
    /// setting it deletes the key instead (Redis's checkAlreadyExpired).
    /// Never while a log is replayed: there the key is kept with its past
    /// time, for the commands after it to act on, as Redis loads.
    pub fn already_expired(&mut self, at: i64) -> bool {
        at <= self.now() as i64 && !self.dbs.events().hold_expiry
    }

    /// The central "key modified" signal (WATCH, client-side caching) for
    /// the keys the engine recorded this command's write accesses reaching,
    /// each once. `call` runs it after the handler when the command changed
    /// something, and `notify_in` before publishing, so a key's invalidation
    /// precedes its keyspace event, as in Redis.
    pub fn signal_writes(&mut self) {
        let now = self.dbs.now();
        let ev = self.dbs.events();
        let (from, to) = (ev.written_signalled, ev.written.len());
        if from == to {
            return;
        }
        ev.written_signalled = to;
        let fresh = &ev.written[from..to];
        let seen = |i: usize| {
            let k = &fresh[i];
            // Short lists are scanned; long ones (MSET of thousands) hashed.
            fresh[..i].iter().rev().take(16).any(|p| p == k)
        };
        let mut many: Option<std::collections::HashSet<&(usize, rubedo_engine::Key)>> = None;
        for i in 0..fresh.len() {
            let dup = if fresh.len() <= 16 {
                seen(i)
            } else {
                !many.get_or_insert_with(Default::default).insert(&fresh[i])
            };
            if !dup {
                let (db, key) = &fresh[i];
                self.srv.signals.signal_modified(
                    &self.srv.clients,
                    *db,
                    key,
                    Some(self.client),
                    now,
                );
            }
        }
    }

    /// Forgets the write accesses not signalled yet (a command that
    /// reports no change).
    pub fn drop_writes(&mut self) {
        let ev = self.dbs.events();
        ev.written_signalled = ev.written.len();
    }

    /// Publishes keyspace event `event` of `class` (a `rubedo_pubsub::notify`
    /// constant) for `key` of the client's database, if
    /// notify-keyspace-events asks for it.
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        let db = self.client.db;
        self.notify_in(db, class, event, key);
    }

    /// Declares the reply written: keyspace events this command fires from
    /// now on reach its own client after the reply, where Redis notifies
    /// after replying (list pushes and pops, for instance).
    pub fn reply_first(&mut self) {
        if self.notifying() {
            self.client.info.outbox.replied();
        }
    }

    /// Parks the client instead of replying, until one of the request's
    /// keys is ready (the handler's own reply frame is then not sent).
    pub fn block(&mut self, req: crate::signals::blocking::BlockRequest) {
        let info = &self.client.info;
        let argv_mem = req.argv.iter().map(|a| a.len()).sum();
        info.blocked_argv_mem.store(argv_mem, Relaxed);
        info.blocked_with_timeout
            .store(req.deadline.is_some(), Relaxed);
        self.answer = Some(crate::dispatch::outcome::Answer::Block(Box::new(req)));
    }

    /// Continues the reply with `parts`, written after it as the client
    /// reads (a reply too large to build in memory).
    pub fn stream_tail(&mut self, parts: Vec<crate::session::tail::Part>) {
        self.tail = Some(parts);
    }

    /// Declares argument `i` secret: MONITOR shows it as `(redacted)`. The
    /// handler decides as it parses, as Redis does, so an argument it never
    /// reached (after a syntax error) is shown as it came.
    pub fn redact(&mut self, i: usize) {
        if i < self.argv.len() && !self.redacted.contains(&i) {
            self.redacted.push(i);
        }
    }

    /// Sends no reply frame: the command answered with its own frames.
    pub fn silence(&mut self) {
        self.answer = Some(crate::dispatch::outcome::Answer::Silent);
    }

    /// Sends the client `frame` ahead of the reply (RESP3 out-of-band data).
    pub fn push_own(&mut self, frame: &rubedo_resp::Frame) {
        let mut b = bytes::BytesMut::new();
        rubedo_resp::encode(frame, self.client.proto, &mut b);
        self.client.info.outbox.push_own(b.freeze());
    }

    /// True if keyspace notifications are on (for work done only to tell them).
    pub fn notifying(&self) -> bool {
        self.srv.config.notify_flags.load(Relaxed) != 0
    }

    /// Fires `del` if `key` is gone: for operations that delete a collection
    /// they empty without telling the caller (pops, removals). The lookup is
    /// made only when notifications are on; the key was live a moment ago in
    /// this run, so it cannot expire here.
    pub fn notify_del_if_gone(&mut self, key: &[u8]) {
        if self.notifying() && !self.db().contains(key) {
            self.notify(notify::GENERIC, "del", key);
        }
    }

    /// Like `notify`, for a key of another database.
    pub fn notify_in(&mut self, db: usize, class: u32, event: &str, key: &[u8]) {
        let flags = self.srv.config.notify_flags.load(Relaxed);
        if flags == 0 {
            return;
        }
        self.signal_writes();
        let me = self.client.id;
        report_key_events(&self.srv.signals, self.dbs, flags, me);
        let now = self.now();
        notify::notify(
            &self.srv.signals.hub,
            flags,
            class,
            event.as_bytes(),
            key,
            db,
            now,
            me,
        );
    }

    /// True if write effects should be recorded.
    pub fn propagating(&self) -> bool {
        self.srv.propagation.is_active()
    }

    /// Records `argv` as (part of) this command's effect instead of the
    /// command itself, e.g. an absolute PEXPIREAT for a relative EXPIRE.
    pub fn propagate(&mut self, r: crate::propagate::Rewrite) {
        self.rewritten = true;
        if self.propagating() {
            self.effects.push(crate::propagate::Op {
                db: self.client.db,
                argv: r.0,
            });
        }
    }

    /// Marks the command as having its effect recorded even if it recorded
    /// nothing (e.g. a no-op that must not be propagated).
    pub fn propagate_nothing(&mut self) {
        self.rewritten = true;
    }
}

/// Publishes the "expired", "keymiss" and "new" events the engine recorded so far in
/// this run, so they precede the event of the command that caused them, as
/// in Redis.
pub fn report_key_events(sig: &Signals, dbs: &mut Dbs<'_>, flags: u32, me: u64) {
    let now = dbs.now();
    let ev = dbs.events();
    if ev.expired_reported < ev.expired.len() {
        for (db, key) in &ev.expired[ev.expired_reported..] {
            notify::notify(
                &sig.hub,
                flags,
                notify::EXPIRED,
                b"expired",
                key,
                *db,
                now,
                me,
            );
        }
        ev.expired_reported = ev.expired.len();
    }
    for (db, key) in std::mem::take(&mut ev.missed) {
        notify::notify(
            &sig.hub,
            flags,
            notify::KEY_MISS,
            b"keymiss",
            &key,
            db,
            now,
            me,
        );
    }
    for (db, key) in std::mem::take(&mut ev.created) {
        notify::notify(&sig.hub, flags, notify::NEW, b"new", &key, db, now, me);
    }
}
