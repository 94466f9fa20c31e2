//! The value model of the protocol: one `Frame` per RESP2/RESP3 value.

use bytes::Bytes;

/// The protocol version a connection speaks (chosen with HELLO).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

/// One protocol value. Commands build these; the encoder writes them in the
/// connection's protocol, downgrading RESP3-only types for RESP2 clients.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// `+OK`: a status line, never containing CR or LF.
    Simple(Bytes),
    /// `-ERR message`: the full error text including its prefix word.
    Error(Bytes),
    /// `:42`
    Integer(i64),
    /// `$3\r\nfoo`
    Bulk(Bytes),
    /// The null bulk: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// The null array: `*-1` in RESP2, `_` in RESP3.
    NullArray,
    /// `*N`
    Array(Vec<Frame>),
    /// `%N` (RESP3); a flat array of 2N items in RESP2.
    Map(Vec<(Frame, Frame)>),
    /// Pairs (member and score, field and value): in RESP3 an array of
    /// two-element arrays, in RESP2 one flat array of 2N items. Handlers
    /// build it once; only the encoder knows the protocol.
    Pairs(Vec<(Frame, Frame)>),
    /// `~N` (RESP3); an array in RESP2.
    Set(Vec<Frame>),
    /// `,1.5` (RESP3); a bulk string in RESP2.
    Double(f64),
    /// `#t` / `#f` (RESP3); the integer 1 / 0 in RESP2.
    Boolean(bool),
    /// `(123...` (RESP3); a bulk string in RESP2.
    BigNumber(Bytes),
    /// `=N\r\ntxt:...` (RESP3); a bulk string of the payload in RESP2.
    Verbatim { format: [u8; 3], data: Bytes },
    /// `>N` (RESP3 out-of-band); an array in RESP2.
    Push(Vec<Frame>),
    /// `|N` attribute map followed by the value it annotates (RESP3);
    /// RESP2 clients see only the value.
    Attribute(Vec<(Frame, Frame)>, Box<Frame>),
    /// Bytes already encoded in the connection's protocol, written as they
    /// are and counting as one element of an enclosing array. The server
    /// uses it where Redis writes several frames in one element's place
    /// (messages a command inside EXEC sends to its own client, SUBSCRIBE's
    /// confirmations inside EXEC). Never produced by the decoder.
    Raw(Bytes),
}

impl Frame {
    /// The frame with every [`Frame::Pairs`] laid out as `proto` writes it
    /// (nested two-element arrays in RESP3, one flat array in RESP2): the
    /// shape a client of that protocol decodes. For in-process callers
    /// that compare frames rather than bytes.
    pub fn laid_out(self, proto: crate::Protocol) -> Frame {
        let lay = |f: Frame| f.laid_out(proto);
        match self {
            Frame::Pairs(pairs) if proto == crate::Protocol::Resp3 => Frame::Array(
                pairs
                    .into_iter()
                    .map(|(a, b)| Frame::Array(vec![lay(a), lay(b)]))
                    .collect(),
            ),
            Frame::Pairs(pairs) => Frame::Array(
                pairs
                    .into_iter()
                    .flat_map(|(a, b)| [lay(a), lay(b)])
                    .collect(),
            ),
            Frame::Array(v) => Frame::Array(v.into_iter().map(lay).collect()),
            Frame::Set(v) => Frame::Set(v.into_iter().map(lay).collect()),
            Frame::Push(v) => Frame::Push(v.into_iter().map(lay).collect()),
            Frame::Map(m) => Frame::Map(m.into_iter().map(|(a, b)| (lay(a), lay(b))).collect()),
            f => f,
        }
    }

    /// `+OK`
    pub fn ok() -> Frame {
        Frame::Simple(Bytes::from_static(b"OK"))
    }

    /// A status reply from a static string.
    pub fn simple(s: &'static str) -> Frame {
        Frame::Simple(Bytes::from_static(s.as_bytes()))
    }

    /// A bulk reply copied from a byte slice.
    pub fn bulk(b: &[u8]) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(b))
    }

    /// An error reply; `msg` carries its prefix word, e.g. `ERR syntax error`.
    pub fn error(msg: impl Into<Bytes>) -> Frame {
        Frame::Error(msg.into())
    }

    /// True for `Frame::Error`.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }
}
