//! Functions: FCALL, FCALL_RO and FUNCTION LOAD / DELETE / DUMP / RESTORE
//! / FLUSH / KILL / LIST / STATS / HELP. The registry and its Lua state are
//! `rubedo_script::functions`; a function runs as an EVAL script does,
//! inside its command's run (every lock held) with `scripting::ScriptHost`
//! as its host, its commands' effects propagated in its place.
//!
//! FUNCTION LOAD, DELETE, FLUSH and RESTORE change the registry: they count
//! as one change each and are propagated as themselves (the append-only log
//! replays them); they run with every lock, so their order in the log is
//! the order they changed the registry in. Snapshots write the registry's
//! libraries (`persistence::functions`), and a loaded file's libraries are
//! created in it (`load_libraries`).

use bytes::Bytes;
use rubedo_persist::rdb::{functions_payload, FunctionsPayload};
use rubedo_resp::Frame;
use rubedo_script::flags as sflags;
use rubedo_script::functions::{Policy, ENGINE};

use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag::*, kf, ks_keynum, Cmd, Lock};
use crate::error::{err, err_quoting, CmdError, CmdResult};
use crate::state::Shared;

use super::scripting::{prepare, script_log};

const G: &str = "scripting";
const S: u64 = acl::SLOW | acl::SCRIPTING;
const W: u64 = acl::WRITE | acl::SLOW | acl::SCRIPTING;
const ALL_SHARDS: &[&str] = &["request_policy:all_shards", "response_policy:all_succeeded"];

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("fcall", -3, fcall)
        .flags(NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | MOVABLE_KEYS | RUNS_SCRIPT)
        .acl(S)
        .specs(&[
            ks_keynum(kf::RW | kf::ACCESS | kf::UPDATE, 2, 0, 1, 1).notes(
                "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE",
            ),
        ])
        .lock(Lock::All)
        .doc(
            G,
            "7.0.0",
            "Depends on the function that is executed.",
            "Invoke a function",
        ),
    Cmd::new("fcall_ro", -3, fcall_ro)
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
        .specs(&[ks_keynum(kf::RO | kf::ACCESS, 2, 0, 1, 1).notes(
            "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS",
        )])
        .lock(Lock::All)
        .doc(
            G,
            "7.0.0",
            "Depends on the function that is executed.",
            "Invoke a read-only function",
        ),
    Cmd::container("function", FUNCTION_SUBS).doc(
        G,
        "7.0.0",
        "Depends on subcommand.",
        "A container for function commands",
    ),
];

static FUNCTION_SUBS: &[Cmd] = &[
    Cmd::new("function|delete", 3, function_delete)
        .flags(WRITE | NOSCRIPT)
        .acl(W)
        .tips(ALL_SHARDS)
        .lock(Lock::All)
        .doc(G, "7.0.0", "O(1)", "Delete a function by name"),
    Cmd::new("function|dump", 2, function_dump)
        .flags(NOSCRIPT)
        .acl(S)
        .doc(
            G,
            "7.0.0",
            "O(N) where N is the number of functions",
            "Dump all functions into a serialized binary payload",
        ),
    Cmd::new("function|flush", -2, function_flush)
        .flags(WRITE | NOSCRIPT)
        .acl(W)
        .tips(ALL_SHARDS)
        .lock(Lock::All)
        .doc(
            G,
            "7.0.0",
            "O(N) where N is the number of functions deleted",
            "Deleting all functions",
        ),
    Cmd::new("function|help", 2, function_help)
        .flags(LOADING | STALE)
        .acl(S)
        .doc(
            G,
            "7.0.0",
            "O(1)",
            "Show helpful text about the different subcommands",
        ),
    Cmd::new("function|kill", 2, function_kill)
        .flags(NOSCRIPT | ALLOW_BUSY | KILLS_FUNCTION)
        .acl(S)
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
        .doc(
            G,
            "7.0.0",
            "O(1)",
            "Kill the function currently in execution.",
        ),
    Cmd::new("function|list", -2, function_list)
        .flags(NOSCRIPT)
        .acl(S)
        .tips(&["nondeterministic_output_order"])
        .doc(
            G,
            "7.0.0",
            "O(N) where N is the number of functions",
            "List information about all the functions",
        ),
    Cmd::new("function|load", -3, function_load)
        .flags(WRITE | DENYOOM | NOSCRIPT)
        .acl(W)
        .tips(ALL_SHARDS)
        .lock(Lock::All)
        .doc(
            G,
            "7.0.0",
            "O(1) (considering compilation time is redundant)",
            "Create a function with the given arguments (name, code, description)",
        ),
    Cmd::new("function|restore", -3, function_restore)
        .flags(WRITE | DENYOOM | NOSCRIPT)
        .acl(W)
        .tips(ALL_SHARDS)
        .lock(Lock::All)
        .doc(
            G,
            "7.0.0",
            "O(N) where N is the number of functions on the payload",
            "Restore all the functions on the given payload",
        ),
    Cmd::new("function|stats", 2, function_stats)
        .flags(NOSCRIPT | ALLOW_BUSY)
        .lock(Lock::None)
        .acl(S)
        .tips(&[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ])
        .doc(
            G,
            "7.0.0",
            "O(1)",
            "Return information about the function currently running (name, description, duration)",
        ),
];

fn fcall(ctx: &mut Ctx) -> CmdResult {
    fcall_generic(ctx, false)
}

fn fcall_ro(ctx: &mut Ctx) -> CmdResult {
    fcall_generic(ctx, true)
}

fn fcall_generic(ctx: &mut Ctx, ro: bool) -> CmdResult {
    ctx.propagate_nothing();
    let srv = ctx.srv;
    let argv = ctx.argv;
    let mut registry = srv.scripting.functions.lock();
    let Some(target) = registry.find(&argv[1]) else {
        return Err(err("Function not found"));
    };
    let n = rubedo_engine::value::parse_i64(&argv[2])
        .ok_or_else(|| err("Bad number of keys provided"))?;
    let rest = &argv[3..];
    if n > rest.len() as i64 {
        return Err(err("Number of keys can't be greater than number of args"));
    }
    if n < 0 {
        return Err(err("Number of keys can't be negative"));
    }
    let (keys, args) = rest.split_at(n as usize);
    prepare(srv, target.flags, ro)?;
    let proto = ctx.client.proto;
    let read_only = ro || target.flags & sflags::NO_WRITES != 0;
    *srv.scripting.current_function.lock() = Some((target.name.clone(), argv.to_vec()));
    crate::cmd::scripting::run_script(ctx, &mut *registry, true, read_only, |r, host, opts| {
        r.call(host, &target, keys, args, proto, opts)
    })
}

/// FUNCTION LOAD [REPLACE] code.
fn function_load(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let mut replace = false;
    for a in &argv[2..argv.len() - 1] {
        if !a.eq_ignore_ascii_case(b"replace") {
            return Err(err_quoting("Unknown option given: ", a, ""));
        }
        replace = true;
    }
    let srv = ctx.srv;
    let code = &argv[argv.len() - 1];
    let loaded = srv
        .scripting
        .functions
        .lock()
        .load(code, replace, &mut |level, msg| script_log(srv, level, msg));
    match loaded {
        Ok(name) => {
            ctx.dirty += 1;
            Ok(Frame::Bulk(name))
        }
        Err(e) => Ok(Frame::Error(e)),
    }
}

fn function_delete(ctx: &mut Ctx) -> CmdResult {
    match ctx.srv.scripting.functions.lock().delete(&ctx.argv[2]) {
        Ok(()) => {
            ctx.dirty += 1;
            Ok(Frame::ok())
        }
        Err(e) => Ok(Frame::Error(e)),
    }
}

/// The reply to a subcommand given too many arguments for its options.
fn syntax(ctx: &Ctx) -> CmdError {
    err_quoting(
        "unknown subcommand or wrong number of arguments for '",
        &ctx.argv[1],
        "'. Try FUNCTION HELP.",
    )
}

/// FUNCTION FLUSH [ASYNC|SYNC]: the libraries go at once either way.
fn function_flush(ctx: &mut Ctx) -> CmdResult {
    if ctx.argv.len() > 3 {
        return Err(syntax(ctx));
    }
    if let Some(mode) = ctx.argv.get(2) {
        if !mode.eq_ignore_ascii_case(b"sync") && !mode.eq_ignore_ascii_case(b"async") {
            return Err(err("FUNCTION FLUSH only supports SYNC|ASYNC option"));
        }
    }
    ctx.srv.scripting.functions.lock().flush();
    ctx.dirty += 1;
    Ok(Frame::ok())
}

/// FUNCTION DUMP: the libraries as RDB records, with the RDB version and
/// the CRC-64, as Redis's payload.
fn function_dump(ctx: &mut Ctx) -> CmdResult {
    let codes = ctx.srv.scripting.functions_published.codes();
    let compress = ctx.srv.config.yes("rdbcompression");
    Ok(Frame::Bulk(Bytes::from(functions_payload(
        codes.iter().map(|c| &c[..]),
        compress,
    ))))
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
fn function_restore(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    if argv.len() > 4 {
        return Err(syntax(ctx));
    }
    let policy = match argv.get(3).map(|p| p.to_ascii_lowercase()) {
        None => Policy::Append,
        Some(p) if p == b"append" => Policy::Append,
        Some(p) if p == b"replace" => Policy::Replace,
        Some(p) if p == b"flush" => Policy::Flush,
        Some(_) => {
            return Err(err(
                "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ))
        }
    };
    let payload = FunctionsPayload::new(&argv[2]).map_err(err)?;
    let srv = ctx.srv;
    let restored = srv
        .scripting
        .functions
        .lock()
        .restore(payload, policy, &mut |level, msg| {
            script_log(srv, level, msg)
        });
    match restored {
        Ok(()) => {
            ctx.dirty += 1;
            Ok(Frame::ok())
        }
        Err(e) => Ok(Frame::Error(e)),
    }
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE], each option once.
fn function_list(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 2;
    while i < argv.len() {
        let a = &argv[i];
        if !with_code && a.eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && a.eq_ignore_ascii_case(b"libraryname") {
            if i + 1 >= argv.len() {
                return Err(err("library name argument was not given"));
            }
            i += 1;
            pattern = Some(&argv[i][..]);
        } else {
            return Err(err_quoting("Unknown argument ", a, ""));
        }
        i += 1;
    }
    Ok(ctx.srv.scripting.functions.lock().list(pattern, with_code))
}

/// FUNCTION STATS: the function running (none: a function holds every
/// lock while it runs, so no other command runs meanwhile) and the
/// engine's counts. Read without the registry's lock.
fn function_stats(ctx: &mut Ctx) -> CmdResult {
    let sc = &ctx.srv.scripting;
    if sc.busy()
        && !sc
            .switches
            .function
            .load(std::sync::atomic::Ordering::Relaxed)
    {
        // A busy EVAL script: only its kill is served.
        return Err(sc.busy_error());
    }
    let p = &ctx.srv.scripting.functions_published;
    let bulk = |s: &'static str| Frame::Bulk(Bytes::from_static(s.as_bytes()));
    Ok(Frame::Map(vec![
        (bulk("running_script"), running_script(ctx.srv)),
        (
            bulk("engines"),
            Frame::Map(vec![(
                bulk(ENGINE),
                Frame::Map(vec![
                    (
                        bulk("libraries_count"),
                        Frame::Integer(p.libraries() as i64),
                    ),
                    (
                        bulk("functions_count"),
                        Frame::Integer(p.functions() as i64),
                    ),
                ]),
            )]),
        ),
    ]))
}

/// FUNCTION STATS's `running_script`: the running function's name, its
/// FCALL and how long it has run, or nil.
fn running_script(srv: &Shared) -> Frame {
    let sw = &srv.scripting.switches;
    if !(sw.running.load(std::sync::atomic::Ordering::Relaxed)
        && sw.function.load(std::sync::atomic::Ordering::Relaxed))
    {
        return Frame::Null;
    }
    srv.scripting.running_function()
}

/// FUNCTION KILL: answered by the gate (`KILLS_FUNCTION`), as SCRIPT KILL.
fn function_kill(ctx: &mut Ctx) -> CmdResult {
    crate::cmd::scripting::kill(ctx.srv, true)
}

fn function_help(_ctx: &mut Ctx) -> CmdResult {
    Ok(super::help(
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    ))
}

/// Creates the libraries a loaded file held (each one's code), replacing
/// loaded libraries of the same name if `replace` (DEBUG RELOAD MERGE);
/// otherwise one already loaded is an error. Returns the first library's
/// error, as the load reports it.
pub fn load_libraries(srv: &Shared, codes: &[Vec<u8>], replace: bool) -> Result<(), String> {
    let mut registry = srv.scripting.functions.lock();
    for code in codes {
        let code = Bytes::copy_from_slice(code);
        if let Err(e) = registry.load(&code, replace, &mut |level, msg| {
            script_log(srv, level, msg)
        }) {
            let text = String::from_utf8_lossy(&e);
            return Err(format!(
                "Failed loading library, {}",
                text.strip_prefix("ERR ").unwrap_or(&text)
            ));
        }
    }
    Ok(())
}

/// Every library goes (DEBUG RELOAD and DEBUG LOADAOF start from nothing).
pub fn flush_libraries(srv: &Shared) {
    srv.scripting.functions.lock().flush();
}
