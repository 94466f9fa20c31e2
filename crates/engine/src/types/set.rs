//! The set type.

/// A set value.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Set {
    members: Vec<Box<[u8]>>,
}

impl Set {
    /// Redis's name for the encoding (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Calls `f` with every member in its string form.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        for m in &self.members {
            f(m);
        }
    }

    /// Heap bytes owned by the value.
    pub fn heap_bytes(&self) -> usize {
        self.members.iter().map(|m| m.len()).sum()
    }
}
