//! The FANOUT workload of `cargo xtask bench`: pub/sub fan-out, which redis-benchmark
//! cannot measure (it never subscribes). `SUBSCRIBERS` connections subscribe to one
//! channel and one publisher connection sends `PUBLISH` to it, `WINDOW` commands in
//! flight; the figure is messages delivered per second, summed over the subscribers,
//! over a timed window after a warm-up.
//!
//! The client must stay cheaper than the server, or it measures itself. So it is one
//! current-thread tokio runtime on one thread of our own (pinned to the client CPU when
//! the bench pins), reading with large buffers, and subscribers do not parse RESP: every
//! `message` frame for one channel and one payload size has the same length, so
//! received bytes / frame length = messages. That shortcut is checked after every run:
//! once the publisher has stopped and the subscribers have drained, each subscriber must
//! have received exactly (messages published) x (frame length) bytes, else the run fails.
//! Each run reports the client's own CPU use too, so a client-bound run shows itself.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::procs;
use crate::resp::{encode_command, escape};

/// The workload's name in `--workloads`.
pub const NAME: &str = "FANOUT";
pub const SUBSCRIBERS: usize = 100;
pub const CHANNEL: &[u8] = b"bench:fanout";
pub const PAYLOAD: usize = 64;
/// PUBLISH commands in flight on the publisher connection.
pub const WINDOW: u64 = 32;
/// Messages per subscriber published but not yet received before the publisher waits.
/// Without a bound a client slower than the server would let the server's output
/// buffers grow until Redis's pubsub limit (8 MB soft, 32 MB hard) drops subscribers;
/// with it the run slows to the client's pace instead, which its CPU figure then shows.
/// 1024 frames of ~90 bytes per subscriber is ~9 MB in flight in all: plenty of slack
/// for the server to batch its writes.
const MAX_LAG: u64 = 1024;
/// Connecting and subscribing, and draining at the end, each get this long.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Subscriber read buffer: large, so one read takes many frames.
const READ_BUF: usize = 64 * 1024;

/// The figures of one run.
pub struct Fanout {
    /// Messages received per second, summed over all subscribers.
    pub delivered_per_sec: f64,
    /// PUBLISH commands answered per second.
    pub published_per_sec: f64,
    /// Server CPU (all threads) per delivered message, nanoseconds.
    pub server_ns_per_msg: Option<f64>,
    /// Server CPU seconds per second of the window (1.0 = one core busy).
    pub server_util: Option<f64>,
    /// The same for the client thread.
    pub client_util: Option<f64>,
    /// The CPU list the client thread was pinned to.
    pub client_cpus: Option<String>,
}

impl Fanout {
    /// One line for the progress log.
    pub fn summary(&self) -> String {
        let pct = |u: Option<f64>| u.map_or("?".into(), |u| format!("{:.0}%", u * 100.0));
        let ns = self
            .server_ns_per_msg
            .map_or("?".into(), |n| format!("{n:.0}"));
        let mut s = format!(
            "{:.3}M msg/s delivered ({:.0} PUBLISH/s), server cpu {} ({ns} ns/msg), \
             client cpu {} ({})",
            self.delivered_per_sec / 1e6,
            self.published_per_sec,
            pct(self.server_util),
            pct(self.client_util),
            self.client_cpus
                .as_deref()
                .map_or("unpinned".into(), |c| format!("CPU {c}")),
        );
        // The client thread busy nearly all the time while the server is not: the
        // figure is the client's, not the server's.
        if self.client_util.is_some_and(|c| c > 0.9) && self.server_util.is_some_and(|s| s < 0.9) {
            s.push_str(" [client-bound?]");
        }
        s
    }
}

/// Length of the `message` frame a RESP2 server sends a subscriber of a channel of
/// `channel` bytes for a payload of `payload` bytes:
/// `*3\r\n$7\r\nmessage\r\n$<channel>\r\n<C>\r\n$<payload>\r\n<P>\r\n`.
pub fn frame_len(channel: usize, payload: usize) -> usize {
    let bulk = |n: usize| 1 + n.to_string().len() + 2 + n + 2;
    b"*3\r\n".len() + bulk(b"message".len()) + bulk(channel) + bulk(payload)
}

/// The confirmation a RESP2 server sends for `SUBSCRIBE channel` as the first and
/// only subscription of a connection.
fn subscribe_reply(channel: &[u8]) -> Vec<u8> {
    let mut out = b"*3\r\n$9\r\nsubscribe\r\n".to_vec();
    out.extend_from_slice(format!("${}\r\n", channel.len()).as_bytes());
    out.extend_from_slice(channel);
    out.extend_from_slice(b"\r\n:1\r\n");
    out
}

/// Takes the complete reply lines off the front of `pending`, each of which must be
/// `want`; returns how many there were. Anything else (an error, another receiver
/// count) fails the run: a PUBLISH that reached fewer than every subscriber means the
/// figure is not what it claims to be.
fn take_replies(pending: &mut Vec<u8>, want: &[u8]) -> Result<u64, String> {
    let mut pos = 0;
    let mut count = 0;
    while let Some(nl) = pending[pos..].iter().position(|&b| b == b'\n') {
        let line = &pending[pos..pos + nl + 1];
        if line != want {
            return Err(format!(
                "PUBLISH answered {} instead of {}",
                escape(line, 120),
                escape(want, 40)
            ));
        }
        pos += nl + 1;
        count += 1;
    }
    pending.drain(..pos);
    Ok(count)
}

/// What the subscriber tasks, the publisher and the controller share.
struct Shared {
    /// Bytes received per subscriber after its subscribe confirmation.
    received: Vec<AtomicU64>,
    /// Their sum, which the publisher reads for its lag bound.
    total: AtomicU64,
    /// PUBLISH commands answered so far.
    published: AtomicU64,
    /// Subscribers whose connection ended (closed or failed).
    closed: AtomicUsize,
    /// Set when the publisher is to stop sending.
    stop: AtomicBool,
    /// Signalled when subscribers read or `stop` is set; the publisher waits on it
    /// when only the lag bound holds it back.
    progress: Notify,
}

/// One run against the server on `port` (whose process is `server_pid`): warm-up,
/// then a measured window of `seconds`. Runs its client on a thread of its own,
/// pinned to `client_cpus` if given.
pub fn measure(
    port: u16,
    server_pid: u32,
    seconds: f64,
    client_cpus: Option<&str>,
) -> Result<Fanout, String> {
    let cpus = client_cpus.map(str::to_string);
    let warmup = Duration::from_secs_f64((seconds / 4.0).clamp(0.05, 0.5));
    let window = Duration::from_secs_f64(seconds);
    let limit = 2 * SETUP_TIMEOUT + warmup + window + Duration::from_secs(10);
    std::thread::Builder::new()
        .name("fanout".into())
        .spawn(move || {
            // Pin this thread only: the runtime below runs all its tasks here, and
            // nothing else of xtask (nor the children it starts later) is affected.
            if let Some(c) = &cpus {
                pin_this_thread(c)?;
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
            let mut f = rt.block_on(async {
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                tokio::time::timeout(limit, run(addr, server_pid, warmup, window))
                    .await
                    .unwrap_or_else(|_| Err(format!("fan-out run timed out after {limit:?}")))
            })?;
            f.client_cpus = cpus;
            Ok(f)
        })
        .map_err(|e| format!("cannot start the fan-out client thread: {e}"))?
        .join()
        .map_err(|_| "the fan-out client thread panicked".to_string())?
}

/// Restricts the calling thread to `cpus` with `taskset -p` on its thread id.
fn pin_this_thread(cpus: &str) -> Result<(), String> {
    // "/proc/thread-self" links to "<pid>/task/<tid>".
    let link = std::fs::read_link("/proc/thread-self")
        .map_err(|e| format!("cannot find the client thread's id: {e}"))?;
    let tid = link
        .file_name()
        .map(|t| t.to_string_lossy().into_owned())
        .unwrap_or_default();
    let status = std::process::Command::new("taskset")
        .args(["-p", "-c", cpus, &tid])
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("cannot run taskset: {e}"))?;
    if !status.success() {
        return Err(format!("taskset -p -c {cpus} {tid} failed ({status})"));
    }
    Ok(())
}

/// CPU time of the calling thread so far, in nanoseconds.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Subscribes everyone, publishes through the warm-up and the measured window, then
/// stops the publisher and checks that every subscriber got every message.
async fn run(
    addr: SocketAddr,
    server_pid: u32,
    warmup: Duration,
    window: Duration,
) -> Result<Fanout, String> {
    let frame = frame_len(CHANNEL.len(), PAYLOAD) as u64;
    let (subs, publisher) = tokio::time::timeout(SETUP_TIMEOUT, async {
        let mut subs = Vec::with_capacity(SUBSCRIBERS);
        for _ in 0..SUBSCRIBERS {
            subs.push(subscribe(addr).await?);
        }
        let publisher = connect(addr).await?;
        Ok::<_, String>((subs, publisher))
    })
    .await
    .map_err(|_| format!("connecting and subscribing took over {SETUP_TIMEOUT:?}"))??;

    let shared = Arc::new(Shared {
        received: (0..SUBSCRIBERS).map(|_| AtomicU64::new(0)).collect(),
        total: AtomicU64::new(0),
        published: AtomicU64::new(0),
        closed: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
        progress: Notify::new(),
    });
    // Dropped with the runtime when the run ends, which closes the connections.
    for (i, s) in subs.into_iter().enumerate() {
        tokio::spawn(count(s, i, shared.clone()));
    }
    let publishing = tokio::spawn(publish(publisher, shared.clone(), frame));

    tokio::time::sleep(warmup).await;
    let snap = || {
        (
            Instant::now(),
            shared.total.load(Relaxed),
            shared.published.load(Relaxed),
            procs::cpu_ns(server_pid),
            thread_cpu_ns(),
        )
    };
    let (t0, bytes0, published0, server0, client0) = snap();
    tokio::time::sleep(window).await;
    let (t1, bytes1, published1, server1, client1) = snap();
    shared.stop.store(true, Relaxed);
    shared.progress.notify_one();

    let published = match tokio::time::timeout(SETUP_TIMEOUT, publishing).await {
        Ok(Ok(result)) => result?,
        Ok(Err(e)) => return Err(format!("the publisher task failed: {e}")),
        Err(_) => {
            return Err(format!(
                "the publisher did not stop within {SETUP_TIMEOUT:?}"
            ))
        }
    };
    drain(&shared, published * frame).await?;

    let secs = (t1 - t0).as_secs_f64();
    let msgs = (bytes1 - bytes0) as f64 / frame as f64;
    if msgs <= 0.0 {
        return Err("no messages delivered in the measured window".into());
    }
    let delta = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) if b > a => Some((b - a) as f64),
        _ => None,
    };
    let server_ns = delta(server0, server1);
    Ok(Fanout {
        delivered_per_sec: msgs / secs,
        published_per_sec: (published1 - published0) as f64 / secs,
        server_ns_per_msg: server_ns.map(|ns| ns / msgs),
        server_util: server_ns.map(|ns| ns / 1e9 / secs),
        client_util: delta(client0, client1).map(|ns| ns / 1e9 / secs),
        client_cpus: None,
    })
}

async fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let s = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    // The publisher writes small batches while replies are outstanding: Nagle's
    // algorithm would hold them for an ACK.
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    Ok(s)
}

/// A connection subscribed to `CHANNEL`, its confirmation read and checked.
async fn subscribe(addr: SocketAddr) -> Result<TcpStream, String> {
    let mut s = connect(addr).await?;
    let cmd = encode_command(&[b"SUBSCRIBE".to_vec(), CHANNEL.to_vec()]);
    s.write_all(&cmd)
        .await
        .map_err(|e| format!("SUBSCRIBE: {e}"))?;
    let want = subscribe_reply(CHANNEL);
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    // Until the whole confirmation is in, or a full line of something else (such
    // as "-ERR unknown command") is.
    while got.len() < want.len() && (want.starts_with(&got) || !got.contains(&b'\n')) {
        let n = s
            .read(&mut buf)
            .await
            .map_err(|e| format!("SUBSCRIBE: {e}"))?;
        if n == 0 {
            return Err(format!(
                "SUBSCRIBE: connection closed after {}",
                escape(&got, 120)
            ));
        }
        got.extend_from_slice(&buf[..n]);
    }
    // Nothing is published yet, so nothing may follow the confirmation.
    if got != want {
        return Err(format!(
            "SUBSCRIBE answered {} instead of {}",
            escape(&got, 120),
            escape(&want, 80)
        ));
    }
    Ok(s)
}

/// Counts the bytes subscriber `i` receives until its connection ends.
async fn count(mut s: TcpStream, i: usize, shared: Arc<Shared>) {
    let mut buf = vec![0u8; READ_BUF];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => {
                shared.closed.fetch_add(1, Relaxed);
                return;
            }
            Ok(n) => {
                shared.received[i].fetch_add(n as u64, Relaxed);
                shared.total.fetch_add(n as u64, Relaxed);
                shared.progress.notify_one();
            }
        }
    }
}

/// Publishes until `stop`, keeping `WINDOW` commands in flight (fewer while the
/// subscribers lag by `MAX_LAG`), every reply checked; returns the messages published.
async fn publish(mut s: TcpStream, shared: Arc<Shared>, frame: u64) -> Result<u64, String> {
    let cmd = encode_command(&[b"PUBLISH".to_vec(), CHANNEL.to_vec(), vec![b'x'; PAYLOAD]]);
    let want = format!(":{SUBSCRIBERS}\r\n").into_bytes();
    let lag_bytes = MAX_LAG * SUBSCRIBERS as u64 * frame;
    let (mut out, mut pending, mut buf) = (Vec::new(), Vec::new(), vec![0u8; 16 * 1024]);
    let (mut sent, mut acked) = (0u64, 0u64);
    loop {
        let stopping = shared.stop.load(Relaxed);
        if !stopping {
            let delivered = shared.total.load(Relaxed);
            while sent - acked < WINDOW
                && (sent * SUBSCRIBERS as u64 * frame).saturating_sub(delivered) < lag_bytes
            {
                out.extend_from_slice(&cmd);
                sent += 1;
            }
            if !out.is_empty() {
                s.write_all(&out)
                    .await
                    .map_err(|e| format!("PUBLISH: {e}"))?;
                out.clear();
            }
        }
        if sent == acked {
            if stopping {
                return Ok(sent);
            }
            // Nothing in flight: only the lag bound holds us back.
            shared.progress.notified().await;
            continue;
        }
        let n = s
            .read(&mut buf)
            .await
            .map_err(|e| format!("PUBLISH: {e}"))?;
        if n == 0 {
            return Err("the publisher's connection was closed".into());
        }
        pending.extend_from_slice(&buf[..n]);
        acked += take_replies(&mut pending, &want)?;
        shared.published.store(acked, Relaxed);
    }
}

/// Waits until every subscriber has received `expected` bytes: all it was sent, if
/// the server sent nothing but `message` frames of the expected size.
async fn drain(shared: &Shared, expected: u64) -> Result<(), String> {
    let deadline = Instant::now() + SETUP_TIMEOUT;
    loop {
        let got: Vec<u64> = shared.received.iter().map(|r| r.load(Relaxed)).collect();
        if let Some((i, &n)) = got.iter().enumerate().find(|(_, &n)| n > expected) {
            return Err(format!(
                "subscriber {i} received {n} bytes, more than the {expected} of the \
                 messages published: the server sent other frames than expected"
            ));
        }
        if got.iter().all(|&n| n == expected) {
            return Ok(());
        }
        let closed = shared.closed.load(Relaxed);
        if closed > 0 || Instant::now() >= deadline {
            let short = got.iter().filter(|&&n| n < expected).count();
            return Err(format!(
                "{short} subscriber(s) received less than the {expected} bytes published \
                 ({closed} connection(s) closed){}",
                if closed > 0 {
                    ""
                } else {
                    " within the drain timeout"
                }
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_frame_length() {
        let literal = format!(
            "*3\r\n$7\r\nmessage\r\n$12\r\nbench:fanout\r\n$64\r\n{}\r\n",
            "x".repeat(64)
        );
        assert_eq!(frame_len(CHANNEL.len(), PAYLOAD), literal.len());
        assert_eq!(frame_len(12, 64), 107);
        // Lengths across the digit-count boundaries of both headers.
        for c in [1, 9, 10, 99, 100] {
            for p in [0, 9, 10, 999, 1000, 65536] {
                let frame = encode_command(&[b"message".to_vec(), vec![b'c'; c], vec![b'p'; p]]);
                assert_eq!(frame_len(c, p), frame.len(), "channel {c}, payload {p}");
            }
        }
    }

    #[test]
    fn subscribe_confirmation() {
        assert_eq!(
            subscribe_reply(b"bench:fanout"),
            b"*3\r\n$9\r\nsubscribe\r\n$12\r\nbench:fanout\r\n:1\r\n"
        );
    }

    #[test]
    fn publish_replies() {
        let want = b":100\r\n";
        let mut p = b":100\r\n:100\r\n:10".to_vec();
        assert_eq!(take_replies(&mut p, want), Ok(2));
        assert_eq!(p, b":10");
        p.extend_from_slice(b"0\r\n");
        assert_eq!(take_replies(&mut p, want), Ok(1));
        assert!(p.is_empty());
        assert_eq!(take_replies(&mut p, want), Ok(0));
        let mut p = b":100\r\n:99\r\n".to_vec();
        assert!(take_replies(&mut p, want).unwrap_err().contains(":99"));
        let mut p = b"-ERR unknown command 'PUBLISH'\r\n".to_vec();
        assert!(take_replies(&mut p, want)
            .unwrap_err()
            .contains("ERR unknown"));
    }
}
