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
    tally: Tally,
    ctx: CaptureContext,
    analyzers: Analyzers,
    sink: &'s mut dyn Sink,
    pub stats: DecodeStats,
    /// A sink write failed (e.g. the reader of a pipe went away): stop quietly.
    pub sink_error: Option<std::io::Error>,
}

impl<'s> Engine<'s> {
    pub fn new(table: TableConfig, analyzers: Analyzers, sink: &'s mut dyn Sink) -> Engine<'s> {
        Engine {
            table: FlowTable::new(table),
            tally: Tally::default(),
            ctx: CaptureContext::default(),
            analyzers,
            sink,
            stats: DecodeStats::default(),
            sink_error: None,
        }
    }

    pub fn on_frame(&mut self, frame: RawFrame<'_>) {
        self.stats.frames += 1;
        self.tally.first_ts.get_or_insert(frame.ts);
        self.tally.last_ts = Some(self.tally.last_ts.map_or(frame.ts, |t| t.max(frame.ts)));
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
                let Engine {
                    table,
                    tally,
                    ctx,
                    analyzers,
                    sink,
                    sink_error,
                    ..
                } = self;
                table.on_segment(&seg, &mut |conn| {
                    deliver(conn, tally, ctx, analyzers, &mut **sink, sink_error);
                });
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
                        self.ctx.add_dns(DnsRecord {
                            frame: frame.number,
                            at: frame.ts,
                            src: packet.ip.src,
                            dst: packet.ip.dst,
                            message,
                        });
                    }
                }
            }
            Transport::Fragment => self.stats.ip_fragments += 1,
            Transport::Other(_) => self.stats.other_ip += 1,
        }
    }

    /// Ends the input: finishes every live flow, runs capture-wide analyzers and
    /// returns what the report's end needs.
    pub fn finish(mut self) -> EngineResult {
        let Engine {
            table,
            tally,
            ctx,
            analyzers,
            sink,
            sink_error,
            stats,
        } = &mut self;
        table.finish_all(&mut |conn| deliver(conn, tally, ctx, analyzers, &mut **sink, sink_error));
        let capture_findings = analyzers.finish(ctx, &table.stats, stats);
        EngineResult {
            severity_counts: self.analyzers.severity_counts(),
            conn_states: std::mem::take(&mut self.tally.conn_states),
            first_ts: self.tally.first_ts,
            last_ts: self.tally.last_ts,
            decode: self.stats,
            table: self.table.stats,
            flow_findings: std::mem::take(&mut self.analyzers.flow_findings),
            capture_findings,
            dns: self.ctx.dns.into_iter().collect(),
            dns_dropped: self.ctx.dns_dropped,
            sink_error: self.sink_error,
        }
    }
}

fn deliver(
    conn: Connection,
    tally: &mut Tally,
    ctx: &CaptureContext,
    analyzers: &mut Analyzers,
    sink: &mut dyn Sink,
    sink_error: &mut Option<std::io::Error>,
) {
    *tally.conn_states.entry(conn.zeek.conn_state()).or_default() += 1;
    let findings = analyzers.on_flow(&conn, ctx);
    if sink_error.is_none() {
        if let Err(e) = sink.flow(&conn, &findings) {
            *sink_error = Some(e);
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
