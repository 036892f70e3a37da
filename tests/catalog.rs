//! The finding catalog is the public interface: every id the analyzers emit is
//! documented, and docs/findings.md is the catalog's current rendering.

use std::path::Path;
use std::process::Command;

fn emitted_ids() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/analyze");
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        // The socket findings are made through sock_finding(ID, ...), which wraps
        // Finding::new.
        for call in ["Finding::new(", "sock_finding("] {
            for part in text.split(call).skip(1) {
                let rest = part.trim_start();
                if let Some(stripped) = rest.strip_prefix('"') {
                    let id = stripped.split('"').next().unwrap();
                    ids.push(id.to_string());
                }
            }
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn every_emitted_id_is_in_the_catalog() {
    let ids = emitted_ids();
    assert!(ids.len() >= 20, "found only {ids:?}");
    assert!(
        ids.iter().any(|id| id == "sock.retransmitting"),
        "the sock_finding ids are scanned too: {ids:?}"
    );
    for id in ids {
        let out = Command::new(env!("CARGO_BIN_EXE_tcpdiag"))
            .args(["explain", &id])
            .output()
            .unwrap();
        assert!(out.status.success(), "{id} is not in `tcpdiag explain`");
        assert!(String::from_utf8_lossy(&out.stdout).contains("meaning:"));
    }
}

#[test]
fn docs_findings_md_is_current() {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpdiag"))
        .args(["explain", "--markdown"])
        .output()
        .unwrap();
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/findings.md"))
            .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        committed,
        "docs/findings.md is stale: run `tcpdiag explain --markdown > docs/findings.md`"
    );
}

#[test]
fn unknown_id_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_tcpdiag"))
        .args(["explain", "no.such.finding"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

/// Every entry says what would make its finding wrong (false positives and honest
/// limits), and `tcpdiag explain ID` prints it.
#[test]
fn every_entry_says_what_would_make_it_wrong() {
    use tcpdiag::analyze::catalog::CATALOG;
    assert!(CATALOG.len() >= 30);
    for e in CATALOG {
        let wrong = e.wrong_when.trim();
        assert!(
            wrong.len() >= 80,
            "{}: wrong_when is empty or too short ({} characters)",
            e.id,
            wrong.len()
        );
        let out = Command::new(env!("CARGO_BIN_EXE_tcpdiag"))
            .args(["explain", e.id])
            .output()
            .unwrap();
        assert!(out.status.success(), "tcpdiag explain {} failed", e.id);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("wrong when: {wrong}")),
            "tcpdiag explain {} does not print its wrong_when:\n{text}",
            e.id
        );
    }
}
