//! The append-only log with the real binary and real files: kill -9 under
//! a pipelined write load loses no acknowledged write with `appendfsync
//! always` and keeps order with `everysec`; BGREWRITEAOF and restarts keep
//! DEBUG DIGEST; a torn tail, a missing file and a full disk behave as
//! Redis; a directory written by redis-server 7.0.15 loads.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rubedo_resp::Frame;
use rubedo_tests::{fill_every_type, server_binary, text, Dir, Raw, Server};

const ENGINES: [&str; 2] = ["single", "concurrent"];

fn start(engine: &str, dir: &Dir, extra: &[&str]) -> Server {
    let mut args = vec![
        "--engine",
        engine,
        "--threads",
        "2",
        "--dir",
        dir.path(),
        "--enable-debug-command",
        "yes",
        "--appendonly",
        "yes",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn aof(c: &mut Raw, field: &str) -> String {
    c.info_field("persistence", field)
}

fn wait_rewrite(c: &mut Raw) {
    let until = Instant::now() + Duration::from_secs(60);
    while aof(c, "aof_rewrite_in_progress") != "0" || aof(c, "aof_rewrite_scheduled") != "0" {
        assert!(Instant::now() < until, "the rewrite did not finish");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn manifest(dir: &Dir) -> String {
    std::fs::read_to_string(dir.0.join("appendonlydir/appendonly.aof.manifest")).unwrap()
}

/// One writer's acknowledged `i`s, with when each reply came.
type Acks = Vec<(u64, Instant)>;

/// Writers that pipeline `SET w<t>:<i> <i>` and record each acknowledged
/// `i`, until stopped.
struct Load {
    acked: Vec<Arc<Mutex<Acks>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(s: &Server, writers: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let mut acked = Vec::new();
        let mut threads = Vec::new();
        for t in 0..writers {
            let rec = Arc::new(Mutex::new(Vec::new()));
            acked.push(rec.clone());
            let mut c = s.raw();
            let stop = stop.clone();
            threads.push(std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for j in 0..32 {
                        let v = (i + j).to_string();
                        c.cmd(&["SET", &format!("w{t}:{v}"), &v]);
                    }
                    for j in 0..32 {
                        match c.read() {
                            Some(Frame::Simple(_)) => {
                                rec.lock().unwrap().push((i + j, Instant::now()))
                            }
                            // The server died: what was not answered is not acknowledged.
                            _ => return,
                        }
                    }
                    i += 32;
                }
            }));
        }
        Load {
            acked,
            stop,
            threads,
        }
    }

    fn acknowledged(&self) -> usize {
        self.acked.iter().map(|a| a.lock().unwrap().len()).sum()
    }

    fn join(self) -> Vec<Acks> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        self.acked
            .into_iter()
            .map(|a| std::mem::take(&mut *a.lock().unwrap()))
            .collect()
    }
}

fn kill_9_under_load(engine: &str, fsync: &str) -> (Vec<Acks>, Instant, Server, Dir) {
    let dir = Dir::new(&format!("aof-kill-{engine}-{fsync}"));
    let s = start(engine, &dir, &["--appendfsync", fsync]);
    let load = Load::start(&s, 4);
    let until = Instant::now() + Duration::from_secs(60);
    while load.acknowledged() < 20_000 {
        assert!(Instant::now() < until, "the load made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    let killed_at = Instant::now();
    drop(s); // SIGKILL, while the writers still write.
    let acked = load.join();
    let s = start(engine, &dir, &["--appendfsync", fsync]);
    (acked, killed_at, s, dir)
}

/// Each writer's keys present after the restart: their values are right
/// and they are a prefix of what it sent (the log keeps order).
fn present_prefix(c: &mut Raw, t: usize, sent_up_to: u64) -> u64 {
    let mut present = 0;
    let mut gap = false;
    for i in 0..sent_up_to + 32 {
        c.cmd(&["GET", &format!("w{t}:{i}")]);
    }
    for i in 0..sent_up_to + 32 {
        match c.read().unwrap() {
            Frame::Null => gap = true,
            f => {
                assert!(!gap, "writer {t}: key {i} present after a missing one");
                assert_eq!(text(f), i.to_string(), "writer {t}: key {i}");
                present = i + 1;
            }
        }
    }
    present
}

#[test]
fn appendfsync_always_keeps_every_acknowledged_write_across_kill_9() {
    for engine in ENGINES {
        let (acked, _, s, _dir) = kill_9_under_load(engine, "always");
        let mut c = s.raw();
        for (t, a) in acked.iter().enumerate() {
            let last = a.last().map_or(0, |x| x.0 + 1);
            let present = present_prefix(&mut c, t, last);
            assert!(
                present >= last,
                "{engine}: writer {t} had {last} writes acknowledged, {present} survived"
            );
        }
    }
}

#[test]
fn appendfsync_everysec_loses_at_most_the_last_seconds_and_keeps_order() {
    for engine in ENGINES {
        let (acked, killed_at, s, _dir) = kill_9_under_load(engine, "everysec");
        let mut c = s.raw();
        for (t, a) in acked.iter().enumerate() {
            let last = a.last().map_or(0, |x| x.0 + 1);
            let present = present_prefix(&mut c, t, last);
            // Everything acknowledged 2 s before the kill is there.
            let old = a
                .iter()
                .filter(|(_, at)| killed_at.duration_since(*at) > Duration::from_secs(2))
                .map(|(i, _)| i + 1)
                .max()
                .unwrap_or(0);
            assert!(present >= old, "{engine}: writer {t}: {present} < {old}");
        }
    }
}

#[test]
fn rewrites_and_restarts_keep_the_digest() {
    // The base is a snapshot, or commands with aof-use-rdb-preamble no.
    for (engine, preamble) in [("single", "yes"), ("concurrent", "yes"), ("single", "no")] {
        let dir = Dir::new(&format!("aof-digest-{engine}-{preamble}"));
        let opts = ["--aof-use-rdb-preamble", preamble];
        let ext = if preamble == "yes" { "rdb" } else { "aof" };
        let digest = {
            let s = start(engine, &dir, &opts);
            let mut c = s.raw();
            fill_every_type(&mut c);
            let d = text(c.call(&["DEBUG", "DIGEST"]));
            assert_eq!(
                text(c.call(&["BGREWRITEAOF"])),
                "Background append only file rewriting started"
            );
            // Writes while the rewrite runs go to the new incr.
            c.call(&["SET", "during", "rewrite"]);
            c.call(&["DEL", "during"]);
            wait_rewrite(&mut c);
            assert_eq!(aof(&mut c, "aof_last_bgrewrite_status"), "ok");
            assert_eq!(
                manifest(&dir),
                format!("file appendonly.aof.2.base.{ext} seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n")
            );
            assert!(!dir
                .0
                .join("appendonlydir/appendonly.aof.1.incr.aof")
                .exists());
            c.call(&["INCR", "fresh-counter"]);
            c.call(&["DEL", "fresh-counter"]);
            assert_eq!(text(c.call(&["DEBUG", "LOADAOF"])), "OK");
            assert_eq!(text(c.call(&["DEBUG", "DIGEST"])), d);
            d
        };
        // kill -9, then the base and the incr are loaded.
        let s = start(engine, &dir, &opts);
        let mut c = s.raw();
        assert_eq!(text(c.call(&["DEBUG", "DIGEST"])), digest, "{engine}");
        assert_eq!(aof(&mut c, "aof_enabled"), "1");
        assert!(text(c.call(&["PTTL", "ttl"])).parse::<i64>().unwrap() > 90_000_000);
    }
}

#[test]
fn appendonly_turned_on_at_run_time_starts_from_a_rewrite() {
    let dir = Dir::new("aof-turn-on");
    let digest = {
        let s = Server::start(&["--dir", dir.path(), "--enable-debug-command", "yes"]);
        let mut c = s.raw();
        fill_every_type(&mut c);
        assert_eq!(aof(&mut c, "aof_enabled"), "0");
        assert_eq!(text(c.call(&["CONFIG", "SET", "appendonly", "yes"])), "OK");
        assert_eq!(aof(&mut c, "aof_enabled"), "1");
        c.call(&["SET", "after", "on"]);
        wait_rewrite(&mut c);
        c.call(&["SET", "later", "too"]);
        let d = text(c.call(&["DEBUG", "DIGEST"]));
        // Turned off, the files stay; later writes are not logged.
        assert_eq!(text(c.call(&["CONFIG", "SET", "appendonly", "no"])), "OK");
        c.call(&["SET", "unlogged", "1"]);
        d
    };
    let s = start("single", &dir, &[]);
    let mut c = s.raw();
    assert_eq!(text(c.call(&["DEBUG", "DIGEST"])), digest);
    assert_eq!(c.call(&["GET", "unlogged"]), Frame::Null);
}

fn incr_file(dir: &Dir) -> std::path::PathBuf {
    let m = manifest(dir);
    let name = m
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("file ").and_then(|r| r.split(' ').next()))
        .unwrap()
        .to_string();
    dir.0.join("appendonlydir").join(name)
}

fn start_fails(dir: &Dir, extra: &[&str]) -> String {
    let out = Command::new(server_binary())
        .args(["--port", "0", "--bind", "127.0.0.1", "--dir", dir.path()])
        .args(["--appendonly", "yes"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "the server started");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Ready"));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_torn_tail_is_cut_with_aof_load_truncated_and_refused_without() {
    let dir = Dir::new("aof-torn");
    {
        let s = start("single", &dir, &[]);
        let mut c = s.raw();
        c.call(&["SET", "a", "1"]);
        c.call(&["SET", "b", "2"]);
    }
    let incr = incr_file(&dir);
    let good = std::fs::metadata(&incr).unwrap().len();
    // Half a command, as a crash in the middle of a write leaves it.
    let mut bytes = std::fs::read(&incr).unwrap();
    bytes.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$5\r\nhal");
    std::fs::write(&incr, &bytes).unwrap();
    let err = start_fails(&dir, &["--aof-load-truncated", "no"]);
    assert!(err.contains("Unexpected end of file"), "{err}");
    assert_eq!(std::fs::metadata(&incr).unwrap().len(), bytes.len() as u64);
    let s = start("single", &dir, &[]);
    let mut c = s.raw();
    assert_eq!(text(c.call(&["GET", "b"])), "2");
    assert_eq!(c.call(&["GET", "c"]), Frame::Null);
    assert_eq!(
        std::fs::metadata(&incr).unwrap().len(),
        good,
        "cut at the last whole command"
    );
    // The log goes on after the cut.
    c.call(&["SET", "c", "3"]);
    drop(s);
    let s = start("single", &dir, &[]);
    assert_eq!(text(s.raw().call(&["GET", "c"])), "3");
}

#[test]
fn a_damaged_log_or_a_missing_file_stops_the_start() {
    let dir = Dir::new("aof-damaged");
    {
        let s = start("single", &dir, &[]);
        s.raw().call(&["SET", "a", "1"]);
    }
    let incr = incr_file(&dir);
    let good = std::fs::read(&incr).unwrap();
    // A flipped byte in the middle of the commands.
    let mut bad = good.clone();
    let at = bad.iter().position(|&b| b == b'$').unwrap();
    bad[at] = b'!';
    std::fs::write(&incr, &bad).unwrap();
    let err = start_fails(&dir, &[]);
    assert!(
        err.contains("Bad file format reading the append only file"),
        "{err}"
    );
    std::fs::write(&incr, &good).unwrap();
    // The manifest names a file that is not there.
    std::fs::remove_file(&incr).unwrap();
    let err = start_fails(&dir, &[]);
    assert!(err.contains("Unable to obtain the AOF file"), "{err}");
    assert!(err.contains("No such file or directory"), "{err}");
}

/// Limits the size files of process `pid` may grow to (a full disk).
#[cfg(target_os = "linux")]
fn fsize_limit(pid: u32, bytes: u64) {
    let lim = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit reads the limit we pass and writes nothing back.
    let r = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(r, 0, "prlimit: {}", std::io::Error::last_os_error());
}

#[cfg(target_os = "linux")]
#[test]
fn with_a_full_disk_the_log_can_be_turned_off_and_the_server_shut_down() {
    for fsync in ["everysec", "always"] {
        let dir = Dir::new(&format!("aof-full-off-{fsync}"));
        let mut s = start("single", &dir, &["--appendfsync", fsync]);
        let mut c = s.raw();
        c.call(&["SET", "first", "1"]);
        let size = std::fs::metadata(incr_file(&dir)).unwrap().len();
        fsize_limit(s.pid(), size + 100);
        let big = "x".repeat(1000);
        // Under `always` this write's reply waits for the disk: send it
        // from another connection and let it wait.
        let mut w = s.raw();
        w.cmd(&["SET", "big", &big]);
        let until = Instant::now() + Duration::from_secs(30);
        while aof(&mut c, "aof_last_write_status") != "err" {
            assert!(Instant::now() < until, "the write never failed");
            std::thread::sleep(Duration::from_millis(5));
        }
        // Turning the log off answers at once, even with the disk full.
        assert_eq!(text(c.call(&["CONFIG", "SET", "appendonly", "no"])), "OK");
        assert_eq!(
            text(w.read().unwrap()),
            "OK",
            "the waiting write is answered"
        );
        assert_eq!(text(c.call(&["SET", "after", "1"])), "OK");
        c.cmd(&["SHUTDOWN", "NOSAVE"]);
        assert!(c.read().is_none());
        let st = s.wait_exit(Duration::from_secs(30));
        assert!(st.is_some_and(|st| st.success()), "{fsync}: {st:?}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_refuses_writes_with_misconf_and_loses_nothing() {
    let dir = Dir::new("aof-full");
    let s = start("single", &dir, &[]);
    let mut c = s.raw();
    c.call(&["SET", "first", "1"]);
    let incr = incr_file(&dir);
    let size = std::fs::metadata(&incr).unwrap().len();
    // Files may not grow past 4 KiB more than now.
    let set_limit = |bytes: u64| fsize_limit(s.pid(), bytes);
    set_limit(size + 4096);
    let big = "x".repeat(1000);
    let until = Instant::now() + Duration::from_secs(30);
    let mut written = Vec::new();
    let misconf = loop {
        assert!(
            Instant::now() < until,
            "the log never reported the full disk"
        );
        let k = format!("k{}", written.len());
        match c.call(&["SET", &k, &big]) {
            Frame::Error(e) => break String::from_utf8_lossy(&e).into_owned(),
            _ => written.push(k),
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    assert_eq!(
        misconf,
        "MISCONF Errors writing to the AOF file: File too large"
    );
    assert_eq!(aof(&mut c, "aof_last_write_status"), "err");
    assert_eq!(text(c.call(&["GET", "first"])), "1", "reads go on");
    // Room again: the pending writes reach the log, writes are accepted.
    set_limit(libc::RLIM_INFINITY);
    let until = Instant::now() + Duration::from_secs(30);
    while aof(&mut c, "aof_last_write_status") != "ok" {
        assert!(Instant::now() < until, "the log never recovered");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(text(c.call(&["SET", "last", "1"])), "OK");
    drop(c);
    drop(s);
    let s = start("single", &dir, &[]);
    let mut c = s.raw();
    for k in &written {
        assert_eq!(text(c.call(&["GET", k])), big, "{k} lost");
    }
    assert_eq!(text(c.call(&["GET", "last"])), "1");
}

/// A directory redis-server 7.0.15 wrote with `aof-use-rdb-preamble no`
/// (a command base and an incr, timestamps on) loads with its digest.
#[test]
fn a_redis_7_0_15_aof_directory_loads() {
    if !rubedo_tests::have_redis_server("this test") {
        return;
    }
    let dir = Dir::new("aof-redis");
    let mut redis = rubedo_tests::RedisServer::start(
        Some(&dir),
        &[
            "--appendonly",
            "yes",
            "--aof-use-rdb-preamble",
            "no",
            "--aof-timestamp-enabled",
            "yes",
        ],
    );
    let mut c = redis.raw();
    let ok = |f: Frame| assert!(!matches!(f, Frame::Error(_)), "{f:?}");
    ok(c.call(&["SET", "s", "v"]));
    ok(c.call(&["RPUSH", "l", "a", "b"]));
    ok(c.call(&["HSET", "h", "f", "1"]));
    ok(c.call(&["SADD", "set", "1", "x"]));
    ok(c.call(&["ZADD", "z", "1.5", "m", "-2", "n"]));
    ok(c.call(&["SET", "ttl", "v", "EX", "100000"]));
    for i in 0..200 {
        c.cmd(&["RPUSH", "big", &i.to_string()]);
    }
    for _ in 0..200 {
        ok(c.read().unwrap());
    }
    ok(c.call(&["BGREWRITEAOF"]));
    let until = Instant::now() + Duration::from_secs(20);
    while c.info_field("persistence", "aof_rewrite_in_progress") != "0"
        || c.info_field("persistence", "aof_rewrite_scheduled") != "0"
    {
        assert!(Instant::now() < until);
        std::thread::sleep(Duration::from_millis(10));
    }
    ok(c.call(&["MULTI"]));
    ok(c.call(&["INCR", "n"]));
    ok(c.call(&["SELECT", "3"]));
    ok(c.call(&["SET", "in3", "x"]));
    ok(c.call(&["EXEC"]));
    ok(c.call(&["SELECT", "0"]));
    ok(c.call(&["EXPIRE", "s", "5000"]));
    ok(c.call(&["SREM", "set", "x"]));
    let digest = text(c.call(&["DEBUG", "DIGEST"]));
    c.cmd(&["SHUTDOWN", "NOSAVE"]);
    let _ = c.read();
    redis.wait();
    assert!(Path::new(&dir.0.join("appendonlydir/appendonly.aof.2.base.aof")).exists());
    let s = start("single", &dir, &[]);
    let mut c = s.raw();
    assert_eq!(text(c.call(&["DEBUG", "DIGEST"])), digest);
    assert_eq!(text(c.call(&["GET", "n"])), "1");
}

#[test]
fn a_key_that_expired_while_down_stays_expired_whatever_the_log_did_to_it_after() {
    let dir = Dir::new("aof-expired");
    {
        let s = start("single", &dir, &[]);
        let mut c = s.raw();
        assert_eq!(text(c.call(&["SET", "k", "v", "PX", "300"])), "OK");
        // Logged as an absolute time, then a write that keeps the TTL.
        assert_eq!(c.call(&["APPEND", "k", "x"]), Frame::Integer(2));
        c.call(&["SET", "stays", "1"]);
    }
    std::thread::sleep(Duration::from_millis(400));
    let s = start("single", &dir, &[]);
    let mut c = s.raw();
    // Replaying APPEND must not find k expired and make a new "x".
    assert_eq!(c.call(&["GET", "k"]), Frame::Null);
    assert_eq!(c.call(&["EXISTS", "k"]), Frame::Integer(0));
    assert_eq!(text(c.call(&["GET", "stays"])), "1");
}

#[test]
fn turning_the_log_on_during_a_rewrite_of_the_off_log_logs_what_follows() {
    let dir = Dir::new("aof-on-during-rewrite");
    {
        let s = Server::start(&["--dir", dir.path(), "--enable-debug-command", "yes"]);
        let mut c = s.raw();
        c.call(&["DEBUG", "POPULATE", "2000"]);
        // A slow rewrite of the log while it is off.
        c.call(&["CONFIG", "SET", "rdb-key-save-delay", "1000"]);
        assert_eq!(
            text(c.call(&["BGREWRITEAOF"])),
            "Background append only file rewriting started"
        );
        assert_eq!(text(c.call(&["CONFIG", "SET", "appendonly", "yes"])), "OK");
        c.call(&["CONFIG", "SET", "rdb-key-save-delay", "0"]);
        c.call(&["SET", "after-on", "1"]);
        wait_rewrite(&mut c);
        assert_eq!(aof(&mut c, "aof_last_bgrewrite_status"), "ok");
        c.call(&["SET", "after-rewrite", "1"]);
    }
    let s = start("single", &dir, &[]);
    let mut c = s.raw();
    assert_eq!(text(c.call(&["GET", "after-on"])), "1");
    assert_eq!(text(c.call(&["GET", "after-rewrite"])), "1");
    assert_eq!(c.call(&["DBSIZE"]), Frame::Integer(2002));
}

/// Effects no client waits for (active expiry's DELs) are written by the
/// log's own thread: they reach the file without any further command.
#[test]
fn what_no_client_waits_for_still_reaches_the_file() {
    for engine in ENGINES {
        let dir = Dir::new("aof-unwaited");
        let s = start(engine, &dir, &[]);
        let mut c = s.raw();
        assert_eq!(text(c.call(&["SET", "gone", "v", "PX", "50"])), "OK");
        let path = incr_file(&dir);
        let del = b"*2\r\n$3\r\nDEL\r\n$4\r\ngone\r\n";
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let data = std::fs::read(&path).unwrap();
            if data.windows(del.len()).any(|w| w == del) {
                break;
            }
            assert!(
                Instant::now() < until,
                "{engine}: expiry's DEL never reached the log"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(c.call(&["EXISTS", "gone"]), Frame::Integer(0));
    }
}

/// A time that has passed by the restart does not delete a key while the
/// log is replayed (Redis keeps it for the commands after it): a RESTORE
/// or EXPIRE whose time passed while the server was down, followed by a
/// later longer expiry, leaves the key there.
#[test]
fn a_past_expiry_in_the_log_does_not_delete_during_replay() {
    for engine in ENGINES {
        let dir = Dir::new("aof-past-expiry");
        {
            let s = start(engine, &dir, &["--appendfsync", "always"]);
            let mut c = s.raw();
            assert_eq!(text(c.call(&["SET", "src", "payload"])), "OK");
            let dump = match c.call(&["DUMP", "src"]) {
                Frame::Bulk(b) => b,
                f => panic!("{f:?}"),
            };
            let r: [&[u8]; 4] = [b"RESTORE", b"r", b"150", &dump];
            assert_eq!(text(c.call_bytes(&r)), "OK");
            assert_eq!(text(c.call(&["SET", "e", "v"])), "OK");
            assert_eq!(c.call(&["PEXPIRE", "e", "150"]), Frame::Integer(1));
            // Both get a long life before their first time passes.
            assert_eq!(c.call(&["PEXPIRE", "r", "100000000"]), Frame::Integer(1));
            assert_eq!(c.call(&["PEXPIRE", "e", "100000000"]), Frame::Integer(1));
        }
        std::thread::sleep(Duration::from_millis(300));
        let s = start(engine, &dir, &[]);
        let mut c = s.raw();
        assert_eq!(text(c.call(&["GET", "r"])), "payload", "{engine}");
        assert_eq!(text(c.call(&["GET", "e"])), "v", "{engine}");
    }
}

/// RESTORE is logged with its TTL made absolute (and ABSTTL), and a
/// RESTORE ... REPLACE whose absolute time has passed as the DEL it did.
#[test]
fn restore_is_logged_with_an_absolute_ttl() {
    let dir = Dir::new("aof-restore");
    let s = start("single", &dir, &["--appendfsync", "always"]);
    let mut c = s.raw();
    assert_eq!(text(c.call(&["SET", "src", "v"])), "OK");
    let dump = match c.call(&["DUMP", "src"]) {
        Frame::Bulk(b) => b,
        f => panic!("{f:?}"),
    };
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let r: [&[u8]; 4] = [b"RESTORE", b"r", b"100000", &dump];
    assert_eq!(text(c.call_bytes(&r)), "OK");
    let gone: [&[u8]; 6] = [b"RESTORE", b"src", b"1", &dump, b"REPLACE", b"ABSTTL"];
    assert_eq!(text(c.call_bytes(&gone)), "OK");
    assert_eq!(c.call(&["EXISTS", "src"]), Frame::Integer(0));
    let log = std::fs::read(incr_file(&dir)).unwrap();
    let log = String::from_utf8_lossy(&log);
    let words: Vec<&str> = log
        .split("\r\n")
        .filter(|w| !w.starts_with(['*', '$']))
        .collect();
    let at = words
        .iter()
        .position(|w| *w == "RESTORE")
        .expect("RESTORE logged");
    assert_eq!(words[at + 1], "r");
    let ttl: u64 = words[at + 2].parse().unwrap();
    assert!(
        ttl >= before + 100000 && ttl < before + 200000,
        "{ttl} vs {before}"
    );
    assert_eq!(words[at + 4], "ABSTTL");
    // The second RESTORE only deleted: logged as that DEL, not as itself.
    assert_eq!(
        words.iter().filter(|w| **w == "RESTORE").count(),
        1,
        "{words:?}"
    );
    let del = words.iter().rposition(|w| *w == "DEL").expect("DEL logged");
    assert_eq!(words[del + 1], "src");
}
