//! The blocking commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP for lists,
//! BZPOPMIN, BZPOPMAX, BZMPOP for sorted sets.
//!
//! Each tries its non-blocking form first. With nothing to serve it records
//! a [`BlockRequest`] and the connection parks the client (see
//! `crate::signals::blocking`); when a key becomes ready the same command is run
//! again for it. Inside MULTI they answer at once, as Redis does.
//! Being run again is also what makes a client served late fire the same
//! keyspace events as one served at once, after those of the command that
//! made the key ready.

use std::time::{Duration, Instant};

use bytes::Bytes;
use rubedo_engine::types::list::{self as lt, End};
use rubedo_engine::Kind;
use rubedo_pubsub::notify;
use rubedo_resp::Frame;

use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag::*, kf, ks, ks_keynum, Cmd};
use crate::error::{err, CmdError, CmdResult};
use crate::propagate::Rewrite;
use crate::signals::blocking::BlockRequest;

use super::list::{fill, mpop, notify_move, pop_event, MpopArgs};
use super::zset;

const G: &str = "list";
const A: u64 = acl::WRITE | acl::LIST | acl::SLOW | acl::BLOCKING;
const Z: u64 = acl::WRITE | acl::SORTEDSET | acl::BLOCKING;

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("blpop", -3, blpop)
        .flags(WRITE | NOSCRIPT | BLOCKING)
        .acl(A)
        .specs(&[ks(kf::RW | kf::ACCESS | kf::DELETE, 1, -2, 1)])
        .doc(G, "2.0.0", "O(N) where N is the number of provided keys.", "Pops the first element of the first non-empty list, waiting for one if needed."),
    Cmd::new("brpop", -3, brpop)
        .flags(WRITE | NOSCRIPT | BLOCKING)
        .acl(A)
        .specs(&[ks(kf::RW | kf::ACCESS | kf::DELETE, 1, -2, 1)])
        .doc(G, "2.0.0", "O(N) where N is the number of provided keys.", "Pops the last element of the first non-empty list, waiting for one if needed."),
    Cmd::new("blmove", 6, blmove)
        .flags(WRITE | DENYOOM | NOSCRIPT | BLOCKING)
        .acl(A)
        .specs(&[ks(kf::RW | kf::ACCESS | kf::DELETE, 1, 0, 1), ks(kf::RW | kf::INSERT, 2, 0, 1)])
        .doc(G, "6.2.0", "O(1)", "Moves an element from one list to another, waiting for one if the source is empty."),
    Cmd::new("brpoplpush", 4, brpoplpush)
        .flags(WRITE | DENYOOM | NOSCRIPT | BLOCKING)
        .acl(A)
        .specs(&[ks(kf::RW | kf::ACCESS | kf::DELETE, 1, 0, 1), ks(kf::RW | kf::INSERT, 2, 0, 1)])
        .doc(G, "2.2.0", "O(1)", "Moves the last element of a list to the head of another, waiting for one if needed."),
    Cmd::new("blmpop", -5, blmpop)
        .flags(WRITE | BLOCKING)
        .acl(A)
        .specs(&[ks_keynum(kf::RW | kf::ACCESS | kf::DELETE, 2, 0, 1, 1)])
        .doc(G, "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", "Pops elements from the first non-empty list, waiting for one if needed."),
    Cmd::new("bzpopmin", -3, bzpopmin)
        .flags(WRITE | NOSCRIPT | BLOCKING | FAST)
        .acl(Z | acl::FAST)
        .specs(&[ks(kf::RW | kf::ACCESS | kf::DELETE, 1, -2, 1)])
        .doc("sorted-set", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "Pops the lowest-scored member of the first non-empty sorted set, waiting for one if needed."),
    Cmd::new("bzpopmax", -3, bzpopmax)
        .flags(WRITE | NOSCRIPT | BLOCKING | FAST)
        .acl(Z | acl::FAST)
        .specs(&[ks(kf::RW | kf::ACCESS | kf::DELETE, 1, -2, 1)])
        .doc("sorted-set", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.", "Pops the highest-scored member of the first non-empty sorted set, waiting for one if needed."),
    Cmd::new("bzmpop", -5, bzmpop)
        .flags(WRITE | BLOCKING)
        .acl(Z | acl::SLOW)
        .specs(&[ks_keynum(kf::RW | kf::ACCESS | kf::DELETE, 2, 0, 1, 1)])
        .doc("sorted-set", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "Pops members of the first non-empty sorted set, waiting for one if needed."),
];

/// A blocking timeout in seconds, as Redis 7.0 parses it: a long double,
/// times 1000 rounded up (so a positive sub-millisecond timeout waits 1 ms),
/// converted to a C long long, whose out-of-range values come out negative.
/// None = wait forever: 0, or a deadline beyond what the clock can hold
/// (Redis's absolute time overflows there and it never times out).
fn parse_timeout(arg: &[u8]) -> Result<Option<Instant>, CmdError> {
    let ms = rubedo_engine::types::float::seconds_to_ms(arg)
        .ok_or_else(|| err("timeout is not a float or out of range"))?;
    if ms < 0 {
        return Err(err("timeout is negative"));
    }
    if ms == 0 {
        return Ok(None);
    }
    Ok(Instant::now().checked_add(Duration::from_millis(ms as u64)))
}

/// Records that the command must wait on `keys`, unless it runs inside
/// EXEC, where it answers `nil` at once.
fn block(
    ctx: &mut Ctx,
    pops: Kind,
    keys: &[Bytes],
    deadline: Option<Instant>,
    nil: Frame,
) -> CmdResult {
    if !ctx.caller.may_block() {
        return Ok(nil);
    }
    ctx.block(BlockRequest {
        db: ctx.client.db,
        keys: keys.to_vec(),
        pops,
        deadline,
        argv: ctx.argv.to_vec(),
    });
    // Not sent: the connection waits and replies when served or timed out.
    Ok(Frame::NullArray)
}

fn bpop(ctx: &mut Ctx, end: End) -> CmdResult {
    let argv = ctx.argv;
    let keys = &argv[1..argv.len() - 1];
    let deadline = parse_timeout(&argv[argv.len() - 1])?;
    let mut db = ctx.db();
    for key in keys {
        let Some(mut popped) = lt::pop(&mut db, key, end, 1)? else {
            continue;
        };
        drop(db);
        let v = popped.pop().expect("popped one element");
        ctx.dirty += 1;
        ctx.reply_first();
        ctx.notify(notify::LIST, pop_event(end), key);
        ctx.notify_del_if_gone(key);
        ctx.propagate(Rewrite::pop(end, key, None));
        return Ok(Frame::Array(vec![
            Frame::Bulk(key.clone()),
            Frame::Bulk(Bytes::from(v)),
        ]));
    }
    drop(db);
    block(ctx, Kind::List, keys, deadline, Frame::NullArray)
}

fn blpop(ctx: &mut Ctx) -> CmdResult {
    bpop(ctx, End::Head)
}

fn brpop(ctx: &mut Ctx) -> CmdResult {
    bpop(ctx, End::Tail)
}

fn bmove(ctx: &mut Ctx, from: End, to: End, timeout: &[u8]) -> CmdResult {
    let argv = ctx.argv;
    let deadline = parse_timeout(timeout)?;
    let (src, dst) = (&argv[1], &argv[2]);
    let fill = fill(ctx);
    let moved = lt::move_one(&mut ctx.db(), src, dst, from, to, fill)?;
    let Some(v) = moved else {
        return block(
            ctx,
            Kind::List,
            std::slice::from_ref(src),
            deadline,
            Frame::Null,
        );
    };
    ctx.dirty += 1;
    notify_move(ctx, src, dst, from, to);
    ctx.propagate(Rewrite::lmove(src, dst, from, to));
    Ok(Frame::Bulk(Bytes::from(v)))
}

fn blmove(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let from = End::parse(&argv[3]).ok_or(CmdError::Syntax)?;
    let to = End::parse(&argv[4]).ok_or(CmdError::Syntax)?;
    bmove(ctx, from, to, &argv[5])
}

fn brpoplpush(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    bmove(ctx, End::Tail, End::Head, &argv[3])
}

fn blmpop(ctx: &mut Ctx) -> CmdResult {
    let mut a = ctx.args();
    let deadline = parse_timeout(a.next_bytes()?)?;
    let m = MpopArgs::parse(&mut a, End::parse)?;
    match mpop(ctx, m.keys, m.side, m.count)? {
        Some(reply) => Ok(reply),
        None => block(ctx, Kind::List, m.keys, deadline, Frame::NullArray),
    }
}

fn bzpop(ctx: &mut Ctx, max: bool) -> CmdResult {
    let argv = ctx.argv;
    let keys = &argv[1..argv.len() - 1];
    let deadline = parse_timeout(&argv[argv.len() - 1])?;
    match zset::pop_first(ctx, keys, max, None)? {
        Some((key, popped)) => Ok(zset::bzpop_reply(key, popped)),
        None => block(ctx, Kind::ZSet, keys, deadline, Frame::NullArray),
    }
}

fn bzpopmin(ctx: &mut Ctx) -> CmdResult {
    bzpop(ctx, false)
}

fn bzpopmax(ctx: &mut Ctx) -> CmdResult {
    bzpop(ctx, true)
}

fn bzmpop(ctx: &mut Ctx) -> CmdResult {
    let mut a = ctx.args();
    let deadline = parse_timeout(a.next_bytes()?)?;
    let m = MpopArgs::parse(&mut a, zset::min_max)?;
    match zset::pop_first(ctx, m.keys, m.side, Some(m.count))? {
        Some((key, popped)) => Ok(zset::mpop_reply(key, popped)),
        None => block(ctx, Kind::ZSet, m.keys, deadline, Frame::NullArray),
    }
}
