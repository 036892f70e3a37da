//! Whether a test that needs the real environment (root, network namespaces, outside
//! tools) can run here. Without them the test says why and skips, so `cargo test` works
//! on a fresh machine; with TCPDIAG_CI set (as `.ci/run` does) a missing piece fails the
//! test instead, so CI can never pass by skipping.
#![allow(dead_code)]

use std::path::Path;

/// True when running as root and every tool is on PATH.
pub fn ready(tools: &[&str]) -> bool {
    let mut missing: Vec<String> = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root".into());
    }
    missing.extend(tools.iter().filter(|t| !on_path(t)).map(|t| t.to_string()));
    check(&missing)
}

/// True when every tool is on PATH (no root needed).
pub fn tools(tools: &[&str]) -> bool {
    let missing: Vec<String> = tools
        .iter()
        .filter(|t| !on_path(t))
        .map(|t| t.to_string())
        .collect();
    check(&missing)
}

fn check(missing: &[String]) -> bool {
    if missing.is_empty() {
        return true;
    }
    let list = missing.join(", ");
    if std::env::var_os("TCPDIAG_CI").is_some() {
        panic!("TCPDIAG_CI is set, but this test needs: {list}");
    }
    eprintln!("skipped: needs {list} (.ci/run installs the tools and runs as root)");
    false
}

/// This test process's id in base 36: part of every namespace name a live test
/// makes, so that concurrent `cargo test` runs (two clones) do not collide. Short,
/// since namespace names also show up in tool output and error lines.
pub fn run_id() -> String {
    let mut n = std::process::id();
    let mut digits = Vec::new();
    loop {
        digits.push(char::from_digit(n % 36, 36).expect("digit"));
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.iter().rev().collect()
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| Path::new(&dir).join(tool).is_file())
    })
}

/// Runs a setup command; its failure fails the test with the command and its stderr.
pub fn run(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `ip ARGS`, which must succeed.
pub fn ip(args: &[&str]) {
    run(std::process::Command::new("ip").args(args));
}

/// A veth pair `a_dev` (in namespace `a`) <-> `b_dev` (in `b`), both ends up, with
/// offloads off so the capture sees wire-sized segments (ethtool may be missing: the
/// scenarios send little data).
pub fn veth_pair(a: &str, a_dev: &str, b: &str, b_dev: &str) {
    ip(&[
        "link", "add", a_dev, "netns", a, "type", "veth", "peer", "name", b_dev, "netns", b,
    ]);
    for (ns, dev) in [(a, a_dev), (b, b_dev)] {
        let _ = std::process::Command::new("ip")
            .args(["netns", "exec", ns, "ethtool", "-K", dev])
            .args(["tso", "off", "gso", "off", "gro", "off", "tx", "off"])
            .output();
        ip(&["-n", ns, "link", "set", dev, "up"]);
    }
}

/// `sysctl -w KEY=VALUE` inside namespace `ns`, which must succeed.
pub fn sysctl(ns: &str, kv: &str) {
    run(std::process::Command::new("ip").args(["netns", "exec", ns, "sysctl", "-qw", kv]));
}
