//! Output of the live socket commands: the `sockets` document (JSON, NDJSON, table),
//! the `host` context, and `watch`'s event stream (NDJSON lines or text lines).
//! Keys are documented in docs/json.md ("Live sockets").

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, Write};

use serde::Serialize;

use super::grid::{Border, Cell, Column, Grid};
use super::json::{write_summary_line, write_tagged_line, TOOL, VERSION};
use super::style::{self, Paint};
use super::text::finding_text;
use super::{FindingCounts, FindingOut, FindingsOut, Format, Utc};
use crate::analyze::sockets::{death_estimate, socket_findings, SocketSummary};
use crate::analyze::Finding;
use crate::live::diff::Change;
use crate::model::host::HostContext;
use crate::model::socket::{Snapshot, SocketInfo, TcpState, Timer};
use crate::model::units::human_bytes;

/// Rows printed by the table; JSON has every socket.
pub const MAX_SOCKET_ROWS: usize = 2000;

/// The ids of the findings about socket `s` (`per` from `socket_findings`).
fn ids_of<'a>(per: &'a HashMap<u64, Vec<&'static str>>, s: &SocketInfo) -> &'a [&'static str] {
    per.get(&s.cookie).map(Vec::as_slice).unwrap_or(&[])
}

#[derive(Serialize)]
struct SocketOut<'a> {
    #[serde(flatten)]
    socket: &'a SocketInfo,
    /// Ids of the findings that concern this socket.
    findings: &'a [&'static str],
}

#[derive(Serialize)]
struct SummaryOut<'a> {
    #[serde(flatten)]
    summary: &'a SocketSummary,
    findings: FindingCounts,
}

/// The `sockets` JSON document, one socket per line inside `sockets`.
pub fn write_json<W: Write>(
    w: &mut W,
    snap: &Snapshot,
    summary: &SocketSummary,
    findings: &[Finding],
    findings_only: bool,
) -> io::Result<()> {
    let per = socket_findings(snap, findings);
    write!(
        w,
        "{{\"tool\":\"{TOOL}\",\"version\":\"{VERSION}\",\"command\":\"sockets\",\"at\":{},\"at_utc\":\"{}\",\"netns\":",
        snap.at,
        super::clock::rfc3339_utc(snap.at)
    )?;
    serde_json::to_writer(&mut *w, &snap.netns)?;
    if let Some(ns) = &snap.namespaces {
        w.write_all(b",\n\"namespaces\":")?;
        serde_json::to_writer(&mut *w, ns)?;
    }
    w.write_all(b",\n\"host\":")?;
    serde_json::to_writer(&mut *w, &snap.host)?;
    w.write_all(b",\n\"sockets\":[")?;
    let mut first = true;
    for s in &snap.sockets {
        let ids = ids_of(&per, s);
        if findings_only && ids.is_empty() {
            continue;
        }
        w.write_all(if first { b"\n" } else { b",\n" })?;
        first = false;
        serde_json::to_writer(
            &mut *w,
            &SocketOut {
                socket: s,
                findings: ids,
            },
        )?;
    }
    w.write_all(b"\n],\n\"findings\":")?;
    serde_json::to_writer(&mut *w, &FindingsOut(findings))?;
    w.write_all(b",\n\"summary\":")?;
    serde_json::to_writer(
        &mut *w,
        &SummaryOut {
            summary,
            findings: FindingCounts::of(findings),
        },
    )?;
    w.write_all(b"}\n")
}

/// `{"type":"host"}`, one `{"type":"socket"}` per socket, `{"type":"finding"}` per
/// finding, `{"type":"summary"}`.
pub fn write_ndjson<W: Write>(
    w: &mut W,
    snap: &Snapshot,
    summary: &SocketSummary,
    findings: &[Finding],
    findings_only: bool,
) -> io::Result<()> {
    if !findings_only {
        if let Some(h) = &snap.host {
            write_tagged_line(w, "host", h)?;
        }
        for ns in snap.namespaces.iter().flatten() {
            write_tagged_line(w, "netns", ns)?;
        }
        let per = socket_findings(snap, findings);
        for s in &snap.sockets {
            let ids = ids_of(&per, s);
            write_tagged_line(
                w,
                "socket",
                &SocketOut {
                    socket: s,
                    findings: ids,
                },
            )?;
        }
    }
    for f in findings {
        write_tagged_line(w, "finding", &FindingOut(f))?;
    }
    #[derive(Serialize)]
    struct Tail<'a> {
        at: f64,
        at_utc: Utc,
        netns: &'a Option<String>,
        #[serde(flatten)]
        summary: SummaryOut<'a>,
    }
    write_summary_line(
        w,
        &Tail {
            at: snap.at,
            at_utc: Utc(snap.at),
            netns: &snap.netns,
            summary: SummaryOut {
                summary,
                findings: FindingCounts::of(findings),
            },
        },
    )
}

/// "on 1.6s x3", "keepalive 7199s", "timewait 58s".
pub fn timer_text(t: Option<Timer>) -> String {
    match t {
        None => String::new(),
        Some(t) => {
            let mut s = format!("{} {}", t.name.as_str(), secs(t.expires_s));
            if t.count > 0 {
                let _ = write!(s, " x{}", t.count);
            }
            s
        }
    }
}

fn secs(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.1}s")
    } else {
        format!("{x:.0}s")
    }
}

/// The columns of the sockets table, from the least to the most droppable.
fn socket_columns(with_process: bool, with_netns: bool) -> Vec<Column> {
    let mut cols = vec![
        Column::new("STATE"),
        Column::new("RECV-Q").drop(5),
        Column::new("SEND-Q").drop(4),
        Column::new("LOCAL").cut(15),
        Column::new("PEER").cut(15),
        Column::new("TIMER").drop(6),
        Column::new("RTT ms").drop(2),
        Column::new("CWND").drop(1),
        Column::new("RETRANS").drop(3),
    ];
    if with_process {
        cols.push(Column::new("PROCESS").cut(10).drop(7));
    }
    if with_netns {
        cols.push(Column::new("NETNS").cut(12).drop(8));
    }
    cols.push(Column::new("FINDINGS").wrap(12));
    cols
}

fn row(
    s: &SocketInfo,
    ids: &[&'static str],
    findings: &[Finding],
    with_process: bool,
    with_netns: bool,
) -> Vec<Cell> {
    let ti = s.tcp_info.as_ref();
    let state = s.state.ss_name();
    let mut cells = vec![
        Cell::painted(state, Paint::of_socket_state(state)),
        Cell::from(s.recv_q.to_string()),
        Cell::from(s.send_q.to_string()),
        Cell::from(s.local.to_string()),
        Cell::from(s.peer.to_string()),
        Cell::from(timer_text(s.timer)),
        Cell::from(
            ti.filter(|t| t.rtt_s > 0.0)
                .map(|t| format!("{:.2}/{:.2}", t.rtt_s * 1e3, t.rttvar_s * 1e3))
                .unwrap_or_default(),
        ),
        Cell::from(
            ti.filter(|_| s.state != TcpState::Listen)
                .map(|t| t.snd_cwnd.to_string())
                .unwrap_or_default(),
        ),
        Cell::from(
            ti.filter(|t| t.total_retrans > 0 || t.retrans > 0)
                .map(|t| format!("{}/{}", t.retrans, t.total_retrans))
                .unwrap_or_default(),
        ),
    ];
    if with_process {
        cells.push(Cell::from(
            s.processes
                .as_ref()
                .map(|p| {
                    p.iter()
                        .take(2)
                        .map(|p| format!("{}[{}]", p.comm, p.pid))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default(),
        ));
    }
    if with_netns {
        cells.push(Cell::from(
            s.netns.as_ref().map(|n| n.short()).unwrap_or_default(),
        ));
    }
    cells.push(Cell {
        text: ids.join(","),
        paint: None,
        word_paint: ids
            .iter()
            .filter_map(|id| {
                findings
                    .iter()
                    .find(|f| f.id == *id)
                    .map(|f| (id.to_string(), Paint::of_severity(f.severity)))
            })
            .collect(),
    });
    cells
}

/// The terminal view: sockets (those with findings first), then the summary tables
/// and each finding in full.
pub fn write_table<W: Write>(
    w: &mut W,
    snap: &Snapshot,
    summary: &SocketSummary,
    findings: &[Finding],
    findings_only: bool,
    with_process: bool,
) -> io::Result<()> {
    let per = socket_findings(snap, findings);
    let mut socks: Vec<(&SocketInfo, &[&'static str])> = snap
        .sockets
        .iter()
        .map(|s| (s, ids_of(&per, s)))
        .filter(|(_, ids)| !findings_only || !ids.is_empty())
        .collect();
    socks.sort_by(|a, b| {
        // Sockets with findings first.
        a.1.is_empty()
            .cmp(&b.1.is_empty())
            // Declaration order: the kernel's numbering, Unknown last.
            .then(a.0.state.cmp(&b.0.state))
            .then(a.0.local.cmp(&b.0.local))
            .then(a.0.peer.cmp(&b.0.peer))
    });
    let omitted = socks.len().saturating_sub(MAX_SOCKET_ROWS);
    let term = style::current();
    let with_netns = snap.namespaces.is_some();
    let mut grid = Grid::new(socket_columns(with_process, with_netns), Border::Rounded);
    grid.drops_with_borders = 3;
    for (s, ids) in socks.iter().take(MAX_SOCKET_ROWS) {
        grid.row(row(s, ids, findings, with_process, with_netns));
    }
    if !grid.rows.is_empty() {
        w.write_all(grid.render(&term).as_bytes())?;
    }
    if omitted > 0 {
        writeln!(
            w,
            "... {omitted} more sockets not shown (use --format json, or filter with --state/--sport/--dport/--src/--dst)"
        )?;
    }
    let states: Vec<String> = summary
        .states
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    writeln!(
        w,
        "\n{} socket{}{}: {}{}",
        summary.sockets,
        if summary.sockets == 1 { "" } else { "s" },
        match (&snap.netns, &snap.namespaces) {
            (Some(n), _) => format!(" in netns {n}"),
            (None, Some(all)) => format!(" in {} network namespaces", all.len()),
            (None, None) => String::new(),
        },
        if states.is_empty() {
            "none".into()
        } else {
            states.join(", ")
        },
        if summary.orphans > 0 {
            format!(" ({} orphaned)", summary.orphans)
        } else {
            String::new()
        }
    )?;
    if !summary.timewait.is_empty() {
        writeln!(
            w,
            "\nTIME_WAIT by destination (local ports against {}-{}, {} usable):",
            summary.timewait[0].port_range.0,
            summary.timewait[0].port_range.1,
            summary.timewait[0].usable_ports
        )?;
        for g in summary.timewait.iter().take(10) {
            writeln!(
                w,
                "  {:>6}  {} -> {}  ({} in the port range, {:.1}%)",
                g.count,
                g.local_ip,
                g.remote,
                g.in_port_range,
                g.share * 100.0
            )?;
        }
    }
    if !summary.listeners.is_empty() {
        writeln!(w, "\nListeners (accept queue / backlog, SYN-RECV):")?;
        for l in &summary.listeners {
            writeln!(
                w,
                "  {:<28} {:>5} / {:<5} {:>5} syn-recv{}",
                l.local.to_string(),
                l.accept_queue,
                l.backlog,
                l.syn_recv,
                l.processes
                    .as_ref()
                    .and_then(|p| p.first())
                    .map_or(String::new(), |p| format!("  {}[{}]", p.comm, p.pid))
            )?;
        }
    }
    if let Some(h) = &snap.host {
        let mut line = String::from("\n");
        super::text::push_wrapped(&mut line, &host_line(h), 0, 2, term.width);
        w.write_all(line.as_bytes())?;
    }
    if !findings.is_empty() {
        writeln!(w, "\n{}", term.paint("Findings:", Paint::Bold))?;
        for f in findings {
            w.write_all(finding_text(f, &term).as_bytes())?;
        }
    }
    let c = FindingCounts::of(findings);
    writeln!(
        w,
        "\nfindings: {} error, {} warning, {} info",
        c.error, c.warning, c.info
    )
}

/// One line of the sysctls that matter most, for the sockets table.
fn host_line(h: &HostContext) -> String {
    let g = |k: &str| {
        h.sysctls
            .get(k)
            .map(|v| match v {
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("-"),
                serde_json::Value::Null => "?".into(),
                v => v.to_string().trim_matches('"').to_string(),
            })
            .unwrap_or_else(|| "?".into())
    };
    format!(
        "host: port range {}, tw_reuse {}, timestamps {}, fin_timeout {}, retries2 {}, keepalive {}/{}/{}, syncookies {}, somaxconn {}",
        g("net.ipv4.ip_local_port_range"),
        g("net.ipv4.tcp_tw_reuse"),
        g("net.ipv4.tcp_timestamps"),
        g("net.ipv4.tcp_fin_timeout"),
        g("net.ipv4.tcp_retries2"),
        g("net.ipv4.tcp_keepalive_time"),
        g("net.ipv4.tcp_keepalive_intvl"),
        g("net.ipv4.tcp_keepalive_probes"),
        g("net.ipv4.tcp_syncookies"),
        g("net.core.somaxconn"),
    )
}

pub fn write_host_json<W: Write>(w: &mut W, h: &HostContext) -> io::Result<()> {
    #[derive(Serialize)]
    struct Doc<'a> {
        tool: &'a str,
        version: &'a str,
        command: &'a str,
        host: &'a HostContext,
    }
    serde_json::to_writer_pretty(
        &mut *w,
        &Doc {
            tool: TOOL,
            version: VERSION,
            command: "host",
            host: h,
        },
    )?;
    w.write_all(b"\n")
}

pub fn write_host_ndjson<W: Write>(w: &mut W, h: &HostContext) -> io::Result<()> {
    write_tagged_line(w, "host", h)
}

pub fn write_host_table<W: Write>(w: &mut W, h: &HostContext) -> io::Result<()> {
    writeln!(
        w,
        "host {}  kernel {}{}",
        h.hostname.as_deref().unwrap_or("?"),
        h.kernel.as_deref().unwrap_or("?"),
        h.netns
            .as_ref()
            .map_or(String::new(), |n| format!("  netns {n}"))
    )?;
    writeln!(w, "\nsysctls:")?;
    for (k, v) in &h.sysctls {
        let v = match v {
            serde_json::Value::Null => "(not available)".to_string(),
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        writeln!(w, "  {k:<36} {v}")?;
    }
    writeln!(w, "\ncounters (since boot or namespace creation):")?;
    for (k, v) in &h.counters {
        writeln!(w, "  {k:<36} {v}")?;
    }
    if let Some(s) = h.sockstat {
        writeln!(
            w,
            "\nsockstat: {} in use, {} TIME_WAIT (this namespace); {} orphaned, {} allocated, {} of memory (machine-wide)",
            s.inuse,
            s.tw,
            s.orphan,
            s.alloc,
            human_bytes(s.mem_pages * 4096)
        )?;
    }
    if !h.interfaces.is_empty() {
        writeln!(
            w,
            "\ninterfaces (rx/tx dropped, rx/tx errors, rx missed, rx fifo):"
        )?;
        for i in &h.interfaces {
            writeln!(
                w,
                "  {:<16} {}/{}  {}/{}  {}  {}",
                i.name,
                i.rx_dropped,
                i.tx_dropped,
                i.rx_errors,
                i.tx_errors,
                i.rx_missed_errors.map_or("-".into(), |v| v.to_string()),
                i.rx_fifo_errors
            )?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- watch

#[derive(Clone, Copy, Debug, Serialize)]
pub struct CounterDelta {
    pub delta: u64,
    pub per_s: f64,
}

/// What a whole `watch` run saw.
#[derive(Default, Serialize)]
pub struct WatchSummary {
    pub polls: u64,
    pub duration_s: f64,
    /// "count" (--count reached) or "signal" (Ctrl-C / SIGTERM).
    pub stopped_by: &'static str,
    pub new: u64,
    pub gone: u64,
    pub state_changes: u64,
    pub timer_changes: u64,
    pub findings: FindingCounts,
    pub findings_by_id: BTreeMap<&'static str, u64>,
    /// Per-state counts of the last poll.
    pub final_states: BTreeMap<&'static str, u64>,
}

impl WatchSummary {
    pub fn record(&mut self, poll: u64, diff: &[Change], found: &[Finding]) {
        self.polls = poll;
        for c in diff {
            match c {
                Change::New(_) => self.new += 1,
                Change::Gone(_) => self.gone += 1,
                Change::State { .. } => self.state_changes += 1,
                Change::Timer { .. } => self.timer_changes += 1,
            }
        }
        for f in found {
            self.findings.add(f.severity, 1);
            *self.findings_by_id.entry(f.id).or_default() += 1;
        }
    }
}

pub struct WatchWriter<W: Write> {
    out: W,
    format: Format,
}

#[derive(Serialize)]
struct PollEv<'a> {
    poll: u64,
    at: f64,
    at_utc: Utc,
    interval_s: Option<f64>,
    sockets: usize,
    states: BTreeMap<&'static str, u64>,
    netns: &'a Option<String>,
}

#[derive(Serialize)]
struct SockEv<'a> {
    poll: u64,
    at: f64,
    at_utc: Utc,
    socket: &'a SocketInfo,
}

#[derive(Serialize)]
struct StateEv<'a> {
    poll: u64,
    at: f64,
    at_utc: Utc,
    local: std::net::SocketAddr,
    peer: std::net::SocketAddr,
    from: &'static str,
    to: &'static str,
    socket: &'a SocketInfo,
}

#[derive(Serialize)]
struct TimerEv<'a> {
    poll: u64,
    at: f64,
    at_utc: Utc,
    local: std::net::SocketAddr,
    peer: std::net::SocketAddr,
    state: &'static str,
    from: Option<Timer>,
    to: Option<Timer>,
    backoff: Option<u8>,
    rto_s: Option<f64>,
    total_retrans: Option<u32>,
    /// Estimated seconds until the kernel gives up on the socket (see
    /// sock.retransmitting / sock.keepalive_probing), null when no such timer runs.
    gives_up_in_s: Option<f64>,
    socket: &'a SocketInfo,
}

#[derive(Serialize)]
struct FindingEv<'a> {
    poll: u64,
    #[serde(flatten)]
    finding: FindingOut<'a>,
}

#[derive(Serialize)]
struct CountersEv<'a> {
    poll: u64,
    at: f64,
    at_utc: Utc,
    interval_s: f64,
    counters: &'a BTreeMap<String, CounterDelta>,
}

/// The poll's local time of day (`10:30:51.307`), as application logs show it.
fn clock(at: f64) -> String {
    super::clock::local_clock(at)
}

impl<W: Write> WatchWriter<W> {
    pub fn new(out: W, format: Format) -> Self {
        WatchWriter { out, format }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn poll(
        &mut self,
        poll: u64,
        snap: &Snapshot,
        diff: &[Change],
        deltas: Option<&BTreeMap<String, CounterDelta>>,
        found: &[Finding],
        prev_at: Option<f64>,
    ) -> io::Result<()> {
        let at = snap.at;
        let mut states: BTreeMap<&'static str, u64> = BTreeMap::new();
        for s in &snap.sockets {
            *states.entry(s.state.as_str()).or_default() += 1;
        }
        let interval = prev_at.map(|p| crate::analyze::round_ms(at - p));
        let host = snap.host.as_ref();
        if self.format == Format::Ndjson {
            let w = &mut self.out;
            write_tagged_line(
                w,
                "poll",
                &PollEv {
                    poll,
                    at,
                    at_utc: Utc(at),
                    interval_s: interval,
                    sockets: snap.sockets.len(),
                    states,
                    netns: &snap.netns,
                },
            )?;
            for c in diff {
                match c {
                    Change::New(s) => write_tagged_line(
                        w,
                        "new",
                        &SockEv {
                            poll,
                            at,
                            at_utc: Utc(at),
                            socket: s,
                        },
                    )?,
                    Change::Gone(s) => write_tagged_line(
                        w,
                        "gone",
                        &SockEv {
                            poll,
                            at,
                            at_utc: Utc(at),
                            socket: s,
                        },
                    )?,
                    Change::State { from, socket } => write_tagged_line(
                        w,
                        "state",
                        &StateEv {
                            poll,
                            at,
                            at_utc: Utc(at),
                            local: socket.local,
                            peer: socket.peer,
                            from: from.as_str(),
                            to: socket.state.as_str(),
                            socket,
                        },
                    )?,
                    Change::Timer { from, socket } => {
                        let ti = socket.tcp_info.as_ref();
                        write_tagged_line(
                            w,
                            "timer",
                            &TimerEv {
                                poll,
                                at,
                                at_utc: Utc(at),
                                local: socket.local,
                                peer: socket.peer,
                                state: socket.state.as_str(),
                                from: *from,
                                to: socket.timer,
                                backoff: ti.map(|t| t.backoff),
                                rto_s: ti.map(|t| t.rto_s),
                                total_retrans: ti.map(|t| t.total_retrans),
                                gives_up_in_s: death_estimate(socket, host),
                                socket,
                            },
                        )?
                    }
                }
            }
            if let (Some(d), Some(iv)) = (deltas, interval) {
                if !d.is_empty() {
                    write_tagged_line(
                        w,
                        "counters",
                        &CountersEv {
                            poll,
                            at,
                            at_utc: Utc(at),
                            interval_s: iv,
                            counters: d,
                        },
                    )?;
                }
            }
            for f in found {
                write_tagged_line(
                    w,
                    "finding",
                    &FindingEv {
                        poll,
                        finding: FindingOut(f),
                    },
                )?;
            }
            return Ok(());
        }
        let w = &mut self.out;
        let n = |k: fn(&Change) -> bool| diff.iter().filter(|c| k(c)).count();
        writeln!(
            w,
            "{} poll {poll}: {} sockets{}",
            clock(at),
            snap.sockets.len(),
            if poll == 1 {
                " (baseline)".to_string()
            } else {
                format!(
                    " (+{} -{}, {} state changes)",
                    n(|c| matches!(c, Change::New(_))),
                    n(|c| matches!(c, Change::Gone(_))),
                    n(|c| matches!(c, Change::State { .. }))
                )
            }
        )?;
        // With --all-netns each line says which namespace: " [c1]".
        let ns = |s: &SocketInfo| {
            s.netns
                .as_ref()
                .map_or(String::new(), |n| format!(" [{}]", n.short()))
        };
        for c in diff {
            match c {
                Change::New(s) => {
                    writeln!(w, "  + {:<11} {}{}", s.state.ss_name(), s.pair(), ns(s))?
                }
                Change::Gone(s) => {
                    writeln!(w, "  - {:<11} {}{}", s.state.ss_name(), s.pair(), ns(s))?
                }
                Change::State { from, socket } => writeln!(
                    w,
                    "  ~ {}{}  {} -> {}",
                    socket.pair(),
                    ns(socket),
                    from.ss_name(),
                    socket.state.ss_name()
                )?,
                Change::Timer { from, socket } => {
                    let death = death_estimate(socket, host).map_or(String::new(), |d| {
                        format!("; the kernel gives up in ~{d:.0} s")
                    });
                    writeln!(
                        w,
                        "  ! {} {}{}  timer [{}] -> [{}]{death}",
                        socket.state.ss_name(),
                        socket.pair(),
                        ns(socket),
                        timer_text(*from),
                        timer_text(socket.timer)
                    )?
                }
            }
        }
        if let Some(d) = deltas.filter(|d| !d.is_empty()) {
            let parts: Vec<String> = d
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{} +{} ({}/s)",
                        k.trim_start_matches("TcpExt.").trim_start_matches("Tcp."),
                        v.delta,
                        v.per_s
                    )
                })
                .collect();
            writeln!(w, "  counters: {}", parts.join(", "))?;
        }
        let term = style::current();
        for f in found {
            w.write_all(finding_text(f, &term).as_bytes())?;
        }
        Ok(())
    }

    pub fn summary(&mut self, s: &WatchSummary) -> io::Result<()> {
        if self.format == Format::Ndjson {
            return write_summary_line(&mut self.out, s);
        }
        let states: Vec<String> = s
            .final_states
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        let ids: Vec<String> = s
            .findings_by_id
            .iter()
            .map(|(k, n)| format!("{k} x{n}"))
            .collect();
        writeln!(
            self.out,
            "\n{} polls in {:.1} s (stopped by {}): {} new, {} gone, {} state changes, {} timer changes; findings: {} error, {} warning, {} info{}\nlast poll: {}",
            s.polls,
            s.duration_s,
            s.stopped_by,
            s.new,
            s.gone,
            s.state_changes,
            s.timer_changes,
            s.findings.error,
            s.findings.warning,
            s.findings.info,
            if ids.is_empty() { String::new() } else { format!(" ({})", ids.join(", ")) },
            if states.is_empty() { "no sockets".into() } else { states.join(", ") }
        )
    }
}
