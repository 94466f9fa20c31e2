//! DUMP and RESTORE: a value in Redis's serialization (its RDB encoding,
//! the RDB version and a CRC64), so values move between Rubedo and Redis.

use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use rubedo_persist::rdb::{self, PayloadError};
use rubedo_pubsub::notify;
use rubedo_resp::Frame;

use crate::dispatch::args::{parse_i64, Args};
use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag::*, kf, ks, Cmd};
use crate::error::{err, CmdError, CmdResult};
use crate::propagate::Rewrite;

const G: &str = "generic";
const KW: u64 = acl::KEYSPACE | acl::WRITE;

const RESTORE_COMPLEXITY: &str = "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).";

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("dump", 2, dump).flags(READONLY).acl(acl::KEYSPACE | acl::READ | acl::SLOW).specs(&[ks(kf::RO | kf::ACCESS, 1, 0, 1)])
        .tips(&["nondeterministic_output"]).doc(G, "2.6.0", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).", "Returns a serialized representation of the value stored at a key."),
    Cmd::new("restore", -4, restore).flags(WRITE | DENYOOM).acl(KW | acl::SLOW | acl::DANGEROUS).specs(&[ks(kf::OW | kf::UPDATE, 1, 0, 1)])
        .doc(G, "2.6.0", RESTORE_COMPLEXITY, "Creates a key from the serialized representation of a value."),
    Cmd::new("restore-asking", -4, restore).flags(WRITE | DENYOOM | ASKING).acl(KW | acl::SLOW | acl::DANGEROUS).specs(&[ks(kf::OW | kf::UPDATE, 1, 0, 1)])
        .doc(G, "3.0.0", RESTORE_COMPLEXITY, "An internal command for migrating keys in a cluster."),
];

fn dump(ctx: &mut Ctx) -> CmdResult {
    let key = &ctx.argv[1];
    let opts = rdb::WriteOptions {
        list_fill: ctx.srv.config.list_max_listpack_size.load(Relaxed),
        ..rdb::WriteOptions::new(ctx.srv.config.yes("rdbcompression"))
    };
    Ok(match ctx.db().read(key) {
        Some(e) => Frame::Bulk(Bytes::from(rdb::dump_payload_with(&e.value, &opts))),
        None => Frame::Null,
    })
}

/// RESTORE's options, checked in Redis's order: options left to right,
/// then BUSYKEY, then the TTL, then the payload.
struct Opts {
    replace: bool,
    absttl: bool,
    idle: Option<i64>,
}

fn options(argv: &[Bytes]) -> Result<Opts, CmdError> {
    let mut a = Args::after(argv, 4);
    let mut o = Opts {
        replace: false,
        absttl: false,
        idle: None,
    };
    let mut freq = None;
    while let Some(w) = a.next_arg() {
        let has_value = !a.is_empty();
        if w.eq_ignore_ascii_case(b"REPLACE") {
            o.replace = true;
        } else if w.eq_ignore_ascii_case(b"ABSTTL") {
            o.absttl = true;
        } else if w.eq_ignore_ascii_case(b"IDLETIME") && has_value && freq.is_none() {
            let v = parse_i64(a.next_bytes()?)?;
            if v < 0 {
                return Err(err("Invalid IDLETIME value, must be >= 0"));
            }
            o.idle = Some(v);
        } else if w.eq_ignore_ascii_case(b"FREQ") && has_value && o.idle.is_none() {
            let v = parse_i64(a.next_bytes()?)?;
            if !(0..=255).contains(&v) {
                return Err(err("Invalid FREQ value, must be >= 0 and <= 255"));
            }
            // Kept for an LFU policy; without one Redis ignores it too.
            freq = Some(v);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(o)
}

fn restore(ctx: &mut Ctx) -> CmdResult {
    let key = ctx.argv[1].clone();
    let o = options(ctx.argv)?;
    if !o.replace && ctx.db().get(&key).is_some() {
        return Err(CmdError::Other(
            "BUSYKEY Target key name already exists.".into(),
        ));
    }
    let ttl = parse_i64(&ctx.argv[2])?;
    if ttl < 0 {
        return Err(err("Invalid TTL value, must be >= 0"));
    }
    let lim = crate::persistence::limits(ctx.srv);
    let value = match rdb::restore_payload(&ctx.argv[3], &lim) {
        Ok(v) => v,
        Err(PayloadError::VersionOrChecksum) => {
            return Err(err("DUMP payload version or checksum are wrong"))
        }
        Err(PayloadError::Bad(_)) => return Err(err("Bad data format")),
    };
    let now = ctx.now();
    let deleted = o.replace && ctx.db().remove(&key).is_some();
    // A relative TTL is made absolute; past the end of time it is already
    // gone, as Redis's signed arithmetic has it.
    let at = match ttl {
        0 => None,
        t if o.absttl => Some(t),
        t => Some(t.checked_add(now as i64).unwrap_or(-1)),
    };
    if at.is_some_and(|at| ctx.already_expired(at)) {
        if deleted {
            ctx.propagate(Rewrite::del(&key));
            ctx.notify(notify::GENERIC, "del", &key);
            ctx.dirty += 1;
        } else {
            ctx.propagate_nothing();
        }
        return Ok(Frame::ok());
    }
    {
        let mut db = ctx.db();
        let e = db.insert_new(&key, value);
        if let Some(idle) = o.idle {
            let secs = rubedo_engine::value::secs(now);
            e.atime = secs.saturating_sub(idle.min(u32::MAX as i64) as u32);
        }
        if let Some(at) = at {
            db.set_expire(&key, Some(at as u64));
        }
    }
    if let (Some(at), false) = (at, o.absttl) {
        // Propagated with the absolute time, as Redis does.
        ctx.propagate(Rewrite::restore_at(ctx.argv, at));
    }
    ctx.notify(notify::GENERIC, "restore", &key);
    ctx.dirty += 1;
    Ok(Frame::ok())
}
