//! Live sockets in network namespaces (root only; CI runs as root): each test makes
//! its own namespace (`tdsk_{test}_{pid in base 36}_{n}`: unique per process), shortens
//! the kernel's timers with per-namespace sysctls, builds one scenario with small
//! Python programs and nftables, then checks `tcpdiag sockets` / `watch` against it
//! (states, timer names, probe and retransmission counts, findings) and the state
//! counts against `ss`. Without root each test prints why it skips.

mod common;
mod live_env;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::findings_with_id;
use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tcpdiag")
}

/// Root and the tools the scenarios use (see `live_env`).
fn root() -> bool {
    live_env::ready(&["ip", "nft", "python3", "ss", "sysctl"])
}

fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A network namespace deleted on drop, with processes started in it killed first.
struct Ns {
    name: String,
    children: Vec<Child>,
}

impl Ns {
    fn new(tag: &str) -> Ns {
        let name = format!(
            "tdsk_{tag}_{}_{}",
            live_env::run_id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        );
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        sh(&["ip", "netns", "add", &name]);
        let ns = Ns {
            name,
            children: Vec::new(),
        };
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    fn exec(&self, args: &[&str]) -> String {
        let mut v = vec!["ip", "netns", "exec", &self.name];
        v.extend_from_slice(args);
        sh(&v)
    }

    fn sysctl(&self, kv: &str) {
        self.exec(&["sysctl", "-qw", kv]);
    }

    /// Installs one input-hook rule in the namespace.
    fn nft_input(&self, rule: &str) {
        let rules = format!(
            "table inet tdsk {{\n chain input {{\n  type filter hook input priority 0; policy accept;\n  {rule}\n }}\n}}\n"
        );
        let mut c = Command::new("ip")
            .args(["netns", "exec", &self.name, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("nft");
        c.stdin.take().unwrap().write_all(rules.as_bytes()).unwrap();
        assert!(c.wait().unwrap().success(), "nft rules failed:\n{rules}");
    }

    /// Starts a Python program in the namespace and waits for its "ready" line;
    /// returns the line's remaining words.
    fn python(&mut self, code: &str) -> Vec<String> {
        let mut c = Command::new("ip")
            .args(["netns", "exec", &self.name, "python3", "-u", "-c", code])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3");
        let mut out = BufReader::new(c.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        // Keep the pipe open so the program does not die of SIGPIPE later.
        std::mem::forget(out);
        self.children.push(c);
        let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        assert_eq!(
            words.first().map(String::as_str),
            Some("ready"),
            "python did not get ready: {line:?}"
        );
        words[1..].to_vec()
    }

    fn pid(&self, i: usize) -> u32 {
        self.children[i].id()
    }

    fn tcpdiag(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let out = Command::new(bin())
            .args(args)
            .args(["--netns", &self.name])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn sockets(&self, args: &[&str]) -> Value {
        let mut a = vec!["sockets", "--format", "json"];
        a.extend_from_slice(args);
        let (code, out, err) = self.tcpdiag(&a);
        assert_eq!(code, Some(0), "tcpdiag {a:?}: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}): {out}"))
    }

    /// Per-state counts from `ss -tan -N NS` (ss's state names).
    fn ss_counts(&self) -> BTreeMap<String, u64> {
        let out = sh(&["ss", "-tanH", "-N", &self.name]);
        let mut m = BTreeMap::new();
        for l in out.lines() {
            if let Some(st) = l.split_whitespace().next() {
                *m.entry(st.to_string()).or_insert(0) += 1;
            }
        }
        m
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn ss_name(state: &str) -> &'static str {
    match state {
        "ESTABLISHED" => "ESTAB",
        "SYN_SENT" => "SYN-SENT",
        "SYN_RECV" => "SYN-RECV",
        "FIN_WAIT1" => "FIN-WAIT-1",
        "FIN_WAIT2" => "FIN-WAIT-2",
        "TIME_WAIT" => "TIME-WAIT",
        "CLOSE_WAIT" => "CLOSE-WAIT",
        "LAST_ACK" => "LAST-ACK",
        "LISTEN" => "LISTEN",
        "CLOSING" => "CLOSING",
        _ => "UNCONN",
    }
}

/// tcpdiag's per-state counts must equal ss's.
fn cross_check_ss(ns: &Ns, doc: &Value) {
    let mut ours: BTreeMap<String, u64> = BTreeMap::new();
    for (k, v) in doc["summary"]["states"].as_object().unwrap() {
        if v.as_u64().unwrap() > 0 {
            ours.insert(ss_name(k).to_string(), v.as_u64().unwrap());
        }
    }
    assert_eq!(ours, ns.ss_counts(), "state counts differ from ss");
}

fn sockets_in<'a>(doc: &'a Value, state: &str) -> Vec<&'a Value> {
    doc["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["state"] == state)
        .collect()
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// NDJSON lines of a `watch` run.
fn watch(ns: &Ns, args: &[&str]) -> Vec<Value> {
    let mut a = vec!["watch", "--format", "ndjson"];
    a.extend_from_slice(args);
    let (code, out, err) = ns.tcpdiag(&a);
    assert_eq!(code, Some(0), "tcpdiag {a:?}: {err}");
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line ({e}): {l}")))
        .collect()
}

const TW_SCRIPT: &str = r#"
import socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 8000)); l.listen(16)
l2 = socket.socket(); l2.bind(("127.0.0.1", 8001)); l2.listen(16)
for i in range(8):
    c = socket.create_connection(("127.0.0.1", 8000)); s, _ = l.accept()
    c.close()            # the client closes first: it keeps TIME_WAIT
    s.recv(1); s.close()
keep = []
for i in range(2):
    c = socket.create_connection(("127.0.0.1", 8001)); s, _ = l2.accept(); keep += [c, s]
time.sleep(0.3)
print("ready", flush=True)
time.sleep(120)
"#;

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn timewait_against_port_range_filters_and_ss() {
    if !root() {
        return;
    }
    let mut ns = Ns::new("tw");
    ns.sysctl("net.ipv4.ip_local_port_range=40000 40009");
    ns.sysctl("net.ipv4.tcp_tw_reuse=0");
    ns.python(TW_SCRIPT);
    let doc = ns.sockets(&[]);
    cross_check_ss(&ns, &doc);
    assert_eq!(doc["summary"]["states"]["LISTEN"], 2);
    assert_eq!(doc["summary"]["states"]["ESTABLISHED"], 4);
    let tw = sockets_in(&doc, "TIME_WAIT");
    assert_eq!(tw.len(), 8);
    for s in &tw {
        assert_eq!(s["timer"]["name"], "timewait");
        let e = s["timer"]["expires_s"].as_f64().unwrap();
        assert!((0.0..=60.0).contains(&e), "{e}");
        assert_eq!(s["peer"], "127.0.0.1:8000");
        assert_eq!(s["inode"], 0);
        let port: u16 = s["local"]
            .as_str()
            .unwrap()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!((40000..=40009).contains(&port));
    }
    // tcp_info and friends on a live socket.
    let est = sockets_in(&doc, "ESTABLISHED");
    let ti = &est[0]["tcp_info"];
    assert!(ti["snd_mss"].as_u64().unwrap() > 0);
    assert!(ti["rtt_s"].as_f64().unwrap() > 0.0);
    assert!(est[0]["cong"].is_string());
    assert!(est[0]["skmem"]["rcvbuf"].as_u64().unwrap() > 0);
    assert!(est[0]["inode"].as_u64().unwrap() > 0);
    // The finding: 8 of 10 usable ports held towards 127.0.0.1:8000.
    let f = findings_with_id(&doc, "sock.timewait_buildup");
    assert_eq!(f.len(), 1, "{:#}", doc["findings"]);
    assert_eq!(f[0]["severity"], "error");
    assert_eq!(f[0]["evidence"]["in_port_range"], 8);
    assert_eq!(f[0]["evidence"]["usable_ports"], 10);
    assert_eq!(f[0]["evidence"]["tcp_tw_reuse"]["value"], 0);
    assert_eq!(f[0]["evidence"]["tw_reuse_applies"], false);
    assert_eq!(f[0]["evidence"]["remote"], "127.0.0.1:8000");
    // With tcp_tw_reuse=2 (the default: loopback only) this loopback peer's ports can be
    // reused, so the build-up is a warning, not an error.
    ns.sysctl("net.ipv4.tcp_tw_reuse=2");
    let reused = ns.sockets(&[]);
    let f2 = findings_with_id(&reused, "sock.timewait_buildup");
    assert_eq!(f2[0]["severity"], "warning", "{:#}", f2[0]);
    assert_eq!(f2[0]["evidence"]["tw_reuse_applies"], true);
    ns.sysctl("net.ipv4.tcp_tw_reuse=0");
    assert_eq!(doc["summary"]["timewait"][0]["count"], 8);
    // Host context of the namespace, not of the machine.
    assert_eq!(
        doc["host"]["sysctls"]["net.ipv4.ip_local_port_range"],
        serde_json::json!([40000, 40009])
    );
    assert_eq!(doc["netns"], ns.name.as_str());
    // Kernel-side filters.
    let only_tw = ns.sockets(&["--state", "time-wait"]);
    assert_eq!(only_tw["sockets"].as_array().unwrap().len(), 8);
    let d8001 = ns.sockets(&["--sport", "8001"]);
    let states: Vec<&str> = d8001["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.len(), 3, "{states:?}");
    assert!(states.contains(&"LISTEN"));
    let to8000 = ns.sockets(&["--dport", "8000", "--dst", "127.0.0.0/8"]);
    assert_eq!(to8000["sockets"].as_array().unwrap().len(), 8);
    let none = ns.sockets(&["--src", "10.0.0.0/8"]);
    assert_eq!(none["sockets"].as_array().unwrap().len(), 0);
    let v6 = ns.sockets(&["-6"]);
    assert_eq!(v6["sockets"].as_array().unwrap().len(), 0);
    // The table names the finding.
    let (code, table, _) = ns.tcpdiag(&["sockets", "--format", "table"]);
    assert_eq!(code, Some(0));
    assert!(table.contains("sock.timewait_buildup"), "{table}");
    assert!(table.contains("TIME-WAIT"));
    // --fail-on.
    let (code, _, _) = ns.tcpdiag(&["sockets", "--format", "json", "--fail-on", "error"]);
    assert_eq!(code, Some(1));
}

const CW_SCRIPT: &str = r#"
import socket, time
l = socket.socket(); l.bind(("127.0.0.1", 8000)); l.listen(16)
held = []
for i in range(3):
    c = socket.create_connection(("127.0.0.1", 8000)); s, _ = l.accept()
    held.append(s)       # the server never closes
    c.close()            # the client does: FIN-WAIT-2, orphaned
time.sleep(0.3)
print("ready", flush=True)
time.sleep(120)
"#;

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn close_wait_by_process_and_orphans() {
    if !root() {
        return;
    }
    let mut ns = Ns::new("cw");
    ns.python(CW_SCRIPT);
    let pid = ns.pid(0);
    let doc = ns.sockets(&["-p", "--close-wait-min", "3", "--orphan-min", "3"]);
    cross_check_ss(&ns, &doc);
    let cw = sockets_in(&doc, "CLOSE_WAIT");
    assert_eq!(cw.len(), 3);
    // `ip netns exec` execs python3, so the child's pid is the holder.
    let holders: Vec<u64> = cw
        .iter()
        .map(|s| s["processes"][0]["pid"].as_u64().unwrap())
        .collect();
    assert!(
        holders.iter().all(|p| *p == u64::from(pid)),
        "{holders:?} vs {pid}"
    );
    assert_eq!(sockets_in(&doc, "FIN_WAIT2").len(), 3);
    let f = findings_with_id(&doc, "sock.close_wait_buildup");
    assert_eq!(f.len(), 1, "{:#}", doc["findings"]);
    assert_eq!(f[0]["evidence"]["count"], 3);
    assert_eq!(f[0]["evidence"]["process"]["pid"], pid);
    // Each recv-q is 1: the peer's FIN, never read; no data is waiting.
    assert!(cw.iter().all(|s| s["recv_q"] == 1));
    assert_eq!(f[0]["evidence"]["eof_unread"], 3);
    assert_eq!(f[0]["evidence"]["unread_bytes"], 0);
    assert!(f[0]["summary"]
        .as_str()
        .unwrap()
        .contains("not even read the end of stream"));
    let o = findings_with_id(&doc, "sock.orphan_buildup");
    assert_eq!(o.len(), 1);
    assert_eq!(o[0]["evidence"]["by_state"]["FIN_WAIT2"], 3);
    // (sockstat's orphan count is machine-wide and leaves out FIN-WAIT-2 sockets
    // already handed to the TIME_WAIT machinery, so it is evidence, not a check.)
    assert!(o[0]["evidence"]["sockstat_orphan"].is_u64());
    // --pid PID looks into the same namespace as --netns NAME.
    let out = Command::new(bin())
        .args(["sockets", "--format", "json", "--pid", &pid.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let by_pid: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(by_pid["summary"]["states"], doc["summary"]["states"]);
    assert_eq!(by_pid["netns"], format!("pid:{pid}").as_str());
    // Default thresholds: three CLOSE_WAITs are not a build-up.
    let quiet = ns.sockets(&[]);
    assert!(findings_with_id(&quiet, "sock.close_wait_buildup").is_empty());
    assert!(quiet["sockets"][0]["processes"].is_null());
}

const SYN_SCRIPT: &str = r#"
import socket, time
l = socket.socket(); l.bind(("127.0.0.1", 8000)); l.listen(16)
cs = []
for i in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("127.0.0.1", 8000))
    except BlockingIOError: pass
    cs.append(c)
time.sleep(0.3)
print("ready", flush=True)
time.sleep(120)
"#;

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn syn_recv_with_dropped_final_ack() {
    if !root() {
        return;
    }
    let mut ns = Ns::new("sr");
    ns.nft_input("tcp dport 8000 tcp flags & (syn | ack) == ack drop");
    ns.python(SYN_SCRIPT);
    // The first SYN-ACK retransmission comes after 1 s.
    std::thread::sleep(Duration::from_millis(1500));
    let doc = ns.sockets(&["--syn-recv-min", "3"]);
    cross_check_ss(&ns, &doc);
    let sr = sockets_in(&doc, "SYN_RECV");
    assert_eq!(sr.len(), 4);
    for s in &sr {
        assert_eq!(s["timer"]["name"], "on");
        assert!(s["timer"]["count"].as_u64().unwrap() >= 1, "{s}");
    }
    let f = findings_with_id(&doc, "sock.syn_recv_buildup");
    assert_eq!(f.len(), 1, "{:#}", doc["findings"]);
    assert_eq!(f[0]["evidence"]["syn_recv"], 4);
    assert_eq!(f[0]["evidence"]["listener"], "127.0.0.1:8000");
    assert_eq!(f[0]["evidence"]["distinct_peers"], 1);
    assert!(f[0]["evidence"]["max_synack_retransmits"].as_u64().unwrap() >= 1);
    assert_eq!(doc["summary"]["listeners"][0]["syn_recv"], 4);
    // --state syn-recv reaches the request sockets (TCP_NEW_SYN_RECV) too.
    let only = ns.sockets(&["--state", "syn-recv"]);
    assert_eq!(only["sockets"].as_array().unwrap().len(), 4);
}

const ACCEPT_SCRIPT: &str = r#"
import socket, time
l = socket.socket(); l.bind(("127.0.0.1", 8000)); l.listen(1)   # never accepts
cs = []
for i in range(5):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("127.0.0.1", 8000))
    except BlockingIOError: pass
    cs.append(c)
    time.sleep(0.05)
time.sleep(0.5)
print("ready", flush=True)
time.sleep(120)
"#;

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn accept_queue_full_and_syn_sent_retries() {
    if !root() {
        return;
    }
    let mut ns = Ns::new("aq");
    ns.python(ACCEPT_SCRIPT);
    // Clients whose SYNs were dropped retry after 1 s.
    std::thread::sleep(Duration::from_millis(1200));
    let doc = ns.sockets(&[]);
    let l = sockets_in(&doc, "LISTEN");
    assert_eq!(l[0]["send_q"], 1);
    assert_eq!(l[0]["recv_q"], 2, "backlog 1 admits 2 before it is full");
    let f = findings_with_id(&doc, "sock.accept_queue_full");
    assert_eq!(f.len(), 1, "{:#}", doc["findings"]);
    assert_eq!(f[0]["severity"], "error");
    assert!(f[0]["evidence"]["ListenOverflows"].as_u64().unwrap() >= 1);
    let syn_sent = sockets_in(&doc, "SYN_SENT");
    assert!(!syn_sent.is_empty());
    assert!(syn_sent.iter().all(|s| s["timer"]["name"] == "on"));
    let r = findings_with_id(&doc, "sock.retransmitting");
    assert!(
        r.iter().any(|f| f["evidence"]["state"] == "SYN_SENT"),
        "{:#}",
        doc["findings"]
    );
}

/// A client connection with the drop rule installed after setup: returns the
/// client's local port.
const ESTABLISHED_SCRIPT: &str = r#"
import socket, time, sys
mode = sys.argv[1] if len(sys.argv) > 1 else ""
l = socket.socket(); l.bind(("127.0.0.1", 8000))
if mode == "persist":
    l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
l.listen(4)
c = socket.socket()
if mode == "keepalive":
    c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
c.connect(("127.0.0.1", 8000)); s, _ = l.accept()
if mode == "persist":
    c.setblocking(False)
    try:
        while True: c.send(b"x" * 65536)
    except BlockingIOError: pass
print("ready", c.getsockname()[1], flush=True)
if mode == "retrans":
    time.sleep(0.3)      # the drop rule is in place by now
    c.send(b"y" * 1000)
time.sleep(120)
"#;

fn script(mode: &str) -> String {
    // python3 -c CODE takes no argv; pass the mode in the code itself.
    ESTABLISHED_SCRIPT.replace(
        "mode = sys.argv[1] if len(sys.argv) > 1 else \"\"",
        &format!("mode = \"{mode}\""),
    )
}

fn timer_counts(events: &[Value], port: &str) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e["type"] == "timer" && e["local"].as_str().unwrap().ends_with(port))
        .map(|e| e["to"]["count"].as_u64().unwrap_or(0))
        .collect()
}

/// Runs `script(mode)`, then drops everything sent to the listener, so the client's
/// `what` (its keepalive or retransmission timer) fires unanswered; `watch`es the
/// client socket `polls` times `interval` apart and checks its timer count rose at
/// every change seen, at least twice. Returns (client port, watch events).
fn watch_unanswered_timer(
    ns: &mut Ns,
    mode: &str,
    what: &str,
    polls: &str,
    interval: &str,
) -> (String, Vec<Value>) {
    let port = ns.python(&script(mode))[0].clone();
    ns.nft_input("tcp dport 8000 drop");
    let events = watch(
        ns,
        &["--count", polls, "--interval", interval, "--sport", &port],
    );
    let counts = timer_counts(&events, &format!(":{port}"));
    assert!(counts.len() >= 2, "{what} not seen counting: {events:#?}");
    assert!(counts.windows(2).all(|w| w[1] > w[0]), "{counts:?}");
    (port, events)
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn keepalive_probes_count_towards_death_in_watch() {
    if !root() {
        return;
    }
    let mut ns = Ns::new("ka");
    ns.sysctl("net.ipv4.tcp_keepalive_time=1");
    ns.sysctl("net.ipv4.tcp_keepalive_intvl=1");
    ns.sysctl("net.ipv4.tcp_keepalive_probes=6");
    let (port, events) =
        watch_unanswered_timer(&mut ns, "keepalive", "keepalive probes", "5", "800ms");
    let ev = events
        .iter()
        .find(|e| e["type"] == "timer" && e["to"]["count"].as_u64() >= Some(1))
        .unwrap();
    assert_eq!(ev["to"]["name"], "keepalive");
    assert!(ev["gives_up_in_s"].as_f64().unwrap() <= 6.0, "{ev}");
    assert!(events
        .iter()
        .any(|e| e["type"] == "finding" && e["id"] == "sock.keepalive_probing"));
    let last = events.last().unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(last["polls"], 5);
    assert_eq!(last["stopped_by"], "count");
    // The probes are also what `sockets` shows now.
    let doc = ns.sockets(&["--sport", &port]);
    let s = &doc["sockets"][0];
    assert_eq!(s["timer"]["name"], "keepalive");
    assert!(s["timer"]["count"].as_u64().unwrap() >= 2, "{s}");
    assert!(s["tcp_info"]["probes"].as_u64().unwrap() >= 2);
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn retransmission_timer_and_give_up_estimate() {
    if !root() {
        return;
    }
    let mut ns = Ns::new("rt");
    ns.sysctl("net.ipv4.tcp_retries2=5");
    let (port, events) =
        watch_unanswered_timer(&mut ns, "retrans", "retransmissions", "7", "500ms");
    let f = events
        .iter()
        .find(|e| e["type"] == "finding" && e["id"] == "sock.retransmitting")
        .expect("sock.retransmitting");
    assert_eq!(f["evidence"]["tcp_retries2"]["value"], 5);
    // tcp_retries2=5 is a time bound of (2^6 - 1) x 200 ms = 12.6 s, checked when the
    // timer fires: the give-up is the first expiry of this socket's schedule at or
    // after it (RTO 204 ms on loopback: 63 x 0.204 = 12.852 s; measured 13.38 s, the
    // tail loss probe coming first). The lower bound is the kernel's rule; the upper
    // one is that measurement plus a margin, not derived.
    let give_up = f["evidence"]["give_up_after_s"].as_f64().unwrap();
    assert!((12.6..13.5).contains(&give_up), "{f}");
    let doc = ns.sockets(&["--sport", &port]);
    let s = &doc["sockets"][0];
    assert_eq!(s["timer"]["name"], "on");
    assert!(s["timer"]["count"].as_u64().unwrap() >= 2, "{s}");
    assert!(s["tcp_info"]["backoff"].as_u64().unwrap() >= 2);
    assert!(s["tcp_info"]["unacked"].as_u64().unwrap() >= 1);
    assert!(s["tcp_info"]["total_retrans"].as_u64().unwrap() >= 2);
    assert!(doc["host"]["counters"]["Tcp.RetransSegs"].as_u64().unwrap() >= 2);
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn persist_timer_zero_window_and_stuck_queue() {
    if !root() {
        return;
    }
    let mut ns = Ns::new("zw");
    let port = ns.python(&script("persist"))[0].clone();
    // The persist timer starts once the window is closed and data waits.
    wait_for("the persist timer", Duration::from_secs(10), || {
        let d = ns.sockets(&["--sport", &port]);
        d["sockets"][0]["timer"]["name"] == "persist"
    });
    let doc = ns.sockets(&["--sport", &port]);
    let s = &doc["sockets"][0];
    assert!(s["tcp_info"]["snd_wnd"].as_u64() == Some(0), "{s}");
    let f = findings_with_id(&doc, "sock.zero_window");
    assert_eq!(f.len(), 1, "{:#}", doc["findings"]);
    let events = watch(
        &ns,
        &[
            "--count",
            "4",
            "--interval",
            "300ms",
            "--sport",
            &port,
            "--stuck-polls",
            "3",
        ],
    );
    // The queue does not drain because of the zero window: that finding says it, not
    // a second "stuck queue" one for the same symptom.
    let ids: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "finding")
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert!(ids.contains(&"sock.zero_window"), "{events:#?}");
    assert!(!ids.contains(&"sock.send_queue_stuck"), "{events:#?}");
}

const V6_SCRIPT: &str = r#"
import socket, time
l = socket.socket(socket.AF_INET6); l.bind(("::", 8002)); l.listen(8)   # dual-stack
c4 = socket.create_connection(("127.0.0.1", 8002)); s4, _ = l.accept()
c6 = socket.create_connection(("::1", 8002)); s6, _ = l.accept()
print("ready", flush=True)
time.sleep(120)
"#;

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn ipv6_and_mapped_ipv4_peers() {
    if !root() {
        return;
    }
    let mut ns = Ns::new("v6");
    ns.python(V6_SCRIPT);
    let doc = ns.sockets(&["--sport", "8002"]);
    cross_check_ss(&ns, &ns.sockets(&[]));
    let socks = doc["sockets"].as_array().unwrap();
    assert_eq!(socks.len(), 3, "{socks:#?}");
    let listen = sockets_in(&doc, "LISTEN");
    assert_eq!(listen[0]["local"], "[::]:8002");
    assert_eq!(listen[0]["family"], "inet6");
    // The server side of the IPv4 client: an inet6 socket whose ::ffff: addresses
    // are written as plain IPv4.
    let mapped = socks
        .iter()
        .find(|s| s["state"] == "ESTABLISHED" && s["local"] == "127.0.0.1:8002")
        .expect("mapped socket");
    assert_eq!(mapped["family"], "inet6");
    assert!(socks.iter().any(|s| s["local"] == "[::1]:8002"));
    // An IPv4 prefix still finds the dual-stack socket (in the kernel and after).
    let by_v4 = ns.sockets(&["--src", "127.0.0.1", "--sport", "8002"]);
    assert_eq!(by_v4["sockets"].as_array().unwrap().len(), 1);
    let by_v6 = ns.sockets(&["--dst", "::1"]);
    assert_eq!(by_v6["sockets"].as_array().unwrap().len(), 2);
    let only4 = ns.sockets(&["-4"]);
    assert!(only4["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["family"] == "inet"));
}

#[test]
fn bad_namespace_and_arguments_exit_2() {
    let out = Command::new(bin())
        .args(["sockets", "--netns", "tdsk_does_not_exist"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("tdsk_does_not_exist"));
    let out = Command::new(bin())
        .args(["sockets", "--state", "bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown state"));
    let out = Command::new(bin())
        .args(["host", "--pid", "999999999"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // Our own namespace needs no privileges.
    let out = Command::new(bin())
        .args(["host", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["host"]["sysctls"]["net.ipv4.tcp_retries2"].is_u64());
    assert!(v["host"]["counters"]["Tcp.ActiveOpens"].is_u64());
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn watch_stops_on_sigint_with_a_summary() {
    if !root() {
        return;
    }
    let ns = Ns::new("sig");
    let c = Command::new(bin())
        .args([
            "watch",
            "--format",
            "ndjson",
            "--interval",
            "100ms",
            "--netns",
            &ns.name,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(c.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = c.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(last["stopped_by"], "signal");
    assert!(last["polls"].as_u64().unwrap() >= 2);
}
