//! Where RDB bytes are read from (a slice for DUMP payloads, a stream for
//! files) and the encodings every record uses: lengths and strings.
//!
//! Every length read from the data is checked against the bytes that
//! remain before anything is allocated for it; when a stream's size is not
//! known, its bytes are read in bounded steps, so a false length fails at
//! the end of the data having cost no more memory than the data itself.

use std::io::Read;

use super::crc64::Crc64;
use super::{enc, lzf, Error};

/// Bytes read a step at a time when the size of the input is not known.
const STEP: usize = 1 << 20;

pub(crate) trait Input {
    /// Bytes consumed so far (from the start of the file or payload).
    fn offset(&self) -> u64;
    /// Bytes left, when known.
    fn left(&self) -> Option<u64>;
    /// Fills `buf` whole.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), Error>;
    /// The next `n` bytes.
    fn take(&mut self, n: u64) -> Result<Vec<u8>, Error>;

    fn err(&self, reason: impl Into<String>) -> Error {
        Error {
            offset: self.offset(),
            reason: reason.into(),
        }
    }
}

pub(crate) fn cut_short(offset: u64) -> Error {
    Error {
        offset,
        reason: "the data ends early (truncated?)".into(),
    }
}

/// A payload in memory.
pub(crate) struct SliceInput<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> SliceInput<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> SliceInput<'a> {
        SliceInput { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
}

impl Input for SliceInput<'_> {
    fn offset(&self) -> u64 {
        self.pos as u64
    }

    fn left(&self) -> Option<u64> {
        Some((self.buf.len() - self.pos) as u64)
    }

    fn fill(&mut self, out: &mut [u8]) -> Result<(), Error> {
        let Some(b) = self.buf.get(self.pos..self.pos + out.len()) else {
            return Err(cut_short(self.buf.len() as u64));
        };
        out.copy_from_slice(b);
        self.pos += out.len();
        Ok(())
    }

    fn take(&mut self, n: u64) -> Result<Vec<u8>, Error> {
        let left = self.buf.len() - self.pos;
        if n > left as u64 {
            return Err(self.err(format!(
                "a length of {n} bytes runs past the end ({left} left)"
            )));
        }
        let v = self.buf[self.pos..self.pos + n as usize].to_vec();
        self.pos += n as usize;
        Ok(v)
    }
}

/// A file read through its own buffer, with the running CRC-64 of every
/// byte consumed.
pub(crate) struct StreamInput<R> {
    r: R,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    offset: u64,
    len: Option<u64>,
    pub(crate) crc: Crc64,
}

impl<R: Read> StreamInput<R> {
    pub(crate) fn new(r: R, len: Option<u64>) -> StreamInput<R> {
        StreamInput {
            r,
            buf: vec![0u8; 64 << 10].into_boxed_slice(),
            start: 0,
            end: 0,
            offset: 0,
            len,
            crc: Crc64::new(),
        }
    }

    /// Reads more into the buffer; false at the end of the input.
    fn refill(&mut self) -> Result<bool, Error> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        if self.end == self.buf.len() {
            return Ok(true);
        }
        loop {
            match self.r.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.err(format!("cannot read: {e}"))),
            }
        }
    }

    fn consume(&mut self, n: usize, out: &mut [u8]) {
        out.copy_from_slice(&self.buf[self.start..self.start + n]);
        self.crc.update(out);
        self.start += n;
        self.offset += n as u64;
    }

    /// What the buffer holds beyond what was consumed, and the reader.
    pub(crate) fn into_parts(self) -> (R, Vec<u8>) {
        (self.r, self.buf[self.start..self.end].to_vec())
    }
}

impl<R: Read> Input for StreamInput<R> {
    fn offset(&self) -> u64 {
        self.offset
    }

    fn left(&self) -> Option<u64> {
        self.len.map(|l| l.saturating_sub(self.offset))
    }

    fn fill(&mut self, out: &mut [u8]) -> Result<(), Error> {
        let mut done = 0;
        while done < out.len() {
            if self.start == self.end && !self.refill()? {
                return Err(cut_short(self.offset));
            }
            let n = (self.end - self.start).min(out.len() - done);
            self.consume(n, &mut out[done..done + n]);
            done += n;
        }
        Ok(())
    }

    fn take(&mut self, n: u64) -> Result<Vec<u8>, Error> {
        let first = match self.left() {
            Some(left) if n > left => {
                return Err(self.err(format!(
                    "a length of {n} bytes runs past the end of the file ({left} left)"
                )))
            }
            Some(_) => n,
            None => n.min(STEP as u64),
        };
        let n = usize::try_from(n).map_err(|_| self.err("a length too long for memory"))?;
        let mut v = Vec::with_capacity(first as usize);
        while v.len() < n {
            let at = v.len();
            let step = (n - at).min(STEP.max(at));
            v.resize(at + step, 0);
            self.fill(&mut v[at..])?;
        }
        Ok(v)
    }
}

pub(crate) fn u8_(inp: &mut impl Input) -> Result<u8, Error> {
    let mut b = [0u8; 1];
    inp.fill(&mut b)?;
    Ok(b[0])
}

pub(crate) fn bytes<const N: usize>(inp: &mut impl Input) -> Result<[u8; N], Error> {
    let mut b = [0u8; N];
    inp.fill(&mut b)?;
    Ok(b)
}

/// A length field: a length, or the marker of a specially encoded string.
pub(crate) enum Len {
    Len(u64),
    Special(u8),
}

pub(crate) fn len_or_special(inp: &mut impl Input) -> Result<Len, Error> {
    let at = inp.offset();
    let b = u8_(inp)?;
    Ok(match b >> 6 {
        0 => Len::Len(u64::from(b & 0x3f)),
        1 => Len::Len(u64::from(b & 0x3f) << 8 | u64::from(u8_(inp)?)),
        2 => match b {
            enc::LEN_32 => Len::Len(u64::from(u32::from_be_bytes(bytes(inp)?))),
            enc::LEN_64 => Len::Len(u64::from_be_bytes(bytes(inp)?)),
            _ => {
                return Err(Error {
                    offset: at,
                    reason: format!("an unknown length encoding {b:#04x}"),
                })
            }
        },
        _ => Len::Special(b & 0x3f),
    })
}

/// A plain length (a count, a database number...).
pub(crate) fn len(inp: &mut impl Input) -> Result<u64, Error> {
    let at = inp.offset();
    match len_or_special(inp)? {
        Len::Len(n) => Ok(n),
        Len::Special(_) => Err(Error {
            offset: at,
            reason: "an encoded string where a length belongs".into(),
        }),
    }
}

/// A string in any of its encodings, as its bytes.
pub(crate) fn string(inp: &mut impl Input) -> Result<Vec<u8>, Error> {
    let at = inp.offset();
    match len_or_special(inp)? {
        Len::Len(n) => inp.take(n),
        Len::Special(enc::INT8) => Ok((u8_(inp)? as i8).to_string().into_bytes()),
        Len::Special(enc::INT16) => Ok(i16::from_le_bytes(bytes(inp)?).to_string().into_bytes()),
        Len::Special(enc::INT32) => Ok(i32::from_le_bytes(bytes(inp)?).to_string().into_bytes()),
        Len::Special(enc::LZF) => {
            let clen = len(inp)?;
            let ulen = len(inp)?;
            let data = inp.take(clen)?;
            lzf::decompress(&data, ulen).map_err(|reason| Error { offset: at, reason })
        }
        Len::Special(e) => Err(Error {
            offset: at,
            reason: format!("an unknown string encoding {e}"),
        }),
    }
}
