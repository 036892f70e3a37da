//! Analyzers: finished connections (and capture-wide context) -> findings.
//! One file per finding family; each sees only the flow model and the context,
//! never the packet source.

pub mod catalog;
pub mod context;
pub mod finding;

pub use finding::{Confidence, Finding, Severity};

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
    /// Host sysctls when known (capture/sockets), else Linux defaults are assumed.
    pub tcp_syn_retries: Option<u32>,
    pub tcp_retries2: Option<u32>,
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
            tcp_syn_retries: None,
            tcp_retries2: None,
        }
    }
}

/// Findings kept for the top-level list; beyond this they are only counted.
pub const MAX_KEPT_FINDINGS: usize = 20_000;

pub struct Analyzers {
    pub cfg: AnalyzerConfig,
    /// Per-flow findings kept for the report's top-level list.
    pub flow_findings: Vec<Finding>,
    pub findings_not_kept: u64,
    counts: [u64; 3],
}

impl Analyzers {
    pub fn new(cfg: AnalyzerConfig) -> Analyzers {
        Analyzers {
            cfg,
            flow_findings: Vec::new(),
            findings_not_kept: 0,
            counts: [0; 3],
        }
    }

    /// Runs the per-flow analyzers on a finished connection.
    pub fn on_flow(&mut self, conn: &Connection, ctx: &CaptureContext) -> Vec<Finding> {
        let _ = (conn, ctx);
        let found: Vec<Finding> = Vec::new();
        for f in &found {
            self.counts[f.severity as usize] += 1;
            if self.flow_findings.len() < MAX_KEPT_FINDINGS {
                self.flow_findings.push(f.clone());
            } else {
                self.findings_not_kept += 1;
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
        ctx: &CaptureContext,
        table: &TableStats,
        decode: &DecodeStats,
    ) -> Vec<Finding> {
        let _ = (ctx, table, decode);
        Vec::new()
    }
}
