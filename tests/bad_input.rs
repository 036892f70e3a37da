//! Damaged and unusual inputs, built in a temp dir from real fixtures at test time,
//! plus the input plumbing: several files, standard input, BPF filters, --keep-going
//! and --fail-on exit codes.
//!
//! Contract (src/commands.rs): exit 0 fine, 1 findings at or above --fail-on,
//! 2 unusable input or arguments. A damaged file gives a one-line error naming the
//! file (and the frame, when the damage is in a record); the report still covers the
//! frames before the damage, with summary.complete == false. --keep-going reads the
//! remaining files and exits as if the input were complete.

mod common;

use std::path::{Path, PathBuf};

use common::pcap::{self, Pcap};
use common::*;
use serde_json::Value;

/// http_clean.pcap as bytes, with its record offsets.
fn http_clean() -> (Vec<u8>, Vec<usize>) {
    let p = Pcap::read(&fixture("http_clean.pcap"));
    (p.to_bytes(), p.record_offsets())
}

fn write(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, data).expect("write test input");
    path
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn replay_paths(paths: &[&str], extra: &[&str]) -> Run {
    let mut args = vec!["replay".to_string()];
    args.extend(paths.iter().map(|s| s.to_string()));
    args.extend(["--format".to_string(), "json".to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    run(args)
}

/// The error is one line that names the file (and the frame when given).
fn assert_one_line_error(r: &Run, file: &str, frame: Option<u64>) {
    let lines = r.stderr_lines();
    assert_eq!(
        lines.len(),
        1,
        "expected a one-line error\n{}",
        r.describe()
    );
    let line = lines[0];
    assert!(line.starts_with("tcpdiag: "), "error prefix: {line}");
    assert!(line.contains(file), "error should name {file}: {line}");
    if let Some(n) = frame {
        assert!(
            line.contains(&format!("frame {n}")),
            "error should name frame {n}: {line}"
        );
    }
}

/// A file that cannot be read at all: exit 2 and a one-line error naming it.
fn assert_unreadable(path: &Path) -> Run {
    let r = replay_paths(&[&path_arg(path)], &[]);
    r.assert_code(2);
    let name = path.file_name().expect("file name").to_string_lossy();
    assert_one_line_error(&r, &name, None);
    r
}

/// Damage after record `bad` (0-based): the report covers frames 1..=bad.
fn assert_partial_report(r: &Run, file: &str, bad_frame: u64) -> Value {
    let doc = r.json();
    let s = &doc["summary"];
    assert_eq!(s["complete"], false, "summary.complete\n{}", r.describe());
    let errors = s["errors"].as_array().expect("summary.errors");
    assert_eq!(errors.len(), 1, "one error recorded: {errors:?}");
    assert_eq!(errors[0]["frame"], bad_frame, "errors[0].frame");
    assert!(
        errors[0]["file"].as_str().unwrap_or("").contains(file),
        "errors[0].file: {}",
        errors[0]
    );
    assert_eq!(
        num(s, "/packets/frames"),
        bad_frame - 1,
        "frames before the damage are all analysed"
    );
    for f in flows(&doc) {
        assert!(
            num(f, "/last_frame") < bad_frame,
            "flow past the damage: {}",
            short(f)
        );
    }
    doc
}

// ---------------------------------------------------------------------------------
// Damaged files

#[test]
fn truncated_mid_record() {
    let dir = tempdir();
    let (bytes, offs) = http_clean();
    // Cut inside record 10's packet data (its 16-byte header is complete).
    let cut = offs[9] + 16 + 20;
    let p = write(dir.path(), "trunc_data.pcap", &bytes[..cut]);
    let r = replay_paths(&[&path_arg(&p)], &[]);
    r.assert_code(2);
    assert_one_line_error(&r, "trunc_data.pcap", Some(10));
    let doc = assert_partial_report(&r, "trunc_data.pcap", 10);
    // Frames 1-9 are connection 1 up to the second response: S h A D a d A D d.
    let f = find_flow(&doc, "192.0.2.10:40001", "192.0.2.1:8080");
    assert_eq!(text(f, "/history"), "ShADad");
    assert_eq!(text(f, "/conn_state"), "S1");
    assert_eq!(num(f, "/last_frame"), 9);
    assert_eq!(flow_packets(f), 9);
    assert_eq!(text(f, "/end_reason"), "end_of_capture");
    assert_eq!(flows(&doc).len(), 1);
}

#[test]
fn truncated_inside_record_header() {
    let dir = tempdir();
    let (bytes, offs) = http_clean();
    let p = write(dir.path(), "trunc_hdr.pcap", &bytes[..offs[9] + 8]);
    let r = replay_paths(&[&path_arg(&p)], &[]);
    r.assert_code(2);
    assert_one_line_error(&r, "trunc_hdr.pcap", Some(10));
    assert_partial_report(&r, "trunc_hdr.pcap", 10);
}

#[test]
fn truncated_pcap_reported_in_every_format() {
    let dir = tempdir();
    let (bytes, offs) = http_clean();
    let p = write(dir.path(), "trunc_fmt.pcap", &bytes[..offs[9] + 30]);
    let arg = path_arg(&p);
    // NDJSON: flows, then a summary line saying the input is incomplete.
    let r = run(["replay", &arg, "--format", "ndjson"]);
    r.assert_code(2);
    assert_one_line_error(&r, "trunc_fmt.pcap", Some(10));
    let lines = r.ndjson();
    assert_eq!(lines.iter().filter(|l| l["type"] == "flow").count(), 1);
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(last["complete"], false);
    // Table: still printed, still exit 2.
    let r = run(["replay", &arg, "--format", "table"]);
    r.assert_code(2);
    assert_one_line_error(&r, "trunc_fmt.pcap", Some(10));
    assert!(
        r.stdout_str().contains("192.0.2.10:40001"),
        "table lists the flow"
    );
}

#[test]
fn huge_caplen_in_record_header() {
    let dir = tempdir();
    let (mut bytes, offs) = http_clean();
    // Record 5's captured length -> 0x7fffffff.
    bytes[offs[4] + 8..offs[4] + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let p = write(dir.path(), "hugecap.pcap", &bytes);
    let r = replay_paths(&[&path_arg(&p)], &[]);
    r.assert_code(2);
    assert_one_line_error(&r, "hugecap.pcap", Some(5));
    let doc = assert_partial_report(&r, "hugecap.pcap", 5);
    let f = find_flow(&doc, "192.0.2.10:40001", "192.0.2.1:8080");
    assert_eq!(text(f, "/history"), "ShAD", "S h A D before the damage");
}

#[test]
fn caplen_zero_record_is_counted_not_fatal() {
    // A record with no captured bytes is a malformed frame, not a damaged file.
    let dir = tempdir();
    let mut p = Pcap::read(&fixture("http_clean.pcap"));
    p.records[4].data.clear();
    let path = dir.path().join("cap0.pcap");
    p.write(&path);
    let r = replay_paths(&[&path_arg(&path)], &[]);
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(num(&doc, "/summary/packets/malformed"), 1);
    assert_eq!(doc["summary"]["packets"]["first_malformed"][0], 5);
    assert_eq!(flows(&doc).len(), 2);
}

#[test]
fn unsupported_link_type() {
    let dir = tempdir();
    let mut p = Pcap::read(&fixture("http_clean.pcap"));
    p.linktype = pcap::LINKTYPE_USER0;
    let path = dir.path().join("user0.pcap");
    p.write(&path);
    let r = assert_unreadable(&path);
    assert!(
        r.stderr.contains("147"),
        "names the link type: {}",
        r.stderr
    );
    // Nothing could be read: stdout is empty or a valid, incomplete report.
    if !r.stdout.is_empty() {
        assert_eq!(r.json()["summary"]["complete"], false);
    }
}

#[test]
fn random_garbage() {
    let dir = tempdir();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    assert_unreadable(&write(dir.path(), "garbage.pcap", &data));
}

#[test]
fn empty_file() {
    let dir = tempdir();
    assert_unreadable(&write(dir.path(), "empty.pcap", b""));
}

#[test]
fn header_only_file_is_an_empty_capture() {
    // A valid global header and no records: a complete, empty capture.
    let dir = tempdir();
    let (bytes, _) = http_clean();
    let path = write(dir.path(), "header_only.pcap", &bytes[..24]);
    let r = replay_paths(&[&path_arg(&path)], &[]);
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(flows(&doc).len(), 0);
    assert_eq!(doc["summary"]["complete"], true);
}

#[test]
fn truncated_global_header() {
    let dir = tempdir();
    let (bytes, _) = http_clean();
    assert_unreadable(&write(dir.path(), "short_hdr.pcap", &bytes[..10]));
}

#[test]
fn missing_file() {
    let dir = tempdir();
    assert_unreadable(&dir.path().join("does_not_exist.pcap"));
}

#[test]
fn truncated_pcapng() {
    let dir = tempdir();
    let bytes = std::fs::read(fixture("pcapng.pcapng")).unwrap();
    // Cut a few bytes into the last third: inside some block.
    // A cut pcapng is damaged input.
    let r = assert_unreadable(&write(
        dir.path(),
        "cut.pcapng",
        &bytes[..bytes.len() * 2 / 3],
    ));
    if !r.stdout.is_empty() {
        assert_eq!(r.json()["summary"]["complete"], false);
    }
}

#[test]
fn snaplen_cut_file() {
    // The same packets cut to 80 bytes: complete TCP headers, payload cut. Flows,
    // histories and byte counts (from IP lengths) are unchanged; cut segments counted.
    let dir = tempdir();
    let p = Pcap::read(&fixture("http_clean.pcap"));
    let reference = replay_json("http_clean.pcap", &[]);
    let cut = p.cut_to(80);
    let expect_truncated = cut
        .tcp_frames()
        .iter()
        .filter(|s| s.as_ref().is_some_and(|s| s.truncated()))
        .count() as u64;
    assert_eq!(
        expect_truncated, 8,
        "reference: 8 data segments exceed 80 bytes"
    );
    let path = dir.path().join("cut80.pcap");
    cut.write(&path);
    let r = replay_paths(&[&path_arg(&path)], &[]);
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(
        num(&doc, "/summary/packets/truncated_segments"),
        expect_truncated
    );
    assert_eq!(num(&doc, "/summary/inputs/0/snaplen"), 80);
    assert_eq!(flows(&doc).len(), 2);
    for want in flows(&reference) {
        let got = find_flow(&doc, text(want, "/client"), text(want, "/server"));
        for ptr in [
            "/conn_state",
            "/history",
            "/client_stats/packets",
            "/server_stats/packets",
            "/client_stats/payload_bytes",
            "/server_stats/payload_bytes",
            "/client_stats/seq_bytes",
            "/server_stats/seq_bytes",
            "/closed_by",
            "/handshake",
        ] {
            assert_eq!(got.pointer(ptr), want.pointer(ptr), "{ptr} after the cut");
        }
    }
    // Cut into the TCP options (tcpdump's old default of 68 bytes, appliances' 60):
    // every http_clean frame carries TCP timestamps (14 + 20 + 32 = 66 header bytes),
    // so the options of all 24 frames are cut, but the fixed 20-byte header is whole:
    // every frame decodes, the flows keep their handshakes and states, and the cut is
    // counted, not called malformed.
    for snap in [68u32, 60] {
        let path = dir.path().join(format!("cut{snap}.pcap"));
        p.cut_to(snap).write(&path);
        let r = replay_paths(&[&path_arg(&path)], &[]);
        r.assert_code(0);
        let doc = r.json();
        assert_eq!(num(&doc, "/summary/packets/malformed"), 0, "snaplen {snap}");
        assert_eq!(
            num(&doc, "/summary/packets/tcp_segments"),
            24,
            "snaplen {snap}"
        );
        assert!(num(&doc, "/summary/packets/truncated_segments") >= 8);
        for want in flows(&reference) {
            let got = find_flow(&doc, text(want, "/client"), text(want, "/server"));
            for ptr in [
                "/conn_state",
                "/history",
                "/client_stats/packets",
                "/server_stats/packets",
                "/client_stats/payload_bytes",
                "/server_stats/payload_bytes",
                "/closed_by",
                "/handshake/completed",
                "/handshake/rtt_s",
            ] {
                assert_eq!(
                    got.pointer(ptr),
                    want.pointer(ptr),
                    "{ptr} at snaplen {snap}"
                );
            }
        }
    }
    // Cut into the fixed TCP header: never a panic, frames counted as malformed.
    for snap in [40u32, 20, 1] {
        let path = dir.path().join(format!("cut{snap}.pcap"));
        p.cut_to(snap).write(&path);
        let r = replay_paths(&[&path_arg(&path)], &[]);
        r.assert_code(0);
        let doc = r.json();
        assert_eq!(
            num(&doc, "/summary/packets/frames"),
            24,
            "snaplen {snap}: all frames read"
        );
        assert_eq!(
            num(&doc, "/summary/packets/malformed"),
            24,
            "snaplen {snap}: headers cut short are malformed"
        );
    }
}

// ---------------------------------------------------------------------------------
// Several inputs, --keep-going, standard input

#[test]
fn damaged_file_then_good_file() {
    let dir = tempdir();
    let (bytes, offs) = http_clean();
    let bad = write(dir.path(), "first_bad.pcap", &bytes[..offs[9] + 30]);
    let good = fixture_arg("refused.pcap");
    let bad = path_arg(&bad);

    // Without --keep-going: exit 2, the next file is not read.
    let r = replay_paths(&[&bad, &good], &[]);
    r.assert_code(2);
    assert_one_line_error(&r, "first_bad.pcap", Some(10));
    let doc = r.json();
    assert_eq!(doc["summary"]["complete"], false);
    assert!(
        find_flows(&doc, "192.0.2.10:40001", "192.0.2.1:81").is_empty(),
        "the file after the damaged one is not read without --keep-going"
    );

    // With --keep-going: exit 0, the next file is read, frames continue after the
    // last good frame of the damaged file.
    let r = replay_paths(&[&bad, &good], &["--keep-going"]);
    r.assert_code(0);
    assert_one_line_error(&r, "first_bad.pcap", Some(10));
    let doc = r.json();
    let s = &doc["summary"];
    assert_eq!(s["complete"], false, "the report still says what was lost");
    assert_eq!(s["inputs"].as_array().unwrap().len(), 2);
    assert_eq!(num(s, "/inputs/1/first_frame"), 10);
    assert_eq!(num(s, "/packets/frames"), 9 + 4);
    assert_eq!(flows(&doc).len(), 3);
    let f = find_flow(&doc, "192.0.2.10:40001", "192.0.2.1:81");
    assert_eq!(num(f, "/first_frame"), 10);
    assert_eq!(text(f, "/conn_state"), "REJ");
    let f = find_flow(&doc, "192.0.2.10:40002", "192.0.2.1:8080");
    assert_eq!(num(f, "/first_frame"), 12);
}

#[test]
fn keep_going_over_unreadable_files() {
    let dir = tempdir();
    let missing = path_arg(&dir.path().join("missing.pcap"));
    let garbage = path_arg(&write(dir.path(), "garbage.pcap", &[0x55u8; 100]));
    let good = fixture_arg("refused.pcap");
    let r = replay_paths(&[&missing, &garbage, &good], &["--keep-going"]);
    r.assert_code(0);
    assert_eq!(
        r.stderr_lines().len(),
        2,
        "one line per bad file\n{}",
        r.describe()
    );
    let doc = r.json();
    assert_eq!(flows(&doc).len(), 2);
    assert_eq!(doc["summary"]["complete"], false);
    assert_eq!(doc["summary"]["errors"].as_array().unwrap().len(), 2);
    // Only bad files: nothing usable, exit 2 even with --keep-going.
    let r = replay_paths(&[&missing, &garbage], &["--keep-going"]);
    r.assert_code(2);
}

#[test]
fn two_files_frame_numbers_continue() {
    let a = fixture_arg("http_clean.pcap");
    let b = fixture_arg("refused.pcap");
    let r = replay_paths(&[&a, &b], &["--timeline", "full"]);
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(flows(&doc).len(), 4);
    let s = &doc["summary"];
    assert_eq!(num(s, "/inputs/0/first_frame"), 1);
    assert_eq!(num(s, "/inputs/0/frames"), 24);
    assert_eq!(num(s, "/inputs/1/first_frame"), 25);
    assert_eq!(num(s, "/packets/frames"), 28);
    let f = find_flow(&doc, "192.0.2.10:40001", "192.0.2.1:81");
    assert_eq!(num(f, "/first_frame"), 25);
    assert_eq!(num(f, "/closed_by/frame"), 26);
    assert_eq!(num(f, "/handshake/syn_frame"), 25);
    // 192.0.2.10:40002 -> 192.0.2.1:8080 is in both files: the SYN after the close
    // starts a new connection (Zeek's reuse rule), so there are two flows.
    let mut both = find_flows(&doc, "192.0.2.10:40002", "192.0.2.1:8080");
    both.sort_by_key(|f| num(f, "/first_frame"));
    assert_eq!(both.len(), 2, "reused 4-tuple across files gives two flows");
    assert_eq!(num(both[0], "/first_frame"), 15);
    assert_eq!(text(both[0], "/history"), "ShADadfF");
    let f = both[1];
    assert_eq!(num(f, "/first_frame"), 27);
    assert_eq!(text(f, "/conn_state"), "REJ");
    let frames: Vec<u64> = timeline(f).iter().map(|e| num(e, "/frame")).collect();
    assert_eq!(frames, vec![27, 28]);
    // The http_clean flows are unchanged.
    assert_eq!(
        text(
            find_flow(&doc, "192.0.2.10:40001", "192.0.2.1:8080"),
            "/history"
        ),
        "ShADadFf"
    );
}

#[test]
fn stdin_dash_reads_a_pipe() {
    let data = std::fs::read(fixture("http_clean.pcap")).unwrap();
    let r = run_with_stdin(["replay", "-", "--format", "json"], Some(&data));
    r.assert_code(0);
    let doc = r.json();
    let reference = replay_json("http_clean.pcap", &[]);
    assert_eq!(
        flows(&doc),
        flows(&reference),
        "stdin gives the same flows as the file"
    );
    assert_eq!(doc["summary"]["inputs"][0]["file"], "-");
    assert_eq!(doc["source"], serde_json::json!(["-"]));

    // stdin then a file: frames continue.
    let r = run_with_stdin(
        [
            "replay",
            "-",
            &fixture_arg("refused.pcap"),
            "--format",
            "json",
        ],
        Some(&data),
    );
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(flows(&doc).len(), 4);
    assert_eq!(
        num(
            find_flow(&doc, "192.0.2.10:40001", "192.0.2.1:81"),
            "/first_frame"
        ),
        25
    );

    // Damaged stdin: the error names "-" and the frame.
    let (bytes, offs) = http_clean();
    let r = run_with_stdin(
        ["replay", "-", "--format", "json"],
        Some(&bytes[..offs[9] + 30]),
    );
    r.assert_code(2);
    assert_one_line_error(&r, "-", Some(10));
    assert_partial_report(&r, "-", 10);

    // stdin twice is refused.
    let r = run_with_stdin(["replay", "-", "-", "--format", "json"], Some(&data));
    r.assert_code(2);
    assert_eq!(r.stderr_lines().len(), 1, "{}", r.describe());
}

#[test]
fn stdin_pcapng() {
    let data = std::fs::read(fixture("pcapng.pcapng")).unwrap();
    let r = run_with_stdin(["replay", "-", "--format", "json"], Some(&data));
    r.assert_code(0);
    assert_eq!(flows(&r.json()).len(), 1);
}

// ---------------------------------------------------------------------------------
// Filters

#[test]
fn bpf_filter_reduces_flows() {
    // refused.pcap: 40001 -> :81 and 40002 -> :8080.
    let r = replay_paths(&[&fixture_arg("refused.pcap")], &["-f", "port 8080"]);
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(flows(&doc).len(), 1);
    find_flow(&doc, "192.0.2.10:40002", "192.0.2.1:8080");

    // Two files, one filter: it applies to both.
    let r = replay_paths(
        &[
            &fixture_arg("abortive_close.pcap"),
            &fixture_arg("http_clean.pcap"),
        ],
        &["--filter", "tcp port 8080"],
    );
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(flows(&doc).len(), 2);
    assert!(flows(&doc).iter().all(|f| f["server"] == "192.0.2.1:8080"));

    // A filter that matches nothing: a complete, empty report.
    let r = replay_paths(&[&fixture_arg("http_clean.pcap")], &["-f", "udp"]);
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(flows(&doc).len(), 0);
    assert_eq!(doc["summary"]["complete"], true);
}

#[test]
fn bpf_filter_keeps_file_frame_numbers() {
    // Frame numbers are for finding the packet in Wireshark/tcpdump on the same file,
    // so a filter must not renumber: connection 2 of http_clean is frames 15-24.
    let r = replay_paths(
        &[&fixture_arg("http_clean.pcap")],
        &["-f", "tcp port 40002"],
    );
    r.assert_code(0);
    let doc = r.json();
    let f = find_flow(&doc, "192.0.2.10:40002", "192.0.2.1:8080");
    assert_eq!(
        num(f, "/first_frame"),
        15,
        "first frame of connection 2 in the file"
    );
    assert_eq!(num(f, "/handshake/syn_frame"), 15);
    assert_eq!(num(f, "/closed_by/frame"), 22);
    assert_eq!(num(f, "/last_frame"), 24);
    // And a second file's frames continue after all of the first file's frames.
    let r = replay_paths(
        &[
            &fixture_arg("http_clean.pcap"),
            &fixture_arg("refused.pcap"),
        ],
        &["-f", "port 8080"],
    );
    r.assert_code(0);
    let doc = r.json();
    // refused.pcap reuses the same 4-tuple (a new SYN): it is a second flow.
    let sf: Vec<&Value> = flows(&doc)
        .iter()
        .filter(|f| f["client"] == "192.0.2.10:40002" && f["conn_state"] == "SF")
        .collect();
    assert_eq!(sf.len(), 1);
    assert_eq!(num(sf[0], "/first_frame"), 15);
    let refused: Vec<&Value> = flows(&doc)
        .iter()
        .filter(|f| f["conn_state"] == "REJ")
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(num(refused[0], "/first_frame"), 24 + 3);
}

#[test]
fn bad_filter_expression() {
    let r = replay_paths(&[&fixture_arg("http_clean.pcap")], &["-f", "port ("]);
    r.assert_code(2);
    assert_eq!(r.stderr_lines().len(), 1, "{}", r.describe());
    assert!(
        r.stderr.contains("filter"),
        "mentions the filter: {}",
        r.stderr
    );
    // Even --keep-going does not carry on with a bad filter.
    let r = replay_paths(
        &[
            &fixture_arg("http_clean.pcap"),
            &fixture_arg("refused.pcap"),
        ],
        &["-f", "no such primitive", "--keep-going"],
    );
    r.assert_code(2);
}

// ---------------------------------------------------------------------------------
// Exit codes

#[test]
fn fail_on_without_findings_exits_zero() {
    for level in ["info", "warning", "error"] {
        let r = replay("http_clean.pcap", &["--fail-on", level]);
        r.assert_code(0);
        let doc = r.json();
        let total = num(&doc, "/summary/findings/info")
            + num(&doc, "/summary/findings/warning")
            + num(&doc, "/summary/findings/error");
        assert_eq!(total, 0, "a clean capture has no findings");
    }
}

#[test]
fn fail_on_does_not_hide_bad_input() {
    // Damaged input is exit 2 whatever --fail-on says; with --keep-going the run is
    // judged on its findings (none here) -> 0.
    let dir = tempdir();
    let (bytes, offs) = http_clean();
    let bad = path_arg(&write(dir.path(), "bad.pcap", &bytes[..offs[9] + 30]));
    let r = replay_paths(&[&bad], &["--fail-on", "info"]);
    r.assert_code(2);
    let r = replay_paths(&[&bad], &["--fail-on", "info", "--keep-going"]);
    r.assert_code(0);
}

#[test]
fn bad_arguments_exit_two() {
    for args in [
        vec!["replay".to_string()],
        vec![
            "replay".into(),
            fixture_arg("http_clean.pcap"),
            "--fail-on".into(),
            "fatal".into(),
        ],
        vec![
            "replay".into(),
            fixture_arg("http_clean.pcap"),
            "--idle-timeout".into(),
            "5 parsecs".into(),
        ],
        vec![
            "replay".into(),
            fixture_arg("http_clean.pcap"),
            "--port-range".into(),
            "9-1".into(),
        ],
        vec!["no-such-command".into()],
        vec!["explain".into(), "no.such.finding".into()],
    ] {
        let r = run(&args);
        r.assert_code(2);
        assert!(!r.stderr.is_empty(), "{args:?}: says why");
    }
}

#[test]
fn closed_stdout_is_not_a_crash() {
    // The reader of the report goes away (`tcpdiag ... | head -c 10`).
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin())
        .args([
            "replay",
            &fixture_arg("clean_bulk.pcap"),
            "--format",
            "ndjson",
            "--timeline",
            "full",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut buf = [0u8; 10];
    let _ = out.read(&mut buf);
    drop(out);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        !err.contains("panicked"),
        "panicked on a closed pipe: {err}"
    );
    assert!(
        matches!(status.code(), Some(0..=2)),
        "exit status on a closed pipe: {status:?}, stderr {err}"
    );
}

#[test]
fn fail_on_matrix_follows_the_findings() {
    // Exit 1 exactly when a finding at or above the level exists (summary.findings),
    // otherwise 0; the JSON report is printed either way.
    let levels = ["info", "warning", "error"];
    let mut saw_exit_1 = [false; 3];
    let mut saw_exit_0_with_findings = false;
    for name in [
        "http_clean.pcap",
        "snaplen.pcap",
        "refused.pcap",
        "abortive_close.pcap",
        "syn_unanswered.pcap",
        "keepalive_dead_peer.pcap",
    ] {
        let doc = replay_json(name, &[]);
        let counts = [
            num(&doc, "/summary/findings/info"),
            num(&doc, "/summary/findings/warning"),
            num(&doc, "/summary/findings/error"),
        ];
        // The findings list agrees with the counts (nothing dropped at this size).
        let listed = flows_findings_by_severity(&doc);
        assert_eq!(listed, counts, "{name}: findings list vs summary.findings");
        for (i, level) in levels.iter().enumerate() {
            let want = if counts[i..].iter().any(|&n| n > 0) {
                1
            } else {
                0
            };
            let r = replay(name, &["--fail-on", level]);
            r.assert_code(want);
            r.json();
            if want == 1 {
                saw_exit_1[i] = true;
            } else if counts.iter().any(|&n| n > 0) {
                saw_exit_0_with_findings = true;
            }
        }
        // Without --fail-on, findings never change the exit status.
        replay(name, &[]).assert_code(0);
    }
    assert!(
        saw_exit_1.iter().all(|&b| b),
        "each level triggered by some fixture"
    );
    assert!(
        saw_exit_0_with_findings,
        "some fixture has findings only below a level (exit 0 there)"
    );
}

/// Counts of the report's top-level findings by severity [info, warning, error].
fn flows_findings_by_severity(doc: &Value) -> [u64; 3] {
    let mut c = [0u64; 3];
    for f in doc["findings"].as_array().expect("findings array") {
        match f["severity"].as_str() {
            Some("info") => c[0] += 1,
            Some("warning") => c[1] += 1,
            Some("error") => c[2] += 1,
            other => panic!("unknown severity {other:?} in {f}"),
        }
    }
    c
}

#[test]
fn every_reported_finding_is_explained() {
    // Each finding id in a report is documented by `tcpdiag explain ID`.
    let mut ids = std::collections::BTreeSet::new();
    for name in all_fixtures() {
        let r = replay(&name, &[]);
        r.assert_sane();
        if r.code() != 0 {
            continue;
        }
        for f in r.json()["findings"].as_array().cloned().unwrap_or_default() {
            ids.insert(f["id"].as_str().unwrap_or_default().to_string());
        }
    }
    assert!(!ids.is_empty(), "the fixtures produce findings");
    for id in ids {
        let r = run(["explain", &id]);
        r.assert_code(0);
        assert!(!r.stdout.is_empty(), "explain {id} prints nothing");
    }
}

#[test]
fn findings_only_keeps_flows_with_findings() {
    let doc = replay_json("abortive_close.pcap", &["--findings-only"]);
    let all = replay_json("abortive_close.pcap", &[]);
    let with: Vec<&Value> = flows(&all)
        .iter()
        .filter(|f| f["findings"].as_array().is_some_and(|a| !a.is_empty()))
        .collect();
    assert_eq!(flows(&doc).len(), with.len());
    let doc = replay_json("http_clean.pcap", &["--findings-only"]);
    assert!(
        flows(&doc).is_empty(),
        "a clean capture has no flows with findings"
    );
    assert_eq!(
        num(&doc, "/summary/flows/flows"),
        2,
        "the summary still counts them"
    );
}

#[test]
fn pcapng_with_a_second_link_type_later_in_the_file() {
    // libpcap 1.10 reads a pcapng as one link type and stops at an interface of
    // another type; the block walker reads that interface's packets too.
    let d = std::fs::read(fixture("pcapng.pcapng")).unwrap();
    let le32 = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let mut blocks: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut off = 0;
    while off + 8 <= d.len() {
        let (bt, bl) = (le32(&d, off), le32(&d, off + 4) as usize);
        blocks.push((bt, d[off..off + bl].to_vec()));
        off += bl;
    }
    let shb = &blocks[0].1;
    let idb = blocks.iter().find(|b| b.0 == 1).expect("IDB").1.clone();
    let epbs: Vec<&Vec<u8>> = blocks.iter().filter(|b| b.0 == 6).map(|b| &b.1).collect();
    // A second interface, LINKTYPE_RAW, and one packet on it (the first SYN, bare IP).
    let mut idb2 = idb.clone();
    idb2[8..10].copy_from_slice(&101u16.to_le_bytes());
    let e = epbs[0];
    let cap = le32(e, 20) as usize;
    let ip = &e[28 + 14..28 + cap];
    let mut body = Vec::new();
    body.extend_from_slice(&1u32.to_le_bytes());
    body.extend_from_slice(&e[12..20]);
    body.extend_from_slice(&(ip.len() as u32).to_le_bytes());
    body.extend_from_slice(&(ip.len() as u32).to_le_bytes());
    body.extend_from_slice(ip);
    while body.len() % 4 != 0 {
        body.push(0);
    }
    let total = (12 + body.len()) as u32;
    let mut epb2 = 6u32.to_le_bytes().to_vec();
    epb2.extend_from_slice(&total.to_le_bytes());
    epb2.extend_from_slice(&body);
    epb2.extend_from_slice(&total.to_le_bytes());
    let mut out = shb.clone();
    out.extend_from_slice(&idb);
    out.extend_from_slice(epbs[0]);
    out.extend_from_slice(&idb2);
    out.extend_from_slice(&epb2);
    for e in &epbs[1..] {
        out.extend_from_slice(e);
    }
    let dir = tempdir();
    let path = write(dir.path(), "two_links.pcapng", &out);
    let r = replay_paths(&[&path_arg(&path)], &[]);
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(num(&doc, "/summary/packets/frames"), 11);
    assert_eq!(doc["summary"]["inputs"][0]["link_type"], "EN10MB,RAW");
    // Frame 2 is the first SYN again, as bare IP: a retransmitted SYN of the flow.
    assert_eq!(flows(&doc).len(), 1);
    assert_eq!(flow_packets(&flows(&doc)[0]), 11);
}

#[test]
fn damaged_second_file_frame_numbers_continue() {
    // The error names the frame in the numbering that runs across all inputs.
    let dir = tempdir();
    let (bytes, offs) = http_clean();
    let bad = path_arg(&write(
        dir.path(),
        "second_bad.pcap",
        &bytes[..offs[9] + 30],
    ));
    let good = fixture_arg("refused.pcap");
    let r = replay_paths(&[&good, &bad], &[]);
    r.assert_code(2);
    assert_one_line_error(&r, "second_bad.pcap", Some(4 + 10));
    let doc = assert_partial_report(&r, "second_bad.pcap", 14);
    assert_eq!(num(&doc, "/summary/inputs/1/first_frame"), 5);
}

#[test]
fn two_files_with_different_link_types() {
    let r = replay_paths(
        &[&fixture_arg("http_clean.pcap"), &fixture_arg("raw_ip.pcap")],
        &[],
    );
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(flows(&doc).len(), 4);
    assert_eq!(doc["summary"]["inputs"][0]["link_type"], "EN10MB");
    assert_eq!(doc["summary"]["inputs"][1]["link_type"], "RAW");
    let f = find_flow(&doc, "[2001:db8:1::10]:40002", "[2001:db8:1::1]:7000");
    assert_eq!(num(f, "/first_frame"), 24 + 11);
    assert_eq!(text(f, "/history"), "ShADadFf");
}

#[test]
fn keep_going_error_does_not_understate_the_report() {
    let dir = tempdir();
    let (bytes, offs) = http_clean();
    let bad = path_arg(&write(
        dir.path(),
        "middle_bad.pcap",
        &bytes[..offs[9] + 30],
    ));
    let r = replay_paths(
        &[
            &fixture_arg("refused.pcap"),
            &bad,
            &fixture_arg("abortive_close.pcap"),
        ],
        &["--keep-going"],
    );
    r.assert_code(0);
    assert_one_line_error(&r, "middle_bad.pcap", Some(4 + 10));
    let doc = r.json();
    let frames = num(&doc, "/summary/packets/frames");
    assert_eq!(frames, 4 + 9 + 17);
    // Frames 1-13 and 14-30 (the next file) are in the report: the message says only
    // the rest of the damaged file was lost, and never that the report covers 1-13.
    let line = r.stderr_lines()[0];
    assert!(
        line.ends_with("(the rest of this file was skipped)"),
        "says what --keep-going lost: {line}"
    );
    if let Some(tail) = line.split("the report covers frames 1-").nth(1) {
        let n: u64 = tail
            .trim_end_matches(')')
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("cannot read the range in {line}"));
        assert!(n >= frames, "message understates the report: {line}");
    }
}

#[test]
fn every_command_says_when_its_output_cannot_be_written() {
    // `> /dev/full`: each write fails with ENOSPC. Every command must say so in one
    // line and exit 2, never exit 0 with nothing written.
    let http = fixture_arg("http_clean.pcap");
    let cases: Vec<Vec<&str>> = vec![
        vec!["explain"],
        vec!["explain", "--markdown"],
        vec!["explain", "handshake.rejected"],
        vec!["replay", &http, "--format", "json"],
        vec!["replay", &http, "--format", "table"],
        vec!["sockets", "--format", "json"],
        vec!["sockets", "--format", "table"],
        vec!["host", "--format", "json"],
    ];
    for args in cases {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("open /dev/full");
        let out = std::process::Command::new(bin())
            .args(&args)
            .stdout(full)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("run tcpdiag");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: exit code; stderr {err}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(
            err.contains("No space left on device"),
            "{args:?}: says why: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------
// pcapng (the block walker) and compressed inputs

use common::pcapng::{self as ng, Pcapng};

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

/// http_clean (Ethernet) and cooked_any_v2 (Linux cooked v2) merged by time into one
/// pcapng, one interface each: (the file, its packet block offsets).
fn two_link_pcapng() -> Pcapng {
    let http = Pcap::read(&fixture("http_clean.pcap"));
    let cooked = Pcap::read(&fixture("cooked_any_v2.pcap"));
    ng::merge(&[&http, &cooked], false, 6)
}

#[test]
fn pcapng_of_two_link_types_reads_every_interface() {
    let f = two_link_pcapng();
    let dir = tempdir();
    let path = write(dir.path(), "two_links.pcapng", &f.bytes());
    let r = replay_paths(&[&path_arg(&path)], &[]);
    r.assert_code(0);
    let doc = r.json();
    // http_clean's 24 frames come first (its times are earlier), then cooked_any_v2's.
    let cooked_frames = Pcap::read(&fixture("cooked_any_v2.pcap")).records.len() as u64;
    assert_eq!(num(&doc, "/summary/packets/frames"), 24 + cooked_frames);
    assert_eq!(
        doc["summary"]["inputs"][0]["link_type"],
        "EN10MB,LINUX_SLL2"
    );
    let alone = replay_json("cooked_any_v2.pcap", &[]);
    assert_eq!(flows(&doc).len(), 2 + flows(&alone).len());
    let f = find_flow(&doc, "192.0.2.10:40002", "192.0.2.1:8080");
    assert_eq!(num(f, "/first_frame"), 15);
    // A filter is compiled for each link type; frame numbers stay the file's.
    let r = replay_paths(&[&path_arg(&path)], &["-f", "tcp port 8080"]);
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(flows(&doc).len(), 2);
    let r = replay_paths(&[&path_arg(&path)], &["-f", "not tcp port 8080"]);
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(flows(&doc).len(), flows(&alone).len());
    assert!(flows(&doc).iter().all(|f| num(f, "/first_frame") > 24));
}

#[test]
fn pcapng_damage_keeps_the_frames_before_it() {
    let f = two_link_pcapng();
    let good = f.bytes();
    let at = f.packet_offsets()[4]; // frame 5's block
    let le =
        |b: &mut Vec<u8>, off: usize, v: u32| b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    let block_len = u32::from_le_bytes(good[at + 4..at + 8].try_into().unwrap()) as usize;
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut b = good.clone();
    le(&mut b, at + 4, 7);
    cases.push(("len_not_multiple_of_4", b));
    let mut b = good.clone();
    le(&mut b, at + 4, 0x7fff_fff0);
    cases.push(("len_huge", b));
    let mut b = good.clone();
    le(&mut b, at + 4, 8);
    cases.push(("len_below_12", b));
    let mut b = good.clone();
    le(&mut b, at + block_len - 4, block_len as u32 + 8);
    cases.push(("trailer_differs", b));
    let mut b = good.clone();
    le(&mut b, at + 20, 100_000); // captured length beyond the block
    cases.push(("caplen_beyond_block", b));
    let mut b = good.clone();
    le(&mut b, at + 8, 9); // interface 9 of 2
    cases.push(("no_such_interface", b));
    cases.push(("cut_in_block", good[..at + 30].to_vec()));
    cases.push(("cut_in_header", good[..at + 5].to_vec()));
    let dir = tempdir();
    for (name, bytes) in cases {
        let file = format!("{name}.pcapng");
        let path = write(dir.path(), &file, &bytes);
        let r = replay_paths(&[&path_arg(&path)], &[]);
        r.assert_code(2);
        assert_one_line_error(&r, &file, Some(5));
        assert_partial_report(&r, &file, 5);
    }
}

#[test]
fn pcapng_unknown_blocks_and_sections_in_both_byte_orders() {
    // Section 1 little-endian (http_clean, microseconds) with blocks no reader knows,
    // section 2 big-endian (refused, nanoseconds): the same flows and frame numbers
    // as the two classic files read one after the other.
    let http = Pcap::read(&fixture("http_clean.pcap"));
    let refused = Pcap::read(&fixture("refused.pcap"));
    let mut f = Pcapng::new(false);
    f.block(0x0000_0bad, b"custom block, no PEN")
        .interface(1, 6);
    for (i, r) in http.records.iter().enumerate() {
        f.packet(0, ng::record_ns(&http, i), r.orig_len, &r.data);
        if i == 3 {
            f.block(0x0000_0099, &[1, 2, 3, 4, 5]).block(5, &[0; 12]);
        }
    }
    f.section(true).interface(1, 9);
    for (i, r) in refused.records.iter().enumerate() {
        f.packet(0, ng::record_ns(&refused, i), r.orig_len, &r.data);
    }
    let dir = tempdir();
    let path = write(dir.path(), "sections.pcapng", &f.bytes());
    let r = replay_paths(&[&path_arg(&path)], &[]);
    r.assert_code(0);
    let doc = r.json();
    let reference = replay_paths(
        &[
            &fixture_arg("http_clean.pcap"),
            &fixture_arg("refused.pcap"),
        ],
        &[],
    )
    .json();
    assert_eq!(flows(&doc), flows(&reference));
    assert_eq!(num(&doc, "/summary/packets/frames"), 28);
}

#[test]
fn pcapng_interface_of_an_undecoded_link_type() {
    // Its frames keep their numbers and are counted, not decoded; the rest is read.
    let http = Pcap::read(&fixture("http_clean.pcap"));
    let mut other = Pcap::read(&fixture("refused.pcap"));
    other.linktype = pcap::LINKTYPE_USER0;
    let dir = tempdir();
    let path = write(
        dir.path(),
        "user0.pcapng",
        &ng::merge(&[&http, &other], false, 6).bytes(),
    );
    let r = replay_paths(&[&path_arg(&path)], &[]);
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(num(&doc, "/summary/inputs/0/frames"), 28);
    assert_eq!(num(&doc, "/summary/inputs/0/unsupported_link_frames"), 4);
    assert_eq!(flows(&doc), flows(&replay_json("http_clean.pcap", &[])));
    // Only such interfaces: nothing to analyse, a one-line error.
    let path = write(
        dir.path(),
        "only_user0.pcapng",
        &ng::merge(&[&other], false, 6).bytes(),
    );
    let r = replay_paths(&[&path_arg(&path)], &[]);
    r.assert_code(2);
    assert_one_line_error(&r, "only_user0.pcapng", None);
    assert!(
        r.stderr.contains("unsupported link type 147"),
        "{}",
        r.stderr
    );
}

#[test]
fn compressed_inputs_replay_like_the_plain_ones() {
    let plain = std::fs::read(fixture("http_clean.pcap")).unwrap();
    let reference = replay_json("http_clean.pcap", &[]);
    let ng_bytes = two_link_pcapng().bytes();
    let dir = tempdir();
    let ng_path = write(dir.path(), "plain.pcapng", &ng_bytes);
    let ng_reference = replay_paths(&[&path_arg(&ng_path)], &[]).json();
    // Named for what they are not: detection is by content.
    for (name, bytes, want) in [
        ("a.pcap", gzip(&plain), &reference),
        ("b.cap", zstd(&plain), &reference),
        ("c.pcapng.gz", gzip(&ng_bytes), &ng_reference),
        ("d.zst", zstd(&ng_bytes), &ng_reference),
    ] {
        let path = write(dir.path(), name, &bytes);
        let r = replay_paths(&[&path_arg(&path)], &[]);
        r.assert_code(0);
        let doc = r.json();
        assert_eq!(flows(&doc), flows(want), "{name}");
        assert!(
            doc["summary"]["inputs"][0]["compression"].is_string(),
            "{name}"
        );
        // Standard input too.
        let r = run_with_stdin(["replay", "-", "--format", "json"], Some(&bytes));
        r.assert_code(0);
        assert_eq!(flows(&r.json()), flows(want), "{name} on stdin");
    }
    // Other compressions are named, not "unknown format".
    let path = write(
        dir.path(),
        "e.pcap.xz",
        &[0xfd, b'7', b'z', b'X', b'Z', 0, 0, 0],
    );
    let r = assert_unreadable(&path);
    assert!(r.stderr.contains("xz-compressed"), "{}", r.stderr);
}

/// A capture of a few thousand frames (~500 KB): zstd decodes in blocks of up to
/// 128 KiB, so a cut file still yields the blocks before the cut.
fn long_transfer() -> Pcap {
    let mut t = pcap::handshake();
    for k in 0..3_000u32 {
        t.c("PA", pcap::I + 1 + k * 100, pcap::J + 1, 100);
    }
    t.pcap()
}

#[test]
fn compressed_inputs_cut_short_keep_the_frames_before() {
    let long = long_transfer();
    let plain = long.to_bytes();
    let cooked = Pcap::read(&fixture("cooked_any_v2.pcap"));
    let ng_bytes = ng::merge(&[&long, &cooked], false, 9).bytes();
    let dir = tempdir();
    for (name, whole) in [
        ("cut.pcap.gz", gzip(&plain)),
        ("cut.pcap.zst", zstd(&plain)),
        ("cut.pcapng.gz", gzip(&ng_bytes)),
        ("cut.pcapng.zst", zstd(&ng_bytes)),
    ] {
        let bytes = &whole[..whole.len() * 2 / 3];
        let path = write(dir.path(), name, bytes);
        for (label, r) in [
            (name, replay_paths(&[&path_arg(&path)], &[])),
            (
                "-",
                run_with_stdin(["replay", "-", "--format", "json"], Some(bytes)),
            ),
        ] {
            r.assert_code(2);
            let doc = r.json();
            let frame = num(&doc, "/summary/errors/0/frame");
            assert!(frame > 100, "{name}: frames before the cut");
            assert_one_line_error(&r, label, Some(frame));
            assert!(
                r.stderr.contains("stream"),
                "{name}: says the compressed stream failed: {}",
                r.stderr
            );
            assert_partial_report(&r, label, frame);
        }
    }
    // Damage inside the decompressed classic pcap is libpcap's, at its frame.
    let (mut bytes, offs) = http_clean();
    bytes[offs[4] + 8..offs[4] + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let path = write(dir.path(), "hugecap.pcap.gz", &gzip(&bytes));
    let r = replay_paths(&[&path_arg(&path)], &[]);
    r.assert_code(2);
    assert_one_line_error(&r, "hugecap.pcap.gz", Some(5));
    assert_partial_report(&r, "hugecap.pcap.gz", 5);
}

#[test]
fn caplen_above_the_files_snaplen_is_cut_not_fatal() {
    // libpcap cuts such records to the snaplen; file, stdin and gzip paths agree.
    let (mut bytes, _) = http_clean();
    bytes[16..20].copy_from_slice(&100u32.to_le_bytes());
    let dir = tempdir();
    let path = write(dir.path(), "snap100.pcap", &bytes);
    let r = replay_paths(&[&path_arg(&path)], &[]);
    r.assert_code(0);
    let doc = r.json();
    assert_eq!(num(&doc, "/summary/packets/frames"), 24);
    assert!(num(&doc, "/summary/inputs/0/cut_frames") > 0);
    let r = run_with_stdin(["replay", "-", "--format", "json"], Some(&gzip(&bytes)));
    r.assert_code(0);
    assert_eq!(flows(&r.json()), flows(&doc));
}

#[test]
fn time_going_backwards_is_not_damage() {
    // Record 12's clock jumps an hour back, then forward again: every frame is read,
    // nothing panics, the report is complete (classic pcap and pcapng alike).
    let mut p = Pcap::read(&fixture("http_clean.pcap"));
    p.records[11].ts_sec -= 3600;
    p.records[20].ts_sec -= 10;
    let dir = tempdir();
    let classic = dir.path().join("backwards.pcap");
    p.write(&classic);
    // The pcapng in record order (merge would sort by time).
    let mut f = Pcapng::new(true);
    f.interface(1, 9);
    for (i, r) in p.records.iter().enumerate() {
        f.packet(0, ng::record_ns(&p, i), r.orig_len, &r.data);
    }
    let ngfile = write(dir.path(), "backwards.pcapng", &f.bytes());
    for path in [classic, ngfile] {
        let r = replay_paths(&[&path_arg(&path)], &["--timeline", "full"]);
        r.assert_code(0);
        let doc = r.json();
        assert_eq!(num(&doc, "/summary/packets/frames"), 24);
        assert_eq!(doc["summary"]["complete"], true);
    }
}
