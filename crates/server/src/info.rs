//! INFO: sections and field names as Redis 7.0 prints them, so exporters
//! and dashboards parse them unchanged.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::dispatch::ctx::Ctx;

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];
const ALL_EXTRA: &[&str] = &["commandstats"];

/// Resident set size in bytes, from /proc.
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

/// Bytes allocated by the program (jemalloc's count), or RSS where
/// jemalloc is not in use.
pub fn allocated_bytes() -> u64 {
    #[cfg(not(target_env = "msvc"))]
    {
        if tikv_jemalloc_ctl::epoch::advance().is_ok() {
            if let Ok(n) = tikv_jemalloc_ctl::stats::allocated::read() {
                if n > 0 {
                    return n as u64;
                }
            }
        }
    }
    rss_bytes()
}

/// (user, system) CPU seconds of this process, from /proc.
fn cpu_secs() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (tick(11), tick(12))
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    }
}

/// Renders the requested sections (empty = default).
pub fn render(ctx: &mut Ctx, requested: &[String]) -> String {
    let mut want: Vec<&str> = Vec::new();
    if requested.is_empty() {
        want.extend(DEFAULT);
    }
    for r in requested {
        match r.as_str() {
            "default" => want.extend(DEFAULT),
            "all" | "everything" => {
                want.extend(DEFAULT);
                want.extend(ALL_EXTRA);
            }
            other => want.extend(DEFAULT.iter().chain(ALL_EXTRA).filter(|s| **s == other)),
        }
    }
    let mut out = String::new();
    for section in DEFAULT.iter().chain(ALL_EXTRA) {
        if !want.contains(section) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        section_text(ctx, section, &mut out);
    }
    out
}

macro_rules! field {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
        $out.push_str("\r\n");
    }};
}

fn section_text(ctx: &mut Ctx, name: &str, out: &mut String) {
    let srv = ctx.srv;
    let st = &srv.stats;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    match name {
        "server" => {
            out.push_str("# Server\r\n");
            field!(out, "redis_version:{}", crate::REDIS_VERSION);
            field!(out, "rubedo_version:{}", env!("CARGO_PKG_VERSION"));
            field!(out, "redis_git_sha1:00000000");
            field!(out, "redis_git_dirty:0");
            field!(out, "redis_mode:standalone");
            field!(
                out,
                "os:{} {}",
                std::env::consts::OS,
                std::env::consts::ARCH
            );
            field!(out, "arch_bits:{}", usize::BITS);
            field!(out, "monotonic_clock:POSIX clock_gettime");
            field!(out, "multiplexing_api:epoll");
            field!(out, "atomicvar_api:c11-builtin");
            field!(out, "process_id:{}", std::process::id());
            field!(out, "process_supervised:no");
            field!(out, "run_id:{}", srv.process.run_id);
            field!(out, "tcp_port:{}", srv.process.port.load(Relaxed));
            field!(out, "server_time_usec:{}", now.as_micros());
            field!(out, "uptime_in_seconds:{}", srv.process.uptime_secs());
            field!(out, "uptime_in_days:{}", srv.process.uptime_secs() / 86400);
            field!(out, "hz:{}", srv.cron.effective_hz.load(Relaxed));
            field!(out, "configured_hz:{}", srv.config.hz.load(Relaxed));
            field!(out, "lru_clock:{}", now.as_secs() & 0xFF_FFFF);
            field!(out, "executable:{}", srv.process.executable);
            field!(out, "config_file:{}", srv.process.config_file);
            field!(out, "io_threads_active:0");
            field!(out, "rubedo_engine:{}", srv.process.engine_name);
            field!(out, "rubedo_threads:{}", srv.process.threads);
        }
        "clients" => {
            out.push_str("# Clients\r\n");
            let clients = srv.clients.snapshot();
            field!(out, "connected_clients:{}", clients.len());
            field!(out, "cluster_connections:0");
            field!(out, "maxclients:{}", srv.config.maxclients.load(Relaxed));
            field!(
                out,
                "client_recent_max_input_buffer:{}",
                clients
                    .iter()
                    .map(|c| c.qbuf.load(Relaxed))
                    .max()
                    .unwrap_or(0)
            );
            field!(
                out,
                "client_recent_max_output_buffer:{}",
                clients.iter().map(|c| c.outbox.used()).max().unwrap_or(0)
            );
            field!(
                out,
                "blocked_clients:{}",
                srv.signals.blocking.blocked_clients()
            );
            field!(out, "tracking_clients:{}", srv.signals.tracking.clients());
            // Blocked clients whose wait has a timeout.
            let timed = clients
                .iter()
                .filter(|c| {
                    c.blocked_with_timeout.load(Relaxed) && srv.signals.blocking.is_waiting(c.id)
                })
                .count();
            field!(out, "clients_in_timeout_table:{timed}");
        }
        "memory" => {
            out.push_str("# Memory\r\n");
            let rss = rss_bytes();
            let used = allocated_bytes();
            let peak = srv.stats.memory_peak.fetch_max(used, Relaxed).max(used);
            field!(out, "used_memory:{used}");
            field!(out, "used_memory_human:{}", human(used));
            field!(out, "used_memory_rss:{rss}");
            field!(out, "used_memory_rss_human:{}", human(rss));
            field!(out, "used_memory_peak:{peak}");
            field!(out, "used_memory_peak_human:{}", human(peak));
            let (lua, scripts, script_bytes) = crate::cmd::scripting::info(srv);
            field!(out, "used_memory_lua:{lua}");
            field!(out, "used_memory_vm_eval:{lua}");
            field!(out, "used_memory_lua_human:{}", human(lua as u64));
            field!(out, "used_memory_scripts_eval:{script_bytes}");
            field!(out, "number_of_cached_scripts:{scripts}");
            let f = &srv.scripting.functions_published;
            let vm_functions = f.lua_memory();
            field!(out, "number_of_functions:{}", f.functions());
            field!(out, "number_of_libraries:{}", f.libraries());
            field!(out, "used_memory_vm_functions:{vm_functions}");
            let vm_total = (lua + vm_functions) as u64;
            field!(out, "used_memory_vm_total:{vm_total}");
            field!(out, "used_memory_vm_total_human:{}", human(vm_total));
            field!(out, "used_memory_functions:{}", f.overhead());
            let scripts_total = (script_bytes + f.overhead()) as u64;
            field!(out, "used_memory_scripts:{scripts_total}");
            field!(out, "used_memory_scripts_human:{}", human(scripts_total));
            field!(out, "maxmemory:0");
            field!(out, "maxmemory_human:0B");
            field!(out, "maxmemory_policy:noeviction");
            field!(
                out,
                "mem_fragmentation_ratio:{:.2}",
                rss as f64 / used.max(1) as f64
            );
            field!(
                out,
                "mem_allocator:{}",
                if cfg!(target_env = "msvc") {
                    "libc"
                } else {
                    "jemalloc-5.3.0"
                }
            );
        }
        "persistence" => {
            out.push_str("# Persistence\r\n");
            let p = &srv.persist;
            field!(out, "loading:{}", p.loading.load(Relaxed) as u8);
            field!(out, "async_loading:0");
            // No fork, so no copy-on-write: these are 0 by construction.
            field!(out, "current_cow_peak:0");
            field!(out, "current_cow_size:0");
            field!(out, "current_cow_size_age:0");
            field!(out, "current_fork_perc:0.00");
            let (done, total) =
                p.bg.lock()
                    .as_ref()
                    .map_or((0, 0), |r| (r.snap.keys_processed(), r.snap.keys_total()));
            field!(out, "current_save_keys_processed:{done}");
            field!(out, "current_save_keys_total:{total}");
            field!(
                out,
                "rdb_changes_since_last_save:{}",
                st.dirty.load(Relaxed)
            );
            field!(out, "rdb_bgsave_in_progress:{}", p.in_progress() as u8);
            field!(out, "rdb_last_save_time:{}", p.lastsave.load(Relaxed));
            field!(
                out,
                "rdb_last_bgsave_status:{}",
                if p.last_bgsave_ok.load(Relaxed) {
                    "ok"
                } else {
                    "err"
                }
            );
            field!(
                out,
                "rdb_last_bgsave_time_sec:{}",
                p.last_bgsave_secs.load(Relaxed)
            );
            field!(
                out,
                "rdb_current_bgsave_time_sec:{}",
                p.current_secs(crate::persistence::Child::Save)
            );
            field!(out, "rdb_saves:{}", p.saves.load(Relaxed));
            field!(out, "rdb_last_cow_size:0");
            field!(
                out,
                "rdb_last_load_keys_expired:{}",
                p.loaded_expired.load(Relaxed)
            );
            field!(
                out,
                "rdb_last_load_keys_loaded:{}",
                p.loaded_keys.load(Relaxed)
            );
            srv.aof.info(srv, out);
            if p.loading.load(Relaxed) {
                let total = p.loading_total.load(Relaxed);
                let done = p.loading_loaded.load(Relaxed).min(total);
                let start = p.loading_start.load(Relaxed);
                let elapsed = crate::persistence::unix_secs().saturating_sub(start);
                let perc = if total > 0 {
                    done as f64 * 100.0 / total as f64
                } else {
                    0.0
                };
                let remaining = if total > 0 { total - done } else { 1 };
                // As Redis: 1 until a second has passed, then extrapolated.
                let eta = if elapsed == 0 {
                    1
                } else {
                    elapsed * remaining / (done + 1)
                };
                field!(out, "loading_start_time:{start}");
                field!(out, "loading_total_bytes:{total}");
                // The used memory a snapshot records: none does yet.
                field!(out, "loading_rdb_used_mem:0");
                field!(out, "loading_loaded_bytes:{done}");
                field!(out, "loading_loaded_perc:{perc:.2}");
                field!(out, "loading_eta_seconds:{eta}");
            }
        }
        "stats" => {
            out.push_str("# Stats\r\n");
            field!(
                out,
                "total_connections_received:{}",
                st.connections_received.load(Relaxed)
            );
            field!(
                out,
                "total_commands_processed:{}",
                st.commands_processed.load(Relaxed)
            );
            field!(
                out,
                "instantaneous_ops_per_sec:{}",
                srv.stats.ops_per_sec.load(Relaxed)
            );
            field!(
                out,
                "total_net_input_bytes:{}",
                st.net_input_bytes.load(Relaxed)
            );
            field!(
                out,
                "total_net_output_bytes:{}",
                st.net_output_bytes.load(Relaxed)
            );
            field!(
                out,
                "rejected_connections:{}",
                st.rejected_connections.load(Relaxed)
            );
            field!(out, "expired_keys:{}", st.expired_keys.load(Relaxed));
            field!(out, "evicted_keys:0");
            field!(out, "keyspace_hits:{}", st.keyspace_hits.load(Relaxed));
            field!(out, "keyspace_misses:{}", st.keyspace_misses.load(Relaxed));
            let hub = &srv.signals.hub;
            field!(
                out,
                "pubsub_channels:{}",
                hub.count(rubedo_pubsub::Kind::Channel)
            );
            field!(
                out,
                "pubsub_patterns:{}",
                hub.count(rubedo_pubsub::Kind::Pattern)
            );
            field!(
                out,
                "pubsubshard_channels:{}",
                hub.count(rubedo_pubsub::Kind::Shard)
            );
            field!(out, "migrate_cached_sockets:{}", srv.migrate.len());
            let (tk, ti, tp) = srv.signals.tracking.totals();
            field!(out, "tracking_total_keys:{tk}");
            field!(out, "tracking_total_items:{ti}");
            field!(out, "tracking_total_prefixes:{tp}");
            field!(
                out,
                "total_error_replies:{}",
                st.total_error_replies.load(Relaxed)
            );
        }
        "replication" => {
            out.push_str("# Replication\r\n");
            field!(out, "role:master");
            field!(out, "connected_slaves:0");
            field!(out, "master_replid:{}", srv.process.run_id);
            field!(out, "master_repl_offset:0");
        }
        "cpu" => {
            out.push_str("# CPU\r\n");
            let (u, s) = cpu_secs();
            field!(out, "used_cpu_sys:{s:.6}");
            field!(out, "used_cpu_user:{u:.6}");
        }
        "modules" => out.push_str("# Modules\r\n"),
        "errorstats" => {
            out.push_str("# Errorstats\r\n");
            for (prefix, n) in st.errors.counts() {
                let prefix = String::from_utf8_lossy(&prefix);
                field!(out, "errorstat_{prefix}:count={n}");
            }
        }
        "cluster" => {
            out.push_str("# Cluster\r\n");
            field!(out, "cluster_enabled:0");
        }
        "keyspace" => {
            out.push_str("# Keyspace\r\n");
            // Shard by shard: INFO locks nothing for its whole run.
            for i in 0..ctx.dbs.count() {
                let (keys, expires, avg_ttl) = ctx.dbs.db_sizes(i);
                if keys == 0 {
                    continue;
                }
                field!(out, "db{i}:keys={keys},expires={expires},avg_ttl={avg_ttl}");
            }
        }
        "commandstats" => {
            out.push_str("# Commandstats\r\n");
            for (id, c) in srv.table.all.iter().enumerate() {
                let s = &st.per_cmd[id];
                let calls = s.calls.load(Relaxed);
                let (rej, failed) = (s.rejected.load(Relaxed), s.failed.load(Relaxed));
                if calls == 0 && rej == 0 && failed == 0 {
                    continue;
                }
                let usec = s.usec.load(Relaxed);
                let per = if calls > 0 {
                    usec as f64 / calls as f64
                } else {
                    0.0
                };
                field!(out, "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per:.2},rejected_calls={rej},failed_calls={failed}", c.name);
            }
        }
        _ => {}
    }
}
