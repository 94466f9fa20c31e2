//! The rubedo-server binary: `rubedo-server [/path/to/redis.conf] [--name value ...]`.
//!
//! Arguments follow redis-server's convention (an optional config file,
//! then any config directive as `--name value`), which is driven by the
//! configuration table itself; a flag parser would only duplicate it.

use rubedo_server::config::{parse_sources, Config};

// jemalloc, as Redis uses: tighter size classes for the small nodes of the
// keyspace than glibc's malloc, and exact allocation statistics for INFO.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use rubedo_server::server::{run, Options};

fn usage() -> ! {
    println!(
        "Usage: rubedo-server [/path/to/redis.conf] [--port N] [--bind ADDR...] [--engine single|concurrent] \
         [--threads N] [--databases N] [--<config-name> <value>]...\n       rubedo-server --version"
    );
    std::process::exit(0)
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        usage();
    }
    if args.iter().any(|a| a == "--version" || a == "-v") {
        println!(
            "Rubedo server v={} (Redis {} compatible)",
            env!("CARGO_PKG_VERSION"),
            rubedo_server::REDIS_VERSION
        );
        return;
    }
    let mut file_text = None;
    let mut config_file = String::new();
    if let Some(first) = args.first() {
        if !first.starts_with("--") {
            let path = args.remove(0);
            match std::fs::read_to_string(&path) {
                Ok(t) => file_text = Some(t),
                Err(e) => {
                    eprintln!("Fatal error, can't open config file '{path}': {e}");
                    std::process::exit(1);
                }
            }
            config_file = std::fs::canonicalize(&path)
                .map(|p| p.display().to_string())
                .unwrap_or(path);
        }
    }
    let pairs = match parse_sources(file_text.as_deref(), &args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("*** FATAL CONFIG FILE ERROR ***\n{e}");
            std::process::exit(1);
        }
    };
    let config = Config::default();
    // As Redis: the first `save` line replaces the default points, later
    // ones add to them, and `save ""` clears them.
    let mut points: Option<String> = None;
    for (name, mut value) in pairs {
        if name == "save" {
            if let Some(prev) = points
                .as_deref()
                .filter(|p| !p.is_empty() && !value.is_empty())
            {
                value = format!("{prev} {value}");
            }
            points = Some(value.clone());
        }
        if rubedo_server::config::find(&name).is_none() {
            eprintln!("warning: ignoring unsupported config directive '{name}'");
            continue;
        }
        if let Err(e) = config.set(&name, &value, true) {
            eprintln!("*** FATAL CONFIG FILE ERROR ***\n'{name} {value}': {e}");
            std::process::exit(1);
        }
    }
    if let Err(e) = run(Options {
        config,
        config_file,
    }) {
        eprintln!("Fatal: {e}");
        std::process::exit(1);
    }
}
