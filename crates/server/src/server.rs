//! Starting the server: configuration, the chosen engine and runtime, the
//! listeners, the cron, and an in-process harness for tests.

use std::net::SocketAddr;
use std::ops::Deref;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rubedo_engine::{
    Clock, ConcurrentKeyspace, Events, Keyspace, Scope, SingleKeyspace, SystemClock,
};
use rubedo_resp::Frame;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::dispatch::exec::{execute, Server};
use crate::dispatch::table::Table;
use crate::propagate::Propagation;
use crate::session::client::Client;
use crate::signals::Signals;
use crate::state::{ClientInfo, Clients, Cron, Lifecycle, Process, Shared};
use crate::stats::Stats;

/// Everything needed to start: the configuration and where it came from.
pub struct Options {
    pub config: Config,
    pub config_file: String,
}

fn run_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..40)
        .map(|_| format!("{:x}", rng.gen_range(0..16u8)))
        .collect()
}

/// Builds the shared state from a configuration.
pub fn shared(config: Config, config_file: String) -> Shared {
    let table = Table::new(&crate::cmd::families());
    let n = table.all.len();
    let engine = if config.get("engine").as_deref() == Some("concurrent") {
        "concurrent"
    } else {
        "single"
    };
    let threads = config
        .get("threads")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let started_ms = SystemClock.now_ms();
    let propagation = Propagation::default();
    Shared {
        table,
        stats: Stats::new(n),
        clients: Clients::default(),
        signals: Signals::new(
            config.output_limits.clone(),
            config.tracking_max_keys.clone(),
        ),
        aof: crate::aof::Aof::new(propagation.durable_handle()),
        propagation,
        process: Process {
            started: Instant::now(),
            started_ms,
            run_id: run_id(),
            port: AtomicU64::new(
                config
                    .get("port")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(6379),
            ),
            executable: std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            config_file,
            engine_name: engine,
            threads,
        },
        cron: Cron::new(started_ms),
        lifecycle: Lifecycle::default(),
        persist: crate::persistence::Persistence::new(started_ms / 1000),
        migrate: Default::default(),
        scripting: Default::default(),
        config,
    }
}

async fn bind(srv: &Shared) -> std::io::Result<Vec<TcpListener>> {
    let port = srv.process.port.load(Relaxed) as u16;
    let binds = srv.config.get("bind").unwrap_or_else(|| "127.0.0.1".into());
    let mut out = Vec::new();
    for host in binds.split_whitespace() {
        let host = host.trim_start_matches('-');
        let addr: SocketAddr = if host.contains(':') {
            format!("[{host}]:{port}").parse()
        } else {
            format!("{host}:{port}").parse()
        }
        .map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("bad bind address {host}: {e}"),
            )
        })?;
        let l = TcpListener::bind(addr).await?;
        if port == 0 {
            srv.process
                .port
                .store(l.local_addr()?.port() as u64, Relaxed);
        }
        out.push(l);
    }
    Ok(out)
}

fn local_addrs(listeners: &[TcpListener]) -> Vec<SocketAddr> {
    listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect()
}

/// Says the server is ready, once the dataset is loaded.
fn announce(srv: &Shared, addrs: &[SocketAddr]) {
    for a in addrs {
        // Tests read this line to learn the port chosen for port 0.
        println!(
            "Ready to accept connections tcp {a} (engine {})",
            srv.process.engine_name
        );
    }
}

/// Runs the server until SHUTDOWN or a signal. Blocks the calling thread.
pub fn run(opts: Options) -> std::io::Result<()> {
    let shared = shared(opts.config, opts.config_file);
    #[cfg(unix)]
    fit_open_files(&shared)?;
    // A file-size limit fails the write (EFBIG, reported like a full disk)
    // instead of killing the process.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to "ignore" has no handler to race.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let dbs = shared.config.databases();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    if shared.process.engine_name == "concurrent" {
        let threads = match shared.process.threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?;
        let done = rt.block_on(async move {
            let server = Arc::new(Server {
                ks: ConcurrentKeyspace::new(dbs, threads * 16, clock),
                shared,
            });
            let listeners = bind(&server.shared).await?;
            let addrs = local_addrs(&listeners);
            tokio::spawn(cron(server.clone()));
            let s = server.clone();
            tokio::spawn(async move { crate::persistence::run(&s.ks, &s.shared).await });
            for l in listeners {
                let s = server.clone();
                tokio::spawn(accept_loop(l, move |stream| {
                    tokio::spawn(crate::session::conn::serve(s.clone(), stream));
                }));
            }
            // Clients connecting meanwhile are answered -LOADING.
            crate::persistence::load_at_startup(&server.ks, &server.shared)
                .await
                .map_err(std::io::Error::other)?;
            // The signal handlers are in place before anyone learns the
            // server is up (a test may signal it right after).
            let signals = ShutdownSignals::install();
            announce(&server.shared, &addrs);
            wait_for_shutdown(&server.ks, &server.shared, signals).await;
            Ok(())
        });
        // Exit without waiting for the worker threads: one may be inside a
        // busy script that SHUTDOWN NOSAVE leaves behind.
        rt.shutdown_background();
        done
    } else {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            let server = Rc::new(Server {
                ks: SingleKeyspace::new(dbs, clock),
                shared,
            });
            let listeners = bind(&server.shared).await?;
            let addrs = local_addrs(&listeners);
            tokio::task::spawn_local(cron(server.clone()));
            let s = server.clone();
            tokio::task::spawn_local(
                async move { crate::persistence::run(&s.ks, &s.shared).await },
            );
            for l in listeners {
                let s = server.clone();
                tokio::task::spawn_local(accept_loop(l, move |stream| {
                    tokio::task::spawn_local(crate::session::conn::serve(s.clone(), stream));
                }));
            }
            crate::persistence::load_at_startup(&server.ks, &server.shared)
                .await
                .map_err(std::io::Error::other)?;
            // The signal handlers are in place before anyone learns the
            // server is up (a test may signal it right after).
            let signals = ShutdownSignals::install();
            announce(&server.shared, &addrs);
            wait_for_shutdown(&server.ks, &server.shared, signals).await;
            Ok(())
        })
    }
}

/// Descriptors the server keeps for itself beyond one per client
/// (listeners, files), as Redis reserves.
#[cfg(unix)]
const RESERVED_FDS: u64 = 32;

/// Makes the descriptor limit fit `maxclients`: raises the soft (and, when
/// allowed, the hard) limit to what the clients need, or else lowers
/// `maxclients` to what the limit allows, and says which it did, so the
/// extra client is answered "max number of clients reached" instead of the
/// listener running out of descriptors.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every unix
fn fit_open_files(srv: &Shared) -> std::io::Result<()> {
    let asked = srv.config.maxclients.load(Relaxed);
    let want = asked + RESERVED_FDS;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        let e = std::io::Error::last_os_error();
        crate::log!("Unable to obtain the current NOFILE limit ({e}), assuming 1024 and setting the max clients configuration accordingly.");
        lim.rlim_cur = 1024;
        lim.rlim_max = 1024;
    }
    let cur = lim.rlim_cur as u64;
    if cur >= want {
        return Ok(());
    }
    let hard = lim.rlim_max as u64;
    let try_set = |soft: u64, hard: u64| {
        let l = libc::rlimit {
            rlim_cur: soft as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: setrlimit reads the struct we pass.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) == 0 }
    };
    // Raising the hard limit needs privileges; the soft one up to the hard
    // one does not.
    let got = if try_set(want, want.max(hard)) {
        want
    } else if hard > cur && try_set(want.min(hard), hard) {
        want.min(hard)
    } else {
        cur
    };
    if got >= want {
        crate::log!(
            "Increased maximum number of open files to {want} (it was originally set to {cur})."
        );
        return Ok(());
    }
    if got <= RESERVED_FDS {
        return Err(std::io::Error::other(format!(
            "Your current 'ulimit -n' of {got} is not enough for the server to start. Please increase your open file limit to at least {}.",
            RESERVED_FDS + 1
        )));
    }
    let fit = got - RESERVED_FDS;
    srv.config
        .set("maxclients", &fit.to_string(), true)
        .map_err(std::io::Error::other)?;
    crate::log!(
        "You requested maxclients of {asked} requiring at least {want} max file descriptors; the open files limit is {got}, so maxclients has been reduced to {fit}. Increase 'ulimit -n' for more clients."
    );
    Ok(())
}

/// Accepts connections for good: a failed accept (out of descriptors, a
/// connection reset before it was taken) is reported and retried after a
/// pause, never the end of the listener.
async fn accept_loop(l: TcpListener, mut serve: impl FnMut(tokio::net::TcpStream)) {
    let mut warned_at: Option<Instant> = None;
    loop {
        match l.accept().await {
            Ok((stream, _)) => serve(stream),
            Err(e) => {
                if warned_at.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    crate::log!("Accepting client connection: {e}");
                    warned_at = Some(Instant::now());
                }
                // The pending connection stays queued; give descriptors
                // time to come back instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

#[cfg(unix)]
async fn recv_signal(s: &mut Option<tokio::signal::unix::Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// Waits for SHUTDOWN (which prepared the exit itself) or SIGINT/SIGTERM,
/// which prepare it here with the flags `shutdown-on-sigint`/`-sigterm`
/// name; a signal whose save fails leaves the server running, as Redis.
/// SIGINT and SIGTERM, caught from the moment this is made.
struct ShutdownSignals {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignals {
    fn install() -> ShutdownSignals {
        ShutdownSignals {
            #[cfg(unix)]
            int: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok(),
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
        }
    }
}

async fn wait_for_shutdown<K: Keyspace>(ks: &K, srv: &Shared, signals: ShutdownSignals) {
    #[cfg(unix)]
    let ShutdownSignals {
        mut int, mut term, ..
    } = signals;
    #[cfg(not(unix))]
    let _ = signals;
    loop {
        let notified = srv.lifecycle.shutdown.notified();
        tokio::pin!(notified);
        #[cfg(unix)]
        let sig = async {
            tokio::select! {
                _ = recv_signal(&mut int) => "SIGINT",
                _ = recv_signal(&mut term) => "SIGTERM",
            }
        };
        #[cfg(not(unix))]
        let sig = async {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        };
        let name = tokio::select! {
            _ = &mut notified => break,
            name = sig => name,
        };
        crate::log!("Received {name} scheduling shutdown...");
        // A busy script's half-done dataset is never saved: the shutdown
        // waits for it to end (or to be killed).
        while srv.scripting.busy() || srv.scripting.suspended() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let param = if name == "SIGINT" {
            "shutdown-on-sigint"
        } else {
            "shutdown-on-sigterm"
        };
        let flags = crate::persistence::ShutdownFlags::from_config(
            &srv.config.get(param).unwrap_or_default(),
        );
        if ks.run(Scope::All, |dbs| {
            crate::persistence::prepare_shutdown(srv, dbs, flags)
        }) {
            srv.lifecycle.shutting_down.store(true, Relaxed);
            break;
        }
        crate::log!("Errors trying to shut down the server. Check the logs for more information.");
    }
    crate::log!("Ready to exit, bye bye...");
    // Let the SHUTDOWN client's connection see its close before we exit.
    for c in srv.clients.snapshot() {
        c.kill();
    }
}

/// Background work at `hz`: active expiry, incremental rehashing, idle
/// client timeouts and the ops/sec sample.
async fn cron<K, H>(server: H)
where
    K: Keyspace,
    H: Deref<Target = Server<K>>,
{
    let srv = &server.shared;
    let mut last_cmds = 0u64;
    let mut last_at = Instant::now();
    let mut waits = IdleWaits::default();
    loop {
        let hz = effective_hz(srv);
        srv.cron.effective_hz.store(hz, Relaxed);
        let period = Duration::from_millis(1000 / hz);
        tokio::time::sleep(period).await;
        srv.cron.coarse_ms.store(server.ks.now_ms(), Relaxed);
        if srv.cron.cron_paused.load(Relaxed) || srv.scripting.suspended() {
            // (A busy script between two slices owns the data.)
            continue;
        }
        if srv.cron.active_expire.load(Relaxed) {
            active_expire_cycle(&server.ks, srv, period);
        }
        crate::persistence::save_points(&server.ks, srv);
        crate::aof::scheduled_rewrite(&server.ks, srv);
        crate::aof::auto_rewrite(&server.ks, srv);
        server.ks.rehash(100);
        srv.migrate.close_idle();
        crate::signals::tracking::enforce_limit(&srv.signals, &srv.clients, server.ks.now_ms());
        let timeout = srv.config.timeout.load(Relaxed);
        if timeout > 0 {
            // As Redis: an idle client is closed, inside MULTI or not, but
            // not a subscriber, a monitor (a replica to Redis) or a blocked
            // client (its own timeout ends its wait).
            let now = server.ks.now_ms();
            let idle: Vec<Arc<ClientInfo>> = srv.clients.matching(|c| {
                now.saturating_sub(c.last_ms.load(Relaxed)) > timeout * 1000
                    && !c.is_pubsub()
                    && !c.monitor.load(Relaxed)
            });
            waits.retain(|id, _| idle.iter().any(|c| c.id == *id));
            for c in idle {
                if waits.should_close(
                    c.id,
                    srv.signals.blocking.is_waiting(c.id),
                    now,
                    timeout * 1000,
                ) {
                    c.kill();
                }
            }
        }
        srv.stats
            .memory_peak
            .fetch_max(crate::info::allocated_bytes(), Relaxed);
        let cmds = srv.stats.commands_processed.load(Relaxed);
        let el = last_at.elapsed().as_secs_f64();
        if el > 0.0 {
            srv.stats.ops_per_sec.store(
                ((cmds.saturating_sub(last_cmds)) as f64 / el) as u64,
                Relaxed,
            );
        }
        last_cmds = cmds;
        last_at = Instant::now();
    }
}

/// The `timeout` check's memory of idle clients seen blocked. A blocked
/// client is never closed for idling (its own timeout ends its wait), and
/// the reply that ends the wait counts as an interaction, as Redis counts
/// the reply it writes: the client gets the whole `timeout` after it.
#[derive(Default)]
struct IdleWaits(std::collections::HashMap<u64, Option<u64>>);

impl IdleWaits {
    /// Whether idle client `id` (idle beyond the timeout, `blocked` now)
    /// is to be closed at `now`. Remembers when a wait is seen to end.
    fn should_close(&mut self, id: u64, blocked: bool, now: u64, timeout_ms: u64) -> bool {
        if blocked {
            self.0.insert(id, None);
            return false;
        }
        match self.0.get_mut(&id) {
            Some(ended @ None) => {
                *ended = Some(now);
                false
            }
            Some(Some(at)) if now.saturating_sub(*at) <= timeout_ms => false,
            _ => {
                self.0.remove(&id);
                true
            }
        }
    }

    /// Forgets the clients no longer idle (or gone).
    fn retain(&mut self, mut keep: impl FnMut(&u64, &Option<u64>) -> bool) {
        self.0.retain(|id, at| keep(id, at));
    }
}

/// With `dynamic-hz`, the cron runs more often as clients grow (doubling
/// while there are more than 200 clients per tick, up to 500 Hz), as Redis does.
fn effective_hz(srv: &Shared) -> u64 {
    let mut hz = srv.config.hz.load(Relaxed).clamp(1, 500);
    if srv.config.get("dynamic-hz").as_deref() == Some("yes") {
        let clients = srv.clients.len() as u64;
        while clients / hz > 200 && hz < 500 {
            hz = (hz * 2).min(500);
        }
    }
    hz
}

/// Like Redis's active expiry: sample keys with a TTL, delete the expired
/// ones, and keep going while many of the sample had expired and the time
/// budget (a quarter of the cron period) allows.
fn active_expire_cycle<K: Keyspace>(ks: &K, srv: &Shared, period: Duration) {
    let effort = srv.config.expire_effort.load(Relaxed).max(1) as usize;
    let budget = period / 4;
    let start = Instant::now();
    loop {
        let mut ev = Events::default();
        let now = ks.now_ms();
        // Each step's deletions reach the log while their table is locked,
        // so no later write to those keys can be logged before their DEL.
        let (visited, expired) = ks.active_expire(20 * effort, &mut ev, &mut |ev| {
            crate::dispatch::exec::expired(srv, &ev.expired, 0, 0, now);
            ev.expired.clear();
        });
        crate::signals::tracking::broadcast(&srv.signals, &srv.clients, None, ks.now_ms());
        if visited == 0 || expired * 10 <= visited || start.elapsed() > budget {
            break;
        }
    }
}

/// An in-process server for family tests: commands in, replies out, no socket.
pub struct Harness<K: Keyspace> {
    pub server: Server<K>,
    pub client: Client,
}

impl Harness<SingleKeyspace> {
    pub fn single(clock: Arc<dyn Clock>) -> Self {
        let shared = shared(Config::default(), String::new());
        Harness::new(Server {
            ks: SingleKeyspace::new(16, clock),
            shared,
        })
    }
}

impl Harness<ConcurrentKeyspace> {
    pub fn concurrent(clock: Arc<dyn Clock>) -> Self {
        let shared = shared(Config::default(), String::new());
        Harness::new(Server {
            ks: ConcurrentKeyspace::new(16, 8, clock),
            shared,
        })
    }
}

impl<K: Keyspace> Harness<K> {
    fn new(server: Server<K>) -> Self {
        let id = server.shared.clients.next_id();
        let addr: SocketAddr = "127.0.0.1:1".parse().expect("static address");
        let info = Arc::new(ClientInfo::new(id, addr, addr, server.ks.now_ms()));
        server.shared.clients.register(info.clone());
        Harness {
            server,
            client: Client::new(info, true),
        }
    }

    /// Starts recording every write effect (see `propagate::Recorder`).
    pub fn record(&mut self) -> crate::propagate::Recorder {
        let r = crate::propagate::Recorder::default();
        self.server.shared.propagation.add_sink(Box::new(r.clone()));
        r
    }

    /// Runs one command given as its arguments.
    pub fn run_argv(&mut self, argv: Vec<Bytes>) -> Frame {
        let proto = self.client.proto;
        // Laid out as the client's protocol writes it, so tests compare
        // what a client of that protocol would decode.
        execute(&self.server, &mut self.client, argv)
            .into_frame(proto)
            .laid_out(proto)
    }

    /// Runs one command given as words.
    pub fn run(&mut self, words: &[&str]) -> Frame {
        let argv: Vec<Bytes> = words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        self.run_argv(argv)
    }
}

#[cfg(test)]
mod tests {
    use super::IdleWaits;

    #[test]
    fn blocked_clients_are_spared_and_get_the_timeout_after_their_wait() {
        let mut w = IdleWaits::default();
        // Never blocked: closed at once.
        assert!(w.should_close(1, false, 10_000, 1000));
        // Blocked: spared for as long as it waits.
        assert!(!w.should_close(2, true, 10_000, 1000));
        assert!(!w.should_close(2, true, 20_000, 1000));
        // Its wait ends at 20_100: a full timeout from then.
        assert!(!w.should_close(2, false, 20_100, 1000));
        assert!(!w.should_close(2, false, 21_100, 1000));
        assert!(w.should_close(2, false, 21_101, 1000));
        // A client that interacted is forgotten.
        assert!(!w.should_close(3, true, 5, 1000));
        w.retain(|id, _| *id != 3);
        assert!(w.should_close(3, false, 6, 1000));
    }
}
