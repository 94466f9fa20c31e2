//! Small helpers over Lua's C API (`mlua::ffi`), and the two functions the
//! patched Lua adds (read-only tables, see vendor/lua-src/README.md).
//!
//! Rule for every C function here: `lua_error` longjmps, so it is only
//! called from a frame where no Rust value with a destructor is alive
//! (`raise` takes the message by value, copies it into Lua and drops it
//! first).

use std::os::raw::{c_char, c_int};

pub use mlua::ffi;
pub use mlua::ffi::lua_State;

extern "C-unwind" {
    pub fn lua_enablereadonlytable(l: *mut lua_State, idx: c_int, enabled: c_int);
    pub fn lua_canyield(l: *mut lua_State) -> c_int;
}

/// Pushes `b` as a Lua string.
#[inline]
pub unsafe fn push_bytes(l: *mut lua_State, b: &[u8]) {
    ffi::lua_pushlstring(l, b.as_ptr() as *const c_char, b.len());
}

/// The bytes of the string (or number, converted in place) at `idx`.
#[inline]
pub unsafe fn to_bytes<'a>(l: *mut lua_State, idx: c_int) -> Option<&'a [u8]> {
    let mut len = 0usize;
    let p = ffi::lua_tolstring(l, idx, &mut len);
    if p.is_null() {
        None
    } else {
        Some(std::slice::from_raw_parts(p as *const u8, len))
    }
}

/// Pops the value at the top of the stack and stores it in the table at
/// `idx` under `name` (raw, no metamethods).
pub unsafe fn set_field(l: *mut lua_State, idx: c_int, name: &str) {
    let idx = if idx < 0 && idx > ffi::LUA_REGISTRYINDEX {
        ffi::lua_gettop(l) + idx + 1
    } else {
        idx
    };
    push_bytes(l, name.as_bytes());
    ffi::lua_insert(l, -2);
    ffi::lua_rawset(l, idx);
}

/// Raises Redis's error table `{err = msg}`. Never returns.
pub unsafe fn raise_table(l: *mut lua_State, msg: Vec<u8>) -> c_int {
    push_error_table(l, &msg);
    drop(msg);
    ffi::lua_error(l)
}

/// Pushes `{err = msg}`.
pub unsafe fn push_error_table(l: *mut lua_State, msg: &[u8]) {
    ffi::lua_createtable(l, 0, 1);
    push_bytes(l, msg);
    set_field(l, -2, "err");
}

/// Reads field `name` of the table at `idx` without metamethods, pushing it.
pub unsafe fn raw_field(l: *mut lua_State, idx: c_int, name: &str) -> c_int {
    let idx = if idx < 0 && idx > ffi::LUA_REGISTRYINDEX {
        ffi::lua_gettop(l) + idx + 1
    } else {
        idx
    };
    push_bytes(l, name.as_bytes());
    ffi::lua_rawget(l, idx);
    ffi::lua_type(l, -1)
}

/// Formats a Lua number as Redis's scripts turn it into a command
/// argument: `%.17g`.
pub fn number_arg(n: f64, out: &mut Vec<u8>) {
    if n.fract() == 0.0 && n.abs() < 1e15 && !(n == 0.0 && n.is_sign_negative()) {
        out.extend_from_slice(itoa::Buffer::new().format(n as i64).as_bytes());
        return;
    }
    let mut buf = [0u8; 64];
    // SAFETY: the buffer is large enough for any %.17g output and is NUL
    // terminated by snprintf.
    let len = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut c_char,
            buf.len(),
            c"%.17g".as_ptr(),
            n,
        )
    };
    out.extend_from_slice(&buf[..len.clamp(0, 63) as usize]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: f64) -> String {
        let mut v = Vec::new();
        number_arg(n, &mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn numbers_as_redis_formats_them() {
        assert_eq!(f(3.0), "3");
        assert_eq!(f(0.1), "0.10000000000000001");
        assert_eq!(f(-0.0), "-0");
        assert_eq!(f(1e20), "1e+20");
        assert_eq!(f(f64::INFINITY), "inf");
        assert_eq!(f(-5.0), "-5");
        assert_eq!(f(1.5), "1.5");
    }
}
