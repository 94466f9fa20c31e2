//! rubedo-resp: the RESP2/RESP3 wire protocol, and nothing else.
//!
//! It knows no command names and depends on no other workspace crate.
//!
//! - [`RequestParser`] reads commands sent to the server (multibulk and
//!   inline), with Redis 7.0's limits and error texts.
//! - [`encode`] and the `write_*` helpers write replies, downgrading RESP3
//!   types for RESP2 clients, so commands never branch on the protocol.
//! - [`decode_frame`] reads replies of any type, for clients and tests.
//!
//! ```
//! use bytes::BytesMut;
//! use rubedo_resp::{decode_frame, encode, Frame, Protocol, RequestLimits, RequestParser};
//!
//! let mut input = BytesMut::from(&b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n"[..]);
//! let args = RequestParser::new()
//!     .parse(&mut input, &RequestLimits::default())
//!     .unwrap()
//!     .unwrap();
//! assert_eq!(args, vec!["ECHO", "hi"]);
//!
//! let mut out = BytesMut::new();
//! encode(&Frame::Map(vec![(Frame::bulk(b"a"), Frame::Double(1.5))]), Protocol::Resp2, &mut out);
//! assert_eq!(&out[..], b"*2\r\n$1\r\na\r\n$3\r\n1.5\r\n");
//! assert_eq!(
//!     decode_frame(&mut out).unwrap(),
//!     Some(Frame::Array(vec![Frame::bulk(b"a"), Frame::bulk(b"1.5")]))
//! );
//! ```

pub mod decode;
pub mod encode;
mod frame;
pub mod quote;
pub mod request;

pub use decode::{decode_frame, frame_len, DecodeError, MAX_DEPTH};
pub use encode::{
    encode, format_double, pairs_len, write_array_len, write_big_number, write_bool, write_bulk,
    write_bulk_header, write_crlf, write_double, write_error, write_int, write_map_len, write_null,
    write_null_array, write_pair, write_push_len, write_set_len, write_simple, write_verbatim,
};
pub use frame::{Frame, Protocol};
pub use quote::quote_into;
pub use request::{split_args, ProtocolError, RequestLimits, RequestParser};
