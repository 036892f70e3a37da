//! Each finding fires on a real-kernel fixture of its scenario, with its key evidence
//! and severity, and clean traffic stays quiet.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn run(fixture: &str, args: &[&str]) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(fixture);
    let out = Command::new(env!("CARGO_BIN_EXE_tcpdiag"))
        .arg("replay")
        .arg(&path)
        .args(["--format", "json"])
        .args(args)
        .output()
        .expect("run tcpdiag");
    assert!(
        out.status.success(),
        "{fixture}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

fn findings<'a>(doc: &'a Value, id: &str) -> Vec<&'a Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

fn one<'a>(doc: &'a Value, id: &str) -> &'a Value {
    let all = findings(doc, id);
    assert!(!all.is_empty(), "no {id} in {:#}", doc["findings"]);
    all[0]
}

fn ids(doc: &Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn clean_traffic_is_quiet() {
    for fixture in [
        "http_clean.pcap",
        "clean_bulk.pcap",
        "clean_keepalive_http.pcap",
        "ipv6.pcap",
        "vlan.pcap",
    ] {
        let doc = run(fixture, &[]);
        let loud: Vec<&Value> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] != "info")
            .collect();
        assert!(loud.is_empty(), "{fixture}: {loud:#?}");
    }
}

#[test]
fn fail_on_sets_the_exit_status() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/syn_unanswered.pcap");
    let status = |level: &str| {
        Command::new(env!("CARGO_BIN_EXE_tcpdiag"))
            .arg("replay")
            .arg(&path)
            .args(["--format", "json", "--fail-on", level])
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(status("error"), Some(1));
    let clean = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/http_clean.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_tcpdiag"))
        .arg("replay")
        .arg(&clean)
        .args(["--format", "json", "--fail-on", "warning"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn syn_retransmit_classic_backoff_and_unanswered() {
    let doc = run("syn_unanswered.pcap", &["--syn-retries", "2"]);
    let f = one(&doc, "handshake.syn_retransmit");
    assert_eq!(f["severity"], "error");
    assert!(f["evidence"]["schedule"]
        .as_str()
        .unwrap()
        .starts_with("Exponential"));
    assert_eq!(f["evidence"]["give_up_after_s"], 7.0);
    assert_eq!(f["evidence"]["tcp_syn_retries_assumed"], false);
    let iv = f["evidence"]["intervals_s"].as_array().unwrap();
    assert!(
        (iv[0].as_f64().unwrap() - 1.0).abs() < 0.1 && (iv[1].as_f64().unwrap() - 2.0).abs() < 0.2
    );
    let u = one(&doc, "handshake.unanswered");
    assert_eq!(u["severity"], "error");
    assert_eq!(u["evidence"]["attempts"], 3);
    // Without the host's value the Linux default is stated as an assumption.
    let doc = run("syn_unanswered.pcap", &[]);
    let f = one(&doc, "handshake.syn_retransmit");
    assert_eq!(f["evidence"]["tcp_syn_retries_assumed"], true);
    assert!(f["summary"].as_str().unwrap().contains("assumed"));
}

#[test]
fn syn_retransmit_linear_schedule() {
    let doc = run("syn_linear.pcap", &[]);
    let f = one(&doc, "handshake.syn_retransmit");
    assert!(
        f["evidence"]["schedule"]
            .as_str()
            .unwrap()
            .starts_with("LinearThenExponential"),
        "{f:#}"
    );
}

#[test]
fn rejected_connection() {
    let doc = run("refused.pcap", &[]);
    let all = findings(&doc, "handshake.rejected");
    assert_eq!(all.len(), 2);
    assert!(
        findings(&doc, "rst.server").is_empty(),
        "REJ is reported once, as handshake.rejected"
    );
}

#[test]
fn synack_retransmit() {
    let doc = run("synack_retransmit.pcap", &[]);
    let f = one(&doc, "handshake.synack_retransmit");
    assert_eq!(f["severity"], "warning");
    assert!(f["evidence"]["frames"].as_array().unwrap().len() >= 2);
}

#[test]
fn half_open_flood() {
    let doc = run("half_open_flood.pcap", &[]);
    let f = one(&doc, "handshake.half_open_flood");
    assert_eq!(f["flow"], Value::Null);
    assert_eq!(f["severity"], "error");
    assert!(f["evidence"]["half_open"].as_u64().unwrap() >= 100);
    assert!(f["evidence"]["distinct_sources"].as_u64().unwrap() >= 2);
    // Below the threshold it stays silent.
    let doc = run("half_open_flood.pcap", &["--flood-min", "100000"]);
    assert!(findings(&doc, "handshake.half_open_flood").is_empty());
}

#[test]
fn banner_stall_with_unanswered_ptr_lookups() {
    let doc = run("dns_banner_stall.pcap", &[]);
    let f = one(&doc, "stall.first_byte");
    assert_eq!(f["confidence"], "high");
    assert!(f["evidence"]["wait_s"].as_f64().unwrap() > 2.5);
    assert!(f["evidence"]["ptr_queries_for_client"].as_u64().unwrap() >= 2);
    assert_eq!(
        f["evidence"]["ptr_unanswered"],
        f["evidence"]["ptr_queries_for_client"]
    );
    assert_eq!(f["evidence"]["server_speaks_first"], true);
    assert!(f["hint"].as_str().unwrap().contains("UseDNS no"));
    // A higher threshold silences it.
    let doc = run("dns_banner_stall.pcap", &["--stall-threshold", "10s"]);
    assert!(findings(&doc, "stall.first_byte").is_empty());
}

#[test]
fn banner_stall_with_answered_ptr() {
    let doc = run("dns_banner_answered.pcap", &[]);
    let f = one(&doc, "stall.first_byte");
    let queries = f["evidence"]["dns_queries"].as_array().unwrap();
    assert!(
        queries
            .iter()
            .any(|q| q["ptr_of_client"] == true && !q["answer"].is_null()),
        "{queries:#?}"
    );
}

#[test]
fn port_reuse_inside_time_wait() {
    let doc = run("timewait_tw_reuse.pcap", &[]);
    let f = one(&doc, "close.port_reuse");
    assert_eq!(f["evidence"]["time_wait_holder"], "client");
    assert_eq!(f["evidence"]["timestamps"], true);
    assert!(f["evidence"]["seconds_after_close"].as_f64().unwrap() < 60.0);
}

#[test]
fn timewait_buildup_against_a_tiny_port_range() {
    let doc = run(
        "timewait_reuse.pcap",
        &["--timewait-min", "5", "--port-range", "40000-40007"],
    );
    let f = one(&doc, "timewait.buildup");
    assert_eq!(f["flow"], Value::Null);
    assert_eq!(f["severity"], "error");
    assert_eq!(
        f["evidence"]["port_range"],
        serde_json::json!([40000, 40007])
    );
    assert!(f["evidence"]["peak_time_wait"].as_u64().unwrap() >= 4);
    // Against the default range the same closes are only a warning-free trickle.
    let doc = run("timewait_reuse.pcap", &[]);
    assert!(findings(&doc, "timewait.buildup").is_empty());
}

#[test]
fn rst_injected_by_a_router() {
    let doc = run("rst_injected_router.pcap", &[]);
    let f = one(&doc, "rst.injected");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["evidence"]["rst_ttl"], 64);
    assert_eq!(
        f["evidence"]["endpoint_ttl_range"],
        serde_json::json!([63, 63])
    );
    assert!(f["summary"].as_str().unwrap().contains("TTL 64 vs 63"));
    // The clean connection before it has no RST finding at all.
    assert_eq!(findings(&doc, "rst.injected").len(), 1);
}

#[test]
fn rst_injected_on_a_shared_segment_by_mac() {
    let doc = run("rst_injected_bridge.pcap", &[]);
    let f = one(&doc, "rst.injected");
    assert!(f["evidence"]["rst_mac"] != f["evidence"]["endpoint_mac"]);
    assert!(f["summary"].as_str().unwrap().contains("source MAC"));
}

#[test]
fn abortive_closes_are_attributed() {
    let doc = run("abortive_close.pcap", &[]);
    assert_eq!(
        one(&doc, "rst.client")["evidence"]["context"],
        "abortive_close"
    );
    assert_eq!(
        one(&doc, "rst.server")["evidence"]["context"],
        "abortive_close"
    );
    assert!(findings(&doc, "rst.injected").is_empty());
}

#[test]
fn keepalive_answered_and_dead_peer() {
    let doc = run("keepalive_answered.pcap", &[]);
    let f = one(&doc, "keepalive.probe");
    assert_eq!(f["severity"], "info");
    assert!(f["evidence"]["answered"].as_u64().unwrap() >= 1);
    assert!(findings(&doc, "keepalive.dead_peer").is_empty());
    let doc = run("keepalive_dead_peer.pcap", &[]);
    let f = one(&doc, "keepalive.dead_peer");
    assert_eq!(f["severity"], "error");
    assert!(f["evidence"]["unanswered"].as_u64().unwrap() >= 2);
    assert!(!f["evidence"]["rst_frame"].is_null());
}

#[test]
fn zero_window_and_persist_probes_are_not_keepalives() {
    let doc = run("zero_window_persist.pcap", &[]);
    let z = one(&doc, "window.zero");
    assert!(!z["evidence"]["reopened_frame"].is_null());
    let p = one(&doc, "window.persist_probe");
    assert!(p["evidence"]["probe_frames"].as_array().unwrap().len() >= 2);
    assert!(
        !ids(&doc).iter().any(|i| i.starts_with("keepalive.")),
        "{:?}",
        ids(&doc)
    );
}

#[test]
fn retransmission_timeout_and_give_up() {
    let doc = run("retransmit_give_up.pcap", &[]);
    let t = one(&doc, "retransmit.timeout");
    assert!(t["evidence"]["retransmissions"].as_u64().unwrap() >= 3);
    assert_eq!(t["evidence"]["exponential_backoff"], true);
    let g = one(&doc, "retransmit.give_up");
    assert_eq!(g["severity"], "error");
    assert!(g["evidence"]["unacked_for_s"].as_f64().unwrap() < 60.0);
    assert!(!g["evidence"]["suggested_user_timeout_ms"].is_null());
}

#[test]
fn fast_retransmissions_under_random_loss() {
    let doc = run("fast_retransmit.pcap", &[]);
    let f = one(&doc, "retransmit.fast");
    assert!(f["evidence"]["fast_retransmissions"].as_u64().unwrap() >= 1);
    assert!(f["evidence"]["peer_dup_acks"].as_u64().unwrap() >= 2);
}

#[test]
fn capture_quality() {
    let doc = run("offload_on.pcap", &[]);
    let f = one(&doc, "capture.offload");
    assert!(
        f["evidence"]["largest_payload"].as_u64().unwrap() > f["evidence"]["mss"].as_u64().unwrap()
    );
    let doc = run("snaplen.pcap", &[]);
    assert!(
        one(&doc, "capture.truncated")["evidence"]["truncated_segments"]
            .as_u64()
            .unwrap()
            > 0
    );
    let doc = run("half_open_flood.pcap", &["--max-flows", "50"]);
    let f = one(&doc, "capture.flow_limit");
    assert!(f["evidence"]["evicted"].as_u64().unwrap() > 0);
}

#[test]
fn idle_resets_report_the_common_timeout() {
    let doc = run("idle_reset.pcap", &["--idle-reset", "3s"]);
    let per_flow: Vec<&Value> = findings(&doc, "idle.reset")
        .into_iter()
        .filter(|f| !f["flow"].is_null())
        .collect();
    assert_eq!(
        per_flow.len(),
        4,
        "the control connection that never idles is not reset"
    );
    let all = findings(&doc, "idle.reset");
    let summary = all
        .iter()
        .find(|f| f["flow"].is_null())
        .expect("capture-wide idle.reset");
    assert_eq!(summary["evidence"]["resets"], 4);
    assert!((summary["evidence"]["idle_mean_s"].as_f64().unwrap() - 4.0).abs() < 0.2);
    assert_eq!(summary["confidence"], "high");
    // The router's RSTs carry its own TTL.
    assert_eq!(findings(&doc, "rst.injected").len(), 4);
    // Default threshold (10 s): a 4 s idle is not called an idle timeout.
    assert!(findings(&run("idle_reset.pcap", &[]), "idle.reset").is_empty());
}

#[test]
fn rst_after_close_answers_a_socket_that_is_gone() {
    let doc = run("rst_after_close.pcap", &[]);
    let all = findings(&doc, "rst.server");
    assert!(!all.is_empty());
    assert!(
        all.iter()
            .all(|f| f["evidence"]["context"] == "after_own_fin"
                || f["evidence"]["context"] == "unknown_connection"),
        "{all:#?}"
    );
    // Genuine Linux RSTs (no options, IP ID 0) are not called injected.
    assert!(findings(&doc, "rst.injected").is_empty());
}
