//! MONITOR: every executed command, as Redis prints it, streamed to the
//! clients in monitor mode.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::dispatch::table::{flag, Cmd};
use crate::session::client::Client;
use crate::signals::Signals;
use crate::state::ClientInfo;

#[derive(Default)]
pub struct Monitors {
    count: AtomicUsize,
    list: Mutex<Vec<Arc<ClientInfo>>>,
}

impl Monitors {
    pub fn add(&self, c: Arc<ClientInfo>) {
        c.monitor.store(true, Relaxed);
        let mut l = self.list.lock();
        l.push(c);
        self.count.store(l.len(), Relaxed);
    }

    pub fn remove(&self, id: u64) {
        let mut l = self.list.lock();
        l.retain(|c| {
            if c.id == id {
                c.monitor.store(false, Relaxed);
            }
            c.id != id
        });
        self.count.store(l.len(), Relaxed);
    }

    pub fn is_empty(&self) -> bool {
        self.count.load(Relaxed) == 0
    }
}

/// Sends one executed command to the monitors (not admin commands, as in
/// Redis, and with passwords redacted). The issuing client sees its own
/// line after its reply.
pub fn feed(
    sig: &Signals,
    client: &mut Client,
    cmd: &Cmd,
    argv: &[Bytes],
    redacted: &[usize],
    from_script: bool,
    now_ms: u64,
) {
    if cmd.has(flag::ADMIN | flag::SKIP_MONITOR) {
        return;
    }
    send(sig, client, argv, redacted, from_script, now_ms);
}

/// Sends the command that runs a script (FCALL, FCALL_RO) to the monitors
/// before the script's own commands, as Redis shows it: these commands
/// skip the feed after they ran.
pub fn feed_script_caller(sig: &Signals, client: &mut Client, argv: &[Bytes], now_ms: u64) {
    send(sig, client, argv, &[], false, now_ms);
}

fn send(
    sig: &Signals,
    client: &mut Client,
    argv: &[Bytes],
    redacted: &[usize],
    from_script: bool,
    now_ms: u64,
) {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        t.as_secs(),
        t.subsec_micros(),
        client.db,
        if from_script {
            "lua"
        } else {
            &client.info.addr
        }
    )
    .into_bytes();
    for (i, a) in argv.iter().enumerate() {
        line.push(b' ');
        if redacted.contains(&i) {
            line.extend_from_slice(b"\"(redacted)\"");
        } else {
            rubedo_resp::quote_into(&mut line, a);
        }
    }
    line.extend_from_slice(b"\r\n");
    let frame = Bytes::from(line);
    let monitors: Vec<Arc<ClientInfo>> = sig.monitors.list.lock().clone();
    for m in monitors {
        if m.id == client.id {
            client.info.outbox.push_own_after(frame.clone());
        } else {
            sig.hub.deliver(&m, frame.clone(), now_ms, 0);
        }
    }
}
