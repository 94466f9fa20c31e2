//! From argv to outcome: the table, the gate, the run.

pub mod args;
pub mod ctx;
pub mod exec;
pub mod gate;
pub mod outcome;
pub mod table;
