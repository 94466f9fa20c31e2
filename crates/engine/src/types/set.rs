//! The set type: Redis's two set encodings and the storage side of the set group.
//!
//! A set whose members are all canonical integers (as Redis's `string2ll` reads them) and
//! that has at most `set-max-intset-entries` members is a sorted array (`intset`) at the
//! narrowest width holding them all (2, 4 or 8 bytes; up to 11 2-byte members inside the
//! set's own box): binary search for membership, ascending order for SMEMBERS/SSCAN.
//! Anything else is a [`Dict<()>`] (`hashtable`). A set converts to `hashtable` when a
//! non-integer is added or it outgrows the limit, and never converts back, as in Redis.

use std::fmt;

use rand::seq::index;
use rand::Rng;

use crate::dict::Dict;
use crate::error::{Error, Result};
use crate::keyspace::Db;
use crate::value::{fmt_i64, itoa_buf, parse_i64, Value};

/// Redis caps the intset size at 2^30 whatever the configuration says.
const INTSET_HARD_MAX: usize = 1 << 30;

/// Redis's intset: sorted integers stored at the narrowest width (2, 4 or 8 bytes) that
/// holds them all, upgraded on demand and never narrowed. The buffer is sized exactly, as
/// Redis reallocates on every change: inserts move memory anyway.
#[derive(Clone, Debug)]
enum IntSet {
    /// Up to [`TINY`] 16-bit members kept inside the set's own box: a small
    /// set of small integers costs one allocation, as Redis's intset does.
    Tiny(u8, [i16; TINY]),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
}

/// What fits beside the length in the space the vector variants take.
const TINY: usize = 11;

impl Default for IntSet {
    fn default() -> Self {
        IntSet::Tiny(0, [0; TINY])
    }
}

/// Runs `$body` with `$v` bound to the members at their width (a slice for
/// the inline variant): for the read-only operations.
macro_rules! each_width {
    ($self:expr, $v:ident => $body:expr) => {
        match $self {
            IntSet::Tiny(len, a) => {
                let $v = &a[..*len as usize];
                $body
            }
            IntSet::I16($v) => $body,
            IntSet::I32($v) => $body,
            IntSet::I64($v) => $body,
        }
    };
}

/// Like `each_width!`, for the vector variants only (the inline one is
/// handled by the caller first).
macro_rules! each_vec {
    ($self:expr, $v:ident => $body:expr) => {
        match $self {
            IntSet::Tiny(..) => unreachable!("inline intsets are handled first"),
            IntSet::I16($v) => $body,
            IntSet::I32($v) => $body,
            IntSet::I64($v) => $body,
        }
    };
}

// `each_width!` expands one arm per width; in the i64 arm the casts are no-ops.
#[allow(clippy::unnecessary_cast)]
impl IntSet {
    fn len(&self) -> usize {
        each_width!(self, v => v.len())
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, i: usize) -> i64 {
        each_width!(self, v => v[i] as i64)
    }

    fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Where `n` is, or where it would go.
    fn binary_search(&self, n: &i64) -> std::result::Result<usize, usize> {
        let n = *n;
        let out_of_range = |lo: i64, hi: i64, len: usize| {
            if n < lo {
                Some(Err(0))
            } else if n > hi {
                Some(Err(len))
            } else {
                None
            }
        };
        match self {
            IntSet::Tiny(len, a) => {
                let v = &a[..*len as usize];
                out_of_range(i16::MIN as i64, i16::MAX as i64, v.len())
                    .unwrap_or_else(|| v.binary_search(&(n as i16)))
            }
            IntSet::I16(v) => out_of_range(i16::MIN as i64, i16::MAX as i64, v.len())
                .unwrap_or_else(|| v.binary_search(&(n as i16))),
            IntSet::I32(v) => out_of_range(i32::MIN as i64, i32::MAX as i64, v.len())
                .unwrap_or_else(|| v.binary_search(&(n as i32))),
            IntSet::I64(v) => v.binary_search(&n),
        }
    }

    /// Widens the storage so `n` fits.
    fn upgrade_for(&mut self, n: i64) {
        let need = if i16::try_from(n).is_ok() {
            0
        } else if i32::try_from(n).is_ok() {
            1
        } else {
            2
        };
        let have = match self {
            IntSet::Tiny(..) | IntSet::I16(_) => 0,
            IntSet::I32(_) => 1,
            IntSet::I64(_) => 2,
        };
        if need <= have {
            return;
        }
        *self = match need {
            1 => IntSet::I32(self.iter().map(|x| x as i32).collect()),
            _ => IntSet::I64(self.iter().collect()),
        };
    }

    /// Inserts `n` at `at` (from `binary_search`).
    fn insert(&mut self, at: usize, n: i64) {
        self.upgrade_for(n);
        if let IntSet::Tiny(len, a) = self {
            let l = *len as usize;
            if l < TINY {
                a.copy_within(at..l, at + 1);
                a[at] = n as i16;
                *len += 1;
                return;
            }
            // Full: move out to a vector of the same width.
            *self = IntSet::I16(a.to_vec());
        }
        each_vec!(self, v => {
            v.reserve_exact(1);
            v.insert(at, n as _);
        })
    }

    fn remove(&mut self, i: usize) -> i64 {
        if let IntSet::Tiny(len, a) = self {
            let n = a[i] as i64;
            a.copy_within(i + 1..*len as usize, i);
            *len -= 1;
            return n;
        }
        each_vec!(self, v => {
            let n = v.remove(i) as i64;
            v.shrink_to_fit();
            n
        })
    }

    /// Keeps the members `keep` accepts.
    fn retain(&mut self, mut keep: impl FnMut(i64) -> bool) {
        if let IntSet::Tiny(len, a) = self {
            let mut w = 0;
            for r in 0..*len as usize {
                if keep(a[r] as i64) {
                    a[w] = a[r];
                    w += 1;
                }
            }
            *len = w as u8;
            return;
        }
        each_vec!(self, v => {
            v.retain(|&x| keep(x as i64));
            v.shrink_to_fit();
        })
    }

    fn heap_bytes(&self) -> usize {
        match self {
            IntSet::Tiny(..) => 0,
            IntSet::I16(v) => v.capacity() * 2,
            IntSet::I32(v) => v.capacity() * 4,
            IntSet::I64(v) => v.capacity() * 8,
        }
    }
}

enum Repr {
    Ints(IntSet),
    /// Boxed so a small (intset) set does not pay for the table header.
    Hash(Box<Dict<()>>),
}

/// A set value.
pub struct Set {
    repr: Repr,
}

// Every set key pays for this box: keep it small.
const _: () = assert!(std::mem::size_of::<Set>() <= 32);

impl Default for Set {
    fn default() -> Self {
        Set::new()
    }
}

impl Clone for Set {
    /// Keeps the encoding, as Redis's COPY does.
    fn clone(&self) -> Self {
        match &self.repr {
            Repr::Ints(v) => Set {
                repr: Repr::Ints(v.clone()),
            },
            Repr::Hash(d) => {
                let mut n = Dict::new();
                for (k, _) in d.iter() {
                    n.insert_new(k.as_bytes(), ());
                }
                Set {
                    repr: Repr::Hash(Box::new(n)),
                }
            }
        }
    }
}

impl PartialEq for Set {
    fn eq(&self, other: &Self) -> bool {
        if self.encoding() != other.encoding() || self.len() != other.len() {
            return false;
        }
        let mut same = true;
        self.for_each(|m| same &= other.contains(m));
        same
    }
}

impl fmt::Debug for Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_set();
        self.for_each(|m| {
            l.entry(&String::from_utf8_lossy(m));
        });
        l.finish()
    }
}

fn with_int<R>(n: i64, f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = itoa_buf();
    f(fmt_i64(n, &mut buf))
}

impl Set {
    /// An empty set in the `intset` encoding (as Redis creates result sets).
    pub fn new() -> Set {
        Set {
            repr: Repr::Ints(IntSet::default()),
        }
    }

    /// Redis's name for the encoding (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Ints(_) => "intset",
            Repr::Hash(_) => "hashtable",
        }
    }

    pub fn is_intset(&self) -> bool {
        matches!(self.repr, Repr::Ints(_))
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Ints(v) => v.len(),
            Repr::Hash(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with every member in its string form (ascending for an intset).
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        match &self.repr {
            Repr::Ints(v) => {
                for n in v.iter() {
                    with_int(n, &mut f);
                }
            }
            Repr::Hash(d) => {
                for (k, _) in d.iter() {
                    f(k.as_bytes());
                }
            }
        }
    }

    /// Every member as owned bytes, in iteration order.
    pub fn members(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len());
        self.for_each(|m| out.push(m.to_vec()));
        out
    }

    /// Heap bytes owned by the value.
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::Ints(v) => v.heap_bytes(),
            Repr::Hash(d) => d.table_bytes(),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.repr {
            Repr::Ints(v) => parse_i64(m).is_some_and(|n| v.binary_search(&n).is_ok()),
            Repr::Hash(d) => d.contains_key(m),
        }
    }

    /// Switches to the `hashtable` encoding.
    fn convert(&mut self) {
        if let Repr::Ints(v) = &self.repr {
            let mut d = Dict::new();
            for n in v.iter() {
                with_int(n, |b| d.insert_new(b, ()));
            }
            self.repr = Repr::Hash(Box::new(d));
        }
    }

    /// Adds `m`; true if it was not a member. `max_intset` is set-max-intset-entries.
    pub fn add(&mut self, m: &[u8], max_intset: usize) -> bool {
        if let Repr::Ints(v) = &mut self.repr {
            match parse_i64(m) {
                Some(n) => {
                    let Err(at) = v.binary_search(&n) else {
                        return false;
                    };
                    v.insert(at, n);
                    if v.len() > max_intset.min(INTSET_HARD_MAX) {
                        self.convert();
                    }
                    return true;
                }
                None => self.convert(),
            }
        }
        match &mut self.repr {
            Repr::Hash(d) => {
                if d.contains_key(m) {
                    false
                } else {
                    d.insert_new(m, ());
                    true
                }
            }
            Repr::Ints(_) => unreachable!("converted above"),
        }
    }

    /// Removes `m`; true if it was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Ints(v) => match parse_i64(m).map(|n| v.binary_search(&n)) {
                Some(Ok(i)) => {
                    v.remove(i);
                    true
                }
                _ => false,
            },
            Repr::Hash(d) => d.remove(m).is_some(),
        }
    }

    /// A random member.
    pub fn random(&self, rng: &mut impl Rng) -> Option<Vec<u8>> {
        match &self.repr {
            Repr::Ints(v) if v.is_empty() => None,
            Repr::Ints(v) => Some(with_int(v.get(rng.gen_range(0..v.len())), |b| b.to_vec())),
            Repr::Hash(d) => d.random(rng).map(|(k, _)| k.as_bytes().to_vec()),
        }
    }

    /// Removes and returns a random member.
    pub fn pop_random(&mut self, rng: &mut impl Rng) -> Option<Vec<u8>> {
        match &mut self.repr {
            Repr::Ints(v) if v.is_empty() => None,
            Repr::Ints(v) => {
                let n = v.remove(rng.gen_range(0..v.len()));
                Some(with_int(n, |b| b.to_vec()))
            }
            Repr::Hash(d) => {
                let k = d.random(rng)?.0.as_bytes().to_vec();
                d.remove(&k);
                Some(k)
            }
        }
    }

    /// `count` distinct random members (all of them if `count >= len`), in random order.
    pub fn random_distinct(&self, count: usize, rng: &mut impl Rng) -> Vec<Vec<u8>> {
        let len = self.len();
        if count >= len {
            return self.members();
        }
        match &self.repr {
            Repr::Ints(v) => index::sample(rng, len, count)
                .into_iter()
                .map(|i| with_int(v.get(i), |b| b.to_vec()))
                .collect(),
            Repr::Hash(d) => {
                if count * 3 > len {
                    // Many members wanted: sample positions of one full walk.
                    let all = self.members();
                    index::sample(rng, len, count)
                        .into_iter()
                        .map(|i| all[i].clone())
                        .collect()
                } else {
                    let mut seen: Dict<()> = Dict::new();
                    let mut out = Vec::with_capacity(count);
                    while out.len() < count {
                        let (k, _) = d.random(rng).expect("set is not empty");
                        if !seen.contains_key(k.as_bytes()) {
                            seen.insert_new(k.as_bytes(), ());
                            out.push(k.as_bytes().to_vec());
                        }
                    }
                    out
                }
            }
        }
    }

    /// Removes and returns `count` distinct random members (`count < len`).
    ///
    /// When few members would remain, Redis instead draws the ones to keep into a fresh
    /// set that replaces this one, so a `hashtable` set can come back as an `intset`
    /// (`max_intset` is set-max-intset-entries); this does the same.
    pub fn pop_many(
        &mut self,
        count: usize,
        max_intset: usize,
        rng: &mut impl Rng,
    ) -> Vec<Vec<u8>> {
        let remaining = self.len().saturating_sub(count);
        if remaining.saturating_mul(5) <= count {
            let mut fresh = Set::new();
            for m in self.random_distinct(remaining, rng) {
                fresh.add(&m, max_intset);
            }
            let old = std::mem::replace(self, fresh);
            let mut out = Vec::with_capacity(count);
            old.for_each(|m| {
                if !self.contains(m) {
                    out.push(m.to_vec());
                }
            });
            return out;
        }
        match &mut self.repr {
            Repr::Ints(v) => {
                let mut picked = vec![false; v.len()];
                for i in index::sample(rng, v.len(), count.min(v.len())) {
                    picked[i] = true;
                }
                let mut out = Vec::with_capacity(count);
                let mut i = 0;
                v.retain(|n| {
                    let take = picked[i];
                    i += 1;
                    if take {
                        with_int(n, |b| out.push(b.to_vec()));
                    }
                    !take
                });
                out
            }
            Repr::Hash(_) => (0..count).map_while(|_| self.pop_random(rng)).collect(),
        }
    }

    /// One SSCAN step over a `hashtable` set: visits some members and returns the next
    /// cursor (0 = done). An `intset` is visited whole and returns 0.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8])) -> u64 {
        match &self.repr {
            Repr::Ints(_) => {
                self.for_each(f);
                0
            }
            Repr::Hash(d) => d.scan(cursor, |k, _| f(k.as_bytes())),
        }
    }
}

/// The set at `key` (a read: counts hits and misses).
pub fn read<'a>(db: &'a mut Db<'_>, key: &[u8]) -> Result<Option<&'a Set>> {
    match db.read(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Set(s) => Ok(Some(s)),
            _ => Err(Error::WrongType),
        },
    }
}

/// The value at `key` as the write path looks it up (no hit/miss
/// counting, not a write): for checking a key's type before changing another.
pub fn get<'a>(db: &'a mut Db<'_>, key: &[u8]) -> Result<Option<&'a Set>> {
    match db.get(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Set(v) => Ok(Some(v)),
            _ => Err(Error::WrongType),
        },
    }
}

/// The set at `key` for modification (write path: no hit/miss counting).
pub fn get_mut<'a>(db: &'a mut Db<'_>, key: &[u8]) -> Result<Option<&'a mut Set>> {
    match db.entry_mut(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Set(s) => Ok(Some(s)),
            _ => Err(Error::WrongType),
        },
    }
}

/// SADD: adds `members` (creating the set), returns how many were new.
pub fn add<M: AsRef<[u8]>>(
    db: &mut Db<'_>,
    key: &[u8],
    members: &[M],
    max_intset: usize,
) -> Result<usize> {
    let set = match get_mut(db, key)? {
        Some(s) => s,
        None => match &mut db.insert_new(key, Value::Set(Box::default())).value {
            Value::Set(s) => s,
            _ => unreachable!("just inserted a set"),
        },
    };
    Ok(members
        .iter()
        .filter(|m| set.add(m.as_ref(), max_intset))
        .count())
}

/// SREM: removes `members`, deleting the key once empty; returns how many went.
pub fn remove<M: AsRef<[u8]>>(db: &mut Db<'_>, key: &[u8], members: &[M]) -> Result<usize> {
    let Some(set) = get_mut(db, key)? else {
        return Ok(0);
    };
    let mut n = 0;
    for m in members {
        if set.remove(m.as_ref()) {
            n += 1;
            if set.is_empty() {
                break;
            }
        }
    }
    if set.is_empty() {
        db.remove(key);
    }
    Ok(n)
}

/// Stores `set` at `key` (clearing any TTL), or deletes `key` when `set` is empty.
/// Returns the stored size, and whether anything changed.
pub fn store(db: &mut Db<'_>, key: &[u8], set: Set) -> (usize, bool) {
    let n = set.len();
    if n == 0 {
        (0, db.remove(key).is_some())
    } else {
        db.set(key, Value::Set(Box::new(set)), false);
        (n, true)
    }
}

/// Runs `f` over the sets at `keys`, in argument order (None for a missing key; a key
/// named twice gives the same reference). Fails with WrongType, after looking up every
/// key, if any holds another type. Every key counts as one read, as in Redis.
pub fn with_sets<K: AsRef<[u8]>, R>(
    db: &mut Db<'_>,
    keys: &[K],
    f: impl FnOnce(&[Option<&Set>]) -> R,
) -> Result<R> {
    // Every key is looked up once (expiring it and counting the read),
    // then borrowed shared all at once: nothing changes in between.
    for k in keys {
        if let Some(e) = db.read(k.as_ref()) {
            if !matches!(e.value, Value::Set(_)) {
                return Err(Error::WrongType);
            }
        }
    }
    let db = &*db;
    let refs: Vec<Option<&Set>> = keys
        .iter()
        .map(|k| match db.stored(k.as_ref()).map(|e| &e.value) {
            Some(Value::Set(s)) => Some(&**s),
            _ => None,
        })
        .collect();
    Ok(f(&refs))
}

/// The members in every set (SINTER, SINTERSTORE, SINTERCARD). `sets` must have no None.
/// With `limit` > 0 it stops after that many (the result is then only counted).
pub fn inter(sets: &[&Set], max_intset: usize, limit: usize) -> Set {
    let mut order: Vec<&Set> = sets.to_vec();
    order.sort_by_key(|s| s.len());
    let mut out = Set::new();
    let base = order[0];
    let mut n = 0usize;
    let mut done = false;
    base.for_each(|m| {
        if done {
            return;
        }
        if order[1..]
            .iter()
            .all(|s| std::ptr::eq(*s, base) || s.contains(m))
        {
            out.add(m, max_intset);
            n += 1;
            if limit > 0 && n >= limit {
                done = true;
            }
        }
    });
    out
}

/// The count SINTERCARD reports: like `inter` but without building a set.
pub fn inter_card(sets: &[&Set], limit: usize) -> usize {
    let mut order: Vec<&Set> = sets.to_vec();
    order.sort_by_key(|s| s.len());
    let base = order[0];
    let mut n = 0usize;
    base.for_each(|m| {
        if limit > 0 && n >= limit {
            return;
        }
        if order[1..]
            .iter()
            .all(|s| std::ptr::eq(*s, base) || s.contains(m))
        {
            n += 1;
        }
    });
    n
}

/// The members of any set (SUNION, SUNIONSTORE, and SPOP of the whole set).
pub fn union(sets: &[Option<&Set>], max_intset: usize) -> Set {
    let mut out = Set::new();
    for s in sets.iter().flatten() {
        s.for_each(|m| {
            out.add(m, max_intset);
        });
    }
    out
}

/// The members of the first set in none of the others (SDIFF, SDIFFSTORE), built with
/// the algorithm Redis picks for these sizes, since that decides the result's encoding.
pub fn diff(sets: &[Option<&Set>], max_intset: usize) -> Set {
    let mut out = Set::new();
    let Some(Some(first)) = sets.first().copied() else {
        return out;
    };
    if sets[1..]
        .iter()
        .any(|s| s.is_some_and(|s| std::ptr::eq(s, first)))
    {
        return out;
    }
    let present = sets.iter().flatten();
    let one_work: usize = present.clone().map(|_| first.len()).sum::<usize>() / 2;
    let two_work: usize = present.map(|s| s.len()).sum();
    if one_work <= two_work {
        // Walk the first set, keep what no other set has.
        first.for_each(|m| {
            if !sets[1..].iter().flatten().any(|s| s.contains(m)) {
                out.add(m, max_intset);
            }
        });
    } else {
        // Copy the first set, then take the others away.
        first.for_each(|m| {
            out.add(m, max_intset);
        });
        for s in sets[1..].iter().flatten() {
            if out.is_empty() {
                break;
            }
            s.for_each(|m| {
                out.remove(m);
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn set_of(items: &[&str], max: usize) -> Set {
        let mut s = Set::new();
        for m in items {
            s.add(m.as_bytes(), max);
        }
        s
    }

    #[test]
    fn integers_stay_compact_and_sorted() {
        let s = set_of(&["3", "-1", "10", "3"], 512);
        assert_eq!(s.encoding(), "intset");
        assert_eq!(s.len(), 3);
        assert_eq!(
            s.members(),
            vec![b"-1".to_vec(), b"3".to_vec(), b"10".to_vec()]
        );
        assert!(s.contains(b"10"));
        assert!(!s.contains(b"010"));
        assert!(!s.contains(b"x"));
    }

    #[test]
    fn intset_widens_and_stays_exact() {
        let mut s = set_of(&["1", "-2", "300"], 512);
        assert_eq!(s.heap_bytes(), 0, "a few int16 members live inside the box");
        let mut big = set_of(&[], 512);
        for i in 0..=TINY {
            big.add(i.to_string().as_bytes(), 512);
        }
        assert_eq!(
            big.heap_bytes(),
            2 * (TINY + 1),
            "then move to an exact buffer"
        );
        assert!(big.remove(b"0") && big.contains(b"11") && !big.contains(b"0"));
        s.add(b"70000", 512);
        assert_eq!(s.heap_bytes(), 16);
        s.add(b"-9223372036854775808", 512);
        assert_eq!(s.heap_bytes(), 40);
        assert!(s.remove(b"70000"));
        assert_eq!(s.heap_bytes(), 32, "never narrowed");
        assert!(s.contains(b"-2") && s.contains(b"-9223372036854775808"));
        assert!(!s.contains(b"70000"));
        let small = set_of(&["1"], 512);
        assert!(!small.contains(b"100000") && !small.contains(b"-100000"));
        assert_eq!(
            s.members(),
            vec![
                b"-9223372036854775808".to_vec(),
                b"-2".to_vec(),
                b"1".to_vec(),
                b"300".to_vec()
            ]
        );
    }

    #[test]
    fn conversion_is_one_way() {
        let mut s = set_of(&["1", "2"], 512);
        assert!(s.add(b"01", 512), "non-canonical integers are strings");
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.remove(b"01"));
        assert_eq!(s.encoding(), "hashtable");
        let mut s = set_of(&["1", "2"], 2);
        assert_eq!(s.encoding(), "intset");
        s.add(b"3", 2);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"3"));
        assert_eq!(set_of(&["5"], 0).encoding(), "hashtable");
    }

    #[test]
    fn clone_keeps_encoding_and_members() {
        let s = set_of(&["a", "1"], 512);
        let c = s.clone();
        assert_eq!(c, s);
        assert_eq!(c.encoding(), "hashtable");
    }

    #[test]
    fn set_algebra() {
        let a = set_of(&["1", "2", "3", "x"], 512);
        let b = set_of(&["2", "3", "4"], 512);
        let i = inter(&[&a, &b], 512, 0);
        assert_eq!(i.encoding(), "intset");
        assert_eq!(i.members(), vec![b"2".to_vec(), b"3".to_vec()]);
        assert_eq!(inter_card(&[&a, &b], 1), 1);
        assert_eq!(union(&[Some(&a), None, Some(&b)], 512).len(), 5);
        let d = diff(&[Some(&a), Some(&b)], 512);
        assert_eq!(d.len(), 2);
        assert!(d.contains(b"1") && d.contains(b"x"));
        assert!(diff(&[Some(&a), Some(&a)], 512).is_empty());
        assert!(diff(&[None, Some(&a)], 512).is_empty());
    }

    #[test]
    fn diff_picks_redis_algorithm() {
        // |A|*3/2 > |A|+|B|+|C|: copy-then-remove, so the result stays a hashtable.
        let a = set_of(&["a", "1", "2", "3", "4", "5"], 512);
        let b = set_of(&["a"], 512);
        let c = set_of(&["zz"], 512);
        let d = diff(&[Some(&a), Some(&b), Some(&c)], 512);
        assert_eq!(d.encoding(), "hashtable");
        assert_eq!(d.len(), 5);
        let d = diff(&[Some(&a), Some(&b)], 512);
        assert_eq!(d.encoding(), "intset");
    }

    #[test]
    fn random_and_pops() {
        let mut rng = rand::thread_rng();
        for items in [
            &["1", "2", "3", "4", "5"][..],
            &["a", "b", "c", "d", "e"][..],
        ] {
            let mut s = set_of(items, 512);
            let r = s.random_distinct(3, &mut rng);
            assert_eq!(r.iter().collect::<BTreeSet<_>>().len(), 3);
            assert!(r.iter().all(|m| s.contains(m)));
            let p = s.pop_many(2, 512, &mut rng);
            assert_eq!(p.len(), 2);
            assert_eq!(s.len(), 3);
            assert!(p.iter().all(|m| !s.contains(m)));
            let m = s.pop_random(&mut rng).unwrap();
            assert!(!s.contains(&m));
            assert!(s.random(&mut rng).is_some_and(|m| s.contains(&m)));
        }
        // Popping nearly everything rebuilds the rest, possibly as an intset again.
        let mut s = set_of(&["1", "2", "3", "4", "5", "6"], 4);
        assert_eq!(s.encoding(), "hashtable");
        let p = s.pop_many(5, 4, &mut rng);
        assert_eq!(p.len(), 5);
        assert_eq!(s.len(), 1);
        assert_eq!(s.encoding(), "intset");
        assert!(p.iter().all(|m| !s.contains(m)));
    }

    #[test]
    fn scan_visits_everything() {
        let mut s = Set::new();
        for i in 0..200 {
            s.add(format!("m{i}").as_bytes(), 512);
        }
        let mut seen = BTreeSet::new();
        let mut c = 0;
        loop {
            c = s.scan(c, |m| {
                seen.insert(m.to_vec());
            });
            if c == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 200);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(String),
        Remove(String),
        Contains(String),
    }

    fn member() -> impl Strategy<Value = String> {
        prop_oneof![(-20i64..20).prop_map(|n| n.to_string()), "[a-c0-9-]{1,3}",]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            member().prop_map(Op::Add),
            member().prop_map(Op::Remove),
            member().prop_map(Op::Contains),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_btreeset(ops in proptest::collection::vec(op(), 0..200), max in 0usize..40) {
            let mut s = Set::new();
            let mut model: BTreeSet<Vec<u8>> = BTreeSet::new();
            let mut was_hash = false;
            for o in ops {
                match o {
                    Op::Add(m) => prop_assert_eq!(s.add(m.as_bytes(), max), model.insert(m.into_bytes())),
                    Op::Remove(m) => prop_assert_eq!(s.remove(m.as_bytes()), model.remove(m.as_bytes())),
                    Op::Contains(m) => prop_assert_eq!(s.contains(m.as_bytes()), model.contains(m.as_bytes())),
                }
                prop_assert_eq!(s.len(), model.len());
                // Encoding: intset only while every member ever added is an integer and
                // the size never went over the limit; never back to intset.
                if was_hash {
                    prop_assert_eq!(s.encoding(), "hashtable");
                }
                if s.is_intset() {
                    prop_assert!(model.len() <= max);
                    prop_assert!(model.iter().all(|m| parse_i64(m).is_some()));
                    let mut ints: Vec<i64> = model.iter().map(|m| parse_i64(m).unwrap()).collect();
                    ints.sort_unstable();
                    let want: Vec<Vec<u8>> = ints.iter().map(|n| n.to_string().into_bytes()).collect();
                    prop_assert_eq!(s.members(), want);
                } else {
                    was_hash = true;
                }
            }
            let got: BTreeSet<Vec<u8>> = s.members().into_iter().collect();
            prop_assert_eq!(got, model);
        }
    }
}
