//! Redis's conversions between RESP replies and Lua values, both ways.
//!
//! Command replies to Lua (`push_frame`): integers to numbers, bulk strings
//! to strings, status replies to `{ok=...}`, errors to `{err=...}`, arrays
//! to tables; a null is `false` (RESP2) or `nil` (RESP3). With
//! `redis.setresp(3)` the RESP3 types arrive as `{map=...}`, `{set=...}`,
//! `{double=...}`, `{big_number=...}`, `{verbatim_string=...}` and booleans;
//! under RESP2 they arrive as the RESP2 client would read them.
//!
//! A script's result to a reply (`to_frame`): numbers truncated to
//! integers, strings to bulk strings, `true` to 1, `false` and `nil` to a
//! null, tables to arrays up to their first nil, and the marker tables
//! (`err`, `ok`, `double`, `map`, `set`, `big_number`, `verbatim_string`).

use std::os::raw::c_int;

use bytes::{Bytes, BytesMut};
use rubedo_resp::{Frame, Protocol};

use crate::lua::{self, ffi, lua_State};

thread_local! {
    /// Set when the script's reply is an error already counted (see
    /// `error_counted`); read and cleared by the run.
    pub(crate) static COUNTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How deep a script's result may nest before the reply gets Redis's
/// "reached lua stack limit" error in that place.
const MAX_DEPTH: usize = 1000;

/// Pushes a command's reply onto the Lua stack.
pub unsafe fn push_frame(l: *mut lua_State, f: &Frame, resp3: bool) {
    if ffi::lua_checkstack(l, 4) == 0 {
        // Replies nest a handful of levels; never reached in practice.
        ffi::lua_pushboolean(l, 0);
        return;
    }
    match f {
        Frame::Integer(i) => ffi::lua_pushnumber(l, *i as f64),
        Frame::Bulk(b) => lua::push_bytes(l, b),
        Frame::Simple(s) => {
            ffi::lua_createtable(l, 0, 1);
            lua::push_bytes(l, s);
            lua::set_field(l, -2, "ok");
        }
        Frame::Error(e) => {
            // Counted in the error statistics already (by the command or
            // the host's refusal): the script's reply made of it is not
            // counted again.
            ffi::lua_createtable(l, 0, 0);
            lua::push_bytes(l, e);
            lua::set_field(l, -2, "err");
            ffi::lua_pushboolean(l, 1);
            lua::set_field(l, -2, "ignore_error_stats_update");
        }
        Frame::Null | Frame::NullArray => {
            if resp3 {
                ffi::lua_pushnil(l)
            } else {
                ffi::lua_pushboolean(l, 0)
            }
        }
        Frame::Array(items) | Frame::Push(items) => push_array(l, items.iter(), resp3),
        Frame::Set(items) if !resp3 => push_array(l, items.iter(), resp3),
        Frame::Set(items) => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, items.len() as c_int);
            for it in items {
                push_frame(l, it, resp3);
                ffi::lua_pushboolean(l, 1);
                ffi::lua_rawset(l, -3);
            }
            lua::set_field(l, -2, "set");
        }
        Frame::Map(pairs) if resp3 => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, pairs.len() as c_int);
            for (k, v) in pairs {
                push_frame(l, k, resp3);
                push_frame(l, v, resp3);
                ffi::lua_rawset(l, -3);
            }
            lua::set_field(l, -2, "map");
        }
        Frame::Map(pairs) => push_array(l, pairs.iter().flat_map(|(a, b)| [a, b]), resp3),
        Frame::Pairs(pairs) if resp3 => {
            ffi::lua_createtable(l, pairs.len() as c_int, 0);
            for (i, (a, b)) in pairs.iter().enumerate() {
                ffi::lua_createtable(l, 2, 0);
                push_frame(l, a, resp3);
                ffi::lua_rawseti(l, -2, 1);
                push_frame(l, b, resp3);
                ffi::lua_rawseti(l, -2, 2);
                ffi::lua_rawseti(l, -2, i as ffi::lua_Integer + 1);
            }
        }
        Frame::Pairs(pairs) => push_array(l, pairs.iter().flat_map(|(a, b)| [a, b]), resp3),
        Frame::Double(d) if resp3 => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_pushnumber(l, *d);
            lua::set_field(l, -2, "double");
        }
        Frame::Double(d) => lua::push_bytes(l, rubedo_resp::encode::format_double(*d).as_bytes()),
        Frame::Boolean(b) if resp3 => ffi::lua_pushboolean(l, *b as c_int),
        Frame::Boolean(b) => ffi::lua_pushnumber(l, *b as i32 as f64),
        Frame::BigNumber(n) if resp3 => {
            ffi::lua_createtable(l, 0, 1);
            lua::push_bytes(l, n);
            lua::set_field(l, -2, "big_number");
        }
        Frame::BigNumber(n) => lua::push_bytes(l, n),
        Frame::Verbatim { format, data } if resp3 => {
            ffi::lua_createtable(l, 0, 1);
            ffi::lua_createtable(l, 0, 2);
            lua::push_bytes(l, format);
            lua::set_field(l, -2, "format");
            lua::push_bytes(l, data);
            lua::set_field(l, -2, "string");
            lua::set_field(l, -2, "verbatim_string");
        }
        Frame::Verbatim { data, .. } => lua::push_bytes(l, data),
        Frame::Attribute(_, v) => push_frame(l, v, resp3),
        Frame::Raw(bytes) => {
            // Already encoded for the script's protocol: read it back.
            let mut buf = BytesMut::from(&bytes[..]);
            match rubedo_resp::decode_frame(&mut buf) {
                Ok(Some(f)) => push_frame(l, &f, resp3),
                _ => ffi::lua_pushboolean(l, 0),
            }
        }
    }
}

unsafe fn push_array<'a>(l: *mut lua_State, items: impl Iterator<Item = &'a Frame>, resp3: bool) {
    let (n, _) = items.size_hint();
    ffi::lua_createtable(l, n as c_int, 0);
    for (i, it) in items.enumerate() {
        push_frame(l, it, resp3);
        ffi::lua_rawseti(l, -2, i as ffi::lua_Integer + 1);
    }
}

/// Replaces CR and LF with spaces, as Redis does in status and error
/// replies built from script values.
pub fn one_line(b: &[u8]) -> Bytes {
    if !b.iter().any(|&c| c == b'\r' || c == b'\n') {
        return Bytes::copy_from_slice(b);
    }
    b.iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect::<Vec<u8>>()
        .into()
}

/// Converts the value at the top of the stack (a script's result) to a
/// reply. Leaves the stack as it found it.
pub unsafe fn to_frame(l: *mut lua_State, proto: Protocol) -> Frame {
    to_frame_at(l, proto, 0)
}

unsafe fn to_frame_at(l: *mut lua_State, proto: Protocol, depth: usize) -> Frame {
    match ffi::lua_type(l, -1) {
        ffi::LUA_TSTRING => {
            Frame::Bulk(Bytes::copy_from_slice(lua::to_bytes(l, -1).unwrap_or(b"")))
        }
        ffi::LUA_TBOOLEAN => {
            if ffi::lua_toboolean(l, -1) != 0 {
                Frame::Integer(1)
            } else {
                Frame::Null
            }
        }
        ffi::LUA_TNUMBER => Frame::Integer(to_integer(ffi::lua_tonumber(l, -1))),
        ffi::LUA_TTABLE => {
            if depth >= MAX_DEPTH || ffi::lua_checkstack(l, 4) == 0 {
                return Frame::error("ERR reached lua stack limit");
            }
            table_to_frame(l, proto, depth)
        }
        _ => Frame::Null,
    }
}

/// Lua's number to a reply integer: the C cast Redis makes (truncation).
fn to_integer(n: f64) -> i64 {
    // Out of range (and NaN) the x86 conversion Redis's C cast compiles to
    // gives i64::MIN.
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// Whether the error table at `idx` was counted in the error statistics
/// when it was made.
pub(crate) unsafe fn error_counted(l: *mut lua_State, idx: c_int) -> bool {
    lua::raw_field(l, idx, "ignore_error_stats_update");
    let counted = ffi::lua_toboolean(l, -1) != 0;
    ffi::lua_settop(l, -2);
    counted
}

unsafe fn table_to_frame(l: *mut lua_State, proto: Protocol, depth: usize) -> Frame {
    if lua::raw_field(l, -1, "err") == ffi::LUA_TSTRING {
        let e = one_line(lua::to_bytes(l, -1).unwrap_or(b""));
        ffi::lua_settop(l, -2);
        if depth == 0 && error_counted(l, -1) {
            COUNTED.with(|c| c.set(true));
        }
        return Frame::Error(e);
    }
    ffi::lua_settop(l, -2);
    if lua::raw_field(l, -1, "ok") == ffi::LUA_TSTRING {
        let s = one_line(lua::to_bytes(l, -1).unwrap_or(b""));
        ffi::lua_settop(l, -2);
        return Frame::Simple(s);
    }
    ffi::lua_settop(l, -2);
    if lua::raw_field(l, -1, "double") == ffi::LUA_TNUMBER {
        let d = ffi::lua_tonumber(l, -1);
        ffi::lua_settop(l, -2);
        return Frame::Double(d);
    }
    ffi::lua_settop(l, -2);
    if lua::raw_field(l, -1, "big_number") == ffi::LUA_TSTRING {
        let s = one_line(lua::to_bytes(l, -1).unwrap_or(b""));
        ffi::lua_settop(l, -2);
        return Frame::BigNumber(s);
    }
    ffi::lua_settop(l, -2);
    if lua::raw_field(l, -1, "map") == ffi::LUA_TTABLE {
        let mut pairs = Vec::new();
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            // key at -2, value at -1: convert the value, then a copy of the key.
            let v = to_frame_at(l, proto, depth + 1);
            ffi::lua_settop(l, -2);
            ffi::lua_pushvalue(l, -1);
            let k = to_frame_at(l, proto, depth + 1);
            ffi::lua_settop(l, -2);
            pairs.push((k, v));
        }
        ffi::lua_settop(l, -2);
        return Frame::Map(pairs);
    }
    ffi::lua_settop(l, -2);
    if lua::raw_field(l, -1, "set") == ffi::LUA_TTABLE {
        let mut items = Vec::new();
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            ffi::lua_settop(l, -2);
            ffi::lua_pushvalue(l, -1);
            items.push(to_frame_at(l, proto, depth + 1));
            ffi::lua_settop(l, -2);
        }
        ffi::lua_settop(l, -2);
        return Frame::Set(items);
    }
    ffi::lua_settop(l, -2);
    if lua::raw_field(l, -1, "verbatim_string") == ffi::LUA_TTABLE {
        let f = lua::raw_field(l, -1, "format");
        let fmt = (f == ffi::LUA_TSTRING)
            .then(|| lua::to_bytes(l, -1))
            .flatten()
            .map(|b| b.to_vec());
        ffi::lua_settop(l, -2);
        let s = lua::raw_field(l, -1, "string");
        let data = (s == ffi::LUA_TSTRING)
            .then(|| lua::to_bytes(l, -1))
            .flatten()
            .map(Bytes::copy_from_slice);
        ffi::lua_settop(l, -3);
        if let (Some(fmt), Some(data)) = (fmt, data) {
            if fmt.len() == 3 {
                return Frame::Verbatim {
                    format: [fmt[0], fmt[1], fmt[2]],
                    data,
                };
            }
        }
        return Frame::Array(Vec::new());
    }
    ffi::lua_settop(l, -2);
    let mut items = Vec::new();
    let mut j = 1;
    loop {
        ffi::lua_rawgeti(l, -1, j as ffi::lua_Integer);
        if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
            ffi::lua_settop(l, -2);
            break;
        }
        items.push(to_frame_at(l, proto, depth + 1));
        ffi::lua_settop(l, -2);
        j += 1;
    }
    Frame::Array(items)
}
