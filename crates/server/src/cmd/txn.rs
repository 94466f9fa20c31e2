//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.

use std::sync::atomic::Ordering::Relaxed;

use rubedo_resp::Frame;

use crate::dispatch::ctx::Ctx;
use crate::dispatch::exec::{begin_multi, call};
use crate::dispatch::gate::Caller;
use crate::dispatch::table::{acl, flag::*, kf, ks, Cmd, Lock};
use crate::error::{CmdError, CmdResult};

use crate::session::client::{Client, Watched};
use crate::signals::watches::Watches;

const G: &str = "transactions";
const T: u64 = acl::TRANSACTION | acl::FAST;

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("multi", 1, multi)
        .flags(NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_QUEUED)
        .acl(T)
        .lock(Lock::None)
        .doc(G, "1.2.0", "O(1)", "Starts a transaction."),
    Cmd::new("exec", 1, exec)
        .flags(NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG | NOT_QUEUED | RUNS_QUEUE)
        .acl(acl::TRANSACTION | acl::SLOW)
        .lock(Lock::All)
        .doc(
            G,
            "1.2.0",
            "Depends on commands in the transaction",
            "Executes all commands in a transaction.",
        ),
    Cmd::new("discard", 1, discard)
        .flags(NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_QUEUED)
        .acl(T)
        .lock(Lock::None)
        .doc(
            G,
            "2.0.0",
            "O(N), when N is the number of queued commands",
            "Discards a transaction.",
        ),
    Cmd::new("watch", -2, watch)
        .flags(NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_QUEUED)
        .acl(T)
        .specs(&[ks(kf::RO, 1, -1, 1)])
        .doc(
            G,
            "2.2.0",
            "O(1) for every key.",
            "Monitors changes to keys to determine the execution of a transaction.",
        ),
    Cmd::new("unwatch", 1, unwatch)
        .flags(NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY)
        .acl(T)
        .lock(Lock::None)
        .doc(
            G,
            "2.2.0",
            "O(1)",
            "Forgets about watched keys of a transaction.",
        ),
];

/// Forgets every key the client watches.
pub fn unwatch_all(watches: &Watches, client: &mut Client) {
    for w in client.watched.drain(..) {
        watches.unwatch(w.db, &w.key, client.id);
    }
    client.info.watch_count.store(0, Relaxed);
    client.info.dirty_cas.store(false, Relaxed);
}

fn multi(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::MultiNested);
    }
    begin_multi(ctx.client);
    Ok(Frame::ok())
}

fn discard(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_none() {
        return Err(CmdError::DiscardWithoutMulti);
    }
    ctx.client.end_multi();
    unwatch_all(&ctx.srv.signals.watches, ctx.client);
    Ok(Frame::ok())
}

fn watch(ctx: &mut Ctx) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::WatchInMulti);
    }
    let db = ctx.client.db;
    for key in &ctx.argv[1..] {
        if ctx
            .client
            .watched
            .iter()
            .any(|w| w.db == db && w.key == key)
        {
            continue;
        }
        let existed = ctx.dbs.db(db).is_live(key);
        ctx.srv
            .signals
            .watches
            .watch(db, key.clone(), ctx.client.id);
        ctx.client.watched.push(Watched {
            db,
            key: key.clone(),
            existed,
        });
    }
    ctx.client
        .info
        .watch_count
        .store(ctx.client.watched.len(), Relaxed);
    Ok(Frame::ok())
}

fn unwatch(ctx: &mut Ctx) -> CmdResult {
    unwatch_all(&ctx.srv.signals.watches, ctx.client);
    Ok(Frame::ok())
}

fn exec(ctx: &mut Ctx) -> CmdResult {
    ctx.propagate_nothing();
    let Some(m) = ctx.client.multi.take() else {
        return Err(CmdError::ExecWithoutMulti);
    };
    ctx.client.end_multi();
    if m.error {
        unwatch_all(&ctx.srv.signals.watches, ctx.client);
        return Err(CmdError::ExecAbort);
    }
    // A watched key that was live at WATCH time and has expired since
    // counts as changed, as in Redis.
    let expired = ctx
        .client
        .watched
        .iter()
        .any(|w| w.existed && !ctx.dbs.db(w.db).is_live(&w.key));
    let dirty = ctx.client.info.dirty_cas.load(Relaxed) || expired;
    unwatch_all(&ctx.srv.signals.watches, ctx.client);
    if dirty {
        return Ok(Frame::NullArray);
    }
    let mut replies = Vec::with_capacity(m.queue.len());
    let mut tails = Vec::new();
    for (cmd, argv) in &m.queue {
        // Frames a command sent its own client (messages, notifications,
        // SUBSCRIBE's confirmations) go where Redis writes them: in the
        // element's place, around its reply (or instead of it).
        let mut outcome = call(
            ctx.srv,
            ctx.client,
            ctx.dbs,
            cmd,
            argv,
            ctx.effects,
            Caller::Exec,
        );
        let tail = outcome.take_tail();
        replies.push(outcome.into_frame(ctx.client.proto));
        if let Some(tail) = tail {
            tails.push((replies.len() - 1, tail));
        }
    }
    // The queued commands' writes are one unit of the log (the log wraps a
    // unit of several in MULTI/EXEC).
    if tails.is_empty() {
        return Ok(Frame::Array(replies));
    }
    let proto = ctx.client.proto;
    let (head, rest) = with_tails(proto, replies, tails);
    ctx.stream_tail(rest);
    Ok(head)
}

/// EXEC's reply when some replies continue in a tail (see `tail`): the
/// array up to the first tail is the reply; the tails and the replies
/// between and after them, encoded, become the client's tail.
fn with_tails(
    proto: rubedo_resp::Protocol,
    replies: Vec<Frame>,
    tails: Vec<(usize, Vec<crate::session::tail::Part>)>,
) -> (Frame, Vec<crate::session::tail::Part>) {
    use crate::session::tail::Part;
    let mut buf =
        bytes::BytesMut::from(&crate::session::tail::array_header(replies.len() as u64)[..]);
    let mut head = None;
    let mut rest = Vec::new();
    let mut tails = tails.into_iter().peekable();
    for (i, r) in replies.into_iter().enumerate() {
        rubedo_resp::encode(&r, proto, &mut buf);
        if let Some((_, tail)) = tails.next_if(|(at, _)| *at == i) {
            let done = buf.split().freeze();
            match head {
                None => head = Some(done),
                Some(_) => rest.push(Part::Bytes(done)),
            }
            rest.extend(tail);
        }
    }
    if !buf.is_empty() {
        rest.push(Part::Bytes(buf.freeze()));
    }
    (Frame::Raw(head.unwrap_or_default()), rest)
}
