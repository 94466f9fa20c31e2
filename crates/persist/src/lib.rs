//! rubedo-persist: snapshots and the append-only log.

pub mod aof;
pub mod rdb;
pub mod snapshot;
