//! MIGRATE: keys moved (or copied) to another server as RESTORE commands
//! carrying DUMP payloads, as Redis 7.0's cluster.c does it: synchronous
//! I/O with the command's timeout inside the handler (Redis blocks while
//! it migrates), one cached connection per `host:port` (reused while it is
//! used at least every 10 s, closed by the cron after that, dropped on an
//! I/O error), and one retry on a fresh connection when the failure cannot
//! have let the target run anything.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, ErrorKind, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use rubedo_persist::rdb;
use rubedo_pubsub::notify;
use rubedo_resp::Frame;

use super::server::atoi;
use crate::dispatch::args::{is, parse_i64};
use crate::dispatch::ctx::Ctx;
use crate::dispatch::table::{acl, flag::*, kf, ks, ks_unknown, Cmd};
use crate::error::{err, CmdError, CmdResult};
use crate::propagate::Rewrite;

const G: &str = "generic";
const KEYS_FLAGS: u32 = kf::RW | kf::ACCESS | kf::DELETE;

pub static COMMANDS: &[Cmd] = &[
    // Redis's second key spec begins with a keyword search ("KEYS" from the
    // second-to-last argument backwards), which the table cannot declare
    // yet: it is an unknown spec here, and `migrate_keys` finds the keys.
    Cmd::new("migrate", -6, migrate)
        .flags(WRITE)
        .acl(acl::KEYSPACE | acl::WRITE | acl::SLOW | acl::DANGEROUS)
        .specs(&[
            ks(KEYS_FLAGS, 3, 0, 1),
            ks_unknown(KEYS_FLAGS | kf::INCOMPLETE),
        ])
        .keys_fn(migrate_keys)
        .tips(&["nondeterministic_output"])
        .doc(
            G,
            "2.6.0",
            "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.",
            "Atomically transfer a key from a Redis instance to another one.",
        ),
];

/// Cached connections beyond this many make room by closing one
/// (MIGRATE_SOCKET_CACHE_ITEMS).
const CACHE_ITEMS: usize = 64;
/// A cached connection unused for longer is closed by the cron
/// (MIGRATE_SOCKET_CACHE_TTL).
const CACHE_TTL: Duration = Duration::from_secs(10);
/// The reply lines read are cut at this many bytes, as Redis's 1024-byte
/// buffers cut them (the rest is read as the next line).
const LINE_MAX: usize = 1023;

/// The keys of a MIGRATE, as Redis 7.0's COMMAND GETKEYS finds them: from
/// the key specs (argument 3) unless the KEYS keyword is found searching
/// from the second-to-last argument backwards; that spec is incomplete, so
/// then from migrateGetKeys: the arguments after the first KEYS option
/// (AUTH and AUTH2 values skipped), none if the key argument is not empty.
/// What a MIGRATE that parses reaches is always among them (its lock set).
fn migrate_keys(argv: &[Bytes]) -> Vec<usize> {
    let argc = argv.len();
    if argc < 4 {
        return Vec::new();
    }
    if !(1..argc - 1).rev().any(|i| is(&argv[i], "keys")) {
        return vec![3];
    }
    let (mut first, mut num) = (3, 1);
    let mut i = 6;
    while i < argc {
        let a = &argv[i];
        if is(a, "keys") {
            if argv[3].is_empty() {
                first = i + 1;
                num = argc - first;
            } else {
                num = 0;
            }
            break;
        }
        if is(a, "auth") {
            i += 1;
        } else if is(a, "auth2") {
            i += 2;
        }
        i += 1;
    }
    (first..first + num).collect()
}

/// One cached connection to a target.
struct Conn {
    io: BufReader<TcpStream>,
    /// The database last selected with success (-1: unknown).
    last_db: i64,
    last_use: Instant,
}

/// The connections MIGRATE keeps open, by `host:port` as written in the
/// command (Redis's `migrate_cached_sockets`). A connection is taken out
/// while a MIGRATE uses it, so the lock is never held during I/O.
#[derive(Default)]
pub struct Sockets {
    map: Mutex<HashMap<Vec<u8>, Conn>>,
}

impl Sockets {
    fn take(&self, name: &[u8]) -> Option<Conn> {
        self.map.lock().remove(name)
    }

    /// Makes room for a new connection (Redis closes one at random).
    fn make_room(&self) {
        let mut m = self.map.lock();
        if m.len() >= CACHE_ITEMS {
            if let Some(k) = m.keys().next().cloned() {
                m.remove(&k);
            }
        }
    }

    fn put(&self, name: Vec<u8>, conn: Conn) {
        self.map.lock().insert(name, conn);
    }

    /// Closes the connections unused for more than 10 s (the cron's
    /// migrateCloseTimedoutSockets).
    pub fn close_idle(&self) {
        let mut m = self.map.lock();
        if !m.is_empty() {
            m.retain(|_, c| c.last_use.elapsed() <= CACHE_TTL);
        }
    }

    /// Connections cached now (INFO's migrate_cached_sockets).
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A key to send: its name, its remaining TTL in ms (0: none) and payload.
struct Item {
    key: Bytes,
    ttl: u64,
    payload: Vec<u8>,
}

fn migrate(ctx: &mut Ctx) -> CmdResult {
    let argv = ctx.argv;
    let argc = argv.len();
    let (mut copy, mut replace) = (false, false);
    let (mut username, mut password): (Option<&Bytes>, Option<&Bytes>) = (None, None);
    let (mut first, mut num) = (3, 1);
    let mut j = 6;
    while j < argc {
        let more = argc - 1 - j;
        let a = &argv[j];
        if is(a, "copy") {
            copy = true;
        } else if is(a, "replace") {
            replace = true;
        } else if is(a, "auth") {
            if more == 0 {
                return Err(CmdError::Syntax);
            }
            j += 1;
            password = Some(&argv[j]);
            ctx.redact(j);
        } else if is(a, "auth2") {
            if more < 2 {
                return Err(CmdError::Syntax);
            }
            j += 1;
            username = Some(&argv[j]);
            ctx.redact(j);
            j += 1;
            password = Some(&argv[j]);
            ctx.redact(j);
        } else if is(a, "keys") {
            if !argv[3].is_empty() {
                return Err(err(
                    "When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            first = j + 1;
            num = argc - j - 1;
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let timeout = parse_i64(&argv[5])?;
    let db = parse_i64(&argv[4])?;
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });

    // The keys here now, serialized; none at all is +NOKEY, before any
    // connection (often a key expired meanwhile, which is no error).
    let opts = rdb::WriteOptions {
        list_fill: ctx.srv.config.list_max_listpack_size.load(Relaxed),
        ..rdb::WriteOptions::new(ctx.srv.config.yes("rdbcompression"))
    };
    let now = ctx.now();
    let mut items = Vec::new();
    for key in &argv[first..first + num] {
        let mut d = ctx.db();
        let Some(e) = d.read(key) else {
            continue;
        };
        let payload = rdb::dump_payload_with(&e.value, &opts);
        // A key live now has at least 1 ms left.
        let ttl = d
            .expire_at(key)
            .map_or(0, |at| at.saturating_sub(now).max(1));
        items.push(Item {
            key: key.clone(),
            ttl,
            payload,
        });
    }
    if items.is_empty() {
        return Ok(Frame::simple("NOKEY"));
    }

    let request = request(username, password, replace, &items);
    let (host, port_arg) = (&argv[1], &argv[2]);
    let name = [&host[..], b":", &port_arg[..]].concat();
    let srv = ctx.srv;
    let sockets = &srv.migrate;
    let mut may_retry = true;
    loop {
        let mut conn = match sockets.take(&name) {
            Some(c) => c,
            None => {
                sockets.make_room();
                match connect(host, atoi(port_arg), timeout) {
                    Ok(s) => Conn {
                        io: BufReader::new(s),
                        last_db: -1,
                        last_use: Instant::now(),
                    },
                    Err(Connect::Resolve) => {
                        return Err(CmdError::Other(
                            "IOERR error or timeout connecting to the client".into(),
                        ))
                    }
                    // Redis's connect does not wait for the outcome: a refused
                    // or timed out connection fails at the first write.
                    Err(Connect::Io(e)) => {
                        if retry(&e, &mut may_retry) {
                            continue;
                        }
                        return Err(io_error(true));
                    }
                }
            }
        };
        conn.last_use = Instant::now();
        let select = conn.last_db != db;
        let mut out = Vec::new();
        if select {
            bulk_count(&mut out, 2);
            bulk(&mut out, b"SELECT");
            bulk(&mut out, db.to_string().as_bytes());
        }
        // AUTH goes first.
        let s = conn.io.get_mut();
        let sent = s.set_read_timeout(Some(timeout)).and_then(|_| {
            [&request.auth[..], &out[..], &request.restores[..]]
                .iter()
                .try_for_each(|part| write_within(s, part, timeout))
        });
        if let Err(e) = sent {
            if retry(&e, &mut may_retry) {
                continue;
            }
            return Err(io_error(true));
        }
        let auth_reply = match password.map(|_| read_line(&mut conn.io)).transpose() {
            Ok(r) => r,
            Err(e) => {
                if retry(&e, &mut may_retry) {
                    continue;
                }
                return Err(io_error(false));
            }
        };
        let select_reply = match select.then(|| read_line(&mut conn.io)).transpose() {
            Ok(r) => r,
            Err(e) => {
                if retry(&e, &mut may_retry) {
                    continue;
                }
                return Err(io_error(false));
            }
        };
        let refused = |l: &Option<Vec<u8>>| l.as_ref().is_some_and(|l| l.first() == Some(&b'-'));
        let early_error = refused(&auth_reply) || refused(&select_reply);
        let mut target_error: Option<Vec<u8>> = None;
        let mut socket_error = None;
        let mut read = 0;
        let mut del = Vec::new();
        for item in &items {
            let line = match read_line(&mut conn.io) {
                Ok(l) => l,
                Err(e) => {
                    socket_error = Some(e);
                    break;
                }
            };
            read += 1;
            if early_error || line.first() == Some(&b'-') {
                if target_error.is_none() {
                    // The selected database is no longer known.
                    conn.last_db = -1;
                    let why = if refused(&auth_reply) {
                        auth_reply.as_deref()
                    } else if refused(&select_reply) {
                        select_reply.as_deref()
                    } else {
                        Some(&line[..])
                    };
                    target_error = why.map(<[u8]>::to_vec);
                }
            } else if !copy {
                ctx.db().remove(&item.key);
                ctx.notify(notify::GENERIC, "del", &item.key);
                ctx.dirty += 1;
                del.push(item.key.clone());
            }
        }
        // Not even the first reply came: taken (as Redis takes it) to mean
        // nothing was restored, so once more on a new connection (never
        // after a timeout).
        if target_error.is_none() && read == 0 {
            if let Some(e) = &socket_error {
                if retry(e, &mut may_retry) {
                    continue;
                }
            }
        }
        // What the target acknowledged is gone here: propagated as a DEL.
        if !del.is_empty() {
            ctx.propagate(Rewrite::del_keys(del));
        }
        let socket_error = socket_error.is_some();
        match target_error {
            Some(why) => {
                if !socket_error {
                    sockets.put(name, conn);
                }
                let mut t = b"ERR Target instance replied with error: ".to_vec();
                t.extend(why.iter().skip(1).map(|&c| match c {
                    b'\r' | b'\n' => b' ',
                    c => c,
                }));
                return Err(CmdError::OtherBytes(t));
            }
            None if socket_error => return Err(io_error(false)),
            None => {
                conn.last_db = db;
                sockets.put(name, conn);
                return Ok(Frame::ok());
            }
        }
    }
}

/// Whether to try again on a new connection after `e` (the failed
/// connection is dropped by the caller): once, and never after a timeout.
fn retry(e: &io::Error, may_retry: &mut bool) -> bool {
    let again = *may_retry && !timed_out(e);
    *may_retry = false;
    again
}

fn timed_out(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn io_error(writing: bool) -> CmdError {
    CmdError::Other(format!(
        "IOERR error or timeout {} to target instance",
        if writing { "writing" } else { "reading" }
    ))
}

/// What MIGRATE sends whatever the connection: AUTH (if given) and the
/// RESTOREs (SELECT goes between them when the connection needs it).
struct Request {
    auth: Vec<u8>,
    restores: Vec<u8>,
}

fn request(
    user: Option<&Bytes>,
    password: Option<&Bytes>,
    replace: bool,
    items: &[Item],
) -> Request {
    let mut auth = Vec::new();
    if let Some(pw) = password {
        bulk_count(&mut auth, if user.is_some() { 3 } else { 2 });
        bulk(&mut auth, b"AUTH");
        if let Some(u) = user {
            bulk(&mut auth, u);
        }
        bulk(&mut auth, pw);
    }
    let mut restores = Vec::new();
    for it in items {
        bulk_count(&mut restores, if replace { 5 } else { 4 });
        // RESTORE-ASKING is for a cluster's importing slot.
        bulk(&mut restores, b"RESTORE");
        bulk(&mut restores, &it.key);
        bulk(&mut restores, it.ttl.to_string().as_bytes());
        bulk(&mut restores, &it.payload);
        if replace {
            bulk(&mut restores, b"REPLACE");
        }
    }
    Request { auth, restores }
}

fn bulk_count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(format!("*{n}\r\n").as_bytes());
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", b.len()).as_bytes());
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// Bytes written against one deadline (Redis's 64 KiB writes, each
/// within the timeout): a target that takes bytes slowly still fails in
/// time, not only one that takes none.
const WRITE_CHUNK: usize = 64 << 10;

fn write_within(s: &mut TcpStream, data: &[u8], timeout: Duration) -> io::Result<()> {
    for chunk in data.chunks(WRITE_CHUNK) {
        let deadline = Instant::now() + timeout;
        let mut done = 0;
        while done < chunk.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ErrorKind::TimedOut.into());
            }
            s.set_write_timeout(Some(left))?;
            match s.write(&chunk[done..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// One reply line, as Redis's syncReadLine reads it: up to the newline (a
/// trailing CR dropped) or 1023 bytes; a bare newline is a failure.
fn read_line(r: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut nread = 0;
    while nread < LINE_MAX {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let Some(&c) = buf.first() else {
            return Err(ErrorKind::UnexpectedEof.into());
        };
        r.consume(1);
        if c == b'\n' {
            if nread == 0 {
                return Err(io::Error::new(ErrorKind::InvalidData, "empty line"));
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(line);
        }
        line.push(c);
        nread += 1;
    }
    Ok(line)
}

enum Connect {
    /// The address does not resolve (or every address fails at once).
    Resolve,
    /// A failure Redis's non-blocking connect only meets when it writes.
    Io(io::Error),
}

/// Connects as Redis's anetTcpNonBlockConnect: the host resolved for a
/// stream socket, each address tried in turn; the port as getaddrinfo
/// takes the decimal text of the int (a negative one does not resolve, a
/// larger one is cut to 16 bits).
fn connect(host: &[u8], port: i32, timeout: Duration) -> Result<TcpStream, Connect> {
    if port < 0 {
        return Err(Connect::Resolve);
    }
    let port = (port & 0xffff) as u16;
    let host = std::str::from_utf8(host).map_err(|_| Connect::Resolve)?;
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| Connect::Resolve)?
        .collect();
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionRefused
                        | ErrorKind::TimedOut
                        | ErrorKind::WouldBlock
                        | ErrorKind::HostUnreachable
                        | ErrorKind::ConnectionReset
                ) =>
            {
                return Err(Connect::Io(e))
            }
            // Failed at once (no route, no such address here): the next one.
            Err(_) => {}
        }
    }
    Err(Connect::Resolve)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn keys(words: &[&str]) -> Vec<String> {
        let a = argv(words);
        migrate_keys(&a)
            .into_iter()
            .map(|i| String::from_utf8_lossy(&a[i]).into_owned())
            .collect()
    }

    #[test]
    fn keys_are_found_as_redis_finds_them() {
        let m = |rest: &[&str]| {
            let mut w = vec!["migrate", "h", "1"];
            w.extend_from_slice(rest);
            keys(&w)
        };
        assert_eq!(m(&["k", "0", "0"]), ["k"]);
        assert_eq!(m(&["", "0", "0", "KEYS", "a", "b"]), ["a", "b"]);
        assert!(m(&["k", "0", "0", "KEYS", "a", "b"]).is_empty());
        assert_eq!(m(&["", "0", "0", "AUTH", "KEYS", "a", "b"]), [""]);
        assert_eq!(m(&["", "0", "0", "AUTH2", "x", "KEYS", "a", "b"]), [""]);
        assert_eq!(m(&["", "0", "0", "COPY", "keys"]), [""]);
        assert_eq!(m(&["", "0", "0", "AUTH2", "x", "y", "KEYS"]), [""]);
        assert_eq!(
            m(&["", "0", "0", "auth2", "x", "y", "z", "keys", "a"]),
            ["a"]
        );
        assert_eq!(m(&["", "0", "0", "FOO", "KEYS", "a"]), ["a"]);
        assert_eq!(m(&["k", "0", "0", "FOO"]), ["k"]);
    }

    #[test]
    fn the_port_is_read_as_atoi_reads_it() {
        for (s, n) in [
            ("1", 1),
            ("1abc", 1),
            ("abc", 0),
            ("", 0),
            (" +7", 7),
            ("-1", -1),
            ("0x1", 0),
            ("4294984698", 17402),
            ("99999999999", 1215752191),
            ("99999999999999999999", -1),
        ] {
            assert_eq!(atoi(s.as_bytes()), n, "{s:?}");
        }
    }

    #[test]
    fn the_cache_closes_what_idles_and_makes_room() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let s = Sockets::default();
        let conn = |age: u64| Conn {
            io: BufReader::new(TcpStream::connect(addr).unwrap()),
            last_db: -1,
            last_use: Instant::now() - Duration::from_secs(age),
        };
        s.put(b"a:1".to_vec(), conn(0));
        s.put(b"b:1".to_vec(), conn(11));
        s.close_idle();
        assert_eq!(s.len(), 1);
        assert!(s.take(b"a:1").is_some());
        for i in 0..CACHE_ITEMS {
            s.put(format!("h:{i}").into_bytes(), conn(0));
        }
        s.make_room();
        assert_eq!(s.len(), CACHE_ITEMS - 1);
    }
}
