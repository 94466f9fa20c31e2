//! Redis's intset: `encoding u32 LE (2, 4 or 8: bytes per member) | length
//! u32 LE | members`, little-endian, strictly ascending.

/// The intset of `members` (ascending, distinct) at the narrowest width
/// that holds them all, as Redis builds it by adding them.
pub fn encode(members: &[i64]) -> Vec<u8> {
    let width = members.iter().map(|&v| width_of(v)).max().unwrap_or(2);
    encode_width(members, width)
}

/// The intset of `members` at `width` bytes each (2, 4 or 8, wide enough).
pub fn encode_width(members: &[i64], width: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + members.len() * width);
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for &v in members {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// The bytes Redis needs for `v`.
pub fn width_of(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

/// Checks an intset (width, size, strict order) and returns its members.
pub fn decode(blob: &[u8]) -> Result<Vec<i64>, String> {
    if blob.len() < 8 {
        return Err(format!("an intset of {} bytes is too short", blob.len()));
    }
    let width = u32::from_le_bytes([blob[0], blob[1], blob[2], blob[3]]) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(format!("an intset with members of {width} bytes"));
    }
    let len = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as u64;
    if 8 + len * width as u64 != blob.len() as u64 {
        return Err(format!(
            "an intset of {len} members of {width} bytes in {} bytes",
            blob.len()
        ));
    }
    let mut out = Vec::with_capacity(len as usize);
    for m in blob[8..].chunks_exact(width) {
        let v = match width {
            2 => i64::from(i16::from_le_bytes([m[0], m[1]])),
            4 => i64::from(i32::from_le_bytes([m[0], m[1], m[2], m[3]])),
            _ => i64::from_le_bytes([m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]]),
        };
        if out.last().is_some_and(|&p| p >= v) {
            return Err("an intset out of order or with a duplicate".into());
        }
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        assert_eq!(encode(&[1, 2]), b"\x02\0\0\0\x02\0\0\0\x01\0\x02\0");
        assert_eq!(encode(&[-1, 100000]).len(), 8 + 8);
        assert_eq!(encode(&[i64::MIN, 1]).len(), 8 + 16);
        assert_eq!(encode(&[]), b"\x02\0\0\0\0\0\0\0");
        for set in [vec![1, 2], vec![-40000, 5], vec![i64::MIN, 0, i64::MAX]] {
            assert_eq!(decode(&encode(&set)).unwrap(), set);
        }
        assert_eq!(decode(&encode_width(&[1, 2], 8)).unwrap(), [1, 2]);
    }

    #[test]
    fn damage_is_found() {
        assert!(decode(&encode(&[2, 1])).is_err());
        assert!(decode(&encode(&[1, 1])).is_err());
        let mut b = encode(&[1, 2]);
        b[0] = 3;
        assert!(decode(&b).is_err());
        let b = encode(&[1, 2]);
        for cut in 0..b.len() {
            assert!(decode(&b[..cut]).is_err());
        }
        let mut b = encode(&[1, 2]);
        b[4] = 0xff;
        assert!(decode(&b).is_err());
    }
}
