//! What a snapshot holds, record by record. Every tag here is part of the
//! file format: a tag, once written by a released build, never changes
//! meaning (the golden-file test loads a snapshot written by an early build).

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// Record kinds (the first element of every record).
pub mod kind {
    /// Server metadata: a name and a value (creation time, version...).
    pub const AUX: u8 = 1;
    /// The records that follow belong to this database.
    pub const SELECT_DB: u8 = 2;
    /// A key, its type, TTL, access time and its first items.
    pub const KEY: u8 = 3;
    /// More items of the key just before (large values come in parts).
    pub const MORE: u8 = 4;
    /// The end of the data: the number of keys written, for a last check.
    pub const END: u8 = 5;
}

/// Value types (a key record's `ty`).
pub mod ty {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
}

/// A key's header and its first items. Items are laid out per type:
/// a string is one item; a list its elements in order; a set its members;
/// a hash field, value, field, value...; a sorted set its members with
/// their scores in `scores`, in score order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub key: ByteBuf,
    pub ty: u8,
    /// Absolute expiry time in ms (Unix epoch), if the key has one.
    pub expire_at_ms: Option<u64>,
    /// Seconds since the key was last accessed, when known (OBJECT IDLETIME).
    pub idle_secs: Option<u32>,
    pub items: Vec<ByteBuf>,
    pub scores: Vec<f64>,
}

/// One record as read back.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Aux {
        name: Vec<u8>,
        value: Vec<u8>,
    },
    SelectDb(u32),
    Key(KeyRecord),
    More {
        items: Vec<ByteBuf>,
        scores: Vec<f64>,
    },
    End {
        keys: u64,
    },
}

// On the wire each record is a msgpack array whose first element is its
// kind: [AUX, name, value], [SELECT_DB, n], [KEY, {key record}],
// [MORE, items, scores], [END, keys]. Written and read by hand around
// serde so the tags are the constants above, not an enum's declaration
// order.
#[derive(Serialize, Deserialize)]
struct AuxBody(u8, ByteBuf, ByteBuf);
#[derive(Serialize, Deserialize)]
struct DbBody(u8, u32);
#[derive(Serialize)]
struct KeyBodyRef<'a>(u8, &'a KeyRecord);
#[derive(Deserialize)]
struct KeyBody(u8, KeyRecord);
#[derive(Serialize, Deserialize)]
struct MoreBody(u8, Vec<ByteBuf>, Vec<f64>);
#[derive(Serialize, Deserialize)]
struct EndBody(u8, u64);

/// Appends `r`'s encoding to `out`.
pub fn encode(r: &Record, out: &mut Vec<u8>) {
    let res = match r {
        Record::Aux { name, value } => rmp_serde::encode::write(
            out,
            &AuxBody(
                kind::AUX,
                ByteBuf::from(name.clone()),
                ByteBuf::from(value.clone()),
            ),
        ),
        Record::SelectDb(n) => rmp_serde::encode::write(out, &DbBody(kind::SELECT_DB, *n)),
        Record::Key(k) => encode_key(k, out),
        Record::More { items, scores } => {
            rmp_serde::encode::write(out, &MoreBody(kind::MORE, items.clone(), scores.clone()))
        }
        Record::End { keys } => rmp_serde::encode::write(out, &EndBody(kind::END, *keys)),
    };
    res.expect("writing msgpack to a Vec cannot fail");
}

/// Appends a key record without copying it.
pub fn encode_key(k: &KeyRecord, out: &mut Vec<u8>) -> Result<(), rmp_serde::encode::Error> {
    rmp_serde::encode::write(out, &KeyBodyRef(kind::KEY, k))
}

/// Appends a MORE record without copying its items.
pub fn encode_more(items: &[ByteBuf], scores: &[f64], out: &mut Vec<u8>) {
    #[derive(Serialize)]
    struct MoreRef<'a>(u8, &'a [ByteBuf], &'a [f64]);
    rmp_serde::encode::write(out, &MoreRef(kind::MORE, items, scores))
        .expect("writing msgpack to a Vec cannot fail");
}

/// Why a record could not be read.
#[derive(Debug)]
pub enum DecodeError {
    /// The bytes end inside a record.
    Truncated,
    /// The bytes are not a record this version knows.
    Invalid(String),
}

/// Reads one record from the front of `buf`; returns it and its length.
pub fn decode(buf: &[u8]) -> Result<(Record, usize), DecodeError> {
    let kind = peek_kind(buf)?;
    let mut cur = std::io::Cursor::new(buf);
    let bad = |e: rmp_serde::decode::Error| match e {
        rmp_serde::decode::Error::InvalidMarkerRead(ref io)
        | rmp_serde::decode::Error::InvalidDataRead(ref io)
            if io.kind() == std::io::ErrorKind::UnexpectedEof =>
        {
            DecodeError::Truncated
        }
        e => DecodeError::Invalid(e.to_string()),
    };
    let r = match kind {
        kind::AUX => {
            let AuxBody(_, n, v) = rmp_serde::decode::from_read(&mut cur).map_err(bad)?;
            Record::Aux {
                name: n.into_vec(),
                value: v.into_vec(),
            }
        }
        kind::SELECT_DB => {
            let DbBody(_, n) = rmp_serde::decode::from_read(&mut cur).map_err(bad)?;
            Record::SelectDb(n)
        }
        kind::KEY => {
            let KeyBody(t, k) = rmp_serde::decode::from_read(&mut cur).map_err(bad)?;
            debug_assert_eq!(t, kind::KEY, "peek_kind read the same byte");
            Record::Key(k)
        }
        kind::MORE => {
            let MoreBody(_, items, scores) = rmp_serde::decode::from_read(&mut cur).map_err(bad)?;
            Record::More { items, scores }
        }
        kind::END => {
            let EndBody(_, keys) = rmp_serde::decode::from_read(&mut cur).map_err(bad)?;
            Record::End { keys }
        }
        k => return Err(DecodeError::Invalid(format!("unknown record kind {k}"))),
    };
    Ok((r, cur.position() as usize))
}

/// The kind of the record at the front of `buf` (a msgpack array whose
/// first element is a positive fixint).
fn peek_kind(buf: &[u8]) -> Result<u8, DecodeError> {
    match buf {
        [] | [_] => Err(DecodeError::Truncated),
        [a, k, ..] if (0x90..=0x9f).contains(a) && *k < 0x80 => Ok(*k),
        [a, ..] => Err(DecodeError::Invalid(format!(
            "a record starts with byte 0x{a:02x}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> ByteBuf {
        ByteBuf::from(s.as_bytes().to_vec())
    }

    #[test]
    fn every_record_kind_reads_back() {
        let recs = vec![
            Record::Aux {
                name: b"ctime".to_vec(),
                value: b"1".to_vec(),
            },
            Record::SelectDb(15),
            Record::Key(KeyRecord {
                key: ByteBuf::from(b"k\x00\xff".to_vec()),
                ty: ty::ZSET,
                expire_at_ms: Some(u64::MAX),
                idle_secs: None,
                items: vec![b("a"), b("")],
                scores: vec![f64::NEG_INFINITY, -0.0],
            }),
            Record::More {
                items: vec![b("x")],
                scores: vec![],
            },
            Record::End { keys: 1 },
        ];
        let mut out = Vec::new();
        for r in &recs {
            encode(r, &mut out);
        }
        let mut at = 0;
        for r in &recs {
            let (got, n) = decode(&out[at..]).unwrap();
            assert_eq!(&got, r);
            at += n;
        }
        assert_eq!(at, out.len());
        // Every strict prefix of a record is truncated, never a panic.
        for end in 0..out.len() {
            let mut at = 0;
            while at < end {
                match decode(&out[at..end]) {
                    Ok((_, n)) => at += n,
                    Err(_) => break,
                }
            }
        }
    }

    #[test]
    fn the_first_bytes_of_a_record_are_its_kind() {
        let mut out = Vec::new();
        encode(&Record::SelectDb(3), &mut out);
        assert_eq!(&out[..2], &[0x92, kind::SELECT_DB]);
    }
}
