//! The sorted-set group: ZADD and friends, ranks and ranges (by rank, score and lex),
//! range removal, pops, random picks, ZSCAN and the union/intersection/difference family.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use rubedo_engine::glob::glob_match;
use rubedo_engine::types::zset::{
    self as zt, AddFlags, AddOutcome, Items, LexBound, LexRange, Limits, ScoreBound, ScoreRange,
    ZSet,
};
use rubedo_pubsub::notify;
use rubedo_resp::Frame;

use crate::dispatch::args::{is, parse_i64, Args};
use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag::*, kf, ks, ks_keynum, Cmd};
use crate::error::{err, CmdError, CmdResult};
use crate::propagate::Rewrite;

use super::keys::{parse_cursor, ScanOptions};
use super::list::MpopArgs;

mod algebra;
mod args;
use algebra::*;
pub use args::min_max;
use args::*;

const G: &str = "sorted-set";
const W: u64 = acl::WRITE | acl::SORTEDSET;
const R: u64 = acl::READ | acl::SORTEDSET;
const RANDOM: &[&str] = &["nondeterministic_output"];
const RO: &[crate::dispatch::table::Spec] = &[ks(kf::RO, 1, 0, 1)];
const ROA: &[crate::dispatch::table::Spec] = &[ks(kf::RO | kf::ACCESS, 1, 0, 1)];
const RWD: &[crate::dispatch::table::Spec] = &[ks(kf::RW | kf::DELETE, 1, 0, 1)];
const POP: &[crate::dispatch::table::Spec] = &[ks(kf::RW | kf::ACCESS | kf::DELETE, 1, 0, 1)];
const NUMKEYS: &[crate::dispatch::table::Spec] = &[ks_keynum(kf::RO | kf::ACCESS, 1, 0, 1, 1)];
const STORE_NUMKEYS: &[crate::dispatch::table::Spec] = &[
    ks(kf::OW | kf::UPDATE, 1, 0, 1),
    ks_keynum(kf::RO | kf::ACCESS, 2, 0, 1, 1),
];
const LOGN: &str = "O(log(N)) where N is the number of elements in the sorted set.";
const RANGE_CX: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.";
const REMRANGE_CX: &str = "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.";
const UNION_CX: &str = "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.";
const INTER_CX: &str = "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.";
const DIFF_CX: &str = "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.";

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("zadd", -4, zadd).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::UPDATE, 1, 0, 1)])
        .doc(G, "1.2.0", "O(log(N)) for each item added, where N is the number of elements in the sorted set.", "Adds members with scores to a sorted set or updates their scores, with conditions; creates the key if needed."),
    Cmd::new("zcard", 2, zcard).flags(READONLY | FAST).acl(R | acl::FAST).specs(RO)
        .doc(G, "1.2.0", "O(1)", "Returns how many members a sorted set has."),
    Cmd::new("zcount", 4, zcount).flags(READONLY | FAST).acl(R | acl::FAST).specs(ROA)
        .doc(G, "2.0.0", LOGN, "Counts the members whose scores fall within a range."),
    Cmd::new("zdiff", -3, zdiff).flags(READONLY).acl(R | acl::SLOW).specs(NUMKEYS)
        .doc(G, "6.2.0", DIFF_CX, "Returns the members of the first sorted set that none of the others hold."),
    Cmd::new("zdiffstore", -4, zdiffstore).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(STORE_NUMKEYS)
        .doc(G, "6.2.0", DIFF_CX, "Stores the difference of sorted sets in a key."),
    Cmd::new("zincrby", 4, zincrby).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::ACCESS | kf::UPDATE, 1, 0, 1)])
        .doc(G, "1.2.0", LOGN, "Adds an increment to a member's score, creating the member (and key) if needed."),
    Cmd::new("zinter", -3, zinter).flags(READONLY).acl(R | acl::SLOW).specs(NUMKEYS)
        .doc(G, "6.2.0", INTER_CX, "Returns the intersection of sorted sets, with weights and an aggregate."),
    Cmd::new("zintercard", -3, zintercard).flags(READONLY).acl(R | acl::SLOW).specs(NUMKEYS)
        .doc(G, "7.0.0", "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.", "Counts the members common to all given sorted sets, optionally stopping at a limit."),
    Cmd::new("zinterstore", -4, zinterstore).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(STORE_NUMKEYS)
        .doc(G, "2.0.0", INTER_CX, "Stores the intersection of sorted sets in a key."),
    Cmd::new("zlexcount", 4, zlexcount).flags(READONLY | FAST).acl(R | acl::FAST).specs(ROA)
        .doc(G, "2.8.9", LOGN, "Counts the members within a lexicographic range."),
    Cmd::new("zmpop", -4, zmpop).flags(WRITE).acl(W | acl::SLOW).specs(&[ks_keynum(kf::RW | kf::ACCESS | kf::DELETE, 1, 0, 1, 1)])
        .doc(G, "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.", "Pops the lowest- or highest-scored members of the first non-empty sorted set among several keys."),
    Cmd::new("zmscore", -3, zmscore).flags(READONLY | FAST).acl(R | acl::FAST).specs(ROA)
        .doc(G, "6.2.0", "O(N) where N is the number of members being requested.", "Returns the scores of several members."),
    Cmd::new("zpopmax", -2, zpopmax).flags(WRITE | FAST).acl(W | acl::FAST).specs(POP)
        .doc(G, "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "Removes and returns the highest-scored members; the key goes when emptied."),
    Cmd::new("zpopmin", -2, zpopmin).flags(WRITE | FAST).acl(W | acl::FAST).specs(POP)
        .doc(G, "5.0.0", "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.", "Removes and returns the lowest-scored members; the key goes when emptied."),
    Cmd::new("zrandmember", -2, zrandmember).flags(READONLY).acl(R | acl::SLOW).specs(ROA).tips(RANDOM)
        .doc(G, "6.2.0", "O(N) where N is the number of members returned", "Returns random members, optionally with scores; a negative count may repeat members."),
    Cmd::new("zrange", -4, zrange).flags(READONLY).acl(R | acl::SLOW).specs(ROA)
        .doc(G, "1.2.0", RANGE_CX, "Returns members in a range of ranks, scores or lexicographic values, optionally reversed and limited."),
    Cmd::new("zrangebylex", -4, zrangebylex).flags(READONLY).acl(R | acl::SLOW).specs(ROA)
        .doc(G, "2.8.9", RANGE_CX, "Returns members within a lexicographic range."),
    Cmd::new("zrangebyscore", -4, zrangebyscore).flags(READONLY).acl(R | acl::SLOW).specs(ROA)
        .doc(G, "1.0.5", RANGE_CX, "Returns members within a score range."),
    Cmd::new("zrangestore", -5, zrangestore).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(&[ks(kf::OW | kf::UPDATE, 1, 0, 1), ks(kf::RO | kf::ACCESS, 2, 0, 1)])
        .doc(G, "6.2.0", "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.", "Stores a range of a sorted set in another key."),
    Cmd::new("zrank", 3, zrank).flags(READONLY | FAST).acl(R | acl::FAST).specs(ROA)
        .doc(G, "2.0.0", LOGN, "Returns a member's rank in ascending score order."),
    Cmd::new("zrem", -3, zrem).flags(WRITE | FAST).acl(W | acl::FAST).specs(RWD)
        .doc(G, "1.2.0", "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.", "Removes members; the key goes when emptied."),
    Cmd::new("zremrangebylex", 4, zremrangebylex).flags(WRITE).acl(W | acl::SLOW).specs(RWD)
        .doc(G, "2.8.9", REMRANGE_CX, "Removes the members within a lexicographic range."),
    Cmd::new("zremrangebyrank", 4, zremrangebyrank).flags(WRITE).acl(W | acl::SLOW).specs(RWD)
        .doc(G, "2.0.0", REMRANGE_CX, "Removes the members within a range of ranks."),
    Cmd::new("zremrangebyscore", 4, zremrangebyscore).flags(WRITE).acl(W | acl::SLOW).specs(RWD)
        .doc(G, "1.2.0", REMRANGE_CX, "Removes the members within a score range."),
    Cmd::new("zrevrange", -4, zrevrange).flags(READONLY).acl(R | acl::SLOW).specs(ROA)
        .doc(G, "1.2.0", RANGE_CX, "Returns members in a range of ranks, highest score first."),
    Cmd::new("zrevrangebylex", -4, zrevrangebylex).flags(READONLY).acl(R | acl::SLOW).specs(ROA)
        .doc(G, "2.8.9", RANGE_CX, "Returns members within a lexicographic range, in reverse order."),
    Cmd::new("zrevrangebyscore", -4, zrevrangebyscore).flags(READONLY).acl(R | acl::SLOW).specs(ROA)
        .doc(G, "2.2.0", RANGE_CX, "Returns members within a score range, highest score first."),
    Cmd::new("zrevrank", 3, zrevrank).flags(READONLY | FAST).acl(R | acl::FAST).specs(ROA)
        .doc(G, "2.0.0", LOGN, "Returns a member's rank in descending score order."),
    Cmd::new("zscan", -3, zscan).flags(READONLY).acl(R | acl::SLOW).specs(ROA).tips(RANDOM)
        .doc(G, "2.8.0", "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", "Walks the members and scores of a sorted set with a cursor."),
    Cmd::new("zscore", 3, zscore).flags(READONLY | FAST).acl(R | acl::FAST).specs(ROA)
        .doc(G, "1.2.0", "O(1)", "Returns a member's score."),
    Cmd::new("zunion", -3, zunion).flags(READONLY).acl(R | acl::SLOW).specs(NUMKEYS)
        .doc(G, "6.2.0", UNION_CX, "Returns the union of sorted sets, with weights and an aggregate."),
    Cmd::new("zunionstore", -4, zunionstore).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(STORE_NUMKEYS)
        .doc(G, "2.0.0", UNION_CX, "Stores the union of sorted sets in a key."),
];

/// zset-max-listpack-entries / -value, read once per command.
fn limits(ctx: &Ctx) -> Limits {
    let c = &ctx.srv.config;
    let get =
        |v: &std::sync::atomic::AtomicU64| usize::try_from(v.load(Relaxed)).unwrap_or(usize::MAX);
    Limits {
        entries: get(&c.zset_max_listpack_entries),
        value: get(&c.zset_max_listpack_value),
    }
}

/// Members (with scores if asked) as Redis replies them: a flat array in RESP2, an array
/// of [member, score] pairs in RESP3.
fn items_reply(items: Vec<(Vec<u8>, f64)>, withscores: bool) -> Frame {
    let member = |m: Vec<u8>| Frame::Bulk(Bytes::from(m));
    if withscores {
        Frame::Pairs(
            items
                .into_iter()
                .map(|(m, s)| (member(m), Frame::Double(s)))
                .collect(),
        )
    } else {
        Frame::Array(items.into_iter().map(|(m, _)| member(m)).collect())
    }
}

/// A score or weight: C's strtod with the checks of Redis's getDoubleFromObject.
fn parse_score(b: &[u8]) -> Option<f64> {
    rubedo_engine::types::float::parse_double(b)
}

fn score_arg(b: &[u8]) -> Result<f64, CmdError> {
    parse_score(b).ok_or(CmdError::NotFloat)
}

/// One bound of ZRANGEBYSCORE (Redis's zslParseRange): `(` makes it exclusive; the rest
/// is read with strtod, which skips leading white space, accepts an empty string as 0 and
/// keeps an overflow or underflow as it comes out. Only NaN and text after the number
/// are refused; as in C, a NUL byte ends the text.
fn parse_bound(b: &[u8]) -> Option<ScoreBound> {
    let (exclusive, rest) = match b.first() {
        Some(b'(') => (true, &b[1..]),
        _ => (false, b),
    };
    let r = rubedo_engine::types::float::strtod(rest);
    if rest.get(r.end).is_some_and(|&c| c != 0) || r.value.is_nan() {
        return None;
    }
    Some(ScoreBound {
        value: r.value,
        exclusive,
    })
}

fn score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    match (parse_bound(min), parse_bound(max)) {
        (Some(min), Some(max)) => Ok(ScoreRange { min, max }),
        _ => Err(err("min or max is not a float")),
    }
}

fn lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    match (LexBound::parse(min), LexBound::parse(max)) {
        (Some(min), Some(max)) => Ok(LexRange { min, max }),
        _ => Err(err("min or max not valid string range item")),
    }
}

// ---------------------------------------------------------------------------------------
// ZADD / ZINCRBY

fn zadd(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, false)
}

fn zincrby(ctx: &mut Ctx) -> CmdResult {
    zadd_generic(ctx, true)
}

fn zadd_generic(ctx: &mut Ctx, incr_cmd: bool) -> CmdResult {
    let ZaddArgs {
        key,
        flags: f,
        ch,
        pairs,
    } = ZaddArgs::parse(&mut ctx.args(), incr_cmd)?;
    let lim = limits(ctx);
    let mut db = ctx.db();
    let exists = zt::get(&mut db, key)?.is_some();
    let (mut added, mut updated, mut processed) = (0u64, 0u64, 0u64);
    let mut last = 0.0;
    let mut nan = false;
    if exists || !f.xx {
        let z = zt::get_or_create(&mut db, key, || ZSet::for_first(pairs[0].1, lim))?;
        for (s, m) in pairs {
            match z.add(m, s, f, lim) {
                AddOutcome::Added(v) => {
                    added += 1;
                    processed += 1;
                    last = v;
                }
                AddOutcome::Updated(v) => {
                    updated += 1;
                    processed += 1;
                    last = v;
                }
                AddOutcome::Unchanged(v) => {
                    processed += 1;
                    last = v;
                }
                AddOutcome::Skipped => {}
                AddOutcome::Nan => {
                    nan = true;
                    break;
                }
            }
        }
        zt::remove_if_empty(&mut db, key);
    }
    drop(db);
    // ZINCRBY is ZADD INCR: both fire "zincr". A score left as it was (an
    // increment of 0, a GT/LT/NX/XX refusal) changes nothing and fires nothing.
    if added + updated > 0 {
        ctx.dirty += added + updated;
        ctx.reply_first();
        ctx.notify(notify::ZSET, if f.incr { "zincr" } else { "zadd" }, key);
    }
    if nan {
        return Err(err("resulting score is not a number (NaN)"));
    }
    if f.incr {
        Ok(if processed > 0 {
            Frame::Double(last)
        } else {
            Frame::Null
        })
    } else {
        Ok(Frame::Integer(
            if ch { added + updated } else { added } as i64
        ))
    }
}

// ---------------------------------------------------------------------------------------
// Reads

fn zcard(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[1];
    Ok(Frame::Integer(
        zt::read(&mut ctx.db(), key)?.map_or(0, |z| z.len()) as i64,
    ))
}

fn zscore(ctx: &mut Ctx) -> CmdResult {
    let (key, m) = (&ctx.argv[1], &ctx.argv[2]);
    Ok(
        match zt::read(&mut ctx.db(), key)?.and_then(|z| z.score(m)) {
            Some(s) => Frame::Double(s),
            None => Frame::Null,
        },
    )
}

fn zmscore(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let mut db = ctx.db();
    let z = zt::read(&mut db, &argv[1])?;
    Ok(Frame::Array(
        argv[2..]
            .iter()
            .map(|m| {
                z.and_then(|z| z.score(m))
                    .map_or(Frame::Null, Frame::Double)
            })
            .collect(),
    ))
}

fn rank_generic(ctx: &mut Ctx, rev: bool) -> CmdResult {
    let (key, m) = (&ctx.argv[1], &ctx.argv[2]);
    let mut db = ctx.db();
    let Some(z) = zt::read(&mut db, key)? else {
        return Ok(Frame::Null);
    };
    Ok(match z.rank(m) {
        Some(r) if rev => Frame::Integer((z.len() - 1 - r) as i64),
        Some(r) => Frame::Integer(r as i64),
        None => Frame::Null,
    })
}

fn zrank(ctx: &mut Ctx) -> CmdResult {
    rank_generic(ctx, false)
}

fn zrevrank(ctx: &mut Ctx) -> CmdResult {
    rank_generic(ctx, true)
}

fn zcount(ctx: &mut Ctx) -> CmdResult {
    let r = score_range(&ctx.argv[2], &ctx.argv[3])?;
    let key = &ctx.argv[1];
    let mut db = ctx.db();
    Ok(Frame::Integer(match zt::read(&mut db, key)? {
        Some(z) => {
            let (lo, hi) = z.score_span(&r);
            (hi - lo) as i64
        }
        None => 0,
    }))
}

fn zlexcount(ctx: &mut Ctx) -> CmdResult {
    let r = lex_range(&ctx.argv[2], &ctx.argv[3])?;
    let key = &ctx.argv[1];
    let mut db = ctx.db();
    Ok(Frame::Integer(match zt::read(&mut db, key)? {
        Some(z) => {
            let (lo, hi) = z.lex_span(&r);
            (hi - lo) as i64
        }
        None => 0,
    }))
}

// ---------------------------------------------------------------------------------------
// Ranges

/// The ZRANGE family, once its arguments are parsed (see `RangeArgs`).
fn zrange_generic(ctx: &mut Ctx, store: bool, rtype: RangeType, dir: Dir) -> CmdResult {
    let RangeArgs {
        dst,
        key,
        spec,
        rev,
        offset,
        limit,
        withscores,
    } = RangeArgs::parse(&mut ctx.args(), store, rtype, dir)?;
    let mut db = ctx.db();
    let items: Vec<(Vec<u8>, f64)> = match zt::read(&mut db, key)? {
        None => Vec::new(),
        Some(z) => {
            let len = z.len() as i64;
            match spec {
                RangeSpec::Rank(mut start, mut end) => {
                    if start < 0 {
                        start += len;
                    }
                    if end < 0 {
                        end += len;
                    }
                    if start < 0 {
                        start = 0;
                    }
                    if start > end || start >= len {
                        Vec::new()
                    } else {
                        if end >= len {
                            end = len - 1;
                        }
                        if rev {
                            let mut v = z.range((len - 1 - end) as usize, (len - start) as usize);
                            v.reverse();
                            v
                        } else {
                            z.range(start as usize, end as usize + 1)
                        }
                    }
                }
                RangeSpec::Score(_) | RangeSpec::Lex(_) => {
                    let (lo, hi) = match &spec {
                        RangeSpec::Score(r) => z.score_span(r),
                        RangeSpec::Lex(r) => z.lex_span_dir(r, rev),
                        RangeSpec::Rank(..) => unreachable!(),
                    };
                    if offset < 0 || (offset > 0 && offset >= len) {
                        Vec::new()
                    } else {
                        let n = (hi - lo) as u64;
                        let off = (offset as u64).min(n);
                        let take = if limit < 0 {
                            n - off
                        } else {
                            (limit as u64).min(n - off)
                        };
                        if rev {
                            let end = hi - off as usize;
                            let mut v = z.range(end - take as usize, end);
                            v.reverse();
                            v
                        } else {
                            let start = lo + off as usize;
                            z.range(start, start + take as usize)
                        }
                    }
                }
            }
        }
    };
    drop(db);
    match dst {
        None => Ok(items_reply(items, withscores)),
        Some(dst) => {
            let lim = limits(ctx);
            let mut out = ZSet::new();
            for (m, s) in &items {
                out.insert(m, *s, lim);
            }
            Ok(Frame::Integer(store_result(ctx, dst, out)))
        }
    }
}

/// Stores a computed result (deleting `dst` when empty); returns its size.
fn store_result(ctx: &mut Ctx, dst: &Bytes, z: ZSet) -> i64 {
    let (n, changed) = zt::store(&mut ctx.db(), dst, z);
    if changed {
        ctx.dirty += 1;
        // The event of a store is the command's name (zunionstore, zinterstore,
        // zdiffstore, zrangestore); an empty result deleted the destination.
        // Redis answers before notifying here.
        ctx.reply_first();
        if n == 0 {
            ctx.notify(notify::GENERIC, "del", dst);
        } else {
            let event = ctx.cmd.name;
            ctx.notify(notify::ZSET, event, dst);
        }
    }
    n as i64
}

fn zrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, false, RangeType::Auto, Dir::Auto)
}

fn zrangestore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, true, RangeType::Auto, Dir::Auto)
}

fn zrevrange(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, false, RangeType::Rank, Dir::Reverse)
}

fn zrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, false, RangeType::Score, Dir::Forward)
}

fn zrevrangebyscore(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, false, RangeType::Score, Dir::Reverse)
}

fn zrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, false, RangeType::Lex, Dir::Forward)
}

fn zrevrangebylex(ctx: &mut Ctx) -> CmdResult {
    zrange_generic(ctx, false, RangeType::Lex, Dir::Reverse)
}

// ---------------------------------------------------------------------------------------
// Removal

fn zrem(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let key = &argv[1];
    let mut db = ctx.db();
    let Some(z) = zt::get_mut(&mut db, key)? else {
        return Ok(Frame::Integer(0));
    };
    let mut n = 0u64;
    for m in &argv[2..] {
        if z.remove(m) {
            n += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    let emptied = z.is_empty();
    zt::remove_if_empty(&mut db, key);
    drop(db);
    if n > 0 {
        ctx.dirty += n;
        ctx.notify(notify::ZSET, "zrem", key);
        if emptied {
            ctx.notify(notify::GENERIC, "del", key);
        }
    }
    Ok(Frame::Integer(n as i64))
}

fn zremrange_generic(ctx: &mut Ctx, spec: RangeSpec) -> CmdResult {
    let key = &ctx.argv[1];
    let mut db = ctx.db();
    let Some(z) = zt::get_mut(&mut db, key)? else {
        return Ok(Frame::Integer(0));
    };
    let event = match spec {
        RangeSpec::Rank(..) => "zremrangebyrank",
        RangeSpec::Score(_) => "zremrangebyscore",
        RangeSpec::Lex(_) => "zremrangebylex",
    };
    let (lo, hi) = match spec {
        RangeSpec::Rank(mut start, mut end) => {
            let len = z.len() as i64;
            if start < 0 {
                start += len;
            }
            if end < 0 {
                end += len;
            }
            if start < 0 {
                start = 0;
            }
            if start > end || start >= len {
                return Ok(Frame::Integer(0));
            }
            if end >= len {
                end = len - 1;
            }
            (start as usize, end as usize + 1)
        }
        RangeSpec::Score(r) => z.score_span(&r),
        RangeSpec::Lex(r) => z.lex_span(&r),
    };
    let n = z.remove_range(lo, hi).len() as u64;
    let emptied = z.is_empty();
    zt::remove_if_empty(&mut db, key);
    drop(db);
    if n > 0 {
        ctx.dirty += n;
        ctx.notify(notify::ZSET, event, key);
        if emptied {
            ctx.notify(notify::GENERIC, "del", key);
        }
    }
    Ok(Frame::Integer(n as i64))
}

fn zremrangebyrank(ctx: &mut Ctx) -> CmdResult {
    let (s, e) = (parse_i64(&ctx.argv[2])?, parse_i64(&ctx.argv[3])?);
    zremrange_generic(ctx, RangeSpec::Rank(s, e))
}

fn zremrangebyscore(ctx: &mut Ctx) -> CmdResult {
    let r = score_range(&ctx.argv[2], &ctx.argv[3])?;
    zremrange_generic(ctx, RangeSpec::Score(r))
}

fn zremrangebylex(ctx: &mut Ctx) -> CmdResult {
    let r = lex_range(&ctx.argv[2], &ctx.argv[3])?;
    zremrange_generic(ctx, RangeSpec::Lex(r))
}

// ---------------------------------------------------------------------------------------
// Pops

/// Pops from the first existing sorted set among `keys`: the operation behind ZMPOP and
/// the blocking forms (BZPOPMIN/BZPOPMAX/BZMPOP call it once a key may be ready).
///
/// Returns the key and the popped (member, score) pairs in pop order, or `Ok(None)` if
/// every key is missing. A key of another type fails with WRONGTYPE, but only if no
/// earlier key exists (as Redis checks them in order). The emptied key is deleted; the key
/// is marked modified, the change counted, and the effect propagated as Redis 7.0 does:
/// `ZPOPMIN|ZPOPMAX key` for `count == None` (BZPOPMIN/BZPOPMAX), else
/// `ZPOPMIN|ZPOPMAX key count` (ZMPOP/BZMPOP; `None` pops one member).
pub fn pop_first(
    ctx: &mut Ctx,
    keys: &[Bytes],
    max: bool,
    count: Option<usize>,
) -> Result<Option<(Bytes, Items)>, CmdError> {
    let mut db = ctx.db();
    for k in keys {
        if let Some(popped) = zt::pop(&mut db, k, max, count.unwrap_or(1))? {
            drop(db);
            ctx.dirty += popped.len() as u64;
            ctx.notify(notify::ZSET, pop_event(max), k);
            ctx.notify_del_if_gone(k);
            ctx.propagate(Rewrite::zpop(max, k, count.map(|n| n.max(1))));
            return Ok(Some((k.clone(), popped)));
        }
    }
    Ok(None)
}

/// The event of a pop: ZMPOP and the blocking forms fire the ZPOPMIN/ZPOPMAX ones.
fn pop_event(max: bool) -> &'static str {
    if max {
        "zpopmax"
    } else {
        "zpopmin"
    }
}

/// BZPOPMIN/BZPOPMAX's reply: `[key, member, score]` (the same in RESP2 and RESP3).
pub fn bzpop_reply(key: Bytes, popped: Items) -> Frame {
    let mut out = vec![Frame::Bulk(key)];
    for (m, s) in popped {
        out.push(Frame::Bulk(Bytes::from(m)));
        out.push(Frame::Double(s));
    }
    Frame::Array(out)
}

fn zpop_generic(ctx: &mut Ctx, max: bool) -> CmdResult {
    if ctx.argv.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match ctx.argv.get(2) {
        Some(c) => Some(
            parse_i64(c)
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| err("value is out of range, must be positive"))?,
        ),
        None => None,
    };
    let key = &ctx.argv[1];
    if count == Some(0) {
        zt::get(&mut ctx.db(), key)?;
        return Ok(Frame::Array(Vec::new()));
    }
    let n = count.unwrap_or(1) as usize;
    let mut db = ctx.db();
    let Some(popped) = zt::pop(&mut db, key, max, n)? else {
        return Ok(Frame::Array(Vec::new()));
    };
    drop(db);
    ctx.dirty += popped.len() as u64;
    ctx.notify(notify::ZSET, pop_event(max), key);
    ctx.notify_del_if_gone(key);
    // Without a count the one member and its score are a flat pair, in
    // either protocol.
    Ok(match count {
        Some(_) => items_reply(popped, true),
        None => Frame::Array(
            popped
                .into_iter()
                .flat_map(|(m, s)| [Frame::Bulk(Bytes::from(m)), Frame::Double(s)])
                .collect(),
        ),
    })
}

fn zpopmin(ctx: &mut Ctx) -> CmdResult {
    zpop_generic(ctx, false)
}

fn zpopmax(ctx: &mut Ctx) -> CmdResult {
    zpop_generic(ctx, true)
}

/// ZMPOP's reply: `[key, [[member, score], ...]]`, nested in RESP2 too.
pub fn mpop_reply(key: Bytes, popped: Vec<(Vec<u8>, f64)>) -> Frame {
    let pairs = popped
        .into_iter()
        .map(|(m, s)| Frame::Array(vec![Frame::Bulk(Bytes::from(m)), Frame::Double(s)]))
        .collect();
    Frame::Array(vec![Frame::Bulk(key), Frame::Array(pairs)])
}

fn zmpop(ctx: &mut Ctx) -> CmdResult {
    let m = MpopArgs::parse(&mut ctx.args(), min_max)?;
    match pop_first(ctx, m.keys, m.side, Some(m.count))? {
        Some((k, popped)) => Ok(mpop_reply(k, popped)),
        None => {
            ctx.propagate_nothing();
            Ok(Frame::NullArray)
        }
    }
}

// ---------------------------------------------------------------------------------------
// ZRANDMEMBER / ZSCAN

fn zrandmember(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let key = &argv[1];
    if argv.len() == 2 {
        let mut db = ctx.db();
        return Ok(match zt::read(&mut db, key)? {
            Some(z) => z
                .random(&mut rand::thread_rng())
                .map_or(Frame::Null, |(m, _)| Frame::bulk(m)),
            None => Frame::Null,
        });
    }
    let l = parse_i64(&argv[2])?;
    if l == i64::MIN {
        return Err(err(
            "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    if argv.len() > 4 || (argv.len() == 4 && !is(&argv[3], "withscores")) {
        return Err(CmdError::Syntax);
    }
    let withscores = argv.len() == 4;
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(err("value is out of range"));
    }
    let mut db = ctx.db();
    let Some(z) = zt::read(&mut db, key)? else {
        return Ok(Frame::Array(Vec::new()));
    };
    if l == 0 {
        return Ok(Frame::Array(Vec::new()));
    }
    let mut rng = rand::thread_rng();
    let count = l.unsigned_abs();
    let len = z.len();
    if l < 0 && count > crate::session::tail::STREAM_OVER {
        // Too many to build: written as the client reads (see `tail`).
        let items: Vec<(Bytes, f64)> = z
            .to_vec()
            .into_iter()
            .map(|(m, s)| (Bytes::from(m), s))
            .collect();
        drop(db);
        let proto = ctx.client.proto;
        let header = if withscores {
            rubedo_resp::pairs_len(count as usize, proto) as u64
        } else {
            count
        };
        let picks = crate::session::tail::random_picks(items, count, move |(m, s), out| {
            let m = Frame::Bulk(m.clone());
            if withscores {
                rubedo_resp::write_pair(&m, &Frame::Double(*s), proto, out);
            } else {
                rubedo_resp::encode(&m, proto, out);
            }
        });
        ctx.stream_tail(vec![crate::session::tail::Part::Stream(picks)]);
        return Ok(Frame::Raw(crate::session::tail::array_header(header)));
    }
    let items: Vec<(Vec<u8>, f64)> = if l < 0 || count == 1 {
        (0..count)
            .map(|_| {
                let (m, s) = z.random(&mut rng).expect("sorted sets are never empty");
                (m.to_vec(), s)
            })
            .collect()
    } else if count as usize >= len {
        // The whole set, in the order Redis replies it (highest score first).
        let mut all = z.to_vec();
        all.reverse();
        all
    } else {
        rand::seq::index::sample(&mut rng, len, count as usize)
            .into_iter()
            .map(|i| {
                let (m, s) = z.select(i).expect("in range");
                (m.to_vec(), s)
            })
            .collect()
    };
    Ok(items_reply(items, withscores))
}

fn zscan(ctx: &mut Ctx) -> CmdResult {
    let mut a = ctx.args();
    let key = a.next_bytes()?;
    let cursor = parse_cursor(a.next_bytes()?)?;
    let mut db = ctx.db();
    let Some(z) = zt::read(&mut db, key)? else {
        return Ok(Frame::Array(vec![
            Frame::bulk(b"0"),
            Frame::Array(Vec::new()),
        ]));
    };
    // The key is checked before the options, as Redis does.
    let ScanOptions { pattern, count, .. } = ScanOptions::parse(&mut a, false)?;
    let mut found: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut c = cursor;
    let mut budget = count.saturating_mul(10);
    loop {
        c = z.scan(c, |m, s| found.push((m.to_vec(), s)));
        if c == 0 || budget == 0 || found.len() as i64 >= count {
            break;
        }
        budget -= 1;
    }
    let mut items = Vec::with_capacity(found.len() * 2);
    for (m, s) in found {
        if pattern.is_none_or(|p| glob_match(p, &m, false)) {
            items.push(Frame::Bulk(Bytes::from(m)));
            items.push(Frame::Bulk(Bytes::from(rubedo_resp::format_double(s))));
        }
    }
    Ok(Frame::Array(vec![
        Frame::Bulk(Bytes::from(c.to_string())),
        Frame::Array(items),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_strtod() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b" 1"), None);
        assert_eq!(parse_score(b""), None);
        assert_eq!(
            parse_bound(b"("),
            Some(ScoreBound {
                value: 0.0,
                exclusive: true
            })
        );
        assert_eq!(parse_bound(b"(1e400").map(|b| b.value), Some(f64::INFINITY));
        assert!(parse_bound(b"x").is_none());
        // strtod's hexadecimal floats, in scores and bounds alike.
        assert_eq!(parse_score(b"0x1p3"), Some(8.0));
        assert_eq!(parse_score(b"-0x.8"), Some(-0.5));
        assert_eq!(parse_bound(b"(0x1p3").map(|b| b.value), Some(8.0));
        assert_eq!(parse_bound(b" 0x10").map(|b| b.value), Some(16.0));
        assert_eq!(parse_bound(b"1\x00junk").map(|b| b.value), Some(1.0));
        assert!(parse_bound(b"0x1p3x").is_none());
        assert!(parse_bound(b"nan").is_none());
    }
}
