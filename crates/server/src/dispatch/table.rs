//! The command table: one declarative row per command, the single source of
//! truth for dispatch, arity, key positions, flags, ACL categories and
//! COMMAND's replies. Each family module contributes its rows.

use bytes::Bytes;

use crate::dispatch::ctx::Ctx;
use crate::error::CmdResult;

/// A command handler: parses its arguments, executes, returns the reply.
pub type Handler = fn(&mut Ctx<'_, '_>) -> CmdResult;

/// Command flags, as COMMAND INFO names them.
pub mod flag {
    pub const WRITE: u64 = 1 << 0;
    pub const READONLY: u64 = 1 << 1;
    pub const DENYOOM: u64 = 1 << 2;
    pub const ADMIN: u64 = 1 << 3;
    pub const PUBSUB: u64 = 1 << 4;
    pub const NOSCRIPT: u64 = 1 << 5;
    pub const BLOCKING: u64 = 1 << 6;
    pub const LOADING: u64 = 1 << 7;
    pub const STALE: u64 = 1 << 8;
    pub const SKIP_MONITOR: u64 = 1 << 9;
    pub const SKIP_SLOWLOG: u64 = 1 << 10;
    pub const FAST: u64 = 1 << 11;
    pub const NO_AUTH: u64 = 1 << 12;
    pub const MAY_REPLICATE: u64 = 1 << 13;
    pub const NO_MULTI: u64 = 1 << 14;
    pub const ALLOW_BUSY: u64 = 1 << 15;
    pub const SENTINEL: u64 = 1 << 16;
    pub const ONLY_SENTINEL: u64 = 1 << 17;
    pub const NO_MANDATORY_KEYS: u64 = 1 << 18;
    pub const NO_ASYNC_LOADING: u64 = 1 << 19;
    pub const TOUCHES_ARBITRARY_KEYS: u64 = 1 << 20;
    /// Refused unless `enable-debug-command` allows it (DEBUG).
    pub const PROTECTED: u64 = 1 << 21;
    /// Keys found by parsing the arguments (shown by COMMAND INFO, never declared).
    pub const MOVABLE_KEYS: u64 = 1 << 22;
    pub const ALLOW_LOADING: u64 = LOADING;
    // Rubedo's own flags (never shown by COMMAND INFO): what the admission
    // gate reads instead of command names.
    /// May run in a RESP2 connection that has subscriptions.
    pub const SUBSCRIBED_OK: u64 = 1 << 23;
    /// Runs at once inside MULTI instead of being queued (EXEC, DISCARD...).
    pub const NOT_QUEUED: u64 = 1 << 24;
    /// Runs the client's queued transaction (EXEC): a refusal discards it.
    pub const RUNS_QUEUE: u64 = 1 << 25;
    /// Allowed on a cluster's importing slot after ASKING (RESTORE-ASKING).
    pub const ASKING: u64 = 1 << 26;
    /// Stops the busy script (SCRIPT KILL, FUNCTION KILL): the gate answers
    /// it without a run, as the script holds the locks.
    pub const KILLS_SCRIPT: u64 = 1 << 27;
    /// FUNCTION KILL's counterpart of KILLS_SCRIPT.
    pub const KILLS_FUNCTION: u64 = 1 << 28;
    /// Runs a script (EVAL, FCALL and their kin): MONITOR shows it before
    /// the commands it calls.
    pub const RUNS_SCRIPT: u64 = 1 << 29;
    /// While a script is busy (and holds every lock) it runs without
    /// locks; its handler refuses what would need the data (SHUTDOWN:
    /// only NOSAVE goes on).
    pub const BUSY_NOLOCK: u64 = 1 << 30;

    /// Names in the order COMMAND INFO lists them.
    pub const NAMES: &[(u64, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// ACL categories, as COMMAND INFO and ACL CAT name them.
pub mod acl {
    pub const KEYSPACE: u64 = 1 << 0;
    pub const READ: u64 = 1 << 1;
    pub const WRITE: u64 = 1 << 2;
    pub const SET: u64 = 1 << 3;
    pub const SORTEDSET: u64 = 1 << 4;
    pub const LIST: u64 = 1 << 5;
    pub const HASH: u64 = 1 << 6;
    pub const STRING: u64 = 1 << 7;
    pub const BITMAP: u64 = 1 << 8;
    pub const HYPERLOGLOG: u64 = 1 << 9;
    pub const GEO: u64 = 1 << 10;
    pub const STREAM: u64 = 1 << 11;
    pub const PUBSUB: u64 = 1 << 12;
    pub const ADMIN: u64 = 1 << 13;
    pub const FAST: u64 = 1 << 14;
    pub const SLOW: u64 = 1 << 15;
    pub const BLOCKING: u64 = 1 << 16;
    pub const DANGEROUS: u64 = 1 << 17;
    pub const CONNECTION: u64 = 1 << 18;
    pub const TRANSACTION: u64 = 1 << 19;
    pub const SCRIPTING: u64 = 1 << 20;

    pub const NAMES: &[(u64, &str)] = &[
        (KEYSPACE, "keyspace"),
        (READ, "read"),
        (WRITE, "write"),
        (SET, "set"),
        (SORTEDSET, "sortedset"),
        (LIST, "list"),
        (HASH, "hash"),
        (STRING, "string"),
        (BITMAP, "bitmap"),
        (HYPERLOGLOG, "hyperloglog"),
        (GEO, "geo"),
        (STREAM, "stream"),
        (PUBSUB, "pubsub"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (SLOW, "slow"),
        (BLOCKING, "blocking"),
        (DANGEROUS, "dangerous"),
        (CONNECTION, "connection"),
        (TRANSACTION, "transaction"),
        (SCRIPTING, "scripting"),
    ];
}

/// Key-spec flags (how a command uses a group of keys), as bits so that
/// checks over them (ACL's read/write key patterns) are a mask test.
pub mod kf {
    pub const RO: u32 = 1 << 0;
    pub const RW: u32 = 1 << 1;
    pub const OW: u32 = 1 << 2;
    pub const RM: u32 = 1 << 3;
    pub const ACCESS: u32 = 1 << 4;
    pub const UPDATE: u32 = 1 << 5;
    pub const INSERT: u32 = 1 << 6;
    pub const DELETE: u32 = 1 << 7;
    pub const NOT_KEY: u32 = 1 << 8;
    pub const INCOMPLETE: u32 = 1 << 9;
    pub const VARIABLE_FLAGS: u32 = 1 << 10;

    /// Names in the order COMMAND INFO lists them.
    pub const NAMES: &[(u32, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];

    /// The names of the flags set in `bits`, in COMMAND INFO's order.
    pub fn names(bits: u32) -> impl Iterator<Item = &'static str> {
        NAMES
            .iter()
            .filter(move |(b, _)| bits & b != 0)
            .map(|(_, n)| *n)
    }
}

/// How a key spec finds its keys after its first argument.
#[derive(Clone, Copy, Debug)]
pub enum Find {
    /// Up to `lastkey` (relative to the start; negative counts from the end
    /// of the arguments), every `keystep` arguments.
    Range { lastkey: i32, keystep: i32 },
    /// The argument at start + `keynumidx` says how many keys follow,
    /// starting at start + `firstkey`, every `keystep` (SINTERCARD, ZUNION...).
    Keynum {
        keynumidx: i32,
        firstkey: i32,
        keystep: i32,
    },
    /// Keys only the command itself can find (SORT's BY/GET/STORE): both the
    /// start and the extent are "unknown" in COMMAND INFO.
    Unknown,
}

/// One key specification, as Redis 7's COMMAND INFO reports it: a group of
/// keys starting at argument `index`, found as `find` says, with flags
/// saying how the command uses them.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// [`kf`] bits.
    pub flags: u32,
    pub notes: &'static str,
    pub index: i32,
    pub find: Find,
}

/// A key spec over the range of arguments `index..` (see [`Find::Range`]).
pub const fn ks(flags: u32, index: i32, lastkey: i32, keystep: i32) -> Spec {
    Spec {
        flags,
        notes: "",
        index,
        find: Find::Range { lastkey, keystep },
    }
}

/// A key spec whose key count is an argument (see [`Find::Keynum`]).
pub const fn ks_keynum(
    flags: u32,
    index: i32,
    keynumidx: i32,
    firstkey: i32,
    keystep: i32,
) -> Spec {
    Spec {
        flags,
        notes: "",
        index,
        find: Find::Keynum {
            keynumidx,
            firstkey,
            keystep,
        },
    }
}

/// A key spec whose keys only the command can find (see [`Find::Unknown`]).
pub const fn ks_unknown(flags: u32) -> Spec {
    Spec {
        flags,
        notes: "",
        index: 0,
        find: Find::Unknown,
    }
}

impl Spec {
    /// Adds an explanation of unusual flags.
    pub const fn notes(mut self, n: &'static str) -> Spec {
        self.notes = n;
        self
    }

    /// Pushes the indexes of this spec's keys in `argv`.
    fn keys(&self, argv: &[Bytes], out: &mut Vec<usize>) {
        let argc = argv.len() as i64;
        let (first, last, step) = match self.find {
            Find::Range { lastkey, keystep } => {
                let last = if lastkey < 0 {
                    argc + lastkey as i64
                } else {
                    (self.index + lastkey) as i64
                };
                (self.index as i64, last, keystep as i64)
            }
            Find::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                // A bad count finds no keys; the handler reports the error.
                let n = argv
                    .get((self.index + keynumidx) as usize)
                    .and_then(|a| rubedo_engine::value::parse_i64(a))
                    .filter(|n| *n > 0)
                    .unwrap_or(0);
                let first = (self.index + firstkey) as i64;
                // Saturating: a huge count must not overflow; the loop below stops
                // at the last argument anyway.
                let last = first.saturating_add((n - 1).saturating_mul(keystep as i64));
                (first, last, keystep as i64)
            }
            Find::Unknown => return,
        };
        let mut i = first;
        while step > 0 && i <= last && i < argc {
            out.push(i as usize);
            i += step;
        }
    }
}

/// Finds a command's key arguments (their indexes) by parsing them.
pub type KeysFn = fn(&[Bytes]) -> Vec<usize>;

/// Where a command's keys are.
#[derive(Clone, Copy)]
pub enum KeySpec {
    None,
    /// Declared key specifications.
    Specs(&'static [Spec]),
}

/// What a command locks in the concurrent engine.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lock {
    /// The keys its key spec names (none for keyless commands). A keyless
    /// command that reads a whole database (DBSIZE, SCAN, INFO) holds no
    /// shard for its run and reads the shards one at a time
    /// (`Dbs::db_len`, `Dbs::scan_db`, `Dbs::db_sizes`).
    Keys,
    /// Its whole current database.
    Db,
    /// Everything, exclusively.
    All,
    /// No data and no lock: the command changes only its connection
    /// (MULTI, AUTH, HELLO...), so it runs even while a script holds
    /// everything under the concurrent engine.
    None,
}

/// One row of the command table.
pub struct Cmd {
    /// Lower case; subcommands are named `parent|sub`.
    pub name: &'static str,
    pub arity: i32,
    pub flags: u64,
    pub acl: u64,
    pub keys: KeySpec,
    /// Finds the keys by parsing the arguments, for commands whose key specs
    /// cannot (SORT): used instead of the specs to extract keys.
    pub keys_fn: Option<KeysFn>,
    pub lock: Lock,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    pub handler: Option<Handler>,
    pub subs: &'static [Cmd],
    pub tips: &'static [&'static str],
}

impl Cmd {
    pub const fn new(name: &'static str, arity: i32, handler: Handler) -> Cmd {
        Cmd {
            name,
            arity,
            flags: 0,
            acl: 0,
            keys: KeySpec::None,
            keys_fn: None,
            lock: Lock::Keys,
            group: "",
            since: "1.0.0",
            summary: "",
            complexity: "O(1)",
            handler: Some(handler),
            subs: &[],
            tips: &[],
        }
    }

    /// A container command (CLIENT, CONFIG, OBJECT...) dispatching on its subcommand.
    pub const fn container(name: &'static str, subs: &'static [Cmd]) -> Cmd {
        Cmd {
            name,
            arity: -2,
            flags: 0,
            acl: 0,
            keys: KeySpec::None,
            keys_fn: None,
            lock: Lock::Keys,
            group: "",
            since: "1.0.0",
            summary: "",
            complexity: "Depends on subcommand.",
            handler: None,
            subs,
            tips: &[],
        }
    }

    /// The handler a container runs when called without a subcommand (COMMAND).
    pub const fn with_handler(mut self, h: Handler) -> Cmd {
        self.handler = Some(h);
        self.arity = -1;
        self
    }

    pub const fn flags(mut self, f: u64) -> Cmd {
        self.flags = f;
        self
    }

    pub const fn acl(mut self, a: u64) -> Cmd {
        self.acl = a;
        self
    }

    pub const fn specs(mut self, specs: &'static [Spec]) -> Cmd {
        self.keys = KeySpec::Specs(specs);
        self
    }

    /// Hints for cluster clients (COMMAND INFO "tips").
    pub const fn tips(mut self, tips: &'static [&'static str]) -> Cmd {
        self.tips = tips;
        self
    }

    pub const fn keys_fn(mut self, f: KeysFn) -> Cmd {
        self.keys_fn = Some(f);
        self
    }

    pub const fn lock(mut self, l: Lock) -> Cmd {
        self.lock = l;
        self
    }

    pub const fn doc(
        mut self,
        group: &'static str,
        since: &'static str,
        complexity: &'static str,
        summary: &'static str,
    ) -> Cmd {
        self.group = group;
        self.since = since;
        self.complexity = complexity;
        self.summary = summary;
        self
    }

    pub fn has(&self, f: u64) -> bool {
        self.flags & f != 0
    }

    /// Redis's arity rule: positive = exact, negative = at least.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a > 0 && argc == a as usize) || (a < 0 && argc >= (-a) as usize)
    }

    /// Indexes of the key arguments in `argv`, in argument order.
    pub fn key_indexes(&self, argv: &[Bytes]) -> Vec<usize> {
        if let Some(f) = self.keys_fn {
            return f(argv);
        }
        match self.keys {
            KeySpec::None => Vec::new(),
            KeySpec::Specs(specs) => {
                let mut out = Vec::new();
                for s in specs {
                    s.keys(argv, &mut out);
                }
                out.sort_unstable();
                out.dedup();
                out
            }
        }
    }

    /// True if the keys can only be found by reading the arguments
    /// (COMMAND INFO's `movablekeys`).
    pub fn movable_keys(&self) -> bool {
        self.keys_fn.is_some()
            || match self.keys {
                KeySpec::Specs(specs) => {
                    specs.iter().any(|s| !matches!(s.find, Find::Range { .. }))
                }
                KeySpec::None => false,
            }
    }

    /// The legacy (first, last, step) triple of COMMAND INFO, derived from
    /// the range key specs the way Redis derives it.
    pub fn key_triple(&self) -> (i32, i32, i32) {
        let KeySpec::Specs(specs) = self.keys else {
            return (0, 0, 0);
        };
        let ranges: Vec<(i32, i32, i32)> = specs
            .iter()
            .filter_map(|s| match s.find {
                Find::Range { lastkey, keystep } => Some((s.index, lastkey, keystep)),
                Find::Keynum { .. } | Find::Unknown => None,
            })
            .collect();
        if ranges.is_empty() {
            return (0, 0, 0);
        }
        let first = ranges.iter().map(|r| r.0).min().unwrap_or(0);
        let last = match ranges.iter().find(|r| r.1 < 0) {
            Some(neg) => neg.1,
            None => ranges.iter().map(|r| r.0 + r.1).max().unwrap_or(0),
        };
        (first, last, ranges[0].2)
    }
}

/// Every command, indexed by name, with a dense id per command and
/// subcommand (for statistics).
pub struct Table {
    /// Top-level commands by name: open addressing over `names_slots`
    /// (each slot holds an index into `top` plus one; 0 is empty). Every
    /// request looks its command up, so the probe hashes the lowered name
    /// as it lowers it and compares bytes, with no allocation or UTF-8 check.
    names_slots: Box<[u16]>,
    /// Row address -> id, the same way (slot holds id + 1).
    ids_slots: Box<[u16]>,
    /// Top-level commands in registration order.
    pub top: Vec<&'static Cmd>,
    /// Every command and subcommand; the index is its id.
    pub all: Vec<&'static Cmd>,
}

/// The longest command name Redis has is shorter than this.
const MAX_NAME: usize = 32;

/// FNV-1a over the name's lower-case bytes.
fn name_hash(lower: &[u8]) -> u32 {
    lower.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    })
}

/// A row's address, mixed (rows are 'static, so addresses are stable).
fn addr_hash(c: &'static Cmd) -> u32 {
    let a = (c as *const Cmd as usize as u64) >> 3;
    (a.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as u32
}

/// The first free slot for `hash` (linear probing).
fn free_slot(slots: &[u16], hash: u32) -> usize {
    let mask = slots.len() - 1;
    let mut i = hash as usize & mask;
    while slots[i] != 0 {
        i = (i + 1) & mask;
    }
    i
}

impl Table {
    pub fn new(families: &[&'static [Cmd]]) -> Table {
        let mut t = Table {
            names_slots: Box::new([]),
            ids_slots: Box::new([]),
            top: Vec::new(),
            all: Vec::new(),
        };
        for fam in families {
            for c in fam.iter() {
                assert!(c.name.len() <= MAX_NAME && c.name == c.name.to_ascii_lowercase());
                assert!(
                    !t.top.iter().any(|o| o.name == c.name),
                    "duplicate command {}",
                    c.name
                );
                t.top.push(c);
                t.all.push(c);
                t.all.extend(c.subs.iter());
            }
        }
        assert!(t.all.len() < u16::MAX as usize);
        // At most half full, so probes stay short.
        let mut names = vec![0u16; (t.top.len() * 2).next_power_of_two()];
        for (i, c) in t.top.iter().enumerate() {
            let at = free_slot(&names, name_hash(c.name.as_bytes()));
            names[at] = i as u16 + 1;
        }
        let mut ids = vec![0u16; (t.all.len() * 2).next_power_of_two()];
        for (i, c) in t.all.iter().enumerate() {
            let at = free_slot(&ids, addr_hash(c));
            ids[at] = i as u16 + 1;
        }
        t.names_slots = names.into_boxed_slice();
        t.ids_slots = ids.into_boxed_slice();
        t
    }

    /// Case-insensitive lookup of a top-level command.
    pub fn get(&self, name: &[u8]) -> Option<&'static Cmd> {
        if name.len() > MAX_NAME {
            return None;
        }
        let mut buf = [0u8; MAX_NAME];
        let mut h = 0x811c_9dc5u32;
        for (d, &b) in buf.iter_mut().zip(name) {
            let l = b.to_ascii_lowercase();
            *d = l;
            h = (h ^ l as u32).wrapping_mul(0x0100_0193);
        }
        let lower = &buf[..name.len()];
        let mask = self.names_slots.len() - 1;
        let mut i = h as usize & mask;
        loop {
            match self.names_slots[i] {
                0 => return None,
                n => {
                    let c = self.top[n as usize - 1];
                    if c.name.as_bytes() == lower {
                        return Some(c);
                    }
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Looks up `argv`'s command and, for containers, its subcommand.
    pub fn resolve(&self, argv: &[Bytes]) -> Option<&'static Cmd> {
        let c = self.get(&argv[0])?;
        if c.subs.is_empty() || argv.len() < 2 {
            return Some(c);
        }
        Some(sub_of(c, &argv[1]).unwrap_or(c))
    }

    /// The dense id of a row of this table.
    pub fn id(&self, c: &'static Cmd) -> usize {
        let mask = self.ids_slots.len() - 1;
        let mut i = addr_hash(c) as usize & mask;
        loop {
            match self.ids_slots[i] {
                0 => panic!("{} is not a row of this table", c.name),
                n if std::ptr::eq(self.all[n as usize - 1], c) => return n as usize - 1,
                _ => i = (i + 1) & mask,
            }
        }
    }
}

/// A container's subcommand by name.
pub fn sub_of(c: &'static Cmd, name: &[u8]) -> Option<&'static Cmd> {
    c.subs.iter().find(|s| {
        let short = s.name.rsplit('|').next().unwrap_or(s.name);
        short.as_bytes().eq_ignore_ascii_case(name)
    })
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

    fn nop(_: &mut Ctx<'_, '_>) -> CmdResult {
        Ok(rubedo_resp::Frame::ok())
    }

    #[test]
    fn every_row_is_found_by_name_in_any_case_and_has_its_own_id() {
        let t = Table::new(&crate::cmd::families());
        for (i, c) in t.all.iter().enumerate() {
            assert_eq!(t.id(c), i, "{}", c.name);
        }
        for c in &t.top {
            let upper = c.name.to_ascii_uppercase();
            assert!(std::ptr::eq(t.get(upper.as_bytes()).unwrap(), *c));
            assert!(std::ptr::eq(t.get(c.name.as_bytes()).unwrap(), *c));
            let mut longer = c.name.as_bytes().to_vec();
            longer.push(b'x');
            assert!(t.get(&longer).is_none_or(|o| o.name.as_bytes() == longer));
            assert!(t
                .get(&c.name.as_bytes()[1..])
                .is_none_or(|o| o.name != c.name));
        }
        for miss in [&b""[..], b"nosuch", b"s\xc3\xa9t", &[b'g'; 40], b"get\0"] {
            assert!(t.get(miss).is_none());
        }
    }

    #[test]
    fn range_specs_find_keys_and_derive_the_legacy_triple() {
        static SPECS: &[Spec] = &[ks(kf::OW | kf::UPDATE, 1, -1, 2)];
        let c = Cmd::new("mset", -3, nop).specs(SPECS);
        assert_eq!(
            c.key_indexes(&argv(&["mset", "a", "1", "b", "2"])),
            vec![1, 3]
        );
        assert_eq!(c.key_triple(), (1, -1, 2));
        assert!(!c.movable_keys());
        static TWO: &[Spec] = &[ks(kf::RW, 1, 0, 1), ks(kf::OW, 2, 0, 1)];
        let c = Cmd::new("rename", 3, nop).specs(TWO);
        assert_eq!(c.key_indexes(&argv(&["rename", "a", "b"])), vec![1, 2]);
        assert_eq!(c.key_triple(), (1, 2, 1));
    }

    #[test]
    fn keynum_specs_read_the_count_argument() {
        static SPECS: &[Spec] = &[ks_keynum(kf::RO | kf::ACCESS, 1, 0, 1, 1)];
        let c = Cmd::new("sintercard", -3, nop).specs(SPECS);
        let a = argv(&["sintercard", "2", "x", "y", "LIMIT", "1"]);
        assert_eq!(c.key_indexes(&a), vec![2, 3]);
        assert_eq!(c.key_triple(), (0, 0, 0));
        assert!(c.movable_keys());
        // A count larger than the arguments stops at the end; a bad count finds nothing.
        assert_eq!(c.key_indexes(&argv(&["sintercard", "5", "x"])), vec![2]);
        assert!(c.key_indexes(&argv(&["sintercard", "abc", "x"])).is_empty());
        // The largest counts do not overflow.
        let huge = argv(&["sintercard", "9223372036854775807", "x"]);
        assert_eq!(c.key_indexes(&huge), vec![2]);
    }
}
