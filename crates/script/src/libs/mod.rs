//! The C-level libraries Redis's Lua carries besides Lua's own: cjson,
//! cmsgpack, bit and struct, each written here against Lua's C API (through
//! `mlua::ffi`) so errors are raised as plain Lua strings, as scripts expect.
//! Each module's `open` returns the library table.

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;

/// What the library tests share: each case runs as a script body after the
/// same three helper lines its expected output was taken with on
/// redis-server 7.0.15 (`EVAL`; the chunk is `@user_script`, so positions
/// in messages match too). `sh` lists values (strings quoted, numbers as
/// `%.17g`), `H` the same with strings in hex.
#[cfg(test)]
pub(crate) mod testing {
    const PRELUDE: &str = r#"local function hx(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
local function sh(...) local n=select('#',...) local t={} for i=1,n do local v=select(i,...) if type(v)=='string' then t[#t+1]='"'..v..'"' elseif type(v)=='number' then t[#t+1]=string.format('%.17g',v) else t[#t+1]=tostring(v) end end return table.concat(t,', ') end
local function H(...) local n=select('#',...) local t={} for i=1,n do local v=select(i,...) if type(v)=='string' then t[#t+1]=hx(v) elseif type(v)=='number' then t[#t+1]=string.format('%.17g',v) else t[#t+1]=tostring(v) end end return table.concat(t,', ') end
"#;

    type Open = fn(&mlua::Lua) -> mlua::Result<mlua::Table>;

    /// Runs `code` with the library `open` makes as global `name`.
    pub fn run(name: &str, open: Open, code: &str) -> String {
        let lua = mlua::Lua::new();
        lua.globals().set(name, open(&lua).unwrap()).unwrap();
        let chunk = format!("{PRELUDE}\n{code}");
        let out: mlua::String = lua
            .load(&chunk)
            .set_name("@user_script")
            .eval()
            .unwrap_or_else(|e| panic!("{code}: {e}"));
        out.to_str().unwrap().to_string()
    }

    /// Asserts each case's output.
    pub fn check(name: &str, open: Open, cases: &[(&str, &str)]) {
        for (code, want) in cases {
            assert_eq!(run(name, open, code), *want, "{code}");
        }
    }
}
