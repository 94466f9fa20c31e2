//! The server group: DBSIZE, FLUSH*, SWAPDB, TIME, INFO, CONFIG, SAVE, BGSAVE, LASTSAVE,
//! SHUTDOWN, COMMAND.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rubedo_resp::Frame;

use crate::dispatch::args::{is, Args};
use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag, flag::*, sub_of, Cmd, Find, KeySpec, Lock};
use crate::error::{err, CmdError, CmdResult};

const G: &str = "server";
const KW: u64 = acl::KEYSPACE | acl::WRITE;
const ADM: u64 = acl::ADMIN | acl::SLOW | acl::DANGEROUS;

pub static COMMANDS: &[Cmd] = &[
    // DBSIZE and INFO lock no shard for their run: they read the shards one at a time.
    Cmd::new("dbsize", 1, dbsize).flags(READONLY | FAST).acl(acl::KEYSPACE | acl::READ | acl::FAST).lock(Lock::Keys)
        .tips(&["request_policy:all_shards", "response_policy:agg_sum"]).doc(G, "1.0.0", "O(1)", "Returns the number of keys in the database."),
    Cmd::new("flushdb", -1, flushdb).flags(WRITE).acl(KW | acl::SLOW | acl::DANGEROUS).lock(Lock::Db)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]).doc(G, "1.0.0", "O(N) where N is the number of keys in the selected database", "Remove all keys from the current database."),
    Cmd::new("flushall", -1, flushall).flags(WRITE).acl(KW | acl::SLOW | acl::DANGEROUS).lock(Lock::All)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"]).doc(G, "1.0.0", "O(N) where N is the total number of keys in all databases", "Removes all keys from all databases."),
    Cmd::new("swapdb", 3, swapdb).flags(WRITE | FAST).acl(KW | acl::FAST | acl::DANGEROUS).lock(Lock::All)
        .doc(G, "4.0.0", "O(N) where N is the count of clients watching or blocking on keys from both databases.", "Swaps two Redis databases."),
    Cmd::new("time", 1, time).flags(LOADING | STALE | FAST).acl(acl::FAST)
        .tips(&["nondeterministic_output"]).doc(G, "2.6.0", "O(1)", "Returns the server time."),
    Cmd::new("info", -1, info).flags(LOADING | STALE | SENTINEL).acl(acl::SLOW | acl::DANGEROUS).lock(Lock::Keys)
        .tips(&["nondeterministic_output", "request_policy:all_shards", "response_policy:special"]).doc(G, "1.0.0", "O(1)", "Returns information and statistics about the server."),
    Cmd::new("shutdown", -1, shutdown).flags(ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | SENTINEL | ALLOW_BUSY | BUSY_NOLOCK).acl(ADM).lock(Lock::All)
        .doc(G, "1.0.0", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", "Synchronously saves the database(s) to disk and shuts down the Redis server."),
    Cmd::new("save", 1, save).flags(ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI).acl(ADM).lock(Lock::All)
        .doc(G, "1.0.0", "O(N) where N is the total number of keys in all databases", "Synchronously saves the database(s) to disk."),
    Cmd::new("bgsave", -1, bgsave).flags(ADMIN | NOSCRIPT | NO_ASYNC_LOADING).acl(ADM).lock(Lock::All)
        .doc(G, "1.0.0", "O(1)", "Asynchronously saves the database(s) to disk."),
    Cmd::new("bgrewriteaof", 1, bgrewriteaof).flags(ADMIN | NOSCRIPT | NO_ASYNC_LOADING).acl(ADM).lock(Lock::All)
        .doc(G, "1.0.0", "O(1)", "Asynchronously rewrites the append-only file to disk."),
    Cmd::new("lastsave", 1, lastsave).flags(LOADING | STALE | FAST).acl(acl::ADMIN | acl::FAST | acl::DANGEROUS)
        .tips(&["nondeterministic_output"]).doc(G, "1.0.0", "O(1)", "Returns the Unix timestamp of the last successful save to disk."),
    Cmd::new("monitor", 1, monitor).flags(ADMIN | NOSCRIPT | LOADING | STALE).acl(ADM)
        .doc(G, "1.0.0", "O(1)", "Listens for all requests received by the server in real-time."),
    Cmd::container("config", CONFIG_SUBS).doc(G, "2.0.0", "Depends on subcommand.", "A container for server configuration commands."),
    Cmd::container("command", COMMAND_SUBS).with_handler(command_all).flags(LOADING | STALE | SENTINEL).acl(acl::SLOW | acl::CONNECTION)
        .tips(&["nondeterministic_output_order"]).doc(G, "2.8.13", "O(N) where N is the total number of Redis commands", "Returns detailed information about all commands."),
];

static CONFIG_SUBS: &[Cmd] = &[
    Cmd::new("config|get", -3, config_get)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE)
        .acl(ADM)
        .doc(
            G,
            "2.0.0",
            "O(N) when N is the number of configuration parameters provided",
            "Returns the effective values of configuration parameters.",
        ),
    // Every lock: turning the log on starts its rewrite at this instant.
    Cmd::new("config|set", -4, config_set)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE)
        .acl(ADM)
        .lock(Lock::All)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(
            G,
            "2.0.0",
            "O(N) when N is the number of configuration parameters provided",
            "Sets configuration parameters in-flight.",
        ),
    Cmd::new("config|resetstat", 2, config_resetstat)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE)
        .acl(ADM)
        .doc(G, "2.0.0", "O(1)", "Resets the server's statistics."),
    Cmd::new("config|help", 2, config_help)
        .flags(LOADING | STALE)
        .acl(acl::SLOW)
        .doc(
            G,
            "5.0.0",
            "O(1)",
            "Returns helpful text about the different subcommands.",
        ),
];

const CMD_ACL: u64 = acl::SLOW | acl::CONNECTION;

static COMMAND_SUBS: &[Cmd] = &[
    Cmd::new("command|count", 2, command_count)
        .flags(LOADING | STALE)
        .acl(CMD_ACL)
        .doc(G, "2.8.13", "O(1)", "Returns a count of commands."),
    Cmd::new("command|info", -2, command_info)
        .flags(LOADING | STALE)
        .acl(CMD_ACL)
        .tips(&["nondeterministic_output_order"])
        .doc(
            G,
            "2.8.13",
            "O(N) where N is the number of commands to look up",
            "Returns information about one, multiple or all commands.",
        ),
    Cmd::new("command|docs", -2, command_docs)
        .flags(LOADING | STALE)
        .acl(CMD_ACL)
        .tips(&["nondeterministic_output_order"])
        .doc(
            G,
            "7.0.0",
            "O(N) where N is the number of commands to look up",
            "Returns documentary information about one, multiple or all commands.",
        ),
    Cmd::new("command|list", -2, command_list)
        .flags(LOADING | STALE)
        .acl(CMD_ACL)
        .tips(&["nondeterministic_output_order"])
        .doc(
            G,
            "7.0.0",
            "O(N) where N is the total number of Redis commands",
            "Returns a list of command names.",
        ),
    Cmd::new("command|getkeys", -4, command_getkeys)
        .flags(LOADING | STALE)
        .acl(CMD_ACL)
        .doc(
            G,
            "2.8.13",
            "O(N) where N is the number of arguments to the command",
            "Extracts the key names from an arbitrary command.",
        ),
    Cmd::new("command|help", 2, command_help)
        .flags(LOADING | STALE)
        .acl(CMD_ACL)
        .doc(
            G,
            "5.0.0",
            "O(1)",
            "Returns helpful text about the different subcommands.",
        ),
];

fn dbsize(ctx: &mut Ctx) -> CmdResult {
    Ok(Frame::Integer(ctx.dbs.db_len(ctx.client.db) as i64))
}

/// FLUSHDB/FLUSHALL's optional SYNC/ASYNC. Memory is freed at once either
/// way; the option only has to be valid.
fn flush_mode(ctx: &Ctx) -> Result<(), CmdError> {
    match ctx.argv.len() {
        1 => Ok(()),
        2 if is(&ctx.argv[1], "ASYNC") || is(&ctx.argv[1], "SYNC") => Ok(()),
        _ => Err(CmdError::Syntax),
    }
}

/// The whole-database form of the key-modified signal (FLUSHDB, FLUSHALL,
/// SWAPDB): marks every client watching a key of `db` that exists now as dirty.
pub(crate) fn touch_db_watchers(ctx: &mut Ctx, db: usize) {
    ctx.srv.signals.tap.note_flush(db);
    for (wdb, key, id) in ctx.srv.signals.watches.all() {
        if wdb == db && ctx.dbs.db(db).is_live(&key) {
            if let Some(c) = ctx.srv.clients.client(id) {
                c.dirty_cas.store(true, Relaxed);
            }
        }
    }
}

fn flushdb(ctx: &mut Ctx) -> CmdResult {
    flush_mode(ctx)?;
    let db = ctx.client.db;
    touch_db_watchers(ctx, db);
    let n = ctx.db().clear();
    ctx.dirty += n as u64 + 1;
    let now = ctx.now();
    crate::signals::tracking::flushed(&ctx.srv.signals, &ctx.srv.clients, ctx.client, now);
    Ok(Frame::ok())
}

fn flushall(ctx: &mut Ctx) -> CmdResult {
    flush_mode(ctx)?;
    let mut n = 0;
    for db in 0..ctx.dbs.count() {
        touch_db_watchers(ctx, db);
        n += ctx.dbs.db(db).clear();
    }
    ctx.dirty += n as u64 + 1;
    let now = ctx.now();
    crate::signals::tracking::flushed(&ctx.srv.signals, &ctx.srv.clients, ctx.client, now);
    Ok(Frame::ok())
}

fn swapdb(ctx: &mut Ctx) -> CmdResult {
    let a = crate::dispatch::args::parse_i32(&ctx.argv[1])
        .map_err(|_| err("invalid first DB index"))? as i64;
    let b = crate::dispatch::args::parse_i32(&ctx.argv[2])
        .map_err(|_| err("invalid second DB index"))? as i64;
    let n = ctx.dbs.count() as i64;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(CmdError::DbIndexOutOfRange);
    }
    let (a, b) = (a as usize, b as usize);
    touch_db_watchers(ctx, a);
    touch_db_watchers(ctx, b);
    ctx.dbs.swap(a, b);
    touch_db_watchers(ctx, a);
    touch_db_watchers(ctx, b);
    // Clients blocked on a key the swap filled are served right after it.
    ctx.srv.signals.blocking.signal_db(a);
    ctx.srv.signals.blocking.signal_db(b);
    ctx.dirty += 1;
    Ok(Frame::ok())
}

fn time(_ctx: &mut Ctx) -> CmdResult {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Frame::Array(vec![
        Frame::Bulk(Bytes::from(d.as_secs().to_string())),
        Frame::Bulk(Bytes::from(d.subsec_micros().to_string())),
    ]))
}

fn info(ctx: &mut Ctx) -> CmdResult {
    let sections: Vec<String> = ctx.argv[1..]
        .iter()
        .map(|s| String::from_utf8_lossy(s).to_ascii_lowercase())
        .collect();
    let text = crate::info::render(ctx, &sections);
    Ok(Frame::Verbatim {
        format: *b"txt",
        data: Bytes::from(text),
    })
}

/// Enters monitor mode; a client already in it gets no reply (as in Redis).
fn monitor(ctx: &mut Ctx) -> CmdResult {
    if !ctx.caller.may_block() {
        return Err(err("MONITOR isn't allowed for DENY BLOCKING client"));
    }
    if ctx.client.info.monitor.load(Relaxed) {
        ctx.silence();
        return Ok(Frame::ok());
    }
    ctx.srv.signals.monitors.add(ctx.client.info.clone());
    Ok(Frame::ok())
}

fn shutdown(ctx: &mut Ctx) -> CmdResult {
    let mut f = crate::persistence::ShutdownFlags::default();
    let mut abort = false;
    for a in &ctx.argv[1..] {
        match a.to_ascii_lowercase().as_slice() {
            b"nosave" => f.nosave = true,
            b"save" => f.save = true,
            b"now" => f.now = true,
            b"force" => f.force = true,
            b"abort" => abort = true,
            _ => return Err(CmdError::Syntax),
        }
    }
    if abort && f != Default::default() || f.save && f.nosave {
        return Err(CmdError::Syntax);
    }
    if abort {
        // A shutdown never waits here (there are no replicas to wait for),
        // so none is ever in progress.
        return Err(err("No shutdown in progress."));
    }
    if ctx.srv.scripting.busy() && !f.nosave {
        // The dataset is the busy script's, half done: never saved.
        return Err(ctx.srv.scripting.busy_error());
    }
    if !crate::persistence::prepare_shutdown(ctx.srv, ctx.dbs, f) {
        return Err(err("Errors trying to SHUTDOWN. Check logs."));
    }
    ctx.srv.lifecycle.shutting_down.store(true, Relaxed);
    ctx.srv.lifecycle.shutdown.notify_waiters();
    ctx.srv.lifecycle.shutdown.notify_one();
    ctx.client.close = true;
    ctx.client.reply = crate::session::client::ReplyMode::Off;
    Ok(Frame::ok())
}

fn save(ctx: &mut Ctx) -> CmdResult {
    if ctx.srv.persist.in_progress() {
        return Err(err("Background save already in progress"));
    }
    match crate::persistence::save(ctx.srv, ctx.dbs) {
        Ok(_) => Ok(Frame::ok()),
        // Redis answers a failed SAVE with a bare "-ERR"; the log says why.
        Err(_) => Err(CmdError::Other("ERR".into())),
    }
}

fn bgsave(ctx: &mut Ctx) -> CmdResult {
    // SCHEDULE matters only while another child runs (an AOF rewrite).
    if ctx.argv.len() > 2 || ctx.argv.len() == 2 && !ctx.argv[1].eq_ignore_ascii_case(b"schedule") {
        return Err(CmdError::Syntax);
    }
    let p = &ctx.srv.persist;
    if p.in_progress() {
        return Err(err("Background save already in progress"));
    }
    let schedule = ctx.argv.len() == 2;
    let in_exec = ctx.caller == crate::dispatch::gate::Caller::Exec;
    // As Redis inside a transaction or behind a rewrite: the save starts
    // after it.
    if p.child_active() || in_exec {
        if !schedule && !in_exec {
            return Err(err("Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."));
        }
        p.scheduled.store(true, Relaxed);
        p.wake.notify_one();
        return Ok(Frame::simple("Background saving scheduled"));
    }
    match crate::persistence::start_bgsave(ctx.srv, ctx.dbs) {
        Ok(()) => Ok(Frame::simple("Background saving started")),
        Err(_) => Err(CmdError::Other("ERR".into())),
    }
}

fn bgrewriteaof(ctx: &mut Ctx) -> CmdResult {
    let in_exec = ctx.caller == crate::dispatch::gate::Caller::Exec;
    match crate::aof::bgrewriteaof(ctx.srv, ctx.dbs, in_exec) {
        Ok(s) => Ok(Frame::simple(s)),
        Err(e) => Err(err(e)),
    }
}

fn lastsave(ctx: &mut Ctx) -> CmdResult {
    Ok(Frame::Integer(ctx.srv.persist.lastsave.load(Relaxed) as i64))
}

fn config_get(ctx: &mut Ctx) -> CmdResult {
    // Canonical name -> (name as shown, value), in first-seen order.
    let mut found: Vec<(&'static str, String, String)> = Vec::new();
    let mut add = |canon: &'static str, shown: String, value: String| {
        if !found.iter().any(|f| f.0 == canon) {
            found.push((canon, shown, value));
        }
    };
    for pat in &ctx.argv[2..] {
        let text = String::from_utf8_lossy(pat).into_owned();
        // Like Redis, a name without glob characters is looked up directly
        // and answered under the spelling the client used.
        if !text.contains(['*', '?', '[']) {
            if let Some(p) = crate::config::find(&text) {
                add(p.name, text, ctx.srv.config.get(p.name).unwrap_or_default());
            }
            continue;
        }
        for (name, value) in ctx.srv.config.matching(pat) {
            add(name, name.to_string(), value);
        }
    }
    Ok(Frame::Map(
        found
            .into_iter()
            .map(|(_, n, v)| (Frame::Bulk(Bytes::from(n)), Frame::Bulk(Bytes::from(v))))
            .collect(),
    ))
}

fn config_set(ctx: &mut Ctx) -> CmdResult {
    let args = &ctx.argv[2..];
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let failed = |given: &str, why: &str| {
        err(format!(
            "CONFIG SET failed (possibly related to argument '{given}') - {why}"
        ))
    };
    // (canonical name, name as given, value)
    let mut pairs: Vec<(&'static str, String, String)> = Vec::new();
    for kv in args.chunks(2) {
        let given = String::from_utf8_lossy(&kv[0]).into_owned();
        let Some(p) = crate::config::find(&given) else {
            return Err(crate::error::err_quoting(
                "Unknown option or number of arguments for CONFIG SET - '",
                &kv[0],
                "'",
            ));
        };
        if p.protected && !protected_configs_allowed(ctx) {
            return Err(failed(&given, "can't set protected config"));
        }
        if pairs.iter().any(|(n, _, _)| *n == p.name) {
            return Err(failed(&given, "duplicate parameter"));
        }
        pairs.push((p.name, given, String::from_utf8_lossy(&kv[1]).into_owned()));
    }
    // Validate everything first so a failing pair changes nothing.
    let probe = crate::config::Config::default();
    for (name, given, value) in &pairs {
        probe
            .set(name, value, false)
            .map_err(|why| failed(given, &why))?;
    }
    for (name, given, value) in &pairs {
        let before = ctx.srv.config.get(name);
        ctx.srv
            .config
            .set(name, value, false)
            .map_err(|why| failed(given, &why))?;
        if ctx.srv.config.get(name) != before {
            crate::aof::config_changed(ctx.srv, ctx.dbs, name);
        }
    }
    Ok(Frame::ok())
}

/// Whether `enable-protected-configs` lets this client set protected ones.
fn protected_configs_allowed(ctx: &Ctx) -> bool {
    match ctx.srv.config.get("enable-protected-configs").as_deref() {
        Some("yes") => true,
        Some("local") => ctx.client.is_local,
        _ => false,
    }
}

fn config_resetstat(ctx: &mut Ctx) -> CmdResult {
    ctx.srv.stats.reset();
    Ok(Frame::ok())
}

fn config_help(_ctx: &mut Ctx) -> CmdResult {
    Ok(super::help(
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    ))
}

fn names(table: &[(u64, &str)], bits: u64, prefix: &str) -> Frame {
    Frame::Set(
        table
            .iter()
            .filter(|(b, _)| bits & b != 0)
            .map(|(_, n)| Frame::Simple(Bytes::from(format!("{prefix}{n}"))))
            .collect(),
    )
}

fn key_specs(c: &Cmd) -> Frame {
    let s = |v: &str| Frame::bulk(v.as_bytes());
    let KeySpec::Specs(specs) = c.keys else {
        return Frame::Set(vec![]);
    };
    Frame::Set(
        specs
            .iter()
            .map(|k| {
                let mut m = Vec::new();
                if !k.notes.is_empty() {
                    m.push((s("notes"), s(k.notes)));
                }
                let flags = crate::dispatch::table::kf::names(k.flags)
                    .map(|f| Frame::Simple(Bytes::from_static(f.as_bytes())));
                m.push((s("flags"), Frame::Set(flags.collect())));
                let begin = if matches!(k.find, Find::Unknown) {
                    vec![(s("type"), s("unknown")), (s("spec"), Frame::Map(vec![]))]
                } else {
                    vec![
                        (s("type"), s("index")),
                        (
                            s("spec"),
                            Frame::Map(vec![(s("index"), Frame::Integer(k.index as i64))]),
                        ),
                    ]
                };
                m.push((s("begin_search"), Frame::Map(begin)));
                let int = |n: i32| Frame::Integer(n as i64);
                let (kind, spec) = match k.find {
                    Find::Range { lastkey, keystep } => (
                        "range",
                        vec![
                            (s("lastkey"), int(lastkey)),
                            (s("keystep"), int(keystep)),
                            (s("limit"), int(0)),
                        ],
                    ),
                    Find::Unknown => ("unknown", vec![]),
                    Find::Keynum {
                        keynumidx,
                        firstkey,
                        keystep,
                    } => (
                        "keynum",
                        vec![
                            (s("keynumidx"), int(keynumidx)),
                            (s("firstkey"), int(firstkey)),
                            (s("keystep"), int(keystep)),
                        ],
                    ),
                };
                m.push((
                    s("find_keys"),
                    Frame::Map(vec![(s("type"), s(kind)), (s("spec"), Frame::Map(spec))]),
                ));
                Frame::Map(m)
            })
            .collect(),
    )
}

/// One command's COMMAND INFO entry, in Redis 7's shape.
fn info_of(c: &'static Cmd) -> Frame {
    let (first, last, step) = c.key_triple();
    let mut flags = c.flags;
    if c.movable_keys() {
        flags |= flag::MOVABLE_KEYS;
    }
    // Every command is either @fast or @slow, by its fast flag.
    let acl = c.acl
        | if c.has(flag::FAST) {
            acl::FAST
        } else {
            acl::SLOW
        };
    let acl = if c.handler.is_none() { acl::SLOW } else { acl };
    Frame::Array(vec![
        Frame::bulk(c.name.as_bytes()),
        Frame::Integer(c.arity as i64),
        names(flag::NAMES, flags, ""),
        Frame::Integer(first as i64),
        Frame::Integer(last as i64),
        Frame::Integer(step as i64),
        names(crate::dispatch::table::acl::NAMES, acl, "@"),
        Frame::Set(c.tips.iter().map(|t| Frame::bulk(t.as_bytes())).collect()),
        key_specs(c),
        if c.subs.is_empty() {
            Frame::Set(vec![])
        } else {
            Frame::Array(c.subs.iter().map(info_of).collect())
        },
    ])
}

fn command_all(ctx: &mut Ctx) -> CmdResult {
    Ok(Frame::Array(
        ctx.srv.table.top.iter().map(|c| info_of(c)).collect(),
    ))
}

fn command_count(ctx: &mut Ctx) -> CmdResult {
    Ok(Frame::Integer(ctx.srv.table.top.len() as i64))
}

fn lookup_full(ctx: &Ctx, name: &[u8]) -> Option<&'static Cmd> {
    let s = String::from_utf8_lossy(name).to_ascii_lowercase();
    match s.split_once('|') {
        Some((parent, sub)) => sub_of(ctx.srv.table.get(parent.as_bytes())?, sub.as_bytes()),
        None => ctx.srv.table.get(name),
    }
}

fn command_info(ctx: &mut Ctx) -> CmdResult {
    if ctx.argv.len() == 2 {
        return command_all(ctx);
    }
    Ok(Frame::Array(
        ctx.argv[2..]
            .iter()
            .map(|n| lookup_full(ctx, n).map_or(Frame::Null, info_of))
            .collect(),
    ))
}

fn docs_of(c: &'static Cmd) -> Frame {
    let s = |v: &str| Frame::bulk(v.as_bytes());
    let mut m = vec![
        (s("summary"), s(c.summary)),
        (s("since"), s(c.since)),
        (s("group"), s(c.group)),
        (s("complexity"), s(c.complexity)),
    ];
    if !c.subs.is_empty() {
        m.push((
            s("subcommands"),
            Frame::Map(c.subs.iter().map(|x| (s(x.name), docs_of(x))).collect()),
        ));
    }
    Frame::Map(m)
}

fn command_docs(ctx: &mut Ctx) -> CmdResult {
    let cmds: Vec<&'static Cmd> = if ctx.argv.len() == 2 {
        ctx.srv.table.top.clone()
    } else {
        ctx.argv[2..]
            .iter()
            .filter_map(|n| lookup_full(ctx, n))
            .collect()
    };
    Ok(Frame::Map(
        cmds.into_iter()
            .map(|c| (Frame::bulk(c.name.as_bytes()), docs_of(c)))
            .collect(),
    ))
}

fn command_list(ctx: &mut Ctx) -> CmdResult {
    let mut a = Args::after(ctx.argv, 2);
    type Filter = Box<dyn Fn(&Cmd) -> bool>;
    let mut filter: Option<Filter> = None;
    if a.eat("FILTERBY") {
        if a.eat("MODULE") {
            a.next_bytes()?;
            filter = Some(Box::new(|_| false));
        } else if a.eat("ACLCAT") {
            let cat = String::from_utf8_lossy(a.next_bytes()?).to_ascii_lowercase();
            let bit = crate::dispatch::table::acl::NAMES
                .iter()
                .find(|(_, n)| *n == cat)
                .map(|(b, _)| *b)
                .unwrap_or(0);
            filter = Some(Box::new(move |c: &Cmd| c.acl & bit != 0));
        } else if a.eat("PATTERN") {
            let pat = a.next_bytes()?.clone();
            filter = Some(Box::new(move |c: &Cmd| {
                rubedo_engine::glob::glob_match(&pat, c.name.as_bytes(), true)
            }));
        } else {
            return Err(CmdError::Syntax);
        }
    }
    a.finish()?;
    let mut out = Vec::new();
    for c in ctx.srv.table.all.iter() {
        if filter.as_ref().is_none_or(|f| f(c)) {
            out.push(Frame::bulk(c.name.as_bytes()));
        }
    }
    Ok(Frame::Array(out))
}

fn command_getkeys(ctx: &mut Ctx) -> CmdResult {
    let argv = &ctx.argv[2..];
    // Redis's order of checks: the command (and subcommand) must exist, have
    // keys at all, then accept this many arguments; then its keys are found.
    let Some(top) = ctx.srv.table.get(&argv[0]) else {
        return Err(err("Invalid command specified"));
    };
    let c = if top.subs.is_empty() {
        top
    } else {
        match argv.get(1).and_then(|a| sub_of(top, a)) {
            Some(sub) => sub,
            None if argv.len() < 2 && top.handler.is_some() => top,
            None => return Err(err("Invalid command specified")),
        }
    };
    if c.keys_fn.is_none() && matches!(c.keys, KeySpec::None) {
        return Err(err("The command has no key arguments"));
    }
    if !c.arity_ok(argv.len()) {
        return Err(err("Invalid number of arguments specified for command"));
    }
    let keys = getkeys_positions(c, argv);
    if keys.is_empty() {
        // A command whose keys may be none (EVAL, FCALL) has none here.
        if c.has(NO_MANDATORY_KEYS) {
            return Ok(Frame::Array(Vec::new()));
        }
        return Err(err("Invalid arguments specified for command"));
    }
    Ok(Frame::Array(
        keys.into_iter()
            .map(|i| Frame::Bulk(argv[i].clone()))
            .collect(),
    ))
}

/// The key positions COMMAND GETKEYS reports, found as Redis 7.0 finds them: from the
/// key specs, in spec order; when a spec does not fit the arguments (a key count that
/// is not a non-negative integer, or keys past the end), from the command's own key
/// function instead, which for the key-count commands reads the count with C's atoi.
fn getkeys_positions(c: &Cmd, argv: &[Bytes]) -> Vec<usize> {
    if let Some(f) = c.keys_fn {
        return f(argv);
    }
    let KeySpec::Specs(specs) = c.keys else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for spec in specs {
        match spec_positions(spec, argv) {
            Some(mut keys) => out.append(&mut keys),
            None => return count_fallback(c.name, argv),
        }
    }
    out
}

/// One key spec's positions under Redis's rules, None where Redis deems the spec
/// invalid for these arguments.
fn spec_positions(spec: &crate::dispatch::table::Spec, argv: &[Bytes]) -> Option<Vec<usize>> {
    let argc = argv.len() as i64;
    let mut first = spec.index as i64;
    let (last, step) = match spec.find {
        Find::Range { lastkey, keystep } => {
            let last = if lastkey >= 0 {
                first + lastkey as i64
            } else {
                argc + lastkey as i64
            };
            (last, keystep as i64)
        }
        Find::Keynum {
            keynumidx,
            firstkey,
            keystep,
        } => {
            let count = argv.get((first + keynumidx as i64) as usize)?;
            let n = rubedo_engine::value::parse_i64(count).filter(|n| *n >= 0)?;
            first += firstkey as i64;
            // Redis adds the count as a C int: a count above 2^31 wraps.
            (first + (n as i32) as i64 - 1, keystep as i64)
        }
        Find::Unknown => return None,
    };
    if last >= argc || last < first || first >= argc || step <= 0 {
        return None;
    }
    Some(
        (first..=last)
            .step_by(step as usize)
            .map(|i| i as usize)
            .collect(),
    )
}

/// Redis's key functions for the commands whose key count is an argument (used when
/// their key spec does not fit): the count read with atoi, no keys unless it is at
/// least 1 and no more than the arguments left, then the destination key last.
fn count_fallback(name: &str, argv: &[Bytes]) -> Vec<usize> {
    // (destination, count, first key) positions.
    let (store, count, first) = match name {
        "zunionstore" | "zinterstore" | "zdiffstore" => (Some(1), 2, 3),
        "zunion" | "zinter" | "zdiff" | "zintercard" | "sintercard" | "lmpop" | "zmpop" => {
            (None, 1, 2)
        }
        "blmpop" | "bzmpop" | "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall"
        | "fcall_ro" => (None, 2, 3),
        _ => return Vec::new(),
    };
    let Some(arg) = argv.get(count) else {
        return Vec::new();
    };
    let n = atoi(arg) as i64;
    if n < 1 || n > argv.len() as i64 - first as i64 {
        return Vec::new();
    }
    let mut keys: Vec<usize> = (first..first + n as usize).collect();
    keys.extend(store);
    keys
}

/// C's atoi: strtol's leading white space, sign and digits (saturating at the
/// long range), then truncated to an int (also MIGRATE's port).
pub(crate) fn atoi(s: &[u8]) -> i32 {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        let d = (s[i] - b'0') as i64;
        v = if neg {
            v.saturating_mul(10).saturating_sub(d)
        } else {
            v.saturating_mul(10).saturating_add(d)
        };
        i += 1;
    }
    v as i32
}

fn command_help(_ctx: &mut Ctx) -> CmdResult {
    Ok(super::help(
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
            "GETKEYSANDFLAGS <full-command>",
            "    Return the keys and the access flags from a full Redis command.",
        ],
    ))
}
