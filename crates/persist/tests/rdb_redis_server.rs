//! What Rubedo writes, redis-server 7.0 loads: a file with every type and
//! encoding is loaded by a real redis-server, and each key's DEBUG
//! DIGEST-VALUE must equal the one of the same key made by commands in a
//! second redis-server; Rubedo's DUMP payloads must RESTORE there, and
//! Redis's DUMPs and SAVEd file must read back as the same values.
//!
//! Runs only where `redis-server` is on PATH (it prints a note and passes
//! otherwise). Every server it starts is shut down and reaped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rubedo_engine::types::{hash::Hash, list::List, set::Set, zset::ZSet};
use rubedo_engine::{Str, Value};
use rubedo_persist::rdb::{double::fmt_g17, dump_payload, restore_payload, FileReader, FileWriter};
use rubedo_persist::snapshot::value::Limits;

/// redis-server 7.0's compiled-in limits.
fn lim() -> Limits {
    let mut l = Limits::default();
    l.hash.entries = 512;
    l
}

#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    fn connect(port: u16) -> Conn {
        let start = Instant::now();
        loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => {
                    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    return Conn {
                        r: BufReader::new(s.try_clone().unwrap()),
                        w: s,
                    };
                }
                Err(_) if start.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("redis-server on port {port} did not start: {e}"),
            }
        }
    }

    fn send(&mut self, args: &[&[u8]]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.w.write_all(&out).unwrap();
    }

    fn reply(&mut self) -> Reply {
        let mut line = Vec::new();
        self.r.read_until(b'\n', &mut line).unwrap();
        line.truncate(line.len().saturating_sub(2));
        let rest = String::from_utf8_lossy(&line[1..]).into_owned();
        match line[0] {
            b'+' => Reply::Status(rest),
            b'-' => Reply::Error(rest),
            b':' => Reply::Int(rest.parse().unwrap()),
            b'$' => {
                let n: i64 = rest.parse().unwrap();
                if n < 0 {
                    return Reply::Bulk(None);
                }
                let mut b = vec![0u8; n as usize + 2];
                self.r.read_exact(&mut b).unwrap();
                b.truncate(n as usize);
                Reply::Bulk(Some(b))
            }
            b'*' => {
                let n: i64 = rest.parse().unwrap();
                Reply::Array((0..n.max(0)).map(|_| self.reply()).collect())
            }
            c => panic!("unexpected reply type {c}"),
        }
    }

    fn cmd(&mut self, args: &[&[u8]]) -> Reply {
        self.send(args);
        let r = self.reply();
        if let Reply::Error(e) = &r {
            panic!(
                "{:?} failed: {e}",
                args.iter()
                    .map(|a| String::from_utf8_lossy(a))
                    .collect::<Vec<_>>()
            );
        }
        r
    }

    fn bulk(&mut self, args: &[&[u8]]) -> Vec<u8> {
        match self.cmd(args) {
            Reply::Bulk(Some(b)) => b,
            Reply::Status(s) => s.into_bytes(),
            r => panic!("not a bulk reply: {r:?}"),
        }
    }

    /// DEBUG DIGEST-VALUE of one key.
    fn digest(&mut self, key: &[u8]) -> String {
        match self.cmd(&[b"DEBUG", b"DIGEST-VALUE", key]) {
            Reply::Array(v) => match &v[..] {
                [Reply::Status(d)] => d.clone(),
                r => panic!("a digest reply of {r:?}"),
            },
            r => panic!("a digest reply of {r:?}"),
        }
    }

    fn int(&mut self, args: &[&[u8]]) -> i64 {
        match self.cmd(args) {
            Reply::Int(n) => n,
            r => panic!("not an integer reply: {r:?}"),
        }
    }
}

/// A redis-server of our own, shut down and reaped when dropped.
struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Server {
    fn start(dir: &Path, extra: &[&str]) -> Server {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", dir.to_str().unwrap(), "--dbfilename", "dump.rdb"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--enable-debug-command",
                "yes",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut s = Server {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        // Wait until it has loaded its file.
        let mut c = s.conn();
        let start = Instant::now();
        loop {
            c.send(&[b"PING"]);
            match c.reply() {
                Reply::Status(_) => break,
                Reply::Error(e) if e.starts_with("LOADING") && start.elapsed().as_secs() < 30 => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                r => {
                    if let Ok(Some(st)) = s.child.try_wait() {
                        panic!("redis-server exited ({st}); see its log");
                    }
                    panic!("unexpected PING reply {r:?}")
                }
            }
        }
        s
    }

    fn conn(&mut self) -> Conn {
        if let Ok(Some(st)) = self.child.try_wait() {
            panic!(
                "redis-server exited at start ({st}): did it refuse {}?",
                self.dir.join("dump.rdb").display()
            );
        }
        Conn::connect(self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = s.write_all(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n");
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have_redis() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rubedo-rdb-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A pseudo-random byte stream (incompressible enough for LZF).
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

enum Cmds {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
}

struct Key {
    db: u32,
    name: Vec<u8>,
    data: Cmds,
    expire: Option<u64>,
    idle: Option<u32>,
}

fn dataset() -> Vec<Key> {
    let k = |db: u32, name: &str, data: Cmds| Key {
        db,
        name: name.as_bytes().to_vec(),
        data,
        expire: None,
        idle: None,
    };
    let b = |s: &str| s.as_bytes().to_vec();
    let mut keys = vec![
        k(0, "s:int8", Cmds::Str(b("12"))),
        k(0, "s:int32", Cmds::Str(b("-2000000000"))),
        k(0, "s:i64", Cmds::Str(b("1234567890123456789"))),
        k(0, "s:emb", Cmds::Str(b("hello world"))),
        k(0, "s:noncanon", Cmds::Str(b("007"))),
        k(0, "s:empty", Cmds::Str(Vec::new())),
        k(0, "s:lzf", Cmds::Str(b"rubedo ".repeat(300))),
        k(0, "s:raw", Cmds::Str(noise(1, 500))),
        k(0, "s:bin", Cmds::Str((0..=255u8).collect())),
        k(
            0,
            "l:small",
            Cmds::List(vec![
                b("a"),
                b("1"),
                b("-5"),
                b("9223372036854775807"),
                Vec::new(),
            ]),
        ),
        k(
            0,
            "l:multi",
            Cmds::List(
                (0..3000)
                    .map(|i| format!("item:{i}:{}", "x".repeat(i % 40)).into_bytes())
                    .collect(),
            ),
        ),
        k(
            0,
            "l:noise",
            Cmds::List((0..200).map(|i| noise(i + 7, 60)).collect()),
        ),
        k(
            0,
            "l:big",
            Cmds::List(vec![
                noise(3, 9000),
                b("after"),
                vec![b'y'; 20000],
                b("end"),
            ]),
        ),
        k(0, "set:i16", Cmds::Set(vec![b("1"), b("-2"), b("300")])),
        k(
            0,
            "set:i64",
            Cmds::Set(vec![b("1"), b("1099511627776"), b("-9223372036854775808")]),
        ),
        k(0, "set:ht", Cmds::Set(vec![b("a"), b("b"), b("1")])),
        k(
            0,
            "set:many",
            Cmds::Set((0..700).map(|i| (i * 3).to_string().into_bytes()).collect()),
        ),
        k(
            0,
            "z:lp",
            Cmds::ZSet(vec![
                (b("a"), 1.0),
                (b("b"), 0.1),
                (b("c"), f64::INFINITY),
                (b("d"), f64::NEG_INFINITY),
                (b("e"), -2.5),
                (b("f"), 1e20),
                (b("g"), 3.0),
            ]),
        ),
        k(
            0,
            "z:sk",
            Cmds::ZSet(
                (0..300)
                    .map(|i| (format!("m{i}").into_bytes(), i as f64 / 7.0 - 10.0))
                    .collect(),
            ),
        ),
        k(
            0,
            "z:long",
            Cmds::ZSet(vec![(vec![b'L'; 100], 0.5), (b("x"), f64::INFINITY)]),
        ),
        k(
            0,
            "h:lp",
            Cmds::Hash(vec![
                (b("f"), b("v")),
                (b("1"), b("2")),
                (b("-300"), b("0.5")),
            ]),
        ),
        k(
            0,
            "h:ht",
            Cmds::Hash(
                (0..600)
                    .map(|i| (format!("f{i}").into_bytes(), format!("v{i}").into_bytes()))
                    .collect(),
            ),
        ),
        k(
            0,
            "h:long",
            Cmds::Hash(vec![(b("short"), b("1")), (b("long"), noise(9, 100))]),
        ),
        k(3, "three", Cmds::Str(b("3"))),
        k(3, "l3", Cmds::List(vec![b("x")])),
        k(9, "nine", Cmds::Hash(vec![(b("k"), b("v"))])),
    ];
    keys[0].expire = Some(4102444800123);
    keys[10].expire = Some(4102444801000);
    keys[3].idle = Some(5000);
    keys
}

fn build(d: &Cmds, lim: &Limits) -> Value {
    match d {
        Cmds::Str(b) => Value::Str(Str::from_bytes(b)),
        Cmds::List(items) => {
            let mut l = List::new();
            for e in items {
                l.push_back(e, lim.list_fill);
            }
            Value::List(Box::new(l))
        }
        Cmds::Set(items) => {
            let mut s = Set::new();
            for m in items {
                s.add(m, lim.set_max_intset);
            }
            Value::Set(Box::new(s))
        }
        Cmds::ZSet(items) => {
            let mut z = ZSet::for_first(&items[0].0, lim.zset);
            for (m, sc) in items {
                z.insert(m, *sc, lim.zset);
            }
            Value::ZSet(Box::new(z))
        }
        Cmds::Hash(items) => {
            let mut h = Hash::new();
            for (f, v) in items {
                h.set(f, v, lim.hash);
            }
            Value::Hash(Box::new(h))
        }
    }
}

fn make_by_commands(c: &mut Conn, k: &Key) {
    let n = &k.name[..];
    match &k.data {
        Cmds::Str(b) => {
            c.cmd(&[b"SET", n, b]);
        }
        Cmds::List(items) => {
            for chunk in items.chunks(100) {
                let mut a: Vec<&[u8]> = vec![b"RPUSH", n];
                a.extend(chunk.iter().map(|e| &e[..]));
                c.cmd(&a);
            }
        }
        Cmds::Set(items) => {
            let mut a: Vec<&[u8]> = vec![b"SADD", n];
            a.extend(items.iter().map(|e| &e[..]));
            c.cmd(&a);
        }
        Cmds::ZSet(items) => {
            let scores: Vec<Vec<u8>> = items
                .iter()
                .map(|(_, s)| fmt_g17(*s).into_bytes())
                .collect();
            let mut a: Vec<&[u8]> = vec![b"ZADD", n];
            for ((m, _), s) in items.iter().zip(&scores) {
                a.push(s);
                a.push(m);
            }
            c.cmd(&a);
        }
        Cmds::Hash(items) => {
            let mut a: Vec<&[u8]> = vec![b"HSET", n];
            for (f, v) in items {
                a.push(f);
                a.push(v);
            }
            c.cmd(&a);
        }
    }
    if let Some(t) = k.expire {
        c.cmd(&[b"PEXPIREAT", n, t.to_string().as_bytes()]);
    }
}

const LIB: &[u8] = b"#!lua name=mylib\nredis.register_function('f', function() return 1 end)";

#[test]
fn redis_server_loads_what_rubedo_writes() {
    if !have_redis() {
        println!("note: redis-server is not on PATH; skipping the interoperability test");
        return;
    }
    let lim = lim();
    let keys = dataset();
    let values: Vec<Value> = keys.iter().map(|k| build(&k.data, &lim)).collect();

    // The file, as Rubedo's server would write it.
    let ours = tempdir("ours");
    let mut f = std::fs::File::create(ours.join("dump.rdb")).unwrap();
    {
        let aux = [
            ("redis-ver", "7.0.15".to_string()),
            ("redis-bits", "64".to_string()),
            ("ctime", "1700000000".to_string()),
            ("used-mem", "1000000".to_string()),
            ("aof-base", "0".to_string()),
        ];
        let mut w = FileWriter::new(&mut f, &aux, true, true).unwrap();
        w.function(LIB).unwrap();
        for db in [0, 3, 9] {
            let in_db: Vec<usize> = (0..keys.len()).filter(|&i| keys[i].db == db).collect();
            let expires = in_db.iter().filter(|&&i| keys[i].expire.is_some()).count();
            w.select_db(db, in_db.len() as u64, expires as u64).unwrap();
            for i in in_db {
                w.key(&keys[i].name, &values[i], keys[i].expire, keys[i].idle)
                    .unwrap();
            }
        }
        w.finish().unwrap();
    }
    drop(f);

    let mut a = Server::start(&ours, &["--maxmemory-policy", "allkeys-lru"]);
    let theirs = tempdir("theirs");
    let mut b = Server::start(&theirs, &[]);
    let (mut ca, mut cb) = (a.conn(), b.conn());
    cb.cmd(&[b"FUNCTION", b"LOAD", LIB]);
    let mut db = u32::MAX;
    for k in &keys {
        if k.db != db {
            db = k.db;
            cb.cmd(&[b"SELECT", db.to_string().as_bytes()]);
        }
        make_by_commands(&mut cb, k);
    }

    // Same data, key by key.
    let mut checked = 0;
    for db in [0u32, 3, 9] {
        let d = db.to_string();
        ca.cmd(&[b"SELECT", d.as_bytes()]);
        cb.cmd(&[b"SELECT", d.as_bytes()]);
        assert_eq!(ca.int(&[b"DBSIZE"]), cb.int(&[b"DBSIZE"]), "db {db}");
        for (k, v) in keys.iter().zip(&values).filter(|(k, _)| k.db == db) {
            let n = &k.name[..];
            let show = String::from_utf8_lossy(n).into_owned();
            let da = ca.digest(n);
            let dbb = cb.digest(n);
            assert_eq!(da, dbb, "{show}: DEBUG DIGEST-VALUE");
            assert_eq!(
                ca.bulk(&[b"OBJECT", b"ENCODING", n]),
                cb.bulk(&[b"OBJECT", b"ENCODING", n]),
                "{show}: encoding"
            );
            assert_eq!(
                ca.int(&[b"PEXPIRETIME", n]),
                k.expire.map_or(-1, |t| t as i64),
                "{show}: expiry"
            );
            if let Some(idle) = k.idle {
                assert!(
                    ca.int(&[b"OBJECT", b"IDLETIME", n]) >= i64::from(idle),
                    "{show}: idle"
                );
            }
            // Redis's DUMP of what it loaded reads back as our value...
            let payload = ca.bulk(&[b"DUMP", n]);
            assert_eq!(
                &restore_payload(&payload, &lim).unwrap(),
                v,
                "{show}: Redis's DUMP"
            );
            // ...and our DUMP restores in Redis to the same digest (which
            // covers whether a key has an expiry).
            let copy = [n, b":copy"].concat();
            let ttl = k.expire.unwrap_or(0).to_string();
            cb.cmd(&[
                b"RESTORE",
                &copy,
                ttl.as_bytes(),
                &dump_payload(v, true),
                b"ABSTTL",
            ]);
            assert_eq!(cb.digest(&copy), da, "{show}: RESTORE");
            cb.cmd(&[b"DEL", &copy]);
            checked += 1;
        }
    }
    assert_eq!(checked, keys.len());
    match ca.cmd(&[b"FUNCTION", b"LIST"]) {
        Reply::Array(libs) => assert_eq!(libs.len(), 1),
        r => panic!("{r:?}"),
    }
    assert_eq!(ca.int(&[b"FCALL", b"f", b"0"]), 1);

    // Redis's own file of the same data reads back as the same values.
    cb.cmd(&[b"SAVE"]);
    let saved = std::fs::read(theirs.join("dump.rdb")).unwrap();
    let mut r = FileReader::new(&saved[..], Some(saved.len() as u64)).unwrap();
    let mut n = 0;
    while let Some(got) = r.next_key(&lim).unwrap() {
        let i = keys
            .iter()
            .position(|k| k.db == got.db && k.name == got.key)
            .expect("a key we made");
        assert_eq!(
            got.value,
            values[i],
            "{}",
            String::from_utf8_lossy(&got.key)
        );
        assert_eq!(got.expire_at_ms, keys[i].expire);
        n += 1;
    }
    assert_eq!(n, keys.len());
    assert_eq!(r.functions(), [LIB.to_vec()]);

    drop((ca, cb));
    drop(a);
    drop(b);
    let _ = std::fs::remove_dir_all(&ours);
    let _ = std::fs::remove_dir_all(&theirs);
}
