//! Engine values to snapshot records and back. Large values are written as
//! a KEY record holding their first items and MORE records for the rest,
//! so neither writing nor loading holds a second copy of a big value's
//! encoding at once. Loading rebuilds each value with the encodings the
//! current limits choose (as Redis re-derives encodings on load).

use std::io::{self, Write};

use rubedo_engine::types::{hash, list::List, set::Set, zset};
use rubedo_engine::{Str, Value};
use serde_bytes::ByteBuf;

use super::record::{ty, KeyRecord, Record};
use super::Writer;

/// Items per record.
const CHUNK_ITEMS: usize = 1024;
/// Bytes of items per record (a chunk ends at whichever comes first).
const CHUNK_BYTES: usize = 1 << 20;

/// The encoding limits the server runs with, for values being rebuilt.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub hash: hash::Limits,
    pub zset: zset::Limits,
    pub set_max_intset: usize,
    pub list_fill: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            hash: hash::Limits::default(),
            zset: zset::Limits {
                entries: 128,
                value: 64,
            },
            set_max_intset: 512,
            list_fill: -2,
        }
    }
}

/// Gathers a value's items into the KEY record, then MORE records.
struct Chunker<'w, W: Write> {
    w: &'w mut Writer<W>,
    head: Option<KeyRecord>,
    items: Vec<ByteBuf>,
    scores: Vec<f64>,
    bytes: usize,
    err: Option<io::Error>,
}

impl<W: Write> Chunker<'_, W> {
    fn push(&mut self, item: &[u8], score: Option<f64>) {
        if self.err.is_some() {
            return;
        }
        self.bytes += item.len();
        self.items.push(ByteBuf::from(item.to_vec()));
        if let Some(s) = score {
            self.scores.push(s);
        }
        if self.items.len() >= CHUNK_ITEMS || self.bytes >= CHUNK_BYTES {
            if let Err(e) = self.flush() {
                self.err = Some(e);
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let items = std::mem::take(&mut self.items);
        let scores = std::mem::take(&mut self.scores);
        self.bytes = 0;
        match self.head.take() {
            Some(mut k) => {
                k.items = items;
                k.scores = scores;
                self.w.key(&k)
            }
            None if items.is_empty() => Ok(()),
            None => self.w.more(&items, &scores),
        }
    }

    fn done(mut self) -> io::Result<()> {
        if let Some(e) = self.err.take() {
            return Err(e);
        }
        self.flush()
    }
}

/// Writes one key: its value, absolute expiry time and idle time.
pub fn write_key<W: Write>(
    w: &mut Writer<W>,
    key: &[u8],
    value: &Value,
    expire_at_ms: Option<u64>,
    idle_secs: Option<u32>,
) -> io::Result<()> {
    let t = match value {
        Value::Str(_) => ty::STRING,
        Value::List(_) => ty::LIST,
        Value::Set(_) => ty::SET,
        Value::ZSet(_) => ty::ZSET,
        Value::Hash(_) => ty::HASH,
    };
    let mut c = Chunker {
        w,
        head: Some(KeyRecord {
            key: ByteBuf::from(key.to_vec()),
            ty: t,
            expire_at_ms,
            idle_secs,
            items: Vec::new(),
            scores: Vec::new(),
        }),
        items: Vec::new(),
        scores: Vec::new(),
        bytes: 0,
        err: None,
    };
    match value {
        Value::Str(s) => s.with_bytes(|b| c.push(b, None)),
        Value::List(l) => l.for_each(|e| c.push(e, None)),
        Value::Set(s) => s.for_each(|m| c.push(m, None)),
        Value::ZSet(z) => z.for_each(|m, s| c.push(m, Some(s))),
        Value::Hash(h) => h.for_each(|f, v| {
            c.push(f, None);
            c.push(v, None);
        }),
    }
    c.done()
}

/// A key read back.
#[derive(Debug)]
pub struct Loaded {
    pub db: u32,
    pub key: Vec<u8>,
    pub value: Value,
    pub expire_at_ms: Option<u64>,
    pub idle_secs: Option<u32>,
}

/// Rebuilds keys from records, in order: `feed` every record, then `end`.
pub struct Loader {
    lim: Limits,
    db: u32,
    cur: Option<Loaded>,
    /// A hash field waiting for its value (a pair may span records).
    field: Option<ByteBuf>,
    /// Empty values read (skipped, as Redis skips empty keys on load).
    pub empty_skipped: u64,
}

impl Loader {
    pub fn new(lim: Limits) -> Loader {
        Loader {
            lim,
            db: 0,
            cur: None,
            field: None,
            empty_skipped: 0,
        }
    }

    /// Takes one record; hands every finished key to `out`.
    pub fn feed(&mut self, r: Record, out: &mut impl FnMut(Loaded)) -> Result<(), String> {
        match r {
            Record::Aux { .. } => Ok(()),
            Record::SelectDb(n) => {
                self.finish_key(out)?;
                self.db = n;
                Ok(())
            }
            Record::Key(k) => {
                self.finish_key(out)?;
                let value = match k.ty {
                    ty::STRING => {
                        if k.items.len() != 1 || !k.scores.is_empty() {
                            return Err("a string key without exactly one value".into());
                        }
                        Value::Str(Str::from_bytes(&k.items[0]))
                    }
                    ty::LIST => Value::List(Box::new(List::new())),
                    ty::SET => Value::Set(Box::new(Set::new())),
                    ty::ZSET => Value::ZSet(Box::new(match k.items.first() {
                        Some(m) => zset::ZSet::for_first(m, self.lim.zset),
                        None => zset::ZSet::new(),
                    })),
                    ty::HASH => Value::Hash(Box::new(hash::Hash::new())),
                    t => return Err(format!("unknown value type {t}")),
                };
                let string = k.ty == ty::STRING;
                self.cur = Some(Loaded {
                    db: self.db,
                    key: k.key.into_vec(),
                    value,
                    expire_at_ms: k.expire_at_ms,
                    idle_secs: k.idle_secs,
                });
                if string {
                    return Ok(());
                }
                self.add_items(k.items, k.scores)
            }
            Record::More { items, scores } => self.add_items(items, scores),
            Record::End { .. } => self.end(out),
        }
    }

    fn add_items(&mut self, items: Vec<ByteBuf>, scores: Vec<f64>) -> Result<(), String> {
        let Some(cur) = self.cur.as_mut() else {
            return Err("items without a key".into());
        };
        let lim = self.lim;
        let dup = |what: &str| Err(format!("a duplicate {what} in {:?}", show(&cur.key)));
        match &mut cur.value {
            Value::Str(_) => return Err("more items for a string".into()),
            Value::List(l) => {
                if !scores.is_empty() {
                    return Err("scores in a list".into());
                }
                for e in &items {
                    l.push_back(e, lim.list_fill);
                }
            }
            Value::Set(s) => {
                if !scores.is_empty() {
                    return Err("scores in a set".into());
                }
                for m in &items {
                    if !s.add(m, lim.set_max_intset) {
                        return dup("set member");
                    }
                }
            }
            Value::ZSet(z) => {
                if scores.len() != items.len() {
                    return Err("a sorted set's members and scores differ in number".into());
                }
                for (m, s) in items.iter().zip(scores) {
                    if s.is_nan() {
                        return Err("a NaN score".into());
                    }
                    if !z.insert(m, s, lim.zset) {
                        return dup("sorted set member");
                    }
                }
            }
            Value::Hash(h) => {
                if !scores.is_empty() {
                    return Err("scores in a hash".into());
                }
                for it in items {
                    match self.field.take() {
                        None => self.field = Some(it),
                        Some(f) => {
                            if !h.set(&f, &it, lim.hash) {
                                return dup("hash field");
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn finish_key(&mut self, out: &mut impl FnMut(Loaded)) -> Result<(), String> {
        if self.field.is_some() {
            return Err("a hash field without its value".into());
        }
        let Some(k) = self.cur.take() else {
            return Ok(());
        };
        let empty = match &k.value {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            Value::Hash(h) => h.is_empty(),
        };
        if empty {
            self.empty_skipped += 1;
        } else {
            out(k);
        }
        Ok(())
    }

    /// Hands out the last key.
    pub fn end(&mut self, out: &mut impl FnMut(Loaded)) -> Result<(), String> {
        self.finish_key(out)
    }
}

fn show(key: &[u8]) -> String {
    String::from_utf8_lossy(&key[..key.len().min(64)]).into_owned()
}
