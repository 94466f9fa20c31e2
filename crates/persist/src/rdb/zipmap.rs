//! Redis's zipmap (hashes in RDB files of Redis before 2.6).
//!
//! ```text
//! count u8 (254: count them) | (len key len free value free-bytes)* | 0xFF
//! len: 1 byte below 254, or 254 + u32 LE
//! ```

const BIGLEN: u8 = 254;
const END: u8 = 255;

/// A (field, value) pair.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// Checks a zipmap whole and returns its (field, value) pairs.
pub fn decode(zm: &[u8]) -> Result<Vec<Pair<'_>>, String> {
    if zm.len() < 2 {
        return Err(format!("a zipmap of {} bytes is too short", zm.len()));
    }
    let count = zm[0];
    let mut p = 1usize;
    let mut out = Vec::new();
    let cut = || "a zipmap entry runs past the end".to_string();
    let len_at = |p: &mut usize| -> Result<Option<usize>, String> {
        let b = *zm.get(*p).ok_or_else(cut)?;
        match b {
            END => Ok(None),
            BIGLEN => {
                let l = zm.get(*p + 1..*p + 5).ok_or_else(cut)?;
                *p += 5;
                Ok(Some(u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize))
            }
            _ => {
                *p += 1;
                Ok(Some(b as usize))
            }
        }
    };
    while let Some(klen) = len_at(&mut p)? {
        let key = zm.get(p..p.saturating_add(klen)).ok_or_else(cut)?;
        p += klen;
        let vlen = len_at(&mut p)?.ok_or("a zipmap field without its value")?;
        let free = *zm.get(p).ok_or_else(cut)? as usize;
        p += 1;
        let value = zm.get(p..p.saturating_add(vlen)).ok_or_else(cut)?;
        p += vlen;
        if zm.get(p..p + free).is_none() {
            return Err(cut());
        }
        p += free;
        out.push((key, value));
    }
    if p != zm.len() - 1 {
        return Err("bytes after a zipmap's end byte".into());
    }
    if count < BIGLEN && count as usize != out.len() {
        return Err(format!(
            "a zipmap says it has {count} pairs but has {}",
            out.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_made_zipmap() {
        // "foo" => "bar" (1 free byte), "k" => "" ; count 2.
        let zm = b"\x02\x03foo\x03\x01barX\x01k\x00\x00\xff";
        assert_eq!(
            decode(zm).unwrap(),
            [(&b"foo"[..], &b"bar"[..]), (&b"k"[..], &b""[..])]
        );
        let mut big = vec![BIGLEN];
        big.extend_from_slice(b"\x01a\xfe\x2c\x01\x00\x00\x00");
        big.extend_from_slice(&[b'v'; 300]);
        big.push(END);
        let got = decode(&big).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1.len(), 300);
        for cut in 0..zm.len() {
            assert!(decode(&zm[..cut]).is_err());
        }
        let mut bad = zm.to_vec();
        bad[0] = 3;
        assert!(decode(&bad).is_err());
    }
}
