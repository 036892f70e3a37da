//! The serializable view of a finished connection: the JSON contract's flow object
//! (docs/json.md) as plain serde structs. The sinks do not build it: `flow_json`
//! writes the same bytes directly, and tests/flow_json_same_as_serde.rs holds the two
//! equal. `timeline_records` (the terminal timeline), `SocketRecord` and the label
//! functions are what the report itself uses from here.

use serde::Serialize;

use crate::analyze::Finding;
use crate::flow::side::{AnalysisCounts, Side, SynOptions};
use crate::flow::socket::{state_name, timer_name, SockSnap};
use crate::flow::{Analysis, Connection, EventKind};
use crate::model::time::round_us;
use crate::model::units::format_mac;
use crate::model::{Dir, Ts};

#[derive(Serialize)]
pub struct FlowRecord<'a> {
    pub id: u64,
    pub client: String,
    pub server: String,
    /// Community ID v1 of the connection (seed 0).
    pub community_id: String,
    pub conn_state: &'static str,
    pub history: &'a str,
    pub start: f64,
    pub start_utc: super::Utc,
    pub end: f64,
    pub end_utc: super::Utc,
    pub duration_s: f64,
    pub first_frame: u64,
    pub last_frame: u64,
    /// How the client was decided: syn | syn_ack | port_heuristic.
    pub roles: crate::flow::RoleSource,
    pub end_reason: crate::flow::EndReason,
    pub handshake: HandshakeRecord,
    pub client_stats: SideRecord,
    pub server_stats: SideRecord,
    pub closed_by: Option<ClosedBy>,
    pub longest_idle: Option<IdleRecord>,
    /// The earlier connection on this 4-tuple, when it was reused.
    pub previous_on_tuple: Option<PreviousRecord>,
    /// Live capture: the connection's two 4-tuples when conntrack says it was
    /// translated (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat: Option<NatRecord>,
    /// Live capture: the network namespace of each end's socket when it is not the
    /// capture's own (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket_netns: Option<SocketNetnsRecord<'a>>,
    /// The tunnels and other encapsulations that carried it (absent when plain).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub encapsulation: &'a [crate::decode::Encap],
    /// The interfaces its packets were seen on (cooked v2 captures, `-i any`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<PathRecord>>,
    /// Packets whose path was not listed (beyond 16 distinct paths).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paths_not_listed: Option<u64>,
    pub timeline: Vec<EventRecord>,
    pub timeline_dropped: u64,
    pub findings: super::FindingsOut<'a>,
}

#[derive(Serialize)]
pub struct HandshakeRecord {
    pub syn_count: u32,
    pub syn_ack_count: u32,
    pub syn_frame: Option<u64>,
    pub syn_ack_frame: Option<u64>,
    pub ack_frame: Option<u64>,
    /// Last SYN before the SYN-ACK -> SYN-ACK (the server-side half of the RTT
    /// when captured at the client).
    pub syn_to_synack_s: Option<f64>,
    /// SYN-ACK -> the client's ACK.
    pub synack_to_ack_s: Option<f64>,
    pub rtt_s: Option<f64>,
    pub completed: bool,
}

#[derive(Serialize)]
pub struct SideRecord {
    pub packets: u64,
    pub payload_bytes: u64,
    /// Zeek-style size from sequence numbers (orig_bytes / resp_bytes).
    pub seq_bytes: u64,
    pub isn: Option<u32>,
    pub syn_options: Option<SynOptions>,
    pub window_scale_applied: Option<u8>,
    pub last_window: Option<u32>,
    pub ttl: Option<TtlRecord>,
    pub last_ip_id: Option<u16>,
    pub mac: Option<String>,
    pub mac_mismatches: u32,
    pub packets_with_timestamps: u64,
    pub first_payload_rel: Option<f64>,
    pub first_payload_frame: Option<u64>,
    pub analysis: AnalysisCounts,
    pub oversize_segments: u32,
    pub max_payload: u32,
}

#[derive(Serialize)]
pub struct TtlRecord {
    pub first: u8,
    pub min: u8,
    pub max: u8,
}

#[derive(Serialize)]
pub struct ClosedBy {
    pub side: &'static str,
    pub how: crate::flow::CloseHow,
    pub frame: u64,
    pub at_rel: f64,
}

#[derive(Serialize)]
pub struct PreviousRecord {
    pub flow: u64,
    pub closed_by: Option<&'static str>,
    /// From its close (or last packet) to this connection's first packet.
    pub seconds_before: f64,
}

/// Packets of one direction that were seen on the same interfaces, in that order.
#[derive(Serialize)]
pub struct PathRecord {
    pub dir: &'static str,
    /// Names (`ifindex N` when unknown, as in a replayed file).
    pub interfaces: Vec<String>,
    pub ifindex: Vec<u32>,
    pub packets: u64,
    pub first_frame: u64,
    pub last_frame: u64,
}

/// A flow's paths as the JSON contract has them.
pub fn path_records(p: &crate::flow::paths::Paths) -> Vec<PathRecord> {
    p.list
        .iter()
        .map(|c| PathRecord {
            dir: c.dir.label(),
            interfaces: c.names.iter().map(|n| n.to_string()).collect(),
            ifindex: c.hops.as_slice().to_vec(),
            packets: c.packets,
            first_frame: c.first_frame,
            last_frame: c.last_frame,
        })
        .collect()
}

#[derive(Serialize)]
pub struct TupleRecord {
    pub src: String,
    pub dst: String,
}

/// A translated connection's tuples as conntrack has them (`flow::nat`).
#[derive(Serialize)]
pub struct NatRecord {
    /// Initiator -> responder as the initiator sent it.
    pub original: TupleRecord,
    /// Responder -> initiator as the responder sends it.
    pub reply: TupleRecord,
    pub dnat: bool,
    pub snat: bool,
    /// Segments seen under the other tuple (the same packets on the other side of
    /// the translation), counted and not analysed again.
    pub copies: u64,
    /// The id of a flow started under the other tuple and folded into this one.
    pub merged_flow: Option<u64>,
}

impl NatRecord {
    pub fn of(conn: &Connection) -> Option<NatRecord> {
        let n = conn.nat.as_deref()?;
        let p = &n.pair;
        Some(NatRecord {
            original: TupleRecord {
                src: p.orig_src.to_string(),
                dst: p.orig_dst.to_string(),
            },
            reply: TupleRecord {
                src: p.reply_src.to_string(),
                dst: p.reply_dst.to_string(),
            },
            dnat: p.dnat(),
            snat: p.snat(),
            copies: n.copies,
            merged_flow: n.merged_flow,
        })
    }
}

/// Where each end's socket lives when not in the capture's namespace.
#[derive(Serialize)]
pub struct SocketNetnsRecord<'a> {
    pub client: Option<&'a crate::model::netns::NetnsLabel>,
    pub server: Option<&'a crate::model::netns::NetnsLabel>,
}

impl<'a> SocketNetnsRecord<'a> {
    pub fn of(conn: &'a Connection) -> Option<SocketNetnsRecord<'a>> {
        let l = conn.local.as_deref()?;
        let ns = |d: Dir| l.sides[d.idx()].as_ref().and_then(|s| s.netns.as_deref());
        let (client, server) = (ns(Dir::FromClient), ns(Dir::FromServer));
        (client.is_some() || server.is_some()).then_some(SocketNetnsRecord { client, server })
    }
}

#[derive(Serialize)]
pub struct IdleRecord {
    pub seconds: f64,
    pub after_frame: u64,
    pub resumed_frame: u64,
}

#[derive(Serialize)]
pub struct EventRecord {
    pub frame: u64,
    pub at: f64,
    pub at_utc: super::Utc,
    pub at_rel: f64,
    pub dir: &'static str,
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flags: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub len: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub win: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub analysis: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_before_s: Option<f64>,
    /// Collapsed run: last frame, segments and bytes per direction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<RunRecord>,
    /// Socket snapshot from the kernel (live capture); `frame` is the flow's latest
    /// packet when it was taken, `dir` the direction its endpoint sends in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket: Option<SocketRecord>,
}

/// The kernel's view of one local socket at one poll (sock_diag).
#[derive(Serialize)]
pub struct SocketRecord {
    pub local: String,
    pub state: &'static str,
    /// off | on | keepalive | timewait | persist | delack
    pub timer: &'static str,
    pub timer_expires_s: f64,
    /// Retransmissions (timer `on`) or probes (keepalive / persist) so far.
    pub timer_count: u8,
    pub recv_q: u32,
    pub send_q: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_info: Option<TcpInfoRecord>,
}

#[derive(Serialize)]
pub struct TcpInfoRecord {
    pub retransmits: u8,
    pub probes: u8,
    pub backoff: u8,
    pub rtt_ms: f64,
    pub rttvar_ms: f64,
    pub rto_ms: f64,
    pub unacked: u32,
    pub lost: u32,
    pub total_retrans: u32,
    pub snd_cwnd: u32,
    pub notsent_bytes: u32,
    pub last_data_recv_ms: u32,
    pub last_ack_recv_ms: u32,
}

impl SocketRecord {
    pub fn new(s: &SockSnap) -> SocketRecord {
        SocketRecord {
            local: s.local.to_string(),
            state: state_name(s.state),
            timer: timer_name(s.timer),
            timer_expires_s: f64::from(s.timer_expires_ms) / 1000.0,
            timer_count: s.timer_retrans,
            recv_q: s.recv_q,
            send_q: s.send_q,
            tcp_info: s.info.map(|i| TcpInfoRecord {
                retransmits: i.retransmits,
                probes: i.probes,
                backoff: i.backoff,
                rtt_ms: f64::from(i.rtt_us) / 1000.0,
                rttvar_ms: f64::from(i.rttvar_us) / 1000.0,
                rto_ms: f64::from(i.rto_us) / 1000.0,
                unacked: i.unacked,
                lost: i.lost,
                total_retrans: i.total_retrans,
                snd_cwnd: i.snd_cwnd,
                notsent_bytes: i.notsent_bytes,
                last_data_recv_ms: i.last_data_recv_ms,
                last_ack_recv_ms: i.last_ack_recv_ms,
            }),
        }
    }
}

#[derive(Serialize)]
pub struct RunRecord {
    pub last_frame: u64,
    pub end_rel: f64,
    pub client_packets: u64,
    pub client_bytes: u64,
    pub server_packets: u64,
    pub server_bytes: u64,
}

fn rel(t: Ts, start: Ts) -> f64 {
    round_us(t.since(start))
}

fn side_record(s: &Side, seq_bytes: u64, start: Ts) -> SideRecord {
    SideRecord {
        packets: s.packets,
        payload_bytes: s.payload_bytes,
        seq_bytes,
        isn: s.isn.map(|i| i.0),
        syn_options: s.syn_options,
        window_scale_applied: s.window_shift,
        last_window: s.last_window,
        ttl: s.ttl_first.map(|first| TtlRecord {
            first,
            min: s.ttl_min,
            max: s.ttl_max,
        }),
        last_ip_id: s.last_ip_id,
        mac: s.mac.map(|m| format_mac(&m)),
        mac_mismatches: s.mac_mismatches,
        packets_with_timestamps: s.packets_with_timestamps,
        first_payload_rel: s.first_payload.map(|a| rel(a.ts, start)),
        first_payload_frame: s.first_payload.map(|a| a.frame),
        analysis: s.counts,
        oversize_segments: s.oversize_segments,
        max_payload: s.max_payload,
    }
}

/// "SYN", "SYN-ACK", "FIN-ACK", "RST", "ACK", "data len 120", ... appended to a
/// byte buffer (plain ASCII, no allocation).
pub fn segment_label_to(out: &mut Vec<u8>, flags: crate::decode::TcpFlags, len: u32) {
    let start = out.len();
    let part = |out: &mut Vec<u8>, s: &str| {
        if out.len() > start {
            out.extend_from_slice(b" + ");
        }
        out.extend_from_slice(s.as_bytes());
    };
    if flags.syn() {
        part(out, if flags.ack() { "SYN-ACK" } else { "SYN" });
    }
    if flags.fin() {
        part(out, "FIN");
    }
    if flags.rst() {
        part(out, if flags.ack() { "RST-ACK" } else { "RST" });
    }
    if len > 0 {
        part(out, "data len ");
        out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    }
    if out.len() == start {
        part(out, if flags.ack() { "ACK" } else { "no flags" });
    }
}

pub fn timeline_records(conn: &Connection) -> Vec<EventRecord> {
    let start = conn.start;
    conn.timeline
        .events
        .iter()
        .map(|ev| {
            let base = EventRecord {
                frame: ev.frame,
                at: round_us(ev.ts.secs_f64()),
                at_utc: super::Utc(ev.ts.secs_f64()),
                at_rel: rel(ev.ts, start),
                dir: ev.dir.label(),
                label: String::new(),
                flags: None,
                seq: None,
                ack: None,
                len: None,
                win: None,
                analysis: Vec::new(),
                idle_before_s: None,
                run: None,
                socket: None,
            };
            match &ev.kind {
                &EventKind::Segment {
                    flags,
                    seq_rel,
                    ack_rel,
                    len,
                    window,
                    analysis,
                    idle_before_ms,
                } => EventRecord {
                    label: event_label(flags, len, analysis),
                    flags: Some(flags.tcpdump()),
                    seq: Some(seq_rel),
                    ack: flags.ack().then_some(ack_rel),
                    len: Some(len),
                    win: Some(window),
                    analysis: analysis.labels().collect(),
                    idle_before_s: idle_before_ms.map(|ms| f64::from(ms) / 1000.0),
                    ..base
                },
                EventKind::Run(run) => EventRecord {
                    label: run_label(run),
                    run: Some(RunRecord {
                        last_frame: run.last_frame,
                        end_rel: rel(run.end, start),
                        client_packets: run.packets[Dir::FromClient.idx()],
                        client_bytes: run.bytes[Dir::FromClient.idx()],
                        server_packets: run.packets[Dir::FromServer.idx()],
                        server_bytes: run.bytes[Dir::FromServer.idx()],
                    }),
                    ..base
                },
                EventKind::Socket { index } => {
                    let snap = conn
                        .local
                        .as_deref()
                        .and_then(|l| l.snapshot(ev.dir, index.to_owned()));
                    match snap {
                        Some(s) => EventRecord {
                            label: format!("socket {}", s.describe()),
                            socket: Some(SocketRecord::new(s)),
                            ..base
                        },
                        None => EventRecord {
                            label: "socket snapshot".into(),
                            ..base
                        },
                    }
                }
            }
        })
        .collect()
}

/// A segment event's label: `segment_label_to` plus its analysis labels in brackets
/// ("data len 1448 [retransmission, lost segment]").
pub fn event_label(flags: crate::decode::TcpFlags, len: u32, analysis: Analysis) -> String {
    let mut out = Vec::new();
    event_label_to(&mut out, flags, len, analysis);
    String::from_utf8(out).expect("ASCII")
}

/// `event_label` appended to a byte buffer (plain ASCII, no allocation).
pub fn event_label_to(
    out: &mut Vec<u8>,
    flags: crate::decode::TcpFlags,
    len: u32,
    analysis: Analysis,
) {
    segment_label_to(out, flags, len);
    if !analysis.is_empty() {
        out.extend_from_slice(b" [");
        for (j, l) in analysis.labels().enumerate() {
            if j > 0 {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(l.as_bytes());
        }
        out.push(b']');
    }
}

fn run_label(run: &crate::flow::timeline::RunInfo) -> String {
    let mut out = Vec::new();
    run_label_to(&mut out, run);
    String::from_utf8(out).expect("ASCII")
}

/// "N segments: client P pkts / B B, server P pkts / B B" appended to a byte buffer.
pub fn run_label_to(out: &mut Vec<u8>, run: &crate::flow::timeline::RunInfo) {
    let mut n = itoa::Buffer::new();
    let total = run.packets[0] + run.packets[1];
    for (text, v) in [
        ("", total),
        (" segments: client ", run.packets[0]),
        (" pkts / ", run.bytes[0]),
        (" B, server ", run.packets[1]),
        (" pkts / ", run.bytes[1]),
    ] {
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(n.format(v).as_bytes());
    }
    out.extend_from_slice(b" B");
}

impl<'a> FlowRecord<'a> {
    pub fn new(
        conn: &'a Connection,
        findings: &'a [Finding],
        with_timeline: bool,
    ) -> FlowRecord<'a> {
        let hs = &conn.handshake;
        let start = conn.start;
        let sizes = conn.zeek.sizes();
        let s2sa = hs.syn_to_synack();
        let sa2a = hs.synack_to_ack();
        FlowRecord {
            id: conn.id,
            client: conn.client.to_string(),
            server: conn.server.to_string(),
            community_id: super::community_id::tcp(&conn.client, &conn.server),
            conn_state: conn.zeek.conn_state(),
            history: conn.zeek.history(),
            start: round_us(start.secs_f64()),
            start_utc: super::Utc(start.secs_f64()),
            end: round_us(conn.end.secs_f64()),
            end_utc: super::Utc(conn.end.secs_f64()),
            duration_s: round_us(conn.duration()),
            first_frame: conn.first_frame,
            last_frame: conn.last_frame,
            roles: conn.roles,
            end_reason: conn.end_reason,
            handshake: HandshakeRecord {
                syn_count: hs.syn_count,
                syn_ack_count: hs.syn_ack_count,
                syn_frame: hs.syns.first().map(|a| a.frame),
                syn_ack_frame: hs.syn_acks.first().map(|a| a.frame),
                ack_frame: hs.ack.map(|a| a.frame),
                syn_to_synack_s: s2sa.map(round_us),
                synack_to_ack_s: sa2a.map(round_us),
                rtt_s: s2sa.zip(sa2a).map(|(a, b)| round_us(a + b)),
                completed: hs.ack.is_some(),
            },
            client_stats: side_record(&conn.sides[0], sizes[0], start),
            server_stats: side_record(&conn.sides[1], sizes[1], start),
            closed_by: conn.close().map(|c| ClosedBy {
                side: c.by.side(),
                how: c.how,
                frame: c.frame,
                at_rel: rel(c.ts, start),
            }),
            longest_idle: conn.longest_idle.map(|g| IdleRecord {
                seconds: round_us(g.after.ts.since(g.before.ts)),
                after_frame: g.before.frame,
                resumed_frame: g.after.frame,
            }),
            previous_on_tuple: conn.previous.map(|p| PreviousRecord {
                flow: p.id,
                closed_by: p.close.map(|c| c.by.side()),
                seconds_before: round_us(start.since(p.ended)),
            }),
            nat: NatRecord::of(conn),
            socket_netns: SocketNetnsRecord::of(conn),
            encapsulation: &conn.encapsulation,
            paths: conn.paths.as_deref().map(path_records),
            paths_not_listed: conn
                .paths
                .as_deref()
                .map(|p| p.other_packets)
                .filter(|&n| n > 0),
            timeline: if with_timeline {
                timeline_records(conn)
            } else {
                Vec::new()
            },
            timeline_dropped: conn.timeline.dropped,
            findings: super::FindingsOut(findings),
        }
    }
}
