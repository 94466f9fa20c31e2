//! What a command leaves for its client, as one value: its answer (a reply,
//! a request to block, or nothing) and the frames it sent its own client
//! on the way (subscribe confirmations, messages and keyspace events it
//! caused for itself, its own invalidations, its MONITOR line), already
//! encoded and split into those written before the answer and after it.
//!
//! The connection writes an outcome; EXEC folds each queued command's
//! outcome into one element of its array; a script will read one the same
//! way, so each sees exactly what a client would have.

use bytes::BytesMut;
use rubedo_resp::{encode, Frame, Protocol};

use crate::signals::blocking::BlockRequest;

/// A command's answer.
#[derive(Debug)]
pub enum Answer {
    Reply(Frame),
    /// Nothing to serve yet: park the client until a key is ready.
    Block(BlockRequest),
    /// No reply frame of its own (SUBSCRIBE answers with its confirmations;
    /// a second MONITOR with nothing). CLIENT REPLY SKIP still counts it.
    Silent,
}

#[derive(Debug)]
pub struct Outcome {
    /// Encoded frames that go ahead of the answer.
    pub before: BytesMut,
    pub answer: Answer,
    /// Encoded frames that follow the answer.
    pub after: BytesMut,
    /// The rest of a reply too large to build, written after it as the
    /// client reads (see `tail`).
    pub tail: Vec<crate::session::tail::Part>,
}

impl Outcome {
    /// Just a reply (a refusal, QUEUED, a timeout).
    pub fn reply(f: Frame) -> Outcome {
        Outcome {
            before: BytesMut::new(),
            answer: Answer::Reply(f),
            after: BytesMut::new(),
            tail: Vec::new(),
        }
    }

    /// The reply frame, if the answer is one.
    pub fn frame(&self) -> Option<&Frame> {
        match &self.answer {
            Answer::Reply(f) => Some(f),
            _ => None,
        }
    }

    /// The outcome as one frame, for a caller that takes one value per
    /// command (EXEC's array, tests): the reply itself when the command
    /// sent nothing else, else the raw bytes in the order a client reads
    /// them. A block request reads as the null array. The tail, if any, is
    /// the caller's to take first.
    pub fn into_frame(self, proto: Protocol) -> Frame {
        let Outcome {
            mut before,
            answer,
            after,
            ..
        } = self;
        let reply = match answer {
            Answer::Reply(f) => Some(f),
            Answer::Block(_) => Some(Frame::NullArray),
            Answer::Silent => None,
        };
        match reply {
            Some(f) if before.is_empty() && after.is_empty() => f,
            reply => {
                if let Some(f) = reply {
                    encode(&f, proto, &mut before);
                }
                before.extend_from_slice(&after);
                Frame::Raw(before.freeze())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_frame_keeps_the_order_a_client_reads() {
        assert_eq!(
            Outcome::reply(Frame::Integer(1)).into_frame(Protocol::Resp2),
            Frame::Integer(1)
        );
        let mut o = Outcome::reply(Frame::Integer(1));
        o.before.extend_from_slice(b"+a\r\n");
        o.after.extend_from_slice(b"+z\r\n");
        assert_eq!(
            o.into_frame(Protocol::Resp2),
            Frame::Raw(bytes::Bytes::from_static(b"+a\r\n:1\r\n+z\r\n"))
        );
        let mut o = Outcome::reply(Frame::Integer(1));
        o.answer = Answer::Silent;
        o.before.extend_from_slice(b"+a\r\n");
        assert_eq!(
            o.into_frame(Protocol::Resp2),
            Frame::Raw(bytes::Bytes::from_static(b"+a\r\n"))
        );
    }
}
