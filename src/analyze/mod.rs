//! Analyzers: finished connections (and capture-wide context) -> findings.
//! One file per finding family; each sees only the flow model and the context,
//! never the packet source.

pub mod capture;
pub mod catalog;
pub mod cause;
pub mod close;
pub mod context;
pub mod finding;
pub mod handshake;
pub mod hosts;
pub mod kernel;
pub mod listeners;
pub mod local;
pub mod reset;
pub mod sockets;
pub mod stall;
pub mod timers;
pub mod verdict;
pub mod window;

pub use cause::Cause;
pub use finding::{Confidence, Finding, Severity, Symptom};

use crate::engine::DecodeStats;
use crate::flow::{Connection, TableStats};
use context::CaptureContext;

/// Thresholds; each has a command-line flag.
#[derive(Clone, Debug)]
pub struct AnalyzerConfig {
    /// stall.first_byte / stall.response: wait longer than this (seconds).
    pub stall_threshold_s: f64,
    /// idle.reset: silence before a RST at least this long (seconds).
    pub idle_reset_s: f64,
    /// handshake.half_open_flood: at least this many unfinished handshakes to one
    /// server within `flood_window_s`.
    pub flood_min: usize,
    pub flood_window_s: f64,
    /// timewait.buildup: at least this many active closes from one client address
    /// to one server ip:port.
    pub timewait_min: usize,
    /// TIME_WAIT length on Linux (TCP_TIMEWAIT_LEN), seconds.
    pub time_wait_s: f64,
    /// Ephemeral port range of the client host, for TIME_WAIT pressure.
    pub port_range: (u16, u16),
    /// Where `port_range` came from: "default", "--port-range" or "host" (this
    /// host's net.ipv4.ip_local_port_range, live capture).
    pub port_range_from: &'static str,
    /// Host sysctls when known (capture/sockets), else Linux defaults are assumed.
    pub tcp_syn_retries: Option<u32>,
    pub tcp_retries2: Option<u32>,
    /// Each of the two above was read from this host (live capture), so it applies
    /// only to senders at one of `local_addrs`; given as a flag it applies to all.
    pub syn_retries_from_host: bool,
    pub retries2_from_host: bool,
    /// Live capture: this host's own addresses (empty for saved captures).
    pub local_addrs: Vec<std::net::IpAddr>,
    /// Live capture: time of the latest socket poll (a socket in it still existed).
    pub last_socket_poll: Option<crate::model::Ts>,
    /// Live capture: packets the kernel or the interface dropped so far. Any drop
    /// means a packet this host sent may be missing from the capture.
    pub capture_drops: u64,
    /// capture.truncated is reported (a live capture cuts payloads on purpose with its
    /// header-sized default snaplen, and says so in summary.capture.snaplen).
    pub report_snaplen_cut: bool,
}

impl AnalyzerConfig {
    /// A host sysctl as it applies to a sender at `ip`: this host's value only for
    /// this host's own connections.
    fn for_sender(&self, v: Option<u32>, from_host: bool, ip: std::net::IpAddr) -> Option<u32> {
        v.filter(|_| !from_host || self.local_addrs.contains(&ip))
    }

    /// net.ipv4.tcp_syn_retries of the host at `client`, when known.
    pub fn syn_retries_of(&self, client: std::net::IpAddr) -> Option<u32> {
        self.for_sender(self.tcp_syn_retries, self.syn_retries_from_host, client)
    }

    /// net.ipv4.tcp_retries2 of the host at `sender`, when known.
    pub fn retries2_of(&self, sender: std::net::IpAddr) -> Option<u32> {
        self.for_sender(self.tcp_retries2, self.retries2_from_host, sender)
    }
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        AnalyzerConfig {
            stall_threshold_s: 1.0,
            idle_reset_s: 10.0,
            flood_min: 100,
            flood_window_s: 10.0,
            timewait_min: 100,
            time_wait_s: 60.0,
            port_range: (32768, 60999),
            port_range_from: "default",
            tcp_syn_retries: None,
            tcp_retries2: None,
            syn_retries_from_host: false,
            retries2_from_host: false,
            local_addrs: Vec::new(),
            last_socket_poll: None,
            capture_drops: 0,
            report_snaplen_cut: true,
        }
    }
}

/// Findings kept for the top-level list; beyond this they are only counted.
pub const MAX_KEPT_FINDINGS: usize = 20_000;

pub struct Analyzers {
    pub cfg: AnalyzerConfig,
    hosts: hosts::HostProfiles,
    floods: handshake::FloodTracker,
    idle_resets: reset::IdleResetTracker,
    time_waits: close::TimeWaitTracker,
    capture: capture::CaptureTracker,
    /// Per-flow findings kept for the report's top-level list. The handshake findings
    /// of half-open flows wait in `floods` until the end (they share the
    /// MAX_KEPT_FINDINGS bound): those of a flooded server are folded into its
    /// `handshake.half_open_flood`, the others join this list.
    pub flow_findings: Vec<Finding>,
    /// (flow, finding id) folded into a flood finding, for sinks that list per-flow
    /// findings at the end.
    pub folded: Vec<(u64, &'static str)>,
    /// Per-flow findings caused by a full accept queue of this host (live capture),
    /// held until the end, with the listener a poll saw full while the flow lived:
    /// that listener's finding stands for them.
    queued: Vec<(Option<crate::model::Endpoint>, Finding)>,
    pub findings_not_kept: u64,
    counts: [u64; 3],
    /// Bytes the kept and queued findings hold (memory budget).
    kept_bytes: usize,
    /// The process's memory budget: past its trigger, no more findings are kept for
    /// the top-level list (they are counted, and each flow's record has its own).
    budget: Option<std::sync::Arc<crate::budget::MemoryBudget>>,
}

impl Analyzers {
    pub fn new(cfg: AnalyzerConfig) -> Analyzers {
        Analyzers {
            cfg,
            hosts: hosts::HostProfiles::default(),
            floods: handshake::FloodTracker::default(),
            idle_resets: reset::IdleResetTracker::default(),
            time_waits: close::TimeWaitTracker::default(),
            capture: capture::CaptureTracker::default(),
            flow_findings: Vec::new(),
            folded: Vec::new(),
            queued: Vec::new(),
            findings_not_kept: 0,
            counts: [0; 3],
            kept_bytes: 0,
            budget: None,
        }
    }

    /// Shares the process's memory budget (the engine sets it).
    /// The capture-wide trackers, which are never shed, are sized for its limit.
    pub fn set_budget(&mut self, budget: std::sync::Arc<crate::budget::MemoryBudget>) {
        let limit = budget.limit();
        self.hosts.fit(limit);
        self.floods.fit(limit);
        self.idle_resets.fit(limit);
        self.time_waits.fit(limit);
        self.budget = Some(budget);
    }

    /// Whether another finding may be kept for the top-level list: under the count
    /// bound and with room in the memory budget.
    fn room_to_keep(&self) -> bool {
        self.flow_findings.len() + self.floods.held() + self.queued.len() < MAX_KEPT_FINDINGS
            && self.budget.as_ref().is_none_or(|b| !b.crowded())
    }

    /// Bytes the capture-wide trackers and the kept findings hold (memory budget).
    pub fn footprint(&self) -> usize {
        use crate::budget::vec_bytes;
        self.hosts.footprint()
            + self.floods.footprint()
            + self.idle_resets.footprint()
            + self.time_waits.footprint()
            + vec_bytes(&self.flow_findings)
            + vec_bytes(&self.queued)
            + vec_bytes(&self.folded)
            + self.kept_bytes
    }

    /// Runs the per-flow analyzers on a finished connection.
    pub fn on_flow(&mut self, conn: &Connection, ctx: &CaptureContext) -> Vec<Finding> {
        let cfg = &self.cfg;
        let mut found: Vec<Finding> = Vec::new();
        handshake::analyze(conn, cfg, &self.hosts, &mut found);
        stall::analyze(conn, cfg, ctx, &mut found);
        reset::analyze(conn, cfg, &self.hosts, &mut found);
        timers::analyze(conn, cfg, ctx, &mut found);
        // It annotates the findings above with the local socket's view.
        local::analyze(conn, cfg, &mut found);
        local::listener_causes(conn, ctx, &mut found);
        // One explanation per symptom (RST, resends, silence).
        verdict::decide(&mut found);
        found.iter_mut().for_each(Finding::name_cause);
        let half_open = self.floods.on_flow(conn, cfg.flood_window_s);
        self.idle_resets.on_flow(conn, cfg, &self.hosts);
        self.hosts.learn(conn);
        self.time_waits.on_flow(conn, cfg);
        self.capture.on_flow(conn);
        for f in &found {
            self.counts[f.severity as usize] += 1;
            let accept_queue = matches!(f.cause, Some(Cause::AcceptQueueFull | Cause::NotAccepted));
            if !self.room_to_keep() {
                if !(half_open && self.floods.count_unheld(conn.server, f)) {
                    self.findings_not_kept += 1;
                }
            } else if accept_queue {
                self.kept_bytes += f.heap_bytes();
                // Folded only into a queue that was full while this flow waited, not
                // one that filled at another time.
                let full = ctx
                    .listeners
                    .during(conn.server, conn.start, conn.end)
                    .filter(|st| st.fullest.full())
                    .map(|st| st.listener);
                self.queued.push((full, f.clone()));
            } else if !(half_open && self.floods.hold(conn.server, f)) {
                self.kept_bytes += f.heap_bytes();
                self.flow_findings.push(f.clone());
            }
        }
        found
    }

    /// Findings per severity, all of them (kept or not).
    pub fn severity_counts(&self) -> Vec<(Severity, u64)> {
        vec![
            (Severity::Info, self.counts[0]),
            (Severity::Warning, self.counts[1]),
            (Severity::Error, self.counts[2]),
        ]
    }

    /// Capture-wide findings, once the input ended.
    pub fn finish(
        &mut self,
        table: &TableStats,
        decode: &DecodeStats,
        ctx: &CaptureContext,
        budget: &crate::budget::MemoryBudget,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        // Findings caused by a full accept queue: a listener seen full stands for them.
        let mut by_listener: rustc_hash::FxHashMap<
            crate::model::Endpoint,
            std::collections::BTreeMap<&'static str, u64>,
        > = rustc_hash::FxHashMap::default();
        for (full, f) in std::mem::take(&mut self.queued) {
            match full {
                Some(listener) => {
                    *by_listener
                        .entry(listener)
                        .or_default()
                        .entry(f.id)
                        .or_default() += 1;
                    self.counts[f.severity as usize] -= 1;
                    if let Some(flow) = f.flow {
                        self.folded.push((flow, f.id));
                    }
                }
                None => self.flow_findings.push(f),
            }
        }
        ctx.listeners.findings(&by_listener, &mut out);
        let folding = self.floods.finish(&self.cfg, &mut out);
        self.flow_findings.extend(folding.released);
        for (count, n) in self.counts.iter_mut().zip(folding.folded_unheld) {
            *count -= n;
        }
        self.findings_not_kept += folding.released_unheld;
        for f in folding.folded {
            self.counts[f.severity as usize] -= 1;
            if let Some(flow) = f.flow {
                self.folded.push((flow, f.id));
            }
        }
        self.folded.sort_unstable();
        self.idle_resets.findings(&mut out);
        self.time_waits.findings(&self.cfg, &mut out);
        self.capture.findings(table, decode, &mut out);
        out.extend(capture::memory_limit(budget));
        if !self.cfg.report_snaplen_cut {
            out.retain(|f| f.id != "capture.truncated");
        }
        for f in &mut out {
            f.name_cause();
            self.counts[f.severity as usize] += 1;
        }
        out
    }
}

/// Seconds from `t0` to `t`, rounded to microseconds.
pub fn rel(t: crate::model::Ts, t0: crate::model::Ts) -> f64 {
    crate::model::time::round_us(t.since(t0))
}

/// Rounded to the millisecond, for evidence values meant for people.
pub fn round_ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// "0, 1.0, 3.0": numbers for a summary sentence.
pub fn fmt_list(v: &[f64]) -> String {
    let shown: Vec<String> = v
        .iter()
        .take(12)
        .map(|x| {
            format!("{x:.3}")
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        })
        .collect();
    let mut s = shown.join(", ");
    if v.len() > 12 {
        s.push_str(&format!(", ... ({} in all)", v.len()));
    }
    s
}
