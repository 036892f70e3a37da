//! The terminal output as a person sees it: the binary runs on a pseudo-terminal of a
//! given width (openpty), so colour, borders and width come from the terminal and
//! the locale, not from flags. Also the wall-clock times (TZ fixed per run) and the
//! SYN-flood table.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

use common::*;
use nix::pty::{openpty, Winsize};

/// Runs tcpdiag with standard output on a terminal `cols` wide. The environment is
/// this test's without anything that changes the terminal output, plus `env`.
fn on_pty(args: &[&str], cols: u16, env: &[(&str, &str)]) -> String {
    let ws = Winsize {
        ws_row: 50,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(Some(&ws), None).expect("openpty");
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(pty.slave))
        .stderr(Stdio::piped());
    for k in [
        "COLUMNS", "NO_COLOR", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "TZ",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("TERM", "xterm-256color").env("LANG", "C.UTF-8");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn tcpdiag");
    // The slave is now only the child's: reading the master ends (EIO) when it exits.
    drop(cmd);
    let mut master = std::fs::File::from(pty.master);
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let status = child.wait().expect("wait");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        status.code().is_some_and(|c| c <= 1),
        "{args:?}: {status:?}\n{err}"
    );
    // The terminal turns "\n" into "\r\n".
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        if esc {
            esc = !c.is_ascii_alphabetic();
        } else if c == '\x1b' {
            esc = true;
        } else {
            out.push(c);
        }
    }
    out
}

fn widest(s: &str) -> usize {
    strip_ansi(s)
        .lines()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
}

fn replay_table(fixture_name: &str) -> Vec<String> {
    vec!["replay".into(), fixture_arg(fixture_name)]
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn the_table_fits_80_columns_and_is_coloured() {
    let a = replay_table("dns_banner_stall.pcap");
    let out = on_pty(&args(&a), 80, &[]);
    assert!(widest(&out) <= 80, "wider than 80:\n{out}");
    // A terminal gets colour: the severity in yellow, the conn_state SF in green.
    assert!(out.contains("\x1b[33mWARNING\x1b[0m"), "{out}");
    assert!(out.contains("\x1b[32mSF\x1b[0m"), "{out}");
    let plain = strip_ansi(&out);
    // The columns that matter most are still there; evidence is key: value lines.
    for col in ["ID", "START", "CLIENT", "SERVER", "STATE", "FINDINGS"] {
        assert!(
            plain.lines().next().unwrap().contains(col),
            "{col}:\n{plain}"
        );
    }
    assert!(plain.contains("            wait_s:"), "{plain}");
    assert!(
        !plain.contains("evidence: {"),
        "raw JSON evidence:\n{plain}"
    );
    // Wider terminals get more columns back.
    let wide = strip_ansi(&on_pty(&args(&a), 200, &[]));
    assert!(wide.contains("PKTS c/s") && wide.contains('│'), "{wide}");
    assert!(widest(&wide) <= 200);
}

#[test]
fn every_fixture_fits_a_narrow_terminal() {
    for f in [
        "half_open_flood.pcap",
        "ipv6.pcap",
        "rst_injected_router.pcap",
        "timewait_reuse.pcap",
    ] {
        let a = replay_table(f);
        for cols in [60u16, 100] {
            let out = on_pty(&args(&a), cols, &[]);
            // Evidence values can be single words longer than a line (a DNS name);
            // everything else fits.
            let too_wide: Vec<&str> = out
                .lines()
                .filter(|l| strip_ansi(l).chars().count() > usize::from(cols))
                .filter(|l| strip_ansi(l).trim().contains(' '))
                .collect();
            assert!(too_wide.is_empty(), "{f} at {cols}: {too_wide:#?}");
        }
    }
}

#[test]
fn no_color_never_and_always() {
    let a = replay_table("dns_banner_stall.pcap");
    let out = on_pty(&args(&a), 120, &[("NO_COLOR", "1")]);
    assert!(!out.contains('\x1b'), "NO_COLOR:\n{out}");
    let mut never = args(&a);
    never.extend(["--color", "never"]);
    assert!(!on_pty(&never, 120, &[]).contains('\x1b'));
    // --color always colours even into a pipe, and beats NO_COLOR.
    let r = run_with_env(
        &[
            "replay",
            &fixture_arg("dns_banner_stall.pcap"),
            "--format",
            "table",
            "--color",
            "always",
        ],
        &[("NO_COLOR", "1")],
    );
    assert!(
        r.stdout_str().contains("\x1b[33mWARNING"),
        "{}",
        r.describe()
    );
    // A pipe gets no colour by default.
    let r = run([
        "replay",
        &fixture_arg("dns_banner_stall.pcap"),
        "--format",
        "table",
    ]);
    assert!(!r.stdout_str().contains('\x1b'), "{}", r.describe());
}

fn run_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("spawn");
    Run {
        args: args.iter().map(|s| s.to_string()).collect(),
        code: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn ascii_borders_outside_a_utf8_locale() {
    let a = replay_table("dns_banner_stall.pcap");
    let out = on_pty(&args(&a), 200, &[("LC_ALL", "C")]);
    assert!(out.lines().next().unwrap().starts_with("+----+"), "{out}");
    assert!(strip_ansi(&out).is_ascii(), "{out}");
    let out = on_pty(&args(&a), 200, &[("TERM", "dumb")]);
    assert!(
        !out.contains('\x1b') && out.starts_with("+----+"),
        "TERM=dumb:\n{out}"
    );
    let out = on_pty(&args(&a), 200, &[]);
    assert!(out.contains("┌────┬"), "UTF-8:\n{out}");
}

#[test]
fn sockets_table_fits_80_columns() {
    // Sockets of our own: a listener and a connection to it.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let _c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _s = l.accept().unwrap();
    let sport = port.to_string();
    let out = on_pty(&["sockets", "--sport", &sport], 80, &[]);
    assert!(out.contains("LISTEN"), "{out}");
    assert!(widest(&out) <= 80, "wider than 80:\n{out}");
    let out = on_pty(&["sockets", "--sport", &sport], 80, &[("LC_ALL", "C")]);
    assert!(strip_ansi(&out).is_ascii(), "{out}");
}

#[test]
fn wall_clock_times_in_the_table_findings_and_timelines() {
    let f = fixture_arg("dns_banner_stall.pcap");
    // The capture's first packet is 2026-11-21T23:44:11.307055Z.
    let utc = run_with_env(&["replay", &f, "--format", "table"], &[("TZ", "UTC")]);
    let out = utc.stdout_str();
    assert!(out.contains("│ 23:44:11 │"), "START column:\n{out}");
    assert!(
        out.contains("at 2026-11-21 23:44:11.307"),
        "finding time:\n{out}"
    );
    // POSIX TZ strings need no zone database: UTC+05:30.
    let ist = run_with_env(
        &[
            "replay",
            &f,
            "--format",
            "table",
            "--timeline",
            "--time",
            "abs",
        ],
        &[("TZ", "IST-5:30")],
    );
    let out = ist.stdout_str();
    assert!(out.contains("│ 05:14:11 │"), "START in +05:30:\n{out}");
    assert!(out.contains("at 2026-11-22 05:14:11.307"), "{out}");
    assert!(out.contains("times are local (UTC+05:30)"), "{out}");
    assert!(
        out.contains("05:14:11.307055  c>s  SYN"),
        "--time abs:\n{out}"
    );
    let u = run_with_env(
        &[
            "replay",
            &f,
            "--format",
            "table",
            "--timeline",
            "--time",
            "utc",
        ],
        &[("TZ", "IST-5:30")],
    );
    assert!(
        u.stdout_str().contains("23:44:11.307055Z  c>s  SYN"),
        "{}",
        u.describe()
    );
    let rel = run(["replay", &f, "--format", "table", "--timeline"]);
    assert!(
        rel.stdout_str().contains("0.000000  c>s  SYN"),
        "{}",
        rel.describe()
    );
}

#[test]
fn a_syn_flood_is_one_row_after_a_per_server_summary() {
    let r = run_with_env(
        &[
            "replay",
            &fixture_arg("half_open_flood.pcap"),
            "--format",
            "table",
        ],
        &[("TZ", "UTC")],
    );
    let out = r.stdout_str();
    let servers = out.find("│ SERVER").expect("servers table");
    let flows = out
        .find("│ CLIENT")
        .or_else(|| out.find("CLIENT"))
        .expect("flows table");
    assert!(servers < flows, "the servers come first:\n{out}");
    assert!(
        out.contains("│ 192.0.2.1:80 │   201 │ S1 200, SF 1 │")
            && out.contains("handshake.half_open_flood"),
        "{out}"
    );
    assert!(out.contains("200 flows, 4 clients"), "{out}");
    // 200 half-open flows are one row: the flows table has 2 rows, not 201.
    let table_rows = out
        .lines()
        .filter(|l| l.starts_with("│ ") && l.contains("192.0.2.1:80") && !l.contains("│   201 │"))
        .count();
    assert_eq!(table_rows, 2, "{out}");
}
