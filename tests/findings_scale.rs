//! More per-flow findings than the report's top-level list keeps (20,000). A
//! half-open flood's flood finding still stands for all of its flows' findings, in
//! the summary counts as in its evidence; other findings past the bound are counted
//! and said to be left out of the list. The inputs are real-kernel fixtures with
//! every connection copied onto other client addresses (same times, same bytes
//! otherwise; IPv4 header checksums recomputed).

mod common;

use common::pcap::{network_of, Pcap, Record};
use common::{first_finding, run};

const COPIES: u16 = 100;
const SERVER: [u8; 4] = [192, 0, 2, 1];

/// Copy `k` of a frame: every IPv4 address other than the server's gets `k` XORed
/// into its second and third bytes.
fn shifted(linktype: u32, frame: &[u8], k: u16) -> Option<Vec<u8>> {
    let net = network_of(linktype, frame)?;
    if net.len() < 20 || net[0] >> 4 != 4 {
        return None;
    }
    let at = net.as_ptr() as usize - frame.as_ptr() as usize;
    let mut out = frame.to_vec();
    let ip = &mut out[at..];
    for addr in [12usize, 16] {
        if ip[addr..addr + 4] != SERVER {
            let [hi, lo] = k.to_be_bytes();
            ip[addr + 1] ^= hi;
            ip[addr + 2] ^= lo;
        }
    }
    let header_len = usize::from(ip[0] & 15) * 4;
    ip[10] = 0;
    ip[11] = 0;
    let mut sum = 0u32;
    for pair in ip[..header_len].chunks(2) {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    Some(out)
}

/// The fixture with every record followed by its copies 1..copies.
fn copied(fixture: &str, copies: u16, dir: &std::path::Path) -> std::path::PathBuf {
    let original = Pcap::read(&common::fixture(fixture));
    let mut big = original.clone();
    big.records.clear();
    for r in &original.records {
        big.records.push(r.clone());
        for k in 1..copies {
            if let Some(data) = shifted(original.linktype, &r.data, k) {
                big.records.push(Record { data, ..r.clone() });
            }
        }
    }
    let path = dir.join(format!("x{copies}-{fixture}"));
    big.write(&path);
    path
}

#[test]
fn findings_past_the_list_bound_are_counted_as_not_listed() {
    // abortive_close: two connections, one aborted by each side.
    let small = common::replay_json("abortive_close.pcap", &[]);
    let per_copy = small["findings"].as_array().unwrap().len() as u64;
    assert_eq!(per_copy, 2);
    let flows_per_copy = small["summary"]["flows"]["flows"].as_u64().unwrap();
    let copies: u16 = 10_100;
    let dir = tempfile::tempdir().unwrap();
    let path = copied("abortive_close.pcap", copies, dir.path());
    let run = run(["replay", path.to_str().unwrap(), "--format", "json"]);
    run.assert_code(0);
    let doc = run.json();
    let all = per_copy * u64::from(copies);
    let s = &doc["summary"];
    assert_eq!(
        s["flows"]["flows"].as_u64().unwrap(),
        flows_per_copy * u64::from(copies)
    );
    assert_eq!(s["findings"]["warning"].as_u64().unwrap(), all, "{s}");
    let listed = doc["findings"].as_array().unwrap().len() as u64;
    assert_eq!(listed, 20_000);
    assert_eq!(s["findings_not_listed"].as_u64().unwrap(), all - listed);
}

#[test]
fn flood_folds_findings_beyond_the_kept_bound() {
    let dir = tempfile::tempdir().unwrap();
    let path = copied("half_open_flood.pcap", COPIES, dir.path());

    // The original's numbers, to scale.
    let small = common::replay_json("half_open_flood.pcap", &[]);
    let small_flood = first_finding(&small, "handshake.half_open_flood");
    let folded_small: u64 = small_flood["evidence"]["folded_flow_findings"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    let half_open_small = small_flood["evidence"]["half_open"].as_u64().unwrap();
    let sources_small = small_flood["evidence"]["distinct_sources"]
        .as_u64()
        .unwrap();
    assert!(sources_small >= 2, "the flood comes from several sources");
    assert!(
        folded_small * u64::from(COPIES) > 20_000,
        "the copies must pass the bound on kept findings"
    );

    let run = run([
        "replay",
        path.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "error",
    ]);
    // The flood is an error: exit 1, and it is the only finding.
    run.assert_code(1);
    let doc = run.json();
    let ids: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["handshake.half_open_flood"], "{ids:?}");
    assert_eq!(
        doc["summary"]["findings"],
        serde_json::json!({"info": 0, "warning": 0, "error": 1}),
        "folded per-flow findings must not be counted, held or not"
    );
    // Folded findings are not "not listed": the flood finding stands for them.
    assert_eq!(doc["summary"]["findings_not_listed"], 0);
    let flood = first_finding(&doc, "handshake.half_open_flood");
    let ev = &flood["evidence"];
    assert_eq!(
        ev["half_open"].as_u64().unwrap(),
        half_open_small * u64::from(COPIES)
    );
    let folded: u64 = ev["folded_flow_findings"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(folded, folded_small * u64::from(COPIES));
    // Each copy of a source is distinct (copies change bytes 2-3, the flood's sources
    // differ in their last byte): counted exactly, under the cap.
    assert_eq!(
        ev["distinct_sources"].as_u64().unwrap(),
        sources_small * u64::from(COPIES)
    );
    assert_eq!(ev["distinct_sources_capped"], false);
    // Flow records keep their own findings.
    let with_own = doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["findings"].as_array().unwrap().is_empty())
        .count() as u64;
    assert!(
        with_own >= half_open_small * u64::from(COPIES) / 2,
        "{with_own}"
    );
}
