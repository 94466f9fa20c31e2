//! Command execution: lookup, arity, authentication, MULTI queueing,
//! locking the command's scope, running the handler, then the after-effects
//! every command shares (statistics, lazily expired keys, propagation).

use std::sync::atomic::Ordering::Relaxed;

use bytes::{Bytes, BytesMut};
use rubedo_engine::{Dbs, Events, Keyspace, Scope};
use rubedo_resp::Frame;

use crate::dispatch::ctx::Ctx;
use crate::dispatch::gate::{admit, queue, reject, resolve, Caller};
use crate::dispatch::outcome::{Answer, Outcome};
use crate::dispatch::table::{flag, Cmd, Lock};
use crate::error::CmdError;
use crate::propagate::{Op, Rewrite};
use crate::session::client::{Client, Multi};
use crate::signals::blocking::Parked;
use crate::state::Shared;

/// The engine plus the shared state: one per server process.
pub struct Server<K: Keyspace> {
    pub ks: K,
    pub shared: Shared,
}

/// Runs one command from a client and returns what it leaves the client.
pub fn execute<K: Keyspace>(server: &Server<K>, client: &mut Client, argv: Vec<Bytes>) -> Outcome {
    execute_as(server, client, argv, Caller::Client)
}

fn execute_as<K: Keyspace>(
    server: &Server<K>,
    client: &mut Client,
    argv: Vec<Bytes>,
    caller: Caller,
) -> Outcome {
    let is_client_cmd = argv[0].eq_ignore_ascii_case(b"client");
    let reply = dispatch(server, client, argv, caller);
    // CLIENT CACHING applies to the next command only (or to a whole
    // transaction), refused ones included, and survives CLIENT subcommands.
    let tf = &client.info.tracking.flags;
    if tf.load(Relaxed) & crate::signals::tracking::flags::CACHING != 0
        && client.multi.is_none()
        && !is_client_cmd
    {
        tf.fetch_and(!crate::signals::tracking::flags::CACHING, Relaxed);
    }
    reply
}

/// A request's path: resolve the row, admit it, then queue it (inside
/// MULTI) or run it.
fn dispatch<K: Keyspace>(
    server: &Server<K>,
    client: &mut Client,
    argv: Vec<Bytes>,
    caller: Caller,
) -> Outcome {
    let srv = &server.shared;
    let cmd = match resolve(srv, &argv) {
        Ok(c) => c,
        Err(e) => {
            let exec = srv
                .table
                .get(&argv[0])
                .is_some_and(|c| c.has(flag::RUNS_QUEUE));
            return Outcome::reply(reject(srv, client, None, exec, e));
        }
    };
    if caller == Caller::Client {
        if let Err(e) = admit(srv, client, cmd) {
            let exec = cmd.has(flag::RUNS_QUEUE);
            return Outcome::reply(reject(srv, client, Some(cmd), exec, e));
        }
        if client.multi.is_some() && !cmd.has(flag::NOT_QUEUED) {
            return Outcome::reply(queue(srv, client, cmd, argv));
        }
        if cmd.has(flag::KILLS_SCRIPT | flag::KILLS_FUNCTION) {
            // The busy script holds the locks: answered without a run.
            let r = crate::cmd::scripting::kill(srv, cmd.has(flag::KILLS_FUNCTION));
            let st = &srv.stats.per_cmd[srv.table.id(cmd)];
            st.calls.fetch_add(1, Relaxed);
            srv.stats.commands_processed.fetch_add(1, Relaxed);
            let f = r.unwrap_or_else(|e| {
                st.failed.fetch_add(1, Relaxed);
                let f = e.reply();
                if let Frame::Error(t) = &f {
                    srv.stats.error(t);
                }
                f
            });
            return Outcome::reply(f);
        }
    }
    run(server, client, cmd, argv, caller)
}

/// The next slice of a busy script that yielded (single engine), in a run
/// that locks everything; when it ends, its effects are emitted as one
/// unit and the clients its writes made ready are served, as after any
/// command.
pub fn resume_script<K: Keyspace>(server: &Server<K>, client: &mut Client) -> Outcome {
    let srv = &server.shared;
    let (outcome, seq) = server.ks.run(Scope::All, |dbs| {
        let mut effects = Vec::new();
        let Some(reply) = crate::cmd::scripting::resume(srv, client, dbs, &mut effects) else {
            return (
                Outcome {
                    answer: Answer::Script,
                    extra: None,
                },
                0,
            );
        };
        let now = dbs.now();
        let seq = after_run(srv, dbs.settle_events(), effects, now);
        if srv.signals.blocking.has_ready() {
            dbs.events().reset();
            serve_ready(srv, dbs);
        }
        let mut before = BytesMut::new();
        let mut after = BytesMut::new();
        client.info.outbox.take_own(&mut before, &mut after);
        (Outcome::new(Answer::Reply(reply), before, after, None), seq)
    });
    if seq > 0 {
        client.last_effect = seq;
    }
    outcome
}

/// Locks the command's scope, runs it, and leaves the run's effects; then
/// serves the clients its writes made ready, inside the same run.
fn run<K: Keyspace>(
    server: &Server<K>,
    client: &mut Client,
    cmd: &'static Cmd,
    argv: Vec<Bytes>,
    caller: Caller,
) -> Outcome {
    let srv = &server.shared;
    // Under the concurrent engine a command that comes while a script has
    // run for a while (it holds every lock) waits off the runtime's
    // threads, so the rest go on being served; it is answered -BUSY if
    // the script gets busy meanwhile, as Redis answers what came in
    // before.
    if server.ks.wants_keys() && srv.scripting.busy() && cmd.has(flag::BUSY_NOLOCK) {
        return run_locked(server, client, cmd, argv, caller, Some(Scope::Nothing));
    }
    if server.ks.wants_keys()
        && cmd.lock != Lock::None
        && caller == Caller::Client
        && srv.scripting.switches.running.load(Relaxed)
        && srv.scripting.running_for_us(mono_us()) > 1000
        && may_block_in_place()
    {
        return tokio::task::block_in_place(|| {
            let sw = &srv.scripting.switches;
            while sw.running.load(Relaxed) && !sw.busy.load(Relaxed) {
                std::thread::sleep(std::time::Duration::from_micros(500));
            }
            if srv.scripting.busy() && !cmd.has(flag::ALLOW_BUSY) {
                let e = srv.scripting.busy_error();
                return Outcome::reply(reject(srv, client, Some(cmd), false, e));
            }
            run_locked(server, client, cmd, argv, caller, None)
        });
    }
    run_locked(server, client, cmd, argv, caller, None)
}

/// Whether this thread is a worker of a multi-threaded runtime, where
/// `tokio::task::block_in_place` hands its share of the runtime to another
/// thread while it waits.
pub fn may_block_in_place() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// `run` once it may take its locks; `scope` overrides the row's.
fn run_locked<K: Keyspace>(
    server: &Server<K>,
    client: &mut Client,
    cmd: &'static Cmd,
    argv: Vec<Bytes>,
    caller: Caller,
    scope: Option<Scope<'static>>,
) -> Outcome {
    let srv = &server.shared;
    let keys: smallvec::SmallVec<[&[u8]; 4]>;
    let mut scope = match (scope, cmd.lock) {
        (Some(s), _) => s,
        (None, Lock::All) => Scope::All,
        (None, Lock::None) => Scope::Nothing,
        (None, Lock::Db) => Scope::Db(client.db),
        // The single-threaded engine locks nothing: skip computing the keys.
        (None, Lock::Keys) if !server.ks.wants_keys() => Scope::Keys {
            db: client.db,
            keys: &[],
        },
        (None, Lock::Keys) => {
            keys = cmd
                .key_indexes(&argv)
                .into_iter()
                .map(|i| &argv[i][..])
                .collect();
            Scope::Keys {
                db: client.db,
                keys: &keys,
            }
        }
    };
    // A write to a key someone is blocked on serves that client before the
    // locks are released (so no other command can take the data first):
    // under the concurrent engine such a run locks everything. Clients park
    // inside a run that locks everything (see `park`), so a waiter either
    // parked before this run took its keys' locks (seen by the check made
    // again under them, and the run starts over locking everything) or
    // parks after it and finds the data itself.
    let waited = |scope: &Scope<'_>| match *scope {
        Scope::Keys { db, keys } => {
            !keys.is_empty() && cmd.has(flag::WRITE) && srv.signals.blocking.waits_on(db, keys)
        }
        _ => false,
    };
    if server.ks.wants_keys() && waited(&scope) {
        scope = Scope::All;
    }
    let (reply, seq) = loop {
        let serves = matches!(scope, Scope::All) || !server.ks.wants_keys();
        let done = server.ks.run(scope, |dbs| {
            if !serves && waited(&scope) {
                return None;
            }
            let mut effects = Vec::new();
            let reply = call(srv, client, dbs, cmd, &argv, &mut effects, caller);
            let now = dbs.now();
            let seq = after_run(srv, dbs.settle_events(), effects, now);
            if serves && srv.signals.blocking.has_ready() {
                dbs.events().reset();
                serve_ready(srv, dbs);
            }
            Some((reply, seq))
        });
        match done {
            Some(d) => break d,
            None => scope = Scope::All,
        }
    };
    if seq > 0 {
        client.last_effect = seq;
    }
    // Keys outside the scope's own (a waiter parked while this ran).
    if srv.signals.blocking.has_ready() {
        serve_blocked(server);
    }
    reply
}

/// Serves the ready keys' blocked clients in a run of its own, locking
/// everything (for readiness found outside a run that could serve it).
pub fn serve_blocked<K: Keyspace>(server: &Server<K>) {
    let srv = &server.shared;
    server.ks.run(Scope::All, |dbs| serve_ready(srv, dbs));
}

/// Parks a client whose command found nothing to serve. Under the
/// concurrent engine a write may have landed between that command's run
/// and now: parking, looking at the client's keys again and serving it
/// happen in one run that locks everything, so no write falls between
/// them and no other command can take data the client was entitled to.
pub fn park<K: Keyspace>(server: &Server<K>, id: u64, parked: Parked) {
    let srv = &server.shared;
    if !server.ks.wants_keys() {
        // One lock for everything: the run that found nothing is the last
        // one before this, so nothing can have changed.
        srv.signals.blocking.park(id, parked);
        return;
    }
    server.ks.run(Scope::All, |dbs| {
        let (db, keys) = (parked.req.db, parked.req.keys.clone());
        srv.signals.blocking.park(id, parked);
        for k in &keys {
            srv.signals.blocking.signal(db, k);
        }
        if srv.signals.blocking.has_ready() {
            serve_ready(srv, dbs);
        }
    });
}

/// Serves blocked clients whose keys became ready, first blocked first,
/// inside the run that made them ready (as Redis does right after the
/// command). Each waiting command is run again for its client; one that
/// still finds nothing keeps its turn. `dbs` must reach every database.
fn serve_ready(srv: &Shared, dbs: &mut Dbs<'_>) {
    let b = &srv.signals.blocking;
    loop {
        if !b.begin_serving() {
            return;
        }
        while let Some((db, key)) = b.next_ready() {
            while let Some((id, mut p)) = b.take_head(db, &key) {
                let reply = retry(srv, &mut p.client, dbs, &p.req.argv);
                // A key of another type does not serve a waiter (Redis only
                // serves a list waiter from a list): it keeps waiting. A
                // WRONGTYPE from elsewhere (BLMOVE's destination) is its answer.
                let wrong_type = matches!(reply.frame(), Some(Frame::Error(e)) if e.starts_with(b"WRONGTYPE"))
                    && dbs.db(db).raw(&key).map(|e| e.value.kind()) != Some(p.req.pops);
                if matches!(reply.answer, Answer::Block(_)) || wrong_type {
                    b.put_back(id, p);
                    break;
                }
                b.finish(id, &p.req);
                let _ = p.done.send((reply, p.client));
            }
        }
        b.end_serving();
        if !b.has_ready() {
            return;
        }
    }
}

/// Runs a blocked client's command again inside the current run.
fn retry(srv: &Shared, client: &mut Client, dbs: &mut Dbs<'_>, argv: &[Bytes]) -> Outcome {
    let cmd = match resolve(srv, argv) {
        Ok(c) => c,
        Err(e) => return Outcome::reply(e.reply()),
    };
    let mut effects = Vec::new();
    let reply = call(srv, client, dbs, cmd, argv, &mut effects, Caller::Unblocked);
    let now = dbs.now();
    let seq = after_run(srv, dbs.settle_events(), effects, now);
    dbs.events().reset();
    if seq > 0 {
        client.last_effect = seq;
    }
    reply
}

/// Runs a resolved command inside an already locked scope; EXEC uses this
/// for each queued command.
pub fn call(
    srv: &Shared,
    client: &mut Client,
    dbs: &mut Dbs<'_>,
    cmd: &'static Cmd,
    argv: &[Bytes],
    effects: &mut Vec<Op>,
    caller: Caller,
) -> Outcome {
    let handler = cmd.handler.expect("containers resolve to a subcommand");
    let id = srv.table.id(cmd);
    let notify_flags = srv.config.notify_flags.load(Relaxed);
    let ev = dbs.events();
    if notify_flags != 0 {
        ev.track_created = notify_flags & rubedo_pubsub::notify::NEW != 0;
        ev.track_missed = notify_flags & rubedo_pubsub::notify::KEY_MISS != 0;
    }
    // Written keys are recorded only while someone listens for them.
    ev.track_writes = srv.signals.listens_for_writes();
    if caller != Caller::Script {
        client.info.last_cmd.store(id + 1, Relaxed);
    }
    if cmd.has(flag::RUNS_SCRIPT) && caller == Caller::Client && !srv.signals.monitors.is_empty() {
        let now = dbs.now();
        crate::signals::monitor::feed_line(&srv.signals, client, argv, &[], false, now);
    }
    let start = mono_us();
    let mut ctx = Ctx {
        argv,
        cmd,
        dbs,
        client,
        srv,
        dirty: 0,
        effects,
        rewritten: false,
        caller,
        answer: None,
        tail: None,
        redacted: Vec::new(),
        error_counted: false,
    };
    let mut result = handler(&mut ctx);
    let error_counted = ctx.error_counted;
    let answer = ctx.answer.take();
    let tail = ctx.tail.take();
    if ctx.dirty > 0 {
        ctx.signal_writes();
    } else {
        ctx.drop_writes();
    }
    if ctx.dbs.events().outside_scope.get() {
        // A key spec that misses a key the handler needed: never a panic,
        // and never a reply built from a partial view.
        result = Err(CmdError::KeyOutsideScope);
    }
    if notify_flags != 0 {
        crate::dispatch::ctx::report_key_events(&srv.signals, ctx.dbs, notify_flags, ctx.client.id);
    }
    // Keys this command found expired are modified keys, signalled with the
    // client known (its own invalidation follows its reply), and before its
    // read is remembered again.
    let now = ctx.dbs.now();
    let ev = ctx.dbs.events();
    if ev.expired_signalled < ev.expired.len() {
        let fresh: Vec<(usize, rubedo_engine::Key)> = ev.expired[ev.expired_signalled..].to_vec();
        ev.expired_signalled = ev.expired.len();
        for (db, key) in &fresh {
            srv.signals
                .signal_modified(&srv.clients, *db, key, Some(ctx.client), now);
        }
    }
    if cmd.has(flag::READONLY)
        && caller != Caller::Script
        && ctx.client.info.tracking.flags.load(Relaxed) & crate::signals::tracking::flags::ON != 0
    {
        let keys = cmd.key_indexes(argv).into_iter().map(|i| argv[i].clone());
        crate::signals::tracking::remember(&srv.signals, &srv.clients, ctx.client, keys, now);
    }
    if !srv.signals.monitors.is_empty() && caller != Caller::Unblocked {
        let lua = caller == Caller::Script;
        crate::signals::monitor::feed(&srv.signals, ctx.client, cmd, argv, &ctx.redacted, lua, now);
    }
    let (dirty, rewritten, db) = (ctx.dirty, ctx.rewritten, ctx.client.db);
    let st = &srv.stats.per_cmd[id];
    st.calls.fetch_add(1, Relaxed);
    st.usec.fetch_add(mono_us().saturating_sub(start), Relaxed);
    srv.stats.commands_processed.fetch_add(1, Relaxed);
    client.info.tot_cmds.fetch_add(1, Relaxed);
    if dirty > 0 {
        srv.stats.dirty.fetch_add(dirty, Relaxed);
        if !rewritten && srv.propagation.is_active() && cmd.has(flag::WRITE) {
            effects.push(Op {
                db,
                argv: argv.to_vec(),
            });
        }
    }
    let frame = match result {
        Ok(f) => {
            if let Frame::Error(e) = &f {
                st.failed.fetch_add(1, Relaxed);
                if !error_counted {
                    srv.stats.error(e);
                }
            }
            f
        }
        Err(e) => {
            st.failed.fetch_add(1, Relaxed);
            let f = e.reply();
            if let Frame::Error(t) = &f {
                srv.stats.error(t);
            }
            f
        }
    };
    let answer = match answer {
        Some(a) if !matches!(frame, Frame::Error(_)) => a,
        _ => Answer::Reply(frame),
    };
    if tail.is_none() && !client.info.outbox.has_own() {
        return Outcome {
            answer,
            extra: None,
        };
    }
    let (mut before, mut after) = (BytesMut::new(), BytesMut::new());
    client.info.outbox.take_own(&mut before, &mut after);
    Outcome::new(answer, before, after, tail)
}

/// The monotonic clock in microseconds, for commandstats' `usec` (Redis
/// times a call the same way: the difference of two microsecond stamps).
/// Read directly: `Instant`'s `Duration` arithmetic cost more per request
/// than the clock read itself.
pub fn mono_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}

/// What every run leaves behind, while its locks are still held: hit/miss
/// counters, the keys it made ready, the keys that expired lazily, and its
/// write effects as one unit of the log. Returns the seq of the last effect
/// it emitted (0 if none). A run that goes on with another command resets
/// the events first.
pub fn after_run(srv: &Shared, events: &mut Events, effects: Vec<Op>, now_ms: u64) -> u64 {
    if events.hits > 0 {
        srv.stats.keyspace_hits.fetch_add(events.hits, Relaxed);
    }
    if events.misses > 0 {
        srv.stats.keyspace_misses.fetch_add(events.misses, Relaxed);
    }
    for (db, key) in &events.ready {
        srv.signals.blocking.signal(*db, key);
    }
    let mut seq = 0;
    if !events.expired.is_empty() {
        seq = expired(
            srv,
            &events.expired,
            events.expired_reported,
            events.expired_signalled,
            now_ms,
        );
    }
    if !effects.is_empty() {
        seq = srv.propagation.emit(effects);
    }
    seq
}

/// Keys deleted by expiry (lazily in a run, or by the active cycle): the
/// "expired" events not reported yet (from `reported`), statistics, the
/// modified-key signal not given yet (from `signalled`), and a `DEL` each in
/// the effect log. Called while the keys' locks are held. Returns the seq of
/// the last DEL emitted (0 if none).
pub fn expired(
    srv: &Shared,
    keys: &[(usize, rubedo_engine::Key)],
    reported: usize,
    signalled: usize,
    now_ms: u64,
) -> u64 {
    let flags = srv.config.notify_flags.load(Relaxed);
    let mut seq = 0;
    for (i, (db, key)) in keys.iter().enumerate() {
        if flags != 0 && i >= reported {
            let n = rubedo_pubsub::notify::EXPIRED;
            rubedo_pubsub::notify::notify(
                &srv.signals.hub,
                flags,
                n,
                b"expired",
                key,
                *db,
                now_ms,
                0,
            );
        }
        srv.stats.expired_keys.fetch_add(1, Relaxed);
        if i >= signalled {
            srv.signals
                .signal_modified(&srv.clients, *db, key, None, now_ms);
        }
        if srv.propagation.is_active() {
            let del = Rewrite::del(key);
            seq = srv.propagation.emit(vec![Op {
                db: *db,
                argv: del.0,
            }]);
        }
    }
    seq
}

/// Starts a transaction for the client.
pub fn begin_multi(client: &mut Client) {
    client.multi = Some(Multi::default());
    client.info.in_multi.store(true, Relaxed);
}
