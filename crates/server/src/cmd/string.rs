//! The string group: GET/SET and every variant, counters, ranges, LCS.

use bytes::Bytes;
use rubedo_engine::types::string as st;
use rubedo_engine::{Str, Value};
use rubedo_pubsub::notify;
use rubedo_resp::Frame;

use crate::dispatch::args::{is, Args};
use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag::*, kf, ks, Cmd};
use crate::error::{CmdError, CmdResult};
use crate::propagate::Rewrite;

use super::keys::{expire_ms, expire_unit, ExpireArg, ExpireUnit};

const G: &str = "string";
const W: u64 = acl::WRITE | acl::STRING;
const R: u64 = acl::READ | acl::STRING;

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("get", 2, get).flags(READONLY | FAST).acl(R | acl::FAST).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .doc(G, "1.0.0", "O(1)", "Returns the string value of a key."),
    Cmd::new("set", -3, set).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(&[ks(kf::RW | kf::ACCESS | kf::UPDATE | kf::VARIABLE_FLAGS, 1, 0, 1).notes("RW and ACCESS due to the optional `GET` argument")])
        .doc(G, "1.0.0", "O(1)", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist."),
    Cmd::new("setnx", 3, setnx).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::OW | kf::INSERT, 1, 0, 1)])
        .doc(G, "1.0.0", "O(1)", "Set the string value of a key only when the key doesn't exist."),
    Cmd::new("setex", 4, setex).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(&[ks(kf::OW | kf::UPDATE, 1, 0, 1)])
        .doc(G, "2.0.0", "O(1)", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist."),
    Cmd::new("psetex", 4, psetex).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(&[ks(kf::OW | kf::UPDATE, 1, 0, 1)])
        .doc(G, "2.6.0", "O(1)", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist."),
    Cmd::new("getset", 3, getset).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::ACCESS | kf::UPDATE, 1, 0, 1)])
        .doc(G, "1.0.0", "O(1)", "Returns the previous string value of a key after setting it to a new value."),
    Cmd::new("getdel", 2, getdel).flags(WRITE | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::ACCESS | kf::DELETE, 1, 0, 1)])
        .doc(G, "6.2.0", "O(1)", "Returns the string value of a key after deleting the key."),
    Cmd::new("getex", -2, getex).flags(WRITE | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::ACCESS | kf::UPDATE, 1, 0, 1).notes("RW and UPDATE because it changes the TTL")])
        .doc(G, "6.2.0", "O(1)", "Returns the string value of a key after setting its expiration time."),
    Cmd::new("mget", -2, mget).flags(READONLY | FAST).acl(R | acl::FAST).specs(&[ks(kf::RO | kf::ACCESS, 1, -1, 1)])
        .tips(&["request_policy:multi_shard"]).doc(G, "1.0.0", "O(N) where N is the number of keys to retrieve.", "Atomically returns the string values of one or more keys."),
    Cmd::new("mset", -3, mset).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(&[ks(kf::OW | kf::UPDATE, 1, -1, 2)])
        .tips(&["request_policy:multi_shard", "response_policy:all_succeeded"]).doc(G, "1.0.1", "O(N) where N is the number of keys to set.", "Atomically creates or modifies the string values of one or more keys."),
    Cmd::new("msetnx", -3, msetnx).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(&[ks(kf::OW | kf::INSERT, 1, -1, 2)])
        .tips(&["request_policy:multi_shard", "response_policy:agg_min"]).doc(G, "1.0.1", "O(N) where N is the number of keys to set.", "Atomically modifies the string values of one or more keys only when all keys don't exist."),
    Cmd::new("incr", 2, incr).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::ACCESS | kf::UPDATE, 1, 0, 1)])
        .doc(G, "1.0.0", "O(1)", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    Cmd::new("decr", 2, decr).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::ACCESS | kf::UPDATE, 1, 0, 1)])
        .doc(G, "1.0.0", "O(1)", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist."),
    Cmd::new("incrby", 3, incrby).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::ACCESS | kf::UPDATE, 1, 0, 1)])
        .doc(G, "1.0.0", "O(1)", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    Cmd::new("decrby", 3, decrby).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::ACCESS | kf::UPDATE, 1, 0, 1)])
        .doc(G, "1.0.0", "O(1)", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist."),
    Cmd::new("incrbyfloat", 3, incrbyfloat).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::ACCESS | kf::UPDATE, 1, 0, 1)])
        .doc(G, "2.6.0", "O(1)", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist."),
    Cmd::new("append", 3, append).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::INSERT, 1, 0, 1)])
        .doc(G, "2.0.0", "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.", "Appends a string to the value of a key. Creates the key if it doesn't exist."),
    Cmd::new("strlen", 2, strlen).flags(READONLY | FAST).acl(R | acl::FAST).specs(&[ks(kf::RO, 1, 0, 1)])
        .doc(G, "2.2.0", "O(1)", "Returns the length of a string value."),
    Cmd::new("getrange", 4, getrange).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .doc(G, "2.4.0", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", "Returns a substring of the string stored at a key."),
    Cmd::new("substr", 4, getrange).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .doc(G, "1.0.0", "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.", "Returns a substring from a string value."),
    Cmd::new("setrange", 4, setrange).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(&[ks(kf::RW | kf::UPDATE, 1, 0, 1)])
        .doc(G, "2.2.0", "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist."),
    Cmd::new("lcs", -3, lcs).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 1, 1)])
        .doc(G, "7.0.0", "O(N*M) where N and M are the lengths of s1 and s2, respectively", "Finds the longest common substring."),
];

fn str_value(b: &[u8]) -> Value {
    Value::Str(Str::from_bytes(b))
}

fn bulk_of(s: &Str) -> Frame {
    s.with_bytes(Frame::bulk)
}

fn get(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[1];
    let mut db = ctx.db();
    Ok(match st::read(&mut db, key)? {
        Some(s) => bulk_of(s),
        None => Frame::Null,
    })
}

/// How a SET-family command treats an existing key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cond {
    Always,
    Nx,
    Xx,
}

/// What SET stores about the TTL.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ttl {
    Clear,
    Keep,
    At(u64),
}

/// The shared core of SET, SETNX, SETEX, PSETEX and GETSET. Returns
/// Err(None-like) via Ok(None) when the condition blocks the write.
fn set_generic(
    ctx: &mut Ctx,
    key: &Bytes,
    val: &Bytes,
    cond: Cond,
    ttl: Ttl,
    get: bool,
) -> Result<(bool, Option<Frame>), CmdError> {
    let mut db = ctx.db();
    let old = if get {
        // The GET part is a read: it counts as a hit or miss.
        Some(match st::read(&mut db, key)? {
            Some(s) => bulk_of(s),
            None => Frame::Null,
        })
    } else {
        None
    };
    // A plain SET needs no existence check: one hash lookup instead of two.
    let blocked = match cond {
        Cond::Always => false,
        Cond::Nx => db.contains(key),
        Cond::Xx => !db.contains(key),
    };
    if blocked {
        return Ok((false, old));
    }
    db.set(key, str_value(val), ttl == Ttl::Keep);
    if let Ttl::At(at) = ttl {
        db.set_expire(key, Some(at));
    }
    drop(db);
    ctx.dirty += 1;
    // With GET, Redis has replied (the old value) before it notifies.
    if get {
        ctx.reply_first();
    }
    ctx.notify(notify::STRING, "set", key);
    if let Ttl::At(at) = ttl {
        // Announced even for a time already past: the key is stored anyway
        // and gets its own "expired" event when expiry reclaims it.
        ctx.notify(notify::GENERIC, "expire", key);
        if ctx.propagating() {
            ctx.propagate(Rewrite::set_pxat(key, val, at));
        }
    }
    Ok((true, old))
}

/// SET's arguments: `key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL]`.
struct SetArgs<'a> {
    key: &'a Bytes,
    value: &'a Bytes,
    cond: Cond,
    ttl: Ttl,
    get: bool,
}

impl<'a> SetArgs<'a> {
    /// Like Redis, the expiry value is checked only once every option has
    /// been read, so a syntax error wins over a bad time.
    fn parse(a: &mut Args<'a>, now: u64) -> Result<Self, CmdError> {
        let (key, value) = (a.next_bytes()?, a.next_bytes()?);
        let (mut cond, mut keep, mut get) = (Cond::Always, false, false);
        let mut expire: Option<ExpireArg<'a>> = None;
        while let Some(w) = a.next_arg() {
            if is(w, "NX") && cond != Cond::Xx {
                cond = Cond::Nx;
            } else if is(w, "XX") && cond != Cond::Nx {
                cond = Cond::Xx;
            } else if is(w, "GET") {
                get = true;
            } else if is(w, "KEEPTTL") && expire.is_none() {
                keep = true;
            } else {
                // Repeating the same expiry option is allowed (the last
                // wins); mixing two kinds, or one with KEEPTTL, is not.
                match expire_unit(w) {
                    Some(unit) if !keep && expire.is_none_or(|e| e.unit == unit) => {
                        expire = Some(ExpireArg {
                            unit,
                            value: a.next_bytes()?,
                        });
                    }
                    _ => return Err(CmdError::Syntax),
                }
            }
        }
        let ttl = match expire {
            Some(e) => Ttl::At(e.at(now, "set")?),
            None if keep => Ttl::Keep,
            None => Ttl::Clear,
        };
        Ok(SetArgs {
            key,
            value,
            cond,
            ttl,
            get,
        })
    }
}

fn set(ctx: &mut Ctx) -> CmdResult {
    let s = SetArgs::parse(&mut ctx.args(), ctx.now())?;
    let (done, old) = set_generic(ctx, s.key, s.value, s.cond, s.ttl, s.get)?;
    Ok(match old {
        Some(f) => f,
        None if done => Frame::ok(),
        None => Frame::Null,
    })
}

fn setnx(ctx: &mut Ctx) -> CmdResult {
    let (key, val) = (ctx.argv[1].clone(), ctx.argv[2].clone());
    let (done, _) = set_generic(ctx, &key, &val, Cond::Nx, Ttl::Clear, false)?;
    Ok(Frame::Integer(done as i64))
}

fn setex_generic(ctx: &mut Ctx, unit: ExpireUnit, name: &str) -> CmdResult {
    let (key, val) = (ctx.argv[1].clone(), ctx.argv[3].clone());
    let n = crate::dispatch::args::parse_i64(&ctx.argv[2])?;
    let at = expire_ms(n, unit, ctx.now(), name, true)?;
    set_generic(ctx, &key, &val, Cond::Always, Ttl::At(at), false)?;
    Ok(Frame::ok())
}

fn setex(ctx: &mut Ctx) -> CmdResult {
    setex_generic(ctx, ExpireUnit::Secs, "setex")
}

fn psetex(ctx: &mut Ctx) -> CmdResult {
    setex_generic(ctx, ExpireUnit::Millis, "psetex")
}

fn getset(ctx: &mut Ctx) -> CmdResult {
    let (key, val) = (ctx.argv[1].clone(), ctx.argv[2].clone());
    let (_, old) = set_generic(ctx, &key, &val, Cond::Always, Ttl::Clear, true)?;
    Ok(old.unwrap_or(Frame::Null))
}

fn getdel(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.argv[1].clone();
    let mut db = ctx.db();
    let reply = match st::read(&mut db, &key)? {
        Some(s) => bulk_of(s),
        None => return Ok(Frame::Null),
    };
    db.remove(&key);
    drop(db);
    ctx.dirty += 1;
    ctx.reply_first();
    ctx.notify(notify::GENERIC, "del", &key);
    Ok(reply)
}

/// What GETEX does to the TTL.
enum GetexOp<'a> {
    Keep,
    Persist,
    Expire(ExpireArg<'a>),
}

/// GETEX's arguments: `key [EX s|PX ms|EXAT t|PXAT t|PERSIST]`.
struct GetexArgs<'a> {
    key: &'a Bytes,
    op: GetexOp<'a>,
}

impl<'a> GetexArgs<'a> {
    /// The expiry value stays unparsed: Redis looks the key up (and checks
    /// its type) before it validates the time.
    fn parse(a: &mut Args<'a>) -> Result<Self, CmdError> {
        let key = a.next_bytes()?;
        let mut persist = false;
        let mut expire: Option<ExpireArg<'a>> = None;
        while let Some(w) = a.next_arg() {
            if is(w, "PERSIST") && expire.is_none() {
                persist = true;
                continue;
            }
            match expire_unit(w) {
                Some(unit) if !persist && expire.is_none_or(|e| e.unit == unit) => {
                    expire = Some(ExpireArg {
                        unit,
                        value: a.next_bytes()?,
                    });
                }
                _ => return Err(CmdError::Syntax),
            }
        }
        let op = match expire {
            Some(e) => GetexOp::Expire(e),
            None if persist => GetexOp::Persist,
            None => GetexOp::Keep,
        };
        Ok(GetexArgs { key, op })
    }
}

fn getex(ctx: &mut Ctx) -> CmdResult {
    let GetexArgs { key, op } = GetexArgs::parse(&mut ctx.args())?;
    enum Op {
        None,
        Persist,
        At(u64),
    }
    let now = ctx.now();
    let reply = match st::read(&mut ctx.db(), key)? {
        Some(s) => bulk_of(s),
        None => return Ok(Frame::Null),
    };
    // Like Redis: the key is looked up (and type-checked) before the
    // expiry value is validated.
    let op = match op {
        GetexOp::Keep => Op::None,
        GetexOp::Persist => Op::Persist,
        GetexOp::Expire(e) => Op::At(e.at(now, "getex")?),
    };
    let past =
        matches!(op, Op::At(at) if ctx.already_expired(i64::try_from(at).unwrap_or(i64::MAX)));
    let mut db = ctx.db();
    match op {
        Op::None => {}
        Op::Persist => {
            if db.expire_at(key).is_some() {
                db.set_expire(key, None);
                drop(db);
                ctx.dirty += 1;
                ctx.reply_first();
                ctx.notify(notify::GENERIC, "persist", key);
                ctx.propagate(Rewrite::persist(key));
            }
        }
        Op::At(_) if past => {
            db.remove(key);
            drop(db);
            ctx.dirty += 1;
            ctx.reply_first();
            ctx.notify(notify::GENERIC, "del", key);
            ctx.propagate(Rewrite::del(key));
        }
        Op::At(at) => {
            db.set_expire(key, Some(at));
            drop(db);
            ctx.dirty += 1;
            ctx.reply_first();
            ctx.notify(notify::GENERIC, "expire", key);
            ctx.propagate(Rewrite::pexpireat(key, at));
        }
    }
    Ok(reply)
}

fn mget(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let mut db = ctx.db();
    let mut out = Vec::with_capacity(argv.len() - 1);
    for key in &argv[1..] {
        out.push(match st::read(&mut db, key) {
            Ok(Some(s)) => bulk_of(s),
            _ => Frame::Null,
        });
    }
    Ok(Frame::Array(out))
}

fn mset_generic(ctx: &mut Ctx, nx: bool) -> CmdResult {
    let argv = ctx.argv;
    if argv.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(ctx.cmd.name.to_string()));
    }
    let mut db = ctx.db();
    if nx && argv[1..].chunks(2).any(|kv| db.contains(&kv[0])) {
        return Ok(Frame::Integer(0));
    }
    for kv in argv[1..].chunks(2) {
        db.set(&kv[0], str_value(&kv[1]), false);
    }
    drop(db);
    // One "set" per pair, a repeated key included, as Redis does.
    for kv in argv[1..].chunks(2) {
        ctx.notify(notify::STRING, "set", &kv[0]);
    }
    ctx.dirty += (argv.len() as u64 - 1) / 2;
    Ok(if nx { Frame::Integer(1) } else { Frame::ok() })
}

fn mset(ctx: &mut Ctx) -> CmdResult {
    mset_generic(ctx, false)
}

fn msetnx(ctx: &mut Ctx) -> CmdResult {
    mset_generic(ctx, true)
}

fn incr_generic(ctx: &mut Ctx, delta: i64) -> CmdResult {
    let key = &ctx.argv[1];
    let mut db = ctx.db();
    let n = st::incr_by(&mut db, key, delta)?;
    drop(db);
    ctx.dirty += 1;
    // INCR, DECR and DECRBY are all announced as "incrby".
    ctx.notify(notify::STRING, "incrby", key);
    Ok(Frame::Integer(n))
}

fn incr(ctx: &mut Ctx) -> CmdResult {
    incr_generic(ctx, 1)
}

fn decr(ctx: &mut Ctx) -> CmdResult {
    incr_generic(ctx, -1)
}

fn incrby(ctx: &mut Ctx) -> CmdResult {
    let d = crate::dispatch::args::parse_i64(&ctx.argv[2])?;
    incr_generic(ctx, d)
}

fn decrby(ctx: &mut Ctx) -> CmdResult {
    let d = crate::dispatch::args::parse_i64(&ctx.argv[2])?;
    if d == i64::MIN {
        return Err(crate::error::err("decrement would overflow"));
    }
    incr_generic(ctx, -d)
}

fn incrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.argv[1].clone();
    // As in Redis: the key's type first (WRONGTYPE), then the stored value
    // and the increment (strtold rules, hex floats included).
    let argv = ctx.argv;
    let mut db = ctx.db();
    let text = st::incr_by_float(&mut db, &key, &argv[2])?;
    drop(db);
    ctx.dirty += 1;
    ctx.notify(notify::STRING, "incrbyfloat", &key);
    let value = Bytes::from(text);
    ctx.propagate(Rewrite::set_keepttl(&key, &value));
    Ok(Frame::Bulk(value))
}

fn max_bulk(ctx: &Ctx) -> usize {
    ctx.srv
        .config
        .proto_max_bulk_len
        .load(std::sync::atomic::Ordering::Relaxed) as usize
}

fn append(ctx: &mut Ctx) -> CmdResult {
    let (key, tail) = (&ctx.argv[1], &ctx.argv[2]);
    let max = max_bulk(ctx);
    let mut db = ctx.db();
    let n = st::append(&mut db, key, tail, max)?;
    drop(db);
    ctx.dirty += 1;
    // Even an empty suffix counts as a change here.
    ctx.notify(notify::STRING, "append", key);
    Ok(Frame::Integer(n as i64))
}

fn strlen(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[1];
    let mut db = ctx.db();
    Ok(Frame::Integer(
        st::read(&mut db, key)?.map_or(0, |s| s.len() as i64),
    ))
}

fn getrange(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[1];
    let start = crate::dispatch::args::parse_i64(&ctx.argv[2])?;
    let end = crate::dispatch::args::parse_i64(&ctx.argv[3])?;
    let mut db = ctx.db();
    let Some(s) = st::read(&mut db, key)? else {
        return Ok(Frame::Bulk(Bytes::new()));
    };
    Ok(
        s.with_bytes(|b| match st::range_bounds(b.len(), start, end) {
            Some((lo, hi)) => Frame::bulk(&b[lo..hi]),
            None => Frame::Bulk(Bytes::new()),
        }),
    )
}

fn setrange(ctx: &mut Ctx) -> CmdResult {
    let (key, data) = (&ctx.argv[1], &ctx.argv[3]);
    let offset = crate::dispatch::args::parse_i64(&ctx.argv[2])?;
    if offset < 0 {
        return Err(rubedo_engine::Error::OffsetOutOfRange.into());
    }
    let max = max_bulk(ctx);
    let mut db = ctx.db();
    let existed = db.contains(key);
    let n = st::set_range(&mut db, key, offset as usize, data, max)?;
    drop(db);
    if !data.is_empty() || (!existed && n > 0) {
        ctx.dirty += 1;
        ctx.notify(notify::STRING, "setrange", key);
    }
    Ok(Frame::Integer(n as i64))
}

fn lcs(ctx: &mut Ctx) -> CmdResult {
    let (k1, k2) = (&ctx.argv[1], &ctx.argv[2]);
    let mut a = Args::after(ctx.argv, 3);
    let (mut len_only, mut idx, mut with_len, mut min_len) = (false, false, false, 0i64);
    while !a.is_empty() {
        if a.eat("IDX") {
            idx = true;
        } else if a.eat("LEN") {
            len_only = true;
        } else if a.eat("WITHMATCHLEN") {
            with_len = true;
        } else if a.eat("MINMATCHLEN") {
            min_len = a.next_i64()?.max(0);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut db = ctx.db();
    let wrong = || crate::error::err("The specified keys must contain string values");
    let s1 = st::read(&mut db, k1)
        .map_err(|_| wrong())?
        .map(|s| s.to_vec())
        .unwrap_or_default();
    let s2 = st::read(&mut db, k2)
        .map_err(|_| wrong())?
        .map(|s| s.to_vec())
        .unwrap_or_default();
    if len_only && idx {
        return Err(crate::error::err(
            "If you want both the length and indexes, please just use IDX.",
        ));
    }
    let l = st::Lcs::new(&s1, &s2);
    if len_only {
        return Ok(Frame::Integer(l.len() as i64));
    }
    let (common, ranges) = l.walk(&s1, &s2);
    if !idx {
        return Ok(Frame::Bulk(Bytes::from(common)));
    }
    let pair =
        |a: usize, b: usize| Frame::Array(vec![Frame::Integer(a as i64), Frame::Integer(b as i64)]);
    let matches = ranges
        .into_iter()
        .filter(|((a0, a1), _)| (a1 - a0 + 1) as i64 >= min_len)
        .map(|((a0, a1), (b0, b1))| {
            let mut m = vec![pair(a0, a1), pair(b0, b1)];
            if with_len {
                m.push(Frame::Integer((a1 - a0 + 1) as i64));
            }
            Frame::Array(m)
        })
        .collect();
    Ok(Frame::Map(vec![
        (Frame::bulk(b"matches"), Frame::Array(matches)),
        (Frame::bulk(b"len"), Frame::Integer(l.len() as i64)),
    ]))
}
