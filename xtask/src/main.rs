//! `cargo xtask`: project automation that needs more than cargo.
//!
//! - `cargo xtask conformance`: the scenarios in tests/conformance against Rubedo and a real
//!   redis-server, replies compared byte for byte.
//! - `cargo xtask bench`: redis-benchmark workloads against Rubedo and redis-server,
//!   interleaved, reported as paired ratios; FANOUT (pub/sub fan-out, which
//!   redis-benchmark cannot drive) uses a client of our own, in fanout.rs.
//!
//! Every server it starts runs in its own process group, killed on exit, panic or Ctrl-C.

mod bench;
mod conformance;
mod fanout;
mod procs;
mod resp;
mod scenario;

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Rubedo project tasks")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run tests/conformance/*.txt against redis-server and the candidate, compare replies.
    Conformance {
        /// Build and test the release binary.
        #[arg(long)]
        release: bool,
        /// Which engine(s) of rubedo-server to test.
        #[arg(long, value_enum, default_value_t = Engine::Both)]
        engine: Engine,
        /// Only the scenario files whose name contains this.
        #[arg(long, value_name = "NAME")]
        filter: Option<String>,
        /// Test this shell command instead of rubedo-server; {port} (required) and
        /// {engine} (optional: then one candidate per engine) are substituted.
        #[arg(long, value_name = "'CMD {port}'")]
        candidate_cmd: Option<String>,
        /// Print every command with every reply.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Benchmark the candidate against redis-server with redis-benchmark, interleaved.
    Bench {
        /// 5 rounds of ~0.4 s runs instead of 7 rounds of ~1.2 s.
        #[arg(long)]
        quick: bool,
        /// Rounds per workload.
        #[arg(long, value_name = "N")]
        rounds: Option<usize>,
        /// Target seconds per measured redis-benchmark run.
        #[arg(long, value_name = "S")]
        run_seconds: Option<f64>,
        /// Comma-separated workloads, or "all". Any base workload takes the suffixes
        /// _P<N> (pipeline N) and _<N>KB (values of N KiB), e.g. INCR_P16, GET_4KB;
        /// FANOUT (pub/sub: 1 publisher, 100 subscribers, 64-byte messages) takes none.
        #[arg(long, value_name = "LIST", default_value = bench::DEFAULT_WORKLOADS)]
        workloads: String,
        /// Which engine(s) of rubedo-server to measure.
        #[arg(long, value_enum, default_value_t = Engine::Both)]
        engine: Engine,
        /// Run every selected workload pipelined (-P 16) instead of as listed.
        #[arg(long)]
        pipeline_only: bool,
        /// Measure this shell command instead of rubedo-server ({port}, {engine} as for
        /// conformance).
        #[arg(long, value_name = "'CMD {port}'")]
        candidate_cmd: Option<String>,
        /// Do not pin servers and redis-benchmark to CPUs with taskset.
        #[arg(long)]
        no_pin: bool,
        /// redis-benchmark -c.
        #[arg(long, default_value_t = 50)]
        clients: u32,
        /// redis-benchmark -r.
        #[arg(long, default_value_t = 100_000)]
        keyspace: u64,
        /// List the workloads and exit.
        #[arg(long)]
        list: bool,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    Single,
    Concurrent,
    Both,
}

impl Engine {
    fn names(self) -> &'static [&'static str] {
        match self {
            Engine::Single => &["single"],
            Engine::Concurrent => &["concurrent"],
            Engine::Both => &["single", "concurrent"],
        }
    }
}

/// A server to test or measure, and how to start it on a given port.
#[derive(Clone)]
pub struct Candidate {
    pub label: String,
    launch: Launch,
}

#[derive(Clone)]
enum Launch {
    /// A rubedo-server binary and the engine to pass it.
    Binary(PathBuf, String),
    /// A shell command template with {port} and maybe {engine}.
    Shell(String),
}

impl Candidate {
    /// The command line, with a directory for the files the server writes
    /// (snapshots) when it is our own binary.
    pub fn argv_in(&self, port: u16, dir: &std::path::Path) -> Vec<String> {
        let mut argv = self.argv(port);
        if matches!(self.launch, Launch::Binary(..)) {
            argv.extend(["--dir".to_string(), dir.display().to_string()]);
        }
        argv
    }

    pub fn argv(&self, port: u16) -> Vec<String> {
        let port = port.to_string();
        match &self.launch {
            Launch::Binary(path, engine) => {
                let mut argv = vec![path.display().to_string()];
                argv.extend(["--port", &port, "--engine", engine].map(String::from));
                // The reference runs with DEBUG enabled too (see conformance.rs).
                argv.extend(["--enable-debug-command", "yes"].map(String::from));
                // And without save points, as the reference runs.
                argv.extend(["--save", ""].map(String::from));
                argv
            }
            Launch::Shell(cmd) => {
                let cmd = cmd
                    .replace("{port}", &port)
                    .replace("{engine}", &self.label);
                vec!["bash".into(), "-c".into(), cmd]
            }
        }
    }
}

/// The candidates for a run: the shell command if given, else rubedo-server (built first).
pub fn candidates(
    candidate_cmd: Option<&str>,
    engine: Engine,
    release: bool,
) -> Result<Vec<Candidate>, String> {
    if let Some(cmd) = candidate_cmd {
        if !cmd.contains("{port}") {
            return Err("--candidate-cmd must contain {port}".into());
        }
        if !cmd.contains("{engine}") {
            return Ok(vec![Candidate {
                label: "candidate".into(),
                launch: Launch::Shell(cmd.into()),
            }]);
        }
        return Ok(engine
            .names()
            .iter()
            .map(|e| Candidate {
                label: e.to_string(),
                launch: Launch::Shell(cmd.into()),
            })
            .collect());
    }
    let path = build_server(release)?;
    Ok(engine
        .names()
        .iter()
        .map(|e| Candidate {
            label: e.to_string(),
            launch: Launch::Binary(path.clone(), e.to_string()),
        })
        .collect())
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// The target directory this xtask was built into, so the server is built beside it.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        if dir.is_absolute() {
            return dir;
        }
        if let Ok(cwd) = std::env::current_dir() {
            return cwd.join(dir);
        }
    }
    // cargo runs xtask as <target>/<profile>/xtask.
    if let Ok(exe) = std::env::current_exe() {
        if let Some(profile_dir) = exe.parent() {
            if profile_dir
                .file_name()
                .is_some_and(|n| n == "debug" || n == "release")
            {
                if let Some(t) = profile_dir.parent() {
                    return t.to_path_buf();
                }
            }
        }
    }
    workspace_root().join("target")
}

/// Builds rubedo-server with cargo and returns the binary's path.
fn build_server(release: bool) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = target_dir();
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "-p", "rubedo-server"]);
    if release {
        cmd.arg("--release");
    }
    eprintln!(
        "xtask: cargo build -p rubedo-server{} (target dir {})",
        if release { " --release" } else { "" },
        target.display()
    );
    let status = cmd.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("building rubedo-server failed ({status})"));
    }
    let bin = target
        .join(if release { "release" } else { "debug" })
        .join("rubedo-server");
    if !bin.is_file() {
        return Err(format!("{} not found after the build", bin.display()));
    }
    Ok(bin)
}

fn main() {
    procs::install_signal_cleanup();
    let code = match Cli::parse().cmd {
        Cmd::Conformance {
            release,
            engine,
            filter,
            candidate_cmd,
            verbose,
        } => conformance::run(conformance::Opts {
            release,
            engine,
            filter,
            candidate_cmd,
            verbose,
        }),
        Cmd::Bench {
            quick,
            rounds,
            run_seconds,
            workloads,
            engine,
            pipeline_only,
            candidate_cmd,
            no_pin,
            clients,
            keyspace,
            list,
        } => bench::run(bench::Opts {
            rounds: rounds.unwrap_or(if quick { 5 } else { 7 }),
            run_seconds: run_seconds.unwrap_or(if quick { 0.4 } else { 1.2 }),
            workloads,
            engine,
            pipeline_only,
            candidate_cmd,
            pin: !no_pin,
            clients,
            keyspace,
            list,
        }),
    };
    std::process::exit(code);
}
