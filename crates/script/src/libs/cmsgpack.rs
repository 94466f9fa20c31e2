//! `cmsgpack`: MessagePack encoding and decoding for scripts, behaving like
//! the lua-cmsgpack 0.4.0 library that Redis 7.0 embeds (same packed bytes,
//! same decoded values, same error texts, same Lua stack limits).
//!
//! Behaviour, as observed on redis-server 7.0.15:
//!
//! * `pack(v1, ...)` encodes each argument and returns the concatenation.
//!   Numbers that are integral and inside the int64 range become the
//!   smallest fitting msgpack integer; other numbers become float32 when the
//!   float32 round-trips exactly (this includes infinities and e.g. 2^63),
//!   double otherwise. Strings use fixstr/str8/str16/str32. Tables whose keys
//!   are exactly 1..n become arrays (so `{}` is an empty array), anything
//!   else a map, in `next` order. Tables nested 16 deep, and any value that
//!   is not a boolean, number, string or table, encode as nil (which also
//!   stops cycles).
//! * `unpack(s)` returns every value in `s`; `unpack_one(s [, offset])` and
//!   `unpack_limit(s, limit [, offset])` return the offset of the next value
//!   (or -1 once the input is used up) followed by the values. bin and ext
//!   types are not understood ("Bad data format in input."); uint64 is read
//!   as a signed 64-bit value, as Redis's build does.
//!
//! Every function is a plain Lua C function: errors are raised the way
//! `luaL_error`/`luaL_argerror` raise them, as strings (with the caller's
//! position prefix when the caller is Lua code). Errors are raised only from
//! the outermost frame, once every Rust value owning memory is gone; the
//! decoder is iterative so hostile nesting cannot exhaust the native stack.

use mlua::ffi;
use std::ffi::CStr;
use std::mem::ManuallyDrop;
use std::os::raw::c_int;

type State = *mut ffi::lua_State;

/// Tables at this depth (the outermost argument being depth 0) pack as nil.
const MAX_NESTING: u32 = 16;

const NAME: &str = "cmsgpack";
const VERSION: &str = "lua-cmsgpack 0.4.0";
const COPYRIGHT: &str = "Copyright (C) 2012, Salvatore Sanfilippo";
const DESCRIPTION: &str = "MessagePack C implementation for Lua";

/// Why an operation failed; turned into a Lua error by [`raise`].
#[derive(Clone, Copy, Debug)]
enum Fail {
    /// The input ends inside a value.
    Eof,
    /// A type byte this library does not decode.
    BadFmt,
    /// `luaL_checkstack` failing: "stack overflow (<what>)".
    Overflow(&'static CStr),
    /// An error raised by the table code itself (no position prefix).
    Raw(&'static CStr),
}

/// Raises `f` as a Lua error. Never returns; callers must not own any Rust
/// value with a destructor while calling it.
unsafe fn raise(l: State, f: Fail) -> c_int {
    // The stack may be full up to its limit; what is on it no longer matters
    // and the error functions need a few free slots.
    ffi::lua_settop(l, 0);
    match f {
        Fail::Eof => ffi::luaL_error(l, c"Missing bytes in input.".as_ptr()),
        Fail::BadFmt => ffi::luaL_error(l, c"Bad data format in input.".as_ptr()),
        Fail::Overflow(what) => ffi::luaL_error(l, c"stack overflow (%s)".as_ptr(), what.as_ptr()),
        Fail::Raw(msg) => {
            ffi::lua_pushstring(l, msg.as_ptr());
            ffi::lua_error(l)
        }
    }
}

/// `luaL_checkstack` without raising.
unsafe fn check_stack(l: State, n: c_int, what: &'static CStr) -> Result<(), Fail> {
    if ffi::lua_checkstack(l, n) == 0 {
        Err(Fail::Overflow(what))
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// Whether `n` converts to int64 and back unchanged (x86 conversion rules:
/// anything out of range becomes INT64_MIN, which only -2^63 equals).
fn is_int64_equivalent(n: f64) -> bool {
    (-TWO_POW_63..TWO_POW_63).contains(&n) && n.trunc() == n
}

/// Whether a positive `n` converts to a C `int` and back unchanged.
fn is_positive_int_equivalent(n: f64) -> bool {
    n > 0.0 && n <= i32::MAX as f64 && n.trunc() == n
}

fn encode_int(buf: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 0x7f {
            buf.push(n as u8);
        } else if n <= 0xff {
            buf.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            buf.push(0xcd);
            buf.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            buf.push(0xce);
            buf.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            buf.push(0xcf);
            buf.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        buf.push(n as i8 as u8);
    } else if n >= -128 {
        buf.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        buf.push(0xd1);
        buf.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        buf.push(0xd2);
        buf.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        buf.push(0xd3);
        buf.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_number(buf: &mut Vec<u8>, n: f64) {
    if is_int64_equivalent(n) {
        encode_int(buf, n as i64);
        return;
    }
    let f = n as f32;
    if f as f64 == n {
        buf.push(0xca);
        buf.extend_from_slice(&f.to_bits().to_be_bytes());
    } else {
        buf.push(0xcb);
        buf.extend_from_slice(&n.to_bits().to_be_bytes());
    }
}

fn encode_bytes(buf: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        buf.push(0xa0 | len as u8);
    } else if len <= 0xff {
        buf.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        buf.push(0xda);
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(0xdb);
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
    buf.extend_from_slice(s);
}

/// Array (`small` = 0x90) or map (`small` = 0x80) header.
fn encode_container_header(buf: &mut Vec<u8>, small: u8, len: usize) {
    if len <= 15 {
        buf.push(small | len as u8);
    } else if len <= 0xffff {
        buf.push(if small == 0x90 { 0xdc } else { 0xde });
        buf.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        buf.push(if small == 0x90 { 0xdd } else { 0xdf });
        buf.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// Encodes the value on top of the stack into `buf` and pops it.
unsafe fn encode_value(l: State, buf: &mut Vec<u8>, level: u32) -> Result<(), Fail> {
    let mut t = ffi::lua_type(l, -1);
    if t == ffi::LUA_TTABLE && level == MAX_NESTING {
        t = ffi::LUA_TNIL;
    }
    match t {
        ffi::LUA_TBOOLEAN => buf.push(if ffi::lua_toboolean(l, -1) != 0 {
            0xc3
        } else {
            0xc2
        }),
        ffi::LUA_TNUMBER => encode_number(buf, ffi::lua_tonumber(l, -1)),
        ffi::LUA_TSTRING => {
            let mut len = 0usize;
            let p = ffi::lua_tolstring(l, -1, &mut len) as *const u8;
            let s: &[u8] = if len == 0 {
                &[]
            } else {
                std::slice::from_raw_parts(p, len)
            };
            encode_bytes(buf, s);
        }
        ffi::LUA_TTABLE => encode_table(l, buf, level)?,
        _ => buf.push(0xc0),
    }
    ffi::lua_pop(l, 1);
    Ok(())
}

/// For the table on top of the stack: `Some(n)` when its keys are exactly
/// the integers 1..n, `None` otherwise.
unsafe fn array_length(l: State) -> Result<Option<usize>, Fail> {
    check_stack(l, 2, c"in function table_is_an_array")?;
    let top = ffi::lua_gettop(l);
    let mut count: usize = 0;
    let mut max: usize = 0;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        ffi::lua_pop(l, 1);
        let n = if ffi::lua_type(l, -1) == ffi::LUA_TNUMBER {
            ffi::lua_tonumber(l, -1)
        } else {
            f64::NAN
        };
        if !is_positive_int_equivalent(n) {
            ffi::lua_settop(l, top);
            return Ok(None);
        }
        max = max.max(n as usize);
        count += 1;
    }
    ffi::lua_settop(l, top);
    Ok((max == count).then_some(count))
}

/// Encodes the table on top of the stack (leaving it there).
unsafe fn encode_table(l: State, buf: &mut Vec<u8>, level: u32) -> Result<(), Fail> {
    if let Some(len) = array_length(l)? {
        check_stack(l, 1, c"in function mp_encode_lua_table_as_array")?;
        encode_container_header(buf, 0x90, len);
        for j in 1..=len {
            ffi::lua_pushnumber(l, j as f64);
            ffi::lua_rawget(l, -2);
            encode_value(l, buf, level + 1)?;
        }
    } else {
        check_stack(l, 3, c"in function mp_encode_lua_table_as_map")?;
        let mut len = 0usize;
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_pop(l, 1);
            len += 1;
        }
        encode_container_header(buf, 0x80, len);
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_pushvalue(l, -2);
            encode_value(l, buf, level + 1)?; // the key's copy
            encode_value(l, buf, level + 1)?; // the value
        }
    }
    Ok(())
}

/// Encodes every argument, leaving one string per argument on the stack.
unsafe fn pack_args(l: State, nargs: c_int, buf: &mut Vec<u8>) -> Result<(), Fail> {
    for i in 1..=nargs {
        check_stack(l, 1, c"in function mp_check")?;
        ffi::lua_pushvalue(l, i);
        encode_value(l, buf, 0)?;
        ffi::lua_pushlstring(l, buf.as_ptr().cast(), buf.len());
        buf.clear();
    }
    Ok(())
}

unsafe extern "C-unwind" fn mp_pack(l: State) -> c_int {
    let nargs = ffi::lua_gettop(l);
    if nargs == 0 {
        return ffi::luaL_argerror(l, 0, c"MessagePack pack needs input.".as_ptr());
    }
    if ffi::lua_checkstack(l, nargs) == 0 {
        return ffi::luaL_argerror(l, 0, c"Too many arguments for MessagePack pack.".as_ptr());
    }
    // ManuallyDrop: nothing to run should Lua unwind past this frame on OOM.
    let mut buf = ManuallyDrop::new(Vec::with_capacity(64));
    let res = pack_args(l, nargs, &mut buf);
    ManuallyDrop::drop(&mut buf);
    match res {
        Ok(()) => {
            ffi::lua_concat(l, nargs);
            1
        }
        Err(f) => raise(l, f),
    }
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/// Read position in the input (which the Lua string at index 1 keeps alive).
struct Cursor {
    p: *const u8,
    left: usize,
}

impl Cursor {
    fn need(&self, n: usize) -> Result<(), Fail> {
        if self.left < n {
            Err(Fail::Eof)
        } else {
            Ok(())
        }
    }

    /// Byte `i` from the current position; the caller checked `need(i + 1)`.
    unsafe fn at(&self, i: usize) -> u8 {
        *self.p.add(i)
    }

    /// `N` bytes starting at offset 1; the caller checked `need(N + 1)`.
    unsafe fn word<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        std::ptr::copy_nonoverlapping(self.p.add(1), out.as_mut_ptr(), N);
        out
    }

    unsafe fn skip(&mut self, n: usize) {
        self.p = self.p.add(n);
        self.left -= n;
    }
}

/// A container being filled. Its table is on the Lua stack, followed by the
/// pending array index or map key, exactly as the C library keeps them.
struct Frame {
    /// Entries still to store.
    remaining: u32,
    /// Next array index, or `None` for a map.
    next_index: Option<i32>,
    /// For a map: whether the key is on the stack and the value comes next.
    have_key: bool,
}

/// What decoding one item produced.
enum Item {
    /// A complete value is on top of the stack.
    Value,
    /// A container with entries was opened and pushed onto `frames`.
    Opened,
}

/// Decodes the item at the cursor, pushing it (or its still empty table).
unsafe fn decode_item(l: State, c: &mut Cursor, frames: &mut Vec<Frame>) -> Result<Item, Fail> {
    c.need(1)?;
    check_stack(
        l,
        1,
        c"too many return values at once; use unpack_one or unpack_limit instead.",
    )?;
    let b = c.at(0);
    let (len, is_array) = match b {
        0xc0 => {
            ffi::lua_pushnil(l);
            c.skip(1);
            return Ok(Item::Value);
        }
        0xc2 | 0xc3 => {
            ffi::lua_pushboolean(l, (b == 0xc3) as c_int);
            c.skip(1);
            return Ok(Item::Value);
        }
        0xca => {
            c.need(5)?;
            ffi::lua_pushnumber(l, f32::from_be_bytes(c.word::<4>()) as f64);
            c.skip(5);
            return Ok(Item::Value);
        }
        0xcb => {
            c.need(9)?;
            ffi::lua_pushnumber(l, f64::from_be_bytes(c.word::<8>()));
            c.skip(9);
            return Ok(Item::Value);
        }
        0xcc | 0xd0 => {
            c.need(2)?;
            let v = c.at(1);
            ffi::lua_pushnumber(l, if b == 0xcc { v as f64 } else { v as i8 as f64 });
            c.skip(2);
            return Ok(Item::Value);
        }
        0xcd | 0xd1 => {
            c.need(3)?;
            let w = c.word::<2>();
            let v = if b == 0xcd {
                u16::from_be_bytes(w) as f64
            } else {
                i16::from_be_bytes(w) as f64
            };
            ffi::lua_pushnumber(l, v);
            c.skip(3);
            return Ok(Item::Value);
        }
        0xce | 0xd2 => {
            c.need(5)?;
            let w = c.word::<4>();
            let v = if b == 0xce {
                u32::from_be_bytes(w) as f64
            } else {
                i32::from_be_bytes(w) as f64
            };
            ffi::lua_pushnumber(l, v);
            c.skip(5);
            return Ok(Item::Value);
        }
        0xcf | 0xd3 => {
            // Redis's build reads uint64 as a signed value as well.
            c.need(9)?;
            ffi::lua_pushnumber(l, i64::from_be_bytes(c.word::<8>()) as f64);
            c.skip(9);
            return Ok(Item::Value);
        }
        0xd9..=0xdb => {
            let hdr = match b {
                0xd9 => 2,
                0xda => 3,
                _ => 5,
            };
            c.need(hdr)?;
            let len = match b {
                0xd9 => c.at(1) as usize,
                0xda => u16::from_be_bytes(c.word::<2>()) as usize,
                _ => u32::from_be_bytes(c.word::<4>()) as usize,
            };
            c.need(hdr.saturating_add(len))?;
            ffi::lua_pushlstring(l, c.p.add(hdr).cast(), len);
            c.skip(hdr + len);
            return Ok(Item::Value);
        }
        0xdc | 0xde => {
            c.need(3)?;
            let len = u16::from_be_bytes(c.word::<2>()) as u32;
            c.skip(3);
            (len, b == 0xdc)
        }
        0xdd | 0xdf => {
            c.need(5)?;
            let len = u32::from_be_bytes(c.word::<4>());
            c.skip(5);
            (len, b == 0xdd)
        }
        _ if b & 0x80 == 0 => {
            ffi::lua_pushnumber(l, b as f64);
            c.skip(1);
            return Ok(Item::Value);
        }
        _ if b & 0xe0 == 0xe0 => {
            ffi::lua_pushnumber(l, b as i8 as f64);
            c.skip(1);
            return Ok(Item::Value);
        }
        _ if b & 0xe0 == 0xa0 => {
            let len = (b & 0x1f) as usize;
            c.need(1 + len)?;
            ffi::lua_pushlstring(l, c.p.add(1).cast(), len);
            c.skip(1 + len);
            return Ok(Item::Value);
        }
        _ if b & 0xf0 == 0x90 || b & 0xf0 == 0x80 => {
            c.skip(1);
            ((b & 0x0f) as u32, b & 0xf0 == 0x90)
        }
        _ => return Err(Fail::BadFmt),
    };
    ffi::lua_createtable(l, 0, 0);
    if is_array {
        check_stack(l, 1, c"in function mp_decode_to_lua_array")?;
    }
    if len == 0 {
        return Ok(Item::Value);
    }
    if is_array {
        ffi::lua_pushnumber(l, 1.0);
    }
    frames.push(Frame {
        remaining: len,
        next_index: is_array.then_some(2),
        have_key: false,
    });
    Ok(Item::Opened)
}

/// Decodes one complete top-level value onto the stack.
unsafe fn decode_value(l: State, c: &mut Cursor, frames: &mut Vec<Frame>) -> Result<(), Fail> {
    frames.clear();
    loop {
        if let Item::Opened = decode_item(l, c, frames)? {
            continue;
        }
        // A value is complete: store it into the containers it finishes.
        loop {
            let Some(frame) = frames.last_mut() else {
                return Ok(());
            };
            if frame.next_index.is_none() && !frame.have_key {
                frame.have_key = true; // that was a key; its value follows
                break;
            }
            if frame.next_index.is_none() {
                // Stack: ... table key value
                let kt = ffi::lua_type(l, -2);
                if kt == ffi::LUA_TNIL {
                    return Err(Fail::Raw(c"table index is nil"));
                }
                if kt == ffi::LUA_TNUMBER && ffi::lua_tonumber(l, -2).is_nan() {
                    return Err(Fail::Raw(c"table index is NaN"));
                }
                frame.have_key = false;
            }
            ffi::lua_rawset(l, -3);
            frame.remaining -= 1;
            if frame.remaining == 0 {
                frames.pop(); // the finished table is now a complete value
                continue;
            }
            if let Some(index) = frame.next_index.as_mut() {
                ffi::lua_pushnumber(l, *index as f64);
                *index += 1;
            }
            break;
        }
    }
}

/// Decodes values from the string at index 1, starting at `offset`, pushing
/// at most `limit` of them; see the module docs for the return convention.
/// `limit == 0 && offset == 0` means "everything, without the offset".
unsafe fn unpack_full(l: State, limit: ffi::lua_Integer, offset: ffi::lua_Integer) -> c_int {
    let mut len = 0usize;
    let s = ffi::luaL_checklstring(l, 1, &mut len) as *const u8;
    let decode_all = limit == 0 && offset == 0;
    // The C library formats these with %d (C ints), and reports the input
    // length where the limit is announced.
    if offset < 0 || limit < 0 {
        return ffi::luaL_error(
            l,
            c"Invalid request to unpack with offset of %d and limit of %d.".as_ptr(),
            offset as c_int,
            len as c_int,
        );
    }
    if offset as u64 > len as u64 {
        return ffi::luaL_error(
            l,
            c"Start offset %d greater than input length %d.".as_ptr(),
            offset as c_int,
            len as c_int,
        );
    }
    let limit = if decode_all {
        c_int::MAX as ffi::lua_Integer
    } else {
        limit
    };
    let mut cur = Cursor {
        p: s.add(offset as usize),
        left: len - offset as usize,
    };
    let mut frames = ManuallyDrop::new(Vec::new());
    let mut count: c_int = 0;
    let mut res = Ok(());
    while cur.left > 0 && (count as ffi::lua_Integer) < limit {
        if let Err(f) = decode_value(l, &mut cur, &mut frames) {
            res = Err(f);
            break;
        }
        count += 1;
    }
    ManuallyDrop::drop(&mut frames);
    if let Err(f) = res {
        return raise(l, f);
    }
    if !decode_all {
        if ffi::lua_checkstack(l, 1) == 0 {
            return raise(l, Fail::Overflow(c"in function mp_unpack_full"));
        }
        let next = if cur.left == 0 {
            -1
        } else {
            (len - cur.left) as ffi::lua_Integer
        };
        ffi::lua_pushinteger(l, next);
        ffi::lua_insert(l, 2);
        count += 1;
    }
    count
}

unsafe extern "C-unwind" fn mp_unpack(l: State) -> c_int {
    unpack_full(l, 0, 0)
}

/// Keeps only the first argument, as the C library's variable pop does.
unsafe fn keep_first_arg(l: State) {
    if ffi::lua_gettop(l) > 1 {
        ffi::lua_settop(l, 1);
    }
}

unsafe extern "C-unwind" fn mp_unpack_one(l: State) -> c_int {
    let offset = ffi::luaL_optinteger(l, 2, 0);
    keep_first_arg(l);
    unpack_full(l, 1, offset)
}

unsafe extern "C-unwind" fn mp_unpack_limit(l: State) -> c_int {
    let limit = ffi::luaL_checkinteger(l, 2);
    let offset = ffi::luaL_optinteger(l, 3, 0);
    keep_first_arg(l);
    unpack_full(l, limit, offset)
}

/// Builds the `cmsgpack` library table.
pub fn open(lua: &mlua::Lua) -> mlua::Result<mlua::Table> {
    let t = lua.create_table()?;
    // Same insertion order as the C library, for the same `pairs` order.
    // SAFETY: each function follows the Lua C function protocol and raises
    // errors only while holding no Rust values that need dropping.
    unsafe {
        t.raw_set("pack", lua.create_c_function(mp_pack)?)?;
        t.raw_set("unpack", lua.create_c_function(mp_unpack)?)?;
        t.raw_set("unpack_one", lua.create_c_function(mp_unpack_one)?)?;
        t.raw_set("unpack_limit", lua.create_c_function(mp_unpack_limit)?)?;
    }
    t.raw_set("_NAME", NAME)?;
    t.raw_set("_VERSION", VERSION)?;
    t.raw_set("_COPYRIGHT", COPYRIGHT)?;
    t.raw_set("_DESCRIPTION", DESCRIPTION)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    //! Every expected string below was produced by redis-server 7.0.15
    //! running the same snippet (with the same prelude) through EVAL.

    /// Helpers shared by the snippets: `H` hex, `X` unhex, `D` a canonical
    /// dump of a value, `R` a dump of all values, `P` a dump of pcall's results,
    /// `HP` the hex of `cmsgpack.pack(...)`.
    const PRELUDE: &str = r#"local function H(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
local function X(h) return (h:gsub('..', function(c) return string.char(tonumber(c,16)) end)) end
local D
D = function(v, depth)
  depth = depth or 0
  local t = type(v)
  if t == 'number' then return 'n:' .. string.format('%.17g', v)
  elseif t == 'string' then return 's:' .. H(v)
  elseif t == 'table' then
    if depth > 20 then return 't...' end
    local ks = {}
    for k, x in pairs(v) do ks[#ks+1] = {D(k, depth+1), D(x, depth+1)} end
    table.sort(ks, function(a, b) return a[1] < b[1] end)
    local parts = {}
    for _, p in ipairs(ks) do parts[#parts+1] = p[1] .. '=' .. p[2] end
    return '{' .. table.concat(parts, ',') .. '}'
  else return tostring(v) end
end
local function R(...)
  local n = select('#', ...)
  local parts = {}
  for i = 1, n do parts[i] = D((select(i, ...))) end
  return n .. ':' .. table.concat(parts, ' ')
end
local function P(f, ...) return R(pcall(f, ...)) end
local function HP(...) return H(cmsgpack.pack(...)) end
"#;

    fn lua() -> mlua::Lua {
        let lua = mlua::Lua::new();
        let lib = super::open(&lua).unwrap();
        lua.globals().set("cmsgpack", lib).unwrap();
        lua
    }

    /// Runs each `(expression, expected)` pair as Redis did:
    /// `PRELUDE .. "\nreturn tostring(" .. expression .. ")"`, in a chunk named
    /// like Redis names script bodies, and reports every mismatch at once.
    fn check(cases: &[(&str, &str)]) {
        let lua = lua();
        let mut failures = Vec::new();
        for (expr, expected) in cases {
            let code = format!("{PRELUDE}\nreturn tostring({expr})");
            let got: mlua::Result<mlua::String> =
                lua.load(code.as_str()).set_name("@user_script").eval();
            match got {
                Ok(s) => {
                    let s = String::from_utf8_lossy(&s.as_bytes()).into_owned();
                    if s != *expected {
                        failures.push(format!("{expr}\n  expected: {expected}\n  got:      {s}"));
                    }
                }
                Err(e) => failures.push(format!("{expr}\n  error: {e}")),
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases differ:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }

    /// Integer widths, float32 vs double, -0, infinities, NaN.
    #[test]
    fn pack_numbers() {
        check(&[
            (
                r#"HP(0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296)"#,
                r#"00017fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000"#,
            ),
            (
                r#"HP(-1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649)"#,
                r#"ffe0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffff"#,
            ),
            (
                r#"HP(2^53, -2^53, 2^63 - 1024, -2^63, 2^63, 2^64, -2^63 - 4096)"#,
                r#"cf0020000000000000d3ffe0000000000000cf7ffffffffffffc00d38000000000000000ca5f000000ca5f800000cbc3e0000000000002"#,
            ),
            (
                r#"HP(1.5, -1.5, 0.1, 0.25, 1e20, 1e300, 2^-149, 2^-150, 3.4028234663852886e38, 1e39)"#,
                r#"ca3fc00000cabfc00000cb3fb999999999999aca3e800000cb4415af1d78b58c40cb7e37e43c8800759cca00000001cb3690000000000000ca7f7fffffcb48078287f49c4a1d"#,
            ),
            (r#"HP(-0.0)"#, r#"00"#),
            (r#"HP(math.huge, -math.huge)"#, r#"ca7f800000caff800000"#),
            (r#"HP(0/0)"#, r#"cbfff8000000000000"#),
        ]);
    }

    /// fixstr/str8/str16/str32, booleans, nil, unsupported types.
    #[test]
    fn pack_strings_and_scalars() {
        check(&[
            (r#"HP('')"#, r#"a0"#),
            (r#"HP('abc', 'a\0b')"#, r#"a3616263a3610062"#),
            (r#"HP(string.rep('x', 31)):sub(1, 6)"#, r#"bf7878"#),
            (r#"HP(string.rep('x', 32)):sub(1, 6)"#, r#"d92078"#),
            (r#"HP(string.rep('x', 255)):sub(1, 6)"#, r#"d9ff78"#),
            (r#"HP(string.rep('x', 256)):sub(1, 8)"#, r#"da010078"#),
            (r#"HP(string.rep('x', 65535)):sub(1, 8)"#, r#"daffff78"#),
            (
                r#"HP(string.rep('x', 65536)):sub(1, 12) .. ':' .. #cmsgpack.pack(string.rep('x', 65536))"#,
                r#"db0001000078:65541"#,
            ),
            (r#"HP(true, false, nil)"#, r#"c3c2c0"#),
            (r#"HP(nil)"#, r#"c0"#),
            (r#"HP(nil, nil, 3)"#, r#"c0c003"#),
            (
                r#"HP(tostring, coroutine.create(function() end))"#,
                r#"c0c0"#,
            ),
        ]);
    }

    /// Array vs map detection, header widths, metatables ignored.
    #[test]
    fn pack_tables() {
        check(&[
            (r#"HP({})"#, r#"90"#),
            (r#"HP({1, 2, 3})"#, r#"93010203"#),
            (r#"HP({a = 1})"#, r#"81a16101"#),
            (r#"HP({[1] = 1, [3] = 3})"#, r#"8201010303"#),
            (r#"HP({[0] = 1})"#, r#"810001"#),
            (r#"HP({[-1] = 1})"#, r#"81ff01"#),
            (r#"HP({[1.5] = 1})"#, r#"81ca3fc0000001"#),
            (r#"HP({[2] = 2, [1] = 1})"#, r#"920102"#),
            (r#"HP({[true] = 1})"#, r#"81c301"#),
            (r#"HP({[{}] = 1})"#, r#"819001"#),
            (r#"HP({{}, {{}}})"#, r#"92909190"#),
            (r#"HP({[2^31] = 1})"#, r#"81ce8000000001"#),
            (r#"HP({[2^31 - 1] = 1})"#, r#"81ce7fffffff01"#),
            (r#"HP({1, 2, nil, 4})"#, r#"83010102020404"#),
            (
                r#"HP({'a', {b = {1.5, false}}})"#,
                r#"92a16181a16292ca3fc00000c2"#,
            ),
            (r#"HP('12', 12, {['1'] = 1})"#, r#"a231320c81a13101"#),
            (
                r#"HP(setmetatable({1, 2}, {__index = function() return 9 end, __len = function() return 5 end}))"#,
                r#"920102"#,
            ),
            (
                r#"HP((function() local t = {} for i = 1, 15 do t[i] = i end return t end)()):sub(1, 6)"#,
                r#"9f0102"#,
            ),
            (
                r#"HP((function() local t = {} for i = 1, 16 do t[i] = i end return t end)()):sub(1, 10)"#,
                r#"dc00100102"#,
            ),
            (
                r#"HP((function() local t = {} for i = 1, 65535 do t[i] = true end return t end)()):sub(1, 10)"#,
                r#"dcffffc3c3"#,
            ),
            (
                r#"HP((function() local t = {} for i = 1, 65536 do t[i] = true end return t end)()):sub(1, 12)"#,
                r#"dd00010000c3"#,
            ),
            (
                r#"HP((function() local t = {} for i = 1, 15 do t['k' .. i] = i end return t end)()):sub(1, 2)"#,
                r#"8f"#,
            ),
            (
                r#"HP((function() local t = {} for i = 1, 16 do t['k' .. i] = i end return t end)()):sub(1, 6)"#,
                r#"de0010"#,
            ),
            (r#"HP({a = 1, b = 2, c = 3})"#, r#"83a16101a16303a16202"#),
            (
                r#"HP({[1] = 1, x = 2, [3] = 'y', [true] = false})"#,
                r#"840101a17802c3c203a179"#,
            ),
            (r#"HP({10, 20, 30, n = 3})"#, r#"84010a0214031ea16e03"#),
            (
                r#"HP(cmsgpack.unpack(X('83a178a179a17a0103c3')))"#,
                r#"8303c3a178a179a17a01"#,
            ),
            (
                r#"HP((function() local t = {} for i = 1, 65536 do t['k' .. i] = i end return t end)()):sub(1, 10)"#,
                r#"df00010000"#,
            ),
        ]);
    }

    /// Tables 16 deep pack as nil, which also ends cycles.
    #[test]
    fn pack_nesting_and_cycles() {
        check(&[
            (
                r#"HP((function() local t = {} t[1] = t return t end)())"#,
                r#"91919191919191919191919191919191c0"#,
            ),
            (
                r#"HP((function() local t = {} t.a = t return t end)())"#,
                r#"81a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a16181a161c0"#,
            ),
            (
                r#"HP((function() local t = {} t[t] = 1 return t end)())"#,
                r#"81818181818181818181818181818181c001010101010101010101010101010101"#,
            ),
            (
                r#"HP((function() local t = {} local c = t for i = 2, 16 do local x = {} c[1] = x c = x end return t end)())"#,
                r#"91919191919191919191919191919190"#,
            ),
            (
                r#"HP((function() local t = {} local c = t for i = 2, 17 do local x = {} c[1] = x c = x end return t end)())"#,
                r#"91919191919191919191919191919191c0"#,
            ),
        ]);
    }

    /// No input, too many arguments, Lua stack exhaustion while packing.
    #[test]
    fn pack_errors_and_stack_limits() {
        check(&[
            (
                r#"P(cmsgpack.pack)"#,
                r#"2:false s:62616420617267756d656e7420233020746f20273f2720284d6573736167655061636b207061636b206e6565647320696e7075742e29"#,
            ),
            (
                r#"select(2, pcall(function() return cmsgpack.pack() end))"#,
                r#"user_script:28: bad argument #0 to 'pack' (MessagePack pack needs input.)"#,
            ),
            (
                r#"#cmsgpack.pack(unpack((function() local t = {} for i = 1, 4000 do t[i] = i end return t end)()))"#,
                r#"11618"#,
            ),
            (
                r#"P(cmsgpack.pack, unpack((function() local t = {} for i = 1, 4001 do t[i] = i end return t end)()))"#,
                r#"2:false s:62616420617267756d656e7420233020746f20273f272028546f6f206d616e7920617267756d656e747320666f72204d6573736167655061636b207061636b2e29"#,
            ),
            (
                r#"P(cmsgpack.pack, unpack((function() local t = {} for i = 1, 3996 do t[i] = i end t[3997] = {{a = {1}}} return t end)())):sub(1, 7)"#,
                r#"2:true "#,
            ),
            (
                r#"P(cmsgpack.pack, unpack((function() local t = {} for i = 1, 3997 do t[i] = i end t[3998] = {{a = {1}}} return t end)()))"#,
                r#"2:false s:737461636b206f766572666c6f772028696e2066756e6374696f6e207461626c655f69735f616e5f617272617929"#,
            ),
            (
                r#"P(cmsgpack.pack, unpack((function() local t = {} for i = 1, 3997 do t[i] = i end t[3998] = {a = {1}} return t end)())):sub(1, 7)"#,
                r#"2:true "#,
            ),
            (
                r#"P(cmsgpack.pack, unpack((function() local t = {} for i = 1, 3998 do t[i] = i end t[3999] = {a = {1}} return t end)()))"#,
                r#"2:false s:737461636b206f766572666c6f772028696e2066756e6374696f6e206d705f656e636f64655f6c75615f7461626c655f61735f6d617029"#,
            ),
            (
                r#"P(cmsgpack.pack, unpack((function() local t = {} for i = 1, 3999 do t[i] = i end t[4000] = {a = {1}} return t end)()))"#,
                r#"2:false s:737461636b206f766572666c6f772028696e2066756e6374696f6e207461626c655f69735f616e5f617272617929"#,
            ),
        ]);
    }

    /// How every supported type decodes (uint64 as signed, nil in arrays).
    #[test]
    fn unpack_values() {
        check(&[
            (
                r#"R(cmsgpack.unpack(cmsgpack.pack(0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296)))"#,
                r#"10:n:0 n:1 n:127 n:128 n:255 n:256 n:65535 n:65536 n:4294967295 n:4294967296"#,
            ),
            (
                r#"R(cmsgpack.unpack(cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649)))"#,
                r#"9:n:-1 n:-32 n:-33 n:-128 n:-129 n:-32768 n:-32769 n:-2147483648 n:-2147483649"#,
            ),
            (
                r#"R(cmsgpack.unpack(cmsgpack.pack(1.5, 0.1, -0.0, 1e300, 2^63, -2^63, math.huge, -math.huge)))"#,
                r#"8:n:1.5 n:0.10000000000000001 n:0 n:1.0000000000000001e+300 n:9.2233720368547758e+18 n:-9.2233720368547758e+18 n:inf n:-inf"#,
            ),
            (
                r#"R(cmsgpack.unpack(cmsgpack.pack('', 'abc', string.rep('z', 40), true, false)))"#,
                r#"5:s: s:616263 s:7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a true false"#,
            ),
            (
                r#"R(cmsgpack.unpack(cmsgpack.pack({1, 2, {3, {4}}}, {a = {b = 'c'}}, {})))"#,
                r#"3:{n:1=n:1,n:2=n:2,n:3={n:1=n:3,n:2={n:1=n:4}}} {s:61={s:62=s:63}} {}"#,
            ),
            (
                r#"R(cmsgpack.unpack(cmsgpack.pack({1, 2, nil, 4})))"#,
                r#"1:{n:1=n:1,n:2=n:2,n:4=n:4}"#,
            ),
            (r#"R(cmsgpack.unpack(''))"#, r#"0:"#),
            (r#"R(cmsgpack.unpack(123))"#, r#"3:n:49 n:50 n:51"#),
            (
                r#"R(cmsgpack.unpack(X('cfffffffffffffffff'), X('cf8000000000000000'), X('cf0000000100000000')))"#,
                r#"1:n:-1"#,
            ),
            (
                r#"R(cmsgpack.unpack(X('cfffffffffffffffffcf8000000000000000cf0000000100000000d38000000000000000d3ffffffffffffffff')))"#,
                r#"5:n:-1 n:-9.2233720368547758e+18 n:4294967296 n:-9.2233720368547758e+18 n:-1"#,
            ),
            (
                r#"R(cmsgpack.unpack(X('d0ffd18000d280000000d0807fe0ffcc80cdffffceffffffff')))"#,
                r#"10:n:-1 n:-32768 n:-2147483648 n:-128 n:127 n:-32 n:-1 n:128 n:65535 n:4294967295"#,
            ),
            (
                r#"R(cmsgpack.unpack(X('ca3fc00000cb3ff0000000000000ca7fc00000cb7ff0000000000000cbfff8000000000000')))"#,
                r#"5:n:1.5 n:1 n:nan n:inf n:-nan"#,
            ),
            (
                r#"R(cmsgpack.unpack(X('c0c2c3a0a161d90162da000162db0000000162')))"#,
                r#"8:nil false true s: s:61 s:62 s:62 s:62"#,
            ),
            (
                r#"R(cmsgpack.unpack(X('dc0002c001dd00000002c3c2de0001a16101df00000001a16202')))"#,
                r#"4:{n:2=n:1} {n:1=true,n:2=false} {s:61=n:1} {s:62=n:2}"#,
            ),
            (r#"R(cmsgpack.unpack(X('92c002')))"#, r#"1:{n:2=n:2}"#),
            (
                r#"(function() local t = cmsgpack.unpack(X('92c002')) return R(t[1], t[2], #t) end)()"#,
                r#"3:nil n:2 n:0"#,
            ),
            (
                r#"(function() local t = cmsgpack.unpack(X('93010203')) return R(#t) end)()"#,
                r#"1:n:3"#,
            ),
            (
                r#"R(cmsgpack.unpack(X('82a161c0a16202')))"#,
                r#"1:{s:62=n:2}"#,
            ),
            (
                r#"R(cmsgpack.unpack(X('82a16101a16102')))"#,
                r#"1:{s:61=n:2}"#,
            ),
            (
                r#"R(cmsgpack.unpack(X('81920102a178')))"#,
                r#"1:{{n:1=n:1,n:2=n:2}=s:78}"#,
            ),
            (r#"R(cmsgpack.unpack(X('81c301')))"#, r#"1:{true=n:1}"#),
            (
                r#"R(cmsgpack.unpack(X('81ca3fc0000005')))"#,
                r#"1:{n:1.5=n:5}"#,
            ),
            (r#"R(cmsgpack.unpack(X('8190c0')))"#, r#"1:{}"#),
        ]);
    }

    /// nil and NaN map keys.
    #[test]
    fn unpack_table_index_errors() {
        check(&[
            (
                r#"P(cmsgpack.unpack, X('81c000'))"#,
                r#"2:false s:7461626c6520696e646578206973206e696c"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('81c0c0'))"#,
                r#"2:false s:7461626c6520696e646578206973206e696c"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('81cb7ff800000000000000'))"#,
                r#"2:false s:7461626c6520696e646578206973204e614e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('81c0'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('9281c00101'))"#,
                r#"2:false s:7461626c6520696e646578206973206e696c"#,
            ),
            (
                r#"select(2, pcall(function() return cmsgpack.unpack(X('81c000')) end))"#,
                r#"table index is nil"#,
            ),
        ]);
    }

    /// bin, ext and the never-used byte are rejected.
    #[test]
    fn unpack_bad_format() {
        check(&[
            (
                r#"P(cmsgpack.unpack, X('c1'))"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('c4'))"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('c40161'))"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('c5000161'))"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('c6000000016161'))"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('c7'))"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('c8'))"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('c9'))"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('d40100'))"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('d5'))"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('d6'))"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('d7'))"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('d8'))"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('01c1'))"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('9101c1'))"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
        ]);
    }

    /// Missing bytes, huge claimed lengths, position prefixes.
    #[test]
    fn unpack_truncated_input() {
        check(&[
            (
                r#"P(cmsgpack.unpack, X('cc'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('cd01'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('ce010203'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('cf'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('d0'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('d100'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('d2000000'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('d300'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('ca0000'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('cb00'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('a2'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('bf6161'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('d9'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('d905'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('daffff61'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('dbffffffff61'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('db7fffffff'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('dc'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('dc0001'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('dcffff'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('dd0000'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('ddffffffff'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('ddffffffffc0c0c0'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('de0001'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('dfffffffff'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('df00000001'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('91'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('9f01'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('81'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('8100'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, X('01cc'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"select(2, pcall(function() return cmsgpack.unpack(X('c1')) end))"#,
                r#"user_script:28: Bad data format in input."#,
            ),
            (
                r#"select(2, pcall(function() return cmsgpack.unpack(X('cc')) end))"#,
                r#"user_script:28: Missing bytes in input."#,
            ),
        ]);
    }

    /// Non-string input.
    #[test]
    fn unpack_argument_errors() {
        check(&[
            (
                r#"P(cmsgpack.unpack)"#,
                r#"2:false s:62616420617267756d656e7420233120746f20273f272028737472696e672065787065637465642c20676f74206e6f2076616c756529"#,
            ),
            (
                r#"P(cmsgpack.unpack, {})"#,
                r#"2:false s:62616420617267756d656e7420233120746f20273f272028737472696e672065787065637465642c20676f74207461626c6529"#,
            ),
            (
                r#"P(cmsgpack.unpack, nil)"#,
                r#"2:false s:62616420617267756d656e7420233120746f20273f272028737472696e672065787065637465642c20676f74206e696c29"#,
            ),
            (
                r#"select(2, pcall(function() return cmsgpack.unpack({}) end))"#,
                r#"user_script:28: bad argument #1 to 'unpack' (string expected, got table)"#,
            ),
            (
                r#"select(2, pcall(function() return cmsgpack:unpack() end))"#,
                r#"user_script:28: calling 'unpack' on bad self (string expected, got table)"#,
            ),
        ]);
    }

    /// Return convention, -1 at the end, bad offsets.
    #[test]
    fn unpack_one_offsets() {
        check(&[
            (
                r#"R(cmsgpack.unpack_one(cmsgpack.pack(1, 'a', {2, 3}, true)))"#,
                r#"2:n:1 n:1"#,
            ),
            (
                r#"R(cmsgpack.unpack_one(cmsgpack.pack(1, 'a', {2, 3}, true), 1))"#,
                r#"2:n:3 s:61"#,
            ),
            (
                r#"R(cmsgpack.unpack_one(cmsgpack.pack(1, 'a', {2, 3}, true), 3))"#,
                r#"2:n:6 {n:1=n:2,n:2=n:3}"#,
            ),
            (
                r#"R(cmsgpack.unpack_one(cmsgpack.pack(1, 'a', {2, 3}, true), 6))"#,
                r#"2:n:-1 true"#,
            ),
            (
                r#"R(cmsgpack.unpack_one(cmsgpack.pack(1, 'a', {2, 3}, true), 7))"#,
                r#"1:n:-1"#,
            ),
            (
                r#"P(cmsgpack.unpack_one, cmsgpack.pack(1, 'a', {2, 3}, true), 8)"#,
                r#"2:false s:5374617274206f666673657420382067726561746572207468616e20696e707574206c656e67746820372e"#,
            ),
            (
                r#"P(cmsgpack.unpack_one, cmsgpack.pack(1, 'a', {2, 3}, true), -1)"#,
                r#"2:false s:496e76616c6964207265717565737420746f20756e7061636b2077697468206f6666736574206f66202d3120616e64206c696d6974206f6620372e"#,
            ),
            (
                r#"R(cmsgpack.unpack_one(cmsgpack.pack(1, 'a', {2, 3}, true), '1'))"#,
                r#"2:n:3 s:61"#,
            ),
            (
                r#"R(cmsgpack.unpack_one(cmsgpack.pack(1, 'a', {2, 3}, true), 1.9))"#,
                r#"2:n:3 s:61"#,
            ),
            (
                r#"R(cmsgpack.unpack_one(cmsgpack.pack(1, 'a', {2, 3}, true), -0.5))"#,
                r#"2:n:1 n:1"#,
            ),
            (
                r#"R(cmsgpack.unpack_one(cmsgpack.pack(1, 'a', {2, 3}, true), nil))"#,
                r#"2:n:1 n:1"#,
            ),
            (
                r#"P(cmsgpack.unpack_one, cmsgpack.pack(1, 'a', {2, 3}, true), 2^32 + 1)"#,
                r#"2:false s:5374617274206f666673657420312067726561746572207468616e20696e707574206c656e67746820372e"#,
            ),
            (
                r#"P(cmsgpack.unpack_one, cmsgpack.pack(1, 'a', {2, 3}, true), 2^31)"#,
                r#"2:false s:5374617274206f6666736574202d323134373438333634382067726561746572207468616e20696e707574206c656e67746820372e"#,
            ),
            (
                r#"P(cmsgpack.unpack_one, cmsgpack.pack(1, 'a', {2, 3}, true), 2^33)"#,
                r#"2:false s:5374617274206f666673657420302067726561746572207468616e20696e707574206c656e67746820372e"#,
            ),
            (
                r#"P(cmsgpack.unpack_one, cmsgpack.pack(1, 'a', {2, 3}, true), -2^32)"#,
                r#"2:false s:496e76616c6964207265717565737420746f20756e7061636b2077697468206f6666736574206f66203020616e64206c696d6974206f6620372e"#,
            ),
            (
                r#"P(cmsgpack.unpack_one, cmsgpack.pack(1, 'a', {2, 3}, true), 1e300)"#,
                r#"2:false s:496e76616c6964207265717565737420746f20756e7061636b2077697468206f6666736574206f66203020616e64206c696d6974206f6620372e"#,
            ),
            (
                r#"P(cmsgpack.unpack_one, cmsgpack.pack(1, 'a', {2, 3}, true), 0/0)"#,
                r#"2:false s:496e76616c6964207265717565737420746f20756e7061636b2077697468206f6666736574206f66203020616e64206c696d6974206f6620372e"#,
            ),
            (
                r#"P(cmsgpack.unpack_one, cmsgpack.pack(1, 'a', {2, 3}, true), 'x')"#,
                r#"2:false s:62616420617267756d656e7420233220746f20273f2720286e756d6265722065787065637465642c20676f7420737472696e6729"#,
            ),
            (
                r#"P(cmsgpack.unpack_one, cmsgpack.pack(1, 'a', {2, 3}, true), {})"#,
                r#"2:false s:62616420617267756d656e7420233220746f20273f2720286e756d6265722065787065637465642c20676f74207461626c6529"#,
            ),
            (
                r#"P(cmsgpack.unpack_one)"#,
                r#"2:false s:62616420617267756d656e7420233120746f20273f272028737472696e672065787065637465642c20676f74206e6f2076616c756529"#,
            ),
            (
                r#"P(cmsgpack.unpack_one, {}, 1)"#,
                r#"2:false s:62616420617267756d656e7420233120746f20273f272028737472696e672065787065637465642c20676f74207461626c6529"#,
            ),
            (
                r#"P(cmsgpack.unpack_one, {}, 'x')"#,
                r#"2:false s:62616420617267756d656e7420233220746f20273f2720286e756d6265722065787065637465642c20676f7420737472696e6729"#,
            ),
            (r#"R(cmsgpack.unpack_one(''))"#, r#"1:n:-1"#),
            (r#"R(cmsgpack.unpack_one('', 0))"#, r#"1:n:-1"#),
            (
                r#"P(cmsgpack.unpack_one, '', 1)"#,
                r#"2:false s:5374617274206f666673657420312067726561746572207468616e20696e707574206c656e67746820302e"#,
            ),
            (r#"R(cmsgpack.unpack_one(123, 1))"#, r#"2:n:2 n:50"#),
            (r#"R(cmsgpack.unpack_one(X('01cc'), 0))"#, r#"2:n:1 n:1"#),
            (
                r#"P(cmsgpack.unpack_one, X('01cc'), 1)"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack_one, X('01c1'), 1)"#,
                r#"2:false s:426164206461746120666f726d617420696e20696e7075742e"#,
            ),
            (
                r#"R(cmsgpack.unpack_one(X('0102'), 0, 'extra', 'args'))"#,
                r#"2:n:1 n:1"#,
            ),
        ]);
    }

    /// Limits, limit 0, bad limits and offsets.
    #[test]
    fn unpack_limit_offsets() {
        check(&[
            (
                r#"R(cmsgpack.unpack_limit(cmsgpack.pack(1, 'a', {2, 3}, true), 2))"#,
                r#"3:n:3 n:1 s:61"#,
            ),
            (
                r#"R(cmsgpack.unpack_limit(cmsgpack.pack(1, 'a', {2, 3}, true), 0))"#,
                r#"4:n:1 s:61 {n:1=n:2,n:2=n:3} true"#,
            ),
            (
                r#"R(cmsgpack.unpack_limit(cmsgpack.pack(1, 'a', {2, 3}, true), 0, 1))"#,
                r#"1:n:1"#,
            ),
            (
                r#"R(cmsgpack.unpack_limit(cmsgpack.pack(1, 'a', {2, 3}, true), 0, 7))"#,
                r#"1:n:-1"#,
            ),
            (
                r#"R(cmsgpack.unpack_limit(cmsgpack.pack(1, 'a', {2, 3}, true), 10, 1))"#,
                r#"4:n:-1 s:61 {n:1=n:2,n:2=n:3} true"#,
            ),
            (
                r#"R(cmsgpack.unpack_limit(cmsgpack.pack(1, 'a', {2, 3}, true), 2, 3))"#,
                r#"3:n:-1 {n:1=n:2,n:2=n:3} true"#,
            ),
            (
                r#"R(cmsgpack.unpack_limit(cmsgpack.pack(1, 'a', {2, 3}, true), 2^32))"#,
                r#"5:n:-1 n:1 s:61 {n:1=n:2,n:2=n:3} true"#,
            ),
            (
                r#"R(cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), '2'))"#,
                r#"3:n:2 n:1 n:2"#,
            ),
            (
                r#"R(cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 1.5, '1'))"#,
                r#"2:n:2 n:2"#,
            ),
            (
                r#"P(cmsgpack.unpack_limit, cmsgpack.pack(1, 'a', {2, 3}, true), -1)"#,
                r#"2:false s:496e76616c6964207265717565737420746f20756e7061636b2077697468206f6666736574206f66203020616e64206c696d6974206f6620372e"#,
            ),
            (
                r#"P(cmsgpack.unpack_limit, cmsgpack.pack(1, 'a', {2, 3}, true), -3, 2)"#,
                r#"2:false s:496e76616c6964207265717565737420746f20756e7061636b2077697468206f6666736574206f66203220616e64206c696d6974206f6620372e"#,
            ),
            (
                r#"P(cmsgpack.unpack_limit, cmsgpack.pack(1, 'a', {2, 3}, true), 1, -2)"#,
                r#"2:false s:496e76616c6964207265717565737420746f20756e7061636b2077697468206f6666736574206f66202d3220616e64206c696d6974206f6620372e"#,
            ),
            (
                r#"P(cmsgpack.unpack_limit, cmsgpack.pack(1, 'a', {2, 3}, true), 1, 9)"#,
                r#"2:false s:5374617274206f666673657420392067726561746572207468616e20696e707574206c656e67746820372e"#,
            ),
            (
                r#"P(cmsgpack.unpack_limit, cmsgpack.pack(1, 'a', {2, 3}, true))"#,
                r#"2:false s:62616420617267756d656e7420233220746f20273f2720286e756d6265722065787065637465642c20676f74206e6f2076616c756529"#,
            ),
            (
                r#"P(cmsgpack.unpack_limit, cmsgpack.pack(1, 'a', {2, 3}, true), 'x')"#,
                r#"2:false s:62616420617267756d656e7420233220746f20273f2720286e756d6265722065787065637465642c20676f7420737472696e6729"#,
            ),
            (
                r#"P(cmsgpack.unpack_limit, cmsgpack.pack(1, 'a', {2, 3}, true), 1, 'x')"#,
                r#"2:false s:62616420617267756d656e7420233320746f20273f2720286e756d6265722065787065637465642c20676f7420737472696e6729"#,
            ),
            (
                r#"P(cmsgpack.unpack_limit, {}, 'x')"#,
                r#"2:false s:62616420617267756d656e7420233220746f20273f2720286e756d6265722065787065637465642c20676f7420737472696e6729"#,
            ),
            (
                r#"P(cmsgpack.unpack_limit, {}, 1)"#,
                r#"2:false s:62616420617267756d656e7420233120746f20273f272028737472696e672065787065637465642c20676f74207461626c6529"#,
            ),
            (r#"R(cmsgpack.unpack_limit('', 3))"#, r#"1:n:-1"#),
            (
                r#"P(cmsgpack.unpack_limit, X('01cc'), 2)"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack_limit, X('0181'), 5)"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"select(2, pcall(function() return cmsgpack.unpack_one('x', 5) end))"#,
                r#"user_script:28: Start offset 5 greater than input length 1."#,
            ),
            (
                r#"select(2, pcall(function() return cmsgpack.unpack_limit('x', 'y') end))"#,
                r#"user_script:28: bad argument #2 to 'unpack_limit' (number expected, got string)"#,
            ),
        ]);
    }

    /// Too many values at once.
    #[test]
    fn unpack_stack_limits() {
        check(&[
            (
                r#"select('#', cmsgpack.unpack(string.rep(X('00'), 7999)))"#,
                r#"7999"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('00'), 8000))"#,
                r#"2:false s:737461636b206f766572666c6f772028746f6f206d616e792072657475726e2076616c756573206174206f6e63653b2075736520756e7061636b5f6f6e65206f7220756e7061636b5f6c696d697420696e73746561642e29"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('00'), 100000))"#,
                r#"2:false s:737461636b206f766572666c6f772028746f6f206d616e792072657475726e2076616c756573206174206f6e63653b2075736520756e7061636b5f6f6e65206f7220756e7061636b5f6c696d697420696e73746561642e29"#,
            ),
            (
                r#"select('#', cmsgpack.unpack(string.rep(X('00'), 7998), 'x'))"#,
                r#"7998"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('00'), 7999), 'x')"#,
                r#"2:false s:737461636b206f766572666c6f772028746f6f206d616e792072657475726e2076616c756573206174206f6e63653b2075736520756e7061636b5f6f6e65206f7220756e7061636b5f6c696d697420696e73746561642e29"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('00'), 7999) .. X('cc'))"#,
                r#"2:false s:737461636b206f766572666c6f772028746f6f206d616e792072657475726e2076616c756573206174206f6e63653b2075736520756e7061636b5f6f6e65206f7220756e7061636b5f6c696d697420696e73746561642e29"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('00'), 7998) .. X('cc'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"select('#', cmsgpack.unpack_limit(string.rep(X('00'), 7998), 10000))"#,
                r#"7999"#,
            ),
            (
                r#"P(cmsgpack.unpack_limit, string.rep(X('00'), 7999), 10000)"#,
                r#"2:false s:737461636b206f766572666c6f772028696e2066756e6374696f6e206d705f756e7061636b5f66756c6c29"#,
            ),
            (
                r#"P(cmsgpack.unpack_limit, string.rep(X('00'), 8000), 10000)"#,
                r#"2:false s:737461636b206f766572666c6f772028746f6f206d616e792072657475726e2076616c756573206174206f6e63653b2075736520756e7061636b5f6f6e65206f7220756e7061636b5f6c696d697420696e73746561642e29"#,
            ),
            (
                r#"select('#', cmsgpack.unpack_limit(string.rep(X('00'), 8000), 7000, 10))"#,
                r#"7001"#,
            ),
        ]);
    }

    /// Hostile nesting of arrays and maps.
    #[test]
    fn unpack_deep_nesting() {
        check(&[
            (
                r#"(function() local ok, e = pcall(cmsgpack.unpack, string.rep(X('91'), 3999) .. X('01')) local d = 0 while type(e) == 'table' do e = e[1] d = d + 1 end return tostring(ok) .. d .. tostring(e) end)()"#,
                r#"true39991"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('91'), 4000) .. X('01'))"#,
                r#"2:false s:737461636b206f766572666c6f772028696e2066756e6374696f6e206d705f6465636f64655f746f5f6c75615f617272617929"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('91'), 100000))"#,
                r#"2:false s:737461636b206f766572666c6f772028696e2066756e6374696f6e206d705f6465636f64655f746f5f6c75615f617272617929"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('91'), 3999) .. X('90'))"#,
                r#"2:false s:737461636b206f766572666c6f772028696e2066756e6374696f6e206d705f6465636f64655f746f5f6c75615f617272617929"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('91'), 3999) .. X('91'))"#,
                r#"2:false s:737461636b206f766572666c6f772028696e2066756e6374696f6e206d705f6465636f64655f746f5f6c75615f617272617929"#,
            ),
            (
                r#"(function() local ok, e = pcall(cmsgpack.unpack, string.rep(X('8101'), 3999) .. X('01')) local d = 0 while type(e) == 'table' do e = e[1] d = d + 1 end return tostring(ok) .. d .. tostring(e) end)()"#,
                r#"true39991"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('8101'), 4000) .. X('01'))"#,
                r#"2:false s:737461636b206f766572666c6f772028746f6f206d616e792072657475726e2076616c756573206174206f6e63653b2075736520756e7061636b5f6f6e65206f7220756e7061636b5f6c696d697420696e73746561642e29"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('8101'), 100000) .. X('01'))"#,
                r#"2:false s:737461636b206f766572666c6f772028746f6f206d616e792072657475726e2076616c756573206174206f6e63653b2075736520756e7061636b5f6f6e65206f7220756e7061636b5f6c696d697420696e73746561642e29"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('81'), 7997) .. X('0101') .. string.rep(X('01'), 7996)):sub(1, 6)"#,
                r#"2:true"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('81'), 7998) .. X('0101') .. string.rep(X('01'), 7997))"#,
                r#"2:false s:737461636b206f766572666c6f772028746f6f206d616e792072657475726e2076616c756573206174206f6e63653b2075736520756e7061636b5f6f6e65206f7220756e7061636b5f6c696d697420696e73746561642e29"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('81'), 7998) .. X('01'))"#,
                r#"2:false s:4d697373696e6720627974657320696e20696e7075742e"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('81'), 7998) .. X('01cc'))"#,
                r#"2:false s:737461636b206f766572666c6f772028746f6f206d616e792072657475726e2076616c756573206174206f6e63653b2075736520756e7061636b5f6f6e65206f7220756e7061636b5f6c696d697420696e73746561642e29"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('81'), 200000))"#,
                r#"2:false s:737461636b206f766572666c6f772028746f6f206d616e792072657475726e2076616c756573206174206f6e63653b2075736520756e7061636b5f6f6e65206f7220756e7061636b5f6c696d697420696e73746561642e29"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('dfffffffff'), 20000))"#,
                r#"2:false s:737461636b206f766572666c6f772028746f6f206d616e792072657475726e2076616c756573206174206f6e63653b2075736520756e7061636b5f6f6e65206f7220756e7061636b5f6c696d697420696e73746561642e29"#,
            ),
            (
                r#"P(cmsgpack.unpack, string.rep(X('ddffffffff'), 20000))"#,
                r#"2:false s:737461636b206f766572666c6f772028696e2066756e6374696f6e206d705f6465636f64655f746f5f6c75615f617272617929"#,
            ),
        ]);
    }

    /// Round trips, every leading byte.
    #[test]
    fn round_trips_and_byte_sweeps() {
        check(&[
            (
                r#"R(cmsgpack.unpack(cmsgpack.pack((function() local t = {} t[1] = t return t end)())))"#,
                r#"1:{n:1={n:1={n:1={n:1={n:1={n:1={n:1={n:1={n:1={n:1={n:1={n:1={n:1={n:1={n:1={}}}}}}}}}}}}}}}}"#,
            ),
            (
                r#"(function() local s = cmsgpack.pack({1, 'two', {three = 3}, {4.5, {true}}}) return H(s) .. ' ' .. H(cmsgpack.pack(cmsgpack.unpack(s))) end)()"#,
                r#"9401a374776f81a574687265650392ca4090000091c3 9401a374776f81a574687265650392ca4090000091c3"#,
            ),
            (
                r#"(function() local v = {} for i = 1, 100 do v[i] = i * 1000 - 7 end local s = cmsgpack.pack(v) return D(cmsgpack.unpack(s)) == D(v) and H(s):sub(1, 20) or 'mismatch' end)()"#,
                r#"dc0064cd03e1cd07c9cd"#,
            ),
            (
                r#"(function() local r = {} for i = 0, 255 do local s = string.char(i) local ok, a, b = pcall(cmsgpack.unpack, s .. string.rep(X('00'), 9)) r[#r+1] = tostring(ok) .. (ok and D(a) or a) end return table.concat(r, ';') end)()"#,
                r#"truen:0;truen:1;truen:2;truen:3;truen:4;truen:5;truen:6;truen:7;truen:8;truen:9;truen:10;truen:11;truen:12;truen:13;truen:14;truen:15;truen:16;truen:17;truen:18;truen:19;truen:20;truen:21;truen:22;truen:23;truen:24;truen:25;truen:26;truen:27;truen:28;truen:29;truen:30;truen:31;truen:32;truen:33;truen:34;truen:35;truen:36;truen:37;truen:38;truen:39;truen:40;truen:41;truen:42;truen:43;truen:44;truen:45;truen:46;truen:47;truen:48;truen:49;truen:50;truen:51;truen:52;truen:53;truen:54;truen:55;truen:56;truen:57;truen:58;truen:59;truen:60;truen:61;truen:62;truen:63;truen:64;truen:65;truen:66;truen:67;truen:68;truen:69;truen:70;truen:71;truen:72;truen:73;truen:74;truen:75;truen:76;truen:77;truen:78;truen:79;truen:80;truen:81;truen:82;truen:83;truen:84;truen:85;truen:86;truen:87;truen:88;truen:89;truen:90;truen:91;truen:92;truen:93;truen:94;truen:95;truen:96;truen:97;truen:98;truen:99;truen:100;truen:101;truen:102;truen:103;truen:104;truen:105;truen:106;truen:107;truen:108;truen:109;truen:110;truen:111;truen:112;truen:113;truen:114;truen:115;truen:116;truen:117;truen:118;truen:119;truen:120;truen:121;truen:122;truen:123;truen:124;truen:125;truen:126;truen:127;true{};true{n:0=n:0};true{n:0=n:0};true{n:0=n:0};true{n:0=n:0};falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;true{};true{n:1=n:0};true{n:1=n:0,n:2=n:0};true{n:1=n:0,n:2=n:0,n:3=n:0};true{n:1=n:0,n:2=n:0,n:3=n:0,n:4=n:0};true{n:1=n:0,n:2=n:0,n:3=n:0,n:4=n:0,n:5=n:0};true{n:1=n:0,n:2=n:0,n:3=n:0,n:4=n:0,n:5=n:0,n:6=n:0};true{n:1=n:0,n:2=n:0,n:3=n:0,n:4=n:0,n:5=n:0,n:6=n:0,n:7=n:0};true{n:1=n:0,n:2=n:0,n:3=n:0,n:4=n:0,n:5=n:0,n:6=n:0,n:7=n:0,n:8=n:0};true{n:1=n:0,n:2=n:0,n:3=n:0,n:4=n:0,n:5=n:0,n:6=n:0,n:7=n:0,n:8=n:0,n:9=n:0};falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;trues:;trues:00;trues:0000;trues:000000;trues:00000000;trues:0000000000;trues:000000000000;trues:00000000000000;trues:0000000000000000;trues:000000000000000000;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;falseMissing bytes in input.;truenil;falseBad data format in input.;truefalse;truetrue;falseBad data format in input.;falseBad data format in input.;falseBad data format in input.;falseBad data format in input.;falseBad data format in input.;falseBad data format in input.;truen:0;truen:0;truen:0;truen:0;truen:0;truen:0;truen:0;truen:0;truen:0;truen:0;falseBad data format in input.;falseBad data format in input.;falseBad data format in input.;falseBad data format in input.;falseBad data format in input.;trues:;trues:;trues:;true{};true{};true{};true{};truen:-32;truen:-31;truen:-30;truen:-29;truen:-28;truen:-27;truen:-26;truen:-25;truen:-24;truen:-23;truen:-22;truen:-21;truen:-20;truen:-19;truen:-18;truen:-17;truen:-16;truen:-15;truen:-14;truen:-13;truen:-12;truen:-11;truen:-10;truen:-9;truen:-8;truen:-7;truen:-6;truen:-5;truen:-4;truen:-3;truen:-2;truen:-1"#,
            ),
            (
                r#"(function() local r = {} for i = 0, 255 do local ok, e = pcall(cmsgpack.unpack, string.char(i)) r[#r+1] = ok and 'ok' or e:sub(1,1) end return table.concat(r) end)()"#,
                r#"okokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokMMMMMMMMMMMMMMMokMMMMMMMMMMMMMMMokMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMMokBokokBBBBBBMMMMMMMMMMBBBBBMMMMMMMokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokokok"#,
            ),
        ]);
    }

    /// Metadata strings and pairs order.
    #[test]
    fn library_fields() {
        check(&[
            (
                r#"R(cmsgpack._NAME, cmsgpack._VERSION, cmsgpack._COPYRIGHT, cmsgpack._DESCRIPTION)"#,
                r#"4:s:636d73677061636b s:6c75612d636d73677061636b20302e342e30 s:436f707972696768742028432920323031322c2053616c7661746f72652053616e66696c6970706f s:4d6573736167655061636b204320696d706c656d656e746174696f6e20666f72204c7561"#,
            ),
            (
                r#"(function() local r = {} for k, v in pairs(cmsgpack) do r[#r+1] = k .. '=' .. type(v) end return table.concat(r, ',') end)()"#,
                r#"_DESCRIPTION=string,pack=function,_NAME=string,unpack=function,_COPYRIGHT=string,_VERSION=string,unpack_one=function,unpack_limit=function"#,
            ),
        ]);
    }

    #[test]
    fn errors_are_plain_strings() {
        let lua = lua();
        let t: mlua::Table = lua
            .load("local ok, e = pcall(cmsgpack.unpack, '\\204') return {ok, type(e), e}")
            .eval()
            .unwrap();
        assert!(!t.get::<bool>(1).unwrap());
        assert_eq!(t.get::<String>(2).unwrap(), "string");
        assert_eq!(t.get::<String>(3).unwrap(), "Missing bytes in input.");
    }

    #[test]
    fn uncaught_error_reaches_rust_with_position() {
        let lua = lua();
        let err = lua
            .load("return cmsgpack.unpack('\\193')")
            .set_name("@user_script")
            .exec()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("user_script:1: Bad data format in input."),
            "{err}"
        );
    }
}
