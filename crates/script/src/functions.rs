//! FUNCTION's side: the library registry (libraries by name, their
//! functions with flags and description), loading a library's code in the
//! load-time environment, and running a function for FCALL.
//!
//! Functions live in a Lua state of their own, built as the EVAL state
//! (`Vm::new`) and then changed the way Redis 7.0 arranges its function
//! engine:
//!
//! - the full environment (base library, string, math, cjson..., the
//!   `redis` table without the EVAL-only `breakpoint`, `debug` and
//!   `replicate_commands`) stays in a table of its own, read-only, with the
//!   guard that makes a nonexistent global an error;
//! - the globals every chunk sees are an empty read-only table whose
//!   metatable's `__index` points at that environment while functions run,
//!   and at the *load-time environment* while a library's code runs: a
//!   table holding only `redis` with `register_function`, `log`, the
//!   `LOG_*` levels and the version fields, guarded the same way (so
//!   `redis.call` at load time is "nonexistent global variable 'call'");
//! - the code runs without the error handler, under a hook that stops it
//!   after 500 ms ("FUNCTION LOAD timeout").
//!
//! Function names are looked up without regard to case (FCALL f1 runs F1),
//! library names with it. A library may not register two functions whose
//! names differ only in case (Redis 7.0 takes them and then fails an
//! assertion when the library goes): Rubedo refuses the second as a
//! duplicate.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::os::raw::c_int;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rubedo_resp::{Frame, Protocol};

use crate::lua::{self, ffi, lua_State};
use crate::vm::{Call, Memory, Progress, RunOpts, Vm};
use crate::{flags, Host};

/// The one engine, as FUNCTION LIST and FUNCTION STATS name it.
pub const ENGINE: &str = "LUA";

/// How long a library's code may run while it loads.
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);
/// Instructions between two looks at the load's clock.
const LOAD_HOOK_STEP: c_int = 100_000;

/// A registered function.
pub struct Function {
    /// As the library registered it.
    pub name: Bytes,
    pub description: Option<Bytes>,
    /// [`flags`] bits.
    pub flags: u32,
    /// Registry reference of the callback.
    func: c_int,
}

/// A loaded library.
pub struct Library {
    pub name: Bytes,
    /// The whole code given to FUNCTION LOAD, shebang included.
    pub code: Bytes,
    /// In registration order.
    pub functions: Vec<Function>,
}

/// A function FCALL found: what the call needs once the registry's lookup
/// is done.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: Bytes,
    pub flags: u32,
    func: c_int,
}

/// What FUNCTION RESTORE does with the libraries already loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Adds the payload's libraries; one that exists fails the restore.
    Append,
    /// Adds them, replacing libraries of the same name.
    Replace,
    /// Only the payload's libraries remain.
    Flush,
}

/// What INFO, snapshots and the log's rewrite read without the registry's
/// lock (a running function holds it, and may call INFO).
#[derive(Default)]
pub struct Published {
    libraries: AtomicUsize,
    functions: AtomicUsize,
    /// Bytes of code, names and descriptions kept, with each entry's
    /// bookkeeping (INFO used_memory_functions).
    overhead: AtomicUsize,
    codes: Mutex<Vec<Bytes>>,
    memory: Option<Arc<Memory>>,
}

impl Published {
    pub fn libraries(&self) -> usize {
        self.libraries.load(Relaxed)
    }

    pub fn functions(&self) -> usize {
        self.functions.load(Relaxed)
    }

    /// Bytes the registry keeps besides the Lua state.
    pub fn overhead(&self) -> usize {
        self.overhead.load(Relaxed)
    }

    /// Bytes of Lua memory the functions' state uses.
    pub fn lua_memory(&self) -> usize {
        self.memory.as_ref().map_or(0, |m| m.used.load(Relaxed))
    }

    /// Every library's code, in name order (what a snapshot writes).
    pub fn codes(&self) -> Vec<Bytes> {
        self.codes.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Registry references of the tables the load switches between.
struct Envs {
    /// The full environment functions run in.
    runtime: c_int,
    /// The load-time environment.
    load: c_int,
    /// The metatable of the globals table chunks see.
    meta: c_int,
}

/// The function libraries and the Lua state their functions live in.
pub struct Functions {
    vm: Vm,
    envs: Envs,
    libs: BTreeMap<Bytes, Library>,
    /// Lowercased function name → its library's name.
    index: HashMap<Vec<u8>, Bytes>,
    published: Arc<Published>,
}

/// A library's shebang, read.
struct Meta {
    name: Bytes,
    /// The code after the shebang line, from its newline on (so line
    /// numbers are the code's).
    body: Bytes,
}

/// `ERR <msg>`, on one line.
fn err(msg: impl AsRef<[u8]>) -> Bytes {
    let mut e = b"ERR ".to_vec();
    e.extend_from_slice(msg.as_ref());
    crate::convert::one_line(&e)
}

/// `ERR ` and the parts, on one line.
fn errs(parts: &[&[u8]]) -> Bytes {
    err(parts.concat())
}

/// Letters, digits and underscores, at least one: the rule for library and
/// function names.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

/// The error for a name that breaks [`valid_name`] (Redis 7.0 words it so
/// for function names as well).
const BAD_NAME: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// Reads a library's shebang: `#!<engine> name=<name>`, the engine any
/// case of `lua`, `name=` in any case and given once, nothing else.
fn read_meta(code: &Bytes) -> Result<Meta, Bytes> {
    if !code.starts_with(b"#!") {
        return Err(err("Missing library metadata"));
    }
    // The shebang ends at the first newline; a NUL before it ends the
    // text as Redis reads it.
    let nul = code.iter().position(|&c| c == 0).unwrap_or(code.len());
    let Some(end) = code[..nul].iter().position(|&c| c == b'\n') else {
        return Err(err("Invalid library metadata"));
    };
    let words = match rubedo_resp::split_args(&code.slice(..end)) {
        Some(w) if !w.is_empty() => w,
        _ => return Err(err("Invalid library metadata")),
    };
    let engine = words[0][2..].to_vec();
    let mut name: Option<Vec<u8>> = None;
    for w in &words[1..] {
        if w.len() >= 5 && w[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(err(
                    "Invalid metadata value, name argument was given multiple times",
                ));
            }
            name = Some(w[5..].to_vec());
            continue;
        }
        return Err(errs(&[b"Invalid metadata value given: ", &w[..]]));
    }
    let Some(name) = name else {
        return Err(err("Library name was not given"));
    };
    if !valid_name(&name) {
        return Err(err(BAD_NAME));
    }
    if !engine.eq_ignore_ascii_case(ENGINE.as_bytes()) {
        return Err(errs(&[b"Engine '", &engine, b"' not found"]));
    }
    Ok(Meta {
        name: Bytes::from(name),
        body: code.slice(end..),
    })
}

// ---- The load in progress ----

/// What the C functions of the load-time environment reach.
struct Loading<'a> {
    started: Instant,
    /// The functions registered so far.
    functions: Vec<Function>,
    log: &'a mut dyn FnMut(u8, &[u8]),
}

thread_local! {
    static LOADING: Cell<*mut Loading<'static>> = const { Cell::new(std::ptr::null_mut()) };
}

/// The load in progress on this thread, if any.
unsafe fn loading<'a>() -> Option<&'a mut Loading<'static>> {
    LOADING.with(|c| c.get().as_mut())
}

impl Functions {
    /// An empty registry over a new Lua state of at most `limit` bytes.
    pub fn new(limit: usize) -> Functions {
        let mut vm = Vm::new(limit);
        let envs = unsafe { arrange(&mut vm) };
        let published = Arc::new(Published {
            memory: Some(vm.memory()),
            ..Published::default()
        });
        let f = Functions {
            vm,
            envs,
            libs: BTreeMap::new(),
            index: HashMap::new(),
            published,
        };
        f.publish();
        f
    }

    /// The counters and code readable without the registry's lock.
    pub fn published(&self) -> Arc<Published> {
        self.published.clone()
    }

    pub fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libs.values()
    }

    /// Number of libraries.
    pub fn len(&self) -> usize {
        self.libs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.libs.is_empty()
    }

    /// Number of functions of every library.
    pub fn function_count(&self) -> usize {
        self.index.len()
    }

    /// Every library's code, in name order.
    pub fn codes(&self) -> Vec<Bytes> {
        self.libs.values().map(|l| l.code.clone()).collect()
    }

    /// FUNCTION LOAD: creates the library `code` defines, replacing the one
    /// of its name if `replace`; returns its name. `log` receives the
    /// code's `redis.log` lines.
    pub fn load(
        &mut self,
        code: &Bytes,
        replace: bool,
        log: &mut dyn FnMut(u8, &[u8]),
    ) -> Result<Bytes, Bytes> {
        let meta = read_meta(code)?;
        if !replace && self.libs.contains_key(&meta.name) {
            return Err(errs(&[b"Library '", &meta.name, b"' already exists"]));
        }
        let lib = self.build(&meta, code, log)?;
        let replaced: &[Bytes] = std::slice::from_ref(&meta.name);
        if let Some(f) = self.clash(&lib, replaced) {
            let e = errs(&[b"Function ", f, b" already exists"]);
            self.discard(lib);
            return Err(e);
        }
        if let Some(old) = self.libs.remove(&meta.name) {
            self.unlink(old);
        }
        self.link(lib);
        self.publish();
        Ok(meta.name)
    }

    /// FUNCTION RESTORE: creates every library of `payload` (each item a
    /// library's code, or the message for a record that could not be read)
    /// and joins them to the loaded ones as `policy` says. Nothing changes
    /// unless every library loads and joins.
    pub fn restore(
        &mut self,
        payload: impl IntoIterator<Item = Result<Vec<u8>, &'static str>>,
        policy: Policy,
        log: &mut dyn FnMut(u8, &[u8]),
    ) -> Result<(), Bytes> {
        let mut fresh: Vec<Library> = Vec::new();
        let r = self.create_all(payload, &mut fresh, log);
        if let Err(e) = r {
            fresh.into_iter().for_each(|l| self.discard(l));
            return Err(e);
        }
        if policy == Policy::Flush {
            self.clear();
        } else {
            let mut replaced = Vec::new();
            for lib in &fresh {
                if self.libs.contains_key(&lib.name) {
                    if policy == Policy::Append {
                        let e = errs(&[b"Library ", &lib.name, b" already exists"]);
                        fresh.into_iter().for_each(|l| self.discard(l));
                        return Err(e);
                    }
                    replaced.push(lib.name.clone());
                }
            }
            let clash = fresh
                .iter()
                .find_map(|lib| self.clash(lib, &replaced))
                .cloned();
            if let Some(f) = clash {
                let e = errs(&[b"Function ", &f, b" already exists"]);
                fresh.into_iter().for_each(|l| self.discard(l));
                return Err(e);
            }
            for name in &replaced {
                if let Some(old) = self.libs.remove(name) {
                    self.unlink(old);
                }
            }
        }
        for lib in fresh {
            self.link(lib);
        }
        self.publish();
        Ok(())
    }

    /// Creates the payload's libraries into `fresh`, checking them against
    /// each other as a registry of their own.
    fn create_all(
        &mut self,
        payload: impl IntoIterator<Item = Result<Vec<u8>, &'static str>>,
        fresh: &mut Vec<Library>,
        log: &mut dyn FnMut(u8, &[u8]),
    ) -> Result<(), Bytes> {
        for item in payload {
            let code = Bytes::from(item.map_err(err)?);
            let meta = read_meta(&code)?;
            if fresh.iter().any(|l| l.name == meta.name) {
                return Err(errs(&[b"Library '", &meta.name, b"' already exists"]));
            }
            let lib = self.build(&meta, &code, log)?;
            let dup = lib.functions.iter().find(|f| {
                fresh
                    .iter()
                    .flat_map(|l| &l.functions)
                    .any(|g| g.name.eq_ignore_ascii_case(&f.name))
            });
            if let Some(f) = dup {
                let e = errs(&[b"Function ", &f.name, b" already exists"]);
                self.discard(lib);
                return Err(e);
            }
            fresh.push(lib);
        }
        Ok(())
    }

    /// A function of `lib` whose name another library has, leaving out the
    /// libraries named in `replaced`.
    fn clash<'l>(&self, lib: &'l Library, replaced: &[Bytes]) -> Option<&'l Bytes> {
        lib.functions.iter().map(|f| &f.name).find(|name| {
            self.index
                .get(&name.to_ascii_lowercase())
                .is_some_and(|owner| !replaced.contains(owner))
        })
    }

    /// FUNCTION DELETE.
    pub fn delete(&mut self, name: &[u8]) -> Result<(), Bytes> {
        let Some(lib) = self.libs.remove(name) else {
            return Err(err("Library not found"));
        };
        self.unlink(lib);
        self.publish();
        Ok(())
    }

    /// FUNCTION FLUSH (and what a reload starts from).
    pub fn flush(&mut self) {
        self.clear();
        self.vm.collect();
        self.publish();
    }

    fn clear(&mut self) {
        let libs = std::mem::take(&mut self.libs);
        self.index.clear();
        for lib in libs.into_values() {
            self.discard(lib);
        }
    }

    /// The function FCALL names (any case).
    pub fn find(&self, name: &[u8]) -> Option<Target> {
        let lib = self.index.get(&name.to_ascii_lowercase())?;
        let f = self
            .libs
            .get(lib)?
            .functions
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))?;
        Some(Target {
            name: f.name.clone(),
            flags: f.flags,
            func: f.func,
        })
    }

    /// Runs a function found by [`find`](Self::find) with its keys and
    /// arguments (its two parameters), commands going to `host`.
    pub fn call(
        &mut self,
        host: &mut dyn Host,
        f: &Target,
        keys: &[Bytes],
        args: &[Bytes],
        proto: Protocol,
        opts: &RunOpts,
    ) -> Progress {
        self.vm.run(
            host,
            Call {
                func: f.func,
                keys,
                args,
                globals: false,
                name: &f.name,
                proto,
            },
            opts,
        )
    }

    /// Goes on with the function that yielded.
    pub fn resume(&mut self, host: &mut dyn Host, opts: &RunOpts) -> Progress {
        self.vm.resume(host, opts)
    }

    /// FUNCTION LIST: every library whose name matches `pattern` (a glob,
    /// any case), with its code if `with_code`.
    pub fn list(&self, pattern: Option<&[u8]>, with_code: bool) -> Frame {
        let bulk = |s: &'static str| Frame::Bulk(Bytes::from_static(s.as_bytes()));
        let libs = self
            .libs
            .values()
            .filter(|l| pattern.is_none_or(|p| rubedo_engine::glob::glob_match(p, &l.name, true)));
        Frame::Array(
            libs.map(|l| {
                let functions = l
                    .functions
                    .iter()
                    .map(|f| {
                        let flags = flags::NAMES
                            .iter()
                            .filter(|(_, bit)| f.flags & bit != 0)
                            .map(|(n, _)| Frame::Simple(Bytes::from_static(n.as_bytes())))
                            .collect();
                        Frame::Map(vec![
                            (bulk("name"), Frame::Bulk(f.name.clone())),
                            (
                                bulk("description"),
                                f.description.clone().map_or(Frame::Null, Frame::Bulk),
                            ),
                            (bulk("flags"), Frame::Set(flags)),
                        ])
                    })
                    .collect();
                let mut m = vec![
                    (bulk("library_name"), Frame::Bulk(l.name.clone())),
                    (bulk("engine"), bulk(ENGINE)),
                    (bulk("functions"), Frame::Array(functions)),
                ];
                if with_code {
                    m.push((bulk("library_code"), Frame::Bulk(l.code.clone())));
                }
                Frame::Map(m)
            })
            .collect(),
        )
    }

    /// Lua memory in use.
    pub fn lua_memory(&self) -> usize {
        self.vm.used_memory()
    }

    fn link(&mut self, lib: Library) {
        for f in &lib.functions {
            self.index
                .insert(f.name.to_ascii_lowercase(), lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), lib);
    }

    fn unlink(&mut self, lib: Library) {
        for f in &lib.functions {
            self.index.remove(&f.name.to_ascii_lowercase());
        }
        self.discard(lib);
    }

    /// Releases a library's callbacks.
    fn discard(&mut self, lib: Library) {
        for f in lib.functions {
            self.vm.release(f.func);
        }
    }

    fn publish(&self) {
        let p = &self.published;
        p.libraries.store(self.libs.len(), Relaxed);
        p.functions.store(self.index.len(), Relaxed);
        // Each library and function counted with its name, the code and
        // descriptions, and a few words of bookkeeping each.
        const ENTRY: usize = 64;
        let bytes: usize = self
            .libs
            .values()
            .map(|l| {
                ENTRY
                    + l.name.len()
                    + l.code.len()
                    + l.functions
                        .iter()
                        .map(|f| {
                            ENTRY + f.name.len() + f.description.as_ref().map_or(0, Bytes::len)
                        })
                        .sum::<usize>()
            })
            .sum();
        p.overhead.store(ENTRY * 3 + bytes, Relaxed);
        *p.codes.lock().unwrap_or_else(|e| e.into_inner()) = self.codes();
    }

    /// Compiles and runs a library's code in the load-time environment,
    /// collecting what it registers.
    fn build(
        &mut self,
        meta: &Meta,
        code: &Bytes,
        log: &mut dyn FnMut(u8, &[u8]),
    ) -> Result<Library, Bytes> {
        let l = self.vm.state();
        let mut state = Loading {
            started: Instant::now(),
            functions: Vec::new(),
            log,
        };
        let outcome = unsafe {
            let base = ffi::lua_gettop(l);
            let rc = ffi::luaL_loadbuffer(
                l,
                meta.body.as_ptr() as *const _,
                meta.body.len(),
                c"@user_function".as_ptr(),
            );
            if rc != 0 {
                let mut e = b"Error compiling function: ".to_vec();
                e.extend_from_slice(lua::to_bytes(l, -1).unwrap_or(b""));
                ffi::lua_settop(l, base);
                return Err(err(e));
            }
            self.set_env(self.envs.load);
            let hook = (
                ffi::lua_gethook(l),
                ffi::lua_gethookmask(l),
                ffi::lua_gethookcount(l),
            );
            ffi::lua_sethook(l, Some(load_hook), ffi::LUA_MASKCOUNT, LOAD_HOOK_STEP);
            let p: *mut Loading<'_> = &mut state;
            LOADING.with(|c| c.set(p.cast()));
            let rc = ffi::lua_pcall(l, 0, 0, 0);
            LOADING.with(|c| c.set(std::ptr::null_mut()));
            ffi::lua_sethook(l, hook.0, hook.1, hook.2);
            self.set_env(self.envs.runtime);
            let outcome = if rc == 0 { Ok(()) } else { Err(load_error(l)) };
            ffi::lua_settop(l, base);
            outcome
        };
        let functions = std::mem::take(&mut state.functions);
        let lib = Library {
            name: meta.name.clone(),
            code: code.clone(),
            functions,
        };
        if let Err(msg) = outcome {
            self.discard(lib);
            let mut e = b"Error registering functions: ".to_vec();
            e.extend_from_slice(&msg);
            return Err(err(e));
        }
        if lib.functions.is_empty() {
            return Err(err("No functions registered"));
        }
        Ok(lib)
    }

    /// Points the globals' `__index` at the environment `env`.
    unsafe fn set_env(&self, env: c_int) {
        let l = self.vm.state();
        ffi::lua_rawgeti(
            l,
            ffi::LUA_REGISTRYINDEX,
            self.envs.meta as ffi::lua_Integer,
        );
        lua::lua_enablereadonlytable(l, -1, 0);
        ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, env as ffi::lua_Integer);
        lua::set_field(l, -2, "__index");
        lua::lua_enablereadonlytable(l, -1, 1);
        ffi::lua_settop(l, -2);
    }
}

/// The message of a load that raised `err` (at the top of the stack): a
/// string as `ERR <string>`, an error table as its `err` field.
unsafe fn load_error(l: *mut lua_State) -> Vec<u8> {
    if ffi::lua_isstring(l, -1) != 0 {
        let mut m = b"ERR ".to_vec();
        m.extend_from_slice(lua::to_bytes(l, -1).unwrap_or(b""));
        return m;
    }
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        lua::raw_field(l, -1, "err");
        let m = lua::to_bytes(l, -1).map(<[u8]>::to_vec);
        ffi::lua_settop(l, -2);
        if let Some(m) = m {
            return m;
        }
    }
    b"ERR unknown error".to_vec()
}

/// Turns the EVAL-shaped state of `vm` into the functions' arrangement
/// (see the module's notes) and returns the references it keeps.
unsafe fn arrange(vm: &mut Vm) -> Envs {
    let l = vm.state();
    let g = ffi::LUA_GLOBALSINDEX;
    // The full environment loses what only EVAL has.
    lua::lua_enablereadonlytable(l, g, 0);
    ffi::lua_pushnil(l);
    lua::set_field(l, g, "__redis__err__handler");
    lua::raw_field(l, g, "redis");
    lua::lua_enablereadonlytable(l, -1, 0);
    for name in ["breakpoint", "debug", "replicate_commands"] {
        ffi::lua_pushnil(l);
        lua::set_field(l, -2, name);
    }
    lua::lua_enablereadonlytable(l, -1, 1);
    ffi::lua_settop(l, -2);
    lua::lua_enablereadonlytable(l, g, 1);
    ffi::lua_pushvalue(l, g);
    let runtime = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);

    // The load-time environment: `redis` with what a library's code may use.
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_createtable(l, 0, 8);
    ffi::lua_pushcfunction(l, register_function);
    lua::set_field(l, -2, "register_function");
    ffi::lua_pushcfunction(l, load_log);
    lua::set_field(l, -2, "log");
    let nums: [(&str, f64); 5] = [
        ("LOG_DEBUG", 0.0),
        ("LOG_VERBOSE", 1.0),
        ("LOG_NOTICE", 2.0),
        ("LOG_WARNING", 3.0),
        ("REDIS_VERSION_NUM", crate::REDIS_VERSION_NUM as f64),
    ];
    for (name, v) in nums {
        ffi::lua_pushnumber(l, v);
        lua::set_field(l, -2, name);
    }
    lua::push_bytes(l, crate::REDIS_VERSION.as_bytes());
    lua::set_field(l, -2, "REDIS_VERSION");
    guard(l);
    lua::set_field(l, -2, "redis");
    guard(l);
    let load = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);

    // The globals chunks see: empty, read-only, reading through `__index`.
    ffi::lua_createtable(l, 0, 0);
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, runtime as ffi::lua_Integer);
    lua::set_field(l, -2, "__index");
    ffi::lua_pushvalue(l, -1);
    let meta = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
    ffi::lua_setmetatable(l, -2);
    ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, meta as ffi::lua_Integer);
    lua::lua_enablereadonlytable(l, -1, 1);
    ffi::lua_settop(l, -2);
    lua::lua_enablereadonlytable(l, -1, 1);
    ffi::lua_replace(l, g);
    Envs {
        runtime,
        load,
        meta,
    }
}

/// Gives the table at the top of the stack the global guard as its
/// `__index` and makes both read-only.
unsafe fn guard(l: *mut lua_State) {
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_pushcfunction(l, crate::vm::global_guard);
    lua::set_field(l, -2, "__index");
    lua::lua_enablereadonlytable(l, -1, 1);
    ffi::lua_setmetatable(l, -2);
    lua::lua_enablereadonlytable(l, -1, 1);
}

/// Stops a load that runs too long (and, should its code catch that, at
/// every line after).
unsafe extern "C-unwind" fn load_hook(l: *mut lua_State, _ar: *mut ffi::lua_Debug) {
    let late = loading().is_some_and(|s| s.started.elapsed() > LOAD_TIMEOUT);
    if late {
        ffi::lua_sethook(l, Some(load_hook), ffi::LUA_MASKLINE, 0);
        lua::raise_table(l, b"ERR FUNCTION LOAD timeout".to_vec());
    }
}

/// The load-time `redis.log`: EVAL's checks, the line to the load's log.
unsafe extern "C-unwind" fn load_log(l: *mut lua_State) -> c_int {
    match crate::vm::log_args(l) {
        Ok((level, msg)) => {
            if let Some(s) = loading() {
                (s.log)(level, &msg);
            }
            0
        }
        Err(e) => lua::raise_table(l, e.to_vec()),
    }
}

/// What `redis.register_function` was given, read off the Lua stack.
struct Registration {
    /// Registry reference of the callback.
    func: c_int,
    flags: u32,
}

/// `redis.register_function(name, callback)` or
/// `redis.register_function{function_name=..., callback=..., flags={...},
/// description=...}`.
unsafe extern "C-unwind" fn register_function(l: *mut lua_State) -> c_int {
    let Some(state) = loading() else {
        return lua::raise_table(
            l,
            b"ERR redis.register_function can only be called on FUNCTION LOAD command".to_vec(),
        );
    };
    // Slot 1: the arguments; 2: the name; 3: the description (read at the
    // end, so no Rust value needs dropping while Lua may raise).
    let reg = match ffi::lua_gettop(l) {
        1 => read_named(l),
        2 => read_positional(l),
        _ => Err("wrong number of arguments to redis.register_function"),
    };
    let reg = match reg {
        Ok(r) => r,
        Err(msg) => {
            let m = err(msg).to_vec();
            return lua::raise_table(l, m);
        }
    };
    let name = lua::to_bytes(l, 2).unwrap_or(b"");
    let problem = if !valid_name(name) {
        Some(BAD_NAME)
    } else if state
        .functions
        .iter()
        .any(|f| f.name.eq_ignore_ascii_case(name))
    {
        Some("Function already exists in the library")
    } else {
        None
    };
    if let Some(msg) = problem {
        ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, reg.func);
        let m = err(msg).to_vec();
        return lua::raise_table(l, m);
    }
    let description = (ffi::lua_type(l, 3) != ffi::LUA_TNIL)
        .then(|| lua::to_bytes(l, 3).map(Bytes::copy_from_slice))
        .flatten();
    state.functions.push(Function {
        name: Bytes::copy_from_slice(name),
        description,
        flags: reg.flags,
        func: reg.func,
    });
    0
}

unsafe fn read_positional(l: *mut lua_State) -> Result<Registration, &'static str> {
    if ffi::lua_isstring(l, 1) == 0 {
        return Err("first argument to redis.register_function must be a string");
    }
    if ffi::lua_isfunction(l, 2) == 0 {
        return Err("second argument to redis.register_function must be a function");
    }
    let func = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
    // Slot 2 becomes the name, slot 3 the (absent) description.
    ffi::lua_pushvalue(l, 1);
    ffi::lua_pushnil(l);
    Ok(Registration { func, flags: 0 })
}

unsafe fn read_named(l: *mut lua_State) -> Result<Registration, &'static str> {
    if ffi::lua_istable(l, 1) == 0 {
        return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
    }
    ffi::lua_pushnil(l);
    ffi::lua_pushnil(l);
    let mut func: Option<c_int> = None;
    let mut flags = 0u32;
    let unref = |l: *mut lua_State, func: Option<c_int>| {
        if let Some(r) = func {
            ffi::luaL_unref(l, ffi::LUA_REGISTRYINDEX, r);
        }
    };
    ffi::lua_pushnil(l);
    while ffi::lua_next(l, 1) != 0 {
        // Stack: args, name, desc, key, value.
        let key = match ffi::lua_type(l, -2) {
            ffi::LUA_TSTRING => lua::to_bytes(l, -2).unwrap_or(b""),
            ffi::LUA_TNUMBER => b"",
            _ => {
                unref(l, func);
                return Err("named argument key given to redis.register_function is not a string");
            }
        };
        if key.eq_ignore_ascii_case(b"function_name") {
            if ffi::lua_isstring(l, -1) == 0 {
                unref(l, func);
                return Err(
                    "function_name argument given to redis.register_function must be a string",
                );
            }
            ffi::lua_pushvalue(l, -1);
            ffi::lua_replace(l, 2);
        } else if key.eq_ignore_ascii_case(b"description") {
            if ffi::lua_isstring(l, -1) == 0 {
                unref(l, func);
                return Err(
                    "description argument given to redis.register_function must be a string",
                );
            }
            ffi::lua_pushvalue(l, -1);
            ffi::lua_replace(l, 3);
        } else if key.eq_ignore_ascii_case(b"callback") {
            if ffi::lua_isfunction(l, -1) == 0 {
                unref(l, func);
                return Err(
                    "callback argument given to redis.register_function must be a function",
                );
            }
            // A second callback replaces the first.
            unref(l, func);
            func = Some(ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX));
            continue;
        } else if key.eq_ignore_ascii_case(b"flags") {
            if ffi::lua_istable(l, -1) == 0 {
                unref(l, func);
                return Err("flags argument to redis.register_function must be a table representing function flags");
            }
            match read_flags(l) {
                Some(f) => flags = f,
                None => {
                    unref(l, func);
                    return Err("unknown flag given");
                }
            }
        } else {
            unref(l, func);
            return Err("unknown argument given to redis.register_function");
        }
        ffi::lua_settop(l, -2);
    }
    if ffi::lua_type(l, 2) == ffi::LUA_TNIL {
        unref(l, func);
        return Err("redis.register_function must get a function name argument");
    }
    let Some(func) = func else {
        return Err("redis.register_function must get a callback argument");
    };
    Ok(Registration { func, flags })
}

/// The flags of the array at the top of the stack (any case), up to its
/// first nil; None for one that is not a flag.
unsafe fn read_flags(l: *mut lua_State) -> Option<u32> {
    let mut bits = 0;
    let mut j = 1;
    loop {
        ffi::lua_pushnumber(l, j as f64);
        j += 1;
        ffi::lua_gettable(l, -2);
        if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
            ffi::lua_settop(l, -2);
            return Some(bits);
        }
        let bit = if ffi::lua_isstring(l, -1) != 0 {
            let s = lua::to_bytes(l, -1).unwrap_or(b"");
            flags::NAMES
                .iter()
                .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(s))
                .map(|(_, b)| *b)
        } else {
            None
        };
        ffi::lua_settop(l, -2);
        bits |= bit?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commands from functions: `echo` answers, `set` says OK, the rest
    /// are unknown.
    struct Echo;
    impl Host for Echo {
        fn call(&mut self, argv: Vec<Bytes>, _resp3: bool) -> Frame {
            if argv[0].eq_ignore_ascii_case(b"echo") {
                Frame::Bulk(argv[1].clone())
            } else if argv[0].eq_ignore_ascii_case(b"set") {
                Frame::ok()
            } else {
                Frame::error("ERR Unknown Redis command called from script")
            }
        }
        fn acl_check(&mut self, _argv: &[Bytes]) -> Option<bool> {
            Some(true)
        }
        fn log(&mut self, _level: u8, _msg: &[u8]) {}
        fn set_repl(&mut self, _flags: u8) {}
    }

    fn show(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    fn registry() -> Functions {
        Functions::new(64 << 20)
    }

    fn load(f: &mut Functions, code: &str) -> Result<String, String> {
        load_with(f, code, false)
    }

    fn load_with(f: &mut Functions, code: &str, replace: bool) -> Result<String, String> {
        f.load(
            &Bytes::copy_from_slice(code.as_bytes()),
            replace,
            &mut |_, _| {},
        )
        .map(|n| show(&n))
        .map_err(|e| show(&e))
    }

    fn fcall(f: &mut Functions, name: &str, keys: &[&str], args: &[&str]) -> Frame {
        let Some(t) = f.find(name.as_bytes()) else {
            return Frame::error("ERR Function not found");
        };
        let b = |v: &[&str]| -> Vec<Bytes> {
            v.iter()
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect()
        };
        let opts = RunOpts {
            switches: Default::default(),
            threshold: std::time::Duration::from_secs(5),
            yieldable: false,
        };
        match f.call(&mut Echo, &t, &b(keys), &b(args), Protocol::Resp2, &opts) {
            Progress::Done(f) => f,
            Progress::Yielded => panic!("yielded"),
        }
    }

    fn lib(name: &str, func: &str) -> String {
        format!("#!lua name={name}\nredis.register_function('{func}', function(keys, args) return '{func}' end)")
    }

    #[test]
    fn shebangs_as_redis_reads_them() {
        let mut f = registry();
        let cases: &[(&str, &str)] = &[
            ("return 1", "ERR Missing library metadata"),
            ("#!lua", "ERR Invalid library metadata"),
            ("#!lua\0\n", "ERR Invalid library metadata"),
            ("#!lua\n", "ERR Library name was not given"),
            ("#!lua name=\n", BAD),
            ("#!lua name=a-b\n", BAD),
            (
                "#!lua name=x name=y\n",
                "ERR Invalid metadata value, name argument was given multiple times",
            ),
            (
                "#!lua foo=bar\n",
                "ERR Invalid metadata value given: foo=bar",
            ),
            ("#!python name=x\n", "ERR Engine 'python' not found"),
            ("#! name=x\n", "ERR Engine '' not found"),
            ("#!lua name=\"x\n", "ERR Invalid library metadata"),
            ("#!lua name=z\nreturn 1", "ERR No functions registered"),
        ];
        const BAD: &str = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";
        for (code, want) in cases {
            assert_eq!(load(&mut f, code).unwrap_err(), *want, "{code:?}");
        }
        let ok = "\nredis.register_function('f', function() return 1 end)";
        assert_eq!(load(&mut f, &format!("#!LUA NAME=up{ok}")).unwrap(), "up");
        assert_eq!(
            load(
                &mut f,
                &format!("#!lua \"name=q\"{}", ok.replace("'f'", "'g'"))
            )
            .unwrap(),
            "q"
        );
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn load_replace_and_collisions() {
        let mut f = registry();
        assert_eq!(load(&mut f, &lib("lib1", "f1")).unwrap(), "lib1");
        assert_eq!(
            load(&mut f, &lib("lib1", "f1")).unwrap_err(),
            "ERR Library 'lib1' already exists"
        );
        assert_eq!(
            load(&mut f, &lib("lib2", "F1")).unwrap_err(),
            "ERR Function F1 already exists"
        );
        assert_eq!(fcall(&mut f, "F1", &[], &[]), Frame::bulk(b"f1"));
        assert_eq!(load_with(&mut f, &lib("lib1", "f2"), true).unwrap(), "lib1");
        assert_eq!(
            fcall(&mut f, "f1", &[], &[]),
            Frame::error("ERR Function not found")
        );
        assert_eq!(fcall(&mut f, "f2", &[], &[]), Frame::bulk(b"f2"));
        // A failed replace keeps the old library.
        assert!(load_with(&mut f, "#!lua name=lib1\nreturn +", true).is_err());
        assert_eq!(fcall(&mut f, "f2", &[], &[]), Frame::bulk(b"f2"));
        assert_eq!(
            f.delete(b"LIB1").map_err(|e| show(&e)).unwrap_err(),
            "ERR Library not found"
        );
        f.delete(b"lib1").unwrap();
        assert!(f.is_empty());
        assert_eq!(f.function_count(), 0);
        assert_eq!(f.published().libraries(), 0);
    }

    #[test]
    fn the_load_time_environment() {
        let mut f = registry();
        let l = |f: &mut Functions, body: &str| load(f, &format!("#!lua name=t\n{body}"));
        assert_eq!(
            l(&mut f, "a = 1").unwrap_err(),
            "ERR Error registering functions: ERR user_function:2: Attempt to modify a readonly table"
        );
        for g in [
            "math",
            "pairs",
            "error",
            "_G",
            "KEYS",
            "__redis__err__handler",
        ] {
            assert_eq!(
                l(&mut f, &format!("local x = {g}")).unwrap_err(),
                format!("ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable '{g}'")
            );
        }
        for field in ["call", "setresp", "pcall", "sha1hex"] {
            assert_eq!(
                l(&mut f, &format!("redis.{field}('ping')")).unwrap_err(),
                format!("ERR Error registering functions: ERR user_function:2: Script attempted to access nonexistent global variable '{field}'")
            );
        }
        assert_eq!(
            l(&mut f, "redis.log(99, 'x')").unwrap_err(),
            "ERR Error registering functions: ERR Invalid debug level."
        );
        assert_eq!(
            l(&mut f, "return +").unwrap_err(),
            "ERR Error compiling function: user_function:2: unexpected symbol near '+'"
        );
        let mut lines = Vec::new();
        let code = Bytes::from_static(b"#!lua name=t\nredis.log(redis.LOG_WARNING, 'at', 'load')\nlocal v = {redis.REDIS_VERSION, redis.REDIS_VERSION_NUM, redis.LOG_NOTICE}\nredis.register_function('t', function() return v end)");
        f.load(&code, false, &mut |lv, m| lines.push((lv, m.to_vec())))
            .unwrap();
        assert_eq!(lines, vec![(3, b"at load".to_vec())]);
        assert_eq!(
            fcall(&mut f, "t", &[], &[]),
            Frame::Array(vec![
                Frame::bulk(b"7.0.15"),
                Frame::Integer(458767),
                Frame::Integer(2)
            ])
        );
    }

    #[test]
    fn the_runtime_environment() {
        let mut f = registry();
        let code = "#!lua name=t\n\
            local r = redis\n\
            redis.register_function('args', function(k, a, c) return {#k, #a, type(c), k[1], a[1]} end)\n\
            redis.register_function('echo', function(k, a) return redis.call('echo', a[1]) end)\n\
            redis.register_function('reg', function() return type(redis.register_function) end)\n\
            redis.register_function('evalonly', function() return {type(redis.breakpoint), type(redis.debug), type(redis.replicate_commands)} end)\n\
            redis.register_function('captured', function() return r.call('ping') end)\n\
            redis.register_function('global', function() x = 1 end)";
        load(&mut f, code).unwrap();
        assert_eq!(
            fcall(&mut f, "args", &["k1", "k2"], &["a1"]),
            Frame::Array(vec![
                Frame::Integer(2),
                Frame::Integer(1),
                Frame::bulk(b"nil"),
                Frame::bulk(b"k1"),
                Frame::bulk(b"a1"),
            ])
        );
        assert_eq!(fcall(&mut f, "echo", &[], &["hi"]), Frame::bulk(b"hi"));
        assert_eq!(fcall(&mut f, "reg", &[], &[]), Frame::bulk(b"nil"));
        assert_eq!(
            fcall(&mut f, "evalonly", &[], &[]),
            Frame::Array(vec![Frame::bulk(b"nil"); 3])
        );
        let Frame::Error(e) = fcall(&mut f, "captured", &[], &[]) else {
            panic!()
        };
        assert_eq!(
            &e[..],
            b"ERR user_function:7: Script attempted to access nonexistent global variable 'call' script: captured, on @user_function:7."
        );
        let Frame::Error(e) = fcall(&mut f, "global", &[], &[]) else {
            panic!()
        };
        assert_eq!(
            &e[..],
            b"ERR user_function:8: Attempt to modify a readonly table script: global, on @user_function:8."
        );
    }

    #[test]
    fn registration_arguments() {
        let mut f = registry();
        let pre = "ERR Error registering functions: ERR ";
        let cases: &[(&str, &str)] = &[
            ("redis.register_function()", "wrong number of arguments to redis.register_function"),
            ("redis.register_function({}, function() end)", "first argument to redis.register_function must be a string"),
            ("redis.register_function('a', 'b')", "second argument to redis.register_function must be a function"),
            ("redis.register_function('a')", "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."),
            ("redis.register_function('a-b', function() end)", "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
            ("redis.register_function('a', function() end) redis.register_function('a', function() end)", "Function already exists in the library"),
            ("redis.register_function('a', function() end) redis.register_function('A', function() end)", "Function already exists in the library"),
            ("redis.register_function{}", "redis.register_function must get a function name argument"),
            ("redis.register_function{function_name='a'}", "redis.register_function must get a callback argument"),
            ("redis.register_function{function_name={}, callback=function() end}", "function_name argument given to redis.register_function must be a string"),
            ("redis.register_function{function_name='a', callback='x'}", "callback argument given to redis.register_function must be a function"),
            ("redis.register_function{function_name='a', callback=function() end, description={}}", "description argument given to redis.register_function must be a string"),
            ("redis.register_function{function_name='a', callback=function() end, flags='no-writes'}", "flags argument to redis.register_function must be a table representing function flags"),
            ("redis.register_function{function_name='a', callback=function() end, flags={'bogus'}}", "unknown flag given"),
            ("redis.register_function{function_name='a', callback=function() end, flags={1}}", "unknown flag given"),
            ("redis.register_function{function_name='a', callback=function() end, bogus=1}", "unknown argument given to redis.register_function"),
            ("redis.register_function{function_name='a', callback=function() end, [1]=1}", "unknown argument given to redis.register_function"),
            ("redis.register_function{[{}]=1}", "named argument key given to redis.register_function is not a string"),
        ];
        for (body, want) in cases {
            assert_eq!(
                load_with(&mut f, &format!("#!lua name=t\n{body}"), true).unwrap_err(),
                format!("{pre}{want}"),
                "{body}"
            );
        }
        load_with(&mut f, "#!lua name=t\nredis.register_function{FUNCTION_NAME=5, CallBack=function() end, description='d', flags={'NO-WRITES', 'allow-oom', nil, 'bogus'}}", true).unwrap();
        let t = f.find(b"5").unwrap();
        assert_eq!(t.flags, flags::NO_WRITES | flags::ALLOW_OOM);
        let Frame::Array(libs) = f.list(None, false) else {
            panic!()
        };
        let Frame::Map(m) = &libs[0] else { panic!() };
        let Frame::Array(fs) = &m[2].1 else { panic!() };
        assert_eq!(
            fs[0],
            Frame::Map(vec![
                (Frame::bulk(b"name"), Frame::bulk(b"5")),
                (Frame::bulk(b"description"), Frame::bulk(b"d")),
                (
                    Frame::bulk(b"flags"),
                    Frame::Set(vec![Frame::simple("no-writes"), Frame::simple("allow-oom")])
                ),
            ])
        );
        // Nothing was left registered by the failed attempts.
        assert_eq!(f.function_count(), 1);
    }

    #[test]
    fn a_load_that_runs_too_long_stops() {
        let mut f = registry();
        let t = Instant::now();
        assert_eq!(
            load(&mut f, "#!lua name=t\nlocal a = 1 while 1 do a = a + 1 end").unwrap_err(),
            "ERR Error registering functions: ERR FUNCTION LOAD timeout"
        );
        assert!(t.elapsed() < Duration::from_secs(5));
        assert_eq!(load(&mut f, &lib("t", "ok")).unwrap(), "t");
    }

    fn codes(v: &[String]) -> Vec<Result<Vec<u8>, &'static str>> {
        v.iter().map(|s| Ok(s.clone().into_bytes())).collect()
    }

    fn restore(f: &mut Functions, v: &[String], p: Policy) -> Result<(), String> {
        f.restore(codes(v), p, &mut |_, _| {}).map_err(|e| show(&e))
    }

    #[test]
    fn restore_policies() {
        let mut f = registry();
        load(&mut f, &lib("a", "fa")).unwrap();
        load(&mut f, &lib("b", "fb")).unwrap();
        assert_eq!(
            restore(&mut f, &[lib("a", "fx")], Policy::Append).unwrap_err(),
            "ERR Library a already exists"
        );
        assert_eq!(
            restore(&mut f, &[lib("c", "fb")], Policy::Append).unwrap_err(),
            "ERR Function fb already exists"
        );
        assert_eq!(
            restore(&mut f, &[lib("d", "fd"), lib("d", "fe")], Policy::Append).unwrap_err(),
            "ERR Library 'd' already exists"
        );
        assert_eq!(
            restore(&mut f, &[lib("d", "fd"), lib("e", "FD")], Policy::Append).unwrap_err(),
            "ERR Function FD already exists"
        );
        // Replacing `a` frees its function's name; `b`'s stays taken.
        assert_eq!(
            restore(&mut f, &[lib("a", "fb")], Policy::Replace).unwrap_err(),
            "ERR Function fb already exists"
        );
        assert_eq!(fcall(&mut f, "fa", &[], &[]), Frame::bulk(b"fa"));
        restore(&mut f, &[lib("a", "FA"), lib("c", "fc")], Policy::Replace).unwrap();
        assert_eq!(fcall(&mut f, "fa", &[], &[]), Frame::bulk(b"FA"));
        assert_eq!(f.len(), 3);
        let bad = vec![
            Ok(lib("z", "fz").into_bytes()),
            Err("given type is not a function"),
        ];
        assert_eq!(
            f.restore(bad, Policy::Flush, &mut |_, _| {})
                .map_err(|e| show(&e))
                .unwrap_err(),
            "ERR given type is not a function"
        );
        assert_eq!(f.len(), 3);
        restore(&mut f, &[lib("z", "fz")], Policy::Flush).unwrap();
        assert_eq!(f.codes(), vec![Bytes::from(lib("z", "fz"))]);
        assert_eq!(
            fcall(&mut f, "fa", &[], &[]),
            Frame::error("ERR Function not found")
        );
        restore(&mut f, &[], Policy::Flush).unwrap();
        assert!(f.is_empty());
    }

    #[test]
    fn list_filters_by_pattern_in_any_case() {
        let mut f = registry();
        load(&mut f, &lib("Alpha", "f1")).unwrap();
        load(&mut f, &lib("beta", "f2")).unwrap();
        let names = |fr: Frame| -> Vec<Frame> {
            let Frame::Array(libs) = fr else { panic!() };
            libs.into_iter()
                .map(|l| match l {
                    Frame::Map(m) => m[0].1.clone(),
                    _ => panic!(),
                })
                .collect()
        };
        assert_eq!(
            names(f.list(Some(b"a*"), false)),
            vec![Frame::bulk(b"Alpha")]
        );
        assert_eq!(names(f.list(None, false)).len(), 2);
        let Frame::Array(libs) = f.list(Some(b"BETA"), true) else {
            panic!()
        };
        let Frame::Map(m) = &libs[0] else { panic!() };
        assert_eq!(
            m[3],
            (
                Frame::bulk(b"library_code"),
                Frame::Bulk(lib("beta", "f2").into())
            )
        );
        f.flush();
        assert_eq!(f.list(None, false), Frame::Array(vec![]));
        assert_eq!(f.published().codes(), Vec::<Bytes>::new());
    }
}
