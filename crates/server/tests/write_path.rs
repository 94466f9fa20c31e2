//! The write path owns the key-modified signal: every conformance scenario
//! line is run in-process under both engines, and every key whose value or
//! TTL a command changed must have been signalled (WATCH and client-side
//! caching hang off that signal), with no handler having to remember it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;
use rubedo_engine::{Keyspace, ManualClock, Scope};
use rubedo_server::dispatch::table::flag;
use rubedo_server::server::Harness;

/// Splits a scenario line as the conformance runner does (redis-cli's rules).
fn words(line: &str) -> Option<Vec<Bytes>> {
    let b = line.as_bytes();
    let (mut i, mut out) = (0, Vec::new());
    while i < b.len() {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        let mut w = Vec::new();
        match b[i] {
            b'"' => {
                i += 1;
                loop {
                    let c = *b.get(i)?;
                    i += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            let e = *b.get(i)?;
                            i += 1;
                            w.push(match e {
                                b'n' => b'\n',
                                b'r' => b'\r',
                                b't' => b'\t',
                                b'b' => 8,
                                b'a' => 7,
                                b'x' => {
                                    let h = std::str::from_utf8(b.get(i..i + 2)?).ok()?;
                                    i += 2;
                                    u8::from_str_radix(h, 16).ok()?
                                }
                                c => c,
                            });
                        }
                        c => w.push(c),
                    }
                }
            }
            b'\'' => {
                i += 1;
                loop {
                    let c = *b.get(i)?;
                    i += 1;
                    match c {
                        b'\'' => break,
                        b'\\' if b.get(i) == Some(&b'\'') => {
                            w.push(b'\'');
                            i += 1;
                        }
                        c => w.push(c),
                    }
                }
            }
            _ => {
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    w.push(b[i]);
                    i += 1;
                }
            }
        }
        out.push(Bytes::from(w));
    }
    Some(out)
}

/// (db, key) -> (value digest, expiry time).
type Fingerprint = BTreeMap<(usize, Vec<u8>), ([u8; 20], Option<u64>)>;

/// Every key of every database with a fingerprint of its value and TTL.
fn fingerprint<K: Keyspace>(h: &Harness<K>) -> Fingerprint {
    h.server.ks.run(Scope::All, |dbs| {
        let mut out = BTreeMap::new();
        for i in 0..dbs.count() {
            let mut db = dbs.db(i);
            let mut keys = Vec::new();
            db.for_each_raw(|k, e| keys.push((k.to_vec(), e.value.kind())));
            for (k, _) in keys {
                let at = db.expire_at(&k);
                let e = db.raw(&k).expect("listed");
                let d = rubedo_server::cmd::debug::value_digest(&e.value, at.is_some());
                out.insert((i, k), (d, at));
            }
        }
        out
    })
}

/// Lines the in-process harness cannot stand in for a socket on.
fn skipped(argv: &[Bytes]) -> bool {
    let name = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
    matches!(name.as_str(), "debug" | "shutdown" | "monitor" | "quit")
}

fn run_all<K: Keyspace>(make: impl Fn() -> Harness<K>, written: &mut BTreeSet<&'static str>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/conformance exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut missed = Vec::new();
    for path in files {
        let mut h = make();
        h.server.shared.signals.tap.start();
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let mut line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // Reply-comparison modifiers do not change what is sent.
            while let Some(rest) = ["!sort ", "!sortpairs ", "!type ", "!shape ", "!any "]
                .iter()
                .find_map(|m| line.strip_prefix(m))
            {
                line = rest.trim_start();
            }
            if line.starts_with('!') {
                continue;
            }
            let Some(argv) = words(line) else { continue };
            if argv.is_empty() || skipped(&argv) {
                continue;
            }
            let row = h.server.shared.table.resolve(&argv);
            let before = fingerprint(&h);
            h.server.shared.signals.tap.take();
            h.server.shared.signals.tap.take_flushed();
            // A blocking command that found nothing is not parked here.
            h.run_argv(argv);
            let after = fingerprint(&h);
            let signals: BTreeSet<(usize, Vec<u8>)> = h
                .server
                .shared
                .signals
                .tap
                .take()
                .into_iter()
                .map(|(db, k)| (db, k.to_vec()))
                .collect();
            let flushed = h.server.shared.signals.tap.take_flushed();
            let changed: BTreeSet<&(usize, Vec<u8>)> = before
                .iter()
                .filter(|(k, v)| after.get(*k) != Some(*v))
                .map(|(k, _)| k)
                .chain(after.keys().filter(|k| !before.contains_key(*k)))
                .collect();
            if !changed.is_empty() {
                if let Some(r) = row.filter(|r| r.has(flag::WRITE)) {
                    written.insert(r.name);
                }
            }
            for k in changed {
                if !signals.contains(k) && !flushed.contains(&k.0) {
                    missed.push(format!(
                        "{}:{}: {line} changed db {} key {:?} without a signal",
                        path.file_name().unwrap().to_string_lossy(),
                        n + 1,
                        k.0,
                        String::from_utf8_lossy(&k.1)
                    ));
                }
            }
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

#[test]
fn every_change_is_signalled_under_both_engines() {
    let clock = || Arc::new(ManualClock::new(1_700_000_000_000));
    let mut single = BTreeSet::new();
    run_all(|| Harness::single(clock()), &mut single);
    let mut concurrent = BTreeSet::new();
    run_all(|| Harness::concurrent(clock()), &mut concurrent);
    assert_eq!(
        single, concurrent,
        "both engines changed data with the same rows"
    );
    // Every row flagged `write` was seen changing data, so none escapes the check.
    let h = Harness::single(clock());
    let never: Vec<&str> = h
        .server
        .shared
        .table
        .all
        .iter()
        // MIGRATE changes data only with a second server to move keys to:
        // e2e_migrate checks its signals (a WATCH on a moved key fails).
        // FUNCTION LOAD/DELETE/FLUSH/RESTORE write function libraries, never
        // keys (functions.txt and e2e_functions check them).
        .filter(|c| {
            c.has(flag::WRITE)
                && !single.contains(c.name)
                && c.name != "migrate"
                && !c.name.starts_with("function|")
        })
        .map(|c| c.name)
        .collect();
    assert!(
        never.is_empty(),
        "write rows no scenario saw change data: {never:?}"
    );
}
