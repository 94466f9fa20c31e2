//! The sorted set group.

use crate::command::Cmd;

pub static COMMANDS: &[Cmd] = &[];
