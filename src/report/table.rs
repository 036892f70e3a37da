//! The terminal table: one line per flow, then each flow's findings under it and,
//! with --timeline, its events. Rows are kept (bounded) until the end so they can be
//! printed in start order.

use std::io::{self, Write};

use tabled::settings::Style;
use tabled::{Table, Tabled};

use super::text::{finding_text, timeline_text};
use super::{ReportEnd, Sink};
use crate::analyze::Finding;
use crate::flow::Connection;
use crate::model::units::{human_bytes, human_secs};

/// Rows kept for printing: flows without findings up to the first number, flows with
/// findings up to the second (a terminal table is for reading; JSON has everything).
pub const MAX_TABLE_ROWS: usize = 2000;
pub const MAX_TABLE_ROWS_WITH_FINDINGS: usize = 10_000;

#[derive(Tabled)]
struct Row {
    #[tabled(rename = "ID")]
    id: u64,
    #[tabled(rename = "CLIENT")]
    client: String,
    #[tabled(rename = "SERVER")]
    server: String,
    #[tabled(rename = "STATE")]
    state: &'static str,
    #[tabled(rename = "HISTORY")]
    history: String,
    #[tabled(rename = "DURATION")]
    duration: String,
    #[tabled(rename = "PKTS c/s")]
    packets: String,
    #[tabled(rename = "BYTES c/s")]
    bytes: String,
    #[tabled(rename = "CLOSED")]
    closed: String,
    #[tabled(rename = "FINDINGS")]
    findings: String,
}

struct Kept {
    row: Row,
    findings: Vec<Finding>,
    timeline: Option<String>,
}

pub struct TableSink<W: Write> {
    out: W,
    rows: Vec<Kept>,
    omitted: u64,
    findings_only: bool,
    timeline: bool,
    /// Timelines of the flows with findings even without `timeline` (and of the
    /// others too while there are few of them).
    finding_timelines: bool,
    /// Flows without findings seen so far in that mode.
    quiet_flows: u64,
}

/// With `with_finding_timelines`, the timelines of flows without findings are
/// printed too when there are at most this many such flows.
pub const QUIET_TIMELINES: u64 = 20;

impl<W: Write> TableSink<W> {
    pub fn new(out: W, findings_only: bool, timeline: bool) -> Self {
        TableSink {
            out,
            rows: Vec::new(),
            omitted: 0,
            findings_only,
            timeline,
            finding_timelines: false,
            quiet_flows: 0,
        }
    }

    /// Also print the timelines of flows with findings, and of the others while
    /// there are at most QUIET_TIMELINES of them (the live capture's default:
    /// packets and socket state side by side).
    pub fn with_finding_timelines(mut self) -> Self {
        self.finding_timelines = true;
        self
    }
}

impl<W: Write> TableSink<W> {
    /// Takes findings that a capture-wide finding stands for off their flows' rows.
    fn drop_folded(&mut self, folded: &[(u64, &'static str)]) {
        for k in &mut self.rows {
            let id = k.row.id;
            k.findings
                .retain(|f| folded.binary_search(&(id, f.id)).is_err());
            k.row.findings = finding_ids(&k.findings);
        }
        if self.findings_only {
            self.rows.retain(|k| !k.findings.is_empty());
        }
    }
}

fn finding_ids(findings: &[Finding]) -> String {
    let mut ids: Vec<&str> = findings.iter().map(|f| f.id).collect();
    ids.dedup();
    ids.join(" ")
}

impl<W: Write> Sink for TableSink<W> {
    fn footprint(&self) -> usize {
        use crate::budget::{vec_bytes, BLOCK_OVERHEAD};
        vec_bytes(&self.rows)
            + self
                .rows
                .iter()
                .map(|k| {
                    let r = &k.row;
                    [
                        &r.client,
                        &r.server,
                        &r.history,
                        &r.duration,
                        &r.packets,
                        &r.bytes,
                        &r.closed,
                        &r.findings,
                    ]
                    .iter()
                    .map(|s| s.capacity() + BLOCK_OVERHEAD)
                    .sum::<usize>()
                        + vec_bytes(&k.findings)
                        + k.findings.iter().map(Finding::heap_bytes).sum::<usize>()
                        + k.timeline
                            .as_ref()
                            .map_or(0, |t| t.capacity() + BLOCK_OVERHEAD)
                })
                .sum::<usize>()
    }

    fn flow(&mut self, conn: &Connection, findings: &[Finding]) -> io::Result<()> {
        if self.findings_only && findings.is_empty() {
            return Ok(());
        }
        let cap = if findings.is_empty() {
            MAX_TABLE_ROWS
        } else {
            MAX_TABLE_ROWS_WITH_FINDINGS
        };
        if self.rows.len() >= cap {
            self.omitted += 1;
            return Ok(());
        }
        let [c, s] = &conn.sides;
        let row = Row {
            id: conn.id,
            client: conn.client.to_string(),
            server: conn.server.to_string(),
            state: conn.zeek.conn_state(),
            history: conn.zeek.history().to_string(),
            duration: human_secs(conn.duration()),
            packets: format!("{}/{}", c.packets, s.packets),
            bytes: format!(
                "{}/{}",
                human_bytes(c.payload_bytes),
                human_bytes(s.payload_bytes)
            ),
            closed: conn
                .close()
                .map(|cl| format!("{} {:?}", cl.by.side(), cl.how).to_lowercase())
                .unwrap_or_else(|| "-".into()),
            findings: finding_ids(findings),
        };
        self.rows.push(Kept {
            row,
            findings: findings.to_vec(),
            timeline: {
                let quiet_kept = self.finding_timelines && findings.is_empty() && {
                    self.quiet_flows += 1;
                    self.quiet_flows <= QUIET_TIMELINES
                };
                (self.timeline || quiet_kept || (self.finding_timelines && !findings.is_empty()))
                    .then(|| timeline_text(conn))
            },
        });
        Ok(())
    }

    fn finish(&mut self, end: &ReportEnd<'_>) -> io::Result<()> {
        self.rows.sort_by_key(|k| k.row.id);
        if !end.folded.is_empty() {
            self.drop_folded(end.folded);
        }
        let sum = end.summary;
        if !self.rows.is_empty() {
            let rows: Vec<&Row> = self.rows.iter().map(|k| &k.row).collect();
            let mut table = Table::new(rows);
            table.with(Style::sharp());
            writeln!(self.out, "{table}")?;
        } else if !self.findings_only {
            writeln!(self.out, "no TCP connections")?;
        }
        if self.omitted > 0 {
            writeln!(
                self.out,
                "({} more flows not shown; use --format json or ndjson for all)",
                self.omitted
            )?;
        }
        for k in &self.rows {
            if !k.findings.is_empty() {
                writeln!(
                    self.out,
                    "\nflow {}  {} -> {}",
                    k.row.id, k.row.client, k.row.server
                )?;
                for f in &k.findings {
                    write!(self.out, "{}", finding_text(f))?;
                }
            }
        }
        let capture_wide: Vec<&Finding> =
            end.findings.iter().filter(|f| f.flow.is_none()).collect();
        if !capture_wide.is_empty() {
            writeln!(self.out, "\ncapture-wide findings")?;
            for f in capture_wide {
                write!(self.out, "{}", finding_text(f))?;
            }
        }
        if self.timeline || self.finding_timelines {
            // Past QUIET_TIMELINES flows without findings, only flagged flows' timelines.
            let all = self.timeline || self.quiet_flows <= QUIET_TIMELINES;
            for k in &self.rows {
                if let Some(t) = &k.timeline {
                    if all || !k.findings.is_empty() {
                        writeln!(self.out)?;
                        write!(self.out, "{t}")?;
                    }
                }
            }
            if !all {
                writeln!(
                    self.out,
                    "\n(timelines of the {} flows without findings not shown; use --timeline)",
                    self.quiet_flows
                )?;
            }
        }
        let p = &sum.packets;
        writeln!(
            self.out,
            "\n{} frames, {} TCP segments, {} flow{} ({} evicted), findings: {} error, {} warning, {} info{}",
            p.frames,
            p.tcp_segments,
            sum.flows.flows,
            if sum.flows.flows == 1 { "" } else { "s" },
            sum.flows.evicted,
            sum.findings.error,
            sum.findings.warning,
            sum.findings.info,
            if sum.complete { "" } else { "  [INPUT INCOMPLETE: see errors]" }
        )?;
        if let Some(c) = &sum.capture {
            write!(self.out, "{}", super::text::capture_text(c))?;
        }
        self.out.flush()
    }
}
