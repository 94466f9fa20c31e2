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

/// Redis's zunionInterDiffGenericCommand. `numkeys_at` is the index of numkeys; `dst` the
/// destination of the *STORE forms; `card` is ZINTERCARD.
fn setop_generic(
    ctx: &mut Ctx,
    dst: Option<&Bytes>,
    numkeys_at: usize,
    op: SetOp,
    card: bool,
) -> CmdResult {
    let argv = ctx.argv;
    let setnum = parse_i64(&argv[numkeys_at])?;
    if setnum < 1 {
        return Err(err(format!(
            "at least 1 input key is needed for '{}' command",
            ctx.cmd.name
        )));
    }
    if setnum > (argv.len() - numkeys_at - 1) as i64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let keys = &argv[numkeys_at + 1..numkeys_at + 1 + setnum];
    let sources = zt::read_sources(&mut ctx.db(), keys)?;
    let mut weights = vec![1.0f64; setnum];
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0i64;
    let mut j = numkeys_at + 1 + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = &argv[j];
        if op != SetOp::Diff && !card && remaining > setnum && is(a, "weights") {
            j += 1;
            for w in weights.iter_mut() {
                *w = parse_score(&argv[j]).ok_or_else(|| err("weight value is not a float"))?;
                j += 1;
            }
        } else if op != SetOp::Diff && !card && remaining >= 2 && is(a, "aggregate") {
            let v = &argv[j + 1];
            agg = if is(v, "sum") {
                Aggregate::Sum
            } else if is(v, "min") {
                Aggregate::Min
            } else if is(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if dst.is_none() && !card && is(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card && remaining >= 2 && is(a, "limit") {
            limit = parse_i64(&argv[j + 1])
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| err("LIMIT can't be negative"))?;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
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
    setop_generic(ctx, None, 1, SetOp::Union, false)
}

pub(super) fn zinter(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, None, 1, SetOp::Inter, false)
}

pub(super) fn zdiff(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, None, 1, SetOp::Diff, false)
}

pub(super) fn zunionstore(ctx: &mut Ctx) -> CmdResult {
    let dst = &ctx.argv[1];
    setop_generic(ctx, Some(dst), 2, SetOp::Union, false)
}

pub(super) fn zinterstore(ctx: &mut Ctx) -> CmdResult {
    let dst = &ctx.argv[1];
    setop_generic(ctx, Some(dst), 2, SetOp::Inter, false)
}

pub(super) fn zdiffstore(ctx: &mut Ctx) -> CmdResult {
    let dst = &ctx.argv[1];
    setop_generic(ctx, Some(dst), 2, SetOp::Diff, false)
}

pub(super) fn zintercard(ctx: &mut Ctx) -> CmdResult {
    setop_generic(ctx, None, 1, SetOp::Inter, true)
}
