//! Cross-checks against Wireshark's dissector (tshark), when it is installed:
//! conversations and packet totals per 4-tuple, and tshark's per-frame analysis
//! flags (retransmission, duplicate_ack, zero_window, window_update, keep_alive)
//! against the labels of our `--timeline full` events.
//!
//! Conversations: tshark counts one row per TCP stream; we split a reused 4-tuple
//! into one flow per connection (Zeek's rule), so we compare per unordered 4-tuple:
//! the same set of tuples, packet totals equal, and at least as many flows as rows.
//!
//! Known deliberate difference: a Linux zero-window probe is a 0/1-byte segment at
//! snd_una - 1, which Wireshark calls keep-alive; we call it "zero window probe"
//! when the peer's last advertised window was 0.
//!
//! Two kinds of capture are compared through a view, because tshark takes the file
//! as one stream of frames (see `views`): a cooked v2 capture (`-i any`) that shows a
//! packet once per interface is compared with tshark's reading of the file without
//! the copies (found here from tshark's own fields, independently of our decoder),
//! and a capture with several VXLAN VNIs is compared one VNI at a time (tshark keys
//! TCP streams by 4-tuple only, so two tenants with the same inner 4-tuple become
//! one stream there).
#![allow(clippy::double_ended_iterator_last)]

mod common;

mod live_env;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::OnceLock;

use common::*;
use serde_json::Value;

/// tshark on PATH; otherwise the comparisons skip, except in CI (see `live_env`).
fn tshark_available() -> bool {
    live_env::tools(&["tshark"])
}

/// Fields per frame, then the conv,tcp table, from one tshark run.
const FIELDS: &[&str] = &[
    "frame.number",
    "tcp.stream",
    "tcp.seq",
    "tcp.ack",
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission",
    "tcp.analysis.duplicate_ack",
    "tcp.analysis.zero_window",
    "tcp.analysis.window_update",
    "tcp.analysis.keep_alive",
    "tcp.analysis.zero_window_probe",
];

/// Fields per frame that choose a view (not compared): the interface (cooked v2),
/// the VNI, the time, and the headers that tell two copies of a packet from two
/// packets (everything but the TTL and the checksums).
const VIEW_FIELDS: &[&str] = &[
    "sll.ifindex",
    "vxlan.vni",
    "frame.time_epoch",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "ip.id",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.flags",
    "tcp.len",
    "tcp.window_size_value",
    "tcp.options",
];

#[derive(Debug, Default)]
struct TsharkFrame {
    stream: Option<u64>,
    /// Relative sequence and acknowledgement numbers (ack only when the flag is set).
    seq: Option<u64>,
    ack: Option<u64>,
    /// Names of the set analysis fields (without the "tcp.analysis." prefix).
    flags: BTreeSet<String>,
    /// Cooked v2 interface index.
    ifindex: Option<u32>,
    /// VXLAN VNI (the outermost, when nested).
    vni: Option<u32>,
    time: f64,
    /// The headers a copy on another interface shares with its packet.
    copy_key: String,
}

#[derive(Debug)]
struct Conv {
    a: String,
    b: String,
    frames: u64,
}

struct Tshark {
    frames: BTreeMap<u64, TsharkFrame>,
    convs: Vec<Conv>,
}

fn run_tshark(path: &str) -> Tshark {
    let mut cmd = Command::new("tshark");
    // VXLAN on Linux's old default port too (tshark knows 4789 only).
    cmd.args(["-n", "-d", "udp.port==8472,vxlan", "-r", path]);
    cmd.args(["-T", "fields", "-E", "separator=/t"]);
    for f in FIELDS.iter().chain(VIEW_FIELDS) {
        cmd.args(["-e", f]);
    }
    cmd.args(["-z", "conv,tcp"]);
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed on {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut frames = BTreeMap::new();
    let mut convs = Vec::new();
    let mut in_stats = false;
    for line in text.lines() {
        if line.starts_with("====") {
            in_stats = true;
            continue;
        }
        if in_stats {
            if let Some(c) = parse_conv_line(line) {
                convs.push(c);
            }
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let Ok(n) = cols[0].trim().parse::<u64>() else {
            continue;
        };
        let mut fr = TsharkFrame {
            stream: cols.get(1).and_then(|s| s.trim().parse().ok()),
            seq: cols.get(2).and_then(|s| s.trim().parse().ok()),
            ack: cols.get(3).and_then(|s| s.trim().parse().ok()),
            ..Default::default()
        };
        for (i, name) in FIELDS.iter().enumerate().skip(4) {
            if cols.get(i).is_some_and(|v| !v.trim().is_empty()) {
                fr.flags
                    .insert(name.trim_start_matches("tcp.analysis.").to_string());
            }
        }
        let view = |name: &str| {
            let i = FIELDS.len() + VIEW_FIELDS.iter().position(|f| *f == name).unwrap();
            cols.get(i).map_or("", |v| v.trim())
        };
        fr.ifindex = view("sll.ifindex").parse().ok();
        fr.vni = view("vxlan.vni")
            .split(',')
            .next()
            .and_then(|v| v.parse().ok());
        fr.time = view("frame.time_epoch").parse().unwrap_or(0.0);
        fr.copy_key = VIEW_FIELDS[3..]
            .iter()
            .map(|f| view(f))
            .collect::<Vec<_>>()
            .join("|");
        frames.insert(n, fr);
    }
    Tshark { frames, convs }
}

/// `192.0.2.10:40001  <-> 192.0.2.1:8080   6 1925 bytes  8 764 bytes  14 2689 bytes ...`
fn parse_conv_line(line: &str) -> Option<Conv> {
    let (a, rest) = line.split_once("<->")?;
    let mut toks = rest.split_whitespace();
    let b = toks.next()?.to_string();
    // frames B->A, bytes, unit, frames A->B, bytes, unit, total frames, ...
    let nums: Vec<&str> = toks.collect();
    let total: u64 = nums.get(6)?.replace(',', "").parse().ok()?;
    Some(Conv {
        a: a.trim().to_string(),
        b,
        frames: total,
    })
}

/// "[2001:db8::1]:7000" -> "2001:db8::1:7000" (tshark's notation).
fn tshark_endpoint(ours: &str) -> String {
    ours.replace(['[', ']'], "")
}

fn tuple(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

/// Our label(s) that match a tshark analysis field.
fn matches(field: &str, labels: &[String]) -> bool {
    let has = |l: &str| labels.iter().any(|x| x == l);
    match field {
        // Wireshark also sets .retransmission on fast and spurious retransmissions.
        "retransmission" => {
            has("retransmission") || has("fast retransmission") || has("spurious retransmission")
        }
        "fast_retransmission" => has("fast retransmission"),
        "spurious_retransmission" => has("spurious retransmission"),
        "duplicate_ack" => has("dup ACK"),
        "zero_window" => has("zero window"),
        "window_update" => has("window update"),
        "keep_alive" => has("keep-alive"),
        "zero_window_probe" => has("zero window probe"),
        _ => true,
    }
}

/// The fields this test compares frame by frame.
const COMPARED: &[&str] = &[
    "retransmission",
    "duplicate_ack",
    "zero_window",
    "window_update",
    "keep_alive",
];

struct Ours {
    flows: Vec<Value>,
    /// frame -> (flow index, event)
    events: BTreeMap<u64, (usize, Value)>,
}

fn ours(name: &str) -> Ours {
    ours_at(&fixture_arg(name), name)
}

/// Our full-timeline view of the capture at `path` (`name` for messages).
fn ours_at(path: &str, name: &str) -> Ours {
    let r = run(["replay", path, "--format", "json", "--timeline", "full"]);
    r.assert_sane();
    assert_eq!(r.code(), 0, "{name}: replay failed\n{}", r.describe());
    let doc = r.json();
    let flows = flows(&doc).clone();
    let mut events = BTreeMap::new();
    for (i, f) in flows.iter().enumerate() {
        assert_eq!(
            num(f, "/timeline_dropped"),
            0,
            "{name}: full timeline dropped events"
        );
        for e in timeline(f) {
            let prev = events.insert(num(e, "/frame"), (i, e.clone()));
            assert!(
                prev.is_none(),
                "{name}: frame {} in two flows",
                num(e, "/frame")
            );
        }
    }
    Ours { flows, events }
}

/// The window the peer last advertised before `frame` in flow `idx` (full timeline).
fn peer_window_before(o: &Ours, idx: usize, frame: u64, dir: &str) -> Option<u64> {
    let peer = if dir == "c>s" { "s>c" } else { "c>s" };
    timeline(&o.flows[idx])
        .iter()
        .filter(|e| {
            num(e, "/frame") < frame && e["dir"] == peer && !text(e, "/flags").contains('R')
        })
        .last()
        .and_then(|e| e["win"].as_u64())
}

/// tshark's and our view of every fixture (one or more views each, see `views`),
/// computed once for both tests (a few tshark processes at a time).
fn all_results() -> &'static Vec<(String, Tshark, Ours)> {
    static CACHE: OnceLock<Vec<(String, Tshark, Ours)>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let names = all_fixtures();
        assert!(!names.is_empty(), "no fixtures found");
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|k| {
                    let chunk: Vec<String> = names.iter().skip(k).step_by(4).cloned().collect();
                    s.spawn(move || {
                        chunk
                            .into_iter()
                            .flat_map(|n| {
                                let path = fixture_arg(&n);
                                views(&n, &path, run_tshark(&path), ours(&n))
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut all: Vec<(String, Tshark, Ours)> = handles
                .into_iter()
                .flat_map(|h| h.join().expect("worker panicked"))
                .collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            all
        })
    })
}

/// Frames of a cooked v2 capture that are copies of a packet already seen on another
/// interface: same headers but the TTL and the checksums, less than 50 ms later, on
/// an interface that packet was not seen on yet. Built from tshark's fields alone.
fn interface_copies(ts: &Tshark) -> BTreeSet<u64> {
    let mut seen: BTreeMap<&str, (f64, Vec<u32>)> = BTreeMap::new();
    let mut copies = BTreeSet::new();
    for (n, fr) in &ts.frames {
        let Some(ifindex) = fr.ifindex else {
            continue;
        };
        if fr.copy_key.replace('|', "").is_empty() {
            continue;
        }
        match seen.get_mut(fr.copy_key.as_str()) {
            Some((first, ifs)) if fr.time - *first < 0.05 && !ifs.contains(&ifindex) => {
                ifs.push(ifindex);
                copies.insert(*n);
            }
            _ => {
                seen.insert(&fr.copy_key, (fr.time, vec![ifindex]));
            }
        }
    }
    copies
}

/// How a fixture is compared: the whole file; without its interface copies (cooked
/// v2 captures that have some); or one VXLAN VNI at a time (files with several).
/// A partial view is tshark's reading of a file holding only those frames (so its
/// TCP analysis sees nothing else), numbered back to the original frames, against
/// our flows of the whole file that have packets in it, which must have no packet
/// outside it.
fn views(name: &str, path: &str, ts: Tshark, o: Ours) -> Vec<(String, Tshark, Ours)> {
    let copies = interface_copies(&ts);
    let vnis: BTreeSet<u32> = ts.frames.values().filter_map(|f| f.vni).collect();
    let mut subsets: Vec<(String, Vec<u64>)> = Vec::new();
    if !copies.is_empty() {
        let keep = ts.frames.keys().filter(|n| !copies.contains(n)).copied();
        subsets.push((format!("{name} without interface copies"), keep.collect()));
    }
    if vnis.len() > 1 {
        for v in &vnis {
            let keep = ts.frames.iter().filter(|(_, f)| f.vni == Some(*v));
            subsets.push((format!("{name} VNI {v}"), keep.map(|(n, _)| *n).collect()));
        }
    }
    if subsets.is_empty() {
        return vec![(name.to_string(), ts, o)];
    }
    subsets
        .into_iter()
        .map(|(label, keep)| {
            let sub = tshark_of_frames(path, &keep);
            let view = ours_within(&label, &o, &keep);
            (label, sub, view)
        })
        .collect()
}

/// tshark's reading of the frames `keep` (1-based numbers, ascending) of `path`
/// written to a file of their own, numbered back to the original frames.
fn tshark_of_frames(path: &str, keep: &[u64]) -> Tshark {
    let mut pcap = common::pcap::Pcap::read(std::path::Path::new(path));
    let records = std::mem::take(&mut pcap.records);
    pcap.records = records
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.binary_search(&(*i as u64 + 1)).is_ok())
        .map(|(_, r)| r)
        .collect();
    assert_eq!(pcap.records.len(), keep.len(), "{path}: frames to keep");
    let dir = tempdir();
    let sub = dir.path().join("view.pcap");
    pcap.write(&sub);
    let mut ts = run_tshark(&sub.to_string_lossy());
    ts.frames = std::mem::take(&mut ts.frames)
        .into_iter()
        .map(|(n, f)| (keep[n as usize - 1], f))
        .collect();
    ts
}

/// Our flows with packets among `keep`; a flow that also has packets outside it
/// (a copy we counted, two tenants in one flow) fails the test here.
fn ours_within(label: &str, o: &Ours, keep: &[u64]) -> Ours {
    let keep: BTreeSet<u64> = keep.iter().copied().collect();
    let mut flows = Vec::new();
    let mut events = BTreeMap::new();
    let mut outside = Vec::new();
    for f in &o.flows {
        let frames: Vec<u64> = timeline(f).iter().map(|e| num(e, "/frame")).collect();
        if !frames.iter().any(|n| keep.contains(n)) {
            continue;
        }
        outside.extend(frames.iter().filter(|n| !keep.contains(n)).copied());
        for e in timeline(f) {
            events.insert(num(e, "/frame"), (flows.len(), e.clone()));
        }
        flows.push(f.clone());
    }
    assert!(
        outside.is_empty(),
        "{label}: our flows have packets outside the view: frames {outside:?}"
    );
    Ours { flows, events }
}

fn check_fixture(name: &str, ts: &Tshark, o: &Ours) -> Vec<String> {
    let mut problems = Vec::new();

    // 1. Conversations per unordered 4-tuple.
    let mut t_tuples: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for c in &ts.convs {
        let e = t_tuples.entry(tuple(&c.a, &c.b)).or_default();
        e.0 += 1;
        e.1 += c.frames;
    }
    let mut o_tuples: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for f in &o.flows {
        let k = tuple(
            &tshark_endpoint(text(f, "/client")),
            &tshark_endpoint(text(f, "/server")),
        );
        let e = o_tuples.entry(k).or_default();
        e.0 += 1;
        e.1 += flow_packets(f);
    }
    let tk: BTreeSet<_> = t_tuples.keys().collect();
    let ok: BTreeSet<_> = o_tuples.keys().collect();
    if tk != ok {
        problems.push(format!(
            "{name}: 4-tuples differ: tshark {tk:?}, ours {ok:?}"
        ));
    }
    for (k, (t_rows, t_frames)) in &t_tuples {
        if let Some((o_flows, o_pkts)) = o_tuples.get(k) {
            if o_pkts != t_frames {
                problems.push(format!(
                    "{name}: {k:?}: tshark {t_frames} frames, our flows {o_pkts} packets"
                ));
            }
            if o_flows < t_rows {
                problems.push(format!(
                    "{name}: {k:?}: tshark {t_rows} conversations, we have only {o_flows} flows"
                ));
            }
        }
    }
    let total_t: u64 = t_tuples.values().map(|v| v.0).sum();
    if (o.flows.len() as u64) < total_t {
        problems.push(format!(
            "{name}: tshark {total_t} conversations, ours {} flows",
            o.flows.len()
        ));
    }

    // 2. Each of our flows lies inside one tshark stream, and per stream the packet
    //    totals agree.
    let mut stream_frames: BTreeMap<u64, u64> = BTreeMap::new();
    for fr in ts.frames.values() {
        if let Some(s) = fr.stream {
            *stream_frames.entry(s).or_default() += 1;
        }
    }
    let mut per_stream_ours: BTreeMap<u64, u64> = BTreeMap::new();
    for (i, f) in o.flows.iter().enumerate() {
        let streams: BTreeSet<u64> = timeline(f)
            .iter()
            .filter_map(|e| ts.frames.get(&num(e, "/frame")).and_then(|t| t.stream))
            .collect();
        if streams.len() != 1 {
            problems.push(format!(
                "{name}: flow {} ({} -> {}) spans tshark streams {streams:?}",
                i + 1,
                f["client"],
                f["server"]
            ));
        }
        if let Some(s) = streams.iter().next() {
            *per_stream_ours.entry(*s).or_default() += flow_packets(f);
        }
    }
    if per_stream_ours != stream_frames {
        problems.push(format!(
            "{name}: packets per tshark stream: tshark {stream_frames:?}, ours {per_stream_ours:?}"
        ));
    }

    // 3. Relative sequence and acknowledgement numbers, frame by frame (Wireshark's
    //    relative numbering, midstream flows included).
    for (frame, tf) in &ts.frames {
        let Some((_, ev)) = o.events.get(frame) else {
            continue;
        };
        let ours_seq = ev["seq"].as_u64();
        let ours_ack = ev["ack"].as_u64();
        if tf.seq.is_some() && ours_seq != tf.seq {
            problems.push(format!(
                "{name}: frame {frame}: tshark seq {:?}, ours {ours_seq:?}",
                tf.seq
            ));
        }
        // tshark fills tcp.ack (as 0) without the ACK flag too; compare it with the flag.
        if text(ev, "/flags").contains('.') && ours_ack != tf.ack {
            problems.push(format!(
                "{name}: frame {frame}: tshark ack {:?}, ours {ours_ack:?}",
                tf.ack
            ));
        }
    }

    // 4. Analysis flags, frame by frame.
    for (frame, tf) in &ts.frames {
        for field in COMPARED {
            if !tf.flags.contains(*field) {
                continue;
            }
            let Some((idx, ev)) = o.events.get(frame) else {
                problems.push(format!(
                    "{name}: frame {frame}: tshark says {field}, we have no event for it"
                ));
                continue;
            };
            let labels = analysis_of(ev);
            if matches(field, &labels) {
                continue;
            }
            // Linux zero-window probe: Wireshark's keep-alive, our probe, only when the
            // peer had advertised a zero window.
            if *field == "keep_alive" && labels.iter().any(|l| l == "zero window probe") {
                let win = peer_window_before(o, *idx, *frame, text(ev, "/dir"));
                if win == Some(0) {
                    continue;
                }
                problems.push(format!(
                    "{name}: frame {frame}: labelled zero window probe but the peer's last window was {win:?}"
                ));
                continue;
            }
            problems.push(format!(
                "{name}: frame {frame}: tshark says {field}, our labels are {labels:?} ({})",
                ev["label"]
            ));
        }
    }
    problems
}

#[cfg_attr(
    tcpdiag_lacks = "tshark",
    ignore = "needs tshark (.ci/run installs it)"
)]
#[test]
fn fixtures_agree_with_tshark() {
    if !tshark_available() {
        return;
    }
    let results = all_results();
    let problems: Vec<String> = results
        .iter()
        .flat_map(|(n, ts, o)| check_fixture(n, ts, o))
        .collect();
    // The comparison must have had something to compare.
    let flagged: usize = results
        .iter()
        .map(|(_, ts, _)| {
            ts.frames
                .values()
                .filter(|f| COMPARED.iter().any(|c| f.flags.contains(*c)))
                .count()
        })
        .sum();
    eprintln!(
        "compared {} fixtures, {flagged} frames with tshark analysis flags",
        results.len()
    );
    assert!(flagged > 0, "tshark flagged no frame: nothing was compared");
    assert_none(&problems, "disagreement(s) with tshark");
}

#[cfg_attr(
    tcpdiag_lacks = "tshark",
    ignore = "needs tshark (.ci/run installs it)"
)]
#[test]
fn no_analysis_labels_where_tshark_has_none() {
    // The converse: no retransmission / dup ACK / zero window / window update /
    // keep-alive on frames tshark leaves unflagged.
    if !tshark_available() {
        return;
    }
    let mut problems = Vec::new();
    for (name, ts, o) in all_results() {
        problems.extend(unconfirmed_labels(name, ts, o));
    }
    assert_none(&problems, "label(s) tshark does not confirm");
}

/// Our labels (of the compared kinds) on frames tshark leaves unflagged.
fn unconfirmed_labels(name: &str, ts: &Tshark, o: &Ours) -> Vec<String> {
    let ours_for = [
        ("retransmission", "retransmission"),
        ("dup ACK", "duplicate_ack"),
        ("zero window", "zero_window"),
        ("window update", "window_update"),
        ("keep-alive", "keep_alive"),
    ];
    let mut problems = Vec::new();
    for (frame, (_, ev)) in &o.events {
        for label in analysis_of(ev) {
            let Some((_, field)) = ours_for.iter().find(|(l, _)| *l == label) else {
                continue;
            };
            let flagged = ts
                .frames
                .get(frame)
                .is_some_and(|t| t.flags.contains(*field));
            if !flagged {
                problems.push(format!(
                    "{name}: frame {frame}: we say {label:?}, tshark does not ({})",
                    ev["label"]
                ));
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------------
// Synthesized segments: analysis cases the clean fixtures do not contain.

use common::pcap::{handshake, Talk, I, J};

/// Both directions of the comparison on a synthesized capture, and how many of its
/// frames tshark flagged with one of the compared fields.
fn compare_talk_counted(name: &str, t: &Talk) -> (Vec<String>, usize) {
    let dir = tempdir();
    let path = dir.path().join(format!("{name}.pcap"));
    t.pcap().write(&path);
    let p = path.to_string_lossy().into_owned();
    let ts = run_tshark(&p);
    let o = ours_at(&p, name);
    let mut problems = check_fixture(name, &ts, &o);
    problems.extend(unconfirmed_labels(name, &ts, &o));
    let flagged = ts
        .frames
        .values()
        .filter(|f| COMPARED.iter().any(|c| f.flags.contains(*c)))
        .count();
    (problems, flagged)
}

fn compare_talk(name: &str, t: &Talk) -> Vec<String> {
    compare_talk_counted(name, t).0
}

#[cfg_attr(
    tcpdiag_lacks = "tshark",
    ignore = "needs tshark (.ci/run installs it)"
)]
#[test]
fn synthesized_analysis_cases_agree_with_tshark() {
    if !tshark_available() {
        return;
    }
    let mut cases: Vec<(&str, Talk)> = Vec::new();

    // Retransmission after a 1 s RTO.
    let mut t = handshake();
    t.c("PA", I + 1, J + 1, 100)
        .wait(1.0)
        .c("PA", I + 1, J + 1, 100)
        .s("A", J + 1, I + 101, 0);
    cases.push(("rto_retransmission", t));

    // Zero window, a dup ACK from the sender, then the window update.
    let mut t = handshake();
    t.c("PA", I + 1, J + 1, 10)
        .sw("A", J + 1, I + 11, 0, 0)
        .c("A", I + 11, J + 1, 0)
        .sw("A", J + 1, I + 11, 0, 100);
    cases.push(("zero_window_update", t));

    // Keep-alive (one old byte after 30 s idle) and its ACK.
    let mut t = handshake();
    t.c("PA", I + 1, J + 1, 10)
        .s("A", J + 1, I + 11, 0)
        .wait(30.0)
        .c("A", I + 10, J + 1, 0)
        .s("A", J + 1, I + 11, 0);
    cases.push(("keep_alive", t));

    // Three duplicate ACKs for a lost segment, then its fast retransmission.
    let mut t = handshake();
    t.c("PA", I + 1, J + 1, 100)
        .c("PA", I + 101, J + 1, 100)
        .c("PA", I + 201, J + 1, 100)
        .c("PA", I + 301, J + 1, 100)
        .s("A", J + 1, I + 101, 0)
        .s("A", J + 1, I + 101, 0)
        .s("A", J + 1, I + 101, 0)
        .s("A", J + 1, I + 101, 0)
        .wait(0.001)
        .c("PA", I + 101, J + 1, 100)
        .s("A", J + 1, I + 401, 0);
    cases.push(("fast_retransmission", t));

    // SYN retransmissions (1 s, 2 s), then the handshake completes.
    let mut t = Talk::new("192.0.2.10:40000", "192.0.2.1:80");
    t.c("S", I, 0, 0)
        .wait(1.0)
        .c("S", I, 0, 0)
        .wait(2.0)
        .c("S", I, 0, 0)
        .s("SA", J, I + 1, 0)
        .c("A", I + 1, J + 1, 0);
    cases.push(("syn_retransmission", t));

    let mut problems = Vec::new();
    for (name, t) in &cases {
        let (p, flagged) = compare_talk_counted(name, t);
        assert!(
            flagged > 0,
            "{name}: tshark flagged nothing; the case tests nothing"
        );
        problems.extend(p);
    }
    assert_none(&problems, "disagreement(s) with tshark");
}

#[cfg_attr(
    tcpdiag_lacks = "tshark",
    ignore = "needs tshark (.ci/run installs it)"
)]
#[test]
fn exact_duplicate_segment_is_a_retransmission() {
    // Wireshark (packet-tcp.c): a segment below nextseq that arrives within the
    // out-of-order threshold is out-of-order only if it does not end exactly at
    // nextseq; an exact copy of the last segment (seq + len == nextseq) is a
    // retransmission. Here the copy arrives 0.1 ms after the original.
    let mut t = handshake();
    t.c("PA", I + 1, J + 1, 100)
        .wait(0.0001)
        .c("PA", I + 1, J + 1, 100)
        .s("A", J + 1, I + 101, 0);
    let dir = tempdir();
    let path = dir.path().join("dup.pcap");
    t.pcap().write(&path);
    let o = ours_at(&path.to_string_lossy(), "dup");
    // Frames 1-3 are the handshake, 4 the original, 5 the copy.
    let (_, ev) = o.events.get(&5).expect("frame 5");
    assert_eq!(
        analysis_of(ev),
        vec!["retransmission".to_string()],
        "frame 5: {}",
        ev["label"]
    );
    if tshark_available() {
        let ts = run_tshark(&path.to_string_lossy());
        assert!(
            ts.frames[&5].flags.contains("retransmission"),
            "tshark agrees"
        );
        assert_none(&compare_talk("dup", &t), "disagreement(s) with tshark");
    }
}

/// Fails with every problem listed, one per line, when there are any.
fn assert_none(problems: &[String], what: &str) {
    assert!(
        problems.is_empty(),
        "{} {what}:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

#[cfg_attr(
    tcpdiag_lacks = "tshark_mergecap",
    ignore = "needs tshark and mergecap (.ci/run installs them)"
)]
#[test]
fn multi_link_pcapng_and_compressed_captures_agree_with_tshark() {
    // pcapng files whose interfaces have different link types (what dumpcap writes
    // for -i eth0 -i any), several sections in both byte orders, and gzip/zstd
    // compression of pcapng and of classic pcap: tshark reads them all, frame for
    // frame; so must we, with the same frame numbers, conversations and labels.
    if !tshark_available() || !live_env::tools(&["mergecap"]) {
        return;
    }
    use common::pcap::Pcap;
    use common::pcapng::{self, Pcapng};
    let cooked = Pcap::read(&fixture("cooked_any_v2.pcap"));
    let http = Pcap::read(&fixture("http_clean.pcap"));
    let raw = Pcap::read(&fixture("raw_ip.pcap"));
    let mixed = pcapng::merge(&[&cooked, &http, &raw], false, 6).bytes();
    // Section 1 (little-endian, nanoseconds): http_clean; section 2 (big-endian):
    // cooked v2 and raw IP, with an interface statistics block between packets.
    let mut two = Pcapng::new(false);
    two.interface(http.linktype as u16, 9);
    for (i, r) in http.records.iter().enumerate() {
        two.packet(0, pcapng::record_ns(&http, i), r.orig_len, &r.data);
    }
    two.section(true);
    two.interface(cooked.linktype as u16, 6);
    two.interface(raw.linktype as u16, 9);
    for (i, r) in cooked.records.iter().enumerate() {
        two.packet(0, pcapng::record_ns(&cooked, i), r.orig_len, &r.data);
        if i == 2 {
            two.block(5, &[0; 12]);
        }
    }
    for (i, r) in raw.records.iter().enumerate() {
        two.packet(1, pcapng::record_ns(&raw, i), r.orig_len, &r.data);
    }
    let two = two.bytes();
    let http_bytes = std::fs::read(fixture("http_clean.pcap")).unwrap();

    let dir = tempdir();
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("mixed_links.pcapng".into(), mixed.clone()),
        ("mixed_links.pcapng.gz".into(), gzip(&mixed)),
        ("mixed_links.pcapng.zst".into(), zstd(&mixed)),
        ("two_sections.pcapng".into(), two.clone()),
        ("two_sections.pcapng.gz".into(), gzip(&two)),
        ("http_clean.pcap.gz".into(), gzip(&http_bytes)),
        ("http_clean.pcap.zst".into(), zstd(&http_bytes)),
    ];
    // And what mergecap itself writes for two inputs of different link types.
    let merged = dir.path().join("mergecap.pcapng");
    let out = Command::new("mergecap")
        .args(["-F", "pcapng", "-w"])
        .arg(&merged)
        .arg(fixture("cooked_any_v2.pcap"))
        .arg(fixture("http_clean.pcap"))
        .output()
        .expect("run mergecap");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    files.push(("mergecap.pcapng".into(), std::fs::read(&merged).unwrap()));

    let mut problems = Vec::new();
    for (name, bytes) in &files {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let path = path.to_string_lossy().into_owned();
        let ts = run_tshark(&path);
        assert!(!ts.frames.is_empty(), "{name}: tshark read nothing");
        let o = ours_at(&path, name);
        problems.extend(check_fixture(name, &ts, &o));
        let doc = run(["replay", &path, "--format", "json"]).json();
        let frames = num(&doc, "/summary/packets/frames");
        if frames != ts.frames.len() as u64 {
            problems.push(format!(
                "{name}: tshark {} frames, ours {frames}",
                ts.frames.len()
            ));
        }
        if (flows(&doc).len() as u64) < ts.convs.len() as u64 {
            problems.push(format!(
                "{name}: tshark {} conversations, ours {} flows",
                ts.convs.len(),
                flows(&doc).len()
            ));
        }
    }
    assert_none(&problems, "disagreement(s) with tshark");
}

#[cfg_attr(
    tcpdiag_lacks = "tshark",
    ignore = "needs tshark (.ci/run installs it)"
)]
#[test]
fn views_cover_interface_copies_and_tenants() {
    // The views above must really be taken (or the comparisons would pass without
    // looking): the container host's copies, each VNI of the tenants' capture.
    if !tshark_available() {
        return;
    }
    let labels: Vec<&str> = all_results().iter().map(|(l, _, _)| l.as_str()).collect();
    for want in [
        "container_any.pcap without interface copies",
        "vxlan_tenants.pcap VNI 42",
        "vxlan_tenants.pcap VNI 43",
        "vxlan.pcap VNI 7",
        "gre.pcap",
        "erspan.pcap",
    ] {
        assert!(labels.contains(&want), "no view {want:?} in {labels:?}");
    }
    // Each tenant's view holds one flow of 10 packets: they were not merged.
    for vni in [42, 43] {
        let (_, ts, o) = all_results()
            .iter()
            .find(|(l, _, _)| *l == format!("vxlan_tenants.pcap VNI {vni}"))
            .unwrap();
        assert_eq!(o.flows.len(), 1, "VNI {vni}");
        assert_eq!(flow_packets(&o.flows[0]), 10, "VNI {vni}");
        assert_eq!(ts.frames.len(), 10, "VNI {vni}");
    }
}
