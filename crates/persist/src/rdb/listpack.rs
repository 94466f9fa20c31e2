//! Redis's listpack: the blob RDB stores small hashes, sorted sets, list
//! nodes (and Redis 7.2's small sets) as.
//!
//! ```text
//! total bytes u32 LE | element count u16 LE (65535: not known) | entry* | 0xFF
//! entry: encoding (+ data) | backlen
//! ```
//! Encodings: `0xxxxxxx` a 7-bit unsigned integer; `10xxxxxx` a string of
//! up to 63 bytes; `110xxxxx` + 1 byte a 13-bit signed integer; `1110xxxx` +
//! 1 byte a string of up to 4095 bytes (length big-endian in the 12 bits);
//! `0xF0` + u32 LE a longer string; `0xF1`/`0xF2`/`0xF3`/`0xF4` a 16/24/32/64
//! bit signed little-endian integer. The backlen is the size of encoding and
//! data in 7-bit groups, most significant first, every byte but the first
//! with the high bit set, so it can be read backwards from the entry's end.
//! Strings that are canonical integers are stored as integers.

use rubedo_engine::value::{fmt_i64, itoa_buf, parse_i64};

const HEADER: usize = 6;
pub const EOF: u8 = 0xFF;
pub const NUMELE_UNKNOWN: u16 = u16::MAX;

/// One listpack (or ziplist) element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Item<'_> {
    /// Runs `f` over the element's bytes (an integer in decimal).
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Item::Int(n) => {
                let mut buf = itoa_buf();
                f(fmt_i64(*n, &mut buf))
            }
            Item::Str(s) => f(s),
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }
}

/// The number of bytes the backlen of an entry of `l` bytes takes (Redis's
/// thresholds: a value of exactly 2^14 - 1 already takes three bytes).
pub fn backlen_size(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

fn put_backlen(out: &mut Vec<u8>, l: usize) {
    let n = backlen_size(l);
    for i in (0..n).rev() {
        let group = ((l >> (7 * i)) & 127) as u8;
        out.push(if i == n - 1 { group } else { group | 128 });
    }
}

fn int_size(v: i64) -> usize {
    if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if i16::try_from(v).is_ok() {
        3
    } else if (-8388608..=8388607).contains(&v) {
        4
    } else if i32::try_from(v).is_ok() {
        5
    } else {
        9
    }
}

fn str_header_size(len: usize) -> usize {
    if len < 64 {
        1
    } else if len < 4096 {
        2
    } else {
        5
    }
}

/// The bytes one element takes in a listpack, backlen included.
pub fn entry_size(e: &[u8]) -> usize {
    let l = match parse_i64(e) {
        Some(v) => int_size(v),
        None => str_header_size(e.len()) + e.len(),
    };
    l + backlen_size(l)
}

/// The bytes of an empty listpack.
pub const EMPTY_SIZE: usize = HEADER + 1;

/// Builds a listpack the way Redis appends to one.
#[derive(Clone, Debug)]
pub struct Builder {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    pub fn new() -> Builder {
        Builder::with_capacity(64)
    }

    pub fn with_capacity(n: usize) -> Builder {
        let mut buf = Vec::with_capacity(n.max(EMPTY_SIZE));
        buf.extend_from_slice(&[0; HEADER]);
        Builder { buf, count: 0 }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Total bytes of the listpack as it stands (header and end byte included).
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// Appends an element: a canonical integer as an integer, else a string.
    pub fn push(&mut self, e: &[u8]) {
        match parse_i64(e) {
            Some(v) => self.push_int(v),
            None => self.push_str(e),
        }
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        let b = &mut self.buf;
        if (0..=127).contains(&v) {
            b.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u16) & 0x1fff;
            b.push(0xc0 | (u >> 8) as u8);
            b.push(u as u8);
        } else if let Ok(x) = i16::try_from(v) {
            b.push(0xf1);
            b.extend_from_slice(&x.to_le_bytes());
        } else if (-8388608..=8388607).contains(&v) {
            b.push(0xf2);
            b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if let Ok(x) = i32::try_from(v) {
            b.push(0xf3);
            b.extend_from_slice(&x.to_le_bytes());
        } else {
            b.push(0xf4);
            b.extend_from_slice(&v.to_le_bytes());
        }
        let l = self.buf.len() - start;
        put_backlen(&mut self.buf, l);
        self.count += 1;
    }

    pub fn push_str(&mut self, e: &[u8]) {
        let start = self.buf.len();
        let len = e.len();
        let b = &mut self.buf;
        if len < 64 {
            b.push(0x80 | len as u8);
        } else if len < 4096 {
            b.push(0xe0 | (len >> 8) as u8);
            b.push(len as u8);
        } else {
            b.push(0xf0);
            b.extend_from_slice(&(len as u32).to_le_bytes());
        }
        b.extend_from_slice(e);
        let l = self.buf.len() - start;
        put_backlen(&mut self.buf, l);
        self.count += 1;
    }

    /// The finished listpack.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(EOF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let n = if self.count >= NUMELE_UNKNOWN as usize {
            NUMELE_UNKNOWN
        } else {
            self.count as u16
        };
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

/// A little-endian unsigned integer of up to 8 bytes.
pub(super) fn le(b: &[u8]) -> u64 {
    b.iter()
        .rev()
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

/// `v`'s low `bits` bits as a signed number.
pub(super) fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// Checks a listpack whole (sizes, every entry and its backlen, the count,
/// the end byte) and returns its elements.
pub fn decode(lp: &[u8]) -> Result<Vec<Item<'_>>, String> {
    if lp.len() < EMPTY_SIZE {
        return Err(format!("a listpack of {} bytes is too short", lp.len()));
    }
    let total = le(&lp[0..4]);
    if total != lp.len() as u64 {
        return Err(format!(
            "a listpack says it has {total} bytes but has {}",
            lp.len()
        ));
    }
    let numele = le(&lp[4..6]) as u16;
    let end = lp.len() - 1;
    if lp[end] != EOF {
        return Err("a listpack does not end with its end byte".into());
    }
    let mut items = Vec::with_capacity(if numele == NUMELE_UNKNOWN {
        0
    } else {
        (numele as usize).min(end / 2)
    });
    let mut p = HEADER;
    while p < end {
        let (item, l) = entry(lp, p, end)?;
        let bl = backlen_size(l);
        let Some(back) = lp.get(p + l..p + l + bl).filter(|_| p + l + bl <= end) else {
            return Err("a listpack entry's backlen runs past the end".into());
        };
        let mut v = 0usize;
        for (i, &b) in back.iter().enumerate() {
            if (b & 128 != 0) != (i > 0) {
                return Err("a listpack entry's backlen is malformed".into());
            }
            v = (v << 7) | (b & 127) as usize;
        }
        if v != l {
            return Err(format!(
                "a listpack entry's backlen says {v} bytes, the entry has {l}"
            ));
        }
        items.push(item);
        p += l + bl;
    }
    if numele != NUMELE_UNKNOWN && numele as usize != items.len() {
        return Err(format!(
            "a listpack says it has {numele} elements but has {}",
            items.len()
        ));
    }
    Ok(items)
}

/// The entry at `p` (before `end`, the end byte): the element and the size
/// of its encoding and data.
fn entry(lp: &[u8], p: usize, end: usize) -> Result<(Item<'_>, usize), String> {
    let b = lp[p];
    let need = |n: usize| -> Result<&[u8], String> {
        if p + n > end {
            Err("a listpack entry runs past the end".into())
        } else {
            Ok(&lp[p..p + n])
        }
    };
    let str_at = |h: usize, len: usize| -> Result<(Item<'_>, usize), String> {
        let e = need(h.checked_add(len).ok_or("a listpack string too long")?)?;
        Ok((Item::Str(&e[h..]), h + len))
    };
    if b & 0x80 == 0 {
        Ok((Item::Int(i64::from(b)), 1))
    } else if b & 0xc0 == 0x80 {
        str_at(1, (b & 0x3f) as usize)
    } else if b & 0xe0 == 0xc0 {
        let e = need(2)?;
        let u = (u64::from(b & 0x1f) << 8) | u64::from(e[1]);
        Ok((Item::Int(sign_extend(u, 13)), 2))
    } else if b & 0xf0 == 0xe0 {
        let e = need(2)?;
        str_at(2, ((b & 0x0f) as usize) << 8 | e[1] as usize)
    } else {
        match b {
            0xf0 => {
                let e = need(5)?;
                str_at(5, le(&e[1..5]) as usize)
            }
            0xf1 => Ok((Item::Int(sign_extend(le(&need(3)?[1..]), 16)), 3)),
            0xf2 => Ok((Item::Int(sign_extend(le(&need(4)?[1..]), 24)), 4)),
            0xf3 => Ok((Item::Int(sign_extend(le(&need(5)?[1..]), 32)), 5)),
            0xf4 => Ok((Item::Int(le(&need(9)?[1..]) as i64), 9)),
            EOF => Err("a listpack's end byte before its end".into()),
            _ => Err(format!("an unknown listpack encoding {b:#04x}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(items: &[&[u8]]) -> Vec<u8> {
        let mut b = Builder::new();
        for i in items {
            b.push(i);
        }
        let n = b.bytes();
        let lp = b.finish();
        assert_eq!(lp.len(), n);
        lp
    }

    #[test]
    fn redis_made_list_node() {
        // RPUSH l 1 2 3 hello in redis-server 7.0.15.
        let lp = build(&[b"1", b"2", b"3", b"hello"]);
        assert_eq!(
            lp,
            b"\x14\x00\x00\x00\x04\x00\x01\x01\x02\x01\x03\x01\x85hello\x06\xff"
        );
        let items = decode(&lp).unwrap();
        assert_eq!(
            items,
            [
                Item::Int(1),
                Item::Int(2),
                Item::Int(3),
                Item::Str(b"hello")
            ]
        );
    }

    #[test]
    fn every_width_round_trips() {
        let ints = [
            0,
            127,
            128,
            -1,
            4095,
            -4096,
            4096,
            -4097,
            32767,
            -32768,
            32768,
            8388607,
            -8388608,
            8388608,
            i32::MAX as i64,
            i32::MIN as i64,
            i32::MAX as i64 + 1,
            i64::MAX,
            i64::MIN,
        ];
        let mut b = Builder::new();
        for v in ints {
            b.push_int(v);
        }
        let long = vec![b'x'; 20000];
        let strs: [&[u8]; 7] = [
            b"",
            b"a",
            &[b'b'; 63],
            &[b'c'; 64],
            &[b'd'; 4095],
            &[b'e'; 4096],
            &long,
        ];
        for s in strs {
            b.push_str(s);
        }
        let lp = b.finish();
        let items = decode(&lp).unwrap();
        for (i, v) in ints.iter().enumerate() {
            assert_eq!(items[i], Item::Int(*v));
        }
        for (i, s) in strs.iter().enumerate() {
            assert_eq!(items[ints.len() + i], Item::Str(s));
        }
        for s in strs {
            let mut one = Builder::new();
            one.push(s);
            assert_eq!(one.bytes(), EMPTY_SIZE + entry_size(s));
        }
    }

    #[test]
    fn damage_is_found() {
        let lp = build(&[b"1", b"hello", b"x"]);
        assert!(decode(&lp).is_ok());
        for cut in 0..lp.len() {
            assert!(decode(&lp[..cut]).is_err());
        }
        let mut bad = lp.clone();
        bad[4] = 2; // count
        assert!(decode(&bad).is_err());
        let mut bad = lp.clone();
        bad[8] = 0x84; // string length 4 instead of 5
        assert!(decode(&bad).is_err());
        let mut bad = lp.clone();
        *bad.last_mut().unwrap() = 0;
        assert!(decode(&bad).is_err());
        let mut bad = lp.clone();
        bad[6] = 0xf5;
        assert!(decode(&bad).is_err());
        let mut unknown = lp.clone();
        unknown[4] = 0xff;
        unknown[5] = 0xff;
        assert_eq!(decode(&unknown).unwrap().len(), 3);
    }

    #[test]
    fn backlen_thresholds() {
        assert_eq!(backlen_size(127), 1);
        assert_eq!(backlen_size(128), 2);
        assert_eq!(backlen_size(16382), 2);
        assert_eq!(backlen_size(16383), 3);
        let mut v = Vec::new();
        put_backlen(&mut v, 300);
        assert_eq!(v, [2, 44 | 128]);
    }
}
