//! Data-type operations, one module per type, over the [`crate::Db`] view.

pub mod float;
pub mod hash;
pub mod list;
pub mod ostree;
pub mod set;
pub mod string;
pub mod zset;
