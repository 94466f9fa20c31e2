//! Command families, one module per group, each exporting its table rows.

use bytes::Bytes;
use rubedo_resp::Frame;

use crate::dispatch::table::Cmd;

pub mod blocking;
pub mod connection;
pub mod debug;
pub mod functions;
pub mod hash;
pub mod keys;
pub mod list;
pub mod migrate;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod serialize;
pub mod server;
pub mod set;
pub mod sort;
pub mod string;
pub mod txn;
pub mod zset;

/// Every family's rows, in the order COMMAND lists them.
pub fn families() -> Vec<&'static [Cmd]> {
    vec![
        string::COMMANDS,
        keys::COMMANDS,
        serialize::COMMANDS,
        migrate::COMMANDS,
        hash::COMMANDS,
        set::COMMANDS,
        list::COMMANDS,
        blocking::COMMANDS,
        zset::COMMANDS,
        connection::COMMANDS,
        txn::COMMANDS,
        server::COMMANDS,
        replication::COMMANDS,
        debug::COMMANDS,
        sort::COMMANDS,
        pubsub::COMMANDS,
        scripting::COMMANDS,
        functions::COMMANDS,
    ]
}

/// The reply of a HELP subcommand: a header line, the given lines, and the
/// trailing HELP entry, as status lines.
pub fn help(cmd: &str, lines: &[&str]) -> Frame {
    let mut out = vec![Frame::Simple(Bytes::from(format!(
        "{cmd} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    )))];
    out.extend(
        lines
            .iter()
            .map(|l| Frame::Simple(Bytes::copy_from_slice(l.as_bytes()))),
    );
    out.push(Frame::simple("HELP"));
    out.push(Frame::simple("    Prints this help."));
    Frame::Array(out)
}
