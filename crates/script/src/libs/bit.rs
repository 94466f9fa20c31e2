//! The `bit` library Redis's Lua carries (LuaBitOp's interface): bitwise
//! operations on 32-bit integers, results returned as signed 32-bit numbers.
//!
//! Behaviour follows what redis-server 7.0.15 shows:
//!
//! * An argument is any number or numeric string. It becomes 32 bits as the
//!   C library does it, by adding 2^52 + 2^51 to the double and taking the
//!   low 32 bits of the sum's representation: fractions round to nearest,
//!   ties to even, values wrap modulo 2^32 (and beyond 2^51 in magnitude
//!   what comes out is whatever those bits are).
//! * Anything else: `bad argument #n to 'f' (number expected, got T)`; for
//!   `band`/`bor`/`bxor` the first argument is checked first, then the
//!   others from the last one down.
//! * Shift and rotate counts are taken modulo 32.
//! * `tohex(x [, n])`: n digits (default 8, at most 8), uppercase when n is
//!   negative.
//!
//! Functions are raw C functions; the only error they raise is through
//! `luaL_typerror`, and no Rust value with a destructor is ever alive in
//! them, so the longjmp it does skips nothing.

use std::os::raw::c_int;

use mlua::ffi;

pub fn open(lua: &mlua::Lua) -> mlua::Result<mlua::Table> {
    let funcs: [(&str, ffi::lua_CFunction); 12] = [
        ("tobit", bit_tobit),
        ("bnot", bit_bnot),
        ("band", bit_band),
        ("bor", bit_bor),
        ("bxor", bit_bxor),
        ("lshift", bit_lshift),
        ("rshift", bit_rshift),
        ("arshift", bit_arshift),
        ("rol", bit_rol),
        ("ror", bit_ror),
        ("bswap", bit_bswap),
        ("tohex", bit_tohex),
    ];
    let t = lua.create_table()?;
    for (name, f) in funcs {
        // SAFETY: the functions follow the Lua C API protocol.
        t.set(name, unsafe { lua.create_c_function(f)? })?;
    }
    Ok(t)
}

/// The 32 bits a number stands for (see the module's documentation).
fn tobit(n: f64) -> u32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32
}

/// Argument `idx` as 32 bits, raising a type error when it is no number.
unsafe fn arg(l: *mut ffi::lua_State, idx: c_int) -> u32 {
    let b = tobit(ffi::lua_tonumber(l, idx));
    if b == 0 && ffi::lua_isnumber(l, idx) == 0 {
        ffi::luaL_typerror(l, idx, c"number".as_ptr());
    }
    b
}

unsafe fn ret(l: *mut ffi::lua_State, b: u32) -> c_int {
    ffi::lua_pushnumber(l, f64::from(b as i32));
    1
}

unsafe extern "C-unwind" fn bit_tobit(l: *mut ffi::lua_State) -> c_int {
    ret(l, arg(l, 1))
}

unsafe extern "C-unwind" fn bit_bnot(l: *mut ffi::lua_State) -> c_int {
    ret(l, !arg(l, 1))
}

/// The first argument folded with the others, taken from the last one down.
unsafe fn fold(l: *mut ffi::lua_State, op: fn(u32, u32) -> u32) -> c_int {
    let mut b = arg(l, 1);
    let mut i = ffi::lua_gettop(l);
    while i > 1 {
        b = op(b, arg(l, i));
        i -= 1;
    }
    ret(l, b)
}

unsafe extern "C-unwind" fn bit_band(l: *mut ffi::lua_State) -> c_int {
    fold(l, |a, b| a & b)
}

unsafe extern "C-unwind" fn bit_bor(l: *mut ffi::lua_State) -> c_int {
    fold(l, |a, b| a | b)
}

unsafe extern "C-unwind" fn bit_bxor(l: *mut ffi::lua_State) -> c_int {
    fold(l, |a, b| a ^ b)
}

/// A value and a count (mod 32) from arguments 1 and 2.
unsafe fn shift(l: *mut ffi::lua_State, op: fn(u32, u32) -> u32) -> c_int {
    let b = arg(l, 1);
    let n = arg(l, 2) & 31;
    ret(l, op(b, n))
}

unsafe extern "C-unwind" fn bit_lshift(l: *mut ffi::lua_State) -> c_int {
    shift(l, |b, n| b << n)
}

unsafe extern "C-unwind" fn bit_rshift(l: *mut ffi::lua_State) -> c_int {
    shift(l, |b, n| b >> n)
}

unsafe extern "C-unwind" fn bit_arshift(l: *mut ffi::lua_State) -> c_int {
    shift(l, |b, n| ((b as i32) >> n) as u32)
}

unsafe extern "C-unwind" fn bit_rol(l: *mut ffi::lua_State) -> c_int {
    shift(l, u32::rotate_left)
}

unsafe extern "C-unwind" fn bit_ror(l: *mut ffi::lua_State) -> c_int {
    shift(l, u32::rotate_right)
}

unsafe extern "C-unwind" fn bit_bswap(l: *mut ffi::lua_State) -> c_int {
    ret(l, arg(l, 1).swap_bytes())
}

unsafe extern "C-unwind" fn bit_tohex(l: *mut ffi::lua_State) -> c_int {
    let mut b = arg(l, 1);
    let mut n: i32 = if ffi::lua_type(l, 2) == ffi::LUA_TNONE {
        8
    } else {
        arg(l, 2) as i32
    };
    let mut digits: &[u8; 16] = b"0123456789abcdef";
    if n < 0 {
        // -2^31 has no positive counterpart: it counts as -(2^31 - 1).
        n = n.saturating_neg();
        digits = b"0123456789ABCDEF";
    }
    let n = n.min(8) as usize;
    let mut buf = [0u8; 8];
    for slot in buf[..n].iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    ffi::lua_pushlstring(l, buf.as_ptr() as *const _, n);
    1
}

#[cfg(test)]
mod tests {
    fn check(cases: &[(&str, &str)]) {
        crate::libs::testing::check("bit", super::open, cases)
    }

    #[test]
    fn tobit() {
        check(&[
            (
                r#"return sh(bit.tobit(0xffffffff), bit.tobit(2^32+1), bit.tobit(-1), bit.tobit(2^31), bit.tobit(-2^31-1))"#,
                r#"-1, 1, -1, -2147483648, 2147483647"#,
            ),
            (
                r#"return sh(bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5), bit.tobit(-2.5), bit.tobit(0.5), bit.tobit(-0.5), bit.tobit(3.5))"#,
                r#"2, 2, -2, -2, 0, 0, 4"#,
            ),
            (
                r#"return sh(bit.tobit(4294967295.5), bit.tobit(4294967296.5), bit.tobit(-4294967296.5), bit.tobit(2147483647.5), bit.tobit(2147483648.5))"#,
                r#"0, 0, 0, -2147483648, -2147483648"#,
            ),
            (
                r#"return sh(bit.tobit(2^52), bit.tobit(2^52+3), bit.tobit(2^53), bit.tobit(2^53+2), bit.tobit(2^60+2^40+5), bit.tobit(2^64), bit.tobit(-2^63))"#,
                r#"0, 2, 0, 1, 0, 0, 0"#,
            ),
            (
                r#"return sh(bit.tobit(2^51), bit.tobit(2^51+1.5), bit.tobit(-2^51), bit.tobit(-2^51-1), bit.tobit(-2^52), bit.tobit(-2^52-1), bit.tobit(-3*2^51-7))"#,
                r#"0, 1, 0, -2, 0, -4, 0"#,
            ),
            (
                r#"return sh(bit.tobit(1e300), bit.tobit(-1e300), bit.tobit(1/0), bit.tobit(-1/0), bit.tobit(0/0))"#,
                r#"-2013235812, -2013235812, 0, 0, 0"#,
            ),
            (
                r#"return sh(bit.tobit(-0.0), tostring(bit.tobit(-0.0)), bit.tobit(1, "x"))"#,
                r#"0, "0", 1"#,
            ),
        ]);
    }

    #[test]
    fn numeric_strings() {
        check(&[
            (
                r#"return sh(bit.tobit("12"), bit.tobit("0x10"), bit.tobit(" 5 "), bit.tobit("1e3"), bit.tobit("0"), bit.tobit("nan"), bit.tobit("1e400"))"#,
                r#"12, 16, 5, 1000, 0, 0, 0"#,
            ),
            (
                r#"return sh(bit.lshift("1", "4"), bit.tohex("0xff", 2), bit.tohex(255, "3"))"#,
                r#"16, "ff", "0ff""#,
            ),
        ]);
    }

    #[test]
    fn type_errors() {
        check(&[
            (
                r#"return sh(pcall(bit.tobit, "x"))"#,
                r#"false, "bad argument #1 to '?' (number expected, got string)""#,
            ),
            (
                r#"return sh(pcall(bit.tobit, "0x"))"#,
                r#"false, "bad argument #1 to '?' (number expected, got string)""#,
            ),
            (
                r#"return sh(pcall(bit.tobit, ""))"#,
                r#"false, "bad argument #1 to '?' (number expected, got string)""#,
            ),
            (
                r#"return sh(pcall(bit.tobit))"#,
                r#"false, "bad argument #1 to '?' (number expected, got no value)""#,
            ),
            (
                r#"return sh(pcall(bit.tobit, nil))"#,
                r#"false, "bad argument #1 to '?' (number expected, got nil)""#,
            ),
            (
                r#"return sh(pcall(bit.tobit, {}))"#,
                r#"false, "bad argument #1 to '?' (number expected, got table)""#,
            ),
            (
                r#"return sh(pcall(bit.band))"#,
                r#"false, "bad argument #1 to '?' (number expected, got no value)""#,
            ),
            (
                r#"return sh(pcall(bit.band, 1, "x", "y"))"#,
                r#"false, "bad argument #3 to '?' (number expected, got string)""#,
            ),
            (
                r#"return sh(pcall(bit.band, "z", 1, "y"))"#,
                r#"false, "bad argument #1 to '?' (number expected, got string)""#,
            ),
            (
                r#"return sh(pcall(bit.bor, 1, 2, {}, 4))"#,
                r#"false, "bad argument #3 to '?' (number expected, got table)""#,
            ),
            (
                r#"return sh(pcall(bit.bxor, true))"#,
                r#"false, "bad argument #1 to '?' (number expected, got boolean)""#,
            ),
            (
                r#"return sh(pcall(bit.lshift, 1))"#,
                r#"false, "bad argument #2 to '?' (number expected, got no value)""#,
            ),
            (
                r#"return sh(pcall(bit.lshift, nil, 1))"#,
                r#"false, "bad argument #1 to '?' (number expected, got nil)""#,
            ),
            (
                r#"return sh(pcall(bit.rol, "a", "b"))"#,
                r#"false, "bad argument #1 to '?' (number expected, got string)""#,
            ),
            (
                r#"return sh(pcall(bit.bswap))"#,
                r#"false, "bad argument #1 to '?' (number expected, got no value)""#,
            ),
            (
                r#"return sh(pcall(bit.bnot))"#,
                r#"false, "bad argument #1 to '?' (number expected, got no value)""#,
            ),
            (
                r#"return sh(pcall(bit.tohex))"#,
                r#"false, "bad argument #1 to '?' (number expected, got no value)""#,
            ),
            (
                r#"return sh(pcall(bit.tohex, 1, "x"))"#,
                r#"false, "bad argument #2 to '?' (number expected, got string)""#,
            ),
            (
                r#"return sh(pcall(bit.tohex, 1, nil))"#,
                r#"false, "bad argument #2 to '?' (number expected, got nil)""#,
            ),
            (
                r#"return sh(pcall(function() return bit.band(1, "x") end))"#,
                r#"false, "user_script:5: bad argument #2 to 'band' (number expected, got string)""#,
            ),
            (
                r#"return sh(pcall(function() return bit.tohex("q") end))"#,
                r#"false, "user_script:5: bad argument #1 to 'tohex' (number expected, got string)""#,
            ),
            (
                r#"return sh(pcall(function() return bit.band(1, 3, nil) end))"#,
                r#"false, "user_script:5: bad argument #3 to 'band' (number expected, got nil)""#,
            ),
        ]);
    }

    #[test]
    fn logic() {
        check(&[
            (
                r#"return sh(bit.band(0xff, 0x0f0f, 0xf3), bit.bor(1, 2, 4, 8), bit.bxor(0xff, 0x0f, 1), bit.band(5), bit.bor(-1), bit.bxor(2^32+3))"#,
                r#"3, 15, 241, 5, -1, 3"#,
            ),
            (
                r#"return sh(bit.band(2^32-1, 2^32-1), bit.bor(0x80000000), bit.bor(1,2,4,8,16,32,64,128,256,512,1024,2048,4096,8192,16384,32768,65536,131072,262144,524288,1048576,2097152,4194304,8388608,16777216,33554432,67108864,134217728,268435456,536870912,1073741824,2147483648))"#,
                r#"-1, -2147483648, -1"#,
            ),
            (
                r#"return sh(bit.bnot(0), bit.bnot(-1), bit.bnot(2^31), bit.bnot(1.5), bit.bnot(2^53), bit.bnot(1, "x"))"#,
                r#"-1, 0, 2147483647, -3, -1, -2"#,
            ),
        ]);
    }

    #[test]
    fn shifts() {
        check(&[
            (
                r#"return sh(bit.lshift(1, 31), bit.lshift(1, 32), bit.lshift(1, 33), bit.lshift(1, -1), bit.lshift(3, 30), bit.lshift(1, 2^32+1), bit.lshift(1, 0.5), bit.lshift(1, 1.5))"#,
                r#"-2147483648, 1, 2, -2147483648, -1073741824, 2, 1, 4"#,
            ),
            (
                r#"return sh(bit.rshift(-1, 28), bit.rshift(-1, 0), bit.rshift(-1, 32), bit.rshift(0x80000000, 31), bit.rshift(-256, 4), bit.rshift(1, -31), bit.rshift(2^31, 1.5))"#,
                r#"15, -1, -1, 1, 268435440, 0, 536870912"#,
            ),
            (
                r#"return sh(bit.arshift(-256, 4), bit.arshift(-1, 31), bit.arshift(0x80000000, 1), bit.arshift(0x7fffffff, 30), bit.arshift(-1, 32), bit.arshift(-8, -31), bit.arshift(-1.5, 0))"#,
                r#"-16, -1, -1073741824, 1, -1, -4, -2"#,
            ),
            (
                r#"return sh(bit.rol(0x12345678, 12), bit.rol(0x12345678, 0), bit.rol(0x12345678, 32), bit.rol(-1, 7), bit.rol(0x80000000, 1), bit.rol(1, -1))"#,
                r#"1164411171, 305419896, 305419896, -1, 1, -2147483648"#,
            ),
            (
                r#"return sh(bit.ror(0x12345678, 12), bit.ror(0x12345678, 0), bit.ror(0x12345678, 36), bit.ror(1, 1), bit.ror(1, -1))"#,
                r#"1736516421, 305419896, -2128394905, -2147483648, 2"#,
            ),
        ]);
    }

    #[test]
    fn bswap() {
        check(&[(
            r#"return sh(bit.bswap(0x12345678), bit.bswap(0x80), bit.bswap(-1), bit.bswap(0xff000000), bit.bswap(1.5))"#,
            r#"2018915346, -2147483648, -1, 255, 33554432"#,
        )]);
    }

    #[test]
    fn tohex() {
        check(&[
            (
                r#"return sh(bit.tohex(1), bit.tohex(-1), bit.tohex(0x12345678, 4), bit.tohex(0xabcdef, -6), bit.tohex(0xabcdef, 0), bit.tohex(0xabcdef, 9), bit.tohex(0xabcdef, -9))"#,
                r#""00000001", "ffffffff", "5678", "ABCDEF", "", "00abcdef", "00ABCDEF""#,
            ),
            (
                r#"return sh(bit.tohex(0xabcdef, 2^32+3), bit.tohex(-1, -4), bit.tohex(255, 1.5), bit.tohex(255, -1.5), bit.tohex(255, -2.5), bit.tohex(2^40+255))"#,
                r#""def", "FFFF", "ff", "FF", "FF", "000000ff""#,
            ),
            (
                r#"return sh(bit.tohex(0x1234abcd, -2^32+3), bit.tohex(0x1234abcd, -3.5), bit.tohex(-2^31, 8), bit.tohex(1.5), bit.tohex(1, 2, "x"))"#,
                r#""bcd", "ABCD", "80000000", "00000002", "01""#,
            ),
            (
                r#"return sh(bit.tohex(255, 0x7fffffff), bit.tohex(255, -0x7fffffff), bit.tohex(65535, -2147483648), bit.tohex(65535, 2^31))"#,
                r#""000000ff", "000000FF", "0000FFFF", "0000FFFF""#,
            ),
        ]);
    }

    #[test]
    fn results() {
        check(&[(
            r#"return sh(select('#', bit.band(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25)), type(bit.tobit(1)), math.type and 1 or 0)"#,
            r#"1, "number", 0"#,
        )]);
    }

    #[test]
    fn library() {
        check(&[
            (
                r#"local t = {} for k, v in pairs(bit) do t[#t+1] = k .. ":" .. type(v) end table.sort(t) return table.concat(t, ",")"#,
                r#"arshift:function,band:function,bnot:function,bor:function,bswap:function,bxor:function,lshift:function,rol:function,ror:function,rshift:function,tobit:function,tohex:function"#,
            ),
            (
                r#"return sh(pcall(function() return bit:band(1) end))"#,
                r#"false, "user_script:5: calling 'band' on bad self (number expected, got table)""#,
            ),
            (
                r#"return sh(pcall(function() return bit.band(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, "x") end))"#,
                r#"false, "user_script:5: bad argument #30 to 'band' (number expected, got string)""#,
            ),
        ]);
    }
}
