//! The list group.

use crate::command::Cmd;

pub static COMMANDS: &[Cmd] = &[];
