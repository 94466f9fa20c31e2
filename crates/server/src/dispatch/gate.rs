//! The admission gate: resolving argv to a table row, who runs a command
//! (`Caller`), every check before a command is queued or run, in Redis's
//! order, and the refusals. Every decision reads the table's flags.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use rubedo_resp::Frame;

use crate::dispatch::table::{flag, sub_of, Cmd};
use crate::error::CmdError;
use crate::session::client::Client;
use crate::state::Shared;

/// Resolves `argv` to a runnable command row, or the error Redis gives.
#[inline]
pub fn resolve(srv: &Shared, argv: &[Bytes]) -> Result<&'static Cmd, CmdError> {
    let Some(cmd) = srv.table.get(&argv[0]) else {
        return Err(unknown_command(argv));
    };
    if cmd.subs.is_empty() {
        if !cmd.arity_ok(argv.len()) {
            return Err(CmdError::WrongArity(cmd.name.to_string()));
        }
        return Ok(cmd);
    }
    if argv.len() < 2 {
        if cmd.handler.is_some() {
            return Ok(cmd);
        }
        return Err(CmdError::WrongArity(cmd.name.to_string()));
    }
    match sub_of(cmd, &argv[1]) {
        Some(sub) => {
            if !sub.arity_ok(argv.len()) {
                return Err(CmdError::WrongArity(sub.name.to_string()));
            }
            Ok(sub)
        }
        None => {
            // The subcommand's bytes as they came, as a C string, as Redis
            // quotes them.
            let mut msg = b"ERR unknown subcommand '".to_vec();
            msg.extend_from_slice(c_str(&argv[1], 128));
            msg.extend_from_slice(
                format!("'. Try {} HELP.", cmd.name.to_ascii_uppercase()).as_bytes(),
            );
            Err(CmdError::OtherBytes(msg))
        }
    }
}

use crate::error::c_str;

/// Redis's text for an unknown command: the name and the first arguments
/// (128 bytes of each at most, quotes counted) as the bytes they are.
fn unknown_command(argv: &[Bytes]) -> CmdError {
    let mut args = Vec::new();
    for a in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push(b'\'');
        args.extend_from_slice(c_str(a, room));
        args.extend_from_slice(b"' ");
    }
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(c_str(&argv[0], 128));
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend_from_slice(&args);
    CmdError::OtherBytes(msg)
}

/// Who runs a command. The gate and the handlers decide by this, never by
/// per-client booleans: a blocking command answers at once when it may not
/// block, and a command run again to serve its blocked client is neither
/// admitted nor shown to MONITOR a second time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A request a client sent: it passes the admission gate.
    Client,
    /// A command EXEC runs from the transaction's queue.
    Exec,
    /// A blocked command run again because one of its keys became ready.
    Unblocked,
    /// A command a script runs (`redis.call`): it never blocks.
    Script,
}

impl Caller {
    /// Whether a command may park its client instead of answering.
    pub fn may_block(self) -> bool {
        matches!(self, Caller::Client | Caller::Unblocked)
    }
}

/// The admission gate: every check a client's command passes before it is
/// queued or run, in Redis's order (protected commands, authentication,
/// the RESP2 subscribed context, a monitor's keyspace ban). The checks of
/// subsystems still to come (ACL, OOM, loading, replica read-only, a busy
/// script, cluster slots) belong here, in that order, and nowhere else.
#[inline]
pub(crate) fn admit(srv: &Shared, client: &mut Client, cmd: &'static Cmd) -> Result<(), CmdError> {
    if cmd.has(flag::PROTECTED) && !protected_allowed(srv, client) {
        return Err(CmdError::Other(format!(
            "ERR {} command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
            cmd.name.to_ascii_uppercase()
        )));
    }
    if !client.authenticated && !cmd.has(flag::NO_AUTH) {
        if srv.config.has_password.load(Relaxed) {
            return Err(CmdError::NoAuth);
        }
        client.authenticated = true;
    }
    // One atomic load while the disk is healthy.
    if !srv.persist.healthy(srv) && (writes(cmd, client) || cmd.name == "ping") {
        if let Some(e) = crate::persistence::disk_error(srv) {
            return Err(e);
        }
    }
    if client.in_resp2_pubsub() && !cmd.has(flag::SUBSCRIBED_OK) {
        return Err(CmdError::Other(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            cmd.name
        )));
    }
    if srv.persist.loading.load(Relaxed) && refused_while_loading(cmd, client) {
        return Err(CmdError::Other(
            "LOADING Redis is loading the dataset in memory".into(),
        ));
    }
    if srv.scripting.busy() && !cmd.has(flag::ALLOW_BUSY) {
        return Err(srv.scripting.busy_error());
    }
    // A monitor is a replica to Redis: it may not touch the keyspace.
    if client.info.monitor.load(Relaxed) && touches_keyspace(cmd, client) {
        return Err(CmdError::Other(
            "ERR Replica can't interact with the keyspace".into(),
        ));
    }
    Ok(())
}

/// Queues a command of an open transaction (or dooms the transaction if
/// the command may not be queued).
pub(crate) fn queue(
    srv: &Shared,
    client: &mut Client,
    cmd: &'static Cmd,
    argv: Vec<Bytes>,
) -> Frame {
    let m = client.multi.as_mut().expect("queue is for MULTI");
    if cmd.has(flag::NO_MULTI) {
        m.error = true;
        let e = CmdError::NotAllowedInMulti(cmd.name.into());
        return error_reply(srv, Some(cmd), &e);
    }
    m.mem += argv.iter().map(|a| a.len()).sum::<usize>();
    m.queue.push((cmd, argv));
    client.info.multi_len.store(m.queue.len(), Relaxed);
    client.info.multi_mem.store(m.mem, Relaxed);
    Frame::simple("QUEUED")
}

/// Refuses a command before it runs. Inside MULTI the refusal dooms the
/// transaction; a refused EXEC (`exec`) discards it at once, naming why.
pub(crate) fn reject(
    srv: &Shared,
    client: &mut Client,
    cmd: Option<&'static Cmd>,
    exec: bool,
    e: CmdError,
) -> Frame {
    // Redis answers any refused EXEC this way, even outside MULTI.
    if exec {
        client.end_multi();
        crate::cmd::txn::unwatch_all(&srv.signals.watches, client);
        let text = e.text();
        let why = text.strip_prefix("ERR ").unwrap_or(&text);
        let abort = CmdError::Other(format!("EXECABORT Transaction discarded because of: {why}"));
        return error_reply(srv, cmd, &abort);
    }
    if let Some(m) = client.multi.as_mut() {
        m.error = true;
    }
    error_reply(srv, cmd, &e)
}

/// Whether `enable-debug-command` lets this client run protected commands.
fn protected_allowed(srv: &Shared, client: &Client) -> bool {
    match srv.config.get("enable-debug-command").as_deref() {
        Some("yes") => true,
        Some("local") => client.is_local,
        _ => false,
    }
}

/// A write command, or EXEC of a transaction holding one.
fn writes(cmd: &Cmd, client: &Client) -> bool {
    cmd.has(flag::WRITE)
        || (cmd.has(flag::RUNS_QUEUE)
            && client
                .multi
                .as_ref()
                .is_some_and(|m| m.queue.iter().any(|(c, _)| c.has(flag::WRITE))))
}

/// A command without the `loading` flag, or EXEC of a transaction
/// holding one.
fn refused_while_loading(cmd: &Cmd, client: &Client) -> bool {
    !cmd.has(flag::LOADING)
        || (cmd.has(flag::RUNS_QUEUE)
            && client
                .multi
                .as_ref()
                .is_some_and(|m| m.queue.iter().any(|(c, _)| !c.has(flag::LOADING))))
}

/// A command that reads or writes keys (or EXEC of such commands).
fn touches_keyspace(cmd: &Cmd, client: &Client) -> bool {
    let kinds = flag::READONLY | flag::WRITE | flag::MAY_REPLICATE;
    cmd.has(kinds)
        || (cmd.has(flag::RUNS_QUEUE)
            && client
                .multi
                .as_ref()
                .is_some_and(|m| m.queue.iter().any(|(c, _)| c.has(kinds))))
}

/// Counts a refused command (never executed) and returns its error reply.
pub(crate) fn error_reply(srv: &Shared, cmd: Option<&'static Cmd>, e: &CmdError) -> Frame {
    if let Some(c) = cmd {
        srv.stats.per_cmd[srv.table.id(c)]
            .rejected
            .fetch_add(1, Relaxed);
    }
    let f = e.reply();
    if let Frame::Error(t) = &f {
        srv.stats.error(t);
    }
    f
}
