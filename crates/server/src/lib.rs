//! rubedo-server: composes the crates into the network server.
//!
//! The folders follow a request's path. `dispatch`: the command table, the
//! admission gate, running a command (`exec`), what a handler sees (`ctx`)
//! and what it leaves (`outcome`); `cmd/*`: the families (one module per
//! Redis group) that fill the table; `session`: a client's state and its
//! connection task; `signals`: what a write sets off for other clients
//! (WATCH, blocked clients, pub/sub, client-side caching, MONITOR);
//! `propagate`: the effect log; `state`: the shared state, by part;
//! `stats`: the INFO counters; `server`: startup, the cron and the test
//! harness.

/// A line for the server's log (stderr) that never panics: a log that
/// cannot be written (a full disk, a closed pipe) must not take the
/// server down with it, as `eprintln!` would.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod aof;
pub mod cmd;
pub mod config;
pub mod dispatch;
pub mod error;
pub mod info;
pub mod persistence;
pub mod propagate;
pub mod server;
pub mod session;
pub mod signals;
pub mod state;
pub mod stats;

/// The Redis version Rubedo is compatible with, as HELLO and INFO report it
/// (clients choose features by it).
pub const REDIS_VERSION: &str = "7.0.15";
