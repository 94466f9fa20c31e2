//! What a command sets off for other clients: serving blocked clients,
//! client-side caching invalidations, MONITOR lines.

pub mod blocking;
pub mod monitor;
pub mod tracking;
