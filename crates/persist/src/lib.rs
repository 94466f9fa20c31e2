//! rubedo-persist: snapshots and the append-only log.

pub mod snapshot;
