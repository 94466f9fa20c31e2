//! Replies too large to build in memory, written as the client reads them.
//!
//! SRANDMEMBER, HRANDFIELD and ZRANDMEMBER with a negative count answer that
//! many random elements, repeats allowed, and the count may be as large as
//! 2^63 - 1. Redis builds such a reply whole in the client's output buffer
//! (it grows until the process runs out of memory). Rubedo answers the same
//! bytes but produces them lazily: the handler returns the array header as a
//! `Frame::Raw` and leaves the elements in `Client::tail`, drawn from a
//! snapshot of the collection; the connection writes them a chunk at a time,
//! waiting for the client to read, with no keyspace lock held. Memory stays
//! bounded by the snapshot and one chunk. Inside EXEC, the replies that
//! follow such a reply join the tail as encoded bytes.

use bytes::{Bytes, BytesMut};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Counts above this are streamed; smaller replies are built as usual.
pub const STREAM_OVER: u64 = 1 << 16;

/// One piece of a reply's tail.
pub enum Part {
    /// Bytes already encoded in the client's protocol.
    Bytes(Bytes),
    /// Elements produced one at a time.
    Stream(Stream),
}

impl std::fmt::Debug for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Part::Stream(s) => write!(f, "Stream({} left)", s.remaining),
        }
    }
}

/// `remaining` elements, each written by `emit`.
pub struct Stream {
    pub remaining: u64,
    pub emit: Box<dyn FnMut(&mut BytesMut) + Send>,
}

/// A stream of `count` elements drawn uniformly at random (with repeats)
/// from `items`, each encoded by `encode`.
pub fn random_picks<T: Send + 'static>(
    items: Vec<T>,
    count: u64,
    encode: impl Fn(&T, &mut BytesMut) + Send + 'static,
) -> Stream {
    assert!(!items.is_empty(), "a sample of an empty collection");
    let mut rng = StdRng::from_entropy();
    Stream {
        remaining: count,
        emit: Box::new(move |out| encode(&items[rng.gen_range(0..items.len())], out)),
    }
}

/// The header of an array of `n` elements (the same in RESP2 and RESP3).
pub fn array_header(n: u64) -> Bytes {
    Bytes::from(format!("*{n}\r\n"))
}
