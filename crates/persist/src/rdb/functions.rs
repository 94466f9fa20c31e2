//! Function libraries in RDB data: the FUNCTION2 record (a library's
//! code as one string), the release candidates' record (a single function
//! with its name, engine, optional description and body, read as a library
//! of that name), and FUNCTION DUMP / RESTORE's payload, which is those
//! records followed by the RDB version and the CRC-64, as DUMP's.
//!
//! ```text
//! FUNCTION2       245 | code
//! FUNCTION_PRE_GA 246 | name | engine | has_desc len | [desc] | body
//! payload         record* | version u16 LE | CRC-64 LE of everything before it
//! ```

use super::input::{self, Input, SliceInput};
use super::write::put_string;
use super::{crc64, opcode, VERSION};

/// FUNCTION DUMP's payload for libraries with this code, strings
/// LZF-compressed when `compress` (as `rdbcompression` asks).
pub fn functions_payload<'a>(codes: impl IntoIterator<Item = &'a [u8]>, compress: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(opcode::FUNCTION2);
        // Writing to a vector cannot fail.
        let _ = put_string(&mut out, code, compress);
    }
    out.extend_from_slice(&VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The library code a release candidate's function record stands for:
/// a shebang naming the engine and the function as the library, then the
/// body (the description is not kept).
pub fn pre_ga_code(name: &[u8], engine: &[u8], body: &[u8]) -> Vec<u8> {
    let mut code = Vec::with_capacity(name.len() + engine.len() + body.len() + 9);
    code.extend_from_slice(b"#!");
    code.extend_from_slice(engine);
    code.extend_from_slice(b" name=");
    code.extend_from_slice(name);
    code.push(b'\n');
    code.extend_from_slice(body);
    code
}

/// Reads the rest of a release candidate's function record (after its
/// opcode); the error says which field could not be read.
pub(crate) fn read_pre_ga(inp: &mut impl Input) -> Result<Vec<u8>, &'static str> {
    let name = input::string(inp).map_err(|_| "Failed loading library name")?;
    let engine = input::string(inp).map_err(|_| "Failed loading engine name")?;
    let has_desc = input::len(inp).map_err(|_| "Failed loading library description indicator")?;
    if has_desc != 0 {
        input::string(inp).map_err(|_| "Failed loading library description")?;
    }
    let body = input::string(inp).map_err(|_| "Failed loading library blob")?;
    Ok(pre_ga_code(&name, &engine, &body))
}

/// A FUNCTION RESTORE payload, read a library at a time (the caller
/// creates each library before the next record is read, so the first
/// failure is the one reported, as Redis reports it).
pub struct FunctionsPayload<'a> {
    inp: SliceInput<'a>,
    len: usize,
}

impl<'a> FunctionsPayload<'a> {
    /// Checks the footer (at least ten bytes, a version this build reads, a
    /// matching CRC-64); `Err` holds Redis's message for a payload that
    /// fails it.
    pub fn new(payload: &'a [u8]) -> Result<FunctionsPayload<'a>, &'static str> {
        const WRONG: &str = "DUMP payload version or checksum are wrong";
        if payload.len() < 10 {
            return Err(WRONG);
        }
        let foot = payload.len() - 10;
        let version = u16::from_le_bytes([payload[foot], payload[foot + 1]]);
        if version > VERSION {
            return Err(WRONG);
        }
        let mut crc = [0u8; 8];
        crc.copy_from_slice(&payload[foot + 2..]);
        if crc64(&payload[..foot + 2]) != u64::from_le_bytes(crc) {
            return Err(WRONG);
        }
        Ok(FunctionsPayload {
            inp: SliceInput::new(payload),
            len: payload.len(),
        })
    }
}

impl Iterator for FunctionsPayload<'_> {
    /// A library's code, or Redis's message for a record that cannot be read.
    type Item = Result<Vec<u8>, &'static str>;

    /// Records are read while more than the footer's ten bytes remain; as
    /// Redis reads them, a record may run into the footer (the payload is
    /// read whole), and one that ends inside it is the last.
    fn next(&mut self) -> Option<Self::Item> {
        if self.len.saturating_sub(self.inp.pos()) <= 10 {
            return None;
        }
        let r = match input::u8_(&mut self.inp) {
            Err(_) => Err("can not read data type"),
            Ok(opcode::FUNCTION_PRE_GA) => read_pre_ga(&mut self.inp),
            Ok(opcode::FUNCTION2) => {
                input::string(&mut self.inp).map_err(|_| "Failed loading library payload")
            }
            Ok(_) => Err("given type is not a function"),
        };
        if r.is_err() {
            // Nothing after a bad record is read.
            self.len = 0;
        }
        Some(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
        FunctionsPayload::new(p)?.collect()
    }

    /// A payload with `body` and a correct footer.
    fn with_footer(body: &[u8], version: u16) -> Vec<u8> {
        let mut p = body.to_vec();
        p.extend_from_slice(&version.to_le_bytes());
        let crc = crc64(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    }

    #[test]
    fn empty_dump_is_redis_bytes() {
        // FUNCTION DUMP of redis-server 7.0.15 with no library.
        assert_eq!(
            functions_payload(std::iter::empty(), true),
            b"\n\x00]\x9b\\@\x0f\x7f\xa2\xda"
        );
    }

    #[test]
    fn dump_matches_redis_and_reads_back() {
        // FUNCTION DUMP of redis-server 7.0.15 (too short to compress).
        let code: &[u8] =
            b"#!lua name=lib1\nredis.register_function('f1', function() return 1 end)";
        let redis: &[u8] = b"\xf5@F#!lua name=lib1\nredis.register_function('f1', function() return 1 end)\n\x00\x98\xfaC\x9b\xf0\xa7\xa5\xa2";
        assert_eq!(functions_payload([code], true), redis);
        assert_eq!(read(redis).unwrap(), vec![code.to_vec()]);
        let long = "#!lua name=t\n".to_string() + &"redis.log(1, 'x') ".repeat(40);
        let p = functions_payload([long.as_bytes(), code], true);
        assert!(p.len() < long.len(), "compressed");
        assert_eq!(
            read(&p).unwrap(),
            vec![long.as_bytes().to_vec(), code.to_vec()]
        );
    }

    #[test]
    fn footer_checks() {
        let wrong = Err("DUMP payload version or checksum are wrong");
        assert_eq!(read(b""), wrong);
        assert_eq!(read(b"garbage"), wrong);
        assert_eq!(read(&with_footer(b"", 11)), wrong);
        assert_eq!(read(&with_footer(b"", 1)), Ok(vec![]));
        let mut p = with_footer(b"", 10);
        p[9] ^= 1;
        assert_eq!(read(&p), wrong);
    }

    #[test]
    fn bad_records() {
        assert_eq!(
            read(&with_footer(b"\x00\x01k\x01v", 10)),
            Err("given type is not a function")
        );
        assert_eq!(
            read(&with_footer(b"\xf5\x3f", 10)),
            Err("Failed loading library payload")
        );
        // An integer-encoded string is a library's code like any other.
        assert_eq!(
            read(&with_footer(b"\xf5\xc0\x05", 10)),
            Ok(vec![b"5".to_vec()])
        );
        assert_eq!(
            read(&with_footer(b"\xf6", 10)),
            Err("Failed loading library name")
        );
        assert_eq!(
            read(&with_footer(b"\xf6\x02fa", 10)),
            Err("Failed loading engine name")
        );
        // The reads run into the footer as Redis's do.
        assert_eq!(
            read(&with_footer(b"\xf6\x02fa\x03LUA", 10)),
            Err("Failed loading library blob")
        );
        assert_eq!(
            read(&with_footer(b"\xf6\x02fa\x03LUA\x01", 10)),
            Err("Failed loading library description")
        );
    }

    #[test]
    fn release_candidate_records_become_libraries() {
        let p = with_footer(b"\xf6\x02fb\x03lua\x01\x04desc\x08return 2", 10);
        assert_eq!(read(&p), Ok(vec![b"#!lua name=fb\nreturn 2".to_vec()]));
    }
}
