//! String operations: the storage side of Redis's string group.

use crate::error::{Error, Result};
use crate::keyspace::Db;
use crate::value::{Str, Value};

/// The string at `key` (a read: counts hits and misses).
pub fn read<'a>(db: &'a mut Db<'_>, key: &[u8]) -> Result<Option<&'a Str>> {
    match db.read(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(s) => Ok(Some(s)),
            #[allow(unreachable_patterns)]
            _ => Err(Error::WrongType),
        },
    }
}

/// The string at `key` for modification (write path: no hit/miss counting).
pub fn get_mut<'a>(db: &'a mut Db<'_>, key: &[u8]) -> Result<Option<&'a mut Str>> {
    match db.entry_mut(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Str(s) => Ok(Some(s)),
            #[allow(unreachable_patterns)]
            _ => Err(Error::WrongType),
        },
    }
}

/// INCRBY and friends: adds `delta` to the integer at `key` (0 if absent).
pub fn incr_by(db: &mut Db<'_>, key: &[u8], delta: i64) -> Result<i64> {
    match get_mut(db, key)? {
        Some(s) => {
            let cur = s.as_i64().ok_or(Error::NotInteger)?;
            let n = cur.checked_add(delta).ok_or(Error::Overflow)?;
            *s = Str::Int(n);
            Ok(n)
        }
        None => {
            db.insert_new(key, Value::Str(Str::Int(delta)));
            Ok(delta)
        }
    }
}

/// INCRBYFLOAT: adds `incr` to the number at `key` and returns the new
/// value in the text form that was stored.
pub fn incr_by_float(db: &mut Db<'_>, key: &[u8], incr: &[u8]) -> Result<Vec<u8>> {
    let cur: Option<Vec<u8>> = get_mut(db, key)?.map(|s| s.to_vec());
    let text = crate::types::float::add_decimal(cur.as_deref().unwrap_or(b"0"), incr)?;
    let keep = cur.is_some();
    // Redis stores the result as a plain string, never int-encoded.
    db.set(key, Value::Str(Str::from_bytes_no_int(&text)), keep);
    Ok(text)
}

/// APPEND: returns the new length. `max` is proto-max-bulk-len.
pub fn append(db: &mut Db<'_>, key: &[u8], tail: &[u8], max: usize) -> Result<usize> {
    match get_mut(db, key)? {
        Some(s) => {
            if s.len() + tail.len() > max {
                return Err(Error::StringTooLong);
            }
            let v = s.make_raw();
            v.extend_from_slice(tail);
            Ok(v.len())
        }
        None => {
            db.insert_new(key, Value::Str(Str::raw(tail.to_vec())));
            Ok(tail.len())
        }
    }
}

/// SETRANGE: returns the new length. `max` is proto-max-bulk-len.
pub fn set_range(
    db: &mut Db<'_>,
    key: &[u8],
    offset: usize,
    data: &[u8],
    max: usize,
) -> Result<usize> {
    let existing = get_mut(db, key)?;
    let cur_len = existing.as_ref().map_or(0, |s| s.len());
    if data.is_empty() {
        return Ok(cur_len);
    }
    if offset.checked_add(data.len()).is_none_or(|end| end > max) {
        return Err(Error::StringTooLong);
    }
    let end = offset + data.len();
    match existing {
        Some(s) => {
            let v = s.make_raw();
            if v.len() < end {
                // A zeroed allocation plus one copy beats growing in place
                // when the offset jumps far ahead.
                let mut grown = vec![0u8; end];
                grown[..v.len()].copy_from_slice(v);
                *v = grown;
            }
            v[offset..end].copy_from_slice(data);
            Ok(v.len())
        }
        None => {
            let mut v = vec![0u8; end];
            v[offset..].copy_from_slice(data);
            db.insert_new(key, Value::Str(Str::raw(v)));
            Ok(end)
        }
    }
}

/// GETRANGE's index arithmetic: the byte range of a `len`-byte string
/// selected by inclusive `start`/`end` (negative counts from the end), or
/// None when empty.
pub fn range_bounds(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    if len == 0 {
        return None;
    }
    let len = len as i64;
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    if s < 0 {
        s = 0;
    }
    if e < 0 {
        e = 0;
    }
    if e >= len {
        e = len - 1;
    }
    if s > e {
        return None;
    }
    Some((s as usize, e as usize + 1))
}

/// A matched range pair of LCS IDX: inclusive (start, end) in a, then in b.
pub type MatchRange = ((usize, usize), (usize, usize));

/// The longest common subsequence of two strings, with the DP table so the
/// caller can also list match ranges (LCS IDX).
pub struct Lcs {
    pub a_len: usize,
    pub b_len: usize,
    table: Vec<u32>,
}

impl Lcs {
    pub fn new(a: &[u8], b: &[u8]) -> Lcs {
        let (n, m) = (a.len(), b.len());
        let w = m + 1;
        let mut table = vec![0u32; (n + 1) * w];
        for i in 1..=n {
            for j in 1..=m {
                table[i * w + j] = if a[i - 1] == b[j - 1] {
                    table[(i - 1) * w + j - 1] + 1
                } else {
                    table[(i - 1) * w + j].max(table[i * w + j - 1])
                };
            }
        }
        Lcs {
            a_len: n,
            b_len: m,
            table,
        }
    }

    pub fn len(&self) -> usize {
        self.table[(self.a_len) * (self.b_len + 1) + self.b_len] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.table[i * (self.b_len + 1) + j]
    }

    /// Walks back from the end: the common string and the matched ranges
    /// (inclusive index pairs into a and b), last match first, as Redis lists them.
    pub fn walk(&self, a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<MatchRange>) {
        let mut out = vec![0u8; self.len()];
        let mut idx = out.len();
        let mut ranges = Vec::new();
        let (mut i, mut j) = (self.a_len, self.b_len);
        let mut cur: Option<MatchRange> = None;
        while i > 0 && j > 0 {
            if a[i - 1] == b[j - 1] {
                idx -= 1;
                out[idx] = a[i - 1];
                let (ai, bj) = (i - 1, j - 1);
                cur = match cur {
                    Some(((a0, a1), (b0, b1))) if a0 == ai + 1 && b0 == bj + 1 => {
                        Some(((ai, a1), (bj, b1)))
                    }
                    Some(r) => {
                        ranges.push(r);
                        Some(((ai, ai), (bj, bj)))
                    }
                    None => Some(((ai, ai), (bj, bj))),
                };
                i -= 1;
                j -= 1;
            } else if self.at(i - 1, j) > self.at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
        }
        if let Some(r) = cur {
            ranges.push(r);
        }
        (out, ranges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_bounds_follow_getrange() {
        assert_eq!(range_bounds(5, 0, -1), Some((0, 5)));
        assert_eq!(range_bounds(5, -3, -1), Some((2, 5)));
        assert_eq!(range_bounds(5, 3, 1), None);
        assert_eq!(range_bounds(5, -1, -3), None);
        assert_eq!(range_bounds(5, 0, 100), Some((0, 5)));
        assert_eq!(range_bounds(0, 0, -1), None);
        assert_eq!(range_bounds(5, -100, 0), Some((0, 1)));
    }

    #[test]
    fn lcs_finds_redis_example() {
        let (a, b) = (b"ohmytext".as_slice(), b"mynewtext".as_slice());
        let l = Lcs::new(a, b);
        assert_eq!(l.len(), 6);
        let (s, ranges) = l.walk(a, b);
        assert_eq!(s, b"mytext");
        assert_eq!(ranges, vec![((4, 7), (5, 8)), ((2, 3), (0, 1))]);
    }
}
