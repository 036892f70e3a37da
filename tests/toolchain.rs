//! At home in the toolchain: shell completions and man pages generated from the
//! command-line definitions, a stripped release build, and live tests that report
//! themselves as ignored (with why) where this machine cannot run them.

mod common;

use std::process::Command;

use common::*;

#[test]
fn bash_completion_completes_commands_and_options() {
    let r = run(["completions", "bash"]);
    r.assert_code(0);
    let script = r.stdout_str();
    assert!(script.contains("_tcpdiag()"), "{script}");
    if !std::path::Path::new("/bin/bash").exists() {
        return;
    }
    // Source it and ask for completions the way bash would.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tcpdiag.bash");
    std::fs::write(&file, &script).unwrap();
    // As `complete -F` calls it: the command, the word being completed, the one before.
    let complete = |words: &str, cword: usize| -> String {
        let prog = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{words}'; COMP_POINT=${{#COMP_LINE}}; _tcpdiag tcpdiag \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            file.display()
        );
        let out = Command::new("bash").args(["-c", &prog]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let subs = complete("tcpdiag re", 1);
    assert!(subs.lines().any(|l| l == "replay"), "{subs}");
    assert!(!subs.lines().any(|l| l == "capture"), "{subs}");
    let opts = complete("tcpdiag replay --time", 2);
    let opts: Vec<&str> = opts.lines().collect();
    assert!(
        opts.contains(&"--timeline") && opts.contains(&"--time"),
        "{opts:?}"
    );
    assert!(!opts.contains(&"--format"), "{opts:?}");
    let fmts = complete("tcpdiag replay --format ''", 3);
    assert!(fmts.lines().any(|l| l == "zeek"), "{fmts}");
}

#[test]
fn zsh_and_fish_completions() {
    let zsh = run(["completions", "zsh"]);
    zsh.assert_code(0);
    assert!(
        zsh.stdout_str().starts_with("#compdef tcpdiag"),
        "{}",
        zsh.describe()
    );
    let fish = run(["completions", "fish"]);
    fish.assert_code(0);
    assert!(
        fish.stdout_str().contains("complete -c tcpdiag"),
        "{}",
        fish.describe()
    );
    assert!(
        fish.stdout_str().contains("-l timeline"),
        "{}",
        fish.describe()
    );
    let bad = run(["completions", "tcsh"]);
    bad.assert_code(2);
}

#[test]
fn man_pages_come_from_the_same_definitions() {
    let r = run(["man"]);
    r.assert_code(0);
    let page = r.stdout_str();
    assert!(
        page.starts_with(".ie") || page.contains(".TH tcpdiag 1"),
        "{page}"
    );
    assert!(page.contains(".TH tcpdiag 1"), "{page}");
    for sub in [
        "replay",
        "capture",
        "sockets",
        "watch",
        "host",
        "explain",
        "completions",
        "man",
    ] {
        assert!(page.contains(sub), "{sub} missing");
    }
    let dir = tempfile::tempdir().unwrap();
    let r = run(["man", "--dir", dir.path().to_str().unwrap()]);
    r.assert_code(0);
    let replay = std::fs::read_to_string(dir.path().join("tcpdiag-replay.1")).unwrap();
    assert!(replay.contains(".TH tcpdiag-replay 1"), "{replay}");
    assert!(replay.contains("\\-\\-timeline"), "{replay}");
    assert!(replay.contains("zeek"), "{replay}");
    assert!(dir.path().join("tcpdiag-capture.1").is_file());
    // man renders it, where man-db is installed.
    if std::path::Path::new("/usr/bin/man").exists() {
        let out = Command::new("man")
            .args(["-l", dir.path().join("tcpdiag-replay.1").to_str().unwrap()])
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        if out.status.success() {
            assert!(String::from_utf8_lossy(&out.stdout).contains("--timeline"));
        }
    }
}

#[test]
fn release_is_stripped_and_profiling_keeps_symbols() {
    let toml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let section = |name: &str| -> String {
        let start = toml
            .find(&format!("[{name}]"))
            .unwrap_or_else(|| panic!("no [{name}]"));
        let rest = &toml[start + name.len() + 2..];
        rest[..rest.find("\n[").unwrap_or(rest.len())].to_string()
    };
    let release = section("profile.release");
    assert!(release.contains("strip = true"), "{release}");
    assert!(
        !release.contains("debug = 1") && !release.contains("debug = true"),
        "{release}"
    );
    let profiling = section("profile.profiling");
    assert!(
        profiling.contains("inherits = \"release\"") && profiling.contains("debug = 1"),
        "{profiling}"
    );
}

/// Every test that skips itself without root or tools also says so to the test
/// harness (`cfg_attr(tcpdiag_lacks = "group", ignore = "...")` or
/// `tcpdiag_missing = "tool"`, set by build.rs), so a
/// skip shows as "ignored, needs ..." in the summary instead of a silent pass.
#[test]
fn tests_that_need_the_environment_are_reported_as_ignored() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let markers = [
        "need_root!()",
        "if !root()",
        "Drill::run(",
        "tshark_available()",
        "live_env::ready(",
        "live_env::tools(",
    ];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, chunk) in text.split("#[test]\n").enumerate().skip(1) {
            let body = chunk.split("\n}\n").next().unwrap();
            let before = text.split("#[test]\n").nth(i - 1).unwrap();
            let attrs = before.rsplit("\n}\n").next().unwrap();
            if markers.iter().any(|m| body.contains(m)) {
                let name = body.lines().find(|l| l.starts_with("fn ")).unwrap_or("?");
                assert!(
                    (attrs.contains("tcpdiag_lacks") || attrs.contains("tcpdiag_missing"))
                        && attrs.contains("ignore"),
                    "{}: {name} skips without saying so to the harness",
                    path.display()
                );
            }
        }
    }
}
