//! `cargo xtask conformance`: runs the scenario files in tests/conformance against a
//! reference redis-server and the candidate server(s) in lock step, and compares the
//! replies byte for byte.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::procs::{self, Server, TempDir};
use crate::resp::{self, Conn, Outcome};
use crate::scenario::{self, Action, Check, Scenario, Step};
use crate::{workspace_root, Candidate, Engine};

/// How long one reply may take before it counts as a timeout.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How much of a reply a mismatch report shows.
const SHOW: usize = 300;
/// How long the end-of-connection probe waits for the reference's answer. A PING is
/// answered at once unless the connection cannot answer (blocked, `CLIENT REPLY OFF`):
/// then the reference stays silent, and so must the candidate for as long.
const PROBE_GRACE: Duration = Duration::from_millis(300);

pub struct Opts {
    pub release: bool,
    pub engine: Engine,
    pub filter: Option<String>,
    pub candidate_cmd: Option<String>,
    pub verbose: bool,
}

/// Returns the process exit code.
pub fn run(opts: Opts) -> i32 {
    let Some(redis) = procs::which("redis-server") else {
        println!("conformance: SKIPPED: redis-server not found (apt-get install redis-server)");
        // Under CI a missing reference must not pass as a green run.
        if std::env::var("CI").as_deref() == Ok("true") {
            println!("conformance: FAILED: CI=true, and nothing was compared");
            return 1;
        }
        return 0;
    };
    let scenarios = match load_scenarios(opts.filter.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("conformance: {e}");
            return 1;
        }
    };
    let candidates =
        match crate::candidates(opts.candidate_cmd.as_deref(), opts.engine, opts.release) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("conformance: {e}");
                return 1;
            }
        };
    let tmp = match TempDir::new("xtask-conformance") {
        Ok(t) => t,
        Err(e) => {
            eprintln!("conformance: cannot create a temporary directory: {e}");
            return 2;
        }
    };
    let mut run = Run::new(opts.verbose);
    // On a full run of rubedo-server, every command row must have been exercised.
    run.check_coverage = opts.filter.is_none() && opts.candidate_cmd.is_none();
    let code = run.all(&redis, &candidates, &scenarios, tmp.path());
    if run.keep_logs {
        eprintln!("conformance: server logs kept in {}", tmp.keep().display());
    }
    code
}

fn load_scenarios(filter: Option<&str>) -> Result<Vec<Scenario>, String> {
    let dir = workspace_root().join("tests/conformance");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .filter(|p| match filter {
            Some(f) => p
                .file_stem()
                .is_some_and(|s| s.to_string_lossy().contains(f)),
            None => true,
        })
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(match filter {
            Some(f) => format!("no scenario file in {} matches {f:?}", dir.display()),
            None => format!("no scenario files (*.txt) in {}", dir.display()),
        });
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in &paths {
        match scenario::load(p) {
            Ok(s) => out.push(s),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(format!("bad scenario files:\n  {}", errors.join("\n  ")))
    }
}

/// Connections to one server for one scenario file; opened on first use.
struct Target {
    port: u16,
    conns: Vec<Option<Conn>>,
    cur: usize,
    /// Set after a timeout or an I/O failure: the rest of the file is skipped.
    aborted: bool,
}

impl Target {
    fn new(port: u16) -> Target {
        Target {
            port,
            conns: Vec::new(),
            cur: 0,
            aborted: false,
        }
    }

    fn conn(&mut self) -> Result<&mut Conn, Outcome> {
        if self.conns.len() <= self.cur {
            self.conns.resize_with(self.cur + 1, || None);
        }
        let slot = &mut self.conns[self.cur];
        if slot.is_none() {
            let c = Conn::connect(self.port, REPLY_TIMEOUT)
                .map_err(|e| Outcome::Failed(format!("connect: {e}")))?;
            *slot = Some(c);
        }
        Ok(slot.as_mut().expect("just opened"))
    }

    /// Sends the action's bytes; an `Err` is the outcome to report instead of a reply.
    fn send(&mut self, action: &Action) -> Result<(), Outcome> {
        let bytes = match action {
            Action::Command(words) => resp::encode_command(words),
            Action::Raw(b) => b.clone(),
            Action::Read => return self.conn().map(|_| ()),
        };
        let res = self.conn()?.send(&bytes);
        res.map_err(|e| match e.kind() {
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset => {
                self.close();
                Outcome::Closed
            }
            _ => Outcome::Failed(format!("send: {e}")),
        })
    }

    fn read(&mut self, deadline: Instant) -> Outcome {
        let out = match self.conn() {
            Ok(c) => c.read_reply(deadline),
            Err(o) => o,
        };
        if out == Outcome::Closed {
            // The next use of this connection number opens a new connection.
            self.close();
        }
        out
    }

    fn close(&mut self) {
        if let Some(slot) = self.conns.get_mut(self.cur) {
            *slot = None;
        }
    }

    /// Connection `n` if it is open (never opens one).
    fn open_conn(&mut self, n: usize) -> Option<&mut Conn> {
        self.conns.get_mut(n).and_then(Option::as_mut)
    }

    /// Sends the end-of-connection probe on connection `n`, if it is open.
    fn send_probe(&mut self, n: usize) -> Option<Result<(), Outcome>> {
        let c = self.open_conn(n)?;
        Some(
            c.send(&resp::encode_command(&[b"PING".to_vec()]))
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset => {
                        Outcome::Closed
                    }
                    _ => Outcome::Failed(format!("send: {e}")),
                }),
        )
    }

    /// Reads the frame that follows the probe on connection `n`.
    fn read_probe(&mut self, n: usize, sent: Result<(), Outcome>, deadline: Instant) -> Outcome {
        match (sent, self.open_conn(n)) {
            (Err(o), _) => o,
            (Ok(()), Some(c)) => c.read_reply(deadline),
            (Ok(()), None) => Outcome::Closed,
        }
    }
}

/// A MONITOR line (`+<secs>.<usecs> [...`), which the probe compares masked: a
/// monitoring connection sees the other connections' probes.
fn is_monitor_line(o: &Outcome) -> bool {
    matches!(o, Outcome::Reply(b) if b.len() > 1 && b[0] == b'+' && b[1].is_ascii_digit())
}

#[derive(Default)]
struct Stats {
    files: usize,
    commands: usize,
    mismatches: usize,
}

struct Cand {
    spec: Candidate,
    server: Option<Server>,
    stats: Stats,
}

struct Run {
    verbose: bool,
    keep_logs: bool,
    /// Problems in the scenarios themselves (the reference timed out, ...).
    reference_errors: usize,
    /// Check, at the end, that every command row of the candidate was covered.
    check_coverage: bool,
    coverage: Coverage,
}

/// Rows the coverage check leaves out: their success cannot be compared in a scenario.
/// SYNC and PSYNC succeed with a snapshot stream (its AUX fields differ between any two
/// servers); tests/tests/e2e_rdb.rs checks it with redis-cli --rdb and redis-server.
const EXEMPT: &[&str] = &["shutdown", "sync", "psync"];

/// Which command rows (`get`, `client|id`) got a reply from the reference that was not
/// an error (nor `+QUEUED`) on a line compared by value (exact, sorted, or by shape):
/// a row whose every line is `!type`, `!any`, `!noreply` or an error case has its
/// success path untested.
#[derive(Default)]
struct Coverage {
    /// Commands with subcommands, whose rows are `parent|sub`.
    containers: BTreeSet<String>,
    covered: BTreeSet<String>,
}

impl Coverage {
    fn row(&self, words: &[Vec<u8>]) -> Option<String> {
        let name = String::from_utf8_lossy(words.first()?).to_ascii_lowercase();
        match words.get(1) {
            Some(sub) if self.containers.contains(&name) => Some(format!(
                "{name}|{}",
                String::from_utf8_lossy(sub).to_ascii_lowercase()
            )),
            _ => Some(name),
        }
    }

    fn record(&mut self, action: &Action, check: Check, expected: &Outcome) {
        let (Action::Command(words), Outcome::Reply(reply)) = (action, expected) else {
            return;
        };
        let compared = matches!(
            check,
            Check::Exact | Check::Sorted | Check::SortedPairs | Check::Shape
        );
        if compared && !resp::is_error(reply) && reply.as_slice() != b"+QUEUED\r\n" {
            if let Some(row) = self.row(words) {
                self.covered.insert(row);
            }
        }
    }
}

/// The command rows of the server on `port`, from its `COMMAND` reply: each
/// command's name, and for a container its subcommands' (`client|id`), plus the
/// set of containers.
fn command_rows(port: u16) -> Result<(Vec<String>, BTreeSet<String>), String> {
    let Outcome::Reply(reply) = resp::command(port, &["COMMAND"], REPLY_TIMEOUT) else {
        return Err("COMMAND gave no reply".into());
    };
    let (value, _) = resp::parse_value(&reply)?;
    let resp::Value::Array(entries) = value else {
        return Err("COMMAND did not reply an array".into());
    };
    let name = |e: &resp::Value| match e {
        resp::Value::Array(fields) => fields
            .first()
            .and_then(resp::Value::as_str)
            .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase()),
        _ => None,
    };
    let (mut rows, mut containers) = (Vec::new(), BTreeSet::new());
    for e in &entries {
        let n = name(e).ok_or("a COMMAND entry without a name")?;
        if let resp::Value::Array(fields) = e {
            if let Some(resp::Value::Array(subs)) = fields.get(9) {
                if !subs.is_empty() {
                    containers.insert(n.clone());
                }
                for s in subs {
                    rows.push(name(s).ok_or("a subcommand entry without a name")?);
                }
            }
        }
        rows.push(n);
    }
    rows.sort();
    Ok((rows, containers))
}

impl Run {
    fn new(verbose: bool) -> Run {
        Run {
            verbose,
            keep_logs: false,
            reference_errors: 0,
            check_coverage: false,
            coverage: Coverage::default(),
        }
    }

    fn all(
        &mut self,
        redis: &Path,
        candidates: &[Candidate],
        scenarios: &[Scenario],
        tmp: &Path,
    ) -> i32 {
        let mut reference = match start_reference(redis, tmp, &[], None) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("conformance: cannot start the reference: {e}");
                self.keep_logs = true;
                return 2;
            }
        };
        let mut cands: Vec<Cand> = Vec::new();
        let mut start_failures = 0;
        for spec in candidates {
            let mut avoid = vec![reference.port];
            avoid.extend(
                cands
                    .iter()
                    .filter_map(|c| c.server.as_ref().map(|s| s.port)),
            );
            match start_candidate(spec, tmp, &avoid) {
                Ok(s) => cands.push(Cand {
                    spec: spec.clone(),
                    server: Some(s),
                    stats: Stats::default(),
                }),
                Err(e) => {
                    eprintln!(
                        "conformance ({}): cannot start the candidate: {e}",
                        spec.label
                    );
                    self.keep_logs = true;
                    start_failures += 1;
                }
            }
        }
        let mut rows = Vec::new();
        let mut coverage_error = 0;
        if self.check_coverage {
            if let Some(port) = cands.iter().find_map(|c| c.server.as_ref().map(|s| s.port)) {
                match command_rows(port) {
                    Ok((r, containers)) => {
                        rows = r;
                        self.coverage.containers = containers;
                    }
                    Err(e) => {
                        println!("conformance: cannot read the candidate's command table: {e}");
                        coverage_error = 1;
                    }
                }
            }
        }
        eprintln!(
            "conformance: {} file(s); reference redis-server on port {}; {}",
            scenarios.len(),
            reference.port,
            cands
                .iter()
                .map(|c| format!(
                    "{} on port {}",
                    c.spec.label,
                    c.server.as_ref().map_or(0, |s| s.port)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !cands.is_empty() {
            for sc in scenarios {
                self.file(&reference, &mut cands, sc, tmp);
                if let Some(status) = reference.exit_status() {
                    println!(
                        "REFERENCE: redis-server exited ({status}) during {}; stopping\n{}",
                        sc.name,
                        reference.log_tail(20)
                    );
                    self.reference_errors += 1;
                    self.keep_logs = true;
                    break;
                }
            }
        }

        let mut mismatches = start_failures + self.reference_errors + coverage_error;
        // A container's own row only answers errors and its HELP (its subcommands
        // are rows of their own), and SHUTDOWN's success ends the server.
        let exempt = |r: &str| self.coverage.containers.contains(r) || EXEMPT.contains(&r);
        let uncovered: Vec<&String> = rows
            .iter()
            .filter(|r| !exempt(r) && !self.coverage.covered.contains(*r))
            .collect();
        if !uncovered.is_empty() {
            println!(
                "UNCOVERED: {} command row(s) never got a reply that is not an error from the \
                 reference on a line compared by value (not !type/!any/!noreply): {}",
                uncovered.len(),
                uncovered
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            mismatches += uncovered.len();
        }
        let mut commands = 0;
        for c in &cands {
            println!(
                "conformance ({}): {} files, {} commands, {} mismatches",
                c.spec.label, c.stats.files, c.stats.commands, c.stats.mismatches
            );
            mismatches += c.stats.mismatches;
            commands += c.stats.commands;
        }
        if self.reference_errors > 0 {
            println!(
                "conformance: {} problem(s) with the reference itself (fix the scenarios)",
                self.reference_errors
            );
        }
        if start_failures > 0 {
            println!("conformance: {start_failures} candidate(s) failed to start");
        }
        if mismatches == 0 {
            println!(
                "conformance: OK: {} candidate(s), {} files, {commands} commands, 0 mismatches",
                cands.len(),
                scenarios.len()
            );
            0
        } else {
            println!(
                "conformance: FAILED: {mismatches} mismatch(es) in {commands} commands over {} candidate(s)",
                cands.len()
            );
            1
        }
    }

    /// Checks that nothing more arrives on connection `n` after its last expected
    /// reply (at the end of the file, and before `!close`): a PING goes to every
    /// server on that connection and the next frame is compared with the reference's.
    /// A candidate with a stray push or an extra reply still queued shows it there
    /// instead of the reference's answer. The reference gets the same probe, so a
    /// subscribed (`pong` array), MONITOR (the feed comes first), MULTI (`QUEUED`),
    /// blocked or `CLIENT REPLY OFF` (silence) connection is compared as it is.
    fn probe(
        &mut self,
        ref_t: &mut Target,
        targets: &mut [Option<Target>],
        cands: &mut [Cand],
        file: &str,
        n: usize,
        last_line: usize,
    ) {
        let Some(ref_sent) = ref_t.send_probe(n) else {
            // Closed on the reference; a candidate that kept it open was reported
            // when the reference's close was compared.
            return;
        };
        let sent: Vec<Option<Result<(), Outcome>>> = targets
            .iter_mut()
            .map(|t| match t {
                Some(t) if !t.aborted => t.send_probe(n),
                _ => None,
            })
            .collect();
        let grace = Instant::now() + PROBE_GRACE;
        let expected = ref_t.read_probe(n, ref_sent, grace);
        // A silent reference waited the grace: the candidates get the same time.
        // Otherwise they get the normal reply timeout.
        let deadline = if expected == Outcome::Timeout {
            grace
        } else {
            Instant::now() + REPLY_TIMEOUT
        };
        if self.verbose {
            println!(
                "  {file}: end of connection {n}: PING\n    redis: {}",
                expected.show(SHOW)
            );
        }
        for ((c, t), s) in cands.iter_mut().zip(targets.iter_mut()).zip(sent) {
            let (Some(t), Some(s)) = (t.as_mut(), s) else {
                continue;
            };
            let actual = t.read_probe(n, s, deadline);
            if self.verbose {
                println!("    {}: {}", c.spec.label, actual.show(SHOW));
            }
            let same = actual == expected
                || (is_monitor_line(&expected)
                    && actual.monitor_masked() == expected.monitor_masked());
            if !same {
                c.stats.mismatches += 1;
                println!(
                    "MISMATCH ({}) {file}: connection {n} after its last line ({file}:{last_line}): \
                     the next frame after a probing PING differs (an extra or missing reply or push?)\n    \
                     expected: {}\n    actual:   {}",
                    c.spec.label,
                    expected.show(SHOW),
                    actual.show(SHOW)
                );
            }
        }
    }

    /// Runs one scenario file on the reference and every live candidate.
    fn file(&mut self, reference: &Server, cands: &mut [Cand], sc: &Scenario, tmp: &Path) {
        let setup = resp::command(reference.port, &["FLUSHALL"], REPLY_TIMEOUT);
        if setup != ok() {
            println!(
                "REFERENCE {}: setup FLUSHALL replied {}",
                sc.name,
                setup.show(SHOW)
            );
            self.reference_errors += 1;
            return;
        }
        let mut ref_t = Target::new(reference.port);
        let mut targets: Vec<Option<Target>> = Vec::new();
        for c in cands.iter_mut() {
            let Some(srv) = &c.server else {
                targets.push(None);
                continue;
            };
            c.stats.files += 1;
            let setup = resp::command(srv.port, &["FLUSHALL"], REPLY_TIMEOUT);
            if setup != ok() {
                println!(
                    "MISMATCH ({}) {}: setup FLUSHALL\n    expected: {}\n    actual:   {}",
                    c.spec.label,
                    sc.name,
                    ok().show(SHOW),
                    setup.show(SHOW)
                );
                c.stats.mismatches += 1;
                targets.push(None);
                continue;
            }
            targets.push(Some(Target::new(srv.port)));
        }

        // The last line sent on each connection number, for the end-of-connection probe.
        let mut last_line = [0usize; scenario::MAX_CONNS];
        let mut ref_broken_file = false;
        for line in &sc.lines {
            let where_ = format!("{}:{}", sc.name, line.no);
            match &line.step {
                Step::Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
                Step::Conn(n) => {
                    ref_t.cur = *n;
                    targets.iter_mut().flatten().for_each(|t| t.cur = *n);
                }
                Step::Close => {
                    let n = ref_t.cur;
                    self.probe(&mut ref_t, &mut targets, cands, &sc.name, n, last_line[n]);
                    ref_t.close();
                    targets.iter_mut().flatten().for_each(Target::close);
                }
                Step::Send { action, check } => {
                    last_line[ref_t.cur] = line.no;
                    let deadline = Instant::now() + REPLY_TIMEOUT;
                    // Send everywhere first, then read: the servers work at the
                    // same time, so blocking commands and timers line up.
                    let ref_sent = ref_t.send(action);
                    let sent: Vec<Option<Result<(), Outcome>>> = targets
                        .iter_mut()
                        .map(|t| match t {
                            Some(t) if !t.aborted => Some(t.send(action)),
                            _ => None,
                        })
                        .collect();
                    if *check == Check::NoReply {
                        for (c, s) in cands.iter_mut().zip(&sent) {
                            if s.is_some() {
                                c.stats.commands += 1;
                            }
                        }
                        if self.verbose {
                            println!("  {where_}: {}  (not read)", line.text);
                        }
                        continue;
                    }
                    let expected = ref_sent.err().unwrap_or_else(|| ref_t.read(deadline));
                    self.coverage.record(action, *check, &expected);
                    if self.verbose {
                        println!(
                            "  {where_}: {}\n    redis: {}",
                            line.text,
                            expected.show(SHOW)
                        );
                    }
                    let ref_broken = matches!(expected, Outcome::Timeout | Outcome::Failed(_));
                    for ((c, t), s) in cands.iter_mut().zip(targets.iter_mut()).zip(sent) {
                        let (Some(t), Some(s)) = (t.as_mut(), s) else {
                            continue;
                        };
                        c.stats.commands += 1;
                        let actual = s.err().unwrap_or_else(|| t.read(deadline));
                        if self.verbose {
                            println!("    {}: {}", c.spec.label, actual.show(SHOW));
                        }
                        if ref_broken {
                            t.aborted = true;
                            continue;
                        }
                        let same = match check {
                            Check::Exact => actual == expected,
                            Check::Sorted => actual.sorted() == expected.sorted(),
                            Check::SortedPairs => actual.sorted_pairs() == expected.sorted_pairs(),
                            Check::Type => actual.same_type(&expected),
                            Check::Shape => actual.shape() == expected.shape(),
                            Check::Any => actual.same_kind(&expected),
                            Check::NoReply => true,
                            Check::Monitor => actual.monitor_masked() == expected.monitor_masked(),
                        };
                        if !same {
                            c.stats.mismatches += 1;
                            let how = match check {
                                Check::Sorted => " (compared sorted)",
                                Check::SortedPairs => " (compared sorted by pairs)",
                                Check::Type => " (type only)",
                                Check::Shape => " (shape only)",
                                Check::Any => " (reply kind only)",
                                Check::Monitor => " (time and address masked)",
                                _ => "",
                            };
                            println!(
                                "MISMATCH ({}) {where_}: {}{how}\n    expected: {}\n    actual:   {}",
                                c.spec.label,
                                line.text,
                                expected.show(SHOW),
                                actual.show(SHOW)
                            );
                            if matches!(actual, Outcome::Timeout | Outcome::Failed(_)) {
                                // The connection is out of step; later replies would
                                // only repeat this failure.
                                t.aborted = true;
                                println!("    (rest of {} skipped for {})", sc.name, c.spec.label);
                            }
                        }
                    }
                    if ref_broken {
                        self.reference_errors += 1;
                        println!(
                            "REFERENCE {where_}: {}: redis-server gave {}; rest of {} skipped",
                            line.text,
                            expected.show(SHOW),
                            sc.name
                        );
                        ref_broken_file = true;
                        break;
                    }
                }
            }
        }
        if !ref_broken_file {
            let open = ref_t.conns.len();
            for (n, &last) in last_line.iter().enumerate().take(open) {
                self.probe(&mut ref_t, &mut targets, cands, &sc.name, n, last);
            }
        }
        drop(targets);

        // A candidate that died in this file is reported and started afresh.
        for c in cands.iter_mut() {
            let Some(srv) = c.server.as_mut() else {
                continue;
            };
            let Some(status) = srv.exit_status() else {
                continue;
            };
            self.keep_logs = true;
            c.stats.mismatches += 1;
            println!(
                "CRASH ({}): the candidate exited ({status}) during {}\n{}",
                c.spec.label,
                sc.name,
                srv.log_tail(20)
            );
            c.server = None;
            match start_candidate(&c.spec, tmp, &[reference.port]) {
                Ok(s) => c.server = Some(s),
                Err(e) => println!(
                    "conformance ({}): restart failed, no more files for it: {e}",
                    c.spec.label
                ),
            }
        }
    }
}

fn ok() -> Outcome {
    Outcome::Reply(b"+OK\r\n".to_vec())
}

/// Starts `redis-server` as the reference, bound to loopback, without persistence,
/// with DEBUG enabled.
pub fn start_reference(
    redis: &Path,
    dir: &Path,
    avoid: &[u16],
    cpus: Option<&str>,
) -> Result<Server, String> {
    let port = procs::free_port(avoid);
    let argv: Vec<String> = vec![
        redis.display().to_string(),
        "--port".into(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--save".into(),
        String::new(),
        "--appendonly".into(),
        "no".into(),
        "--dir".into(),
        dir.display().to_string(),
        // Scenarios use DEBUG (PROTOCOL, SLEEP, SET-ACTIVE-EXPIRE ...) the way Redis's
        // own test suite does; it is off by default since 7.0.
        "--enable-debug-command".into(),
        "yes".into(),
    ];
    Server::start("redis", &argv, port, dir, cpus, STARTUP_TIMEOUT)
}

fn start_candidate(spec: &Candidate, dir: &Path, avoid: &[u16]) -> Result<Server, String> {
    let port = procs::free_port(avoid);
    Server::start(
        &spec.label,
        &spec.argv_in(port, dir),
        port,
        dir,
        None,
        STARTUP_TIMEOUT,
    )
}
