//! Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT. The Lua side
//! is `rubedo_script`; this module is its `Host` (for functions too, see
//! `functions.rs`): every `redis.call` goes through `exec::call` (the table
//! row, its flags, the write path, signals, MONITOR, statistics, effects),
//! after the checks Redis makes for commands called from scripts.
//!
//! A script runs inside its EVAL's run, which locks everything (scripts
//! may touch keys they did not declare), so it is atomic under both
//! engines; its commands' effects join EVAL's and are emitted as one unit
//! (MULTI/EXEC when there are several).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use rubedo_engine::{Dbs, Key};
use rubedo_resp::{Frame, Protocol};
use rubedo_script::functions::Published;
use rubedo_script::{flags as sflags, Functions, Host, Progress, RunOpts, Scripts, Switches};

use crate::dispatch::ctx::Ctx;
use crate::dispatch::exec::call;
use crate::dispatch::gate::{resolve, Caller};
use crate::dispatch::table::{acl, flag::*, kf, ks_keynum, Cmd, Lock};
use crate::error::{CmdError, CmdResult};
use crate::propagate::Op;
use crate::session::client::Client;
use crate::state::Shared;

const G: &str = "scripting";
const S: u64 = acl::SLOW | acl::SCRIPTING;

/// Lua memory a script may use (its allocator refuses more).
const LUA_MEMORY_LIMIT: usize = 1 << 30;

/// The server's scripting state.
pub struct Scripting {
    /// EVAL's Lua state and script cache.
    pub eval: Mutex<Scripts>,
    /// Its INFO counters, readable while a script runs.
    pub eval_stats: Arc<rubedo_script::EvalStats>,
    /// The running script as every client sees it (busy, kill, wrote).
    pub switches: Arc<Switches>,
    /// A busy script that yielded between two slices (single engine):
    /// what its run had gathered, kept until it goes on.
    pending: Mutex<Option<Pending>>,
    /// `pending` is set (read by the cron and the persistence task, which
    /// leave the data alone meanwhile).
    suspended: AtomicBool,
    /// When the running script started (`exec::mono_us`).
    since_us: AtomicU64,
    /// The function libraries and their Lua state (held while a function
    /// runs).
    pub functions: Mutex<Functions>,
    /// The libraries' counts and code, readable while a function runs.
    pub functions_published: std::sync::Arc<Published>,
    /// The function FCALL runs (its name and the command), for FUNCTION
    /// STATS while it runs.
    pub current_function: Mutex<Option<(Bytes, Vec<Bytes>)>>,
}

impl Default for Scripting {
    fn default() -> Self {
        let functions = Functions::new(LUA_MEMORY_LIMIT);
        let eval = Scripts::new(LUA_MEMORY_LIMIT);
        Scripting {
            eval_stats: eval.stats(),
            eval: Mutex::new(eval),
            switches: Default::default(),
            pending: Mutex::new(None),
            suspended: AtomicBool::new(false),
            since_us: AtomicU64::new(0),
            functions_published: functions.published(),
            current_function: Mutex::new(None),
            functions: Mutex::new(functions),
        }
    }
}

/// What a yielded script's run had gathered: its effects (emitted as one
/// unit when it ends), the keys it made ready (their blocked clients are
/// served after it), and its host's settings.
struct Pending {
    /// A function (FCALL) rather than an EVAL script.
    function: bool,
    /// The script's time: every slice sees the instant it started.
    now: u64,
    effects: Vec<Op>,
    ready: Vec<(usize, Key)>,
    db: usize,
    read_only: bool,
    repl: u8,
}

impl Scripting {
    /// A script passed busy-reply-threshold and still runs: the gate
    /// answers -BUSY.
    #[inline]
    pub fn busy(&self) -> bool {
        self.switches.busy.load(Relaxed)
    }

    /// A busy script is suspended between two slices: nothing but the
    /// script may touch the data (the cron's expiry, the snapshot walk
    /// wait).
    #[inline]
    pub fn suspended(&self) -> bool {
        self.suspended.load(Relaxed)
    }

    /// How long the running script has run (0 when none runs).
    #[inline]
    pub fn running_for_us(&self, now_us: u64) -> u64 {
        if !self.switches.running.load(Relaxed) {
            return 0;
        }
        now_us.saturating_sub(self.since_us.load(Relaxed))
    }

    /// FUNCTION STATS' running_script: the running function's name, its
    /// command and how long it has run.
    pub fn running_function(&self) -> Frame {
        let Some((name, argv)) = self.current_function.lock().clone() else {
            return Frame::Null;
        };
        let ms =
            crate::dispatch::exec::mono_us().saturating_sub(self.since_us.load(Relaxed)) / 1000;
        Frame::Map(vec![
            (Frame::bulk(b"name"), Frame::Bulk(name)),
            (
                Frame::bulk(b"command"),
                Frame::Array(argv.into_iter().map(Frame::Bulk).collect()),
            ),
            (Frame::bulk(b"duration_ms"), Frame::Integer(ms as i64)),
        ])
    }

    /// The -BUSY refusal for other clients' commands.
    pub fn busy_error(&self) -> CmdError {
        let what = if self.switches.function.load(Relaxed) {
            "FUNCTION"
        } else {
            "SCRIPT"
        };
        CmdError::Other(format!(
            "BUSY Redis is busy running a script. You can only call {what} KILL or SHUTDOWN NOSAVE."
        ))
    }
}

/// How long a script may run before it is busy, and whether it yields.
fn run_opts(srv: &Shared, yieldable: bool) -> RunOpts {
    RunOpts {
        switches: srv.scripting.switches.clone(),
        threshold: Duration::from_millis(srv.config.busy_reply_ms.load(Relaxed)),
        yieldable,
    }
}

const EVAL_NOTES_RW: &str =
    "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE flags";
const EVAL_NOTES_RO: &str =
    "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS flags";

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("eval", -3, eval)
        .flags(NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | MOVABLE_KEYS | RUNS_SCRIPT)
        .acl(S)
        .specs(&[ks_keynum(kf::RW | kf::ACCESS | kf::UPDATE, 2, 0, 1, 1).notes(EVAL_NOTES_RW)])
        .lock(Lock::All)
        .doc(
            G,
            "2.6.0",
            "Depends on the script that is executed.",
            "Executes a server-side Lua script.",
        ),
    Cmd::new("evalsha", -3, evalsha)
        .flags(NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | MOVABLE_KEYS | RUNS_SCRIPT)
        .acl(S)
        .specs(&[ks_keynum(kf::RW | kf::ACCESS | kf::UPDATE, 2, 0, 1, 1)])
        .lock(Lock::All)
        .doc(
            G,
            "2.6.0",
            "Depends on the script that is executed.",
            "Executes a server-side Lua script by SHA1 digest.",
        ),
    Cmd::new("eval_ro", -3, eval_ro)
        .flags(
            READONLY
                | NOSCRIPT
                | STALE
                | SKIP_MONITOR
                | NO_MANDATORY_KEYS
                | MOVABLE_KEYS
                | RUNS_SCRIPT,
        )
        .acl(S)
        .specs(&[ks_keynum(kf::RO | kf::ACCESS, 2, 0, 1, 1).notes(EVAL_NOTES_RO)])
        .lock(Lock::All)
        .doc(
            G,
            "7.0.0",
            "Depends on the script that is executed.",
            "Executes a read-only server-side Lua script.",
        ),
    Cmd::new("evalsha_ro", -3, evalsha_ro)
        .flags(
            READONLY
                | NOSCRIPT
                | STALE
                | SKIP_MONITOR
                | NO_MANDATORY_KEYS
                | MOVABLE_KEYS
                | RUNS_SCRIPT,
        )
        .acl(S)
        .specs(&[ks_keynum(kf::RO | kf::ACCESS, 2, 0, 1, 1)])
        .lock(Lock::All)
        .doc(
            G,
            "7.0.0",
            "Depends on the script that is executed.",
            "Executes a read-only server-side Lua script by SHA1 digest.",
        ),
    Cmd::container("script", SCRIPT_SUBS).doc(
        G,
        "2.6.0",
        "Depends on subcommand.",
        "A container for Lua scripts management commands.",
    ),
];

static SCRIPT_SUBS: &[Cmd] = &[
    Cmd::new("script|load", 3, script_load)
        .flags(NOSCRIPT | STALE)
        .acl(S)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(G, "2.6.0", "O(N) with N being the length in bytes of the script body.", "Loads a server-side Lua script to the script cache."),
    Cmd::new("script|exists", -3, script_exists)
        .flags(NOSCRIPT)
        .acl(S)
        .tips(&["request_policy:all_shards", "response_policy:agg_logical_and"])
        .doc(G, "2.6.0", "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).", "Determines whether server-side Lua scripts exist in the script cache."),
    Cmd::new("script|flush", -2, script_flush)
        .flags(NOSCRIPT)
        .acl(S)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(G, "2.6.0", "O(N) with N being the number of scripts in cache", "Removes all server-side Lua scripts from the script cache."),
    Cmd::new("script|kill", 2, script_kill)
        .flags(NOSCRIPT | ALLOW_BUSY | KILLS_SCRIPT)
        .acl(S)
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
        .doc(G, "2.6.0", "O(1)", "Terminates a server-side Lua script during execution."),
    Cmd::new("script|help", 2, script_help)
        .flags(LOADING | STALE)
        .acl(S)
        .doc(G, "5.0.0", "O(1)", "Returns helpful text about the different subcommands."),
];

fn eval(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, false, false)
}

fn evalsha(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, true, false)
}

fn eval_ro(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, false, true)
}

fn evalsha_ro(ctx: &mut Ctx) -> CmdResult {
    eval_generic(ctx, true, true)
}

/// Splits EVAL's arguments after the script into keys and arguments.
fn keys_and_args(argv: &[Bytes]) -> Result<(&[Bytes], &[Bytes]), CmdError> {
    let n = crate::dispatch::args::Args::new(&argv[1..]).next_i64()?;
    let rest = &argv[3..];
    if n > rest.len() as i64 {
        return Err(CmdError::Other(
            "ERR Number of keys can't be greater than number of args".into(),
        ));
    }
    if n < 0 {
        return Err(CmdError::Other(
            "ERR Number of keys can't be negative".into(),
        ));
    }
    Ok(rest.split_at(n as usize))
}

fn eval_generic(ctx: &mut Ctx, by_sha: bool, ro: bool) -> CmdResult {
    ctx.propagate_nothing();
    let argv = ctx.argv;
    let (keys, args) = keys_and_args(argv)?;
    let srv = ctx.srv;
    let mut scripts = srv.scripting.eval.lock();
    let sha = if by_sha {
        match scripts.get(&argv[1]) {
            Some(_) => {
                let mut k = [0u8; 40];
                k.copy_from_slice(&argv[1].to_ascii_lowercase());
                k
            }
            None => {
                return Err(CmdError::Other(
                    "NOSCRIPT No matching script. Please use EVAL.".into(),
                ))
            }
        }
    } else {
        match scripts.load(&argv[1]) {
            Ok(sha) => sha,
            Err(e) => return Ok(e),
        }
    };
    let script_flags = scripts.get(&sha).map_or(0, |c| c.flags);
    prepare(srv, script_flags, ro)?;
    let proto = ctx.client.proto;
    let read_only = ro || script_flags & sflags::NO_WRITES != 0;
    run_script(ctx, &mut *scripts, false, read_only, |s, host, opts| {
        s.run(host, &sha, keys, args, proto, opts)
    })
}

/// A Lua engine a script runs in: EVAL's or the functions'.
pub(crate) trait Engine {
    fn resume(&mut self, host: &mut dyn Host, opts: &RunOpts) -> Progress;
}

impl Engine for Scripts {
    fn resume(&mut self, host: &mut dyn Host, opts: &RunOpts) -> Progress {
        Scripts::resume(self, host, opts)
    }
}

impl Engine for Functions {
    fn resume(&mut self, host: &mut dyn Host, opts: &RunOpts) -> Progress {
        Functions::resume(self, host, opts)
    }
}

/// Runs a script (`start` starts it in `engine`) for the command of `ctx`,
/// with what a long one needs. A busy script yields once it passes
/// busy-reply-threshold. Under the single engine the connection then lets
/// the loop serve the others between slices (never inside EXEC, which
/// cannot wait); under the concurrent engine it goes on at once, in this
/// run, on a thread that gave its share of the runtime to another
/// (`finish_in_place`).
pub(crate) fn run_script<E: Engine>(
    ctx: &mut Ctx,
    engine: &mut E,
    function: bool,
    read_only: bool,
    start: impl FnOnce(&mut E, &mut ScriptHost, &RunOpts) -> Progress,
) -> CmdResult {
    let srv = ctx.srv;
    let concurrent = srv.process.engine_name != "single";
    let yieldable = concurrent || ctx.caller == Caller::Client;
    let opts = run_opts(srv, yieldable);
    srv.scripting.switches.function.store(function, Relaxed);
    srv.scripting
        .since_us
        .store(crate::dispatch::exec::mono_us(), Relaxed);
    let mut host = ScriptHost {
        srv,
        db: ctx.client.db,
        client: ctx.client,
        dbs: ctx.dbs,
        effects: ctx.effects,
        read_only,
        repl: 3,
    };
    let progress = start(engine, &mut host, &opts);
    if concurrent {
        let f = finish_in_place(engine, &mut host, progress);
        ctx.error_counted = rubedo_script::reply_error_counted();
        return Ok(f);
    }
    let (db, read_only, repl) = (host.db, host.read_only, host.repl);
    match progress {
        Progress::Done(f) => {
            ctx.error_counted = rubedo_script::reply_error_counted();
            Ok(f)
        }
        Progress::Yielded => {
            suspend(ctx, function, db, read_only, repl);
            Ok(Frame::Null)
        }
    }
}

/// Under the concurrent engine a busy script runs to its end in the run
/// that started it, inside `block_in_place`: this worker thread hands its
/// share of the runtime to another, which answers the other clients
/// (-BUSY, SCRIPT KILL) while the script holds the locks.
fn finish_in_place<E: Engine>(engine: &mut E, host: &mut ScriptHost, progress: Progress) -> Frame {
    let Progress::Yielded = progress else {
        let Progress::Done(f) = progress else {
            unreachable!()
        };
        return f;
    };
    let opts = run_opts(host.srv, false);
    let mut go = || loop {
        if let Progress::Done(f) = engine.resume(&mut *host, &opts) {
            return f;
        }
    };
    if crate::dispatch::exec::may_block_in_place() {
        tokio::task::block_in_place(go)
    } else {
        go()
    }
}

/// Ends the first slice of a yielded script's run: what the run gathered
/// is kept for the next slice, and the connection is told to come back.
fn suspend(ctx: &mut Ctx, function: bool, db: usize, read_only: bool, repl: u8) {
    let p = Pending {
        function,
        now: ctx.dbs.now(),
        effects: std::mem::take(ctx.effects),
        ready: std::mem::take(&mut ctx.dbs.events().ready),
        db,
        read_only,
        repl,
    };
    *ctx.srv.scripting.pending.lock() = Some(p);
    ctx.srv.scripting.suspended.store(true, Relaxed);
    ctx.answer = Some(crate::dispatch::outcome::Answer::Script);
}

/// The next slice of a yielded script, inside a run of its own that locks
/// everything (`exec::resume_script`). Returns its reply when it ended;
/// `None` when it yielded again.
pub fn resume(
    srv: &Shared,
    client: &mut Client,
    dbs: &mut Dbs<'_>,
    effects: &mut Vec<Op>,
) -> Option<Frame> {
    let Some(p) = srv.scripting.pending.lock().take() else {
        return Some(Frame::error("ERR no script to resume"));
    };
    srv.scripting.suspended.store(false, Relaxed);
    dbs.set_now(p.now);
    effects.extend(p.effects);
    dbs.events().ready.extend(p.ready);
    let opts = run_opts(srv, true);
    let mut host = ScriptHost {
        srv,
        db: p.db,
        client,
        dbs,
        effects,
        read_only: p.read_only,
        repl: p.repl,
    };
    let function = p.function;
    let progress = if function {
        srv.scripting.functions.lock().resume(&mut host, &opts)
    } else {
        srv.scripting.eval.lock().resume(&mut host, &opts)
    };
    let (db, read_only, repl) = (host.db, host.read_only, host.repl);
    match progress {
        Progress::Done(f) => {
            if let Frame::Error(e) = &f {
                if !rubedo_script::reply_error_counted() {
                    srv.stats.error(e);
                }
            }
            Some(f)
        }
        Progress::Yielded => {
            let p = Pending {
                function,
                now: dbs.now(),
                effects: std::mem::take(effects),
                ready: std::mem::take(&mut dbs.events().ready),
                db,
                read_only,
                repl,
            };
            *srv.scripting.pending.lock() = Some(p);
            srv.scripting.suspended.store(true, Relaxed);
            None
        }
    }
}

/// The checks a script's flags call for before it runs (EVAL with a
/// shebang, every function): one that may write is refused by a `*_RO`
/// command and while writes are refused for a failed save or log write.
/// (Rubedo has no replicas, no cluster and no maxmemory yet, so the
/// checks of `allow-stale`, `no-cluster` and `allow-oom` never refuse.)
pub(crate) fn prepare(srv: &Shared, script_flags: u32, ro: bool) -> Result<(), CmdError> {
    if script_flags & (sflags::EVAL_COMPAT | sflags::NO_WRITES) != 0 {
        return Ok(());
    }
    if let Some(e) = crate::persistence::disk_error(srv) {
        let text = e.text();
        return Err(CmdError::Other(
            if text.starts_with("MISCONF Redis is configured") {
                "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.".into()
            } else {
                text
            },
        ));
    }
    if ro {
        return Err(CmdError::Other(
            "ERR Can not execute a script with write flag using *_ro command.".into(),
        ));
    }
    Ok(())
}

/// The server as a script sees it: commands run as the calling client
/// (its database as the script selects it, the script's protocol) inside
/// the run of the EVAL or FCALL that runs the script.
pub(crate) struct ScriptHost<'a, 'b> {
    srv: &'a Shared,
    client: &'a mut Client,
    dbs: &'a mut Dbs<'b>,
    effects: &'a mut Vec<Op>,
    /// The script's database (SELECT inside a script changes only it).
    db: usize,
    /// EVAL_RO, or a script flagged no-writes.
    read_only: bool,
    /// redis.set_repl's targets.
    repl: u8,
}

impl Host for ScriptHost<'_, '_> {
    fn call(&mut self, argv: Vec<Bytes>, resp3: bool) -> Frame {
        let srv = self.srv;
        // A refusal counts in the error statistics as the command's own
        // error would.
        let refuse = |msg: &'static str| {
            srv.stats.error(msg.as_bytes());
            Frame::error(msg)
        };
        let cmd = match resolve(srv, &argv) {
            Ok(c) => c,
            Err(CmdError::WrongArity(_)) => {
                return refuse("ERR Wrong number of args calling Redis command from script")
            }
            Err(_) => return refuse("ERR Unknown Redis command called from script"),
        };
        if cmd.handler.is_none() {
            return refuse("ERR Wrong number of args calling Redis command from script");
        }
        if cmd.has(NOSCRIPT) {
            return refuse("ERR This Redis command is not allowed from script");
        }
        if cmd.has(WRITE | MAY_REPLICATE) && self.read_only {
            return refuse("ERR Write commands are not allowed from read-only scripts.");
        }
        if cmd.has(WRITE) && !srv.persist.healthy(srv) {
            // Writes stop after a failed save or log write, inside scripts
            // as outside (MISCONF).
            if let Some(e) = crate::persistence::disk_error(srv) {
                let f = e.reply();
                if let Frame::Error(t) = &f {
                    srv.stats.error(t);
                }
                return f;
            }
        }
        let (caller_db, caller_proto) = (self.client.db, self.client.proto);
        self.client.db = self.db;
        self.client.proto = if resp3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
        let before = self.effects.len();
        let dirty = srv.stats.dirty.load(Relaxed);
        let outcome = call(
            srv,
            self.client,
            self.dbs,
            cmd,
            &argv,
            self.effects,
            Caller::Script,
        );
        if srv.stats.dirty.load(Relaxed) != dirty {
            // From now on the script cannot be killed (UNKILLABLE).
            srv.scripting.switches.wrote.store(true, Relaxed);
        }
        if self.repl == 0 {
            self.effects.truncate(before);
        }
        let proto = self.client.proto;
        self.db = self.client.db;
        self.client.db = caller_db;
        self.client.proto = caller_proto;
        outcome.into_frame(proto)
    }

    fn acl_check(&mut self, argv: &[Bytes]) -> Option<bool> {
        self.srv.table.get(&argv[0]).map(|_| true)
    }

    fn log(&mut self, level: u8, msg: &[u8]) {
        script_log(self.srv, level, msg);
    }

    fn set_repl(&mut self, flags: u8) {
        self.repl = flags;
    }

    fn busy(&mut self) {
        crate::log!(
            "Slow script detected: still in execution after {} milliseconds. You can try killing the script using the SCRIPT KILL command.",
            self.srv.config.busy_reply_ms.load(Relaxed)
        );
    }
}

/// A script's `redis.log` line at `level` (0 debug .. 3 warning), if
/// `loglevel` lets it through.
pub(crate) fn script_log(srv: &Shared, level: u8, msg: &[u8]) {
    let verbosity = match srv.config.get("loglevel").as_deref() {
        Some("debug") => 0,
        Some("verbose") => 1,
        Some("warning") => 3,
        Some("nothing") => 4,
        _ => 2,
    };
    if level >= verbosity {
        let mark = ['.', '-', '*', '#'][level as usize & 3];
        crate::log!(
            "{} {mark} {}",
            std::process::id(),
            String::from_utf8_lossy(msg)
        );
    }
}

fn script_load(ctx: &mut Ctx) -> CmdResult {
    let mut scripts = ctx.srv.scripting.eval.lock();
    match scripts.load(&ctx.argv[2]) {
        Ok(sha) => Ok(Frame::Bulk(Bytes::copy_from_slice(&sha))),
        Err(e) => Ok(e),
    }
}

fn script_exists(ctx: &mut Ctx) -> CmdResult {
    let scripts = ctx.srv.scripting.eval.lock();
    Ok(Frame::Array(
        ctx.argv[2..]
            .iter()
            .map(|s| Frame::Integer(scripts.exists(s) as i64))
            .collect(),
    ))
}

fn script_flush(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.scripting.suspended() {
        return Err(ctx.srv.scripting.busy_error());
    }
    if ctx.argv.len() > 3
        || (ctx.argv.len() == 3
            && !ctx.argv[2].eq_ignore_ascii_case(b"sync")
            && !ctx.argv[2].eq_ignore_ascii_case(b"async"))
    {
        return Err(CmdError::Other(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option".into(),
        ));
    }
    ctx.srv.scripting.eval.lock().flush();
    Ok(Frame::ok())
}

fn script_kill(ctx: &mut Ctx) -> CmdResult {
    kill(ctx.srv, false)
}

/// SCRIPT KILL (`function` false) and FUNCTION KILL: asks the busy
/// script to stop at its hook's next look. Answered by the gate without
/// a run (under the concurrent engine the script holds every lock).
pub fn kill(srv: &Shared, function: bool) -> CmdResult {
    let sw = &srv.scripting.switches;
    if !sw.running.load(Relaxed) || !sw.busy.load(Relaxed) {
        return Err(CmdError::Other(
            "NOTBUSY No scripts in execution right now.".into(),
        ));
    }
    if sw.function.load(Relaxed) != function {
        // The other kind is running: the -BUSY that names its kill.
        return Err(srv.scripting.busy_error());
    }
    if sw.wrote.load(Relaxed) {
        return Err(CmdError::Other(
            "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.".into(),
        ));
    }
    sw.kill.store(true, Relaxed);
    Ok(Frame::ok())
}

fn script_help(_ctx: &mut Ctx) -> CmdResult {
    Ok(super::help(
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    ))
}

/// INFO's counters of the scripting state.
/// Read without the cache's lock: a script may be running (and calling INFO).
pub fn info(srv: &Shared) -> (usize, usize, usize) {
    let s = &srv.scripting.eval_stats;
    (
        s.memory.used.load(Relaxed),
        s.scripts.load(Relaxed),
        s.body_bytes.load(Relaxed),
    )
}
