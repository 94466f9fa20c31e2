//! The architecture's layering rules (ARCHITECTURE.md), checked over the Cargo.toml files
//! so they cannot rot: which workspace crate may depend on which, and one version of
//! every dependency, declared once in the root [workspace.dependencies].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace root")
        .to_path_buf()
}

fn read_toml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.parse()
        .unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()))
}

/// One dependency of a member, as declared.
struct Dep {
    /// The package it resolves to (after `package = "..."` renames).
    package: String,
    /// "dependencies", "dev-dependencies", "build-dependencies", or a target's.
    section: String,
    /// Declared `workspace = true`.
    from_workspace: bool,
}

struct Member {
    name: String,
    manifest: PathBuf,
    deps: Vec<Dep>,
}

struct Workspace {
    members: BTreeMap<String, Member>,
}

impl Workspace {
    fn load(root: &Path) -> Workspace {
        let manifest = read_toml(&root.join("Cargo.toml"));
        let ws = manifest
            .get("workspace")
            .expect("the root Cargo.toml has a [workspace]");
        let ws_deps = ws
            .get("dependencies")
            .and_then(Value::as_table)
            .cloned()
            .unwrap_or_default();
        let member_dirs: Vec<&str> = ws
            .get("members")
            .and_then(Value::as_array)
            .expect("[workspace] lists its members")
            .iter()
            .map(|m| m.as_str().expect("member paths are strings"))
            .collect();
        assert!(
            member_dirs.iter().all(|m| !m.contains('*')),
            "workspace members are listed one by one (this test does not expand globs)"
        );

        let mut members = BTreeMap::new();
        for dir in member_dirs {
            let path = root.join(dir).join("Cargo.toml");
            let toml = read_toml(&path);
            let name = toml
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{} has no package.name", path.display()))
                .to_string();
            let mut deps = Vec::new();
            let mut sections: Vec<(String, &Value)> = Vec::new();
            for kind in ["dependencies", "dev-dependencies", "build-dependencies"] {
                if let Some(t) = toml.get(kind) {
                    sections.push((kind.to_string(), t));
                }
                if let Some(targets) = toml.get("target").and_then(Value::as_table) {
                    for (cfg, t) in targets {
                        if let Some(t) = t.get(kind) {
                            sections.push((format!("target.'{cfg}'.{kind}"), t));
                        }
                    }
                }
            }
            for (section, table) in sections {
                let table = table
                    .as_table()
                    .unwrap_or_else(|| panic!("{}: [{section}] is not a table", path.display()));
                for (key, spec) in table {
                    let from_workspace =
                        spec.get("workspace").and_then(Value::as_bool) == Some(true);
                    // A rename may sit in the member or in the workspace entry.
                    let package = spec
                        .get("package")
                        .or_else(|| ws_deps.get(key).and_then(|w| w.get("package")))
                        .and_then(Value::as_str)
                        .unwrap_or(key)
                        .to_string();
                    deps.push(Dep {
                        package,
                        section: section.clone(),
                        from_workspace,
                    });
                }
            }
            members.insert(
                name.clone(),
                Member {
                    name,
                    manifest: path,
                    deps,
                },
            );
        }
        Workspace { members }
    }

    fn member(&self, name: &str) -> Result<&Member, String> {
        self.members.get(name).ok_or_else(|| {
            format!(
                "workspace member {name} not found (members: {:?}); update the layering test \
                 if it was renamed",
                self.members.keys().collect::<Vec<_>>()
            )
        })
    }

    /// The workspace crates `member` depends on, with the section each is in.
    fn internal_deps<'a>(&'a self, member: &'a Member) -> Vec<&'a Dep> {
        member
            .deps
            .iter()
            .filter(|d| self.members.contains_key(&d.package))
            .collect()
    }
}

/// The rules, each returning the violations it finds as one message.
mod rules {
    use super::Workspace;

    /// `crate_name` depends on no workspace crate outside `allowed`.
    pub fn internal_deps_within(
        ws: &Workspace,
        crate_name: &str,
        allowed: &[&str],
        rule: &str,
    ) -> Result<(), String> {
        let m = ws.member(crate_name)?;
        let bad: Vec<String> = ws
            .internal_deps(m)
            .into_iter()
            .filter(|d| !allowed.contains(&d.package.as_str()))
            .map(|d| format!("{} (in [{}])", d.package, d.section))
            .collect();
        if bad.is_empty() {
            return Ok(());
        }
        Err(format!(
            "layering rule broken: {rule}\n  {} ({}) depends on: {}",
            m.name,
            m.manifest.display(),
            bad.join(", ")
        ))
    }

    pub fn resp_is_standalone(ws: &Workspace) -> Result<(), String> {
        internal_deps_within(
            ws,
            "rubedo-resp",
            &[],
            "rubedo-resp is a pure codec and depends on no workspace crate",
        )
    }

    pub fn engine_is_embeddable(ws: &Workspace) -> Result<(), String> {
        internal_deps_within(
            ws,
            "rubedo-engine",
            &[],
            "rubedo-engine depends on no workspace crate (no resp, no server)",
        )?;
        let engine = ws.member("rubedo-engine")?;
        let runtime: Vec<String> = engine
            .deps
            .iter()
            .filter(|d| ["tokio", "mio", "async-trait"].contains(&d.package.as_str()))
            .map(|d| format!("{} (in [{}])", d.package, d.section))
            .collect();
        if runtime.is_empty() {
            return Ok(());
        }
        Err(format!(
            "layering rule broken: rubedo-engine knows nothing of sockets or async runtimes \
             (no tokio, mio, async-trait)\n  {} depends on: {}",
            engine.manifest.display(),
            runtime.join(", ")
        ))
    }

    pub fn services_use_only_engine_and_resp(ws: &Workspace) -> Result<(), String> {
        for name in ["rubedo-persist", "rubedo-pubsub", "rubedo-script"] {
            internal_deps_within(
                ws,
                name,
                &["rubedo-engine", "rubedo-resp"],
                "persist, pubsub and script may depend only on rubedo-engine and rubedo-resp, \
                 never on rubedo-server or rubedo-cli",
            )?;
        }
        Ok(())
    }

    pub fn cli_uses_only_resp(ws: &Workspace) -> Result<(), String> {
        internal_deps_within(
            ws,
            "rubedo-cli",
            &["rubedo-resp"],
            "rubedo-cli depends on rubedo-resp only among workspace crates",
        )
    }

    pub fn nothing_depends_on_server(ws: &Workspace) -> Result<(), String> {
        let allowed = ["rubedo-tests", "xtask"];
        let bad: Vec<String> = ws
            .members
            .values()
            .filter(|m| !allowed.contains(&m.name.as_str()))
            .flat_map(|m| {
                m.deps
                    .iter()
                    .filter(|d| d.package == "rubedo-server")
                    .map(move |d| {
                        format!(
                            "{} (in [{}] of {})",
                            m.name,
                            d.section,
                            m.manifest.display()
                        )
                    })
            })
            .collect();
        if bad.is_empty() {
            return Ok(());
        }
        Err(format!(
            "layering rule broken: rubedo-server composes the crates and nothing but the \
             tests package and xtask may depend on it\n  depended on by: {}",
            bad.join(", ")
        ))
    }

    pub fn all_deps_from_workspace(ws: &Workspace) -> Result<(), String> {
        let bad: Vec<String> = ws
            .members
            .values()
            .flat_map(|m| {
                m.deps.iter().filter(|d| !d.from_workspace).map(move |d| {
                    format!(
                        "{}: {} (in [{}])",
                        m.manifest.display(),
                        d.package,
                        d.section
                    )
                })
            })
            .collect();
        if bad.is_empty() {
            return Ok(());
        }
        Err(format!(
            "rule broken: one version per dependency, so every dependency of every member is \
             declared `workspace = true` (add it to the root [workspace.dependencies])\n  {}",
            bad.join("\n  ")
        ))
    }

    /// A renamed crate would otherwise make the rules above pass vacuously.
    pub fn layered_crates_exist(ws: &Workspace) -> Result<(), String> {
        for name in [
            "rubedo-resp",
            "rubedo-engine",
            "rubedo-persist",
            "rubedo-pubsub",
            "rubedo-script",
            "rubedo-server",
            "rubedo-cli",
        ] {
            ws.member(name)?;
        }
        Ok(())
    }
}

fn check(rule: fn(&Workspace) -> Result<(), String>) {
    if let Err(msg) = rule(&Workspace::load(&root())) {
        panic!("{msg}");
    }
}

#[test]
fn resp_depends_on_no_workspace_crate() {
    check(rules::resp_is_standalone);
}

#[test]
fn engine_is_embeddable() {
    check(rules::engine_is_embeddable);
}

#[test]
fn services_depend_only_on_engine_and_resp() {
    check(rules::services_use_only_engine_and_resp);
}

#[test]
fn cli_depends_only_on_resp() {
    check(rules::cli_uses_only_resp);
}

#[test]
fn nothing_depends_on_the_server_binary() {
    check(rules::nothing_depends_on_server);
}

#[test]
fn every_dependency_comes_from_the_workspace() {
    check(rules::all_deps_from_workspace);
}

#[test]
fn the_layered_crates_exist() {
    check(rules::layered_crates_exist);
}

/// The rules catch what they should: a small workspace that breaks each of them.
#[test]
fn the_rules_catch_violations() {
    let dir = std::env::temp_dir().join(format!("rubedo-layering-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let write = |path: &str, text: &str| {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    let member = |name: &str, deps: &str| {
        format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n\n[dependencies]\n{deps}\n")
    };
    write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"resp\", \"engine\", \"persist\", \"pubsub\", \"script\", \
         \"server\", \"cli\"]\n[workspace.dependencies]\nrubedo-resp = { path = \"resp\" }\n\
         engine = { path = \"engine\", package = \"rubedo-engine\" }\n\
         rubedo-server = { path = \"server\" }\ntokio = \"1\"\n",
    );
    write(
        "resp/Cargo.toml",
        &member("rubedo-resp", "engine.workspace = true"),
    );
    write(
        "engine/Cargo.toml",
        &format!(
            "{}[target.'cfg(unix)'.dev-dependencies]\ntokio = {{ workspace = true }}\n",
            member("rubedo-engine", "")
        ),
    );
    write(
        "persist/Cargo.toml",
        &member("rubedo-persist", "rubedo-server.workspace = true"),
    );
    write(
        "pubsub/Cargo.toml",
        &member("rubedo-pubsub", "engine.workspace = true"),
    );
    write(
        "script/Cargo.toml",
        &member("rubedo-script", "bytes = \"1\""),
    );
    write(
        "server/Cargo.toml",
        &member("rubedo-server", "rubedo-resp.workspace = true"),
    );
    write(
        "cli/Cargo.toml",
        &member("rubedo-cli", "engine = { workspace = true }"),
    );
    let ws = Workspace::load(&dir);
    let expect = |res: Result<(), String>, needle: &str| {
        let msg = res.expect_err(needle);
        assert!(msg.contains(needle), "{needle:?} not in: {msg}");
    };
    expect(
        rules::resp_is_standalone(&ws),
        "Cargo.toml) depends on: rubedo-engine (in [dependencies])",
    );
    expect(
        rules::engine_is_embeddable(&ws),
        "tokio (in [target.'cfg(unix)'.dev-dependencies])",
    );
    expect(
        rules::services_use_only_engine_and_resp(&ws),
        "depends on: rubedo-server",
    );
    expect(rules::cli_uses_only_resp(&ws), "depends on: rubedo-engine");
    expect(
        rules::nothing_depends_on_server(&ws),
        "depended on by: rubedo-persist",
    );
    expect(
        rules::all_deps_from_workspace(&ws),
        "bytes (in [dependencies])",
    );
    rules::layered_crates_exist(&ws).unwrap();
    std::fs::remove_file(dir.join("cli/Cargo.toml")).unwrap();
    write(
        "Cargo.toml",
        &std::fs::read_to_string(dir.join("Cargo.toml"))
            .unwrap()
            .replace(", \"cli\"", ""),
    );
    expect(
        rules::layered_crates_exist(&Workspace::load(&dir)),
        "rubedo-cli not found",
    );
    let _ = std::fs::remove_dir_all(&dir);
}
