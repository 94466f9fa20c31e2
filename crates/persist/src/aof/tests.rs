use std::io::{self, Read};

use bytes::Bytes;
use proptest::prelude::*;

use super::commands::{parse_all, CommandReader, Item, Limits, ReadError};
use super::encode::{encode_command, encode_timestamp};
use super::{detect_format, FileFormat};

fn cmd(args: &[&str]) -> Item {
    Item::Command(
        args.iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect(),
    )
}

/// Hands out the data a few bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn read_with(data: &[u8], step: usize) -> (Vec<Item>, Option<ReadError>, u64) {
    let mut r = CommandReader::new(Trickle { data, step });
    let mut items = Vec::new();
    loop {
        match r.next_item() {
            Ok(Some(i)) => items.push(i),
            Ok(None) => return (items, None, r.offset()),
            Err(e) => return (items, Some(e), r.offset()),
        }
    }
}

#[test]
fn reads_commands_and_annotations() {
    let data =
        b"#TS:1796316605\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n# note\n*1\r\n$4\r\nPING\r\n#TS:x\r\n";
    let p = parse_all(data);
    assert!(p.error.is_none(), "{:?}", p.error);
    assert_eq!(
        p.items,
        vec![
            Item::Timestamp(1796316605),
            cmd(&["SELECT", "0"]),
            Item::Annotation(b" note".to_vec()),
            cmd(&["PING"]),
            Item::Annotation(b"TS:x".to_vec()),
        ]
    );
    assert_eq!(p.valid_up_to, data.len() as u64);
    assert_eq!(p.open_multi, None);
    for step in [1, 2, 3, 7] {
        let (items, err, end) = read_with(data, step);
        assert_eq!(items, p.items, "step {step}");
        assert!(err.is_none());
        assert_eq!(end, data.len() as u64);
    }
}

#[test]
fn offsets_of_items() {
    let mut data = Vec::new();
    encode_command(&mut data, &["set", "a", "1"]);
    let first = data.len() as u64;
    encode_timestamp(&mut data, 7);
    let mut r = CommandReader::new(&data[..]);
    assert_eq!(r.next_item().unwrap(), Some(cmd(&["set", "a", "1"])));
    assert_eq!((r.item_start(), r.offset()), (0, first));
    assert_eq!(r.next_item().unwrap(), Some(Item::Timestamp(7)));
    assert_eq!((r.item_start(), r.offset()), (first, data.len() as u64));
    assert_eq!(r.next_item().unwrap(), None);
    assert_eq!(r.next_item().unwrap(), None);
}

#[test]
fn empty_input_is_a_clean_end() {
    let p = parse_all(b"");
    assert!(p.items.is_empty());
    assert!(p.error.is_none());
    assert_eq!(p.valid_up_to, 0);
}

fn truncated_at(data: &[u8]) -> u64 {
    match parse_all(data).error {
        Some(ReadError::Truncated { valid_up_to }) => valid_up_to,
        other => panic!(
            "{:?}: expected truncated, got {other:?}",
            String::from_utf8_lossy(data)
        ),
    }
}

#[test]
fn truncated_tails() {
    let whole = b"*1\r\n$4\r\nPING\r\n";
    for tail in [
        &b"*"[..],
        b"*3",
        b"*3\r",
        b"*3\r\n",
        b"*3\r\n$",
        b"*3\r\n$3\r",
        b"*3\r\n$3\r\nse",
        b"*3\r\n$3\r\nset",
        b"*3\r\n$3\r\nset\r",
        b"*1\r\n$0\r\n",
        b"#TS:12",
        b"# a partial note",
    ] {
        let mut data = whole.to_vec();
        data.extend_from_slice(tail);
        assert_eq!(truncated_at(&data), whole.len() as u64, "{tail:?}");
        assert_eq!(parse_all(&data).items, vec![cmd(&["PING"])]);
    }
    // A huge length with few bytes behind it is truncated, not allocated.
    assert_eq!(truncated_at(b"*1\r\n$536870912\r\nabc"), 0);
}

fn corrupt(data: &[u8]) -> (u64, u64, String) {
    corrupt_with(data, Limits::default())
}

fn corrupt_with(data: &[u8], limits: Limits) -> (u64, u64, String) {
    let mut r = CommandReader::with_limits(data, limits);
    loop {
        match r.next_item() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("{:?}: read to the end", String::from_utf8_lossy(data)),
            Err(ReadError::Corrupt {
                offset,
                valid_up_to,
                reason,
            }) => {
                // It stays stopped.
                assert!(r.next_item().is_err());
                return (offset, valid_up_to, reason);
            }
            Err(e) => panic!("{:?}: {e}", String::from_utf8_lossy(data)),
        }
    }
}

#[test]
fn corrupt_content_with_offsets() {
    let ping = b"*1\r\n$4\r\nPING\r\n";
    let p = ping.len() as u64;
    let cases: &[(&[u8], u64, &str)] = &[
        (b"xyz\r\n", 0, "expected '*' or '#'"),
        (b"\r\n", 0, "expected '*' or '#'"),
        (b"*0\r\n", 0, "no arguments"),
        (b"*-1\r\n", 1, "not a number"),
        (b"*\r\n", 0, "no digits"),
        (b"*2x\r\n", 2, "not a number"),
        (b"*1\n$4\r\nPING\r\n", 2, "not ended by"),
        (b"*1\r\r\n", 3, "not ended by"),
        (b"*1\r\n:4\r\nPING\r\n", 4, "expected '$'"),
        (b"*1\r\n$x\r\n", 5, "not a number"),
        (b"*1\r\n$-1\r\n", 5, "not a number"),
        (b"*1\r\n$4\r\nPINGxx", 12, "not followed by"),
        (b"*1\r\n$4\r\nPING\rx", 13, "not followed by"),
        (b"*1\r\n$4\r\nPINGx", 12, "not followed by"),
        (b"*1\r\n$4\r\nPING\n\n", 12, "not followed by"),
        (b"*99999999999999999999999\r\n", 0, "too large"),
        (b"*1\r\n$4", 5, ""),
    ];
    for &(tail, at, reason) in cases {
        let mut data = ping.to_vec();
        data.extend_from_slice(tail);
        if reason.is_empty() {
            // Not corrupt: a truncated length.
            assert_eq!(truncated_at(&data), p);
            continue;
        }
        let (offset, valid, why) = corrupt(&data);
        assert_eq!((offset, valid), (p + at, p), "{tail:?}: {why}");
        assert!(why.contains(reason), "{tail:?}: {why}");
    }
}

#[test]
fn limits() {
    let lim = Limits {
        max_args: 3,
        max_bulk: 10,
    };
    let (at, _, why) = corrupt_with(b"*4\r\n", lim);
    assert_eq!(at, 0);
    assert!(why.contains("4 arguments"), "{why}");
    let (at, _, why) = corrupt_with(b"*1\r\n$11\r\nhello world\r\n", lim);
    assert_eq!(at, 4);
    assert!(why.contains("11 bytes"), "{why}");
    let mut r = CommandReader::with_limits(
        &b"*3\r\n$10\r\n0123456789\r\n$0\r\n\r\n$1\r\nx\r\n"[..],
        lim,
    );
    assert_eq!(r.next_item().unwrap(), Some(cmd(&["0123456789", "", "x"])));
    // The default refuses over 512 MB and i32::MAX arguments.
    let (_, _, why) = corrupt(b"*1\r\n$536870913\r\n");
    assert!(why.contains("536870913 bytes"), "{why}");
    let (_, _, why) = corrupt(b"*2147483648\r\n");
    assert!(why.contains("2147483648 arguments"), "{why}");
    // A count within the limit is not allocated up front either.
    assert_eq!(truncated_at(b"*2147483647\r\n$1\r\na\r\n"), 0);
}

#[test]
fn line_length_like_redis() {
    // 1023 bytes with the '\n' fit Redis's 1024-byte line buffer.
    let mut ok = vec![b'#'; 1021];
    ok.extend_from_slice(b"\r\n");
    assert_eq!(ok.len(), 1023);
    ok.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    let p = parse_all(&ok);
    assert!(p.error.is_none(), "{:?}", p.error);
    assert_eq!(p.items.len(), 2);

    let mut long = vec![b'#'; 1022];
    long.extend_from_slice(b"\r\n*1\r\n$4\r\nPING\r\n");
    let (at, valid, why) = corrupt(&long);
    assert_eq!((at, valid), (0, 0));
    assert!(why.contains("over 1023"), "{why}");
}

#[test]
fn large_arguments_across_buffer_refills() {
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let mut data = Vec::new();
    encode_command(&mut data, &[&b"SET"[..], b"big", &big]);
    encode_command(&mut data, &["GET", "big"]);
    for step in [1 << 20, 4096, 1000, 13] {
        let (items, err, end) = read_with(&data, step);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(end, data.len() as u64);
        assert_eq!(items.len(), 2);
        match &items[0] {
            Item::Command(argv) => assert_eq!(&argv[2][..], &big[..]),
            other => panic!("{other:?}"),
        }
    }
    let cut = &data[..data.len() - 20];
    assert_eq!(truncated_at(cut), data.len() as u64 - 22);
}

#[test]
fn open_multi_is_reported_at_its_start() {
    let mut data = Vec::new();
    encode_command(&mut data, &["SET", "a", "1"]);
    let before = data.len() as u64;
    encode_command(&mut data, &["MULTI"]);
    encode_command(&mut data, &["INCR", "a"]);
    encode_command(&mut data, &["EXEC"]);
    let p = parse_all(&data);
    assert_eq!(p.open_multi, None);
    assert!(p.error.is_none());

    let mut open = data.clone();
    let second = open.len() as u64;
    encode_command(&mut open, &["multi"]);
    encode_command(&mut open, &["INCR", "a"]);
    let p = parse_all(&open);
    assert!(p.error.is_none());
    assert_eq!(p.open_multi, Some(second));

    // Truncated inside the transaction: the MULTI is still open.
    let mut cut = open.clone();
    cut.extend_from_slice(b"*1\r\n$4\r\nEX");
    let p = parse_all(&cut);
    assert!(
        matches!(p.error, Some(ReadError::Truncated { valid_up_to }) if valid_up_to == open.len() as u64)
    );
    assert_eq!(p.open_multi, Some(second));
    assert!(before < second);
}

#[test]
fn io_errors_are_reported() {
    struct Broken(usize);
    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            let data = b"*1\r\n$4\r\nPING\r\n*1\r\n";
            let n = data.len().min(buf.len());
            buf[..n].copy_from_slice(&data[..n]);
            self.0 -= 1;
            Ok(n)
        }
    }
    let mut r = CommandReader::new(Broken(1));
    assert_eq!(r.next_item().unwrap(), Some(cmd(&["PING"])));
    match r.next_item() {
        Err(e @ ReadError::Io { .. }) => {
            assert_eq!(e.valid_up_to(), 14);
            assert!(e.to_string().contains("disk on fire"));
            assert!(e
                .redis_message("f.aof")
                .starts_with("Unrecoverable error reading the append only file f.aof"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn redis_messages() {
    let t = ReadError::Truncated { valid_up_to: 3 };
    assert_eq!(
        t.redis_message("appendonly.aof.1.incr.aof"),
        "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof. You can: \
         1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. \
         2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and \
         restart the server."
    );
    let c = ReadError::Corrupt {
        offset: 1,
        valid_up_to: 0,
        reason: "x".into(),
    };
    assert_eq!(
        c.redis_message("a.aof"),
        "Bad file format reading the append only file a.aof: make a backup of your AOF file, \
         then use ./redis-check-aof --fix <filename.manifest>"
    );
    assert_eq!(c.to_string(), "bad file format at offset 1: x");
    let lines = super::commands::truncating_messages("a.aof", 69);
    assert_eq!(lines[1], "!!! Truncating the AOF a.aof at offset 69 !!!");
    assert_eq!(
        super::commands::revert_multi_message("a.aof"),
        "Revert incomplete MULTI/EXEC transaction in AOF file a.aof"
    );
}

#[test]
fn formats() {
    assert_eq!(detect_format(b"REDIS0010\xfa"), FileFormat::RedisRdb);
    assert_eq!(
        detect_format(b"RUBEDOSN\x01\x00"),
        FileFormat::RubedoSnapshot
    );
    assert_eq!(detect_format(b"#TS:1\r\n"), FileFormat::Commands);
    assert_eq!(detect_format(b"*1\r\n"), FileFormat::Commands);
    assert_eq!(detect_format(b""), FileFormat::Commands);
    assert_eq!(detect_format(b"RED"), FileFormat::Commands);
}

/// Commands, with some timestamps and notes between them.
fn stream() -> impl Strategy<Value = Vec<Item>> {
    let arg = proptest::collection::vec(any::<u8>(), 0..40);
    let command = proptest::collection::vec(arg, 1..6)
        .prop_map(|argv| Item::Command(argv.into_iter().map(Bytes::from).collect()));
    let item = prop_oneof![
        6 => command,
        1 => any::<u64>().prop_map(Item::Timestamp),
        1 => "[ -~]{0,30}".prop_map(|s| Item::Annotation(format!("x{s}").into_bytes())),
    ];
    proptest::collection::vec(item, 0..30)
}

/// The bytes and the end offset of each item.
fn encode(items: &[Item]) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::new();
    let mut ends = Vec::new();
    for it in items {
        match it {
            Item::Command(argv) => encode_command(&mut out, argv),
            Item::Timestamp(t) => encode_timestamp(&mut out, *t),
            Item::Annotation(a) => {
                out.push(b'#');
                out.extend_from_slice(a);
                out.extend_from_slice(b"\r\n");
            }
        }
        ends.push(out.len() as u64);
    }
    (out, ends)
}

proptest! {
    #[test]
    fn encode_then_read_round_trips(items in stream(), step in 1usize..100) {
        let (data, _) = encode(&items);
        let p = parse_all(&data);
        prop_assert!(p.error.is_none(), "{:?}", p.error);
        prop_assert_eq!(&p.items, &items);
        prop_assert_eq!(p.valid_up_to, data.len() as u64);
        let (trickled, err, _) = read_with(&data, step);
        prop_assert!(err.is_none());
        prop_assert_eq!(trickled, items);
    }

    #[test]
    fn any_cut_is_a_clean_end_or_truncated_at_the_last_boundary(
        items in stream(),
        cut in any::<proptest::sample::Index>(),
    ) {
        let (data, ends) = encode(&items);
        let k = cut.index(data.len() + 1);
        let p = parse_all(&data[..k]);
        let whole = ends.iter().filter(|&&e| e <= k as u64).count();
        let boundary = if whole == 0 { 0 } else { ends[whole - 1] };
        prop_assert_eq!(&p.items[..], &items[..whole]);
        prop_assert_eq!(p.valid_up_to, boundary);
        if boundary == k as u64 {
            prop_assert!(p.error.is_none(), "{:?}", p.error);
        } else {
            prop_assert!(
                matches!(p.error, Some(ReadError::Truncated { valid_up_to }) if valid_up_to == boundary),
                "{:?}", p.error
            );
        }
    }

    #[test]
    fn damaged_bytes_never_panic(
        items in stream(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let (mut data, _) = encode(&items);
        for (at, byte, op) in edits {
            let i = at.index(data.len() + 1);
            match op {
                0 if i < data.len() => data[i] = byte,
                1 if i < data.len() => { data.remove(i); }
                _ => data.insert(i, byte),
            }
        }
        let p = parse_all(&data);
        prop_assert!(p.valid_up_to <= data.len() as u64);
        match p.error {
            None => prop_assert_eq!(p.valid_up_to, data.len() as u64),
            Some(ReadError::Corrupt { offset, valid_up_to, .. }) => {
                prop_assert!(offset <= data.len() as u64);
                prop_assert!(valid_up_to <= offset);
            }
            Some(ReadError::Truncated { valid_up_to }) => prop_assert!(valid_up_to < data.len() as u64),
            Some(e @ ReadError::Io { .. }) => prop_assert!(false, "{e}"),
        }
        // What was read up to valid_up_to reads the same again on its own.
        let again = parse_all(&data[..p.valid_up_to as usize]);
        prop_assert!(again.error.is_none());
        prop_assert_eq!(again.items, p.items);
    }
}
