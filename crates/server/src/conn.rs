//! One client connection: read, parse every complete request in the
//! buffer, execute, encode the replies, write them in one batch.

use std::net::Shutdown;
use std::ops::Deref;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::BytesMut;
use rubedo_engine::Keyspace;
use rubedo_resp::{encode, Frame, RequestLimits, RequestParser};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::blocking::{timeout_reply, BlockRequest, Parked};
use crate::client::{Client, ReplyMode};
use crate::exec::{execute, serve_blocked, Server};
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
    let id = srv.next_client_id.fetch_add(1, Relaxed);
    let info = Arc::new(ClientInfo::new(id, peer, local, server.ks.now_ms()));
    // A duplicate handle lets CLIENT KILL and the idle timeout close the
    // socket from another task without any per-read cost here.
    let killer = stream
        .into_std()
        .and_then(|s| s.try_clone().map(|k| (s, k)));
    let Ok((std_stream, killer)) = killer else {
        return;
    };
    let Ok(mut stream) = TcpStream::from_std(std_stream) else {
        return;
    };
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        info.fd.store(stream.as_raw_fd() as i64, Relaxed);
    }
    let admitted = {
        let mut clients = srv.clients.lock();
        let ok = (clients.len() as u64) < srv.config.maxclients.load(Relaxed);
        if ok {
            clients.insert(id, info.clone());
        }
        ok
    };
    if !admitted {
        srv.stats.rejected_connections.fetch_add(1, Relaxed);
        let _ = stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await;
        return;
    }
    *info.socket.lock() = Some(killer);
    let needs_auth = srv.config.has_password.load(Relaxed);
    let mut client = Client::new(info.clone(), !needs_auth);
    client.is_local = peer.ip().is_loopback();
    run_loop(&*server, &mut client, &mut stream).await;
    crate::cmd::txn::unwatch_all(srv, &mut client);
    srv.hub.forget(id, &mut client.subs);
    crate::tracking::disable(srv, &mut client);
    if info.monitor.load(Relaxed) {
        srv.monitors.remove(id);
    }
    srv.clients.lock().remove(&id);
    let sock = info.socket.lock().take();
    if let Some(s) = sock {
        let _ = s.shutdown(Shutdown::Both);
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
    loop {
        if inbuf.capacity() - inbuf.len() < 1024 {
            inbuf.reserve(READ_CHUNK);
        }
        let n = tokio::select! {
            biased;
            r = stream.read_buf(&mut inbuf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            // Another client sent this one something: write it out.
            _ = &mut wake => {
                wake.set(info.outbox.wake.notified());
                if !write_outbox(srv, &client.info, stream, &mut out).await {
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
            .store(srv.coarse_ms.load(Relaxed), Relaxed);
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
                    let mut reply = execute(server, client, argv);
                    if let Some(req) = client.block.take() {
                        // Earlier replies of the pipeline go out before we wait.
                        if !out.is_empty() && !flush(srv, &client.info, stream, &mut out).await {
                            return;
                        }
                        let waiting = Waiting {
                            stream: &mut *stream,
                            inbuf: &mut inbuf,
                            owner: &info,
                            wake: wake.as_mut(),
                        };
                        match wait_blocked(server, client, req, waiting).await {
                            Some(r) => reply = r,
                            None => return,
                        }
                        // Sent while it waited (before it was served): first.
                        if !client.info.outbox.is_empty() {
                            client.info.outbox.drain_into(&mut out, usize::MAX);
                        }
                    }
                    for p in client.pushes.drain(..) {
                        encode(&p, client.proto, &mut out);
                    }
                    // The command's frames to its own client around its reply.
                    let mut own_after = BytesMut::new();
                    client.info.outbox.take_own(&mut out, &mut own_after);
                    // A command that answered through the outbox writes no
                    // reply here, but CLIENT REPLY SKIP still counts it.
                    let own = !std::mem::take(&mut client.no_reply);
                    let written = write_reply(client, own.then_some(&reply), &mut out);
                    let tail = std::mem::take(&mut client.tail);
                    if written
                        && !tail.is_empty()
                        && !write_tail(srv, &client.info, stream, &mut out, tail).await
                    {
                        return;
                    }
                    out.extend_from_slice(&own_after);
                    for f in client.after_reply.drain(..) {
                        out.extend_from_slice(&f);
                    }
                    if client.close || client.info.killed.load(Relaxed) {
                        fatal = true;
                        break;
                    }
                    // A pipeline of big replies to a client that reads slowly
                    // must not pile up here: write as we go.
                    if out.len() >= FLUSH_AT && !flush(srv, &client.info, stream, &mut out).await {
                        return;
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
        if srv.tracking.clients() > 0 {
            crate::tracking::broadcast(srv, Some(client), server.ks.now_ms());
            for f in client.after_reply.drain(..) {
                out.extend_from_slice(&f);
            }
        }
        if inbuf.len() as u64 > srv.config.query_buffer_limit.load(Relaxed) {
            fatal = true;
        }
        note_buffer(&client.info, &inbuf);
        if !out.is_empty() && !flush(srv, &client.info, stream, &mut out).await {
            return;
        }
        if out.capacity() > 1 << 20 {
            out = BytesMut::with_capacity(READ_CHUNK);
        }
        if fatal {
            let _ = stream.shutdown().await;
            return;
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
) -> Option<Frame> {
    let Waiting {
        stream,
        inbuf,
        owner,
        mut wake,
    } = waiting;
    let srv = &server.shared;
    let (id, info) = (client.id, client.info.clone());
    let (db, keys, deadline) = (req.db, req.keys.clone(), req.deadline);
    let (done, mut rx) = oneshot::channel();
    info.unblock_mode.store(0, Relaxed);
    let me = std::mem::replace(client, Client::new(info.clone(), client.authenticated));
    srv.blocking.park(
        id,
        Parked {
            client: me,
            req,
            done,
        },
    );
    if server.ks.wants_keys() {
        // Under the concurrent engine a push may have landed between the
        // command's check and parking: look once more.
        for k in &keys {
            srv.blocking.signal(db, k);
        }
        if srv.blocking.has_ready() {
            serve_blocked(server);
        }
    }
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
                let (reply, c) = r.ok()?;
                *client = c;
                return Some(reply);
            }
            _ = sleep => timeout_reply(),
            // Messages for a blocked client (a RESP3 subscriber, a monitor...)
            // still flow while it waits.
            _ = &mut wake => {
                wake.set(owner.outbox.wake.notified());
                let mut buf = BytesMut::new();
                if write_outbox(srv, &info, stream, &mut buf).await {
                    continue;
                }
                reclaim(srv, id, rx, client).await;
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
                    reclaim(srv, id, rx, client).await;
                    return None;
                }
            },
        };
        return match srv.blocking.cancel(id) {
            Some(p) => {
                *client = p.client;
                Some(ended)
            }
            // Being retried right now: the retry answers (served or not).
            None => {
                let (reply, c) = rx.await.ok()?;
                *client = c;
                srv.blocking.clear_cancel(id);
                Some(if reply == timeout_reply() {
                    ended
                } else {
                    reply
                })
            }
        };
    }
}

/// Takes a parked client's state back when its connection ends while it
/// waits (it may be being served at this very moment: then from the reply).
async fn reclaim(
    srv: &crate::state::Shared,
    id: u64,
    rx: oneshot::Receiver<(Frame, Client)>,
    client: &mut Client,
) {
    if let Some(p) = srv.blocking.cancel(id) {
        *client = p.client;
    } else if let Ok((_, c)) = rx.await {
        *client = c;
        srv.blocking.clear_cancel(id);
    }
}

/// Writes the pending replies; false if the client is gone.
async fn flush(
    srv: &crate::state::Shared,
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
    srv.stats.net_output_bytes.fetch_add(len, Relaxed);
    info.tot_net_out.fetch_add(len, Relaxed);
    info.outbox.set_unsent(0);
    out.clear();
    true
}

/// Writes everything queued in the client's outbox, a chunk at a time;
/// false if the client is gone or was disconnected for its output limit.
async fn write_outbox(
    srv: &crate::state::Shared,
    info: &ClientInfo,
    stream: &mut TcpStream,
    out: &mut BytesMut,
) -> bool {
    loop {
        info.outbox.drain_into(out, FLUSH_AT);
        if out.is_empty() {
            break;
        }
        if !flush(srv, info, stream, out).await {
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
    srv: &crate::state::Shared,
    info: &ClientInfo,
    stream: &mut TcpStream,
    out: &mut BytesMut,
    tail: Vec<crate::tail::Part>,
) -> bool {
    use crate::tail::Part;
    for part in tail {
        match part {
            Part::Bytes(b) => out.extend_from_slice(&b),
            Part::Stream(mut s) => {
                while s.remaining > 0 {
                    (s.emit)(out);
                    s.remaining -= 1;
                    if out.len() >= FLUSH_AT
                        && (info.killed.load(Relaxed) || !flush(srv, info, stream, out).await)
                    {
                        return false;
                    }
                }
            }
        }
        if out.len() >= FLUSH_AT && !flush(srv, info, stream, out).await {
            return false;
        }
    }
    true
}
