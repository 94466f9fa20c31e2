//! The binary's own flags. (Also makes `cargo test` build the real
//! `rubedo-server` executable that the end-to-end tests in `tests/` start.)

use std::process::Command;

#[test]
fn version_flag_prints_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_rubedo-server"))
        .arg("--version")
        .output()
        .expect("run rubedo-server --version");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Redis 7.0.15 compatible"), "{text}");
}

#[test]
fn unreadable_config_file_is_fatal() {
    let out = Command::new(env!("CARGO_BIN_EXE_rubedo-server"))
        .arg("/nonexistent/redis.conf")
        .output()
        .expect("run rubedo-server");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("can't open config file"));
}
