//! ZUNION / ZINTER / ZDIFF (+STORE) / ZINTERCARD.

use super::*;

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

fn aggregate(target: &mut f64, v: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += v;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if v < *target {
                *target = v;
            }
        }
        Aggregate::Max => {
            if v > *target {
                *target = v;
            }
        }
    }
}

/// The keys of ZUNION, ZINTER, ZDIFF, their *STORE forms and ZINTERCARD:
/// `[dst] numkeys key...`. Redis looks them up before it reads the options (see
/// `SetopOpts`), so a WRONGTYPE wins over a bad option.
struct SetopKeys<'a> {
    dst: Option<&'a Bytes>,
    keys: &'a [Bytes],
}

impl<'a> SetopKeys<'a> {
    fn parse(a: &mut Args<'a>, store: bool, name: &str) -> Result<Self, CmdError> {
        let dst = if store { Some(a.next_bytes()?) } else { None };
        let setnum = a.next_i64()?;
        if setnum < 1 {
            return Err(err(format!(
                "at least 1 input key is needed for '{name}' command"
            )));
        }
        // Fewer keys than numkeys is a syntax error.
        let keys = a.take(usize::try_from(setnum).unwrap_or(usize::MAX))?;
        Ok(SetopKeys { dst, keys })
    }
}

/// The options after the keys: `[WEIGHTS weight...] [AGGREGATE SUM|MIN|MAX]
/// [WITHSCORES]` (no WEIGHTS or AGGREGATE for ZDIFF, no WITHSCORES for the *STORE
/// forms), or ZINTERCARD's `[LIMIT limit]`.
struct SetopOpts {
    /// One per key, 1 unless given.
    weights: Vec<f64>,
    agg: Aggregate,
    withscores: bool,
    /// ZINTERCARD's; 0 is no limit.
    limit: i64,
}

impl SetopOpts {
    fn parse(
        a: &mut Args,
        setnum: usize,
        op: SetOp,
        store: bool,
        card: bool,
    ) -> Result<Self, CmdError> {
        let mut o = SetopOpts {
            weights: vec![1.0f64; setnum],
            agg: Aggregate::Sum,
            withscores: false,
            limit: 0,
        };
        let weighted = op != SetOp::Diff && !card;
        while !a.is_empty() {
            // What is left, the option word included.
            let remaining = a.remaining();
            if weighted && remaining > setnum && a.eat("weights") {
                for w in o.weights.iter_mut() {
                    *w = parse_score(a.next_bytes()?)
                        .ok_or_else(|| err("weight value is not a float"))?;
                }
            } else if weighted && remaining >= 2 && a.eat("aggregate") {
                let v = a.next_bytes()?;
                o.agg = if is(v, "sum") {
                    Aggregate::Sum
                } else if is(v, "min") {
                    Aggregate::Min
                } else if is(v, "max") {
                    Aggregate::Max
                } else {
                    return Err(CmdError::Syntax);
                };
            } else if !store && !card && a.eat("withscores") {
                o.withscores = true;
            } else if card && remaining >= 2 && a.eat("limit") {
                o.limit = parse_i64(a.next_bytes()?)
                    .ok()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| err("LIMIT can't be negative"))?;
            } else {
                return Err(CmdError::Syntax);
            }
        }
        Ok(o)
    }
}

/// Redis's zunionInterDiffGenericCommand: `store` for the *STORE forms (whose
/// destination comes first); `card` is ZINTERCARD.
fn setop_generic(ctx: &mut Ctx, store: bool, op: SetOp, card: bool) -> CmdResult {
    let mut a = ctx.args();
    let SetopKeys { dst, keys } = SetopKeys::parse(&mut a, store, ctx.cmd.name)?;
    let sources = zt::read_sources(&mut ctx.db(), keys)?;
    let SetopOpts {
        weights,
        agg,
        withscores,
        limit,
    } = SetopOpts::parse(&mut a, keys.len(), op, store, card)?;
    let mut srcs: Vec<(Items, f64)> = sources
        .into_iter()
        .zip(weights)
        .map(|(s, w)| (s.unwrap_or_default(), w))
        .collect();
    if op != SetOp::Diff {
        srcs.sort_by_key(|(s, _)| s.len());
    }
    let lookup: Vec<std::collections::HashMap<&[u8], f64, ahash::RandomState>> = srcs
        .iter()
        .map(|(s, _)| s.iter().map(|(m, sc)| (&m[..], *sc)).collect())
        .collect();
    let weighted = |s: f64, w: f64| {
        let v = s * w;
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    match op {
        SetOp::Inter => {
            if srcs.iter().all(|(s, _)| !s.is_empty()) {
                for (m, s) in &srcs[0].0 {
                    let mut score = weighted(*s, srcs[0].1);
                    let mut all = true;
                    for (i, (_, w)) in srcs.iter().enumerate().skip(1) {
                        match lookup[i].get(&m[..]) {
                            // Only the first set's product is cleaned of NaN (as in
                            // Redis): a later inf * 0 reaches the aggregate as NaN, which
                            // turns a SUM into 0 and leaves MIN and MAX unchanged.
                            Some(v) => aggregate(&mut score, *v * *w, agg),
                            None => {
                                all = false;
                                break;
                            }
                        }
                    }
                    if all {
                        result.push((m.clone(), score));
                        if card && limit > 0 && result.len() as i64 >= limit {
                            break;
                        }
                    }
                }
            }
        }
        SetOp::Union => {
            let mut acc: std::collections::HashMap<Vec<u8>, usize, ahash::RandomState> =
                Default::default();
            for (s, w) in &srcs {
                for (m, sc) in s {
                    let v = weighted(*sc, *w);
                    match acc.get(m) {
                        Some(&i) => aggregate(&mut result[i].1, v, agg),
                        None => {
                            acc.insert(m.clone(), result.len());
                            result.push((m.clone(), v));
                        }
                    }
                }
            }
        }
        SetOp::Diff => {
            for (m, s) in &srcs[0].0 {
                if !lookup[1..].iter().any(|l| l.contains_key(&m[..])) {
                    result.push((m.clone(), *s));
                }
            }
        }
    }
    if card {
        return Ok(Frame::Integer(result.len() as i64));
    }
    let lim = limits(ctx);
    let mut z = ZSet::new();
    for (m, s) in &result {
        z.insert(m, *s, lim);
    }
    match dst {
        Some(dst) => {
            z.shrink_if_fits(lim);
            Ok(Frame::Integer(store_result(ctx, dst, z)))
        }
        None => Ok(items_reply(z.to_vec(), withscores)),
    }
}

pub(super) fn zunion(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, false, SetOp::Union, false)
}

pub(super) fn zinter(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, false, SetOp::Inter, false)
}

pub(super) fn zdiff(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, false, SetOp::Diff, false)
}

pub(super) fn zunionstore(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, true, SetOp::Union, false)
}

pub(super) fn zinterstore(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, true, SetOp::Inter, false)
}

pub(super) fn zdiffstore(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, true, SetOp::Diff, false)
}

pub(super) fn zintercard(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, false, SetOp::Inter, true)
}
