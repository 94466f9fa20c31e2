//! The keyspace hash table: a chained hash table from binary-safe keys to values.
//!
//! It is shaped like Redis's dict rather than built on `HashMap` because the server needs four
//! things a std map cannot give:
//!
//! * a stateless SCAN cursor that still returns every element present for the whole scan when
//!   the table grows or shrinks between calls (see [`Dict::scan`]);
//! * cheap, fair-ish random entries for eviction and RANDOMKEY ([`Dict::random`]);
//! * incremental rehashing, so growing a table with millions of keys never stops the server:
//!   while a resize is in progress there are two tables, and each write, each `get_mut` and
//!   each call of [`Dict::rehash_steps`] (from the server's cron) moves one or more buckets;
//! * a tight layout: one 8-byte bucket slot per entry at most (load factor 1), and one node
//!   allocation of `8 + 24 + size_of::<V>()` bytes per entry holding short keys inline.
//!
//! Reads through `&self` ([`Dict::get`], [`Dict::scan`], ...) never move buckets, so a `Dict`
//! shared behind a read lock stays `Sync`; they simply look in both tables while rehashing.

use std::alloc::{self, Layout};
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::mem;
use std::ops::Deref;
use std::ptr;

use ahash::RandomState;
use rand::Rng;

/// Keys up to this many bytes live inside the [`Key`] itself, with no heap allocation.
const INLINE_CAP: usize = 22;

/// Smallest bucket array a non-empty table uses.
const MIN_BUCKETS: usize = 4;

/// A table shrinks once fewer than `buckets / SHRINK_RATIO` entries remain.
const SHRINK_RATIO: usize = 8;

/// A rehash step gives up after visiting this many empty buckets per bucket it was asked to
/// move, so one step stays cheap even in a sparse table.
const EMPTY_VISITS_PER_STEP: usize = 10;

/// Binary-safe key bytes, stored inline when short (<= 22 bytes; the whole type is 24 bytes),
/// else on the heap.
#[derive(Clone)]
pub struct Key(KeyRepr);

#[derive(Clone)]
enum KeyRepr {
    Inline { len: u8, buf: [u8; INLINE_CAP] },
    Heap(Box<[u8]>),
}

// The memory budget of the keyspace depends on this size; fail the build if it drifts.
const _: () = assert!(mem::size_of::<Key>() == 24);

impl Key {
    /// Copies `bytes` into a new key.
    pub fn new(bytes: &[u8]) -> Key {
        if bytes.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..bytes.len()].copy_from_slice(bytes);
            Key(KeyRepr::Inline {
                len: bytes.len() as u8,
                buf,
            })
        } else {
            Key(KeyRepr::Heap(bytes.into()))
        }
    }

    /// The key's bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            KeyRepr::Inline { len, buf } => &buf[..*len as usize],
            KeyRepr::Heap(b) => b,
        }
    }

    /// Bytes this key owns on the heap (0 when inline).
    fn heap_bytes(&self) -> usize {
        match &self.0 {
            KeyRepr::Inline { .. } => 0,
            KeyRepr::Heap(b) => b.len(),
        }
    }
}

impl Deref for Key {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Key {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl From<&[u8]> for Key {
    fn from(bytes: &[u8]) -> Key {
        Key::new(bytes)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

impl Hash for Key {
    // Must hash exactly like `[u8]` so that `Borrow<[u8]>` lookups agree.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("b\"")?;
        for &b in self.as_bytes() {
            write!(f, "{}", std::ascii::escape_default(b))?;
        }
        f.write_str("\"")
    }
}

/// One entry. No cached hash: it would grow every node by 8 bytes, and the hash is only needed
/// again when rehashing, which is rare and incremental.
struct Node<V> {
    next: Link<V>,
    key: Key,
    value: V,
}

type Link<V> = Option<Box<Node<V>>>;

/// One bucket array and the number of entries chained from it.
struct Table<V> {
    buckets: Box<[Link<V>]>,
    used: usize,
}

impl<V> Table<V> {
    fn empty() -> Self {
        Table {
            buckets: Box::new([]),
            used: 0,
        }
    }

    fn with_buckets(n: usize) -> Self {
        debug_assert!(n.is_power_of_two());
        Table {
            buckets: zeroed_buckets(n),
            used: 0,
        }
    }

    #[inline]
    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    #[inline]
    fn slot(&self, hash: u64) -> &Link<V> {
        &self.buckets[hash as usize & self.mask()]
    }
}

impl<V> Drop for Table<V> {
    // Unlink chains one node at a time: the derived drop of `Box<Node>` would recurse once per
    // chained node and could overflow the stack on a pathological chain. A table emptied by
    // rehashing is skipped without touching its buckets.
    fn drop(&mut self) {
        if self.used == 0 {
            return;
        }
        for slot in self.buckets.iter_mut() {
            let mut cur = slot.take();
            while let Some(mut node) = cur {
                cur = node.next.take();
            }
        }
    }
}

/// Allocates `n` empty buckets as zeroed memory.
///
/// Filling the array with `None` one slot at a time would touch every page up front: growing a
/// table of 16M keys would memset 256 MiB in one go, the very latency spike incremental
/// rehashing exists to avoid. Zeroed allocations of that size come straight from the OS as
/// untouched pages, so the cost is paid gradually as rehashing writes into them.
fn zeroed_buckets<V>(n: usize) -> Box<[Link<V>]> {
    if n == 0 {
        return Box::new([]);
    }
    let layout = Layout::array::<Link<V>>(n).expect("bucket array size overflows");
    // SAFETY: `layout` has non-zero size (n > 0 and a Link is pointer-sized). `Link<V>` is
    // `Option<Box<Node<V>>>` with a sized `Node`, for which Rust guarantees the null-pointer
    // optimisation: `None` is represented as all-zero bytes, so zeroed memory holds `n` valid
    // `None` values. The memory comes from the global allocator with exactly the layout that
    // `Box<[Link<V>]>` uses to free a slice of length `n`.
    unsafe {
        let ptr = alloc::alloc_zeroed(layout).cast::<Link<V>>();
        if ptr.is_null() {
            alloc::handle_alloc_error(layout);
        }
        Box::from_raw(ptr::slice_from_raw_parts_mut(ptr, n))
    }
}

/// Finds `key` in the chain starting at `slot`.
#[inline]
fn chain_find<'a, V>(slot: &'a Link<V>, key: &[u8]) -> Option<&'a Node<V>> {
    let mut cur = slot.as_deref();
    while let Some(node) = cur {
        if node.key.as_bytes() == key {
            return Some(node);
        }
        cur = node.next.as_deref();
    }
    None
}

#[inline]
fn chain_find_mut<'a, V>(slot: &'a mut Link<V>, key: &[u8]) -> Option<&'a mut Node<V>> {
    let mut cur = slot.as_deref_mut();
    while let Some(node) = cur {
        if node.key.as_bytes() == key {
            return Some(node);
        }
        cur = node.next.as_deref_mut();
    }
    None
}

/// Unlinks and returns the node holding `key` from the chain starting at `slot`.
fn chain_remove<V>(mut slot: &mut Link<V>, key: &[u8]) -> Option<Box<Node<V>>> {
    loop {
        match slot {
            None => return None,
            Some(node) if node.key.as_bytes() == key => {
                let mut node = slot.take()?;
                *slot = node.next.take();
                return Some(node);
            }
            Some(node) => slot = &mut node.next,
        }
    }
}

/// Advances a SCAN cursor past the bucket `cursor & mask` by incrementing its reversed bits.
///
/// Counting from the high bits down means that the buckets still to visit are the same set of
/// hash prefixes whatever power-of-two size the table has at the next call, which is what makes
/// the cursor survive resizes.
#[inline]
fn advance_cursor(cursor: u64, mask: u64) -> u64 {
    (cursor | !mask)
        .reverse_bits()
        .wrapping_add(1)
        .reverse_bits()
}

/// A chained hash table from binary-safe keys to values with incremental rehashing, a
/// resize-proof SCAN cursor and random sampling. See the [module docs](self).
pub struct Dict<V> {
    /// The table in use; while rehashing, the one being emptied.
    main: Table<V>,
    /// While rehashing, the table entries move to; otherwise empty (no buckets).
    next: Table<V>,
    /// While rehashing, every bucket of `main` below this index has been moved.
    rehash_idx: usize,
    /// Bytes of keys too long to store inline, for [`Dict::table_bytes`].
    key_heap_bytes: usize,
    /// A random seed per dict, so clients cannot precompute colliding keys.
    hasher: RandomState,
}

impl<V> Default for Dict<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> Dict<V> {
    /// An empty dict; it allocates nothing until the first insert.
    pub fn new() -> Self {
        Dict {
            main: Table::empty(),
            next: Table::empty(),
            rehash_idx: 0,
            key_heap_bytes: 0,
            hasher: RandomState::new(),
        }
    }

    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.main.used + self.next.used
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True while entries are moving from the old bucket array to the new one.
    #[inline]
    pub fn is_rehashing(&self) -> bool {
        !self.next.buckets.is_empty()
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn find(&self, key: &[u8]) -> Option<&Node<V>> {
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        if let Some(node) = chain_find(self.main.slot(h), key) {
            return Some(node);
        }
        if self.is_rehashing() {
            return chain_find(self.next.slot(h), key);
        }
        None
    }

    fn find_mut(&mut self, h: u64, key: &[u8]) -> Option<&mut Node<V>> {
        if self.is_empty() {
            return None;
        }
        let i0 = h as usize & self.main.mask();
        if let Some(node) = chain_find_mut(&mut self.main.buckets[i0], key) {
            return Some(node);
        }
        // Field accesses only from here on: `self.main` may still be borrowed by the return above.
        if !self.next.buckets.is_empty() {
            let i1 = h as usize & self.next.mask();
            return chain_find_mut(&mut self.next.buckets[i1], key);
        }
        None
    }

    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find(key).map(|n| &n.value)
    }

    /// Like [`Dict::get`], and also advances an ongoing rehash by one bucket.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        self.rehash_on_access();
        let h = self.hash(key);
        self.find_mut(h, key).map(|n| &mut n.value)
    }

    pub fn get_key_value(&self, key: &[u8]) -> Option<(&Key, &V)> {
        self.find(key).map(|n| (&n.key, &n.value))
    }

    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Inserts or replaces; returns the previous value.
    pub fn insert(&mut self, key: &[u8], value: V) -> Option<V> {
        self.rehash_on_access();
        let h = self.hash(key);
        if let Some(node) = self.find_mut(h, key) {
            return Some(mem::replace(&mut node.value, value));
        }
        self.add(h, key, value);
        None
    }

    /// Inserts a key the caller knows is absent, skipping the lookup.
    pub fn insert_new(&mut self, key: &[u8], value: V) -> &mut V {
        debug_assert!(!self.contains_key(key), "insert_new with an existing key");
        self.rehash_on_access();
        let h = self.hash(key);
        self.add(h, key, value)
    }

    /// Links a new node for `key`, whose hash is `h`, at the head of its chain.
    fn add(&mut self, h: u64, key: &[u8], value: V) -> &mut V {
        self.expand_if_needed();
        let key = Key::new(key);
        self.key_heap_bytes += key.heap_bytes();
        // New entries go to the new table while rehashing, so the old one only ever drains.
        let table = if self.is_rehashing() {
            &mut self.next
        } else {
            &mut self.main
        };
        table.used += 1;
        let i = h as usize & table.mask();
        let slot = &mut table.buckets[i];
        let next = slot.take();
        &mut slot.insert(Box::new(Node { next, key, value })).value
    }

    /// Removes `key`, returning the stored key and its value.
    pub fn remove(&mut self, key: &[u8]) -> Option<(Key, V)> {
        self.rehash_on_access();
        if self.is_empty() {
            return None;
        }
        let h = self.hash(key);
        let i0 = h as usize & self.main.mask();
        let node = match chain_remove(&mut self.main.buckets[i0], key) {
            Some(node) => {
                self.main.used -= 1;
                node
            }
            None if self.is_rehashing() => {
                let i1 = h as usize & self.next.mask();
                let node = chain_remove(&mut self.next.buckets[i1], key)?;
                self.next.used -= 1;
                node
            }
            None => return None,
        };
        let Node { key, value, .. } = *node;
        self.key_heap_bytes -= key.heap_bytes();
        self.shrink_if_needed();
        Some((key, value))
    }

    /// Removes every entry and frees the bucket arrays.
    pub fn clear(&mut self) {
        self.main = Table::empty();
        self.next = Table::empty();
        self.rehash_idx = 0;
        self.key_heap_bytes = 0;
    }

    /// All entries, in bucket order.
    pub fn iter(&self) -> Iter<'_, V> {
        Iter {
            tables: [&self.main.buckets, &self.next.buckets],
            table: 0,
            bucket: 0,
            node: None,
            remaining: self.len(),
        }
    }

    /// Visits the entries of the buckets at `cursor` and returns the next cursor (0 = done).
    ///
    /// Start with cursor 0 and call again with each returned cursor until it returns 0. An
    /// element present during the whole scan is returned at least once, even if the table grows
    /// or shrinks between calls; elements may be returned more than once when it shrinks.
    /// Without changes in between, each element is returned exactly once.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&Key, &V)) -> u64 {
        let (buckets, next) = self.scan_buckets(cursor);
        for (t, b) in buckets {
            let table = if t == 0 { &self.main } else { &self.next };
            let mut cur = table.buckets[b].as_deref();
            while let Some(node) = cur {
                f(&node.key, &node.value);
                cur = node.next.as_deref();
            }
        }
        next
    }

    /// [`Dict::scan`] with mutable access to the values (a walk that marks
    /// what it visited).
    pub fn scan_mut(&mut self, cursor: u64, mut f: impl FnMut(&Key, &mut V)) -> u64 {
        let (buckets, next) = self.scan_buckets(cursor);
        for (t, b) in buckets {
            let table = if t == 0 {
                &mut self.main
            } else {
                &mut self.next
            };
            let mut cur = table.buckets[b].as_deref_mut();
            while let Some(node) = cur {
                f(&node.key, &mut node.value);
                cur = node.next.as_deref_mut();
            }
        }
        next
    }

    /// The buckets one scan step at `cursor` visits (0 = `main`, 1 =
    /// `next`, and the index), and the cursor that follows.
    fn scan_buckets(&self, cursor: u64) -> (smallvec::SmallVec<[(u8, usize); 4]>, u64) {
        let mut out = smallvec::SmallVec::new();
        if self.is_empty() {
            return (out, 0);
        }
        let mut v = cursor;
        if !self.is_rehashing() {
            let m0 = self.main.mask() as u64;
            out.push((0, (v & m0) as usize));
            return (out, advance_cursor(v, m0));
        }
        // While rehashing, an element hashing to bucket `v` of the small table may be in that
        // bucket or in any bucket of the large table whose low bits equal `v`'s: visit them all,
        // then continue from the cursor that follows the last of them.
        let main_small = self.main.buckets.len() <= self.next.buckets.len();
        let (small, large) = if main_small {
            (&self.main, &self.next)
        } else {
            (&self.next, &self.main)
        };
        let (ts, tl) = if main_small { (0, 1) } else { (1, 0) };
        let m0 = small.mask() as u64;
        let m1 = large.mask() as u64;
        out.push((ts, (v & m0) as usize));
        loop {
            out.push((tl, (v & m1) as usize));
            v = advance_cursor(v, m1);
            // Stop once the bits only the large table has wrap back to zero.
            if v & (m0 ^ m1) == 0 {
                return (out, v);
            }
        }
    }

    /// A random entry, or `None` if the dict is empty.
    ///
    /// Picks a random non-empty bucket, then a random element of its chain. Entries in longer
    /// chains are a little less likely, as in Redis; with load factor <= 1 that bias is small.
    pub fn random(&self, rng: &mut impl Rng) -> Option<(&Key, &V)> {
        if self.is_empty() {
            return None;
        }
        // While rehashing, buckets of `main` below `rehash_idx` are known empty: draw from the
        // rest of `main` followed by all of `next`.
        let start = if self.is_rehashing() {
            self.rehash_idx
        } else {
            0
        };
        let n0 = self.main.buckets.len();
        let span = n0 - start + self.next.buckets.len();
        let bucket = |i: usize| -> &Link<V> {
            if i < n0 {
                &self.main.buckets[i]
            } else {
                &self.next.buckets[i - n0]
            }
        };
        // With load factor >= 1/8 a random probe hits a non-empty bucket about one time in
        // nine, so 100 probes almost always suffice. Mass deletion during a rehash can leave the
        // tables far sparser; then walk from a random point rather than probe without bound.
        let mut chosen = None;
        for _ in 0..100 {
            let slot = bucket(start + rng.gen_range(0..span));
            if slot.is_some() {
                chosen = Some(slot);
                break;
            }
        }
        let slot = match chosen {
            Some(slot) => slot,
            None => {
                let first = rng.gen_range(0..span);
                (0..span)
                    .map(|k| bucket(start + (first + k) % span))
                    .find(|slot| slot.is_some())?
            }
        };
        let mut chain_len = 0;
        let mut cur = slot.as_deref();
        while let Some(node) = cur {
            chain_len += 1;
            cur = node.next.as_deref();
        }
        let mut node = slot.as_deref()?;
        for _ in 0..rng.gen_range(0..chain_len) {
            node = node.next.as_deref()?;
        }
        Some((&node.key, &node.value))
    }

    /// Approximate heap bytes owned by the table structure itself: bucket arrays, nodes and
    /// out-of-line key bytes, not what the values own and not allocator overhead.
    pub fn table_bytes(&self) -> usize {
        (self.main.buckets.len() + self.next.buckets.len()) * mem::size_of::<Link<V>>()
            + self.len() * mem::size_of::<Node<V>>()
            + self.key_heap_bytes
    }

    /// Does up to `n` steps of incremental rehashing, each moving one bucket, and starts a
    /// shrink if deletions left the table sparse. Returns true if more rehashing remains.
    pub fn rehash_steps(&mut self, n: usize) -> bool {
        if self.is_rehashing() {
            self.rehash(n);
        }
        // Removals during a rehash cannot start a shrink, so one may be due just as it ends.
        if !self.is_rehashing() {
            self.shrink_if_needed();
        }
        self.is_rehashing()
    }

    #[inline]
    fn rehash_on_access(&mut self) {
        if self.is_rehashing() {
            self.rehash(1);
        }
    }

    /// Moves up to `n` non-empty buckets from `main` to `next`; returns true if more remain.
    fn rehash(&mut self, n: usize) -> bool {
        let mut empty_visits = n * EMPTY_VISITS_PER_STEP;
        let mut moved = 0;
        let next_mask = self.next.mask();
        while moved < n && self.main.used > 0 {
            // Some bucket at or after `rehash_idx` is non-empty because `used > 0`.
            while self.main.buckets[self.rehash_idx].is_none() {
                self.rehash_idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    return true;
                }
            }
            let mut cur = self.main.buckets[self.rehash_idx].take();
            while let Some(mut node) = cur {
                cur = node.next.take();
                let i = self.hasher.hash_one(node.key.as_bytes()) as usize & next_mask;
                node.next = self.next.buckets[i].take();
                self.next.buckets[i] = Some(node);
                self.main.used -= 1;
                self.next.used += 1;
            }
            self.rehash_idx += 1;
            moved += 1;
        }
        if self.main.used == 0 {
            self.main = mem::replace(&mut self.next, Table::empty());
            self.rehash_idx = 0;
            return false;
        }
        true
    }

    /// Starts a resize to `buckets` slots (a power of two), or swaps tables at once when there
    /// is nothing to move.
    fn resize(&mut self, buckets: usize) {
        debug_assert!(!self.is_rehashing());
        let table = Table::with_buckets(buckets);
        if self.main.used == 0 {
            self.main = table;
        } else {
            self.next = table;
            self.rehash_idx = 0;
        }
    }

    /// Grows at load factor 1, to the next power of two above the entry count (doubling).
    fn expand_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        if self.main.buckets.is_empty() {
            self.main = Table::with_buckets(MIN_BUCKETS);
        } else if self.main.used >= self.main.buckets.len() {
            self.resize((self.main.used + 1).next_power_of_two());
        }
    }

    /// Shrinks when fewer than 1/8 of the buckets would be used, to the smallest power of two
    /// that holds every entry (load factor between 1/2 and 1 afterwards).
    fn shrink_if_needed(&mut self) {
        let size = self.main.buckets.len();
        if self.is_rehashing() || size <= MIN_BUCKETS || self.main.used >= size / SHRINK_RATIO {
            return;
        }
        self.resize(self.main.used.max(MIN_BUCKETS).next_power_of_two());
    }
}

impl<V: fmt::Debug> fmt::Debug for Dict<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a, V> IntoIterator for &'a Dict<V> {
    type Item = (&'a Key, &'a V);
    type IntoIter = Iter<'a, V>;
    fn into_iter(self) -> Iter<'a, V> {
        self.iter()
    }
}

/// Iterator over a [`Dict`]'s entries, from [`Dict::iter`].
pub struct Iter<'a, V> {
    tables: [&'a [Link<V>]; 2],
    table: usize,
    bucket: usize,
    node: Option<&'a Node<V>>,
    remaining: usize,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a Key, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(node) = self.node {
                self.node = node.next.as_deref();
                self.remaining -= 1;
                return Some((&node.key, &node.value));
            }
            // Stop without walking trailing empty buckets once everything has been returned.
            if self.remaining == 0 {
                return None;
            }
            let buckets = self.tables[self.table];
            if self.bucket < buckets.len() {
                self.node = buckets[self.bucket].as_deref();
                self.bucket += 1;
            } else if self.table == 0 {
                self.table = 1;
                self.bucket = 0;
            } else {
                return None;
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<V> ExactSizeIterator for Iter<'_, V> {}

#[cfg(test)]
mod tests;
