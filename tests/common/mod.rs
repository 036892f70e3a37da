//! Shared helpers for the integration tests: run the `tcpdiag` binary on fixtures,
//! parse its JSON, find flows and timeline events, and build/convert pcap files
//! (see `pcap`) so damaged or re-encapsulated inputs can be made at test time.
//!
//! Each test crate includes this with `mod common;`, and not every crate uses every
//! helper.
#![allow(dead_code)]

pub mod pcap;
pub mod pcapng;

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The binary under test (built by cargo for integration tests).
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tcpdiag")
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Path of a fixture file (`"http_clean.pcap"`).
pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

pub fn fixture_exists(name: &str) -> bool {
    fixture(name).is_file()
}

/// Fixture path as a string argument.
pub fn fixture_arg(name: &str) -> String {
    fixture(name).to_string_lossy().into_owned()
}

/// All capture fixtures (`*.pcap`, `*.pcapng`) in the fixtures directory, sorted.
pub fn all_fixtures() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    v.sort();
    v
}

/// One finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    /// None when killed by a signal.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The exit code; panics (with the run's output) when killed by a signal.
    pub fn code(&self) -> i32 {
        match self.code {
            Some(c) => c,
            None => panic!(
                "tcpdiag {:?} was killed by a signal\n{}",
                self.args,
                self.describe()
            ),
        }
    }

    pub fn describe(&self) -> String {
        let out = self.stdout_str();
        let out = if out.len() > 2000 {
            format!(
                "{}...",
                &out[..out.char_indices().nth(2000).map_or(out.len(), |(i, _)| i)]
            )
        } else {
            out
        };
        format!(
            "args: {:?}\nexit: {:?}\nstderr:\n{}\nstdout (start):\n{}",
            self.args, self.code, self.stderr, out
        )
    }

    /// Never a panic, never a signal, exit code 0, 1 or 2 only.
    pub fn assert_sane(&self) {
        assert!(
            !self.stderr.contains("panicked"),
            "tcpdiag panicked\n{}",
            self.describe()
        );
        let code = self.code();
        assert!(
            (0..=2).contains(&code),
            "unexpected exit code {code}\n{}",
            self.describe()
        );
    }

    pub fn assert_code(&self, want: i32) {
        self.assert_sane();
        assert_eq!(self.code(), want, "exit code\n{}", self.describe());
    }

    /// stdout as one JSON document.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not valid JSON: {e}\n{}", self.describe()))
    }

    /// stdout as NDJSON: one JSON value per non-empty line.
    pub fn ndjson(&self) -> Vec<Value> {
        self.stdout_str()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("bad NDJSON line {l:?}: {e}\n{}", self.describe()))
            })
            .collect()
    }

    /// Non-empty stderr lines.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }
}

/// Runs `tcpdiag ARGS...`.
pub fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_with_stdin(args, None)
}

/// Runs `tcpdiag ARGS...` with `input` on standard input (None: stdin is /dev/null).
pub fn run_with_stdin<I, S>(args: I, input: Option<&[u8]>) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect();
    let mut cmd = Command::new(bin());
    cmd.args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        // No colour or terminal-dependent behaviour from the environment.
        .env_remove("RUST_BACKTRACE");
    let mut child = cmd.spawn().expect("spawn tcpdiag");
    let writer = input.map(|data| {
        let mut stdin = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            // The tool may stop reading early (damaged input): ignore EPIPE.
            let _ = stdin.write_all(&data);
        })
    });
    let out = child.wait_with_output().expect("wait for tcpdiag");
    if let Some(w) = writer {
        let _ = w.join();
    }
    Run {
        args,
        code: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `tcpdiag replay FIXTURE --format json EXTRA...`
pub fn replay(fixture_name: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "replay".to_string(),
        fixture_arg(fixture_name),
        "--format".into(),
        "json".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run(args)
}

/// Replays a fixture as JSON, asserting a clean run (exit 0, nothing on stderr, complete).
pub fn replay_json(fixture_name: &str, extra: &[&str]) -> Value {
    let r = replay(fixture_name, extra);
    r.assert_code(0);
    assert!(
        r.stderr.trim().is_empty(),
        "unexpected stderr for {fixture_name}\n{}",
        r.describe()
    );
    let doc = r.json();
    assert_eq!(
        doc["summary"]["complete"],
        Value::Bool(true),
        "{fixture_name}: summary.complete"
    );
    doc
}

/// `--timeline full` JSON of a fixture.
pub fn replay_full(fixture_name: &str) -> Value {
    replay_json(fixture_name, &["--timeline", "full"])
}

pub fn flows(doc: &Value) -> &Vec<Value> {
    doc["flows"]
        .as_array()
        .unwrap_or_else(|| panic!("no flows array in {doc}"))
}

/// All flows with this client and server ("192.0.2.10:40001", "[2001:db8::1]:7000").
pub fn find_flows<'a>(doc: &'a Value, client: &str, server: &str) -> Vec<&'a Value> {
    flows(doc)
        .iter()
        .filter(|f| f["client"] == client && f["server"] == server)
        .collect()
}

/// The one flow with this client and server; panics (listing the flows) otherwise.
pub fn find_flow<'a>(doc: &'a Value, client: &str, server: &str) -> &'a Value {
    let found = find_flows(doc, client, server);
    if found.len() != 1 {
        let have: Vec<String> = flows(doc)
            .iter()
            .map(|f| format!("{} -> {}", f["client"], f["server"]))
            .collect();
        panic!(
            "expected exactly one flow {client} -> {server}, found {}; flows: {have:#?}",
            found.len()
        );
    }
    found[0]
}

/// The findings with this id in `v`'s `findings` (a report or one flow).
pub fn findings_with_id<'a>(v: &'a Value, id: &str) -> Vec<&'a Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

/// The first finding with this id in `v`'s `findings`; panics (listing them) when none.
pub fn first_finding<'a>(v: &'a Value, id: &str) -> &'a Value {
    let all = findings_with_id(v, id);
    assert!(!all.is_empty(), "no {id} in {:#}", v["findings"]);
    all[0]
}

pub fn timeline(flow: &Value) -> &Vec<Value> {
    flow["timeline"]
        .as_array()
        .unwrap_or_else(|| panic!("flow without timeline: {flow}"))
}

/// The timeline event that starts at `frame` (a segment, or a run starting there).
pub fn event_at(flow: &Value, frame: u64) -> Option<&Value> {
    timeline(flow).iter().find(|e| e["frame"] == frame)
}

/// The timeline event that covers `frame`: the segment itself or the run holding it.
pub fn event_covering(flow: &Value, frame: u64) -> Option<&Value> {
    timeline(flow).iter().find(|e| {
        let first = e["frame"].as_u64().unwrap_or(0);
        let last = e["run"]["last_frame"].as_u64().unwrap_or(first);
        (first..=last).contains(&frame)
    })
}

/// Analysis labels of an event ("retransmission", "dup ACK", ...).
pub fn analysis_of(ev: &Value) -> Vec<String> {
    ev["analysis"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Numeric field by JSON pointer ("/client_stats/packets"); panics when missing.
pub fn num(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no unsigned number at {pointer} in {}", short(v)))
}

/// String field by JSON pointer; panics when missing.
pub fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {}", short(v)))
}

/// A value shortened for panic messages (timelines of bulk flows are long).
pub fn short(v: &Value) -> String {
    let mut v = v.clone();
    if let Some(t) = v.get_mut("timeline") {
        if let Some(a) = t.as_array_mut() {
            if a.len() > 12 {
                a.truncate(12);
            }
        }
    }
    let s = v.to_string();
    if s.len() > 3000 {
        format!("{}...", &s[..3000])
    } else {
        s
    }
}

/// Packets of a flow (both sides).
pub fn flow_packets(flow: &Value) -> u64 {
    num(flow, "/client_stats/packets") + num(flow, "/server_stats/packets")
}

/// A scratch directory for generated inputs.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("tcpdiag-test-")
        .tempdir()
        .expect("tempdir")
}

/// Checks the timeline invariants of a flow: frames ascend, every event is a segment
/// or a run, and segments plus run counts add up to the flow's packets per side.
pub fn check_timeline_accounting(flow: &Value) {
    let tl = timeline(flow);
    assert_eq!(
        num(flow, "/timeline_dropped"),
        0,
        "timeline dropped events: {}",
        short(flow)
    );
    let mut counted = [0u64; 2];
    let mut last_frame = 0u64;
    for ev in tl {
        let frame = num(ev, "/frame");
        assert!(
            frame > last_frame,
            "timeline frames must ascend ({last_frame} then {frame}): {}",
            short(flow)
        );
        if let Some(run) = ev.get("run").filter(|r| !r.is_null()) {
            let lf = num(run, "/last_frame");
            assert!(lf >= frame, "run ends before it starts: {ev}");
            counted[0] += num(run, "/client_packets");
            counted[1] += num(run, "/server_packets");
            last_frame = lf;
        } else {
            match text(ev, "/dir") {
                "c>s" => counted[0] += 1,
                "s>c" => counted[1] += 1,
                d => panic!("unknown dir {d} in {ev}"),
            }
            last_frame = frame;
        }
    }
    assert_eq!(
        counted,
        [
            num(flow, "/client_stats/packets"),
            num(flow, "/server_stats/packets")
        ],
        "timeline events/runs must account for every packet per side: {}",
        short(flow)
    );
}
