//! Reports: table, JSON document and NDJSON stream. Each is a `Sink` that receives
//! flows as they finish (so output streams and memory stays bounded) and the
//! capture-wide end: summary, all findings, DNS.

pub mod flow_json;
pub mod json;
pub mod record;
pub mod sockets;
pub mod table;
pub mod text;

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;

use crate::analyze::context::DnsRecord;
use crate::analyze::Finding;
use crate::engine::DecodeStats;
use crate::flow::{Connection, TableStats};
use crate::source::pcap_file::FileSummary;
use crate::source::SourceError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Ndjson,
}

#[derive(Serialize, Default)]
pub struct FindingCounts {
    pub info: u64,
    pub warning: u64,
    pub error: u64,
}

impl FindingCounts {
    /// Counts from (severity, how many) pairs, as the analyzers tally them.
    pub fn from_pairs(pairs: &[(crate::analyze::Severity, u64)]) -> FindingCounts {
        let mut c = FindingCounts::default();
        for &(sev, n) in pairs {
            c.add(sev, n);
        }
        c
    }

    /// Counts of these findings by severity.
    pub fn of(findings: &[Finding]) -> FindingCounts {
        let mut c = FindingCounts::default();
        for f in findings {
            c.add(f.severity, 1);
        }
        c
    }

    pub fn add(&mut self, sev: crate::analyze::Severity, n: u64) {
        use crate::analyze::Severity;
        match sev {
            Severity::Info => self.info += n,
            Severity::Warning => self.warning += n,
            Severity::Error => self.error += n,
        }
    }
}

#[derive(Serialize)]
pub struct Summary {
    /// False when an input could not be read to its end (see `errors`).
    pub complete: bool,
    pub inputs: Vec<FileSummary>,
    pub errors: Vec<SourceError>,
    pub first_packet: Option<f64>,
    pub last_packet: Option<f64>,
    pub packets: DecodeStats,
    pub flows: TableStats,
    pub conn_states: BTreeMap<&'static str, u64>,
    pub findings: FindingCounts,
    /// Per-flow findings counted in `findings` but left out of the top-level list
    /// (it keeps 20,000); each flow's own record still has them.
    pub findings_not_listed: u64,
    pub dns_dropped: u64,
    /// The memory budget: limit, peak accounted against peak resident, what was
    /// dropped to stay under it.
    pub memory: crate::engine::MemoryReport,
    /// Live capture only: interface, stop reason, drops, socket polls, host counters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<crate::source::live::CaptureSummary>,
}

/// Everything known once the input ended.
pub struct ReportEnd<'a> {
    pub summary: &'a Summary,
    /// All findings: per-flow ones (bounded) and capture-wide ones, most severe first.
    pub findings: &'a [Finding],
    /// (flow, finding id) of per-flow findings folded into a capture-wide one (a flood
    /// finding stands for its half-open flows' handshake findings), sorted.
    pub folded: &'a [(u64, &'static str)],
    pub dns: &'a [DnsRecord],
}

pub trait Sink {
    fn flow(&mut self, conn: &Connection, findings: &[Finding]) -> io::Result<()>;
    /// Bytes the sink keeps until `finish` (memory budget); streaming sinks keep
    /// only their buffer.
    fn footprint(&self) -> usize {
        0
    }
    fn finish(&mut self, end: &ReportEnd<'_>) -> io::Result<()>;
}
