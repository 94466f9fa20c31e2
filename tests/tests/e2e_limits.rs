//! Resource limits over TCP: descriptors, output buffers, pipelines that are
//! written before any reply is read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use rubedo_resp::Frame;
use rubedo_tests::Server;

fn pong(srv: &Server) -> bool {
    let mut c = srv.raw();
    c.call(&["PING"]) == Frame::simple("PONG")
}

/// Open descriptors of a process (Linux).
#[cfg(target_os = "linux")]
fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("proc fd dir")
        .count()
}

#[cfg(target_os = "linux")]
#[test]
fn running_out_of_descriptors_does_not_stop_the_listener() {
    let srv = Server::start(&[]);
    assert!(pong(&srv));
    // Leave the process room for a handful of clients only.
    let lim = libc::rlimit {
        rlim_cur: 40,
        rlim_max: 40,
    };
    // SAFETY: prlimit reads the limit we pass and writes nothing back.
    let r = unsafe {
        libc::prlimit(
            srv.pid() as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(r, 0, "prlimit: {}", std::io::Error::last_os_error());
    // More connections than descriptors: the kernel queues them, the
    // server's accepts fail for want of descriptors.
    let many: Vec<TcpStream> = (0..60)
        .map(|_| TcpStream::connect(srv.addr()).expect("connect"))
        .collect();
    drop(many);
    // Once they are closed, the server accepts again (within the read
    // timeout of the raw client).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut c = srv.raw();
        c.stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        c.cmd(&["PING"]);
        if c.read() == Some(Frame::simple("PONG")) {
            break;
        }
        assert!(Instant::now() < deadline, "the listener never came back");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_client_holds_one_descriptor() {
    let srv = Server::start(&[]);
    assert!(pong(&srv));
    let before = open_fds(srv.pid());
    let mut clients: Vec<_> = (0..100).map(|_| srv.raw()).collect();
    for c in &mut clients {
        assert_eq!(c.call(&["PING"]), Frame::simple("PONG"));
    }
    let after = open_fds(srv.pid());
    assert!(
        after - before <= 100 + 2,
        "100 clients took {} descriptors",
        after - before
    );
}

#[test]
fn a_pipeline_written_before_any_reply_is_read_completes() {
    for engine in ["single", "concurrent"] {
        let srv = Server::start(&["--engine", engine]);
        let mut s = TcpStream::connect(srv.addr()).expect("connect");
        // A liveness bound only: a server that stops reading makes this fail.
        s.set_write_timeout(Some(Duration::from_secs(60))).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let n = 1_000_000;
        let one = b"*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n";
        let mut batch = Vec::with_capacity(one.len() * 10_000);
        for _ in 0..10_000 {
            batch.extend_from_slice(one);
        }
        for _ in 0..n / 10_000 {
            s.write_all(&batch).expect("the server keeps reading");
        }
        let last = format!(":{n}\r\n");
        let mut got = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        while !got.ends_with(last.as_bytes()) {
            let k = s.read(&mut buf).expect("replies");
            assert!(k > 0, "closed early");
            got.extend_from_slice(&buf[..k]);
        }
        let replies = got.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(replies, n, "{engine}");
    }
}

#[test]
fn a_client_that_never_reads_is_dropped_at_the_normal_limit() {
    let srv = Server::start(&[]);
    let mut admin = srv.raw();
    let big = "x".repeat(1 << 20);
    assert_eq!(admin.call(&["SET", "big", &big]), Frame::ok());
    assert_eq!(
        admin.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 4mb 0 0"
        ]),
        Frame::ok()
    );
    let mut hog = srv.raw();
    assert_eq!(hog.call(&["CLIENT", "SETNAME", "hog"]), Frame::ok());
    let mut pipeline = Vec::new();
    for _ in 0..200 {
        pipeline.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
    }
    hog.send(&pipeline);
    // It never reads: the server closes it once 4 MB wait for it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let list = match admin.call(&["CLIENT", "LIST"]) {
            Frame::Bulk(b) | Frame::Verbatim { data: b, .. } => b,
            f => panic!("{f:?}"),
        };
        if !String::from_utf8_lossy(&list).contains("name=hog") {
            break;
        }
        assert!(Instant::now() < deadline, "the hog was kept");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        admin.call(&[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 0 0 0"
        ]),
        Frame::ok()
    );
    // Others are served as before.
    assert_eq!(admin.call(&["STRLEN", "big"]), Frame::Integer(1 << 20));
}

/// Resident memory of a process, in MiB (Linux).
#[cfg(target_os = "linux")]
fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        / 1024
}

/// Memory taken by big arguments is given back once their key is gone:
/// the read buffer shrinks and the allocator returns the pages.
#[cfg(target_os = "linux")]
#[test]
fn memory_of_big_arguments_is_given_back() {
    for engine in ["single", "concurrent"] {
        let srv = Server::start(&["--engine", engine]);
        let mut c = srv.raw();
        assert_eq!(c.call(&["PING"]), Frame::simple("PONG"));
        let start = rss_mib(srv.pid());
        let big = vec![b'x'; 100 << 20];
        for i in 1..=3 {
            let mut req =
                format!("*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n${}\r\n", big.len()).into_bytes();
            req.extend_from_slice(&big);
            req.extend_from_slice(b"\r\n");
            c.send(&req);
            assert_eq!(c.read(), Some(Frame::Integer(i)));
        }
        assert!(
            rss_mib(srv.pid()) > start + 250,
            "{engine}: the values are resident"
        );
        assert_eq!(c.call(&["DEL", "l"]), Frame::Integer(1));
        // Liveness bound only: the pages usually come back at once.
        let deadline = Instant::now() + Duration::from_secs(20);
        while rss_mib(srv.pid()) > start + 50 {
            assert!(
                Instant::now() < deadline,
                "{engine}: RSS stayed at {} MiB (started at {start})",
                rss_mib(srv.pid())
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
