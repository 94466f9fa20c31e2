//! rubedo-script: Lua scripting.

pub mod libs;
