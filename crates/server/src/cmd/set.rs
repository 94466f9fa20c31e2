//! The set group: membership, random picks and pops, set algebra, SSCAN.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use rubedo_engine::glob::glob_match;
use rubedo_engine::types::set::{self as st, Set};
use rubedo_pubsub::notify;
use rubedo_resp::Frame;

use crate::dispatch::args::{parse_i64, Args};
use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag::*, kf, ks, ks_keynum, Cmd};
use crate::error::{err, CmdError, CmdResult};
use crate::propagate::Rewrite;

use super::keys::{parse_cursor, ScanOptions};

const G: &str = "set";
const W: u64 = acl::WRITE | acl::SET;
const R: u64 = acl::READ | acl::SET;
const UNORDERED: &[&str] = &["nondeterministic_output_order"];
const RANDOM: &[&str] = &["nondeterministic_output"];
const ALGEBRA: &str = "O(N) where N is the total number of elements in all given sets.";
const INTER: &str =
    "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.";

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("sadd", -3, sadd).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::INSERT, 1, 0, 1)])
        .doc(G, "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.", "Adds members to a set, creating the set if needed; returns how many were new."),
    Cmd::new("scard", 2, scard).flags(READONLY | FAST).acl(R | acl::FAST).specs(&[ks(kf::RO, 1, 0, 1)])
        .doc(G, "1.0.0", "O(1)", "Returns how many members a set has."),
    Cmd::new("sdiff", -2, sdiff).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, -1, 1)])
        .tips(UNORDERED).doc(G, "1.0.0", ALGEBRA, "Returns the members of the first set that none of the other sets hold."),
    Cmd::new("sdiffstore", -3, sdiffstore).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(&[ks(kf::OW | kf::UPDATE, 1, 0, 1), ks(kf::RO | kf::ACCESS, 2, -1, 1)])
        .doc(G, "1.0.0", ALGEBRA, "Stores the difference of sets in a key, replacing what it held."),
    Cmd::new("sinter", -2, sinter).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, -1, 1)])
        .tips(UNORDERED).doc(G, "1.0.0", INTER, "Returns the members every given set holds."),
    Cmd::new("sintercard", -3, sintercard).flags(READONLY).acl(R | acl::SLOW).specs(&[ks_keynum(kf::RO | kf::ACCESS, 1, 0, 1, 1)])
        .doc(G, "7.0.0", INTER, "Counts the members common to all given sets, optionally stopping at a limit."),
    Cmd::new("sinterstore", -3, sinterstore).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(&[ks(kf::RW | kf::UPDATE, 1, 0, 1), ks(kf::RO | kf::ACCESS, 2, -1, 1)])
        .doc(G, "1.0.0", INTER, "Stores the intersection of sets in a key, replacing what it held."),
    Cmd::new("sismember", 3, sismember).flags(READONLY | FAST).acl(R | acl::FAST).specs(&[ks(kf::RO, 1, 0, 1)])
        .doc(G, "1.0.0", "O(1)", "Tells whether a value is a member of a set."),
    Cmd::new("smembers", 2, smembers).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .tips(UNORDERED).doc(G, "1.0.0", "O(N) where N is the set cardinality.", "Returns every member of a set."),
    Cmd::new("smismember", -3, smismember).flags(READONLY | FAST).acl(R | acl::FAST).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .doc(G, "6.2.0", "O(N) where N is the number of elements being checked for membership", "Tells, for each of several values, whether it is a member of a set."),
    Cmd::new("smove", 4, smove).flags(WRITE | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::ACCESS | kf::DELETE, 1, 0, 1), ks(kf::RW | kf::INSERT, 2, 0, 1)])
        .doc(G, "1.0.0", "O(1)", "Moves one member from a set to another set."),
    Cmd::new("spop", -2, spop).flags(WRITE | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::ACCESS | kf::DELETE, 1, 0, 1)])
        .tips(RANDOM).doc(G, "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.", "Removes random members from a set and returns them; the set goes when emptied."),
    Cmd::new("srandmember", -2, srandmember).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .tips(RANDOM).doc(G, "1.0.0", "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.", "Returns random members of a set without removing them; a negative count may repeat members."),
    Cmd::new("srem", -3, srem).flags(WRITE | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::DELETE, 1, 0, 1)])
        .doc(G, "1.0.0", "O(N) where N is the number of members to be removed.", "Removes members from a set; the set goes when emptied."),
    Cmd::new("sscan", -3, sscan).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .tips(RANDOM).doc(G, "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..", "Walks the members of a set with a cursor."),
    Cmd::new("sunion", -2, sunion).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, -1, 1)])
        .tips(UNORDERED).doc(G, "1.0.0", ALGEBRA, "Returns the members any of the given sets holds."),
    Cmd::new("sunionstore", -3, sunionstore).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(&[ks(kf::OW | kf::UPDATE, 1, 0, 1), ks(kf::RO | kf::ACCESS, 2, -1, 1)])
        .doc(G, "1.0.0", ALGEBRA, "Stores the union of sets in a key, replacing what it held."),
];

/// set-max-intset-entries, read once per command.
fn max_intset(ctx: &Ctx) -> usize {
    usize::try_from(ctx.srv.config.set_max_intset_entries.load(Relaxed)).unwrap_or(usize::MAX)
}

fn bulk_vec(m: Vec<u8>) -> Frame {
    Frame::Bulk(Bytes::from(m))
}

/// A set's members as a RESP3 set (an array for RESP2 clients), in iteration order.
fn set_reply(s: &Set) -> Frame {
    let mut out = Vec::with_capacity(s.len());
    s.for_each(|m| out.push(Frame::bulk(m)));
    Frame::Set(out)
}

fn sadd(ctx: &mut Ctx) -> CmdResult {
    let (argv, max) = (ctx.argv, max_intset(ctx));
    let key = &argv[1];
    let n = st::add(&mut ctx.db(), key, &argv[2..], max)?;
    if n > 0 {
        ctx.dirty += n as u64;
        ctx.notify(notify::SET, "sadd", key);
    }
    Ok(Frame::Integer(n as i64))
}

fn srem(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let key = &argv[1];
    let n = st::remove(&mut ctx.db(), key, &argv[2..])?;
    if n > 0 {
        ctx.dirty += n as u64;
        ctx.notify(notify::SET, "srem", key);
        ctx.notify_del_if_gone(key);
    }
    Ok(Frame::Integer(n as i64))
}

fn scard(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[1];
    Ok(Frame::Integer(
        st::read(&mut ctx.db(), key)?.map_or(0, |s| s.len()) as i64,
    ))
}

fn sismember(ctx: &mut Ctx) -> CmdResult {
    let (key, m) = (&ctx.argv[1], &ctx.argv[2]);
    let found = st::read(&mut ctx.db(), key)?.is_some_and(|s| s.contains(m));
    Ok(Frame::Integer(found as i64))
}

fn smismember(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let key = &argv[1];
    let mut db = ctx.db();
    let set = st::read(&mut db, key)?;
    Ok(Frame::Array(
        argv[2..]
            .iter()
            .map(|m| Frame::Integer(set.is_some_and(|s| s.contains(m)) as i64))
            .collect(),
    ))
}

fn smembers(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[1];
    Ok(match st::read(&mut ctx.db(), key)? {
        Some(s) => set_reply(s),
        None => Frame::Set(Vec::new()),
    })
}

fn smove(ctx: &mut Ctx) -> CmdResult {
    let (src, dst, m) = (&ctx.argv[1], &ctx.argv[2], &ctx.argv[3]);
    let max = max_intset(ctx);
    let mut db = ctx.db();
    // A missing source answers 0 before the destination's type is looked at.
    if st::get(&mut db, src)?.is_none() {
        return Ok(Frame::Integer(0));
    }
    st::get(&mut db, dst)?;
    if src == dst {
        let found = st::get(&mut db, src)?.is_some_and(|s| s.contains(m));
        return Ok(Frame::Integer(found as i64));
    }
    if st::remove(&mut db, src, &[m])? == 0 {
        return Ok(Frame::Integer(0));
    }
    drop(db);
    ctx.dirty += 1;
    // The source's events go out before the destination is touched, so a
    // "new" event for a created destination follows them, as in Redis.
    ctx.notify(notify::SET, "srem", src);
    ctx.notify_del_if_gone(src);
    // Both keys exist or were type-checked above, so this cannot fail.
    let added = st::add(&mut ctx.db(), dst, &[m], max)?;
    if added > 0 {
        ctx.dirty += 1;
        ctx.notify(notify::SET, "sadd", dst);
    }
    Ok(Frame::Integer(1))
}

fn spop(ctx: &mut Ctx) -> CmdResult {
    match ctx.argv.len() {
        2 => {}
        3 => return spop_count(ctx),
        _ => return Err(CmdError::Syntax),
    }
    let key = &ctx.argv[1];
    let mut db = ctx.db();
    let Some(set) = st::get_mut(&mut db, key)? else {
        return Ok(Frame::Null);
    };
    let m = set
        .pop_random(&mut rand::thread_rng())
        .expect("sets are never empty");
    let emptied = set.is_empty();
    if emptied {
        db.remove(key);
    }
    drop(db);
    ctx.dirty += 1;
    ctx.notify(notify::SET, "spop", key);
    ctx.reply_first();
    if emptied {
        ctx.notify(notify::GENERIC, "del", key);
    }
    ctx.propagate(Rewrite::srem(key, &m));
    Ok(bulk_vec(m))
}

fn spop_count(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[1];
    let count = parse_i64(&ctx.argv[2])
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| err("value is out of range, must be positive"))? as u64;
    let max = max_intset(ctx);
    let mut db = ctx.db();
    let Some(set) = st::get_mut(&mut db, key)? else {
        return Ok(Frame::Set(Vec::new()));
    };
    if count == 0 {
        return Ok(Frame::Set(Vec::new()));
    }
    if count >= set.len() as u64 {
        // The whole set, replied in the order of a freshly built union (as Redis does).
        let all = st::union(&[Some(set)], max);
        db.remove(key);
        drop(db);
        ctx.dirty += 1;
        ctx.notify(notify::SET, "spop", key);
        ctx.notify(notify::GENERIC, "del", key);
        ctx.propagate(Rewrite::del(key));
        return Ok(set_reply(&all));
    }
    // Fewer than the set holds, so the set stays.
    let popped = set.pop_many(count as usize, max, &mut rand::thread_rng());
    drop(db);
    ctx.dirty += 1;
    ctx.notify(notify::SET, "spop", key);
    if ctx.propagating() {
        for m in &popped {
            ctx.propagate(Rewrite::srem(key, m));
        }
    } else {
        ctx.propagate_nothing();
    }
    Ok(Frame::Set(popped.into_iter().map(bulk_vec).collect()))
}

fn srandmember(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[1];
    match ctx.argv.len() {
        2 => {
            let mut db = ctx.db();
            Ok(match st::read(&mut db, key)? {
                Some(s) => s
                    .random(&mut rand::thread_rng())
                    .map_or(Frame::Null, bulk_vec),
                None => Frame::Null,
            })
        }
        3 => {
            let l = parse_i64(&ctx.argv[2])?;
            if l == i64::MIN {
                return Err(err(
                    "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                ));
            }
            let mut db = ctx.db();
            let Some(set) = st::read(&mut db, key)? else {
                return Ok(Frame::Array(Vec::new()));
            };
            let mut rng = rand::thread_rng();
            let count = l.unsigned_abs();
            if l < 0 && count > crate::session::tail::STREAM_OVER {
                // Too many to build: written as the client reads (see `tail`).
                let members: Vec<Bytes> = set.members().into_iter().map(Bytes::from).collect();
                drop(db);
                let proto = ctx.client.proto;
                let picks = crate::session::tail::random_picks(members, count, move |m, out| {
                    rubedo_resp::encode(&Frame::Bulk(m.clone()), proto, out)
                });
                ctx.stream_tail(vec![crate::session::tail::Part::Stream(picks)]);
                return Ok(Frame::Raw(crate::session::tail::array_header(count)));
            }
            if l < 0 || count == 1 {
                // May repeat; drawn one at a time.
                let mut out = Vec::with_capacity(count.min(1 << 16) as usize);
                for _ in 0..count {
                    out.push(set.random(&mut rng).map_or(Frame::Null, bulk_vec));
                }
                return Ok(Frame::Array(out));
            }
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            Ok(Frame::Array(
                set.random_distinct(count, &mut rng)
                    .into_iter()
                    .map(bulk_vec)
                    .collect(),
            ))
        }
        _ => Err(CmdError::Syntax),
    }
}

fn sscan(ctx: &mut Ctx) -> CmdResult {
    let mut a = ctx.args();
    let key = a.next_bytes()?;
    let cursor = parse_cursor(a.next_bytes()?)?;
    let mut db = ctx.db();
    let Some(set) = st::read(&mut db, key)? else {
        return Ok(Frame::Array(vec![
            Frame::bulk(b"0"),
            Frame::Array(Vec::new()),
        ]));
    };
    // The key is checked before the options, as Redis does.
    let ScanOptions { pattern, count, .. } = ScanOptions::parse(&mut a, false)?;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut c = cursor;
    let mut budget = count.saturating_mul(10);
    loop {
        c = set.scan(c, |m| found.push(m.to_vec()));
        if c == 0 || budget == 0 || found.len() as i64 >= count {
            break;
        }
        budget -= 1;
    }
    let items = found
        .into_iter()
        .filter(|m| pattern.is_none_or(|p| glob_match(p, m, false)))
        .map(bulk_vec)
        .collect();
    Ok(Frame::Array(vec![
        Frame::Bulk(Bytes::from(c.to_string())),
        Frame::Array(items),
    ]))
}

/// What a set-algebra command computes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The result of `op` over the sets at `keys`.
fn compute(ctx: &mut Ctx, op: Op, keys: &[Bytes]) -> Result<Set, CmdError> {
    let max = max_intset(ctx);
    Ok(st::with_sets(&mut ctx.db(), keys, |sets| match op {
        Op::Inter => match sets.iter().copied().collect::<Option<Vec<&Set>>>() {
            Some(all) => st::inter(&all, max, 0),
            None => Set::new(),
        },
        Op::Union => st::union(sets, max),
        Op::Diff => st::diff(sets, max),
    })?)
}

fn algebra(ctx: &mut Ctx, op: Op) -> CmdResult {
    let keys = &ctx.argv[1..];
    Ok(set_reply(&compute(ctx, op, keys)?))
}

fn algebra_store(ctx: &mut Ctx, op: Op) -> CmdResult {
    let (dst, keys) = (&ctx.argv[1], &ctx.argv[2..]);
    let result = compute(ctx, op, keys)?;
    let (n, changed) = st::store(&mut ctx.db(), dst, result);
    if changed {
        ctx.dirty += 1;
        // An empty result deletes the destination: that is the event then.
        let event = match (n, op) {
            (0, _) => "del",
            (_, Op::Inter) => "sinterstore",
            (_, Op::Union) => "sunionstore",
            (_, Op::Diff) => "sdiffstore",
        };
        let class = if n == 0 { notify::GENERIC } else { notify::SET };
        // Redis answers before notifying here.
        ctx.reply_first();
        ctx.notify(class, event, dst);
    }
    Ok(Frame::Integer(n as i64))
}

fn sinter(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, Op::Inter)
}

fn sunion(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, Op::Union)
}

fn sdiff(ctx: &mut Ctx) -> CmdResult {
    algebra(ctx, Op::Diff)
}

fn sinterstore(ctx: &mut Ctx) -> CmdResult {
    algebra_store(ctx, Op::Inter)
}

fn sunionstore(ctx: &mut Ctx) -> CmdResult {
    algebra_store(ctx, Op::Union)
}

fn sdiffstore(ctx: &mut Ctx) -> CmdResult {
    algebra_store(ctx, Op::Diff)
}

fn sintercard(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let numkeys = parse_i64(&argv[1])
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| err("numkeys should be greater than 0"))?;
    if numkeys > argv.len() as i64 - 2 {
        return Err(err("Number of keys can't be greater than number of args"));
    }
    let end = 2 + numkeys as usize;
    let mut a = Args::after(argv, end);
    let mut limit = 0i64;
    while !a.is_empty() {
        if a.remaining() >= 2 && a.eat("LIMIT") {
            limit = parse_i64(a.next_bytes()?)
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| err("LIMIT can't be negative"))?;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let n = st::with_sets(&mut ctx.db(), &argv[2..end], |sets| {
        match sets.iter().copied().collect::<Option<Vec<&Set>>>() {
            Some(all) => st::inter_card(&all, limit as usize),
            None => 0,
        }
    })?;
    Ok(Frame::Integer(n as i64))
}
