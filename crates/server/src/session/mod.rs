//! One client: its state and its connection task.

pub mod client;
pub mod conn;
pub mod tail;
