//! Runs the built `rubedo-cli` and the real `redis-cli` against the same
//! real `redis-server` and compares what they print. Skips (with a message)
//! when redis-server or redis-cli is not installed, except with `CI=true`, where
//! that fails the tests.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const REDIS_SERVER: &str = "/usr/bin/redis-server";
const REDIS_CLI: &str = "/usr/bin/redis-cli";
const RUBEDO_CLI: &str = env!("CARGO_BIN_EXE_rubedo-cli");

/// A redis-server on a free port, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server() -> Option<Server> {
    if !Path::new(REDIS_SERVER).exists() || !Path::new(REDIS_CLI).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{REDIS_SERVER} or {REDIS_CLI} is not installed, and CI=true: cannot skip"
        );
        println!("skipping: {REDIS_SERVER} or {REDIS_CLI} is not installed");
        return None;
    }
    let port = free_port();
    let child = Command::new(REDIS_SERVER)
        .args(["--port", &port.to_string()])
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start redis-server");
    let server = Server { child, port };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let mut buf = [0u8; 16];
            if s.write_all(b"PING\r\n").is_ok() && s.read(&mut buf).is_ok_and(|n| n > 0) {
                return Some(server);
            }
        }
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run(bin: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(bin)
        .args(args)
        .env_remove("REDISCLI_AUTH")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn client");
    let mut input = child.stdin.take().unwrap();
    if let Some(data) = stdin {
        input.write_all(data).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// Run both clients with the same arguments and stdin; they must print the
/// same bytes on stdout and stderr and exit with the same status.
fn same(args: &[&str], stdin: Option<&[u8]>) {
    let want = run(REDIS_CLI, args, stdin);
    let got = run(RUBEDO_CLI, args, stdin);
    let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert_eq!(
        show(&got.stdout),
        show(&want.stdout),
        "stdout differs for {args:?}"
    );
    assert_eq!(
        show(&got.stderr),
        show(&want.stderr),
        "stderr differs for {args:?}"
    );
    assert_eq!(
        got.status.code(),
        want.status.code(),
        "exit status for {args:?}"
    );
}

#[test]
fn output_matches_redis_cli() {
    let Some(server) = start_server() else {
        return;
    };
    let port = server.port.to_string();
    let p = |extra: &[&'static str]| -> Vec<String> {
        let mut v = vec!["-p".to_string(), port.clone()];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let setup = run(
        REDIS_CLI,
        &[
            "-p",
            &port,
            "eval",
            "redis.call('rpush','l','c','b','a'); \
             redis.call('hset','h','f1','v1','f2','v2'); \
             redis.call('zadd','z','1.5','a','2','b','0.1','c'); \
             redis.call('sadd','s','x'); \
             redis.call('set','bin','a\\0b\\t\"\\\\\\195\\169\\127'); \
             redis.call('select', 2); redis.call('set','k2','in db 2'); \
             for i = 1, 12 do redis.call('rpush','long',i) end",
            "0",
        ],
        None,
    );
    assert!(setup.status.success(), "{setup:?}");

    let nested = "return {1,{2,{3,'x'}},{},{err='MYERR x'}}";
    let resp3 = "redis.setresp(3); return {map={a={1,{map={b=1}}}}, {true,false,{double=1.25}}}";
    let cases: Vec<Vec<&'static str>> = vec![
        vec!["ping"],
        vec!["set", "foo", "bar"],
        vec!["get", "foo"],
        vec!["get", "nokey"],
        vec!["exists", "foo"],
        vec!["lrange", "l", "0", "-1"],
        vec!["lrange", "none", "0", "-1"],
        vec!["mget", "foo", "nokey", "foo"],
        vec!["hgetall", "h"],
        vec!["smembers", "none"],
        vec!["zrange", "z", "0", "-1", "withscores"],
        vec!["zscore", "z", "c"],
        vec!["get", "bin"],
        vec!["lrange", "long", "0", "-1"],
        vec!["incr", "foo"],
        vec!["nosuchcommand", "x"],
        vec!["config", "get", "maxmemory"],
        vec!["lolwut"],
        vec!["memory", "help"],
        vec!["eval", nested, "0"],
        vec!["eval", resp3, "0"],
    ];
    for mode in [&[][..], &["--no-raw"], &["-3"], &["-3", "--no-raw"]] {
        for case in &cases {
            let mut args = p(mode);
            args.extend(case.iter().map(|s| s.to_string()));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            same(&args, None);
        }
    }

    // Flags.
    let flag_cases: Vec<Vec<&'static str>> = vec![
        vec!["-n", "2", "--no-raw", "get", "k2"],
        vec!["-n", "99", "get", "k2"],
        vec!["-a", "secret", "ping"],
        vec!["--user", "bob", "--pass", "pw", "--no-auth-warning", "ping"],
        vec!["-r", "3", "get", "foo"],
        vec!["-e", "nosuchcommand"],
        vec!["-e", "-r", "3", "--no-raw", "nosuchcommand"],
        vec!["-d", "X", "-D", "Y", "lrange", "l", "0", "-1"],
        vec!["-3", "-d", "X", "-D", "Y", "hgetall", "h"],
        vec!["--quoted-input", "get", "a b"],
        vec!["--no-raw", "--quoted-input", "echo", "\"a\\x00b\""],
        vec!["--bogus", "ping"],
    ];
    for case in flag_cases {
        let mut args = p(&[]);
        args.extend(case.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        same(&args, None);
    }

    // -x: stdin becomes the last argument.
    same(&["-p", &port, "-x", "set", "fromstdin"], Some(b"line\n"));
    same(&["-p", &port, "--no-raw", "get", "fromstdin"], None);

    // Commands read line by line from stdin, in both output styles.
    let script = b"set a \"x y\"\nget a\n\n  \nincr a\nget \"a\nselect 2\nget k2\n\
                   2 echo hi\n-1 ping\necho 'it\\'s' \"\\x41\\n\"\nquit\nping\n";
    same(&["-p", &port], Some(script));
    same(&["-p", &port, "--no-raw"], Some(script));

    // Nothing listening.
    let closed = free_port().to_string();
    same(&["-p", &closed, "ping"], None);
    same(&["-p", &closed], Some(b"ping\n"));
}
