//! One client connection: read, parse every complete request in the
//! buffer, execute, encode the replies, write them in one batch.

use std::ops::Deref;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::BytesMut;
use rubedo_engine::Keyspace;
use rubedo_resp::{encode, Frame, RequestLimits, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::dispatch::exec::{execute, park, Server};
use crate::dispatch::outcome::{Answer, Outcome};
use crate::session::client::{Client, ReplyMode};
use crate::signals::blocking::{timeout_reply, BlockRequest, Parked};
use crate::state::ClientInfo;

const READ_CHUNK: usize = 16 * 1024;
/// Pending reply bytes that trigger a write before the batch is done.
const FLUSH_AT: usize = 64 * 1024;

/// Registers the client, serves it until it quits, is killed or fails,
/// then unregisters it.
pub async fn serve<K, H>(server: H, stream: TcpStream)
where
    K: Keyspace,
    H: Deref<Target = Server<K>> + Clone,
{
    let srv = &server.shared;
    let (Ok(peer), Ok(local)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    let _ = stream.set_nodelay(true);
    srv.stats.connections_received.fetch_add(1, Relaxed);
    let id = srv.clients.next_id();
    let info = Arc::new(ClientInfo::new(id, peer, local, server.ks.now_ms()));
    // One descriptor per client: CLIENT KILL and the idle timeout set
    // `killed` and wake the connection, which closes its own socket.
    let mut stream = stream;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        info.fd.store(stream.as_raw_fd() as i64, Relaxed);
    }
    let admitted = srv
        .clients
        .admit(info.clone(), srv.config.maxclients.load(Relaxed));
    if !admitted {
        srv.stats.rejected_connections.fetch_add(1, Relaxed);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    let needs_auth = srv.config.has_password.load(Relaxed);
    let mut client = Client::new(info.clone(), !needs_auth);
    client.is_local = peer.ip().is_loopback();
    let mut session = Registered { srv, client };
    run_loop(&*server, &mut session.client, &mut stream).await;
}

/// A registered client: however its task ends (it returns, or a panic
/// unwinds through it), dropping this unregisters it, so no ghost stays in
/// CLIENT LIST holding its watches, subscriptions, tracking or MONITOR.
struct Registered<'a> {
    srv: &'a crate::state::Shared,
    client: Client,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        let (srv, client) = (self.srv, &mut self.client);
        let id = client.id;
        if std::thread::panicking() {
            // It may have died parked: its state is in the registry.
            if let Some(p) = srv.signals.blocking.cancel(id) {
                *client = p.client;
            }
            srv.signals.blocking.clear_cancel(id);
        }
        crate::cmd::txn::unwatch_all(&srv.signals.watches, client);
        srv.signals.hub.forget(id, &mut client.subs);
        crate::signals::tracking::disable(&srv.signals.tracking, client);
        let info = client.info.clone();
        if info.monitor.load(Relaxed) {
            srv.signals.monitors.remove(id);
        }
        srv.clients.unregister(id);
    }
}

async fn run_loop<K: Keyspace>(server: &Server<K>, client: &mut Client, stream: &mut TcpStream) {
    let srv = &server.shared;
    let mut inbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut out = BytesMut::with_capacity(READ_CHUNK);
    let mut parser = RequestParser::new();
    let info = client.info.clone();
    // One wait on the outbox lives across reads (registering a waiter anew
    // for every request would cost two lock operations each time).
    let wake = info.outbox.wake.notified();
    tokio::pin!(wake);
    // Since when the replies waiting for the client exceed the soft limit.
    let mut soft_since: Option<u64> = None;
    loop {
        if inbuf.capacity() - inbuf.len() < 1024 {
            inbuf.reserve(READ_CHUNK);
        }
        let pending = !out.is_empty();
        let n = tokio::select! {
            biased;
            r = stream.readable() => match r.and_then(|_| stream.try_read_buf(&mut inbuf)) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => return,
            },
            // Replies the client had not taken yet: it reads again.
            r = stream.writable(), if pending => {
                if r.is_err() || !pump(&srv.stats, &client.info, stream, &mut out) {
                    return;
                }
                continue;
            }
            // Another client sent this one something (or it was killed).
            _ = &mut wake => {
                wake.set(info.outbox.wake.notified());
                if client.info.killed.load(Relaxed) || client.info.outbox.is_closed() {
                    return;
                }
                // With output pending the socket was full: the writable
                // wake-up takes the new frames too (writing into a full
                // socket on every message would only trickle).
                if out.is_empty() && !pump(&srv.stats, &client.info, stream, &mut out) {
                    return;
                }
                continue;
            }
        };
        if client.info.killed.load(Relaxed) {
            return;
        }
        note_buffer(&client.info, &inbuf);
        client
            .info
            .last_ms
            .store(srv.cron.coarse_ms.load(Relaxed), Relaxed);
        srv.stats.net_input_bytes.fetch_add(n as u64, Relaxed);
        client.info.tot_net_in.fetch_add(n as u64, Relaxed);
        let limits = RequestLimits {
            max_bulk_len: srv.config.proto_max_bulk_len.load(Relaxed) as usize,
            ..RequestLimits::default()
        };
        let mut fatal = false;
        loop {
            // Before AUTH, Redis refuses oversized requests at the protocol level.
            parser
                .set_auth_required(!client.authenticated && srv.config.has_password.load(Relaxed));
            match parser.parse(&mut inbuf, &limits) {
                Ok(Some(argv)) => {
                    // What others sent before this command ran goes before
                    // its reply; what they send while it runs, after.
                    if !client.info.outbox.is_empty() {
                        client.info.outbox.drain_into(&mut out, usize::MAX);
                    }
                    let mut outcome = execute(server, client, argv);
                    // A busy script yielded: the loop serves the others
                    // (-BUSY, SCRIPT KILL) between its slices.
                    while matches!(outcome.answer, Answer::Script) {
                        tokio::task::yield_now().await;
                        outcome = crate::dispatch::exec::resume_script(server, client);
                    }
                    if matches!(outcome.answer, Answer::Block(_)) {
                        let Answer::Block(req) =
                            std::mem::replace(&mut outcome.answer, Answer::Silent)
                        else {
                            unreachable!("checked above")
                        };
                        // Earlier replies of the pipeline go out before we wait.
                        out.extend_from_slice(outcome.before());
                        durable(srv, client).await;
                        if !out.is_empty()
                            && !flush(&srv.stats, &client.info, stream, &mut out).await
                        {
                            return;
                        }
                        let waiting = Waiting {
                            stream: &mut *stream,
                            inbuf: &mut inbuf,
                            owner: &info,
                            wake: wake.as_mut(),
                        };
                        match wait_blocked(server, client, *req, waiting).await {
                            Some(o) => outcome = o,
                            None => return,
                        }
                        // Sent while it waited (before it was served): first.
                        if !client.info.outbox.is_empty() {
                            client.info.outbox.drain_into(&mut out, usize::MAX);
                        }
                    }
                    // The command's frames to its own client around its
                    // answer; a silent command (its answer went as its own
                    // frames) still counts for CLIENT REPLY SKIP. A reply too
                    // large to build continues in its tail.
                    out.extend_from_slice(outcome.before());
                    let written = write_reply(client, outcome.frame(), &mut out);
                    if let Some(tail) = outcome.take_tail().filter(|_| written) {
                        if !write_tail(&srv.stats, &client.info, stream, &mut out, tail).await {
                            return;
                        }
                    }
                    out.extend_from_slice(outcome.after());
                    if client.close || client.info.killed.load(Relaxed) {
                        fatal = true;
                        break;
                    }
                    // Big replies go out as they come, as far as the client
                    // takes them; the rest waits in `out` while reading goes
                    // on (a client may write its whole pipeline before it
                    // reads), bounded by client-output-buffer-limit.
                    if out.len() >= FLUSH_AT {
                        durable(srv, client).await;
                        if !write_some(&srv.stats, &client.info, stream, &mut out)
                            || over_limit(srv, &client.info, &mut soft_since)
                        {
                            return;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let msg = format!("ERR {}", e.0);
                    srv.stats.error(msg.as_bytes());
                    encode(&Frame::Error(msg.into()), client.proto, &mut out);
                    fatal = true;
                    break;
                }
            }
        }
        // Keys modified by this batch, for BCAST tracking clients (Redis
        // sends them once per event-loop iteration).
        if srv.signals.tracking.clients() > 0 {
            crate::signals::tracking::broadcast(
                &srv.signals,
                &srv.clients,
                Some(client),
                server.ks.now_ms(),
            );
            let mut own_after = BytesMut::new();
            client.info.outbox.take_own(&mut out, &mut own_after);
            out.extend_from_slice(&own_after);
        }
        if inbuf.len() as u64 > srv.config.query_buffer_limit.load(Relaxed) {
            fatal = true;
        }
        note_buffer(&client.info, &inbuf);
        durable(srv, client).await;
        if fatal {
            // Its last replies (QUIT's OK, the protocol error) go out first.
            if flush(&srv.stats, &client.info, stream, &mut out).await {
                let _ = stream.shutdown().await;
            }
            return;
        }
        if !write_some(&srv.stats, &client.info, stream, &mut out)
            || over_limit(srv, &client.info, &mut soft_since)
        {
            return;
        }
        if out.is_empty() && out.capacity() > 1 << 20 {
            out = BytesMut::with_capacity(READ_CHUNK);
        }
        if inbuf.is_empty() && inbuf.capacity() > 1 << 20 {
            inbuf = BytesMut::with_capacity(READ_CHUNK);
        }
    }
}

/// Parks a client whose blocking command found nothing, until it is served,
/// its time runs out, CLIENT UNBLOCK ends the wait, or it disconnects
/// (None). Input that arrives meanwhile is kept for later, as Redis does.
/// What a blocked client waits on besides its command: its socket (input
/// is kept; a close ends the wait) and its outbox, through the connection's
/// one outbox wait (`wake`, a future borrowed from `owner`).
struct Waiting<'a, 'w> {
    stream: &'a mut TcpStream,
    inbuf: &'a mut BytesMut,
    owner: &'w ClientInfo,
    wake: std::pin::Pin<&'a mut tokio::sync::futures::Notified<'w>>,
}

async fn wait_blocked<K: Keyspace>(
    server: &Server<K>,
    client: &mut Client,
    req: BlockRequest,
    waiting: Waiting<'_, '_>,
) -> Option<Outcome> {
    let Waiting {
        stream,
        inbuf,
        owner,
        mut wake,
    } = waiting;
    let srv = &server.shared;
    let (id, info) = (client.id, client.info.clone());
    let deadline = req.deadline;
    let (done, mut rx) = oneshot::channel();
    info.unblock_mode.store(0, Relaxed);
    let me = std::mem::replace(client, Client::new(info.clone(), client.authenticated));
    park(
        server,
        id,
        Parked {
            client: me,
            req,
            done,
        },
    );
    let limit = srv.config.query_buffer_limit.load(Relaxed) as usize;
    loop {
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending::<()>().await,
            }
        };
        let ended: Frame = tokio::select! {
            r = &mut rx => {
                let (outcome, c) = r.ok()?;
                *client = c;
                return Some(outcome);
            }
            _ = sleep => timeout_reply(),
            // Messages for a blocked client (a RESP3 subscriber, a monitor...)
            // still flow while it waits.
            _ = &mut wake => {
                wake.set(owner.outbox.wake.notified());
                let mut buf = BytesMut::new();
                if write_outbox(&srv.stats, &info, stream, &mut buf).await {
                    continue;
                }
                reclaim(&srv.signals.blocking, id, rx, client).await;
                return None;
            }
            _ = info.unblock.notified() => match info.unblock_mode.swap(0, Relaxed) {
                1 => timeout_reply(),
                2 => Frame::error("UNBLOCKED client unblocked via CLIENT UNBLOCK"),
                _ => continue,
            },
            n = stream.read_buf(inbuf) => match n {
                Ok(n) if n > 0 && inbuf.len() <= limit => continue,
                _ => {
                    // Gone (or flooding while blocked): take the state back and stop.
                    reclaim(&srv.signals.blocking, id, rx, client).await;
                    return None;
                }
            },
        };
        return match srv.signals.blocking.cancel(id) {
            Some(p) => {
                *client = p.client;
                Some(Outcome::reply(ended))
            }
            // Being retried right now: the retry answers (served or not).
            None => {
                let (outcome, c) = rx.await.ok()?;
                *client = c;
                srv.signals.blocking.clear_cancel(id);
                Some(if outcome.frame() == Some(&timeout_reply()) {
                    Outcome::reply(ended)
                } else {
                    outcome
                })
            }
        };
    }
}

/// Takes a parked client's state back when its connection ends while it
/// waits (it may be being served at this very moment: then from the reply).
async fn reclaim(
    blocking: &crate::signals::blocking::Blocking,
    id: u64,
    rx: oneshot::Receiver<(Outcome, Client)>,
    client: &mut Client,
) {
    if let Some(p) = blocking.cancel(id) {
        *client = p.client;
    } else if let Ok((_, c)) = rx.await {
        *client = c;
        blocking.clear_cancel(id);
    }
}

/// The durability barrier: while a sink of the effect log gates replies
/// (an fsync-always log), waits until this client's last write is durable,
/// so no reply promises a write the log could still lose.
///
/// The log is written from here, as Redis writes before it answers: first
/// the other clients ready now run their commands (a yield), then one write
/// (and with `always` one fsync) takes every effect encoded so far (group
/// commit), and the clients that come after find theirs done. Only when
/// another thread holds the file does the wait go through the log's mark.
async fn durable(srv: &crate::state::Shared, client: &Client) {
    let (log, seq) = (&srv.propagation, client.last_effect);
    if seq == 0 || !log.gates_replies() || log.is_durable(seq) {
        return;
    }
    if srv.clients.len() > 1 {
        tokio::task::yield_now().await;
        if log.is_durable(seq) {
            return;
        }
    }
    if !srv.aof.commit(seq) {
        log.wait_durable(seq).await;
    }
}

/// Writes the pending replies; false if the client is gone.
async fn flush(
    stats: &crate::stats::Stats,
    info: &ClientInfo,
    stream: &mut TcpStream,
    out: &mut BytesMut,
) -> bool {
    let len = out.len() as u64;
    // Counted against the output-buffer limit while the write waits.
    info.outbox.set_unsent(out.len());
    if stream.write_all(out).await.is_err() {
        return false;
    }
    stats.net_output_bytes.fetch_add(len, Relaxed);
    info.tot_net_out.fetch_add(len, Relaxed);
    info.outbox.set_unsent(0);
    out.clear();
    true
}

/// Writes `out`, then what waits in the outbox a chunk at a time, as far
/// as the socket takes it now. Frames stay shared in the outbox until they
/// are about to be written. False if the client is gone.
fn pump(
    stats: &crate::stats::Stats,
    info: &ClientInfo,
    stream: &TcpStream,
    out: &mut BytesMut,
) -> bool {
    loop {
        if out.len() < FLUSH_AT {
            info.outbox.drain_into(out, FLUSH_AT);
        }
        if out.is_empty() {
            info.outbox.set_unsent(0);
            return true;
        }
        if !write_some(stats, info, stream, out) {
            return false;
        }
        if !out.is_empty() {
            // The socket is full: the writable wake-up goes on from here.
            return true;
        }
    }
}

/// Writes as much of `out` as the socket takes now, without waiting;
/// false if the client is gone.
fn write_some(
    stats: &crate::stats::Stats,
    info: &ClientInfo,
    stream: &TcpStream,
    out: &mut BytesMut,
) -> bool {
    while !out.is_empty() {
        match stream.try_write(out) {
            Ok(0) => return false,
            Ok(n) => {
                stats.net_output_bytes.fetch_add(n as u64, Relaxed);
                info.tot_net_out.fetch_add(n as u64, Relaxed);
                bytes::Buf::advance(out, n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(_) => return false,
        }
    }
    // Counted against the output-buffer limit (and CLIENT LIST omem) while
    // the client has not taken it.
    info.outbox.set_unsent(out.len());
    true
}

/// True if the client's unread output passed its class's
/// client-output-buffer-limit: over the hard limit at once, over the soft
/// one for longer than its seconds. The connection then closes, as Redis
/// closes such a client.
fn over_limit(srv: &crate::state::Shared, info: &ClientInfo, soft_since: &mut Option<u64>) -> bool {
    let class = if info.is_pubsub() {
        rubedo_pubsub::Class::Pubsub
    } else {
        rubedo_pubsub::Class::Normal
    };
    let limit = srv.config.output_limits.get(class);
    if limit.hard == 0 && limit.soft == 0 {
        return false;
    }
    let used = info.outbox.used() as u64;
    let now = srv.cron.coarse_ms.load(Relaxed);
    let over = if limit.hard > 0 && used >= limit.hard {
        true
    } else if limit.soft > 0 && used >= limit.soft {
        let since = *soft_since.get_or_insert(now);
        now.saturating_sub(since) > limit.soft_secs * 1000
    } else {
        *soft_since = None;
        false
    };
    if over {
        eprintln!(
            "Client id={} addr={} closed for overcoming of output buffer limits.",
            info.id, info.addr
        );
    }
    over
}

/// Writes everything queued in the client's outbox, a chunk at a time;
/// false if the client is gone or was disconnected for its output limit.
async fn write_outbox(
    stats: &crate::stats::Stats,
    info: &ClientInfo,
    stream: &mut TcpStream,
    out: &mut BytesMut,
) -> bool {
    loop {
        info.outbox.drain_into(out, FLUSH_AT);
        if out.is_empty() {
            break;
        }
        if !flush(stats, info, stream, out).await {
            return false;
        }
    }
    !info.killed.load(Relaxed) && !info.outbox.is_closed()
}

/// Publishes the read buffer's size for CLIENT LIST.
fn note_buffer(info: &ClientInfo, inbuf: &BytesMut) {
    info.qbuf.store(inbuf.len(), Relaxed);
    info.qbuf_free
        .store(inbuf.capacity() - inbuf.len(), Relaxed);
    info.rbs.store(inbuf.capacity(), Relaxed);
}

/// Encodes the reply as the client's reply mode says; true if it was written.
fn write_reply(client: &mut Client, reply: Option<&Frame>, out: &mut BytesMut) -> bool {
    match client.reply {
        ReplyMode::On => {
            if let Some(r) = reply {
                encode(r, client.proto, out);
                return true;
            }
        }
        ReplyMode::Off => {}
        ReplyMode::Skip => client.reply = ReplyMode::On,
        // CLIENT REPLY SKIP itself is answered by nothing; the next command is skipped.
        ReplyMode::SkipNext => client.reply = ReplyMode::Skip,
    }
    false
}

/// Writes a reply's tail (see `tail`), flushing every `FLUSH_AT` bytes so
/// that only one chunk is ever held; false if the client is gone.
async fn write_tail(
    stats: &crate::stats::Stats,
    info: &ClientInfo,
    stream: &mut TcpStream,
    out: &mut BytesMut,
    tail: Vec<crate::session::tail::Part>,
) -> bool {
    use crate::session::tail::Part;
    for part in tail {
        match part {
            Part::Bytes(b) => out.extend_from_slice(&b),
            Part::Stream(mut s) => {
                while s.remaining > 0 {
                    (s.emit)(out);
                    s.remaining -= 1;
                    if out.len() >= FLUSH_AT
                        && (info.killed.load(Relaxed) || !flush(stats, info, stream, out).await)
                    {
                        return false;
                    }
                }
            }
        }
        if out.len() >= FLUSH_AT && !flush(stats, info, stream, out).await {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Harness;
    use rubedo_engine::ManualClock;

    struct Gate;
    impl crate::propagate::Sink for Gate {
        fn write(&self, _: &crate::propagate::Effect) {}
        fn gates_replies(&self) -> bool {
            true
        }
    }

    #[test]
    fn a_write_is_answered_once_the_log_made_it_durable() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let shared = crate::server::shared(crate::config::Config::default(), String::new());
            shared.propagation.add_sink(Box::new(Gate));
            let server = std::rc::Rc::new(Server {
                ks: rubedo_engine::SingleKeyspace::new(16, Arc::new(ManualClock::new(1_000))),
                shared,
            });
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            let s = server.clone();
            let accept = tokio::task::spawn_local(async move {
                while let Ok((stream, _)) = l.accept().await {
                    tokio::task::spawn_local(serve(s.clone(), stream));
                }
            });
            let mut writer = TcpStream::connect(addr).await.unwrap();
            let mut reader = TcpStream::connect(addr).await.unwrap();
            let mut buf = [0u8; 64];
            // A command that writes nothing is answered at once.
            reader.write_all(b"PING\r\n").await.unwrap();
            let n = reader.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"+PONG\r\n");
            writer.write_all(b"SET k v\r\n").await.unwrap();
            // The write is applied (others see it) but not yet answered.
            reader.write_all(b"GET k\r\n").await.unwrap();
            let n = reader.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"$1\r\nv\r\n");
            let early =
                tokio::time::timeout(std::time::Duration::from_millis(50), writer.read(&mut buf))
                    .await;
            assert!(early.is_err(), "answered before the log made it durable");
            let seq = server.shared.propagation.last_seq();
            assert_eq!(seq, 1);
            server.shared.propagation.mark_durable(seq);
            let n = writer.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"+OK\r\n");
            accept.abort();
        });
    }

    #[test]
    fn a_task_that_panics_leaves_no_ghost_client() {
        let mut h = Harness::single(Arc::new(ManualClock::new(1_000)));
        h.run(&["HELLO", "3"]);
        h.run(&["SUBSCRIBE", "ch"]);
        h.run(&["WATCH", "k"]);
        let id = h.client.id;
        assert!(h.server.shared.clients.client(id).is_some());
        let info = h.client.info.clone();
        let client = std::mem::replace(&mut h.client, Client::new(info, true));
        let srv = &h.server.shared;
        let died = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _session = Registered { srv, client };
            panic!("a bug in a handler");
        }));
        assert!(died.is_err());
        assert!(h.server.shared.clients.client(id).is_none());
        let numsub = h.run(&["PUBSUB", "NUMSUB", "ch"]);
        assert_eq!(
            numsub,
            Frame::Array(vec![Frame::bulk(&b"ch"[..]), Frame::Integer(0)])
        );
        assert!(h.server.shared.signals.watches.is_empty());
    }
}
