//! Properties every report must have, checked on every bundled fixture:
//! - a finding's hint is its cause's (`evidence.cause`), never advice that
//!   contradicts the evidence beside it;
//! - one symptom, one explanation: no two findings explain the same RST;
//! - what is kept for printing (`--timeline-cap`) never changes what is found.

mod common;

use std::collections::BTreeMap;

use serde_json::Value;
use tcpdiag::analyze::Cause;

/// Findings whose cause varies and must therefore be named.
const CAUSED: &[&str] = &[
    "handshake.syn_retransmit",
    "handshake.unanswered",
    "handshake.rejected",
    "stall.first_byte",
    "stall.response",
    "stall.transfer",
    "rst.client",
    "rst.server",
    "rst.injected",
    "rst.not_from_this_host",
    "idle.reset",
    "keepalive.dead_peer",
    "window.zero",
    "retransmit.timeout",
    "retransmit.tail_loss_probe",
    "retransmit.fast",
    "retransmit.give_up",
];

/// Every finding of a report: the top-level list and each flow's own.
fn all_findings(doc: &Value) -> Vec<&Value> {
    let mut v: Vec<&Value> = doc["findings"].as_array().unwrap().iter().collect();
    for flow in common::flows(doc) {
        v.extend(flow["findings"].as_array().unwrap().iter());
    }
    v
}

#[test]
fn hints_follow_their_causes() {
    let mut checked = 0;
    for fixture in common::all_fixtures() {
        let doc = common::replay_json(&fixture, &[]);
        for f in all_findings(&doc) {
            let id = f["id"].as_str().unwrap();
            let Some(cause) = f["evidence"]["cause"].as_str() else {
                assert!(
                    !CAUSED.contains(&id),
                    "{fixture}: {id} names no cause: {f:#}"
                );
                continue;
            };
            let c = Cause::from_name(cause)
                .unwrap_or_else(|| panic!("{fixture}: unknown cause {cause}"));
            let hint = f["hint"].as_str().unwrap();
            assert!(
                hint.starts_with(c.hint_lead()),
                "{fixture}: {id} with cause {cause} has another cause's hint: {hint}"
            );
            // The summary names the same cause in words.
            let summary = f["summary"].as_str().unwrap().to_lowercase();
            assert!(
                summary.contains(&c.clause().to_lowercase()),
                "{fixture}: {id}'s summary does not name its cause ({cause}): {summary}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} findings with causes");
}

#[test]
fn one_explanation_per_rst() {
    for fixture in common::all_fixtures() {
        let doc = common::replay_json(&fixture, &[]);
        let mut by_rst: BTreeMap<(u64, u64), Vec<&str>> = BTreeMap::new();
        for f in doc["findings"].as_array().unwrap() {
            let (Some(flow), Some(frame)) =
                (f["flow"].as_u64(), f["evidence"]["rst_frame"].as_u64())
            else {
                continue;
            };
            by_rst
                .entry((flow, frame))
                .or_default()
                .push(f["id"].as_str().unwrap());
        }
        for ((flow, frame), ids) in by_rst {
            assert_eq!(
                ids.len(),
                1,
                "{fixture}: flow {flow}'s RST at frame {frame} is explained {} times: {ids:?}",
                ids.len()
            );
        }
    }
}

#[test]
fn timeline_cap_never_changes_findings() {
    for fixture in common::all_fixtures() {
        let small = common::replay_json(&fixture, &["--timeline-cap", "10"]);
        let large = common::replay_json(&fixture, &["--timeline-cap", "1000000"]);
        assert_eq!(
            small["findings"], large["findings"],
            "{fixture}: findings change with --timeline-cap"
        );
        for (a, b) in common::flows(&small).iter().zip(common::flows(&large)) {
            assert_eq!(a["findings"], b["findings"], "{fixture}: flow {}", a["id"]);
        }
    }
}
