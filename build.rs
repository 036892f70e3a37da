//! Tells the integration tests what this machine lacks, so a test that needs root or
//! an outside tool is reported as `ignored` with its reason in the test summary
//! ("test x ... ignored, needs root and ...", "N ignored") instead of passing
//! silently. Sets `cfg(tcpdiag_missing = "...")` for each missing piece, never
//! under TCPDIAG_CI (CI runs every test, and a missing tool fails it). The tests keep
//! their own run-time check, so a stale answer (a tool installed after the build)
//! never makes a test fail; `touch build.rs` refreshes it.

use std::path::Path;

/// Tools some tests check for themselves, outside the groups below (a full disk on a
/// small tmpfs, dropping privileges).
const OTHER_TOOLS: &[&str] = &["mount", "umount", "setpriv"];

/// What each group of tests needs ("root" or tools): a test is marked with its group
/// (`cfg_attr(tcpdiag_lacks = "drills", ignore = "...")`), not with every piece.
const GROUPS: &[(&str, &[&str])] = &[
    (
        "drills",
        &[
            "root",
            "ip",
            "tc",
            "nft",
            "tcpdump",
            "tshark",
            "mergecap",
            "editcap",
            "python3",
            "nginx",
            "curl",
            "jq",
            "bc",
            "ssh",
            "ssh-keygen",
            "sshd",
            "proftpd",
            "hping3",
            "conntrack",
            "ethtool",
            "ss",
            "nstat",
        ],
    ),
    ("live", &["root", "ip", "nft", "python3", "ss", "sysctl"]),
    (
        "containers",
        &["root", "ip", "nft", "python3", "curl", "nginx", "ss"],
    ),
    (
        "capture_any",
        &["root", "ip", "nginx", "curl", "python3", "sysctl"],
    ),
    ("tshark", &["tshark"]),
    ("tshark_mergecap", &["tshark", "mergecap"]),
];

fn main() {
    println!("cargo::rustc-check-cfg=cfg(tcpdiag_missing, values(any()))");
    println!("cargo::rustc-check-cfg=cfg(tcpdiag_lacks, values(any()))");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=TCPDIAG_CI");
    println!("cargo::rerun-if-env-changed=PATH");
    // Each group's tools, for the tests' own run-time check (`env!`): one list.
    for (group, needs) in GROUPS {
        let tools: Vec<&str> = needs.iter().copied().filter(|n| *n != "root").collect();
        println!(
            "cargo::rustc-env=TCPDIAG_TOOLS_{}={}",
            group.to_uppercase(),
            tools.join(",")
        );
    }
    if std::env::var_os("TCPDIAG_CI").is_some() {
        return;
    }
    // /proc/self belongs to the effective user.
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    let path = std::env::var_os("PATH").unwrap_or_default();
    // Every tool a group or a test asks for, once.
    let mut tools: Vec<&str> = GROUPS
        .iter()
        .flat_map(|(_, needs)| needs.iter().copied())
        .chain(OTHER_TOOLS.iter().copied())
        .filter(|t| *t != "root")
        .collect();
    tools.sort_unstable();
    tools.dedup();
    let mut missing: Vec<&str> = tools
        .into_iter()
        .filter(|tool| !std::env::split_paths(&path).any(|d| Path::new(&d).join(tool).is_file()))
        .collect();
    if !root {
        missing.push("root");
    }
    for piece in &missing {
        println!("cargo::rustc-cfg=tcpdiag_missing=\"{piece}\"");
    }
    for (group, needs) in GROUPS {
        if needs.iter().any(|n| missing.contains(n)) {
            println!("cargo::rustc-cfg=tcpdiag_lacks=\"{group}\"");
        }
    }
}
