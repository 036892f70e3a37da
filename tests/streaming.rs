//! `replay` of a live pipe and the tcpdump habits of the command line: NDJSON lines
//! come out while the writer is still running (the flow clock follows the wall
//! clock), `-r`, `--timeline FILE`, `--poll 0s`, `explain FAMILY`, `capture -D`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The first NDJSON line arrives while standard input is still open: the flows of
/// a finished capture, fed through a pipe that the writer keeps open, finish by wall
/// time (5 s close linger + 1 s lag), not at the end of the input.
#[test]
fn ndjson_from_a_pipe_streams_while_the_writer_is_open() {
    let pcap = std::fs::read(fixture("http_clean.pcap")).unwrap();
    let mut child = Command::new(bin())
        .args(["replay", "-", "--format", "ndjson"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tcpdiag");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&pcap).unwrap();
    stdin.flush().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("no NDJSON line while the writer is open");
    let waited = started.elapsed();
    let v: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["type"], "flow", "{first}");
    assert!(
        v["community_id"].as_str().unwrap().starts_with("1:"),
        "{first}"
    );
    // The writer is still there: nothing has ended the input.
    assert!(child.try_wait().unwrap().is_none());
    assert!(waited < Duration::from_secs(15), "took {waited:?}");
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success());
    let rest: Vec<String> = rx.iter().collect();
    let last: Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(last["complete"], true);
}

/// A regular file is not a stream: the report is the same as before, in one go.
#[test]
fn a_file_on_standard_input_is_read_as_a_file() {
    let pcap = std::fs::read(fixture("http_clean.pcap")).unwrap();
    let piped = run_with_stdin(["replay", "-", "--format", "ndjson"], Some(&pcap));
    piped.assert_code(0);
    let file = run([
        "replay",
        &fixture_arg("http_clean.pcap"),
        "--format",
        "ndjson",
    ]);
    let ids = |r: &Run| -> Vec<u64> {
        r.ndjson()
            .iter()
            .filter(|l| l["type"] == "flow")
            .map(|l| l["id"].as_u64().unwrap())
            .collect()
    };
    let mut a = ids(&piped);
    let mut b = ids(&file);
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
}

#[test]
fn timeline_never_swallows_the_file_name() {
    let f = fixture_arg("dns_banner_stall.pcap");
    let r = run(["replay", "--timeline", &f, "--format", "json"]);
    r.assert_code(0);
    assert!(!flows(&r.json()).is_empty());
    let r = run(["replay", "--timeline", "full", &f, "--format", "table"]);
    r.assert_code(0);
    assert!(r.stdout_str().contains("t(rel)"), "{}", r.describe());
    let r = run(["replay", &f, "--timeline=full", "--format", "table"]);
    r.assert_code(0);
}

#[test]
fn read_option_as_tcpdump() {
    let a = run([
        "replay",
        "-r",
        &fixture_arg("http_clean.pcap"),
        "--format",
        "json",
    ]);
    a.assert_code(0);
    let b = run([
        "replay",
        &fixture_arg("http_clean.pcap"),
        "--format",
        "json",
    ]);
    assert_eq!(flows(&a.json()).len(), flows(&b.json()).len());
    let r = run(["replay"]);
    r.assert_code(2);
}

#[test]
fn poll_and_interval_of_zero_are_refused_alike() {
    for args in [["capture", "--poll", "0s"], ["watch", "--interval", "0s"]] {
        let r = run(args);
        r.assert_code(2);
        assert!(r.stderr.contains("at least 10ms"), "{}", r.describe());
    }
}

#[test]
fn explain_a_family_by_its_prefix() {
    let r = run(["explain", "stall"]);
    r.assert_code(0);
    let out = r.stdout_str();
    assert!(
        out.contains("stall.first_byte") && out.contains("stall.response"),
        "{out}"
    );
    assert!(!out.contains("rst.injected"), "{out}");
    let r = run(["explain", "nosuch"]);
    r.assert_code(2);
    assert!(
        r.stderr.contains("families: ") && r.stderr.contains("stall"),
        "{}",
        r.describe()
    );
}

#[test]
fn capture_lists_interfaces_like_tcpdump_d() {
    let r = run(["capture", "-D"]);
    r.assert_code(0);
    let out = r.stdout_str();
    assert!(out.contains("1. any"), "{out}");
    assert!(
        out.contains(". lo  [up") && out.contains("127.0.0.1/8"),
        "{out}"
    );
}
