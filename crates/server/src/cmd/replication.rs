//! REPLCONF, SYNC and PSYNC as far as a snapshot download goes: what
//! `redis-cli --rdb` and `--functions-rdb` send (`REPLCONF rdb-only 1`,
//! optionally `REPLCONF rdb-filter-only functions`, then SYNC) gets the
//! dataset in Redis's RDB format, and the connection is closed after it,
//! as Redis does for an rdb-only replica. Replication proper (a replica
//! that stays and receives the write stream) is not here yet: SYNC/PSYNC
//! without rdb-only are refused with an error saying so.

use std::io::Read;

use bytes::{Bytes, BytesMut};
use rubedo_resp::Frame;

use crate::dispatch::args::parse_i64;
use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag::*, Cmd, Lock};
use crate::error::{err, CmdError, CmdResult};
use crate::session::tail::{Part, Stream};

const G: &str = "server";
const ADM: u64 = acl::ADMIN | acl::SLOW | acl::DANGEROUS;

pub static COMMANDS: &[Cmd] = &[
    Cmd::new("replconf", -1, replconf)
        .flags(ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY)
        .acl(ADM)
        .lock(Lock::None)
        .doc(
            G,
            "3.0.0",
            "O(1)",
            "An internal command for configuring the replication stream.",
        ),
    Cmd::new("sync", 1, sync)
        .flags(ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI)
        .acl(ADM)
        .lock(Lock::All)
        .doc(G, "1.0.0", "", "An internal command used in replication."),
    Cmd::new("psync", -3, psync)
        .flags(ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI)
        .acl(ADM)
        .lock(Lock::All)
        .doc(G, "2.8.0", "", "An internal command used in replication."),
];

/// What a connection said about itself with REPLCONF.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReplConf {
    /// Only the snapshot, not the stream after it (`rdb-only 1`).
    pub rdb_only: bool,
    /// The snapshot leaves the keys out (any `rdb-filter-only`).
    pub exclude_data: bool,
    /// ... and the function libraries too, unless the filter names
    /// `functions`.
    pub exclude_functions: bool,
}

fn replconf(ctx: &mut Ctx) -> CmdResult {
    if ctx.argv.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    // Each option takes effect as it is read, as Redis applies them: an
    // error leaves the earlier ones set.
    for pair in ctx.argv[1..].chunks(2) {
        let conf = &mut ctx.client.repl;
        let (opt, val) = (&pair[0], &pair[1]);
        let is = |w: &str| opt.eq_ignore_ascii_case(w.as_bytes());
        if is("listening-port") {
            parse_i64(val)?;
        } else if is("ip-address") || is("capa") {
            // Only a replica that stays uses them.
        } else if is("rdb-only") {
            match parse_i64(val)? {
                0 => conf.rdb_only = false,
                1 => conf.rdb_only = true,
                _ => return Err(err("value is out of range, value must between 0 and 1")),
            }
        } else if is("rdb-filter-only") {
            let Some(filters) = split_filters(val) else {
                return Err(err("Missing rdb-filter-only values"));
            };
            // A filter includes: what it does not name is left out.
            conf.exclude_data = true;
            conf.exclude_functions = true;
            for f in filters {
                if f.eq_ignore_ascii_case(b"functions") {
                    conf.exclude_functions = false;
                } else {
                    return Err(err(format!(
                        "Unsupported rdb-filter-only option: {}",
                        String::from_utf8_lossy(&f)
                    )));
                }
            }
        } else if is("ack") || is("getack") {
            // A replica's acknowledgements and a master's request for one:
            // neither is answered (Redis sends no reply either).
            ctx.silence();
            return Ok(Frame::Null);
        } else {
            return Err(err(format!(
                "Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    Ok(Frame::ok())
}

/// The words of a filter list: split on white space, a word in double or
/// single quotes taken whole; `None` when a quote is left open.
fn split_filters(v: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        if v[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let mut word = Vec::new();
        if v[i] == b'"' || v[i] == b'\'' {
            let q = v[i];
            let end = v[i + 1..].iter().position(|&b| b == q)? + i + 1;
            word.extend_from_slice(&v[i + 1..end]);
            i = end + 1;
        } else {
            while i < v.len() && !v[i].is_ascii_whitespace() {
                word.push(v[i]);
                i += 1;
            }
        }
        out.push(word);
    }
    Some(out)
}

fn sync(ctx: &mut Ctx) -> CmdResult {
    snapshot_reply(ctx, None)
}

fn psync(ctx: &mut Ctx) -> CmdResult {
    parse_i64(&ctx.argv[2])?;
    let head = format!("+FULLRESYNC {} 0\r\n", ctx.srv.process.run_id);
    snapshot_reply(ctx, Some(head))
}

/// Bytes of the file read per piece of the reply.
const CHUNK: usize = 64 << 10;

/// The dataset as an RDB bulk without the trailing CRLF (as a master
/// sends it), then the connection closes.
fn snapshot_reply(ctx: &mut Ctx, head: Option<String>) -> CmdResult {
    if !ctx.client.repl.rdb_only {
        return Err(err(
            "this server does not replicate yet: only a snapshot download (REPLCONF rdb-only 1, then SYNC or PSYNC, as redis-cli --rdb does) is served",
        ));
    }
    let repl = ctx.client.repl;
    let (file, len) = if repl.exclude_data {
        // The function libraries kept from a load (unless excluded too),
        // and no keys.
        let functions = if repl.exclude_functions {
            Vec::new()
        } else {
            crate::persistence::functions(ctx.srv)
        };
        let bytes = functions_rdb(&functions).map_err(|e| err(e.to_string()))?;
        let len = bytes.len() as u64;
        (Source::Mem(Some(Bytes::from(bytes))), len)
    } else {
        let (file, len) =
            save_to_temp(ctx).map_err(|e| err(format!("cannot write the snapshot: {e}")))?;
        (Source::File(file), len)
    };
    let mut header = head.unwrap_or_default();
    header.push_str(&format!("${len}\r\n"));
    let pieces = len.div_ceil(CHUNK as u64);
    let mut file = file;
    ctx.stream_tail(vec![Part::Stream(Stream {
        remaining: pieces,
        emit: Box::new(move |out: &mut BytesMut| file.next_into(out)),
    })]);
    ctx.client.close = true;
    Ok(Frame::Raw(Bytes::from(header)))
}

enum Source {
    File(std::fs::File),
    Mem(Option<Bytes>),
}

impl Source {
    fn next_into(&mut self, out: &mut BytesMut) {
        match self {
            Source::Mem(b) => {
                if let Some(b) = b.take() {
                    out.extend_from_slice(&b);
                }
            }
            Source::File(f) => {
                let mut buf = vec![0u8; CHUNK];
                let mut n = 0;
                while n < CHUNK {
                    match f.read(&mut buf[n..]) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => n += k,
                    }
                }
                out.extend_from_slice(&buf[..n]);
            }
        }
    }
}

fn rdb_options(ctx: &Ctx) -> rubedo_persist::snapshot::Options {
    let mut o = crate::persistence::options(ctx.srv);
    o.format = rubedo_persist::snapshot::Format::Rdb {
        list_fill: ctx
            .srv
            .config
            .list_max_listpack_size
            .load(std::sync::atomic::Ordering::Relaxed),
        redis_ver: crate::REDIS_VERSION,
    };
    o.incremental_fsync = false;
    o
}

/// Writes the dataset (every lock is held) as RDB to a file of its own in
/// the working directory, opened and unlinked: it goes when it is sent.
fn save_to_temp(ctx: &mut Ctx) -> std::io::Result<(std::fs::File, u64)> {
    let target = rubedo_persist::snapshot::take::Target {
        functions: crate::persistence::functions(ctx.srv),
        durable: false,
        ..rubedo_persist::snapshot::take::Target::new(
            std::env::current_dir()?,
            format!("temp-sync-{}-{}.rdb", std::process::id(), ctx.client.id),
        )
    };
    let opts = rdb_options(ctx);
    let saved = rubedo_persist::snapshot::take::save_dbs(ctx.dbs, &target, opts)?;
    let path = target.dir.join(&target.name);
    let file = std::fs::File::open(&path);
    let _ = std::fs::remove_file(&path);
    Ok((file?, saved.bytes))
}

fn functions_rdb(functions: &[Vec<u8>]) -> std::io::Result<Vec<u8>> {
    let aux = [
        ("redis-ver", crate::REDIS_VERSION.to_string()),
        ("redis-bits", usize::BITS.to_string()),
    ];
    let mut w = rubedo_persist::rdb::FileWriter::new(Vec::new(), &aux, true, true)?;
    for code in functions {
        w.function(code)?;
    }
    w.finish()
}
