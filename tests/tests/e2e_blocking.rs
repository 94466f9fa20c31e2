//! Blocking commands over real sockets, both engines: first blocked, first
//! served; timeouts; CLIENT UNBLOCK; a disconnect while blocked leaks nothing.

use std::time::{Duration, Instant};

use rubedo_resp::Frame;
use rubedo_tests::{bulk, Raw, Server};

fn blocked_clients(c: &mut Raw) -> usize {
    match c.call(&["INFO", "clients"]) {
        Frame::Bulk(b) | Frame::Verbatim { data: b, .. } => String::from_utf8_lossy(&b)
            .lines()
            .find_map(|l| l.strip_prefix("blocked_clients:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("blocked_clients field"),
        f => panic!("{f:?}"),
    }
}

/// Polls until `n` clients are blocked (a liveness deadline only).
fn wait_blocked(c: &mut Raw, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while blocked_clients(c) != n {
        assert!(
            Instant::now() < deadline,
            "never reached {n} blocked clients"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn id_of(c: &mut Raw) -> i64 {
    match c.call(&["CLIENT", "ID"]) {
        Frame::Integer(n) => n,
        f => panic!("{f:?}"),
    }
}

#[test]
fn first_blocked_is_first_served() {
    for engine in ["single", "concurrent"] {
        let srv = Server::start(&["--engine", engine, "--threads", "2"]);
        let mut admin = srv.raw();
        let mut a = srv.raw();
        let mut b = srv.raw();
        a.cmd(&["BLPOP", "q", "0"]);
        wait_blocked(&mut admin, 1);
        b.cmd(&["BLPOP", "q", "0"]);
        wait_blocked(&mut admin, 2);
        assert_eq!(
            admin.call(&["RPUSH", "q", "first", "second"]),
            Frame::Integer(2)
        );
        assert_eq!(
            a.read(),
            Some(Frame::Array(vec![bulk("q"), bulk("first")])),
            "{engine}"
        );
        assert_eq!(
            b.read(),
            Some(Frame::Array(vec![bulk("q"), bulk("second")])),
            "{engine}"
        );
        assert_eq!(blocked_clients(&mut admin), 0);
        assert_eq!(admin.call(&["EXISTS", "q"]), Frame::Integer(0));
    }
}

#[test]
fn timeouts_and_client_unblock() {
    for engine in ["single", "concurrent"] {
        let srv = Server::start(&["--engine", engine]);
        let mut admin = srv.raw();
        let mut a = srv.raw();
        assert_eq!(
            a.call(&["BLPOP", "none", "0.05"]),
            Frame::NullArray,
            "{engine}"
        );
        assert_eq!(
            a.call(&["BLMOVE", "none", "d", "LEFT", "LEFT", "0.05"]),
            Frame::NullArray
        );
        let id = id_of(&mut a).to_string();
        a.cmd(&["BRPOP", "none", "0"]);
        wait_blocked(&mut admin, 1);
        assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id]), Frame::Integer(1));
        assert_eq!(a.read(), Some(Frame::NullArray));
        a.cmd(&["BLMPOP", "0", "1", "none", "LEFT"]);
        wait_blocked(&mut admin, 1);
        assert_eq!(
            admin.call(&["CLIENT", "UNBLOCK", &id, "ERROR"]),
            Frame::Integer(1)
        );
        assert_eq!(
            a.read(),
            Some(Frame::error(
                "UNBLOCKED client unblocked via CLIENT UNBLOCK"
            ))
        );
        assert_eq!(
            admin.call(&["CLIENT", "UNBLOCK", &id]),
            Frame::Integer(0),
            "not blocked now"
        );
        // The connection works normally afterwards.
        assert_eq!(a.call(&["PING"]), Frame::simple("PONG"));
    }
}

#[test]
fn a_client_that_disconnects_while_blocked_leaves_no_trace() {
    for engine in ["single", "concurrent"] {
        let srv = Server::start(&["--engine", engine]);
        let mut admin = srv.raw();
        {
            let mut a = srv.raw();
            a.cmd(&["BLPOP", "k", "0"]);
            wait_blocked(&mut admin, 1);
        }
        wait_blocked(&mut admin, 0);
        assert_eq!(admin.call(&["RPUSH", "k", "x"]), Frame::Integer(1));
        assert_eq!(
            admin.call(&["LLEN", "k"]),
            Frame::Integer(1),
            "{engine}: nobody took it"
        );
    }
}

#[test]
fn commands_sent_while_blocked_run_after_the_wake_up() {
    let srv = Server::start(&[]);
    let mut admin = srv.raw();
    let mut a = srv.raw();
    // BLPOP then PING in one write: the PING waits for the BLPOP.
    a.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nw\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n");
    wait_blocked(&mut admin, 1);
    admin.call(&["LPUSH", "w", "v"]);
    assert_eq!(a.read(), Some(Frame::Array(vec![bulk("w"), bulk("v")])));
    assert_eq!(a.read(), Some(Frame::simple("PONG")));
}

/// SWAPDB serves a client blocked on a key the swap brings into its
/// database, as redis-server does.
#[test]
fn swapdb_serves_clients_whose_key_it_filled() {
    for engine in ["single", "concurrent"] {
        let srv = Server::start(&["--engine", engine]);
        let mut admin = srv.raw();
        let mut a = srv.raw();
        assert_eq!(a.call(&["SELECT", "1"]), Frame::ok());
        a.cmd(&["BLPOP", "k", "0"]);
        wait_blocked(&mut admin, 1);
        assert_eq!(admin.call(&["RPUSH", "k", "v"]), Frame::Integer(1));
        assert_eq!(blocked_clients(&mut admin), 1, "{engine}: another db");
        assert_eq!(admin.call(&["SWAPDB", "0", "1"]), Frame::ok());
        assert_eq!(
            a.read(),
            Some(Frame::Array(vec![bulk("k"), bulk("v")])),
            "{engine}"
        );
        assert_eq!(blocked_clients(&mut admin), 0);
        assert_eq!(admin.call(&["SELECT", "1"]), Frame::ok());
        assert_eq!(admin.call(&["EXISTS", "k"]), Frame::Integer(0), "{engine}");
    }
}

/// Under the concurrent engine a blocked client is served before the
/// pushing command's locks are released: a client popping in a loop at the
/// same time never takes the element the blocked client was waiting for.
#[test]
fn no_command_takes_the_data_before_the_blocked_client() {
    let srv = Server::start(&["--engine", "concurrent", "--threads", "2"]);
    let mut admin = srv.raw();
    let mut waiter = srv.raw();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let thief = {
        let mut c = srv.raw();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut stolen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let f = c.call(&["LPOP", "q"]);
                if f != Frame::Null {
                    stolen.push(f);
                }
            }
            stolen
        })
    };
    for round in 0..100 {
        waiter.cmd(&["BLPOP", "q", "0"]);
        wait_blocked(&mut admin, 1);
        let v = format!("x{round}");
        assert_eq!(admin.call(&["RPUSH", "q", &v]), Frame::Integer(1));
        assert_eq!(
            waiter.read(),
            Some(Frame::Array(vec![bulk("q"), bulk(&v)])),
            "round {round}"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(thief.join().unwrap(), Vec::<Frame>::new());
}

/// Under the concurrent engine a client that blocks while a push lands
/// (its command found the list empty, the push came before it parked) is
/// never seen blocked while the list holds data: parking, looking again
/// and serving are one run, and a push that finds a waiter parked under
/// its locks serves it in its own run. A transaction (which runs with
/// everything locked) watches for the state Redis can never be in:
/// a blocked client next to a non-empty list it waits on.
#[test]
fn a_client_is_never_blocked_next_to_the_data_it_waits_for() {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let srv = Server::start(&["--engine", "concurrent", "--threads", "2"]);
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let watcher = {
        let mut c = srv.raw();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut looks = 0u64;
            while !stop.load(Relaxed) {
                c.cmd(&["MULTI"]);
                c.cmd(&["INFO", "clients"]);
                c.cmd(&["LLEN", "q"]);
                c.cmd(&["EXEC"]);
                for _ in 0..3 {
                    c.read();
                }
                let Some(Frame::Array(r)) = c.read() else {
                    panic!("EXEC")
                };
                let blocked = match &r[0] {
                    Frame::Bulk(b) | Frame::Verbatim { data: b, .. } => String::from_utf8_lossy(b)
                        .lines()
                        .find_map(|l| l.strip_prefix("blocked_clients:"))
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .expect("blocked_clients"),
                    f => panic!("{f:?}"),
                };
                let len = r[1].clone();
                assert!(
                    blocked == 0 || len == Frame::Integer(0),
                    "a client is blocked while the list holds {len:?}"
                );
                looks += 1;
            }
            looks
        })
    };
    let (sent_tx, sent_rx) = std::sync::mpsc::channel::<()>();
    let pusher = {
        let mut c = srv.raw();
        std::thread::spawn(move || {
            for round in 0..1000 {
                // Right after the waiter sent its BLPOP: it may be running,
                // parking or parked.
                sent_rx.recv().unwrap();
                let v = format!("x{round}");
                assert_eq!(c.call(&["RPUSH", "q", &v]), Frame::Integer(1));
            }
        })
    };
    let mut waiter = srv.raw();
    for round in 0..1000 {
        waiter.cmd(&["BLPOP", "q", "0"]);
        sent_tx.send(()).unwrap();
        let v = format!("x{round}");
        assert_eq!(
            waiter.read(),
            Some(Frame::Array(vec![bulk("q"), bulk(&v)])),
            "round {round}"
        );
    }
    pusher.join().unwrap();
    stop.store(true, Relaxed);
    assert!(watcher.join().unwrap() > 0);
}

fn text_of(f: Frame) -> String {
    match f {
        Frame::Bulk(b) | Frame::Verbatim { data: b, .. } => {
            String::from_utf8_lossy(&b).into_owned()
        }
        f => panic!("{f:?}"),
    }
}

/// One field of the CLIENT LIST line of client `id`.
fn list_field(c: &mut Raw, id: i64, field: &str) -> String {
    let line = text_of(c.call(&["CLIENT", "LIST", "ID", &id.to_string()]));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{field}=")))
        .unwrap_or_else(|| panic!("no {field} in {line}"))
        .to_string()
}

fn in_timeout_table(c: &mut Raw) -> String {
    text_of(c.call(&["INFO", "clients"]))
        .lines()
        .find_map(|l| l.strip_prefix("clients_in_timeout_table:"))
        .expect("clients_in_timeout_table")
        .to_string()
}

/// CLIENT LIST shows a blocked client as Redis does: the `b` flag and the
/// size of the blocking command's arguments (argv-mem); INFO counts the
/// blocked clients that have a timeout (clients_in_timeout_table).
#[test]
fn client_list_and_info_show_blocked_clients() {
    for engine in ["single", "concurrent"] {
        let srv = Server::start(&["--engine", engine, "--threads", "2"]);
        let mut w = srv.raw();
        let mut forever = srv.raw();
        let forever_id = id_of(&mut forever);
        let mut timed = srv.raw();
        let timed_id = id_of(&mut timed);
        assert_eq!(list_field(&mut w, forever_id, "flags"), "N", "{engine}");
        assert_eq!(list_field(&mut w, forever_id, "argv-mem"), "0", "{engine}");
        assert_eq!(in_timeout_table(&mut w), "0", "{engine}");
        forever.cmd(&["BLPOP", "qq", "0"]);
        timed.cmd(&["BLPOP", "qq2", "100"]);
        wait_blocked(&mut w, 2);
        assert_eq!(list_field(&mut w, forever_id, "flags"), "b", "{engine}");
        assert_eq!(list_field(&mut w, forever_id, "argv-mem"), "8", "{engine}");
        assert_eq!(list_field(&mut w, timed_id, "flags"), "b", "{engine}");
        assert_eq!(list_field(&mut w, timed_id, "argv-mem"), "11", "{engine}");
        assert_eq!(list_field(&mut w, forever_id, "cmd"), "blpop", "{engine}");
        assert_eq!(in_timeout_table(&mut w), "1", "{engine}");
        // The asking client's own command: CLIENT LIST ID <me>.
        let me = id_of(&mut w);
        let own = (6 + 4 + 2 + me.to_string().len()).to_string();
        assert_eq!(list_field(&mut w, me, "argv-mem"), own, "{engine}");
        assert_eq!(list_field(&mut w, me, "events"), "r", "{engine}");
        w.call(&["RPUSH", "qq", "v"]);
        assert_eq!(
            forever.read(),
            Some(Frame::Array(vec![bulk("qq"), bulk("v")]))
        );
        assert_eq!(list_field(&mut w, forever_id, "flags"), "N", "{engine}");
        assert_eq!(list_field(&mut w, forever_id, "argv-mem"), "0", "{engine}");
        assert_eq!(in_timeout_table(&mut w), "1", "{engine}");
        w.call(&["CLIENT", "UNBLOCK", &timed_id.to_string()]);
        assert_eq!(timed.read(), Some(Frame::NullArray));
        assert_eq!(in_timeout_table(&mut w), "0", "{engine}");
        assert_eq!(list_field(&mut w, timed_id, "flags"), "N", "{engine}");
    }
}
