//! Keyspace notifications: the event classes of `notify-keyspace-events`
//! and publishing one event on its keyspace and keyevent channels.

use crate::hub::{Hub, Subscriber};

pub const KEYSPACE: u32 = 1 << 0; // K
pub const KEYEVENT: u32 = 1 << 1; // E
pub const GENERIC: u32 = 1 << 2; // g
pub const STRING: u32 = 1 << 3; // $
pub const LIST: u32 = 1 << 4; // l
pub const SET: u32 = 1 << 5; // s
pub const HASH: u32 = 1 << 6; // h
pub const ZSET: u32 = 1 << 7; // z
pub const EXPIRED: u32 = 1 << 8; // x
pub const EVICTED: u32 = 1 << 9; // e
pub const STREAM: u32 = 1 << 10; // t
pub const KEY_MISS: u32 = 1 << 11; // m
pub const MODULE: u32 = 1 << 13; // d
pub const NEW: u32 = 1 << 14; // n
/// `A`: every class except key-miss and new-key events.
pub const ALL: u32 =
    GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

/// Parses a `notify-keyspace-events` value; None on an unknown letter.
pub fn parse_flags(s: &[u8]) -> Option<u32> {
    let mut f = 0;
    // Redis reads the value as a C string: a NUL ends it.
    for c in s.iter().take_while(|&&c| c != 0) {
        f |= match c {
            b'A' => ALL,
            b'g' => GENERIC,
            b'$' => STRING,
            b'l' => LIST,
            b's' => SET,
            b'h' => HASH,
            b'z' => ZSET,
            b'x' => EXPIRED,
            b'e' => EVICTED,
            b'K' => KEYSPACE,
            b'E' => KEYEVENT,
            b't' => STREAM,
            b'm' => KEY_MISS,
            b'd' => MODULE,
            b'n' => NEW,
            _ => return None,
        };
    }
    Some(f)
}

/// The canonical text of `flags`, as CONFIG GET shows it. Redis lists `n`
/// among the classes, so `A` hides it.
pub fn format_flags(f: u32) -> String {
    let mut s = String::new();
    if f & ALL == ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (GENERIC, 'g'),
            (STRING, '$'),
            (LIST, 'l'),
            (SET, 's'),
            (HASH, 'h'),
            (ZSET, 'z'),
            (EXPIRED, 'x'),
            (EVICTED, 'e'),
            (STREAM, 't'),
            (MODULE, 'd'),
            (NEW, 'n'),
        ] {
            if f & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// True if an event of `class` is published under `flags`.
pub fn wanted(flags: u32, class: u32) -> bool {
    flags & class != 0 && flags & (KEYSPACE | KEYEVENT) != 0
}

/// Publishes `event` on `key` of database `db`: on `__keyspace@DB__:KEY`
/// (message: the event) and on `__keyevent@DB__:EVENT` (message: the key),
/// as `flags` selects. `me` is the client whose command caused it (0: none).
#[allow(clippy::too_many_arguments)]
pub fn notify<S: Subscriber>(
    hub: &Hub<S>,
    flags: u32,
    class: u32,
    event: &[u8],
    key: &[u8],
    db: usize,
    now_ms: u64,
    me: u64,
) {
    // Nobody subscribed to anything: no channel name to build.
    if !wanted(flags, class) || !hub.has_listeners() {
        return;
    }
    if flags & KEYSPACE != 0 {
        let mut ch = format!("__keyspace@{db}__:").into_bytes();
        ch.extend_from_slice(key);
        hub.publish(&ch, event, now_ms, me);
    }
    if flags & KEYEVENT != 0 {
        let mut ch = format!("__keyevent@{db}__:").into_bytes();
        ch.extend_from_slice(event);
        hub.publish(&ch, key, now_ms, me);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip() {
        assert_eq!(parse_flags(b""), Some(0));
        assert_eq!(
            parse_flags(b"KEA").map(format_flags).as_deref(),
            Some("AKE")
        );
        assert_eq!(
            parse_flags(b"Elg$").map(format_flags).as_deref(),
            Some("g$lE")
        );
        for (given, shown) in [("nmK", "nKm"), ("gnE", "gnE"), ("An", "A"), ("K\0zz", "K")] {
            assert_eq!(
                parse_flags(given.as_bytes()).map(format_flags).as_deref(),
                Some(shown)
            );
        }
        assert_eq!(parse_flags(b"KEAq"), None);
        assert!(wanted(parse_flags(b"Kg").unwrap(), GENERIC));
        assert!(!wanted(parse_flags(b"g").unwrap(), GENERIC));
        assert!(!wanted(parse_flags(b"KA").unwrap(), NEW));
    }
}
