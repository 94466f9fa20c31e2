//! DEBUG: the subcommands test suites rely on.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use rubedo_engine::{Str, Value};
use rubedo_resp::{Frame, Protocol};
use sha1::{Digest, Sha1};

use crate::dispatch::args::{is, parse_i64};
use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag::*, Cmd, Lock};
use crate::error::{err, CmdError, CmdResult};

pub static COMMANDS: &[Cmd] = &[Cmd::new("debug", -2, debug)
    .flags(ADMIN | NOSCRIPT | LOADING | STALE | PROTECTED)
    .acl(acl::ADMIN | acl::SLOW | acl::DANGEROUS)
    .lock(Lock::All)
    .doc(
        "server",
        "1.0.0",
        "Depends on subcommand.",
        "A container for debugging commands.",
    )];

fn debug(ctx: &mut Ctx) -> CmdResult {
    let sub = ctx.argv[1].to_ascii_lowercase();
    let argc = ctx.argv.len();
    match (&sub[..], argc) {
        (b"sleep", 3) => {
            // Redis reads the number with strtod and no check at all, and
            // converts the microseconds to a C long long: text that is not a
            // number is 0, NaN, infinities and overflows come out negative,
            // and nothing that is not positive sleeps.
            let secs = rubedo_engine::types::float::strtod(&ctx.argv[2]).value;
            let micros = secs * 1e6;
            if (1.0..9.223_372_036_854_776e18).contains(&micros) {
                // Blocking the whole server is the point: tests use it to
                // simulate a slow command.
                std::thread::sleep(std::time::Duration::from_micros(micros as u64));
            }
            Ok(Frame::ok())
        }
        (b"set-active-expire", 3) => {
            ctx.srv
                .cron
                .active_expire
                .store(parse_i64(&ctx.argv[2])? != 0, Relaxed);
            Ok(Frame::ok())
        }
        (b"pause-cron", 3) => {
            ctx.srv
                .cron
                .cron_paused
                .store(parse_i64(&ctx.argv[2])? != 0, Relaxed);
            Ok(Frame::ok())
        }
        (b"object", 3) => debug_object(ctx),
        (b"digest", 2) => Ok(Frame::Simple(Bytes::from(hex(&dataset_digest(ctx))))),
        (b"digest-value", _) => {
            let db = ctx.client.db;
            let mut out = Vec::new();
            for key in &ctx.argv[2..] {
                let mut d = [0u8; 20];
                // Like Redis, a logically expired key not yet reclaimed is
                // still digested: this looks at the raw table.
                let mut view = ctx.dbs.db(db);
                let at = view.expire_at(key);
                if let Some(e) = view.raw(key) {
                    object_digest(&mut d, &e.value, at.is_some());
                }
                out.push(Frame::Simple(Bytes::from(hex(&d))));
            }
            Ok(Frame::Array(out))
        }
        (b"populate", 3..=5) => populate(ctx),
        (b"reload", _) => reload(ctx),
        (b"loadaof", 2) => match crate::aof::debug_loadaof(ctx.srv, ctx.dbs) {
            Ok(()) => {
                crate::log!("Append Only File loaded by DEBUG LOADAOF");
                Ok(Frame::ok())
            }
            Err(e) => {
                crate::log!("DEBUG LOADAOF: {e}");
                Err(err(format!("Error loading the append only file: {e}")))
            }
        },
        (b"protocol", 3) => protocol(ctx),
        (b"help", 2) => Ok(super::help(
            "DEBUG",
            &[
                "DIGEST",
                "    A hex digest of the whole dataset.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    A hex digest of each key's value.",
                "LOADAOF",
                "    Write and fsync the append only file, empty the dataset and load the file back.",
                "OBJECT <key>",
                "    Low-level details of the value at <key>.",
                "PAUSE-CRON <0|1>",
                "    Stop or resume the periodic background work.",
                "POPULATE <count> [<prefix>] [<size>]",
                "    Create <count> keys named <prefix>:<n> (prefix defaults to key).",
                "RELOAD [option ...]",
                "    Save the snapshot, empty the dataset and load the snapshot back. Options:",
                "    * MERGE: a key of the snapshot replaces the one in memory.",
                "    * NOFLUSH: keep the dataset in memory before loading.",
                "    * NOSAVE: load the file as it is, without saving first.",
                "PROTOCOL <type>",
                "    Reply with a value of a RESP type: string, integer, double, bignum, null,",
                "    array, set, map, attrib, push, verbatim, true, false.",
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Turn active expiry off or on.",
                "SLEEP <seconds>",
                "    Block the server for <seconds> (may be fractional).",
            ],
        )),
        _ => Err(err(format!(
            "unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(&ctx.argv[1])
        ))),
    }
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: the save and load of a
/// restart, without the restart.
fn reload(ctx: &mut Ctx) -> CmdResult {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for a in &ctx.argv[2..] {
        match a.to_ascii_lowercase().as_slice() {
            b"merge" => merge = true,
            b"noflush" => flush = false,
            b"nosave" => save = false,
            _ => {
                return Err(err(
                    "DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
                ))
            }
        }
    }
    if save && crate::persistence::save(ctx.srv, ctx.dbs).is_err() {
        return Err(CmdError::Other("ERR".into()));
    }
    if flush {
        for db in 0..ctx.dbs.count() {
            super::server::touch_db_watchers(ctx, db);
            ctx.dbs.db(db).clear();
        }
        let now = ctx.now();
        crate::signals::tracking::flushed(&ctx.srv.signals, &ctx.srv.clients, ctx.client, now);
        // The function libraries go too, and come back from the file.
        super::functions::flush_libraries(ctx.srv);
    }
    match crate::persistence::load_now(ctx.srv, ctx.dbs, merge) {
        Ok(_) => {
            crate::log!("DB reloaded by DEBUG RELOAD");
            Ok(Frame::ok())
        }
        Err(e) => {
            crate::log!("DEBUG RELOAD: {e}");
            Err(err("Error trying to load the RDB dump"))
        }
    }
}

fn debug_object(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.argv[2].clone();
    let now = rubedo_engine::value::secs(ctx.now());
    let mut db = ctx.db();
    let Some(e) = db.peek(&key) else {
        return Err(rubedo_engine::Error::NoSuchKey.into());
    };
    let enc = e.value.encoding();
    // serializedlength is the size of the value in an RDB file. Rubedo
    // knows it for strings that RDB stores as they are; longer strings are
    // LZF-compressed by Redis and collections are stored as Redis's own
    // blobs, whose sizes Rubedo cannot know yet: there the field is left
    // out rather than invented.
    let serialized = match &e.value {
        Value::Str(s) => rdb_string_len(s),
        _ => None,
    }
    .map(|n| format!(" serializedlength:{n}"))
    .unwrap_or_default();
    Ok(Frame::Simple(Bytes::from(format!(
        "Value at:{:p} refcount:{} encoding:{}{} lru:{} lru_seconds_idle:{}",
        e as *const _,
        super::keys::refcount(&e.value),
        enc,
        serialized,
        e.atime & 0xFF_FFFF,
        now.saturating_sub(e.atime)
    ))))
}

/// Bytes of an RDB length prefix for `n`.
fn rdb_len_len(n: usize) -> usize {
    match n {
        0..=63 => 1,
        64..=16383 => 2,
        _ if n as u64 <= u32::MAX as u64 => 5,
        _ => 9,
    }
}

/// Bytes of RDB's integer encoding of `v` (a type byte and 1, 2 or 4
/// bytes), if it fits 32 bits.
fn rdb_int_len(v: i64) -> Option<usize> {
    if i8::try_from(v).is_ok() {
        Some(2)
    } else if i16::try_from(v).is_ok() {
        Some(3)
    } else if i32::try_from(v).is_ok() {
        Some(5)
    } else {
        None
    }
}

/// `s` as an integer if it is one written canonically (no sign but a
/// leading `-`, no leading zeros, no `-0`), as Redis's integer test reads it.
fn canonical_int(s: &[u8]) -> Option<i64> {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || s.len() > 1) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// The size of a string value in an RDB file, where Rubedo can know it:
/// an integer as RDB's integer encoding (or its decimal digits when wider
/// than 32 bits); a string of up to 11 bytes that reads as a 32-bit
/// integer likewise; any other string up to 20 bytes as a length prefix
/// and its bytes. Longer strings would be tried with LZF compression
/// (Redis's default `rdbcompression yes`): unknown here, so `None`.
fn rdb_string_len(s: &Str) -> Option<usize> {
    if let Str::Int(n) = s {
        return Some(rdb_int_len(*n).unwrap_or_else(|| {
            let digits = n.to_string().len();
            rdb_len_len(digits) + digits
        }));
    }
    let b = s.to_vec();
    if b.len() <= 11 {
        if let Some(n) = canonical_int(&b).and_then(rdb_int_len) {
            return Some(n);
        }
    }
    if b.len() > 20 {
        return None;
    }
    Some(rdb_len_len(b.len()) + b.len())
}

fn sha1_of(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// XORs the SHA1 of `data` into `digest`.
fn xor_digest(digest: &mut [u8; 20], data: &[u8]) {
    let h = sha1_of(&[data]);
    for (d, x) in digest.iter_mut().zip(h) {
        *d ^= x;
    }
}

/// Order-dependent mixing: xor in `data`, then hash the result.
fn mix_digest(digest: &mut [u8; 20], data: &[u8]) {
    xor_digest(digest, data);
    *digest = sha1_of(&[&digest[..]]);
}

/// Redis's numeric type codes, which the digest mixes in first.
fn type_code(v: &Value) -> u32 {
    match v {
        Value::Str(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
    }
}

/// The digest of one value as DEBUG DIGEST-VALUE computes it.
pub fn value_digest(v: &Value, has_ttl: bool) -> [u8; 20] {
    let mut d = [0u8; 20];
    object_digest(&mut d, v, has_ttl);
    d
}

fn object_digest(d: &mut [u8; 20], v: &Value, has_ttl: bool) {
    mix_digest(d, &type_code(v).to_be_bytes());
    match v {
        Value::Str(s) => s.with_bytes(|b| mix_digest(d, b)),
        // Collections: order-independent, each element digested on its own.
        Value::Set(s) => s.for_each(|m| xor_digest(d, m)),
        // Lists are ordered: each element is mixed in turn.
        Value::List(l) => l.for_each(|e| mix_digest(d, e)),
        Value::ZSet(z) => z.for_each(|m, score| {
            let mut e = [0u8; 20];
            mix_digest(&mut e, m);
            mix_digest(&mut e, rubedo_resp::format_double(score).as_bytes());
            xor_digest(d, &e);
        }),
        Value::Hash(h) => h.for_each(|f, v| {
            let mut e = [0u8; 20];
            mix_digest(&mut e, f);
            mix_digest(&mut e, v);
            xor_digest(d, &e);
        }),
    }
    if has_ttl {
        xor_digest(d, b"!!expire!!");
    }
}

/// DEBUG DIGEST: equal datasets give equal digests regardless of order, as
/// Redis computes it, so the two servers' digests can be compared.
fn dataset_digest(ctx: &mut Ctx) -> [u8; 20] {
    let mut fin = [0u8; 20];
    for j in 0..ctx.dbs.count() {
        let mut db = ctx.dbs.db(j);
        if db.is_empty() {
            continue;
        }
        mix_digest(&mut fin, &(j as u32).to_be_bytes());
        // Every key in the table, expired or not, as Redis walks its dict.
        let mut keys = Vec::new();
        db.for_each_raw(|k, _| keys.push(k.clone()));
        for k in keys {
            let mut d = [0u8; 20];
            mix_digest(&mut d, &k);
            let at = db.expire_at(&k);
            if let Some(e) = db.raw(&k) {
                object_digest(&mut d, &e.value, at.is_some());
            }
            xor_digest(&mut fin, &d);
        }
    }
    fin
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn populate(ctx: &mut Ctx) -> CmdResult {
    let positive = |b: &[u8]| {
        parse_i64(b)
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| err("value is out of range, must be positive"))
    };
    let count = positive(&ctx.argv[2])?;
    let prefix = ctx
        .argv
        .get(3)
        .cloned()
        .unwrap_or_else(|| Bytes::from_static(b"key"));
    let size = match ctx.argv.get(4) {
        Some(s) => positive(s)? as usize,
        None => 0,
    };
    let mut db = ctx.db();
    let mut added = 0;
    for i in 0..count {
        let mut key = prefix.to_vec();
        key.extend_from_slice(format!(":{i}").as_bytes());
        if db.contains(&key) {
            continue;
        }
        let mut val = format!("value:{i}").into_bytes();
        if size > 0 {
            val.resize(size, 0);
        }
        db.set(&key, Value::Str(Str::from_bytes(&val)), false);
        added += 1;
    }
    drop(db);
    ctx.dirty += added;
    Ok(Frame::ok())
}

fn protocol(ctx: &mut Ctx) -> CmdResult {
    let t = ctx.argv[2].clone();
    let bulk = |s: &str| Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()));
    Ok(if is(&t, "string") {
        bulk("Hello World")
    } else if is(&t, "integer") {
        Frame::Integer(12345)
    } else if is(&t, "double") {
        // The value Redis sends, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        Frame::Double(3.141)
    } else if is(&t, "bignum") {
        Frame::BigNumber(Bytes::from_static(b"1234567999999999999999999999999999999"))
    } else if is(&t, "null") {
        Frame::Null
    } else if is(&t, "array") {
        Frame::Array((0..3).map(Frame::Integer).collect())
    } else if is(&t, "set") {
        Frame::Set((0..3).map(Frame::Integer).collect())
    } else if is(&t, "map") {
        Frame::Map(
            (0..3)
                .map(|i| (Frame::Integer(i), Frame::Boolean(i == 1)))
                .collect(),
        )
    } else if is(&t, "attrib") {
        Frame::Attribute(
            vec![(
                bulk("key-popularity"),
                Frame::Array(vec![bulk("key:123"), Frame::Integer(90)]),
            )],
            Box::new(bulk("Some real reply following the attribute")),
        )
    } else if is(&t, "push") {
        if ctx.client.proto != Protocol::Resp3 {
            return Err(err("RESP2 is not supported by this command"));
        }
        ctx.push_own(&Frame::Push(vec![
            bulk("server-cpu-usage"),
            Frame::Integer(42),
        ]));
        bulk("Some real reply following the push reply")
    } else if is(&t, "true") {
        Frame::Boolean(true)
    } else if is(&t, "false") {
        Frame::Boolean(false)
    } else if is(&t, "verbatim") {
        Frame::Verbatim {
            format: *b"txt",
            data: Bytes::from_static(b"This is a verbatim\nstring"),
        }
    } else {
        return Err(CmdError::Other("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false".into()));
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len_of(s: &str) -> Option<usize> {
        rdb_string_len(&Str::from_bytes(s.as_bytes()))
    }

    /// The values redis-server 7.0.15 prints for these strings.
    #[test]
    fn rdb_lengths_of_strings_match_redis() {
        assert_eq!(rdb_string_len(&Str::Int(5)), Some(2));
        assert_eq!(rdb_string_len(&Str::Int(-5)), Some(2));
        assert_eq!(rdb_string_len(&Str::Int(9999)), Some(3));
        assert_eq!(rdb_string_len(&Str::Int(12345)), Some(3));
        assert_eq!(rdb_string_len(&Str::Int(100000)), Some(5));
        assert_eq!(rdb_string_len(&Str::Int(12345678901)), Some(12));
        assert_eq!(len_of("hello"), Some(6));
        assert_eq!(len_of(""), Some(1));
        assert_eq!(len_of("1.5"), Some(4));
        assert_eq!(len_of("-0"), Some(3));
        assert_eq!(len_of("01234567890"), Some(12));
        assert_eq!(len_of("0123456789012345678"), Some(20));
        assert_eq!(len_of("aaaaaaaaaaaaaaaaaaaa"), Some(21));
        // LZF would be tried: not known.
        assert_eq!(len_of("aaaaaaaaaaaaaaaaaaaaa"), None);
        assert_eq!(rdb_len_len(16383), 2);
        assert_eq!(rdb_len_len(16384), 5);
    }
}
