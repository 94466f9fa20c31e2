//! rubedo-script: Lua scripting.
