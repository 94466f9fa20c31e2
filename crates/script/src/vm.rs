//! One Lua state built as Redis 7.0 builds its scripting environment:
//! Redis's subset of the base library, string, table, math, coroutine,
//! cjson, cmsgpack, bit and struct; the `redis` table; protected globals
//! (read-only `_G` and library tables, an error for a nonexistent global);
//! Redis's `pcall` (error tables read as their message) and error handler.
//! The state's memory is counted by its own allocator and capped.

use std::alloc::Layout;
use std::cell::Cell;
use std::os::raw::{c_int, c_void};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rubedo_resp::{Frame, Protocol};

use crate::lua::{self, ffi, lua_State};
use crate::Host;

/// Allocation counters of one state, readable without its lock (INFO).
#[derive(Debug, Default)]
pub struct Memory {
    pub used: AtomicUsize,
    pub limit: AtomicUsize,
}

/// The run in progress on this thread: the host commands go to, and the
/// script's own settings (`redis.setresp`).
pub struct Run<'a> {
    pub host: &'a mut dyn Host,
    pub resp3: bool,
    /// The thread the script runs on (the hook yields only that one).
    co: *mut lua_State,
    opts: &'a RunOpts,
    started: Instant,
    yielded: bool,
}

thread_local! {
    static RUN: Cell<*mut Run<'static>> = const { Cell::new(std::ptr::null_mut()) };
}

/// The run in progress, if a script is running on this thread.
unsafe fn current<'a>() -> Option<&'a mut Run<'static>> {
    RUN.with(|r| r.get().as_mut())
}

/// What every client sees of the script running now: the admission gate
/// reads `busy`, SCRIPT KILL / FUNCTION KILL set `kill`, the host sets
/// `wrote`.
#[derive(Debug, Default)]
pub struct Switches {
    /// A script is running (or suspended between two slices).
    pub running: AtomicBool,
    /// The running script passed busy-reply-threshold: other clients get
    /// -BUSY until it ends.
    pub busy: AtomicBool,
    /// The running script is a function (FCALL), not an EVAL script.
    pub function: AtomicBool,
    /// Asked to stop the running script.
    pub kill: AtomicBool,
    /// The running script changed data: it can no longer be killed.
    pub wrote: AtomicBool,
}

impl Switches {
    fn finish(&self) {
        self.busy.store(false, Relaxed);
        self.kill.store(false, Relaxed);
        self.running.store(false, Relaxed);
    }
}

/// How a run may behave while long.
pub struct RunOpts {
    pub switches: Arc<Switches>,
    /// busy-reply-threshold.
    pub threshold: Duration,
    /// Whether a busy script yields back to the server between slices
    /// (the single engine's one thread then serves other clients -BUSY);
    /// never inside MULTI or where the caller cannot wait.
    pub yieldable: bool,
}

/// Where a run stands when `run`/`resume` return.
#[derive(Debug)]
pub enum Progress {
    Done(Frame),
    /// Busy and yielded: call `resume` to go on.
    Yielded,
}

/// A script yielded between two slices.
struct Suspended {
    /// What an error names (a sha fits without allocating).
    name: smallvec::SmallVec<[u8; 64]>,
    proto: Protocol,
    resp3: bool,
    started: Instant,
}

/// Lua memory above which a failed script's garbage is collected at once.
const GIVE_BACK_ABOVE: usize = 16 << 20;

/// Instructions between two looks of the hook at the clock.
const HOOK_EVERY: c_int = 100_000;

type OpenLib = fn(&mlua::Lua) -> mlua::Result<mlua::Table>;

/// One call of a compiled function.
pub struct Call<'a> {
    /// The function (a registry reference from `compile`).
    pub func: c_int,
    pub keys: &'a [Bytes],
    pub args: &'a [Bytes],
    /// EVAL scripts read KEYS and ARGV as globals; functions get them as
    /// their two arguments.
    pub globals: bool,
    /// What an error names: the script's sha, a function's name.
    pub name: &'a [u8],
    /// The calling client's protocol.
    pub proto: Protocol,
}

pub struct Vm {
    l: *mut lua_State,
    _mlua: Option<mlua::Lua>,
    mem: Arc<Memory>,
    /// The coroutine scripts run on (registry reference; 0 = none yet). A
    /// coroutine that returned normally is used again.
    co: c_int,
    suspended: Option<Suspended>,
}

// SAFETY: the state is only ever used by whoever holds the `Vm` exclusively
// (the server keeps it behind a mutex); nothing in it is tied to a thread.
unsafe impl Send for Vm {}

const ALIGN: usize = 16;

unsafe extern "C-unwind" fn alloc(
    ud: *mut c_void,
    ptr: *mut c_void,
    osize: usize,
    nsize: usize,
) -> *mut c_void {
    let mem = &*(ud as *const Memory);
    if nsize == 0 {
        if !ptr.is_null() {
            std::alloc::dealloc(
                ptr as *mut u8,
                Layout::from_size_align_unchecked(osize, ALIGN),
            );
            mem.used.fetch_sub(osize, Relaxed);
        }
        return std::ptr::null_mut();
    }
    let used = mem.used.load(Relaxed);
    if nsize > osize && used + (nsize - osize) > mem.limit.load(Relaxed) {
        return std::ptr::null_mut();
    }
    let p = if ptr.is_null() {
        std::alloc::alloc(Layout::from_size_align_unchecked(nsize, ALIGN))
    } else {
        std::alloc::realloc(
            ptr as *mut u8,
            Layout::from_size_align_unchecked(osize, ALIGN),
            nsize,
        )
    };
    if p.is_null() {
        return std::ptr::null_mut();
    }
    let old = if ptr.is_null() { 0 } else { osize };
    if nsize >= old {
        mem.used.fetch_add(nsize - old, Relaxed);
    } else {
        mem.used.fetch_sub(old - nsize, Relaxed);
    }
    p as *mut c_void
}

/// Globals of the base library Redis's scripts do not get.
const REMOVED: &[&str] = &[
    "dofile", "loadfile", "print", "getfenv", "setfenv", "newproxy", "module", "require",
];

/// Lua code run once at creation: the error handler and the global guard.
/// Receives the debug library (removed from the globals afterwards).
const PRELUDE: &str = r#"
local dbg, rawtype, rawtostring = ...
local function handler(err)
  local i = dbg.getinfo(2, 'nSl')
  if i and i.what == 'C' then
    i = dbg.getinfo(3, 'nSl')
  end
  if rawtype(err) ~= 'table' then
    err = {err = 'ERR ' .. rawtostring(err)}
  end
  if i then
    err['source'] = i.source
    err['line'] = i.currentline
  end
  return err
end
return handler
"#;

impl Vm {
    /// A new state with at most `limit` bytes of Lua memory.
    pub fn new(limit: usize) -> Vm {
        Vm::with_memory(Arc::new(Memory {
            used: AtomicUsize::new(0),
            limit: AtomicUsize::new(limit),
        }))
    }

    /// A new state counted in `mem` (shared with an earlier state, whose
    /// memory leaves the count as it is freed).
    pub fn with_memory(mem: Arc<Memory>) -> Vm {
        unsafe {
            let l = ffi::lua_newstate(alloc, Arc::as_ptr(&mem) as *mut c_void);
            assert!(!l.is_null(), "Lua state");
            let opens: [(&str, ffi::lua_CFunction); 5] = [
                ("", ffi::luaopen_base),
                ("table", ffi::luaopen_table),
                ("string", ffi::luaopen_string),
                ("math", ffi::luaopen_math),
                ("debug", ffi::luaopen_debug),
            ];
            for (name, f) in opens {
                ffi::lua_pushcfunction(l, f);
                lua::push_bytes(l, name.as_bytes());
                ffi::lua_call(l, 1, 0);
            }
            let mlua = mlua::Lua::init_from_ptr(l);
            let libs: [(&str, OpenLib); 4] = [
                ("cjson", crate::libs::cjson::open),
                ("cmsgpack", crate::libs::cmsgpack::open),
                ("bit", crate::libs::bit::open),
                ("struct", crate::libs::structlib::open),
            ];
            for (name, open) in libs {
                let t = open(&mlua).expect("library");
                mlua.globals().raw_set(name, t).expect("library");
            }
            let mut vm = Vm {
                l,
                _mlua: Some(mlua),
                mem,
                co: 0,
                suspended: None,
            };
            vm.install();
            vm
        }
    }

    unsafe fn install(&mut self) {
        let l = self.l;
        let g = ffi::LUA_GLOBALSINDEX;
        // The prelude gets debug, type and tostring before they can change.
        let rc = ffi::luaL_loadbuffer(
            l,
            PRELUDE.as_ptr() as *const _,
            PRELUDE.len(),
            c"=prelude".as_ptr(),
        );
        assert_eq!(rc, 0, "prelude");
        for name in ["debug", "type", "tostring"] {
            lua::push_bytes(l, name.as_bytes());
            ffi::lua_rawget(l, g);
        }
        ffi::lua_call(l, 3, 1);
        lua::set_field(l, g, "__redis__err__handler");
        ffi::lua_sethook(l, Some(count_hook), ffi::LUA_MASKCOUNT, HOOK_EVERY);
        // The global guard: a metatable on _G.
        ffi::lua_createtable(l, 0, 1);
        ffi::lua_pushcfunction(l, global_guard);
        lua::set_field(l, -2, "__index");
        ffi::lua_setmetatable(l, g);
        for name in REMOVED.iter().chain(["debug"].iter()) {
            ffi::lua_pushnil(l);
            lua::set_field(l, g, name);
        }
        ffi::lua_pushcfunction(l, redis_pcall_builtin);
        lua::set_field(l, g, "pcall");
        self.install_redis_table();
        // Everything reachable from the globals is read-only, as in Redis 7.
        for name in [
            "string",
            "table",
            "math",
            "coroutine",
            "redis",
            "cjson",
            "cmsgpack",
            "bit",
            "struct",
        ] {
            lua::push_bytes(l, name.as_bytes());
            ffi::lua_rawget(l, g);
            if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
                lua::lua_enablereadonlytable(l, -1, 1);
            }
            ffi::lua_settop(l, -2);
        }
        if ffi::lua_getmetatable(l, g) != 0 {
            lua::lua_enablereadonlytable(l, -1, 1);
            ffi::lua_settop(l, -2);
        }
        // The metatable every string shares (`('x'):upper()`).
        lua::push_bytes(l, b"");
        if ffi::lua_getmetatable(l, -1) != 0 {
            lua::lua_enablereadonlytable(l, -1, 1);
            ffi::lua_settop(l, -2);
        }
        ffi::lua_settop(l, -2);
        lua::lua_enablereadonlytable(l, g, 1);
    }

    unsafe fn install_redis_table(&mut self) {
        let l = self.l;
        ffi::lua_createtable(l, 0, 32);
        let funcs: [(&str, ffi::lua_CFunction); 12] = [
            ("call", redis_call),
            ("pcall", redis_pcall),
            ("error_reply", error_reply),
            ("status_reply", status_reply),
            ("sha1hex", sha1hex),
            ("log", log),
            ("setresp", setresp),
            ("set_repl", set_repl),
            ("replicate_commands", replicate_commands),
            ("breakpoint", breakpoint),
            ("debug", debug),
            ("acl_check_cmd", acl_check_cmd),
        ];
        for (name, f) in funcs.iter() {
            ffi::lua_pushcfunction(l, *f);
            lua::set_field(l, -2, name);
        }
        let nums: [(&str, f64); 10] = [
            ("LOG_DEBUG", 0.0),
            ("LOG_VERBOSE", 1.0),
            ("LOG_NOTICE", 2.0),
            ("LOG_WARNING", 3.0),
            ("REPL_NONE", 0.0),
            ("REPL_AOF", 1.0),
            ("REPL_SLAVE", 2.0),
            ("REPL_REPLICA", 2.0),
            ("REPL_ALL", 3.0),
            ("REDIS_VERSION_NUM", crate::REDIS_VERSION_NUM as f64),
        ];
        for (name, v) in nums {
            ffi::lua_pushnumber(l, v);
            lua::set_field(l, -2, name);
        }
        lua::push_bytes(l, crate::REDIS_VERSION.as_bytes());
        lua::set_field(l, -2, "REDIS_VERSION");
        lua::set_field(l, ffi::LUA_GLOBALSINDEX, "redis");
    }

    /// Bytes of Lua memory in use.
    pub fn used_memory(&self) -> usize {
        self.mem.used.load(Relaxed)
    }

    pub fn memory(&self) -> Arc<Memory> {
        self.mem.clone()
    }

    pub fn state(&self) -> *mut lua_State {
        self.l
    }

    /// Compiles `body` as a function named `chunk` (`@user_script`) and
    /// keeps it; returns its registry reference, or the compiler's message.
    pub fn compile(&mut self, body: &[u8], chunk: &std::ffi::CStr) -> Result<c_int, Vec<u8>> {
        unsafe {
            let l = self.l;
            let rc = ffi::luaL_loadbuffer(l, body.as_ptr() as *const _, body.len(), chunk.as_ptr());
            if rc != 0 {
                let msg = lua::to_bytes(l, -1).unwrap_or(b"").to_vec();
                ffi::lua_settop(l, -2);
                return Err(msg);
            }
            Ok(ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX))
        }
    }

    /// Forgets a compiled function.
    pub fn release(&mut self, r: c_int) {
        unsafe { ffi::luaL_unref(self.l, ffi::LUA_REGISTRYINDEX, r) }
    }

    /// Starts a compiled function, commands going to `host`. Returns the
    /// script's result as a reply for the calling client, or `Yielded`.
    pub fn run(&mut self, host: &mut dyn Host, c: Call<'_>, opts: &RunOpts) -> Progress {
        let Call {
            func,
            keys,
            args,
            globals,
            name,
            proto,
        } = c;
        assert!(self.suspended.is_none(), "a script is suspended");
        unsafe {
            let l = self.l;
            let co = self.coroutine();
            ffi::lua_settop(co, 0);
            ffi::lua_rawgeti(co, ffi::LUA_REGISTRYINDEX, func as ffi::lua_Integer);
            let nargs = if globals {
                lua::lua_enablereadonlytable(l, ffi::LUA_GLOBALSINDEX, 0);
                push_array(l, keys);
                lua::set_field(l, ffi::LUA_GLOBALSINDEX, "KEYS");
                push_array(l, args);
                lua::set_field(l, ffi::LUA_GLOBALSINDEX, "ARGV");
                lua::lua_enablereadonlytable(l, ffi::LUA_GLOBALSINDEX, 1);
                0
            } else {
                push_array(co, keys);
                push_array(co, args);
                2
            };
            let sw = &opts.switches;
            sw.wrote.store(false, Relaxed);
            sw.kill.store(false, Relaxed);
            sw.busy.store(false, Relaxed);
            sw.running.store(true, Relaxed);
            let s = Suspended {
                name: smallvec::SmallVec::from_slice(name),
                proto,
                resp3: false,
                started: Instant::now(),
            };
            self.step(host, co, nargs, s, opts)
        }
    }

    /// Goes on with the script that yielded.
    pub fn resume(&mut self, host: &mut dyn Host, opts: &RunOpts) -> Progress {
        let s = self.suspended.take().expect("a suspended script");
        unsafe {
            let co = self.coroutine();
            self.step(host, co, 0, s, opts)
        }
    }

    /// Whether a script is suspended between two slices.
    pub fn is_suspended(&self) -> bool {
        self.suspended.is_some()
    }

    /// The coroutine scripts run on, made if needed.
    unsafe fn coroutine(&mut self) -> *mut lua_State {
        let l = self.l;
        if self.co == 0 {
            ffi::lua_newthread(l);
            self.co = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
        }
        ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, self.co as ffi::lua_Integer);
        let co = ffi::lua_tothread(l, -1);
        ffi::lua_settop(l, -2);
        co
    }

    /// Runs the coroutine until it returns, fails or yields.
    unsafe fn step(
        &mut self,
        host: &mut dyn Host,
        co: *mut lua_State,
        nargs: c_int,
        s: Suspended,
        opts: &RunOpts,
    ) -> Progress {
        // SAFETY (lifetime): the pointer is cleared before `host` goes.
        let mut run = Run {
            host,
            resp3: s.resp3,
            co,
            opts,
            started: s.started,
            yielded: false,
        };
        let p: *mut Run<'_> = &mut run;
        RUN.with(|r| r.set(p.cast()));
        crate::convert::COUNTED.with(|c| c.set(false));
        let rc = ffi::lua_resume_(co, nargs);
        RUN.with(|r| r.set(std::ptr::null_mut()));
        let (resp3, yielded) = (run.resp3, run.yielded);
        if rc == ffi::LUA_YIELD && yielded {
            self.suspended = Some(Suspended { resp3, ..s });
            return Progress::Yielded;
        }
        let reply = if rc == 0 {
            let reply = if ffi::lua_gettop(co) == 0 {
                Frame::Null
            } else {
                ffi::lua_settop(co, 1);
                crate::convert::to_frame(co, s.proto)
            };
            ffi::lua_settop(co, 0);
            reply
        } else {
            let reply = if rc == ffi::LUA_YIELD {
                // The script itself called coroutine.yield at its top level.
                Frame::error("ERR attempt to yield from a script")
            } else {
                thread_error(co, &s.name)
            };
            // A coroutine that failed is dead: the next run gets a new one.
            ffi::luaL_unref(self.l, ffi::LUA_REGISTRYINDEX, self.co);
            self.co = 0;
            // What a failed script piled up (a runaway allocation, a deep
            // recursion) is given back now, not cycles later.
            if self.used_memory() > GIVE_BACK_ABOVE {
                ffi::lua_gc(self.l, ffi::LUA_GCCOLLECT, 0);
            }
            reply
        };
        opts.switches.finish();
        Progress::Done(reply)
    }

    /// Runs a full garbage collection (after SCRIPT FLUSH).
    pub fn collect(&mut self) {
        unsafe {
            ffi::lua_gc(self.l, ffi::LUA_GCCOLLECT, 0);
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self._mlua.take();
        unsafe { ffi::lua_close(self.l) }
    }
}

unsafe fn push_array(l: *mut lua_State, items: &[Bytes]) {
    ffi::lua_createtable(l, items.len() as c_int, 0);
    for (i, it) in items.iter().enumerate() {
        lua::push_bytes(l, it);
        ffi::lua_rawseti(l, -2, i as ffi::lua_Integer + 1);
    }
}

/// The reply for a script that raised an error, as Redis words it: the
/// error table's message (or `ERR ` and the value), then where it was
/// raised: the Lua function that raised it, or the caller of the C
/// function that did.
unsafe fn thread_error(co: *mut lua_State, name: &[u8]) -> Frame {
    let mut msg: Vec<u8>;
    // A thread that failed leaves no room above its error value.
    ffi::lua_checkstack(co, 4);
    let top = ffi::lua_gettop(co);
    match ffi::lua_type(co, top) {
        ffi::LUA_TTABLE => {
            if crate::convert::error_counted(co, top) {
                crate::convert::COUNTED.with(|c| c.set(true));
            }
            lua::raw_field(co, top, "err");
            msg = match lua::to_bytes(co, -1) {
                Some(b) => b.to_vec(),
                None => b"ERR unknown error".to_vec(),
            };
            ffi::lua_settop(co, top);
        }
        t => {
            msg = b"ERR ".to_vec();
            match t {
                ffi::LUA_TSTRING | ffi::LUA_TNUMBER => {
                    msg.extend_from_slice(lua::to_bytes(co, top).unwrap_or(b""))
                }
                ffi::LUA_TNIL => msg.extend_from_slice(b"nil"),
                ffi::LUA_TBOOLEAN => msg.extend_from_slice(if ffi::lua_toboolean(co, top) != 0 {
                    b"true"
                } else {
                    b"false"
                }),
                _ => {
                    let tn = std::ffi::CStr::from_ptr(ffi::lua_typename(co, t));
                    msg.extend_from_slice(
                        format!(
                            "{}: {:p}",
                            tn.to_string_lossy(),
                            ffi::lua_topointer(co, top)
                        )
                        .as_bytes(),
                    );
                }
            }
        }
    }
    let mut ar: ffi::lua_Debug = std::mem::zeroed();
    let mut at = None;
    if ffi::lua_getstack(co, 0, &mut ar) != 0 {
        ffi::lua_getinfo(co, c"Sl".as_ptr(), &mut ar);
        let c_fn = !ar.what.is_null() && std::ffi::CStr::from_ptr(ar.what).to_bytes() == b"C";
        if !c_fn
            || (ffi::lua_getstack(co, 1, &mut ar) != 0 && {
                ffi::lua_getinfo(co, c"Sl".as_ptr(), &mut ar);
                true
            })
        {
            let source = if ar.source.is_null() {
                Vec::new()
            } else {
                std::ffi::CStr::from_ptr(ar.source).to_bytes().to_vec()
            };
            at = Some((source, ar.currentline));
        }
    }
    if let Some((source, line)) = at {
        msg.extend_from_slice(b" script: ");
        msg.extend_from_slice(name);
        msg.extend_from_slice(b", on ");
        msg.extend_from_slice(&source);
        msg.extend_from_slice(format!(":{line}.").as_bytes());
    }
    Frame::Error(crate::convert::one_line(&msg))
}

/// The count hook, every HOOK_EVERY instructions of a script: past the
/// busy threshold it marks the script busy, stops it if a kill was asked,
/// and (where the run allows and Lua can) yields it back to the server.
unsafe extern "C-unwind" fn count_hook(l: *mut lua_State, _ar: *mut ffi::lua_Debug) {
    let Some(run) = current() else {
        return;
    };
    let sw = &run.opts.switches;
    if !sw.busy.load(Relaxed) {
        if run.started.elapsed() < run.opts.threshold {
            return;
        }
        sw.busy.store(true, Relaxed);
        guarded(|| run.host.busy());
    }
    if sw.kill.load(Relaxed) {
        // (Redis words it so for functions too.)
        lua::push_error_table(l, b"ERR Script killed by user with SCRIPT KILL...");
        ffi::lua_error(l);
    }
    if run.opts.yieldable && l == run.co && lua::lua_canyield(l) != 0 {
        run.yielded = true;
        ffi::lua_yield(l, 0);
    }
}

/// `_G`'s __index: reading a global that does not exist is an error,
/// located at the script line that read it.
pub(crate) unsafe extern "C-unwind" fn global_guard(l: *mut lua_State) -> c_int {
    ffi::luaL_where(l, 1);
    let mut msg = lua::to_bytes(l, -1).unwrap_or(b"").to_vec();
    msg.extend_from_slice(b"Script attempted to access nonexistent global variable '");
    msg.extend_from_slice(lua::to_bytes(l, 2).unwrap_or(b"?"));
    msg.push(b'\'');
    lua::push_bytes(l, &msg);
    drop(msg);
    ffi::lua_error(l)
}

// ---- The redis table ----

/// Calls into the host from a C function Lua called: a panic must not
/// unwind through Lua's C frames (the state would be left half-updated),
/// so it stops here and the caller answers an error instead.
fn guarded<R>(f: impl FnOnce() -> R) -> Option<R> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).ok()
}

/// Reads the command arguments from the stack: strings as they are,
/// numbers as `%.17g`.
unsafe fn argv_of(l: *mut lua_State) -> Result<Vec<Bytes>, &'static str> {
    let n = ffi::lua_gettop(l);
    if n == 0 {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    // Short arguments share one allocation (a command name, keys, small
    // values); a long one gets its own, so nothing stored keeps a big
    // buffer alive for a few bytes.
    const SHORT: usize = 64;
    let mut short = bytes::BytesMut::with_capacity(n as usize * 16);
    let mut ends: smallvec::SmallVec<[(usize, Option<Bytes>); 8]> = smallvec::SmallVec::new();
    let mut num = Vec::new();
    for i in 1..=n {
        let b: &[u8] = match ffi::lua_type(l, i) {
            ffi::LUA_TSTRING => lua::to_bytes(l, i).unwrap_or(b""),
            ffi::LUA_TNUMBER => {
                num.clear();
                lua::number_arg(ffi::lua_tonumber(l, i), &mut num);
                &num
            }
            _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
        };
        if b.len() <= SHORT {
            short.extend_from_slice(b);
            ends.push((short.len(), None));
        } else {
            ends.push((short.len(), Some(Bytes::copy_from_slice(b))));
        }
    }
    let short = short.freeze();
    let mut from = 0;
    Ok(ends
        .into_iter()
        .map(|(end, long)| {
            long.unwrap_or_else(|| {
                let b = short.slice(from..end);
                from = end;
                b
            })
        })
        .collect())
}

/// redis.call / redis.pcall: Ok(true) when the pushed reply is an error.
unsafe fn call_inner(l: *mut lua_State) -> Result<bool, &'static str> {
    let argv = argv_of(l)?;
    let Some(run) = current() else {
        return Err("ERR redis.call is only available while a script runs");
    };
    let resp3 = run.resp3;
    let reply = guarded(|| run.host.call(argv, resp3))
        .unwrap_or_else(|| Frame::error("ERR internal error while running the command"));
    let is_err = matches!(reply, Frame::Error(_));
    push_frame_checked(l, &reply, resp3);
    Ok(is_err)
}

unsafe fn push_frame_checked(l: *mut lua_State, f: &Frame, resp3: bool) {
    crate::convert::push_frame(l, f, resp3)
}

unsafe extern "C-unwind" fn redis_call(l: *mut lua_State) -> c_int {
    match call_inner(l) {
        Ok(false) => 1,
        Ok(true) => ffi::lua_error(l),
        Err(msg) => lua::raise_table(l, msg.as_bytes().to_vec()),
    }
}

unsafe extern "C-unwind" fn redis_pcall(l: *mut lua_State) -> c_int {
    match call_inner(l) {
        Ok(_) => 1,
        Err(msg) => {
            lua::push_error_table(l, msg.as_bytes());
            1
        }
    }
}

/// The global `pcall`: as Lua's, except that an error table raised by
/// redis.call reaches the caller as its message.
unsafe extern "C-unwind" fn redis_pcall_builtin(l: *mut lua_State) -> c_int {
    ffi::luaL_checkany(l, 1);
    let n = ffi::lua_gettop(l);
    let rc = ffi::lua_pcall(l, n - 1, ffi::LUA_MULTRET, 0);
    if rc != 0 && current().is_some_and(|r| r.opts.switches.kill.load(Relaxed)) {
        // A kill is not an error a script may catch: it goes on up.
        ffi::lua_error(l);
    }
    if rc == 0 {
        ffi::lua_pushboolean(l, 1);
        ffi::lua_insert(l, 1);
        return ffi::lua_gettop(l);
    }
    if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
        lua::raw_field(l, -1, "err");
        if ffi::lua_type(l, -1) != ffi::LUA_TNIL {
            ffi::lua_replace(l, -2);
        } else {
            ffi::lua_settop(l, -2);
        }
    }
    ffi::lua_pushboolean(l, 0);
    ffi::lua_insert(l, -2);
    2
}

unsafe extern "C-unwind" fn error_reply(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 || ffi::lua_type(l, 1) != ffi::LUA_TSTRING {
        // Returned, not raised, as Redis does.
        lua::push_error_table(l, b"ERR wrong number or type of arguments");
        return 1;
    }
    let msg = lua::to_bytes(l, 1).unwrap_or(b"");
    // Without a code word (no space) the message gets the generic one; a
    // leading '-' goes, as in Redis.
    let msg = msg.strip_prefix(b"-").unwrap_or(msg);
    let mut e = Vec::with_capacity(msg.len() + 4);
    if !msg.contains(&b' ') {
        e.extend_from_slice(b"ERR ");
    }
    e.extend_from_slice(msg);
    lua::push_error_table(l, &e);
    drop(e);
    1
}

unsafe extern "C-unwind" fn status_reply(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 || ffi::lua_type(l, 1) != ffi::LUA_TSTRING {
        lua::push_error_table(l, b"ERR wrong number or type of arguments");
        return 1;
    }
    ffi::lua_createtable(l, 0, 1);
    ffi::lua_pushvalue(l, 1);
    lua::set_field(l, -2, "ok");
    1
}

unsafe extern "C-unwind" fn sha1hex(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        return lua::raise_table(l, b"ERR wrong number of arguments".to_vec());
    }
    let hex = crate::sha1_hex(lua::to_bytes(l, 1).unwrap_or(b""));
    lua::push_bytes(l, &hex);
    1
}

/// `redis.log`'s arguments, checked as Redis checks them: the level and
/// the message (the other arguments joined by spaces), or the error.
pub(crate) unsafe fn log_args(l: *mut lua_State) -> Result<(u8, Vec<u8>), &'static [u8]> {
    let n = ffi::lua_gettop(l);
    if n < 2 {
        return Err(b"ERR redis.log() requires two arguments or more.");
    }
    if ffi::lua_isnumber(l, 1) == 0 {
        return Err(b"ERR First argument must be a number (log level).");
    }
    let level = ffi::lua_tonumber(l, 1) as i64;
    if !(0..=3).contains(&level) {
        return Err(b"ERR Invalid debug level.");
    }
    let mut msg = Vec::new();
    for i in 2..=n {
        if i > 2 {
            msg.push(b' ');
        }
        if let Some(b) = lua::to_bytes(l, i) {
            msg.extend_from_slice(b);
        }
    }
    Ok((level as u8, msg))
}

unsafe extern "C-unwind" fn log(l: *mut lua_State) -> c_int {
    match log_args(l) {
        Ok((level, msg)) => {
            if let Some(run) = current() {
                guarded(|| run.host.log(level, &msg));
            }
            0
        }
        Err(e) => lua::raise_table(l, e.to_vec()),
    }
}

unsafe extern "C-unwind" fn setresp(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        return lua::raise_table(l, b"ERR redis.setresp() requires one argument.".to_vec());
    }
    let v = ffi::lua_tonumber(l, 1) as i64;
    if v != 2 && v != 3 {
        return lua::raise_table(l, b"ERR RESP version must be 2 or 3.".to_vec());
    }
    if let Some(run) = current() {
        run.resp3 = v == 3;
    }
    0
}

unsafe extern "C-unwind" fn set_repl(l: *mut lua_State) -> c_int {
    if ffi::lua_gettop(l) != 1 {
        return lua::raise_table(l, b"ERR redis.set_repl() requires two arguments.".to_vec());
    }
    let v = ffi::lua_tonumber(l, 1) as i64;
    if !(0..=3).contains(&v) {
        return lua::raise_table(
            l,
            b"ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."
                .to_vec(),
        );
    }
    if let Some(run) = current() {
        guarded(|| run.host.set_repl(v as u8));
    }
    0
}

unsafe extern "C-unwind" fn replicate_commands(l: *mut lua_State) -> c_int {
    ffi::lua_pushboolean(l, 1);
    1
}

/// redis.breakpoint and redis.debug: without the debugger attached they do
/// nothing (breakpoint answers false), as in Redis.
unsafe extern "C-unwind" fn breakpoint(l: *mut lua_State) -> c_int {
    ffi::lua_pushboolean(l, 0);
    1
}

unsafe extern "C-unwind" fn debug(_l: *mut lua_State) -> c_int {
    0
}

unsafe extern "C-unwind" fn acl_check_cmd(l: *mut lua_State) -> c_int {
    let argv = match argv_of(l) {
        Ok(a) => a,
        Err(msg) => return lua::raise_table(l, msg.as_bytes().to_vec()),
    };
    let verdict = current().and_then(|run| guarded(|| run.host.acl_check(&argv)).flatten());
    drop(argv);
    match verdict {
        Some(ok) => {
            ffi::lua_pushboolean(l, ok as c_int);
            1
        }
        None => lua::raise_table(
            l,
            b"ERR Invalid command passed to redis.acl_check_cmd()".to_vec(),
        ),
    }
}
