//! A client session: the connection with its handshake (AUTH, SELECT,
//! HELLO), reconnection, and running one command with redis-cli's reply
//! handling (printing, pub/sub and MONITOR streams, push messages, and the
//! state a command changes: database, transaction, protocol, credentials).

use std::io::Write;
use std::time::Duration;

use rubedo_resp::Frame;

use crate::args::Config;
use crate::connection::{ConnError, Connection, Target};
use crate::format;

/// How a command ended.
#[derive(Debug)]
pub enum Outcome {
    /// The server replied (`true` when the reply was an error).
    Replied { error: bool },
    /// There was no connection and connecting failed (already reported).
    NotConnected,
    /// The connection broke (not yet reported).
    Lost(ConnError),
}

pub struct Session {
    pub cfg: Config,
    conn: Option<Connection>,
    /// The selected database, restored on reconnect and shown in the prompt.
    pub db: i64,
    /// Inside MULTI (shown as `(TX)` in the prompt).
    pub in_tx: bool,
    /// Whether the connection speaks RESP3.
    pub resp3: bool,
    /// In one-shot mode an error reply with `-e` goes to stderr.
    pub one_shot: bool,
}

impl Session {
    pub fn new(cfg: Config) -> Session {
        Session {
            db: cfg.db,
            resp3: cfg.resp3,
            cfg,
            conn: None,
            in_tx: false,
            one_shot: false,
        }
    }

    /// Forget the connection (after it broke).
    pub fn disconnect(&mut self) {
        self.conn = None;
        self.in_tx = false;
    }

    /// Connect and run the handshake. Failing handshake steps are reported
    /// on stderr and do not fail the connection, as with redis-cli. The
    /// error is the complete message to print.
    pub fn connect(&mut self) -> Result<(), String> {
        self.conn = None;
        self.in_tx = false;
        let target = &self.cfg.target;
        let fail = |why: String| format!("Could not connect to Redis at {target}: {why}");
        let mut conn = Connection::connect(target).map_err(fail)?;

        if let Some(pass) = &self.cfg.password {
            let mut cmd: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &self.cfg.user {
                cmd.push(user);
            }
            cmd.push(pass);
            if let Frame::Error(e) = conn.call(&cmd).map_err(|e| fail(e.to_string()))? {
                eprintln!("AUTH failed: {}", String::from_utf8_lossy(&e));
            }
        }
        if self.db != 0 {
            let n = self.db.to_string();
            if let Frame::Error(e) = conn
                .call(&[b"SELECT", n.as_bytes()])
                .map_err(|e| fail(e.to_string()))?
            {
                eprintln!("SELECT {n} failed: {}", String::from_utf8_lossy(&e));
                self.db = 0;
            }
        }
        if self.resp3 {
            if let Frame::Error(e) = conn
                .call(&[b"HELLO", b"3"])
                .map_err(|e| fail(e.to_string()))?
            {
                eprintln!("HELLO 3 failed: {}", String::from_utf8_lossy(&e));
                self.resp3 = false;
            }
        }
        self.conn = Some(conn);
        Ok(())
    }

    /// The interactive prompt: `127.0.0.1:6379[2](TX)> ` or
    /// `not connected> `.
    pub fn prompt(&self) -> String {
        prompt_text(&self.cfg.target, self.conn.is_some(), self.db, self.in_tx)
    }

    /// Run `args` `times` times (negative: forever), sleeping the `-i`
    /// interval after each. Stops at the first broken connection, and
    /// (in one-shot mode with `-e`) at the first error reply.
    pub fn run_repeated(&mut self, args: &[Vec<u8>], times: i64) -> Outcome {
        let mut last = Outcome::Replied { error: false };
        let mut done = 0i64;
        while times < 0 || done < times {
            last = self.run(args);
            match last {
                Outcome::Replied { error: true } if self.one_shot && self.cfg.exit_on_error => {
                    return last
                }
                Outcome::Replied { .. } => {}
                _ => return last,
            }
            done += 1;
            if self.cfg.interval > 0.0 {
                std::thread::sleep(Duration::from_secs_f64(self.cfg.interval));
            }
        }
        last
    }

    /// Send one command and print what comes back.
    pub fn run(&mut self, args: &[Vec<u8>]) -> Outcome {
        if self.conn.is_none() {
            if let Err(msg) = self.connect() {
                eprintln!("{msg}");
                return Outcome::NotConnected;
            }
        }
        match self.exchange(args) {
            Ok(error) => Outcome::Replied { error },
            Err(e) => {
                self.disconnect();
                Outcome::Lost(e)
            }
        }
    }

    fn exchange(&mut self, args: &[Vec<u8>]) -> Result<bool, ConnError> {
        let name = args
            .first()
            .map(|a| a.to_ascii_lowercase())
            .unwrap_or_default();
        let is = |n: &str| name == n.as_bytes();
        let streaming_pubsub = is("subscribe") || is("psubscribe") || is("ssubscribe");
        let streaming = streaming_pubsub || is("monitor");
        // In RESP3 the reply to these arrives as a push message.
        let push_is_reply =
            streaming || is("unsubscribe") || is("punsubscribe") || is("sunsubscribe");

        if streaming_pubsub && !self.cfg.raw {
            emit(b"Reading messages... (press Ctrl-C to quit)\n");
        }
        self.conn.as_mut().expect("connected").send(args)?;
        let reply = loop {
            let frame = self.conn.as_mut().expect("connected").read_frame()?;
            if matches!(frame, Frame::Push(_)) && !push_is_reply {
                self.print_push(&frame);
                continue;
            }
            break frame;
        };
        let error = reply.is_error();
        self.print_reply(&reply, args);
        self.note_effects(&name, args, &reply);

        if streaming && !error {
            loop {
                let frame = self.conn.as_mut().expect("connected").read_frame()?;
                self.print_reply(&frame, args);
            }
        }
        Ok(error)
    }

    /// Track what a successful command changed.
    fn note_effects(&mut self, name: &[u8], args: &[Vec<u8>], reply: &Frame) {
        let ok = matches!(reply, Frame::Simple(s) if s.as_ref() == b"OK");
        match name {
            b"select" if ok && args.len() == 2 => {
                if let Some(n) = std::str::from_utf8(&args[1])
                    .ok()
                    .and_then(|s| s.parse().ok())
                {
                    self.db = n;
                }
            }
            b"multi" if ok => self.in_tx = true,
            b"exec" | b"discard" => self.in_tx = false,
            b"auth" if ok && (args.len() == 2 || args.len() == 3) => {
                self.cfg.password = args.last().cloned();
                self.cfg.user = (args.len() == 3).then(|| args[1].clone());
            }
            b"hello" if !reply.is_error() && args.len() >= 2 => {
                self.resp3 = args[1].as_slice() == b"3";
            }
            _ => {}
        }
    }

    fn print_reply(&self, reply: &Frame, args: &[Vec<u8>]) {
        if reply.is_error() && self.one_shot && self.cfg.exit_on_error {
            let text = format::raw(reply, &self.cfg.bulk_delim);
            let _ = std::io::stderr().write_all(&text);
            return;
        }
        let out = if format::prints_raw(args) {
            format::raw(reply, &self.cfg.bulk_delim)
        } else if self.cfg.raw {
            let mut v = format::raw(reply, &self.cfg.bulk_delim);
            v.extend_from_slice(&self.cfg.reply_delim);
            v
        } else {
            format::tty(reply)
        };
        emit(&out);
    }

    fn print_push(&self, frame: &Frame) {
        if !self.cfg.show_pushes {
            return;
        }
        if self.cfg.raw {
            let mut v = format::raw(frame, &self.cfg.bulk_delim);
            v.extend_from_slice(&self.cfg.reply_delim);
            emit(&v);
        } else {
            emit(&format::tty_push(frame));
        }
    }
}

/// The prompt for a session in this state.
fn prompt_text(target: &Target, connected: bool, db: i64, in_tx: bool) -> String {
    if !connected {
        return "not connected> ".to_string();
    }
    let mut p = match target {
        Target::Tcp { host, port } => format!("{host}:{port}"),
        Target::Unix(path) => format!("redis {path}"),
    };
    if db != 0 {
        p += &format!("[{db}]");
    }
    if in_tx {
        p += "(TX)";
    }
    p + "> "
}

/// Write to stdout and flush; a closed stdout (e.g. `| head`) ends the
/// program quietly.
pub fn emit(bytes: &[u8]) {
    let mut out = std::io::stdout().lock();
    if out.write_all(bytes).and_then(|_| out.flush()).is_err() {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts() {
        let tcp = Target::Tcp {
            host: "127.0.0.1".into(),
            port: 6379,
        };
        assert_eq!(prompt_text(&tcp, true, 0, false), "127.0.0.1:6379> ");
        assert_eq!(prompt_text(&tcp, true, 2, false), "127.0.0.1:6379[2]> ");
        assert_eq!(prompt_text(&tcp, true, 2, true), "127.0.0.1:6379[2](TX)> ");
        assert_eq!(prompt_text(&tcp, true, 0, true), "127.0.0.1:6379(TX)> ");
        assert_eq!(prompt_text(&tcp, false, 2, true), "not connected> ");
        let unix = Target::Unix("/tmp/r.sock".into());
        assert_eq!(prompt_text(&unix, true, 0, false), "redis /tmp/r.sock> ");
    }
}
