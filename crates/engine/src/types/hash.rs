//! The hash type and the storage side of Redis's hash group.
//!
//! Small hashes live in one byte buffer (`listpack` in OBJECT ENCODING): pairs of
//! length-prefixed field and value, in insertion order, searched linearly, as Redis's listpack.
//! A hash converts for good to a [`Dict`] (`hashtable`) once it has more entries than
//! hash-max-listpack-entries or a field or value longer than hash-max-listpack-value.

use rand::Rng;

use crate::dict::Dict;
use crate::error::{Error, Result};
use crate::keyspace::Db;
use crate::value::Value;

/// The conversion thresholds (hash-max-listpack-entries / -value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub entries: usize,
    pub value: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // redis-server 7.0's built-in default (not its sample config's 128).
        Limits {
            entries: 512,
            value: 64,
        }
    }
}

/// A hash value (field -> value).
pub struct Hash(Repr);

// Every hash key pays for this box; keep it at a small allocation size class.
const _: () = assert!(std::mem::size_of::<Hash>() <= 32);

enum Repr {
    /// The compact form: `len` pairs packed in `buf`.
    Pack { buf: Vec<u8>, len: u32 },
    /// The large form.
    Table(Box<Dict<Box<[u8]>>>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash(Repr::Pack {
            buf: Vec::new(),
            len: 0,
        })
    }
}

/// Appends `n` as a little-endian base-128 varint.
fn put_len(buf: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf.push(b);
            return;
        }
        buf.push(b | 0x80);
    }
}

/// Reads a varint at `*pos`, advancing it.
fn get_len(buf: &[u8], pos: &mut usize) -> usize {
    let (mut n, mut shift) = (0usize, 0);
    loop {
        let b = buf[*pos];
        *pos += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            return n;
        }
        shift += 7;
    }
}

fn len_size(mut n: usize) -> usize {
    let mut s = 1;
    while n >= 0x80 {
        n >>= 7;
        s += 1;
    }
    s
}

/// Where one packed pair sits in the buffer.
#[derive(Clone, Copy)]
struct Slot {
    start: usize,
    field: (usize, usize),
    value: (usize, usize),
}

/// Iterates the pairs of a packed buffer.
struct PackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Iterator for PackIter<'_> {
    type Item = Slot;

    fn next(&mut self) -> Option<Slot> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let mut p = self.pos;
        let fl = get_len(self.buf, &mut p);
        let field = (p, p + fl);
        p += fl;
        let vl = get_len(self.buf, &mut p);
        let value = (p, p + vl);
        self.pos = p + vl;
        Some(Slot {
            start,
            field,
            value,
        })
    }
}

fn pack_iter(buf: &[u8]) -> PackIter<'_> {
    PackIter { buf, pos: 0 }
}

fn pack_find(buf: &[u8], field: &[u8]) -> Option<Slot> {
    pack_iter(buf).find(|s| &buf[s.field.0..s.field.1] == field)
}

impl Hash {
    pub fn new() -> Hash {
        Hash::default()
    }

    /// Redis's name for the encoding (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        match &self.0 {
            Repr::Pack { .. } => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Pack { len, .. } => *len as usize,
            Repr::Table(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` with every (field, value) pair: insertion order for the compact form, table
    /// order otherwise (as Redis iterates).
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) {
        match &self.0 {
            Repr::Pack { buf, .. } => {
                for s in pack_iter(buf) {
                    f(&buf[s.field.0..s.field.1], &buf[s.value.0..s.value.1]);
                }
            }
            Repr::Table(d) => {
                for (k, v) in d.iter() {
                    f(k.as_bytes(), v);
                }
            }
        }
    }

    /// Heap bytes owned by the value.
    pub fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Pack { buf, .. } => buf.capacity(),
            Repr::Table(d) => {
                let mut n = std::mem::size_of::<Dict<Box<[u8]>>>() + d.table_bytes();
                for (_, v) in d.iter() {
                    n += v.len();
                }
                n
            }
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.0 {
            Repr::Pack { buf, .. } => pack_find(buf, field).map(|s| &buf[s.value.0..s.value.1]),
            Repr::Table(d) => d.get(field).map(|v| &v[..]),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Converts the compact form to the table form (never back).
    pub fn convert(&mut self) {
        if let Repr::Pack { buf, .. } = &self.0 {
            let mut d: Dict<Box<[u8]>> = Dict::new();
            for s in pack_iter(buf) {
                d.insert(&buf[s.field.0..s.field.1], buf[s.value.0..s.value.1].into());
            }
            self.0 = Repr::Table(Box::new(d));
        }
    }

    /// Sets `field` to `value`; true if the field is new. Converts to the table form first when
    /// either is too long for the compact form, and after when the hash has grown too large.
    pub fn set(&mut self, field: &[u8], value: &[u8], lim: Limits) -> bool {
        if matches!(self.0, Repr::Pack { .. })
            && (field.len() > lim.value || value.len() > lim.value)
        {
            self.convert();
        }
        let new = match &mut self.0 {
            Repr::Pack { buf, len } => match pack_find(buf, field) {
                Some(s) => {
                    let (a, b) = s.value;
                    let head = a - len_size(b - a);
                    let mut enc = Vec::with_capacity(len_size(value.len()) + value.len());
                    put_len(&mut enc, value.len());
                    enc.extend_from_slice(value);
                    buf.splice(head..b, enc);
                    false
                }
                None => {
                    buf.reserve_exact(
                        len_size(field.len()) + field.len() + len_size(value.len()) + value.len(),
                    );
                    put_len(buf, field.len());
                    buf.extend_from_slice(field);
                    put_len(buf, value.len());
                    buf.extend_from_slice(value);
                    *len += 1;
                    true
                }
            },
            Repr::Table(d) => d.insert(field, value.into()).is_none(),
        };
        if let Repr::Pack { len, .. } = &self.0 {
            if *len as usize > lim.entries {
                self.convert();
            }
        }
        new
    }

    /// Removes `field`; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Pack { buf, len } => match pack_find(buf, field) {
                Some(s) => {
                    buf.drain(s.start..s.value.1);
                    *len -= 1;
                    if buf.capacity() > 2 * buf.len() + 16 {
                        buf.shrink_to_fit();
                    }
                    true
                }
                None => false,
            },
            Repr::Table(d) => d.remove(field).is_some(),
        }
    }

    /// A random pair, or None if the hash is empty.
    pub fn random(&self, rng: &mut impl Rng) -> Option<(&[u8], &[u8])> {
        match &self.0 {
            Repr::Pack { buf, len } => {
                if *len == 0 {
                    return None;
                }
                let i = rng.gen_range(0..*len as usize);
                let s = pack_iter(buf).nth(i)?;
                Some((&buf[s.field.0..s.field.1], &buf[s.value.0..s.value.1]))
            }
            Repr::Table(d) => d.random(rng).map(|(k, v)| (k.as_bytes(), &v[..])),
        }
    }

    /// All pairs, in iteration order.
    pub fn pairs(&self) -> Vec<(&[u8], &[u8])> {
        let mut out = Vec::with_capacity(self.len());
        match &self.0 {
            Repr::Pack { buf, .. } => {
                for s in pack_iter(buf) {
                    out.push((&buf[s.field.0..s.field.1], &buf[s.value.0..s.value.1]));
                }
            }
            Repr::Table(d) => {
                for (k, v) in d.iter() {
                    out.push((k.as_bytes(), &v[..]));
                }
            }
        }
        out
    }

    /// One HSCAN step: visits pairs from `cursor` and returns the next cursor (0 = done). The
    /// compact form is visited whole in one call, as Redis does.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
        match &self.0 {
            Repr::Pack { .. } => {
                self.for_each(f);
                0
            }
            Repr::Table(d) => d.scan(cursor, |k, v| f(k.as_bytes(), v)),
        }
    }
}

impl Clone for Hash {
    fn clone(&self) -> Self {
        match &self.0 {
            Repr::Pack { buf, len } => Hash(Repr::Pack {
                buf: buf.clone(),
                len: *len,
            }),
            Repr::Table(d) => {
                let mut n: Dict<Box<[u8]>> = Dict::new();
                for (k, v) in d.iter() {
                    n.insert(k.as_bytes(), v.clone());
                }
                Hash(Repr::Table(Box::new(n)))
            }
        }
    }
}

impl PartialEq for Hash {
    /// Equal contents (the encoding and the order do not matter).
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let mut eq = true;
        self.for_each(|f, v| {
            if eq && other.get(f) != Some(v) {
                eq = false;
            }
        });
        eq
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        self.for_each(|k, v| {
            m.entry(&String::from_utf8_lossy(k), &String::from_utf8_lossy(v));
        });
        m.finish()
    }
}

/// The hash at `key` (a read: counts hits and misses).
pub fn read<'a>(db: &'a mut Db<'_>, key: &[u8]) -> Result<Option<&'a Hash>> {
    match db.read(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Hash(h) => Ok(Some(h)),
            _ => Err(Error::WrongType),
        },
    }
}

/// The hash at `key` for modification (write path: no hit/miss counting).
pub fn get_mut<'a>(db: &'a mut Db<'_>, key: &[u8]) -> Result<Option<&'a mut Hash>> {
    match db.entry_mut(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::Hash(h) => Ok(Some(h)),
            _ => Err(Error::WrongType),
        },
    }
}

/// The hash at `key`, created empty if absent. The caller must leave it non-empty.
fn get_or_create<'a>(db: &'a mut Db<'_>, key: &[u8]) -> Result<&'a mut Hash> {
    // Checked first so a wrong type is reported before anything is created.
    if get_mut(db, key)?.is_none() {
        db.insert_new(key, Value::Hash(Box::default()));
    }
    Ok(get_mut(db, key)?.expect("just inserted"))
}

/// HSET / HMSET: sets every (field, value) pair of `pairs` (a flat list); returns how many
/// fields were new.
pub fn set_pairs(
    db: &mut Db<'_>,
    key: &[u8],
    pairs: &[impl AsRef<[u8]>],
    lim: Limits,
) -> Result<usize> {
    let h = get_or_create(db, key)?;
    let mut created = 0;
    for p in pairs.chunks(2) {
        created += h.set(p[0].as_ref(), p[1].as_ref(), lim) as usize;
    }
    Ok(created)
}

/// HSETNX: sets `field` only if absent; true if it was set.
pub fn set_nx(
    db: &mut Db<'_>,
    key: &[u8],
    field: &[u8],
    value: &[u8],
    lim: Limits,
) -> Result<bool> {
    if let Some(h) = get_mut(db, key)? {
        if h.contains(field) {
            return Ok(false);
        }
    }
    get_or_create(db, key)?.set(field, value, lim);
    Ok(true)
}

/// HDEL: removes the fields, deleting the key once the hash is empty. Returns how many went.
pub fn del_fields(db: &mut Db<'_>, key: &[u8], fields: &[impl AsRef<[u8]>]) -> Result<usize> {
    let Some(h) = get_mut(db, key)? else {
        return Ok(0);
    };
    let mut n = 0;
    for f in fields {
        n += h.remove(f.as_ref()) as usize;
        if h.is_empty() {
            break;
        }
    }
    if h.is_empty() {
        db.remove(key);
    }
    Ok(n)
}

/// HINCRBY: adds `delta` to the integer in `field` (0 if absent). `Error::NotInteger` means
/// the stored value is not an integer.
pub fn incr_by(db: &mut Db<'_>, key: &[u8], field: &[u8], delta: i64, lim: Limits) -> Result<i64> {
    let cur = match get_mut(db, key)? {
        Some(h) => match h.get(field) {
            Some(v) => crate::value::parse_i64(v).ok_or(Error::NotInteger)?,
            None => 0,
        },
        None => 0,
    };
    let n = cur.checked_add(delta).ok_or(Error::Overflow)?;
    let mut buf = crate::value::itoa_buf();
    let text = crate::value::fmt_i64(n, &mut buf);
    get_or_create(db, key)?.set(field, text, lim);
    Ok(n)
}

/// HINCRBYFLOAT: adds `incr` (already validated) to the number in `field` (0 if absent) and
/// returns the stored text. `Error::NotFloat` means the stored value is not a number.
pub fn incr_by_float(
    db: &mut Db<'_>,
    key: &[u8],
    field: &[u8],
    incr: &[u8],
    lim: Limits,
) -> Result<Vec<u8>> {
    let cur: Option<Vec<u8>> = match get_mut(db, key)? {
        Some(h) => h.get(field).map(|v| v.to_vec()),
        None => None,
    };
    if let Some(c) = &cur {
        if !crate::types::float::is_valid(c) {
            return Err(Error::NotFloat);
        }
    }
    let text = crate::types::float::add_decimal(cur.as_deref().unwrap_or(b"0"), incr)?;
    get_or_create(db, key)?.set(field, &text, lim);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LIM: Limits = Limits {
        entries: 4,
        value: 8,
    };

    #[test]
    fn compact_keeps_insertion_order_and_converts() {
        let mut h = Hash::new();
        assert!(h.set(b"a", b"1", LIM));
        assert!(h.set(b"b", b"2", LIM));
        assert!(!h.set(b"a", b"updated", LIM));
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.pairs(), vec![(&b"a"[..], &b"updated"[..]), (b"b", b"2")]);
        assert!(h.remove(b"a"));
        assert!(!h.remove(b"a"));
        assert_eq!(h.len(), 1);
        for f in [b"c", b"d", b"e"] {
            h.set(f, b"x", LIM);
        }
        assert_eq!(h.encoding(), "listpack");
        h.set(b"f", b"x", LIM);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), 5);
        assert!(h.remove(b"b"));
        assert_eq!(h.encoding(), "hashtable", "never converts back");
        let mut g = Hash::new();
        g.set(b"f", b"123456789", LIM);
        assert_eq!(g.encoding(), "hashtable");
        let mut g = Hash::new();
        g.set(b"123456789", b"v", LIM);
        assert_eq!(g.encoding(), "hashtable");
    }

    #[test]
    fn long_entries_use_multibyte_lengths() {
        let big = Limits {
            entries: 10,
            value: 100_000,
        };
        let mut h = Hash::new();
        let v = vec![7u8; 300];
        h.set(b"f", &v, big);
        h.set(b"g", b"1", big);
        assert_eq!(h.get(b"f"), Some(&v[..]));
        h.set(b"f", b"short", big);
        assert_eq!(h.get(b"f"), Some(&b"short"[..]));
        assert_eq!(h.get(b"g"), Some(&b"1"[..]));
        h.set(b"g", &v, big);
        assert_eq!(h.get(b"g"), Some(&v[..]));
        assert_eq!(h.encoding(), "listpack");
    }

    #[test]
    fn clone_and_eq_ignore_encoding() {
        let mut a = Hash::new();
        let mut b = Hash::new();
        for i in 0..10u8 {
            a.set(&[i], &[i], LIM);
            b.set(&[i], &[i], Limits::default());
        }
        assert_eq!(a.encoding(), "hashtable");
        assert_eq!(b.encoding(), "listpack");
        assert_eq!(a, b);
        assert_eq!(a.clone(), a);
        assert_eq!(a.clone().encoding(), "hashtable");
        b.set(b"x", b"y", LIM);
        assert_ne!(a, b);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(u8, Vec<u8>),
        Del(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..12, proptest::collection::vec(any::<u8>(), 0..12))
                .prop_map(|(f, v)| Op::Set(f, v)),
            (0u8..12).prop_map(Op::Del),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_an_ordered_model(ops in proptest::collection::vec(op(), 0..80)) {
            // The model: insertion-ordered pairs.
            let mut model: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            let mut h = Hash::new();
            let mut converted = false;
            for op in ops {
                match op {
                    Op::Set(f, v) => {
                        let field = vec![b'f', f];
                        let pos = model.iter().position(|(k, _)| *k == field);
                        let new = h.set(&field, &v, LIM);
                        prop_assert_eq!(new, pos.is_none());
                        match pos {
                            Some(i) => model[i].1 = v.clone(),
                            None => model.push((field.clone(), v.clone())),
                        }
                        if v.len() > LIM.value || model.len() > LIM.entries {
                            converted = true;
                        }
                    }
                    Op::Del(f) => {
                        let field = vec![b'f', f];
                        let pos = model.iter().position(|(k, _)| *k == field);
                        prop_assert_eq!(h.remove(&field), pos.is_some());
                        if let Some(i) = pos {
                            model.remove(i);
                        }
                    }
                }
                prop_assert_eq!(h.len(), model.len());
                prop_assert_eq!(h.encoding(), if converted { "hashtable" } else { "listpack" });
                for (k, v) in &model {
                    prop_assert_eq!(h.get(k), Some(&v[..]));
                }
                prop_assert_eq!(h.get(b"absent"), None);
                let mut got: Vec<(Vec<u8>, Vec<u8>)> =
                    h.pairs().into_iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
                let mut want = model.clone();
                if converted {
                    got.sort();
                    want.sort();
                }
                prop_assert_eq!(got, want);
                let mut scanned = 0;
                let mut c = 0;
                loop {
                    c = h.scan(c, |_, _| scanned += 1);
                    if c == 0 { break; }
                }
                prop_assert_eq!(scanned, model.len());
            }
        }
    }
}
