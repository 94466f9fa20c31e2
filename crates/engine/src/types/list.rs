//! The list type.

/// A list value.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct List {
    items: Vec<Box<[u8]>>,
}

impl List {
    /// Redis's name for the encoding (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Calls `f` with every element, head to tail.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        for i in &self.items {
            f(i);
        }
    }

    /// Heap bytes owned by the value.
    pub fn heap_bytes(&self) -> usize {
        self.items.iter().map(|i| i.len()).sum()
    }
}
