//! The typed arguments of the sorted-set commands whose options need more than a
//! glance: ZADD/ZINCRBY, the ZRANGE family and the MIN|MAX side of ZMPOP/BZMPOP. Each
//! checks what it reads in the order Redis does, so the same error wins.

use super::*;

/// ZADD's arguments (and ZINCRBY's, which is ZADD INCR):
/// `key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]`.
pub(super) struct ZaddArgs<'a> {
    pub key: &'a Bytes,
    pub flags: AddFlags,
    pub ch: bool,
    /// Every score parsed, in the order given.
    pub pairs: Vec<(f64, &'a Bytes)>,
}

impl<'a> ZaddArgs<'a> {
    /// As Redis: the flags up to the first other word, then the element count, the
    /// flags' compatibility, INCR's single pair, and only then the scores.
    pub fn parse(a: &mut Args<'a>, incr_cmd: bool) -> Result<Self, CmdError> {
        let key = a.next_bytes()?;
        let mut f = AddFlags {
            incr: incr_cmd,
            ..AddFlags::default()
        };
        let mut ch = false;
        while let Some(w) = a.peek() {
            if is(w, "nx") {
                f.nx = true;
            } else if is(w, "xx") {
                f.xx = true;
            } else if is(w, "ch") {
                ch = true;
            } else if is(w, "incr") {
                f.incr = true;
            } else if is(w, "gt") {
                f.gt = true;
            } else if is(w, "lt") {
                f.lt = true;
            } else {
                break;
            }
            a.next_arg();
        }
        let rest = a.rest();
        if rest.len() % 2 == 1 || rest.is_empty() {
            return Err(CmdError::Syntax);
        }
        let elements = rest.len() / 2;
        if f.nx && f.xx {
            return Err(err("XX and NX options at the same time are not compatible"));
        }
        if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
            return Err(err(
                "GT, LT, and/or NX options at the same time are not compatible",
            ));
        }
        if f.incr && elements > 1 {
            return Err(err("INCR option supports a single increment-element pair"));
        }
        let mut pairs = Vec::with_capacity(elements);
        for p in rest.chunks_exact(2) {
            pairs.push((score_arg(&p[0])?, &p[1]));
        }
        Ok(ZaddArgs {
            key,
            flags: f,
            ch,
            pairs,
        })
    }
}

/// How a range command selects: fixed by the older commands, chosen by ZRANGE's
/// BYSCORE/BYLEX (by rank without either).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

/// The direction of a range: fixed by the older commands, ZRANGE's REV.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Dir {
    Auto,
    Forward,
    Reverse,
}

/// A range with its bounds parsed: by rank (start, end), by score or by lex.
pub(super) enum RangeSpec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// The arguments of ZRANGE, ZRANGESTORE, ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE,
/// ZRANGEBYLEX and ZREVRANGEBYLEX (Redis's zrangeGenericCommand):
/// `[dst] key min max [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]`,
/// where the older forms fix the type and the direction.
pub(super) struct RangeArgs<'a> {
    /// ZRANGESTORE's destination.
    pub dst: Option<&'a Bytes>,
    pub key: &'a Bytes,
    pub spec: RangeSpec,
    pub rev: bool,
    pub offset: i64,
    /// -1: no limit.
    pub limit: i64,
    pub withscores: bool,
}

impl<'a> RangeArgs<'a> {
    /// As Redis: the options, then LIMIT's and WITHSCORES's compatibility with the type,
    /// then the bounds (swapped for a reverse range by score or lex).
    pub fn parse(
        a: &mut Args<'a>,
        store: bool,
        mut rtype: RangeType,
        mut dir: Dir,
    ) -> Result<Self, CmdError> {
        let dst = if store { Some(a.next_bytes()?) } else { None };
        let key = a.next_bytes()?;
        let (mut min, mut max) = (a.next_bytes()?, a.next_bytes()?);
        let (mut offset, mut limit) = (0i64, -1i64);
        let mut withscores = false;
        while let Some(w) = a.next_arg() {
            if !store && is(w, "withscores") {
                withscores = true;
            } else if is(w, "limit") && a.remaining() >= 2 {
                offset = a.next_i64()?;
                limit = a.next_i64()?;
            } else if dir == Dir::Auto && is(w, "rev") {
                dir = Dir::Reverse;
            } else if rtype == RangeType::Auto && is(w, "bylex") {
                rtype = RangeType::Lex;
            } else if rtype == RangeType::Auto && is(w, "byscore") {
                rtype = RangeType::Score;
            } else {
                return Err(CmdError::Syntax);
            }
        }
        if rtype == RangeType::Auto {
            rtype = RangeType::Rank;
        }
        // As in Redis, a LIMIT whose count is -1 reads as none, even by rank.
        if limit != -1 && rtype == RangeType::Rank {
            return Err(err(
                "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
            ));
        }
        if withscores && rtype == RangeType::Lex {
            return Err(err(
                "syntax error, WITHSCORES not supported in combination with BYLEX",
            ));
        }
        let rev = dir == Dir::Reverse;
        if rev && rtype != RangeType::Rank {
            std::mem::swap(&mut min, &mut max);
        }
        let spec = match rtype {
            RangeType::Score => RangeSpec::Score(score_range(min, max)?),
            RangeType::Lex => RangeSpec::Lex(lex_range(min, max)?),
            _ => RangeSpec::Rank(parse_i64(min)?, parse_i64(max)?),
        };
        Ok(RangeArgs {
            dst,
            key,
            spec,
            rev,
            offset,
            limit,
            withscores,
        })
    }
}

/// The side of ZMPOP and BZMPOP (see `MpopArgs`): MIN or MAX, as "is MAX".
pub fn min_max(word: &[u8]) -> Option<bool> {
    if is(word, "min") {
        Some(false)
    } else if is(word, "max") {
        Some(true)
    } else {
        None
    }
}
