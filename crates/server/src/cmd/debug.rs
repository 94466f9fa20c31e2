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
                .active_expire
                .store(parse_i64(&ctx.argv[2])? != 0, Relaxed);
            Ok(Frame::ok())
        }
        (b"pause-cron", 3) => {
            ctx.srv
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
        (b"protocol", 3) => protocol(ctx),
        (b"help", 2) => Ok(super::help(
            "DEBUG",
            &[
                "DIGEST",
                "    A hex digest of the whole dataset.",
                "DIGEST-VALUE <key> [<key> ...]",
                "    A hex digest of each key's value.",
                "OBJECT <key>",
                "    Low-level details of the value at <key>.",
                "PAUSE-CRON <0|1>",
                "    Stop or resume the periodic background work.",
                "POPULATE <count> [<prefix>] [<size>]",
                "    Create <count> keys named <prefix>:<n> (prefix defaults to key).",
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

fn debug_object(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.argv[2].clone();
    let now = rubedo_engine::value::secs(ctx.now());
    let mut db = ctx.db();
    let Some(e) = db.peek(&key) else {
        return Err(rubedo_engine::Error::NoSuchKey.into());
    };
    let (enc, len) = match &e.value {
        Value::Str(s) => (s.encoding(), s.len()),
        Value::Hash(h) => (h.encoding(), h.len()),
        Value::List(l) => (l.encoding(), l.len()),
        Value::ZSet(z) => (z.encoding(), z.len()),
        Value::Set(s) => (s.encoding(), s.len()),
    };
    Ok(Frame::Simple(Bytes::from(format!(
        "Value at:{:p} refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        e as *const _,
        enc,
        len,
        e.atime & 0xFF_FFFF,
        now.saturating_sub(e.atime)
    ))))
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
