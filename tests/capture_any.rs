//! `tcpdiag capture` on `any` in the host namespace of a container host built with ip and
//! bridge (no Docker daemon): two "containers" on a bridge, an uplink the host routes
//! to, real servers (nginx, Python's http.server) and real clients (curl). Every packet
//! crosses two or three of the host's interfaces, and `any` shows it on each; the
//! report must still have one flow per connection, no analysis label or finding made
//! of the copies, and each packet's path through the host.
//!
//! Root only (CI runs as root); without root or the tools the test says so and returns
//! (TCPDIAG_CI turns that into a failure). Namespaces "tdca-{pid in base 36}-*" go
//! away in a Drop guard, with the processes started in them.

mod common;
mod live_env;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tcpdiag");

use live_env::{ip, run};

/// Namespaces and the processes started in them, removed on drop.
struct Lab {
    names: Vec<String>,
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        Lab {
            names: Vec::new(),
            children: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn ns(&mut self, what: &str) -> String {
        let name = format!("tdca-{}-{what}", live_env::run_id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        self.names.push(name.clone());
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        self.exec(
            &name,
            &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"],
        );
        self.exec(
            &name,
            &["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"],
        );
        name
    }

    fn exec(&self, ns: &str, args: &[&str]) -> Output {
        run(Command::new("ip").args(["netns", "exec", ns]).args(args))
    }

    /// A veth pair, offloads off (wire-sized segments), both ends up.
    fn veth(&self, a: &str, a_dev: &str, b: &str, b_dev: &str) {
        live_env::veth_pair(a, a_dev, b, b_dev);
    }

    fn spawn(&mut self, ns: &str, args: &[&str]) {
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        self.children.push(child);
    }

    /// Waits until an HTTP GET of `url` from `ns` succeeds (servers starting up).
    fn wait_http(&self, ns: &str, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ok = Command::new("ip")
                .args(["netns", "exec", ns, "curl", "-sf", "-o", "/dev/null", url])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "{url} not served from {ns}");
            std::thread::sleep(Duration::from_millis(100));
        }
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
        }
    }
}

/// nginx serving "hello" on `addr`:80 in `ns`, configured in the lab's directory.
fn nginx(lab: &mut Lab, ns: &str, addr: &str) {
    let dir = lab.dir.path().join("nginx");
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/index.html"), "hello\n").unwrap();
    let d = dir.display();
    let conf = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n access_log off;\n client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n\
         server {{ listen {addr}:80; root {d}/www; }}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let path = path.to_string_lossy().into_owned();
    lab.spawn(ns, &["nginx", "-c", &path, "-g", "daemon off;"]);
}

/// Runs `tcpdiag capture ARGS`, waits until it says it is capturing; returns the
/// child and its standard output (whole, once it exits).
fn start_capture(args: &[&str]) -> (Child, mpsc::Receiver<Vec<u8>>) {
    let mut child = Command::new(BIN)
        .arg("capture")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tcpdiag");
    let mut out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        let _ = tx.send(buf);
    });
    let err = child.stderr.take().unwrap();
    let (etx, erx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            eprintln!("{line}");
            let _ = etx.send(line);
        }
    });
    let first = erx
        .recv_timeout(Duration::from_secs(15))
        .expect("tcpdiag did not start");
    assert!(first.contains("capturing on"), "tcpdiag: {first}");
    (child, rx)
}

fn flows_to<'a>(doc: &'a Value, server: &str) -> Vec<&'a Value> {
    doc["flows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["server"] == server)
        .collect()
}

/// The interface names of each of a flow's paths: (dir, names, packets).
fn paths(flow: &Value) -> Vec<(String, Vec<String>, u64)> {
    flow["paths"]
        .as_array()
        .unwrap_or_else(|| panic!("no paths: {flow}"))
        .iter()
        .map(|p| {
            (
                p["dir"].as_str().unwrap().to_string(),
                p["interfaces"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap().to_string())
                    .collect(),
                p["packets"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[cfg_attr(
    tcpdiag_lacks = "capture_any",
    ignore = "needs root and ip, nginx, curl, python3, sysctl (.ci/run installs them)"
)]
#[test]
fn any_on_a_container_host_counts_each_packet_once_and_records_its_path() {
    if !live_env::ready(&["ip", "nginx", "curl", "python3", "sysctl"]) {
        return;
    }
    // ctr1 10.88.0.2 --veth-- vethc1 \
    //                                 br0 10.88.0.1 (host) -- eth0 198.51.100.1 --veth-- outside
    // ctr2 10.88.0.3 --veth-- vethc2 /                                       198.51.100.10
    let mut lab = Lab::new();
    let host = lab.ns("host");
    let ctr1 = lab.ns("ctr1");
    let ctr2 = lab.ns("ctr2");
    let outside = lab.ns("out");
    ip(&["-n", &host, "link", "add", "br0", "type", "bridge"]);
    ip(&[
        "-n",
        &host,
        "link",
        "set",
        "br0",
        "type",
        "bridge",
        "stp_state",
        "0",
    ]);
    ip(&["-n", &host, "link", "set", "br0", "up"]);
    ip(&["-n", &host, "addr", "add", "10.88.0.1/24", "dev", "br0"]);
    for (ctr, veth, addr) in [
        (&ctr1, "vethc1", "10.88.0.2/24"),
        (&ctr2, "vethc2", "10.88.0.3/24"),
    ] {
        lab.veth(ctr, "eth0", &host, veth);
        ip(&["-n", &host, "link", "set", veth, "master", "br0"]);
        ip(&["-n", ctr, "addr", "add", addr, "dev", "eth0"]);
        ip(&["-n", ctr, "route", "add", "default", "via", "10.88.0.1"]);
    }
    lab.veth(&host, "eth0", &outside, "eth0");
    ip(&["-n", &host, "addr", "add", "198.51.100.1/24", "dev", "eth0"]);
    ip(&[
        "-n",
        &outside,
        "addr",
        "add",
        "198.51.100.10/24",
        "dev",
        "eth0",
    ]);
    ip(&[
        "-n",
        &outside,
        "route",
        "add",
        "10.88.0.0/24",
        "via",
        "198.51.100.1",
    ]);
    lab.exec(&host, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);

    nginx(&mut lab, &ctr2, "10.88.0.3");
    let www = lab.dir.path().to_string_lossy().into_owned();
    lab.spawn(
        &outside,
        &[
            "python3",
            "-m",
            "http.server",
            "--bind",
            "198.51.100.10",
            "--directory",
            &www,
            "8080",
        ],
    );
    lab.spawn(
        &host,
        &[
            "python3",
            "-m",
            "http.server",
            "--bind",
            "10.88.0.1",
            "--directory",
            &www,
            "8081",
        ],
    );
    // Servers up and neighbours resolved before the capture starts.
    lab.wait_http(&ctr1, "http://10.88.0.3/");
    lab.wait_http(&ctr1, "http://198.51.100.10:8080/");
    lab.wait_http(&ctr2, "http://10.88.0.1:8081/");

    // The default interface is `any`.
    let (mut child, stdout) = start_capture(&[
        "--netns",
        &host,
        "-f",
        "tcp",
        "--duration",
        "4s",
        "--format",
        "json",
        "--timeline",
        "full",
    ]);
    for _ in 0..2 {
        lab.exec(
            &ctr1,
            &["curl", "-sf", "-o", "/dev/null", "http://10.88.0.3/"],
        );
        lab.exec(
            &ctr1,
            &[
                "curl",
                "-sf",
                "-o",
                "/dev/null",
                "http://198.51.100.10:8080/",
            ],
        );
    }
    lab.exec(
        &ctr2,
        &["curl", "-sf", "-o", "/dev/null", "http://10.88.0.1:8081/"],
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("tcpdiag capture did not stop");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = stdout.recv_timeout(Duration::from_secs(5)).unwrap();
    if let Some(path) = std::env::var_os("TDCP_DUMP") {
        let _ = std::fs::write(path, &out);
    }
    assert_eq!(status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out).expect("JSON report");

    assert_eq!(doc["summary"]["capture"]["link_type"], "LINUX_SLL2");
    let packets = &doc["summary"]["packets"];
    let copies = packets["interface_duplicates"].as_u64().unwrap();
    assert!(copies > 0, "{packets}");
    assert_eq!(
        packets["frames"].as_u64().unwrap(),
        packets["tcp_segments"].as_u64().unwrap() + copies,
        "{packets}"
    );

    // One flow per connection, each clean: no label, no finding from the copies.
    let all = doc["flows"].as_array().unwrap();
    assert_eq!(
        all.len(),
        5,
        "{:#?}",
        all.iter()
            .map(|f| (&f["client"], &f["server"]))
            .collect::<Vec<_>>()
    );
    for f in all {
        assert_eq!(f["conn_state"], "SF", "{}", f["history"]);
        assert!(
            f["findings"].as_array().unwrap().is_empty(),
            "{}: {}",
            f["server"],
            f["findings"]
        );
        // The default snaplen cuts the pages: that label is the only one expected.
        for e in f["timeline"].as_array().unwrap() {
            let labels = e["analysis"].as_array().map_or(&[][..], |a| &a[..]);
            assert!(
                labels.iter().all(|l| l == "payload cut by snaplen"),
                "{}: {e}",
                f["server"]
            );
        }
    }
    let listed: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["id"].as_str())
        .filter(|id| id.starts_with("handshake.") || id.starts_with("retransmit."))
        .collect();
    assert!(listed.is_empty(), "{listed:?}");

    // Each packet's path, by the interfaces' names in the host namespace.
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for (server, count, c2s, s2c) in [
        (
            "10.88.0.3:80",
            2,
            &["vethc1", "vethc2"][..],
            &["vethc2", "vethc1"][..],
        ),
        (
            "198.51.100.10:8080",
            2,
            &["vethc1", "br0", "eth0"][..],
            &["eth0", "br0", "vethc1"][..],
        ),
        (
            "10.88.0.1:8081",
            1,
            &["vethc2", "br0"][..],
            &["br0", "vethc2"][..],
        ),
    ] {
        let flows = flows_to(&doc, server);
        assert_eq!(flows.len(), count, "{server}");
        for f in flows {
            let p = paths(f);
            let sent = |side: &str| f[side]["packets"].as_u64().unwrap();
            assert_eq!(
                p,
                vec![
                    ("c>s".to_string(), names(c2s), sent("client_stats")),
                    ("s>c".to_string(), names(s2c), sent("server_stats")),
                ],
                "{server}"
            );
        }
    }
}
