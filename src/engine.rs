//! The pipeline for a capture: frames -> decode -> flow table -> analyzers -> sink.
//! The engine does not know whether frames come from a file or a live interface.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analyze::context::{CaptureContext, DnsRecord};
use crate::analyze::{Analyzers, Finding};
use crate::decode::{self, dns, Decoded, Transport};
use crate::flow::{Connection, FlowTable, Segment, TableConfig};
use crate::model::Ts;
use crate::report::Sink;
use crate::source::RawFrame;

/// Counts of what the decoder saw.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DecodeStats {
    pub frames: u64,
    pub tcp_segments: u64,
    pub udp_datagrams: u64,
    pub dns_messages: u64,
    pub other_ip: u64,
    pub ip_fragments: u64,
    pub non_ip: u64,
    pub malformed: u64,
    /// First malformed frame and why.
    pub first_malformed: Option<(u64, &'static str)>,
    /// TCP segments whose payload was cut by the snaplen.
    pub truncated_segments: u64,
}

pub struct Engine<'s> {
    table: FlowTable,
    downstream: Downstream<'s>,
    pub stats: DecodeStats,
}

/// Everything a finished connection goes through: tallies, analyzers, the sink.
/// Kept apart from the flow table so the table can hand flows to it while borrowed.
struct Downstream<'s> {
    tally: Tally,
    ctx: CaptureContext,
    analyzers: Analyzers,
    sink: &'s mut dyn Sink,
    /// A sink write failed (e.g. the reader of a pipe went away): stop writing.
    sink_error: Option<std::io::Error>,
}

impl Downstream<'_> {
    fn deliver(&mut self, conn: Box<Connection>) {
        *self
            .tally
            .conn_states
            .entry(conn.zeek.conn_state())
            .or_default() += 1;
        let findings = self.analyzers.on_flow(&conn, &self.ctx);
        if self.sink_error.is_none() {
            if let Err(e) = self.sink.flow(&conn, &findings) {
                self.sink_error = Some(e);
            }
        }
    }
}

impl<'s> Engine<'s> {
    pub fn new(table: TableConfig, analyzers: Analyzers, sink: &'s mut dyn Sink) -> Engine<'s> {
        Engine {
            table: FlowTable::new(table),
            downstream: Downstream {
                tally: Tally::default(),
                ctx: CaptureContext::default(),
                analyzers,
                sink,
                sink_error: None,
            },
            stats: DecodeStats::default(),
        }
    }

    pub fn on_frame(&mut self, frame: RawFrame<'_>) {
        self.stats.frames += 1;
        let tally = &mut self.downstream.tally;
        tally.first_ts.get_or_insert(frame.ts);
        tally.last_ts = Some(tally.last_ts.map_or(frame.ts, |t| t.max(frame.ts)));
        let packet = match decode::decode(frame.link, frame.data) {
            Decoded::Ip(p) => p,
            Decoded::NotIp => {
                self.stats.non_ip += 1;
                return;
            }
            Decoded::Malformed(why) => {
                self.stats.malformed += 1;
                self.stats
                    .first_malformed
                    .get_or_insert((frame.number, why));
                return;
            }
        };
        match &packet.transport {
            Transport::Tcp(_) => {
                let Some(seg) = Segment::from_packet(frame.number, frame.ts, &packet) else {
                    return;
                };
                self.stats.tcp_segments += 1;
                if seg.truncated() {
                    self.stats.truncated_segments += 1;
                }
                let downstream = &mut self.downstream;
                self.table
                    .on_segment(&seg, &mut |conn| downstream.deliver(conn));
            }
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            } => {
                self.stats.udp_datagrams += 1;
                if *src_port == 53 || *dst_port == 53 {
                    if let Some(message) = dns::parse(payload) {
                        self.stats.dns_messages += 1;
                        self.downstream.ctx.add_dns(DnsRecord {
                            frame: frame.number,
                            at: frame.ts,
                            src: packet.ip.src,
                            dst: packet.ip.dst,
                            outgoing: packet
                                .link_dir
                                .map(|d| d == crate::decode::LinkDirection::Outgoing),
                            message,
                        });
                    }
                }
            }
            Transport::Fragment => self.stats.ip_fragments += 1,
            Transport::Other(_) => self.stats.other_ip += 1,
        }
    }

    /// Flows started and findings made so far (for progress displays).
    pub fn progress_counts(&self) -> (u64, u64) {
        let findings = self
            .downstream
            .analyzers
            .severity_counts()
            .iter()
            .map(|(_, n)| n)
            .sum();
        (self.table.stats.flows, findings)
    }

    /// Ends the input: finishes every live flow, runs capture-wide analyzers and
    /// returns what the report's end needs.
    pub fn finish(self) -> EngineResult {
        let Engine {
            mut table,
            mut downstream,
            stats,
        } = self;
        table.finish_all(&mut |conn| downstream.deliver(conn));
        let Downstream {
            tally,
            ctx,
            mut analyzers,
            sink_error,
            ..
        } = downstream;
        let capture_findings = analyzers.finish(&table.stats, &stats);
        EngineResult {
            severity_counts: analyzers.severity_counts(),
            conn_states: tally.conn_states,
            first_ts: tally.first_ts,
            last_ts: tally.last_ts,
            decode: stats,
            table: table.stats,
            flow_findings: analyzers.flow_findings,
            capture_findings,
            dns: ctx.dns.into_iter().collect(),
            dns_dropped: ctx.dns_dropped,
            sink_error,
        }
    }
}

/// Running totals over finished flows and frames.
#[derive(Default)]
struct Tally {
    conn_states: BTreeMap<&'static str, u64>,
    first_ts: Option<Ts>,
    last_ts: Option<Ts>,
}

pub struct EngineResult {
    pub severity_counts: Vec<(crate::analyze::Severity, u64)>,
    pub conn_states: BTreeMap<&'static str, u64>,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    pub decode: DecodeStats,
    pub table: crate::flow::TableStats,
    /// Findings attached to flows (kept, bounded, for the top-level list).
    pub flow_findings: Vec<Finding>,
    pub capture_findings: Vec<Finding>,
    pub dns: Vec<DnsRecord>,
    pub dns_dropped: u64,
    pub sink_error: Option<std::io::Error>,
}
