//! `cargo xtask bench`: redis-benchmark workloads against the candidate(s) and a
//! reference redis-server, interleaved (candidate, redis, candidate, redis, ...) so
//! that each pair of runs shares the machine's background load; the figures that
//! matter are the median paired ratios. The method is that of
//! ../shared/tools/bench-vs-redis (see its .md), in a smaller form.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::procs::{self, Server, TempDir};
use crate::{conformance, fanout, Candidate, Engine};

pub const DEFAULT_WORKLOADS: &str = "SET,GET,INCR,SET_P16,GET_P16,SET_1KB,GET_1KB";
const ALL_WORKLOADS: &str = "SET,GET,INCR,LPUSH,RPUSH,LPOP,RPOP,SADD,SPOP,HSET,ZADD,ZPOPMIN,\
                             LRANGE_100,MSET,SET_P16,GET_P16,SET_1KB,GET_1KB,FANOUT";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Opts {
    pub rounds: usize,
    pub run_seconds: f64,
    pub workloads: String,
    pub engine: Engine,
    pub pipeline_only: bool,
    pub candidate_cmd: Option<String>,
    pub pin: bool,
    pub clients: u32,
    pub keyspace: u64,
    pub list: bool,
}

/// What redis-benchmark runs for a workload, before pipelining and value size.
struct Base {
    name: &'static str,
    /// `-t NAME`, or else this custom command.
    test: Option<&'static str>,
    cmd: &'static [&'static str],
    /// Filled before the runs so pops never meet an empty key.
    prefill: Option<Prefill>,
    /// Not redis-benchmark at all: the pub/sub client of fanout.rs, timed rather than
    /// counted, and taking no suffixes.
    fanout: bool,
}

struct Prefill {
    words: &'static [&'static str],
    /// `-r` for the prefill, so members are practically all distinct.
    keyspace: Option<u64>,
    /// A fixed number of elements instead of "more than will be popped".
    fixed: Option<u64>,
}

const BIG: u64 = 100_000_000_000;

/// The library the FCALL workloads call: the EVALSHA workloads' two scripts.
const BENCH_LIB: &str = "#!lua name=benchlib\nredis.register_function('incr1', function(keys) return redis.call('INCR', keys[1]) end)\nredis.register_function('ten', function(keys) local k=keys[1] redis.call('SET',k,'1') redis.call('INCR',k) redis.call('GET',k) redis.call('EXPIRE',k,'100') redis.call('TTL',k) redis.call('HSET',k..':h','f','v') redis.call('HGET',k..':h','f') redis.call('LPUSH',k..':l','x') redis.call('LPOP',k..':l') redis.call('DEL',k..':h') return 1 end)";

fn t(name: &'static str, test: &'static str) -> Base {
    Base {
        name,
        test: Some(test),
        cmd: &[],
        prefill: None,
        fanout: false,
    }
}

fn bases() -> Vec<Base> {
    let pop = |name, test, words, keyspace| Base {
        prefill: Some(Prefill {
            words,
            keyspace,
            fixed: None,
        }),
        ..t(name, test)
    };
    vec![
        t("SET", "set"),
        t("GET", "get"),
        t("INCR", "incr"),
        t("LPUSH", "lpush"),
        t("RPUSH", "rpush"),
        pop("LPOP", "lpop", &["RPUSH", "mylist", "xxx"], None),
        pop("RPOP", "rpop", &["RPUSH", "mylist", "xxx"], None),
        t("SADD", "sadd"),
        pop(
            "SPOP",
            "spop",
            &["SADD", "myset", "pf:__rand_int__"],
            Some(BIG),
        ),
        t("HSET", "hset"),
        t("ZADD", "zadd"),
        pop(
            "ZPOPMIN",
            "zpopmin",
            &["ZADD", "myzset", "__rand_int__", "pf:__rand_int__"],
            Some(BIG),
        ),
        // A custom command: -t lrange_100 would re-push its list, unmeasured, every run.
        Base {
            name: "LRANGE_100",
            test: None,
            cmd: &["LRANGE", "bench:lrange", "0", "99"],
            prefill: Some(Prefill {
                words: &["RPUSH", "bench:lrange", "xxx"],
                keyspace: None,
                fixed: Some(1000),
            }),
            fanout: false,
        },
        t("MSET", "mset"),
        // Scripts: a one-command script and a ten-command one, by EVALSHA
        // (loaded once by the prefill).
        Base {
            name: "EVALSHA_1",
            test: None,
            cmd: &["EVALSHA", "da8455f0535fd532821b3713a4eccd80fc4b8457", "1", "key:__rand_int__"],
            prefill: Some(Prefill {
                words: &["SCRIPT", "LOAD", "return redis.call('INCR',KEYS[1])"],
                keyspace: None,
                fixed: Some(20000),
            }),
            fanout: false,
        },
        Base {
            name: "EVALSHA_10",
            test: None,
            cmd: &["EVALSHA", "5ab642b5e64c25992c29ba72e482bcd7621a5664", "1", "key:__rand_int__"],
            prefill: Some(Prefill {
                words: &["SCRIPT", "LOAD", "local k=KEYS[1] redis.call('SET',k,'1') redis.call('INCR',k) redis.call('GET',k) redis.call('EXPIRE',k,'100') redis.call('TTL',k) redis.call('HSET',k..':h','f','v') redis.call('HGET',k..':h','f') redis.call('LPUSH',k..':l','x') redis.call('LPOP',k..':l') redis.call('DEL',k..':h') return 1"],
                keyspace: None,
                fixed: Some(20000),
            }),
            fanout: false,
        },
        Base {
            name: "FCALL_1",
            test: None,
            cmd: &["FCALL", "incr1", "1", "key:__rand_int__"],
            prefill: Some(Prefill {
                words: &["FUNCTION", "LOAD", "REPLACE", BENCH_LIB],
                keyspace: None,
                fixed: Some(20000),
            }),
            fanout: false,
        },
        Base {
            name: "FCALL_10",
            test: None,
            cmd: &["FCALL", "ten", "1", "key:__rand_int__"],
            prefill: Some(Prefill {
                words: &["FUNCTION", "LOAD", "REPLACE", BENCH_LIB],
                keyspace: None,
                fixed: Some(20000),
            }),
            fanout: false,
        },
        Base {
            name: fanout::NAME,
            test: None,
            cmd: &[],
            prefill: None,
            fanout: true,
        },
    ]
}

struct Workload {
    name: String,
    base: usize,
    pipeline: u32,
    data: Option<u32>,
}

/// Parses `BASE[_<N>KB][_P<N>]`, suffixes in any order.
fn parse_workload(name: &str, bases: &[Base]) -> Result<Workload, String> {
    let name = name.trim().to_ascii_uppercase();
    let mut rest = name.as_str();
    let (mut pipeline, mut data) = (1, None);
    loop {
        if let Some(base) = bases.iter().position(|b| b.name == rest) {
            if bases[base].fanout && rest != name {
                return Err(format!("{rest} takes no suffixes: {name:?}"));
            }
            return Ok(Workload {
                name: name.clone(),
                base,
                pipeline,
                data,
            });
        }
        let Some((head, suffix)) = rest.rsplit_once('_') else {
            break;
        };
        if let Some(p) = suffix.strip_prefix('P').and_then(|p| p.parse().ok()) {
            pipeline = p;
        } else if let Some(k) = suffix
            .strip_suffix("KB")
            .and_then(|k| k.parse::<u32>().ok())
        {
            data = Some(k * 1024);
        } else {
            break;
        }
        rest = head;
    }
    let known: Vec<&str> = bases.iter().map(|b| b.name).collect();
    Err(format!(
        "unknown workload {name:?}; known: {} (with optional _P<N> and _<N>KB suffixes)",
        known.join(",")
    ))
}

fn select_workloads(opts: &Opts, bases: &[Base]) -> Result<Vec<Workload>, String> {
    let list = if opts.workloads.eq_ignore_ascii_case("all") {
        ALL_WORKLOADS
    } else {
        &opts.workloads
    };
    let mut out: Vec<Workload> = Vec::new();
    for name in list.split(',').filter(|w| !w.trim().is_empty()) {
        let mut wl = parse_workload(name, bases)?;
        if opts.pipeline_only && wl.pipeline == 1 && !bases[wl.base].fanout {
            wl.pipeline = 16;
            wl.name.push_str("_P16");
        }
        if !out.iter().any(|w| w.name == wl.name) {
            out.push(wl);
        }
    }
    if out.is_empty() {
        return Err("no workloads selected".into());
    }
    Ok(out)
}

/// One measured redis-benchmark run.
#[derive(Clone, Copy)]
struct Sample {
    rps: f64,
    /// Server CPU microseconds per request, all threads.
    cpu_us: Option<f64>,
}

/// A server in the run; candidates first, the reference last.
struct Slot {
    label: String,
    server: Server,
    /// Why this server gives no figures for the current workload.
    error: Option<String>,
    /// Exited: no figures for any later workload either.
    dead: bool,
    samples: Vec<Sample>,
}

struct Bench {
    redis_benchmark: PathBuf,
    client_cpus: Option<String>,
    clients: u32,
    keyspace: u64,
    /// The FANOUT client's measured window.
    run_seconds: f64,
    tmp: PathBuf,
}

pub fn run(opts: Opts) -> i32 {
    let bases = bases();
    let workloads = match select_workloads(&opts, &bases) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("bench: {e}");
            return 2;
        }
    };
    if opts.list {
        for w in select_workloads(
            &Opts {
                workloads: "all".into(),
                ..opts
            },
            &bases,
        )
        .unwrap_or_default()
        {
            println!("{}", w.name);
        }
        return 0;
    }
    if opts.rounds == 0 || !opts.run_seconds.is_finite() || opts.run_seconds <= 0.0 {
        eprintln!("bench: --rounds and --run-seconds must be positive");
        return 2;
    }
    let (Some(redis), Some(rb)) = (
        procs::which("redis-server"),
        procs::which("redis-benchmark"),
    ) else {
        eprintln!(
            "bench: redis-server and redis-benchmark are needed \
             (apt-get install redis-server redis-tools)"
        );
        return 2;
    };
    let candidates = match crate::candidates(opts.candidate_cmd.as_deref(), opts.engine, true) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bench: {e}");
            return 2;
        }
    };
    let pin = opts.pin && procs::can_pin();
    if opts.pin && !pin {
        eprintln!("bench: taskset missing or fewer than 2 CPUs: not pinning");
    }
    let tmp = match TempDir::new("xtask-bench") {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bench: cannot create a temporary directory: {e}");
            return 2;
        }
    };
    let bench = Bench {
        redis_benchmark: rb,
        client_cpus: pin.then(|| "0".to_string()),
        clients: opts.clients,
        keyspace: opts.keyspace,
        run_seconds: opts.run_seconds,
        tmp: tmp.path().to_path_buf(),
    };
    let server_cpus = pin.then_some("1");
    match bench.all(&opts, &bases, &workloads, &candidates, &redis, server_cpus) {
        Ok(true) => 0,
        Ok(false) => {
            println!(
                "bench: a candidate exited during the run; logs kept in {}",
                tmp.keep().display()
            );
            1
        }
        Err(e) => {
            eprintln!("bench: {e}");
            eprintln!("bench: logs kept in {}", tmp.keep().display());
            2
        }
    }
}

/// The figures for one candidate on one workload.
struct Row {
    workload: String,
    label: String,
    error: Option<String>,
    cand_rps: Option<f64>,
    redis_rps: Option<f64>,
    /// Median, min and max of the per-round candidate/redis ratios.
    ratio: Option<(f64, f64, f64)>,
    cand_cpu: Option<f64>,
    redis_cpu: Option<f64>,
    cpu_ratio: Option<f64>,
}

impl Bench {
    /// Runs every workload and prints the report; `Ok(false)` if a candidate exited.
    fn all(
        &self,
        opts: &Opts,
        bases: &[Base],
        workloads: &[Workload],
        candidates: &[Candidate],
        redis: &Path,
        server_cpus: Option<&str>,
    ) -> Result<bool, String> {
        let started = Instant::now();
        let mut slots: Vec<Slot> = Vec::new();
        let mut ports = Vec::new();
        for c in candidates {
            let port = procs::free_port(&ports);
            ports.push(port);
            let server = Server::start(
                &c.label,
                &c.argv(port),
                port,
                &self.tmp,
                server_cpus,
                STARTUP_TIMEOUT,
            )?;
            slots.push(slot(&c.label, server));
        }
        let reference = conformance::start_reference(redis, &self.tmp, &ports, server_cpus)?;
        slots.push(slot("redis", reference));
        eprintln!(
            "bench: {} workload(s) x {} rounds, ~{}s per run, pinning {}; {}",
            workloads.len(),
            opts.rounds,
            opts.run_seconds,
            if server_cpus.is_some() {
                "servers to CPU 1, redis-benchmark to CPU 0"
            } else {
                "off"
            },
            slots
                .iter()
                .map(|s| format!("{}: pid {} port {}", s.label, s.server.pid, s.server.port))
                .collect::<Vec<_>>()
                .join(", ")
        );

        let mut rows = Vec::new();
        for wl in workloads {
            rows.extend(self.workload(opts, &bases[wl.base], wl, &mut slots)?);
        }
        print_report(&rows, candidates, opts, started.elapsed());
        Ok(slots.iter().all(|s| !s.dead))
    }

    /// Runs one workload on every server and returns one row per candidate.
    fn workload(
        &self,
        opts: &Opts,
        base: &Base,
        wl: &Workload,
        slots: &mut [Slot],
    ) -> Result<Vec<Row>, String> {
        let p = u64::from(wl.pipeline);
        let n_warm = 10_000 * p;
        let timeout = Duration::from_secs_f64((30.0 * opts.run_seconds).max(60.0));
        for s in slots.iter_mut() {
            s.error = s.dead.then(|| "server exited earlier".to_string());
            s.samples.clear();
        }

        self.prefill(base, n_warm + 1000, slots)?;
        let mut rates = Vec::new();
        for s in slots.iter_mut().filter(|s| s.error.is_none()) {
            match self.measure(base, wl, n_warm, s, timeout) {
                Ok(sample) => rates.push(sample.rps),
                Err(e) => s.error = Some(e),
            }
        }
        reference_ok(slots)?;
        // One n for every server, so that each run takes about run_seconds.
        let n = if rates.is_empty() {
            n_warm
        } else {
            let hm = rates.len() as f64 / rates.iter().map(|r| 1.0 / r).sum::<f64>();
            (hm * opts.run_seconds).clamp(n_warm as f64, 5e7) as u64 / 1000 * 1000
        };
        self.prefill(base, n * opts.rounds as u64 + 1000, slots)?;

        // Each round: candidates around the reference, so each candidate run is
        // next to a reference run (A R, or A R B).
        let refi = slots.len() - 1;
        let mut order: Vec<usize> = Vec::new();
        for i in 0..refi {
            order.push(i);
            if i == 0 {
                order.push(refi);
            }
        }
        for round in 1..=opts.rounds {
            for &i in &order {
                let s = &mut slots[i];
                if s.error.is_some() {
                    continue;
                }
                match self.measure(base, wl, n, s, timeout) {
                    Ok(sample) => s.samples.push(sample),
                    Err(e) => s.error = Some(e),
                }
            }
            reference_ok(slots)?;
            let line: Vec<String> = order
                .iter()
                .map(|&i| {
                    let s = &slots[i];
                    match (&s.error, s.samples.last()) {
                        (None, Some(x)) => format!("{} {:.0}", s.label, x.rps),
                        _ => format!("{} ERR", s.label),
                    }
                })
                .collect();
            let size = if base.fanout {
                format!("{}s", opts.run_seconds)
            } else {
                format!("n={n}")
            };
            eprintln!(
                "  {:<15} round {round}/{} {size}: {}",
                wl.name,
                opts.rounds,
                line.join("  ")
            );
        }

        let reference = &slots[refi];
        let rows = slots[..refi]
            .iter()
            .map(|c| row(wl, c, reference))
            .collect();
        Ok(rows)
    }

    /// Fills the workload's key on every server that still works.
    fn prefill(&self, base: &Base, count: u64, slots: &mut [Slot]) -> Result<(), String> {
        let Some(pf) = &base.prefill else {
            return Ok(());
        };
        let count = pf.fixed.unwrap_or(count);
        for s in slots.iter_mut().filter(|s| s.error.is_none()) {
            let mut args = vec!["-c".to_string(), "4".into(), "-n".into(), count.to_string()];
            args.extend(["-P".into(), "100".into()]);
            if let Some(k) = pf.keyspace {
                args.extend(["-r".into(), k.to_string()]);
            }
            args.extend(pf.words.iter().map(|w| w.to_string()));
            if let Err(e) = self.redis_benchmark(&mut s.server, &args, Duration::from_secs(300)) {
                s.error = Some(format!("prefill ({}) failed: {e}", pf.words.join(" ")));
            }
        }
        reference_ok(slots)
    }

    /// One measured run: requests per second and server CPU per request.
    fn measure(
        &self,
        base: &Base,
        wl: &Workload,
        n: u64,
        s: &mut Slot,
        timeout: Duration,
    ) -> Result<Sample, String> {
        if base.fanout {
            let result = fanout::measure(
                s.server.port,
                s.server.pid,
                self.run_seconds,
                self.client_cpus.as_deref(),
            );
            check_alive(s, wl)?;
            let f = result?;
            eprintln!("    {:<13} {:<10} {}", wl.name, s.label, f.summary());
            return Ok(Sample {
                rps: f.delivered_per_sec,
                cpu_us: f.server_ns_per_msg.map(|ns| ns / 1000.0),
            });
        }
        let mut args: Vec<String> = vec![
            "-c".into(),
            self.clients.to_string(),
            "-n".into(),
            n.to_string(),
            "-r".into(),
            self.keyspace.to_string(),
            "-P".into(),
            wl.pipeline.to_string(),
        ];
        if let Some(d) = wl.data {
            args.extend(["-d".into(), d.to_string()]);
        }
        match base.test {
            Some(t) => args.extend(["-t".into(), t.into()]),
            None => args.extend(base.cmd.iter().map(|w| w.to_string())),
        }
        let before = procs::cpu_ns(s.server.pid);
        let result = self.redis_benchmark(&mut s.server, &args, timeout);
        let after = procs::cpu_ns(s.server.pid);
        check_alive(s, wl)?;
        let rps = result?;
        let cpu_us = match (before, after) {
            (Some(b), Some(a)) if a > b => Some((a - b) as f64 / 1000.0 / n as f64),
            _ => None,
        };
        Ok(Sample { rps, cpu_us })
    }

    /// Runs redis-benchmark against `server` and returns the last CSV row's rps.
    fn redis_benchmark(
        &self,
        server: &mut Server,
        args: &[String],
        timeout: Duration,
    ) -> Result<f64, String> {
        let port = server.port;
        let mut argv: Vec<String> = Vec::new();
        if let Some(cpus) = &self.client_cpus {
            argv.extend(["taskset".into(), "-c".into(), cpus.clone()]);
        }
        argv.push(self.redis_benchmark.display().to_string());
        argv.extend([
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ]);
        // Options first: everything after a custom command's first word is that command.
        argv.push("--csv".into());
        argv.extend(args.iter().cloned());
        let out_path = self.tmp.join("redis-benchmark.out");
        let err_path = self.tmp.join("redis-benchmark.err");
        let file = |p: &Path| std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()));
        let mut child = procs::spawn_tracked(
            Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .stdout(file(&out_path)?)
                .stderr(file(&err_path)?),
        )
        .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
        let deadline = Instant::now() + timeout;
        let status = loop {
            let polled = child.try_wait();
            if !matches!(polled, Ok(None)) {
                procs::forget(&child);
            }
            match polled {
                Ok(Some(status)) => break status,
                Ok(None) => {
                    // redis-benchmark keeps retrying a server that has gone away.
                    let gone = server.exit_status();
                    if gone.is_none() && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                    procs::forget(&child);
                    return Err(match gone {
                        Some(status) => format!("server exited ({status})"),
                        None => format!("timeout after {timeout:?}"),
                    });
                }
                Err(e) => return Err(e.to_string()),
            }
        };
        let out = std::fs::read_to_string(&out_path).unwrap_or_default();
        let err = std::fs::read_to_string(&err_path).unwrap_or_default();
        if let Some(line) = out
            .lines()
            .chain(err.lines())
            .find(|l| l.contains("Error from server") || l.contains("ERR "))
        {
            return Err(cut(line.trim(), 120));
        }
        let rps = out
            .lines()
            .filter(|l| !l.starts_with("\"test\""))
            // Fields are quoted; a custom command's name may hold commas.
            .filter_map(|l| l.split("\",\"").nth(1))
            .filter_map(|f| f.trim_matches('"').parse::<f64>().ok())
            .next_back();
        match rps {
            Some(r) if status.success() && r > 0.0 => Ok(r),
            _ => {
                let last = err.lines().chain(out.lines()).last().unwrap_or("no output");
                Err(format!(
                    "redis-benchmark {status}: {}",
                    cut(last.trim(), 120)
                ))
            }
        }
    }
}

fn slot(label: &str, server: Server) -> Slot {
    Slot {
        label: label.into(),
        server,
        error: None,
        dead: false,
        samples: Vec::new(),
    }
}

/// Marks the slot dead, with the server's last words, if its server has exited.
fn check_alive(s: &mut Slot, wl: &Workload) -> Result<(), String> {
    if let Some(status) = s.server.exit_status() {
        s.dead = true;
        eprintln!(
            "bench: {} exited ({status}) during {}\n{}",
            s.label,
            wl.name,
            s.server.log_tail(10)
        );
        return Err(format!("server exited ({status}) during {}", wl.name));
    }
    Ok(())
}

/// The reference is the yardstick: without it the run cannot go on.
fn reference_ok(slots: &[Slot]) -> Result<(), String> {
    match slots.last() {
        Some(r) if r.error.is_some() => Err(format!(
            "the reference redis-server failed: {}",
            r.error.as_deref().unwrap_or("")
        )),
        _ => Ok(()),
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(max).collect::<String>())
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

fn geomean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp())
}

fn row(wl: &Workload, cand: &Slot, reference: &Slot) -> Row {
    let pairs: Vec<(Sample, Sample)> = cand
        .samples
        .iter()
        .copied()
        .zip(reference.samples.iter().copied())
        .collect();
    let ratios: Vec<f64> = pairs.iter().map(|(c, r)| c.rps / r.rps).collect();
    let cpu_ratios: Vec<f64> = pairs
        .iter()
        .filter_map(|(c, r)| Some(c.cpu_us? / r.cpu_us?))
        .collect();
    let ok = cand.error.is_none();
    Row {
        workload: wl.name.clone(),
        label: cand.label.clone(),
        error: cand.error.clone(),
        cand_rps: median(cand.samples.iter().map(|s| s.rps).collect()),
        redis_rps: median(reference.samples.iter().map(|s| s.rps).collect()),
        ratio: median(ratios.clone()).filter(|_| ok).map(|m| {
            let min = ratios.iter().copied().fold(f64::INFINITY, f64::min);
            let max = ratios.iter().copied().fold(0.0, f64::max);
            (m, min, max)
        }),
        cand_cpu: median(cand.samples.iter().filter_map(|s| s.cpu_us).collect()),
        redis_cpu: median(reference.samples.iter().filter_map(|s| s.cpu_us).collect()),
        cpu_ratio: median(cpu_ratios).filter(|_| ok),
    }
}

fn fmt_rps(r: Option<f64>) -> String {
    let Some(r) = r else {
        return "-".into();
    };
    let s = format!("{:.0}", r);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn print_report(rows: &[Row], candidates: &[Candidate], opts: &Opts, elapsed: Duration) {
    println!();
    let header = format!(
        "{:<15} {:<10} {:>11} {:>11} {:>6} {:>13}  {:>15} {:>9}",
        "workload",
        "candidate",
        "cand ops/s",
        "redis ops/s",
        "ratio",
        "[min..max]",
        "cpu us/op c/r",
        "cpu ratio"
    );
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    for r in rows {
        let (ratio, spread) = match r.ratio {
            Some((m, lo, hi)) => (format!("{m:.3}"), format!("[{lo:.2}..{hi:.2}]")),
            None => ("ERR".into(), "-".into()),
        };
        let cpu = match (r.cand_cpu, r.redis_cpu) {
            (Some(c), Some(x)) if r.error.is_none() => format!("{c:.2}/{x:.2}"),
            (_, Some(x)) => format!("-/{x:.2}"),
            _ => "-".into(),
        };
        let cpu_ratio = r.cpu_ratio.map_or("-".into(), |c| format!("{c:.3}"));
        let cand_rps = if r.error.is_some() {
            "ERR".into()
        } else {
            fmt_rps(r.cand_rps)
        };
        println!(
            "{:<15} {:<10} {:>11} {:>11} {:>6} {:>13}  {:>15} {:>9}",
            r.workload,
            r.label,
            cand_rps,
            fmt_rps(r.redis_rps),
            ratio,
            spread,
            cpu,
            cpu_ratio
        );
        if let Some(e) = &r.error {
            println!("    ! {}", e.lines().next().unwrap_or(""));
        }
    }
    println!(
        "ratio = median over rounds of candidate/redis ops/s, each pair run back to back; \
         [min..max] = range of those ratios"
    );
    println!(
        "cpu us/op = server CPU time (all threads) per request, medians; cpu ratio = median \
         paired candidate/redis (lower is better)"
    );
    if rows.iter().any(|r| r.workload == fanout::NAME) {
        println!(
            "{}: ops = messages delivered, summed over {} subscribers of one channel fed by \
             1 publisher ({}-byte payloads, {} PUBLISH in flight), counted over ~{}s after a \
             warm-up; cpu us/op = server CPU per delivered message; the client is one \
             in-process thread{}",
            fanout::NAME,
            fanout::SUBSCRIBERS,
            fanout::PAYLOAD,
            fanout::WINDOW,
            opts.run_seconds,
            if opts.pin && procs::can_pin() {
                " pinned to CPU 0"
            } else {
                ", unpinned"
            }
        );
    }
    println!();
    for c in candidates {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.label == c.label).collect();
        let ratios: Vec<f64> = mine.iter().filter_map(|r| r.ratio.map(|x| x.0)).collect();
        let cpu: Vec<f64> = mine.iter().filter_map(|r| r.cpu_ratio).collect();
        let failed = mine.len() - ratios.len();
        let fmt = |g: Option<f64>| g.map_or("n/a".into(), |g| format!("{g:.3}"));
        println!(
            "geomean ({}): ops/s ratio {} (higher is better), cpu-per-op ratio {} (lower is better) \
             over {} workload(s){}",
            c.label,
            fmt(geomean(&ratios)),
            fmt(geomean(&cpu)),
            ratios.len(),
            if failed > 0 {
                format!("; {failed} failed and left out")
            } else {
                String::new()
            }
        );
    }
    println!(
        "(rounds={}, ~{}s/run, elapsed {:.0}s; treat <10% on one workload or <3% in geomean \
         as noise)",
        opts.rounds,
        opts.run_seconds,
        elapsed.as_secs_f64()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_names() {
        let b = bases();
        let w = parse_workload("set_p16", &b).unwrap();
        assert_eq!(
            (w.name.as_str(), b[w.base].name, w.pipeline, w.data),
            ("SET_P16", "SET", 16, None)
        );
        let w = parse_workload("GET_4KB_P8", &b).unwrap();
        assert_eq!((b[w.base].name, w.pipeline, w.data), ("GET", 8, Some(4096)));
        let w = parse_workload("LRANGE_100", &b).unwrap();
        assert_eq!((b[w.base].name, w.pipeline), ("LRANGE_100", 1));
        assert!(parse_workload("NOPE", &b).is_err());
        assert!(parse_workload("SET_X", &b).is_err());
        let w = parse_workload("fanout", &b).unwrap();
        assert!(b[w.base].fanout && w.name == fanout::NAME);
        assert!(parse_workload("FANOUT_P16", &b).is_err());
        assert!(parse_workload("FANOUT_1KB", &b).is_err());
        assert!(!DEFAULT_WORKLOADS.contains(fanout::NAME));
        for name in ALL_WORKLOADS.split(',') {
            assert!(parse_workload(name, &b).is_ok(), "{name}");
        }
    }

    #[test]
    fn stats() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
        assert!((geomean(&[2.0, 0.5]).unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(fmt_rps(Some(1234567.4)), "1,234,567");
        assert_eq!(fmt_rps(Some(999.0)), "999");
    }
}
