//! Child servers and other helpers around processes: each server runs in its own
//! process group, which is killed when the `Server` is dropped (also while a panic
//! unwinds) and, through a registry, on SIGINT/SIGTERM/SIGHUP.

use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::resp::{self, Outcome};

/// Process groups and temporary directories to clean up if a signal ends the run.
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static TMPDIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

extern "C" {
    // From the C library std already links; no workspace crate offers these.
    fn kill(pid: i32, sig: i32) -> i32;
    fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
}
const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;

fn kill_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        unsafe {
            kill(-pgid, sig);
        }
    }
}

/// Kills every registered process group and removes the temporary directories.
fn cleanup_all() {
    let groups: Vec<i32> = GROUPS.lock().map(|g| g.clone()).unwrap_or_default();
    for &g in &groups {
        kill_group(g, SIGKILL);
    }
    for &g in &groups {
        // Reap the group leaders (our children), so no zombies outlive us.
        // SAFETY: a null status pointer is allowed; the call touches no other memory.
        unsafe {
            waitpid(g, std::ptr::null_mut(), 0);
        }
    }
    let dirs: Vec<PathBuf> = TMPDIRS.lock().map(|d| d.clone()).unwrap_or_default();
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// On SIGINT, SIGTERM or SIGHUP, kill the servers we started and exit.
pub fn install_signal_cleanup() {
    std::thread::spawn(|| {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("xtask: cannot watch signals: {e}");
                return;
            }
        };
        rt.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
                signal(SignalKind::hangup()),
            ) else {
                eprintln!("xtask: cannot watch signals");
                return;
            };
            let code = tokio::select! {
                _ = int.recv() => 130,
                _ = term.recv() => 143,
                _ = hup.recv() => 129,
            };
            // Holding both streams keeps the main thread from reporting the servers
            // we are about to kill as crashed.
            let _out = std::io::stdout().lock();
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "xtask: interrupted, stopping servers");
            cleanup_all();
            std::process::exit(code);
        });
    });
}

/// Spawns `cmd` in its own process group, killed with the servers if a signal ends
/// the run; call `forget` once it has been waited for.
pub fn spawn_tracked(cmd: &mut Command) -> std::io::Result<Child> {
    let child = cmd.process_group(0).spawn()?;
    GROUPS.lock().unwrap().push(child.id() as i32);
    Ok(child)
}

/// Stops tracking a child spawned with `spawn_tracked` (after it has been reaped).
pub fn forget(child: &Child) {
    GROUPS.lock().unwrap().retain(|&g| g != child.id() as i32);
}

/// A temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> std::io::Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("{prefix}.{}.{nanos:x}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        TMPDIRS.lock().unwrap().push(path.clone());
        Ok(TempDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Keeps the directory (for logs worth reading) and returns its path.
    pub fn keep(&self) -> &Path {
        TMPDIRS.lock().unwrap().retain(|d| d != &self.0);
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let mut dirs = TMPDIRS.lock().unwrap();
        if let Some(i) = dirs.iter().position(|d| d == &self.0) {
            dirs.remove(i);
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Finds an executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port(avoid: &[u16]) -> u16 {
    for _ in 0..100 {
        if let Ok(l) = std::net::TcpListener::bind("127.0.0.1:0") {
            if let Ok(addr) = l.local_addr() {
                if !avoid.contains(&addr.port()) {
                    return addr.port();
                }
            }
        }
    }
    panic!("no free port on 127.0.0.1");
}

/// Whether taskset exists and there are at least two CPUs to pin to.
pub fn can_pin() -> bool {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    cpus >= 2 && which("taskset").is_some()
}

/// A server process (and its process group) we started.
pub struct Server {
    pub port: u16,
    /// The process that owns the listening socket (the one to measure).
    pub pid: u32,
    child: Option<Child>,
    log: PathBuf,
}

impl Server {
    /// Starts `argv` (optionally under `taskset -c cpus`) in its own process group,
    /// logging to a file in `logdir`, and waits until it answers PING.
    pub fn start(
        label: &str,
        argv: &[String],
        port: u16,
        logdir: &Path,
        cpus: Option<&str>,
        timeout: Duration,
    ) -> Result<Server, String> {
        let log = logdir.join(format!("{}-{port}.log", label.replace(' ', "_")));
        let mut full: Vec<String> = Vec::new();
        if let Some(c) = cpus {
            full.extend(["taskset".into(), "-c".into(), c.into()]);
        }
        full.extend(argv.iter().cloned());
        let out = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = spawn_tracked(
            Command::new(&full[0])
                .args(&full[1..])
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err),
        )
        .map_err(|e| format!("{label}: cannot start {:?}: {e}", full[0]))?;
        let mut srv = Server {
            port,
            pid: child.id(),
            child: Some(child),
            log,
        };
        let deadline = Instant::now() + timeout;
        let mut last = Outcome::Timeout;
        loop {
            if let Some(code) = srv.exit_status() {
                return Err(format!(
                    "{label} exited ({code}) during startup: {}\n{}",
                    shell_join(&full),
                    srv.log_tail(15)
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{label} did not answer PING on 127.0.0.1:{port} within {timeout:?} \
                     (last: {}): {}\n{}",
                    last.show(100),
                    shell_join(&full),
                    srv.log_tail(15)
                ));
            }
            last = resp::command(port, &["PING"], Duration::from_secs(1));
            if last == Outcome::Reply(b"+PONG\r\n".to_vec()) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(pid) = listener_pid(srv.pid, port) {
            srv.pid = pid;
        }
        Ok(srv)
    }

    /// `Some(description)` once the process has exited.
    pub fn exit_status(&mut self) -> Option<String> {
        match self.child.as_mut()?.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let all: Vec<&str> = text.lines().collect();
        let from = all.len().saturating_sub(lines);
        let mut out = format!("  --- last lines of {} ---", self.log.display());
        for l in &all[from..] {
            out.push_str("\n    ");
            out.push_str(l);
        }
        out
    }

    /// SIGTERM to the group, then SIGKILL after a grace period.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pgid = child.id() as i32;
        kill_group(pgid, SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // Also reaches anything the leader left behind in its group.
        kill_group(pgid, SIGKILL);
        let _ = child.wait();
        forget(&child);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Quotes argv for display as a shell command.
pub fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty()
                && a.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./:={}@,+".contains(&b))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Inodes of the sockets listening on `port` (IPv4 and IPv6).
fn listen_inodes(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" {
                continue;
            }
            let p = f[1].rsplit(':').next().unwrap_or("");
            if u16::from_str_radix(p, 16) == Ok(port) {
                out.push(f[9].to_string());
            }
        }
    }
    out
}

/// `root` and its descendants, found through /proc/*/stat.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // The fields after the command name, which may itself hold spaces.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

/// The process under `root` that owns the listening socket on `port`; wrappers
/// such as `bash -c` would otherwise be measured instead of the server.
fn listener_pid(root: u32, port: u16) -> Option<u32> {
    let inodes = listen_inodes(port);
    if inodes.is_empty() {
        return None;
    }
    for pid in descendants(root) {
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(link) = std::fs::read_link(fd.path()) {
                let link = link.to_string_lossy();
                if let Some(ino) = link
                    .strip_prefix("socket:[")
                    .and_then(|s| s.strip_suffix(']'))
                {
                    if inodes.iter().any(|i| i == ino) {
                        return Some(pid);
                    }
                }
            }
        }
    }
    None
}

/// CPU time used so far by all threads of `pid`, in nanoseconds.
pub fn cpu_ns(pid: u32) -> Option<u64> {
    let mut total = 0u64;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) else {
            continue;
        };
        total += s.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    (total > 0).then_some(total)
}
