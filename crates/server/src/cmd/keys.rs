//! The generic group: key existence, deletion, renaming, copying, expiry,
//! iteration and introspection, for keys of any type.

use bytes::Bytes;
use rubedo_engine::glob::glob_match;
use rubedo_engine::{Kind, Str, Value};
use rubedo_pubsub::notify;
use rubedo_resp::Frame;

use crate::dispatch::args::{is, parse_i64, Args};
use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag::*, kf, ks, Cmd, Lock};
use crate::error::{err, CmdError, CmdResult};
use crate::propagate::Rewrite;

const G: &str = "generic";
const KW: u64 = acl::KEYSPACE | acl::WRITE;
const KR: u64 = acl::KEYSPACE | acl::READ;

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("del", -2, del).flags(WRITE).acl(KW | acl::SLOW).specs(&[ks(kf::RM | kf::DELETE, 1, -1, 1)])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"]).doc(G, "1.0.0", "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).", "Deletes one or more keys."),
    Cmd::new("unlink", -2, del).flags(WRITE | FAST).acl(KW | acl::FAST).specs(&[ks(kf::RM | kf::DELETE, 1, -1, 1)])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"]).doc(G, "4.0.0", "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.", "Asynchronously deletes one or more keys."),
    Cmd::new("exists", -2, exists).flags(READONLY | FAST).acl(KR | acl::FAST).specs(&[ks(kf::RO, 1, -1, 1)])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"]).doc(G, "1.0.0", "O(N) where N is the number of keys to check.", "Determines whether one or more keys exist."),
    Cmd::new("touch", -2, touch).flags(READONLY | FAST).acl(KR | acl::FAST).specs(&[ks(kf::RO, 1, -1, 1)])
        .tips(&["request_policy:multi_shard", "response_policy:agg_sum"]).doc(G, "3.2.1", "O(N) where N is the number of keys that will be touched.", "Returns the number of existing keys out of those specified after updating the time they were last accessed."),
    Cmd::new("type", 2, type_cmd).flags(READONLY | FAST).acl(KR | acl::FAST).specs(&[ks(kf::RO, 1, 0, 1)])
        .doc(G, "1.0.0", "O(1)", "Determines the type of value stored at a key."),
    Cmd::new("rename", 3, rename).flags(WRITE).acl(KW | acl::SLOW).specs(&[ks(kf::RW | kf::ACCESS | kf::DELETE, 1, 0, 1), ks(kf::OW | kf::UPDATE, 2, 0, 1)])
        .doc(G, "1.0.0", "O(1)", "Renames a key and overwrites the destination."),
    Cmd::new("renamenx", 3, renamenx).flags(WRITE | FAST).acl(KW | acl::FAST).specs(&[ks(kf::RW | kf::ACCESS | kf::DELETE, 1, 0, 1), ks(kf::OW | kf::INSERT, 2, 0, 1)])
        .doc(G, "1.0.0", "O(1)", "Renames a key only when the target key name doesn't exist."),
    Cmd::new("copy", -3, copy).flags(WRITE | DENYOOM).acl(KW | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1), ks(kf::OW | kf::UPDATE, 2, 0, 1)]).lock(Lock::All)
        .doc(G, "6.2.0", "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.", "Copies the value of a key to a new key."),
    Cmd::new("move", 3, move_cmd).flags(WRITE | FAST).acl(KW | acl::FAST).specs(&[ks(kf::RW | kf::ACCESS | kf::UPDATE, 1, 0, 1)]).lock(Lock::All)
        .doc(G, "1.0.0", "O(1)", "Moves a key to another database."),
    Cmd::new("randomkey", 1, randomkey).flags(READONLY | TOUCHES_ARBITRARY_KEYS).acl(KR | acl::SLOW).lock(Lock::Db)
        .tips(&["request_policy:all_shards", "nondeterministic_output"]).doc(G, "1.0.0", "O(1)", "Returns a random key name from the database."),
    Cmd::new("keys", 2, keys).flags(READONLY).acl(KR | acl::SLOW | acl::DANGEROUS).lock(Lock::Db)
        .tips(&["request_policy:all_shards", "nondeterministic_output_order"]).doc(G, "1.0.0", "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.", "Returns all key names that match a pattern."),
    // SCAN locks no shard for its run: each step locks the one shard it reads.
    Cmd::new("scan", -2, scan).flags(READONLY | TOUCHES_ARBITRARY_KEYS).acl(KR | acl::SLOW).lock(Lock::Keys)
        .tips(&["nondeterministic_output", "request_policy:special"]).doc(G, "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "Iterates over the key names in the database."),
    Cmd::new("expire", -3, expire).flags(WRITE | FAST).acl(KW | acl::FAST).specs(&[ks(kf::RW | kf::UPDATE, 1, 0, 1)])
        .doc(G, "1.0.0", "O(1)", "Sets the expiration time of a key in seconds."),
    Cmd::new("pexpire", -3, pexpire).flags(WRITE | FAST).acl(KW | acl::FAST).specs(&[ks(kf::RW | kf::UPDATE, 1, 0, 1)])
        .doc(G, "2.6.0", "O(1)", "Sets the expiration time of a key in milliseconds."),
    Cmd::new("expireat", -3, expireat).flags(WRITE | FAST).acl(KW | acl::FAST).specs(&[ks(kf::RW | kf::UPDATE, 1, 0, 1)])
        .doc(G, "1.2.0", "O(1)", "Sets the expiration time of a key to a Unix timestamp."),
    Cmd::new("pexpireat", -3, pexpireat).flags(WRITE | FAST).acl(KW | acl::FAST).specs(&[ks(kf::RW | kf::UPDATE, 1, 0, 1)])
        .doc(G, "2.6.0", "O(1)", "Sets the expiration time of a key to a Unix milliseconds timestamp."),
    Cmd::new("ttl", 2, ttl).flags(READONLY | FAST).acl(KR | acl::FAST).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .tips(&["nondeterministic_output"]).doc(G, "1.0.0", "O(1)", "Returns the expiration time in seconds of a key."),
    Cmd::new("pttl", 2, pttl).flags(READONLY | FAST).acl(KR | acl::FAST).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .tips(&["nondeterministic_output"]).doc(G, "2.6.0", "O(1)", "Returns the expiration time in milliseconds of a key."),
    Cmd::new("expiretime", 2, expiretime).flags(READONLY | FAST).acl(KR | acl::FAST).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .doc(G, "7.0.0", "O(1)", "Returns the expiration time of a key as a Unix timestamp."),
    Cmd::new("pexpiretime", 2, pexpiretime).flags(READONLY | FAST).acl(KR | acl::FAST).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .doc(G, "7.0.0", "O(1)", "Returns the expiration time of a key as a Unix milliseconds timestamp."),
    Cmd::new("persist", 2, persist).flags(WRITE | FAST).acl(KW | acl::FAST).specs(&[ks(kf::RW | kf::UPDATE, 1, 0, 1)])
        .doc(G, "2.2.0", "O(1)", "Removes the expiration time of a key."),
    Cmd::container("object", OBJECT_SUBS).doc(G, "2.2.3", "Depends on subcommand.", "A container for object introspection commands."),
];

static OBJECT_SUBS: &[Cmd] = &[
    Cmd::new("object|encoding", 3, object_encoding)
        .flags(READONLY)
        .acl(KR | acl::SLOW)
        .specs(&[ks(kf::RO, 2, 0, 1)])
        .tips(&["nondeterministic_output"])
        .doc(
            G,
            "2.2.3",
            "O(1)",
            "Returns the internal encoding of a Redis object.",
        ),
    Cmd::new("object|refcount", 3, object_refcount)
        .flags(READONLY)
        .acl(KR | acl::SLOW)
        .specs(&[ks(kf::RO, 2, 0, 1)])
        .tips(&["nondeterministic_output"])
        .doc(
            G,
            "2.2.3",
            "O(1)",
            "Returns the reference count of a value of a key.",
        ),
    Cmd::new("object|idletime", 3, object_idletime)
        .flags(READONLY)
        .acl(KR | acl::SLOW)
        .specs(&[ks(kf::RO, 2, 0, 1)])
        .tips(&["nondeterministic_output"])
        .doc(
            G,
            "2.2.3",
            "O(1)",
            "Returns the time since the last access to a Redis object.",
        ),
    Cmd::new("object|freq", 3, object_freq)
        .flags(READONLY)
        .acl(KR | acl::SLOW)
        .specs(&[ks(kf::RO, 2, 0, 1)])
        .tips(&["nondeterministic_output"])
        .doc(
            G,
            "4.0.0",
            "O(1)",
            "Returns the logarithmic access frequency counter of a Redis object.",
        ),
    Cmd::new("object|help", 2, object_help)
        .flags(LOADING | STALE)
        .acl(acl::KEYSPACE | acl::SLOW)
        .doc(
            G,
            "6.2.0",
            "O(1)",
            "Returns helpful text about the different subcommands.",
        ),
];

/// The unit of an expiry argument.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ExpireUnit {
    Secs,
    Millis,
    UnixSecs,
    UnixMillis,
}

/// The unit an EX/PX/EXAT/PXAT option word names (in any case).
pub fn expire_unit(word: &[u8]) -> Option<ExpireUnit> {
    if is(word, "EX") {
        Some(ExpireUnit::Secs)
    } else if is(word, "PX") {
        Some(ExpireUnit::Millis)
    } else if is(word, "EXAT") {
        Some(ExpireUnit::UnixSecs)
    } else if is(word, "PXAT") {
        Some(ExpireUnit::UnixMillis)
    } else {
        None
    }
}

/// An EX/PX/EXAT/PXAT option of the SET family as given: its unit and its
/// value, not yet parsed (each command checks it at its own moment).
#[derive(Clone, Copy)]
pub struct ExpireArg<'a> {
    pub unit: ExpireUnit,
    pub value: &'a Bytes,
}

impl ExpireArg<'_> {
    /// The absolute time in ms it names: an integer, positive, and without
    /// overflow (`ERR invalid expire time in 'cmd' command` otherwise).
    pub fn at(&self, now: u64, cmd: &str) -> Result<u64, CmdError> {
        expire_ms(parse_i64(self.value)?, self.unit, now, cmd, true)
    }
}

/// Converts an expiry argument to an absolute Unix time in ms, with
/// Redis's overflow checks. `positive` (the SET family) refuses n <= 0.
pub fn expire_ms(
    n: i64,
    unit: ExpireUnit,
    now: u64,
    cmd: &str,
    positive: bool,
) -> Result<u64, CmdError> {
    let bad = || CmdError::InvalidExpire(cmd.to_string());
    if positive && n <= 0 {
        return Err(bad());
    }
    let ms = match unit {
        ExpireUnit::Secs | ExpireUnit::UnixSecs => n.checked_mul(1000).ok_or_else(bad)?,
        _ => n,
    };
    let abs = match unit {
        ExpireUnit::Secs | ExpireUnit::Millis => ms.checked_add(now as i64).ok_or_else(bad)?,
        _ => ms,
    };
    Ok(abs.max(0) as u64)
}

fn del(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let mut n = 0;
    for key in &argv[1..] {
        if ctx.db().remove(key).is_some() {
            ctx.notify(notify::GENERIC, "del", key);
            n += 1;
        }
    }
    ctx.dirty += n;
    Ok(Frame::Integer(n as i64))
}

fn exists(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let mut db = ctx.db();
    Ok(Frame::Integer(
        argv[1..]
            .iter()
            .filter(|k| db.read_untouched(k).is_some())
            .count() as i64,
    ))
}

fn touch(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let mut db = ctx.db();
    Ok(Frame::Integer(
        argv[1..].iter().filter(|k| db.read(k).is_some()).count() as i64,
    ))
}

fn type_cmd(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[1];
    Ok(match ctx.db().read_untouched(key) {
        Some(e) => Frame::simple(e.value.kind().name()),
        None => Frame::simple("none"),
    })
}

fn rename_generic(ctx: &mut Ctx, nx: bool) -> CmdResult {
    let (src, dst) = (&ctx.argv[1], &ctx.argv[2]);
    let mut db = ctx.db();
    if !db.contains(src) {
        return Err(rubedo_engine::Error::NoSuchKey.into());
    }
    if src == dst {
        return Ok(if nx { Frame::Integer(0) } else { Frame::ok() });
    }
    if nx && db.contains(dst) {
        return Ok(Frame::Integer(0));
    }
    let at = db.expire_at(src);
    let entry = db.remove(src).expect("checked above");
    db.set(dst, entry.value, false);
    if at.is_some() {
        db.set_expire(dst, at);
    }
    drop(db);
    // An overwritten destination gets no "del" of its own, as in Redis.
    ctx.notify(notify::GENERIC, "rename_from", src);
    ctx.notify(notify::GENERIC, "rename_to", dst);
    ctx.dirty += 1;
    Ok(if nx { Frame::Integer(1) } else { Frame::ok() })
}

fn rename(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, false)
}

fn renamenx(ctx: &mut Ctx) -> CmdResult {
    rename_generic(ctx, true)
}

fn db_index(ctx: &Ctx, arg: &[u8]) -> Result<usize, CmdError> {
    let n = crate::dispatch::args::parse_i32(arg)?;
    if n < 0 || n as usize >= ctx.dbs.count() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    Ok(n as usize)
}

fn copy(ctx: &mut Ctx) -> CmdResult {
    let (src, dst) = (ctx.argv[1].clone(), ctx.argv[2].clone());
    let mut a = Args::after(ctx.argv, 3);
    let (mut target, mut replace) = (ctx.client.db, false);
    while !a.is_empty() {
        if a.eat("REPLACE") {
            replace = true;
        } else if a.eat("DB") {
            let v = a.next_bytes()?;
            target = db_index(ctx, v)?;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let cur = ctx.client.db;
    if src == dst && target == cur {
        return Err(rubedo_engine::Error::SameObject.into());
    }
    let (value, at) = {
        let mut db = ctx.dbs.db(cur);
        let Some(e) = db.get(&src) else {
            return Ok(Frame::Integer(0));
        };
        let v = e.value.clone();
        (v, db.expire_at(&src))
    };
    let mut db = ctx.dbs.db(target);
    if db.contains(&dst) {
        if !replace {
            return Ok(Frame::Integer(0));
        }
        db.remove(&dst);
    }
    db.set(&dst, value, false);
    if at.is_some() {
        db.set_expire(&dst, at);
    }
    drop(db);
    // Only the destination is announced (REPLACE adds no "del").
    ctx.notify_in(target, notify::GENERIC, "copy_to", &dst);
    ctx.dirty += 1;
    Ok(Frame::Integer(1))
}

fn move_cmd(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.argv[1].clone();
    let dst = db_index(ctx, &ctx.argv[2])?;
    let src = ctx.client.db;
    if src == dst {
        return Err(rubedo_engine::Error::SameObject.into());
    }
    let mut from = ctx.dbs.db(src);
    if !from.contains(&key) {
        return Ok(Frame::Integer(0));
    }
    let at = from.expire_at(&key);
    drop(from);
    if ctx.dbs.db(dst).contains(&key) {
        return Ok(Frame::Integer(0));
    }
    let entry = ctx.dbs.db(src).remove(&key).expect("checked above");
    let mut to = ctx.dbs.db(dst);
    to.set(&key, entry.value, false);
    if at.is_some() {
        to.set_expire(&key, at);
    }
    drop(to);
    ctx.notify_in(src, notify::GENERIC, "move_from", &key);
    ctx.notify_in(dst, notify::GENERIC, "move_to", &key);
    ctx.dirty += 1;
    Ok(Frame::Integer(1))
}

fn randomkey(ctx: &mut Ctx) -> CmdResult {
    Ok(match ctx.db().random_key() {
        Some(k) => Frame::bulk(&k),
        None => Frame::Null,
    })
}

fn keys(ctx: &mut Ctx) -> CmdResult {
    let pat = &ctx.argv[1];
    let all = pat.as_ref() == b"*";
    let mut out = Vec::new();
    ctx.db().for_each_live(|k, _| {
        if all || glob_match(pat, k, false) {
            out.push(Frame::bulk(k));
        }
    });
    Ok(Frame::Array(out))
}

/// The MATCH and COUNT options of SCAN, SSCAN, HSCAN and ZSCAN (and TYPE
/// for SCAN), read as Redis does: an option needs its value, COUNT must be
/// at least 1, anything else is a syntax error. A MATCH of `*` is dropped
/// since it matches everything.
pub struct ScanOptions<'a> {
    pub pattern: Option<&'a Bytes>,
    pub count: i64,
    pub kind: Option<&'a Bytes>,
}

impl<'a> ScanOptions<'a> {
    /// Reads the options up to the end of the arguments.
    pub fn parse(a: &mut Args<'a>, allow_type: bool) -> Result<Self, CmdError> {
        let mut o = ScanOptions {
            pattern: None,
            count: 10,
            kind: None,
        };
        while !a.is_empty() {
            if a.remaining() >= 2 && a.eat("COUNT") {
                o.count = a.next_i64()?;
                if o.count < 1 {
                    return Err(CmdError::Syntax);
                }
            } else if a.remaining() >= 2 && a.eat("MATCH") {
                o.pattern = Some(a.next_bytes()?);
            } else if allow_type && a.remaining() >= 2 && a.eat("TYPE") {
                o.kind = Some(a.next_bytes()?);
            } else {
                return Err(CmdError::Syntax);
            }
        }
        o.pattern = o.pattern.filter(|p| p.as_ref() != b"*");
        Ok(o)
    }
}

/// Parses a SCAN-family cursor ("ERR invalid cursor" as Redis says).
/// Like C's strtoul, a leading minus wraps around instead of failing, and
/// an empty string is cursor 0.
pub fn parse_cursor(b: &[u8]) -> Result<u64, CmdError> {
    if b.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let v = std::str::from_utf8(digits)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| err("invalid cursor"))?;
    Ok(if neg { v.wrapping_neg() } else { v })
}

fn scan(ctx: &mut Ctx) -> CmdResult {
    let mut a = ctx.args();
    let cursor = parse_cursor(a.next_bytes()?)?;
    let o = ScanOptions::parse(&mut a, true)?;
    let (pattern, count) = (o.pattern, o.count);
    // An unknown type name matches nothing (Redis 7.0 compares names).
    let kind: Option<Option<Kind>> = o.kind.map(|k| Kind::from_name(k));
    let mut found: Vec<Bytes> = Vec::new();
    let db = ctx.client.db;
    let srv = ctx.srv;
    let mut c = cursor;
    let mut iterations = count.saturating_mul(10);
    // The keys a step expired, acted on while their shard is still locked
    // (this run holds no shard of its own), as active expiry does: events,
    // statistics, the modified-key signal and a DEL each in the effect log.
    let now = ctx.now();
    let mut expired = |ev: &mut rubedo_engine::Events| {
        let from = ev.expired_reported.min(ev.expired_signalled);
        let (reported, signalled) = (ev.expired_reported - from, ev.expired_signalled - from);
        crate::dispatch::exec::expired(srv, &ev.expired[from..], reported, signalled, now);
        ev.expired.truncate(from);
        ev.expired_reported = from;
        ev.expired_signalled = from;
    };
    loop {
        // As Redis filters: the pattern, then expiry (an expired key is
        // reclaimed and left out), then the type.
        c = ctx.dbs.scan_db(
            db,
            c,
            |k| pattern.is_none_or(|p| glob_match(p, k, false)),
            |k, e| {
                if let Some(want) = kind {
                    if want != Some(e.value.kind()) {
                        return;
                    }
                }
                found.push(Bytes::copy_from_slice(k));
            },
            &mut expired,
        );
        iterations -= 1;
        if c == 0 || found.len() as i64 >= count || iterations <= 0 {
            break;
        }
    }
    Ok(Frame::Array(vec![
        Frame::Bulk(Bytes::from(c.to_string())),
        Frame::Array(found.into_iter().map(Frame::Bulk).collect()),
    ]))
}

/// The arguments of EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT:
/// `key time [NX|XX|GT|LT]...`.
struct ExpireArgs<'a> {
    key: &'a Bytes,
    time: i64,
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl<'a> ExpireArgs<'a> {
    /// Redis reads the options before the time, so an option error wins
    /// over a bad number. An option is compared as a C string (a NUL byte
    /// ends it).
    fn parse(a: &mut Args<'a>) -> Result<Self, CmdError> {
        let (key, time) = (a.next_bytes()?, a.next_bytes()?);
        let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
        for opt in a.rest() {
            let opt = opt.split(|&c| c == 0).next().unwrap_or_default();
            if is(opt, "nx") {
                nx = true;
            } else if is(opt, "xx") {
                xx = true;
            } else if is(opt, "gt") {
                gt = true;
            } else if is(opt, "lt") {
                lt = true;
            } else {
                let mut text = b"ERR Unsupported option ".to_vec();
                text.extend_from_slice(opt);
                return Err(CmdError::OtherBytes(text));
            }
        }
        if nx && (xx || gt || lt) {
            return Err(err(
                "NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if gt && lt {
            return Err(err("GT and LT options at the same time are not compatible"));
        }
        Ok(ExpireArgs {
            key,
            time: parse_i64(time)?,
            nx,
            xx,
            gt,
            lt,
        })
    }
}

fn expire_generic(ctx: &mut Ctx, unit: ExpireUnit) -> CmdResult {
    let ExpireArgs {
        key,
        time: n,
        nx,
        xx,
        gt,
        lt,
    } = ExpireArgs::parse(&mut ctx.args())?;
    let now = ctx.now();
    let at = {
        let bad = || CmdError::InvalidExpire(ctx.cmd.name.to_string());
        let ms = match unit {
            ExpireUnit::Secs | ExpireUnit::UnixSecs => n.checked_mul(1000).ok_or_else(bad)?,
            _ => n,
        };
        match unit {
            ExpireUnit::Secs | ExpireUnit::Millis => ms.checked_add(now as i64).ok_or_else(bad)?,
            _ => ms,
        }
    };
    let mut db = ctx.db();
    if !db.contains(key) {
        return Ok(Frame::Integer(0));
    }
    let cur = db.expire_at(key);
    let ok = match cur {
        None => !(xx || gt),
        Some(c) => !nx && (!gt || at > c as i64) && (!lt || at < c as i64),
    };
    if !ok {
        return Ok(Frame::Integer(0));
    }
    drop(db);
    if ctx.already_expired(at) {
        ctx.db().remove(key);
        // A time already past deletes the key: announced as a "del"
        // (before the reply, unlike the "expire" below).
        ctx.notify(notify::GENERIC, "del", key);
        ctx.dirty += 1;
        ctx.propagate(Rewrite::del(key));
        return Ok(Frame::Integer(1));
    }
    ctx.db().set_expire(key, Some(at as u64));
    ctx.reply_first();
    ctx.notify(notify::GENERIC, "expire", key);
    ctx.dirty += 1;
    ctx.propagate(Rewrite::pexpireat(key, at as u64));
    Ok(Frame::Integer(1))
}

fn expire(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, ExpireUnit::Secs)
}

fn pexpire(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, ExpireUnit::Millis)
}

fn expireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, ExpireUnit::UnixSecs)
}

fn pexpireat(ctx: &mut Ctx) -> CmdResult {
    expire_generic(ctx, ExpireUnit::UnixMillis)
}

/// TTL-family reply: -2 missing, -1 no expiry, else `f(expire_at, now)`.
fn ttl_generic(ctx: &mut Ctx, f: fn(u64, u64) -> i64) -> CmdResult {
    let key = &ctx.argv[1];
    let now = ctx.now();
    let mut db = ctx.db();
    if db.read_untouched(key).is_none() {
        return Ok(Frame::Integer(-2));
    }
    Ok(Frame::Integer(match db.expire_at(key) {
        None => -1,
        Some(at) => f(at, now),
    }))
}

fn ttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, |at, now| {
        ((at.saturating_sub(now) + 500) / 1000) as i64
    })
}

fn pttl(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, |at, now| at.saturating_sub(now) as i64)
}

fn expiretime(ctx: &mut Ctx) -> CmdResult {
    // Rounded to the nearest second, as Redis does (TTL too).
    ttl_generic(ctx, |at, _| ((at + 500) / 1000) as i64)
}

fn pexpiretime(ctx: &mut Ctx) -> CmdResult {
    ttl_generic(ctx, |at, _| at as i64)
}

fn persist(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[1];
    let mut db = ctx.db();
    if db.peek(key).is_none() || db.expire_at(key).is_none() {
        return Ok(Frame::Integer(0));
    }
    db.set_expire(key, None);
    drop(db);
    ctx.notify(notify::GENERIC, "persist", key);
    ctx.dirty += 1;
    Ok(Frame::Integer(1))
}

fn object_encoding(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[2];
    Ok(match ctx.db().peek(key) {
        Some(e) => Frame::bulk(e.value.encoding().as_bytes()),
        None => Frame::Null,
    })
}

/// Redis shares the objects of small integers; their refcount shows as INT_MAX.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// A value's reference count as Redis reports it (OBJECT REFCOUNT, DEBUG
/// OBJECT): shared small integers, else 1.
pub fn refcount(v: &Value) -> i64 {
    match v {
        Value::Str(Str::Int(n)) if (0..10000).contains(n) => SHARED_REFCOUNT,
        _ => 1,
    }
}

fn object_refcount(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[2];
    Ok(match ctx.db().peek(key) {
        Some(e) => Frame::Integer(refcount(&e.value)),
        None => Frame::Null,
    })
}

fn object_idletime(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[2];
    let now = rubedo_engine::value::secs(ctx.now());
    Ok(match ctx.db().peek(key) {
        Some(e) => Frame::Integer(now.saturating_sub(e.atime) as i64),
        None => Frame::Null,
    })
}

fn object_freq(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[2];
    if ctx.db().peek(key).is_none() {
        return Ok(Frame::Null);
    }
    Err(err("An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."))
}

fn object_help(_ctx: &mut Ctx) -> CmdResult {
    Ok(super::help(
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    ))
}
