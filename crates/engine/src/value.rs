//! The value model: what one key holds.
//!
//! Strings keep Redis's three observable encodings (`int`, `embstr`, `raw`)
//! because tools inspect them with OBJECT ENCODING, and because they are also
//! the compact layouts we want: small integers and short strings live inline
//! in the entry without a second allocation.

/// Strings up to this length are stored inline in the entry.
pub const INLINE_MAX: usize = 22;
/// Redis reports strings up to this length as `embstr` when created whole.
pub const EMBSTR_MAX: usize = 44;

/// A string value.
#[derive(Clone, PartialEq, Eq)]
pub enum Str {
    /// A canonical decimal integer (`int` encoding).
    Int(i64),
    /// A short string stored in place.
    Inline { len: u8, buf: [u8; INLINE_MAX] },
    /// A string set whole (SET and friends): `embstr` up to 44 bytes, else `raw`.
    Boxed(Box<[u8]>),
    /// A string modified in place (APPEND, SETRANGE, SETBIT...): always `raw`,
    /// with spare capacity so repeated appends stay amortised O(1).
    Raw(Box<Vec<u8>>),
}

impl Str {
    /// Builds a string the way SET stores it: an integer if the bytes are a
    /// canonical i64, else inline or boxed bytes.
    pub fn from_bytes(b: &[u8]) -> Str {
        if b.len() <= 20 {
            if let Some(n) = parse_canonical_i64(b) {
                return Str::Int(n);
            }
        }
        Str::from_bytes_no_int(b)
    }

    /// Builds a string without trying the integer encoding.
    pub fn from_bytes_no_int(b: &[u8]) -> Str {
        if b.len() <= INLINE_MAX {
            let mut buf = [0u8; INLINE_MAX];
            buf[..b.len()].copy_from_slice(b);
            Str::Inline {
                len: b.len() as u8,
                buf,
            }
        } else {
            Str::Boxed(b.into())
        }
    }

    /// A raw, growable string.
    pub fn raw(v: Vec<u8>) -> Str {
        Str::Raw(Box::new(v))
    }

    /// Length in bytes of the string form.
    pub fn len(&self) -> usize {
        match self {
            Str::Int(n) => int_len(*n),
            Str::Inline { len, .. } => *len as usize,
            Str::Boxed(b) => b.len(),
            Str::Raw(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `f` over the string's bytes without allocating.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Str::Int(n) => {
                let mut buf = itoa_buf();
                let s = fmt_i64(*n, &mut buf);
                f(s)
            }
            Str::Inline { len, buf } => f(&buf[..*len as usize]),
            Str::Boxed(b) => f(b),
            Str::Raw(v) => f(v),
        }
    }

    /// The bytes as an owned vector.
    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }

    /// The integer value if the string is a valid integer in Redis's sense.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Str::Int(n) => Some(*n),
            _ => self.with_bytes(parse_i64),
        }
    }

    /// Turns the value into a growable raw string and returns its buffer.
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, Str::Raw(_)) {
            *self = Str::raw(self.to_vec());
        }
        match self {
            Str::Raw(v) => v,
            _ => unreachable!("just converted to raw"),
        }
    }

    /// Redis's name for the encoding, as OBJECT ENCODING reports it.
    pub fn encoding(&self) -> &'static str {
        match self {
            Str::Int(_) => "int",
            Str::Inline { .. } => "embstr",
            Str::Boxed(b) if b.len() <= EMBSTR_MAX => "embstr",
            Str::Boxed(_) | Str::Raw(_) => "raw",
        }
    }

    /// Heap bytes owned beyond the entry itself.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Str::Int(_) | Str::Inline { .. } => 0,
            Str::Boxed(b) => b.len(),
            Str::Raw(v) => v.capacity() + std::mem::size_of::<Vec<u8>>(),
        }
    }
}

impl std::fmt::Debug for Str {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.with_bytes(|b| write!(f, "Str({:?})", String::from_utf8_lossy(b)))
    }
}

/// The value stored under a key. Collections are boxed so every entry
/// stays as small as a string's.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Str(Str),
    Hash(Box<crate::types::hash::Hash>),
    Set(Box<crate::types::set::Set>),
    List(Box<crate::types::list::List>),
    ZSet(Box<crate::types::zset::ZSet>),
}

/// The type names TYPE and SCAN TYPE use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    String,
    Hash,
    Set,
    List,
    ZSet,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::List => "list",
            Kind::ZSet => "zset",
        }
    }

    pub fn from_name(name: &[u8]) -> Option<Kind> {
        [Kind::String, Kind::Hash, Kind::Set, Kind::List, Kind::ZSet]
            .into_iter()
            .find(|k| name.eq_ignore_ascii_case(k.name().as_bytes()))
    }
}

impl Value {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Str(_) => Kind::String,
            Value::Hash(_) => Kind::Hash,
            Value::Set(_) => Kind::Set,
            Value::List(_) => Kind::List,
            Value::ZSet(_) => Kind::ZSet,
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::List(l) => l.encoding(),
            Value::ZSet(z) => z.encoding(),
        }
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_bytes(),
            Value::Hash(h) => h.heap_bytes(),
            Value::Set(s) => s.heap_bytes(),
            Value::List(l) => l.heap_bytes(),
            Value::ZSet(z) => z.heap_bytes(),
        }
    }

    pub fn as_str(&self) -> Option<&Str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_str_mut(&mut self) -> Option<&mut Str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// What a key holds, plus its access metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub value: Value,
    /// Last access, in seconds of the engine clock (for OBJECT IDLETIME).
    pub atime: u32,
    /// The snapshot epoch of the entry's table when the entry was created
    /// or last written during a snapshot (see `Table::epoch`): a snapshot
    /// of epoch E has already seen this key's value as of its start when
    /// this equals E. Lives in what would be padding.
    pub epoch: u32,
}

impl Entry {
    pub fn new(value: Value, now_ms: u64) -> Entry {
        Entry {
            value,
            atime: secs(now_ms),
            epoch: 0,
        }
    }
}

/// The access-time unit stored per entry.
pub fn secs(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}

/// A stack buffer big enough for any i64 in decimal.
pub fn itoa_buf() -> [u8; 20] {
    [0u8; 20]
}

/// Formats `n` into `buf` and returns the digits.
pub fn fmt_i64(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let neg = n < 0;
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

fn int_len(n: i64) -> usize {
    let mut buf = itoa_buf();
    fmt_i64(n, &mut buf).len()
}

/// Parses an integer the way Redis's string2ll does: optional minus sign, no
/// plus sign, no spaces, no leading zeros (except "0" itself), within i64.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    if b == b"0" {
        return Some(0);
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Like `parse_i64`; kept separate to name the intent at call sites that
/// decide whether a string may use the `int` encoding.
pub fn parse_canonical_i64(b: &[u8]) -> Option<i64> {
    parse_i64(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_like_redis() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"01"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"-"), None);
        assert_eq!(parse_i64(b""), None);
    }

    #[test]
    fn encodings_follow_redis_names() {
        assert_eq!(Str::from_bytes(b"123").encoding(), "int");
        assert_eq!(Str::from_bytes(b"0123").encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'x'; 44]).encoding(), "embstr");
        assert_eq!(Str::from_bytes(&[b'x'; 45]).encoding(), "raw");
        let mut s = Str::from_bytes(b"ab");
        s.make_raw().push(b'c');
        assert_eq!(s.encoding(), "raw");
        assert_eq!(s.to_vec(), b"abc");
    }

    #[test]
    fn int_strings_render_back() {
        for n in [0, 1, -1, i64::MAX, i64::MIN, 1234567890] {
            let s = Str::Int(n);
            assert_eq!(s.to_vec(), n.to_string().into_bytes());
            assert_eq!(s.len(), n.to_string().len());
        }
    }

    #[test]
    fn entry_stays_small() {
        assert!(std::mem::size_of::<Value>() <= 24);
        assert!(std::mem::size_of::<Entry>() <= 32);
    }
}
