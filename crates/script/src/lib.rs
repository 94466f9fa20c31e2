//! rubedo-script: Lua scripting as Redis 7.0 runs it.
//!
//! The crate knows Lua, Redis's scripting environment and the script cache;
//! it knows nothing of the server. What a script does to the data goes
//! through the [`Host`] the server passes to each run: `redis.call` hands
//! the host an argv and converts the reply it gets back, so commands called
//! by scripts take the server's one dispatch path.

pub(crate) mod convert;
pub mod eval;
pub mod functions;
pub mod libs;
pub(crate) mod lua;
pub mod vm;

use bytes::Bytes;
use rubedo_resp::Frame;

pub use eval::{EvalStats, Scripts, ShebangError};
pub use functions::Functions;
pub use vm::{Memory, Progress, RunOpts, Switches, Vm};

/// The version scripts see in `redis.REDIS_VERSION(_NUM)`.
pub const REDIS_VERSION: &str = "7.0.15";
pub const REDIS_VERSION_NUM: u32 = 0x07000f;

/// What a running script needs from the server.
pub trait Host {
    /// Runs one command for the script (`redis.call`/`redis.pcall`), for a
    /// client speaking RESP3 if `resp3`, and returns its reply (an error
    /// reply when the command failed or was refused).
    fn call(&mut self, argv: Vec<Bytes>, resp3: bool) -> Frame;
    /// `redis.acl_check_cmd`: whether the script's user may run `argv`;
    /// `None` for a command that does not exist.
    fn acl_check(&mut self, argv: &[Bytes]) -> Option<bool>;
    /// `redis.log` at `level` (0 debug .. 3 warning).
    fn log(&mut self, level: u8, msg: &[u8]);
    /// `redis.set_repl`: where the commands called from now on are
    /// propagated (0 nowhere, 1 the log, 2 replicas, 3 both).
    fn set_repl(&mut self, flags: u8);
    /// The script just passed busy-reply-threshold (called once per run,
    /// from the count hook): other clients are about to get -BUSY.
    fn busy(&mut self) {}
}

/// Script flags (from an EVAL script's shebang or a function's
/// registration).
pub mod flags {
    pub const NO_WRITES: u32 = 1;
    pub const ALLOW_OOM: u32 = 2;
    pub const ALLOW_STALE: u32 = 4;
    pub const NO_CLUSTER: u32 = 8;
    pub const ALLOW_CROSS_SLOT_KEYS: u32 = 16;
    /// An EVAL script without a shebang (Redis's compatibility mode).
    pub const EVAL_COMPAT: u32 = 32;

    /// The flag names as scripts spell them.
    pub const NAMES: &[(&str, u32)] = &[
        ("no-writes", NO_WRITES),
        ("allow-oom", ALLOW_OOM),
        ("allow-stale", ALLOW_STALE),
        ("no-cluster", NO_CLUSTER),
        ("allow-cross-slot-keys", ALLOW_CROSS_SLOT_KEYS),
    ];
}

/// Whether the error the last run on this thread answered was counted in
/// the error statistics when it was made (an error a command called by the
/// script replied, which the script raised or returned): the server does
/// not count it a second time.
pub fn reply_error_counted() -> bool {
    convert::COUNTED.with(|c| c.replace(false))
}

/// The lowercase hex SHA-1 of `data`.
pub fn sha1_hex(data: &[u8]) -> [u8; 40] {
    use sha1::{Digest, Sha1};
    let d = Sha1::digest(data);
    let mut out = [0u8; 40];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in d.iter().enumerate() {
        out[i * 2] = HEX[(b >> 4) as usize];
        out[i * 2 + 1] = HEX[(b & 15) as usize];
    }
    out
}
