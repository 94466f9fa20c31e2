//! An order-statistic B+ tree of (score, member) pairs: the order of a large
//! sorted set.
//!
//! Why a B+ tree: a ZADD that re-scores a member walks down the order twice
//! (out and back in). In a binary tree or skiplist each step is a cache miss
//! on a separate node; here a step is a binary search inside a node whose
//! scores sit in one contiguous array, so a set of 100,000 members is four
//! levels deep instead of twenty-odd. Leaves keep entries as parallel arrays
//! (scores apart from members, so a search touches members only on equal
//! scores); inner nodes keep, per child, the number of entries below it, so
//! rank and select are O(log n) and a range of k entries costs O(log n + k).
//!
//! A full leaf first hands an entry to a neighbour with room (as a B*-tree
//! does) and a full node at either end splits unevenly, so leaves stay well
//! filled whatever the insertion order; nodes are merged with a neighbour
//! when they fall under a third full and the two fit in one, so deletions
//! cannot leave a sparse tree behind.

use std::cmp::Ordering;

/// Entries per leaf and children per inner node. Small under test, so the
/// tests split and merge nodes constantly.
#[cfg(not(test))]
const CAP: usize = 32;
#[cfg(test)]
const CAP: usize = 4;

type Member = Box<[u8]>;

/// (score, member) order; -0 and 0 tie, as C's `<` has them.
pub fn cmp_key(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    if s1 < s2 {
        Ordering::Less
    } else if s1 > s2 {
        Ordering::Greater
    } else {
        m1.cmp(m2)
    }
}

struct Leaf {
    n: usize,
    scores: [f64; CAP],
    members: [Option<Member>; CAP],
}

/// Child `i` holds keys in `[key[i], key[i+1])`; `key[0]` is unused. A key
/// is a routing bound: it need not be in the tree any more.
struct Inner {
    n: usize,
    counts: [usize; CAP],
    scores: [f64; CAP],
    members: [Option<Member>; CAP],
    children: [Option<Node>; CAP],
}

enum Node {
    Leaf(Box<Leaf>),
    Inner(Box<Inner>),
}

fn new_leaf() -> Box<Leaf> {
    Box::new(Leaf {
        n: 0,
        scores: [0.0; CAP],
        members: std::array::from_fn(|_| None),
    })
}

fn new_inner() -> Box<Inner> {
    Box::new(Inner {
        n: 0,
        counts: [0; CAP],
        scores: [0.0; CAP],
        members: std::array::from_fn(|_| None),
        children: std::array::from_fn(|_| None),
    })
}

impl Leaf {
    fn member(&self, i: usize) -> &[u8] {
        self.members[i].as_deref().expect("live slot")
    }

    /// Index of the first entry not below (s, m).
    fn lower_bound(&self, s: f64, m: &[u8]) -> usize {
        let (mut lo, mut hi) = (0, self.n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if cmp_key(self.scores[mid], self.member(mid), s, m) == Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn insert_at(&mut self, i: usize, s: f64, m: Member) {
        self.scores.copy_within(i..self.n, i + 1);
        self.members[i..=self.n].rotate_right(1);
        self.scores[i] = s;
        self.members[i] = Some(m);
        self.n += 1;
    }

    fn remove_at(&mut self, i: usize) -> Member {
        let m = self.members[i].take().expect("live slot");
        self.scores.copy_within(i + 1..self.n, i);
        self.members[i..self.n].rotate_left(1);
        self.n -= 1;
        m
    }

    /// Moves the entries from `half` on to a new leaf.
    fn split(&mut self, half: usize) -> Box<Leaf> {
        let mut r = new_leaf();
        for (j, i) in (half..self.n).enumerate() {
            r.scores[j] = self.scores[i];
            r.members[j] = self.members[i].take();
        }
        r.n = self.n - half;
        self.n = half;
        r
    }

    /// Appends all of `other`.
    fn absorb(&mut self, other: &mut Leaf) {
        for i in 0..other.n {
            self.scores[self.n + i] = other.scores[i];
            self.members[self.n + i] = other.members[i].take();
        }
        self.n += other.n;
        other.n = 0;
    }
}

impl Inner {
    fn key_member(&self, i: usize) -> &[u8] {
        self.members[i].as_deref().expect("routing key")
    }

    /// The child whose range holds (s, m).
    fn child_for(&self, s: f64, m: &[u8]) -> usize {
        // The last i >= 1 with key[i] <= (s, m), else 0.
        let (mut lo, mut hi) = (1, self.n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if cmp_key(self.scores[mid], self.key_member(mid), s, m) == Ordering::Greater {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo - 1
    }

    fn child(&self, i: usize) -> &Node {
        self.children[i].as_ref().expect("live child")
    }

    fn child_mut(&mut self, i: usize) -> &mut Node {
        self.children[i].as_mut().expect("live child")
    }

    /// Inserts `node` (holding `count` entries, lowest key `key`) as child `i`.
    fn insert_child(&mut self, i: usize, key: (f64, Member), node: Node, count: usize) {
        let n = self.n;
        self.counts.copy_within(i..n, i + 1);
        self.scores.copy_within(i..n, i + 1);
        self.members[i..=n].rotate_right(1);
        self.children[i..=n].rotate_right(1);
        self.counts[i] = count;
        self.scores[i] = key.0;
        self.members[i] = Some(key.1);
        self.children[i] = Some(node);
        self.n += 1;
    }

    fn remove_child(&mut self, i: usize) -> Node {
        let n = self.n;
        let node = self.children[i].take().expect("live child");
        self.members[i] = None;
        self.counts.copy_within(i + 1..n, i);
        self.scores.copy_within(i + 1..n, i);
        self.members[i..n].rotate_left(1);
        self.children[i..n].rotate_left(1);
        self.n -= 1;
        node
    }

    /// Moves the children from `half` on to a new node; its first key
    /// becomes the separator the parent stores.
    fn split(&mut self, half: usize) -> Box<Inner> {
        let mut r = new_inner();
        for (j, i) in (half..self.n).enumerate() {
            r.counts[j] = self.counts[i];
            r.scores[j] = self.scores[i];
            r.members[j] = self.members[i].take();
            r.children[j] = self.children[i].take();
        }
        r.n = self.n - half;
        self.n = half;
        r
    }

    /// Appends all of `other`, whose first child starts at `key`.
    fn absorb(&mut self, other: &mut Inner, key: (f64, Member)) {
        let base = self.n;
        for i in 0..other.n {
            self.counts[base + i] = other.counts[i];
            self.scores[base + i] = other.scores[i];
            self.members[base + i] = other.members[i].take();
            self.children[base + i] = other.children[i].take();
        }
        self.scores[base] = key.0;
        self.members[base] = Some(key.1);
        self.n += other.n;
        other.n = 0;
    }

    fn total(&self) -> usize {
        self.counts[..self.n].iter().sum()
    }
}

/// Where a full node splits for an insertion at slot `i`: in the middle,
/// except at either end, where the full side stays full. Keys that arrive
/// in order (growing or shrinking scores, a common pattern) then fill whole
/// nodes instead of leaving a trail of half-empty ones. `first` is the
/// lowest slot an insertion can target (an inner node never inserts before
/// its first child).
fn split_point(i: usize, first: usize) -> usize {
    if i == CAP {
        CAP
    } else if i <= first {
        first
    } else {
        CAP / 2
    }
}

impl Node {
    fn len(&self) -> usize {
        match self {
            Node::Leaf(l) => l.n,
            Node::Inner(i) => i.total(),
        }
    }

    /// Slots used (entries of a leaf, children of an inner node).
    fn fill(&self) -> usize {
        match self {
            Node::Leaf(l) => l.n,
            Node::Inner(i) => i.n,
        }
    }

    /// Inserts; on overflow returns the new right sibling with its first key.
    fn insert(&mut self, s: f64, m: Member) -> Option<((f64, Member), Node)> {
        match self {
            Node::Leaf(l) => {
                let i = l.lower_bound(s, &m);
                if l.n < CAP {
                    l.insert_at(i, s, m);
                    return None;
                }
                let at = split_point(i, 0);
                let mut r = l.split(at);
                if at == CAP || i > at {
                    r.insert_at(i - at, s, m);
                } else {
                    l.insert_at(i, s, m);
                }
                let key = (r.scores[0], r.member(0).into());
                Some((key, Node::Leaf(r)))
            }
            Node::Inner(inner) => {
                let mut c = inner.child_for(s, &m);
                if inner.make_room(c) {
                    c = inner.child_for(s, &m);
                }
                inner.counts[c] += 1;
                let (key, node) = inner.child_mut(c).insert(s, m)?;
                let moved = node.len();
                inner.counts[c] -= moved;
                if inner.n < CAP {
                    inner.insert_child(c + 1, key, node, moved);
                    return None;
                }
                let p = c + 1;
                let at = split_point(p, 1);
                let mut r = inner.split(at);
                if at == CAP || p > at {
                    r.insert_child(p - at, key, node, moved);
                } else {
                    inner.insert_child(p, key, node, moved);
                }
                let rk = (r.scores[0], r.key_member(0).into());
                Some((rk, Node::Inner(r)))
            }
        }
    }

    /// Removes (s, m) and returns its member.
    fn remove(&mut self, s: f64, m: &[u8]) -> Option<Member> {
        match self {
            Node::Leaf(l) => {
                let i = l.lower_bound(s, m);
                if i < l.n && l.scores[i] == s && l.member(i) == m {
                    Some(l.remove_at(i))
                } else {
                    None
                }
            }
            Node::Inner(inner) => {
                let c = inner.child_for(s, m);
                let got = inner.child_mut(c).remove(s, m)?;
                inner.counts[c] -= 1;
                inner.rebalance(c);
                Some(got)
            }
        }
    }
}

impl Inner {
    fn leaf_mut(&mut self, i: usize) -> Option<&mut Leaf> {
        match self.child_mut(i) {
            Node::Leaf(l) => Some(l),
            Node::Inner(_) => None,
        }
    }

    fn leaf_fill(&self, i: usize) -> usize {
        match self.child(i) {
            Node::Leaf(l) => l.n,
            Node::Inner(_) => CAP,
        }
    }

    /// Before inserting into a full leaf `c`: if a neighbouring leaf has
    /// room, hands it one entry instead of letting `c` split, so leaves of
    /// a set built in random order stay fuller (as a B*-tree does). True if
    /// an entry moved (the caller looks up its child again).
    fn make_room(&mut self, c: usize) -> bool {
        if self.leaf_fill(c) < CAP {
            return false;
        }
        if c + 1 < self.n && self.leaf_fill(c + 1) < CAP - 1 {
            let l = self.leaf_mut(c).expect("leaf");
            let (s, m) = (l.scores[l.n - 1], l.remove_at(l.n - 1));
            let key: Member = m.clone();
            self.leaf_mut(c + 1).expect("leaf").insert_at(0, s, m);
            self.scores[c + 1] = s;
            self.members[c + 1] = Some(key);
            self.counts[c] -= 1;
            self.counts[c + 1] += 1;
            return true;
        }
        if c > 0 && self.leaf_fill(c - 1) < CAP - 1 {
            let l = self.leaf_mut(c).expect("leaf");
            let (s, m) = (l.scores[0], l.remove_at(0));
            let (ns, nm): (f64, Member) = (l.scores[0], l.member(0).into());
            let left = self.leaf_mut(c - 1).expect("leaf");
            left.insert_at(left.n, s, m);
            self.scores[c] = ns;
            self.members[c] = Some(nm);
            self.counts[c] -= 1;
            self.counts[c - 1] += 1;
            return true;
        }
        false
    }

    /// After child `c` shrank: drop it if empty, or merge it with a
    /// neighbour when it is under a third full and both fit in one node.
    fn rebalance(&mut self, c: usize) {
        if self.counts[c] == 0 {
            self.remove_child(c);
            return;
        }
        if self.child(c).fill() * 3 >= CAP || self.n < 2 {
            return;
        }
        // Merge the pair (left, left + 1) that contains c.
        let left = if c + 1 < self.n { c } else { c - 1 };
        if self.child(left).fill() + self.child(left + 1).fill() > CAP {
            return;
        }
        let right_count = self.counts[left + 1];
        let key = (
            self.scores[left + 1],
            self.members[left + 1].take().expect("routing key"),
        );
        let mut right = self.remove_child(left + 1);
        match (self.child_mut(left), &mut right) {
            (Node::Leaf(a), Node::Leaf(b)) => a.absorb(b),
            (Node::Inner(a), Node::Inner(b)) => a.absorb(b, key),
            _ => unreachable!("siblings are at one depth"),
        }
        self.counts[left] += right_count;
    }
}

/// The tree. The root is an empty leaf when there are no entries.
pub struct OsTree {
    root: Node,
    len: usize,
}

impl Default for OsTree {
    fn default() -> Self {
        OsTree::new()
    }
}

impl OsTree {
    pub fn new() -> OsTree {
        OsTree {
            root: Node::Leaf(new_leaf()),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds (s, m), which must not be present.
    pub fn insert(&mut self, s: f64, m: Member) {
        self.len += 1;
        if let Some((key, right)) = self.root.insert(s, m) {
            let left = std::mem::replace(&mut self.root, Node::Leaf(new_leaf()));
            let mut top = new_inner();
            let (lc, rc) = (left.len(), right.len());
            top.children[0] = Some(left);
            top.counts[0] = lc;
            top.children[1] = Some(right);
            top.counts[1] = rc;
            top.scores[1] = key.0;
            top.members[1] = Some(key.1);
            top.n = 2;
            self.root = Node::Inner(top);
        }
    }

    /// Removes (s, m) and hands its member back (for reuse), if present.
    pub fn remove(&mut self, s: f64, m: &[u8]) -> Option<Member> {
        let got = self.root.remove(s, m)?;
        self.len -= 1;
        // A root with one child hands the role down.
        while let Node::Inner(i) = &mut self.root {
            if i.n != 1 {
                break;
            }
            let only = i.children[0].take().expect("live child");
            self.root = only;
        }
        if self.len == 0 {
            self.root = Node::Leaf(new_leaf());
        }
        Some(got)
    }

    /// How many entries satisfy `before`, which must hold for a prefix of
    /// the order (and may be asked about keys no longer in the tree).
    pub fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        let mut acc = 0;
        let mut node = &self.root;
        loop {
            match node {
                Node::Leaf(l) => {
                    let (mut lo, mut hi) = (0, l.n);
                    while lo < hi {
                        let mid = (lo + hi) / 2;
                        if before(l.scores[mid], l.member(mid)) {
                            lo = mid + 1;
                        } else {
                            hi = mid;
                        }
                    }
                    return acc + lo;
                }
                Node::Inner(i) => {
                    // Keys 1..n are ascending: find how many satisfy `before`;
                    // every child before the last such key's child is counted whole.
                    let (mut lo, mut hi) = (1, i.n);
                    while lo < hi {
                        let mid = (lo + hi) / 2;
                        if before(i.scores[mid], i.key_member(mid)) {
                            lo = mid + 1;
                        } else {
                            hi = mid;
                        }
                    }
                    let c = lo - 1;
                    acc += i.counts[..c].iter().sum::<usize>();
                    node = i.child(c);
                }
            }
        }
    }

    /// The entry of rank `k` (0-based).
    pub fn select(&self, mut k: usize) -> Option<(&[u8], f64)> {
        if k >= self.len {
            return None;
        }
        let mut node = &self.root;
        loop {
            match node {
                Node::Leaf(l) => return Some((l.member(k), l.scores[k])),
                Node::Inner(i) => {
                    let mut c = 0;
                    while k >= i.counts[c] {
                        k -= i.counts[c];
                        c += 1;
                    }
                    node = i.child(c);
                }
            }
        }
    }

    /// Calls `f` on the entries of ranks `lo..hi`, in order.
    pub fn visit(&self, lo: usize, hi: usize, f: &mut dyn FnMut(&[u8], f64)) {
        let hi = hi.min(self.len);
        if lo < hi {
            visit_node(&self.root, lo, hi, f);
        }
    }

    /// Removes the entries of ranks `lo..hi` and returns them in order.
    pub fn remove_range(&mut self, lo: usize, hi: usize) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::new();
        self.visit(lo, hi, &mut |m, s| out.push((m.to_vec(), s)));
        for (m, s) in &out {
            self.remove(*s, m);
        }
        out
    }

    /// Approximate heap bytes of the nodes (members excluded).
    pub fn node_bytes(&self) -> usize {
        fn walk(n: &Node) -> usize {
            match n {
                Node::Leaf(_) => std::mem::size_of::<Leaf>(),
                Node::Inner(i) => {
                    std::mem::size_of::<Inner>() + (0..i.n).map(|c| walk(i.child(c))).sum::<usize>()
                }
            }
        }
        walk(&self.root)
    }
}

/// Visits ranks `lo..hi` of the subtree (relative to it).
fn visit_node(n: &Node, lo: usize, hi: usize, f: &mut dyn FnMut(&[u8], f64)) {
    match n {
        Node::Leaf(l) => {
            for i in lo..hi.min(l.n) {
                f(l.member(i), l.scores[i]);
            }
        }
        Node::Inner(inner) => {
            let mut base = 0;
            for c in 0..inner.n {
                let cnt = inner.counts[c];
                if base >= hi {
                    break;
                }
                if base + cnt > lo {
                    let a = lo.saturating_sub(base);
                    let b = (hi - base).min(cnt);
                    visit_node(inner.child(c), a, b, f);
                }
                base += cnt;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(t: &OsTree, model: &[(f64, Vec<u8>)]) {
        let mut got = Vec::new();
        t.visit(0, usize::MAX, &mut |m, s| got.push((s, m.to_vec())));
        assert_eq!(got, model);
        assert_eq!(t.len(), model.len());
        fn depth_counts(n: &Node) -> (usize, usize) {
            match n {
                Node::Leaf(l) => (0, l.n),
                Node::Inner(i) => {
                    let mut d = None;
                    let mut total = 0;
                    for c in 0..i.n {
                        let (cd, cn) = depth_counts(i.child(c));
                        assert_eq!(cn, i.counts[c], "counts match");
                        assert!(cn > 0, "no empty child");
                        assert!(d.is_none() || d == Some(cd), "balanced");
                        d = Some(cd);
                        total += cn;
                    }
                    (d.unwrap_or(0) + 1, total)
                }
            }
        }
        depth_counts(&t.root);
    }

    proptest! {
        #[test]
        fn matches_a_sorted_vec(ops in proptest::collection::vec((0u16..300, -20i8..20, any::<bool>()), 0..1500)) {
            let mut t = OsTree::new();
            let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
            for (m, s, add) in ops {
                let member = format!("m{m:03}").into_bytes();
                let pos = model.iter().position(|(_, x)| *x == member);
                if add {
                    if let Some(p) = pos {
                        let (old, _) = model.remove(p);
                        let got = t.remove(old, &member);
                        prop_assert_eq!(got.as_deref(), Some(&member[..]));
                    }
                    t.insert(s as f64, member.clone().into());
                    model.push((s as f64, member));
                    model.sort_by(|a, b| cmp_key(a.0, &a.1, b.0, &b.1));
                } else if let Some(p) = pos {
                    let (old, _) = model.remove(p);
                    prop_assert!(t.remove(old, &member).is_some());
                } else {
                    prop_assert!(t.remove(s as f64, &member).is_none());
                }
            }
            check(&t, &model);
            for (k, (s, m)) in model.iter().enumerate() {
                prop_assert_eq!(t.select(k), Some((&m[..], *s)));
                prop_assert_eq!(t.count_before(|a, b| cmp_key(a, b, *s, m) == Ordering::Less), k);
            }
            prop_assert_eq!(t.select(model.len()), None);
            // Score bounds, including ones between and outside the stored scores.
            for bound in -22..22 {
                let want = model.iter().filter(|(s, _)| *s < bound as f64).count();
                prop_assert_eq!(t.count_before(|s, _| s < bound as f64), want);
            }
            // A middle range, then removal of it.
            let (lo, hi) = (model.len() / 3, model.len() * 2 / 3);
            let mut got = Vec::new();
            t.visit(lo, hi, &mut |m, s| got.push((s, m.to_vec())));
            prop_assert_eq!(&got[..], &model[lo..hi]);
            let removed = t.remove_range(lo, hi);
            let want: Vec<(Vec<u8>, f64)> = model[lo..hi].iter().map(|(s, m)| (m.clone(), *s)).collect();
            prop_assert_eq!(removed, want);
            model.drain(lo..hi);
            check(&t, &model);
        }
    }

    fn leaves(n: &Node) -> usize {
        match n {
            Node::Leaf(_) => 1,
            Node::Inner(i) => (0..i.n).map(|c| leaves(i.child(c))).sum(),
        }
    }

    #[test]
    fn in_order_inserts_fill_whole_nodes() {
        for rev in [false, true] {
            let mut t = OsTree::new();
            for i in 0..1000 {
                let k = if rev { 1000 - i } else { i };
                t.insert(k as f64, format!("{k}").into_bytes().into());
            }
            // Half-split nodes would need twice as many leaves.
            assert!(
                leaves(&t.root) <= 1000 / CAP + 1,
                "rev={rev}: {}",
                leaves(&t.root)
            );
            let mut model: Vec<(f64, Vec<u8>)> = (0..1000)
                .map(|i| {
                    let k = if rev { 1000 - i } else { i };
                    (k as f64, format!("{k}").into_bytes())
                })
                .collect();
            model.sort_by(|a, b| cmp_key(a.0, &a.1, b.0, &b.1));
            check(&t, &model);
        }
    }

    #[test]
    fn drains_to_an_empty_leaf() {
        let mut t = OsTree::new();
        for i in 0..1000 {
            t.insert(i as f64, format!("{i}").into_bytes().into());
        }
        for i in (0..1000).rev() {
            assert!(t.remove(i as f64, format!("{i}").as_bytes()).is_some());
        }
        assert!(t.is_empty());
        assert!(matches!(t.root, Node::Leaf(_)));
    }
}
