//! The sorted-set type and the storage side of the sorted-set group.
//!
//! Members are kept twice: a [`Dict`] from member to score (O(1) ZSCORE, SCAN cursors) and
//! an order-statistic B+ tree ordered by (score, member) ([`super::ostree`]), whose inner
//! nodes count the entries below them, so rank, select and range boundaries are O(log n)
//! and a range of k members costs O(log n + k). Redis's two encodings (`listpack` while small, `skiplist` beyond
//! `zset-max-listpack-entries` / `zset-max-listpack-value`) are reported as a flag: the
//! conversion is one way, as in Redis, except for results Redis builds afresh (*STORE).

use std::cmp::Ordering;
use std::fmt;

use rand::Rng;

pub use super::ostree::cmp_key;
use super::ostree::OsTree;
use crate::dict::Dict;
use crate::error::{Error, Result};
use crate::keyspace::Db;
use crate::value::Value;

/// (member, score) pairs, in the order an operation produced them.
pub type Items = Vec<(Vec<u8>, f64)>;

/// The score as kept: a listpack keeps scores as text and reads "-0" back as 0.
fn stored_score(listpack: bool, s: f64) -> f64 {
    if listpack {
        s + 0.0
    } else {
        s
    }
}

/// Moves member `m` from score `old` to `new` in the order, reusing its string.
fn move_in_tree(tree: &mut OsTree, m: &[u8], old: f64, new: f64) {
    let member = tree.remove(old, m).expect("every member is in the tree");
    tree.insert(new, member);
}

/// A score bound: a value, inclusive or not.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreBound {
    pub value: f64,
    pub exclusive: bool,
}

/// A score interval (ZRANGEBYSCORE's min and max).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreRange {
    pub min: ScoreBound,
    pub max: ScoreBound,
}

impl ScoreRange {
    fn above_min(&self, s: f64) -> bool {
        if self.min.exclusive {
            s > self.min.value
        } else {
            s >= self.min.value
        }
    }

    fn below_max(&self, s: f64) -> bool {
        if self.max.exclusive {
            s < self.max.value
        } else {
            s <= self.max.value
        }
    }

    /// True if no score can be inside.
    pub fn is_empty(&self) -> bool {
        self.min.value > self.max.value
            || (self.min.value == self.max.value && (self.min.exclusive || self.max.exclusive))
    }
}

/// A lexicographic bound (`-`, `+`, `[x`, `(x`).
#[derive(Clone, Debug, PartialEq)]
pub enum LexBound {
    MinusInf,
    PlusInf,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl LexBound {
    /// Parses Redis's lex bound syntax; None if invalid.
    pub fn parse(b: &[u8]) -> Option<LexBound> {
        match b.first() {
            Some(b'-') if b.len() == 1 => Some(LexBound::MinusInf),
            Some(b'+') if b.len() == 1 => Some(LexBound::PlusInf),
            Some(b'[') => Some(LexBound::Incl(b[1..].to_vec())),
            Some(b'(') => Some(LexBound::Excl(b[1..].to_vec())),
            _ => None,
        }
    }
}

/// A lexicographic interval (ZRANGEBYLEX's min and max).
#[derive(Clone, Debug, PartialEq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    fn above_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::MinusInf => true,
            LexBound::PlusInf => false,
            LexBound::Incl(v) => m >= &v[..],
            LexBound::Excl(v) => m > &v[..],
        }
    }

    fn below_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::MinusInf => false,
            LexBound::PlusInf => true,
            LexBound::Incl(v) => m <= &v[..],
            LexBound::Excl(v) => m < &v[..],
        }
    }

    /// True if no member can be inside (Redis's zslIsInLexRange precheck).
    pub fn is_empty(&self) -> bool {
        use LexBound::*;
        match (&self.min, &self.max) {
            (PlusInf, _) | (_, MinusInf) => true,
            (MinusInf, _) | (_, PlusInf) => false,
            (Incl(a), Incl(b)) => a > b,
            (Incl(a), Excl(b)) | (Excl(a), Incl(b)) | (Excl(a), Excl(b)) => a >= b,
        }
    }
}

/// ZADD's conditions.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub incr: bool,
}

/// What one ZADD element did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AddOutcome {
    Added(f64),
    Updated(f64),
    /// Already there with this score (or INCR by zero).
    Unchanged(f64),
    /// Refused by NX/XX/GT/LT.
    Skipped,
    /// INCR produced NaN.
    Nan,
}

/// The encoding limits (zset-max-listpack-entries / -value).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

/// A sorted-set value.
pub struct ZSet {
    listpack: bool,
    dict: Dict<f64>,
    tree: OsTree,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}

impl Clone for ZSet {
    /// Keeps the encoding, as Redis's COPY does.
    fn clone(&self) -> Self {
        let mut z = ZSet::new();
        z.listpack = self.listpack;
        self.for_each(|m, s| {
            z.insert_new(m, s);
        });
        z
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.encoding() == other.encoding() && self.to_vec() == other.to_vec()
    }
}

impl fmt::Debug for ZSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_list();
        self.for_each(|m, s| {
            l.entry(&(String::from_utf8_lossy(m), s));
        });
        l.finish()
    }
}

impl ZSet {
    /// An empty sorted set in the `listpack` encoding.
    pub fn new() -> ZSet {
        ZSet {
            listpack: true,
            dict: Dict::new(),
            tree: OsTree::new(),
        }
    }

    /// An empty set in the encoding ZADD picks for a new key: `skiplist` if listpacks are
    /// disabled or the first member is too long for one.
    pub fn for_first(first: &[u8], lim: Limits) -> ZSet {
        let mut z = ZSet::new();
        z.listpack = lim.entries > 0 && first.len() <= lim.value;
        z
    }

    /// Redis's name for the encoding (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        if self.listpack {
            "listpack"
        } else {
            "skiplist"
        }
    }

    pub fn is_listpack(&self) -> bool {
        self.listpack
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// Calls `f` with every (member, score), in score order.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        self.tree.visit(0, usize::MAX, &mut f);
    }

    /// Every (member, score) in score order.
    pub fn to_vec(&self) -> Vec<(Vec<u8>, f64)> {
        self.range(0, self.len())
    }

    /// Heap bytes owned by the value.
    pub fn heap_bytes(&self) -> usize {
        let mut n = self.dict.table_bytes() + self.tree.node_bytes();
        self.for_each(|m, _| n += 2 * m.len() + 16);
        n
    }

    /// The score of `m`.
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        self.dict.get(m).copied()
    }

    fn insert_new(&mut self, m: &[u8], s: f64) {
        let s = stored_score(self.listpack, s);
        self.dict.insert_new(m, s);
        self.tree.insert(s, m.into());
    }

    fn tree_remove(&mut self, m: &[u8], s: f64) {
        self.tree.remove(s, m);
    }

    /// Gives member `m` (now scored `old`) the score `new`: the map entry
    /// is updated in place and the tree node is moved, not reallocated
    /// (Redis's zslUpdateScore spares the member string the same way).
    fn rescore(&mut self, m: &[u8], old: f64, new: f64) {
        let new = stored_score(self.listpack, new);
        *self.dict.get_mut(m).expect("every member is in the map") = new;
        move_in_tree(&mut self.tree, m, old, new);
    }

    /// Switches to the `skiplist` encoding if adding `m` would outgrow the limits.
    fn check_convert(&mut self, m: &[u8], lim: Limits) {
        if self.listpack && (self.len() + 1 > lim.entries || m.len() > lim.value) {
            self.listpack = false;
        }
    }

    /// Inserts or re-scores `m` unconditionally; true if it was new.
    pub fn insert(&mut self, m: &[u8], s: f64, lim: Limits) -> bool {
        match self.score(m) {
            Some(old) => {
                if old != s {
                    self.rescore(m, old, s);
                }
                false
            }
            None => {
                self.check_convert(m, lim);
                self.insert_new(m, s);
                true
            }
        }
    }

    /// One ZADD element with its conditions (Redis's zsetAdd).
    pub fn add(&mut self, m: &[u8], score: f64, f: AddFlags, lim: Limits) -> AddOutcome {
        // One map lookup serves the check and the update.
        let Some(slot) = self.dict.get_mut(m) else {
            if f.xx {
                return AddOutcome::Skipped;
            }
            self.check_convert(m, lim);
            self.insert_new(m, score);
            return AddOutcome::Added(score);
        };
        let cur = *slot;
        if f.nx {
            return AddOutcome::Skipped;
        }
        let mut s = score;
        if f.incr {
            s += cur;
            if s.is_nan() {
                return AddOutcome::Nan;
            }
        }
        if (f.lt && s >= cur) || (f.gt && s <= cur) {
            return AddOutcome::Skipped;
        }
        if s == cur {
            return AddOutcome::Unchanged(s);
        }
        let stored = stored_score(self.listpack, s);
        *slot = stored;
        move_in_tree(&mut self.tree, m, cur, stored);
        AddOutcome::Updated(s)
    }

    /// Removes `m`; true if it was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.dict.remove(m) {
            Some((_, s)) => {
                self.tree_remove(m, s);
                true
            }
            None => false,
        }
    }

    /// The 0-based rank of `m` in ascending order.
    pub fn rank(&self, m: &[u8]) -> Option<usize> {
        let s = self.score(m)?;
        Some(self.count_before(|ns, nm| cmp_key(ns, nm, s, m) == Ordering::Less))
    }

    /// How many members (a prefix in order) `before` accepts.
    fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.tree.count_before(before)
    }

    /// The member at rank `i`.
    pub fn select(&self, i: usize) -> Option<(&[u8], f64)> {
        self.tree.select(i)
    }

    /// The members of ranks `lo..hi`, in ascending order.
    pub fn range(&self, lo: usize, hi: usize) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::with_capacity(hi.saturating_sub(lo).min(self.len()));
        self.tree
            .visit(lo, hi, &mut |m, s| out.push((m.to_vec(), s)));
        out
    }

    /// The ranks `lo..hi` of members within `r`.
    pub fn score_span(&self, r: &ScoreRange) -> (usize, usize) {
        let lo = self.count_before(|s, _| !r.above_min(s));
        let hi = self.count_before(|s, _| r.below_max(s) || !r.above_min(s));
        (lo, hi.max(lo))
    }

    /// The ranks `lo..hi` of members within `r`. Lex ranges are meant for members of one
    /// score; with mixed scores this follows Redis: a `listpack` is scanned in order from
    /// the first member at or above `min` while members stay at or below `max`; a
    /// `skiplist` is searched as if members were sorted.
    pub fn lex_span(&self, r: &LexRange) -> (usize, usize) {
        self.lex_span_dir(r, false)
    }

    /// Like [`ZSet::lex_span`]; with `rev` a `listpack` is scanned from the end (from the
    /// last member at or below `max`, while members stay at or above `min`), as the
    /// reversed lex range commands do.
    pub fn lex_span_dir(&self, r: &LexRange, rev: bool) -> (usize, usize) {
        // Redis's zslIsInLexRange / zzlIsInLexRange prechecks.
        let (Some((first, _)), Some((last, _))) =
            (self.select(0), self.select(self.len().wrapping_sub(1)))
        else {
            return (0, 0);
        };
        if r.is_empty() || !r.above_min(last) || !r.below_max(first) {
            return (0, 0);
        }
        if self.listpack && rev {
            let all = self.to_vec();
            let mut i = all.len();
            while i > 0 && !r.below_max(&all[i - 1].0) {
                i -= 1;
            }
            let hi = i;
            while i > 0 && r.above_min(&all[i - 1].0) {
                i -= 1;
            }
            return (i, hi);
        }
        if self.listpack {
            let mut lo = None;
            let mut hi = 0;
            let mut i = 0;
            let mut done = false;
            self.for_each(|m, _| {
                if !done {
                    match lo {
                        None if r.above_min(m) => {
                            if r.below_max(m) {
                                lo = Some(i);
                                hi = i + 1;
                            } else {
                                lo = Some(i);
                                hi = i;
                                done = true;
                            }
                        }
                        None => {}
                        Some(_) => {
                            if r.below_max(m) {
                                hi = i + 1;
                            } else {
                                done = true;
                            }
                        }
                    }
                }
                i += 1;
            });
            return match lo {
                Some(lo) => (lo, hi),
                None => (0, 0),
            };
        }
        let lo = self.count_before(|_, m| !r.above_min(m));
        let hi = self.count_before(|_, m| r.below_max(m) || !r.above_min(m));
        (lo, hi.max(lo))
    }

    /// Removes and returns the members of ranks `lo..hi`, in ascending order.
    pub fn remove_range(&mut self, lo: usize, hi: usize) -> Vec<(Vec<u8>, f64)> {
        let out = self.tree.remove_range(lo, hi);
        for (m, _) in &out {
            self.dict.remove(m);
        }
        out
    }

    /// Removes and returns up to `count` members from the low end (or the high end with
    /// `max`), in pop order: the operation behind ZPOPMIN/ZPOPMAX/ZMPOP and their
    /// blocking forms.
    pub fn pop(&mut self, max: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
        let n = self.len();
        let count = count.min(n);
        if max {
            let mut v = self.remove_range(n - count, n);
            v.reverse();
            v
        } else {
            self.remove_range(0, count)
        }
    }

    /// A random (member, score).
    pub fn random(&self, rng: &mut impl Rng) -> Option<(&[u8], f64)> {
        if self.is_empty() {
            return None;
        }
        self.select(rng.gen_range(0..self.len()))
    }

    /// One ZSCAN step over a `skiplist` set: visits some members and returns the next
    /// cursor (0 = done). A `listpack` set is visited whole, in order, and returns 0.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], f64)) -> u64 {
        if self.listpack {
            self.for_each(f);
            0
        } else {
            self.dict.scan(cursor, |k, s| f(k.as_bytes(), *s))
        }
    }

    /// Converts back to `listpack` if the set fits the limits (Redis's
    /// zsetConvertToListpackIfNeeded, used for stored results).
    pub fn shrink_if_fits(&mut self, lim: Limits) {
        if self.listpack {
            return;
        }
        let mut max = 0;
        self.for_each(|m, _| max = max.max(m.len()));
        if self.len() <= lim.entries && max <= lim.value {
            let mut z = ZSet::new();
            self.for_each(|m, s| z.insert_new(m, s));
            *self = z;
        }
    }
}

/// The sorted set at `key` (a read: counts hits and misses).
pub fn read<'a>(db: &'a mut Db<'_>, key: &[u8]) -> Result<Option<&'a ZSet>> {
    match db.read(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(Error::WrongType),
        },
    }
}

/// The value at `key` as the write path looks it up (no hit/miss
/// counting, not a write): for checking a key's type before changing another.
pub fn get<'a>(db: &'a mut Db<'_>, key: &[u8]) -> Result<Option<&'a ZSet>> {
    match db.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::ZSet(v) => Ok(Some(v)),
            _ => Err(Error::WrongType),
        },
    }
}

/// The sorted set at `key` for modification (no hit/miss counting).
pub fn get_mut<'a>(db: &'a mut Db<'_>, key: &[u8]) -> Result<Option<&'a mut ZSet>> {
    match db.entry_mut(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => Err(Error::WrongType),
        },
    }
}

/// The sorted set at `key`, created with `fresh` if missing.
pub fn get_or_create<'a>(
    db: &'a mut Db<'_>,
    key: &[u8],
    fresh: impl FnOnce() -> ZSet,
) -> Result<&'a mut ZSet> {
    if get_mut(db, key)?.is_none() {
        db.insert_new(key, Value::ZSet(Box::new(fresh())));
    }
    Ok(get_mut(db, key)?.expect("just created"))
}

/// Deletes `key` if it holds an empty sorted set.
pub fn remove_if_empty(db: &mut Db<'_>, key: &[u8]) {
    if get(db, key).ok().flatten().is_some_and(|z| z.is_empty()) {
        db.remove(key);
    }
}

/// Stores `z` at `key` (clearing any TTL), or deletes `key` when `z` is empty.
/// Returns the stored size and whether anything changed.
pub fn store(db: &mut Db<'_>, key: &[u8], z: ZSet) -> (usize, bool) {
    let n = z.len();
    if n == 0 {
        (0, db.remove(key).is_some())
    } else {
        db.set(key, Value::ZSet(Box::new(z)), false);
        (n, true)
    }
}

/// Pops from the sorted set at `key` (ZPOPMIN/ZPOPMAX/ZMPOP and the blocking forms):
/// None if the key is missing, else the popped (member, score) pairs in pop order. The key
/// is deleted once empty.
pub fn pop(db: &mut Db<'_>, key: &[u8], max: bool, count: usize) -> Result<Option<Items>> {
    let Some(z) = get_mut(db, key)? else {
        return Ok(None);
    };
    let out = z.pop(max, count);
    if z.is_empty() {
        db.remove(key);
    }
    Ok(Some(out))
}

/// Members of several sorted sets or sets as (member, score) lists: what ZUNION, ZINTER
/// and ZDIFF read. A set's members score 1. Fails with WrongType for other types.
pub fn read_sources<K: AsRef<[u8]>>(db: &mut Db<'_>, keys: &[K]) -> Result<Vec<Option<Items>>> {
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        match db.read(k.as_ref()) {
            None => out.push(None),
            Some(e) => match &e.value {
                Value::ZSet(z) => out.push(Some(z.to_vec())),
                Value::Set(s) => {
                    out.push(Some(s.members().into_iter().map(|m| (m, 1.0)).collect()))
                }
                _ => return Err(Error::WrongType),
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const LIM: Limits = Limits {
        entries: 128,
        value: 64,
    };

    fn z(items: &[(&str, f64)]) -> ZSet {
        let mut z = ZSet::new();
        for (m, s) in items {
            z.insert(m.as_bytes(), *s, LIM);
        }
        z
    }

    fn names(v: &[(Vec<u8>, f64)]) -> Vec<String> {
        v.iter()
            .map(|(m, _)| String::from_utf8_lossy(m).into_owned())
            .collect()
    }

    #[test]
    fn order_rank_and_ranges() {
        let mut s = z(&[("c", 2.0), ("a", 1.0), ("b", 1.0), ("d", 3.0)]);
        assert_eq!(names(&s.to_vec()), ["a", "b", "c", "d"]);
        assert_eq!(s.rank(b"c"), Some(2));
        assert_eq!(s.rank(b"x"), None);
        assert_eq!(s.select(3).unwrap().0, b"d");
        let r = ScoreRange {
            min: ScoreBound {
                value: 1.0,
                exclusive: true,
            },
            max: ScoreBound {
                value: 3.0,
                exclusive: false,
            },
        };
        assert_eq!(s.score_span(&r), (2, 4));
        assert!(s.insert(b"e", 0.5, LIM));
        assert!(!s.insert(b"e", 5.0, LIM));
        assert_eq!(names(&s.to_vec()), ["a", "b", "c", "d", "e"]);
        assert_eq!(names(&s.pop(true, 2)), ["e", "d"]);
        assert_eq!(names(&s.pop(false, 1)), ["a"]);
        assert_eq!(s.len(), 2);
        assert_eq!(s.score(b"a"), None);
    }

    #[test]
    fn add_flags() {
        let mut s = z(&[("a", 1.0)]);
        let f = |nx, xx, gt, lt, incr| AddFlags {
            nx,
            xx,
            gt,
            lt,
            incr,
        };
        assert_eq!(
            s.add(b"a", 2.0, f(true, false, false, false, false), LIM),
            AddOutcome::Skipped
        );
        assert_eq!(
            s.add(b"b", 2.0, f(false, true, false, false, false), LIM),
            AddOutcome::Skipped
        );
        assert_eq!(
            s.add(b"a", 0.0, f(false, false, true, false, false), LIM),
            AddOutcome::Skipped
        );
        assert_eq!(
            s.add(b"a", 3.0, f(false, false, true, false, false), LIM),
            AddOutcome::Updated(3.0)
        );
        assert_eq!(
            s.add(b"a", 1.0, f(false, false, false, false, true), LIM),
            AddOutcome::Updated(4.0)
        );
        assert_eq!(
            s.add(b"a", 4.0, AddFlags::default(), LIM),
            AddOutcome::Unchanged(4.0)
        );
        s.add(b"a", f64::INFINITY, AddFlags::default(), LIM);
        assert_eq!(
            s.add(
                b"a",
                f64::NEG_INFINITY,
                f(false, false, false, false, true),
                LIM
            ),
            AddOutcome::Nan
        );
    }

    #[test]
    fn encoding_converts_one_way() {
        let lim = Limits {
            entries: 2,
            value: 3,
        };
        let mut s = ZSet::new();
        s.insert(b"a", 1.0, lim);
        s.insert(b"b", 1.0, lim);
        assert_eq!(s.encoding(), "listpack");
        s.insert(b"c", 1.0, lim);
        assert_eq!(s.encoding(), "skiplist");
        s.remove(b"c");
        assert_eq!(s.encoding(), "skiplist");
        s.shrink_if_fits(lim);
        assert_eq!(s.encoding(), "listpack");
        s.insert(b"long", 1.0, lim);
        assert_eq!(s.encoding(), "skiplist");
        assert_eq!(s.clone().encoding(), "skiplist");
    }

    #[test]
    fn lex_ranges() {
        let s = z(&[("a", 0.0), ("b", 0.0), ("c", 0.0), ("d", 0.0)]);
        let r = LexRange {
            min: LexBound::parse(b"(a").unwrap(),
            max: LexBound::parse(b"[c").unwrap(),
        };
        assert_eq!(s.lex_span(&r), (1, 3));
        let r = LexRange {
            min: LexBound::MinusInf,
            max: LexBound::PlusInf,
        };
        assert_eq!(s.lex_span(&r), (0, 4));
        assert!(LexBound::parse(b"a").is_none());
        // Mixed scores in a listpack: an in-order scan from either end, as in Redis.
        let m = z(&[("b", 1.0), ("a", 2.0), ("d", 3.0), ("c", 4.0), ("e", 5.0)]);
        let r = LexRange {
            min: LexBound::Incl(b"a".to_vec()),
            max: LexBound::Incl(b"c".to_vec()),
        };
        assert_eq!(m.lex_span(&r), (0, 2));
        assert_eq!(m.lex_span_dir(&r, true), (0, 4));
    }

    #[test]
    fn scan_visits_everything() {
        let mut s = ZSet::new();
        for i in 0..300 {
            s.insert(format!("m{i}").as_bytes(), i as f64, LIM);
        }
        assert_eq!(s.encoding(), "skiplist");
        let mut seen = std::collections::BTreeSet::new();
        let mut c = 0;
        loop {
            c = s.scan(c, |m, _| {
                seen.insert(m.to_vec());
            });
            if c == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 300);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, i8),
        Incr(u8, i8),
        Remove(u8),
        Rank(u8),
        Range(u8, u8),
        ByScore(i8, i8, bool, bool),
        ByLex(u8, u8),
        RemRange(u8, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..30, -5i8..5).prop_map(|(m, s)| Op::Add(m, s)),
            (0u8..30, -3i8..3).prop_map(|(m, s)| Op::Incr(m, s)),
            (0u8..30).prop_map(Op::Remove),
            (0u8..30).prop_map(Op::Rank),
            (0u8..40, 0u8..40).prop_map(|(a, b)| Op::Range(a, b)),
            (-6i8..6, -6i8..6, any::<bool>(), any::<bool>())
                .prop_map(|(a, b, x, y)| Op::ByScore(a, b, x, y)),
            (0u8..30, 0u8..30).prop_map(|(a, b)| Op::ByLex(a, b)),
            (0u8..40, 0u8..40).prop_map(|(a, b)| Op::RemRange(a, b)),
        ]
    }

    fn key(m: u8) -> Vec<u8> {
        format!("m{m:02}").into_bytes()
    }

    proptest! {
        #[test]
        fn behaves_like_a_btreemap(ops in proptest::collection::vec(op(), 0..300)) {
            let mut s = ZSet::new();
            let mut model: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
            let sorted = |model: &BTreeMap<Vec<u8>, f64>| {
                let mut v: Vec<(Vec<u8>, f64)> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
                v.sort_by(|a, b| cmp_key(a.1, &a.0, b.1, &b.0));
                v
            };
            for o in ops {
                match o {
                    Op::Add(m, sc) => {
                        let new = s.insert(&key(m), sc as f64, LIM);
                        prop_assert_eq!(new, model.insert(key(m), sc as f64).is_none());
                    }
                    Op::Incr(m, d) => {
                        let f = AddFlags { incr: true, ..AddFlags::default() };
                        let want = model.get(&key(m)).copied().unwrap_or(0.0) + d as f64;
                        match s.add(&key(m), d as f64, f, LIM) {
                            AddOutcome::Added(v) | AddOutcome::Updated(v) | AddOutcome::Unchanged(v) => prop_assert_eq!(v, want),
                            other => prop_assert!(false, "{:?}", other),
                        }
                        model.insert(key(m), want);
                    }
                    Op::Remove(m) => prop_assert_eq!(s.remove(&key(m)), model.remove(&key(m)).is_some()),
                    Op::Rank(m) => {
                        let v = sorted(&model);
                        prop_assert_eq!(s.rank(&key(m)), v.iter().position(|(x, _)| *x == key(m)));
                    }
                    Op::Range(a, b) => {
                        let v = sorted(&model);
                        let (lo, hi) = (a as usize, (b as usize).min(v.len()));
                        let want: Vec<_> = if lo < hi { v[lo..hi].to_vec() } else { vec![] };
                        prop_assert_eq!(s.range(lo, hi), want);
                    }
                    Op::ByScore(a, b, x, y) => {
                        let r = ScoreRange {
                            min: ScoreBound { value: a as f64, exclusive: x },
                            max: ScoreBound { value: b as f64, exclusive: y },
                        };
                        let (lo, hi) = s.score_span(&r);
                        let want: Vec<_> = sorted(&model).into_iter().filter(|(_, sc)| r.above_min(*sc) && r.below_max(*sc)).collect();
                        prop_assert_eq!(s.range(lo, hi), want);
                    }
                    Op::ByLex(a, b) => {
                        // Lex ranges are defined over equal scores: check on a copy with scores 0.
                        let mut flat = ZSet::new();
                        for m in model.keys() {
                            flat.insert(m, 0.0, LIM);
                        }
                        let r = LexRange { min: LexBound::Incl(key(a)), max: LexBound::Excl(key(b)) };
                        let (lo, hi) = flat.lex_span(&r);
                        let want: Vec<Vec<u8>> = model.keys().filter(|m| **m >= key(a) && **m < key(b)).cloned().collect();
                        let got: Vec<Vec<u8>> = flat.range(lo, hi).into_iter().map(|(m, _)| m).collect();
                        prop_assert_eq!(got, want);
                    }
                    Op::RemRange(a, b) => {
                        let v = sorted(&model);
                        let (lo, hi) = (a as usize, (b as usize).min(v.len()));
                        let want: Vec<_> = if lo < hi { v[lo..hi].to_vec() } else { vec![] };
                        for (m, _) in &want {
                            model.remove(m);
                        }
                        prop_assert_eq!(s.remove_range(lo, hi), want);
                    }
                }
                prop_assert_eq!(s.len(), model.len());
                for (m, sc) in &model {
                    prop_assert_eq!(s.score(m), Some(*sc));
                }
            }
            prop_assert_eq!(s.to_vec(), sorted(&model));
        }
    }
}
