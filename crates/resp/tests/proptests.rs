//! Property tests: encode → decode round trips in both protocols, and the
//! request parser against arbitrary bytes and arbitrary read boundaries.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use rubedo_resp::{
    decode_frame, encode, format_double, frame_len, Frame, Protocol, RequestLimits, RequestParser,
};

fn any_bytes(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn leaf() -> impl Strategy<Value = Frame> {
    prop_oneof![
        any_bytes(20).prop_map(Frame::Simple),
        any_bytes(20).prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        any_bytes(40).prop_map(Frame::Bulk),
        Just(Frame::Null),
        Just(Frame::NullArray),
        prop_oneof![
            any::<f64>().prop_filter("NaN never compares equal", |d| !d.is_nan()),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            -1e6..1e6f64,
        ]
        .prop_map(Frame::Double),
        any::<bool>().prop_map(Frame::Boolean),
        "-?[0-9]{1,40}".prop_map(|s| Frame::BigNumber(Bytes::from(s))),
        (any::<[u8; 3]>(), any_bytes(20))
            .prop_map(|(format, data)| Frame::Verbatim { format, data }),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        let pairs = prop::collection::vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Array),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Set),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Push),
            pairs.clone().prop_map(Frame::Map),
            (pairs, inner).prop_map(|(attrs, value)| Frame::Attribute(attrs, Box::new(value))),
        ]
    })
}

/// What a client of protocol `proto` decodes after the server encodes `f`.
fn expected(f: &Frame, proto: Protocol) -> Frame {
    let r3 = proto == Protocol::Resp3;
    let all = |v: &[Frame]| v.iter().map(|x| expected(x, proto)).collect::<Vec<_>>();
    let pairs = |v: &[(Frame, Frame)]| {
        v.iter()
            .map(|(k, x)| (expected(k, proto), expected(x, proto)))
            .collect::<Vec<_>>()
    };
    let line = |b: &Bytes| {
        Bytes::from(
            b.iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
                .collect::<Vec<_>>(),
        )
    };
    match f {
        Frame::Simple(s) => Frame::Simple(line(s)),
        Frame::Error(s) => Frame::Error(line(s)),
        Frame::NullArray if r3 => Frame::Null,
        Frame::Array(v) => Frame::Array(all(v)),
        Frame::Set(v) if r3 => Frame::Set(all(v)),
        Frame::Push(v) if r3 => Frame::Push(all(v)),
        Frame::Set(v) | Frame::Push(v) => Frame::Array(all(v)),
        Frame::Map(p) if r3 => Frame::Map(pairs(p)),
        Frame::Map(p) => Frame::Array(
            p.iter()
                .flat_map(|(k, x)| [expected(k, proto), expected(x, proto)])
                .collect(),
        ),
        Frame::Attribute(p, v) if r3 => Frame::Attribute(pairs(p), Box::new(expected(v, proto))),
        Frame::Attribute(_, v) => expected(v, proto),
        Frame::Double(d) if !r3 => Frame::Bulk(Bytes::from(format_double(*d))),
        Frame::Boolean(b) if !r3 => Frame::Integer(i64::from(*b)),
        Frame::BigNumber(n) if !r3 => Frame::Bulk(n.clone()),
        Frame::Verbatim { data, .. } if !r3 => Frame::Bulk(data.clone()),
        other => other.clone(),
    }
}

fn check_round_trip(f: &Frame, proto: Protocol, cut: usize) -> Result<(), TestCaseError> {
    let mut out = BytesMut::new();
    encode(f, proto, &mut out);
    let wire = out.clone();
    prop_assert_eq!(frame_len(&wire).unwrap(), Some(wire.len()));
    let cut = cut % wire.len();
    prop_assert_eq!(frame_len(&wire[..cut]).unwrap(), None);
    let mut partial = BytesMut::from(&wire[..cut]);
    prop_assert_eq!(decode_frame(&mut partial).unwrap(), None);
    prop_assert_eq!(partial.len(), cut);

    // A frame followed by more data is decoded alone.
    out.extend_from_slice(b"+next\r\n");
    let decoded = decode_frame(&mut out).unwrap();
    prop_assert_eq!(decoded, Some(expected(f, proto)));
    prop_assert_eq!(&out[..], b"+next\r\n");
    Ok(())
}

/// A multibulk request for `args`.
fn multibulk(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Feeds `input` to a fresh parser in pieces ending at `cuts`, collecting
/// every command.
fn parse_in_pieces(input: &[u8], cuts: &[usize]) -> Result<Vec<Vec<Bytes>>, String> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.push(input.len());
    cuts.sort_unstable();
    let limits = RequestLimits::default();
    let mut parser = RequestParser::new();
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut cmds = Vec::new();
    for cut in cuts {
        buf.extend_from_slice(&input[fed..cut]);
        fed = cut;
        while let Some(args) = parser.parse(&mut buf, &limits).map_err(|e| e.0)? {
            cmds.push(args);
        }
    }
    if !buf.is_empty() {
        return Err(format!("{} bytes left", buf.len()));
    }
    Ok(cmds)
}

/// Writes `arg` as a double-quoted inline argument, escaping everything that
/// is not plain printable ASCII.
fn quote(arg: &[u8]) -> Vec<u8> {
    let mut out = vec![b'"'];
    for &b in arg {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x21..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
    out
}

fn protocol_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"'".to_vec()),
        Just(b"\\".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"\\x4".to_vec()),
        (0u32..1000).prop_map(|n| n.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 1..4),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip_resp3(f in frame(), cut in any::<usize>()) {
        check_round_trip(&f, Protocol::Resp3, cut)?;
    }

    #[test]
    fn round_trip_resp2(f in frame(), cut in any::<usize>()) {
        check_round_trip(&f, Protocol::Resp2, cut)?;
    }

    #[test]
    fn decoder_survives_arbitrary_bytes(input in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        protocol_bytes(),
    ]) {
        let len = frame_len(&input);
        let mut buf = BytesMut::from(&input[..]);
        match decode_frame(&mut buf) {
            Ok(Some(_)) => prop_assert_eq!(len, Ok(Some(input.len() - buf.len()))),
            Ok(None) => {
                prop_assert_eq!(len, Ok(None));
                prop_assert_eq!(buf.len(), input.len());
            }
            Err(e) => prop_assert_eq!(len, Err(e)),
        }
    }

    #[test]
    fn request_parser_survives_arbitrary_bytes(
        input in prop_oneof![prop::collection::vec(any::<u8>(), 0..256), protocol_bytes()],
        small in any::<bool>(),
        auth in any::<bool>(),
    ) {
        let limits = if small {
            RequestLimits { max_bulk_len: 8, max_multibulk_len: 4, max_inline_len: 16 }
        } else {
            RequestLimits::default()
        };
        let mut parser = RequestParser::new();
        parser.set_auth_required(auth);
        let mut buf = BytesMut::from(&input[..]);
        loop {
            let before = buf.len();
            match parser.parse(&mut buf, &limits) {
                Ok(Some(args)) => {
                    prop_assert!(!args.is_empty());
                    prop_assert!(buf.len() < before);
                }
                Ok(None) | Err(_) => break,
            }
        }
    }

    #[test]
    fn multibulk_split_anywhere(
        cmds in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6),
            1..4,
        ),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let input: Vec<u8> = cmds.iter().flat_map(|c| multibulk(c)).collect();
        let parsed = parse_in_pieces(&input, &cuts).map_err(TestCaseError::fail)?;
        prop_assert_eq!(parsed, cmds);
    }

    #[test]
    fn inline_split_anywhere(
        cmds in prop::collection::vec(
            prop::collection::vec(
                prop_oneof![
                    "[a-zA-Z0-9:_.-]{1,12}".prop_map(|s| (s.clone().into_bytes(), s.into_bytes())),
                    prop::collection::vec(any::<u8>(), 0..12).prop_map(|a| (a.clone(), quote(&a))),
                    "[a-z \"]{0,8}".prop_map(|s| (s.clone().into_bytes(), format!("'{s}'").into_bytes())),
                ],
                1..6,
            ),
            1..4,
        ),
        crlf in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut input = Vec::new();
        for cmd in &cmds {
            let words: Vec<&[u8]> = cmd.iter().map(|(_, w)| &w[..]).collect();
            input.extend(words.join(&b' '));
            input.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
        let want: Vec<Vec<Bytes>> = cmds
            .iter()
            .map(|c| c.iter().map(|(a, _)| Bytes::from(a.clone())).collect())
            .collect();
        let parsed = parse_in_pieces(&input, &cuts).map_err(TestCaseError::fail)?;
        prop_assert_eq!(parsed, want);
    }
}
