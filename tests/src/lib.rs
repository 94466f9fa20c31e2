//! Shared helpers for the end-to-end tests: start the real `rubedo-server`
//! binary on 127.0.0.1 with port 0, learn its port from its first line of
//! output, talk to it, and stop it when the handle drops.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::BytesMut;
use rubedo_resp::{decode_frame, Frame};

/// Where cargo put the server binary: next to the directory holding the
/// running test executable (`target/<profile>/deps/..`).
pub fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps layout");
    let bin = profile_dir.join("rubedo-server");
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "rubedo-server"])
            .status()
            .expect("cargo build -p rubedo-server");
        assert!(status.success(), "building rubedo-server failed");
    }
    bin
}

/// A fresh directory for one test's files, removed when dropped.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(name: &str) -> Dir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("rubedo-e2e-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create test dir");
        Dir(p)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().expect("utf-8 temp path")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running server, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    /// The working directory given when the test named none, so no file a
    /// save writes lands in the source tree.
    _dir: Option<Dir>,
}

impl Server {
    /// Starts `rubedo-server --port 0` with extra flags.
    pub fn start(extra: &[&str]) -> Server {
        let own = (!extra.contains(&"--dir")).then(|| Dir::new("srv"));
        let mut cmd = Command::new(server_binary());
        cmd.args(["--port", "0", "--bind", "127.0.0.1"]);
        if let Some(d) = &own {
            cmd.args(["--dir", d.path()]);
        }
        let mut child = cmd
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start rubedo-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read ready line");
        let port = line
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        Server {
            child,
            port,
            _dir: own,
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A client of the `redis` crate.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.redis_url())
            .and_then(|c| c.get_connection())
            .expect("connect with the redis crate")
    }

    /// A raw socket.
    pub fn raw(&self) -> Raw {
        let s = TcpStream::connect(self.addr()).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Raw {
            stream: s,
            buf: BytesMut::new(),
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the process to exit; its status if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let end = std::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            if std::time::Instant::now() > end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw RESP connection for protocol-level tests.
pub struct Raw {
    pub stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    /// A raw connection over a socket the test opened itself.
    pub fn from_stream(stream: TcpStream) -> Raw {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Sends one command as a multibulk array.
    pub fn cmd(&mut self, words: &[&str]) {
        let mut out = format!("*{}\r\n", words.len()).into_bytes();
        for w in words {
            out.extend_from_slice(format!("${}\r\n", w.len()).as_bytes());
            out.extend_from_slice(w.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.send(&out);
    }

    /// Reads one reply frame; None if the server closed the connection.
    pub fn read(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = decode_frame(&mut self.buf).expect("valid RESP from the server") {
                return Some(f);
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Sends a command of binary words and reads its reply.
    pub fn call_bytes(&mut self, words: &[&[u8]]) -> Frame {
        let mut out = format!("*{}\r\n", words.len()).into_bytes();
        for w in words {
            out.extend_from_slice(format!("${}\r\n", w.len()).as_bytes());
            out.extend_from_slice(w);
            out.extend_from_slice(b"\r\n");
        }
        self.send(&out);
        self.read().expect("a reply")
    }

    /// Sends a command and reads its reply.
    pub fn call(&mut self, words: &[&str]) -> Frame {
        self.cmd(words);
        self.read().expect("a reply")
    }
}

/// A port free on 127.0.0.1 now, for a server whose port the test must
/// know before it announces itself.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A raw connection to `port` as soon as something listens there (within
/// `timeout`).
pub fn connect_when_listening(port: u16, timeout: Duration) -> Raw {
    let until = std::time::Instant::now() + timeout;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => return Raw::from_stream(s),
            Err(_) => {
                assert!(
                    std::time::Instant::now() < until,
                    "nothing listened on {port}"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// A reply's text: a bulk or simple string, or an integer.
pub fn text(f: Frame) -> String {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) | Frame::Verbatim { data: b, .. } => {
            String::from_utf8_lossy(&b).into_owned()
        }
        Frame::Integer(n) => n.to_string(),
        f => panic!("not a string reply: {f:?}"),
    }
}

impl Raw {
    /// One field of an INFO section.
    pub fn info_field(&mut self, section: &str, field: &str) -> String {
        text(self.call(&["INFO", section]))
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
            .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
    }
}

/// Every type, compact and large encodings, TTLs, three databases (DEBUG
/// POPULATE must be enabled: `--enable-debug-command yes`).
pub fn fill_every_type(c: &mut Raw) {
    let ok = |f: Frame| assert!(!matches!(f, Frame::Error(_)), "{f:?}");
    ok(c.call(&["SET", "s", "hello"]));
    ok(c.call(&["SET", "n", "-12345"]));
    ok(c.call(&["SET", "ttl", "v", "PX", "100000000"]));
    ok(c.call(&["RPUSH", "l", "a", "", "123"]));
    ok(c.call(&["SADD", "is", "1", "2", "-3"]));
    ok(c.call(&["SADD", "ss", "a", "b"]));
    ok(c.call(&["ZADD", "z", "1.5", "a", "-inf", "b", "inf", "c"]));
    ok(c.call(&["HSET", "h", "f", "v", "", "x"]));
    for i in 0..1500 {
        let (m, v) = (format!("m{i}"), format!("{i}"));
        c.cmd(&["HSET", "bighash", &m, &v]);
        c.cmd(&["ZADD", "bigzset", &v, &m]);
        c.cmd(&["SADD", "bigset", &m]);
        c.cmd(&["RPUSH", "biglist", &m]);
    }
    for _ in 0..6000 {
        ok(c.read().unwrap());
    }
    ok(c.call(&["SELECT", "5"]));
    ok(c.call(&["DEBUG", "POPULATE", "20000"]));
    ok(c.call(&["SELECT", "15"]));
    ok(c.call(&["SET", "last", "db"]));
    ok(c.call(&["SELECT", "0"]));
}

/// Shorthand for a bulk frame.
pub fn bulk(s: &str) -> Frame {
    Frame::bulk(s.as_bytes())
}

/// True if `redis-server` can be run here; otherwise says that `what` is
/// skipped.
pub fn have_redis_server(what: &str) -> bool {
    let ok = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok();
    if !ok {
        eprintln!("redis-server is not installed: {what} skipped");
    }
    ok
}

/// A real redis-server on a free port of 127.0.0.1, no save points, DEBUG
/// allowed; killed and reaped when dropped, also when it never answered.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    _dir: Option<Dir>,
}

impl RedisServer {
    /// Started in `dir` (its own temporary one if `None`) with `extra`;
    /// returns once it answers and has loaded its dataset (a server with
    /// requirepass counts as up when it answers NOAUTH).
    pub fn start(dir: Option<&Dir>, extra: &[&str]) -> RedisServer {
        let own = dir.is_none().then(|| Dir::new("redis"));
        let path = dir
            .or(own.as_ref())
            .expect("a directory")
            .path()
            .to_string();
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--dir",
                &path,
                "--save",
                "",
                "--enable-debug-command",
                "yes",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server");
        let r = RedisServer {
            child: Some(child),
            port,
            _dir: own,
        };
        let mut c = connect_when_listening(port, Duration::from_secs(20));
        let until = std::time::Instant::now() + Duration::from_secs(60);
        while matches!(c.call(&["PING"]), Frame::Error(e) if e.starts_with(b"LOADING")) {
            assert!(
                std::time::Instant::now() < until,
                "redis-server did not finish loading"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        r
    }

    pub fn raw(&self) -> Raw {
        connect_when_listening(self.port, Duration::from_secs(5))
    }

    /// Waits for the process to end (after a SHUTDOWN sent by the test).
    pub fn wait(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
