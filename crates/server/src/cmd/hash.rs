//! The hash group: fields and values under one key, counters, random fields, HSCAN.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use rubedo_engine::glob::glob_match;
use rubedo_engine::types::hash::{self as ht, Hash, Limits};
use rubedo_engine::Error as EngineError;
use rubedo_pubsub::notify;
use rubedo_resp::Frame;

use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag::*, kf, ks, Cmd};
use crate::error::{err, CmdError, CmdResult};
use crate::propagate::Rewrite;

use super::keys::{parse_cursor, ScanOptions};

const G: &str = "hash";
const W: u64 = acl::WRITE | acl::HASH;
const R: u64 = acl::READ | acl::HASH;

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("hdel", -3, hdel).flags(WRITE | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::DELETE, 1, 0, 1)])
        .doc(G, "2.0.0", "O(N), N being the number of fields given.", "Removes fields from a hash; the key goes once its last field does."),
    Cmd::new("hexists", 3, hexists).flags(READONLY | FAST).acl(R | acl::FAST).specs(&[ks(kf::RO, 1, 0, 1)])
        .doc(G, "2.0.0", "O(1)", "Tells whether a field is present in a hash."),
    Cmd::new("hget", 3, hget).flags(READONLY | FAST).acl(R | acl::FAST).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .doc(G, "2.0.0", "O(1)", "Returns the value stored in one field of a hash."),
    Cmd::new("hgetall", 2, hgetall).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .tips(&["nondeterministic_output_order"]).doc(G, "2.0.0", "O(N), N being the size of the hash.", "Returns every field of a hash together with its value."),
    Cmd::new("hincrby", 4, hincrby).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::ACCESS | kf::UPDATE, 1, 0, 1)])
        .doc(G, "2.0.0", "O(1)", "Adds an integer to the number in a hash field, starting from 0 when the field is missing."),
    Cmd::new("hincrbyfloat", 4, hincrbyfloat).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::ACCESS | kf::UPDATE, 1, 0, 1)])
        .doc(G, "2.6.0", "O(1)", "Adds a floating point number to the number in a hash field, starting from 0 when the field is missing."),
    Cmd::new("hkeys", 2, hkeys).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .tips(&["nondeterministic_output_order"]).doc(G, "2.0.0", "O(N), N being the size of the hash.", "Lists the field names of a hash."),
    Cmd::new("hlen", 2, hlen).flags(READONLY | FAST).acl(R | acl::FAST).specs(&[ks(kf::RO, 1, 0, 1)])
        .doc(G, "2.0.0", "O(1)", "Counts the fields of a hash."),
    Cmd::new("hmget", -3, hmget).flags(READONLY | FAST).acl(R | acl::FAST).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .doc(G, "2.0.0", "O(N), N being the number of fields asked for.", "Returns the values of several hash fields at once."),
    Cmd::new("hmset", -4, hmset).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::UPDATE, 1, 0, 1)])
        .doc(G, "2.0.0", "O(N), N being the number of fields written.", "Writes several hash fields at once and replies OK (superseded by HSET)."),
    Cmd::new("hrandfield", -2, hrandfield).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .tips(&["nondeterministic_output"]).doc(G, "6.2.0", "O(N), N being the number of fields returned.", "Picks one or more random fields of a hash, optionally with their values."),
    Cmd::new("hscan", -3, hscan).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .tips(&["nondeterministic_output"]).doc(G, "2.8.0", "O(1) per call; a whole iteration is O(N), N being the size of the hash.", "Walks the fields and values of a hash incrementally with a cursor."),
    Cmd::new("hset", -4, hset).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::UPDATE, 1, 0, 1)])
        .doc(G, "2.0.0", "O(1) per field written, so O(N) for N pairs.", "Writes one or more field-value pairs of a hash, creating the key when needed."),
    Cmd::new("hsetnx", 4, hsetnx).flags(WRITE | DENYOOM | FAST).acl(W | acl::FAST).specs(&[ks(kf::RW | kf::INSERT, 1, 0, 1)])
        .doc(G, "2.0.0", "O(1)", "Writes a hash field only when it is not present yet."),
    Cmd::new("hstrlen", 3, hstrlen).flags(READONLY | FAST).acl(R | acl::FAST).specs(&[ks(kf::RO, 1, 0, 1)])
        .doc(G, "3.2.0", "O(1)", "Returns the byte length of the value in a hash field."),
    Cmd::new("hvals", 2, hvals).flags(READONLY).acl(R | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .tips(&["nondeterministic_output_order"]).doc(G, "2.0.0", "O(N), N being the size of the hash.", "Lists the values of a hash."),
];

/// The encoding thresholds as configured now.
fn limits(ctx: &Ctx) -> Limits {
    let c = &ctx.srv.config;
    Limits {
        entries: c.hash_max_listpack_entries.load(Relaxed) as usize,
        value: c.hash_max_listpack_value.load(Relaxed) as usize,
    }
}

fn bulk(b: &[u8]) -> Frame {
    Frame::bulk(b)
}

/// Runs `f` over the hash at argv[1] (a counted read), or returns `missing`.
fn with_hash(ctx: &mut Ctx, missing: Frame, f: impl FnOnce(&Hash) -> Frame) -> CmdResult {
    let key = &ctx.argv[1];
    let mut db = ctx.db();
    Ok(match ht::read(&mut db, key)? {
        Some(h) => f(h),
        None => missing,
    })
}

fn hset(ctx: &mut Ctx) -> CmdResult {
    set_pairs(ctx).map(|created| Frame::Integer(created as i64))
}

fn hmset(ctx: &mut Ctx) -> CmdResult {
    set_pairs(ctx).map(|_| Frame::ok())
}

/// HSET and HMSET: sets the pairs, returns how many fields were created.
fn set_pairs(ctx: &mut Ctx) -> Result<usize, CmdError> {
    let argv = ctx.argv;
    if !argv.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(ctx.cmd.name.to_string()));
    }
    let lim = limits(ctx);
    let key = &argv[1];
    let created = ht::set_pairs(&mut ctx.db(), key, &argv[2..], lim)?;
    ctx.dirty += (argv.len() as u64 - 2) / 2;
    // One event for all the pairs, even when no field changed; HMSET too.
    ctx.reply_first();
    ctx.notify(notify::HASH, "hset", key);
    Ok(created)
}

fn hsetnx(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let lim = limits(ctx);
    let key = &argv[1];
    let done = ht::set_nx(&mut ctx.db(), key, &argv[2], &argv[3], lim)?;
    if done {
        ctx.dirty += 1;
        ctx.reply_first();
        ctx.notify(notify::HASH, "hset", key);
    }
    Ok(Frame::Integer(done as i64))
}

fn hdel(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let key = &argv[1];
    let n = ht::del_fields(&mut ctx.db(), key, &argv[2..])?;
    if n > 0 {
        ctx.dirty += n as u64;
        ctx.notify(notify::HASH, "hdel", key);
        // Removing the last field removed the key.
        ctx.notify_del_if_gone(key);
    }
    Ok(Frame::Integer(n as i64))
}

fn hget(ctx: &mut Ctx) -> CmdResult {
    let field = &ctx.argv[2];
    with_hash(ctx, Frame::Null, |h| h.get(field).map_or(Frame::Null, bulk))
}

fn hexists(ctx: &mut Ctx) -> CmdResult {
    let field = &ctx.argv[2];
    with_hash(ctx, Frame::Integer(0), |h| {
        Frame::Integer(h.contains(field) as i64)
    })
}

fn hstrlen(ctx: &mut Ctx) -> CmdResult {
    let field = &ctx.argv[2];
    with_hash(ctx, Frame::Integer(0), |h| {
        Frame::Integer(h.get(field).map_or(0, |v| v.len() as i64))
    })
}

fn hlen(ctx: &mut Ctx) -> CmdResult {
    with_hash(ctx, Frame::Integer(0), |h| Frame::Integer(h.len() as i64))
}

fn hmget(ctx: &mut Ctx) -> CmdResult {
    let fields = &ctx.argv[2..];
    let missing = Frame::Array(vec![Frame::Null; fields.len()]);
    with_hash(ctx, missing, |h| {
        Frame::Array(
            fields
                .iter()
                .map(|f| h.get(f).map_or(Frame::Null, bulk))
                .collect(),
        )
    })
}

fn hgetall(ctx: &mut Ctx) -> CmdResult {
    with_hash(ctx, Frame::Map(Vec::new()), |h| {
        let mut out = Vec::with_capacity(h.len());
        h.for_each(|f, v| out.push((bulk(f), bulk(v))));
        Frame::Map(out)
    })
}

fn hkeys(ctx: &mut Ctx) -> CmdResult {
    with_hash(ctx, Frame::Array(Vec::new()), |h| {
        let mut out = Vec::with_capacity(h.len());
        h.for_each(|f, _| out.push(bulk(f)));
        Frame::Array(out)
    })
}

fn hvals(ctx: &mut Ctx) -> CmdResult {
    with_hash(ctx, Frame::Array(Vec::new()), |h| {
        let mut out = Vec::with_capacity(h.len());
        h.for_each(|_, v| out.push(bulk(v)));
        Frame::Array(out)
    })
}

fn hincrby(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let delta = crate::dispatch::args::parse_i64(&argv[3])?;
    let lim = limits(ctx);
    let key = &argv[1];
    let n = ht::incr_by(&mut ctx.db(), key, &argv[2], delta, lim).map_err(|e| match e {
        EngineError::NotInteger => err("hash value is not an integer"),
        e => e.into(),
    })?;
    ctx.dirty += 1;
    ctx.reply_first();
    ctx.notify(notify::HASH, "hincrby", key);
    Ok(Frame::Integer(n))
}

/// HINCRBYFLOAT's increment check, before the key is looked at: not a
/// number (strtold rules, ERANGE included) or an infinity are refused.
fn check_float_incr(incr: &[u8]) -> Result<(), CmdError> {
    use rubedo_engine::types::float;
    if !float::is_valid(incr) {
        return Err(CmdError::NotFloat);
    }
    if float::is_infinite(incr) {
        return Err(err("value is NaN or Infinity"));
    }
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    check_float_incr(&argv[3])?;
    let lim = limits(ctx);
    let key = &argv[1];
    let text =
        ht::incr_by_float(&mut ctx.db(), key, &argv[2], &argv[3], lim).map_err(|e| match e {
            EngineError::NotFloat => err("hash value is not a float"),
            e => e.into(),
        })?;
    ctx.dirty += 1;
    ctx.reply_first();
    ctx.notify(notify::HASH, "hincrbyfloat", key);
    let value = Bytes::from(text);
    // Replicated as the value it produced, so float formatting cannot drift.
    ctx.propagate(Rewrite::hset(key, &argv[2], &value));
    Ok(Frame::Bulk(value))
}

fn hrandfield(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    if argv.len() == 2 {
        let mut rng = rand::thread_rng();
        return with_hash(ctx, Frame::Null, |h| {
            h.random(&mut rng).map_or(Frame::Null, |(f, _)| bulk(f))
        });
    }
    let l = crate::dispatch::args::parse_i64(&argv[2])?;
    if l == i64::MIN {
        return Err(err(format!(
            "value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    let withvalues = match argv.len() {
        3 => false,
        4 if argv[3].eq_ignore_ascii_case(b"withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(err("value is out of range"));
    }
    let proto = ctx.client.proto;
    let key = &argv[1];
    let mut db = ctx.db();
    let Some(h) = ht::read(&mut db, key)? else {
        return Ok(Frame::Array(Vec::new()));
    };
    let count = l.unsigned_abs();
    if l < 0 && count > crate::session::tail::STREAM_OVER {
        // Too many to build: written as the client reads (see `tail`).
        let pairs: Vec<(Bytes, Bytes)> = h
            .pairs()
            .into_iter()
            .map(|(f, v)| (Bytes::copy_from_slice(f), Bytes::copy_from_slice(v)))
            .collect();
        drop(db);
        let header = if withvalues {
            rubedo_resp::pairs_len(count as usize, proto) as u64
        } else {
            count
        };
        let picks = crate::session::tail::random_picks(pairs, count, move |(f, v), out| {
            let f = Frame::Bulk(f.clone());
            if withvalues {
                rubedo_resp::write_pair(&f, &Frame::Bulk(v.clone()), proto, out);
            } else {
                rubedo_resp::encode(&f, proto, out);
            }
        });
        ctx.stream_tail(vec![crate::session::tail::Part::Stream(picks)]);
        return Ok(Frame::Raw(crate::session::tail::array_header(header)));
    }
    Ok(rand_fields(h, l, withvalues))
}

/// HRANDFIELD with a count: distinct fields for a positive count, possibly
/// repeated ones for a negative count; with values, field/value pairs.
fn rand_fields(h: &Hash, l: i64, withvalues: bool) -> Frame {
    let mut out = Vec::new();
    let push = |out: &mut Vec<(Frame, Frame)>, f: &[u8], v: &[u8]| {
        out.push((bulk(f), if withvalues { bulk(v) } else { Frame::Null }));
    };
    let count = l.unsigned_abs();
    let mut rng = rand::thread_rng();
    if l < 0 || count == 1 {
        for _ in 0..count {
            if let Some((f, v)) = h.random(&mut rng) {
                push(&mut out, f, v);
            }
        }
    } else if count >= h.len() as u64 {
        h.for_each(|f, v| push(&mut out, f, v));
    } else if count * 3 <= h.len() as u64 {
        // Few of many: draw until enough distinct fields came up, without
        // listing the whole hash.
        let mut seen = std::collections::HashSet::new();
        while (seen.len() as u64) < count {
            if let Some((f, v)) = h.random(&mut rng) {
                if seen.insert(f) {
                    push(&mut out, f, v);
                }
            }
        }
    } else {
        let pairs = h.pairs();
        let picked = rand::seq::index::sample(&mut rng, pairs.len(), count as usize);
        for i in picked {
            push(&mut out, pairs[i].0, pairs[i].1);
        }
    }
    if withvalues {
        Frame::Pairs(out)
    } else {
        Frame::Array(out.into_iter().map(|(f, _)| f).collect())
    }
}

fn hscan(ctx: &mut Ctx) -> CmdResult {
    let mut a = ctx.args();
    let key = a.next_bytes()?;
    let cursor = parse_cursor(a.next_bytes()?)?;
    // The key is checked before the options, as Redis does.
    {
        let mut db = ctx.db();
        if ht::read(&mut db, key)?.is_none() {
            return Ok(Frame::Array(vec![bulk(b"0"), Frame::Array(Vec::new())]));
        }
    }
    let ScanOptions { pattern, count, .. } = ScanOptions::parse(&mut a, false)?;
    let mut db = ctx.db();
    let Some(h) = ht::get_mut(&mut db, key)? else {
        return Ok(Frame::Array(vec![bulk(b"0"), Frame::Array(Vec::new())]));
    };
    let h: &Hash = h;
    let mut found: Vec<Frame> = Vec::new();
    let mut seen = 0i64;
    let mut c = cursor;
    let mut iterations = count.saturating_mul(10);
    loop {
        c = h.scan(c, |f, v| {
            seen += 2;
            if pattern.is_some_and(|p| !glob_match(p, f, false)) {
                return;
            }
            found.push(bulk(f));
            found.push(bulk(v));
        });
        iterations -= 1;
        // Redis 7.0 counts fields and values alike against COUNT, before
        // the pattern filters them.
        if c == 0 || seen >= count || iterations <= 0 {
            break;
        }
    }
    Ok(Frame::Array(vec![
        Frame::Bulk(Bytes::from(c.to_string())),
        Frame::Array(found),
    ]))
}
