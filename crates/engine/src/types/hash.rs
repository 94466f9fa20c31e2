//! The hash type.

/// One field and its value.
type Pair = (Box<[u8]>, Box<[u8]>);

/// A hash value (field -> value).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Hash {
    fields: Vec<Pair>,
}

impl Hash {
    /// Redis's name for the encoding (OBJECT ENCODING).
    pub fn encoding(&self) -> &'static str {
        "listpack"
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Calls `f` with every (field, value) pair.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) {
        for (k, v) in &self.fields {
            f(k, v);
        }
    }

    /// Heap bytes owned by the value.
    pub fn heap_bytes(&self) -> usize {
        self.fields.iter().map(|(f, v)| f.len() + v.len()).sum()
    }
}
