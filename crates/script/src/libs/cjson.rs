//! Placeholder: filled by the library's own commit.

pub fn open(lua: &mlua::Lua) -> mlua::Result<mlua::Table> {
    lua.create_table()
}
