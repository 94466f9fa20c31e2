//! The connection group: PING, ECHO, SELECT, HELLO, AUTH, RESET, QUIT, CLIENT.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use rubedo_resp::{Frame, Protocol};

use crate::dispatch::args::{is, parse_i64, Args};
use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag::*, Cmd, Lock};
use crate::error::{err, CmdError, CmdResult};
use crate::session::client::ReplyMode;
use crate::state::ClientInfo;

const G: &str = "connection";
const C: u64 = acl::CONNECTION;

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("ping", -1, ping)
        .flags(FAST | SENTINEL | SUBSCRIBED_OK)
        .acl(C | acl::FAST)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            G,
            "1.0.0",
            "O(1)",
            "Returns the server's liveliness response.",
        ),
    Cmd::new("echo", 2, echo)
        .flags(LOADING | STALE | FAST)
        .acl(C | acl::FAST)
        .doc(G, "1.0.0", "O(1)", "Returns the given string."),
    Cmd::new("quit", -1, quit)
        .flags(
            ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SUBSCRIBED_OK | NOT_QUEUED,
        )
        .acl(C | acl::FAST)
        .lock(Lock::None)
        .doc(G, "1.0.0", "O(1)", "Closes the connection."),
    Cmd::new("select", 2, select)
        .flags(LOADING | STALE | FAST)
        .acl(C | acl::FAST)
        .doc(G, "1.0.0", "O(1)", "Changes the selected database."),
    Cmd::new("hello", -1, hello)
        .flags(NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY)
        .acl(C | acl::FAST)
        .lock(Lock::None)
        .doc(G, "6.0.0", "O(1)", "Handshakes with the Redis server."),
    Cmd::new("auth", -2, auth)
        .flags(NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY)
        .acl(C | acl::FAST)
        .lock(Lock::None)
        .doc(
            G,
            "1.0.0",
            "O(N) where N is the number of passwords defined for the user",
            "Authenticates the connection.",
        ),
    Cmd::new("reset", 1, reset)
        .flags(
            NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | SUBSCRIBED_OK | NOT_QUEUED,
        )
        .acl(C | acl::FAST)
        .lock(Lock::None)
        .doc(G, "6.2.0", "O(1)", "Resets the connection."),
    Cmd::container("client", CLIENT_SUBS).doc(
        G,
        "2.4.0",
        "Depends on subcommand.",
        "A container for client connection commands.",
    ),
];

const CS: u64 = C | acl::SLOW;
const CA: u64 = C | acl::SLOW | acl::ADMIN | acl::DANGEROUS;

static CLIENT_SUBS: &[Cmd] = &[
    Cmd::new("client|id", 2, client_id)
        .flags(NOSCRIPT | LOADING | STALE)
        .acl(CS)
        .doc(
            G,
            "5.0.0",
            "O(1)",
            "Returns the unique client ID of the connection.",
        ),
    Cmd::new("client|getname", 2, client_getname)
        .flags(NOSCRIPT | LOADING | STALE)
        .acl(CS)
        .doc(G, "2.6.9", "O(1)", "Returns the name of the connection."),
    Cmd::new("client|setname", 3, client_setname)
        .flags(NOSCRIPT | LOADING | STALE)
        .acl(CS)
        .doc(G, "2.6.9", "O(1)", "Sets the connection name."),
    Cmd::new("client|list", -2, client_list)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE)
        .acl(CA)
        .tips(&["nondeterministic_output"])
        .doc(
            G,
            "2.4.0",
            "O(N) where N is the number of client connections",
            "Lists open connections.",
        ),
    Cmd::new("client|info", 2, client_info)
        .flags(NOSCRIPT | LOADING | STALE)
        .acl(CS)
        .tips(&["nondeterministic_output"])
        .doc(
            G,
            "6.2.0",
            "O(1)",
            "Returns information about the connection.",
        ),
    Cmd::new("client|kill", -3, client_kill)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE)
        .acl(CA)
        .doc(
            G,
            "2.4.0",
            "O(N) where N is the number of client connections",
            "Terminates open connections.",
        ),
    Cmd::new("client|reply", 3, client_reply)
        .flags(NOSCRIPT | LOADING | STALE)
        .acl(CS)
        .doc(
            G,
            "3.2.0",
            "O(1)",
            "Instructs the server whether to reply to commands.",
        ),
    Cmd::new("client|unblock", -3, client_unblock)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE)
        .acl(CA)
        .doc(
            G,
            "5.0.0",
            "O(log N) where N is the number of client connections",
            "Ends the wait of a client blocked in a blocking command.",
        ),
    Cmd::new("client|tracking", -3, client_tracking)
        .flags(NOSCRIPT | LOADING | STALE)
        .acl(CS)
        .doc(
            G,
            "6.0.0",
            "O(1). Some options may introduce additional complexity.",
            "Controls server-assisted client-side caching for the connection.",
        ),
    Cmd::new("client|caching", 3, client_caching)
        .flags(NOSCRIPT | LOADING | STALE)
        .acl(CS)
        .doc(
            G,
            "6.0.0",
            "O(1)",
            "Instructs the server whether to track the keys in the next request.",
        ),
    Cmd::new("client|getredir", 2, client_getredir)
        .flags(NOSCRIPT | LOADING | STALE)
        .acl(CS)
        .doc(
            G,
            "6.0.0",
            "O(1)",
            "Returns the client ID to which the connection's tracking notifications are redirected.",
        ),
    Cmd::new("client|trackinginfo", 2, client_trackinginfo)
        .flags(NOSCRIPT | LOADING | STALE)
        .acl(CS)
        .doc(
            G,
            "6.2.0",
            "O(1)",
            "Returns information about server-assisted client-side caching for the connection.",
        ),
    Cmd::new("client|help", 2, client_help)
        .flags(LOADING | STALE)
        .acl(CS)
        .doc(
            G,
            "5.0.0",
            "O(1)",
            "Returns helpful text about the different subcommands.",
        ),
];

fn ping(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.in_resp2_pubsub() {
        // A subscribed RESP2 client reads a message-shaped reply.
        let arg = ctx.argv.get(1).cloned().unwrap_or_default();
        if ctx.argv.len() > 2 {
            return Err(CmdError::WrongArity("ping".into()));
        }
        return Ok(Frame::Array(vec![
            Frame::Bulk(Bytes::from_static(b"pong")),
            Frame::Bulk(arg),
        ]));
    }
    match ctx.argv.len() {
        1 => Ok(Frame::simple("PONG")),
        2 => Ok(Frame::Bulk(ctx.argv[1].clone())),
        _ => Err(CmdError::WrongArity("ping".into())),
    }
}

fn echo(ctx: &mut Ctx) -> CmdResult {
    Ok(Frame::Bulk(ctx.argv[1].clone()))
}

fn quit(ctx: &mut Ctx) -> CmdResult {
    ctx.client.close = true;
    Ok(Frame::ok())
}

fn select(ctx: &mut Ctx) -> CmdResult {
    let n = crate::dispatch::args::parse_i32(&ctx.argv[1])? as i64;
    if n < 0 || n as usize >= ctx.dbs.count() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    ctx.client.db = n as usize;
    ctx.client.info.db.store(n as usize, Relaxed);
    Ok(Frame::ok())
}

/// Checks a password for the default user (the only user until ACLs exist).
fn check_password(ctx: &Ctx, user: &[u8], pass: &[u8]) -> bool {
    if user != b"default" {
        return false;
    }
    match ctx.srv.config.requirepass() {
        None => true,
        Some(p) => p.as_bytes() == pass,
    }
}

fn wrongpass() -> CmdError {
    CmdError::Other("WRONGPASS invalid username-password pair or user is disabled.".into())
}

fn auth(ctx: &mut Ctx) -> CmdResult {
    let (user, pass): (&[u8], &[u8]) = match ctx.argv.len() {
        2 => (b"default", &ctx.argv[1]),
        3 => (&ctx.argv[1], &ctx.argv[2]),
        // Refused before its arguments are read: MONITOR shows them, as Redis.
        _ => return Err(CmdError::Syntax),
    };
    for i in 1..ctx.argv.len() {
        ctx.redact(i);
    }
    if ctx.argv.len() == 2 && ctx.srv.config.requirepass().is_none() {
        return Err(err("AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"));
    }
    if !check_password(ctx, user, pass) {
        return Err(wrongpass());
    }
    ctx.client.authenticated = true;
    Ok(Frame::ok())
}

fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn set_name(info: &ClientInfo, name: &Bytes) -> Result<(), CmdError> {
    if !valid_name(name) {
        return Err(err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    *info.name.lock() = if name.is_empty() {
        None
    } else {
        Some(name.clone())
    };
    Ok(())
}

fn hello(ctx: &mut Ctx) -> CmdResult {
    let mut a = Args::new(ctx.argv);
    let mut proto = None;
    if let Some(v) = a.peek() {
        let _ = v;
        let v = a.next_bytes()?;
        let n =
            parse_i64(v).map_err(|_| err("Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&n) {
            return Err(CmdError::Other(
                "NOPROTO unsupported protocol version".into(),
            ));
        }
        proto = Some(if n == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        });
    }
    while let Some(opt) = a.peek() {
        // Options take effect in order as they are parsed, as in Redis 7.0:
        // a failing AUTH stops before a later SETNAME.
        if is(opt, "AUTH") && a.remaining() >= 3 {
            let at = ctx.argv.len() - a.remaining();
            ctx.redact(at + 1);
            ctx.redact(at + 2);
            a.next_bytes()?;
            let u = a.next_bytes()?;
            let p = a.next_bytes()?;
            if !check_password(ctx, u, p) {
                return Err(wrongpass());
            }
            ctx.client.authenticated = true;
        } else if is(opt, "SETNAME") && a.remaining() >= 2 {
            // Redis 7.0 names the client as soon as it parses SETNAME, so a
            // later syntax error leaves the name set.
            a.next_bytes()?;
            set_name(&ctx.client.info, a.next_bytes()?)?;
        } else {
            return Err(crate::error::err_quoting(
                "Syntax error in HELLO option '",
                opt,
                "'",
            ));
        }
    }
    if !ctx.client.authenticated && ctx.srv.config.has_password.load(Relaxed) {
        return Err(CmdError::Other(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into(),
        ));
    }
    if let Some(p) = proto {
        ctx.client.proto = p;
        ctx.client
            .info
            .resp
            .store(if p == Protocol::Resp3 { 3 } else { 2 }, Relaxed);
    }
    let s = |v: &str| Frame::Bulk(Bytes::copy_from_slice(v.as_bytes()));
    Ok(Frame::Map(vec![
        (s("server"), s("redis")),
        (s("version"), s(crate::REDIS_VERSION)),
        (
            s("proto"),
            Frame::Integer(if ctx.client.proto == Protocol::Resp3 {
                3
            } else {
                2
            }),
        ),
        (s("id"), Frame::Integer(ctx.client.id as i64)),
        (s("mode"), s("standalone")),
        (s("role"), s("master")),
        (s("modules"), Frame::Array(vec![])),
    ]))
}

fn reset(ctx: &mut Ctx) -> CmdResult {
    ctx.client.end_multi();
    crate::signals::tracking::disable(&ctx.srv.signals.tracking, ctx.client);
    if ctx.client.info.monitor.load(Relaxed) {
        ctx.srv.signals.monitors.remove(ctx.client.id);
    }
    ctx.srv
        .signals
        .hub
        .forget(ctx.client.id, &mut ctx.client.subs);
    super::pubsub::sync_counts(ctx);
    super::txn::unwatch_all(&ctx.srv.signals.watches, ctx.client);
    ctx.client.db = 0;
    ctx.client.info.db.store(0, Relaxed);
    ctx.client.proto = Protocol::Resp2;
    ctx.client.info.resp.store(2, Relaxed);
    // An active CLIENT REPLY SKIP still swallows RESET's own reply.
    if ctx.client.reply != ReplyMode::Skip {
        ctx.client.reply = ReplyMode::On;
    }
    *ctx.client.info.name.lock() = None;
    if ctx.srv.config.has_password.load(Relaxed) {
        ctx.client.authenticated = false;
    }
    Ok(Frame::simple("RESET"))
}

fn client_id(ctx: &mut Ctx) -> CmdResult {
    Ok(Frame::Integer(ctx.client.id as i64))
}

fn client_getname(ctx: &mut Ctx) -> CmdResult {
    Ok(match ctx.client.info.name.lock().clone() {
        Some(n) => Frame::Bulk(n),
        None => Frame::Null,
    })
}

fn client_setname(ctx: &mut Ctx) -> CmdResult {
    set_name(&ctx.client.info, &ctx.argv[2])?;
    Ok(Frame::ok())
}

/// One CLIENT LIST line, with Redis 7.0's fields in its order. `own_argv`
/// is the arguments of the command asking, when `c` is its own client.
pub fn client_line(
    srv: &crate::state::Shared,
    c: &ClientInfo,
    now_ms: u64,
    own_argv: Option<&[Bytes]>,
) -> String {
    let name = c.name.lock().clone().unwrap_or_default();
    let last = c.last_cmd.load(Relaxed);
    let cmd = if last == 0 {
        "NULL"
    } else {
        srv.table.all[last - 1].name
    };
    let in_multi = c.in_multi.load(Relaxed);
    let mut flags = String::new();
    if c.monitor.load(Relaxed) {
        flags.push('O');
    }
    if c.is_pubsub() {
        flags.push('P');
    }
    if in_multi {
        flags.push('x');
    }
    let blocked =
        srv.signals.blocking.blocked_clients() > 0 && srv.signals.blocking.is_waiting(c.id);
    if blocked {
        flags.push('b');
    }
    {
        use crate::signals::tracking::flags as tf;
        let f = c.tracking.flags.load(Relaxed);
        for (bit, ch) in [(tf::ON, 't'), (tf::BROKEN_REDIR, 'R'), (tf::BCAST, 'B')] {
            if f & bit != 0 {
                flags.push(ch);
            }
        }
    }
    if flags.is_empty() {
        flags.push('N');
    }
    let qbuf = c.qbuf.load(Relaxed);
    let rbs = c.rbs.load(Relaxed);
    let omem = c.outbox.used();
    let multi_mem = c.multi_mem.load(Relaxed);
    // The arguments of the command the client is in: the one asking, or
    // the blocking command a blocked client waits in (0 when idle).
    let argv_mem = match own_argv {
        Some(argv) => argv.iter().map(|a| a.len()).sum(),
        None if blocked => c.blocked_argv_mem.load(Relaxed),
        None => 0,
    };
    // Output not written yet: what others queued for the client.
    let events = if omem > 0 { "rw" } else { "r" };
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={} rbp={} obl={} oll={} omem={} tot-mem={} events={} cmd={} user=default redir={} resp={}\n",
        c.id,
        c.addr,
        c.laddr,
        c.fd.load(Relaxed),
        String::from_utf8_lossy(&name),
        now_ms.saturating_sub(c.created_ms) / 1000,
        now_ms.saturating_sub(c.last_ms.load(Relaxed)) / 1000,
        flags,
        c.db.load(Relaxed),
        c.subs[0].load(Relaxed),
        c.subs[1].load(Relaxed),
        c.subs[2].load(Relaxed),
        if in_multi { c.multi_len.load(Relaxed) as i64 } else { -1 },
        qbuf,
        c.qbuf_free.load(Relaxed),
        argv_mem,
        multi_mem,
        rbs,
        qbuf,
        omem,
        c.outbox.len(),
        omem,
        rbs + omem + multi_mem + argv_mem + std::mem::size_of::<ClientInfo>(),
        events,
        cmd,
        redirect_of(c),
        c.resp.load(Relaxed),
    )
}

fn txt(s: String) -> Frame {
    Frame::Verbatim {
        format: *b"txt",
        data: Bytes::from(s),
    }
}

fn client_list(ctx: &mut Ctx) -> CmdResult {
    let mut a = Args::after(ctx.argv, 2);
    let mut ids: Option<Vec<u64>> = None;
    let mut typ: Option<ClientType> = None;
    while !a.is_empty() {
        if a.eat("TYPE") {
            let t = a.next_bytes()?;
            if let Some(ct) = ClientType::parse(t) {
                typ = Some(ct);
            } else {
                return Err(crate::error::err_quoting("Unknown client type '", t, "'"));
            }
        } else if a.eat("ID") {
            let mut v = Vec::new();
            for id in a.rest() {
                // Ids that cannot exist (0, negative) simply match nothing.
                let n = parse_i64(id).map_err(|_| err("Invalid client ID"))?;
                v.push(n.max(0) as u64);
            }
            if v.is_empty() {
                return Err(CmdError::Syntax);
            }
            ids = Some(v);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let now = ctx.now();
    let clients = ctx.srv.clients.snapshot();
    let mut out = String::new();
    for c in clients {
        if typ.is_some_and(|t| t != ClientType::of(&c))
            || ids.as_ref().is_some_and(|v| !v.contains(&c.id))
        {
            continue;
        }
        let own = (c.id == ctx.client.id).then_some(ctx.argv);
        out.push_str(&client_line(ctx.srv, &c, now, own));
    }
    Ok(txt(out))
}

/// The client types CLIENT LIST / KILL filter on. There are no replicas or
/// masters yet, so those types match nobody.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Pubsub,
    Replica,
    Master,
}

impl ClientType {
    fn parse(t: &[u8]) -> Option<ClientType> {
        if is(t, "normal") {
            Some(ClientType::Normal)
        } else if is(t, "pubsub") {
            Some(ClientType::Pubsub)
        } else if is(t, "replica") || is(t, "slave") {
            Some(ClientType::Replica)
        } else if is(t, "master") {
            Some(ClientType::Master)
        } else {
            None
        }
    }

    fn of(c: &ClientInfo) -> ClientType {
        if c.is_pubsub() {
            ClientType::Pubsub
        } else {
            ClientType::Normal
        }
    }
}

fn client_info(ctx: &mut Ctx) -> CmdResult {
    let now = ctx.now();
    Ok(txt(client_line(
        ctx.srv,
        &ctx.client.info,
        now,
        Some(ctx.argv),
    )))
}

/// CLIENT KILL's arguments: the old form's one `ip:port`, or filters
/// (`[ID id] [TYPE type] [USER user] [ADDR ip:port] [LADDR ip:port]
/// [SKIPME yes|no]`, each a word and its value, any number of times, the
/// last of a kind winning).
enum KillArgs {
    Addr(String),
    Filter(KillFilter),
}

/// The filters of CLIENT KILL: a client must match every one given.
struct KillFilter {
    id: Option<u64>,
    addr: Option<String>,
    laddr: Option<String>,
    skipme: bool,
    typ: Option<ClientType>,
}

impl KillArgs {
    /// Reads from after the subcommand; a filter's value is checked as it is
    /// read, so the first bad one is the error.
    fn parse(a: &mut Args) -> Result<Self, CmdError> {
        if a.remaining() == 1 {
            let addr = a.next_bytes()?;
            return Ok(KillArgs::Addr(String::from_utf8_lossy(addr).into_owned()));
        }
        let mut f = KillFilter {
            id: None,
            addr: None,
            laddr: None,
            skipme: true,
            typ: None,
        };
        while !a.is_empty() {
            if a.remaining() < 2 {
                return Err(CmdError::Syntax);
            }
            let k = a.next_bytes()?;
            let v = a.next_bytes()?;
            if is(k, "ID") {
                let n = parse_i64(v)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| err("client-id should be greater than 0"))?;
                f.id = Some(n as u64);
            } else if is(k, "ADDR") {
                f.addr = Some(String::from_utf8_lossy(v).into_owned());
            } else if is(k, "LADDR") {
                f.laddr = Some(String::from_utf8_lossy(v).into_owned());
            } else if is(k, "USER") {
                // Only the default user exists, and every client is it:
                // naming it filters nothing.
                if v.as_ref() != b"default" {
                    return Err(crate::error::err_quoting("No such user '", v, "'"));
                }
            } else if is(k, "SKIPME") {
                f.skipme = if is(v, "yes") {
                    true
                } else if is(v, "no") {
                    false
                } else {
                    return Err(CmdError::Syntax);
                };
            } else if is(k, "TYPE") {
                let Some(ct) = ClientType::parse(v) else {
                    return Err(crate::error::err_quoting("Unknown client type '", v, "'"));
                };
                f.typ = Some(ct);
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(KillArgs::Filter(f))
    }
}

fn client_kill(ctx: &mut Ctx) -> CmdResult {
    let f = match KillArgs::parse(&mut Args::after(ctx.argv, 2))? {
        KillArgs::Addr(addr) => {
            return match ctx.srv.clients.find(|c| c.addr == addr) {
                Some(c) => {
                    c.kill();
                    Ok(Frame::ok())
                }
                None => Err(err("No such client")),
            };
        }
        KillArgs::Filter(f) => f,
    };
    let me = ctx.client.id;
    let clients = ctx.srv.clients.snapshot();
    let mut n = 0;
    for c in clients {
        let matches = f.id.is_none_or(|i| i == c.id)
            && f.addr.as_ref().is_none_or(|a| *a == c.addr)
            && f.laddr.as_ref().is_none_or(|a| *a == c.laddr)
            && f.typ.is_none_or(|t| t == ClientType::of(&c))
            && !(f.skipme && c.id == me);
        if matches {
            if c.id == me {
                ctx.client.close = true;
            } else {
                c.kill();
            }
            n += 1;
        }
    }
    Ok(Frame::Integer(n))
}

fn client_unblock(ctx: &mut Ctx) -> CmdResult {
    if ctx.argv.len() > 4 {
        return Err(err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&ctx.argv[1])
        )));
    }
    let id = parse_i64(&ctx.argv[2])?;
    let mode = match ctx.argv.get(3) {
        None => 1,
        Some(m) if is(m, "TIMEOUT") => 1,
        Some(m) if is(m, "ERROR") => 2,
        Some(_) => return Err(err("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")),
    };
    let target = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.srv.clients.client(id));
    match target {
        Some(c) if ctx.srv.signals.blocking.is_waiting(c.id) => {
            c.unblock_mode.store(mode, Relaxed);
            c.unblock.notify_one();
            Ok(Frame::Integer(1))
        }
        _ => Ok(Frame::Integer(0)),
    }
}

fn client_reply(ctx: &mut Ctx) -> CmdResult {
    let v = &ctx.argv[2];
    ctx.client.reply = if is(v, "ON") {
        ReplyMode::On
    } else if is(v, "OFF") {
        ReplyMode::Off
    } else if is(v, "SKIP") {
        // SKIP while replies are off changes nothing.
        if ctx.client.reply == ReplyMode::Off {
            ReplyMode::Off
        } else {
            ReplyMode::SkipNext
        }
    } else {
        return Err(CmdError::Syntax);
    };
    Ok(Frame::ok())
}

fn client_tracking(ctx: &mut Ctx) -> CmdResult {
    use crate::signals::tracking::flags as tf;
    let mut redirect: i64 = 0;
    let mut opts = 0u32;
    let mut prefixes: Vec<Bytes> = Vec::new();
    let argv = ctx.argv;
    let mut j = 3;
    while j < argv.len() {
        let more = j + 1 < argv.len();
        let a = &argv[j];
        if is(a, "redirect") && more {
            j += 1;
            if redirect != 0 {
                return Err(err("A client can only redirect to a single other client"));
            }
            redirect = parse_i64(&argv[j])?;
            if ctx.srv.clients.client(redirect as u64).is_none() {
                return Err(err("The client ID you want redirect to does not exist"));
            }
        } else if is(a, "bcast") {
            opts |= tf::BCAST;
        } else if is(a, "optin") {
            opts |= tf::OPTIN;
        } else if is(a, "optout") {
            opts |= tf::OPTOUT;
        } else if is(a, "noloop") {
            opts |= tf::NOLOOP;
        } else if is(a, "prefix") && more {
            j += 1;
            prefixes.push(argv[j].clone());
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    if is(&argv[2], "off") {
        crate::signals::tracking::disable(&ctx.srv.signals.tracking, ctx.client);
        return Ok(Frame::ok());
    }
    if !is(&argv[2], "on") {
        return Err(CmdError::Syntax);
    }
    let cur = ctx.client.info.tracking.flags.load(Relaxed);
    if opts & tf::BCAST == 0 && !prefixes.is_empty() {
        return Err(err("PREFIX option requires BCAST mode to be enabled"));
    }
    if cur & tf::ON != 0 && (cur & tf::BCAST != 0) != (opts & tf::BCAST != 0) {
        return Err(err("You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
    }
    if opts & tf::BCAST != 0 && opts & (tf::OPTIN | tf::OPTOUT) != 0 {
        return Err(err("OPTIN and OPTOUT are not compatible with BCAST"));
    }
    if opts & tf::OPTIN != 0 && opts & tf::OPTOUT != 0 {
        return Err(err("You can't specify both OPTIN mode and OPTOUT mode"));
    }
    if (opts & tf::OPTIN != 0 && cur & tf::OPTOUT != 0)
        || (opts & tf::OPTOUT != 0 && cur & tf::OPTIN != 0)
    {
        return Err(err("You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
    }
    if opts & tf::BCAST != 0 {
        check_prefixes(&ctx.client.tracking_prefixes, &prefixes)?;
    }
    crate::signals::tracking::enable(
        &ctx.srv.signals.tracking,
        ctx.client,
        redirect as u64,
        opts,
        &prefixes,
    );
    Ok(Frame::ok())
}

/// A client's BCAST prefixes must not overlap (one a prefix of another),
/// neither with its existing ones nor among the new ones.
fn check_prefixes(
    existing: &std::collections::BTreeSet<Bytes>,
    new: &[Bytes],
) -> Result<(), CmdError> {
    let overlap = |a: &[u8], b: &[u8]| a.starts_with(b) || b.starts_with(a);
    let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for (i, p) in new.iter().enumerate() {
        if let Some(e) = existing.iter().find(|e| overlap(p, e)) {
            return Err(err(format!(
                "Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                show(p),
                show(e)
            )));
        }
        if let Some(q) = new[i + 1..].iter().find(|q| overlap(p, q)) {
            return Err(err(format!(
                "Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                show(p),
                show(q)
            )));
        }
    }
    Ok(())
}

fn client_caching(ctx: &mut Ctx) -> CmdResult {
    use crate::signals::tracking::flags as tf;
    let t = &ctx.client.info.tracking.flags;
    let f = t.load(Relaxed);
    if f & tf::ON == 0 {
        return Err(err("CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
    }
    let a = &ctx.argv[2];
    if is(a, "yes") {
        if f & tf::OPTIN == 0 {
            return Err(err(
                "CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            ));
        }
    } else if is(a, "no") {
        if f & tf::OPTOUT == 0 {
            return Err(err(
                "CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            ));
        }
    } else {
        return Err(CmdError::Syntax);
    }
    t.fetch_or(tf::CACHING, Relaxed);
    Ok(Frame::ok())
}

fn redirect_of(c: &ClientInfo) -> i64 {
    if c.tracking.flags.load(Relaxed) & crate::signals::tracking::flags::ON != 0 {
        c.tracking.redirect.load(Relaxed) as i64
    } else {
        -1
    }
}

fn client_getredir(ctx: &mut Ctx) -> CmdResult {
    Ok(Frame::Integer(redirect_of(&ctx.client.info)))
}

fn client_trackinginfo(ctx: &mut Ctx) -> CmdResult {
    use crate::signals::tracking::flags as tf;
    let f = ctx.client.info.tracking.flags.load(Relaxed);
    let mut names: Vec<&str> = vec![if f & tf::ON != 0 { "on" } else { "off" }];
    if f & tf::BCAST != 0 {
        names.push("bcast");
    }
    if f & tf::OPTIN != 0 {
        names.push("optin");
        if f & tf::CACHING != 0 {
            names.push("caching-yes");
        }
    }
    if f & tf::OPTOUT != 0 {
        names.push("optout");
        if f & tf::CACHING != 0 {
            names.push("caching-no");
        }
    }
    if f & tf::NOLOOP != 0 {
        names.push("noloop");
    }
    if f & tf::BROKEN_REDIR != 0 {
        names.push("broken_redirect");
    }
    let s = |t: &str| Frame::Bulk(Bytes::copy_from_slice(t.as_bytes()));
    Ok(Frame::Map(vec![
        (s("flags"), Frame::Set(names.into_iter().map(s).collect())),
        (s("redirect"), Frame::Integer(redirect_of(&ctx.client.info))),
        (
            s("prefixes"),
            Frame::Array(
                ctx.client
                    .tracking_prefixes
                    .iter()
                    .cloned()
                    .map(Frame::Bulk)
                    .collect(),
            ),
        ),
    ]))
}

fn client_help(_ctx: &mut Ctx) -> CmdResult {
    Ok(super::help(
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    ))
}
