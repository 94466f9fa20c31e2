//! Channels, patterns and shard channels: who listens to what, and
//! delivery of published messages to their subscribers' outboxes.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use ahash::AHashMap;
use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use rubedo_engine::glob::glob_match;
use rubedo_resp::encode::{write_bulk, write_int, write_null, write_push_len};
use rubedo_resp::Protocol;

use crate::outbox::{Class, Limits, Outbox, Pushed};

/// A client as the hub sees it: something with an outbox.
pub trait Subscriber: Send + Sync + 'static {
    fn id(&self) -> u64;
    fn outbox(&self) -> &Outbox;
    fn protocol(&self) -> Protocol;
    /// The output-buffer-limit class the client is in now.
    fn class(&self) -> Class;
    /// A push took the client past its output-buffer limit: disconnect it.
    fn overflowed(&self);
}

/// The three namespaces a client can subscribe in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    fn subscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"subscribe",
            Kind::Pattern => b"psubscribe",
            Kind::Shard => b"ssubscribe",
        }
    }

    fn unsubscribe_word(self) -> &'static [u8] {
        match self {
            Kind::Channel => b"unsubscribe",
            Kind::Pattern => b"punsubscribe",
            Kind::Shard => b"sunsubscribe",
        }
    }
}

/// A set that remembers insertion order: a client leaves its patterns in
/// the order it joined them (as Redis 7.0 keeps them, in a list). Both
/// insertion and removal are O(log n), so leaving 100,000 channels is not
/// quadratic.
#[derive(Default, Debug)]
pub struct NameSet {
    order: std::collections::BTreeMap<u64, Bytes>,
    index: AHashMap<Bytes, u64>,
    next: u64,
}

impl NameSet {
    pub fn insert(&mut self, name: Bytes) -> bool {
        if self.index.contains_key(&name) {
            return false;
        }
        self.next += 1;
        self.index.insert(name.clone(), self.next);
        self.order.insert(self.next, name);
        true
    }

    pub fn remove(&mut self, name: &Bytes) -> bool {
        match self.index.remove(name) {
            Some(seq) => {
                self.order.remove(&seq);
                true
            }
            None => false,
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Bytes> {
        self.order.values()
    }

    /// Empties the set, handing back the names in order.
    fn take_all(&mut self) -> Vec<Bytes> {
        self.index.clear();
        std::mem::take(&mut self.order).into_values().collect()
    }
}

/// One client's subscriptions, kept by its connection.
#[derive(Default, Debug)]
pub struct ClientSubs {
    pub channels: NameSet,
    pub patterns: NameSet,
    pub shard: NameSet,
}

impl ClientSubs {
    fn set(&mut self, kind: Kind) -> &mut NameSet {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// The count a (un)subscribe confirmation reports: channels and
    /// patterns together, shard channels on their own (as Redis counts).
    pub fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard.len(),
            _ => self.channels.len() + self.patterns.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty() && self.shard.is_empty()
    }
}

type Subs<S> = Vec<Arc<S>>;

struct State<S> {
    channels: AHashMap<Bytes, Subs<S>>,
    patterns: AHashMap<Bytes, Subs<S>>,
    shard: AHashMap<Bytes, Subs<S>>,
}

impl<S> State<S> {
    fn map(&mut self, kind: Kind) -> &mut AHashMap<Bytes, Subs<S>> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }
}

/// The subscription registry. One lock orders registrations, confirmations
/// and deliveries, so a subscriber sees its confirmation before any message
/// sent to what it subscribed, under either engine.
pub struct Hub<S> {
    state: Mutex<State<S>>,
    /// Output-buffer limits per client class (client-output-buffer-limit),
    /// shared with the configuration that changes them.
    pub limits: Arc<Limits>,
    /// Distinct channels, patterns and shard channels with a subscriber.
    counts: [AtomicUsize; 3],
}

impl<S: Subscriber> Default for Hub<S> {
    fn default() -> Self {
        Hub::new(Arc::default())
    }
}

impl<S: Subscriber> Hub<S> {
    pub fn new(limits: Arc<Limits>) -> Self {
        Hub {
            state: Mutex::new(State {
                channels: AHashMap::new(),
                patterns: AHashMap::new(),
                shard: AHashMap::new(),
            }),
            limits,
            counts: Default::default(),
        }
    }
}

/// Encodes a push (RESP3) or array (RESP2) of bulk strings.
pub fn encode_push(proto: Protocol, parts: &[&[u8]]) -> Bytes {
    let len: usize = parts.iter().map(|p| p.len() + 16).sum();
    let mut b = BytesMut::with_capacity(len + 8);
    write_push_len(&mut b, parts.len(), proto);
    for p in parts {
        write_bulk(&mut b, p);
    }
    b.freeze()
}

/// A frame encoded lazily once per protocol, shared by every receiver.
struct PerProto<'a> {
    parts: &'a [&'a [u8]],
    enc: [Option<Bytes>; 2],
}

impl<'a> PerProto<'a> {
    fn new(parts: &'a [&'a [u8]]) -> Self {
        PerProto {
            parts,
            enc: [None, None],
        }
    }

    fn get(&mut self, proto: Protocol) -> Bytes {
        let i = (proto == Protocol::Resp3) as usize;
        self.enc[i]
            .get_or_insert_with(|| encode_push(proto, self.parts))
            .clone()
    }
}

impl<S: Subscriber> Hub<S> {
    /// Queues `frame` for `sub`, disconnecting it if that crosses its limit.
    /// `me` is the client whose command is running (0: none): a frame for it
    /// is kept apart and written just before that command's reply.
    pub fn deliver(&self, sub: &S, frame: Bytes, now_ms: u64, me: u64) {
        if sub.id() == me {
            sub.outbox().push_own(frame);
            return;
        }
        let limit = self.limits.get(sub.class());
        if sub.outbox().push(frame, limit, now_ms) == Pushed::Overflow {
            sub.overflowed();
        }
    }

    /// Subscribes `sub` to `names` and queues one confirmation per name.
    pub fn subscribe(
        &self,
        sub: &Arc<S>,
        subs: &mut ClientSubs,
        kind: Kind,
        names: &[Bytes],
        now_ms: u64,
    ) {
        let proto = sub.protocol();
        let mut st = self.state.lock();
        for name in names {
            if subs.set(kind).insert(name.clone()) {
                let list = st.map(kind).entry(name.clone()).or_default();
                if list.is_empty() {
                    self.counts[kind as usize].fetch_add(1, Relaxed);
                }
                list.push(sub.clone());
            }
            let frame = confirmation(proto, kind.subscribe_word(), Some(name), subs.count(kind));
            self.deliver(sub, frame, now_ms, sub.id());
        }
    }

    /// Unsubscribes `sub` from `names` (all of that kind when None), queueing
    /// one confirmation per name; with nothing to leave, one with a null name.
    pub fn unsubscribe(
        &self,
        sub: &Arc<S>,
        subs: &mut ClientSubs,
        kind: Kind,
        names: Option<&[Bytes]>,
        now_ms: u64,
    ) {
        let proto = sub.protocol();
        let all: Vec<Bytes>;
        let names = match names {
            Some(n) => n,
            None => {
                all = subs.set(kind).iter().cloned().collect();
                &all
            }
        };
        let mut st = self.state.lock();
        if names.is_empty() {
            let frame = confirmation(proto, kind.unsubscribe_word(), None, subs.count(kind));
            self.deliver(sub, frame, now_ms, sub.id());
            return;
        }
        for name in names {
            if subs.set(kind).remove(name) {
                self.remove(&mut st, kind, name, sub.id());
            }
            let frame = confirmation(proto, kind.unsubscribe_word(), Some(name), subs.count(kind));
            self.deliver(sub, frame, now_ms, sub.id());
        }
    }

    fn remove(&self, st: &mut State<S>, kind: Kind, name: &Bytes, id: u64) {
        let map = st.map(kind);
        if let Some(list) = map.get_mut(name) {
            if let Some(i) = list.iter().position(|s| s.id() == id) {
                list.remove(i);
            }
            if list.is_empty() {
                map.remove(name);
                self.counts[kind as usize].fetch_sub(1, Relaxed);
            }
        }
    }

    /// Drops every subscription of a client that is going away (no replies).
    pub fn forget(&self, id: u64, subs: &mut ClientSubs) {
        if subs.is_empty() {
            return;
        }
        let mut st = self.state.lock();
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for name in subs.set(kind).take_all() {
                self.remove(&mut st, kind, &name, id);
            }
        }
    }

    /// True if any client subscribed to a channel or pattern (what PUBLISH
    /// can reach).
    pub fn has_listeners(&self) -> bool {
        self.counts[0].load(Relaxed) != 0 || self.counts[1].load(Relaxed) != 0
    }

    /// PUBLISH: delivers to the channel's subscribers and to every matching
    /// pattern's subscribers; returns how many deliveries were made.
    pub fn publish(&self, channel: &[u8], message: &[u8], now_ms: u64, me: u64) -> usize {
        if !self.has_listeners() {
            return 0;
        }
        let st = self.state.lock();
        let mut n = 0;
        if let Some(list) = st.channels.get(channel) {
            let parts: [&[u8]; 3] = [b"message", channel, message];
            let mut f = PerProto::new(&parts);
            for s in list {
                self.deliver(s, f.get(s.protocol()), now_ms, me);
            }
            n += list.len();
        }
        for (pat, list) in &st.patterns {
            if !glob_match(pat, channel, false) {
                continue;
            }
            let parts: [&[u8]; 4] = [b"pmessage", pat, channel, message];
            let mut f = PerProto::new(&parts);
            for s in list {
                self.deliver(s, f.get(s.protocol()), now_ms, me);
            }
            n += list.len();
        }
        n
    }

    /// SPUBLISH: delivers to the shard channel's subscribers.
    pub fn spublish(&self, channel: &[u8], message: &[u8], now_ms: u64, me: u64) -> usize {
        if self.counts[2].load(Relaxed) == 0 {
            return 0;
        }
        let st = self.state.lock();
        let Some(list) = st.shard.get(channel) else {
            return 0;
        };
        let parts: [&[u8]; 3] = [b"smessage", channel, message];
        let mut f = PerProto::new(&parts);
        for s in list {
            self.deliver(s, f.get(s.protocol()), now_ms, me);
        }
        list.len()
    }

    /// Channels (or shard channels) with at least one subscriber, optionally
    /// only those matching a glob pattern.
    pub fn channels(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let mut st = self.state.lock();
        st.map(kind)
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// Subscriber counts of the given channels (or shard channels).
    pub fn numsub(&self, kind: Kind, names: &[Bytes]) -> Vec<usize> {
        let mut st = self.state.lock();
        let map = st.map(kind);
        names
            .iter()
            .map(|n| map.get(n).map_or(0, |l| l.len()))
            .collect()
    }

    /// How many distinct channels, patterns or shard channels have a subscriber.
    pub fn count(&self, kind: Kind) -> usize {
        self.counts[kind as usize].load(Relaxed)
    }
}

/// `[word, name, count]`: a (un)subscribe confirmation.
fn confirmation(proto: Protocol, word: &[u8], name: Option<&Bytes>, count: usize) -> Bytes {
    let mut b = BytesMut::with_capacity(32 + name.map_or(0, |n| n.len()));
    write_push_len(&mut b, 3, proto);
    write_bulk(&mut b, word);
    match name {
        Some(n) => write_bulk(&mut b, n),
        None => write_null(&mut b, proto),
    }
    write_int(&mut b, count as i64);
    b.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    struct T {
        id: u64,
        out: Outbox,
        proto: Protocol,
        dead: AtomicBool,
    }

    impl Subscriber for T {
        fn id(&self) -> u64 {
            self.id
        }
        fn outbox(&self) -> &Outbox {
            &self.out
        }
        fn protocol(&self) -> Protocol {
            self.proto
        }
        fn class(&self) -> Class {
            Class::Pubsub
        }
        fn overflowed(&self) {
            self.dead.store(true, Relaxed);
        }
    }

    fn client(id: u64, proto: Protocol) -> Arc<T> {
        Arc::new(T {
            id,
            out: Outbox::new(),
            proto,
            dead: AtomicBool::new(false),
        })
    }

    /// What the client would read: its own command's frames, then the queue.
    fn take(t: &T) -> Vec<u8> {
        let mut b = BytesMut::new();
        let mut after = BytesMut::new();
        t.out.take_own(&mut b, &mut after);
        b.extend_from_slice(&after);
        t.out.drain_into(&mut b, usize::MAX);
        b.to_vec()
    }

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn subscribe_publish_counts() {
        let hub = Hub::default();
        let a = client(1, Protocol::Resp2);
        let c = client(2, Protocol::Resp3);
        let (mut sa, mut sc) = (ClientSubs::default(), ClientSubs::default());
        hub.subscribe(&a, &mut sa, Kind::Channel, &[b("news"), b("news")], 0);
        assert_eq!(
            take(&a),
            b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
        );
        hub.subscribe(&c, &mut sc, Kind::Pattern, &[b("n*")], 0);
        hub.subscribe(&c, &mut sc, Kind::Channel, &[b("news")], 0);
        take(&c);
        // c gets it twice: once per matching subscription, as Redis counts.
        assert_eq!(hub.publish(b"news", b"hi", 0, 0), 3);
        assert_eq!(
            take(&a),
            b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        );
        assert_eq!(
            take(&c),
            b">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n>4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
                .to_vec()
        );
        assert_eq!(hub.numsub(Kind::Channel, &[b("news"), b("x")]), vec![2, 0]);
        assert_eq!(hub.count(Kind::Pattern), 1);
        hub.unsubscribe(&a, &mut sa, Kind::Channel, None, 0);
        assert_eq!(
            take(&a),
            b"*3\r\n$11\r\nunsubscribe\r\n$4\r\nnews\r\n:0\r\n"
        );
        hub.unsubscribe(&a, &mut sa, Kind::Channel, None, 0);
        assert_eq!(take(&a), b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
        hub.forget(2, &mut sc);
        assert_eq!(hub.publish(b"news", b"hi", 0, 0), 0);
        assert_eq!(hub.count(Kind::Channel), 0);
        assert_eq!(hub.count(Kind::Pattern), 0);
    }

    #[test]
    fn shard_channels_are_separate() {
        let hub = Hub::default();
        let a = client(1, Protocol::Resp2);
        let mut sa = ClientSubs::default();
        hub.subscribe(&a, &mut sa, Kind::Channel, &[b("x")], 0);
        hub.subscribe(&a, &mut sa, Kind::Shard, &[b("x")], 0);
        assert!(take(&a).ends_with(b"*3\r\n$10\r\nssubscribe\r\n$1\r\nx\r\n:1\r\n"));
        assert_eq!(hub.spublish(b"x", b"m", 0, 0), 1);
        assert_eq!(take(&a), b"*3\r\n$8\r\nsmessage\r\n$1\r\nx\r\n$1\r\nm\r\n");
        assert_eq!(hub.channels(Kind::Shard, None), vec![b("x")]);
        assert_eq!(
            hub.channels(Kind::Channel, Some(b"y*")),
            Vec::<Bytes>::new()
        );
    }

    #[test]
    fn overflow_disconnects() {
        let hub = Hub::default();
        hub.limits.set(
            Class::Pubsub,
            crate::outbox::Limit {
                hard: 100,
                soft: 0,
                soft_secs: 0,
            },
        );
        let a = client(1, Protocol::Resp2);
        let mut sa = ClientSubs::default();
        hub.subscribe(&a, &mut sa, Kind::Channel, &[b("x")], 0);
        for _ in 0..10 {
            hub.publish(b"x", b"0123456789", 0, 0);
        }
        assert!(a.dead.load(Relaxed));
        assert!(a.out.is_empty());
    }
}
