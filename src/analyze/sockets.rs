//! Socket findings: judgements on sock_diag snapshots plus the host context (never
//! an OS call). `analyze` looks at one snapshot (TIME_WAIT, CLOSE_WAIT, accept
//! queues, half-open, timers, orphans); `Changes` follows consecutive polls for what
//! one snapshot cannot show (a send queue that does not drain, ListenOverflows
//! rising). `summarize` computes the report's per-state, TIME_WAIT and listener
//! tables.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;
use serde_json::json;

use super::kernel::give_up_schedule;
use super::{round_ms, Cause, Confidence, Finding, Severity};
use crate::model::host::HostContext;
use crate::model::socket::{Snapshot, SocketInfo, TcpState, Timer, TimerKind};

/// Thresholds; each has a command-line flag (`sockets`, `watch`).
#[derive(Clone, Debug)]
pub struct SocketConfig {
    /// sock.timewait_buildup: TIME_WAIT sockets from one local address to one
    /// remote ip:port (also raised at half the usable port range).
    pub timewait_min: usize,
    /// sock.close_wait_buildup: CLOSE_WAIT sockets of one process (or local address).
    pub close_wait_min: usize,
    /// sock.syn_recv_buildup: half-open connections on one listener (also raised
    /// when they exceed its backlog).
    pub syn_recv_min: usize,
    /// sock.orphan_buildup: orphaned sockets (also raised at a quarter of
    /// net.ipv4.tcp_max_orphans).
    pub orphan_min: usize,
    /// sock.send_queue_stuck: consecutive polls without progress.
    pub stuck_polls: usize,
    /// Per-socket findings kept per id (the rest are counted in one more finding's
    /// evidence).
    pub max_per_id: usize,
}

impl Default for SocketConfig {
    fn default() -> Self {
        SocketConfig {
            timewait_min: 100,
            close_wait_min: 10,
            syn_recv_min: 100,
            orphan_min: 1000,
            stuck_polls: 3,
            max_per_id: 100,
        }
    }
}

/// Linux defaults, used (and marked `assumed`) when the host context is unknown.
const DEFAULTS: &[(&str, u64)] = &[
    ("net.ipv4.tcp_retries1", 3),
    ("net.ipv4.tcp_retries2", 15),
    ("net.ipv4.tcp_syn_retries", 6),
    ("net.ipv4.tcp_synack_retries", 5),
    ("net.ipv4.tcp_keepalive_time", 7200),
    ("net.ipv4.tcp_keepalive_intvl", 75),
    ("net.ipv4.tcp_keepalive_probes", 9),
    ("net.ipv4.tcp_fin_timeout", 60),
    ("net.ipv4.tcp_max_syn_backlog", 4096),
    ("net.core.somaxconn", 4096),
    ("net.ipv4.tcp_syncookies", 1),
    ("net.ipv4.tcp_tw_reuse", 2),
    ("net.ipv4.tcp_timestamps", 1),
];

/// A sysctl from the host context, or the Linux default with `assumed: true`.
struct Sysctls<'a>(Option<&'a HostContext>);

impl Sysctls<'_> {
    fn get(&self, name: &str) -> (Option<u64>, bool) {
        if let Some(v) = self.0.and_then(|h| h.sysctl_u64(name)) {
            return (Some(v), false);
        }
        let d = DEFAULTS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        (d, true)
    }

    fn val(&self, name: &str) -> u64 {
        self.get(name).0.unwrap_or(0)
    }

    /// For evidence: {"value": N, "assumed": bool}.
    fn ev(&self, name: &str) -> serde_json::Value {
        let (v, assumed) = self.get(name);
        json!({"value": v, "assumed": assumed})
    }

    fn counter(&self, name: &str) -> Option<u64> {
        self.0.and_then(|h| h.counter(name))
    }

    fn port_range(&self) -> ((u16, u16), bool) {
        match self.0.and_then(HostContext::port_range) {
            Some(r) => (r, false),
            None => ((32768, 60999), true),
        }
    }
}

fn sock_finding(id: &'static str, sev: Severity, at: f64, s: &SocketInfo) -> Finding {
    Finding::new(id, sev, None, at)
        .evidence("socket", s.pair())
        .evidence("state", s.state.as_str())
        .evidence("inode", s.inode)
        .evidence("cookie", s.cookie)
        .evidence("processes", &s.processes)
}

fn procs_text(s: &SocketInfo) -> String {
    match &s.processes {
        Some(p) if !p.is_empty() => {
            let names: Vec<String> = p
                .iter()
                .take(3)
                .map(|p| match p.state.as_deref() {
                    // Only a state that explains something is worth the words.
                    Some(st) if !st.starts_with(['R', 'S']) => {
                        format!("{}[{}, {st}]", p.comm, p.pid)
                    }
                    _ => format!("{}[{}]", p.comm, p.pid),
                })
                .collect();
            format!(" ({})", names.join(", "))
        }
        _ => String::new(),
    }
}

/// The listener a SYN-RECV socket belongs to: same port, same address, else a
/// wildcard of the socket's own family (a request on a dual-stack `[::]` listener is
/// "inet6" even with IPv4 addresses), else any wildcard. So separate `0.0.0.0` and
/// `[::]` (v6only) listeners each get their own requests.
fn listener_of<'a>(listeners: &[&'a SocketInfo], s: &SocketInfo) -> Option<&'a SocketInfo> {
    let on_port = || {
        listeners
            .iter()
            .filter(|l| l.local.port() == s.local.port())
    };
    on_port()
        .find(|l| l.local.ip() == s.local.ip())
        .or_else(|| on_port().find(|l| l.local.ip().is_unspecified() && l.family == s.family))
        .or_else(|| on_port().find(|l| l.local.ip().is_unspecified()))
        .copied()
}

/// Ports of `range` not in net.ipv4.ip_local_reserved_ports.
fn usable_ports(range: (u16, u16), host: Option<&HostContext>) -> u64 {
    let total = u64::from(range.1 - range.0) + 1;
    let reserved = host
        .and_then(|h| h.sysctls.get("net.ipv4.ip_local_reserved_ports"))
        .and_then(|v| {
            v.as_str()
                .map(str::to_string)
                .or_else(|| v.as_u64().map(|n| n.to_string()))
        })
        .map(|s| reserved_in(&s, range))
        .unwrap_or(0);
    total.saturating_sub(reserved).max(1)
}

/// How many of "8080,9000-9010" fall inside `range`.
fn reserved_in(list: &str, range: (u16, u16)) -> u64 {
    list.split(',')
        .filter_map(|p| {
            let p = p.trim();
            let (a, b) = p.split_once('-').unwrap_or((p, p));
            Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?))
        })
        .map(|(a, b)| {
            let lo = a.max(range.0);
            let hi = b.min(range.1);
            if lo > hi {
                0
            } else {
                u64::from(hi - lo) + 1
            }
        })
        .sum()
}

// ---------------------------------------------------------------- summary

#[derive(Clone, Debug, Serialize)]
pub struct TimeWaitGroup {
    pub local_ip: IpAddr,
    pub remote: SocketAddr,
    pub count: u64,
    /// Of those, how many use a local port inside the ephemeral range.
    pub in_port_range: u64,
    pub port_range: (u16, u16),
    pub usable_ports: u64,
    /// in_port_range / usable_ports.
    pub share: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ListenerSummary {
    pub local: SocketAddr,
    /// Connections waiting for accept() (recv-q of the LISTEN socket).
    pub accept_queue: u32,
    /// The listen() backlog in effect (send-q; capped by net.core.somaxconn).
    pub backlog: u32,
    pub syn_recv: u64,
    pub processes: Option<Vec<crate::model::socket::ProcRef>>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SocketSummary {
    pub sockets: u64,
    /// Every state, zero counts included.
    pub states: BTreeMap<&'static str, u64>,
    pub orphans: u64,
    /// Largest first, at most 50 groups.
    pub timewait: Vec<TimeWaitGroup>,
    pub listeners: Vec<ListenerSummary>,
}

pub fn summarize(snap: &Snapshot) -> SocketSummary {
    let mut states: BTreeMap<&'static str, u64> =
        TcpState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    for s in &snap.sockets {
        *states.entry(s.state.as_str()).or_insert(0) += 1;
    }
    let sys = Sysctls(snap.host.as_ref());
    let mut timewait: Vec<TimeWaitGroup> = summarize_timewait(snap, &sys)
        .into_iter()
        .map(|(g, _)| g)
        .collect();
    timewait.truncate(50);
    let listeners: Vec<&SocketInfo> = snap
        .sockets
        .iter()
        .filter(|s| s.state == TcpState::Listen)
        .collect();
    let mut syn: HashMap<SocketAddr, u64> = HashMap::new();
    for s in snap.sockets.iter().filter(|s| s.state == TcpState::SynRecv) {
        if let Some(l) = listener_of(&listeners, s) {
            *syn.entry(l.local).or_default() += 1;
        }
    }
    let mut ls: Vec<ListenerSummary> = listeners
        .iter()
        .map(|l| ListenerSummary {
            local: l.local,
            accept_queue: l.recv_q,
            backlog: l.send_q,
            syn_recv: syn.get(&l.local).copied().unwrap_or(0),
            processes: l.processes.clone(),
        })
        .collect();
    ls.sort_by(|a, b| {
        a.local
            .port()
            .cmp(&b.local.port())
            .then(a.local.cmp(&b.local))
    });
    SocketSummary {
        sockets: snap.sockets.len() as u64,
        states,
        orphans: snap.sockets.iter().filter(|s| s.is_orphan()).count() as u64,
        timewait,
        listeners: ls,
    }
}

// ---------------------------------------------------------------- one snapshot

/// Keeps at most `max` findings per id; the overflow is counted on the last one.
struct Capped<'a> {
    out: &'a mut Vec<Finding>,
    max: usize,
    kept: HashMap<&'static str, usize>,
    dropped: HashMap<&'static str, u64>,
}

impl Capped<'_> {
    fn push(&mut self, f: Finding) {
        let n = self.kept.entry(f.id).or_default();
        if *n < self.max {
            *n += 1;
            self.out.push(f);
        } else {
            *self.dropped.entry(f.id).or_default() += 1;
        }
    }

    fn finish(self) {
        for (id, n) in self.dropped {
            if let Some(f) = self.out.iter_mut().rev().find(|f| f.id == id) {
                f.evidence
                    .insert("more_sockets_not_listed".into(), json!(n));
            }
        }
    }
}

/// Findings of one snapshot, most severe first.
pub fn analyze(snap: &Snapshot, cfg: &SocketConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    let sys = Sysctls(snap.host.as_ref());
    timewait_buildup(snap, cfg, &sys, &mut out);
    close_wait_buildup(snap, cfg, &mut out);
    listeners(snap, cfg, &sys, &mut out);
    orphan_buildup(snap, cfg, &sys, &mut out);
    let mut capped = Capped {
        out: &mut out,
        max: cfg.max_per_id.max(1),
        kept: HashMap::new(),
        dropped: HashMap::new(),
    };
    for s in &snap.sockets {
        per_socket_timers(s, snap.at, &sys, &mut capped);
        not_reading(s, snap.at, &mut capped);
    }
    capped.finish();
    out.iter_mut().for_each(Finding::name_cause);
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

fn timewait_buildup(snap: &Snapshot, cfg: &SocketConfig, sys: &Sysctls, out: &mut Vec<Finding>) {
    let summary_groups = summarize_timewait(snap, sys);
    let (range, range_assumed) = sys.port_range();
    let total_tw = snap
        .sockets
        .iter()
        .filter(|s| s.state == TcpState::TimeWait)
        .count();
    for (g, expires) in summary_groups {
        let half = g.usable_ports.div_ceil(2);
        if (g.count as usize) < cfg.timewait_min && g.in_port_range < half {
            continue;
        }
        let reuse = sys.get("net.ipv4.tcp_tw_reuse").0;
        let ts = sys.get("net.ipv4.tcp_timestamps").0;
        // tcp_tw_reuse=2 reuses only for connections over the loopback device: a
        // loopback peer, or one of this host's own addresses (routed over lo too).
        let over_lo = g.remote.ip().is_loopback() || g.remote.ip() == g.local_ip;
        let timestamps = ts.is_some_and(|t| t > 0);
        let reuse_applies = timestamps && (reuse == Some(1) || (reuse == Some(2) && over_lo));
        // Ports that new connections may reuse (after 1 s in TIME_WAIT) do not run out.
        let sev = if g.in_port_range >= half && !reuse_applies {
            Severity::Error
        } else {
            Severity::Warning
        };
        let reuse_text = match (reuse, timestamps) {
            (Some(1), true) => "tcp_tw_reuse=1 with timestamps: new outgoing connections can reuse these ports once they are 1 s old".to_string(),
            (Some(1), false) => "tcp_tw_reuse=1 but tcp_timestamps=0, so reuse cannot work".to_string(),
            (Some(2), true) if over_lo => "tcp_tw_reuse=2 applies to this loopback peer (with timestamps): new connections can reuse these ports once they are 1 s old".to_string(),
            (Some(2), _) if over_lo => "tcp_tw_reuse=2 would apply to this loopback peer, but tcp_timestamps=0, so reuse cannot work".to_string(),
            (Some(2), _) => "tcp_tw_reuse=2 reuses ports only over loopback, not towards this peer".to_string(),
            (Some(0), _) => "tcp_tw_reuse=0: no reuse".to_string(),
            (r, _) => format!("tcp_tw_reuse={r:?}"),
        };
        out.push(
            Finding::new("sock.timewait_buildup", sev, None, snap.at)
                .summary(format!(
                    "{} sockets in TIME_WAIT from {} to {}: {} of the {} usable local ports ({:.0}%, range {}-{}{}) are held until they expire (next in {:.1} s, last in {:.1} s); {reuse_text}",
                    g.count,
                    g.local_ip,
                    g.remote,
                    g.in_port_range,
                    g.usable_ports,
                    g.share * 100.0,
                    range.0,
                    range.1,
                    if range_assumed { ", assumed" } else { "" },
                    expires.0,
                    expires.1,
                ))
                .evidence("count", g.count)
                .evidence("local_ip", g.local_ip)
                .evidence("remote", g.remote)
                .evidence("in_port_range", g.in_port_range)
                .evidence("port_range", json!({"value": [range.0, range.1], "assumed": range_assumed}))
                .evidence("usable_ports", g.usable_ports)
                .evidence("share", g.share)
                .evidence("expires_min_s", expires.0)
                .evidence("expires_max_s", expires.1)
                .evidence("tcp_tw_reuse", sys.ev("net.ipv4.tcp_tw_reuse"))
                .evidence("tw_reuse_applies", reuse_applies)
                .evidence("tcp_timestamps", sys.ev("net.ipv4.tcp_timestamps"))
                .evidence("time_wait_total", total_tw)
                .evidence("tcp_max_tw_buckets", sys.ev("net.ipv4.tcp_max_tw_buckets"))
                .evidence("TCPTimeWaitOverflow", sys.counter("TcpExt.TCPTimeWaitOverflow"))
                .confidence(Confidence::High)
                .hint(if reuse_applies {
                    "This host closes first, so it keeps TIME_WAIT for 60 s per connection; tcp_tw_reuse already lets new outgoing connections to this peer take over ports that have been in TIME_WAIT for 1 s, so connect() does not fail for lack of ports unless connections are opened faster than that. The lasting fix is fewer connections: reuse them (keep-alive, pooling), or widen net.ipv4.ip_local_port_range."
                } else {
                    "This host closes first, so it keeps TIME_WAIT for 60 s per connection; when the local ports towards one ip:port run out, connect() fails with EADDRNOTAVAIL ('Cannot assign requested address'). Reuse connections (keep-alive, pooling); widen net.ipv4.ip_local_port_range; net.ipv4.tcp_tw_reuse=1 lets outgoing connections reuse them and needs net.ipv4.tcp_timestamps=1 on both ends."
                }),
        );
    }
}

/// TIME_WAIT groups with the smallest and largest remaining time.
fn summarize_timewait(snap: &Snapshot, sys: &Sysctls) -> Vec<(TimeWaitGroup, (f64, f64))> {
    let (range, _) = sys.port_range();
    let usable = usable_ports(range, sys.0);
    let mut groups: HashMap<(IpAddr, SocketAddr), (u64, u64, f64, f64)> = HashMap::new();
    for s in snap
        .sockets
        .iter()
        .filter(|s| s.state == TcpState::TimeWait)
    {
        let e = groups
            .entry((s.local.ip(), s.peer))
            .or_insert((0, 0, f64::MAX, 0.0));
        e.0 += 1;
        if (range.0..=range.1).contains(&s.local.port()) {
            e.1 += 1;
        }
        let x = s.timer.map_or(0.0, |t| t.expires_s);
        e.2 = e.2.min(x);
        e.3 = e.3.max(x);
    }
    let mut v: Vec<_> = groups
        .into_iter()
        .map(|((local_ip, remote), (count, inr, lo, hi))| {
            (
                TimeWaitGroup {
                    local_ip,
                    remote,
                    count,
                    in_port_range: inr,
                    port_range: range,
                    usable_ports: usable,
                    share: round_ms(inr as f64 / usable as f64),
                },
                (lo, hi),
            )
        })
        .collect();
    v.sort_by(|a, b| b.0.count.cmp(&a.0.count).then(a.0.remote.cmp(&b.0.remote)));
    v
}

/// CLOSE_WAIT sockets that no process holds (inode 0) are still in their
/// listener's accept queue: the peer gave up before the application accepted them.
fn not_accepted(s: &SocketInfo) -> bool {
    s.state == TcpState::CloseWait && s.inode == 0
}

fn close_wait_buildup(snap: &Snapshot, cfg: &SocketConfig, out: &mut Vec<Finding>) {
    let listeners: Vec<&SocketInfo> = snap
        .sockets
        .iter()
        .filter(|s| s.state == TcpState::Listen)
        .collect();
    // Never accepted: by listener. A full listener's are sock.accept_queue_full's.
    let mut queued: BTreeMap<SocketAddr, (&SocketInfo, Vec<&SocketInfo>)> = BTreeMap::new();
    for s in snap.sockets.iter().filter(|s| not_accepted(s)) {
        if let Some(l) = listener_of(&listeners, s) {
            queued.entry(l.local).or_insert((l, Vec::new())).1.push(s);
        }
    }
    for (l, socks) in queued.into_values() {
        if l.recv_q > l.send_q || socks.len() < cfg.close_wait_min.max(1) {
            continue;
        }
        out.push(
            Finding::new("sock.close_wait_buildup", Severity::Warning, None, snap.at)
                .summary(format!(
                    "{} connections to listener {}{} are in CLOSE_WAIT without ever having been accepted (no process holds them: inode 0, still in the accept queue, {} of backlog {}): the clients gave up and closed before the application called accept()",
                    socks.len(),
                    l.local,
                    procs_text(l),
                    l.recv_q,
                    l.send_q,
                ))
                .evidence("count", socks.len())
                .evidence("listener", l.local)
                .evidence("accept_queue", l.recv_q)
                .evidence("backlog", l.send_q)
                .evidence("process", l.processes.as_ref().and_then(|p| p.first()))
                .evidence("examples", socks.iter().take(5).map(|s| s.pair()).collect::<Vec<_>>())
                .evidence("never_accepted", true)
                .confidence(Confidence::High)
                .with_cause(Cause::NotAccepted),
        );
    }
    // Group by the process holding them when known (-p), else by local address.
    let asked_for_processes = snap.sockets.iter().any(|s| s.processes.is_some());
    let mut groups: BTreeMap<String, Vec<&SocketInfo>> = BTreeMap::new();
    for s in snap
        .sockets
        .iter()
        .filter(|s| s.state == TcpState::CloseWait && !not_accepted(s))
    {
        let key = match s.processes.as_ref().and_then(|p| p.first()) {
            Some(p) => format!("{}[{}]", p.comm, p.pid),
            None => s.local.ip().to_string(),
        };
        groups.entry(key).or_default().push(s);
    }
    for (key, socks) in groups {
        if socks.len() < cfg.close_wait_min.max(1) {
            continue;
        }
        let by_process = socks[0].processes.as_ref().is_some_and(|p| !p.is_empty());
        // In CLOSE_WAIT the receive queue counts the peer's FIN (one sequence number)
        // until the application reads the end of stream: recv-q > 0 means it has not
        // even read that, and the data unread is recv-q - 1.
        let eof_unread = socks.iter().filter(|s| s.recv_q > 0).count();
        let unread: u64 = socks
            .iter()
            .map(|s| u64::from(s.recv_q.saturating_sub(1)))
            .sum();
        let oldest = socks
            .iter()
            .filter_map(|s| s.tcp_info.as_ref().map(|t| t.last_data_recv_s))
            .fold(0.0f64, f64::max);
        let mut locals: Vec<String> = socks.iter().map(|s| s.local.to_string()).collect();
        locals.sort();
        locals.dedup();
        let examples: Vec<String> = socks.iter().take(5).map(|s| s.pair()).collect();
        out.push(
            Finding::new("sock.close_wait_buildup", Severity::Warning, None, snap.at)
                .summary(format!(
                    "{} sockets in CLOSE_WAIT held by {}: the peers closed (FIN received) but the application has not called close(); the oldest has had no data for {:.1} s; {}, {} unread data bytes in all",
                    socks.len(),
                    if by_process {
                        format!("process {key}")
                    } else if asked_for_processes {
                        format!("the application on {key} (no process showed them in /proc/*/fd)")
                    } else {
                        format!("the application on {key} (use -p to name the process)")
                    },
                    oldest,
                    match eof_unread {
                        0 => "the application read every end of stream and still did not close".to_string(),
                        n if n == socks.len() => "the application has not even read the end of stream on any of them (it is not reading these sockets at all)".to_string(),
                        n => format!("{n} of them have not had their end of stream read"),
                    },
                    unread
                ))
                .evidence("count", socks.len())
                .evidence("process", socks[0].processes.as_ref().and_then(|p| p.first()))
                .evidence("local_endpoints", &locals[..locals.len().min(20)])
                .evidence("examples", &examples)
                .evidence("oldest_last_data_recv_s", round_ms(oldest))
                .evidence("unread_bytes", unread)
                .evidence("eof_unread", eof_unread)
                .confidence(if by_process { Confidence::High } else { Confidence::Medium })
                .hint("CLOSE_WAIT never times out: only the application's close() ends it. Look for a missing close() on error paths or a leaked connection pool in that process (ls /proc/PID/fd | wc -l against its ulimit -n); restarting it releases them."),
        );
    }
}

fn listeners(snap: &Snapshot, cfg: &SocketConfig, sys: &Sysctls, out: &mut Vec<Finding>) {
    let summary = summarize(snap);
    let listeners: Vec<&SocketInfo> = snap
        .sockets
        .iter()
        .filter(|s| s.state == TcpState::Listen)
        .collect();
    for l in &summary.listeners {
        let sock = listeners.iter().find(|s| s.local == l.local);
        let procs = sock.map(|s| procs_text(s)).unwrap_or_default();
        let near = l.backlog > 0 && u64::from(l.accept_queue) * 10 >= u64::from(l.backlog) * 9;
        if l.accept_queue > l.backlog || near {
            let full = l.accept_queue > l.backlog;
            // Clients that gave up before being accepted leave CLOSE_WAIT sockets in
            // the queue: the same symptom, told here.
            let gave_up = sock.map_or(0, |ls| {
                snap.sockets
                    .iter()
                    .filter(|s| {
                        not_accepted(s)
                            && listener_of(&listeners, s).map(|x| x.local) == Some(ls.local)
                    })
                    .count()
            });
            out.push(
                Finding::new("sock.accept_queue_full", if full { Severity::Error } else { Severity::Warning }, None, snap.at)
                    .summary(format!(
                        "Listener {}{procs} has {} connections waiting for accept() against a backlog of {}{}{}; ListenOverflows is {} (cumulative)",
                        l.local,
                        l.accept_queue,
                        l.backlog,
                        if full { ": the queue is full, new handshakes are dropped or answered late" } else { ": nearly full" },
                        if gave_up > 0 {
                            format!("; {gave_up} of them are already in CLOSE_WAIT: their clients gave up waiting")
                        } else {
                            String::new()
                        },
                        sys.counter("TcpExt.ListenOverflows").map_or("unknown".into(), |v| v.to_string()),
                    ))
                    .evidence("close_wait_not_accepted", gave_up)
                    .evidence("listener", l.local)
                    .evidence("accept_queue", l.accept_queue)
                    .evidence("backlog", l.backlog)
                    .evidence("syn_recv", l.syn_recv)
                    .evidence("processes", &l.processes)
                    .evidence("somaxconn", sys.ev("net.core.somaxconn"))
                    .evidence("tcp_abort_on_overflow", sys.0.and_then(|h| h.sysctl_u64("net.ipv4.tcp_abort_on_overflow")))
                    .evidence("ListenOverflows", sys.counter("TcpExt.ListenOverflows"))
                    .evidence("ListenDrops", sys.counter("TcpExt.ListenDrops"))
                    .confidence(Confidence::High)
                    .with_cause(Cause::AcceptQueueFull),
            );
        }
        let min = cfg.syn_recv_min.max(1) as u64;
        let over_backlog = l.syn_recv > u64::from(l.backlog);
        if l.syn_recv >= min || (over_backlog && l.syn_recv > 0) {
            let half: Vec<&SocketInfo> = snap
                .sockets
                .iter()
                .filter(|s| s.state == TcpState::SynRecv)
                .filter(|s| listener_of(&listeners, s).is_some_and(|x| x.local == l.local))
                .collect();
            let mut peers: Vec<IpAddr> = half.iter().map(|s| s.peer.ip()).collect();
            peers.sort();
            peers.dedup();
            let max_retx = half
                .iter()
                .filter_map(|s| s.timer.map(|t| t.count))
                .max()
                .unwrap_or(0);
            let cookies = sys.get("net.ipv4.tcp_syncookies").0;
            out.push(
                Finding::new("sock.syn_recv_buildup", if over_backlog { Severity::Error } else { Severity::Warning }, None, snap.at)
                    .summary(format!(
                        "Listener {}{procs} has {} half-open connections (SYN-RECV) from {} address{} against a backlog of {} (tcp_max_syn_backlog {}, tcp_syncookies {}); SYN-ACKs retransmitted up to {} times (tcp_synack_retries {}): {}",
                        l.local,
                        l.syn_recv,
                        peers.len(),
                        if peers.len() == 1 { "" } else { "es" },
                        l.backlog,
                        sys.val("net.ipv4.tcp_max_syn_backlog"),
                        cookies.map_or("?".into(), |c| c.to_string()),
                        max_retx,
                        sys.val("net.ipv4.tcp_synack_retries"),
                        if peers.len() <= 3 { "the clients' final ACKs are not arriving (lost or filtered on the way in)" } else { "many sources: a SYN flood or clients whose ACKs are dropped" },
                    ))
                    .evidence("listener", l.local)
                    .evidence("syn_recv", l.syn_recv)
                    .evidence("distinct_peers", peers.len())
                    .evidence("peers", &peers[..peers.len().min(10)])
                    .evidence("backlog", l.backlog)
                    .evidence("max_synack_retransmits", max_retx)
                    .evidence("tcp_max_syn_backlog", sys.ev("net.ipv4.tcp_max_syn_backlog"))
                    .evidence("tcp_syncookies", sys.ev("net.ipv4.tcp_syncookies"))
                    .evidence("tcp_synack_retries", sys.ev("net.ipv4.tcp_synack_retries"))
                    .evidence("SyncookiesSent", sys.counter("TcpExt.SyncookiesSent"))
                    .evidence("SyncookiesFailed", sys.counter("TcpExt.SyncookiesFailed"))
                    .evidence("TCPReqQFullDrop", sys.counter("TcpExt.TCPReqQFullDrop"))
                    .evidence("ListenDrops", sys.counter("TcpExt.ListenDrops"))
                    .confidence(if peers.len() <= 3 { Confidence::Medium } else { Confidence::High })
                    .hint("Half-open connections wait for the client's final ACK while the server repeats its SYN-ACK (net.ipv4.tcp_synack_retries). Beyond the listener's backlog the kernel answers with syncookies (net.ipv4.tcp_syncookies=1) or drops SYNs. Check for ACKs dropped on the way in (firewall, asymmetric routing) or a flood (many sources)."),
            );
        }
    }
}

fn orphan_buildup(snap: &Snapshot, cfg: &SocketConfig, sys: &Sysctls, out: &mut Vec<Finding>) {
    let orphans: Vec<&SocketInfo> = snap.sockets.iter().filter(|s| s.is_orphan()).collect();
    let max = sys.0.and_then(|h| h.sysctl_u64("net.ipv4.tcp_max_orphans"));
    let kernel_count = sys.0.and_then(|h| h.sockstat).map(|s| s.orphan);
    let n = orphans.len() as u64;
    // The kernel's limit applies to its machine-wide count (sockstat), which also
    // covers other namespaces; our own count may be the larger (FIN-WAIT-2 orphans
    // handed to the TIME_WAIT machinery are not in sockstat).
    let pressure = n.max(kernel_count.unwrap_or(0));
    let near_max = max.is_some_and(|m| m > 0 && pressure * 4 >= m);
    if n < cfg.orphan_min.max(1) as u64 && !near_max {
        return;
    }
    let mut by_state: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut peers: HashMap<IpAddr, u64> = HashMap::new();
    for s in &orphans {
        *by_state.entry(s.state.as_str()).or_default() += 1;
        *peers.entry(s.peer.ip()).or_default() += 1;
    }
    let mut top: Vec<(IpAddr, u64)> = peers.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(5);
    let fw2 = by_state.get("FIN_WAIT2").copied().unwrap_or(0);
    if n == 0 {
        return;
    }
    let sev = if max.is_some_and(|m| m > 0 && pressure * 2 >= m) {
        Severity::Error
    } else {
        Severity::Warning
    };
    out.push(
        Finding::new("sock.orphan_buildup", sev, None, snap.at)
            .summary(format!(
                "{n} orphaned sockets (closed by their application, still finishing: {}), {fw2} in FIN-WAIT-2 waiting for the peer's FIN (tcp_fin_timeout {} s); tcp_max_orphans {}",
                by_state.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", "),
                sys.val("net.ipv4.tcp_fin_timeout"),
                max.map_or("unknown".into(), |m| m.to_string()),
            ))
            .evidence("orphans", n)
            .evidence("by_state", &by_state)
            .evidence("sockstat_orphan", kernel_count)
            .evidence("tcp_max_orphans", max)
            .evidence("tcp_fin_timeout", sys.ev("net.ipv4.tcp_fin_timeout"))
            .evidence("tcp_orphan_retries", sys.0.and_then(|h| h.sysctl_u64("net.ipv4.tcp_orphan_retries")))
            .evidence("top_peers", top.iter().map(|(ip, c)| json!({"peer": ip, "count": c})).collect::<Vec<_>>())
            .evidence("TCPAbortOnMemory", sys.counter("TcpExt.TCPAbortOnMemory"))
            .confidence(Confidence::High)
            .hint("Orphans use kernel memory without a process to blame; beyond net.ipv4.tcp_max_orphans the kernel resets them ('too many orphaned sockets'). FIN-WAIT-2 orphans mean peers that never close their side: net.ipv4.tcp_fin_timeout bounds them; FIN-WAIT-1/LAST-ACK orphans mean peers that stopped acknowledging (net.ipv4.tcp_orphan_retries)."),
    );
}

/// The sysctl that bounds an established or closing socket's retransmissions:
/// tcp_retries2, or for an orphan (closed by its process) tcp_orphan_retries, where 0
/// means the kernel's default of 8.
fn retry_limit(s: &SocketInfo, sys: &Sysctls) -> (&'static str, u64) {
    if s.inode == 0
        && matches!(
            s.state,
            TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck
        )
    {
        let v = sys
            .0
            .and_then(|h| h.sysctl_u64("net.ipv4.tcp_orphan_retries"))
            .unwrap_or(0);
        return ("net.ipv4.tcp_orphan_retries", if v == 0 { 8 } else { v });
    }
    ("net.ipv4.tcp_retries2", sys.val("net.ipv4.tcp_retries2"))
}

/// SYN retransmission intervals until connect() gives up (the initial RTO is
/// TCP_TIMEOUT_INIT, 1 s; the time bound uses the same 1 s base).
fn syn_intervals(retries: u64, linear: u64) -> Vec<f64> {
    give_up_schedule(1.0, linear, retries, 1.0, Some(retries + linear))
}

/// The first RTO of the current retransmission series: the RTO now halved once per
/// backoff, never below TCP_RTO_MIN.
fn first_rto(rto: f64, backoff: u8) -> f64 {
    (rto / f64::from(1u32 << backoff.min(16))).max(0.2)
}

/// Seconds from the first transmission until the kernel gives up on an established
/// or closing socket: tcp_retries2 (or tcp_orphan_retries) is a time bound (the
/// model with a 200 ms base, 924.6 s at 15), checked when the timer fires, so the
/// give-up is the first expiry of the socket's own schedule at or after it.
fn data_give_up(rto: f64, backoff: u8, limit: u64) -> f64 {
    give_up_schedule(first_rto(rto, backoff), 0, limit, 0.2, None)
        .iter()
        .sum()
}

/// Estimated seconds since the first transmission of the segment being
/// retransmitted: the backoff schedule so far plus the elapsed part of the current
/// RTO. The kernel measures tcp_retries2 against this (retrans_stamp).
fn retrans_elapsed(rto: f64, backoff: u8, retransmits: u8, expires: f64) -> f64 {
    let rto0 = first_rto(rto, backoff);
    let mut t = 0.0;
    for i in 0..retransmits.min(30) {
        t += (rto0 * f64::from(1u32 << i.min(16))).min(120.0);
    }
    t + (rto - expires).max(0.0)
}

/// Bytes this socket still has to deliver. Send-Q of a connected socket is
/// write_seq - snd_una, which already includes tcpi_notsent_bytes (write_seq -
/// snd_nxt): the two must not be added.
fn pending_bytes(s: &SocketInfo) -> u64 {
    let notsent = s
        .tcp_info
        .as_ref()
        .and_then(|t| t.notsent_bytes)
        .unwrap_or(0);
    u64::from(s.send_q.max(notsent))
}

/// States in which tcp_keepalive_timer() sends probes and resets after
/// tcp_keepalive_probes: any connected state with the FIN not yet sent (a CLOSE_WAIT
/// socket still probes a peer that went away). An orphaned FIN-WAIT-2 socket uses
/// the same timer for tcp_fin_timeout, with no probes.
fn keepalive_state(s: TcpState) -> bool {
    matches!(s, TcpState::Established | TcpState::CloseWait)
}

/// When the kernel gives up on a socket whose retransmission timer runs, by the
/// host's sysctls: shared by sock.retransmitting and the reports' gives_up_in_s.
struct RetransGiveUp {
    syn: bool,
    limit_name: &'static str,
    limit: u64,
    /// net.ipv4.tcp_syn_linear_timeouts (0 when unknown).
    linear: u64,
    /// SYN_SENT: the SYN retransmissions before connect() gives up.
    retransmissions: usize,
    rto: f64,
    /// Seconds from the first transmission to the give-up.
    give_up: f64,
    /// Estimated seconds of it already gone, and left.
    elapsed: f64,
    left: f64,
}

fn retrans_give_up(s: &SocketInfo, timer: &Timer, sys: &Sysctls) -> RetransGiveUp {
    let ti = s.tcp_info.as_ref();
    // Without tcp_info, the RTO has backed off once per retransmission.
    let backoff = ti.map_or(timer.count, |t| t.backoff);
    let rto = ti.map_or(timer.expires_s, |t| t.rto_s);
    let linear = sys
        .0
        .and_then(|h| h.sysctl_u64("net.ipv4.tcp_syn_linear_timeouts"))
        .unwrap_or(0);
    if s.state == TcpState::SynSent {
        let limit_name = "net.ipv4.tcp_syn_retries";
        let limit = sys.val(limit_name);
        let iv = syn_intervals(limit, linear);
        let n = usize::from(timer.count).min(iv.len());
        let current = iv.get(n).copied().unwrap_or(timer.expires_s);
        let give_up: f64 = iv.iter().sum();
        let elapsed = iv[..n].iter().sum::<f64>() + (current - timer.expires_s).max(0.0);
        return RetransGiveUp {
            syn: true,
            limit_name,
            limit,
            linear,
            retransmissions: iv.len().saturating_sub(1),
            rto,
            give_up,
            elapsed,
            // The rest of the current interval plus every interval still to come.
            left: timer.expires_s + iv.get(n + 1..).map_or(0.0, |r| r.iter().sum()),
        };
    }
    let (limit_name, limit) = retry_limit(s, sys);
    let give_up = data_give_up(rto, backoff, limit);
    let elapsed = retrans_elapsed(rto, backoff, timer.count, timer.expires_s);
    RetransGiveUp {
        syn: false,
        limit_name,
        limit,
        linear,
        retransmissions: 0,
        rto,
        give_up,
        elapsed,
        left: (give_up - elapsed).max(0.0),
    }
}

/// Seconds until tcp_keepalive_probes unanswered probes reset the socket.
fn keepalive_left(timer: &Timer, sys: &Sysctls) -> f64 {
    let probes_max = sys.val("net.ipv4.tcp_keepalive_probes");
    let intvl = sys.val("net.ipv4.tcp_keepalive_intvl") as f64;
    timer.expires_s + probes_max.saturating_sub(u64::from(timer.count)) as f64 * intvl
}

fn per_socket_timers(s: &SocketInfo, at: f64, sys: &Sysctls, out: &mut Capped) {
    let Some(timer) = s.timer else { return };
    let ti = s.tcp_info.as_ref();
    // Without tcp_info, the RTO has backed off once per retransmission.
    let backoff = ti.map_or(timer.count, |t| t.backoff);
    match timer.name {
        TimerKind::On if timer.count > 0 || backoff > 0 => {
            if s.state == TcpState::SynRecv {
                return; // counted by sock.syn_recv_buildup
            }
            let RetransGiveUp {
                syn,
                limit_name,
                limit,
                linear,
                retransmissions,
                rto,
                give_up,
                elapsed,
                left,
            } = retrans_give_up(s, &timer, sys);
            let retries1 = sys.val("net.ipv4.tcp_retries1");
            let sev = if u64::from(timer.count) >= retries1 {
                Severity::Error
            } else {
                Severity::Warning
            };
            let text = if syn {
                format!(
                    "connect() to {}{} has sent its SYN {} more time{} without an answer (next in {:.1} s); it gives up after {} retransmissions ({limit_name}={limit}{}{}), {:.0} s after the first SYN, about {:.0} s from now",
                    s.peer,
                    procs_text(s),
                    timer.count,
                    if timer.count == 1 { "" } else { "s" },
                    timer.expires_s,
                    retransmissions,
                    if linear > 0 { format!(", tcp_syn_linear_timeouts={linear}") } else { String::new() },
                    if sys.get(limit_name).1 { ", assumed" } else { "" },
                    give_up,
                    left
                )
            } else {
                format!(
                    "{}{} is retransmitting: {} timeouts in a row (backoff {}, RTO now {:.1} s, next in {:.1} s), {} segments unacknowledged, {} lost; no ACK for {:.1} s. The kernel gives up {:.0} s after the first transmission ({limit_name}={limit}{}), about {:.0} s from now, unless TCP_USER_TIMEOUT is set",
                    s.pair(),
                    procs_text(s),
                    timer.count,
                    backoff,
                    rto,
                    timer.expires_s,
                    ti.map_or(0, |t| t.unacked),
                    ti.map_or(0, |t| t.lost),
                    ti.map_or(0.0, |t| t.last_ack_recv_s),
                    give_up,
                    if sys.get(limit_name).1 { ", assumed" } else { "" },
                    left
                )
            };
            out.push(
                sock_finding("sock.retransmitting", sev, at, s)
                    .summary(text)
                    .evidence("retransmits", timer.count)
                    .evidence("backoff", backoff)
                    .evidence("rto_s", rto)
                    .evidence("expires_s", timer.expires_s)
                    .evidence("unacked", ti.map(|t| t.unacked))
                    .evidence("lost", ti.map(|t| t.lost))
                    .evidence("total_retrans", ti.map(|t| t.total_retrans))
                    .evidence("send_q", s.send_q)
                    .evidence("last_ack_recv_s", ti.map(|t| t.last_ack_recv_s))
                    .evidence(limit_name.trim_start_matches("net.ipv4."), json!({"value": limit, "assumed": sys.get(limit_name).1}))
                    .evidence("give_up_after_s", round_ms(give_up))
                    .evidence("elapsed_estimate_s", round_ms(elapsed))
                    .evidence("remaining_estimate_s", round_ms(left))
                    .confidence(Confidence::Medium)
                    .hint("Segments (or their ACKs) are being lost: the peer is down, the path blackholes, or a firewall drops this flow. An established connection dies after net.ipv4.tcp_retries2 (~924.6 s at 15) unless TCP_USER_TIMEOUT is set; connect() after net.ipv4.tcp_syn_retries (plus tcp_syn_linear_timeouts on newer kernels). Check the path (RetransSegs, TCPTimeouts, interface drops in tcpdiag host) and the peer."),
            );
        }
        // The persist timer also runs when this host cannot transmit at all (a local
        // OUTPUT drop): only a zero send window means the peer closed it.
        TimerKind::Persist if ti.and_then(|t| t.snd_wnd).is_some_and(|w| w > 0) => {
            let wnd = ti.and_then(|t| t.snd_wnd).unwrap_or(0);
            out.push(
                sock_finding("sock.transmit_blocked", Severity::Error, at, s)
                    .summary(format!(
                        "{}{}: {} bytes wait to be sent and nothing is in flight, although the peer's window is open ({wnd} bytes): this host cannot transmit; the kernel keeps probing (persist timer, next in {:.1} s, {} probe{} so far)",
                        s.pair(),
                        procs_text(s),
                        pending_bytes(s),
                        timer.expires_s,
                        timer.count,
                        if timer.count == 1 { "" } else { "s" },
                    ))
                    .evidence("snd_wnd", wnd)
                    .evidence("send_q", s.send_q)
                    .evidence("notsent_bytes", ti.and_then(|t| t.notsent_bytes))
                    .evidence("unacked", ti.map(|t| t.unacked))
                    .evidence("probes", timer.count)
                    .evidence("expires_s", timer.expires_s)
                    .evidence("tcp_retries2", sys.ev("net.ipv4.tcp_retries2"))
                    .confidence(Confidence::High)
                    .with_cause(Cause::CannotTransmit),
            );
        }
        TimerKind::Persist => {
            let wnd = ti.and_then(|t| t.snd_wnd);
            let dead = timer.count >= 2;
            out.push(
                sock_finding("sock.zero_window", if dead { Severity::Error } else { Severity::Warning }, at, s)
                    .summary(format!(
                        "{}{}: {}, so {} bytes wait to be sent; the persist timer probes it (next in {:.1} s, {} probe{} unanswered{})",
                        s.pair(),
                        procs_text(s),
                        if wnd.is_some() {
                            "the peer advertises a zero window"
                        } else {
                            "the persist timer runs (without tcp_info the send window is unknown: a zero window from the peer, or this host cannot transmit)"
                        },
                        pending_bytes(s),
                        timer.expires_s,
                        timer.count,
                        if timer.count == 1 { "" } else { "s" },
                        if dead {
                            format!("; the peer does not answer probes, the kernel gives up after tcp_retries2={} of them", sys.val("net.ipv4.tcp_retries2"))
                        } else {
                            ": the peer is alive but its application is not reading".to_string()
                        }
                    ))
                    .evidence("probes", timer.count)
                    .evidence("expires_s", timer.expires_s)
                    .evidence("backoff", backoff)
                    .evidence("send_q", s.send_q)
                    .evidence("notsent_bytes", ti.and_then(|t| t.notsent_bytes))
                    .evidence("snd_wnd", wnd)
                    .evidence("tcp_retries2", sys.ev("net.ipv4.tcp_retries2"))
                    .confidence(if wnd.is_some() { Confidence::High } else { Confidence::Low })
                    .with_cause(Cause::ReceiverNotReading),
            );
        }
        TimerKind::Keepalive if timer.count > 0 && keepalive_state(s.state) => {
            let probes_max = sys.val("net.ipv4.tcp_keepalive_probes");
            let intvl = sys.val("net.ipv4.tcp_keepalive_intvl") as f64;
            let left = keepalive_left(&timer, sys);
            let assumed = sys.get("net.ipv4.tcp_keepalive_probes").1;
            out.push(
                sock_finding("sock.keepalive_probing", Severity::Warning, at, s)
                    .summary(format!(
                        "{}{}: {} keepalive probe{} sent without an answer (next in {:.1} s): the peer may be dead or a middlebox dropped the connection; with the host's tcp_keepalive_probes={probes_max} and tcp_keepalive_intvl={intvl:.0} s{} the kernel resets it in about {left:.0} s",
                        s.pair(),
                        procs_text(s),
                        timer.count,
                        if timer.count == 1 { "" } else { "s" },
                        timer.expires_s,
                        if assumed { " (assumed)" } else { "" },
                    ))
                    .evidence("probes", timer.count)
                    .evidence("expires_s", timer.expires_s)
                    .evidence("tcp_keepalive_probes", sys.ev("net.ipv4.tcp_keepalive_probes"))
                    .evidence("tcp_keepalive_intvl", sys.ev("net.ipv4.tcp_keepalive_intvl"))
                    .evidence("remaining_estimate_s", round_ms(left))
                    .evidence("last_data_recv_s", ti.map(|t| t.last_data_recv_s))
                    .confidence(Confidence::Medium)
                    .hint("Unanswered keepalive probes mean the peer host is gone or a firewall/NAT forgot the connection. The socket's TCP_KEEPCNT/TCP_KEEPINTVL override net.ipv4.tcp_keepalive_probes/intvl, so the estimate assumes the host defaults."),
            );
        }
        _ => {}
    }
}

/// `sock.not_reading`: this host's application does not read a socket whose receive
/// buffer is full (data waiting, receive window 0): the peer's sender sees a zero
/// window and probes it. Only the kernel's own window (tcpi_rcv_wnd) says full.
fn not_reading(s: &SocketInfo, at: f64, out: &mut Capped) {
    if !matches!(s.state, TcpState::Established | TcpState::CloseWait) || s.recv_q == 0 {
        return;
    }
    let Some(ti) = s.tcp_info.as_ref() else {
        return;
    };
    if ti.rcv_wnd != Some(0) {
        return;
    }
    out.push(
        sock_finding("sock.not_reading", Severity::Warning, at, s)
            .summary(format!(
                "{}{}: {} bytes received and not read, the receive window is 0: the application on this host is not reading this socket (nothing came for {:.1} s; the sender is held by a zero window)",
                s.pair(),
                procs_text(s),
                s.recv_q,
                ti.last_data_recv_s,
            ))
            .evidence("recv_q", s.recv_q)
            .evidence("rcv_wnd", ti.rcv_wnd)
            .evidence("rcv_space", ti.rcv_space)
            .evidence("last_data_recv_s", ti.last_data_recv_s)
            .confidence(Confidence::High)
            .with_cause(Cause::ReceiverNotReading),
    );
}

// ---------------------------------------------------------------- which sockets

/// The finding ids that concern each socket (by cookie), for the table's FINDINGS
/// column and --findings-only: per-socket findings name their cookie; group findings
/// name a listener, a TIME_WAIT destination, a CLOSE_WAIT process or address, or
/// all orphans.
pub fn socket_findings(snap: &Snapshot, findings: &[Finding]) -> HashMap<u64, Vec<&'static str>> {
    let mut out: HashMap<u64, Vec<&'static str>> = HashMap::new();
    let listeners: Vec<&SocketInfo> = snap
        .sockets
        .iter()
        .filter(|s| s.state == TcpState::Listen)
        .collect();
    let ev_str = |f: &Finding, k: &str| {
        f.evidence
            .get(k)
            .and_then(|v| v.as_str().map(str::to_string))
    };
    for f in findings {
        if let Some(c) = f.evidence.get("cookie").and_then(|v| v.as_u64()) {
            out.entry(c).or_default().push(f.id);
            continue;
        }
        let listener: Option<SocketAddr> = ev_str(f, "listener").and_then(|v| v.parse().ok());
        let local_ip: Option<IpAddr> = ev_str(f, "local_ip").and_then(|v| v.parse().ok());
        let remote: Option<SocketAddr> = ev_str(f, "remote").and_then(|v| v.parse().ok());
        let pid = f
            .evidence
            .get("process")
            .and_then(|p| p.get("pid"))
            .and_then(|v| v.as_u64());
        let cw_locals: Vec<String> = f
            .evidence
            .get("local_endpoints")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        for s in &snap.sockets {
            let hit = match f.id {
                "sock.accept_queue_full" => {
                    s.state == TcpState::Listen && Some(s.local) == listener
                }
                "sock.syn_recv_buildup" => {
                    (s.state == TcpState::Listen && Some(s.local) == listener)
                        || (s.state == TcpState::SynRecv
                            && listener_of(&listeners, s).map(|l| l.local) == listener)
                }
                "sock.timewait_buildup" => {
                    s.state == TcpState::TimeWait
                        && Some(s.local.ip()) == local_ip
                        && Some(s.peer) == remote
                }
                "sock.close_wait_buildup" => {
                    s.state == TcpState::CloseWait
                        && match pid {
                            Some(pid) => s
                                .processes
                                .as_ref()
                                .and_then(|p| p.first())
                                .is_some_and(|p| u64::from(p.pid) == pid),
                            None => {
                                cw_locals.contains(&s.local.to_string())
                                    && s.processes.as_ref().is_none_or(|p| p.is_empty())
                            }
                        }
                }
                "sock.orphan_buildup" => s.is_orphan(),
                _ => false,
            };
            if hit {
                out.entry(s.cookie).or_default().push(f.id);
            }
        }
    }
    out
}

/// Estimated seconds until the kernel gives up on the socket because of its running
/// timer (retransmission by tcp_retries2, keepalive by tcp_keepalive_probes), from
/// the host's sysctls (Linux defaults when unknown). None when no such timer runs.
pub fn death_estimate(s: &SocketInfo, host: Option<&HostContext>) -> Option<f64> {
    let t = s.timer?;
    let sys = Sysctls(host);
    let left = match t.name {
        TimerKind::On if t.count > 0 && s.state != TcpState::SynRecv => {
            retrans_give_up(s, &t, &sys).left
        }
        TimerKind::Keepalive if t.count > 0 && keepalive_state(s.state) => keepalive_left(&t, &sys),
        _ => return None,
    };
    Some(round_ms(left))
}

// ---------------------------------------------------------------- across polls

/// Per-socket progress across polls, for the findings that need two or more.
#[derive(Default)]
pub struct Changes {
    stuck: HashMap<u64, (usize, Option<u64>, f64)>,
    reported: std::collections::HashSet<(&'static str, u64)>,
}

impl Changes {
    /// Findings raised by `cur` compared with `prev` (each socket's finding once).
    pub fn on_poll(&mut self, prev: &Snapshot, cur: &Snapshot, cfg: &SocketConfig) -> Vec<Finding> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for s in &cur.sockets {
            let Some(ti) = &s.tcp_info else { continue };
            // Progress is judged by tcpi_bytes_acked (Linux 4.1+): without it every
            // socket with queued data would look stuck.
            if ti.bytes_acked.is_none() {
                continue;
            }
            let pending = pending_bytes(s);
            if !matches!(s.state, TcpState::Established | TcpState::CloseWait) || pending == 0 {
                continue;
            }
            // A persist timer or retransmissions already explain the stuck queue (the
            // snapshot findings sock.zero_window / transmit_blocked / retransmitting):
            // one finding per symptom.
            if s.timer.is_some_and(|t| {
                t.name == TimerKind::Persist || (t.name == TimerKind::On && t.count > 0)
            }) {
                continue;
            }
            seen.insert(s.cookie);
            let e = self
                .stuck
                .entry(s.cookie)
                .or_insert((0, ti.bytes_acked, cur.at));
            if e.0 > 0 && e.1 == ti.bytes_acked {
                e.0 += 1;
            } else {
                *e = (1, ti.bytes_acked, cur.at);
            }
            // Polls alone are no measure of time (watch --interval 10ms): data in
            // flight is only stuck once unacknowledged for longer than its RTO.
            if e.0 >= cfg.stuck_polls.max(2)
                && cur.at - e.2 >= ti.rto_s
                && self.reported.insert(("sock.send_queue_stuck", s.cookie))
            {
                let secs = round_ms(cur.at - e.2);
                out.push(
                    sock_finding("sock.send_queue_stuck", Severity::Warning, cur.at, s)
                        .summary(format!(
                            "{}{}: {} bytes wait in the send queue ({} not yet sent) and nothing was acknowledged for {} polls ({secs} s), with neither a persist timer nor retransmissions to explain it",
                            s.pair(),
                            procs_text(s),
                            pending,
                            ti.notsent_bytes.unwrap_or(0),
                            e.0,
                        ))
                        .evidence("polls", e.0)
                        .evidence("seconds", secs)
                        .evidence("send_q", s.send_q)
                        .evidence("notsent_bytes", ti.notsent_bytes)
                        .evidence("bytes_acked", ti.bytes_acked)
                        .evidence("snd_wnd", ti.snd_wnd)
                        .evidence("timer", s.timer.map(|t| t.name.as_str()))
                        .confidence(Confidence::High)
                        .hint("Data is written but does not leave, and no timer says why: look at the congestion window and pacing (ss -tin: cwnd, pacing_rate, delivery_rate) and at the peer's ACKs. tcpi_notsent_bytes is what the application wrote that TCP has not sent; TCP_NOTSENT_LOWAT bounds it."),
                );
            }
        }
        self.stuck.retain(|k, _| seen.contains(k));
        // ListenOverflows rising while a listener's queue is at its backlog.
        let delta = |name: &str| -> Option<u64> {
            let a = prev.host.as_ref()?.counter(name)?;
            let b = cur.host.as_ref()?.counter(name)?;
            Some(b.saturating_sub(a))
        };
        if let Some(d) = delta("TcpExt.ListenOverflows").filter(|d| *d > 0) {
            let dt = (cur.at - prev.at).max(1e-3);
            let full: Vec<&SocketInfo> = cur
                .sockets
                .iter()
                .filter(|s| s.state == TcpState::Listen && s.recv_q >= s.send_q && s.send_q > 0)
                .collect();
            for l in full {
                if !self.reported.insert(("sock.accept_queue_full", l.cookie)) {
                    continue;
                }
                out.push(
                    sock_finding("sock.accept_queue_full", Severity::Error, cur.at, l)
                        .summary(format!(
                            "Listener {}{}: accept queue {} of backlog {} and ListenOverflows rose by {d} in {:.1} s ({:.1}/s): connections are being dropped now",
                            l.local,
                            procs_text(l),
                            l.recv_q,
                            l.send_q,
                            dt,
                            d as f64 / dt
                        ))
                        .evidence("listener", l.local)
                        .evidence("accept_queue", l.recv_q)
                        .evidence("backlog", l.send_q)
                        .evidence("ListenOverflows_delta", d)
                        .evidence("ListenDrops_delta", delta("TcpExt.ListenDrops"))
                        .evidence("interval_s", round_ms(dt))
                        .confidence(Confidence::High)
                        .hint("The application does not accept() fast enough; see sock.accept_queue_full in tcpdiag explain."),
                );
            }
        }
        out
    }

    /// Whether a snapshot finding for this (id, socket) was already shown.
    pub fn first_time(&mut self, f: &Finding) -> bool {
        let key = f
            .evidence
            .get("cookie")
            .and_then(|v| v.as_u64())
            .or_else(|| {
                // Group findings: key on their summary's group (listener, remote, ...).
                let k = ["listener", "remote", "process", "local_endpoints"]
                    .iter()
                    .find_map(|k| f.evidence.get(*k))
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                Some(hash_str(&k))
            })
            .unwrap_or(0);
        self.reported.insert((f.id, key))
    }
}

fn hash_str(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::host::sysctl_value;
    use crate::model::socket::{TcpInfo, Timer};

    fn sock(state: TcpState, local: &str, peer: &str) -> SocketInfo {
        SocketInfo {
            inode: 1,
            ..SocketInfo::bare(state, local, peer)
        }
    }

    fn timer(name: TimerKind, expires_s: f64, count: u8) -> Option<Timer> {
        Some(Timer {
            name,
            expires_s,
            count,
        })
    }

    fn host(pairs: &[(&str, &str)]) -> HostContext {
        let mut h = HostContext::default();
        for (k, v) in pairs {
            h.sysctls.insert(k.to_string(), sysctl_value(v));
        }
        h
    }

    fn snap(sockets: Vec<SocketInfo>, host: Option<HostContext>) -> Snapshot {
        let mut sockets = sockets;
        for (i, s) in sockets.iter_mut().enumerate() {
            s.cookie = i as u64 + 1;
        }
        Snapshot {
            at: 1000.0,
            netns: None,
            sockets,
            host,
            namespaces: None,
        }
    }

    fn ids(f: &[Finding]) -> Vec<&'static str> {
        f.iter().map(|f| f.id).collect()
    }

    #[test]
    fn timewait_against_a_small_port_range() {
        let mut v = Vec::new();
        for p in 40000..40008 {
            let mut s = sock(TcpState::TimeWait, &format!("10.0.0.1:{p}"), "10.0.0.2:80");
            s.inode = 0;
            s.timer = timer(TimerKind::Timewait, 50.0, 0);
            v.push(s);
        }
        let h = host(&[
            ("net.ipv4.ip_local_port_range", "40000 40009"),
            ("net.ipv4.tcp_tw_reuse", "0"),
        ]);
        let f = analyze(&snap(v.clone(), Some(h)), &SocketConfig::default());
        assert_eq!(ids(&f), vec!["sock.timewait_buildup"]);
        assert_eq!(f[0].severity, Severity::Error);
        assert_eq!(f[0].evidence["usable_ports"], 10);
        assert_eq!(f[0].evidence["share"], 0.8);
        assert!(f[0].summary.contains("tcp_tw_reuse=0"), "{}", f[0].summary);
        // With the default (assumed) range 8 sockets are nothing.
        assert!(analyze(&snap(v, None), &SocketConfig::default()).is_empty());
        let s = summarize(&snap(Vec::new(), None));
        assert_eq!(s.states["TIME_WAIT"], 0);
    }

    #[test]
    fn every_socket_id_is_in_the_catalog() {
        // sock_finding() takes the id as a parameter, which tests/catalog.rs's scan
        // for literal ids after Finding::new cannot see.
        let src = include_str!("sockets.rs");
        let mut n = 0;
        for part in src.split("\"sock.").skip(1) {
            let id = format!("sock.{}", part.split('"').next().unwrap());
            if id.len() > 5
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
            {
                assert!(
                    super::super::catalog::explain(&id).is_some(),
                    "{id} not in the catalog"
                );
                n += 1;
            }
        }
        assert!(n >= 9);
    }

    #[test]
    fn the_finding_and_the_report_give_the_same_time_left() {
        // sock.retransmitting's remaining_estimate_s and death_estimate (the reports'
        // gives_up_in_s) are one estimate. A SYN_SENT socket that has retried more
        // than tcp_syn_retries allows (TCP_SYNCNT) still has its pending timer left.
        let h = host(&[("net.ipv4.tcp_syn_retries", "2")]);
        let mut syn = sock(TcpState::SynSent, "10.0.0.1:5000", "10.0.0.2:80");
        syn.timer = timer(TimerKind::On, 4.0, 5);
        let mut data = sock(TcpState::Established, "10.0.0.1:5001", "10.0.0.2:80");
        data.timer = timer(TimerKind::On, 1.6, 3);
        let mut late = sock(TcpState::SynSent, "10.0.0.1:5002", "10.0.0.2:80");
        late.timer = timer(TimerKind::On, 3.0, 1);
        for s in [&syn, &data, &late] {
            let f = analyze(
                &snap(vec![(*s).clone()], Some(h.clone())),
                &SocketConfig::default(),
            );
            let left = f[0].evidence["remaining_estimate_s"].as_f64();
            assert_eq!(left, death_estimate(s, Some(&h)), "{}", f[0].summary);
        }
        // Past the schedule the next expiry is the give-up, 4 s away (not 0).
        assert_eq!(death_estimate(&syn, Some(&h)), Some(4.0));
        // A current interval longer than the schedule's: that expiry, then 4 s more.
        assert_eq!(death_estimate(&late, Some(&h)), Some(7.0));
    }

    #[test]
    fn syn_schedule() {
        // Measured on 6.18 with tcp_syn_retries=3 and the default linear 4: SYNs at
        // 0,1,2,3,4,5,7,11 s, giving up at 19 s.
        let v = syn_intervals(3, 4);
        assert_eq!(v, vec![1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 4.0, 8.0]);
        // Classic exponential schedule: 127 s at tcp_syn_retries=6.
        assert_eq!(syn_intervals(6, 0).iter().sum::<f64>(), 127.0);
        // Measured on 6.18 (tdrv namespaces, SYNs dropped by nftables):
        // tcp_syn_retries=1 with linear 4 times out after 3.05 s: the time bound
        // (2^2 - 1) x 1 s ends it after 2 retransmissions, not 5.
        assert_eq!(syn_intervals(1, 4), vec![1.0, 1.0, 1.0]);
        // The defaults (6, linear 4): 10 retransmissions, then the 131 s expiry.
        let d = syn_intervals(6, 4);
        assert_eq!((d.len() - 1, d.iter().sum::<f64>()), (10, 131.0));
    }

    #[test]
    fn data_give_up_is_the_first_expiry_after_the_time_bound() {
        // rto starting at 200 ms hits tcp_model_timeout exactly: 924.6 s at 15.
        assert!((data_give_up(0.2, 0, 15) - 924.6).abs() < 1e-6);
        // From 1 s: 1, 3, 7, ... 127 s, then 120 s steps: the expiry at 967 s is the
        // first at or after 924.6 s.
        assert!((data_give_up(1.0, 0, 15) - 967.0).abs() < 1e-6);
        // The RTO now is halved once per backoff to find the first one.
        assert!((data_give_up(8.0, 3, 15) - 967.0).abs() < 1e-6);
    }

    #[test]
    fn zero_window_counts_send_q_once() {
        // Real numbers from `ss -tinoe` on 6.18: Send-Q 43440 and notsent:43440 (the
        // unsent bytes are part of Send-Q).
        let mut z = sock(TcpState::Established, "10.77.0.1:38622", "10.77.0.2:9000");
        z.send_q = 43440;
        z.timer = Some(Timer {
            name: TimerKind::Persist,
            expires_s: 2.9,
            count: 2,
        });
        z.tcp_info = Some(TcpInfo {
            notsent_bytes: Some(43440),
            snd_wnd: Some(0),
            ..TcpInfo::default()
        });
        let f = analyze(&snap(vec![z], None), &SocketConfig::default());
        assert_eq!(f[0].id, "sock.zero_window");
        assert!(
            f[0].summary.contains("so 43440 bytes wait"),
            "{}",
            f[0].summary
        );
    }

    #[test]
    fn reserved_ports() {
        assert_eq!(reserved_in("40001,40005-40100,80", (40000, 40009)), 6);
        assert_eq!(reserved_in("", (1, 2)), 0);
    }

    #[test]
    fn listener_queues() {
        let mut l = sock(TcpState::Listen, "0.0.0.0:8080", "0.0.0.0:0");
        l.recv_q = 3;
        l.send_q = 2;
        let mut v = vec![l];
        for i in 0..4 {
            let mut s = sock(
                TcpState::SynRecv,
                "10.0.0.1:8080",
                &format!("10.0.0.9:{}", 5000 + i),
            );
            s.inode = 0;
            s.timer = timer(TimerKind::On, 1.0, 2);
            v.push(s);
        }
        let sn = snap(v, None);
        let sum = summarize(&sn);
        assert_eq!(sum.listeners[0].syn_recv, 4);
        assert_eq!(sum.listeners[0].accept_queue, 3);
        let f = analyze(&sn, &SocketConfig::default());
        assert_eq!(
            ids(&f),
            vec!["sock.accept_queue_full", "sock.syn_recv_buildup"]
        );
        assert_eq!(f[1].evidence["max_synack_retransmits"], 2);
        // SYN-RECV retransmissions are not reported again per socket.
        assert!(!ids(&f).contains(&"sock.retransmitting"));
    }

    #[test]
    fn syn_recv_goes_to_the_listener_of_its_family() {
        // Separate 0.0.0.0:443 and [::]:443 (v6only) listeners: three IPv4 requests and
        // one IPv6 request.
        let v4 = sock(TcpState::Listen, "0.0.0.0:443", "0.0.0.0:0");
        let mut v6 = sock(TcpState::Listen, "[::]:443", "[::]:0");
        v6.family = "inet6".into();
        let mut v = vec![v6, v4];
        for i in 0..3 {
            v.push(sock(
                TcpState::SynRecv,
                "10.0.0.1:443",
                &format!("10.0.0.9:{}", 5000 + i),
            ));
        }
        let mut r6 = sock(TcpState::SynRecv, "[2001:db8::1]:443", "[2001:db8::9]:6000");
        r6.family = "inet6".into();
        v.push(r6);
        let sum = summarize(&snap(v, None));
        let count = |local: &str| {
            sum.listeners
                .iter()
                .find(|l| l.local.to_string() == local)
                .map(|l| l.syn_recv)
        };
        assert_eq!(count("0.0.0.0:443"), Some(3));
        assert_eq!(count("[::]:443"), Some(1));
    }

    #[test]
    fn timers() {
        let mut r = sock(TcpState::Established, "10.0.0.1:5000", "10.0.0.2:80");
        r.timer = timer(TimerKind::On, 1.6, 3);
        r.tcp_info = Some(TcpInfo {
            rto_s: 1.6,
            backoff: 3,
            unacked: 2,
            ..TcpInfo::default()
        });
        let mut k = sock(TcpState::Established, "10.0.0.1:5001", "10.0.0.2:80");
        k.timer = timer(TimerKind::Keepalive, 1.0, 2);
        let mut z = sock(TcpState::Established, "10.0.0.1:5002", "10.0.0.2:80");
        z.timer = timer(TimerKind::Persist, 0.4, 0);
        let mut quiet = sock(TcpState::Established, "10.0.0.1:5003", "10.0.0.2:80");
        quiet.timer = timer(TimerKind::Keepalive, 7000.0, 0);
        let h = host(&[
            ("net.ipv4.tcp_keepalive_probes", "3"),
            ("net.ipv4.tcp_keepalive_intvl", "1"),
            ("net.ipv4.tcp_retries2", "5"),
        ]);
        let f = analyze(
            &snap(vec![r, k, z, quiet], Some(h)),
            &SocketConfig::default(),
        );
        let mut got = ids(&f);
        got.sort();
        assert_eq!(
            got,
            vec![
                "sock.keepalive_probing",
                "sock.retransmitting",
                "sock.zero_window"
            ]
        );
        let ka = f.iter().find(|f| f.id == "sock.keepalive_probing").unwrap();
        assert_eq!(ka.evidence["remaining_estimate_s"], 2.0);
        // A CLOSE_WAIT socket (peer's FIN received, application still holding it)
        // probes too, and is reset the same way.
        let mut cw = sock(TcpState::CloseWait, "10.0.0.1:5005", "10.0.0.2:80");
        cw.timer = Some(Timer {
            name: TimerKind::Keepalive,
            expires_s: 1.0,
            count: 2,
        });
        let h = host(&[
            ("net.ipv4.tcp_keepalive_probes", "3"),
            ("net.ipv4.tcp_keepalive_intvl", "1"),
        ]);
        assert_eq!(death_estimate(&cw, Some(&h)), Some(2.0));
        let cwf = analyze(&snap(vec![cw], Some(h)), &SocketConfig::default());
        assert_eq!(ids(&cwf), vec!["sock.keepalive_probing"]);
        let rt = f.iter().find(|f| f.id == "sock.retransmitting").unwrap();
        assert_eq!(rt.severity, Severity::Error);
        // tcp_retries2=5: (2^6 - 1) * 0.2 = 12.6 s; 0.2 + 0.4 + 0.8 elapsed so far.
        assert_eq!(rt.evidence["give_up_after_s"], 12.6);
        assert_eq!(rt.evidence["elapsed_estimate_s"], 1.4);
        // An orphan in LAST_ACK is bounded by tcp_orphan_retries (0 means 8).
        let mut o = sock(TcpState::LastAck, "10.0.0.1:5004", "10.0.0.2:80");
        o.inode = 0;
        o.timer = timer(TimerKind::On, 0.8, 2);
        let h = host(&[("net.ipv4.tcp_orphan_retries", "0")]);
        let f = analyze(&snap(vec![o], Some(h)), &SocketConfig::default());
        assert_eq!(f[0].evidence["tcp_orphan_retries"]["value"], 8);
        assert_eq!(f[0].evidence["give_up_after_s"], 102.2);
    }

    #[test]
    fn a_persist_timer_with_an_open_window_is_this_host_unable_to_send() {
        let persist = |wnd: u32| {
            let mut z = sock(TcpState::Established, "10.0.0.1:80", "10.0.0.2:5000");
            z.timer = timer(TimerKind::Persist, 0.4, 2);
            z.send_q = 70952;
            z.tcp_info = Some(TcpInfo {
                snd_wnd: Some(wnd),
                notsent_bytes: Some(70952),
                ..TcpInfo::default()
            });
            analyze(&snap(vec![z], None), &SocketConfig::default())
        };
        // An nft OUTPUT drop: the peer's window is open, nothing leaves.
        let blocked = persist(64512);
        assert_eq!(ids(&blocked), vec!["sock.transmit_blocked"]);
        assert_eq!(blocked[0].evidence["cause"], "cannot_transmit");
        assert!(!blocked[0].summary.contains("zero window"));
        // A peer that closed its window.
        let zero = persist(0);
        assert_eq!(ids(&zero), vec!["sock.zero_window"]);
        assert_eq!(zero[0].evidence["cause"], "receiver_not_reading");
    }

    #[test]
    fn a_full_receive_buffer_names_the_stopped_reader() {
        let mut r = sock(TcpState::Established, "10.0.0.1:5000", "10.0.0.2:80");
        r.recv_q = 122_444;
        r.tcp_info = Some(TcpInfo {
            rcv_wnd: Some(0),
            last_data_recv_s: 12.0,
            ..TcpInfo::default()
        });
        r.processes = Some(vec![crate::model::socket::ProcRef {
            pid: 7,
            comm: "python3".into(),
            fd: 3,
            state: Some("T (stopped)".into()),
        }]);
        let f = analyze(&snap(vec![r.clone()], None), &SocketConfig::default());
        assert_eq!(ids(&f), vec!["sock.not_reading"]);
        assert!(
            f[0].summary.contains("python3[7, T (stopped)]"),
            "{}",
            f[0].summary
        );
        // Data waiting with the window still open is a reader that is just behind.
        r.tcp_info.as_mut().unwrap().rcv_wnd = Some(30_000);
        assert!(analyze(&snap(vec![r], None), &SocketConfig::default()).is_empty());
    }

    #[test]
    fn close_wait_sockets_never_accepted_are_the_accept_queues() {
        let queued = |queue: u32| {
            let mut l = sock(TcpState::Listen, "0.0.0.0:80", "0.0.0.0:0");
            l.recv_q = queue;
            l.send_q = 16;
            l.processes = Some(vec![crate::model::socket::ProcRef {
                pid: 9,
                comm: "nginx".into(),
                fd: 6,
                state: Some("T (stopped)".into()),
            }]);
            let mut v = vec![l];
            for i in 0..3 {
                let mut s = sock(
                    TcpState::CloseWait,
                    "10.0.0.1:80",
                    &format!("10.0.0.2:{}", 6000 + i),
                );
                s.inode = 0;
                s.recv_q = 83;
                s.processes = Some(Vec::new());
                v.push(s);
            }
            let cfg = SocketConfig {
                close_wait_min: 3,
                ..SocketConfig::default()
            };
            analyze(&snap(v, None), &cfg)
        };
        // The queue has room: the clients gave up before being accepted, and the
        // listener's process is named, not "use -p".
        let f = queued(3);
        assert_eq!(ids(&f), vec!["sock.close_wait_buildup"]);
        assert_eq!(f[0].evidence["never_accepted"], true);
        assert_eq!(f[0].evidence["cause"], "not_accepted");
        assert!(
            f[0].summary.contains("nginx[9, T (stopped)]"),
            "{}",
            f[0].summary
        );
        assert!(!f[0].summary.contains("use -p"));
        // A full queue: the accept queue finding tells it, once.
        let f = queued(17);
        assert_eq!(ids(&f), vec!["sock.accept_queue_full"]);
        assert_eq!(f[0].evidence["close_wait_not_accepted"], 3);
    }

    #[test]
    fn close_wait_and_orphans() {
        let mut v = Vec::new();
        for i in 0..3 {
            let mut s = sock(
                TcpState::CloseWait,
                "10.0.0.1:80",
                &format!("10.0.0.2:{}", 6000 + i),
            );
            s.processes = Some(vec![crate::model::socket::ProcRef {
                state: None,
                pid: 42,
                comm: "srv".into(),
                fd: 3 + i,
            }]);
            v.push(s);
            let mut o = sock(
                TcpState::FinWait2,
                &format!("10.0.0.2:{}", 6000 + i),
                "10.0.0.1:80",
            );
            o.inode = 0;
            v.push(o);
        }
        let cfg = SocketConfig {
            close_wait_min: 3,
            orphan_min: 3,
            ..SocketConfig::default()
        };
        let f = analyze(&snap(v.clone(), None), &cfg);
        assert_eq!(
            ids(&f),
            vec!["sock.close_wait_buildup", "sock.orphan_buildup"]
        );
        assert!(f[0].summary.contains("srv[42]"));
        assert_eq!(f[1].evidence["by_state"]["FIN_WAIT2"], 3);
        assert!(analyze(&snap(v, None), &SocketConfig::default()).is_empty());
    }

    #[test]
    fn send_queue_stuck_needs_more_than_an_rto() {
        // Polls 10 ms apart on a 200 ms RTO: three polls without an ACK are data in
        // flight, not a stuck queue; past the RTO they are.
        let mut s = sock(TcpState::Established, "10.0.0.1:5000", "10.0.0.2:80");
        s.send_q = 1000;
        s.tcp_info = Some(TcpInfo {
            rto_s: 0.2,
            bytes_acked: Some(77),
            ..TcpInfo::default()
        });
        let at = |t: f64| Snapshot {
            at: 100.0 + t,
            ..snap(vec![s.clone()], None)
        };
        let mut ch = Changes::default();
        let cfg = SocketConfig::default();
        for t in [0.0, 0.01, 0.02, 0.03] {
            assert!(ch.on_poll(&at(t), &at(t), &cfg).is_empty(), "at +{t} s");
        }
        let f = ch.on_poll(&at(0.25), &at(0.25), &cfg);
        assert_eq!(ids(&f), vec!["sock.send_queue_stuck"]);
    }

    #[test]
    fn send_queue_stuck_needs_polls() {
        let mut s = sock(TcpState::Established, "10.0.0.1:5000", "10.0.0.2:80");
        s.send_q = 1000;
        s.tcp_info = Some(TcpInfo {
            notsent_bytes: Some(5000),
            bytes_acked: Some(77),
            ..TcpInfo::default()
        });
        let a = snap(vec![s.clone()], None);
        let mut ch = Changes::default();
        let cfg = SocketConfig::default();
        assert!(ch.on_poll(&a, &a, &cfg).is_empty());
        assert!(ch.on_poll(&a, &a, &cfg).is_empty());
        let f = ch.on_poll(&a, &a, &cfg);
        assert_eq!(ids(&f), vec!["sock.send_queue_stuck"]);
        assert!(ch.on_poll(&a, &a, &cfg).is_empty(), "reported once");
        // Progress resets the count.
        let mut ch = Changes::default();
        let mut moving = s;
        for i in 0..5 {
            moving.tcp_info.as_mut().unwrap().bytes_acked = Some(100 + i);
            let b = snap(vec![moving.clone()], None);
            assert!(ch.on_poll(&b, &b, &cfg).is_empty());
        }
        // A kernel whose tcp_info has no bytes_acked (before 4.1): progress is
        // unknown, so nothing is claimed.
        let mut ch = Changes::default();
        let mut old = moving;
        old.tcp_info.as_mut().unwrap().bytes_acked = None;
        let c = snap(vec![old], None);
        for _ in 0..5 {
            assert!(ch.on_poll(&c, &c, &cfg).is_empty());
        }
    }
}
