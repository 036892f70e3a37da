//! Reports: table, JSON document, NDJSON stream and Zeek conn.log. Each is a `Sink`
//! that receives flows as they finish (so output streams and memory stays bounded)
//! and the capture-wide end: summary, all findings, DNS.

pub mod clock;
pub mod community_id;
pub mod finding_json;
pub mod flow_json;
pub mod grid;
pub mod json;
pub mod json_time;
pub mod record;
pub mod servers;
pub mod sockets;
pub mod style;
pub mod table;
pub mod text;
pub mod zeek;

use std::collections::BTreeMap;
use std::io;

use serde::Serialize;

use crate::analyze::context::DnsRecord;
use crate::analyze::Finding;
use crate::engine::DecodeStats;
use crate::flow::{Connection, TableStats};
use crate::source::pcap_file::FileSummary;
use crate::source::SourceError;

/// Output of the live socket commands (`sockets`, `watch`, `host`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Ndjson,
}

/// Output of the flow reports (`replay`, `capture`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Ndjson,
    /// Zeek's conn.log (TSV with its header lines).
    Zeek,
}

/// How timelines show time (`--time`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TimeMode {
    /// Seconds since the flow's first packet.
    #[default]
    Rel,
    /// Local wall-clock time.
    Abs,
    /// UTC.
    Utc,
}

/// A finding as the reports write it: its own keys, then `at_utc` (RFC 3339).
pub struct FindingOut<'a>(pub &'a Finding);

impl Serialize for FindingOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            finding: &'a Finding,
            at_utc: Utc,
        }
        Out {
            finding: self.0,
            at_utc: Utc(self.0.at),
        }
        .serialize(s)
    }
}

/// Findings as the reports write them (`FindingOut` each).
pub struct FindingsOut<'a>(pub &'a [Finding]);

impl Serialize for FindingsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(FindingOut))
    }
}

/// Epoch seconds written as an RFC 3339 UTC string (`null` when not finite).
#[derive(Clone, Copy, Debug)]
pub struct Utc(pub f64);

impl Serialize for Utc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_finite() {
            s.serialize_str(&clock::rfc3339_utc(self.0))
        } else {
            s.serialize_none()
        }
    }
}

/// `Some(Utc)` of an optional epoch.
pub fn utc_of(t: Option<f64>) -> Option<Utc> {
    t.map(Utc)
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
    #[serde(serialize_with = "ser_inputs")]
    pub inputs: Vec<FileSummary>,
    pub errors: Vec<SourceError>,
    pub first_packet: Option<f64>,
    #[serde(serialize_with = "ser_utc_of", rename = "first_packet_utc")]
    pub first_packet_utc: Option<f64>,
    pub last_packet: Option<f64>,
    #[serde(serialize_with = "ser_utc_of", rename = "last_packet_utc")]
    pub last_packet_utc: Option<f64>,
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
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_capture"
    )]
    pub capture: Option<crate::source::live::CaptureSummary>,
}

fn ser_utc_of<S: serde::Serializer>(t: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    utc_of(*t).serialize(s)
}

/// Each input with `first_packet_utc` / `last_packet_utc` after its own keys.
fn ser_inputs<S: serde::Serializer>(inputs: &[FileSummary], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Out<'a> {
        #[serde(flatten)]
        input: &'a FileSummary,
        first_packet_utc: Option<Utc>,
        last_packet_utc: Option<Utc>,
    }
    s.collect_seq(inputs.iter().map(|i| Out {
        input: i,
        first_packet_utc: utc_of(i.first_ts.map(|t| t.secs_f64())),
        last_packet_utc: utc_of(i.last_ts.map(|t| t.secs_f64())),
    }))
}

/// The capture block with `started_utc` / `ended_utc` after its own keys.
fn ser_capture<S: serde::Serializer>(
    c: &Option<crate::source::live::CaptureSummary>,
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Out<'a> {
        #[serde(flatten)]
        capture: &'a crate::source::live::CaptureSummary,
        started_utc: Utc,
        ended_utc: Utc,
    }
    c.as_ref()
        .map(|c| Out {
            capture: c,
            started_utc: Utc(c.started),
            ended_utc: Utc(c.ended),
        })
        .serialize(s)
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
