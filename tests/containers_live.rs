//! A container host built from namespaces, no Docker daemon needed: two
//! "containers" (c1, c2) on a bridge in a "host" namespace, the host masquerading
//! them to an "uplink" namespace and forwarding its ports 8080 and 8081 to c1's 80
//! (nginx) and 81 (a server that resets), with real clients (curl, Python) in the
//! uplink. `tcpdiag capture --netns HOST -i any` must see each forwarded connection
//! as one flow (the pre- and post-DNAT tuples joined through conntrack), find the
//! sockets in the right namespace with `--all-netns`, and never call the container's
//! RST "this host's"; `sockets --all-netns` must label the containers' sockets.
//! Root only; namespaces "tdct-{pid in base 36}-{test}-..." go away in a Drop guard.

mod live_env;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tcpdiag");

macro_rules! need_root {
    () => {
        if !live_env::ready(&["ip", "nft", "python3", "curl", "nginx", "ss"]) {
            return;
        }
    };
}

use live_env::{ip, run};

/// The container host: namespaces, processes and files, all removed on drop.
struct Host {
    host: String,
    c1: String,
    c2: String,
    up: String,
    children: Vec<Child>,
    dir: tempfile::TempDir,
    /// A cgroup made for a "container" process (removed after it is killed).
    cgroup: Option<std::path::PathBuf>,
}

const UPLINK: &str = "203.0.113.1";
const CLIENT: &str = "203.0.113.2";
const C1: &str = "10.89.0.2";
const C2: &str = "10.89.0.3";

impl Host {
    fn new(tag: &str) -> Host {
        let name = |what: &str| format!("tdct-{}-{tag}-{what}", live_env::run_id());
        let h = Host {
            host: name("host"),
            c1: name("c1"),
            c2: name("c2"),
            up: name("up"),
            children: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
            cgroup: None,
        };
        for ns in [&h.host, &h.c1, &h.c2, &h.up] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            h.sysctl(ns, "net.ipv6.conf.all.disable_ipv6=1");
        }
        h.sysctl(&h.host, "net.ipv4.ip_forward=1");
        ip(&["-n", &h.host, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &h.host, "addr", "add", "10.89.0.1/24", "dev", "br0"]);
        ip(&["-n", &h.host, "link", "set", "br0", "up"]);
        for (ns, dev, addr) in [(&h.c1, "vc1", C1), (&h.c2, "vc2", C2)] {
            h.veth(&h.host, dev, ns, "eth0");
            ip(&["-n", &h.host, "link", "set", dev, "master", "br0"]);
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", ns, "route", "add", "default", "via", "10.89.0.1"]);
        }
        h.veth(&h.host, "up0", &h.up, "eth0");
        ip(&[
            "-n",
            &h.host,
            "addr",
            "add",
            &format!("{UPLINK}/24"),
            "dev",
            "up0",
        ]);
        ip(&[
            "-n",
            &h.up,
            "addr",
            "add",
            &format!("{CLIENT}/24"),
            "dev",
            "eth0",
        ]);
        // Docker's rules, as nftables: port forwards, and masquerade out.
        h.nft(&format!(
            "table ip tdct {{\n\
              chain pre {{ type nat hook prerouting priority dstnat; policy accept;\n\
                iifname \"up0\" tcp dport 8080 dnat to {C1}:80\n\
                iifname \"up0\" tcp dport 8081 dnat to {C1}:81\n }}\n\
              chain post {{ type nat hook postrouting priority srcnat; policy accept;\n\
                oifname \"up0\" ip saddr 10.89.0.0/24 masquerade\n }}\n}}\n"
        ));
        // Neighbours resolved before anything is timed.
        for (ns, peer) in [(&h.up, UPLINK), (&h.c1, "10.89.0.1"), (&h.c2, "10.89.0.1")] {
            let _ = Command::new("ip")
                .args(["netns", "exec", ns, "ping", "-c1", "-W1", peer])
                .output();
        }
        h
    }

    fn sysctl(&self, ns: &str, kv: &str) {
        live_env::sysctl(ns, kv);
    }

    fn veth(&self, a: &str, a_dev: &str, b: &str, b_dev: &str) {
        live_env::veth_pair(a, a_dev, b, b_dev);
    }

    fn nft(&self, rules: &str) {
        use std::io::Write;
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.host, "nft", "-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("nft");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(rules.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "nft failed: {rules}");
    }

    /// A long-running program in `ns`; waits for a line with `ready` on its stdout
    /// (None: does not wait).
    fn spawn(&mut self, ns: &str, args: &[&str], ready: Option<&str>) -> u32 {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        if let Some(want) = ready {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(l) if l.contains(want) => break,
                    Ok(_) => {}
                    Err(_) => panic!("{args:?} did not say '{want}'"),
                }
            }
        }
        let pid = child.id();
        self.children.push(child);
        pid
    }

    fn python(&mut self, ns: &str, code: &str) -> u32 {
        let ns = ns.to_string();
        self.spawn(&ns, &["python3", "-u", "-c", code], Some("ready"))
    }

    /// nginx in c1 on port 80, serving one small page.
    fn nginx(&mut self) {
        let d = self.dir.path();
        std::fs::create_dir_all(d.join("www")).unwrap();
        std::fs::write(d.join("www/index.html"), "hello from c1\n").unwrap();
        let conf = format!(
            "user root;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
               server {{ listen 80; root {d}/www; }} }}\n",
            d = d.display()
        );
        let path = d.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let c1 = self.c1.clone();
        self.spawn(
            &c1,
            &["nginx", "-c", path.to_str().unwrap(), "-g", "daemon off;"],
            None,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self
            .exec(&self.c1, &["ss", "-Hltn", "sport = :80"])
            .contains("LISTEN")
        {
            assert!(Instant::now() < deadline, "nginx did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn exec(&self, ns: &str, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .output()
            .expect("spawn");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `curl http://UPLINK:8080/` from the uplink.
    fn curl(&self) {
        let body = self.exec(
            &self.up,
            &[
                "curl",
                "-s",
                "--max-time",
                "5",
                &format!("http://{UPLINK}:8080/"),
            ],
        );
        assert_eq!(body, "hello from c1\n");
    }

    /// Moves `pid` into a cgroup named as Docker names its containers' (v1 pids
    /// hierarchy, or the unified one): true when it could.
    fn dockerize(&mut self, pid: u32, id: &str) -> bool {
        for root in [
            "/sys/fs/cgroup/pids",
            "/sys/fs/cgroup/unified",
            "/sys/fs/cgroup",
        ] {
            let dir = std::path::Path::new(root).join("docker").join(id);
            if std::fs::create_dir_all(&dir).is_ok()
                && std::fs::write(dir.join("cgroup.procs"), pid.to_string()).is_ok()
            {
                self.cgroup = Some(dir);
                return true;
            }
            let _ = std::fs::remove_dir(&dir);
        }
        false
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        // nginx's worker is not our child: it dies with its namespace's master,
        // or here.
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("nginx.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).output();
        }
        if let Some(dir) = &self.cgroup {
            for _ in 0..50 {
                if std::fs::remove_dir(dir).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Some(parent) = dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
        for ns in [&self.host, &self.c1, &self.c2, &self.up] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// `tcpdiag capture` running in the background until its --duration ends.
struct Capture {
    child: Child,
    out: mpsc::Receiver<Vec<u8>>,
}

impl Capture {
    fn start(host: &Host, extra: &[&str]) -> Capture {
        let mut child = Command::new(BIN)
            .args([
                "capture", "--netns", &host.host, "-i", "any", "--format", "json",
            ])
            .args(["--poll", "200ms", "--duration", "6s"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdiag");
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = stdout.read_to_end(&mut b);
            let _ = tx.send(b);
        });
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        err.read_line(&mut line).unwrap();
        assert!(line.contains("capturing on"), "tcpdiag: {line}");
        std::thread::spawn(move || {
            for l in err.lines().map_while(Result::ok) {
                eprintln!("{l}");
            }
        });
        Capture { child, out: rx }
    }

    fn report(mut self) -> Value {
        let out = self
            .out
            .recv_timeout(Duration::from_secs(30))
            .expect("capture did not end");
        let status = self.child.wait().unwrap();
        assert!(matches!(status.code(), Some(0 | 1)), "exit {status:?}");
        serde_json::from_slice(&out)
            .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out)))
    }
}

fn flows_to<'a>(doc: &'a Value, server: &str) -> Vec<&'a Value> {
    doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["server"] == server)
        .collect()
}

fn finding<'a>(flow: &'a Value, id: &str) -> &'a Value {
    flow["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {flow}"))
}

/// A server in c1 on port 81 that reads one byte of a request and closes with the
/// rest unread after a second (Linux resets instead of sending a FIN).
const RESETS: &str = "import socket, time\n\
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
ls.bind(('0.0.0.0', 81)); ls.listen(4); print('ready', flush=True)\n\
while True:\n c, _ = ls.accept(); c.recv(1); time.sleep(1.2); c.close()\n";

/// The uplink's client of port 8081: sends 6 bytes and waits for the reset.
fn reset_client() -> String {
    format!(
        "import socket, time\n\
         s = socket.create_connection(('{UPLINK}', 8081)); s.sendall(b'hello!')\n\
         try:\n s.settimeout(4); s.recv(10)\nexcept OSError:\n pass\n"
    )
}

/// A server in the uplink on port 9000 that says hi (c2 connects out to it).
const HI: &str = "import socket, time\n\
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
ls.bind(('0.0.0.0', 9000)); ls.listen(4); print('ready', flush=True)\n\
while True:\n c, _ = ls.accept(); c.sendall(b'hi'); time.sleep(0.5); c.close()\n";

#[cfg_attr(
    tcpdiag_lacks = "containers",
    ignore = "needs root and ip, nft, python3, curl, nginx, ss (.ci/run installs them)"
)]
#[test]
fn port_forwards_are_one_flow_with_the_container_socket() {
    need_root!();
    let mut h = Host::new("fwd");
    h.nginx();
    h.python(&h.c1.clone(), RESETS);
    h.python(&h.up.clone(), HI);
    let cap = Capture::start(&h, &["--all-netns"]);
    std::thread::sleep(Duration::from_millis(500));
    h.curl();
    // A keep-alive client that holds its connection open past a few polls, so
    // nginx's socket is seen (curl's lasts a millisecond).
    let held = h.exec(
        &h.up,
        &[
            "python3",
            "-c",
            &format!(
                "import socket, time\n\
                 s = socket.create_connection(('{UPLINK}', 8080))\n\
                 s.sendall(b'GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'); time.sleep(0.2)\n\
                 print(b'hello from c1' in s.recv(4096)); time.sleep(0.8)"
            ),
        ],
    );
    assert_eq!(held.trim(), "True");
    let out = h.exec(&h.up, &["python3", "-c", &reset_client()]);
    assert!(out.is_empty(), "{out}");
    // c2 connects out through the masquerade.
    let got = h.exec(
        &h.c2,
        &[
            "python3",
            "-c",
            &format!("import socket; s = socket.create_connection(('{CLIENT}', 9000)); print(s.recv(2).decode())"),
        ],
    );
    assert_eq!(got.trim(), "hi");
    let doc = cap.report();

    // Each forwarded connection is one flow under the tuple the uplink saw, which
    // knows its translation; none is left under the container's address.
    let web = flows_to(&doc, &format!("{UPLINK}:8080"));
    assert_eq!(web.len(), 2, "{:#}", doc["flows"]);
    for f in &web {
        let nat = &f["nat"];
        assert_eq!(nat["original"]["dst"], format!("{UPLINK}:8080"), "{f}");
        assert_eq!(nat["reply"]["src"], format!("{C1}:80"));
        assert_eq!(nat["dnat"], true);
        assert_eq!(nat["snat"], false);
        assert!(nat["copies"].as_u64().unwrap() > 0, "{nat}");
        assert_eq!(f["conn_state"], "SF");
        // The client's socket lives in the uplink; the server's, when a poll saw
        // it, in c1.
        assert_eq!(f["socket_netns"]["client"]["name"], h.up.as_str(), "{f}");
        let server = &f["socket_netns"]["server"];
        assert!(server.is_null() || server["name"] == h.c1.as_str(), "{f}");
    }
    // The held connection's nginx socket was seen, in c1, under its own address.
    let seen: Vec<&&Value> = web
        .iter()
        .filter(|f| f["socket_netns"]["server"]["name"] == h.c1.as_str())
        .collect();
    assert_eq!(seen.len(), 1, "{web:?}");
    assert!(seen[0]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["socket"]["local"] == format!("{C1}:80")));
    assert!(flows_to(&doc, &format!("{C1}:80")).is_empty());
    assert!(flows_to(&doc, &format!("{C1}:81")).is_empty());

    // The container's RST is its socket's, not this host's.
    let reset = flows_to(&doc, &format!("{UPLINK}:8081"));
    assert_eq!(reset.len(), 1, "{:#}", doc["flows"]);
    let f = finding(reset[0], "rst.server");
    let ev = &f["evidence"]["local_socket"];
    assert_eq!(ev["this_host_sent_it"], false, "{f}");
    assert_eq!(ev["socket_sent_it"], true);
    assert_eq!(ev["netns"]["name"], h.c1.as_str());
    assert_eq!(ev["socket"], format!("{C1}:81"));
    assert_eq!(ev["rst_cause"], "closed_with_unread_data");
    let text = f["summary"].as_str().unwrap();
    assert!(!text.contains("This host"), "{text}");
    assert!(
        text.contains(&format!(
            "The server's socket {C1}:81 in network namespace '{}'",
            h.c1
        )),
        "{text}"
    );

    // c2's connection out: one flow, its source masqueraded.
    let out = flows_to(&doc, &format!("{CLIENT}:9000"));
    assert_eq!(out.len(), 1, "{:#}", doc["flows"]);
    assert_eq!(out[0]["nat"]["snat"], true, "{}", out[0]);
    assert_eq!(
        out[0]["nat"]["original"]["src"]
            .as_str()
            .unwrap()
            .split(':')
            .next(),
        Some(C2)
    );
    assert_eq!(out[0]["socket_netns"]["client"]["name"], h.c2.as_str());

    let sockets = &doc["summary"]["capture"]["sockets"];
    let ct = &sockets["conntrack"];
    assert_eq!(ct["available"], true);
    assert!(ct["flows_merged"].as_u64().unwrap() >= 4, "{ct}");
    let polled: Vec<&str> = sockets["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    for ns in [&h.c1, &h.c2, &h.up] {
        assert!(polled.contains(&ns.as_str()), "{polled:?}");
    }
    assert_eq!(doc["summary"]["flows"]["flows"], 4);
}

#[cfg_attr(
    tcpdiag_lacks = "containers",
    ignore = "needs root and ip, nft, python3, curl, nginx, ss (.ci/run installs them)"
)]
#[test]
fn a_forwarded_reset_is_not_this_host_s_without_the_container_socket() {
    need_root!();
    let mut h = Host::new("rst");
    h.python(&h.c1.clone(), RESETS);
    // Conntrack only: the container's namespace is not polled.
    let cap = Capture::start(&h, &[]);
    std::thread::sleep(Duration::from_millis(500));
    h.exec(&h.up, &["python3", "-c", &reset_client()]);
    let doc = cap.report();
    let reset = flows_to(&doc, &format!("{UPLINK}:8081"));
    assert_eq!(reset.len(), 1, "{:#}", doc["flows"]);
    assert!(flows_to(&doc, &format!("{C1}:81")).is_empty());
    assert!(reset[0].get("socket_netns").is_none());
    let f = finding(reset[0], "rst.server");
    let text = f["summary"].as_str().unwrap();
    assert!(!text.contains("This host sent it"), "{text}");
    assert!(
        text.contains(&format!("forwarded (DNAT) to {C1}:81")),
        "{text}"
    );
    assert_eq!(f["evidence"]["nat"]["this_host_sent_it"], false);
    assert_eq!(f["evidence"]["nat"]["address"], format!("{UPLINK}:8081"));
    assert!(f["evidence"].get("local_socket").is_none(), "{f}");
}

#[cfg_attr(
    tcpdiag_lacks = "containers",
    ignore = "needs root and ip, nft, python3, curl, nginx, ss (.ci/run installs them)"
)]
#[test]
fn sockets_all_netns_labels_the_containers_sockets() {
    need_root!();
    let mut h = Host::new("sk");
    h.nginx();
    // A "container" process in c2 holding a connection to the uplink, in a cgroup
    // named as Docker names its containers'.
    h.python(&h.up.clone(), HI);
    let id = "3f4c5d8e9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d";
    let holder = h.python(
        &h.c2.clone(),
        &format!(
            "import socket, time\ns = socket.create_connection(('{CLIENT}', 9000)); print('ready', flush=True); time.sleep(30)"
        ),
    );
    let docker = h.dockerize(holder, id);
    let out = run(Command::new(BIN).args(["sockets", "--all-netns", "--format", "json"]));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let socks = doc["sockets"].as_array().unwrap();
    // Every socket carries its namespace.
    assert!(socks.iter().all(|s| s["netns"]["inode"].as_u64().is_some()));
    let in_ns = |name: &str| -> Vec<&Value> {
        socks
            .iter()
            .filter(|s| s["netns"]["name"] == name)
            .collect()
    };
    let c1 = in_ns(&h.c1);
    assert!(
        c1.iter()
            .any(|s| s["state"] == "LISTEN" && s["local"] == "0.0.0.0:80"),
        "{c1:?}"
    );
    assert!(c1.iter().all(|s| s["netns"]["pid"].as_u64().is_some()));
    let c2 = in_ns(&h.c2);
    assert!(
        c2.iter().any(|s| s["state"] == "ESTABLISHED"
            && s["local"].as_str().unwrap().starts_with(C2)
            && s["peer"] == format!("{CLIENT}:9000")),
        "{c2:?}"
    );
    // The host's namespace has neither (the same addresses are not mixed up).
    assert!(in_ns(&h.host).iter().all(|s| s["local"] != "0.0.0.0:80"));
    if docker {
        assert_eq!(c2[0]["netns"]["pid"], holder);
        assert_eq!(
            c2[0]["netns"]["container"]["runtime"], "docker",
            "{}",
            c2[0]
        );
        assert_eq!(c2[0]["netns"]["container"]["id"], id);
    } else {
        eprintln!("no writable cgroup hierarchy: the docker label was not checked");
    }
    let listed: Vec<&str> = doc["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    for ns in [&h.host, &h.c1, &h.c2, &h.up] {
        assert!(listed.contains(&ns.as_str()), "{listed:?}");
    }
    // watch --all-netns polls them too.
    let out = run(Command::new(BIN).args([
        "watch",
        "--all-netns",
        "--count",
        "2",
        "--interval",
        "100ms",
        "--format",
        "ndjson",
    ]));
    let polls = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"type\":\"poll\""))
        .count();
    assert_eq!(polls, 2);
}
