//! LZF, the compression RDB strings use.
//!
//! The compressed form is a sequence of chunks, each starting with a
//! control byte `c`:
//! - `c < 32`: a literal run of `c + 1` bytes, which follow;
//! - otherwise a back reference: the top three bits are the length minus 2
//!   (7 meaning "7 plus the next byte"), the low five bits and the byte after
//!   that are the distance minus 1 back into the output (at most 8192).
//!
//! The compressor makes the same choices as the liblzf 3.6 that Redis
//! builds (16-bit hash table, the "very fast" hashing, two positions hashed
//! after each match), so the strings it writes are the bytes Redis writes for
//! the same input. Redis keeps its hash table uninitialised between calls;
//! a stale entry can only ever make it find an extra (valid) match, so in
//! rare cases its output differs from this one's; both decompress the same.

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);
/// The most output one input byte can stand for (a 3-byte reference of 264).
pub const MAX_RATIO: u64 = 88;

fn idx(h: u32) -> usize {
    ((h >> (24 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// The hash table, kept per thread: each entry is a position tagged with the
/// call that stored it, so a new call starts empty without clearing it.
struct Table {
    slots: Vec<u64>,
    call: u32,
}

thread_local! {
    static TABLE: std::cell::RefCell<Table> = const {
        std::cell::RefCell::new(Table { slots: Vec::new(), call: 0 })
    };
}

/// Compresses `input` into at most `max_out` bytes; None when it does not
/// fit (as liblzf returns 0), or when the input is empty or over 4 GiB.
pub fn compress(input: &[u8], max_out: usize) -> Option<Vec<u8>> {
    if input.is_empty() || max_out == 0 || input.len() > u32::MAX as usize {
        return None;
    }
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        t.call = t.call.wrapping_add(1);
        if t.slots.len() != HSIZE || t.call == 0 {
            t.slots = vec![0; HSIZE];
            t.call = 1;
        }
        let Table { slots, call } = &mut *t;
        compress_with(input, max_out, &mut Slots { slots, call: *call })
    })
}

/// The table as one call sees it: an entry of another call reads as empty
/// (0, which is never a usable reference, since a match must lie after
/// position 0).
struct Slots<'a> {
    slots: &'a mut [u64],
    call: u32,
}

impl Slots<'_> {
    fn get(&self, i: usize) -> usize {
        let e = self.slots[i];
        if (e >> 32) as u32 == self.call {
            e as u32 as usize
        } else {
            0
        }
    }

    fn set(&mut self, i: usize, pos: usize) {
        self.slots[i] = (u64::from(self.call) << 32) | pos as u64;
    }
}

fn compress_with(input: &[u8], max_out: usize, htab: &mut Slots<'_>) -> Option<Vec<u8>> {
    let n = input.len();
    let mut out: Vec<u8> = Vec::with_capacity(max_out.min(n + n / 16 + 8));
    let mut lit = 0usize;
    // The control byte of the literal run being written.
    out.push(0);
    let mut ip = 0usize;
    let mut hval: u32 = if n >= 2 {
        (u32::from(input[0]) << 8) | u32::from(input[1])
    } else {
        0
    };
    while ip + 2 < n {
        hval = (hval << 8) | u32::from(input[ip + 2]);
        let slot = idx(hval);
        let r = htab.get(slot);
        htab.set(slot, ip);
        if r > 0
            && r < ip
            && ip - r - 1 < MAX_OFF
            && input[r + 2] == input[ip + 2]
            && input[r] == input[ip]
            && input[r + 1] == input[ip + 1]
        {
            let off = ip - r - 1;
            let maxlen = (n - ip - 2).min(MAX_REF);
            let op = out.len();
            if op + 4 >= max_out && op - usize::from(lit == 0) + 4 >= max_out {
                return None;
            }
            // Close the literal run (or drop its unused control byte).
            out[op - lit - 1] = (lit as u8).wrapping_sub(1);
            if lit == 0 {
                out.pop();
            }
            let mut len = 2usize;
            let mut stopped = false;
            if maxlen > 16 {
                // liblzf's unrolled first sixteen steps, which do not look at
                // maxlen (so a match may run up to two bytes past it).
                for _ in 0..16 {
                    len += 1;
                    if input[r + len] != input[ip + len] {
                        stopped = true;
                        break;
                    }
                }
            }
            if !stopped {
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            // `len` bytes match; the stored length is len - 2.
            len -= 2;
            ip += 1;
            if len < 7 {
                out.push((off >> 8) as u8 + ((len as u8) << 5));
            } else {
                out.push((off >> 8) as u8 + (7 << 5));
                out.push((len - 7) as u8);
            }
            out.push(off as u8);
            lit = 0;
            out.push(0);
            ip += len + 1;
            if ip + 2 >= n {
                break;
            }
            // Hash the last two positions of the match.
            ip -= 2;
            hval = (u32::from(input[ip]) << 8) | u32::from(input[ip + 1]);
            for _ in 0..2 {
                hval = (hval << 8) | u32::from(input[ip + 2]);
                htab.set(idx(hval), ip);
                ip += 1;
            }
        } else {
            if out.len() >= max_out {
                return None;
            }
            push_literal(&mut out, &mut lit, input[ip]);
            ip += 1;
        }
    }
    if out.len() + 3 > max_out {
        return None;
    }
    while ip < n {
        push_literal(&mut out, &mut lit, input[ip]);
        ip += 1;
    }
    let at = out.len() - lit - 1;
    out[at] = (lit as u8).wrapping_sub(1);
    if lit == 0 {
        out.pop();
    }
    Some(out)
}

/// Decompresses `input`, which must make exactly `len` bytes.
///
/// The output grows as it is produced, so a false `len` costs no more than
/// what the input really expands to.
pub fn decompress(input: &[u8], len: u64) -> Result<Vec<u8>, String> {
    if len > (input.len() as u64).saturating_mul(MAX_RATIO) {
        return Err(format!(
            "an LZF string of {} bytes cannot expand to the {len} bytes it claims",
            input.len()
        ));
    }
    let len = usize::try_from(len).map_err(|_| "an LZF string too long for memory")?;
    let mut out: Vec<u8> = Vec::with_capacity(len.min(input.len().saturating_mul(4) + 64));
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            if out.len() + run > len {
                return Err("an LZF string expands past its length".into());
            }
            let Some(bytes) = input.get(ip..ip + run) else {
                return Err("an LZF literal run is cut short".into());
            };
            out.extend_from_slice(bytes);
            ip += run;
        } else {
            let mut n = ctrl >> 5;
            let mut back = (ctrl & 0x1f) << 8;
            if n == 7 {
                let Some(&b) = input.get(ip) else {
                    return Err("an LZF back reference is cut short".into());
                };
                n += b as usize;
                ip += 1;
            }
            let Some(&b) = input.get(ip) else {
                return Err("an LZF back reference is cut short".into());
            };
            back += b as usize;
            ip += 1;
            n += 2;
            if out.len() + n > len {
                return Err("an LZF string expands past its length".into());
            }
            let Some(from) = out.len().checked_sub(back + 1) else {
                return Err("an LZF back reference points before the start".into());
            };
            for i in 0..n {
                let b = out[from + i];
                out.push(b);
            }
        }
    }
    if out.len() != len {
        return Err(format!(
            "an LZF string expands to {} bytes, not the {len} it claims",
            out.len()
        ));
    }
    Ok(out)
}

/// Appends one literal byte to the run being built; a full run is closed
/// (its length byte filled in) and the next one opened.
fn push_literal(out: &mut Vec<u8>, lit: &mut usize, b: u8) {
    *lit += 1;
    out.push(b);
    if *lit == MAX_LIT {
        let at = out.len() - *lit - 1;
        out[at] = (MAX_LIT - 1) as u8;
        *lit = 0;
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(data: &[u8]) {
        if let Some(c) = compress(data, data.len() + 64) {
            assert_eq!(decompress(&c, data.len() as u64).unwrap(), data);
        }
    }

    #[test]
    fn round_trips() {
        round_trip(b"a");
        round_trip(b"ab");
        round_trip(b"abc");
        round_trip(&[b'a'; 1000]);
        round_trip(&b"abcdefghij".repeat(100));
        let mut x: u32 = 1;
        let noise: Vec<u8> = (0..5000)
            .map(|_| {
                x = x.wrapping_mul(1103515245).wrapping_add(12345);
                (x >> 16) as u8 % 7
            })
            .collect();
        round_trip(&noise);
        for n in 0..300 {
            round_trip(&noise[..n]);
        }
    }

    #[test]
    fn redis_made_strings() {
        // From DUMPs of redis-server 7.0.15: 93 times 'a', and
        // "abcabc..." of 24 bytes.
        let a93 = compress(&[b'a'; 93], 89).unwrap();
        assert_eq!(a93, b"\x01aa\xe0P\x00\x01aa");
        let abc = compress(&b"abc".repeat(8), 20).unwrap();
        assert_eq!(abc, b"\x03abca\xe0\n\x02\x00c");
        assert_eq!(decompress(&abc, 24).unwrap(), b"abc".repeat(8));
    }

    #[test]
    fn too_small_an_output_is_refused() {
        assert_eq!(compress(&[b'a'; 100], 3), None);
        let noise: Vec<u8> = (0..=255u8).collect();
        assert_eq!(compress(&noise, 252), None);
    }

    #[test]
    fn damage_is_an_error() {
        assert!(decompress(b"\x05ab", 6).is_err());
        assert!(decompress(b"\x00a\x20\x05", 5).is_err());
        assert!(decompress(b"\x00a\xe0", 20).is_err());
        assert!(decompress(b"\x00a", 2).is_err());
        assert!(decompress(b"\x00a", u64::MAX).is_err());
        assert!(decompress(b"", 0).unwrap().is_empty());
    }
}
