//! rubedo-server: composes the crates into the network server.
//!
//! `command` holds the declarative table; `cmd/*` the families (one module
//! per Redis group) that fill it; `exec` runs a command (lookup, arity,
//! MULTI queueing, locking its scope, after-effects); `conn` is the
//! per-connection loop; `server` starts the chosen engine and the cron.

pub mod args;
pub mod blocking;
pub mod client;
pub mod cmd;
pub mod command;
pub mod config;
pub mod conn;
pub mod ctx;
pub mod error;
pub mod exec;
pub mod info;
pub mod monitor;
pub mod outcome;
pub mod propagate;
pub mod server;
pub mod state;
pub mod tail;
pub mod tracking;

/// The Redis version Rubedo is compatible with, as HELLO and INFO report it
/// (clients choose features by it).
pub const REDIS_VERSION: &str = "7.0.15";
