//! Configuration: the parameters Rubedo implements, read from a redis.conf
//! style file and `--name value` flags, and changed at run time with CONFIG
//! SET. Only parameters that govern something implemented are listed; the
//! hot ones are mirrored in atomics so the request path never takes a lock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::RwLock;

/// How a parameter's text is validated and shown.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    Mem {
        min: u64,
        max: u64,
    },
    Bool,
    Enum(&'static [&'static str]),
    Str,
    /// `notify-keyspace-events`: class letters, shown in canonical order.
    Events,
    /// `client-output-buffer-limit`: `<class> <hard> <soft> <seconds>` groups.
    OutputLimits,
    /// Persistence settings that are accepted only at the value meaning
    /// "off", because snapshots and the append-only log are not built yet.
    OffOnly(&'static str),
    /// `save`: "<seconds> <changes>" pairs, or "" for none.
    SavePoints,
    /// What SIGINT/SIGTERM do: `default` or flags among save, nosave,
    /// now, force.
    ShutdownFlags,
    /// `dir`: a directory the server changes into (shown as the working
    /// directory, absolute).
    Dir,
    /// `dbfilename`, `appendfilename`: a file name, not a path.
    FileName,
    /// `appenddirname`: a directory name, not a path.
    DirName,
}

pub struct Param {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    pub kind: Kind,
    pub default: &'static str,
    pub mutable: bool,
    /// Settable at run time only where `enable-protected-configs` allows.
    pub protected: bool,
    /// Left out of CONFIG GET patterns; found only by its exact name (the
    /// test knobs Redis hides the same way).
    pub hidden: bool,
}

const fn p(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        mutable: true,
        protected: false,
        hidden: false,
    }
}

const fn protected(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        protected: true,
        ..p(name, kind, default)
    }
}

const fn hidden(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        hidden: true,
        ..p(name, kind, default)
    }
}

const fn fixed(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        mutable: false,
        protected: false,
        hidden: false,
    }
}

const fn aliased(
    name: &'static str,
    alias: &'static str,
    kind: Kind,
    default: &'static str,
) -> Param {
    Param {
        name,
        alias: Some(alias),
        kind,
        default,
        mutable: true,
        protected: false,
        hidden: false,
    }
}

/// Size limits of the compact collection encodings.
const SMALL: Kind = Kind::Int {
    min: 0,
    max: i64::MAX,
};

pub static PARAMS: &[Param] = &[
    fixed("bind", Kind::Str, "127.0.0.1"),
    aliased(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        SMALL,
        // redis-server's own default (its sample redis.conf says 128).
        "512",
    ),
    aliased(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        SMALL,
        "64",
    ),
    p("set-max-intset-entries", SMALL, "512"),
    aliased(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        SMALL,
        "128",
    ),
    aliased(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        SMALL,
        "64",
    ),
    aliased(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        Kind::Int {
            min: i32::MIN as i64,
            max: i32::MAX as i64,
        },
        "-2",
    ),
    fixed("port", Kind::Int { min: 0, max: 65535 }, "6379"),
    fixed(
        "databases",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "16",
    ),
    p(
        "hz",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "10",
    ),
    p("dynamic-hz", Kind::Bool, "yes"),
    aliased(
        "busy-reply-threshold",
        "lua-time-limit",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "5000",
    ),
    p(
        "timeout",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "0",
    ),
    p(
        "proto-max-bulk-len",
        Kind::Mem {
            min: 1024 * 1024,
            max: i64::MAX as u64,
        },
        "536870912",
    ),
    p(
        "client-query-buffer-limit",
        Kind::Mem {
            min: 1024 * 1024,
            max: i64::MAX as u64,
        },
        "1073741824",
    ),
    p(
        "maxclients",
        Kind::Int {
            min: 1,
            max: u32::MAX as i64,
        },
        "10000",
    ),
    p("requirepass", Kind::Str, ""),
    p("notify-keyspace-events", Kind::Events, ""),
    p(
        "tracking-table-max-keys",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "1000000",
    ),
    p(
        "client-output-buffer-limit",
        Kind::OutputLimits,
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
    ),
    p("active-expire-effort", Kind::Int { min: 1, max: 10 }, "1"),
    p("save", Kind::SavePoints, "3600 1 300 100 60 10000"),
    p("shutdown-on-sigint", Kind::ShutdownFlags, "default"),
    p("shutdown-on-sigterm", Kind::ShutdownFlags, "default"),
    protected("dir", Kind::Dir, ""),
    protected("dbfilename", Kind::FileName, "dump.rdb"),
    p("rdbcompression", Kind::Bool, "yes"),
    // Rubedo's own: what SAVE, BGSAVE and shutdown write to `dbfilename`
    // (any of the two loads, told by its magic).
    p("snapshot-format", Kind::Enum(&["rubedo", "rdb"]), "rubedo"),
    p("stop-writes-on-bgsave-error", Kind::Bool, "yes"),
    // Test knobs: a pause per key saved or loaded, in microseconds (a
    // negative n pauses one microsecond every -n keys).
    hidden(
        "rdb-key-save-delay",
        Kind::Int {
            min: i32::MIN as i64,
            max: i32::MAX as i64,
        },
        "0",
    ),
    p(
        "key-load-delay",
        Kind::Int {
            min: i32::MIN as i64,
            max: i32::MAX as i64,
        },
        "0",
    ),
    fixed("rdbchecksum", Kind::Bool, "yes"),
    fixed(
        "enable-protected-configs",
        Kind::Enum(&["no", "yes", "local"]),
        "no",
    ),
    p("appendonly", Kind::Bool, "no"),
    fixed("appendfilename", Kind::FileName, "appendonly.aof"),
    fixed("appenddirname", Kind::DirName, "appendonlydir"),
    p(
        "appendfsync",
        Kind::Enum(&["everysec", "always", "no"]),
        "everysec",
    ),
    p("no-appendfsync-on-rewrite", Kind::Bool, "no"),
    p(
        "auto-aof-rewrite-percentage",
        Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        "100",
    ),
    p(
        "auto-aof-rewrite-min-size",
        Kind::Mem {
            min: 0,
            max: i64::MAX as u64,
        },
        "67108864",
    ),
    p("aof-load-truncated", Kind::Bool, "yes"),
    p("aof-use-rdb-preamble", Kind::Bool, "yes"),
    p("aof-timestamp-enabled", Kind::Bool, "no"),
    p("aof-rewrite-incremental-fsync", Kind::Bool, "yes"),
    p("rdb-save-incremental-fsync", Kind::Bool, "yes"),
    p("aof-disable-auto-gc", Kind::Bool, "no"),
    fixed("daemonize", Kind::OffOnly("no"), "no"),
    fixed("engine", Kind::Enum(&["single", "concurrent"]), "single"),
    fixed(
        "enable-debug-command",
        Kind::Enum(&["no", "yes", "local"]),
        "no",
    ),
    fixed("threads", Kind::Int { min: 0, max: 1024 }, "0"),
];

pub fn find(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| {
        p.name.eq_ignore_ascii_case(name) || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

/// Parses a memory amount like Redis: bytes, or with k/kb/m/mb/g/gb.
pub fn parse_memory(s: &str) -> Option<u64> {
    let l = s.to_ascii_lowercase();
    let (num, mul) = [
        ("gb", 1u64 << 30),
        ("g", 1_000_000_000),
        ("mb", 1 << 20),
        ("m", 1_000_000),
        ("kb", 1 << 10),
        ("k", 1000),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suf, m)| l.strip_suffix(suf).map(|n| (n.to_string(), *m)))
    .unwrap_or((l.clone(), 1));
    let n: u64 = num.parse().ok()?;
    n.checked_mul(mul)
}

/// The running configuration.
pub struct Config {
    values: RwLock<BTreeMap<&'static str, String>>,
    pub hz: AtomicU64,
    pub timeout: AtomicU64,
    pub proto_max_bulk_len: AtomicU64,
    pub query_buffer_limit: AtomicU64,
    pub maxclients: AtomicU64,
    pub expire_effort: AtomicU64,
    pub has_password: AtomicBool,
    pub hash_max_listpack_entries: AtomicU64,
    pub hash_max_listpack_value: AtomicU64,
    pub set_max_intset_entries: AtomicU64,
    pub zset_max_listpack_entries: AtomicU64,
    pub zset_max_listpack_value: AtomicU64,
    /// Stored as i64 bits: negative values select a byte size per node.
    pub list_max_listpack_size: std::sync::atomic::AtomicI64,
    /// tracking-table-max-keys (0: unlimited).
    pub tracking_max_keys: std::sync::Arc<AtomicU64>,
    /// `key-load-delay`, read by the loading thread at every key.
    pub key_load_delay: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// busy-reply-threshold in ms: a script running longer gets other
    /// clients -BUSY.
    pub busy_reply_ms: AtomicU64,
    /// `notify-keyspace-events` as class bits (0: no notifications).
    pub notify_flags: std::sync::atomic::AtomicU32,
    /// `client-output-buffer-limit`, shared with the pub/sub hub.
    pub output_limits: std::sync::Arc<rubedo_pubsub::Limits>,
}

impl Default for Config {
    fn default() -> Self {
        let c = Config {
            values: RwLock::new(BTreeMap::new()),
            hz: AtomicU64::new(10),
            timeout: AtomicU64::new(0),
            proto_max_bulk_len: AtomicU64::new(512 << 20),
            query_buffer_limit: AtomicU64::new(1 << 30),
            maxclients: AtomicU64::new(10000),
            expire_effort: AtomicU64::new(1),
            hash_max_listpack_entries: AtomicU64::new(512),
            hash_max_listpack_value: AtomicU64::new(64),
            set_max_intset_entries: AtomicU64::new(512),
            zset_max_listpack_entries: AtomicU64::new(128),
            zset_max_listpack_value: AtomicU64::new(64),
            list_max_listpack_size: std::sync::atomic::AtomicI64::new(-2),
            notify_flags: std::sync::atomic::AtomicU32::new(0),
            busy_reply_ms: AtomicU64::new(5000),
            tracking_max_keys: std::sync::Arc::new(AtomicU64::new(1_000_000)),
            key_load_delay: std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0)),
            output_limits: Default::default(),
            has_password: AtomicBool::new(false),
        };
        for prm in PARAMS {
            c.values.write().insert(prm.name, prm.default.to_string());
        }
        c
    }
}

impl Config {
    /// The current value of a parameter by canonical name.
    pub fn get(&self, name: &str) -> Option<String> {
        if name == "dir" {
            // As Redis: the working directory, which `dir` changes.
            return std::env::current_dir()
                .ok()
                .map(|d| d.display().to_string());
        }
        self.values.read().get(name).cloned()
    }

    /// The snapshot save points (`save`): (seconds, changes) pairs.
    pub fn save_points(&self) -> Vec<(u64, u64)> {
        self.get("save")
            .and_then(|v| parse_save_points(&v))
            .unwrap_or_default()
    }

    /// A yes/no parameter.
    pub fn yes(&self, name: &str) -> bool {
        self.get(name).as_deref() == Some("yes")
    }

    pub fn databases(&self) -> usize {
        self.get("databases")
            .and_then(|v| v.parse().ok())
            .unwrap_or(16)
    }

    pub fn requirepass(&self) -> Option<String> {
        self.get("requirepass").filter(|s| !s.is_empty())
    }

    /// Every (name, value) pair whose name matches `pattern`.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(&'static str, String)> {
        let v = self.values.read();
        PARAMS
            .iter()
            .filter(|p| !p.hidden)
            .filter(|p| {
                rubedo_engine::glob::glob_match(pattern, p.name.as_bytes(), true)
                    || p.alias.is_some_and(|a| {
                        rubedo_engine::glob::glob_match(pattern, a.as_bytes(), true)
                    })
            })
            .map(|p| (p.name, v.get(p.name).cloned().unwrap_or_default()))
            .collect()
    }

    /// Validates and stores a value. `startup` allows immutable parameters.
    /// The error is the reason Redis would give after "argument 'x' - ".
    pub fn set(&self, name: &str, value: &str, startup: bool) -> Result<(), String> {
        let prm = find(name).ok_or_else(|| "unknown".to_string())?;
        if !prm.mutable && !startup {
            return Err("can't set immutable config".into());
        }
        let canon = match prm.kind {
            Kind::Int { min, max } => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
                if n < min || n > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                // Redis keeps hz within 1..=500 and shows the clamped value.
                if prm.name == "hz" {
                    n.clamp(1, 500).to_string()
                } else {
                    n.to_string()
                }
            }
            Kind::Mem { min, max } => {
                let n = parse_memory(value)
                    .ok_or_else(|| "argument must be a memory value".to_string())?;
                if n < min || n > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                n.to_string()
            }
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "yes" | "no" => value.to_ascii_lowercase(),
                _ => return Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::Enum(opts) => {
                let l = value.to_ascii_lowercase();
                if !opts.contains(&l.as_str()) {
                    return Err(
                        "argument(s) must be one of the following: ".to_string() + &opts.join(", ")
                    );
                }
                l
            }
            Kind::Str => value.to_string(),
            Kind::Events => {
                let f = rubedo_pubsub::notify::parse_flags(value.as_bytes()).ok_or_else(|| {
                    "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string()
                })?;
                self.notify_flags.store(f, Ordering::Relaxed);
                rubedo_pubsub::notify::format_flags(f)
            }
            Kind::OutputLimits => {
                for (class, limit) in parse_output_limits(value)? {
                    self.output_limits.set(class, limit);
                }
                format_output_limits(&self.output_limits)
            }
            Kind::ShutdownFlags => {
                const NAMES: [&str; 5] = ["default", "save", "nosave", "now", "force"];
                let mut set = [false; 5];
                let words: Vec<&str> = value.split_ascii_whitespace().collect();
                if words.is_empty() {
                    return Err("argument(s) must be one of the following: ".to_string()
                        + &NAMES.join(", "));
                }
                for w in words {
                    let l = w.to_ascii_lowercase();
                    match NAMES.iter().position(|n| *n == l) {
                        Some(i) => set[i] = true,
                        None => {
                            return Err("argument(s) must be one of the following: ".to_string()
                                + &NAMES.join(", "))
                        }
                    }
                }
                if set[1] && set[2] {
                    return Err(
                        "shutdown options SAVE and NOSAVE can't be used simultaneously".into(),
                    );
                }
                let on: Vec<&str> = (1..5).filter(|&i| set[i]).map(|i| NAMES[i]).collect();
                if on.is_empty() {
                    "default".into()
                } else {
                    on.join(" ")
                }
            }
            Kind::SavePoints => {
                parse_save_points(value).ok_or("Invalid save parameters")?;
                value.to_string()
            }
            Kind::Dir => {
                // Changed into by `apply_hot`, once validated.
                match std::fs::metadata(value) {
                    Ok(m) if m.is_dir() => value.to_string(),
                    Ok(_) => return Err("Not a directory".into()),
                    Err(e) => return Err(os_reason(&e)),
                }
            }
            Kind::FileName => {
                if value.contains('/') {
                    return Err(format!("{} can't be a path, just a filename", prm.name));
                }
                value.to_string()
            }
            Kind::DirName => {
                if value.contains('/') {
                    return Err(format!("{} can't be a path, just a dirname", prm.name));
                }
                value.to_string()
            }
            Kind::OffOnly(off) => {
                if value != off && !(off.is_empty() && value.trim().is_empty()) {
                    return Err(format!(
                        "'{}' other than '{off}' needs persistence, which this server does not have yet",
                        prm.name
                    ));
                }
                off.to_string()
            }
        };
        self.apply_hot(prm.name, &canon);
        self.values.write().insert(prm.name, canon);
        Ok(())
    }

    fn apply_hot(&self, name: &str, v: &str) {
        let n = v.parse::<u64>().unwrap_or(0);
        match name {
            "hz" => self.hz.store(n.clamp(1, 500), Ordering::Relaxed),
            "timeout" => self.timeout.store(n, Ordering::Relaxed),
            "busy-reply-threshold" => self.busy_reply_ms.store(n, Ordering::Relaxed),
            "proto-max-bulk-len" => self.proto_max_bulk_len.store(n, Ordering::Relaxed),
            "client-query-buffer-limit" => self.query_buffer_limit.store(n, Ordering::Relaxed),
            "maxclients" => self.maxclients.store(n, Ordering::Relaxed),
            "active-expire-effort" => self.expire_effort.store(n, Ordering::Relaxed),
            "hash-max-listpack-entries" => {
                self.hash_max_listpack_entries.store(n, Ordering::Relaxed)
            }
            "hash-max-listpack-value" => self.hash_max_listpack_value.store(n, Ordering::Relaxed),
            "set-max-intset-entries" => self.set_max_intset_entries.store(n, Ordering::Relaxed),
            "zset-max-listpack-entries" => {
                self.zset_max_listpack_entries.store(n, Ordering::Relaxed)
            }
            "zset-max-listpack-value" => self.zset_max_listpack_value.store(n, Ordering::Relaxed),
            "list-max-listpack-size" => self
                .list_max_listpack_size
                .store(v.parse().unwrap_or(-2), Ordering::Relaxed),
            "tracking-table-max-keys" => self.tracking_max_keys.store(n, Ordering::Relaxed),
            "key-load-delay" => self
                .key_load_delay
                .store(v.parse().unwrap_or(0), Ordering::Relaxed),
            "requirepass" => self.has_password.store(!v.is_empty(), Ordering::Relaxed),
            "dir" if !v.is_empty() => {
                if let Err(e) = std::env::set_current_dir(v) {
                    eprintln!("Can't chdir to '{v}': {e}");
                }
            }
            _ => {}
        }
    }
}

/// `save`'s value as Redis reads it: words split at single spaces, each an
/// integer, in pairs of seconds (at least 1) and changes (at least 0).
fn parse_save_points(v: &str) -> Option<Vec<(u64, u64)>> {
    if v.is_empty() {
        return Some(Vec::new());
    }
    let words: Vec<&str> = v.split(' ').collect();
    if !words.len().is_multiple_of(2) {
        return None;
    }
    words
        .chunks(2)
        .map(|w| {
            let secs: i64 = w[0].parse().ok()?;
            let changes: i64 = w[1].parse().ok()?;
            (secs >= 1 && changes >= 0).then_some((secs as u64, changes as u64))
        })
        .collect()
}

/// An OS error as Redis words it (strerror, without Rust's "(os error N)").
pub fn os_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Parses `client-output-buffer-limit` groups, all or nothing.
fn parse_output_limits(
    v: &str,
) -> Result<Vec<(rubedo_pubsub::Class, rubedo_pubsub::Limit)>, String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    words
        .chunks(4)
        .map(|g| {
            let class = rubedo_pubsub::Class::parse(g[0].as_bytes()).ok_or_else(|| {
                "Invalid client class specified in buffer limit configuration.".to_string()
            })?;
            let bad =
                || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
            let hard = parse_memory(g[1]).ok_or_else(bad)?;
            let soft = parse_memory(g[2]).ok_or_else(bad)?;
            let soft_secs: u64 = g[3].parse().map_err(|_| bad())?;
            Ok((
                class,
                rubedo_pubsub::Limit {
                    hard,
                    soft,
                    soft_secs,
                },
            ))
        })
        .collect()
}

/// The canonical text of the limits, as CONFIG GET shows it.
fn format_output_limits(l: &rubedo_pubsub::Limits) -> String {
    rubedo_pubsub::Class::ALL
        .iter()
        .map(|c| {
            let v = l.get(*c);
            format!("{} {} {} {}", c.config_name(), v.hard, v.soft, v.soft_secs)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits a config line into words with redis-cli style quoting.
pub fn split_line(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&c) = chars.peek() else {
            return Some(out);
        };
        let mut w = String::new();
        if c == '"' || c == '\'' {
            chars.next();
            loop {
                match chars.next()? {
                    ch if ch == c => break,
                    '\\' if c == '"' => match chars.next()? {
                        'n' => w.push('\n'),
                        't' => w.push('\t'),
                        'r' => w.push('\r'),
                        other => w.push(other),
                    },
                    ch => w.push(ch),
                }
            }
        } else {
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                w.push(ch);
                chars.next();
            }
        }
        out.push(w);
    }
}

/// Reads a redis.conf style text and `--name value...` flags into
/// (name, value) pairs, in order.
pub fn parse_sources(
    file_text: Option<&str>,
    flags: &[String],
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    if let Some(text) = file_text {
        for (no, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let words =
                split_line(t).ok_or_else(|| format!("line {}: unbalanced quotes", no + 1))?;
            let (name, rest) = words.split_first().expect("non-empty line");
            out.push((name.to_ascii_lowercase(), rest.join(" ")));
        }
    }
    let mut i = 0;
    while i < flags.len() {
        let name = flags[i]
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument '{}'", flags[i]))?;
        let mut vals = Vec::new();
        i += 1;
        while i < flags.len() && !flags[i].starts_with("--") {
            vals.push(flags[i].clone());
            i += 1;
        }
        out.push((name.to_ascii_lowercase(), vals.join(" ")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("512mb"), Some(512 << 20));
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("1k"), Some(1000));
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("x"), None);
    }

    #[test]
    fn sources_merge_file_then_flags() {
        let v = parse_sources(
            Some("port 7000\n# c\nhz 20\n"),
            &["--port".into(), "7001".into(), "--save".into(), "".into()],
        )
        .unwrap();
        assert_eq!(v[0], ("port".into(), "7000".into()));
        assert_eq!(v[2], ("port".into(), "7001".into()));
        assert_eq!(v[3], ("save".into(), "".into()));
    }

    #[test]
    fn set_validates() {
        let c = Config::default();
        assert!(c.set("hz", "abc", false).is_err());
        assert!(c.set("port", "1", false).is_err());
        assert!(c.set("hz", "20", false).is_ok());
        assert_eq!(c.get("hz").unwrap(), "20");
        assert!(c.set("appendfsync", "sometimes", false).is_err());
        assert!(c.set("save", "", false).is_ok());
    }
}
