//! Helpers shared by the in-process family tests.
// Each test binary uses its own subset.
#![allow(dead_code)]

use std::sync::Arc;

use bytes::Bytes;
use rubedo_engine::ManualClock;
use rubedo_resp::Frame;
use rubedo_server::server::Harness;

pub fn bulk(s: &str) -> Frame {
    Frame::bulk(s.as_bytes())
}

pub fn err(s: &str) -> Frame {
    Frame::Error(Bytes::copy_from_slice(s.as_bytes()))
}

pub fn arr(items: &[&str]) -> Frame {
    Frame::Array(items.iter().map(|s| bulk(s)).collect())
}

pub fn ints(items: &[i64]) -> Frame {
    Frame::Array(items.iter().map(|n| Frame::Integer(*n)).collect())
}

/// Runs `test` against a fresh in-process server of each engine.
pub fn both(test: impl Fn(&mut dyn FnMut(&[&str]) -> Frame)) {
    let mut h = Harness::single(Arc::new(ManualClock::new(1_700_000_000_000)));
    test(&mut |w| h.run(w));
    let mut h = Harness::concurrent(Arc::new(ManualClock::new(1_700_000_000_000)));
    test(&mut |w| h.run(w));
}
