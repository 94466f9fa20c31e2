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
    Block(Box<BlockRequest>),
    /// No reply frame of its own (SUBSCRIBE answers with its confirmations;
    /// a second MONITOR with nothing). CLIENT REPLY SKIP still counts it.
    Silent,
    /// A busy script yielded between two slices (single engine): the
    /// connection lets the loop serve others, then resumes it
    /// (`exec::resume_script`).
    Script,
}

/// The rarely present parts of an outcome, boxed so the common one (a reply
/// and nothing else) stays small as it travels up the dispatch path.
#[derive(Debug, Default)]
pub struct Extra {
    /// Encoded frames that go ahead of the answer.
    pub before: BytesMut,
    /// Encoded frames that follow the answer.
    pub after: BytesMut,
    /// The rest of a reply too large to build, written after it as the
    /// client reads (see `tail`).
    pub tail: Vec<crate::session::tail::Part>,
}

#[derive(Debug)]
pub struct Outcome {
    pub answer: Answer,
    pub extra: Option<Box<Extra>>,
}

impl Outcome {
    /// Just a reply (a refusal, QUEUED, a timeout).
    pub fn reply(f: Frame) -> Outcome {
        Outcome {
            answer: Answer::Reply(f),
            extra: None,
        }
    }

    /// An answer with its own frames and tail (boxed only if any).
    pub fn new(
        answer: Answer,
        before: BytesMut,
        after: BytesMut,
        tail: Option<Vec<crate::session::tail::Part>>,
    ) -> Outcome {
        let tail = tail.unwrap_or_default();
        let extra = (!before.is_empty() || !after.is_empty() || !tail.is_empty()).then(|| {
            Box::new(Extra {
                before,
                after,
                tail,
            })
        });
        Outcome { answer, extra }
    }

    /// The reply frame, if the answer is one.
    pub fn frame(&self) -> Option<&Frame> {
        match &self.answer {
            Answer::Reply(f) => Some(f),
            _ => None,
        }
    }

    /// Frames that go ahead of the answer.
    pub fn before(&self) -> &[u8] {
        self.extra.as_ref().map_or(&[], |e| &e.before[..])
    }

    /// Frames that follow the answer.
    pub fn after(&self) -> &[u8] {
        self.extra.as_ref().map_or(&[], |e| &e.after[..])
    }

    /// Takes the reply's tail (none for nearly every reply).
    pub fn take_tail(&mut self) -> Option<Vec<crate::session::tail::Part>> {
        let e = self.extra.as_mut()?;
        (!e.tail.is_empty()).then(|| std::mem::take(&mut e.tail))
    }

    /// The outcome as one frame, for a caller that takes one value per
    /// command (EXEC's array, tests): the reply itself when the command
    /// sent nothing else, else the raw bytes in the order a client reads
    /// them. A block request reads as the null array. The tail, if any, is
    /// the caller's to take first.
    pub fn into_frame(self, proto: Protocol) -> Frame {
        let reply = match self.answer {
            Answer::Reply(f) => Some(f),
            Answer::Block(_) | Answer::Script => Some(Frame::NullArray),
            Answer::Silent => None,
        };
        let extra = self
            .extra
            .filter(|e| !e.before.is_empty() || !e.after.is_empty());
        match (reply, extra) {
            (Some(f), None) => f,
            (reply, extra) => {
                let Extra {
                    mut before, after, ..
                } = extra.map(|e| *e).unwrap_or_default();
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
        let o = Outcome::new(
            Answer::Reply(Frame::Integer(1)),
            BytesMut::from(&b"+a\r\n"[..]),
            BytesMut::from(&b"+z\r\n"[..]),
            None,
        );
        assert_eq!(
            o.into_frame(Protocol::Resp2),
            Frame::Raw(bytes::Bytes::from_static(b"+a\r\n:1\r\n+z\r\n"))
        );
        let o = Outcome::new(
            Answer::Silent,
            BytesMut::from(&b"+a\r\n"[..]),
            BytesMut::new(),
            None,
        );
        assert_eq!(
            o.into_frame(Protocol::Resp2),
            Frame::Raw(bytes::Bytes::from_static(b"+a\r\n"))
        );
    }
}
