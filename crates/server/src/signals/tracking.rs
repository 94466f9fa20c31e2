//! Client-side caching (CLIENT TRACKING): which clients may cache which
//! keys, and the invalidation messages sent when those keys change.
//!
//! Default mode remembers the keys a client read (table: key → client ids,
//! one entry per key across databases, as Redis keeps it) and invalidates an
//! entry once, on the key's first change. BCAST mode remembers nothing per
//! key: clients register prefixes, and every modified key matching a prefix
//! is collected and sent at the end of the modifying connection's batch.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};

use ahash::{AHashMap, AHashSet};
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use rubedo_pubsub::Subscriber;
use rubedo_resp::encode::{write_array_len, write_bulk, write_null, write_push_len};
use rubedo_resp::Protocol;

use crate::session::client::Client;
use crate::signals::Signals;
use crate::state::{ClientInfo, Clients};

/// Tracking flags of a client (`ClientInfo::tracking`).
pub mod flags {
    pub const ON: u32 = 1;
    pub const BCAST: u32 = 2;
    pub const OPTIN: u32 = 4;
    pub const OPTOUT: u32 = 8;
    pub const NOLOOP: u32 = 16;
    /// CLIENT CACHING YES/NO was given for the next command.
    pub const CACHING: u32 = 32;
    pub const BROKEN_REDIR: u32 = 64;
}

/// A client's tracking state that other clients read when they invalidate.
#[derive(Default)]
pub struct ClientTracking {
    pub flags: AtomicU32,
    /// The client invalidations are redirected to (0 = none).
    pub redirect: AtomicU64,
}

#[derive(Default)]
struct Bcast {
    clients: AHashSet<u64>,
    /// Keys modified since the last broadcast (each once, in key order, as
    /// Redis's radix tree keeps them), with the client that last changed it.
    pending: BTreeMap<Bytes, u64>,
}

#[derive(Default)]
struct State {
    keys: AHashMap<Bytes, AHashSet<u64>>,
    /// Client ids over all keys (INFO tracking_total_items).
    items: usize,
    prefixes: BTreeMap<Bytes, Bcast>,
    pending: bool,
    /// Cron calls in a row that found the table still over
    /// tracking-table-max-keys: each call's effort grows with it.
    over_limit_calls: usize,
}

/// Keys forgotten to get back under the limit, with the clients to tell.
type Evicted = Vec<(Bytes, AHashSet<u64>)>;

/// Forgets arbitrary keys while the table holds more than `max` (0 =
/// unlimited), at most `budget` of them.
fn evict_over(st: &mut State, max: usize, budget: usize, out: &mut Evicted) {
    let mut left = budget;
    while max > 0 && st.keys.len() > max && left > 0 {
        let Some(k) = st.keys.keys().next().cloned() else {
            break;
        };
        if let Some(ids) = st.keys.remove(&k) {
            st.items -= ids.len();
            out.push((k, ids));
        }
        left -= 1;
    }
}

/// The server-wide tracking tables.
#[derive(Default)]
pub struct Tracking {
    /// Clients with tracking on (INFO tracking_clients).
    clients: AtomicUsize,
    /// Keys plus prefixes in the tables: while 0 (and nobody tracks), the
    /// write path skips the lock.
    entries: AtomicUsize,
    state: Mutex<State>,
    /// tracking-table-max-keys (0 = unlimited), shared with the configuration.
    pub max_keys: std::sync::Arc<AtomicU64>,
}

/// What an invalidation carries: some keys, or "everything" (a flush).
enum Payload<'a> {
    Keys(&'a [Bytes]),
    All,
}

impl Tracking {
    pub fn new(max_keys: std::sync::Arc<AtomicU64>) -> Tracking {
        Tracking {
            max_keys,
            ..Tracking::default()
        }
    }

    pub fn clients(&self) -> usize {
        self.clients.load(Relaxed)
    }

    /// (keys, items, prefixes) for INFO.
    pub fn totals(&self) -> (usize, usize, usize) {
        let st = self.state.lock();
        (st.keys.len(), st.items, st.prefixes.len())
    }

    /// Nothing to invalidate and nobody to tell. Entries outlive the
    /// clients that made them (as in Redis): a client that turns tracking
    /// on again is still told about keys it read before.
    fn idle(&self) -> bool {
        self.clients.load(Relaxed) == 0 && self.entries.load(Relaxed) == 0
    }

    fn count_entries(&self, st: &State) {
        self.entries
            .store(st.keys.len() + st.prefixes.len(), Relaxed);
    }
}

/// Turns tracking on for `client` (CLIENT TRACKING ON, options checked).
pub fn enable(
    tables: &Tracking,
    client: &mut Client,
    redirect: u64,
    opts: u32,
    prefixes: &[Bytes],
) {
    let t = &client.info.tracking;
    let old = t.flags.load(Relaxed);
    if old & flags::ON == 0 {
        tables.clients.fetch_add(1, Relaxed);
    }
    t.redirect.store(redirect, Relaxed);
    let mut f = flags::ON | (opts & (flags::OPTIN | flags::OPTOUT | flags::NOLOOP));
    f |= old & flags::CACHING;
    if opts & flags::BCAST != 0 {
        f |= flags::BCAST;
        let mut st = tables.state.lock();
        let list: Vec<Bytes> = if prefixes.is_empty() {
            vec![Bytes::new()]
        } else {
            prefixes.to_vec()
        };
        for p in list {
            st.prefixes
                .entry(p.clone())
                .or_default()
                .clients
                .insert(client.id);
            client.tracking_prefixes.insert(p);
        }
        tables.count_entries(&st);
    }
    t.flags.store(f, Relaxed);
}

/// Turns tracking off (CLIENT TRACKING OFF, RESET, disconnect).
pub fn disable(tables: &Tracking, client: &mut Client) {
    let t = &client.info.tracking;
    if t.flags.load(Relaxed) & flags::ON == 0 {
        return;
    }
    if !client.tracking_prefixes.is_empty() {
        let mut st = tables.state.lock();
        for p in std::mem::take(&mut client.tracking_prefixes) {
            if let Some(b) = st.prefixes.get_mut(&p) {
                b.clients.remove(&client.id);
                if b.clients.is_empty() {
                    st.prefixes.remove(&p);
                }
            }
        }
        tables.count_entries(&st);
    }
    t.flags.store(0, Relaxed);
    t.redirect.store(0, Relaxed);
    tables.clients.fetch_sub(1, Relaxed);
}

/// After a read-only command: remembers its keys for a default-mode client
/// (respecting OPTIN/OPTOUT and CLIENT CACHING).
pub fn remember(
    sig: &Signals,
    clients: &Clients,
    client: &mut Client,
    keys: impl Iterator<Item = Bytes>,
    now: u64,
) {
    let f = client.info.tracking.flags.load(Relaxed);
    if f & flags::ON == 0 || f & flags::BCAST != 0 {
        return;
    }
    let caching = f & flags::CACHING != 0;
    if (f & flags::OPTIN != 0 && !caching) || (f & flags::OPTOUT != 0 && caching) {
        return;
    }
    let max = sig.tracking.max_keys.load(Relaxed) as usize;
    let mut evicted = Vec::new();
    {
        let mut st = sig.tracking.state.lock();
        for k in keys {
            if st.keys.entry(k).or_default().insert(client.id) {
                st.items += 1;
            }
        }
        // Over tracking-table-max-keys: forget arbitrary keys, telling
        // their clients to drop them too.
        evict_over(&mut st, max, usize::MAX, &mut evicted);
        sig.tracking.count_entries(&st);
    }
    for (k, ids) in evicted {
        let k = [k];
        for id in ids {
            invalidate(sig, clients, id, &k, Some(&mut *client), now, false);
        }
    }
}

/// From the cron: while the table holds more keys than
/// tracking-table-max-keys allows (it was lowered by CONFIG SET), forgets
/// some, one invalidation per key to each client that tracked it, as
/// Redis does. Each call does a bounded amount of work (100 keys, more on
/// each call that finds the table still over the limit), and nothing while
/// no client has tracking on.
pub fn enforce_limit(sig: &Signals, clients: &Clients, now: u64) {
    let t = &sig.tracking;
    let max = t.max_keys.load(Relaxed) as usize;
    if max == 0 || t.clients() == 0 {
        return;
    }
    let mut evicted = Vec::new();
    {
        let mut st = t.state.lock();
        if st.keys.len() <= max {
            st.over_limit_calls = 0;
            return;
        }
        let budget = 100 * (st.over_limit_calls + 1);
        evict_over(&mut st, max, budget, &mut evicted);
        if st.keys.len() > max {
            st.over_limit_calls += 1;
        } else {
            st.over_limit_calls = 0;
        }
        t.count_entries(&st);
    }
    for (k, ids) in evicted {
        let k = [k];
        for id in ids {
            invalidate(sig, clients, id, &k, None, now, false);
        }
    }
}

/// Tells client `id` to drop `keys` if it still tracks in default mode.
/// `current` is the client running the command (its message follows its
/// reply; with NOLOOP it gets none when `by_current`).
fn invalidate(
    sig: &Signals,
    clients: &Clients,
    id: u64,
    keys: &[Bytes],
    current: Option<&mut Client>,
    now: u64,
    by_current: bool,
) {
    if let Some(c) = current.filter(|c| c.id == id) {
        let f = c.info.tracking.flags.load(Relaxed);
        if f & flags::ON == 0 || f & flags::BCAST != 0 || (by_current && f & flags::NOLOOP != 0) {
            return;
        }
        let info = c.info.clone();
        send(sig, clients, &info, Payload::Keys(keys), Some(c), now);
        return;
    }
    let Some(target) = clients.client(id) else {
        return;
    };
    let f = target.tracking.flags.load(Relaxed);
    if f & flags::ON == 0 || f & flags::BCAST != 0 {
        return;
    }
    send(sig, clients, &target, Payload::Keys(keys), None, now);
}

/// The key-modified signal: invalidates the clients that cached `key`, and
/// queues it for BCAST clients whose prefix matches. `current` is the
/// client whose command changed it (its own invalidation follows its reply).
pub fn modified(
    sig: &Signals,
    clients: &Clients,
    key: &[u8],
    mut current: Option<&mut Client>,
    now: u64,
) {
    if sig.tracking.idle() {
        return;
    }
    let by = current.as_ref().map_or(0, |c| c.id);
    let ids = {
        let mut st = sig.tracking.state.lock();
        if !st.prefixes.is_empty() {
            let mut any = false;
            for (p, b) in st.prefixes.iter_mut() {
                if key.starts_with(p) {
                    b.pending.insert(Bytes::copy_from_slice(key), by);
                    any = true;
                }
            }
            st.pending |= any;
        }
        let ids = st.keys.remove(key);
        if let Some(ids) = &ids {
            st.items -= ids.len();
        }
        sig.tracking.count_entries(&st);
        match ids {
            Some(ids) => ids,
            None => return,
        }
    };
    let k = [Bytes::copy_from_slice(key)];
    for id in ids {
        invalidate(sig, clients, id, &k, current.as_deref_mut(), now, true);
    }
}

/// FLUSHALL / FLUSHDB: every tracking client drops its whole cache.
pub fn flushed(sig: &Signals, clients: &Clients, current: &mut Client, now: u64) {
    if sig.tracking.idle() {
        return;
    }
    let everyone: Vec<_> = if sig.tracking.clients() == 0 {
        Vec::new()
    } else {
        clients.snapshot()
    };
    for c in everyone {
        if c.tracking.flags.load(Relaxed) & flags::ON == 0 {
            continue;
        }
        if c.id == current.id {
            let info = current.info.clone();
            send(sig, clients, &info, Payload::All, Some(current), now);
        } else {
            send(sig, clients, &c, Payload::All, None, now);
        }
    }
    let mut st = sig.tracking.state.lock();
    st.keys.clear();
    st.items = 0;
    sig.tracking.count_entries(&st);
}

/// One prefix's pending key → last modifier, and the clients to tell.
type Batch = (BTreeMap<Bytes, u64>, Vec<u64>);

/// Sends the keys collected for BCAST prefixes since the last call: one
/// message per prefix and client, without the client's own changes if it
/// asked for NOLOOP. Messages for `current` follow its replies.
pub fn broadcast(sig: &Signals, clients: &Clients, mut current: Option<&mut Client>, now: u64) {
    if sig.tracking.idle() {
        return;
    }
    let work: Vec<Batch> = {
        let mut st = sig.tracking.state.lock();
        if !st.pending {
            return;
        }
        st.pending = false;
        st.prefixes
            .values_mut()
            .filter(|b| !b.pending.is_empty())
            .map(|b| {
                (
                    std::mem::take(&mut b.pending),
                    b.clients.iter().copied().collect(),
                )
            })
            .collect()
    };
    for (keys, ids) in work {
        for id in ids {
            let target = match current.as_deref() {
                Some(c) if c.id == id => c.info.clone(),
                _ => match clients.client(id) {
                    Some(t) => t,
                    None => continue,
                },
            };
            let noloop = target.tracking.flags.load(Relaxed) & flags::NOLOOP != 0;
            let list: Vec<Bytes> = keys
                .iter()
                .filter(|(_, by)| !(noloop && **by == id))
                .map(|(k, _)| k.clone())
                .collect();
            if list.is_empty() {
                continue;
            }
            let me = current.as_deref_mut().filter(|c| c.id == id);
            send(sig, clients, &target, Payload::Keys(&list), me, now);
        }
    }
}

/// Sends one invalidation for tracking client `c`, to itself or to its
/// redirection target. When `c` is the client running the command (`me`),
/// its own message is written after the reply.
fn send(
    sig: &Signals,
    clients: &Clients,
    c: &ClientInfo,
    payload: Payload,
    me: Option<&mut Client>,
    now: u64,
) {
    let redirect = c.tracking.redirect.load(Relaxed);
    let own_proto = c.protocol();
    let receiver;
    let to = if redirect != 0 {
        match clients.client(redirect) {
            Some(r) => {
                receiver = r;
                &*receiver
            }
            None => {
                c.tracking.flags.fetch_or(flags::BROKEN_REDIR, Relaxed);
                if own_proto == Protocol::Resp3 {
                    let mut b = BytesMut::new();
                    write_push_len(&mut b, 2, Protocol::Resp3);
                    write_bulk(&mut b, b"tracking-redir-broken");
                    rubedo_resp::encode::write_int(&mut b, redirect as i64);
                    deliver(&sig.hub, c, b.freeze(), me, now);
                }
                return;
            }
        }
    } else {
        c
    };
    let mut b = BytesMut::new();
    if to.protocol() == Protocol::Resp3 {
        write_push_len(&mut b, 2, Protocol::Resp3);
        write_bulk(&mut b, b"invalidate");
    } else if redirect != 0 && to.is_pubsub() {
        write_array_len(&mut b, 3);
        write_bulk(&mut b, b"message");
        write_bulk(&mut b, b"__redis__:invalidate");
    } else {
        // RESP2 without a subscribed redirection target: no way to tell it.
        return;
    }
    match payload {
        Payload::Keys(keys) => {
            write_array_len(&mut b, keys.len());
            for k in keys {
                write_bulk(&mut b, k);
            }
        }
        // The null is in the tracking client's own protocol, as Redis writes it.
        Payload::All => write_null(&mut b, own_proto),
    }
    let me = me.filter(|m| m.id == to.id);
    deliver(&sig.hub, to, b.freeze(), me, now);
}

fn deliver(
    hub: &rubedo_pubsub::Hub<ClientInfo>,
    to: &ClientInfo,
    frame: Bytes,
    me: Option<&mut Client>,
    now: u64,
) {
    match me {
        Some(m) if m.id == to.id => m.info.outbox.push_own_after(frame),
        _ => hub.deliver(to, frame, now, 0),
    }
}
