//! Reading: values of every type and encoding of RDB versions 6 to 11, and
//! whole files record by record.
//!
//! Values are rebuilt with the encodings the current limits choose (as
//! Redis re-derives them when it loads), whatever encoding the data used;
//! every compact blob (listpack, ziplist, intset, zipmap) is checked whole
//! before it is used, and duplicate members, fields or a NaN score are
//! errors, as Redis 7.0 reports them.

use std::io::Read;

use rubedo_engine::types::{hash::Hash, list::List, set::Set, zset::ZSet};
use rubedo_engine::{Str, Value};

use super::input::{self, Input, SliceInput, StreamInput};
use super::listpack::Item;
use super::{
    double, enc, intset, listpack, opcode, ty, ziplist, zipmap, Error, MAGIC, MAX_READ_VERSION,
    MIN_READ_VERSION,
};
use crate::snapshot::value::{Limits, Loaded};

/// Reads a value of type `t` from the start of `body` (DUMP's layout after
/// the type byte); returns it and the bytes it took.
pub fn read_value(t: u8, body: &[u8], lim: &Limits) -> Result<(Value, usize), Error> {
    if let Some(why) = unsupported(t) {
        return Err(Error {
            offset: 0,
            reason: format!("a {why}"),
        });
    }
    let mut inp = SliceInput::new(body);
    let v = read_object(&mut inp, t, lim)?;
    Ok((v, inp.pos()))
}

fn unsupported(t: u8) -> Option<&'static str> {
    if ty::is_stream(t) {
        Some("stream: Rubedo has no streams yet")
    } else if ty::is_module(t) {
        Some("module value: Rubedo has no modules")
    } else {
        None
    }
}

pub(crate) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Str(_) => false,
        Value::List(l) => l.is_empty(),
        Value::Set(s) => s.is_empty(),
        Value::ZSet(z) => z.is_empty(),
        Value::Hash(h) => h.is_empty(),
    }
}

fn show(key: &[u8]) -> String {
    let mut s = String::from_utf8_lossy(&key[..key.len().min(64)]).into_owned();
    if key.len() > 64 {
        s.push_str("...");
    }
    s
}

/// A set being rebuilt.
struct SetB<'l> {
    s: Set,
    lim: &'l Limits,
}

impl SetB<'_> {
    fn add(&mut self, m: &[u8]) -> Result<(), String> {
        if self.s.add(m, self.lim.set_max_intset) {
            Ok(())
        } else {
            Err(format!("a duplicate set member {:?}", show(m)))
        }
    }
}

/// A sorted set being rebuilt: its first member picks the encoding, as ZADD's does.
struct ZSetB<'l> {
    z: Option<ZSet>,
    lim: &'l Limits,
}

impl ZSetB<'_> {
    fn add(&mut self, m: &[u8], score: f64) -> Result<(), String> {
        if score.is_nan() {
            return Err("a NaN score".into());
        }
        let lim = self.lim.zset;
        let z = self.z.get_or_insert_with(|| ZSet::for_first(m, lim));
        if z.score(m).is_some() {
            return Err(format!("a duplicate sorted set member {:?}", show(m)));
        }
        z.insert(m, score, lim);
        Ok(())
    }

    fn done(self) -> Value {
        Value::ZSet(Box::new(self.z.unwrap_or_default()))
    }
}

struct HashB<'l> {
    h: Hash,
    lim: &'l Limits,
}

impl HashB<'_> {
    fn add(&mut self, f: &[u8], v: &[u8]) -> Result<(), String> {
        if self.h.set(f, v, self.lim.hash) {
            Ok(())
        } else {
            Err(format!("a duplicate hash field {:?}", show(f)))
        }
    }
}

fn score_of(item: &Item<'_>) -> Result<f64, String> {
    match item {
        Item::Int(n) => Ok(*n as f64),
        Item::Str(s) => {
            double::parse(s).ok_or_else(|| format!("a score that is not a number: {:?}", show(s)))
        }
    }
}

fn pairs<'a>(
    items: &'a [Item<'a>],
    what: &str,
) -> Result<std::slice::ChunksExact<'a, Item<'a>>, String> {
    if !items.len().is_multiple_of(2) {
        return Err(format!("a {what} with an odd number of elements"));
    }
    Ok(items.chunks_exact(2))
}

/// A string double of the old ZSET type: a length byte and the text, or
/// 253, 254, 255 for NaN, +inf and -inf.
fn string_double(inp: &mut impl Input) -> Result<f64, Error> {
    let at = inp.offset();
    match input::u8_(inp)? {
        253 => Ok(f64::NAN),
        254 => Ok(f64::INFINITY),
        255 => Ok(f64::NEG_INFINITY),
        n => {
            let b = inp.take(u64::from(n))?;
            double::parse(&b).ok_or_else(|| Error {
                offset: at,
                reason: format!("a score that is not a number: {:?}", show(&b)),
            })
        }
    }
}

/// Reads a value of type `t` (not a stream nor a module value).
pub(crate) fn read_object(inp: &mut impl Input, t: u8, lim: &Limits) -> Result<Value, Error> {
    let at = inp.offset();
    // Errors inside a blob are reported at the blob's start.
    let at_blob = |reason: String| Error { offset: at, reason };
    match t {
        ty::STRING => Ok(Value::Str(Str::from_bytes(&input::string(inp)?))),
        ty::LIST => {
            let n = input::len(inp)?;
            let mut l = List::new();
            for _ in 0..n {
                l.push_back(&input::string(inp)?, lim.list_fill);
            }
            Ok(Value::List(Box::new(l)))
        }
        ty::LIST_ZIPLIST | ty::LIST_QUICKLIST | ty::LIST_QUICKLIST_2 => {
            let nodes = if t == ty::LIST_ZIPLIST {
                1
            } else {
                input::len(inp)?
            };
            let mut l = List::new();
            for _ in 0..nodes {
                let container = if t == ty::LIST_QUICKLIST_2 {
                    let c_at = inp.offset();
                    let c = input::len(inp)?;
                    if c != enc::PLAIN && c != enc::PACKED {
                        return Err(Error {
                            offset: c_at,
                            reason: format!("an unknown quicklist node container {c}"),
                        });
                    }
                    c
                } else {
                    enc::PACKED
                };
                let node_at = inp.offset();
                let blob = input::string(inp)?;
                if container == enc::PLAIN {
                    l.push_back(&blob, lim.list_fill);
                    continue;
                }
                let items = if t == ty::LIST_QUICKLIST_2 {
                    listpack::decode(&blob)
                } else {
                    ziplist::decode(&blob)
                }
                .map_err(|reason| Error {
                    offset: node_at,
                    reason,
                })?;
                // Empty nodes are skipped, as Redis does.
                for it in &items {
                    it.with_bytes(|e| l.push_back(e, lim.list_fill));
                }
            }
            Ok(Value::List(Box::new(l)))
        }
        ty::SET => {
            let n = input::len(inp)?;
            let mut s = SetB { s: Set::new(), lim };
            for _ in 0..n {
                let m_at = inp.offset();
                let m = input::string(inp)?;
                s.add(&m).map_err(|reason| Error {
                    offset: m_at,
                    reason,
                })?;
            }
            Ok(Value::Set(Box::new(s.s)))
        }
        ty::SET_INTSET | ty::SET_LISTPACK => {
            let blob = input::string(inp)?;
            let mut s = SetB { s: Set::new(), lim };
            (|| -> Result<(), String> {
                if t == ty::SET_INTSET {
                    let mut buf = rubedo_engine::value::itoa_buf();
                    for v in intset::decode(&blob)? {
                        s.add(rubedo_engine::value::fmt_i64(v, &mut buf))?;
                    }
                } else {
                    for it in listpack::decode(&blob)? {
                        it.with_bytes(|m| s.add(m))?;
                    }
                }
                Ok(())
            })()
            .map_err(at_blob)?;
            Ok(Value::Set(Box::new(s.s)))
        }
        ty::ZSET | ty::ZSET_2 => {
            let n = input::len(inp)?;
            let mut z = ZSetB { z: None, lim };
            for _ in 0..n {
                let m_at = inp.offset();
                let m = input::string(inp)?;
                let score = if t == ty::ZSET {
                    string_double(inp)?
                } else {
                    f64::from_le_bytes(input::bytes(inp)?)
                };
                z.add(&m, score).map_err(|reason| Error {
                    offset: m_at,
                    reason,
                })?;
            }
            Ok(z.done())
        }
        ty::ZSET_ZIPLIST | ty::ZSET_LISTPACK => {
            let blob = input::string(inp)?;
            let mut z = ZSetB { z: None, lim };
            (|| -> Result<(), String> {
                let items = if t == ty::ZSET_LISTPACK {
                    listpack::decode(&blob)?
                } else {
                    ziplist::decode(&blob)?
                };
                for p in pairs(&items, "sorted set")? {
                    let score = score_of(&p[1])?;
                    p[0].with_bytes(|m| z.add(m, score))?;
                }
                Ok(())
            })()
            .map_err(at_blob)?;
            Ok(z.done())
        }
        ty::HASH => {
            let n = input::len(inp)?;
            let mut h = HashB {
                h: Hash::new(),
                lim,
            };
            for _ in 0..n {
                let f_at = inp.offset();
                let f = input::string(inp)?;
                let v = input::string(inp)?;
                h.add(&f, &v).map_err(|reason| Error {
                    offset: f_at,
                    reason,
                })?;
            }
            Ok(Value::Hash(Box::new(h.h)))
        }
        ty::HASH_ZIPMAP | ty::HASH_ZIPLIST | ty::HASH_LISTPACK => {
            let blob = input::string(inp)?;
            let mut h = HashB {
                h: Hash::new(),
                lim,
            };
            (|| -> Result<(), String> {
                if t == ty::HASH_ZIPMAP {
                    for (f, v) in zipmap::decode(&blob)? {
                        h.add(f, v)?;
                    }
                    return Ok(());
                }
                let items = if t == ty::HASH_LISTPACK {
                    listpack::decode(&blob)?
                } else {
                    ziplist::decode(&blob)?
                };
                for p in pairs(&items, "hash")? {
                    let f = p[0].to_vec();
                    p[1].with_bytes(|v| h.add(&f, v))?;
                }
                Ok(())
            })()
            .map_err(at_blob)?;
            Ok(Value::Hash(Box::new(h.h)))
        }
        t => Err(Error {
            offset: at,
            reason: match unsupported(t) {
                Some(why) => format!("a {why}"),
                None => format!("an unknown value type {t}"),
            },
        }),
    }
}

enum State {
    Reading,
    Done,
    Failed(Error),
}

/// Reads an RDB file record by record, handing out one key at a time.
pub struct FileReader<R: Read> {
    inp: StreamInput<R>,
    version: u16,
    aux: Vec<(Vec<u8>, Vec<u8>)>,
    functions: Vec<Vec<u8>>,
    db: u32,
    empty_skipped: u64,
    state: State,
}

impl<R: Read> FileReader<R> {
    /// Checks the header. `len`: the file's size when known, to bound every
    /// length field by what the file can hold.
    pub fn new(r: R, len: Option<u64>) -> Result<FileReader<R>, Error> {
        let mut inp = StreamInput::new(r, len);
        let head: [u8; 9] = input::bytes(&mut inp).map_err(|_| Error {
            offset: 0,
            reason: "not an RDB file (shorter than its header)".into(),
        })?;
        if &head[..5] != MAGIC {
            return Err(Error {
                offset: 0,
                reason: "not an RDB file (no REDIS magic)".into(),
            });
        }
        let digits = &head[5..9];
        let version = std::str::from_utf8(digits)
            .ok()
            .filter(|_| digits.iter().all(u8::is_ascii_digit))
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| Error {
                offset: 5,
                reason: "an RDB file whose version is not four digits".into(),
            })?;
        if !(MIN_READ_VERSION..=MAX_READ_VERSION).contains(&version) {
            return Err(Error {
                offset: 5,
                reason: format!(
                    "RDB version {version}: this build reads versions {MIN_READ_VERSION} to {MAX_READ_VERSION}"
                ),
            });
        }
        Ok(FileReader {
            inp,
            version,
            aux: Vec::new(),
            functions: Vec::new(),
            db: 0,
            empty_skipped: 0,
            state: State::Reading,
        })
    }

    pub fn version(&self) -> u16 {
        self.version
    }

    /// The AUX fields read so far, in file order.
    pub fn aux(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.aux
    }

    /// The function libraries (FUNCTION2 records) read so far: each one's code.
    pub fn functions(&self) -> &[Vec<u8>] {
        &self.functions
    }

    /// Keys skipped because their value was empty.
    pub fn empty_skipped(&self) -> u64 {
        self.empty_skipped
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.inp.offset()
    }

    /// The reader and the bytes read from it beyond the RDB data (after
    /// the end, what follows, such as an AOF tail after an RDB preamble).
    pub fn into_parts(self) -> (R, Vec<u8>) {
        self.inp.into_parts()
    }

    /// The next key, or None at the end of the file once its checksum is
    /// verified. Stops for good at the first error.
    pub fn next_key(&mut self, lim: &Limits) -> Result<Option<Loaded>, Error> {
        match &self.state {
            State::Reading => {}
            State::Done => return Ok(None),
            State::Failed(e) => return Err(e.clone()),
        }
        let r = self.next_inner(lim);
        match &r {
            Err(e) => self.state = State::Failed(e.clone()),
            Ok(None) => self.state = State::Done,
            Ok(Some(_)) => {}
        }
        r
    }

    fn next_inner(&mut self, lim: &Limits) -> Result<Option<Loaded>, Error> {
        let mut expire: Option<u64> = None;
        let mut idle: Option<u32> = None;
        loop {
            let at = self.inp.offset();
            let err = |reason: String| Error { offset: at, reason };
            let op = input::u8_(&mut self.inp)?;
            match op {
                opcode::EXPIRETIME_MS => {
                    let ms = i64::from_le_bytes(input::bytes(&mut self.inp)?);
                    expire = Some(ms.max(0) as u64);
                }
                opcode::EXPIRETIME => {
                    let s = i32::from_le_bytes(input::bytes(&mut self.inp)?);
                    expire = Some((i64::from(s) * 1000).max(0) as u64);
                }
                opcode::IDLE => {
                    let s = input::len(&mut self.inp)?;
                    idle = Some(u32::try_from(s).unwrap_or(u32::MAX));
                }
                opcode::FREQ => {
                    // Rubedo keeps no LFU counters yet.
                    input::u8_(&mut self.inp)?;
                }
                opcode::SELECTDB => {
                    let n = input::len(&mut self.inp)?;
                    self.db = u32::try_from(n)
                        .map_err(|_| err(format!("a database number {n} out of range")))?;
                }
                opcode::RESIZEDB => {
                    input::len(&mut self.inp)?;
                    input::len(&mut self.inp)?;
                }
                opcode::AUX => {
                    let k = input::string(&mut self.inp)?;
                    let v = input::string(&mut self.inp)?;
                    self.aux.push((k, v));
                }
                opcode::FUNCTION2 => {
                    let code = input::string(&mut self.inp)?;
                    self.functions.push(code);
                }
                opcode::FUNCTION_PRE_GA => {
                    let code = super::functions::read_pre_ga(&mut self.inp)
                        .map_err(|why| err(format!("a function record: {why}")))?;
                    self.functions.push(code);
                }
                opcode::MODULE_AUX => {
                    return Err(err("module data: Rubedo has no modules".into()));
                }
                opcode::EOF => {
                    let computed = self.inp.crc.value();
                    if self.version >= 5 {
                        let stored = u64::from_le_bytes(input::bytes(&mut self.inp)?);
                        if stored != 0 && stored != computed {
                            return Err(err(format!(
                                "the file fails its checksum (stored {stored:#018x}, computed {computed:#018x})"
                            )));
                        }
                    }
                    return Ok(None);
                }
                t if ty::is_value_type(t) => {
                    let key = input::string(&mut self.inp)?;
                    if let Some(why) = unsupported(t) {
                        return Err(err(format!("the key '{}' is a {why}", show(&key))));
                    }
                    let value = read_object(&mut self.inp, t, lim).map_err(|e| Error {
                        offset: e.offset,
                        reason: format!("{} (in the key '{}')", e.reason, show(&key)),
                    })?;
                    if is_empty(&value) {
                        self.empty_skipped += 1;
                        expire = None;
                        idle = None;
                        continue;
                    }
                    return Ok(Some(Loaded {
                        db: self.db,
                        key,
                        value,
                        expire_at_ms: expire,
                        idle_secs: idle,
                    }));
                }
                t => return Err(err(format!("an unknown record type {t}"))),
            }
        }
    }
}
