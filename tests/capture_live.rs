//! `tcpdiag capture` on real kernels: each test builds its own network namespaces
//! ("tdcp-{pid in base 36}-{test}-...": unique per test and per test process), runs
//! the binary with `--netns` on a veth while a scenario runs, and checks the report.
//! Root only (CI runs as root); without root the namespace tests say so and return.
//! Every test is bounded by the capture's `--duration` plus a margin, and the
//! namespaces go away in a Drop guard.

mod common;
mod live_env;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{findings_with_id, first_finding};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tcpdiag");

/// How long a scenario program may take to say it is ready.
const READY: Duration = Duration::from_secs(10);

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

macro_rules! need_root {
    () => {
        if !live_env::ready(&["ip", "nft", "python3", "ss", "sysctl"]) {
            return;
        }
    };
}

use live_env::{ip, run};

/// Namespaces (and their /etc/netns files) removed on drop, with the processes
/// started in them.
struct Lab {
    names: Vec<String>,
    children: Vec<Child>,
    lines: Vec<mpsc::Receiver<String>>,
}

impl Lab {
    fn new() -> Lab {
        Lab {
            names: Vec::new(),
            children: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// Namespace `tdcp-{run id}-{what}`: unique per test process, and the `tdcp-`
    /// prefix lets leftovers be found.
    fn ns(&mut self, what: &str) -> String {
        let name = format!("tdcp-{}-{what}", live_env::run_id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        self.names.push(name.clone());
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        for key in [
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ] {
            self.sysctl(&name, key);
        }
        name
    }

    fn sysctl(&self, ns: &str, kv: &str) {
        live_env::sysctl(ns, kv);
    }

    /// A veth pair `a_dev` (in `a`) <-> `b_dev` (in `b`), offloads off, up.
    fn link(&self, a: &str, a_dev: &str, b: &str, b_dev: &str) {
        live_env::veth_pair(a, a_dev, b, b_dev);
    }

    fn addr(&self, ns: &str, dev: &str, cidr: &str) {
        ip(&["-n", ns, "addr", "add", cidr, "dev", dev]);
    }

    fn exec(&self, ns: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .expect("spawn")
    }

    fn nft(&self, ns: &str, rules: &str) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("nft");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(rules.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "nft failed: {rules}");
    }

    /// A Python program in `ns`; its stdout lines are read as they come.
    fn python(&mut self, ns: &str, code: &str) -> usize {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "python3", "-u", "-c", code])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        self.children.push(child);
        self.lines.push(rx);
        self.children.len() - 1
    }

    /// Sends a line to child `i`'s standard input (a scenario step it waits for).
    fn tell(&mut self, i: usize, line: &str) {
        use std::io::Write;
        let stdin = self.children[i].stdin.as_mut().expect("stdin");
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for a line containing `want` on child `i`'s stdout.
    fn wait_line(&mut self, i: usize, want: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines[i].recv_timeout(left) {
                Ok(line) if line.contains(want) => return line,
                Ok(_) => {}
                Err(_) => panic!("no line with '{want}' in {timeout:?}"),
            }
        }
    }

    /// Starts a Python program in `ns` and waits for it to print `ready`.
    fn python_until(&mut self, ns: &str, code: &str, ready: &str) -> usize {
        let i = self.python(ns, code);
        self.wait_line(i, ready, READY);
        i
    }

    /// A TCP server in `ns` listening on `addr`:`port` (socket, sys and time
    /// imported); once it says "server ready", `body` runs (its own `ls.accept()`).
    fn server(&mut self, ns: &str, addr: &str, port: u16, backlog: u32, body: &str) -> usize {
        let code = format!(
            "import socket, sys, time\n\
             ls = socket.socket()\n\
             ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
             ls.bind((\"{addr}\", {port}))\n\
             ls.listen({backlog})\n\
             print(\"server ready\", flush=True)\n\
             {body}"
        );
        self.python_until(ns, &code, "server ready")
    }

    /// `server` on the server address of a `pair` (192.0.2.1), backlog 4.
    fn serve(&mut self, ns: &str, port: u16, body: &str) -> usize {
        self.server(ns, "192.0.2.1", port, 4, body)
    }

    /// Runs a short Python program in `ns` to its end.
    fn run_python(&self, ns: &str, code: &str) -> Output {
        self.exec(ns, &["python3", "-c", code])
    }

    /// One nftables chain (table inet tdcp) on `hook` with these rules, in `ns`.
    fn nft_chain(&self, ns: &str, hook: &str, rules: &[&str]) {
        let mut text = format!(
            "table inet tdcp {{\n chain c {{ type filter hook {hook} priority 0; policy accept;\n"
        );
        for r in rules {
            text += &format!(" {r}\n");
        }
        text += " }\n}\n";
        self.nft(ns, &text);
    }

    /// Resolves neighbours before capturing (a first SYN held back by ARP would
    /// blur the timings).
    fn settle(&self, ns: &str, peer: &str) {
        let code = format!(
            "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('{peer}', 9))"
        );
        let _ = self.exec(ns, &["python3", "-c", &code]);
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).output();
            let _ = std::fs::remove_dir_all(format!("/etc/netns/{n}"));
        }
    }
}

/// A new lab with client 192.0.2.10 (c0) <-> server 192.0.2.1 (s0): (lab, client,
/// server).
fn pair(tag: &str) -> (Lab, String, String) {
    let mut lab = Lab::new();
    let c = lab.ns(&format!("{tag}-c"));
    let s = lab.ns(&format!("{tag}-s"));
    lab.link(&c, "c0", &s, "s0");
    lab.addr(&c, "c0", "192.0.2.10/24");
    lab.addr(&s, "s0", "192.0.2.1/24");
    lab.settle(&c, "192.0.2.1");
    (lab, c, s)
}

/// A new lab with client 192.0.2.10 (c0) <-> router (r0 192.0.2.1 | r1 198.51.100.1)
/// <-> server 198.51.100.10 (s0): (lab, client, router, server).
fn routed(tag: &str) -> (Lab, String, String, String) {
    let mut lab = Lab::new();
    let c = lab.ns(&format!("{tag}-c"));
    let r = lab.ns(&format!("{tag}-r"));
    let s = lab.ns(&format!("{tag}-s"));
    lab.link(&c, "c0", &r, "r0");
    lab.link(&r, "r1", &s, "s0");
    lab.addr(&c, "c0", "192.0.2.10/24");
    lab.addr(&r, "r0", "192.0.2.1/24");
    lab.addr(&r, "r1", "198.51.100.1/24");
    lab.addr(&s, "s0", "198.51.100.10/24");
    ip(&["-n", &c, "route", "add", "default", "via", "192.0.2.1"]);
    ip(&["-n", &s, "route", "add", "default", "via", "198.51.100.1"]);
    lab.sysctl(&r, "net.ipv4.ip_forward=1");
    lab.settle(&c, "192.0.2.1");
    lab.settle(&s, "198.51.100.1");
    (lab, c, r, s)
}

/// A running `tcpdiag capture`.
struct Capture {
    child: Child,
    stdout: mpsc::Receiver<Vec<u8>>,
    /// Its standard error after the "capturing on" line (also shown in the test's),
    /// whole once the thread that reads it has ended.
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Capture {
    /// Starts it and waits until it says it is capturing.
    fn start(args: &[&str]) -> Capture {
        let mut child = Command::new(BIN)
            .arg("capture")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdiag");
        let mut out = child.stdout.take().unwrap();
        let (otx, orx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = out.read_to_end(&mut buf);
            let _ = otx.send(buf);
        });
        let err = child.stderr.take().unwrap();
        let (etx, erx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(err);
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                let _ = etx.send(line.clone());
                line.clear();
            }
        });
        let first = erx
            .recv_timeout(Duration::from_secs(15))
            .expect("tcpdiag did not start");
        assert!(first.contains("capturing on"), "tcpdiag: {first}");
        // The rest of stderr goes to the test's output, and is kept.
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let kept = stderr.clone();
        let reader = std::thread::spawn(move || {
            for l in erx {
                eprint!("{l}");
                kept.lock().unwrap().push_str(&l);
            }
        });
        Capture {
            child,
            stdout: orx,
            stderr,
            stderr_reader: Some(reader),
        }
    }

    /// Waits for it to exit: (exit code, stdout).
    fn finish(mut self, timeout: Duration) -> (i32, Vec<u8>) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let out = self
                    .stdout
                    .recv_timeout(Duration::from_secs(5))
                    .unwrap_or_default();
                return (status.code().unwrap_or(-1), out);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("tcpdiag capture did not stop in {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for it to exit with status 0 and returns its JSON report.
    fn report(self, timeout: Duration) -> Value {
        let (code, stdout) = self.finish(timeout);
        assert_eq!(code, 0);
        json(&stdout)
    }

    /// Waits for it to exit: (exit code, stdout, stderr after "capturing on").
    fn finish_with_stderr(mut self, timeout: Duration) -> (i32, Vec<u8>, String) {
        let reader = self.stderr_reader.take();
        let stderr = self.stderr.clone();
        let (code, out) = self.finish(timeout);
        if let Some(r) = reader {
            let _ = r.join();
        }
        let err = stderr.lock().unwrap().clone();
        (code, out, err)
    }

    fn interrupt(&self) {
        run(Command::new("kill").args(["-INT", &self.child.id().to_string()]));
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The arguments of a `tcpdiag capture --format json` in a namespace.
struct CaptureCmd {
    args: Vec<String>,
}

/// `tcpdiag capture --netns NS -i IFACE --format json`, more options to add.
fn capture(ns: &str, iface: &str) -> CaptureCmd {
    CaptureCmd {
        args: ["--netns", ns, "-i", iface, "--format", "json"]
            .map(String::from)
            .to_vec(),
    }
}

impl CaptureCmd {
    fn opt(mut self, name: &str, value: &str) -> CaptureCmd {
        self.args.push(name.to_string());
        self.args.push(value.to_string());
        self
    }

    fn filter(self, expr: &str) -> CaptureCmd {
        self.opt("-f", expr)
    }

    fn duration(self, d: &str) -> CaptureCmd {
        self.opt("--duration", d)
    }

    fn poll(self, every: &str) -> CaptureCmd {
        self.opt("--poll", every)
    }

    fn path(self, name: &str, file: &Path) -> CaptureCmd {
        self.opt(name, file.to_str().unwrap())
    }

    fn start(&self) -> Capture {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        Capture::start(&args)
    }
}

fn json(out: &[u8]) -> Value {
    // TDCP_DUMP=FILE keeps the last report for a look by hand.
    if let Some(path) = std::env::var_os("TDCP_DUMP") {
        let _ = std::fs::write(path, out);
    }
    serde_json::from_slice(out).unwrap_or_else(|e| {
        panic!(
            "invalid JSON ({e}): {}",
            String::from_utf8_lossy(&out[..out.len().min(2000)])
        )
    })
}

/// `tcpdiag replay --format json FILE`'s report.
fn replay_json(file: &Path) -> Value {
    let out = Command::new(BIN)
        .args(["replay", "--format", "json", file.to_str().unwrap()])
        .output()
        .unwrap();
    json(&out.stdout)
}

/// The first flow whose `key` is `value` ("server", "192.0.2.1:21").
fn flow_with<'a>(doc: &'a Value, key: &str, value: &str) -> &'a Value {
    doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f[key] == value)
        .unwrap_or_else(|| panic!("no flow with {key} {value}"))
}

/// The names of the files in `dir`.
fn file_names(dir: &Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect()
}

fn socket_events(flow: &Value) -> Vec<&Value> {
    flow["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("socket").is_some())
        .collect()
}

/// A client in `ns` whose connection to 192.0.2.1:9 is refused (closed port); it
/// prints "refused" when it was.
const CONNECT_REFUSED: &str =
    "import socket\ntry:\n socket.create_connection(('192.0.2.1', 9), timeout=2)\nexcept ConnectionRefusedError:\n print('refused')";

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn refused_connection_is_attributed_to_this_host() {
    need_root!();
    let (lab, c, s) = pair("refused");
    let dir = tempfile::tempdir().unwrap();
    let flagged = dir.path().join("flagged.pcap");
    let cap = capture(&s, "s0")
        .filter("tcp port 9")
        .duration("3s")
        .poll("200ms")
        .path("--write-flagged", &flagged)
        .start();
    let out = lab.run_python(&c, CONNECT_REFUSED);
    assert!(String::from_utf8_lossy(&out.stdout).contains("refused"));
    let doc = cap.report(Duration::from_secs(15));
    assert_eq!(doc["summary"]["capture"]["stop_reason"], "duration");
    let rej = flow_with(&doc, "conn_state", "REJ");
    let f = findings_with_id(rej, "handshake.rejected");
    assert_eq!(f.len(), 1, "{rej}");
    let local = &f[0]["evidence"]["local_socket"];
    assert_eq!(local["this_host_sent_it"], true, "{}", f[0]);
    assert_eq!(local["this_host"], "192.0.2.1:9");
    assert!(f[0]["summary"]
        .as_str()
        .unwrap()
        .contains("This host sent it"));
    // No socket of a refused connection exists to be joined.
    assert!(socket_events(rej).is_empty());
    // --write-flagged without -w: the spool is gone, the refused SYN and its RST stay.
    assert_eq!(
        file_names(dir.path()),
        vec![std::ffi::OsString::from("flagged.pcap")]
    );
    let replayed = replay_json(&flagged);
    assert_eq!(replayed["summary"]["packets"]["tcp_segments"], 2);
    assert_eq!(replayed["flows"][0]["conn_state"], "REJ");
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn banner_delayed_by_a_slow_ptr_lookup() {
    need_root!();
    let (mut lab, c, s) = pair("banner");
    // The resolver lives on the client's segment (so the server's queries cross s0)
    // and answers each query 1.5 s late.
    lab.addr(&c, "c0", "192.0.2.53/24");
    let etc = format!("/etc/netns/{s}");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        format!("{etc}/resolv.conf"),
        "nameserver 192.0.2.53\noptions timeout:4 attempts:1\n",
    )
    .unwrap();
    std::fs::write(format!("{etc}/nsswitch.conf"), "hosts: files dns\n").unwrap();
    std::fs::write(format!("{etc}/hosts"), "127.0.0.1 localhost\n").unwrap();
    lab.python_until(
        &c,
        r#"
import socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.53", 53))
print("resolver ready", flush=True)
def enc(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
while True:
    q, peer = s.recvfrom(512)
    qid, flags = struct.unpack("!HH", q[:4])
    i = 12
    while q[i]:
        i += q[i] + 1
    question = q[12:i + 5]
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
    time.sleep(1.5)
    if qtype == 12:
        rdata = enc("client10.example.net")
        ans = b"\xc0\x0c" + struct.pack("!HHIH", 12, 1, 300, len(rdata)) + rdata
        hdr = struct.pack("!HHHHHH", qid, 0x8180 | (flags & 0x0100), 1, 1, 0, 0)
    else:
        ans = b""
        hdr = struct.pack("!HHHHHH", qid, 0x8183 | (flags & 0x0100), 1, 0, 0, 0)
    s.sendto(hdr + question + ans, peer)
"#,
        "resolver ready",
    );
    lab.serve(
        &s,
        21,
        r#"
c, peer = ls.accept()
try:
    name = socket.gethostbyaddr(peer[0])[0]
except OSError as e:
    name = str(e)
c.sendall(b"220 ready\r\n")
buf = b""
while not buf.endswith(b"\r\n"):
    d = c.recv(100)
    if not d:
        break
    buf += d
c.sendall(b"221 bye\r\n")
c.close()
print("server done", name, flush=True)
"#,
    );
    let dir = tempfile::tempdir().unwrap();
    let flagged = dir.path().join("flagged.pcap");
    let cap = capture(&s, "s0")
        .filter("tcp port 21 or udp port 53")
        .duration("5s")
        .poll("200ms")
        .path("--write-flagged", &flagged)
        .start();
    lab.python_until(
        &c,
        r#"
import socket
s = socket.create_connection(("192.0.2.1", 21), timeout=10)
print("banner", s.recv(100), flush=True)
s.sendall(b"QUIT\r\n")
while s.recv(100):
    pass
s.close()
print("client done", flush=True)
"#,
        "client done",
    );
    let doc = cap.report(Duration::from_secs(20));
    let flow = flow_with(&doc, "server", "192.0.2.1:21");
    let stall = findings_with_id(flow, "stall.first_byte");
    assert_eq!(stall.len(), 1, "{flow}");
    let ev = &stall[0]["evidence"];
    assert!(ev["wait_s"].as_f64().unwrap() >= 1.4, "{ev}");
    assert!(ev["ptr_queries_for_client"].as_u64().unwrap() >= 1, "{ev}");
    assert!(ev["dns_queries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["name"] == "10.2.0.192.in-addr.arpa"));
    // The kernel's view: the server's socket had nothing queued during the wait.
    let verdict = ev["local_socket_verdict"].as_str().expect("socket verdict");
    assert!(verdict.contains("had not written"), "{verdict}");
    let socks = socket_events(flow);
    assert!(!socks.is_empty());
    assert!(socks
        .iter()
        .all(|e| e["socket"]["local"] == "192.0.2.1:21" && e["dir"] == "s>c"));
    // The flagged pcap holds the stalled connection and the PTR lookup made meanwhile.
    let replayed = replay_json(&flagged);
    assert_eq!(replayed["flows"].as_array().unwrap().len(), 1);
    let dns = replayed["dns"].as_array().unwrap();
    assert!(dns
        .iter()
        .any(|d| d["qtype"] == "PTR" && d["response"] == false));
    assert!(dns
        .iter()
        .any(|d| d["qtype"] == "PTR" && d["response"] == true));
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn keepalive_to_a_dead_peer_shows_the_kernel_probing() {
    need_root!();
    let (mut lab, c, s) = pair("kalive");
    // Short keepalive for the client's namespace: idle 1 s, probes 1 s apart, 3 of them.
    for kv in [
        "net.ipv4.tcp_keepalive_time=1",
        "net.ipv4.tcp_keepalive_intvl=1",
        "net.ipv4.tcp_keepalive_probes=3",
    ] {
        lab.sysctl(&c, kv);
    }
    lab.serve(
        &s,
        7000,
        r#"
c, peer = ls.accept()
c.recv(100)
c.sendall(b"hi\n")
try:
    while c.recv(100):
        pass
except OSError:
    pass
"#,
    );
    let cap = capture(&c, "c0")
        .filter("tcp port 7000")
        .duration("7s")
        .poll("150ms")
        .start();
    let client = lab.python_until(
        &c,
        r#"
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
s.connect(("192.0.2.1", 7000))
s.sendall(b"hello\n")
s.recv(100)
print("exchanged", flush=True)
s.settimeout(15)
try:
    s.recv(100)
except OSError as e:
    print("client gave up", e, flush=True)
"#,
        "exchanged",
    );
    // The peer goes silent: nothing it sends leaves its namespace.
    lab.nft_chain(&s, "output", &["tcp sport 7000 drop"]);
    lab.wait_line(client, "client gave up", Duration::from_secs(12));
    let doc = cap.report(Duration::from_secs(20));
    let flow = flow_with(&doc, "server", "192.0.2.1:7000");
    assert_eq!(
        findings_with_id(flow, "keepalive.dead_peer").len(),
        1,
        "{flow}"
    );
    let socks = socket_events(flow);
    let probes: Vec<u64> = socks
        .iter()
        .filter(|e| e["socket"]["timer"] == "keepalive")
        .map(|e| e["socket"]["timer_count"].as_u64().unwrap())
        .collect();
    assert!(
        probes.iter().max().copied().unwrap_or(0) >= 2,
        "keepalive probes seen in socket snapshots: {probes:?} in {socks:?}"
    );
    assert!(socks.iter().all(|e| e["socket"]["local"] == flow["client"]));
    // The RST that ended it came from this host's kernel when keepalive gave up: one
    // finding says so (keepalive.dead_peer, with the socket's evidence), not also an
    // "abortive close" by the application.
    assert!(findings_with_id(flow, "rst.client").is_empty(), "{flow}");
    let dead = &findings_with_id(flow, "keepalive.dead_peer")[0];
    let local = &dead["evidence"]["local_socket"];
    assert_eq!(local["this_host_sent_it"], true);
    assert_eq!(local["rst_cause"], "keepalive_gave_up", "{local}");
    assert_eq!(dead["evidence"]["cause"], "keepalive_gave_up");
    assert!(!dead["hint"].as_str().unwrap().contains("SO_LINGER"));
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn retransmission_stall_shows_the_kernel_timer() {
    need_root!();
    let (mut lab, c, s) = pair("rexmit");
    lab.serve(
        &s,
        7100,
        r#"
c, peer = ls.accept()
time.sleep(0.5)
c.sendall(b"x" * 1000)
time.sleep(10)
"#,
    );
    let cap = capture(&s, "s0")
        .filter("tcp port 7100")
        .duration("3200ms")
        .poll("100ms")
        .start();
    lab.python_until(
        &c,
        r#"
import socket, time
s = socket.create_connection(("192.0.2.1", 7100), timeout=10)
print("connected", flush=True)
time.sleep(10)
"#,
        "connected",
    );
    // Nothing the server sends arrives any more: its data waits for an ACK.
    lab.nft_chain(&c, "input", &["tcp sport 7100 drop"]);
    let doc = cap.report(Duration::from_secs(20));
    let flow = flow_with(&doc, "server", "192.0.2.1:7100");
    let f = findings_with_id(flow, "retransmit.timeout");
    assert_eq!(f.len(), 1, "{flow}");
    let timer = &f[0]["evidence"]["kernel_timer"];
    assert_eq!(timer["timer"], "on", "{timer}");
    assert!(timer["timer_count"].as_u64().unwrap() >= 2, "{timer}");
    assert!(timer["unacked"].as_u64().unwrap() >= 1, "{timer}");
    assert!(f[0]["summary"].as_str().unwrap().contains("timer:(on,"));
    // The capture ends ~0.8 s after the 4th resend (the next is due 1.6 s after it);
    // the socket, in the last poll with its timer pending, shows the kernel had not
    // given up.
    assert!(
        findings_with_id(flow, "retransmit.give_up").is_empty(),
        "{flow}"
    );
    assert_eq!(f[0]["evidence"]["still_retrying_at_end"], true);
    // The timeline shows the timer counting, beside the retransmitted segments.
    let counts: Vec<u64> = socket_events(flow)
        .iter()
        .filter(|e| e["socket"]["timer"] == "on")
        .map(|e| e["socket"]["timer_count"].as_u64().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert!(counts.len() >= 3, "{counts:?}");
}

/// The middle-box scenarios (seeds 003, 004): client -> router -> server on 8080,
/// captured on the server's side. Once the connection is established and polled,
/// the router's firewall gets `rules`; with `client_writes` the client then sends
/// (and waits for its reset); last the server writes again and sees a reset.
/// Returns the flow and its one `rst.not_from_this_host` finding, whose common
/// evidence (this host is the server, sent neither RST nor FIN, its socket was
/// ESTABLISHED before) is checked here.
fn middle_box_rst(tag: &str, rules: &[&str], client_writes: bool) -> (Value, Value) {
    let (mut lab, c, r, s) = routed(tag);
    let server = lab.server(
        &s,
        "198.51.100.10",
        8080,
        4,
        r#"
c, peer = ls.accept()
c.sendall(b"hello\n")
c.recv(100)
sys.stdin.readline()
c.sendall(b"more\n")
try:
    c.recv(100)
    print("server: no reset", flush=True)
except OSError as e:
    print("server: reset", e, flush=True)
"#,
    );
    let cap = capture(&s, "s0")
        .filter("tcp port 8080")
        .duration("4s")
        .poll("200ms")
        .start();
    let client_write = if client_writes {
        "sys.stdin.readline()\n\
         try:\n    s.sendall(b\"again\\n\")\n    s.recv(100)\n\
         except OSError as e:\n    print(\"client: reset\", e, flush=True)\n"
    } else {
        ""
    };
    let client = lab.python_until(
        &c,
        &format!(
            r#"
import socket, sys, time
s = socket.create_connection(("198.51.100.10", 8080), timeout=10)
s.recv(100)
s.sendall(b"ok\n")
print("client got hello", flush=True)
{client_write}time.sleep(4)
"#
        ),
        "client got hello",
    );
    // Let a few socket polls see the established connection first.
    std::thread::sleep(Duration::from_millis(500));
    lab.nft_chain(&r, "forward", rules);
    if client_writes {
        lab.tell(client, "go");
        lab.wait_line(client, "client: reset", Duration::from_secs(10));
    }
    lab.tell(server, "go");
    lab.wait_line(server, "server: reset", Duration::from_secs(10));
    let doc = cap.report(Duration::from_secs(20));
    let flow = flow_with(&doc, "server", "198.51.100.10:8080");
    let f = findings_with_id(flow, "rst.not_from_this_host");
    assert_eq!(f.len(), 1, "{flow}");
    let ev = &f[0]["evidence"];
    assert_eq!(ev["this_host_role"], "server");
    assert_eq!(ev["this_host_sent_rst"], false);
    assert_eq!(ev["this_host_sent_fin"], false);
    assert_eq!(ev["socket_before"]["state"], "ESTABLISHED");
    (flow.clone(), f[0].clone())
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn middle_box_rst_is_not_from_this_host() {
    need_root!();
    // The firewall resets everything on the connection in both directions,
    // answering each segment with a RST in the other end's name; the server's
    // next write is answered in the client's name.
    let (_, f) = middle_box_rst(
        "mbox",
        &[
            "tcp sport 8080 tcp flags & (syn | rst) == 0 reject with tcp reset",
            "tcp dport 8080 tcp flags & (syn | rst) == 0 reject with tcp reset",
        ],
        false,
    );
    let ev = &f["evidence"];
    // The router's reject leaves the router with Linux's default TTL (64) onto the
    // server's link; the client's own packets (TTL 64) lose one at the router.
    assert_eq!(ev["rst_ttl"], 64);
    assert_eq!(ev["peer_ttl_range"], serde_json::json!([63, 63]));
    assert_eq!(f["confidence"], "high");
    assert_eq!(f["severity"], "error");
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn rst_sent_to_the_client_only_shows_as_its_bare_rst() {
    need_root!();
    // The firewall resets only what the client sends, and only towards the client
    // (seed 004): the server hears nothing from it. The client sends again: the
    // firewall resets it, so its socket is gone when the server's next data arrives
    // and its kernel answers with a bare RST.
    let (flow, f) = middle_box_rst(
        "mbox1",
        &["tcp dport 8080 tcp flags & (syn | rst) == 0 reject with tcp reset"],
        true,
    );
    let ev = &f["evidence"];
    // The client's own kernel sent this RST (its usual TTL: 64 less the router's
    // hop), without ACK: it no longer had the connection. Medium: a rebooted peer looks the same.
    assert_eq!(ev["rst_ttl"], 63);
    assert_eq!(ev["rst_ack_flag"], false);
    assert_eq!(f["confidence"], "medium");
    assert!(findings_with_id(&flow, "rst.injected").is_empty());
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn sigint_mid_capture_still_writes_the_whole_report() {
    need_root!();
    let (mut lab, c, s) = pair("sigint");
    lab.serve(
        &s,
        8000,
        r#"
c, peer = ls.accept()
c.sendall(b"hello\n")
c.recv(100)
"#,
    );
    let cap = capture(&s, "s0")
        .duration("60s")
        .poll("200ms")
        .opt("--fail-on", "warning")
        .start();
    lab.python_until(
        &c,
        r#"
import socket, time
try:
    socket.create_connection(("192.0.2.1", 8001), timeout=2)
except ConnectionRefusedError:
    pass
s = socket.create_connection(("192.0.2.1", 8000), timeout=5)
s.recv(100)
print("connected", flush=True)
time.sleep(30)
"#,
        "connected",
    );
    std::thread::sleep(Duration::from_millis(800));
    let t = Instant::now();
    cap.interrupt();
    let (code, stdout) = cap.finish(Duration::from_secs(10));
    assert!(t.elapsed() < Duration::from_secs(5), "slow stop");
    // handshake.rejected is a warning: --fail-on warning gives 1.
    assert_eq!(code, 1);
    let doc = json(&stdout);
    let sum = &doc["summary"];
    assert_eq!(sum["complete"], true);
    assert_eq!(sum["capture"]["stop_reason"], "signal");
    assert!(sum["capture"]["sockets"]["polls"].as_u64().unwrap() >= 2);
    let open = flow_with(&doc, "server", "192.0.2.1:8000");
    assert_eq!(open["end_reason"], "end_of_capture");
    let socks = socket_events(open);
    assert!(!socks.is_empty(), "{open}");
    assert!(
        socks
            .iter()
            .all(|e| e["socket"]["local"] == "192.0.2.1:8000"
                && e["socket"]["state"] == "ESTABLISHED")
    );
    let refused = flow_with(&doc, "server", "192.0.2.1:8001");
    assert!(socket_events(refused).is_empty());
    assert!(!findings_with_id(refused, "handshake.rejected").is_empty());
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn sigterm_stops_cleanly_too() {
    need_root!();
    let (lab, c, s) = pair("sigterm");
    let cap = capture(&s, "any").duration("60s").start();
    let _ = lab.run_python(&c, CONNECT_REFUSED);
    std::thread::sleep(Duration::from_millis(300));
    run(Command::new("kill").args(["-TERM", &cap.child.id().to_string()]));
    let doc = cap.report(Duration::from_secs(10));
    assert_eq!(doc["summary"]["capture"]["stop_reason"], "signal");
    // `any` is opened as cooked v2, which names each frame's interface.
    assert_eq!(doc["summary"]["capture"]["link_type"], "LINUX_SLL2");
    // The refused connection, captured on any.
    let rej = flow_with(&doc, "conn_state", "REJ");
    // On "any" the cooked header marks this host's packets: the RST left from here.
    let f = findings_with_id(rej, "handshake.rejected");
    assert_eq!(f[0]["evidence"]["local_socket"]["this_host_sent_it"], true);
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn ndjson_streams_flows_while_capturing() {
    need_root!();
    let (lab, c, s) = pair("stream");
    let mut child = Command::new(BIN)
        .args(["capture", "--netns", &s, "-i", "s0", "--duration", "20s"])
        .args(["--format", "ndjson"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::sleep(Duration::from_millis(1000));
    // A refused connection is closed at once: it finishes after the close linger
    // (5 s) plus the clock lag, long before the capture ends.
    let _ = lab.run_python(&c, CONNECT_REFUSED);
    let line = rx.recv_timeout(Duration::from_secs(12));
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("a flow line before the capture ended");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["type"], "flow");
    assert_eq!(v["conn_state"], "REJ");
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn write_and_write_flagged_produce_readable_pcaps() {
    need_root!();
    let (mut lab, c, s) = pair("write");
    let dir = tempfile::tempdir().unwrap();
    let all = dir.path().join("all.pcap");
    let flagged = dir.path().join("flagged.pcap");
    lab.serve(
        &s,
        8000,
        r#"
c, peer = ls.accept()
c.sendall(b"hello\n")
c.close()
"#,
    );
    let cap = capture(&s, "s0")
        .filter("tcp")
        .duration("3s")
        .path("-w", &all)
        .path("--write-flagged", &flagged)
        .start();
    let _ = lab.run_python(
        &c,
        &format!(
            "{CONNECT_REFUSED}\ns = socket.create_connection(('192.0.2.1', 8000)); s.recv(10); s.close()"
        ),
    );
    let live = cap.report(Duration::from_secs(15));
    // The full file replays to the same flows; the flagged one holds only the
    // refused connection (the clean one has no findings).
    let all_doc = replay_json(&all);
    assert_eq!(
        all_doc["flows"].as_array().unwrap().len(),
        live["flows"].as_array().unwrap().len()
    );
    let flagged_doc = replay_json(&flagged);
    let ff = flagged_doc["flows"].as_array().unwrap();
    assert_eq!(ff.len(), 1, "{flagged_doc}");
    assert_eq!(ff[0]["conn_state"], "REJ");
    assert_eq!(ff[0]["server"], "192.0.2.1:9");
    // No spool left behind.
    let left = file_names(dir.path());
    assert_eq!(left.len(), 2, "{left:?}");
}

/// A tmpfs of `size` mounted on a fresh temporary directory, unmounted on drop.
struct SmallFs {
    dir: tempfile::TempDir,
}

impl SmallFs {
    fn mount(size: &str) -> SmallFs {
        let dir = tempfile::tempdir().unwrap();
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path()));
        SmallFs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).output();
    }
}

/// A bulk transfer (2 MB from the server) and a refused connection, while `cap` runs.
fn bulk_and_refused(lab: &mut Lab, c: &str, s: &str) {
    lab.serve(
        s,
        8000,
        r#"
c, peer = ls.accept()
c.sendall(b"x" * 2_000_000)
c.close()
"#,
    );
    let out = lab.run_python(
        c,
        &format!(
            "{CONNECT_REFUSED}\ns = socket.create_connection(('192.0.2.1', 8000))\nn = 0\nwhile True:\n d = s.recv(65536)\n if not d: break\n n += len(d)\nprint(n)"
        ),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2000000"), "the transfer ran: {text}");
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn a_full_disk_under_w_is_an_error_and_the_capture_goes_on() {
    need_root!();
    if !live_env::ready(&["mount", "umount"]) {
        return;
    }
    let (mut lab, c, s) = pair("fullw");
    let fs = SmallFs::mount("64k");
    let all = fs.path().join("all.pcap");
    let cap = capture(&s, "s0")
        .filter("tcp")
        .duration("3s")
        .opt("--snaplen", "2000")
        .path("-w", &all)
        .start();
    bulk_and_refused(&mut lab, &c, &s);
    let (code, stdout, stderr) = cap.finish_with_stderr(Duration::from_secs(15));
    assert_eq!(
        code, 2,
        "a file that could not be written is exit 2; {stderr}"
    );
    let errs: Vec<&str> = stderr.lines().filter(|l| l.contains("all.pcap")).collect();
    assert_eq!(errs.len(), 1, "one line about the file: {stderr}");
    assert!(
        errs[0].contains("No space left on device"),
        "the OS error: {}",
        errs[0]
    );
    let doc = json(&stdout);
    let sum = &doc["summary"];
    assert_eq!(sum["complete"], false);
    let errors = sum["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["file"], all.to_str().unwrap());
    assert!(errors[0]["message"]
        .as_str()
        .unwrap()
        .contains("No space left on device"));
    let first_missing = errors[0]["frame"].as_u64().unwrap();
    // The analysis went on past the failure: every frame is in the report.
    let frames = sum["capture"]["frames"].as_u64().unwrap();
    assert!(
        frames > first_missing + 100,
        "{frames} frames, file stopped at {first_missing}"
    );
    let bulk = flow_with(&doc, "server", "192.0.2.1:8000");
    assert_eq!(bulk["server_stats"]["payload_bytes"], 2_000_000, "{bulk}");
    // The file ends at a whole frame: it replays cleanly, frames 1 to first_missing - 1.
    let out = Command::new(BIN)
        .args(["replay", "--format", "json", all.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replayed = json(&out.stdout);
    assert_eq!(replayed["summary"]["packets"]["frames"], first_missing - 1);
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn a_full_disk_under_write_flagged_says_why_and_leaves_no_empty_file() {
    need_root!();
    if !live_env::ready(&["mount", "umount"]) {
        return;
    }
    let (mut lab, c, s) = pair("fullf");
    let fs = SmallFs::mount("64k");
    let flagged = fs.path().join("flagged.pcap");
    let cap = capture(&s, "s0")
        .filter("tcp")
        .duration("3s")
        .opt("--snaplen", "2000")
        .path("--write-flagged", &flagged)
        .start();
    bulk_and_refused(&mut lab, &c, &s);
    let (code, stdout, stderr) = cap.finish_with_stderr(Duration::from_secs(15));
    assert_eq!(code, 2, "{stderr}");
    let doc = json(&stdout);
    assert_eq!(doc["summary"]["complete"], false);
    let errors = doc["summary"]["errors"].as_array().unwrap();
    assert!(!errors.is_empty());
    for e in errors {
        assert_eq!(e["file"], flagged.to_str().unwrap(), "{e}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("No space left on device"),
            "{e}"
        );
    }
    for line in stderr.lines().filter(|l| l.contains("flagged.pcap")) {
        assert!(line.contains("No space left on device"), "{line}");
        assert!(!line.contains("truncated dump file"), "{line}");
    }
    // No spool left behind, and no empty or unreadable flagged file: either it is gone
    // or it replays.
    let left = file_names(fs.path());
    assert!(left.iter().all(|n| n == "flagged.pcap"), "{left:?}");
    if flagged.exists() {
        assert!(std::fs::metadata(&flagged).unwrap().len() > 24);
        let out = Command::new(BIN)
            .args(["replay", "--format", "json", flagged.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn time_wait_buildup_uses_the_hosts_port_range() {
    need_root!();
    let (mut lab, c, s) = pair("twait");
    // A tiny ephemeral range in the client's namespace: 12 closes use 60% of it.
    lab.sysctl(&c, "net.ipv4.ip_local_port_range=40000 40019");
    lab.server(
        &s,
        "192.0.2.1",
        7300,
        64,
        r#"
while True:
    c, peer = ls.accept()
    while c.recv(100):
        pass
    c.close()
"#,
    );
    let cap = capture(&c, "c0")
        .filter("tcp port 7300")
        .duration("3s")
        .poll("200ms")
        .opt("--timewait-min", "10")
        .start();
    lab.python_until(
        &c,
        r#"
import socket, time
for i in range(12):
    s = socket.create_connection(("192.0.2.1", 7300))
    s.sendall(b"x")
    s.close()
    time.sleep(0.02)
print("client done", flush=True)
"#,
        "client done",
    );
    let doc = cap.report(Duration::from_secs(20));
    let cap_sum = &doc["summary"]["capture"];
    assert_eq!(
        cap_sum["host"]["sysctls"]["net.ipv4.ip_local_port_range"],
        serde_json::json!([40000, 40019])
    );
    assert!(
        cap_sum["sockets"]["peak_by_state"]["TIME_WAIT"]
            .as_u64()
            .unwrap()
            >= 10
    );
    let f = first_finding(&doc, "timewait.buildup");
    assert_eq!(
        f["evidence"]["port_range"],
        serde_json::json!([40000, 40019])
    );
    assert_eq!(f["evidence"]["active_closes"], 12);
    assert_eq!(
        f["evidence"]["port_range_from"],
        "this host's net.ipv4.ip_local_port_range"
    );
    // The kernel's own count at the stop, as `tcpdiag sockets` reports it.
    let k = first_finding(&doc, "sock.timewait_buildup");
    assert_eq!(k["evidence"]["count"], 12, "{k}");
    assert_eq!(
        k["evidence"]["port_range"]["value"],
        serde_json::json!([40000, 40019])
    );
    assert_eq!(k["severity"], "error");
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn idle_sockets_without_packets_are_listed() {
    need_root!();
    let (mut lab, c, s) = pair("idle");
    lab.serve(
        &s,
        7400,
        r#"
c, peer = ls.accept()
time.sleep(30)
"#,
    );
    lab.python_until(
        &c,
        r#"
import socket, time
s = socket.create_connection(("192.0.2.1", 7400))
print("connected", flush=True)
time.sleep(30)
"#,
        "connected",
    );
    // The connection exists before the capture and stays silent during it.
    let cap = capture(&s, "s0").duration("1500ms").poll("200ms").start();
    let doc = cap.report(Duration::from_secs(15));
    assert!(doc["flows"].as_array().unwrap().is_empty());
    let socks = &doc["summary"]["capture"]["sockets"];
    assert_eq!(socks["without_packets"], 1, "{socks}");
    let ex = &socks["without_packets_examples"][0];
    assert_eq!(ex["local"], "192.0.2.1:7400");
    assert_eq!(ex["state"], "ESTABLISHED");
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn close_wait_threshold_applies_to_capture() {
    need_root!();
    let (mut lab, c, s) = pair("cwt");
    // The server accepts three connections and never closes them; the client closes
    // its ends, so the server's sockets sit in CLOSE_WAIT.
    lab.serve(
        &s,
        7410,
        r#"
held = [ls.accept()[0] for _ in range(3)]
time.sleep(30)
"#,
    );
    lab.python_until(
        &c,
        r#"
import socket, time
for _ in range(3):
    socket.create_connection(("192.0.2.1", 7410)).close()
print("closed", flush=True)
time.sleep(30)
"#,
        "closed",
    );
    let run = |extra: &[&str]| {
        let mut cmd = capture(&s, "s0").duration("1s").poll("200ms");
        for pair in extra.chunks(2) {
            cmd = cmd.opt(pair[0], pair[1]);
        }
        cmd.start().report(Duration::from_secs(15))
    };
    let doc = run(&["--close-wait-min", "3"]);
    let f = findings_with_id(&doc, "sock.close_wait_buildup");
    assert_eq!(f.len(), 1, "{:#}", doc["findings"]);
    assert_eq!(f[0]["evidence"]["count"], 3);
    // The default threshold (10): three are not a build-up.
    let quiet = run(&[]);
    assert!(findings_with_id(&quiet, "sock.close_wait_buildup").is_empty());
}

// ---- errors (no root needed for these) ----

/// A bad environment's error: exit status 2 and one line on stderr (returned).
fn one_line_error(out: &Output, what: &str) -> String {
    assert_eq!(out.status.code(), Some(2), "{what}");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    err
}

#[test]
fn missing_netns_is_a_one_line_error() {
    let out = Command::new(BIN)
        .args(["capture", "--netns", "tdcp-no-such-ns", "--duration", "1s"])
        .output()
        .unwrap();
    let err = one_line_error(&out, "capture");
    assert!(
        err.contains("tdcp-no-such-ns") || err.contains("CAP_SYS_ADMIN"),
        "{err}"
    );
}

#[test]
fn missing_interface_lists_the_interfaces() {
    let out = Command::new(BIN)
        .args(["capture", "-i", "tdcp-nonexistent0", "--duration", "1s"])
        .output()
        .unwrap();
    let err = one_line_error(&out, "capture");
    assert!(
        err.contains("no interface named 'tdcp-nonexistent0'"),
        "{err}"
    );
    assert!(err.contains("lo"), "{err}");
}

#[cfg_attr(
    all(not(tcpdiag_missing = "root"), tcpdiag_missing = "setpriv"),
    ignore = "needs setpriv when run as root"
)]
#[test]
fn without_cap_net_raw_the_error_says_so() {
    // Run as "nobody": as root, drop privileges with setpriv; otherwise we already
    // lack them.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("tcpdiag");
    std::fs::copy(BIN, &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    // As root the test needs setpriv; without it, it skips (or fails under TCPDIAG_CI).
    if is_root() && !live_env::tools(&["setpriv"]) {
        return;
    }
    let mut cmd = if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    let out = cmd
        .args(["capture", "-i", "lo", "--duration", "1s"])
        .output()
        .expect("run tcpdiag as nobody");
    let err = one_line_error(&out, "capture");
    assert!(err.contains("CAP_NET_RAW"), "{err}");
    assert!(err.contains("setcap"), "{err}");
}

#[cfg_attr(
    tcpdiag_lacks = "live",
    ignore = "needs root and ip, nft, python3, ss, sysctl (.ci/run installs them)"
)]
#[test]
fn unwritable_output_files_are_one_line_errors() {
    need_root!();
    let mut lab = Lab::new();
    let ns = lab.ns("wrerr");
    for flag in ["-w", "--write-flagged"] {
        let out = Command::new(BIN)
            .args(["capture", "--netns", &ns, "-i", "lo", "--duration", "1s"])
            .args([flag, "/nonexistent-tdcp/x.pcap"])
            .output()
            .unwrap();
        let err = one_line_error(&out, flag);
        assert!(
            err.contains("cannot write /nonexistent-tdcp/x.pcap: No such file"),
            "{err}"
        );
    }
}
