//! Writing values and files as Redis 7.0 writes them.
//!
//! Each value goes out as it is walked: a list node, a listpack or an
//! intset is built whole (one value's compact encoding at most), other
//! items are written as they come, so a large value is never copied.

use std::io::{self, BufWriter, Write};

use rubedo_engine::types::{hash::Hash, list::List, set::Set, zset::ZSet};
use rubedo_engine::value::parse_i64;
use rubedo_engine::Value;

use super::crc64::Crc64;
use super::{double, enc, intset, listpack, lzf, opcode, ty, PACKED_THRESHOLD, VERSION};

/// Redis's default `list-max-listpack-size`.
const DEFAULT_LIST_FILL: i64 = -2;
/// Redis's per-node limit when the fill is a count (`SIZE_SAFETY_LIMIT`).
const SAFETY_LIMIT: usize = 8192;
/// What Redis 7.0 adds to an element's length to estimate its cost in a node.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
const NODE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Sorted-set members written per step of a descending walk.
const ZSET_STEP: usize = 1024;

/// How values are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// LZF-compress strings where it pays (`rdbcompression`).
    pub compress: bool,
    /// How list nodes are cut (`list-max-listpack-size`).
    pub list_fill: i64,
    /// List elements at least this long get a plain node of their own
    /// (Redis's `packed_threshold`, DEBUG QUICKLIST-PACKED-THRESHOLD).
    pub packed_threshold: usize,
}

impl WriteOptions {
    /// Redis's defaults, with compression as given.
    pub fn new(compress: bool) -> WriteOptions {
        WriteOptions {
            compress,
            list_fill: DEFAULT_LIST_FILL,
            packed_threshold: PACKED_THRESHOLD,
        }
    }
}

/// A value's serialization as RDB files and DUMP carry it: the type byte,
/// then the body (list nodes cut as Redis's defaults cut them).
pub fn write_value(out: &mut Vec<u8>, value: &Value, compress: bool) {
    write_value_with(out, value, &WriteOptions::new(compress));
}

/// [`write_value`] with other options.
pub fn write_value_with(out: &mut Vec<u8>, value: &Value, opts: &WriteOptions) {
    // Writing to a vector cannot fail.
    let _ = put_value(out, value, opts);
}

/// The type byte a value is written with.
pub fn value_type(value: &Value) -> u8 {
    match value {
        Value::Str(_) => ty::STRING,
        Value::List(_) => ty::LIST_QUICKLIST_2,
        Value::Set(s) if s.is_intset() => ty::SET_INTSET,
        Value::Set(_) => ty::SET,
        Value::ZSet(z) if z.is_listpack() => ty::ZSET_LISTPACK,
        Value::ZSet(_) => ty::ZSET_2,
        Value::Hash(h) if h.encoding() == "listpack" => ty::HASH_LISTPACK,
        Value::Hash(_) => ty::HASH,
    }
}

pub(crate) fn put_len(w: &mut impl Write, n: u64) -> io::Result<()> {
    if n < 1 << 6 {
        w.write_all(&[n as u8])
    } else if n < 1 << 14 {
        w.write_all(&[0x40 | (n >> 8) as u8, n as u8])
    } else if n <= u64::from(u32::MAX) {
        let mut b = [enc::LEN_32, 0, 0, 0, 0];
        b[1..].copy_from_slice(&(n as u32).to_be_bytes());
        w.write_all(&b)
    } else {
        let mut b = [enc::LEN_64, 0, 0, 0, 0, 0, 0, 0, 0];
        b[1..].copy_from_slice(&n.to_be_bytes());
        w.write_all(&b)
    }
}

/// A string as Redis's rdbSaveRawString writes it: an integer encoding for
/// a canonical integer of 32 bits, else LZF when `compress`, the string is
/// over 20 bytes and compression saves at least 4 of them, else as it is.
pub(crate) fn put_string(w: &mut impl Write, b: &[u8], compress: bool) -> io::Result<()> {
    if b.len() <= 11 {
        if let Some(v) = parse_i64(b) {
            const SPECIAL: u8 = 0xc0;
            if let Ok(x) = i8::try_from(v) {
                return w.write_all(&[SPECIAL | enc::INT8, x as u8]);
            }
            if let Ok(x) = i16::try_from(v) {
                let [a, b] = x.to_le_bytes();
                return w.write_all(&[SPECIAL | enc::INT16, a, b]);
            }
            if let Ok(x) = i32::try_from(v) {
                let [a, b, c, d] = x.to_le_bytes();
                return w.write_all(&[SPECIAL | enc::INT32, a, b, c, d]);
            }
        }
    }
    if compress && b.len() > 20 {
        if let Some(c) = lzf::compress(b, b.len() - 4) {
            w.write_all(&[0xc0 | enc::LZF])?;
            put_len(w, c.len() as u64)?;
            put_len(w, b.len() as u64)?;
            return w.write_all(&c);
        }
    }
    put_len(w, b.len() as u64)?;
    w.write_all(b)
}

fn put_value(w: &mut impl Write, value: &Value, opts: &WriteOptions) -> io::Result<()> {
    w.write_all(&[value_type(value)])?;
    put_body(w, value, opts)
}

fn put_body(w: &mut impl Write, value: &Value, opts: &WriteOptions) -> io::Result<()> {
    let compress = opts.compress;
    match value {
        Value::Str(s) => s.with_bytes(|b| put_string(w, b, compress)),
        Value::List(l) => put_list(w, l, opts),
        Value::Set(s) => put_set(w, s, compress),
        Value::ZSet(z) => put_zset(w, z, compress),
        Value::Hash(h) => put_hash(w, h, compress),
    }
}

/// Runs `f` over items, keeping the first error and skipping the rest.
struct Each<'w, W> {
    w: &'w mut W,
    err: Option<io::Error>,
}

impl<W: Write> Each<'_, W> {
    fn run(&mut self, f: impl FnOnce(&mut W) -> io::Result<()>) {
        if self.err.is_none() {
            if let Err(e) = f(self.w) {
                self.err = Some(e);
            }
        }
    }

    fn done(self) -> io::Result<()> {
        self.err.map_or(Ok(()), Err)
    }
}

/// How a list is cut into quicklist nodes, as Redis 7.0 cuts a list made
/// by RPUSHing its elements in order.
struct Nodes {
    fill: i64,
    threshold: usize,
    bytes: usize,
    count: usize,
    open: bool,
}

enum Place {
    Append,
    NewNode,
    Plain,
}

impl Nodes {
    fn new(opts: &WriteOptions) -> Nodes {
        Nodes {
            fill: opts.list_fill.clamp(-5, (1 << 15) - 1),
            threshold: opts.packed_threshold,
            bytes: 0,
            count: 0,
            open: false,
        }
    }

    /// Redis's `_quicklistNodeAllowInsert`.
    fn allows(&self, sz: usize) -> bool {
        let new_sz = self.bytes + sz + SIZE_ESTIMATE_OVERHEAD;
        if self.fill < 0 {
            let level = NODE_LEVELS[((-self.fill - 1) as usize).min(NODE_LEVELS.len() - 1)];
            if new_sz <= level {
                return true;
            }
        }
        new_sz <= SAFETY_LIMIT && (self.count as i64) < self.fill
    }

    fn place(&mut self, e: &[u8]) -> Place {
        if e.len() >= self.threshold {
            self.open = false;
            return Place::Plain;
        }
        let size = listpack::entry_size(e);
        if self.open && self.allows(e.len()) {
            self.bytes += size;
            self.count += 1;
            Place::Append
        } else {
            self.open = true;
            self.bytes = listpack::EMPTY_SIZE + size;
            self.count = 1;
            Place::NewNode
        }
    }
}

fn put_list(w: &mut impl Write, l: &List, opts: &WriteOptions) -> io::Result<()> {
    let compress = opts.compress;
    if opts.list_fill > 0 {
        // Nodes cut by a count are the same in the engine as in Redis,
        // history included (a push onto a full end opens a node): kept.
        put_len(w, l.node_count() as u64)?;
        for node in l.nodes() {
            let mut b = listpack::Builder::with_capacity(256);
            let mut only = None;
            let mut n = 0;
            for e in node {
                n += 1;
                only = Some(e);
                b.push(e);
            }
            match only {
                Some(e) if n == 1 && e.len() >= opts.packed_threshold => {
                    put_len(w, enc::PLAIN)?;
                    put_string(w, e, compress)?;
                }
                _ => {
                    put_len(w, enc::PACKED)?;
                    put_string(w, &b.finish(), compress)?;
                }
            }
        }
        return Ok(());
    }
    let mut plan = Nodes::new(opts);
    let mut nodes = 0u64;
    l.for_each(|e| {
        if !matches!(plan.place(e), Place::Append) {
            nodes += 1;
        }
    });
    put_len(w, nodes)?;
    let mut plan = Nodes::new(opts);
    let mut node: Option<listpack::Builder> = None;
    let flush = |w: &mut _, node: &mut Option<listpack::Builder>| -> io::Result<()> {
        match node.take() {
            Some(b) => {
                put_len(w, enc::PACKED)?;
                put_string(w, &b.finish(), compress)
            }
            None => Ok(()),
        }
    };
    let mut each = Each { w, err: None };
    l.for_each(|e| match plan.place(e) {
        Place::Append => {
            if let Some(b) = node.as_mut() {
                b.push(e);
            }
        }
        Place::NewNode => {
            each.run(|w| flush(w, &mut node));
            let mut b = listpack::Builder::with_capacity(256);
            b.push(e);
            node = Some(b);
        }
        Place::Plain => each.run(|w| {
            flush(w, &mut node)?;
            put_len(w, enc::PLAIN)?;
            put_string(w, e, compress)
        }),
    });
    each.run(|w| flush(w, &mut node));
    each.done()
}

fn put_set(w: &mut impl Write, s: &Set, compress: bool) -> io::Result<()> {
    if s.is_intset() {
        let mut members = Vec::with_capacity(s.len());
        s.for_each(|m| members.extend(parse_i64(m)));
        return put_string(w, &intset::encode(&members), compress);
    }
    put_len(w, s.len() as u64)?;
    let mut each = Each { w, err: None };
    s.for_each(|m| each.run(|w| put_string(w, m, compress)));
    each.done()
}

/// A score as Redis 7.0 keeps it in a listpack: `%.17g` text, which the
/// listpack stores as an integer when it is one.
fn push_score(b: &mut listpack::Builder, s: f64) {
    b.push(double::fmt_g17(s + 0.0).as_bytes());
}

fn put_zset(w: &mut impl Write, z: &ZSet, compress: bool) -> io::Result<()> {
    if z.is_listpack() {
        let mut b = listpack::Builder::new();
        z.for_each(|m, s| {
            b.push(m);
            push_score(&mut b, s);
        });
        return put_string(w, &b.finish(), compress);
    }
    // Highest score first, as Redis walks its skiplist from the tail.
    put_len(w, z.len() as u64)?;
    let mut hi = z.len();
    while hi > 0 {
        let lo = hi.saturating_sub(ZSET_STEP);
        for (m, s) in z.range(lo, hi).iter().rev() {
            put_string(w, m, compress)?;
            w.write_all(&s.to_le_bytes())?;
        }
        hi = lo;
    }
    Ok(())
}

fn put_hash(w: &mut impl Write, h: &Hash, compress: bool) -> io::Result<()> {
    if h.encoding() == "listpack" {
        let mut b = listpack::Builder::new();
        h.for_each(|f, v| {
            b.push(f);
            b.push(v);
        });
        return put_string(w, &b.finish(), compress);
    }
    put_len(w, h.len() as u64)?;
    let mut each = Each { w, err: None };
    h.for_each(|f, v| {
        each.run(|w| {
            put_string(w, f, compress)?;
            put_string(w, v, compress)
        })
    });
    each.done()
}

/// The output, with the running CRC-64 and count of what went through.
struct Tee<W: Write> {
    w: BufWriter<W>,
    crc: Crc64,
    n: u64,
}

impl<W: Write> Write for Tee<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let k = self.w.write(buf)?;
        self.crc.update(&buf[..k]);
        self.n += k as u64;
        Ok(k)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// Writes an RDB file as it goes: header and AUX fields, then functions,
/// databases and keys in the order given, then the end and the checksum.
pub struct FileWriter<W: Write> {
    out: Tee<W>,
    opts: WriteOptions,
    checksum: bool,
}

impl<W: Write> FileWriter<W> {
    /// Writes the header ("REDIS0010") and the AUX fields given (Redis
    /// writes redis-ver, redis-bits, ctime, used-mem, aof-base).
    pub fn new(
        w: W,
        aux: &[(&str, String)],
        compress: bool,
        checksum: bool,
    ) -> io::Result<FileWriter<W>> {
        let mut f = FileWriter {
            out: Tee {
                w: BufWriter::with_capacity(64 << 10, w),
                crc: Crc64::new(),
                n: 0,
            },
            opts: WriteOptions::new(compress),
            checksum,
        };
        write!(f.out, "REDIS{VERSION:04}")?;
        for (k, v) in aux {
            f.out.write_all(&[opcode::AUX])?;
            put_string(&mut f.out, k.as_bytes(), compress)?;
            put_string(&mut f.out, v.as_bytes(), compress)?;
        }
        Ok(f)
    }

    /// Writes the values of the keys that follow with `opts` (list node
    /// sizes; compression stays as `new` set it).
    pub fn set_options(&mut self, opts: WriteOptions) {
        self.opts = WriteOptions {
            compress: self.opts.compress,
            ..opts
        };
    }

    /// Starts database `db`, with its sizes as hints for the reader.
    pub fn select_db(&mut self, db: u32, keys: u64, expires: u64) -> io::Result<()> {
        self.out.write_all(&[opcode::SELECTDB])?;
        put_len(&mut self.out, u64::from(db))?;
        self.out.write_all(&[opcode::RESIZEDB])?;
        put_len(&mut self.out, keys)?;
        put_len(&mut self.out, expires)
    }

    /// One key: its expiry time and idle time when given, then its value.
    pub fn key(
        &mut self,
        key: &[u8],
        value: &Value,
        expire_at_ms: Option<u64>,
        idle_secs: Option<u32>,
    ) -> io::Result<()> {
        if let Some(t) = expire_at_ms {
            self.out.write_all(&[opcode::EXPIRETIME_MS])?;
            let t = i64::try_from(t).unwrap_or(i64::MAX);
            self.out.write_all(&t.to_le_bytes())?;
        }
        if let Some(s) = idle_secs {
            self.out.write_all(&[opcode::IDLE])?;
            put_len(&mut self.out, u64::from(s))?;
        }
        self.out.write_all(&[value_type(value)])?;
        put_string(&mut self.out, key, self.opts.compress)?;
        put_body(&mut self.out, value, &self.opts)
    }

    /// A function library (FUNCTION2): its code.
    pub fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.out.write_all(&[opcode::FUNCTION2])?;
        put_string(&mut self.out, code, self.opts.compress)
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.out.n
    }

    /// Writes the end and the checksum (0 without checksums), flushes, and
    /// returns the output (not synced).
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[opcode::EOF])?;
        let crc = if self.checksum {
            self.out.crc.value()
        } else {
            0
        };
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.flush()?;
        self.out.w.into_inner().map_err(|e| e.into_error())
    }
}
