//! The list type: a quicklist-like chunked list and the storage side of the list group.
//!
//! A list is a deque of nodes; each node is one compact buffer of entries, every entry a
//! LEB128 length followed by its bytes (one byte of overhead for elements under 128 bytes).
//! Nodes are sized by `list-max-listpack-size` (`fill`): a positive fill caps the entries per
//! node (and, as Redis's safety limit, a node at 8 KB), a negative one caps a node's bytes at
//! 4/8/16/32/64 KB. An element too large for any node gets a node of its own. Pushes and pops
//! at both ends touch one node; positional access walks nodes by their counts from the
//! nearer end, then entries inside one node. Redis 7.0 reports every list as `quicklist`.

use std::collections::VecDeque;
use std::fmt;

use crate::error::{Error, Result};
use crate::keyspace::Db;
use crate::value::Value;

/// Redis's per-node size cap when the fill is a count (`SIZE_SAFETY_LIMIT`).
const SAFETY_LIMIT: usize = 8192;

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

impl End {
    /// Parses LEFT / RIGHT (case-insensitive).
    pub fn parse(word: &[u8]) -> Option<End> {
        if word.eq_ignore_ascii_case(b"left") {
            Some(End::Head)
        } else if word.eq_ignore_ascii_case(b"right") {
            Some(End::Tail)
        } else {
            None
        }
    }
}

fn varint_len(n: usize) -> usize {
    let mut n = n;
    let mut l = 1;
    while n >= 0x80 {
        n >>= 7;
        l += 1;
    }
    l
}

/// Writes one entry into `dst` (exactly `entry_size(e)` bytes): its length (LEB128), its
/// bytes, and its length again written backwards so the entry can be found from its end
/// (as a listpack's backlen).
fn write_entry(dst: &mut [u8], e: &[u8]) {
    let mut p = 0;
    let mut n = e.len();
    while n >= 0x80 {
        dst[p] = (n as u8) | 0x80;
        n >>= 7;
        p += 1;
    }
    dst[p] = n as u8;
    p += 1;
    dst[p..p + e.len()].copy_from_slice(e);
    let mut q = dst.len();
    let mut n = e.len();
    loop {
        q -= 1;
        if n >= 0x80 {
            dst[q] = (n as u8) | 0x80;
            n >>= 7;
        } else {
            dst[q] = n as u8;
            break;
        }
    }
}

/// Appends one entry (see [`write_entry`]).
fn put_entry(out: &mut Vec<u8>, e: &[u8]) {
    let at = out.len();
    out.resize(at + entry_size(e), 0);
    write_entry(&mut out[at..], e);
}

/// The entry starting at `pos`: (payload start, payload end, entry end).
fn entry_at(buf: &[u8], pos: usize) -> (usize, usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut p = pos;
    loop {
        let b = buf[p];
        p += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (p, p + n, p + n + varint_len(n))
}

/// The entry ending at `end`: (entry start, payload start, payload end).
fn entry_before(buf: &[u8], end: usize) -> (usize, usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    let mut p = end;
    loop {
        p -= 1;
        let b = buf[p];
        n |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let start = p - n;
    (start - varint_len(n), start, p)
}

fn entry_size(e: &[u8]) -> usize {
    2 * varint_len(e.len()) + e.len()
}

/// Whether a node of `bytes` bytes and `count` entries is within the fill limit.
fn within(bytes: usize, count: usize, fill: i64) -> bool {
    if fill >= 0 {
        count <= (fill.max(1) as usize) && bytes <= SAFETY_LIMIT
    } else {
        let idx = ((-fill - 1) as usize).min(4);
        bytes <= 4096 << idx
    }
}

/// One chunk of entries.
#[derive(Clone, Default)]
struct Node {
    buf: Vec<u8>,
    count: u32,
}

impl Node {
    fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether `extra` more bytes in one more entry keep the node within `fill`.
    fn fits(&self, extra: usize, fill: i64) -> bool {
        self.count == 0 || within(self.buf.len() + extra, self.len() + 1, fill)
    }

    fn iter(&self) -> NodeIter<'_> {
        NodeIter {
            buf: &self.buf,
            pos: 0,
        }
    }

    /// Byte offset where entry `i` starts (`buf.len()` for `i == len`).
    fn offset(&self, i: usize) -> usize {
        if i * 2 < self.len() {
            let mut pos = 0;
            for _ in 0..i {
                pos = entry_at(&self.buf, pos).2;
            }
            pos
        } else {
            let mut pos = self.buf.len();
            for _ in i..self.len() {
                pos = entry_before(&self.buf, pos).0;
            }
            pos
        }
    }

    fn nth(&self, i: usize) -> &[u8] {
        let (s, e, _) = entry_at(&self.buf, self.offset(i));
        &self.buf[s..e]
    }

    // Pushes grow the buffer geometrically (a node is at most a few KB),
    // and a node gives back its slack once it is full (see `List::push_back`).
    fn push_back(&mut self, e: &[u8]) {
        self.buf.reserve(entry_size(e));
        put_entry(&mut self.buf, e);
        self.count += 1;
    }

    fn push_front(&mut self, e: &[u8]) {
        let size = entry_size(e);
        let old = self.buf.len();
        self.buf.reserve(size);
        self.buf.resize(old + size, 0);
        self.buf.copy_within(0..old, size);
        write_entry(&mut self.buf[..size], e);
        self.count += 1;
    }

    fn pop_front(&mut self) -> Vec<u8> {
        let (s, e, end) = entry_at(&self.buf, 0);
        let v = self.buf[s..e].to_vec();
        self.buf.drain(..end);
        self.count -= 1;
        self.shrink();
        v
    }

    fn pop_back(&mut self) -> Vec<u8> {
        let (start, s, e) = entry_before(&self.buf, self.buf.len());
        let v = self.buf[s..e].to_vec();
        self.buf.truncate(start);
        self.count -= 1;
        self.shrink();
        v
    }

    /// Gives memory back once a node is mostly empty.
    fn shrink(&mut self) {
        if self.buf.capacity() > 64 && self.buf.len() * 2 < self.buf.capacity() {
            self.buf.shrink_to_fit();
        }
    }
}

struct NodeIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (s, e, end) = entry_at(self.buf, self.pos);
        self.pos = end;
        Some(&self.buf[s..e])
    }
}

/// Packs `entries` into nodes within `fill`.
fn pack<'a>(entries: impl IntoIterator<Item = &'a [u8]>, fill: i64) -> Vec<Node> {
    let mut out: Vec<Node> = Vec::new();
    let mut cur = Node::default();
    for e in entries {
        if !cur.fits(entry_size(e), fill) {
            cur.buf.shrink_to_fit();
            out.push(std::mem::take(&mut cur));
        }
        put_entry(&mut cur.buf, e);
        cur.count += 1;
    }
    if cur.count > 0 {
        cur.buf.shrink_to_fit();
        out.push(cur);
    }
    out
}

/// A list value.
#[derive(Clone, Default)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
}

impl PartialEq for List {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    /// Redis's name for the encoding (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of nodes (the quicklist's `ql_nodes`).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The elements node by node, head to tail: the quicklist's nodes, for
    /// a serializer that keeps them as they are (as Redis's RDB does).
    pub fn nodes(&self) -> impl Iterator<Item = impl Iterator<Item = &[u8]> + '_> + '_ {
        self.nodes.iter().map(|n| n.iter())
    }

    /// Every element, head to tail.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.nodes.iter().flat_map(|n| n.iter())
    }

    /// Calls `f` with every element, head to tail.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        for e in self.iter() {
            f(e);
        }
    }

    /// Heap bytes owned by the value.
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.nodes.iter().map(|n| n.buf.capacity()).sum::<usize>()
    }

    /// Every element as owned bytes, head to tail.
    pub fn to_vec(&self) -> Vec<Vec<u8>> {
        self.iter().map(|e| e.to_vec()).collect()
    }

    pub fn push(&mut self, end: End, e: &[u8], fill: i64) {
        match end {
            End::Head => self.push_front(e, fill),
            End::Tail => self.push_back(e, fill),
        }
    }

    pub fn push_back(&mut self, e: &[u8], fill: i64) {
        match self.nodes.back_mut() {
            Some(n) if n.fits(entry_size(e), fill) => n.push_back(e),
            full => {
                if let Some(n) = full {
                    n.buf.shrink_to_fit();
                }
                let mut n = Node::default();
                n.push_back(e);
                self.nodes.push_back(n);
            }
        }
        self.len += 1;
    }

    pub fn push_front(&mut self, e: &[u8], fill: i64) {
        match self.nodes.front_mut() {
            Some(n) if n.fits(entry_size(e), fill) => n.push_front(e),
            full => {
                if let Some(n) = full {
                    n.buf.shrink_to_fit();
                }
                let mut n = Node::default();
                n.push_back(e);
                self.nodes.push_front(n);
            }
        }
        self.len += 1;
    }

    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        match end {
            End::Head => self.pop_front(),
            End::Tail => self.pop_back(),
        }
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let n = self.nodes.front_mut()?;
        let v = n.pop_front();
        if n.count == 0 {
            self.nodes.pop_front();
        }
        self.len -= 1;
        Some(v)
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let n = self.nodes.back_mut()?;
        let v = n.pop_back();
        if n.count == 0 {
            self.nodes.pop_back();
        }
        self.len -= 1;
        Some(v)
    }

    /// The node holding element `i` (< len) and the offset inside it, walking from the
    /// nearer end.
    fn locate(&self, i: usize) -> (usize, usize) {
        if i < self.len / 2 {
            let mut pos = 0;
            for (ni, n) in self.nodes.iter().enumerate() {
                if i < pos + n.len() {
                    return (ni, i - pos);
                }
                pos += n.len();
            }
        } else {
            let mut end = self.len;
            for ni in (0..self.nodes.len()).rev() {
                let n = &self.nodes[ni];
                let start = end - n.len();
                if i >= start {
                    return (ni, i - start);
                }
                end = start;
            }
        }
        unreachable!("index {i} within a list of {}", self.len)
    }

    /// Resolves a Redis index (negative counts from the tail).
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let i = if index < 0 {
            index.checked_add(self.len as i64)?
        } else {
            index
        };
        (i >= 0 && (i as usize) < self.len).then_some(i as usize)
    }

    /// The element at position `i`.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len {
            return None;
        }
        let (ni, off) = self.locate(i);
        Some(self.nodes[ni].nth(off))
    }

    /// Replaces node `ni` with `nodes` (dropping it if empty).
    fn replace_node(&mut self, ni: usize, nodes: Vec<Node>) {
        self.nodes.remove(ni);
        for (k, n) in nodes.into_iter().enumerate() {
            self.nodes.insert(ni + k, n);
        }
    }

    /// Keeps the entries of node `ni` that `keep` accepts (given their position in the
    /// node), dropping the node if none remain.
    fn retain_in_node(&mut self, ni: usize, mut keep: impl FnMut(usize, &[u8]) -> bool) {
        let node = &self.nodes[ni];
        let mut buf = Vec::with_capacity(node.buf.len());
        let mut count = 0;
        for (k, e) in node.iter().enumerate() {
            if keep(k, e) {
                put_entry(&mut buf, e);
                count += 1;
            }
        }
        self.len = self.len - node.len() + count as usize;
        if count == 0 {
            self.nodes.remove(ni);
        } else {
            buf.shrink_to_fit();
            self.nodes[ni] = Node { buf, count };
        }
    }

    /// Replaces the bytes `from..to` of node `ni` with entry `e` (`added` entries more),
    /// splitting the node if it outgrows `fill`.
    fn splice_node(&mut self, ni: usize, from: usize, to: usize, e: &[u8], added: u32, fill: i64) {
        let mut ent = Vec::with_capacity(entry_size(e));
        put_entry(&mut ent, e);
        let node = &mut self.nodes[ni];
        node.buf.splice(from..to, ent);
        node.count += added;
        self.len += added as usize;
        if node.count > 1 && !within(node.buf.len(), node.len(), fill) {
            let packed = pack(node.iter(), fill);
            self.replace_node(ni, packed);
        } else {
            node.shrink();
        }
    }

    /// Sets the element at position `i`; false if out of range.
    pub fn set(&mut self, i: usize, e: &[u8], fill: i64) -> bool {
        if i >= self.len {
            return false;
        }
        let (ni, off) = self.locate(i);
        let from = self.nodes[ni].offset(off);
        let to = entry_at(&self.nodes[ni].buf, from).2;
        self.splice_node(ni, from, to, e, 0, fill);
        true
    }

    /// Inserts `e` so it becomes element `i` (`i <= len`).
    pub fn insert(&mut self, i: usize, e: &[u8], fill: i64) {
        if i == 0 {
            return self.push_front(e, fill);
        }
        if i >= self.len {
            return self.push_back(e, fill);
        }
        let (ni, off) = self.locate(i);
        let at = self.nodes[ni].offset(off);
        self.splice_node(ni, at, at, e, 1, fill);
    }

    /// Removes `n` elements starting at position `start`.
    pub fn remove_range(&mut self, start: usize, n: usize) {
        let n = n.min(self.len.saturating_sub(start));
        if n == 0 {
            return;
        }
        let mut pos = 0;
        let mut ni = 0;
        while pos + self.nodes[ni].len() <= start {
            pos += self.nodes[ni].len();
            ni += 1;
        }
        let mut left = n;
        let mut local = start - pos;
        while left > 0 {
            let cnt = self.nodes[ni].len();
            let take = left.min(cnt - local);
            if local == 0 && take == cnt {
                self.nodes.remove(ni);
                self.len -= cnt;
            } else {
                self.retain_in_node(ni, |k, _| k < local || k >= local + take);
                ni += 1;
            }
            left -= take;
            local = 0;
        }
    }

    /// Keeps positions `start..=end` only (both already within the list), as LTRIM does.
    pub fn trim(&mut self, ltrim: usize, rtrim: usize) {
        let rtrim = rtrim.min(self.len);
        self.remove_range(self.len - rtrim, rtrim);
        self.remove_range(0, ltrim);
    }

    /// Calls `f` with elements from position `start` toward the tail (or toward the head
    /// when `reverse`), with their positions, until `f` returns false or the end.
    pub fn walk<'a>(
        &'a self,
        start: usize,
        reverse: bool,
        mut f: impl FnMut(usize, &'a [u8]) -> bool,
    ) {
        if start >= self.len {
            return;
        }
        let (ni, off) = self.locate(start);
        let mut idx = start;
        if !reverse {
            for (k, node) in self.nodes.iter().enumerate().skip(ni) {
                let skip = if k == ni { off } else { 0 };
                for e in node.iter().skip(skip) {
                    if !f(idx, e) {
                        return;
                    }
                    idx += 1;
                }
            }
        } else {
            for k in (0..=ni).rev() {
                let node = &self.nodes[k];
                let mut pos = if k == ni {
                    entry_at(&node.buf, node.offset(off)).2
                } else {
                    node.buf.len()
                };
                while pos > 0 {
                    let (start, s, e) = entry_before(&node.buf, pos);
                    if !f(idx, &node.buf[s..e]) {
                        return;
                    }
                    idx = idx.wrapping_sub(1);
                    pos = start;
                }
            }
        }
    }

    /// Elements `start..=end` (clamped), head to tail.
    pub fn range(&self, start: usize, end: usize) -> Vec<&[u8]> {
        let mut out = Vec::new();
        self.walk(start, false, |i, e| {
            if i > end {
                return false;
            }
            out.push(e);
            true
        });
        out
    }

    /// Removes up to `count` elements equal to `e` (all if 0), scanning from the head, or
    /// from the tail when `from_tail`. Returns how many went.
    pub fn remove_matching(&mut self, e: &[u8], count: usize, from_tail: bool) -> usize {
        let limit = if count == 0 { usize::MAX } else { count };
        let mut removed = 0;
        let order: Vec<usize> = if from_tail {
            (0..self.nodes.len()).rev().collect()
        } else {
            (0..self.nodes.len()).collect()
        };
        // Walking node indexes from the far end first keeps earlier indexes valid when a
        // node is dropped or split, so head-first scans collect and apply in reverse.
        let mut edits: Vec<(usize, Vec<usize>)> = Vec::new();
        for ni in order {
            if removed >= limit {
                break;
            }
            let node = &self.nodes[ni];
            let mut hits: Vec<usize> = node
                .iter()
                .enumerate()
                .filter(|(_, x)| *x == e)
                .map(|(k, _)| k)
                .collect();
            if from_tail {
                hits.reverse();
            }
            hits.truncate(limit - removed);
            if !hits.is_empty() {
                removed += hits.len();
                edits.push((ni, hits));
            }
        }
        edits.sort_by_key(|e| std::cmp::Reverse(e.0));
        for (ni, mut hits) in edits {
            hits.sort_unstable();
            self.retain_in_node(ni, |k, _| hits.binary_search(&k).is_err());
        }
        removed
    }

    /// Builds a list from elements, head to tail.
    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>, fill: i64) -> List {
        let nodes: VecDeque<Node> = pack(items, fill).into();
        let len = nodes.iter().map(|n| n.len()).sum();
        List { nodes, len }
    }
}

/// The list at `key` (a read: counts hits and misses).
pub fn read<'a>(db: &'a mut Db<'_>, key: &[u8]) -> Result<Option<&'a List>> {
    match db.read(key) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(Error::WrongType),
        },
    }
}

/// The list at `key` for modification (write path: no hit/miss counting).
pub fn get_mut<'a>(db: &'a mut Db<'_>, key: &[u8]) -> Result<Option<&'a mut List>> {
    match db.entry_mut(key) {
        None => Ok(None),
        Some(e) => match &mut e.value {
            Value::List(l) => Ok(Some(l)),
            _ => Err(Error::WrongType),
        },
    }
}

/// LPUSH/RPUSH (and the X forms when `create` is false): pushes `items` one by one at
/// `end`. Returns the new length, or None when the key is missing and `create` is false.
pub fn push<M: AsRef<[u8]>>(
    db: &mut Db<'_>,
    key: &[u8],
    end: End,
    items: &[M],
    fill: i64,
    create: bool,
) -> Result<Option<usize>> {
    let list = match get_mut(db, key)? {
        Some(l) => l,
        None if !create => return Ok(None),
        None => match &mut db.insert_new(key, Value::List(Box::default())).value {
            Value::List(l) => l,
            _ => unreachable!("just inserted a list"),
        },
    };
    for i in items {
        list.push(end, i.as_ref(), fill);
    }
    Ok(Some(list.len()))
}

/// Pops up to `count` elements from `end`, in pop order, deleting the key once empty.
/// None if the key is missing (or WrongType).
pub fn pop(db: &mut Db<'_>, key: &[u8], end: End, count: usize) -> Result<Option<Vec<Vec<u8>>>> {
    let Some(list) = get_mut(db, key)? else {
        return Ok(None);
    };
    let n = count.min(list.len());
    let out = if n == 0 {
        Vec::new()
    } else if n == 1 {
        vec![list.pop(end).expect("lists are never empty")]
    } else {
        let mut out = Vec::with_capacity(n);
        let (start, reverse) = match end {
            End::Head => (0, false),
            End::Tail => (list.len() - 1, true),
        };
        list.walk(start, reverse, |_, e| {
            out.push(e.to_vec());
            out.len() < n
        });
        match end {
            End::Head => list.remove_range(0, n),
            End::Tail => list.remove_range(list.len() - n, n),
        }
        out
    };
    if list.is_empty() {
        db.remove(key);
    }
    Ok(Some(out))
}

/// LMOVE: pops from `src`'s `from` end and pushes at `dst`'s `to` end (creating it).
/// None if `src` is missing. Fails with WrongType, before changing anything, if either
/// key holds another type (the destination is only checked when the source exists).
pub fn move_one(
    db: &mut Db<'_>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
    fill: i64,
) -> Result<Option<Vec<u8>>> {
    if get_mut(db, src)?.is_none() {
        return Ok(None);
    }
    get_mut(db, dst)?;
    let list = get_mut(db, src)?.expect("checked above");
    let v = list.pop(from).expect("lists are never empty");
    if src == dst {
        list.push(to, &v, fill);
        return Ok(Some(v));
    }
    if list.is_empty() {
        db.remove(src);
    }
    push(db, dst, to, &[&v], fill, true)?;
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn items(l: &List) -> Vec<String> {
        l.iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect()
    }

    #[test]
    fn push_pop_both_ends_and_chunking() {
        let mut l = List::new();
        for i in 0..1000 {
            l.push_back(format!("{i}").as_bytes(), 4);
        }
        assert_eq!(l.len(), 1000);
        assert_eq!(l.node_count(), 250);
        for i in 0..10 {
            l.push_front(format!("h{i}").as_bytes(), 4);
        }
        assert_eq!(l.get(0), Some(&b"h9"[..]));
        assert_eq!(l.get(10), Some(&b"0"[..]));
        assert_eq!(l.get(1009), Some(&b"999"[..]));
        assert_eq!(l.pop_back(), Some(b"999".to_vec()));
        assert_eq!(l.pop_front(), Some(b"h9".to_vec()));
        assert_eq!(l.len(), 1008);
        let mut l = List::new();
        for _ in 0..100 {
            l.push_back(&[b'x'; 100], -1);
        }
        // 101 bytes per entry, 4 KB nodes: 40 per node.
        assert_eq!(l.node_count(), 3);
        assert!(l.heap_bytes() >= 100 * 101);
        l.push_back(&[b'y'; 10000], -1);
        assert_eq!(l.node_count(), 4);
        assert_eq!(l.get(100).map(|e| e.len()), Some(10000));
    }

    #[test]
    fn set_insert_remove_trim() {
        let mut l = List::from_items(["a", "b", "c", "d", "e"].map(str::as_bytes), 2);
        assert!(l.set(2, b"C", 2));
        assert!(!l.set(5, b"x", 2));
        l.insert(1, b"ab", 2);
        l.insert(6, b"f", 2);
        assert_eq!(items(&l), ["a", "ab", "b", "C", "d", "e", "f"]);
        l.remove_range(1, 3);
        assert_eq!(items(&l), ["a", "d", "e", "f"]);
        l.trim(1, 1);
        assert_eq!(items(&l), ["d", "e"]);
        let mut l = List::from_items(["x", "y", "x", "x", "z", "x"].map(str::as_bytes), 2);
        assert_eq!(l.remove_matching(b"x", 2, true), 2);
        assert_eq!(items(&l), ["x", "y", "x", "z"]);
        assert_eq!(l.remove_matching(b"x", 0, false), 2);
        assert_eq!(items(&l), ["y", "z"]);
        assert_eq!(l.range(0, 100), vec![&b"y"[..], &b"z"[..]]);
        assert_eq!(l.resolve(-1), Some(1));
        assert_eq!(l.resolve(-3), None);
        assert_eq!(l.resolve(i64::MIN), None);
    }

    #[test]
    fn small_elements_cost_a_few_bytes() {
        let mut l = List::new();
        for i in 0..10_000u32 {
            let e = format!("{i:08}");
            if i % 2 == 0 {
                l.push_back(e.as_bytes(), -2);
            } else {
                l.push_front(e.as_bytes(), -2);
            }
        }
        // 8 payload bytes + 2 length bytes, plus a share of each 8 KB node's header.
        assert!(l.heap_bytes() < 10_000 * 11, "{}", l.heap_bytes());
        assert_eq!(l.node_count(), 13);
    }

    #[test]
    fn long_entries_both_directions() {
        let sizes = [0usize, 1, 127, 128, 16383, 16384, 70000];
        let mut l = List::new();
        for (k, n) in sizes.iter().enumerate() {
            let e = vec![b'a' + k as u8; *n];
            if k % 2 == 0 {
                l.push_front(&e, -2);
            } else {
                l.push_back(&e, -2);
            }
        }
        let fwd: Vec<usize> = l.iter().map(|e| e.len()).collect();
        assert_eq!(fwd, [70000, 16383, 127, 0, 1, 128, 16384]);
        let mut rev = Vec::new();
        l.walk(l.len() - 1, true, |_, e| {
            rev.push(e.len());
            true
        });
        assert_eq!(rev, [16384, 128, 1, 0, 127, 16383, 70000]);
        assert!(l.set(3, &[b'z'; 200], -2));
        assert_eq!(l.get(3).map(|e| e.len()), Some(200));
        assert_eq!(l.pop_back().map(|e| e.len()), Some(16384));
        assert_eq!(l.pop_front().map(|e| e.len()), Some(70000));
        assert_eq!(l.len(), 5);
    }

    #[test]
    fn walk_both_ways() {
        let l = List::from_items(["0", "1", "2", "3", "4", "5", "6"].map(str::as_bytes), 3);
        let mut seen = Vec::new();
        l.walk(5, true, |i, e| {
            seen.push((i, e.to_vec()));
            true
        });
        assert_eq!(seen.len(), 6);
        assert_eq!(seen[0], (5, b"5".to_vec()));
        assert_eq!(seen[5], (0, b"0".to_vec()));
        let mut fwd = Vec::new();
        l.walk(2, false, |i, _| {
            fwd.push(i);
            i < 4
        });
        assert_eq!(fwd, [2, 3, 4]);
    }

    #[derive(Debug, Clone)]
    enum Op {
        PushFront(Vec<u8>),
        PushBack(Vec<u8>),
        PopFront,
        PopBack,
        Insert(usize, Vec<u8>),
        Set(usize, Vec<u8>),
        Remove(Vec<u8>, usize, bool),
        Trim(usize, usize),
        RemoveRange(usize, usize),
        Range(usize, usize),
        Index(usize),
    }

    fn elem() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            "[a-c]{1,2}".prop_map(String::into_bytes),
            proptest::collection::vec(any::<u8>(), 0..300),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            elem().prop_map(Op::PushFront),
            elem().prop_map(Op::PushBack),
            Just(Op::PopFront),
            Just(Op::PopBack),
            (0usize..60, elem()).prop_map(|(i, e)| Op::Insert(i, e)),
            (0usize..60, elem()).prop_map(|(i, e)| Op::Set(i, e)),
            (elem(), 0usize..4, any::<bool>()).prop_map(|(e, c, t)| Op::Remove(e, c, t)),
            (0usize..5, 0usize..5).prop_map(|(a, b)| Op::Trim(a, b)),
            (0usize..60, 0usize..10).prop_map(|(a, b)| Op::RemoveRange(a, b)),
            (0usize..60, 0usize..60).prop_map(|(a, b)| Op::Range(a, b)),
            (0usize..60).prop_map(Op::Index),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_a_vecdeque(ops in proptest::collection::vec(op(), 0..200), fill in prop_oneof![-5i64..0, 1i64..6]) {
            let mut l = List::new();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for o in ops {
                match o {
                    Op::PushFront(e) => { l.push_front(&e, fill); m.push_front(e); }
                    Op::PushBack(e) => { l.push_back(&e, fill); m.push_back(e); }
                    Op::PopFront => prop_assert_eq!(l.pop_front(), m.pop_front()),
                    Op::PopBack => prop_assert_eq!(l.pop_back(), m.pop_back()),
                    Op::Insert(i, e) => {
                        let i = i.min(m.len());
                        l.insert(i, &e, fill);
                        m.insert(i, e);
                    }
                    Op::Set(i, e) => {
                        let ok = i < m.len();
                        prop_assert_eq!(l.set(i, &e, fill), ok);
                        if ok { m[i] = e; }
                    }
                    Op::Remove(e, c, tail) => {
                        let limit = if c == 0 { usize::MAX } else { c };
                        let mut hits: Vec<usize> = m.iter().enumerate().filter(|(_, x)| **x == e).map(|(k, _)| k).collect();
                        if tail { hits.reverse(); }
                        hits.truncate(limit);
                        hits.sort_unstable();
                        for k in hits.iter().rev() { m.remove(*k); }
                        prop_assert_eq!(l.remove_matching(&e, c, tail), hits.len());
                    }
                    Op::Trim(a, b) => {
                        l.trim(a, b);
                        let b = b.min(m.len());
                        m.truncate(m.len() - b);
                        for _ in 0..a.min(m.len()) { m.pop_front(); }
                    }
                    Op::RemoveRange(a, n) => {
                        l.remove_range(a, n);
                        if a < m.len() {
                            let end = (a + n).min(m.len());
                            m.drain(a..end);
                        }
                    }
                    Op::Range(a, b) => {
                        let got: Vec<Vec<u8>> = l.range(a, b).into_iter().map(|e| e.to_vec()).collect();
                        let want: Vec<Vec<u8>> = m.iter().enumerate().filter(|(k, _)| *k >= a && *k <= b).map(|(_, e)| e.clone()).collect();
                        prop_assert_eq!(got, want);
                    }
                    Op::Index(i) => prop_assert_eq!(l.get(i), m.get(i).map(|e| e.as_slice())),
                }
                prop_assert_eq!(l.len(), m.len());
                prop_assert_eq!(l.nodes.iter().map(|n| n.len()).sum::<usize>(), m.len());
                prop_assert!(l.nodes.iter().all(|n| n.count > 0));
            }
            prop_assert_eq!(l.to_vec(), Vec::from(m.clone()));
            let mut rev = Vec::new();
            if !l.is_empty() {
                l.walk(l.len() - 1, true, |_, e| { rev.push(e.to_vec()); true });
            }
            let mut want: Vec<Vec<u8>> = m.into_iter().collect();
            want.reverse();
            prop_assert_eq!(rev, want);
        }
    }
}
