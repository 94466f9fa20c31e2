//! The `struct` library Redis's Lua carries: `pack`, `unpack` and `size`,
//! converting between Lua values and binary strings described by a format.
//!
//! Behaviour follows what redis-server 7.0.15 shows, error texts included:
//!
//! * `>` / `<` set big / little endian (little is the default), `!n` sets the
//!   maximum alignment (`!` alone: 8; alignment starts at 1, i.e. none), space
//!   is ignored.
//! * `b B` 1 byte, `h H` 2, `l L T` 8, `i I` 4 or `iN IN` N bytes (N up to
//!   32; above 8 bytes only the low 8 carry the value), `f` float, `d`
//!   double, `x` one zero byte, `cN` N bytes of a string (`c0`: the whole
//!   string on pack, a length taken from the previous result on unpack), `s`
//!   a zero-terminated string.
//! * An item of size `n` (capped by the alignment) is aligned on a multiple of
//!   `n` counted from the start of the data; `c`, `s` and `x` never are.
//! * Numbers go to integers by C's truncating conversions (x86-64 results for
//!   out-of-range values: the "integer indefinite" 2^63 bit pattern).
//! * The format ends at its first zero byte.
//!
//! Errors are raised as a C library raises them (plain strings, through
//! `luaL_argerror` / `luaL_typerror` or with `luaL_where`'s prefix), so that
//! `pcall(struct.unpack, ...)` hands scripts the very same message.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int};

use mlua::ffi;

/// Largest size `i`/`I` accept.
const MAX_INT_SIZE: u64 = 32;
/// Alignment `!` without a number selects.
const DEFAULT_ALIGN: u64 = 8;

pub fn open(lua: &mlua::Lua) -> mlua::Result<mlua::Table> {
    let t = lua.create_table()?;
    // SAFETY: the functions follow the Lua C API protocol (they only touch
    // their own stack frame and raise errors through lua_error).
    unsafe {
        t.set("pack", lua.create_c_function(l_pack)?)?;
        t.set("unpack", lua.create_c_function(l_unpack)?)?;
        t.set("size", lua.create_c_function(l_size)?)?;
    }
    Ok(t)
}

/// An error to raise once every Rust value of the failing call is gone.
enum Fail {
    /// A message prefixed with the caller's position, as `luaL_error` does.
    Error(Vec<u8>),
    /// `bad argument #n to 'f' (message)`, as `luaL_argerror` does.
    Arg(c_int, Vec<u8>),
    /// `bad argument #n to 'f' (T expected, got U)`, as `luaL_typerror` does.
    Type(c_int, &'static CStr),
}

/// What is left to do once `push_fail` has put a Fail's text on the stack.
#[derive(Clone, Copy)]
enum Raise {
    Error,
    Arg(c_int),
    Type(c_int, &'static CStr),
}

unsafe fn push_bytes(l: *mut ffi::lua_State, b: &[u8]) {
    ffi::lua_pushlstring(l, b.as_ptr() as *const c_char, b.len());
}

/// Pushes the text of `fail` (consuming it) and says how to raise it.
unsafe fn push_fail(l: *mut ffi::lua_State, fail: Fail) -> Raise {
    match fail {
        Fail::Error(msg) => {
            ffi::luaL_where(l, 1);
            push_bytes(l, &msg);
            ffi::lua_concat(l, 2);
            Raise::Error
        }
        Fail::Arg(narg, msg) => {
            push_bytes(l, &msg);
            Raise::Arg(narg)
        }
        Fail::Type(narg, tname) => Raise::Type(narg, tname),
    }
}

/// Raises; only `Copy` values live in this frame and its callers' frames
/// when it runs, so the longjmp skips no destructor.
unsafe fn raise(l: *mut ffi::lua_State, r: Raise) -> c_int {
    match r {
        Raise::Error => ffi::lua_error(l),
        Raise::Arg(narg) => {
            // The message stays referenced by the stack while argerror formats it.
            let msg = ffi::lua_tolstring(l, -1, std::ptr::null_mut());
            ffi::luaL_argerror(l, narg, msg)
        }
        Raise::Type(narg, tname) => ffi::luaL_typerror(l, narg, tname.as_ptr()),
    }
}

/// Runs `body`, returning its result count or raising its failure.
#[inline(always)]
unsafe fn run(
    l: *mut ffi::lua_State,
    body: unsafe fn(*mut ffi::lua_State) -> Result<c_int, Fail>,
) -> c_int {
    let base = ffi::lua_gettop(l);
    let r = match body(l) {
        Ok(n) => return n,
        Err(f) => {
            if !matches!(f, Fail::Type(..)) {
                // Results pushed so far are of no use, and the message needs room.
                ffi::lua_settop(l, base);
                ffi::lua_checkstack(l, 4);
            }
            push_fail(l, f)
        }
    };
    raise(l, r)
}

unsafe extern "C-unwind" fn l_pack(l: *mut ffi::lua_State) -> c_int {
    run(l, pack)
}

unsafe extern "C-unwind" fn l_unpack(l: *mut ffi::lua_State) -> c_int {
    run(l, unpack)
}

unsafe extern "C-unwind" fn l_size(l: *mut ffi::lua_State) -> c_int {
    run(l, size)
}

/// `luaL_checklstring` without raising. The bytes stay valid while the value
/// sits in its stack slot, i.e. for the rest of the call.
unsafe fn check_string<'a>(l: *mut ffi::lua_State, idx: c_int) -> Result<&'a [u8], Fail> {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    if p.is_null() {
        return Err(Fail::Type(idx, c"string"));
    }
    Ok(std::slice::from_raw_parts(p as *const u8, len))
}

/// `luaL_checknumber` without raising.
unsafe fn check_number(l: *mut ffi::lua_State, idx: c_int) -> Result<f64, Fail> {
    let n = ffi::lua_tonumber(l, idx);
    if n == 0.0 && ffi::lua_isnumber(l, idx) == 0 {
        return Err(Fail::Type(idx, c"number"));
    }
    Ok(n)
}

/// C's `(long long)d` on x86-64: out of range and NaN give i64::MIN.
fn c_f64_to_i64(d: f64) -> i64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    // NaN is in no range.
    if !(-TWO63..TWO63).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// C's `(unsigned long long)d` on x86-64 (gcc's code): below 2^63 it is the
/// signed conversion; from 2^63 on, the value minus 2^63 converted signed,
/// with the top bit flipped (so 2^64 and above give 0).
fn c_f64_to_u64(d: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    if d.is_nan() || d < TWO63 {
        c_f64_to_i64(d) as u64
    } else {
        (c_f64_to_i64(d - TWO63) as u64) ^ (1 << 63)
    }
}

/// How struct turns a number into integer bits: negative numbers through
/// the signed conversion, the others through the unsigned one.
fn number_to_bits(d: f64) -> u64 {
    if d < 0.0 {
        c_f64_to_i64(d) as u64
    } else {
        c_f64_to_u64(d)
    }
}

/// `(float)d` as x86-64 does it, NaN payloads included.
fn f64_to_f32(d: f64) -> f32 {
    if d.is_nan() {
        let b = d.to_bits();
        let sign = ((b >> 63) as u32) << 31;
        let mant = ((b >> 29) as u32 & 0x007f_ffff) | 0x0040_0000;
        f32::from_bits(sign | 0x7f80_0000 | mant)
    } else {
        d as f32
    }
}

/// `(double)f` as x86-64 does it, NaN payloads included.
fn f32_to_f64(f: f32) -> f64 {
    if f.is_nan() {
        let b = f.to_bits();
        let sign = ((b >> 31) as u64) << 63;
        let mant = ((b & 0x007f_ffff) as u64 | 0x0040_0000) << 29;
        f64::from_bits(sign | 0x7ff0_0000_0000_0000 | mant)
    } else {
        f as f64
    }
}

/// State a format sets as it goes.
struct Header {
    little: bool,
    align: u64,
}

impl Header {
    fn new() -> Header {
        Header {
            little: true,
            align: 1,
        }
    }
}

/// A format string read byte by byte; it ends at its first zero byte.
struct Format<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Format<'a> {
    fn new(s: &'a [u8]) -> Format<'a> {
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        Format {
            bytes: &s[..end],
            at: 0,
        }
    }

    fn next(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    /// A decimal number following an option, or `default` when none does;
    /// it must fit a C int.
    fn number(&mut self, default: u64) -> Result<u64, Fail> {
        let mut seen = false;
        let mut n: i64 = 0;
        while let Some(&b) = self.bytes.get(self.at) {
            if !b.is_ascii_digit() {
                break;
            }
            seen = true;
            n = n * 10 + i64::from(b - b'0');
            if n > i64::from(i32::MAX) {
                return Err(Fail::Error(b"integral size overflow".to_vec()));
            }
            self.at += 1;
        }
        Ok(if seen { n as u64 } else { default })
    }

    /// The size option `opt` occupies (0 for those without one), reading
    /// its number if it takes one.
    fn size_of(&mut self, opt: u8) -> Result<u64, Fail> {
        Ok(match opt {
            b'b' | b'B' | b'x' => 1,
            b'h' | b'H' => 2,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let n = self.number(4)?;
                if n > MAX_INT_SIZE {
                    return Err(Fail::Error(
                        format!("integral size {n} is larger than limit of {MAX_INT_SIZE}")
                            .into_bytes(),
                    ));
                }
                n
            }
            _ => 0,
        })
    }

    /// The options that change the header (and the error for unknown ones).
    fn control(&mut self, opt: u8, h: &mut Header) -> Result<(), Fail> {
        match opt {
            b' ' => {}
            b'>' => h.little = false,
            b'<' => h.little = true,
            b'!' => {
                let a = self.number(DEFAULT_ALIGN)?;
                if !a.is_power_of_two() {
                    return Err(Fail::Error(
                        format!("alignment {a} is not a power of 2").into_bytes(),
                    ));
                }
                h.align = a;
            }
            _ => {
                let mut msg = b"invalid format option '".to_vec();
                msg.push(opt);
                msg.push(b'\'');
                return Err(Fail::Arg(1, msg));
            }
        }
        Ok(())
    }
}

/// Padding before an item of `size` bytes at offset `at`.
fn padding(at: u64, h: &Header, opt: u8, size: u64) -> u64 {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let s = size.min(h.align);
    s.wrapping_sub(at & (s - 1)) & (s - 1)
}

/// The integer bytes of `v` (size bytes; zeros past the 8th).
fn put_integer(out: &mut Vec<u8>, v: u64, little: bool, size: u64) {
    let start = out.len();
    let le = v.to_le_bytes();
    for i in 0..size as usize {
        out.push(le.get(i).copied().unwrap_or(0));
    }
    if !little {
        out[start..].reverse();
    }
}

/// Reads an integer: the low 8 bytes make the value; a signed one is sign
/// extended from bit (8*size - 1) mod 64, as the C shift on x86-64 does.
fn get_integer(data: &[u8], little: bool, signed: bool) -> f64 {
    let mut v: u64 = 0;
    let mut fold = |b: u8| v = (v << 8) | u64::from(b);
    if little {
        data.iter().rev().for_each(|&b| fold(b));
    } else {
        data.iter().for_each(|&b| fold(b));
    }
    if signed {
        let shift = (data.len() as u64).wrapping_mul(8).wrapping_sub(1) & 63;
        let mask = !0u64 << shift;
        if v & mask != 0 {
            v |= mask;
        }
        v as i64 as f64
    } else {
        v as f64
    }
}

fn ordered<const N: usize>(mut b: [u8; N], little: bool) -> [u8; N] {
    if !little {
        b.reverse();
    }
    b
}

unsafe fn pack(l: *mut ffi::lua_State) -> Result<c_int, Fail> {
    let mut fmt = Format::new(check_string(l, 1)?);
    // An argument missing past the last one reads as nil, not "no value".
    ffi::lua_pushnil(l);
    let mut h = Header::new();
    let mut arg: c_int = 2;
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = fmt.next() {
        let size = fmt.size_of(opt)?;
        let pad = padding(out.len() as u64, &h, opt, size);
        out.resize(out.len() + pad as usize, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(l, arg)?;
                arg += 1;
                put_integer(&mut out, number_to_bits(n), h.little, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let n = check_number(l, arg)?;
                arg += 1;
                let b = f64_to_f32(n).to_le_bytes();
                out.extend_from_slice(&ordered(b, h.little));
            }
            b'd' => {
                let n = check_number(l, arg)?;
                arg += 1;
                out.extend_from_slice(&ordered(n.to_le_bytes(), h.little));
            }
            b'c' => {
                let s = check_string(l, arg)?;
                arg += 1;
                let want = if size == 0 { s.len() as u64 } else { size };
                if (s.len() as u64) < want {
                    // Reported against the argument after the string.
                    return Err(Fail::Arg(arg, b"string too short".to_vec()));
                }
                out.extend_from_slice(&s[..want as usize]);
            }
            b's' => {
                let s = check_string(l, arg)?;
                arg += 1;
                out.extend_from_slice(s);
                out.push(0);
            }
            _ => fmt.control(opt, &mut h)?,
        }
    }
    push_bytes(l, &out);
    Ok(1)
}

unsafe fn unpack(l: *mut ffi::lua_State) -> Result<c_int, Fail> {
    let mut fmt = Format::new(check_string(l, 1)?);
    let data = check_string(l, 2)?;
    let ld = data.len() as u64;
    let start = if ffi::lua_type(l, 3) <= ffi::LUA_TNIL {
        1
    } else {
        let n = ffi::lua_tonumber(l, 3);
        if n == 0.0 && ffi::lua_isnumber(l, 3) == 0 {
            return Err(Fail::Type(3, c"number"));
        }
        c_f64_to_i64(n) as u64
    };
    if start == 0 {
        return Err(Fail::Arg(3, b"offset must be 1 or greater".to_vec()));
    }
    let too_short = || Fail::Arg(2, b"data string too short".to_vec());
    let mut pos = start - 1;
    let mut h = Header::new();
    let mut results: c_int = 0;
    while let Some(opt) = fmt.next() {
        let mut size = fmt.size_of(opt)?;
        pos = pos
            .checked_add(padding(pos, &h, opt, size))
            .ok_or_else(too_short)?;
        if size > ld || pos > ld - size {
            return Err(too_short());
        }
        if ffi::lua_checkstack(l, 2) == 0 {
            return Err(Fail::Error(b"stack overflow (too many results)".to_vec()));
        }
        let item = |pos: u64, size: u64| &data[pos as usize..(pos + size) as usize];
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                ffi::lua_pushnumber(l, get_integer(item(pos, size), h.little, signed));
                results += 1;
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = item(pos, 4).try_into().unwrap_or_default();
                let f = f32::from_le_bytes(ordered(b, h.little));
                ffi::lua_pushnumber(l, f32_to_f64(f));
                results += 1;
            }
            b'd' => {
                let b: [u8; 8] = item(pos, 8).try_into().unwrap_or_default();
                ffi::lua_pushnumber(l, f64::from_le_bytes(ordered(b, h.little)));
                results += 1;
            }
            b'c' => {
                if size == 0 {
                    if results == 0 || ffi::lua_isnumber(l, -1) == 0 {
                        return Err(Fail::Error(b"format 'c0' needs a previous size".to_vec()));
                    }
                    size = c_f64_to_u64(ffi::lua_tonumber(l, -1));
                    ffi::lua_pop(l, 1);
                    results -= 1;
                    if size > ld || pos > ld - size {
                        return Err(too_short());
                    }
                }
                push_bytes(l, item(pos, size));
                results += 1;
            }
            b's' => {
                let rest = &data[pos as usize..];
                let Some(len) = rest.iter().position(|&b| b == 0) else {
                    return Err(Fail::Error(b"unfinished string in data".to_vec()));
                };
                push_bytes(l, &rest[..len]);
                results += 1;
                size = len as u64 + 1;
            }
            _ => fmt.control(opt, &mut h)?,
        }
        pos += size;
    }
    ffi::lua_pushinteger(l, pos.wrapping_add(1) as ffi::lua_Integer);
    Ok(results + 1)
}

unsafe fn size(l: *mut ffi::lua_State) -> Result<c_int, Fail> {
    let mut fmt = Format::new(check_string(l, 1)?);
    let mut h = Header::new();
    let mut pos: u64 = 0;
    while let Some(opt) = fmt.next() {
        let size = fmt.size_of(opt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if opt == b's' {
            return Err(Fail::Arg(1, b"option 's' has no fixed size".to_vec()));
        }
        if opt == b'c' && size == 0 {
            return Err(Fail::Arg(1, b"option 'c0' has no fixed size".to_vec()));
        }
        // Unknown letters and digits count for nothing here.
        if !opt.is_ascii_alphanumeric() {
            fmt.control(opt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    ffi::lua_pushinteger(l, pos as ffi::lua_Integer);
    Ok(1)
}

#[cfg(test)]
mod tests {
    fn check(cases: &[(&str, &str)]) {
        crate::libs::testing::check("struct", super::open, cases)
    }

    #[test]
    fn pack_integer_bytes() {
        check(&[
            (
                r#"return H(struct.pack(">i2", 1), struct.pack("<i2", 1), struct.pack("i", -2))"#,
                r#"0001, 0100, feffffff"#,
            ),
            (
                r#"return H(struct.pack("b B h H l L T", -1, 255, -3, 65535, -5, 6, 7))"#,
                r#"fffffdfffffffbffffffffffffff06000000000000000700000000000000"#,
            ),
            (
                r#"return H(struct.pack("i3", -2), struct.pack(">i3", 0x123456), struct.pack(">I5", 2^39+1))"#,
                r#"feffff, 123456, 8000000001"#,
            ),
            (
                r#"return H(struct.pack("i16", -1), struct.pack(">i16", -1), struct.pack("<I12", -2))"#,
                r#"ffffffffffffffff0000000000000000, 0000000000000000ffffffffffffffff, feffffffffffffff00000000"#,
            ),
            (
                r#"return H(struct.pack("i9", 1), struct.pack("i32", 1))"#,
                r#"010000000000000000, 0100000000000000000000000000000000000000000000000000000000000000"#,
            ),
            (
                r#"return sh(struct.pack("i0", 1), struct.pack("I0", 1))"#,
                r#""", """#,
            ),
            (
                r#"return H(struct.pack("h", 70000), struct.pack("H", -70000), struct.pack("B", 256), struct.pack("B", -1), struct.pack("b", 200))"#,
                r#"7011, 90ee, 00, ff, c8"#,
            ),
        ]);
    }

    #[test]
    fn pack_number_conversion() {
        check(&[
            (
                r#"return H(struct.pack("b", 1.9), struct.pack("b", -1.9), struct.pack("l", -0.5))"#,
                r#"01, ff, 0000000000000000"#,
            ),
            (
                r#"return H(struct.pack("l", 2^63), struct.pack("l", 2^64), struct.pack("l", 2^65), struct.pack("l", -2^63), struct.pack("l", -2^64))"#,
                r#"0000000000000080, 0000000000000000, 0000000000000000, 0000000000000080, 0000000000000080"#,
            ),
            (
                r#"return H(struct.pack("l", 0/0), struct.pack("l", 1/0), struct.pack("l", -1/0))"#,
                r#"0000000000000080, 0000000000000000, 0000000000000080"#,
            ),
            (
                r#"return H(struct.pack("L", 2^63+2^20), struct.pack("I", 4294967296.7), struct.pack("i", 2^32+5), struct.pack("I", -1))"#,
                r#"0000100000000080, 00000000, 05000000, ffffffff"#,
            ),
            (
                r#"return H(struct.pack("l", 9007199254740993), struct.pack("I16", 2^70))"#,
                r#"0000000000002000, 00000000000000000000000000000000"#,
            ),
            (
                r#"return H(struct.pack("i", "0x10"), struct.pack("i", " 12 "), struct.pack("f", "1.5"))"#,
                r#"10000000, 0c000000, 0000c03f"#,
            ),
        ]);
    }

    #[test]
    fn pack_floats() {
        check(&[
            (
                r#"return H(struct.pack(">f", 0.1), struct.pack(">d", 0.1), struct.pack("<d", 0.1))"#,
                r#"3dcccccd, 3fb999999999999a, 9a9999999999b93f"#,
            ),
            (
                r#"return H(struct.pack(">f", 0/0), struct.pack(">d", 0/0), struct.pack(">d", 1/0), struct.pack(">d", -0.0))"#,
                r#"ffc00000, fff8000000000000, 7ff0000000000000, 0000000000000000"#,
            ),
            (
                r#"return H(struct.pack(">f", 1e300), struct.pack(">f", -1e-50), struct.pack(">f", 3.4028235677973366e38), struct.pack(">f", 1.0000000596046448))"#,
                r#"7f800000, 80000000, 7f800000, 3f800000"#,
            ),
        ]);
    }

    #[test]
    fn pack_strings() {
        check(&[
            (
                r#"return H(struct.pack("c0", "hello"), struct.pack("c3", "hello"), struct.pack("c", "hello"))"#,
                r#"68656c6c6f, 68656c, 68"#,
            ),
            (
                r#"return H(struct.pack("s", "hel\0lo"), struct.pack("sB", "hi", 3))"#,
                r#"68656c006c6f00, 68690003"#,
            ),
            (
                r#"return H(struct.pack("c0", 1.5), struct.pack("c2", 1.5), struct.pack("s", 123))"#,
                r#"312e35, 312e, 31323300"#,
            ),
            (
                r#"return H(struct.pack("xxbx", 7), struct.pack("x"), struct.pack(" b  ", 1))"#,
                r#"00000700, 00, 01"#,
            ),
            (
                r#"return H(struct.pack("b\0z", 1), struct.pack("i", 1, 2, 3))"#,
                r#"01, 01000000"#,
            ),
        ]);
    }

    #[test]
    fn alignment() {
        check(&[
            (
                r#"return H(struct.pack("!4 b i", 1, 2), struct.pack("!4 b xi", 1, 2), struct.pack("!xi", 7))"#,
                r#"0100000002000000, 0100000002000000, 0000000007000000"#,
            ),
            (
                r#"return H(struct.pack("!8 b d", 1, 2), struct.pack("!8 b f", 1, 2), struct.pack(">!8 b d", 1, 2.5))"#,
                r#"01000000000000000000000000000040, 0100000000000040, 01000000000000004004000000000000"#,
            ),
            (
                r#"return H(struct.pack("!4 b i0 b", 1, 2, 3), struct.pack("!4 b c2 b", 1, "ab", 3), struct.pack("!4 b s b", 1, "ab", 3))"#,
                r#"0103, 01616203, 0161620003"#,
            ),
            (
                r#"return H(struct.pack("!4 s i", "ab", 1), struct.pack("!8 b T", 1, 2), struct.pack("!8 b !2 i", 1, 2))"#,
                r#"6162000001000000, 01000000000000000200000000000000, 010002000000"#,
            ),
            (
                r#"return H(struct.pack("<!2>i<h", 1, 2), struct.pack("!2!4bi!bi", 1, 2, 3, 4))"#,
                r#"000000010200, 01000000020000000300000004000000"#,
            ),
            (
                r#"return sh(struct.size("!bi"), struct.size("!2bi"), struct.size("!bd"), struct.size("!bf"), struct.size("!bh"), struct.size("!bl"), struct.size("!bc5"))"#,
                r#"8, 6, 16, 8, 4, 16, 6"#,
            ),
            (
                r#"return sh(struct.size("!bi3"), struct.size("!4bbi3"), struct.size("!4bbbi3"), struct.size("!16bi16"), struct.size("!bi16"))"#,
                r#"6, 5, 6, 32, 24"#,
            ),
            (
                r#"return sh(struct.size("!8 bI5"), struct.size("!8 bbI5"), struct.size("!8 bbbbbI5"), struct.size("!8 bbbbbbI7"), struct.size("!16 bbi12"), struct.size("!16 bbbbbi12"))"#,
                r#"10, 11, 10, 13, 24, 28"#,
            ),
            (
                r#"return sh(struct.size("!1073741824 b i16"), struct.size("!1073741824 b c3 d"), struct.size("!64bi"), struct.size("!8 b!"), struct.size("!8 b!i"))"#,
                r#"32, 16, 8, 1, 8"#,
            ),
            (
                r#"return sh(struct.unpack("!4 i", "abcdefgh", 2))"#,
                r#"1751606885, 9"#,
            ),
            (
                r#"return sh(struct.unpack("!4 bi3", "abcdefg"))"#,
                r#"97, 6710628, 7"#,
            ),
            (
                r#"return sh(struct.unpack("!4 bbi3", "abcdefg"))"#,
                r#"97, 98, 6644835, 6"#,
            ),
            (
                r#"return sh(struct.unpack("!2 b d", "\1\0\0\0\0\0\0\0\240\63"))"#,
                r#"1, 1, 11"#,
            ),
        ]);
    }

    #[test]
    fn size() {
        check(&[
            (
                r#"return sh(struct.size("i"), struct.size(""), struct.size("x"), struct.size("bxb  b"), struct.size("Tb"), struct.size("i00004"))"#,
                r#"4, 0, 1, 4, 9, 4"#,
            ),
            (
                r#"return sh(struct.size("z"), struct.size("b3"), struct.size("x3"), struct.size(12), struct.size("i\0z"))"#,
                r#"0, 1, 1, 0, 4"#,
            ),
            (
                r#"return sh(struct.size("c2147483647"), struct.size("c2147483647c2147483647"))"#,
                r#"2147483647, 4294967294"#,
            ),
        ]);
    }

    #[test]
    fn unpack_integers() {
        check(&[
            (r#"return sh(struct.unpack("<i2", "\1\2"))"#, r#"513, 3"#),
            (r#"return sh(struct.unpack(">i2", "\255\254"))"#, r#"-2, 3"#),
            (
                r#"return sh(struct.unpack(">I2", "\255\254"))"#,
                r#"65534, 3"#,
            ),
            (
                r#"return sh(struct.unpack("b B h H", "\255\255\254\255\254\255"))"#,
                r#"-1, 255, -2, 65534, 7"#,
            ),
            (
                r#"return sh(struct.unpack("l", "\255\255\255\255\255\255\255\255"))"#,
                r#"-1, 9"#,
            ),
            (
                r#"return sh(struct.unpack("L", "\255\255\255\255\255\255\255\255"))"#,
                r#"1.8446744073709552e+19, 9"#,
            ),
            (
                r#"return sh(struct.unpack("l", "\1\0\0\0\0\0\0\128"))"#,
                r#"-9.2233720368547758e+18, 9"#,
            ),
            (
                r#"return sh(struct.unpack("i3", "\255\255\255"))"#,
                r#"-1, 4"#,
            ),
            (
                r#"return sh(struct.unpack("i3", "\255\255\127"))"#,
                r#"8388607, 4"#,
            ),
            (r#"return sh(struct.unpack("i0", "abc"))"#, r#"0, 1"#),
            (
                r#"return sh(struct.unpack("i32", string.rep("\255", 32)))"#,
                r#"-1, 33"#,
            ),
            (
                r#"return sh(struct.unpack("i", "abcd", nil))"#,
                r#"1684234849, 5"#,
            ),
            (r#"return sh(struct.unpack("b", 5))"#, r#"53, 2"#),
        ]);
    }

    #[test]
    fn unpack_wide_integers() {
        check(&[
            (
                r#"return sh(struct.unpack("i9", "\128\0\0\0\0\0\0\0\0"))"#,
                r#"-128, 10"#,
            ),
            (
                r#"return sh(struct.unpack("i9", "\0\0\0\0\0\0\0\0\1"))"#,
                r#"0, 10"#,
            ),
            (
                r#"return sh(struct.unpack("i9", "\0\0\0\0\0\0\0\64\0"))"#,
                r#"-128, 10"#,
            ),
            (
                r#"return sh(struct.unpack("I9", "\0\0\0\0\0\0\0\128\0"))"#,
                r#"9.2233720368547758e+18, 10"#,
            ),
            (
                r#"return sh(struct.unpack("i12", "\0\0\0\128\0\0\0\0\0\0\0\0"))"#,
                r#"-2147483648, 13"#,
            ),
            (
                r#"return sh(struct.unpack("i12", "\0\0\0\8\0\0\0\0\0\0\0\0"))"#,
                r#"134217728, 13"#,
            ),
            (
                r#"return sh(struct.unpack("i16", "\255\255\255\255\255\255\255\127\0\0\0\0\0\0\0\0"))"#,
                r#"9.2233720368547758e+18, 17"#,
            ),
            (
                r#"return sh(struct.unpack("i16", "\0\0\0\0\0\0\0\128\0\0\0\0\0\0\0\0"))"#,
                r#"-9.2233720368547758e+18, 17"#,
            ),
            (
                r#"return sh(struct.unpack(">i12", "\0\0\0\0\0\0\0\0\0\0\0\1"))"#,
                r#"1, 13"#,
            ),
        ]);
    }

    #[test]
    fn unpack_floats() {
        check(&[
            (
                r#"return sh(struct.unpack(">f", "\63\128\0\0"))"#,
                r#"1, 5"#,
            ),
            (
                r#"return sh(struct.unpack("<f", "\205\204\204\61"))"#,
                r#"0.10000000149011612, 5"#,
            ),
            (
                r#"return sh(struct.unpack(">f", "\127\192\0\1"))"#,
                r#"nan, 5"#,
            ),
            (
                r#"return sh(struct.unpack("<f", "\0\0\192\255"))"#,
                r#"-nan, 5"#,
            ),
            (
                r#"return sh(struct.unpack("<d", "\0\0\0\0\0\0\240\127"))"#,
                r#"inf, 9"#,
            ),
            (
                r#"return sh(struct.unpack("<d", "\0\0\0\0\0\0\248\255"))"#,
                r#"-nan, 9"#,
            ),
            (
                r#"return sh(struct.unpack(">d", "\63\185\153\153\153\153\153\154"))"#,
                r#"0.10000000000000001, 9"#,
            ),
        ]);
    }

    #[test]
    fn unpack_strings() {
        check(&[
            (r#"return sh(struct.unpack("bc0", "\2abc"))"#, r#""ab", 4"#),
            (r#"return sh(struct.unpack("Bc0B", "\0\7"))"#, r#""", 7, 3"#),
            (
                r#"return sh(struct.unpack("sc0", "3\0abc"))"#,
                r#""abc", 6"#,
            ),
            (r#"return sh(struct.unpack("c1c0", "2abc"))"#, r#""ab", 4"#),
            (
                r#"return sh(struct.unpack("c4c0", "0x2 abc"))"#,
                r#""ab", 7"#,
            ),
            (
                r#"return sh(struct.unpack("dc0", "\0\0\0\0\0\0\4\64abc"))"#,
                r#""ab", 11"#,
            ),
            (r#"return sh(struct.unpack("s", "ab\0cd\0"))"#, r#""ab", 4"#),
            (
                r#"return sh(struct.unpack("ss", "ab\0cd\0"))"#,
                r#""ab", "cd", 7"#,
            ),
            (
                r#"return sh(struct.unpack("c3", "abcdef", 2))"#,
                r#""bcd", 5"#,
            ),
            (
                r#"return sh(struct.unpack("c3", "abcdef", 4))"#,
                r#""def", 7"#,
            ),
            (r#"return sh(struct.unpack("xb", "ab"))"#, r#"98, 3"#),
            (r#"return sh(struct.unpack("x", "a"))"#, r#"2"#),
        ]);
    }

    #[test]
    fn unpack_positions() {
        check(&[
            (r#"return sh(struct.unpack("", "abcdef", 100))"#, r#"100"#),
            (r#"return sh(struct.unpack("", "abc", -1))"#, r#"-1"#),
            (r#"return sh(struct.unpack("", "abc", -5))"#, r#"-5"#),
            (
                r#"return sh(struct.unpack("", "abc", 1e300))"#,
                r#"-9.2233720368547758e+18"#,
            ),
            (
                r#"return sh(struct.unpack("b", "abcdef", 2.7))"#,
                r#"98, 3"#,
            ),
            (
                r#"return sh(struct.unpack("b", "abcdef", "2"))"#,
                r#"98, 3"#,
            ),
            (r#"return sh(struct.unpack("i0", "abc", 4))"#, r#"0, 4"#),
            (r#"return sh(struct.unpack("!4 i0", "abc", 3))"#, r#"0, 3"#),
        ]);
    }

    #[test]
    fn pack_errors() {
        check(&[
            (
                r#"return sh(pcall(struct.pack, "z", 1))"#,
                r#"false, "bad argument #1 to '?' (invalid format option 'z')""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "bz", 1))"#,
                r#"false, "bad argument #1 to '?' (invalid format option 'z')""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "5", 1))"#,
                r#"false, "bad argument #1 to '?' (invalid format option '5')""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "x3"))"#,
                r#"false, "bad argument #1 to '?' (invalid format option '3')""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "="))"#,
                r#"false, "bad argument #1 to '?' (invalid format option '=')""#,
            ),
            (
                r#"return sh(pcall(struct.pack, 5))"#,
                r#"false, "bad argument #1 to '?' (invalid format option '5')""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "c6", "hello"))"#,
                r#"false, "bad argument #3 to '?' (string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "c0c5", "abc", "abcd"))"#,
                r#"false, "bad argument #4 to '?' (string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "c2147483647", "a"))"#,
                r#"false, "bad argument #3 to '?' (string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "c9999999999", "a"))"#,
                r#"false, "integral size overflow""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "i99999999999", 1))"#,
                r#"false, "integral size overflow""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "c2147483648", "a"))"#,
                r#"false, "integral size overflow""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "i33", 1))"#,
                r#"false, "integral size 33 is larger than limit of 32""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "I2147483647", 1))"#,
                r#"false, "integral size 2147483647 is larger than limit of 32""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "!3"))"#,
                r#"false, "alignment 3 is not a power of 2""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "!0"))"#,
                r#"false, "alignment 0 is not a power of 2""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "!2147483648"))"#,
                r#"false, "integral size overflow""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "i"))"#,
                r#"false, "bad argument #2 to '?' (number expected, got nil)""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "bbb", 1, 2))"#,
                r#"false, "bad argument #4 to '?' (number expected, got nil)""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "bbb", 1, 2, nil))"#,
                r#"false, "bad argument #4 to '?' (number expected, got nil)""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "bbbc", 1, 2, 3))"#,
                r#"false, "bad argument #5 to '?' (string expected, got nil)""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "i", "x"))"#,
                r#"false, "bad argument #2 to '?' (number expected, got string)""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "f", "x"))"#,
                r#"false, "bad argument #2 to '?' (number expected, got string)""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "d"))"#,
                r#"false, "bad argument #2 to '?' (number expected, got nil)""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "b", true))"#,
                r#"false, "bad argument #2 to '?' (number expected, got boolean)""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "c", {}))"#,
                r#"false, "bad argument #2 to '?' (string expected, got table)""#,
            ),
            (
                r#"return sh(pcall(struct.pack, "s", nil))"#,
                r#"false, "bad argument #2 to '?' (string expected, got nil)""#,
            ),
            (
                r#"return sh(pcall(struct.pack))"#,
                r#"false, "bad argument #1 to '?' (string expected, got no value)""#,
            ),
            (
                r#"return sh(pcall(struct.pack, {}))"#,
                r#"false, "bad argument #1 to '?' (string expected, got table)""#,
            ),
            (
                r#"return H(select(2, pcall(struct.pack, "\200")))"#,
                r#"62616420617267756d656e7420233120746f20273f272028696e76616c696420666f726d6174206f7074696f6e2027c82729"#,
            ),
        ]);
    }

    #[test]
    fn size_errors() {
        check(&[
            (
                r#"return sh(pcall(struct.size, "s"))"#,
                r#"false, "bad argument #1 to '?' (option 's' has no fixed size)""#,
            ),
            (
                r#"return sh(pcall(struct.size, "c0"))"#,
                r#"false, "bad argument #1 to '?' (option 'c0' has no fixed size)""#,
            ),
            (
                r#"return sh(pcall(struct.size, "c00"))"#,
                r#"false, "bad argument #1 to '?' (option 'c0' has no fixed size)""#,
            ),
            (
                r#"return sh(pcall(struct.size, "<>=i"))"#,
                r#"false, "bad argument #1 to '?' (invalid format option '=')""#,
            ),
            (
                r#"return sh(pcall(struct.size, "i-1"))"#,
                r#"false, "bad argument #1 to '?' (invalid format option '-')""#,
            ),
            (
                r#"return sh(pcall(struct.size, "!17"))"#,
                r#"false, "alignment 17 is not a power of 2""#,
            ),
            (
                r#"return sh(pcall(struct.size, "!99999999999"))"#,
                r#"false, "integral size overflow""#,
            ),
            (
                r#"return sh(pcall(struct.size, "i2147483647"))"#,
                r#"false, "integral size 2147483647 is larger than limit of 32""#,
            ),
            (
                r#"return sh(pcall(struct.size))"#,
                r#"false, "bad argument #1 to '?' (string expected, got no value)""#,
            ),
            (
                r#"return sh(pcall(struct.size, {}))"#,
                r#"false, "bad argument #1 to '?' (string expected, got table)""#,
            ),
            (
                r#"return H(select(2, pcall(struct.size, "\200")))"#,
                r#"62616420617267756d656e7420233120746f20273f272028696e76616c696420666f726d6174206f7074696f6e2027c82729"#,
            ),
        ]);
    }

    #[test]
    fn unpack_errors() {
        check(&[
            (
                r#"return sh(pcall(struct.unpack, "z", "abc"))"#,
                r#"false, "bad argument #1 to '?' (invalid format option 'z')""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "c0", "abc"))"#,
                r#"false, "format 'c0' needs a previous size""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "c2c0", "xxabc"))"#,
                r#"false, "format 'c0' needs a previous size""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "c1c0", " 2 abc"))"#,
                r#"false, "format 'c0' needs a previous size""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "bc0", "\5abc"))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "bc0", "\255abc"))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "dc0", "\0\0\0\0\0\0\240\191abc"))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "dc0", "\0\0\0\0\0\0\248\127abc"))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "s", "abc"))"#,
                r#"false, "unfinished string in data""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "sss", "ab\0cd\0"))"#,
                r#"false, "unfinished string in data""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "s", "abc", 4))"#,
                r#"false, "unfinished string in data""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "s", "abc", 5))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "c3", "abcdef", 5))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "c3", "abcdef", 0))"#,
                r#"false, "bad argument #3 to '?' (offset must be 1 or greater)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "c3", "abcdef", -1))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "!4 i", "abcdefgh", -1))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "!8 d", "abcdefgh", -1))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "b", "abcdef", 1e300))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "b", "abcdef", 0/0))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "i0", "abc", 5))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "c0", "abc", 5))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "b", "abcdef", "x"))"#,
                r#"false, "bad argument #3 to '?' (number expected, got string)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "i", "abcd", false))"#,
                r#"false, "bad argument #3 to '?' (number expected, got boolean)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "b"))"#,
                r#"false, "bad argument #2 to '?' (string expected, got no value)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "b", {}))"#,
                r#"false, "bad argument #2 to '?' (string expected, got table)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack))"#,
                r#"false, "bad argument #1 to '?' (string expected, got no value)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "i", "abc"))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "x", ""))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "c9999999999", "abc"))"#,
                r#"false, "integral size overflow""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "c2147483647", "abc"))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "!4 bi", "abcdefg"))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "i40", "abc"))"#,
                r#"false, "integral size 40 is larger than limit of 32""#,
            ),
        ]);
    }

    #[test]
    fn error_positions() {
        check(&[
            (
                r#"return sh(pcall(function() return struct.pack("i", "x") end))"#,
                r#"false, "user_script:5: bad argument #2 to 'pack' (number expected, got string)""#,
            ),
            (
                r#"return sh(pcall(function() return struct.pack("bbb", 1, 2) end))"#,
                r#"false, "user_script:5: bad argument #4 to 'pack' (number expected, got nil)""#,
            ),
            (
                r#"return sh(pcall(function() return struct.pack("!5") end))"#,
                r#"false, "user_script:5: alignment 5 is not a power of 2""#,
            ),
            (
                r#"return sh(pcall(function() return struct.pack("i40") end))"#,
                r#"false, "user_script:5: integral size 40 is larger than limit of 32""#,
            ),
            (
                r#"return sh(pcall(function() return struct.unpack("bc0", "\255abc") end))"#,
                r#"false, "user_script:5: bad argument #2 to 'unpack' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(function() return struct.unpack("s", "abc") end))"#,
                r#"false, "user_script:5: unfinished string in data""#,
            ),
            (
                r#"return sh(pcall(function() return struct.unpack("c0", "abc") end))"#,
                r#"false, "user_script:5: format 'c0' needs a previous size""#,
            ),
            (
                r#"return sh(pcall(function() return struct.size("s") end))"#,
                r#"false, "user_script:5: bad argument #1 to 'size' (option 's' has no fixed size)""#,
            ),
        ]);
    }

    #[test]
    fn too_many_results() {
        check(&[
            (
                r#"return sh(pcall(function() return select('#', struct.unpack(string.rep("b", 7997), string.rep("a", 10000))) end))"#,
                r#"true, 7998"#,
            ),
            (
                r#"return sh(pcall(function() return select('#', struct.unpack(string.rep("b", 7998), string.rep("a", 10000))) end))"#,
                r#"false, "user_script:5: stack overflow (too many results)""#,
            ),
            (
                r#"return sh(pcall(function() return select('#', struct.unpack(string.rep("b", 7997), string.rep("a", 10000), 1)) end))"#,
                r#"false, "user_script:5: stack overflow (too many results)""#,
            ),
            (
                r#"return sh(pcall(function() return select('#', struct.unpack(string.rep("b", 7995), string.rep("a", 10000), 1, 1, 1)) end))"#,
                r#"false, "user_script:5: stack overflow (too many results)""#,
            ),
            (
                r#"return sh(pcall(function() return struct.unpack(string.rep("b", 10000), string.rep("a", 10000)) end))"#,
                r#"false, "user_script:5: stack overflow (too many results)""#,
            ),
        ]);
    }

    #[test]
    fn library_and_hostile_inputs() {
        check(&[
            (
                r#"local t = {} for k, v in pairs(struct) do t[#t+1] = k .. ":" .. type(v) end table.sort(t) return table.concat(t, ",")"#,
                r#"pack:function,size:function,unpack:function"#,
            ),
            (
                r#"return sh(#struct.pack(string.rep("x", 100000)))"#,
                r#"100000"#,
            ),
            (
                r#"return sh(struct.size(string.rep("c2147483647", 1000)))"#,
                r#"2147483647000"#,
            ),
            (
                r#"return sh(pcall(struct.unpack, string.rep("i32", 1000), "abc"))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "c2147483647c2147483647", string.rep("a", 100)))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "i", "abcd", 2^53))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.unpack, "i", "abcd", -2^63))"#,
                r#"false, "bad argument #2 to '?' (data string too short)""#,
            ),
            (
                r#"return sh(pcall(struct.pack, string.rep("i32", 100), 1))"#,
                r#"false, "bad argument #3 to '?' (number expected, got nil)""#,
            ),
            (
                r#"return sh(pcall(function() return struct:unpack("x") end))"#,
                r#"false, "user_script:5: calling 'unpack' on bad self (string expected, got table)""#,
            ),
            (
                r#"return sh(pcall(function() return struct:size() end))"#,
                r#"false, "user_script:5: calling 'size' on bad self (string expected, got table)""#,
            ),
        ]);
    }
}
