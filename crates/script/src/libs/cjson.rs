//! `cjson`: the JSON library Redis 7.0 gives scripts (lua-cjson 2.1.0),
//! written against Lua's C API so its outputs and error messages are the
//! ones scripts see on Redis.
//!
//! Behaviour kept from the original, as observed on redis-server 7.0.15:
//!
//! * Encoding: numbers with `%.<precision>g` (14 by default); NaN and
//!   infinities are refused, written as `inf`/`-inf`/`nan` or as `null`
//!   depending on `encode_invalid_numbers`. Strings escape `"`, `\`, `/`,
//!   control characters (`\b \f \n \r \t` short, the rest and DEL as
//!   `\u00xx`) and pass every other byte through. A table is an array when
//!   all its keys are positive integers and it is not excessively sparse
//!   (`encode_sparse_array`), otherwise an object whose number keys are
//!   written as strings; an empty table is `{}`.
//! * Decoding: `null` becomes `cjson.null` (a NULL light userdata), numbers
//!   are read with C's `strtod` (so hex, `inf`, `nan` and a leading `+` are
//!   taken while `decode_invalid_numbers` is on), `\u` escapes (surrogate
//!   pairs too) become UTF-8. Parsing stops at a NUL byte as the C parser
//!   does.
//! * Nesting: both directions count depth against their limits (1000 by
//!   default) and against the Lua stack (`lua_checkstack`) with the same
//!   slot use per level as the C library, so the depth at which a huge
//!   limit gives up is the same too.
//! * Errors are raised as plain strings through `lua_error`, prefixed like
//!   `luaL_error`'s (the calling Lua function's position, if any).
//!
//! Every function is a raw C function. Nothing with a destructor is alive in
//! a frame when Lua may longjmp out of it (errors raised here, or a memory
//! error inside the C API): buffers are `ManuallyDrop` and freed by hand.

use std::ffi::CStr;
use std::mem::{size_of, ManuallyDrop};
use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

use mlua::ffi::{self, lua_State};

extern "C" {
    fn snprintf(buf: *mut c_char, size: usize, fmt: *const c_char, ...) -> c_int;
    fn strtod(s: *const c_char, end: *mut *mut c_char) -> f64;
}

/// One library instance's settings (the userdata every function of the
/// instance carries as its first upvalue).
#[repr(C)]
#[derive(Clone, Copy)]
struct Config {
    encode_sparse_convert: c_int,
    encode_sparse_ratio: c_int,
    encode_sparse_safe: c_int,
    encode_max_depth: c_int,
    /// 0: refuse, 1: write inf/nan, 2: write null.
    encode_invalid_numbers: c_int,
    encode_number_precision: c_int,
    encode_keep_buffer: c_int,
    decode_invalid_numbers: c_int,
    decode_max_depth: c_int,
}

const DEFAULT_CONFIG: Config = Config {
    encode_sparse_convert: 0,
    encode_sparse_ratio: 2,
    encode_sparse_safe: 10,
    encode_max_depth: 1000,
    encode_invalid_numbers: 0,
    encode_number_precision: 14,
    encode_keep_buffer: 1,
    decode_invalid_numbers: 1,
    decode_max_depth: 1000,
};

pub fn open(lua: &mlua::Lua) -> mlua::Result<mlua::Table> {
    let new = unsafe { lua.create_c_function(cjson_new)? };
    new.call::<mlua::Table>(())
}

// ---------------------------------------------------------------------------
// Small helpers over the C API
// ---------------------------------------------------------------------------

unsafe fn push_bytes(l: *mut lua_State, b: &[u8]) {
    if b.is_empty() {
        ffi::lua_pushlstring_(l, c"".as_ptr(), 0);
    } else {
        ffi::lua_pushlstring_(l, b.as_ptr() as *const c_char, b.len());
    }
}

/// Raises `msg` the way `luaL_error` would: prefixed with the position of
/// the calling Lua function (empty when called from C, e.g. by `pcall`).
/// The message is freed before the longjmp.
unsafe fn raise(l: *mut lua_State, msg: Vec<u8>) -> ! {
    let mut msg = ManuallyDrop::new(msg);
    // The error may come from deep inside a nesting: make room first.
    ffi::lua_settop(l, 0);
    ffi::luaL_where(l, 1);
    push_bytes(l, &msg);
    ManuallyDrop::drop(&mut msg);
    ffi::lua_concat(l, 2);
    ffi::lua_error(l)
}

unsafe fn type_name(l: *mut lua_State, idx: c_int) -> &'static [u8] {
    let p = ffi::lua_typename(l, ffi::lua_type(l, idx));
    if p.is_null() {
        b"?"
    } else {
        CStr::from_ptr(p).to_bytes()
    }
}

/// The instance's settings, from the calling closure's first upvalue.
unsafe fn fetch_config(l: *mut lua_State) -> *mut Config {
    let idx = ffi::lua_upvalueindex(1);
    if ffi::lua_type(l, idx) == ffi::LUA_TUSERDATA && ffi::lua_objlen(l, idx) == size_of::<Config>()
    {
        let p = ffi::lua_touserdata(l, idx) as *mut Config;
        if !p.is_null() {
            return p;
        }
    }
    raise(l, b"BUG: Unable to fetch CJSON configuration".to_vec())
}

/// C's `(int)` conversion of a double as x86-64 does it (`cvttsd2si`):
/// out of range (or NaN) gives INT_MIN.
fn double_to_int(d: f64) -> c_int {
    if (-2147483648.0..2147483648.0).contains(&d) {
        d as c_int
    } else {
        c_int::MIN
    }
}

// ---------------------------------------------------------------------------
// Configuration functions
// ---------------------------------------------------------------------------

/// Refuses more than `n` arguments and pads the missing ones with nil.
unsafe fn arg_init(l: *mut lua_State, n: c_int) {
    if ffi::lua_gettop(l) > n {
        ffi::luaL_argerror(l, n + 1, c"found too many arguments".as_ptr());
    }
    while ffi::lua_gettop(l) < n {
        ffi::lua_pushnil(l);
    }
}

/// An integer setting: nil keeps it, anything else must be an integer in
/// `min..=max` (the range error names argument #1, as the original does).
/// Pushes the setting's value.
unsafe fn integer_option(
    l: *mut lua_State,
    idx: c_int,
    setting: *mut c_int,
    min: c_int,
    max: c_int,
    range_msg: &'static CStr,
) {
    if ffi::lua_type(l, idx) != ffi::LUA_TNIL {
        // C's (int) of the lua_Integer: truncation.
        let v = ffi::luaL_checkinteger(l, idx) as c_int;
        if v < min || v > max {
            ffi::luaL_argerror(l, 1, range_msg.as_ptr());
        }
        *setting = v;
    }
    ffi::lua_pushinteger(l, *setting as ffi::lua_Integer);
}

/// An enumerated setting: nil keeps it, a boolean means off/on, a string
/// must be one of `names`. Pushes false/true for off/on, the name otherwise.
unsafe fn enum_option(l: *mut lua_State, idx: c_int, setting: *mut c_int, names: &[&'static CStr]) {
    match ffi::lua_type(l, idx) {
        ffi::LUA_TNIL => {}
        ffi::LUA_TBOOLEAN => *setting = ffi::lua_toboolean(l, idx),
        _ => {
            let mut list: [*const c_char; 4] = [ptr::null(); 4];
            for (slot, name) in list.iter_mut().zip(names.iter()) {
                *slot = name.as_ptr();
            }
            *setting = ffi::luaL_checkoption(l, idx, ptr::null(), list.as_ptr());
        }
    }
    match *setting {
        0 => ffi::lua_pushboolean(l, 0),
        1 => ffi::lua_pushboolean(l, 1),
        n => {
            let name = names.get(n as usize).copied().unwrap_or(c"");
            ffi::lua_pushstring_(l, name.as_ptr());
        }
    }
}

const BOOL_NAMES: [&CStr; 2] = [c"off", c"on"];
const INVALID_NUMBER_NAMES: [&CStr; 3] = [c"off", c"on", c"null"];
const MSG_0_INT_MAX: &CStr = c"expected integer between 0 and 2147483647";
const MSG_1_INT_MAX: &CStr = c"expected integer between 1 and 2147483647";
const MSG_1_14: &CStr = c"expected integer between 1 and 14";

unsafe extern "C-unwind" fn cfg_encode_sparse_array(l: *mut lua_State) -> c_int {
    let cfg = fetch_config(l);
    arg_init(l, 3);
    enum_option(
        l,
        1,
        ptr::addr_of_mut!((*cfg).encode_sparse_convert),
        &BOOL_NAMES,
    );
    integer_option(
        l,
        2,
        ptr::addr_of_mut!((*cfg).encode_sparse_ratio),
        0,
        c_int::MAX,
        MSG_0_INT_MAX,
    );
    integer_option(
        l,
        3,
        ptr::addr_of_mut!((*cfg).encode_sparse_safe),
        0,
        c_int::MAX,
        MSG_0_INT_MAX,
    );
    3
}

unsafe extern "C-unwind" fn cfg_encode_max_depth(l: *mut lua_State) -> c_int {
    let cfg = fetch_config(l);
    arg_init(l, 1);
    integer_option(
        l,
        1,
        ptr::addr_of_mut!((*cfg).encode_max_depth),
        1,
        c_int::MAX,
        MSG_1_INT_MAX,
    );
    1
}

unsafe extern "C-unwind" fn cfg_decode_max_depth(l: *mut lua_State) -> c_int {
    let cfg = fetch_config(l);
    arg_init(l, 1);
    integer_option(
        l,
        1,
        ptr::addr_of_mut!((*cfg).decode_max_depth),
        1,
        c_int::MAX,
        MSG_1_INT_MAX,
    );
    1
}

unsafe extern "C-unwind" fn cfg_encode_number_precision(l: *mut lua_State) -> c_int {
    let cfg = fetch_config(l);
    arg_init(l, 1);
    integer_option(
        l,
        1,
        ptr::addr_of_mut!((*cfg).encode_number_precision),
        1,
        14,
        MSG_1_14,
    );
    1
}

unsafe extern "C-unwind" fn cfg_encode_keep_buffer(l: *mut lua_State) -> c_int {
    let cfg = fetch_config(l);
    arg_init(l, 1);
    enum_option(
        l,
        1,
        ptr::addr_of_mut!((*cfg).encode_keep_buffer),
        &BOOL_NAMES,
    );
    1
}

unsafe extern "C-unwind" fn cfg_encode_invalid_numbers(l: *mut lua_State) -> c_int {
    let cfg = fetch_config(l);
    arg_init(l, 1);
    enum_option(
        l,
        1,
        ptr::addr_of_mut!((*cfg).encode_invalid_numbers),
        &INVALID_NUMBER_NAMES,
    );
    1
}

unsafe extern "C-unwind" fn cfg_decode_invalid_numbers(l: *mut lua_State) -> c_int {
    let cfg = fetch_config(l);
    arg_init(l, 1);
    enum_option(
        l,
        1,
        ptr::addr_of_mut!((*cfg).decode_invalid_numbers),
        &BOOL_NAMES,
    );
    1
}

// ---------------------------------------------------------------------------
// Instances
// ---------------------------------------------------------------------------

type CFn = unsafe extern "C-unwind" fn(*mut lua_State) -> c_int;

const FUNCTIONS: [(&CStr, CFn); 9] = [
    (c"encode", json_encode),
    (c"decode", json_decode),
    (c"encode_sparse_array", cfg_encode_sparse_array),
    (c"encode_max_depth", cfg_encode_max_depth),
    (c"decode_max_depth", cfg_decode_max_depth),
    (c"encode_number_precision", cfg_encode_number_precision),
    (c"encode_keep_buffer", cfg_encode_keep_buffer),
    (c"encode_invalid_numbers", cfg_encode_invalid_numbers),
    (c"decode_invalid_numbers", cfg_decode_invalid_numbers),
];

/// `cjson.new()`: a fresh instance with default settings (arguments are
/// ignored).
unsafe extern "C-unwind" fn cjson_new(l: *mut lua_State) -> c_int {
    ffi::lua_createtable(l, 0, 13);
    let cfg = ffi::lua_newuserdata(l, size_of::<Config>()) as *mut Config;
    ptr::write(cfg, DEFAULT_CONFIG);
    for (name, f) in FUNCTIONS {
        ffi::lua_pushvalue(l, -1);
        ffi::lua_pushcclosure(l, f, 1);
        ffi::lua_setfield(l, -3, name.as_ptr());
    }
    ffi::lua_pop(l, 1);
    ffi::lua_pushcclosure(l, cjson_new, 0);
    ffi::lua_setfield(l, -2, c"new".as_ptr());
    ffi::lua_pushlightuserdata(l, ptr::null_mut());
    ffi::lua_setfield(l, -2, c"null".as_ptr());
    ffi::lua_pushstring_(l, c"cjson".as_ptr());
    ffi::lua_setfield(l, -2, c"_NAME".as_ptr());
    ffi::lua_pushstring_(l, c"2.1.0".as_ptr());
    ffi::lua_setfield(l, -2, c"_VERSION".as_ptr());
    1
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

fn serialise_error(type_name: &[u8], reason: &str) -> Vec<u8> {
    let mut m = b"Cannot serialise ".to_vec();
    m.extend_from_slice(type_name);
    m.extend_from_slice(b": ");
    m.extend_from_slice(reason.as_bytes());
    m
}

fn append_string(buf: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.reserve(s.len() + 2);
    buf.push(b'"');
    let mut run = 0;
    for (i, &c) in s.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'/' => b"\\/",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f | 0x7f => b"",
            _ => continue,
        };
        buf.extend_from_slice(&s[run..i]);
        run = i + 1;
        if esc.is_empty() {
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX[(c >> 4) as usize]);
            buf.push(HEX[(c & 15) as usize]);
        } else {
            buf.extend_from_slice(esc);
        }
    }
    buf.extend_from_slice(&s[run..]);
    buf.push(b'"');
}

/// Appends the number at `idx` (a value or a key) as the settings say.
unsafe fn append_number(
    l: *mut lua_State,
    cfg: &Config,
    buf: &mut Vec<u8>,
    idx: c_int,
) -> Result<(), Vec<u8>> {
    let n = ffi::lua_tonumber(l, idx);
    match cfg.encode_invalid_numbers {
        0 => {
            if !n.is_finite() {
                return Err(serialise_error(b"number", "must not be NaN or Inf"));
            }
        }
        1 => {
            if n.is_nan() {
                buf.extend_from_slice(b"nan");
                return Ok(());
            }
        }
        _ => {
            if !n.is_finite() {
                buf.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    let mut tmp = [0 as c_char; 40];
    let len = snprintf(
        tmp.as_mut_ptr(),
        tmp.len(),
        c"%.*g".as_ptr(),
        cfg.encode_number_precision.clamp(1, 14),
        n,
    );
    let len = (len.max(0) as usize).min(tmp.len() - 1);
    buf.extend(tmp[..len].iter().map(|&c| c as u8));
    Ok(())
}

/// For the table on top of the stack: its array length when every key is a
/// positive integer (the largest key), or -1 when it must be an object.
/// Follows the original's arithmetic, C `int` conversions included.
unsafe fn array_length(l: *mut lua_State, cfg: &Config) -> Result<c_int, Vec<u8>> {
    let mut max: c_int = 0;
    let mut items: c_int = 0;
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, -2) != 0 {
        if ffi::lua_type(l, -2) == ffi::LUA_TNUMBER {
            let k = ffi::lua_tonumber(l, -2);
            if k != 0.0 && k.floor() == k && k >= 1.0 {
                if k > max as f64 {
                    max = double_to_int(k);
                }
                items = items.wrapping_add(1);
                ffi::lua_pop(l, 1);
                continue;
            }
        }
        ffi::lua_pop(l, 2);
        return Ok(-1);
    }
    if cfg.encode_sparse_ratio > 0
        && max > items.wrapping_mul(cfg.encode_sparse_ratio)
        && max > cfg.encode_sparse_safe
    {
        if cfg.encode_sparse_convert == 0 {
            return Err(serialise_error(b"table", "excessively sparse array"));
        }
        return Ok(-1);
    }
    Ok(max)
}

#[derive(Clone, Copy)]
enum EncodeFrame {
    /// An array being written: its length and the next index to write.
    Array { len: i64, next: i64 },
    /// An object being written (its current key is on the stack).
    Object { first: bool },
}

/// Encodes the value at the top of the stack into `buf`. Iterative: the
/// containers being written are in `frames`, their tables (and the current
/// element or key/value) on the Lua stack, as many slots per level as the
/// recursive original uses.
unsafe fn encode_value(
    l: *mut lua_State,
    cfg: &Config,
    buf: &mut Vec<u8>,
    frames: &mut Vec<EncodeFrame>,
) -> Result<(), Vec<u8>> {
    let mut depth: c_int = 0;
    'value: loop {
        // The value to write is at -1.
        let mut entered = false;
        match ffi::lua_type(l, -1) {
            ffi::LUA_TSTRING => {
                let mut len = 0usize;
                let p = ffi::lua_tolstring(l, -1, &mut len);
                append_string(buf, std::slice::from_raw_parts(p as *const u8, len));
            }
            ffi::LUA_TNUMBER => append_number(l, cfg, buf, -1)?,
            ffi::LUA_TBOOLEAN => {
                if ffi::lua_toboolean(l, -1) != 0 {
                    buf.extend_from_slice(b"true");
                } else {
                    buf.extend_from_slice(b"false");
                }
            }
            ffi::LUA_TNIL => buf.extend_from_slice(b"null"),
            ffi::LUA_TLIGHTUSERDATA if ffi::lua_touserdata(l, -1).is_null() => {
                buf.extend_from_slice(b"null")
            }
            ffi::LUA_TTABLE => {
                depth = depth.wrapping_add(1);
                if depth > cfg.encode_max_depth || ffi::lua_checkstack(l, 3) == 0 {
                    return Err(
                        format!("Cannot serialise, excessive nesting ({depth})").into_bytes()
                    );
                }
                let len = array_length(l, cfg)?;
                if len > 0 {
                    buf.push(b'[');
                    frames.push(EncodeFrame::Array {
                        len: len as i64,
                        next: 1,
                    });
                } else {
                    buf.push(b'{');
                    ffi::lua_pushnil(l);
                    frames.push(EncodeFrame::Object { first: true });
                }
                entered = true;
            }
            _ => {
                let t = type_name(l, -1);
                return Err(serialise_error(t, "type not supported"));
            }
        }
        // Move on within the innermost container.
        let mut pop_child = !entered;
        loop {
            let Some(frame) = frames.last_mut() else {
                return Ok(());
            };
            if pop_child {
                ffi::lua_pop(l, 1);
            }
            match frame {
                EncodeFrame::Array { len, next } => {
                    if *next <= *len {
                        if *next > 1 {
                            buf.push(b',');
                        }
                        ffi::lua_rawgeti_(l, -1, *next as c_int);
                        *next += 1;
                        continue 'value;
                    }
                    buf.push(b']');
                }
                EncodeFrame::Object { first } => {
                    if ffi::lua_next(l, -2) != 0 {
                        if !*first {
                            buf.push(b',');
                        }
                        *first = false;
                        match ffi::lua_type(l, -2) {
                            ffi::LUA_TNUMBER => {
                                buf.push(b'"');
                                append_number(l, cfg, buf, -2)?;
                                buf.extend_from_slice(b"\":");
                            }
                            ffi::LUA_TSTRING => {
                                let mut len = 0usize;
                                let p = ffi::lua_tolstring(l, -2, &mut len);
                                append_string(buf, std::slice::from_raw_parts(p as *const u8, len));
                                buf.push(b':');
                            }
                            _ => {
                                let t = type_name(l, -2);
                                return Err(serialise_error(
                                    t,
                                    "table key must be a number or string",
                                ));
                            }
                        }
                        continue 'value;
                    }
                    buf.push(b'}');
                }
            }
            frames.pop();
            depth -= 1;
            pop_child = true;
        }
    }
}

unsafe extern "C-unwind" fn json_encode(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        ffi::luaL_argerror(l, 1, c"expected 1 argument".as_ptr());
    }
    let cfg = *fetch_config(l);
    let mut buf: ManuallyDrop<Vec<u8>> = ManuallyDrop::new(Vec::new());
    let mut frames: ManuallyDrop<Vec<EncodeFrame>> = ManuallyDrop::new(Vec::new());
    let res = encode_value(l, &cfg, &mut buf, &mut frames);
    ManuallyDrop::drop(&mut frames);
    match res {
        Ok(()) => {
            push_bytes(l, &buf);
            ManuallyDrop::drop(&mut buf);
            1
        }
        Err(msg) => {
            ManuallyDrop::drop(&mut buf);
            raise(l, msg)
        }
    }
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    /// The string's bytes are in the decoder's scratch buffer.
    Str,
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

#[derive(Clone, Copy)]
struct Token {
    tok: Tok,
    /// Offset in the input where the token (or its error) is.
    index: usize,
}

impl Token {
    fn describe(&self) -> &'static str {
        match self.tok {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(e) => e,
        }
    }
}

fn parse_error(expected: &str, t: &Token) -> Vec<u8> {
    format!(
        "Expected {} but found {} at character {}",
        expected,
        t.describe(),
        t.index + 1
    )
    .into_bytes()
}

#[derive(Clone, Copy)]
enum DecodeFrame {
    /// An array being filled: the index of its next element.
    Array(c_int),
    /// An object being filled (the current key is on the stack).
    Object,
}

struct Decoder<'a> {
    /// The input; Lua keeps a NUL after its last byte.
    data: &'a [u8],
    pos: usize,
    invalid_numbers: bool,
    scratch: ManuallyDrop<Vec<u8>>,
}

fn hex_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some((c - b'0') as u32),
        b'a'..=b'f' => Some((c - b'a' + 10) as u32),
        b'A'..=b'F' => Some((c - b'A' + 10) as u32),
        _ => None,
    }
}

fn push_utf8(out: &mut Vec<u8>, cp: u32) {
    if cp < 0x80 {
        out.push(cp as u8);
    } else if cp < 0x800 {
        out.push(0xc0 | (cp >> 6) as u8);
        out.push(0x80 | (cp & 0x3f) as u8);
    } else if cp < 0x10000 {
        out.push(0xe0 | (cp >> 12) as u8);
        out.push(0x80 | ((cp >> 6) & 0x3f) as u8);
        out.push(0x80 | (cp & 0x3f) as u8);
    } else {
        out.push(0xf0 | (cp >> 18) as u8);
        out.push(0x80 | ((cp >> 12) & 0x3f) as u8);
        out.push(0x80 | ((cp >> 6) & 0x3f) as u8);
        out.push(0x80 | (cp & 0x3f) as u8);
    }
}

impl Decoder<'_> {
    /// The byte at `i`, NUL past the end (as the C string has it).
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, word: &[u8]) -> bool {
        word.iter()
            .enumerate()
            .all(|(k, &c)| self.at(self.pos + k) == c)
    }

    /// Whether what starts here is a number JSON does not allow but `strtod`
    /// would read: a leading `+`, hex, leading zeros, inf, nan.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' || c >= 0x80 {
            return false;
        }
        let word = |w: &[u8]| {
            w.iter()
                .enumerate()
                .all(|(k, &x)| self.at(p + k).to_ascii_lowercase() == x)
        };
        word(b"inf") || word(b"nan")
    }

    fn number_token(&mut self) -> Token {
        let index = self.pos;
        let start = unsafe { self.data.as_ptr().add(self.pos) } as *const c_char;
        let mut end: *mut c_char = ptr::null_mut();
        // The input is NUL-terminated, so strtod stops inside it.
        let n = unsafe { strtod(start, &mut end) };
        let used = (end as usize).wrapping_sub(start as usize);
        if end.is_null() || used == 0 || used > self.data.len() - self.pos {
            return Token {
                tok: Tok::Error("invalid number"),
                index,
            };
        }
        self.pos += used;
        Token {
            tok: Tok::Num(n),
            index,
        }
    }

    /// Reads a `\u` escape at `pos` (the backslash) into the scratch buffer;
    /// returns the length of the escape (6, or 12 for a surrogate pair).
    fn unicode_escape(&mut self) -> Option<usize> {
        let hex4 = |d: &Self, at: usize| -> Option<u32> {
            let mut v = 0;
            for k in 0..4 {
                v = (v << 4) | hex_value(d.at(at + k))?;
            }
            Some(v)
        };
        let mut cp = hex4(self, self.pos + 2)?;
        let mut used = 6;
        if (0xdc00..=0xdfff).contains(&cp) {
            return None;
        }
        if (0xd800..=0xdbff).contains(&cp) {
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return None;
            }
            let low = hex4(self, self.pos + 8)?;
            if !(0xdc00..=0xdfff).contains(&low) {
                return None;
            }
            cp = 0x10000 + (((cp & 0x3ff) << 10) | (low & 0x3ff));
            used = 12;
        }
        push_utf8(&mut self.scratch, cp);
        Some(used)
    }

    fn string_token(&mut self) -> Token {
        let index = self.pos;
        self.pos += 1;
        self.scratch.clear();
        loop {
            // Copy the run of plain bytes at once.
            let run = self.data[self.pos.min(self.data.len())..]
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c == 0)
                .unwrap_or(self.data.len() - self.pos.min(self.data.len()));
            if run > 0 {
                self.scratch
                    .extend_from_slice(&self.data[self.pos..self.pos + run]);
                self.pos += run;
            }
            match self.at(self.pos) {
                b'"' => {
                    self.pos += 1;
                    return Token {
                        tok: Tok::Str,
                        index,
                    };
                }
                b'\\' => {
                    let c = match self.at(self.pos + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => match self.unicode_escape() {
                            Some(used) => {
                                self.pos += used;
                                continue;
                            }
                            None => {
                                return Token {
                                    tok: Tok::Error("invalid unicode escape code"),
                                    index: self.pos,
                                }
                            }
                        },
                        _ => {
                            return Token {
                                tok: Tok::Error("invalid escape code"),
                                index: self.pos,
                            }
                        }
                    };
                    self.scratch.push(c);
                    self.pos += 2;
                }
                _ => {
                    return Token {
                        tok: Tok::Error("unexpected end of string"),
                        index: self.pos,
                    }
                }
            }
        }
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let single = |tok| Token { tok, index };
        let tok = match self.at(self.pos) {
            b'{' => Tok::ObjBegin,
            b'}' => Tok::ObjEnd,
            b'[' => Tok::ArrBegin,
            b']' => Tok::ArrEnd,
            b':' => Tok::Colon,
            b',' => Tok::Comma,
            0 => return single(Tok::End),
            b'"' => return self.string_token(),
            b'-' | b'0'..=b'9' => {
                if !self.invalid_numbers && self.is_invalid_number() {
                    return single(Tok::Error("invalid number"));
                }
                return self.number_token();
            }
            _ => {
                for (word, tok) in [
                    (&b"true"[..], Tok::Bool(true)),
                    (&b"false"[..], Tok::Bool(false)),
                    (&b"null"[..], Tok::Null),
                ] {
                    if self.starts_with(word) {
                        self.pos += word.len();
                        return single(tok);
                    }
                }
                if self.invalid_numbers && self.is_invalid_number() {
                    return self.number_token();
                }
                return single(Tok::Error("invalid token"));
            }
        };
        self.pos += 1;
        single(tok)
    }
}

/// After `{` or `,` in an object: the key (pushed) and the colon; returns
/// the token that starts the value.
unsafe fn object_key(l: *mut lua_State, d: &mut Decoder, t: Token) -> Result<Token, Vec<u8>> {
    if t.tok != Tok::Str {
        return Err(parse_error("object key string", &t));
    }
    push_bytes(l, &d.scratch);
    let t = d.next_token();
    if t.tok != Tok::Colon {
        return Err(parse_error("colon", &t));
    }
    Ok(d.next_token())
}

/// Decodes the whole input, leaving the value on top of the stack.
/// Iterative: open containers are in `frames`, their tables (and an
/// object's current key) on the Lua stack, as the recursive original has
/// them, and each level reserves the same stack slots.
unsafe fn decode_value(
    l: *mut lua_State,
    d: &mut Decoder,
    max_depth: c_int,
    frames: &mut Vec<DecodeFrame>,
) -> Result<(), Vec<u8>> {
    let mut depth: c_int = 0;
    let mut t = d.next_token();
    'value: loop {
        // `t` starts a value.
        match t.tok {
            Tok::Str => push_bytes(l, &d.scratch),
            Tok::Num(n) => ffi::lua_pushnumber(l, n),
            Tok::Bool(b) => ffi::lua_pushboolean(l, b as c_int),
            Tok::Null => ffi::lua_pushlightuserdata(l, ptr::null_mut::<c_void>()),
            Tok::ObjBegin | Tok::ArrBegin => {
                let object = t.tok == Tok::ObjBegin;
                depth = depth.wrapping_add(1);
                if depth > max_depth || ffi::lua_checkstack(l, if object { 3 } else { 2 }) == 0 {
                    return Err(format!(
                        "Found too many nested data structures ({}) at character {}",
                        depth,
                        t.index + 1
                    )
                    .into_bytes());
                }
                ffi::lua_createtable(l, 0, 0);
                t = d.next_token();
                if object {
                    if t.tok != Tok::ObjEnd {
                        frames.push(DecodeFrame::Object);
                        t = object_key(l, d, t)?;
                        continue 'value;
                    }
                } else if t.tok != Tok::ArrEnd {
                    frames.push(DecodeFrame::Array(1));
                    continue 'value;
                }
                depth -= 1;
            }
            _ => return Err(parse_error("value", &t)),
        }
        // A value is complete on top of the stack: store it in its container.
        loop {
            match frames.last_mut() {
                None => break 'value,
                Some(DecodeFrame::Array(i)) => {
                    ffi::lua_rawseti_(l, -2, *i);
                    *i = i.wrapping_add(1);
                    t = d.next_token();
                    match t.tok {
                        Tok::ArrEnd => {}
                        Tok::Comma => {
                            t = d.next_token();
                            continue 'value;
                        }
                        _ => return Err(parse_error("comma or array end", &t)),
                    }
                }
                Some(DecodeFrame::Object) => {
                    ffi::lua_rawset(l, -3);
                    t = d.next_token();
                    match t.tok {
                        Tok::ObjEnd => {}
                        Tok::Comma => {
                            let next = d.next_token();
                            t = object_key(l, d, next)?;
                            continue 'value;
                        }
                        _ => return Err(parse_error("comma or object end", &t)),
                    }
                }
            }
            frames.pop();
            depth -= 1;
        }
    }
    let t = d.next_token();
    if t.tok != Tok::End {
        return Err(parse_error("the end", &t));
    }
    Ok(())
}

unsafe extern "C-unwind" fn json_decode(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        ffi::luaL_argerror(l, 1, c"expected 1 argument".as_ptr());
    }
    let cfg = *fetch_config(l);
    let mut len = 0usize;
    let p = ffi::luaL_checklstring(l, 1, &mut len);
    let data = std::slice::from_raw_parts(p as *const u8, len);
    if len >= 2 && (data[0] == 0 || data[1] == 0) {
        raise(l, b"JSON parser does not support UTF-16 or UTF-32".to_vec());
    }
    let mut d = Decoder {
        data,
        pos: 0,
        invalid_numbers: cfg.decode_invalid_numbers != 0,
        scratch: ManuallyDrop::new(Vec::new()),
    };
    let mut frames: ManuallyDrop<Vec<DecodeFrame>> = ManuallyDrop::new(Vec::new());
    let res = decode_value(l, &mut d, cfg.decode_max_depth, &mut frames);
    ManuallyDrop::drop(&mut frames);
    ManuallyDrop::drop(&mut d.scratch);
    match res {
        Ok(()) => 1,
        Err(msg) => raise(l, msg),
    }
}

#[cfg(test)]
mod tests {
    //! Expected bytes recorded from redis-server 7.0.15 (each snippet run
    //! through EVAL, its string result taken byte for byte).

    use super::open;

    fn lua() -> mlua::Lua {
        let lua = mlua::Lua::new();
        let cjson = open(&lua).unwrap();
        lua.globals().set("cjson", cjson).unwrap();
        lua
    }

    /// Runs `code` as Redis names a script's chunk (so `luaL_where` gives
    /// "user_script:1: ") and compares its string result.
    fn check(lua: &mlua::Lua, code: &str, expected: &[u8]) {
        let got: mlua::String = lua
            .load(code)
            .set_name("@user_script")
            .eval()
            .unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_eq!(
            &got.as_bytes()[..],
            expected,
            "{code}\n got: {:?}\nwant: {:?}",
            String::from_utf8_lossy(&got.as_bytes()),
            String::from_utf8_lossy(expected)
        );
    }

    #[test]
    fn encode_basic() {
        let lua = lua();
        check(
            &lua,
            r##"return cjson.encode({1,2,{a=1}})"##,
            b"[1,2,{\"a\":1}]",
        );
        check(&lua, r##"return cjson.encode({})"##, b"{}");
        check(&lua, r##"return cjson.encode({{}})"##, b"[{}]");
        check(&lua, r##"return cjson.encode(nil)"##, b"null");
        check(&lua, r##"return cjson.encode(true)"##, b"true");
        check(&lua, r##"return cjson.encode(false)"##, b"false");
        check(&lua, r##"return cjson.encode(cjson.null)"##, b"null");
        check(
            &lua,
            r##"return cjson.encode({cjson.null, false, true})"##,
            b"[null,false,true]",
        );
        check(
            &lua,
            r##"return cjson.encode({a={b={c={}}}})"##,
            b"{\"a\":{\"b\":{\"c\":{}}}}",
        );
        check(
            &lua,
            r##"return cjson.encode({1,2,nil,4})"##,
            b"[1,2,null,4]",
        );
        check(
            &lua,
            r##"return cjson.encode({[1]=1,[4]=3})"##,
            b"[1,null,null,3]",
        );
        check(
            &lua,
            r##"return cjson.encode({[10]=1})"##,
            b"[null,null,null,null,null,null,null,null,null,1]",
        );
        check(
            &lua,
            r##"return cjson.encode({1,a=2})"##,
            b"{\"1\":1,\"a\":2}",
        );
        check(
            &lua,
            r##"return cjson.encode({1,2,3,[5]=5,n=1})"##,
            b"{\"1\":1,\"2\":2,\"3\":3,\"5\":5,\"n\":1}",
        );
        check(&lua, r##"return cjson.encode({[1.5]=1})"##, b"{\"1.5\":1}");
        check(&lua, r##"return cjson.encode({[-1]=1})"##, b"{\"-1\":1}");
        check(&lua, r##"return cjson.encode({[0]=1})"##, b"{\"0\":1}");
        check(&lua, r##"return cjson.encode({["1"]=1})"##, b"{\"1\":1}");
        check(
            &lua,
            r##"return cjson.encode({[1e300]=1})"##,
            b"{\"1e+300\":1}",
        );
        check(
            &lua,
            r##"return cjson.encode({[2^31]=1})"##,
            b"{\"2147483648\":1}",
        );
        check(
            &lua,
            r##"return cjson.encode({[2^32+5]=1})"##,
            b"{\"4294967301\":1}",
        );
        check(
            &lua,
            r##"return cjson.encode({[2^31]=1,[1]=1,[2]=1})"##,
            b"[1,1]",
        );
        check(&lua, r##"return cjson.encode({a=nil})"##, b"{}");
        check(&lua, r##"return cjson.encode({""})"##, b"[\"\"]");
        check(
            &lua,
            r##"return cjson.encode(cjson.decode('{"a":null}'))"##,
            b"{\"a\":null}",
        );
    }

    #[test]
    fn encode_numbers() {
        let lua = lua();
        check(&lua, r##"return cjson.encode(-0)"##, b"-0");
        check(&lua, r##"return cjson.encode(0.1)"##, b"0.1");
        check(&lua, r##"return cjson.encode(1e15)"##, b"1e+15");
        check(
            &lua,
            r##"return cjson.encode(123456789012345)"##,
            b"1.2345678901234e+14",
        );
        check(
            &lua,
            r##"return cjson.encode(2^53)"##,
            b"9.007199254741e+15",
        );
        check(&lua, r##"return cjson.encode(1/3)"##, b"0.33333333333333");
        check(&lua, r##"return cjson.encode(1e-5)"##, b"1e-05");
        check(&lua, r##"return cjson.encode(0.0001)"##, b"0.0001");
        check(&lua, r##"return cjson.encode(1e100)"##, b"1e+100");
        check(
            &lua,
            r##"return cjson.encode(5e-324)"##,
            b"4.9406564584125e-324",
        );
        check(&lua, r##"return cjson.encode(-1.5e-7)"##, b"-1.5e-07");
        check(&lua, r##"return cjson.encode(100)"##, b"100");
        check(&lua, r##"return cjson.encode(99999999999999.5)"##, b"1e+14");
        check(&lua, r##"return cjson.encode(0.000012345)"##, b"1.2345e-05");
        check(
            &lua,
            r##"return cjson.encode(2^63)"##,
            b"9.2233720368548e+18",
        );
        check(
            &lua,
            r##"return cjson.encode(1.7976931348623157e308)"##,
            b"1.7976931348623e+308",
        );
        check(&lua, r##"return cjson.encode(-123456789)"##, b"-123456789");
        check(&lua, r##"return cjson.encode(0.125)"##, b"0.125");
        check(
            &lua,
            r##"return cjson.encode({0.5, 2.5, 1e21, 123.456})"##,
            b"[0.5,2.5,1e+21,123.456]",
        );
    }

    #[test]
    fn encode_strings() {
        let lua = lua();
        check(
            &lua,
            r##"return cjson.encode("a/b\"c\\d\1\31\127\128\255")"##,
            b"\"a\\/b\\\"c\\\\d\\u0001\\u001f\\u007f\x80\xff\"",
        );
        check(
            &lua,
            r##"return cjson.encode("\b\f\n\r\t\0")"##,
            b"\"\\b\\f\\n\\r\\t\\u0000\"",
        );
        check(&lua, r##"return cjson.encode("")"##, b"\"\"");
        check(
            &lua,
            r##"return cjson.encode("\128abc\240\159\152\128 \239\191\190\237\160\128")"##,
            b"\"\x80abc\xf0\x9f\x98\x80 \xef\xbf\xbe\xed\xa0\x80\"",
        );
        check(
            &lua,
            r##"return cjson.encode({["k/\n"]="v\""})"##,
            b"{\"k\\/\\n\":\"v\\\"\"}",
        );
        check(
            &lua,
            r##"local s='' for i=0,40 do s=s..string.char(i) end return cjson.encode(s)"##,
            b"\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f !\\\"#$%&'(\"",
        );
    }

    #[test]
    fn encode_errors() {
        let lua = lua();
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, 1/0))"##,
            b"Cannot serialise number: must not be NaN or Inf",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, -1/0))"##,
            b"Cannot serialise number: must not be NaN or Inf",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, 0/0))"##,
            b"Cannot serialise number: must not be NaN or Inf",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, {[1/0]=1}))"##,
            b"Cannot serialise number: must not be NaN or Inf",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, cjson.encode))"##,
            b"Cannot serialise function: type not supported",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, coroutine.create(function() end)))"##,
            b"Cannot serialise thread: type not supported",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, {a=cjson.encode}))"##,
            b"Cannot serialise function: type not supported",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, {1, {a={}}, cjson.encode}))"##,
            b"Cannot serialise function: type not supported",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, {[true]=1}))"##,
            b"Cannot serialise boolean: table key must be a number or string",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, {[{}]=1}))"##,
            b"Cannot serialise table: table key must be a number or string",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, {[cjson.encode]=1}))"##,
            b"Cannot serialise function: table key must be a number or string",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, {[cjson.null]=1}))"##,
            b"Cannot serialise userdata: table key must be a number or string",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, {[20]=1}))"##,
            b"Cannot serialise table: excessively sparse array",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, {[11]=1}))"##,
            b"Cannot serialise table: excessively sparse array",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, {[2^31-1]=1}))"##,
            b"Cannot serialise table: excessively sparse array",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode))"##,
            b"bad argument #1 to '?' (expected 1 argument)",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.encode, 1, 2))"##,
            b"bad argument #1 to '?' (expected 1 argument)",
        );
        check(
            &lua,
            r##"return select(2, pcall(function() return cjson.encode() end))"##,
            b"user_script:1: bad argument #1 to 'encode' (expected 1 argument)",
        );
        check(
            &lua,
            r##"return select(2, pcall(function() return cjson.encode(1/0) end))"##,
            b"user_script:1: Cannot serialise number: must not be NaN or Inf",
        );
        check(
            &lua,
            r##"return select(2, pcall(function() local x = cjson.encode({[true]=1}) return x end))"##,
            b"user_script:1: Cannot serialise boolean: table key must be a number or string",
        );
    }

    #[test]
    fn encode_depth() {
        let lua = lua();
        check(
            &lua,
            r##"local t={} local c=t for i=1,999 do c[1]={} c=c[1] end return tostring(#cjson.encode(t))"##,
            b"2000",
        );
        check(
            &lua,
            r##"local t={} local c=t for i=1,1000 do c[1]={} c=c[1] end return select(2, pcall(cjson.encode, t))"##,
            b"Cannot serialise, excessive nesting (1001)",
        );
        check(
            &lua,
            r##"local t={} t[1]=t return select(2, pcall(cjson.encode, t))"##,
            b"Cannot serialise, excessive nesting (1001)",
        );
        check(
            &lua,
            r##"local t={} t.a=t return select(2, pcall(cjson.encode, t))"##,
            b"Cannot serialise, excessive nesting (1001)",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.encode_max_depth(3) return c.encode({{{}}})"##,
            b"[[{}]]",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.encode_max_depth(3) return select(2,pcall(c.encode,{{{{}}}}))"##,
            b"Cannot serialise, excessive nesting (4)",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.encode_max_depth(1) return select(2, pcall(c.encode, {{[20]=1}}))"##,
            b"Cannot serialise, excessive nesting (2)",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.encode_max_depth(100000) local t={} t[1]=t return select(2, pcall(c.encode, t))"##,
            b"Cannot serialise, excessive nesting (7998)",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.encode_max_depth(100000) local t={} t.a=t return select(2, pcall(c.encode, t))"##,
            b"Cannot serialise, excessive nesting (4000)",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.encode_max_depth(100000) local t={} t[1]={t} return select(2, pcall(function() return c.encode(t) end))"##,
            b"user_script:1: Cannot serialise, excessive nesting (7998)",
        );
    }

    #[test]
    fn config() {
        let lua = lua();
        check(
            &lua,
            r##"local r={} for k,v in pairs(cjson) do r[#r+1]=k..'='..type(v) end table.sort(r) return table.concat(r,' ')"##,
            b"_NAME=string _VERSION=string decode=function decode_invalid_numbers=function decode_max_depth=function encode=function encode_invalid_numbers=function encode_keep_buffer=function encode_max_depth=function encode_number_precision=function encode_sparse_array=function new=function null=userdata",
        );
        check(
            &lua,
            r##"return table.concat({cjson._NAME, cjson._VERSION, tostring(cjson.null == nil), type(cjson.null), tostring(cjson.new().null == cjson.null)}, ' ')"##,
            b"cjson 2.1.0 false userdata true",
        );
        check(
            &lua,
            r##"local a,b,c = cjson.encode_sparse_array() return table.concat({tostring(a),b,c},' ')"##,
            b"false 2 10",
        );
        check(
            &lua,
            r##"return table.concat({cjson.encode_max_depth(), cjson.decode_max_depth(), cjson.encode_number_precision()}, ' ')"##,
            b"1000 1000 14",
        );
        check(
            &lua,
            r##"return table.concat({tostring(cjson.encode_keep_buffer()), tostring(cjson.encode_invalid_numbers()), tostring(cjson.decode_invalid_numbers())}, ' ')"##,
            b"true false true",
        );
        check(
            &lua,
            r##"local c=cjson.new() return table.concat({tostring(c.encode_sparse_array(true)), tostring(c.encode_keep_buffer(false)), tostring(c.encode_invalid_numbers("null")), tostring(c.decode_invalid_numbers("off"))}, ' ')"##,
            b"true false null false",
        );
        check(
            &lua,
            r##"local c=cjson.new() return table.concat({tostring(c.encode_sparse_array("on")), tostring(c.encode_keep_buffer("off")), tostring(c.encode_invalid_numbers(true)), tostring(c.decode_invalid_numbers(false))}, ' ')"##,
            b"true false true false",
        );
        check(
            &lua,
            r##"local c=cjson.new() return table.concat({tostring(c.encode_invalid_numbers("on")), tostring(c.encode_invalid_numbers("off")),tostring(c.encode_invalid_numbers(false)), tostring(c.encode_invalid_numbers())}, ' ')"##,
            b"true false false false",
        );
        check(
            &lua,
            r##"local c=cjson.new() local a,b,d = c.encode_sparse_array(true, 3, 5) local e,f,g = c.encode_sparse_array(nil, nil, 7) return table.concat({tostring(a),b,d,tostring(e),f,g},' ')"##,
            b"true 3 5 true 3 7",
        );
        check(
            &lua,
            r##"local c=cjson.new() return table.concat({c.encode_max_depth(5), c.decode_max_depth(7), c.encode_number_precision(5), c.encode_max_depth('6'), c.encode_number_precision(14.9), c.encode_max_depth(2^32+1), c.decode_max_depth(2^31-1)}, ' ')"##,
            b"5 7 5 6 14 1 2147483647",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.encode_sparse_array(true) local a = cjson.encode_sparse_array() local b = c.encode_sparse_array() return tostring(a)..' '..tostring(b)"##,
            b"false true",
        );
        check(
            &lua,
            r##"local c=cjson.new() local ok,a,b,d = pcall(c.encode_sparse_array, nil, "5", 2.7) return table.concat({tostring(ok),tostring(a),b,d}, " ")"##,
            b"true false 5 2",
        );
    }

    #[test]
    fn config_errors() {
        let lua = lua();
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_invalid_numbers, "x"))"##,
            b"bad argument #1 to '?' (invalid option 'x')",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_invalid_numbers, 1))"##,
            b"bad argument #1 to '?' (invalid option '1')",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_invalid_numbers, {}))"##,
            b"bad argument #1 to '?' (string expected, got table)",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_invalid_numbers, "NULL"))"##,
            b"bad argument #1 to '?' (invalid option 'NULL')",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_keep_buffer, "null"))"##,
            b"bad argument #1 to '?' (invalid option 'null')",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_invalid_numbers, 1, 2))"##,
            b"bad argument #2 to '?' (found too many arguments)",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_sparse_array, 1, 2, 3, 4))"##,
            b"bad argument #4 to '?' (found too many arguments)",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_sparse_array, nil, -1))"##,
            b"bad argument #1 to '?' (expected integer between 0 and 2147483647)",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_sparse_array, nil, nil, -1))"##,
            b"bad argument #1 to '?' (expected integer between 0 and 2147483647)",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_sparse_array, nil, "x"))"##,
            b"bad argument #2 to '?' (number expected, got string)",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_sparse_array, 5))"##,
            b"bad argument #1 to '?' (invalid option '5')",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_sparse_array, true, 2^31))"##,
            b"bad argument #1 to '?' (expected integer between 0 and 2147483647)",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_number_precision, 0))"##,
            b"bad argument #1 to '?' (expected integer between 1 and 14)",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_number_precision, 15))"##,
            b"bad argument #1 to '?' (expected integer between 1 and 14)",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_max_depth, 0))"##,
            b"bad argument #1 to '?' (expected integer between 1 and 2147483647)",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.decode_max_depth, 0))"##,
            b"bad argument #1 to '?' (expected integer between 1 and 2147483647)",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.encode_max_depth, 2^31))"##,
            b"bad argument #1 to '?' (expected integer between 1 and 2147483647)",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(c.decode_max_depth, {}))"##,
            b"bad argument #1 to '?' (number expected, got table)",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(function() return c.encode_max_depth(0) end))"##,
            b"user_script:1: bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(function() return c.encode_invalid_numbers('x') end))"##,
            b"user_script:1: bad argument #1 to 'encode_invalid_numbers' (invalid option 'x')",
        );
        check(
            &lua,
            r##"local c=cjson.new() return select(2, pcall(function() return c.encode_sparse_array(1,2,3,4) end))"##,
            b"user_script:1: bad argument #4 to 'encode_sparse_array' (found too many arguments)",
        );
    }

    #[test]
    fn config_effects() {
        let lua = lua();
        check(
            &lua,
            r##"local c=cjson.new() c.encode_number_precision(3) return c.encode(math.pi)..' '..cjson.encode(math.pi)"##,
            b"3.14 3.1415926535898",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.encode_number_precision(1) return table.concat({c.encode(math.pi), c.encode(15), c.encode(0.05)}, ' ')"##,
            b"3 2e+01 0.05",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.encode_invalid_numbers(true) return table.concat({c.encode(1/0), c.encode(-1/0), c.encode(0/0), c.encode(-(0/0)), c.encode({[1/0]=1})}, ' ')"##,
            b"inf -inf nan nan {\"inf\":1}",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.encode_invalid_numbers("null") return table.concat({c.encode(1/0), c.encode(-1/0), c.encode(0/0), c.encode({[1/0]=1})}, ' ')"##,
            b"null null null {\"null\":1}",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.encode_sparse_array(true) return c.encode({[20]=1})"##,
            b"{\"20\":1}",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.encode_sparse_array(false, 0) return c.encode({[20]=1})"##,
            b"[null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,1]",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.encode_sparse_array(false, 1, 0) return select(2,pcall(c.encode,{[2]=1}))"##,
            b"Cannot serialise table: excessively sparse array",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.encode_sparse_array(false, 2147483647, 0) return select(2, pcall(c.encode, {[1]=1,[2]=1,[3]=3,[5]=5}))"##,
            b"Cannot serialise table: excessively sparse array",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.encode_sparse_array(false, 3, 1) return c.encode({[1]=1,[3]=3})"##,
            b"[1,null,3]",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.decode_invalid_numbers(false) local r={} for _,s in ipairs({'+1','inf','007','0x1','-0x1','1.e3','-inf','nan','0','-0.5','[01]','-','-01','0X1','00','0.','-a','-.5'}) do local ok,v = pcall(c.decode, s) r[#r+1]=tostring(v) end return table.concat(r, '|')"##,
            b"Expected value but found invalid token at character 1|Expected value but found invalid token at character 1|Expected value but found invalid number at character 1|Expected value but found invalid number at character 1|Expected value but found invalid number at character 1|1000|Expected value but found invalid number at character 1|Expected value but found invalid token at character 1|0|-0.5|Expected value but found invalid number at character 2|Expected value but found invalid number at character 1|Expected value but found invalid number at character 1|Expected value but found invalid number at character 1|Expected value but found invalid number at character 1|0|Expected value but found invalid number at character 1|-0.5",
        );
    }

    #[test]
    fn decode_values() {
        let lua = lua();
        check(
            &lua,
            r##"local t=cjson.decode('[1,2,3,"a",true,false,null,{"x":1}]') return table.concat({#t, t[1], t[4], tostring(t[5]), tostring(t[6]), tostring(t[7]==cjson.null), t[8].x}, ' ')"##,
            b"8 1 a true false true 1",
        );
        check(
            &lua,
            r##"return cjson.encode(cjson.decode('{"a":[1,2,{"b":null}],"c":"\\u00e9\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\\"\\\\"}'))"##,
            b"{\"a\":[1,2,{\"b\":null}],\"c\":\"\xc3\xa9\xf0\x9f\x98\x80\\/\\b\\f\\n\\r\\t\\\"\\\\\"}",
        );
        check(
            &lua,
            r##"return cjson.decode('"\\u00e9\\ud83d\\ude00\\u0000x"')"##,
            b"\xc3\xa9\xf0\x9f\x98\x80\x00x",
        );
        check(
            &lua,
            r##"return cjson.decode('"\\u20AC\\uFFFF\\u0800\\u07FF\\u007f\\uDBFF\\uDFFF"')"##,
            b"\xe2\x82\xac\xef\xbf\xbf\xe0\xa0\x80\xdf\xbf\x7f\xf4\x8f\xbf\xbf",
        );
        check(
            &lua,
            r##"return cjson.decode('"\1\31\127\255"')"##,
            b"\x01\x1f\x7f\xff",
        );
        check(
            &lua,
            r##"return cjson.decode('"a\\u0041b\\u00E9"')"##,
            b"aAb\xc3\xa9",
        );
        check(
            &lua,
            r##"return cjson.encode(cjson.decode('{"a":1,"a":2}'))"##,
            b"{\"a\":2}",
        );
        check(
            &lua,
            r##"return cjson.encode(cjson.decode('[[],{}]'))"##,
            b"[{},{}]",
        );
        check(
            &lua,
            r##"return cjson.encode(cjson.decode('{"":""}'))"##,
            b"{\"\":\"\"}",
        );
        check(
            &lua,
            r##"return cjson.encode(cjson.decode(' \t\r\n[ 1 , { "k" : [ ] } ] \t\r\n'))"##,
            b"[1,{\"k\":{}}]",
        );
        check(
            &lua,
            r##"return tostring(cjson.decode(123))..' '..tostring(cjson.decode(1.5))"##,
            b"123 1.5",
        );
        check(
            &lua,
            r##"return cjson.encode(cjson.decode('[1]   \0garbage'))"##,
            b"[1]",
        );
        check(
            &lua,
            r##"return cjson.encode(cjson.decode('[-0.0, 1E2, 1e-2, 0.5e+1]'))"##,
            b"[-0,100,0.01,5]",
        );
        check(
            &lua,
            r##"local s=string.rep('[',1000)..string.rep(']',1000) return tostring(#cjson.encode(cjson.decode(s)))"##,
            b"2000",
        );
    }

    #[test]
    fn decode_numbers() {
        let lua = lua();
        check(
            &lua,
            r##"local r={} for _,s in ipairs({'+1','0x10','0X1p3','007','1e5','1.','1.e3','inf','-Infinity','NaN','nan(123)','-nan','1e400','-1e400','1e-400','123456789012345678901234567890','-0','0.1e1','Inf','0x1.8p1','0x.8','0x1P-1','0x1p-1074','0x1p-1075','0x1.0000000000001p-1075','0x1p1024','0x.00000000000000000000001p0','-.5','+.5','1.5e-310'}) do r[#r+1]=tostring(cjson.decode(s)) end return table.concat(r, '|')"##,
            b"1|16|8|7|100000|1|1000|inf|-inf|nan|nan|-nan|inf|-inf|0|1.2345678901235e+29|-0|1|inf|3|0.5|0.5|4.9406564584125e-324|0|4.9406564584125e-324|inf|2.0194839173658e-28|-0.5|0.5|1.5e-310",
        );
    }

    #[test]
    fn decode_errors() {
        let lua = lua();
        check(
            &lua,
            r##"local r={} for _,s in ipairs({'x','','   ','\0','[1,2','[1,2,]','[1 2]','{"a" 1}','{"a":1,}','{"a":1 "b"}','{1:1}','{"a":}','{"a":1','{','[',']','}',':',',','1 2','[1]x','[1] ]','tru','nul','truex','[truex]','-','- 1','.5','0x','1e','trUe','1e+','1.5.5','--1','-+1','+-1','++1','-a','+a','in','e','infx','nan(','nan(a_1)x','infinit','INFINITYx','falsex','nullnull','{"a":1}}','["a",]','[,]','{,}','{"a"','{"a":1,"b"','\239\187\1911','\f1','\v1','0x1p'}) do local ok,e = pcall(cjson.decode, s) r[#r+1]=tostring(e) end return table.concat(r, '\n')"##,
            b"Expected value but found invalid token at character 1\nExpected value but found T_END at character 1\nExpected value but found T_END at character 4\nExpected value but found T_END at character 1\nExpected comma or array end but found T_END at character 5\nExpected value but found T_ARR_END at character 6\nExpected comma or array end but found T_NUMBER at character 4\nExpected colon but found T_NUMBER at character 6\nExpected object key string but found T_OBJ_END at character 8\nExpected comma or object end but found T_STRING at character 8\nExpected object key string but found T_NUMBER at character 2\nExpected value but found T_OBJ_END at character 6\nExpected comma or object end but found T_END at character 7\nExpected object key string but found T_END at character 2\nExpected value but found T_END at character 2\nExpected value but found T_ARR_END at character 1\nExpected value but found T_OBJ_END at character 1\nExpected value but found T_COLON at character 1\nExpected value but found T_COMMA at character 1\nExpected the end but found T_NUMBER at character 3\nExpected the end but found invalid token at character 4\nExpected the end but found T_ARR_END at character 5\nExpected value but found invalid token at character 1\nExpected value but found invalid token at character 1\nExpected the end but found invalid token at character 5\nExpected comma or array end but found invalid token at character 6\nExpected value but found invalid number at character 1\nExpected value but found invalid number at character 1\nExpected value but found invalid token at character 1\nExpected the end but found invalid token at character 2\nExpected the end but found invalid token at character 2\nExpected value but found invalid token at character 1\nExpected the end but found invalid token at character 2\nExpected the end but found invalid token at character 4\nExpected value but found invalid number at character 1\nExpected value but found invalid number at character 1\nExpected value but found invalid number at character 1\nExpected value but found invalid number at character 1\nExpected value but found invalid number at character 1\nExpected value but found invalid number at character 1\nExpected value but found invalid token at character 1\nExpected value but found invalid token at character 1\nExpected the end but found invalid token at character 4\nExpected the end but found invalid token at character 4\nExpected the end but found invalid token at character 9\nExpected the end but found invalid token at character 4\nExpected the end but found invalid token at character 9\nExpected the end but found invalid token at character 6\nExpected the end but found T_NULL at character 5\nExpected the end but found T_OBJ_END at character 8\nExpected value but found T_ARR_END at character 6\nExpected value but found T_COMMA at character 2\nExpected object key string but found T_COMMA at character 2\nExpected colon but found T_END at character 5\nExpected colon but found T_END at character 11\nExpected value but found invalid token at character 1\nExpected value but found invalid token at character 1\nExpected value but found invalid token at character 1\nExpected the end but found invalid token at character 4",
        );
        check(
            &lua,
            r##"local r={} for _,s in ipairs({'"\\ud83d"','"\\ud83dx"','"\\ud83d\\u0041"','"\\ude00"','"\\u12"','"\\u12g4"','"abc\\x"','"abc','"abc\\','"ab\0c"','"\\u00"','["\\u00zz"]','["\\uD800\\uDBFF"]','["\\uD800\\"]','["\\uD800\\u"]','"\\U0041"','  "\\u0041','a\0','1\0'}) do local ok,e = pcall(cjson.decode, s) r[#r+1]=tostring(e) end return table.concat(r, '\n')"##,
            b"Expected value but found invalid unicode escape code at character 2\nExpected value but found invalid unicode escape code at character 2\nExpected value but found invalid unicode escape code at character 2\nExpected value but found invalid unicode escape code at character 2\nExpected value but found invalid unicode escape code at character 2\nExpected value but found invalid unicode escape code at character 2\nExpected value but found invalid escape code at character 5\nExpected value but found unexpected end of string at character 5\nExpected value but found invalid escape code at character 5\nExpected value but found unexpected end of string at character 4\nExpected value but found invalid unicode escape code at character 2\nExpected value but found invalid unicode escape code at character 3\nExpected value but found invalid unicode escape code at character 3\nExpected value but found invalid unicode escape code at character 3\nExpected value but found invalid unicode escape code at character 3\nExpected value but found invalid escape code at character 2\nExpected value but found unexpected end of string at character 10\nJSON parser does not support UTF-16 or UTF-32\nJSON parser does not support UTF-16 or UTF-32",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.decode))"##,
            b"bad argument #1 to '?' (expected 1 argument)",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.decode, 'a', 'b'))"##,
            b"bad argument #1 to '?' (expected 1 argument)",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.decode, {}))"##,
            b"bad argument #1 to '?' (string expected, got table)",
        );
        check(
            &lua,
            r##"return select(2, pcall(cjson.decode, nil))"##,
            b"bad argument #1 to '?' (string expected, got nil)",
        );
        check(
            &lua,
            r##"return select(2, pcall(function() return cjson.decode() end))"##,
            b"user_script:1: bad argument #1 to 'decode' (expected 1 argument)",
        );
        check(
            &lua,
            r##"return select(2, pcall(function() return cjson.decode({}) end))"##,
            b"user_script:1: bad argument #1 to 'decode' (string expected, got table)",
        );
        check(
            &lua,
            r##"return select(2, pcall(function() return cjson.decode('[1,') end))"##,
            b"user_script:1: Expected value but found T_END at character 4",
        );
        check(
            &lua,
            r##"return select(2, pcall(function() local x = cjson.decode('x') return x end))"##,
            b"user_script:1: Expected value but found invalid token at character 1",
        );
    }

    #[test]
    fn decode_depth() {
        let lua = lua();
        check(
            &lua,
            r##"local s=string.rep('[',1001)..string.rep(']',1001) return select(2, pcall(cjson.decode, s))"##,
            b"Found too many nested data structures (1001) at character 1001",
        );
        check(
            &lua,
            r##"local s=string.rep('[',100000) return select(2, pcall(cjson.decode, s))"##,
            b"Found too many nested data structures (1001) at character 1001",
        );
        check(
            &lua,
            r##"local s=string.rep('{"a":',1001) return select(2, pcall(cjson.decode, s))"##,
            b"Found too many nested data structures (1001) at character 5001",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.decode_max_depth(3) return table.concat({tostring(c.decode('[[[1]]]')[1][1][1]), select(2,pcall(c.decode,'[[[[1]]]]')), select(2,pcall(c.decode,'{"a":{"b":{"c":{}}}}'))}, '\n')"##,
            b"1\nFound too many nested data structures (4) at character 4\nFound too many nested data structures (4) at character 16",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.decode_max_depth(100000) return select(2, pcall(c.decode, string.rep('[',100000)))"##,
            b"Found too many nested data structures (7999) at character 7999",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.decode_max_depth(100000) return select(2, pcall(c.decode, string.rep('{"a":',100000)))"##,
            b"Found too many nested data structures (4000) at character 19996",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.decode_max_depth(100000) return select(2, pcall(c.decode, string.rep('[{"a":',100000)))"##,
            b"Found too many nested data structures (5333) at character 15997",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.decode_max_depth(100000) return select(2, pcall(c.decode, '['..string.rep('{"a":',100000)))"##,
            b"Found too many nested data structures (4000) at character 19992",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.decode_max_depth(100000) return select(2, pcall(c.decode, string.rep('{"a":1,"b":',100000)))"##,
            b"Found too many nested data structures (4000) at character 43990",
        );
        check(
            &lua,
            r##"local c=cjson.new() c.decode_max_depth(100000) return select(2, pcall(function() return c.decode(string.rep('[1,',100000)) end))"##,
            b"user_script:1: Found too many nested data structures (7999) at character 23995",
        );
    }

    #[test]
    fn roundtrip() {
        let lua = lua();
        check(
            &lua,
            r##"local s='{"a":[1,2.5,"x\\u0000y",true,false,null,{}],"b":{"c":"\\u2028"}}' local t=cjson.decode(s) return cjson.encode(t.a)..' '..cjson.encode(t.b)"##,
            b"[1,2.5,\"x\\u0000y\",true,false,null,{}] {\"c\":\"\xe2\x80\xa8\"}",
        );
        check(
            &lua,
            r##"local t={} for i=1,100 do t[i]=i*1.5 end return cjson.encode(cjson.decode(cjson.encode(t)))"##,
            b"[1.5,3,4.5,6,7.5,9,10.5,12,13.5,15,16.5,18,19.5,21,22.5,24,25.5,27,28.5,30,31.5,33,34.5,36,37.5,39,40.5,42,43.5,45,46.5,48,49.5,51,52.5,54,55.5,57,58.5,60,61.5,63,64.5,66,67.5,69,70.5,72,73.5,75,76.5,78,79.5,81,82.5,84,85.5,87,88.5,90,91.5,93,94.5,96,97.5,99,100.5,102,103.5,105,106.5,108,109.5,111,112.5,114,115.5,117,118.5,120,121.5,123,124.5,126,127.5,129,130.5,132,133.5,135,136.5,138,139.5,141,142.5,144,145.5,147,148.5,150]",
        );
    }

    #[test]
    fn instances() {
        let lua = lua();
        check(
            &lua,
            r##"local a=cjson.new() local b=a.new() a.encode_number_precision(2) return table.concat({a.encode(1/3), b.encode(1/3), cjson.encode(1/3), type(b.new), b._NAME}, ' ')"##,
            b"0.33 0.33333333333333 0.33333333333333 function cjson",
        );
    }

    #[test]
    fn hostile() {
        let lua = lua();
        for (code, want) in [
            (
                r##"return select(2, pcall(cjson.decode, string.rep('[', 1000000)))"##,
                &b"Found too many nested data structures (1001) at character 1001"[..],
            ),
            (
                r##"return tostring(cjson.decode(string.rep('9', 400)))"##,
                b"inf",
            ),
            (
                r##"return tostring(cjson.decode('0.'..string.rep('0', 100000)..'1'))"##,
                b"0",
            ),
            (
                r##"return tostring(#cjson.decode('"'..string.rep('\\u00e9', 100000)..'"'))"##,
                b"200000",
            ),
            (
                r##"return tostring(#cjson.encode(string.rep('\0', 100000)))"##,
                b"600002",
            ),
            (
                r##"return cjson.encode(cjson.decode('[' .. string.rep('{"a":[', 300) .. string.rep(']}', 300) .. ']')):sub(1, 40)"##,
                b"[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a\":[{\"a",
            ),
        ] {
            check(&lua, code, want);
        }
    }
}
