//! EVAL's side: the script cache (SCRIPT LOAD / EXISTS / FLUSH), shebang
//! flags, and running a cached script.

use std::collections::HashMap;
use std::os::raw::c_int;

use bytes::Bytes;
use rubedo_resp::{Frame, Protocol};

use crate::flags;
use crate::vm::{Progress, RunOpts, Vm};
use crate::Host;

/// A script in the cache.
pub struct Cached {
    func: c_int,
    pub flags: u32,
    pub body: Bytes,
}

/// What INFO reads of the script cache without its lock (a script may be
/// running and call INFO).
#[derive(Debug)]
pub struct EvalStats {
    pub memory: std::sync::Arc<crate::Memory>,
    pub scripts: std::sync::atomic::AtomicUsize,
    pub body_bytes: std::sync::atomic::AtomicUsize,
}

/// The EVAL scripts: one Lua state and the scripts compiled in it.
pub struct Scripts {
    vm: Vm,
    cache: HashMap<[u8; 40], Cached>,
    body_bytes: usize,
    stats: std::sync::Arc<EvalStats>,
}

/// A shebang Redis refuses, with its reply text.
#[derive(Debug, PartialEq, Eq)]
pub struct ShebangError(pub String);

/// Splits an EVAL script into its flags and the body to compile. A
/// shebang line is replaced by an empty line, so line numbers stay.
pub fn shebang(body: &[u8]) -> Result<(u32, &[u8]), ShebangError> {
    if !body.starts_with(b"#!") {
        return Ok((flags::EVAL_COMPAT, body));
    }
    let Some(end) = body.iter().position(|&c| c == b'\n') else {
        return Err(ShebangError("ERR Invalid script shebang".into()));
    };
    // Split as Redis splits it (quotes, tabs, CR).
    let Some(words) = rubedo_resp::split_args(&Bytes::copy_from_slice(&body[..end])) else {
        return Err(ShebangError("ERR Invalid engine in script shebang".into()));
    };
    let mut words = words.iter().map(|w| &w[..]);
    let engine = words.next().unwrap_or(b"#!");
    if engine != b"#!lua" {
        return Err(ShebangError(format!(
            "ERR Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(engine)
        )));
    }
    let mut f = 0;
    for w in words {
        let Some(list) = w.strip_prefix(b"flags=") else {
            return Err(ShebangError(format!(
                "ERR Unknown lua shebang option: {}",
                String::from_utf8_lossy(w)
            )));
        };
        // "flags=" names none; otherwise every item must be a flag.
        for name in list.split(|&c| c == b',').filter(|_| !list.is_empty()) {
            match flags::NAMES.iter().find(|(n, _)| n.as_bytes() == name) {
                Some((_, bit)) => f |= bit,
                None => {
                    return Err(ShebangError(format!(
                        "ERR Unexpected flag in script shebang: {}",
                        String::from_utf8_lossy(name)
                    )))
                }
            }
        }
    }
    Ok((f, &body[end..]))
}

impl Scripts {
    /// A fresh cache over a new Lua state of at most `limit` bytes.
    pub fn new(limit: usize) -> Scripts {
        let vm = Vm::new(limit);
        let stats = std::sync::Arc::new(EvalStats {
            memory: vm.memory(),
            scripts: Default::default(),
            body_bytes: Default::default(),
        });
        Scripts {
            vm,
            cache: HashMap::new(),
            body_bytes: 0,
            stats,
        }
    }

    /// Compiles and caches `body` unless it is cached; returns its sha.
    pub fn load(&mut self, body: &Bytes) -> Result<[u8; 40], Frame> {
        let sha = crate::sha1_hex(body);
        if self.cache.contains_key(&sha) {
            return Ok(sha);
        }
        let (f, code) = shebang(body).map_err(|e| Frame::error(e.0))?;
        match self.vm.compile(code, c"@user_script") {
            Ok(func) => {
                self.body_bytes += body.len();
                self.cache.insert(
                    sha,
                    Cached {
                        func,
                        flags: f,
                        body: body.clone(),
                    },
                );
                self.publish_counts();
                Ok(sha)
            }
            Err(msg) => {
                let mut e = b"ERR Error compiling script (new function): ".to_vec();
                e.extend_from_slice(&msg);
                Err(Frame::Error(crate::convert::one_line(&e)))
            }
        }
    }

    /// The cached script of `sha` (any case).
    pub fn get(&self, sha: &[u8]) -> Option<&Cached> {
        let key = lower_sha(sha)?;
        self.cache.get(&key)
    }

    pub fn exists(&self, sha: &[u8]) -> bool {
        self.get(sha).is_some()
    }

    /// Number of cached scripts.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// INFO's counters, readable without the cache's lock.
    pub fn stats(&self) -> std::sync::Arc<EvalStats> {
        self.stats.clone()
    }

    fn publish_counts(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        self.stats.scripts.store(self.cache.len(), Relaxed);
        self.stats.body_bytes.store(self.body_bytes, Relaxed);
    }

    /// Bytes of script bodies kept (INFO used_memory_scripts_eval).
    pub fn body_bytes(&self) -> usize {
        self.body_bytes
    }

    /// Lua memory in use (INFO used_memory_lua).
    pub fn lua_memory(&self) -> usize {
        self.vm.used_memory()
    }

    /// SCRIPT FLUSH: every script goes, with a fresh Lua state (never
    /// while one is suspended: the server refuses SCRIPT FLUSH then).
    pub fn flush(&mut self) {
        self.cache.clear();
        self.body_bytes = 0;
        self.publish_counts();
        self.vm = Vm::with_memory(self.stats.memory.clone());
    }

    /// Runs the cached script `sha`.
    pub fn run(
        &mut self,
        host: &mut dyn Host,
        sha: &[u8; 40],
        keys: &[Bytes],
        args: &[Bytes],
        proto: Protocol,
        opts: &RunOpts,
    ) -> Progress {
        let Some(c) = self.cache.get(sha) else {
            return Progress::Done(Frame::error(
                "NOSCRIPT No matching script. Please use EVAL.",
            ));
        };
        let func = c.func;
        self.vm.run(
            host,
            crate::vm::Call {
                func,
                keys,
                args,
                globals: true,
                name: sha,
                proto,
            },
            opts,
        )
    }

    /// Goes on with the script that yielded.
    pub fn resume(&mut self, host: &mut dyn Host, opts: &RunOpts) -> Progress {
        self.vm.resume(host, opts)
    }

    /// Whether a script yielded and waits to go on.
    pub fn is_suspended(&self) -> bool {
        self.vm.is_suspended()
    }
}

/// A 40-character sha in lowercase, or None if it cannot be one.
fn lower_sha(sha: &[u8]) -> Option<[u8; 40]> {
    if sha.len() != 40 {
        return None;
    }
    let mut k = [0u8; 40];
    for (d, s) in k.iter_mut().zip(sha) {
        *d = s.to_ascii_lowercase();
    }
    Some(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::Arc;

    struct Echo;
    impl Host for Echo {
        fn call(&mut self, argv: Vec<Bytes>, _resp3: bool) -> Frame {
            if argv[0].eq_ignore_ascii_case(b"echo") {
                Frame::Bulk(argv[1].clone())
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

    fn eval(s: &mut Scripts, body: &str) -> Frame {
        let body = Bytes::copy_from_slice(body.as_bytes());
        match s.load(&body) {
            Ok(sha) => match s.run(
                &mut Echo,
                &sha,
                &[Bytes::from_static(b"k")],
                &[],
                Protocol::Resp2,
                &opts(false),
            ) {
                Progress::Done(f) => f,
                Progress::Yielded => panic!("yielded"),
            },
            Err(e) => e,
        }
    }

    fn opts(yieldable: bool) -> RunOpts {
        RunOpts {
            switches: Default::default(),
            threshold: std::time::Duration::from_secs(5),
            yieldable,
        }
    }

    #[test]
    fn a_busy_script_yields_goes_on_and_can_be_killed() {
        let mut s = Scripts::new(64 << 20);
        let o = RunOpts {
            threshold: std::time::Duration::ZERO,
            ..opts(true)
        };
        let body = Bytes::from_static(b"local n = 0 for i = 1, 3000000 do n = n + 1 end return n");
        let sha = s.load(&body).unwrap();
        let mut slices = 0;
        let mut p = s.run(&mut Echo, &sha, &[], &[], Protocol::Resp2, &o);
        while let Progress::Yielded = p {
            assert!(o.switches.busy.load(Relaxed));
            slices += 1;
            p = s.resume(&mut Echo, &o);
        }
        assert!(slices >= 2, "{slices}");
        assert!(
            matches!(p, Progress::Done(Frame::Integer(3000000))),
            "{p:?}"
        );
        assert!(!o.switches.busy.load(Relaxed) && !o.switches.running.load(Relaxed));
        // Killed between two slices.
        let sha = s.load(&Bytes::from_static(b"while true do end")).unwrap();
        assert!(matches!(
            s.run(&mut Echo, &sha, &[], &[], Protocol::Resp2, &o),
            Progress::Yielded
        ));
        o.switches.kill.store(true, Relaxed);
        let Progress::Done(Frame::Error(e)) = s.resume(&mut Echo, &o) else {
            panic!()
        };
        assert!(
            e.starts_with(b"ERR Script killed by user with SCRIPT KILL... script: "),
            "{e:?}"
        );
        // Without yielding (inside pcall, or not allowed), a kill still
        // stops it, and pcall does not catch it.
        struct Killer(Arc<crate::Switches>);
        impl Host for Killer {
            fn call(&mut self, _argv: Vec<Bytes>, _resp3: bool) -> Frame {
                self.0.kill.store(true, Relaxed);
                Frame::ok()
            }
            fn acl_check(&mut self, _argv: &[Bytes]) -> Option<bool> {
                None
            }
            fn log(&mut self, _level: u8, _msg: &[u8]) {}
            fn set_repl(&mut self, _flags: u8) {}
        }
        let body =
            "redis.call('kill') local ok, e = pcall(function() while true do end end) return e";
        let sha = s.load(&Bytes::from_static(body.as_bytes())).unwrap();
        let o2 = RunOpts {
            threshold: std::time::Duration::ZERO,
            ..opts(false)
        };
        let mut k = Killer(o2.switches.clone());
        let Progress::Done(f) = s.run(&mut k, &sha, &[], &[], Protocol::Resp2, &o2) else {
            panic!()
        };
        let Frame::Error(e) = f else { panic!("{f:?}") };
        assert!(
            e.starts_with(b"ERR Script killed by user with SCRIPT KILL... script: "),
            "{e:?}"
        );
        assert_eq!(eval(&mut s, "return 2"), Frame::Integer(2));
    }

    #[test]
    fn shebang_rules() {
        assert_eq!(shebang(b"return 1").unwrap().0, flags::EVAL_COMPAT);
        assert_eq!(
            shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap(),
            (flags::NO_WRITES | flags::ALLOW_OOM, &b"\nreturn 1"[..])
        );
        assert_eq!(
            shebang(b"#!python\n").unwrap_err().0,
            "ERR Unexpected engine in script shebang: #!python"
        );
        assert_eq!(
            shebang(b"#!lua name=x\n").unwrap_err().0,
            "ERR Unknown lua shebang option: name=x"
        );
        assert_eq!(
            shebang(b"#!lua flags=bogus\n").unwrap_err().0,
            "ERR Unexpected flag in script shebang: bogus"
        );
    }

    #[test]
    fn results_and_errors_as_redis_shapes_them() {
        let mut s = Scripts::new(64 << 20);
        assert_eq!(eval(&mut s, "return 3.99"), Frame::Integer(3));
        assert_eq!(eval(&mut s, "return KEYS[1]"), Frame::bulk(b"k"));
        assert_eq!(
            eval(&mut s, "return {1,'a',false,nil,5}"),
            Frame::Array(vec![Frame::Integer(1), Frame::bulk(b"a"), Frame::Null])
        );
        assert_eq!(
            eval(&mut s, "return redis.call('echo', 5)"),
            Frame::bulk(b"5")
        );
        let Frame::Error(e) = eval(&mut s, "x = 1") else {
            panic!()
        };
        assert!(e.starts_with(b"ERR user_script:1: Attempt to modify a readonly table script: "));
        let Frame::Error(e) = eval(&mut s, "return y") else {
            panic!()
        };
        assert!(e.starts_with(
            b"ERR user_script:1: Script attempted to access nonexistent global variable 'y' script:"
        ));
        let Frame::Error(e) = eval(&mut s, "\nredis.call('nosuch')") else {
            panic!()
        };
        assert!(e.starts_with(b"ERR Unknown Redis command called from script script: "));
        assert!(e.ends_with(b", on @user_script:2."));
        assert_eq!(
            eval(&mut s, "local ok, e = pcall(redis.call, 'nosuch') return e"),
            Frame::bulk(b"ERR Unknown Redis command called from script")
        );
        let Frame::Error(e) = eval(&mut s, "return +") else {
            panic!()
        };
        assert_eq!(
            &e[..],
            b"ERR Error compiling script (new function): user_script:1: unexpected symbol near '+'"
        );
        assert_eq!(
            eval(&mut s, "return {err='x\\r\\ny'}"),
            Frame::Error(Bytes::from_static(b"x  y"))
        );
        assert_eq!(
            eval(
                &mut s,
                "return type(loadstring(string.dump(function() end)))"
            ),
            Frame::bulk(b"nil")
        );
    }

    #[test]
    fn memory_is_capped() {
        let mut s = Scripts::new(8 << 20);
        let Frame::Error(e) = eval(&mut s, "return string.rep('x', 100000000)") else {
            panic!()
        };
        assert!(
            String::from_utf8_lossy(&e).contains("not enough memory"),
            "{e:?}"
        );
        // The state still works afterwards.
        assert_eq!(eval(&mut s, "return 1"), Frame::Integer(1));
    }
}
