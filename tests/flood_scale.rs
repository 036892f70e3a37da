//! A half-open flood with more per-flow findings than the report keeps (20,000):
//! the flood finding still stands for all of them, in the summary counts as in its
//! evidence. The input is the real-kernel `half_open_flood.pcap` with every one of
//! its 200 handshakes copied 100 times onto other client addresses (same times,
//! same bytes otherwise; IPv4 header checksums recomputed).

mod common;

use common::pcap::{network_of, Pcap, Record};
use common::{first_finding, run};

const COPIES: u8 = 100;
const SERVER: [u8; 4] = [192, 0, 2, 1];

/// Copy `k` of a frame: every IPv4 address other than the server's gets `k` XORed
/// into its third byte.
fn shifted(linktype: u32, frame: &[u8], k: u8) -> Option<Vec<u8>> {
    let net = network_of(linktype, frame)?;
    if net.len() < 20 || net[0] >> 4 != 4 {
        return None;
    }
    let at = net.as_ptr() as usize - frame.as_ptr() as usize;
    let mut out = frame.to_vec();
    let ip = &mut out[at..];
    for addr in [12usize, 16] {
        if ip[addr..addr + 4] != SERVER {
            ip[addr + 2] ^= k;
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

#[test]
fn flood_folds_findings_beyond_the_kept_bound() {
    let original = Pcap::read(&common::fixture("half_open_flood.pcap"));
    let mut big = original.clone();
    big.records.clear();
    for r in &original.records {
        big.records.push(r.clone());
        for k in 1..COPIES {
            if let Some(data) = shifted(original.linktype, &r.data, k) {
                big.records.push(Record { data, ..r.clone() });
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flood_x100.pcap");
    big.write(&path);

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
    // 4 client addresses, 100 copies each: counted exactly, under the cap.
    assert_eq!(ev["distinct_sources"].as_u64().unwrap(), 400);
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
