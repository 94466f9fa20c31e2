//! The list group (non-blocking commands): pushes and pops at both ends, positional
//! access, LPOS, LREM, LTRIM, LINSERT, LMOVE/RPOPLPUSH and LMPOP.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use rubedo_engine::types::list::{self as lt, End};
use rubedo_pubsub::notify;
use rubedo_resp::Frame;

use crate::dispatch::args::{is, parse_i64, Args};
use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag::*, kf, ks, ks_keynum, Cmd};
use crate::error::{err, CmdError, CmdResult};
use crate::propagate::Rewrite;

const G: &str = "list";
const W: u64 = acl::WRITE | acl::LIST;
const R: u64 = acl::READ | acl::LIST;
const POP_SPEC: &[crate::dispatch::table::Spec] = &[ks(kf::RW | kf::ACCESS | kf::DELETE, 1, 0, 1)];
const INSERT_SPEC: &[crate::dispatch::table::Spec] = &[ks(kf::RW | kf::INSERT, 1, 0, 1)];
const MOVE_SPEC: &[crate::dispatch::table::Spec] = &[
    ks(kf::RW | kf::ACCESS | kf::DELETE, 1, 0, 1),
    ks(kf::RW | kf::INSERT, 2, 0, 1),
];
const PUSH_CX: &str = "O(1) per element pushed, so O(N) for N elements given in one call.";
const POP_CX: &str = "O(N) where N is the number of elements popped (O(1) without a count).";

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("lindex", 3, lindex).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .doc(G, "1.0.0", "O(N) where N is the number of elements walked to reach the index; the first and last elements are O(1).", "Returns the element at an index of a list."),
    Cmd::new("linsert", 5, linsert).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(INSERT_SPEC)
        .doc(G, "2.2.0", "O(N) where N is the number of elements walked before the pivot is found.", "Inserts an element before or after the first occurrence of a pivot element."),
    Cmd::new("llen", 2, llen).flags(READONLY | FAST).acl(R | acl::FAST).specs(&[ks(kf::RO, 1, 0, 1)])
        .doc(G, "1.0.0", "O(1)", "Returns how many elements a list has."),
    Cmd::new("lmove", 5, lmove).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(MOVE_SPEC)
        .doc(G, "6.2.0", "O(1)", "Pops an element from one end of a list and pushes it onto an end of another (or the same) list."),
    Cmd::new("lmpop", -4, lmpop).flags(WRITE).acl(W | acl::SLOW).specs(&[ks_keynum(kf::RW | kf::ACCESS | kf::DELETE, 1, 0, 1, 1)])
        .doc(G, "7.0.0", "O(N+M) where N is the number of keys tried and M the number of elements popped.", "Pops elements from the first non-empty list among several keys."),
    Cmd::new("lpop", -2, lpop).flags(WRITE | FAST).acl(W | acl::FAST).specs(POP_SPEC)
        .doc(G, "1.0.0", POP_CX, "Removes and returns elements from the head of a list; the key goes when emptied."),
    Cmd::new("lpos", -3, lpos).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .doc(G, "6.0.6", "O(N) where N is the number of elements scanned (at most MAXLEN when given).", "Returns the positions of elements equal to a value, with rank, count and scan limit options."),
    Cmd::new("lpush", -3, lpush).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(INSERT_SPEC)
        .doc(G, "1.0.0", PUSH_CX, "Prepends elements to a list, creating it if needed."),
    Cmd::new("lpushx", -3, lpushx).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(INSERT_SPEC)
        .doc(G, "2.2.0", PUSH_CX, "Prepends elements to a list only if the list exists."),
    Cmd::new("lrange", 4, lrange).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .doc(G, "1.0.0", "O(S+N) where S is the distance of the start from the nearer end and N the number of elements returned.", "Returns a range of elements of a list."),
    Cmd::new("lrem", 4, lrem).flags(WRITE).acl(W | acl::SLOW).specs(&[ks(kf::RW | kf::DELETE, 1, 0, 1)])
        .doc(G, "1.0.0", "O(N+M) where N is the list length and M the number of elements removed.", "Removes elements equal to a value from a list, from the head or the tail."),
    Cmd::new("lset", 4, lset).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(&[ks(kf::RW | kf::UPDATE, 1, 0, 1)])
        .doc(G, "1.0.0", "O(N) where N is the number of elements walked to reach the index; the first and last elements are O(1).", "Replaces the element at an index of a list."),
    Cmd::new("ltrim", 4, ltrim).flags(WRITE).acl(W | acl::SLOW).specs(&[ks(kf::RW | kf::DELETE, 1, 0, 1)])
        .doc(G, "1.0.0", "O(N) where N is the number of elements removed.", "Keeps only a range of elements of a list, removing the rest."),
    Cmd::new("rpop", -2, rpop).flags(WRITE | FAST).acl(W | acl::FAST).specs(POP_SPEC)
        .doc(G, "1.0.0", POP_CX, "Removes and returns elements from the tail of a list; the key goes when emptied."),
    Cmd::new("rpoplpush", 3, rpoplpush).flags(WRITE | DENYOOM).acl(W | acl::SLOW).specs(MOVE_SPEC)
        .doc(G, "1.2.0", "O(1)", "Pops the tail of a list and pushes it onto the head of another (or the same) list."),
    Cmd::new("rpush", -3, rpush).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(INSERT_SPEC)
        .doc(G, "1.0.0", PUSH_CX, "Appends elements to a list, creating it if needed."),
    Cmd::new("rpushx", -3, rpushx).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(INSERT_SPEC)
        .doc(G, "2.2.0", PUSH_CX, "Appends elements to a list only if the list exists."),
];

/// list-max-listpack-size, read once per command.
pub fn fill(ctx: &Ctx) -> i64 {
    ctx.srv.config.list_max_listpack_size.load(Relaxed)
}

fn bulk_vec(v: Vec<u8>) -> Frame {
    Frame::Bulk(Bytes::from(v))
}

/// The event of a push at `end`.
pub fn push_event(end: End) -> &'static str {
    match end {
        End::Head => "lpush",
        End::Tail => "rpush",
    }
}

/// The event of a pop at `end`.
pub fn pop_event(end: End) -> &'static str {
    match end {
        End::Head => "lpop",
        End::Tail => "rpop",
    }
}

fn push_generic(ctx: &mut Ctx, end: End, create: bool) -> CmdResult {
    let (argv, fill) = (ctx.argv, fill(ctx));
    let key = &argv[1];
    let items = &argv[2..];
    let pushed = lt::push(&mut ctx.db(), key, end, items, fill, create)?;
    match pushed {
        None => Ok(Frame::Integer(0)),
        Some(len) => {
            ctx.dirty += items.len() as u64;
            // LPUSHX/RPUSHX fire the plain push events, after the reply.
            ctx.reply_first();
            ctx.notify(notify::LIST, push_event(end), key);
            Ok(Frame::Integer(len as i64))
        }
    }
}

fn lpush(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, End::Head, true)
}

fn rpush(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, End::Tail, true)
}

fn lpushx(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, End::Head, false)
}

fn rpushx(ctx: &mut Ctx) -> CmdResult {
    push_generic(ctx, End::Tail, false)
}

fn pop_generic(ctx: &mut Ctx, end: End) -> CmdResult {
    let argv = ctx.argv;
    if argv.len() > 3 {
        return Err(CmdError::WrongArity(ctx.cmd.name.to_string()));
    }
    let count = match argv.get(2) {
        None => None,
        Some(a) => Some(
            parse_i64(a)
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| err("value is out of range, must be positive"))?
                as usize,
        ),
    };
    let key = &argv[1];
    let mut db = ctx.db();
    if count == Some(0) {
        return Ok(match lt::get_mut(&mut db, key)? {
            None => Frame::NullArray,
            Some(_) => Frame::Array(Vec::new()),
        });
    }
    let Some(popped) = lt::pop(&mut db, key, end, count.unwrap_or(1))? else {
        return Ok(if count.is_some() {
            Frame::NullArray
        } else {
            Frame::Null
        });
    };
    drop(db);
    ctx.dirty += popped.len() as u64;
    ctx.reply_first();
    ctx.notify(notify::LIST, pop_event(end), key);
    ctx.notify_del_if_gone(key);
    Ok(match count {
        None => bulk_vec(popped.into_iter().next().expect("lists are never empty")),
        Some(_) => Frame::Array(popped.into_iter().map(bulk_vec).collect()),
    })
}

fn lpop(ctx: &mut Ctx) -> CmdResult {
    pop_generic(ctx, End::Head)
}

fn rpop(ctx: &mut Ctx) -> CmdResult {
    pop_generic(ctx, End::Tail)
}

fn llen(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[1];
    Ok(Frame::Integer(
        lt::read(&mut ctx.db(), key)?.map_or(0, |l| l.len()) as i64,
    ))
}

fn lindex(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let mut db = ctx.db();
    let Some(list) = lt::read(&mut db, &argv[1])? else {
        return Ok(Frame::Null);
    };
    let index = parse_i64(&argv[2])?;
    Ok(list
        .resolve(index)
        .and_then(|i| list.get(i))
        .map_or(Frame::Null, Frame::bulk))
}

fn lset(ctx: &mut Ctx) -> CmdResult {
    let (argv, fill) = (ctx.argv, fill(ctx));
    let key = &argv[1];
    let mut db = ctx.db();
    let Some(list) = lt::get_mut(&mut db, key)? else {
        return Err(err("no such key"));
    };
    let index = parse_i64(&argv[2])?;
    let Some(i) = list.resolve(index) else {
        return Err(err("index out of range"));
    };
    list.set(i, &argv[3], fill);
    drop(db);
    ctx.dirty += 1;
    ctx.reply_first();
    ctx.notify(notify::LIST, "lset", key);
    Ok(Frame::ok())
}

/// Redis's start/end normalisation for LRANGE and LTRIM: None for an empty range.
fn norm_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 {
        start.saturating_add(len)
    } else {
        start
    };
    let mut end = if end < 0 {
        end.saturating_add(len)
    } else {
        end
    };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

fn lrange(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let start = parse_i64(&argv[2])?;
    let end = parse_i64(&argv[3])?;
    let mut db = ctx.db();
    let Some(list) = lt::read(&mut db, &argv[1])? else {
        return Ok(Frame::Array(Vec::new()));
    };
    Ok(Frame::Array(match norm_range(start, end, list.len()) {
        None => Vec::new(),
        Some((s, e)) => list.range(s, e).into_iter().map(Frame::bulk).collect(),
    }))
}

fn ltrim(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let key = &argv[1];
    let start = parse_i64(&argv[2])?;
    let end = parse_i64(&argv[3])?;
    let mut db = ctx.db();
    let Some(list) = lt::get_mut(&mut db, key)? else {
        return Ok(Frame::ok());
    };
    let len = list.len();
    let (l, r) = match norm_range(start, end, len) {
        None => (len, 0),
        Some((s, e)) => (s, len - e - 1),
    };
    list.trim(l, r);
    let emptied = list.is_empty();
    if emptied {
        db.remove(key);
    }
    drop(db);
    // Redis signals the key (and fires "ltrim") even when nothing was trimmed.
    ctx.dirty += (l + r) as u64;
    // Redis signals the key even when the trim removed nothing.
    ctx.signal_writes();
    ctx.notify(notify::LIST, "ltrim", key);
    if emptied {
        ctx.notify(notify::GENERIC, "del", key);
    }
    Ok(Frame::ok())
}

fn lrem(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let key = &argv[1];
    let count = parse_i64(&argv[2])?;
    let mut db = ctx.db();
    let Some(list) = lt::get_mut(&mut db, key)? else {
        return Ok(Frame::Integer(0));
    };
    let n = list.remove_matching(&argv[3], count.unsigned_abs() as usize, count < 0);
    let emptied = list.is_empty();
    if emptied {
        db.remove(key);
    }
    drop(db);
    if n > 0 {
        ctx.dirty += n as u64;
        ctx.notify(notify::LIST, "lrem", key);
        if emptied {
            ctx.notify(notify::GENERIC, "del", key);
        }
    }
    Ok(Frame::Integer(n as i64))
}

fn linsert(ctx: &mut Ctx) -> CmdResult {
    let (argv, fill) = (ctx.argv, fill(ctx));
    let key = &argv[1];
    let after = if argv[2].eq_ignore_ascii_case(b"after") {
        true
    } else if argv[2].eq_ignore_ascii_case(b"before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let (pivot, elem) = (&argv[3], &argv[4]);
    let mut db = ctx.db();
    let Some(list) = lt::get_mut(&mut db, key)? else {
        return Ok(Frame::Integer(0));
    };
    let mut at = None;
    list.walk(0, false, |i, e| {
        if e == &pivot[..] {
            at = Some(i);
            false
        } else {
            true
        }
    });
    let Some(at) = at else {
        return Ok(Frame::Integer(-1));
    };
    list.insert(at + after as usize, elem, fill);
    let len = list.len();
    drop(db);
    ctx.dirty += 1;
    ctx.notify(notify::LIST, "linsert", key);
    Ok(Frame::Integer(len as i64))
}

/// LPOS's arguments: `key element [RANK rank] [COUNT num] [MAXLEN len]`.
struct LposArgs<'a> {
    key: &'a Bytes,
    elem: &'a Bytes,
    /// Which match to start from; negative counts from the tail.
    rank: i64,
    /// None: reply the first position alone; Some(0): every match.
    count: Option<i64>,
    /// How many elements to compare at most (0: all).
    maxlen: i64,
}

impl<'a> LposArgs<'a> {
    fn parse(a: &mut Args<'a>) -> Result<Self, CmdError> {
        let (key, elem) = (a.next_bytes()?, a.next_bytes()?);
        let (mut rank, mut count, mut maxlen) = (1i64, None, 0i64);
        let non_negative = |a: &mut Args, what: &str| {
            parse_i64(a.next_bytes()?)
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| err(format!("{what} can't be negative")))
        };
        while let Some(opt) = a.next_arg() {
            // An option without its value is a syntax error.
            let more = !a.is_empty();
            if is(opt, "rank") && more {
                rank = a.next_i64()?;
                if rank == 0 {
                    return Err(err("RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"));
                }
            } else if is(opt, "count") && more {
                count = Some(non_negative(a, "COUNT")?);
            } else if is(opt, "maxlen") && more {
                maxlen = non_negative(a, "MAXLEN")?;
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(LposArgs {
            key,
            elem,
            rank,
            count,
            maxlen,
        })
    }
}

fn lpos(ctx: &mut Ctx) -> CmdResult {
    let LposArgs {
        key,
        elem,
        mut rank,
        count,
        maxlen,
    } = LposArgs::parse(&mut ctx.args())?;
    // A negative rank scans from the tail. Redis negates in C `long` arithmetic, so
    // LONG_MIN stays negative (and then matches from the first hit); this wraps the same.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let mut db = ctx.db();
    let Some(list) = lt::read(&mut db, key)? else {
        return Ok(if count.is_some() {
            Frame::Array(Vec::new())
        } else {
            Frame::Null
        });
    };
    let len = list.len();
    let mut out = Vec::new();
    let mut single = None;
    if len > 0 {
        let (mut scanned, mut matches) = (0i64, 0i64);
        let start = if from_tail { len - 1 } else { 0 };
        list.walk(start, from_tail, |i, e| {
            if maxlen != 0 && scanned >= maxlen {
                return false;
            }
            scanned += 1;
            if e == &elem[..] {
                matches += 1;
                if matches >= rank {
                    let Some(count) = count else {
                        single = Some(i);
                        return false;
                    };
                    out.push(Frame::Integer(i as i64));
                    if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count {
                        return false;
                    }
                }
            }
            true
        });
    }
    Ok(match count {
        Some(_) => Frame::Array(out),
        None => single.map_or(Frame::Null, |i| Frame::Integer(i as i64)),
    })
}

fn move_generic(ctx: &mut Ctx, from: End, to: End) -> CmdResult {
    let (argv, fill) = (ctx.argv, fill(ctx));
    let (src, dst) = (&argv[1], &argv[2]);
    let moved = lt::move_one(&mut ctx.db(), src, dst, from, to, fill)?;
    let Some(v) = moved else {
        return Ok(Frame::Null);
    };
    ctx.dirty += 1;
    notify_move(ctx, src, dst, from, to);
    Ok(bulk_vec(v))
}

/// The events of an element moved from `src` to `dst` (LMOVE, RPOPLPUSH and the
/// blocking forms). Redis pushes onto the destination before it reports the
/// pop, so the push comes first, then the pop and the source's deletion (to
/// the client itself: the push before its reply, the pop after).
pub fn notify_move(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) {
    ctx.notify(notify::LIST, push_event(to), dst);
    ctx.reply_first();
    ctx.notify(notify::LIST, pop_event(from), src);
    if src != dst {
        ctx.notify_del_if_gone(src);
    }
}

fn lmove(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let from = End::parse(&argv[3]).ok_or(CmdError::Syntax)?;
    let to = End::parse(&argv[4]).ok_or(CmdError::Syntax)?;
    move_generic(ctx, from, to)
}

fn rpoplpush(ctx: &mut Ctx) -> CmdResult {
    move_generic(ctx, End::Tail, End::Head)
}

/// The arguments of LMPOP and ZMPOP (and, after their timeout, BLMPOP and
/// BZMPOP): `numkeys key... <side> [COUNT count]`, where the side is
/// LEFT|RIGHT for lists and MIN|MAX for sorted sets (`side` reads it).
pub struct MpopArgs<'a, S> {
    pub keys: &'a [Bytes],
    pub side: S,
    /// 1 when not given.
    pub count: usize,
}

impl<'a, S> MpopArgs<'a, S> {
    pub fn parse(a: &mut Args<'a>, side: fn(&[u8]) -> Option<S>) -> Result<Self, CmdError> {
        let numkeys = parse_i64(a.next_bytes()?)
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| err("numkeys should be greater than 0"))?;
        // The keys and the side must all be there.
        if numkeys as u64 >= a.remaining() as u64 {
            return Err(CmdError::Syntax);
        }
        let keys = a.take(numkeys as usize)?;
        let side = side(a.next_bytes()?).ok_or(CmdError::Syntax)?;
        let mut count = None;
        while let Some(w) = a.next_arg() {
            if count.is_none() && is(w, "count") && !a.is_empty() {
                count = Some(
                    parse_i64(a.next_bytes()?)
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| err("count should be greater than 0"))?
                        as usize,
                );
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(MpopArgs {
            keys,
            side,
            count: count.unwrap_or(1),
        })
    }
}

/// Pops from the first non-empty list of `keys`: the `[key, [elements]]` reply and the
/// key popped from (None when every key is missing). Records the effect as LPOP/RPOP
/// with the number popped, as Redis replicates it. Shared with BLMPOP.
pub fn mpop(
    ctx: &mut Ctx,
    keys: &[Bytes],
    end: End,
    count: usize,
) -> Result<Option<Frame>, CmdError> {
    let mut db = ctx.db();
    for key in keys {
        let Some(popped) = lt::pop(&mut db, key, end, count)? else {
            continue;
        };
        drop(db);
        let n = popped.len();
        ctx.dirty += n as u64;
        ctx.reply_first();
        ctx.notify(notify::LIST, pop_event(end), key);
        ctx.notify_del_if_gone(key);
        ctx.propagate(Rewrite::pop(end, key, Some(n)));
        return Ok(Some(Frame::Array(vec![
            Frame::Bulk(key.clone()),
            Frame::Array(popped.into_iter().map(bulk_vec).collect()),
        ])));
    }
    Ok(None)
}

fn lmpop(ctx: &mut Ctx) -> CmdResult {
    let m = MpopArgs::parse(&mut ctx.args(), End::parse)?;
    Ok(mpop(ctx, m.keys, m.side, m.count)?.unwrap_or(Frame::NullArray))
}
