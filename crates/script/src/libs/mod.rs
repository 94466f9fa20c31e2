//! The C-level libraries Redis's Lua carries besides Lua's own: cjson,
//! cmsgpack, bit and struct, each written here against Lua's C API (through
//! `mlua::ffi`) so errors are raised as plain Lua strings, as scripts expect.
//! Each module's `open` returns the library table.

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;
