//! Incident drills: each script under tests/drills/ reproduces a field incident with
//! real daemons and clients (nginx, sshd, proftpd, curl, hping3...) in network
//! namespaces, captures it with tcpdump and runs tcpdiag live (capture, sockets,
//! watch). Each test runs its drill and asserts the exact set of WARNING and ERROR
//! findings a careful engineer would report (id and cause), and that no other
//! appears: precision, not only recall. Root only; with TCPDIAG_CI a missing tool
//! fails the test instead of skipping it.

mod common;
mod live_env;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tcpdiag");

/// Tools the drills use beyond tcpdiag (.ci/run installs them): build.rs's "drills"
/// group, the same list that marks these tests ignored when one is missing.
fn tools() -> Vec<&'static str> {
    env!("TCPDIAG_TOOLS_DRILLS").split(',').collect()
}

/// One drill's run: its output directory.
struct Drill {
    name: &'static str,
    _dir: tempfile::TempDir,
    out: PathBuf,
}

impl Drill {
    /// Runs tests/drills/NAME.sh (bounded by `timeout`); None when the environment
    /// cannot (and CI is not asking).
    fn run(name: &'static str) -> Option<Drill> {
        if !live_env::ready(&tools()) {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join(name);
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/drills")
            .join(format!("{name}.sh"));
        let run = Command::new("timeout")
            .args(["150", "bash"])
            .arg(&script)
            .arg(&out)
            .env("TCPDIAG", BIN)
            .output()
            .expect("run the drill");
        assert!(
            run.status.success(),
            "drill {name} failed ({:?}):\n{}\n{}",
            run.status,
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        Some(Drill {
            name,
            _dir: dir,
            out,
        })
    }

    fn path(&self, file: &str) -> PathBuf {
        self.out.join(file)
    }

    /// `tcpdiag replay capture.pcap --format json` plus `args`.
    fn replay(&self, args: &[&str]) -> Value {
        let mut all = vec!["replay".to_string(), "--format".into(), "json".into()];
        all.push(self.path("capture.pcap").to_string_lossy().into_owned());
        all.extend(args.iter().map(|a| a.to_string()));
        let r = common::run(all);
        r.assert_code(0);
        r.json()
    }

    /// A JSON document the drill wrote (a live capture or sockets report).
    fn json(&self, file: &str) -> Value {
        let text = std::fs::read_to_string(self.path(file))
            .unwrap_or_else(|e| panic!("{}: {file}: {e}", self.name));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {file}: {e}", self.name))
    }

    /// The findings lines of an NDJSON stream (watch).
    fn ndjson_findings(&self, file: &str) -> Value {
        let text = std::fs::read_to_string(self.path(file)).expect("ndjson");
        Value::Array(
            text.lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| v["type"] == "finding")
                .collect(),
        )
    }

    fn notes(&self) -> String {
        std::fs::read_to_string(self.path("notes.txt")).unwrap_or_default()
    }
}

/// The top-level findings of a report (or an array of findings).
fn findings(doc: &Value) -> &Vec<Value> {
    doc.get("findings")
        .and_then(Value::as_array)
        .or_else(|| doc.as_array())
        .expect("findings")
}

/// "id [cause]" of every WARNING and ERROR finding, sorted, with repeats.
fn loud(doc: &Value) -> Vec<String> {
    let mut v: Vec<String> = findings(doc)
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| match f["evidence"]["cause"].as_str() {
            Some(c) => format!("{} [{c}]", f["id"].as_str().unwrap()),
            None => f["id"].as_str().unwrap().to_string(),
        })
        .collect();
    v.sort();
    v
}

/// Asserts that exactly `want` (id [cause], repeats included) are the WARNING and
/// ERROR findings.
fn exactly(what: &str, doc: &Value, want: &[&str]) {
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    let got = loud(doc);
    // Each names its cause in words too, and its hint is that cause's.
    for f in findings(doc).iter().filter(|f| f["severity"] != "info") {
        if let Some(c) = f["evidence"]["cause"].as_str() {
            let cause = tcpdiag::analyze::Cause::from_name(c).expect("known cause");
            let summary = f["summary"].as_str().unwrap().to_lowercase();
            assert!(
                summary.contains(&cause.clause().to_lowercase()),
                "{what}: {} does not name its cause in its summary: {summary}",
                f["id"]
            );
            assert!(f["hint"].as_str().unwrap().starts_with(cause.hint_lead()));
        }
    }
    assert_eq!(
        got,
        want,
        "{what}: findings at warning and above differ; all findings:\n{:#}",
        Value::Array(findings(doc).clone())
    );
}

fn only(doc: &Value, id: &str) -> Value {
    let all: Vec<&Value> = findings(doc).iter().filter(|f| f["id"] == id).collect();
    assert_eq!(all.len(), 1, "one {id}: {all:#?}");
    all[0].clone()
}

fn text<'a>(f: &'a Value, key: &str) -> &'a str {
    f[key].as_str().unwrap_or("")
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn zero_window_reader_stopped() {
    let Some(d) = Drill::run("zero_window") else {
        return;
    };
    let doc = d.replay(&[]);
    exactly("replay", &doc, &["window.zero [receiver_not_reading]"]);
    let z = only(&doc, "window.zero");
    let ep = &z["evidence"]["longest_episode"];
    // The reader slept ~13 s: one long episode, probed by the sender.
    let secs = ep["duration_s"].as_f64().unwrap();
    assert!((11.0..15.0).contains(&secs), "{ep}");
    assert!(ep["persist_probes"].as_u64().unwrap() >= 3, "{ep}");
    assert_eq!(z["severity"], "warning");
    // What is kept for printing never changes what is found.
    let capped = d.replay(&["--timeline-cap", "10"]);
    let uncapped = d.replay(&["--timeline-cap", "1000000"]);
    assert_eq!(findings(&capped), findings(&uncapped));
    assert_eq!(findings(&capped), findings(&doc));
    // The stalled reader's own host names the socket and the stopped process.
    let client = d.json("sockets_client.json");
    exactly(
        "sockets (reader)",
        &client,
        &["sock.not_reading [receiver_not_reading]"],
    );
    assert!(
        text(&only(&client, "sock.not_reading"), "summary").contains("T (stopped)"),
        "{client}"
    );
    // The sender's host sees the zero window.
    exactly(
        "sockets (sender)",
        &d.json("sockets_server.json"),
        &["sock.zero_window [receiver_not_reading]"],
    );
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn accept_queue_full_application_stopped() {
    let Some(d) = Drill::run("accept_queue") else {
        return;
    };
    // Live on the server: its polls saw the listener full and ListenOverflows rising,
    // so the dropped SYNs and the waits are one finding, the accept queue.
    let live = d.json("capture_live.json");
    exactly(
        "capture",
        &live,
        &["sock.accept_queue_full [accept_queue_full]"],
    );
    let q = only(&live, "sock.accept_queue_full");
    assert!(
        q["evidence"]["ListenOverflows_delta"].as_u64().unwrap() > 0,
        "{q}"
    );
    let folded = &q["evidence"]["folded_flow_findings"];
    assert_eq!(folded["handshake.syn_retransmit"], 23, "{q}");
    assert_eq!(folded["stall.first_byte"], 17, "{q}");
    // Each flow's own findings say the same, none blames DNS or the network.
    for flow in live["flows"].as_array().unwrap() {
        for f in flow["findings"].as_array().unwrap() {
            let cause = f["evidence"]["cause"].as_str().unwrap_or("");
            assert!(
                ["accept_queue_full", "not_accepted", "late_response"].contains(&cause),
                "{f:#}"
            );
        }
    }
    // The socket view while it was stopped: the queue, its CLOSE_WAIT sockets told
    // as never accepted, the stopped nginx named.
    let socks = d.json("sockets_server.json");
    exactly(
        "sockets",
        &socks,
        &["sock.accept_queue_full [accept_queue_full]"],
    );
    let q = only(&socks, "sock.accept_queue_full");
    assert!(text(&q, "summary").contains("nginx"), "{q}");
    assert!(q["evidence"]["close_wait_not_accepted"].as_u64().unwrap() > 0);
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn output_drop_this_host_cannot_transmit() {
    let Some(d) = Drill::run("output_drop") else {
        return;
    };
    exactly(
        "sockets",
        &d.json("sockets_server.json"),
        &["sock.transmit_blocked [cannot_transmit]"],
    );
    let watch = d.ndjson_findings("watch_server.ndjson");
    exactly(
        "watch",
        &watch,
        &["sock.transmit_blocked [cannot_transmit]"],
    );
    assert!(
        !watch.to_string().contains("zero window"),
        "not the peer's window: {watch:#}"
    );
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn midstream_stop_transfer_cut_silently() {
    let Some(d) = Drill::run("midstream_stop") else {
        return;
    };
    let doc = d.replay(&[]);
    exactly(
        "replay",
        &doc,
        &["stall.transfer [sender_stopped_mid_write]"],
    );
    let s = only(&doc, "stall.transfer");
    assert!(s["evidence"]["silence_s"].as_f64().unwrap() > 10.0, "{s}");
    exactly(
        "capture",
        &d.json("capture_live.json"),
        &["stall.transfer [sender_stopped_mid_write]"],
    );
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn sshd_usedns_login_stall() {
    let Some(d) = Drill::run("sshd_usedns") else {
        return;
    };
    for (what, doc) in [
        ("replay", d.replay(&[])),
        ("capture", d.json("capture_live.json")),
    ] {
        exactly(what, &doc, &["stall.response [reverse_dns]"]);
        let f = only(&doc, "stall.response");
        assert!(
            f["evidence"]["ptr_queries_for_client"].as_u64().unwrap() >= 1,
            "{f:#}"
        );
        assert!(text(&f, "hint").contains("UseDNS no"), "{f:#}");
        assert!(f["evidence"]["wait_s"].as_f64().unwrap() > 1.9, "{f:#}");
    }
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn ftp_banner_waits_on_reverse_dns() {
    let Some(d) = Drill::run("ftp_reverse_dns") else {
        return;
    };
    for (what, doc) in [
        ("replay", d.replay(&[])),
        ("capture", d.json("capture_live.json")),
    ] {
        exactly(what, &doc, &["stall.first_byte [reverse_dns]"]);
        let f = only(&doc, "stall.first_byte");
        assert_eq!(f["evidence"]["ptr_queries_for_client"], 2, "{f:#}");
        assert!(text(&f, "hint").contains("UseReverseDNS off"), "{f:#}");
        assert!(!text(&f, "hint").contains("reverse_lookup_enable"), "{f:#}");
        assert!(text(&f, "summary").contains("the lookups account for the delay"));
    }
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn time_wait_reused_by_tw_reuse() {
    let Some(d) = Drill::run("tw_reuse") else {
        return;
    };
    // The client's own 100-port range: tcp_tw_reuse hands TIME_WAIT ports back, so at
    // most 100 are held at once and nothing is exhausted.
    let doc = d.replay(&["--port-range", "40000-40099"]);
    exactly("replay", &doc, &["timewait.buildup"]);
    let tw = only(&doc, "timewait.buildup");
    assert_eq!(tw["severity"], "warning");
    assert_eq!(tw["evidence"]["peak_time_wait"], 100, "{tw}");
    assert_eq!(tw["evidence"]["time_wait_reused"], 60, "{tw}");
    assert!(
        !text(&tw, "hint").contains("set net.ipv4.tcp_tw_reuse=1"),
        "{tw}"
    );
    assert!(!text(&tw, "summary").contains("exhausted"), "{tw}");
    // The 60 reuses are one finding.
    let reuse = only(&doc, "close.port_reuse");
    assert_eq!(reuse["evidence"]["reuses"], 60);
    exactly(
        "sockets",
        &d.json("sockets_client.json"),
        &["sock.timewait_buildup"],
    );
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn time_wait_exhausts_a_small_port_range() {
    let Some(d) = Drill::run("timewait_exhaustion") else {
        return;
    };
    assert!(d.notes().contains("Cannot assign requested address"));
    let doc = d.replay(&["--port-range", "40000-40039"]);
    exactly("replay", &doc, &["timewait.buildup"]);
    let tw = only(&doc, "timewait.buildup");
    assert_eq!(tw["severity"], "error");
    assert_eq!(tw["evidence"]["peak_time_wait"], 40);
    exactly(
        "sockets",
        &d.json("sockets_client.json"),
        &["sock.timewait_buildup"],
    );
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn forged_rst_from_a_box_in_between() {
    let Some(d) = Drill::run("rst_forged") else {
        return;
    };
    exactly("replay", &d.replay(&[]), &["rst.injected [middlebox]"]);
    // Live at the client: this host's own socket proves it sent nothing, and the RST
    // is one finding, not also "the server closed abortively".
    let client = d.json("live_client.json");
    exactly(
        "capture (client)",
        &client,
        &["rst.not_from_this_host [middlebox]"],
    );
    // The server never saw a RST: nothing to report there.
    exactly("capture (server)", &d.json("live_server.json"), &[]);
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn keepalive_gives_up_on_a_dead_peer() {
    let Some(d) = Drill::run("keepalive_giveup") else {
        return;
    };
    for (what, doc) in [
        ("replay", d.replay(&[])),
        ("capture", d.json("live_client.json")),
    ] {
        exactly(what, &doc, &["keepalive.dead_peer [keepalive_gave_up]"]);
        let f = only(&doc, "keepalive.dead_peer");
        assert!(!text(&f, "hint").contains("SO_LINGER"), "{f:#}");
        assert_eq!(f["evidence"]["unanswered"], 3, "{f:#}");
    }
    let live = only(&d.json("live_client.json"), "keepalive.dead_peer");
    assert_eq!(
        live["evidence"]["local_socket"]["rst_cause"],
        "keepalive_gave_up"
    );
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn short_idle_timeout_of_a_middlebox() {
    let Some(d) = Drill::run("idle_reset_short") else {
        return;
    };
    for (what, doc) in [
        ("replay", d.replay(&[])),
        ("capture", d.json("live_client.json")),
    ] {
        exactly(what, &doc, &["idle.reset [middlebox_idle_timeout]"]);
        let f = only(&doc, "idle.reset");
        assert_eq!(f["evidence"]["judged_against_flow"], true, "{f:#}");
        let idle = f["evidence"]["idle_s"].as_f64().unwrap();
        assert!((4.0..7.0).contains(&idle), "{f:#}");
    }
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn retransmissions_give_up_by_retries2_and_user_timeout() {
    let Some(d) = Drill::run("retransmit_giveup") else {
        return;
    };
    // Live, each client's own tcp_retries2 is known: A (retries2=4) gave up when it
    // allows, B (15) much sooner: TCP_USER_TIMEOUT.
    let a = d.json("live_client.json");
    exactly(
        "capture (A)",
        &a,
        &["retransmit.give_up [peer_unreachable]"],
    );
    let ga = only(&a, "retransmit.give_up");
    assert_eq!(ga["evidence"]["tcp_retries2"], 4, "{ga:#}");
    assert_eq!(ga["evidence"]["tcp_retries2_assumed"], false);
    assert!(!text(&ga, "summary").contains("924.6"), "{ga:#}");
    let b = d.json("live_client2.json");
    exactly("capture (B)", &b, &["retransmit.give_up [user_timeout]"]);
    let gb = only(&b, "retransmit.give_up");
    assert!(text(&gb, "summary").contains("TCP_USER_TIMEOUT"), "{gb:#}");
    // Replayed without the hosts' settings, both give-ups are found; retries2 is
    // marked assumed.
    let doc = d.replay(&[]);
    let ids = loud(&doc);
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.iter().all(|i| i.starts_with("retransmit.give_up")));
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn tail_loss_probe_is_not_a_timeout() {
    let Some(d) = Drill::run("tail_loss_probe") else {
        return;
    };
    let doc = d.replay(&[]);
    exactly("replay", &doc, &[]);
    let tlp = only(&doc, "retransmit.tail_loss_probe");
    assert_eq!(
        tlp["evidence"]["cause"], "spurious_tail_loss_probe",
        "{tlp:#}"
    );
    assert_eq!(tlp["evidence"]["dsacked"], 1);
    assert!(d.notes().contains("TcpExtTCPLossProbes"));
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn resent_syn_does_not_stretch_the_out_of_order_window() {
    let Some(d) = Drill::run("ooo_after_syn_retry") else {
        return;
    };
    let doc = d.replay(&[]);
    exactly(
        "replay",
        &doc,
        &[
            "handshake.syn_retransmit [syns_lost]",
            "retransmit.fast [ack_driven_recovery]",
        ],
    );
    // Frame by frame, tcpdiag's retransmission labels are tshark's.
    let full = d.replay(&["--timeline", "full"]);
    let mut ours = Vec::new();
    for flow in full["flows"].as_array().unwrap() {
        for e in flow["timeline"].as_array().unwrap() {
            let labels = common::analysis_of(e);
            if labels.iter().any(|l| l == "out-of-order") {
                ours.push(e["frame"].as_u64().unwrap());
            }
        }
    }
    let tshark = Command::new("tshark")
        .arg("-r")
        .arg(d.path("capture.pcap"))
        .args([
            "-Y",
            "tcp.analysis.out_of_order",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ])
        .output()
        .expect("tshark");
    let theirs: Vec<u64> = String::from_utf8_lossy(&tshark.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(ours, theirs, "out-of-order frames: tcpdiag vs tshark");
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn snaplen_68_keeps_the_handshake() {
    let Some(d) = Drill::run("snaplen68") else {
        return;
    };
    let doc = d.replay(&[]);
    exactly("replay", &doc, &[]);
    assert_eq!(doc["summary"]["packets"]["malformed"], 0);
    let flow = &doc["flows"][0];
    assert_eq!(flow["conn_state"], "SF");
    assert_eq!(flow["history"], "ShADadFf");
    assert_eq!(flow["handshake"]["completed"], true);
    assert!(findings(&doc)
        .iter()
        .all(|f| f["id"] != "capture.midstream"));
}

#[cfg_attr(
    tcpdiag_lacks = "drills",
    ignore = "needs root and the drill tools: ip, tc, nft, tcpdump, tshark, nginx, sshd, proftpd, hping3, ... (.ci/run installs them)"
)]
#[test]
fn syn_flood_is_one_finding() {
    let Some(d) = Drill::run("syn_flood") else {
        return;
    };
    let doc = d.replay(&[]);
    exactly("replay", &doc, &["handshake.half_open_flood"]);
    // The legitimate clients got through.
    let sf = doc["summary"]["conn_states"]["SF"].as_u64().unwrap_or(0);
    assert!(sf >= 4, "{}", doc["summary"]["conn_states"]);
    exactly(
        "capture",
        &d.json("capture_live.json"),
        &["handshake.half_open_flood", "sock.syn_recv_buildup"],
    );
    exactly(
        "sockets",
        &d.json("sockets_server.json"),
        &["sock.syn_recv_buildup"],
    );
}
