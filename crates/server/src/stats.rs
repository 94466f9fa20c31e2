//! Server-wide statistics: INFO stats, commandstats and errorstats
//! counters, and the samples the cron takes (ops/sec, peak memory).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::Mutex;

/// Per-command counters (INFO commandstats).
#[derive(Default)]
pub struct CmdStats {
    pub calls: AtomicU64,
    pub usec: AtomicU64,
    pub rejected: AtomicU64,
    pub failed: AtomicU64,
}

/// Server-wide counters (INFO stats), and what the cron samples.
#[derive(Default)]
pub struct Stats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub commands_processed: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub expired_keys: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub total_error_replies: AtomicU64,
    pub dirty: AtomicU64,
    pub errors: ErrorStats,
    pub per_cmd: Vec<CmdStats>,
    /// Commands per second over the last cron interval (INFO instantaneous_ops_per_sec).
    pub ops_per_sec: AtomicU64,
    /// Highest used_memory seen (INFO used_memory_peak).
    pub memory_peak: AtomicU64,
}

/// The prefixes Rubedo's own errors (and Redis's usual ones) start with,
/// sorted: each has its own counter, so counting one is an atomic add.
const KNOWN_PREFIXES: [&[u8]; 24] = [
    b"ASK",
    b"BUSY",
    b"BUSYGROUP",
    b"BUSYKEY",
    b"CROSSSLOT",
    b"ERR",
    b"EXECABORT",
    b"LOADING",
    b"MASTERDOWN",
    b"MISCONF",
    b"MOVED",
    b"NOAUTH",
    b"NOGROUP",
    b"NOPERM",
    b"NOPROTO",
    b"NOREPLICAS",
    b"NOSCRIPT",
    b"NOTBUSY",
    b"OOM",
    b"READONLY",
    b"UNBLOCKED",
    b"UNKILLABLE",
    b"WRONGPASS",
    b"WRONGTYPE",
];

/// Where `ERR` is in [`KNOWN_PREFIXES`].
const ERR_SLOT: usize = 5;

/// INFO errorstats: error replies counted by prefix word. Known prefixes
/// are atomics; any other prefix (rare: errors whose text is dynamic) goes
/// to a map behind a lock. Redis 7.0 keeps every distinct prefix (no cap).
pub struct ErrorStats {
    known: [AtomicU64; KNOWN_PREFIXES.len()],
    other: Mutex<BTreeMap<Box<[u8]>, u64>>,
}

impl Default for ErrorStats {
    fn default() -> Self {
        ErrorStats {
            known: std::array::from_fn(|_| AtomicU64::new(0)),
            other: Mutex::new(BTreeMap::new()),
        }
    }
}

impl ErrorStats {
    /// Counts one error reply whose text (without the leading `-`) is `text`.
    pub fn record(&self, text: &[u8]) {
        let prefix = crate::error::error_prefix(text);
        // Nearly every error is an ERR: no search for it.
        let slot = if prefix == b"ERR" {
            Ok(ERR_SLOT)
        } else {
            KNOWN_PREFIXES.binary_search(&prefix)
        };
        match slot {
            Ok(i) => {
                self.known[i].fetch_add(1, Relaxed);
            }
            Err(_) => *self.other.lock().entry(prefix.into()).or_insert(0) += 1,
        }
    }

    /// (prefix, count) of every prefix seen, in byte order (as Redis lists them).
    pub fn counts(&self) -> Vec<(Vec<u8>, u64)> {
        let mut out: Vec<(Vec<u8>, u64)> = KNOWN_PREFIXES
            .iter()
            .zip(&self.known)
            .map(|(p, n)| (p.to_vec(), n.load(Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        out.extend(self.other.lock().iter().map(|(p, n)| (p.to_vec(), *n)));
        out.sort();
        out
    }

    pub fn reset(&self) {
        for n in &self.known {
            n.store(0, Relaxed);
        }
        self.other.lock().clear();
    }
}

impl Stats {
    pub fn new(commands: usize) -> Stats {
        Stats {
            per_cmd: (0..commands).map(|_| CmdStats::default()).collect(),
            ..Stats::default()
        }
    }

    /// Counts an error reply by its prefix word (INFO errorstats).
    pub fn error(&self, text: &[u8]) {
        self.total_error_replies.fetch_add(1, Relaxed);
        self.errors.record(text);
    }

    /// CONFIG RESETSTAT: zeroes the counters (not `dirty`, nor the cron's samples).
    pub fn reset(&self) {
        for a in [
            &self.connections_received,
            &self.rejected_connections,
            &self.commands_processed,
            &self.net_input_bytes,
            &self.net_output_bytes,
            &self.expired_keys,
            &self.keyspace_hits,
            &self.keyspace_misses,
            &self.total_error_replies,
        ] {
            a.store(0, Relaxed);
        }
        self.errors.reset();
        for c in &self.per_cmd {
            c.calls.store(0, Relaxed);
            c.usec.store(0, Relaxed);
            c.rejected.store(0, Relaxed);
            c.failed.store(0, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_prefixes_are_sorted_and_err_has_its_slot() {
        assert!(KNOWN_PREFIXES.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(KNOWN_PREFIXES[ERR_SLOT], b"ERR");
    }

    #[test]
    fn errors_are_counted_by_prefix_in_byte_order() {
        let e = ErrorStats::default();
        for t in [
            "WRONGTYPE Operation against a key holding the wrong kind of value",
            "ERR syntax error",
            "ERR wrong number of arguments for 'get' command",
            "NOAUTH Authentication required.",
            "Zlater x",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123 thirty bytes before the space",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234 thirty-one: counted as ERR",
            "NOSPACE",
            " leading space",
            "A b",
        ] {
            e.record(t.as_bytes());
        }
        let got: Vec<(String, u64)> = e
            .counts()
            .into_iter()
            .map(|(p, n)| (String::from_utf8(p).unwrap(), n))
            .collect();
        let want: Vec<(String, u64)> = [
            ("", 1),
            ("A", 1),
            ("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123", 1),
            ("ERR", 4),
            ("NOAUTH", 1),
            ("WRONGTYPE", 1),
            ("Zlater", 1),
        ]
        .into_iter()
        .map(|(p, n)| (p.to_string(), n))
        .collect();
        assert_eq!(got, want);
        // No cap on distinct prefixes in Redis 7.0.
        for i in 0..200 {
            e.record(format!("E{i} x").as_bytes());
        }
        assert_eq!(e.counts().len(), 207);
        e.reset();
        assert!(e.counts().is_empty());
    }
}
