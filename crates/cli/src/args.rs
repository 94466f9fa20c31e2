//! Command-line flags, spelled as redis-cli spells them (`-h` is the host,
//! so help is `--help` only).

use std::ffi::OsString;
use std::io::IsTerminal;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, Parser};

use crate::connection::Target;

#[derive(Parser, Debug)]
#[command(
    name = "rubedo-cli",
    version,
    about = "Command-line client for Rubedo and other Redis-compatible servers.",
    override_usage = "rubedo-cli [OPTIONS] [cmd [arg [arg ...]]]",
    disable_help_flag = true,
    disable_version_flag = true,
    after_help = "Examples:\n  cat /etc/passwd | rubedo-cli -x set mypasswd\n  rubedo-cli -r 100 lpush mylist x\n  rubedo-cli -r 100 -i 1 info | grep used_memory_human:\n\nWhen no command is given, rubedo-cli starts in interactive mode."
)]
pub struct Args {
    /// Server hostname.
    #[arg(short = 'h', value_name = "hostname", default_value = "127.0.0.1")]
    pub host: String,

    /// Server port.
    #[arg(short = 'p', value_name = "port", default_value_t = 6379)]
    pub port: u16,

    /// Server socket (overrides hostname and port).
    #[arg(short = 's', value_name = "socket")]
    pub socket: Option<String>,

    /// Password to use when connecting to the server (or set REDISCLI_AUTH).
    #[arg(short = 'a', long = "pass", value_name = "password")]
    pub password: Option<String>,

    /// Username for ACL style 'AUTH username pass'. Needs -a.
    #[arg(long = "user", value_name = "username")]
    pub user: Option<String>,

    /// Server URI: redis://[[user]:password@]host[:port][/db].
    #[arg(short = 'u', value_name = "uri")]
    pub uri: Option<String>,

    /// Execute the command N times (-1: forever).
    #[arg(
        short = 'r',
        value_name = "repeat",
        default_value_t = 1,
        allow_negative_numbers = true
    )]
    pub repeat: i64,

    /// With -r, wait this many seconds after each command (e.g. 0.1).
    #[arg(short = 'i', value_name = "interval", default_value_t = 0.0)]
    pub interval: f64,

    /// Database number.
    #[arg(
        short = 'n',
        value_name = "db",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub db: i64,

    /// Start the session in RESP2 protocol mode.
    #[arg(short = '2', conflicts_with = "resp3")]
    pub resp2: bool,

    /// Start the session in RESP3 protocol mode (HELLO 3).
    #[arg(short = '3')]
    pub resp3: bool,

    /// Read the last argument from stdin.
    #[arg(short = 'x')]
    pub stdin_last_arg: bool,

    /// Delimiter between response bulks for raw formatting.
    #[arg(short = 'd', value_name = "delimiter", default_value = "\n")]
    pub bulk_delim: String,

    /// Delimiter between responses for raw formatting.
    #[arg(short = 'D', value_name = "delimiter", default_value = "\n")]
    pub reply_delim: String,

    /// Return an error exit code when a command fails.
    #[arg(short = 'e')]
    pub exit_on_error: bool,

    /// Use raw formatting for replies (default when stdout is not a tty).
    #[arg(long = "raw", overrides_with = "no_raw")]
    pub raw: bool,

    /// Force formatted output even when stdout is not a tty.
    #[arg(long = "no-raw", overrides_with = "raw")]
    pub no_raw: bool,

    /// Parse the command-line arguments as quoted strings.
    #[arg(long = "quoted-input")]
    pub quoted_input: bool,

    /// Whether to print RESP3 push messages (default: yes when stdout is a tty).
    #[arg(long = "show-pushes", value_name = "yn")]
    pub show_pushes: Option<String>,

    /// Don't warn about a password given on the command line.
    #[arg(long = "no-auth-warning")]
    pub no_auth_warning: bool,

    /// Output this help and exit.
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,

    /// Output version and exit.
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,

    /// The command and its arguments; without one, start interactive mode.
    #[arg(
        value_name = "cmd",
        trailing_var_arg = true,
        num_args = 0..
    )]
    pub command: Vec<OsString>,
}

/// Settings derived from the flags, for the rest of the program.
#[derive(Clone, Debug)]
pub struct Config {
    pub target: Target,
    pub user: Option<Vec<u8>>,
    pub password: Option<Vec<u8>>,
    pub db: i64,
    pub resp3: bool,
    pub raw: bool,
    pub bulk_delim: Vec<u8>,
    pub reply_delim: Vec<u8>,
    pub show_pushes: bool,
    pub exit_on_error: bool,
    pub repeat: i64,
    pub interval: f64,
}

/// Parse `argv`; on a usage error print it the redis-cli way and exit 1.
pub fn parse() -> Args {
    match Args::try_parse() {
        Ok(a) => {
            // Anything dash-led before the command is an option we don't know.
            if let Some(first) = a.command.first() {
                if first.len() > 1 && first.as_encoded_bytes().starts_with(b"-") {
                    eprintln!(
                        "Unrecognized option or bad number of args for: '{}'",
                        first.to_string_lossy()
                    );
                    std::process::exit(1);
                }
            }
            a
        }
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => e.exit(),
            ErrorKind::UnknownArgument | ErrorKind::InvalidValue
                if e.kind() == ErrorKind::UnknownArgument
                    || matches!(e.get(ContextKind::InvalidValue), Some(ContextValue::String(v)) if v.is_empty()) =>
            {
                // "-n <db>" names the flag; redis-cli shows just "-n".
                let arg = match e.get(ContextKind::InvalidArg) {
                    Some(ContextValue::String(s)) => s.split(' ').next().unwrap_or("").to_string(),
                    _ => String::new(),
                };
                eprintln!("Unrecognized option or bad number of args for: '{arg}'");
                std::process::exit(1);
            }
            _ => {
                let _ = e.print();
                std::process::exit(1);
            }
        },
    }
}

impl Args {
    /// Resolve defaults that depend on the environment and the terminal.
    pub fn config(&self) -> Result<Config, String> {
        let stdout_tty = std::io::stdout().is_terminal();
        let mut target = match &self.socket {
            Some(path) => Target::Unix(path.clone()),
            None => Target::Tcp {
                host: self.host.clone(),
                port: self.port,
            },
        };
        let mut user = self.user.clone().map(String::into_bytes);
        let mut password = self
            .password
            .clone()
            .or_else(|| std::env::var("REDISCLI_AUTH").ok())
            .map(String::into_bytes);
        let mut db = self.db;
        if let Some(uri) = &self.uri {
            let u = parse_uri(uri)?;
            target = Target::Tcp {
                host: u.host,
                port: u.port,
            };
            if u.user.is_some() {
                user = u.user;
            }
            if u.password.is_some() {
                password = u.password;
            }
            if let Some(n) = u.db {
                db = n;
            }
        }
        let show_pushes = match self.show_pushes.as_deref() {
            None => stdout_tty,
            Some(v) => matches!(v.to_ascii_lowercase().as_str(), "y" | "yes" | "1"),
        };
        Ok(Config {
            target,
            user,
            password,
            db,
            resp3: self.resp3,
            raw: if self.raw {
                true
            } else if self.no_raw {
                false
            } else {
                !stdout_tty
            },
            bulk_delim: self.bulk_delim.clone().into_bytes(),
            reply_delim: self.reply_delim.clone().into_bytes(),
            show_pushes,
            exit_on_error: self.exit_on_error,
            repeat: self.repeat,
            interval: self.interval,
        })
    }

    /// Whether the password came from the command line (worth a warning).
    pub fn password_on_command_line(&self) -> bool {
        self.password.is_some()
            || self
                .uri
                .as_deref()
                .and_then(|u| parse_uri(u).ok())
                .is_some_and(|u| u.password.is_some())
    }
}

/// The parts of a `redis://` URI.
#[derive(Debug, PartialEq, Eq)]
pub struct Uri {
    pub host: String,
    pub port: u16,
    pub user: Option<Vec<u8>>,
    pub password: Option<Vec<u8>>,
    pub db: Option<i64>,
}

/// Parse `redis://[[user]:password@]host[:port][/db]`.
pub fn parse_uri(uri: &str) -> Result<Uri, String> {
    let invalid = || format!("Invalid URI scheme or format: {uri}");
    let rest = uri
        .strip_prefix("redis://")
        .ok_or_else(|| format!("Invalid URI scheme: {uri}"))?;
    let (auth, rest) = match rest.rfind('@') {
        Some(i) => (Some(&rest[..i]), &rest[i + 1..]),
        None => (None, rest),
    };
    let (user, password) = match auth {
        None => (None, None),
        Some(a) => match a.split_once(':') {
            Some((u, p)) => (
                (!u.is_empty()).then(|| percent_decode(u)),
                Some(percent_decode(p)),
            ),
            None => (None, Some(percent_decode(a))),
        },
    };
    let (hostport, db) = match rest.split_once('/') {
        Some((hp, d)) if !d.is_empty() => (hp, Some(d.parse::<i64>().map_err(|_| invalid())?)),
        Some((hp, _)) => (hp, None),
        None => (rest, None),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or_else(invalid)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| invalid())?,
            None => 6379,
        };
        (h.to_string(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().map_err(|_| invalid())?),
            None => (hostport.to_string(), 6379),
        }
    };
    let host = if host.is_empty() {
        "127.0.0.1".to_string()
    } else {
        host
    };
    Ok(Uri {
        host,
        port,
        user,
        password,
        db,
    })
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("rubedo-cli").chain(v.iter().copied())).unwrap()
    }

    #[test]
    fn defaults() {
        let a = parse(&[]);
        assert_eq!(a.host, "127.0.0.1");
        assert_eq!(a.port, 6379);
        assert_eq!(a.repeat, 1);
        assert_eq!(a.db, 0);
        assert!(a.command.is_empty());
    }

    #[test]
    fn redis_cli_spellings() {
        let a = parse(&[
            "-h", "example", "-p", "7000", "-n", "2", "-a", "pw", "--user", "bob", "-3", "--raw",
            "-r", "-1", "-i", "0.5", "-x", "set", "k",
        ]);
        assert_eq!(a.host, "example");
        assert_eq!(a.port, 7000);
        assert_eq!(a.db, 2);
        assert_eq!(a.password.as_deref(), Some("pw"));
        assert_eq!(a.user.as_deref(), Some("bob"));
        assert!(a.resp3 && a.raw && a.stdin_last_arg);
        assert_eq!(a.repeat, -1);
        assert_eq!(a.interval, 0.5);
        assert_eq!(a.command, vec![OsString::from("set"), OsString::from("k")]);
    }

    #[test]
    fn options_stop_at_the_command() {
        let a = parse(&["-p", "1", "echo", "-n", "--raw", "-h"]);
        assert_eq!(a.port, 1);
        assert!(!a.raw);
        assert_eq!(a.command.len(), 4);
        assert_eq!(a.command[1], OsString::from("-n"));
    }

    #[test]
    fn raw_flags_last_one_wins() {
        let a = parse(&["--raw", "--no-raw"]);
        assert!(a.no_raw && !a.raw);
        assert!(!a.config().unwrap().raw);
        let a = parse(&["--no-raw", "--raw"]);
        assert!(a.config().unwrap().raw);
    }

    #[test]
    fn unknown_option_is_an_error() {
        let e = Args::try_parse_from(["rubedo-cli", "--foo", "ping"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownArgument);
    }

    #[test]
    fn uris() {
        assert_eq!(
            parse_uri("redis://u:p%40ss@db.example:7000/3").unwrap(),
            Uri {
                host: "db.example".into(),
                port: 7000,
                user: Some(b"u".to_vec()),
                password: Some(b"p@ss".to_vec()),
                db: Some(3),
            }
        );
        let u = parse_uri("redis://:secret@localhost").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("localhost", 6379));
        assert_eq!((u.user, u.password), (None, Some(b"secret".to_vec())));
        let u = parse_uri("redis://[::1]:6380").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.db), ("::1", 6380, None));
        assert!(parse_uri("http://x").is_err());
    }
}
