//! Redis's ziplist (RDB files of Redis 2.6 to 6.2: lists, sorted sets,
//! hashes, and the nodes of version-1 quicklists).
//!
//! ```text
//! zlbytes u32 LE | zltail u32 LE (offset of the last entry) | zllen u16 LE
//! (65535: count them) | entry* | 0xFF
//! entry: prevlen (1 byte < 254, or 0xFE + u32 LE) | encoding | data
//! ```
//! Encodings: `00pppppp` a string of up to 63 bytes; `01pppppp qqqqqqqq` up
//! to 16383 (big-endian); `10______` + u32 big-endian; `0xC0` i16, `0xD0`
//! i32, `0xE0` i64, `0xF0` i24, `0xFE` i8 (little-endian); `0xF1`..`0xFD` the
//! integers 0 to 12 in the low four bits minus one.

use super::listpack::{le, sign_extend};
use rubedo_engine::value::parse_i64;

pub use super::listpack::Item;

const HEADER: usize = 10;
const END: u8 = 0xFF;
const BIG_PREVLEN: u8 = 0xFE;

/// Checks a ziplist whole (sizes, the tail offset, every entry's prevlen
/// and bounds, the count, the end byte) and returns its elements.
pub fn decode(zl: &[u8]) -> Result<Vec<Item<'_>>, String> {
    if zl.len() < HEADER + 1 {
        return Err(format!("a ziplist of {} bytes is too short", zl.len()));
    }
    let total = le(&zl[0..4]);
    if total != zl.len() as u64 {
        return Err(format!(
            "a ziplist says it has {total} bytes but has {}",
            zl.len()
        ));
    }
    let tail = le(&zl[4..8]) as usize;
    let count = le(&zl[8..10]) as u16;
    let end = zl.len() - 1;
    if zl[end] != END {
        return Err("a ziplist does not end with its end byte".into());
    }
    let mut items = Vec::new();
    let mut p = HEADER;
    let mut prev_size = 0usize;
    let mut last = HEADER;
    while p < end {
        let start = p;
        let (prevlen, pl) = if zl[p] == BIG_PREVLEN {
            let b = zl
                .get(p + 1..p + 5)
                .filter(|_| p + 5 <= end)
                .ok_or("a ziplist entry's prevlen runs past the end")?;
            (le(b) as usize, 5)
        } else if zl[p] == END {
            return Err("a ziplist entry starts with the end byte".into());
        } else {
            (zl[p] as usize, 1)
        };
        if prevlen != prev_size {
            return Err(format!(
                "a ziplist entry's prevlen says {prevlen}, the entry before has {prev_size} bytes"
            ));
        }
        p += pl;
        let (item, n) = entry(zl, p, end)?;
        p += n;
        prev_size = p - start;
        last = start;
        items.push(item);
    }
    if tail != last {
        return Err(format!(
            "a ziplist's tail offset is {tail}, its last entry is at {last}"
        ));
    }
    if count != u16::MAX && count as usize != items.len() {
        return Err(format!(
            "a ziplist says it has {count} elements but has {}",
            items.len()
        ));
    }
    Ok(items)
}

/// The element at `p` (after its prevlen) and the bytes of its encoding and data.
fn entry(zl: &[u8], p: usize, end: usize) -> Result<(Item<'_>, usize), String> {
    let need = |n: usize| -> Result<&[u8], String> {
        match p.checked_add(n) {
            Some(e) if e <= end => Ok(&zl[p..e]),
            _ => Err("a ziplist entry runs past the end".into()),
        }
    };
    let b = *zl
        .get(p)
        .filter(|_| p < end)
        .ok_or("a ziplist entry is cut short")?;
    let string = |h: usize, len: usize| -> Result<(Item<'_>, usize), String> {
        let e = need(h.checked_add(len).ok_or("a ziplist string too long")?)?;
        Ok((Item::Str(&e[h..]), h + len))
    };
    match b >> 6 {
        0 => return string(1, (b & 0x3f) as usize),
        1 => {
            let e = need(2)?;
            return string(2, ((b & 0x3f) as usize) << 8 | e[1] as usize);
        }
        2 => {
            let e = need(5)?;
            let len = u32::from_be_bytes([e[1], e[2], e[3], e[4]]);
            return string(5, len as usize);
        }
        _ => {}
    }
    let int = |n: usize, bits: u32| -> Result<(Item<'_>, usize), String> {
        let e = need(1 + n)?;
        Ok((Item::Int(sign_extend(le(&e[1..]), bits)), 1 + n))
    };
    match b {
        0xc0 => int(2, 16),
        0xd0 => int(4, 32),
        0xe0 => int(8, 64),
        0xf0 => int(3, 24),
        0xfe => int(1, 8),
        0xf1..=0xfd => Ok((Item::Int(i64::from(b & 0x0f) - 1), 1)),
        _ => Err(format!("an unknown ziplist encoding {b:#04x}")),
    }
}

/// Builds a ziplist with Redis's encoding choices (for tests and tools:
/// nothing this crate writes uses ziplists).
pub fn encode(items: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0u8; HEADER];
    let mut prev = 0usize;
    let mut tail = HEADER;
    for e in items {
        let start = out.len();
        tail = start;
        if prev < BIG_PREVLEN as usize {
            out.push(prev as u8);
        } else {
            out.push(BIG_PREVLEN);
            out.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        match parse_i64(e).filter(|_| !e.is_empty() && e.len() < 32) {
            Some(v) if (0..=12).contains(&v) => out.push(0xf1 + v as u8),
            Some(v) if i8::try_from(v).is_ok() => {
                out.push(0xfe);
                out.push(v as u8);
            }
            Some(v) if i16::try_from(v).is_ok() => {
                out.push(0xc0);
                out.extend_from_slice(&(v as i16).to_le_bytes());
            }
            Some(v) if (-8388608..=8388607).contains(&v) => {
                out.push(0xf0);
                out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            Some(v) if i32::try_from(v).is_ok() => {
                out.push(0xd0);
                out.extend_from_slice(&(v as i32).to_le_bytes());
            }
            Some(v) => {
                out.push(0xe0);
                out.extend_from_slice(&v.to_le_bytes());
            }
            None => {
                let l = e.len();
                if l <= 63 {
                    out.push(l as u8);
                } else if l <= 16383 {
                    out.push(0x40 | (l >> 8) as u8);
                    out.push(l as u8);
                } else {
                    out.push(0x80);
                    out.extend_from_slice(&(l as u32).to_be_bytes());
                }
                out.extend_from_slice(e);
            }
        }
        prev = out.len() - start;
    }
    out.push(END);
    let total = out.len() as u32;
    out[0..4].copy_from_slice(&total.to_le_bytes());
    out[4..8].copy_from_slice(&(tail as u32).to_le_bytes());
    let n = items.len().min(u16::MAX as usize) as u16;
    out[8..10].copy_from_slice(&n.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_encoding() {
        let long = vec![b'q'; 300];
        let longer = vec![b'r'; 17000];
        let items: Vec<&[u8]> = vec![
            b"0",
            b"12",
            b"13",
            b"-1",
            b"-128",
            b"127",
            b"128",
            b"-32768",
            b"40000",
            b"-8388608",
            b"8388608",
            b"2147483647",
            b"2147483648",
            b"-9223372036854775808",
            b"",
            b"hello",
            b"0123",
            &long,
            &longer,
            b"x",
        ];
        let zl = encode(&items);
        let got = decode(&zl).unwrap();
        assert_eq!(got.len(), items.len());
        for (g, want) in got.iter().zip(&items) {
            assert_eq!(g.to_vec(), *want);
        }
        assert_eq!(got[0], Item::Int(0));
        assert_eq!(got[2], Item::Int(13));
        assert_eq!(got[15], Item::Str(b"hello"));
    }

    #[test]
    fn a_hand_made_ziplist() {
        // zlbytes 17, zltail 14, 2 entries: "ab" (prevlen 0, 00000010) and
        // the immediate 5 (prevlen 4, 0xF6).
        let zl = b"\x11\x00\x00\x00\x0e\x00\x00\x00\x02\x00\x00\x02ab\x04\xf6\xff";
        assert_eq!(decode(zl).unwrap(), [Item::Str(b"ab"), Item::Int(5)]);
        assert_eq!(encode(&[b"ab", b"5"]), zl.to_vec());
    }

    #[test]
    fn damage_is_found() {
        let zl = encode(&[b"ab", b"5", b"hello", b"1000"]);
        assert!(decode(&zl).is_ok());
        for cut in 0..zl.len() {
            assert!(decode(&zl[..cut]).is_err());
        }
        for i in 4..zl.len() {
            for v in [0u8, 1, 0x3f, 0xfe, 0xff] {
                let mut bad = zl.clone();
                if bad[i] == v {
                    continue;
                }
                bad[i] = v;
                // Whatever the change, decoding must not panic.
                let _ = decode(&bad);
            }
        }
        let mut bad = zl.clone();
        bad[4] += 1; // tail
        assert!(decode(&bad).is_err());
        let mut bad = zl.clone();
        bad[8] = 3; // count
        assert!(decode(&bad).is_err());
        let mut bad = zl.clone();
        bad[14] = 9; // the second entry's prevlen
        assert!(decode(&bad).is_err());
        assert!(decode(&encode(&[])).unwrap().is_empty());
    }
}
