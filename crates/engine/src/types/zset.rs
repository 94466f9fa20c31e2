//! The sorted-set type.

/// A sorted-set value.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ZSet {
    members: Vec<(Box<[u8]>, f64)>,
}

impl ZSet {
    /// Redis's name for the encoding (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Calls `f` with every (member, score), in score order.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        for (m, s) in &self.members {
            f(m, *s);
        }
    }

    /// Heap bytes owned by the value.
    pub fn heap_bytes(&self) -> usize {
        self.members.iter().map(|(m, _)| m.len() + 8).sum()
    }
}
