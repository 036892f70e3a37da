//! `tcpdiag replay` on the basic fixtures: flows, Zeek conn_state/history, close,
//! handshake, per-side counts and timeline facts.
//!
//! Expected values come from the packets (read with tshark when the tests were
//! written, and for the bulk fixtures recomputed at test time by the independent
//! reference decoder in tests/common/pcap.rs) and Zeek's rules (/tmp/spec/zeek.md),
//! never from the tool's own output.
//!
//! Packet sequences of the small fixtures (c = client, s = server):
//!   http_clean   40001: S h A D a d A D d D d F f A        -> ShADadFf SF
//!                40002: S h A D a d A f F a                -> ShADadfF SF
//!   refused      S r(RST-ACK), twice                       -> Sr REJ
//!   abortive     40001: S h A D a d A R                    -> ShADadR RSTO
//!                40002: S h A D a d A D r                  -> ShADadr RSTR
//!   ping/pong    S h A D a d A F f A (cooked, ipv6, vlan, qinq, raw, pcapng)
//!                                                          -> ShADadFf SF
#![allow(clippy::unnecessary_map_or, clippy::cloned_ref_to_slice_refs)]

mod common;

use common::pcap::{self, Pcap};
use common::*;
use serde_json::Value;

/// What one flow must look like.
#[derive(Clone, Debug)]
struct Want {
    client: String,
    server: String,
    conn_state: &'static str,
    history: String,
    /// (side, how, frame)
    closed_by: Option<(&'static str, &'static str, u64)>,
    syn_count: u64,
    syn_ack_count: u64,
    completed: bool,
    /// SYN, SYN-ACK, completing ACK frames.
    hs_frames: (Option<u64>, Option<u64>, Option<u64>),
    packets: (u64, u64),
    payload: (u64, u64),
    seq_bytes: (u64, u64),
    first_frame: u64,
    last_frame: u64,
    fin_frames: Vec<u64>,
    rst_frames: Vec<u64>,
}

/// The ping/pong exchange most link-type fixtures carry, starting at frame `f`:
/// SYN, SYN-ACK, ACK, "ping N\n" (7 B), ACK, "pong N\n" (7 B), ACK, client FIN,
/// server FIN, last ACK.
fn pingpong(client: &str, server: &str, f: u64) -> Want {
    Want {
        client: client.into(),
        server: server.into(),
        conn_state: "SF",
        history: "ShADadFf".into(),
        closed_by: Some(("client", "fin", f + 7)),
        syn_count: 1,
        syn_ack_count: 1,
        completed: true,
        hs_frames: (Some(f), Some(f + 1), Some(f + 2)),
        packets: (6, 4),
        payload: (7, 7),
        seq_bytes: (7, 7),
        first_frame: f,
        last_frame: f + 9,
        fin_frames: vec![f + 7, f + 8],
        rst_frames: vec![],
    }
}

fn opt_u64(v: &Value) -> Option<u64> {
    v.as_u64()
}

/// Checks one flow against `want` in the default (collapsed) and the full timeline.
fn check_flow(doc: &Value, full: &Value, want: &Want) {
    let f = find_flow(doc, &want.client, &want.server);
    let ctx = format!("flow {} -> {}", want.client, want.server);
    assert_eq!(text(f, "/conn_state"), want.conn_state, "{ctx}: conn_state");
    assert_eq!(text(f, "/history"), want.history, "{ctx}: history");
    match want.closed_by {
        Some((side, how, frame)) => {
            let c = &f["closed_by"];
            assert_eq!(c["side"], side, "{ctx}: closed_by.side in {c}");
            assert_eq!(c["how"], how, "{ctx}: closed_by.how in {c}");
            assert_eq!(c["frame"], frame, "{ctx}: closed_by.frame in {c}");
        }
        None => assert!(f["closed_by"].is_null(), "{ctx}: closed_by should be null"),
    }
    let hs = &f["handshake"];
    assert_eq!(num(hs, "/syn_count"), want.syn_count, "{ctx}: syn_count");
    assert_eq!(
        num(hs, "/syn_ack_count"),
        want.syn_ack_count,
        "{ctx}: syn_ack_count"
    );
    assert_eq!(
        hs["completed"], want.completed,
        "{ctx}: handshake.completed"
    );
    assert_eq!(
        (
            opt_u64(&hs["syn_frame"]),
            opt_u64(&hs["syn_ack_frame"]),
            opt_u64(&hs["ack_frame"])
        ),
        want.hs_frames,
        "{ctx}: handshake frames (syn, syn_ack, ack)"
    );
    assert_eq!(
        (
            num(f, "/client_stats/packets"),
            num(f, "/server_stats/packets")
        ),
        want.packets,
        "{ctx}: packets (client, server)"
    );
    assert_eq!(
        (
            num(f, "/client_stats/payload_bytes"),
            num(f, "/server_stats/payload_bytes")
        ),
        want.payload,
        "{ctx}: payload bytes (client, server)"
    );
    assert_eq!(
        (
            num(f, "/client_stats/seq_bytes"),
            num(f, "/server_stats/seq_bytes")
        ),
        want.seq_bytes,
        "{ctx}: Zeek orig_bytes/resp_bytes (seq_bytes)"
    );
    assert_eq!(
        num(f, "/first_frame"),
        want.first_frame,
        "{ctx}: first_frame"
    );
    assert_eq!(num(f, "/last_frame"), want.last_frame, "{ctx}: last_frame");

    // Timeline, collapsed (the default).
    check_timeline_accounting(f);
    let tl = timeline(f);
    assert!(!tl.is_empty(), "{ctx}: empty timeline");
    if let Some(syn) = want.hs_frames.0 {
        let first = &tl[0];
        assert_eq!(
            text(first, "/label"),
            "SYN",
            "{ctx}: first event label: {first}"
        );
        assert_eq!(num(first, "/frame"), syn, "{ctx}: first event frame");
        assert_eq!(text(first, "/dir"), "c>s", "{ctx}: first event dir");
    }
    for (name, letter, frames) in [
        ("FIN", 'F', &want.fin_frames),
        ("RST", 'R', &want.rst_frames),
    ] {
        for &fr in frames {
            let ev = event_at(f, fr).unwrap_or_else(|| {
                panic!(
                    "{ctx}: no timeline event for {name} frame {fr}: {}",
                    short(f)
                )
            });
            assert!(
                text(ev, "/label").contains(name),
                "{ctx}: {name} event label: {ev}"
            );
            assert!(
                text(ev, "/flags").contains(letter),
                "{ctx}: {name} event flags: {ev}"
            );
        }
        // No FIN/RST events other than the expected ones.
        for ev in tl {
            if let Some(flags) = ev["flags"].as_str() {
                let fr = num(ev, "/frame");
                if flags.contains(letter) {
                    assert!(frames.contains(&fr), "{ctx}: unexpected {name} event {ev}");
                }
            }
        }
    }

    // Full timeline: every segment of the flow, each once, in frame order.
    let ff = find_flow(full, &want.client, &want.server);
    let ftl = timeline(ff);
    assert_eq!(
        ftl.len() as u64,
        want.packets.0 + want.packets.1,
        "{ctx}: --timeline full lists every segment"
    );
    assert!(
        ftl.iter()
            .all(|e| e.get("run").map_or(true, Value::is_null)),
        "{ctx}: --timeline full has no collapsed runs"
    );
    assert_eq!(num(ftl.first().unwrap(), "/frame"), want.first_frame);
    assert_eq!(num(ftl.last().unwrap(), "/frame"), want.last_frame);
    check_timeline_accounting(ff);
    let fin_full: Vec<u64> = ftl
        .iter()
        .filter(|e| e["flags"].as_str().is_some_and(|s| s.contains('F')))
        .map(|e| num(e, "/frame"))
        .collect();
    assert_eq!(
        fin_full, want.fin_frames,
        "{ctx}: FIN frames in the full timeline"
    );
    let rst_full: Vec<u64> = ftl
        .iter()
        .filter(|e| e["flags"].as_str().is_some_and(|s| s.contains('R')))
        .map(|e| num(e, "/frame"))
        .collect();
    assert_eq!(
        rst_full, want.rst_frames,
        "{ctx}: RST frames in the full timeline"
    );
}

/// Replays `name` and checks the flow count, each flow, and summary consistency.
fn check_fixture(name: &str, wants: &[Want]) -> (Value, Value) {
    let doc = replay_json(name, &[]);
    let full = replay_full(name);
    let got: Vec<String> = flows(&doc)
        .iter()
        .map(|f| format!("{} -> {} {}", f["client"], f["server"], f["history"]))
        .collect();
    assert_eq!(
        flows(&doc).len(),
        wants.len(),
        "{name}: number of flows; got {got:#?}"
    );
    assert_eq!(
        flows(&full).len(),
        wants.len(),
        "{name}: flows with --timeline full"
    );
    for w in wants {
        check_flow(&doc, &full, w);
    }
    check_summary(name, &doc, wants);
    (doc, full)
}

fn check_summary(name: &str, doc: &Value, wants: &[Want]) {
    let s = &doc["summary"];
    assert_eq!(
        num(s, "/flows/flows"),
        wants.len() as u64,
        "{name}: summary.flows.flows"
    );
    let mut states = std::collections::BTreeMap::<String, u64>::new();
    for w in wants {
        *states.entry(w.conn_state.to_string()).or_default() += 1;
    }
    let got: std::collections::BTreeMap<String, u64> = s["conn_states"]
        .as_object()
        .expect("conn_states")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(got, states, "{name}: summary.conn_states");
    assert_eq!(
        num(s, "/packets/malformed"),
        0,
        "{name}: no malformed frames"
    );
    let pkts: u64 = wants.iter().map(|w| w.packets.0 + w.packets.1).sum();
    assert_eq!(
        num(s, "/packets/tcp_segments"),
        pkts,
        "{name}: summary tcp_segments"
    );
}

/// Frame count check for classic pcap fixtures (pcapng is not parsed here).
fn check_frame_count(name: &str, doc: &Value) {
    let p = Pcap::read(&fixture(name));
    assert_eq!(
        num(doc, "/summary/packets/frames"),
        p.records.len() as u64,
        "{name}: summary.packets.frames"
    );
    let decoded = p.tcp_frames().iter().filter(|s| s.is_some()).count() as u64;
    assert_eq!(
        num(doc, "/summary/packets/tcp_segments"),
        decoded,
        "{name}: TCP segments (reference decoder)"
    );
}

// ---------------------------------------------------------------------------------
// Small fixtures with fixed content

fn http_clean_wants() -> Vec<Want> {
    vec![
        Want {
            client: "192.0.2.10:40001".into(),
            server: "192.0.2.1:8080".into(),
            conn_state: "SF",
            history: "ShADadFf".into(),
            closed_by: Some(("client", "fin", 12)),
            syn_count: 1,
            syn_ack_count: 1,
            completed: true,
            hs_frames: (Some(1), Some(2), Some(3)),
            packets: (8, 6),
            payload: (3 * 76, 3 * 507),
            seq_bytes: (3 * 76, 3 * 507),
            first_frame: 1,
            last_frame: 14,
            fin_frames: vec![12, 13],
            rst_frames: vec![],
        },
        Want {
            client: "192.0.2.10:40002".into(),
            server: "192.0.2.1:8080".into(),
            conn_state: "SF",
            history: "ShADadfF".into(),
            closed_by: Some(("server", "fin", 22)),
            syn_count: 1,
            syn_ack_count: 1,
            completed: true,
            hs_frames: (Some(15), Some(16), Some(17)),
            packets: (5, 5),
            payload: (78, 507),
            seq_bytes: (78, 507),
            first_frame: 15,
            last_frame: 24,
            fin_frames: vec![22, 23],
            rst_frames: vec![],
        },
    ]
}

#[test]
fn http_clean() {
    let (doc, _) = check_fixture("http_clean.pcap", &http_clean_wants());
    check_frame_count("http_clean.pcap", &doc);
    // Keep-alive connection: request/response runs are collapsed but each FIN stands alone.
    let f = find_flow(&doc, "192.0.2.10:40001", "192.0.2.1:8080");
    assert!(
        timeline(f).len() < 14,
        "collapsed timeline should be shorter than 14 segments"
    );
    assert_eq!(doc["summary"]["inputs"][0]["link_type"], "EN10MB");
}

#[test]
fn refused() {
    let wants: Vec<Want> = [(40001u16, 81u16, 1u64), (40002, 8080, 3)]
        .iter()
        .map(|&(cport, sport, f)| Want {
            client: format!("192.0.2.10:{cport}"),
            server: format!("192.0.2.1:{sport}"),
            conn_state: "REJ",
            history: "Sr".into(),
            closed_by: Some(("server", "rst", f + 1)),
            syn_count: 1,
            syn_ack_count: 0,
            completed: false,
            hs_frames: (Some(f), None, None),
            packets: (1, 1),
            payload: (0, 0),
            seq_bytes: (0, 0),
            first_frame: f,
            last_frame: f + 1,
            fin_frames: vec![],
            rst_frames: vec![f + 1],
        })
        .collect();
    let (doc, _) = check_fixture("refused.pcap", &wants);
    check_frame_count("refused.pcap", &doc);
}

#[test]
fn abortive_close() {
    let mk = |cport: u16,
              state: &'static str,
              hist: &str,
              side: &'static str,
              f: u64,
              last: u64,
              packets: (u64, u64),
              payload: (u64, u64)| Want {
        client: format!("192.0.2.10:{cport}"),
        server: "192.0.2.1:7000".into(),
        conn_state: state,
        history: hist.into(),
        closed_by: Some((side, "rst", last)),
        syn_count: 1,
        syn_ack_count: 1,
        completed: true,
        hs_frames: (Some(f), Some(f + 1), Some(f + 2)),
        packets,
        payload,
        seq_bytes: payload,
        first_frame: f,
        last_frame: last,
        fin_frames: vec![],
        rst_frames: vec![last],
    };
    let wants = vec![
        // client aborts after reading "pong 1": RST,ACK from the originator
        mk(40001, "RSTO", "ShADadR", "client", 1, 8, (5, 3), (7, 7)),
        // server aborts after reading "bye": RST,ACK from the responder
        mk(40002, "RSTR", "ShADadr", "server", 9, 17, (5, 4), (11, 7)),
    ];
    let (doc, _) = check_fixture("abortive_close.pcap", &wants);
    check_frame_count("abortive_close.pcap", &doc);
}

fn cooked_wants() -> Vec<Want> {
    vec![
        pingpong("192.0.2.10:40001", "192.0.2.1:7000", 1),
        // the client's own loopback (ARPHRD_LOOPBACK in the cooked header)
        pingpong("127.0.0.1:40002", "127.0.0.1:7001", 11),
    ]
}

/// A Linux cooked capture of `cooked_wants`: its link type, and the MACs its
/// ARPHRD_ETHER frames carry (loopback frames carry none).
fn check_cooked(name: &str, link_type: &str) {
    let (doc, _) = check_fixture(name, &cooked_wants());
    check_frame_count(name, &doc);
    assert_eq!(doc["summary"]["inputs"][0]["link_type"], link_type);
    let eth = find_flow(&doc, "192.0.2.10:40001", "192.0.2.1:7000");
    assert_eq!(eth["client_stats"]["mac"], "02:00:00:00:00:10");
    assert_eq!(eth["server_stats"]["mac"], "02:00:00:00:00:01");
}

#[test]
fn cooked_any_v1() {
    check_cooked("cooked_any_v1.pcap", "LINUX_SLL");
}

#[test]
fn cooked_any_v2() {
    check_cooked("cooked_any_v2.pcap", "LINUX_SLL2");
}

fn ipv6_wants() -> Vec<Want> {
    (1..=3u64)
        .map(|n| {
            pingpong(
                &format!("[2001:db8::10]:{}", 40000 + n),
                "[2001:db8::1]:7000",
                1 + (n - 1) * 10,
            )
        })
        .collect()
}

#[test]
fn ipv6_with_extension_headers() {
    // 2: Destination Options before TCP, 3: Hop-by-Hop + Destination Options.
    let (doc, _) = check_fixture("ipv6.pcap", &ipv6_wants());
    check_frame_count("ipv6.pcap", &doc);
    for f in flows(&doc) {
        assert!(
            f["client_stats"]["last_ip_id"].is_null(),
            "IPv6 has no IP ID"
        );
    }
}

#[test]
fn vlan_8021q() {
    let wants = [pingpong("198.51.100.10:40001", "198.51.100.1:7000", 1)];
    let (doc, _) = check_fixture("vlan.pcap", &wants);
    check_frame_count("vlan.pcap", &doc);
}

#[test]
fn vlan_qinq() {
    let wants = [pingpong("203.0.113.10:40002", "203.0.113.1:7000", 1)];
    let (doc, _) = check_fixture("qinq.pcap", &wants);
    check_frame_count("qinq.pcap", &doc);
}

#[test]
fn raw_ip_v4_and_v6() {
    let wants = [
        pingpong("198.51.100.10:40001", "198.51.100.1:7000", 1),
        pingpong("[2001:db8:1::10]:40002", "[2001:db8:1::1]:7000", 11),
    ];
    let (doc, _) = check_fixture("raw_ip.pcap", &wants);
    check_frame_count("raw_ip.pcap", &doc);
    assert_eq!(doc["summary"]["inputs"][0]["link_type"], "RAW");
    for f in flows(&doc) {
        assert!(f["client_stats"]["mac"].is_null(), "raw IP has no MAC");
    }
}

#[test]
fn null_loopback_v4() {
    // Derived from http_clean.pcap (Ethernet header -> AF_INET, little-endian).
    let (doc, _) = check_fixture("null_loopback.pcap", &http_clean_wants());
    check_frame_count("null_loopback.pcap", &doc);
    assert_eq!(doc["summary"]["inputs"][0]["link_type"], "NULL");
}

#[test]
fn null_loopback_v6() {
    // Derived from ipv6.pcap (AF_INET6 = 30, macOS).
    let (doc, _) = check_fixture("null_loopback_v6.pcap", &ipv6_wants());
    check_frame_count("null_loopback_v6.pcap", &doc);
}

#[test]
fn pcapng_file() {
    let wants = [pingpong("192.0.2.10:40001", "192.0.2.1:7000", 1)];
    let (doc, _) = check_fixture("pcapng.pcapng", &wants);
    // Every frame is one of the ping/pong segments (check_frame_count reads only
    // classic pcap).
    let segments = wants[0].packets.0 + wants[0].packets.1;
    assert_eq!(num(&doc, "/summary/packets/frames"), segments);
    assert_eq!(doc["summary"]["inputs"][0]["link_type"], "EN10MB");
}

// ---------------------------------------------------------------------------------
// Bulk fixtures: ACK pattern and frame count vary between regenerations, so the
// per-run facts come from the reference decoder; the totals are fixed by the script.

struct Bulk {
    want: Want,
    truncated: u64,
    cut_frames: u64,
    snaplen: u32,
}

fn bulk_want(name: &str, client: &str, server: &str, payload: (u64, u64)) -> Bulk {
    let p = Pcap::read(&fixture(name));
    let facts = pcap::tuple_facts(&p);
    assert_eq!(facts.len(), 1, "{name}: one 4-tuple");
    let t = &facts[0];
    assert_eq!((t.client.as_str(), t.server.as_str()), (client, server));
    assert_eq!(
        (t.payload[0], t.payload[1]),
        payload,
        "{name}: the fixture script's byte counts (reference decoder)"
    );
    let segs: Vec<pcap::RefSeg> = p.tcp_frames().into_iter().flatten().collect();
    let fin_frames: Vec<u64> = p
        .tcp_frames()
        .iter()
        .enumerate()
        .filter(|(_, s)| s.as_ref().is_some_and(|s| s.fin()))
        .map(|(i, _)| i as u64 + 1)
        .collect();
    assert!(segs.iter().all(|s| !s.rst()), "{name}: no RST expected");
    let (fin_side, fin_frame) = t.first_fin.expect("a FIN");
    let hs_ack = p
        .tcp_frames()
        .iter()
        .enumerate()
        .find(|(_, s)| {
            s.as_ref()
                .is_some_and(|s| s.src == client && !s.syn() && s.ack_flag())
        })
        .map(|(i, _)| i as u64 + 1);
    let cut_frames = p
        .records
        .iter()
        .filter(|r| (r.data.len() as u32) < r.orig_len)
        .count() as u64;
    Bulk {
        want: Want {
            client: client.into(),
            server: server.into(),
            conn_state: "SF",
            history: pcap::clean_trace_history(&p, client, server),
            closed_by: Some((["client", "server"][fin_side], "fin", fin_frame)),
            syn_count: 1,
            syn_ack_count: 1,
            completed: true,
            hs_frames: (Some(1), Some(2), hs_ack),
            packets: (t.packets[0], t.packets[1]),
            payload,
            seq_bytes: payload,
            first_frame: 1,
            last_frame: *t.frames.last().unwrap(),
            fin_frames,
            rst_frames: vec![],
        },
        truncated: t.truncated,
        cut_frames,
        snaplen: p.snaplen,
    }
}

#[test]
fn snaplen_counts_bytes_from_ip_lengths() {
    // 200,000-byte download captured with -s 80: every data segment is cut, but the
    // byte counts come from the IP total length.
    let b = bulk_want(
        "snaplen.pcap",
        "192.0.2.10:40001",
        "192.0.2.1:7000",
        (11, 200_000),
    );
    assert_eq!(b.snaplen, 80);
    assert_eq!(
        b.want.closed_by.unwrap().0,
        "server",
        "the server closes first"
    );
    assert!(
        b.truncated >= 200_000 / 1448,
        "reference: most segments are cut"
    );
    let (doc, _) = check_fixture("snaplen.pcap", &[b.want.clone()]);
    check_frame_count("snaplen.pcap", &doc);
    let s = &doc["summary"];
    assert_eq!(
        num(s, "/packets/truncated_segments"),
        b.truncated,
        "summary.packets.truncated_segments"
    );
    assert_eq!(num(s, "/inputs/0/snaplen"), 80);
    assert_eq!(
        num(s, "/inputs/0/cut_frames"),
        b.cut_frames,
        "inputs[0].cut_frames"
    );
    let f = &flows(&doc)[0];
    assert_eq!(
        num(f, "/client_stats/analysis/truncated") + num(f, "/server_stats/analysis/truncated"),
        b.truncated,
        "per-side truncated counts"
    );
    // The veth's MTU 1500 less IPv4 (20), TCP (20) and timestamps (12).
    assert_eq!(num(f, "/server_stats/max_payload"), 1448);
}

#[test]
fn clean_bulk_collapses_runs() {
    // 1 MiB upload: the default timeline collapses the data/ACK runs, --timeline
    // full lists every segment.
    let b = bulk_want(
        "clean_bulk.pcap",
        "192.0.2.10:40001",
        "192.0.2.1:7000",
        (1_048_576, 11),
    );
    assert_eq!(
        b.want.closed_by.unwrap().0,
        "client",
        "the client closes first"
    );
    let (doc, full) = check_fixture("clean_bulk.pcap", &[b.want.clone()]);
    check_frame_count("clean_bulk.pcap", &doc);
    let f = &flows(&doc)[0];
    let n = timeline(f).len();
    assert!(n < 40, "default timeline should stay short, has {n} events");
    let runs = timeline(f)
        .iter()
        .filter(|e| e.get("run").is_some_and(|r| !r.is_null()))
        .count();
    assert!(runs >= 1, "at least one collapsed run");
    // The collapsed runs carry the bytes: sum of run bytes + single segments' lengths.
    let mut bytes = [0u64; 2];
    for e in timeline(f) {
        if let Some(run) = e.get("run").filter(|r| !r.is_null()) {
            bytes[0] += num(run, "/client_bytes");
            bytes[1] += num(run, "/server_bytes");
        } else {
            let side = usize::from(text(e, "/dir") == "s>c");
            bytes[side] += num(e, "/len");
        }
    }
    assert_eq!(bytes, [1_048_576, 11], "timeline byte accounting");
    let ff = &flows(&full)[0];
    let frames: Vec<u64> = timeline(ff).iter().map(|e| num(e, "/frame")).collect();
    let total = b.want.packets.0 + b.want.packets.1;
    assert_eq!(
        frames,
        (1..=total).collect::<Vec<_>>(),
        "full timeline: every frame in order"
    );
    assert_eq!(
        num(&doc, "/summary/packets/truncated_segments"),
        b.truncated,
        "snaplen 96 cuts the data segments"
    );
}

// ---------------------------------------------------------------------------------
// Link layers decode to the same flows as Ethernet

/// A flow without the interfaces its packets were seen on (only cooked v2 names
/// them: `paths`).
fn without_paths(flow: &Value) -> Value {
    let mut f = flow.clone();
    if let Some(o) = f.as_object_mut() {
        o.remove("paths");
    }
    f
}

/// A flow without link-layer facts (MACs, `paths`), for comparing across link types.
fn strip_l2(flow: &Value) -> Value {
    let mut f = without_paths(flow);
    for side in ["client_stats", "server_stats"] {
        if let Some(o) = f[side].as_object_mut() {
            o.remove("mac");
            o.remove("mac_mismatches");
        }
    }
    f
}

fn flows_of_file(path: &std::path::Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec![
        "replay".to_string(),
        path.to_string_lossy().into_owned(),
        "--format".into(),
        "json".into(),
        "--timeline".into(),
        "full".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let r = run(args);
    r.assert_code(0);
    r.json()["flows"].as_array().cloned().expect("flows")
}

/// Writes `p` to a temp file and compares its flows with `reference` (L2 stripped
/// when `keep_mac` is false).
fn assert_same_flows(what: &str, p: &Pcap, reference: &[Value], keep_mac: bool) {
    let dir = tempdir();
    let path = dir.path().join("converted.pcap");
    p.write(&path);
    let got = flows_of_file(&path, &[]);
    assert_eq!(got.len(), reference.len(), "{what}: number of flows");
    for (g, r) in got.iter().zip(reference) {
        let (g2, r2) = if keep_mac {
            // MACs compared; the interfaces only cooked v2 names are not.
            (without_paths(g), without_paths(r))
        } else {
            (strip_l2(g), strip_l2(r))
        };
        assert!(
            g2 == r2,
            "{what}: flow {} -> {} differs from the reference\n got: {}\nwant: {}",
            g["client"],
            g["server"],
            short(&g2),
            short(&r2)
        );
    }
}

#[test]
fn cooked_vlan_raw_null_fixtures_match_their_ethernet_equivalent() {
    // Each fixture converted to plain Ethernet (same timestamps and IP packets) must
    // give exactly the same flows, MACs aside where the original had none.
    for (name, keep_mac) in [
        ("cooked_any_v1.pcap", false),
        ("cooked_any_v2.pcap", false),
        ("vlan.pcap", true),
        ("qinq.pcap", true),
        ("raw_ip.pcap", false),
        ("null_loopback.pcap", false),
        ("null_loopback_v6.pcap", false),
    ] {
        let orig = flows_of_file(&fixture(name), &[]);
        let eth = pcap::to_ethernet(&Pcap::read(&fixture(name)));
        assert_same_flows(&format!("{name} as Ethernet"), &eth, &orig, keep_mac);
    }
}

#[test]
fn synthesized_link_types_match_ethernet_originals() {
    // The Ethernet fixtures re-encapsulated at test time: cooked v1/v2, raw IP,
    // BSD null (both byte orders, every AF_INET6 value), 802.1Q, QinQ.
    for name in ["http_clean.pcap", "ipv6.pcap", "abortive_close.pcap"] {
        let p = Pcap::read(&fixture(name));
        let reference = flows_of_file(&fixture(name), &[]);
        assert_same_flows(
            &format!("{name} as LINUX_SLL"),
            &pcap::to_sll(&p),
            &reference,
            true,
        );
        assert_same_flows(
            &format!("{name} as LINUX_SLL2"),
            &pcap::to_sll2(&p),
            &reference,
            true,
        );
        assert_same_flows(
            &format!("{name} as RAW"),
            &pcap::to_raw(&p),
            &reference,
            false,
        );
        assert_same_flows(
            &format!("{name} with 802.1Q"),
            &pcap::to_vlan(&p, &[(0x8100, 100)]),
            &reference,
            true,
        );
        assert_same_flows(
            &format!("{name} with QinQ"),
            &pcap::to_vlan(&p, &[(0x88a8, 200), (0x8100, 300)]),
            &reference,
            true,
        );
        // Big-endian files (written on a big-endian host) and nanosecond pcap.
        let mut be = p.clone();
        be.big_endian = true;
        assert_same_flows(&format!("{name} big-endian"), &be, &reference, true);
        if !p.nanos {
            let mut ns = p.clone();
            ns.nanos = true;
            for r in &mut ns.records {
                r.ts_frac *= 1000;
            }
            assert_same_flows(&format!("{name} nanosecond pcap"), &ns, &reference, true);
        }
        for af6 in [10u32, 24, 28, 30] {
            for be in [false, true] {
                assert_same_flows(
                    &format!("{name} as NULL (AF_INET6 {af6}, big-endian {be})"),
                    &pcap::to_null(&p, af6, be),
                    &reference,
                    false,
                );
            }
        }
    }
}

/// Connection "shape": everything but addresses, times and link facts.
fn shape(flow: &Value) -> Value {
    let first = num(flow, "/first_frame");
    let tl: Vec<Value> = timeline(flow)
        .iter()
        .map(|e| {
            serde_json::json!([
                num(e, "/frame") - first,
                e["dir"],
                e["label"],
                e["flags"],
                e["seq"],
                e["ack"],
                e["len"]
            ])
        })
        .collect();
    serde_json::json!({
        "conn_state": flow["conn_state"],
        "history": flow["history"],
        "closed_by": [flow["closed_by"]["side"], flow["closed_by"]["how"],
                      flow["closed_by"]["frame"].as_u64().map(|f| f - first)],
        "syn": [flow["handshake"]["syn_count"], flow["handshake"]["syn_ack_count"],
                flow["handshake"]["completed"]],
        "packets": [flow["client_stats"]["packets"], flow["server_stats"]["packets"]],
        "payload": [flow["client_stats"]["payload_bytes"], flow["server_stats"]["payload_bytes"]],
        "seq_bytes": [flow["client_stats"]["seq_bytes"], flow["server_stats"]["seq_bytes"]],
        "timeline": tl,
    })
}

#[test]
fn ping_pong_shape_is_the_same_on_every_link_type() {
    // ipv6.pcap connection 1 (Ethernet) is the reference for the same exchange
    // captured on cooked v1/v2 (veth and loopback), 802.1Q, QinQ, raw IP and pcapng.
    let reference = {
        let full = replay_full("ipv6.pcap");
        shape(find_flow(
            &full,
            "[2001:db8::10]:40001",
            "[2001:db8::1]:7000",
        ))
    };
    let cases: &[(&str, &str, &str)] = &[
        ("cooked_any_v1.pcap", "192.0.2.10:40001", "192.0.2.1:7000"),
        ("cooked_any_v1.pcap", "127.0.0.1:40002", "127.0.0.1:7001"),
        ("cooked_any_v2.pcap", "192.0.2.10:40001", "192.0.2.1:7000"),
        ("cooked_any_v2.pcap", "127.0.0.1:40002", "127.0.0.1:7001"),
        ("vlan.pcap", "198.51.100.10:40001", "198.51.100.1:7000"),
        ("qinq.pcap", "203.0.113.10:40002", "203.0.113.1:7000"),
        ("raw_ip.pcap", "198.51.100.10:40001", "198.51.100.1:7000"),
        (
            "raw_ip.pcap",
            "[2001:db8:1::10]:40002",
            "[2001:db8:1::1]:7000",
        ),
        ("pcapng.pcapng", "192.0.2.10:40001", "192.0.2.1:7000"),
    ];
    for &(name, c, s) in cases {
        let full = replay_full(name);
        let got = shape(find_flow(&full, c, s));
        assert!(
            got == reference,
            "{name} {c} -> {s}: shape differs from the Ethernet reference\n got: {got}\nwant: {reference}"
        );
    }
}

#[test]
fn output_formats_agree() {
    // NDJSON carries the same flow objects as the JSON document; the table renders.
    for name in ["http_clean.pcap", "abortive_close.pcap", "ipv6.pcap"] {
        let doc = replay_json(name, &[]);
        let r = run(["replay", &fixture_arg(name), "--format", "ndjson"]);
        r.assert_code(0);
        let lines = r.ndjson();
        let nd_flows: Vec<Value> = lines
            .iter()
            .filter(|l| l["type"] == "flow")
            .map(|l| {
                let mut l = l.clone();
                l.as_object_mut().unwrap().remove("type");
                l
            })
            .collect();
        assert_eq!(&nd_flows, flows(&doc), "{name}: NDJSON flows == JSON flows");
        let last = lines.last().expect("summary line");
        assert_eq!(
            last["type"], "summary",
            "{name}: NDJSON ends with the summary"
        );
        assert_eq!(last["complete"], true);
        let t = run(["replay", &fixture_arg(name), "--format", "table"]);
        t.assert_code(0);
        assert!(!t.stdout.is_empty(), "{name}: table output is empty");
        let t = run([
            "replay",
            &fixture_arg(name),
            "--format",
            "table",
            "--timeline",
        ]);
        t.assert_code(0);
    }
}

#[test]
fn every_fixture_report_is_consistent() {
    // Invariants on every capture in fixtures/: the summary agrees with the flows,
    // each flow's timeline accounts for its packets, and each 4-tuple's packets add
    // up to the reference decoder's count for classic pcaps.
    let mut problems = Vec::new();
    for name in all_fixtures() {
        let r = replay(&name, &[]);
        r.assert_sane();
        if r.code() != 0 {
            problems.push(format!("{name}: exit {}: {}", r.code(), r.stderr.trim()));
            continue;
        }
        let doc = r.json();
        let fl = flows(&doc);
        let s = &doc["summary"];
        if num(s, "/flows/flows") != fl.len() as u64 {
            problems.push(format!(
                "{name}: summary.flows.flows {} but {} flows listed",
                num(s, "/flows/flows"),
                fl.len()
            ));
        }
        let states: u64 = s["conn_states"]
            .as_object()
            .map(|o| o.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        if states != fl.len() as u64 {
            problems.push(format!(
                "{name}: conn_states add up to {states}, {} flows",
                fl.len()
            ));
        }
        let pkts: u64 = fl.iter().map(flow_packets).sum();
        if pkts != num(s, "/packets/tcp_segments") {
            problems.push(format!(
                "{name}: flows hold {pkts} packets, tcp_segments {}",
                num(s, "/packets/tcp_segments")
            ));
        }
        for f in fl {
            if num(f, "/timeline_dropped") == 0 {
                if let Err(e) = std::panic::catch_unwind(|| check_timeline_accounting(f)) {
                    let msg = e
                        .downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| "timeline accounting".into());
                    problems.push(format!("{name}: {}", msg.lines().next().unwrap_or("")));
                }
            }
            if num(f, "/first_frame") > num(f, "/last_frame") {
                problems.push(format!(
                    "{name}: first_frame after last_frame: {}",
                    short(f)
                ));
            }
        }
        // Every classic pcap fixture is compared (a .pcap the reference reader cannot
        // read fails here rather than skipping the comparison); pcapng is not parsed.
        if name.ends_with(".pcap") {
            let p = Pcap::read(&fixture(&name));
            let mut per_tuple = std::collections::BTreeMap::<(String, String), u64>::new();
            for seg in p.tcp_frames().into_iter().flatten() {
                *per_tuple.entry(seg.key()).or_default() += 1;
            }
            let mut ours = std::collections::BTreeMap::<(String, String), u64>::new();
            for f in fl {
                let (a, b) = (
                    text(f, "/client").to_string(),
                    text(f, "/server").to_string(),
                );
                let k = if a < b { (a, b) } else { (b, a) };
                // A cooked v2 capture shows a packet once per interface it crossed: the
                // reference counts every copy, the flow each packet once, with the
                // interfaces it was seen on.
                let frames = match f["paths"].as_array() {
                    Some(paths) => paths
                        .iter()
                        .map(|p| num(p, "/packets") * p["ifindex"].as_array().unwrap().len() as u64)
                        .sum(),
                    None => flow_packets(f),
                };
                *ours.entry(k).or_default() += frames;
            }
            if per_tuple != ours {
                problems.push(format!(
                    "{name}: packets per 4-tuple differ from the reference decoder:\n  ref  {per_tuple:?}\n  ours {ours:?}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
