//! Each finding fires on a real-kernel fixture of its scenario, with its key evidence
//! and severity, and clean traffic stays quiet.

mod common;

use common::{findings_with_id, first_finding};
use serde_json::Value;

/// The fixture's JSON report (exit 0, nothing on stderr, a complete summary).
fn run(fixture: &str, args: &[&str]) -> Value {
    common::replay_json(fixture, args)
}

/// An evidence array of numbers (a `[low, high]` window).
fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// The JSON report of these fixtures replayed together, in this order (exit 0).
fn replay_files(fixtures: &[&str]) -> Value {
    let mut args = vec!["replay".to_string(), "--format".into(), "json".into()];
    args.extend(fixtures.iter().map(|f| common::fixture_arg(f)));
    let r = common::run(args);
    r.assert_code(0);
    r.json()
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
        "midstream.pcap",
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
    common::replay("syn_unanswered.pcap", &["--fail-on", "error"]).assert_code(1);
    common::replay("http_clean.pcap", &["--fail-on", "warning"]).assert_code(0);
}

#[test]
fn syn_retransmit_classic_backoff_and_unanswered() {
    let doc = run("syn_unanswered.pcap", &["--syn-retries", "2"]);
    let f = first_finding(&doc, "handshake.syn_retransmit");
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
    // Never answered: the same SYNs, one finding (the retransmissions' carries it).
    assert!(findings_with_id(&doc, "handshake.unanswered").is_empty());
    assert_eq!(f["evidence"]["answered"], false);
    assert_eq!(f["evidence"]["cause"], "syns_lost");
    assert_eq!(f["evidence"]["frames"].as_array().unwrap().len(), 3);
    assert_eq!(
        f["evidence"]["also_matched"],
        serde_json::json!(["handshake.unanswered"])
    );
    // Without the host's value the Linux default is stated as an assumption.
    let doc = run("syn_unanswered.pcap", &[]);
    let f = first_finding(&doc, "handshake.syn_retransmit");
    assert_eq!(f["evidence"]["tcp_syn_retries_assumed"], true);
    assert!(f["summary"].as_str().unwrap().contains("assumed"));
}

#[test]
fn syn_retransmit_linear_schedule() {
    let doc = run("syn_linear.pcap", &[]);
    let f = first_finding(&doc, "handshake.syn_retransmit");
    assert!(
        f["evidence"]["schedule"]
            .as_str()
            .unwrap()
            .starts_with("LinearThenExponential"),
        "{f:#}"
    );
    // Five 1 s intervals: the initial RTO plus tcp_syn_linear_timeouts=4 (the script's
    // 6.18 default). Every interval was 1 s, so the count is marked as inferred.
    assert_eq!(f["evidence"]["tcp_syn_linear_timeouts"], 4);
    // The script's client (tcp_syn_retries=2) got ETIMEDOUT ~7 s after its first SYN:
    // the kernel's time bound (1 + 2 + 4 s), not a count of SYNs.
    let doc = run("syn_linear.pcap", &["--syn-retries", "2"]);
    let f = first_finding(&doc, "handshake.syn_retransmit");
    assert_eq!(f["evidence"]["give_up_after_s"], 7.0);
}

#[test]
fn rejected_connection() {
    let doc = run("refused.pcap", &[]);
    let all = findings_with_id(&doc, "handshake.rejected");
    assert_eq!(all.len(), 2);
    assert!(
        findings_with_id(&doc, "rst.server").is_empty(),
        "REJ is reported once, as handshake.rejected"
    );
}

#[test]
fn synack_retransmit() {
    let doc = run("synack_retransmit.pcap", &[]);
    let f = first_finding(&doc, "handshake.synack_retransmit");
    assert_eq!(f["severity"], "warning");
    assert!(f["evidence"]["frames"].as_array().unwrap().len() >= 2);
}

#[test]
fn half_open_flood() {
    let doc = run("half_open_flood.pcap", &[]);
    let f = first_finding(&doc, "handshake.half_open_flood");
    assert_eq!(f["flow"], Value::Null);
    assert_eq!(f["severity"], "error");
    assert!(f["evidence"]["half_open"].as_u64().unwrap() >= 100);
    assert!(f["evidence"]["distinct_sources"].as_u64().unwrap() >= 2);
    // The flood stands for its flows' handshake findings: one finding, not hundreds.
    // Each flow's own record still lists its findings.
    let folded = &f["evidence"]["folded_flow_findings"];
    let per_flow: u64 = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|fl| fl["findings"].as_array().unwrap())
        .filter(|x| x["id"] == "handshake.syn_retransmit")
        .count() as u64;
    assert!(per_flow > 50, "{per_flow}");
    assert_eq!(folded["handshake.syn_retransmit"], per_flow);
    assert!(folded["handshake.synack_retransmit"].as_u64().unwrap() > 50);
    assert_eq!(ids(&doc), ["handshake.half_open_flood"]);
    assert_eq!(
        doc["summary"]["findings"],
        serde_json::json!({"error": 1, "warning": 0, "info": 0})
    );
    let table = common::run([
        "replay",
        "--format",
        "table",
        "--findings-only",
        &common::fixture_arg("half_open_flood.pcap"),
    ]);
    table.assert_code(0);
    let table = table.stdout_str();
    assert!(!table.contains("\nflow "), "{table}");
    assert!(table.contains("handshake.half_open_flood"));
    // Below the threshold it stays silent, and the per-flow findings are listed.
    let doc = run("half_open_flood.pcap", &["--flood-min", "100000"]);
    assert!(findings_with_id(&doc, "handshake.half_open_flood").is_empty());
    assert_eq!(
        findings_with_id(&doc, "handshake.syn_retransmit").len() as u64,
        per_flow
    );
}

#[test]
fn banner_stall_with_unanswered_ptr_lookups() {
    let doc = run("dns_banner_stall.pcap", &[]);
    let f = first_finding(&doc, "stall.first_byte");
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
    assert!(findings_with_id(&doc, "stall.first_byte").is_empty());
}

#[test]
fn slow_response_later_in_a_connection() {
    // stall_response.sh: flow 1 has think times 0, 0.05, 1.3, 0.1, 2.1 s; flow 2 has
    // 0, 0.4, 0.2 s (all under the 1 s default).
    let doc = run("stall_response.pcap", &[]);
    let all = findings_with_id(&doc, "stall.response");
    assert_eq!(all.len(), 1, "one finding per flow, only flow 1: {all:#?}");
    let f = all[0];
    assert_eq!(f["flow"], 1);
    assert_eq!(f["severity"], "warning");
    let ev = &f["evidence"];
    let wait = ev["wait_s"].as_f64().unwrap();
    assert!((2.09..2.2).contains(&wait), "worst wait {wait}");
    assert_eq!(ev["slow_responses"], 2);
    assert_eq!(ev["slow_responses_is_lower_bound"], false);
    assert_eq!(ev["responses"], 5);
    let other = ev["other_slow"][0]["wait_s"].as_f64().unwrap();
    assert!((1.29..1.4).contains(&other), "second worst {other}");
    // The frames are the client's last request segment and the server's answer.
    let flow = &doc["flows"][0];
    let timeline = run("stall_response.pcap", &["--timeline", "full"])["flows"][0]["timeline"]
        .as_array()
        .unwrap()
        .clone();
    let event = |frame: &Value| {
        timeline
            .iter()
            .find(|e| e["frame"] == *frame)
            .unwrap_or_else(|| panic!("frame {frame} not in flow 1"))
            .clone()
    };
    let req = event(&ev["request_frame"]);
    let resp = event(&ev["response_frame"]);
    assert_eq!(
        (req["dir"].as_str(), resp["dir"].as_str()),
        (Some("c>s"), Some("s>c"))
    );
    assert!(req["len"].as_u64().unwrap() > 0 && resp["len"].as_u64().unwrap() > 0);
    let gap = resp["at"].as_f64().unwrap() - req["at"].as_f64().unwrap();
    assert!((gap - wait).abs() < 0.002, "{gap} vs {wait}");
    assert_eq!(flow["client"], "192.0.2.10:40001");
    // The first response was immediate: no first-byte stall.
    assert!(findings_with_id(&doc, "stall.first_byte").is_empty());
    // The threshold decides: at 1.5 s only the 2.1 s wait counts; at 3 s nothing.
    let doc = run("stall_response.pcap", &["--stall-threshold", "1500ms"]);
    assert_eq!(
        first_finding(&doc, "stall.response")["evidence"]["slow_responses"],
        1
    );
    let doc = run("stall_response.pcap", &["--stall-threshold", "3s"]);
    assert!(findings_with_id(&doc, "stall.response").is_empty());
    // At 0.3 s flow 2's 0.4 s wait counts too.
    let doc = run("stall_response.pcap", &["--stall-threshold", "300ms"]);
    let flows: Vec<u64> = findings_with_id(&doc, "stall.response")
        .iter()
        .map(|f| f["flow"].as_u64().unwrap())
        .collect();
    assert_eq!(flows, [1, 2]);
}

#[test]
fn capture_started_midstream() {
    // midstream.sh: connection 40001 was open before tcpdump started; 40002 was not.
    let doc = run("midstream.pcap", &["--timeline", "full"]);
    let f = first_finding(&doc, "capture.midstream");
    assert_eq!(f["severity"], "info");
    assert_eq!(f["evidence"]["flows"], 1);
    assert_eq!(f["evidence"]["example_flows"], serde_json::json!([1]));
    assert!(f["summary"].as_str().unwrap().starts_with("1 flow started"));
    let flows = doc["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 2);
    let mid = &flows[0];
    assert_eq!(mid["client"], "192.0.2.10:40001");
    assert_eq!(mid["server"], "192.0.2.1:8080");
    assert_ne!(mid["roles"], "syn");
    assert_eq!(mid["handshake"]["completed"], false);
    assert!(mid["client_stats"]["isn"].is_null());
    assert_eq!(mid["closed_by"]["side"], "client");
    // Wireshark's relative numbering: the first byte seen is 1 on both sides.
    let first = &mid["timeline"][0];
    assert_eq!(
        (first["seq"].as_u64(), first["ack"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(flows[1]["roles"], "syn");
    assert_eq!(flows[1]["handshake"]["completed"], true);
    // No handshake-based finding can come from the midstream flow.
    let mid_findings: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["flow"] == 1)
        .collect();
    assert!(mid_findings.is_empty(), "{mid_findings:#?}");
    // A complete capture has none.
    assert!(findings_with_id(&run("http_clean.pcap", &[]), "capture.midstream").is_empty());
}

#[test]
fn banner_stall_with_answered_ptr() {
    let doc = run("dns_banner_answered.pcap", &[]);
    let f = first_finding(&doc, "stall.first_byte");
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
    let f = first_finding(&doc, "close.port_reuse");
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
    let f = first_finding(&doc, "timewait.buildup");
    assert_eq!(f["flow"], Value::Null);
    assert_eq!(f["severity"], "error");
    assert_eq!(
        f["evidence"]["port_range"],
        serde_json::json!([40000, 40007])
    );
    // timewait_reuse.sh: the client closes 8 connections, one per port of its 8-port
    // range, well inside TIME_WAIT's 60 s; the 9th and 10th connect() fail unsent.
    assert_eq!(f["evidence"]["active_closes"], 8);
    assert_eq!(f["evidence"]["peak_time_wait"], 8);
    // Against the default range the same closes are only a warning-free trickle.
    let doc = run("timewait_reuse.pcap", &[]);
    assert!(findings_with_id(&doc, "timewait.buildup").is_empty());
}

#[test]
fn rst_injected_by_a_router() {
    let doc = run("rst_injected_router.pcap", &[]);
    let f = first_finding(&doc, "rst.injected");
    assert_eq!(f["severity"], "error");
    // rst_injected_router.sh: the router's own kernel sends the RST (TTL 64); the
    // server's packets cross the router (64 - 1).
    assert_eq!(f["evidence"]["rst_ttl"], 64);
    assert_eq!(
        f["evidence"]["endpoint_ttl_range"],
        serde_json::json!([63, 63])
    );
    assert!(f["summary"].as_str().unwrap().contains("TTL 64 vs 63"));
    // The clean connection before it has no RST finding at all.
    assert_eq!(findings_with_id(&doc, "rst.injected").len(), 1);
}

#[test]
fn rst_injected_on_a_shared_segment_by_mac() {
    let doc = run("rst_injected_bridge.pcap", &[]);
    let f = first_finding(&doc, "rst.injected");
    assert!(f["evidence"]["rst_mac"] != f["evidence"]["endpoint_mac"]);
    assert!(f["summary"].as_str().unwrap().contains("source MAC"));
}

#[test]
fn abortive_closes_are_attributed() {
    let doc = run("abortive_close.pcap", &[]);
    assert_eq!(
        first_finding(&doc, "rst.client")["evidence"]["context"],
        "abortive_close"
    );
    assert_eq!(
        first_finding(&doc, "rst.server")["evidence"]["context"],
        "abortive_close"
    );
    assert!(findings_with_id(&doc, "rst.injected").is_empty());
}

#[test]
fn keepalive_answered_and_dead_peer() {
    let doc = run("keepalive_answered.pcap", &[]);
    let f = first_finding(&doc, "keepalive.probe");
    assert_eq!(f["severity"], "info");
    assert!(f["evidence"]["answered"].as_u64().unwrap() >= 1);
    assert!(findings_with_id(&doc, "keepalive.dead_peer").is_empty());
    let doc = run("keepalive_dead_peer.pcap", &[]);
    let f = first_finding(&doc, "keepalive.dead_peer");
    assert_eq!(f["severity"], "error");
    assert!(f["evidence"]["unanswered"].as_u64().unwrap() >= 2);
    assert!(!f["evidence"]["rst_frame"].is_null());
}

#[test]
fn zero_window_and_persist_probes_are_not_keepalives() {
    let doc = run("zero_window_persist.pcap", &[]);
    let z = first_finding(&doc, "window.zero");
    assert!(!z["evidence"]["reopened_frame"].is_null());
    let p = first_finding(&doc, "window.persist_probe");
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
    // One explanation for the resends: they ended in a give-up, which stands for the
    // timeouts too.
    assert!(findings_with_id(&doc, "retransmit.timeout").is_empty());
    let g = first_finding(&doc, "retransmit.give_up");
    assert_eq!(g["severity"], "error");
    let ev = &g["evidence"];
    assert!(ev["retransmissions"].as_u64().unwrap() >= 3);
    assert_eq!(ev["exponential_backoff"], true);
    assert_eq!(
        ev["also_matched"],
        serde_json::json!(["retransmit.timeout"])
    );
    // Much shorter than any tcp_retries2 allows: the cause is a user timeout.
    assert_eq!(ev["cause"], "user_timeout");
    assert_eq!(ev["ended_with"], "silence");
    // The heartbeat connection shows the capture went on past the next resend's due time.
    assert!(ev["silence_s"].as_f64().unwrap() > ev["next_retransmission_due_s"].as_f64().unwrap());
    // The script set TCP_USER_TIMEOUT=5000 ms: the give-up window must contain it.
    let within = floats(&ev["gave_up_within_s"]);
    assert!(within[0] < 5.0 && 5.0 < within[1], "{within:?}");
    let ms = floats(&ev["suggested_user_timeout_ms"]);
    assert!(ms[0] < 5000.0 && 5000.0 < ms[1], "{ms:?}");
    // Without the heartbeat the last retransmission is the capture's last packet: the
    // sender may still have been retrying, so no give-up is claimed.
    let doc = run("retransmit_give_up.pcap", &["-f", "tcp port 9100"]);
    assert!(findings_with_id(&doc, "retransmit.give_up").is_empty());
    let t = first_finding(&doc, "retransmit.timeout");
    assert_eq!(t["evidence"]["still_retrying_at_end"], true);
    assert!(t["summary"]
        .as_str()
        .unwrap()
        .contains("not in the capture"));
}

#[test]
fn fast_retransmissions_under_random_loss() {
    let doc = run("fast_retransmit.pcap", &[]);
    let f = first_finding(&doc, "retransmit.fast");
    assert!(f["evidence"]["fast_retransmissions"].as_u64().unwrap() >= 1);
    assert!(f["evidence"]["peer_dup_acks"].as_u64().unwrap() >= 2);
}

#[test]
fn capture_quality() {
    let doc = run("offload_on.pcap", &[]);
    let f = first_finding(&doc, "capture.offload");
    assert!(
        f["evidence"]["largest_payload"].as_u64().unwrap() > f["evidence"]["mss"].as_u64().unwrap()
    );
    let doc = run("snaplen.pcap", &[]);
    assert!(
        first_finding(&doc, "capture.truncated")["evidence"]["truncated_segments"]
            .as_u64()
            .unwrap()
            > 0
    );
    let doc = run("half_open_flood.pcap", &["--max-flows", "50"]);
    let f = first_finding(&doc, "capture.flow_limit");
    assert!(f["evidence"]["evicted"].as_u64().unwrap() > 0);
}

#[test]
fn idle_resets_report_the_common_timeout() {
    // idle_reset.sh: four flows each idle 4.0 s, then reset by the router's
    // firewall; a control flow that never idles 3 s.
    let doc = run("idle_reset.pcap", &["--idle-reset", "3s"]);
    let per_flow: Vec<&Value> = findings_with_id(&doc, "idle.reset")
        .into_iter()
        .filter(|f| !f["flow"].is_null())
        .collect();
    assert_eq!(
        per_flow.len(),
        4,
        "the control connection that never idles is not reset"
    );
    for f in &per_flow {
        let ev = &f["evidence"];
        assert_eq!(ev["idle_threshold_s"], 3.0);
        assert!(ev["idle_s"].as_f64().unwrap() >= 3.0);
        // The RST came within the window that makes it the silence's answer.
        let after = ev["rst_after_resume_s"].as_f64().unwrap();
        assert!(
            after >= 0.0 && after <= ev["answer_window_s"].as_f64().unwrap(),
            "{ev}"
        );
    }
    let all = findings_with_id(&doc, "idle.reset");
    let summary = all
        .iter()
        .find(|f| f["flow"].is_null())
        .expect("capture-wide idle.reset");
    assert_eq!(summary["evidence"]["resets"], 4);
    assert_eq!(summary["evidence"]["idle_stats_over"], 4);
    assert!((summary["evidence"]["idle_mean_s"].as_f64().unwrap() - 4.0).abs() < 0.2);
    assert_eq!(summary["confidence"], "high");
    // The router's RSTs carry its own TTL: one explanation per RST, the idle timeout,
    // which says so in its evidence.
    assert!(findings_with_id(&doc, "rst.injected").is_empty());
    for f in &per_flow {
        assert_eq!(
            f["evidence"]["also_matched"],
            serde_json::json!(["rst.injected", "rst.server"])
        );
        assert!(!f["evidence"]["injection_signs"]
            .as_array()
            .unwrap()
            .is_empty());
    }
    // Default threshold (10 s): the 4 s silences are still long for these flows (they
    // never paused otherwise) and the RSTs carry the router's TTL, so they are idle
    // resets judged against the flows' own rhythm.
    let doc = run("idle_reset.pcap", &[]);
    let judged: Vec<&Value> = findings_with_id(&doc, "idle.reset")
        .into_iter()
        .filter(|f| !f["flow"].is_null())
        .collect();
    assert_eq!(judged.len(), 4);
    assert!(judged
        .iter()
        .all(|f| f["evidence"]["judged_against_flow"] == true));
}

#[test]
fn rst_after_close_answers_a_socket_that_is_gone() {
    let doc = run("rst_after_close.pcap", &[]);
    let all = findings_with_id(&doc, "rst.server");
    assert_eq!(all.len(), 2, "{all:#?}");
    // Connection A: data sent to a socket its application had closed.
    assert_eq!(all[0]["evidence"]["context"], "after_own_fin");
    assert_eq!(all[0]["evidence"]["cause"], "socket_gone");
    assert_eq!(all[0]["severity"], "warning");
    // Connection B: both sides had closed; a delayed duplicate got the RST. Harmless.
    assert_eq!(all[1]["evidence"]["context"], "after_close");
    assert_eq!(all[1]["severity"], "info");
    // Genuine Linux RSTs (no options, IP ID 0) are not called injected.
    assert!(findings_with_id(&doc, "rst.injected").is_empty());
}

#[test]
fn inputs_out_of_time_order_are_flagged() {
    // midstream.pcap was captured a few seconds before stall_response.pcap.
    let doc = replay_files(&["stall_response.pcap", "midstream.pcap"]);
    let f = first_finding(&doc, "capture.inputs_overlap");
    assert_eq!(f["severity"], "warning");
    let o = &f["evidence"]["overlaps"][0];
    assert!(o["file"].as_str().unwrap().ends_with("midstream.pcap"));
    assert!(o["earlier_file"]
        .as_str()
        .unwrap()
        .ends_with("stall_response.pcap"));
    let inputs = doc["summary"]["inputs"].as_array().unwrap();
    let gap =
        inputs[0]["last_packet"].as_f64().unwrap() - inputs[1]["first_packet"].as_f64().unwrap();
    assert!(
        (o["overlap_s"].as_f64().unwrap() - gap).abs() < 0.001,
        "{o} vs {gap}"
    );
    // The reused tuple cannot be timed across the two files: no negative reuse gap.
    assert!(findings_with_id(&doc, "close.port_reuse")
        .iter()
        .all(|f| f["evidence"]["seconds_after_close"].as_f64().unwrap() >= 0.0));
    // In time order: nothing to say.
    let doc = replay_files(&["midstream.pcap", "stall_response.pcap"]);
    assert!(findings_with_id(&doc, "capture.inputs_overlap").is_empty());
}
