//! One TCP connection: roles, both directions, handshake, close, stalls and timeline.

use serde::Serialize;

use super::analysis::Analysis;
use super::segment::Segment;
use super::side::{At, Side};
use super::socket::{LocalSockets, Recorded, SockSnap};
use super::timeline::{Event, EventKind, Timeline, TimelineMode};
use super::zeek::ZeekState;
use crate::model::{Dir, Endpoint, Ts};

/// How the client (originator) was decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleSource {
    /// The client sent the first SYN.
    Syn,
    /// The first packet seen was the server's SYN-ACK.
    SynAck,
    /// No handshake seen; the first packet came from a likely server port, so its
    /// receiver is the client (Zeek's flip).
    PortHeuristic,
    /// No handshake seen; the sender of the first packet is the client.
    FirstPacket,
}

impl RoleSource {
    /// The serialized name (as serde writes it; a test holds them equal).
    pub fn name(self) -> &'static str {
        match self {
            RoleSource::Syn => "syn",
            RoleSource::SynAck => "syn_ack",
            RoleSource::PortHeuristic => "port_heuristic",
            RoleSource::FirstPacket => "first_packet",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseHow {
    Fin,
    Rst,
}

impl CloseHow {
    /// The serialized name (as serde writes it; a test holds them equal).
    pub fn name(self) -> &'static str {
        match self {
            CloseHow::Fin => "fin",
            CloseHow::Rst => "rst",
        }
    }
}

/// The first FIN or RST of the connection: its sender closed first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseInfo {
    pub by: Dir,
    pub how: CloseHow,
    pub frame: u64,
    pub ts: Ts,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Both FINs or a RST, then quiet for the close linger.
    Closed,
    /// No packet for the idle timeout.
    Idle,
    /// Removed to keep the live-flow count under the cap.
    Evicted,
    /// Finished early to keep the process under its memory budget.
    MemoryLimit,
    /// A new connection (new SYN, new ISN) took over the 4-tuple.
    Reused,
    /// Still open when the capture ended.
    EndOfCapture,
}

impl EndReason {
    /// The serialized name (as serde writes it; a test holds them equal).
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Closed => "closed",
            EndReason::Idle => "idle",
            EndReason::Evicted => "evicted",
            EndReason::MemoryLimit => "memory_limit",
            EndReason::Reused => "reused",
            EndReason::EndOfCapture => "end_of_capture",
        }
    }
}

/// Handshake facts. Times of each SYN / SYN-ACK transmission are kept (capped) for
/// the retransmission findings.
#[derive(Clone, Debug, Default)]
pub struct Handshake {
    pub syns: Vec<At>,
    pub syn_acks: Vec<At>,
    /// The most recent SYN (Wireshark's ts_mru_syn), kept beyond the capped list.
    pub last_syn: Option<At>,
    /// The client's ACK that completed the handshake.
    pub ack: Option<At>,
    /// Every SYN / SYN-ACK sent, including those beyond the MAX_HANDSHAKE_TIMES kept.
    pub syn_count: u32,
    pub syn_ack_count: u32,
}

pub const MAX_HANDSHAKE_TIMES: usize = 32;

/// Nanoseconds as seconds, as `Ts::since` computes them.
fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

impl Handshake {
    /// SYN -> SYN-ACK: from the last SYN sent before the first SYN-ACK.
    pub fn syn_to_synack(&self) -> Option<f64> {
        self.syn_to_synack_ns().map(secs)
    }
    /// `syn_to_synack` in nanoseconds.
    pub fn syn_to_synack_ns(&self) -> Option<i64> {
        let sa = self.syn_acks.first()?;
        let syn = self.syns.iter().rev().find(|s| s.ts <= sa.ts)?;
        Some(sa.ts.0 - syn.ts.0)
    }
    /// SYN-ACK -> ACK: from the last SYN-ACK sent before the completing ACK.
    pub fn synack_to_ack(&self) -> Option<f64> {
        self.synack_to_ack_ns().map(secs)
    }
    /// `synack_to_ack` in nanoseconds.
    pub fn synack_to_ack_ns(&self) -> Option<i64> {
        let ack = self.ack?;
        let sa = self.syn_acks.iter().rev().find(|s| s.ts <= ack.ts)?;
        Some(ack.ts.0 - sa.ts.0)
    }
    /// The path's round trip as the handshake shows it from any capture point (SYN ->
    /// SYN-ACK plus SYN-ACK -> ACK), the unseen parts counted as 0.
    pub fn rtt_or_zero(&self) -> f64 {
        self.syn_to_synack().unwrap_or(0.0) + self.synack_to_ack().unwrap_or(0.0)
    }
}

/// The longest wait for an answer after one side's data (request -> response).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResponseWait {
    pub request_dir: Dir,
    /// Last data segment of the request.
    pub request: At,
    /// First data segment of the answer.
    pub response: At,
    /// Whether this was the first exchange on the connection.
    pub first_exchange: bool,
}

impl ResponseWait {
    pub fn secs(&self) -> f64 {
        self.response.ts.since(self.request.ts)
    }
}

/// The few longest response waits of a connection, longest first. A fixed array: no
/// allocation per flow on the hot path.
#[derive(Clone, Copy, Debug, Default)]
pub struct SlowestResponses {
    waits: [Option<ResponseWait>; SlowestResponses::KEPT],
}

impl SlowestResponses {
    pub const KEPT: usize = 4;

    pub fn offer(&mut self, wait: ResponseWait) {
        let secs = wait.secs();
        let Some(pos) = self
            .waits
            .iter()
            .position(|w| w.is_none_or(|w| secs > w.secs()))
        else {
            return;
        };
        self.waits[pos..].rotate_right(1);
        self.waits[pos] = Some(wait);
    }

    /// Longest first.
    pub fn iter(&self) -> impl Iterator<Item = &ResponseWait> {
        self.waits.iter().flatten()
    }

    pub fn longest(&self) -> Option<&ResponseWait> {
        self.waits[0].as_ref()
    }
}

/// The longest silence (no segment either way) inside the connection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IdleGap {
    pub before: At,
    pub after: At,
}

#[derive(Clone, Debug)]
pub struct Connection {
    pub id: u64,
    pub client: Endpoint,
    pub server: Endpoint,
    pub roles: RoleSource,
    pub start: Ts,
    pub end: Ts,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Index = Dir::idx(): [client->server, server->client].
    pub sides: [Side; 2],
    pub zeek: ZeekState,
    pub handshake: Handshake,
    pub end_reason: EndReason,
    pub timeline: Timeline,
    /// The longest waits for a server's response (client spoke, server answered),
    /// longest first: `stall.response` reports the worst and counts the others.
    pub slowest_responses: SlowestResponses,
    pub first_wait: Option<ResponseWait>,
    pub longest_idle: Option<IdleGap>,
    /// The second longest silence (ns): how long the flow usually stays quiet, so a
    /// silence can be judged against the flow's own rhythm.
    pub second_idle_ns: i64,
    /// Data segment bookkeeping for request/response waits.
    last_data: Option<(Dir, At)>,
    /// Turns from the client to the server: the server's answers to requests.
    pub server_answers: u32,
    /// The 4-tuple carried an earlier connection that ended just before this one.
    pub previous: Option<PreviousConn>,
    /// Socket snapshots of the endpoints on this host (live capture only).
    pub local: Option<Box<LocalSockets>>,
    /// What the memory budget counts for it, and counted before the last change.
    pub accounted: usize,
    pub accounted_before: usize,
    /// The connection's other 4-tuple when conntrack says it was translated (live
    /// capture only): see `flow::nat`.
    pub nat: Option<Box<super::nat::FlowNat>>,
    /// The tunnel that carried it (part of its flow key); `NONE` when plain.
    pub tunnel: crate::model::TunnelId,
    /// The encapsulation layers of its first packet, outermost first, outer
    /// addresses oriented client -> server (empty when plain).
    pub encapsulation: Vec<crate::decode::Encap>,
    /// The interfaces its packets were seen on (cooked v2 captures, `-i any`).
    pub paths: Option<Box<super::paths::Paths>>,
}

/// What ended on the same 4-tuple before this connection started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreviousConn {
    pub id: u64,
    /// Its first FIN/RST (or its last packet when it never closed).
    pub ended: Ts,
    pub close: Option<CloseInfo>,
}

/// Settings that shape per-connection analysis.
#[derive(Clone, Copy, Debug)]
pub struct ConnConfig {
    pub timeline: TimelineMode,
    pub timeline_cap: usize,
    /// Silence at least this long is marked on the segment that ends it.
    pub idle_mark_ns: i64,
    pub ooo_threshold_ns: i64,
}

impl Connection {
    pub fn new(id: u64, first: &Segment, cfg: &ConnConfig) -> Connection {
        let f = first.flags;
        let (client, server, roles) = if f.syn() && !f.ack() {
            (first.src, first.dst, RoleSource::Syn)
        } else if f.syn() && f.ack() {
            (first.dst, first.src, RoleSource::SynAck)
        } else if flip_midstream(first.src.port, first.dst.port) {
            (first.dst, first.src, RoleSource::PortHeuristic)
        } else {
            (first.src, first.dst, RoleSource::FirstPacket)
        };
        Connection {
            id,
            client,
            server,
            roles,
            start: first.ts,
            end: first.ts,
            first_frame: first.frame,
            last_frame: first.frame,
            sides: [Side::default(), Side::default()],
            zeek: ZeekState::new(matches!(
                roles,
                RoleSource::SynAck | RoleSource::PortHeuristic
            )),
            handshake: Handshake::default(),
            end_reason: EndReason::EndOfCapture,
            timeline: Timeline::new(cfg.timeline, cfg.timeline_cap),
            slowest_responses: SlowestResponses::default(),
            first_wait: None,
            longest_idle: None,
            second_idle_ns: 0,
            last_data: None,
            server_answers: 0,
            previous: None,
            local: None,
            accounted: 0,
            accounted_before: 0,
            nat: None,
            tunnel: first.tunnel,
            encapsulation: Vec::new(),
            paths: None,
        }
    }

    /// Joins a socket snapshot of one of this connection's endpoints; a change
    /// becomes a timeline event placed after the latest packet.
    pub fn on_socket(&mut self, snap: SockSnap) -> Recorded {
        self.on_socket_in(snap, None)
    }

    /// `on_socket` for a snapshot taken in another network namespace (`netns`),
    /// possibly under the connection's translated 4-tuple.
    pub fn on_socket_in(
        &mut self,
        snap: SockSnap,
        netns: Option<&std::sync::Arc<crate::model::netns::NetnsLabel>>,
    ) -> Recorded {
        let (client, server) = (self.client, self.server);
        let nat = self.nat.as_ref().map(|n| n.pair);
        let local = self.local.get_or_insert_with(Box::default);
        let rec = local.record_in(client, server, nat.as_ref(), snap, netns);
        if let Recorded::Changed { dir, index } = rec {
            self.timeline.push_other(Event {
                frame: self.last_frame,
                ts: snap.at,
                dir,
                kind: EventKind::Socket { index },
            });
        }
        rec
    }

    pub fn dir_of(&self, seg: &Segment) -> Dir {
        if seg.src == self.client {
            Dir::FromClient
        } else {
            Dir::FromServer
        }
    }

    pub fn side(&self, d: Dir) -> &Side {
        &self.sides[d.idx()]
    }

    /// The first FIN or RST of the connection (a FIN+RST segment counts as RST):
    /// derived from the sides' first FIN and first RST, which are kept anyway.
    pub fn close(&self) -> Option<CloseInfo> {
        let mut first: Option<CloseInfo> = None;
        for by in [Dir::FromClient, Dir::FromServer] {
            let side = self.side(by);
            // RST before FIN, and only a strictly earlier frame replaces: a FIN+RST
            // segment is a RST.
            for (at, how) in [
                (side.first_rst(), CloseHow::Rst),
                (side.first_fin, CloseHow::Fin),
            ] {
                let Some(at) = at else { continue };
                if first.is_none_or(|c| at.frame < c.frame) {
                    first = Some(CloseInfo {
                        by,
                        how,
                        frame: at.frame,
                        ts: at.ts,
                    });
                }
            }
        }
        first
    }

    /// Bytes this connection holds (the box, its timeline, its trackers), with the
    /// allocator's per-block overhead: what the memory budget counts for it. Computed
    /// after every segment: the parts most connections never have are added out of line.
    /// (Kept out of line itself, so profiles show the accounting apart.)
    #[inline(never)]
    pub fn footprint(&self) -> usize {
        use crate::budget::{vec_bytes, BLOCK_OVERHEAD};
        let common = std::mem::size_of::<Connection>()
            + BLOCK_OVERHEAD
            + self.timeline.heap_bytes()
            + vec_bytes(&self.handshake.syns)
            + vec_bytes(&self.handshake.syn_acks);
        let [c, s] = &self.sides;
        if c.has_heap() || s.has_heap() {
            return common + self.rare_bytes();
        }
        if self.local.is_none()
            && self.encapsulation.capacity() == 0
            && self.paths.is_none()
            && self.nat.is_none()
        {
            return common;
        }
        common + self.rare_bytes()
    }

    /// The heap parts of `footprint` that most connections never have.
    #[cold]
    #[inline(never)]
    fn rare_bytes(&self) -> usize {
        use crate::budget::{vec_bytes, BLOCK_OVERHEAD};
        let side = |s: &Side| {
            s.trackers_heap_bytes()
                + s.first_rst_info.as_ref().map_or(0, |_| {
                    std::mem::size_of::<super::side::RstInfo>() + BLOCK_OVERHEAD
                })
        };
        side(&self.sides[0])
            + side(&self.sides[1])
            + self.local.as_ref().map_or(0, |l| l.heap_bytes())
            + vec_bytes(&self.encapsulation)
            + self.paths.as_ref().map_or(0, |p| {
                std::mem::size_of::<super::paths::Paths>()
                    + BLOCK_OVERHEAD
                    + vec_bytes(&p.list)
                    + p.list.iter().map(|c| vec_bytes(&c.names)).sum::<usize>()
            })
            + self.nat.as_ref().map_or(0, |_| {
                std::mem::size_of::<super::nat::FlowNat>() + BLOCK_OVERHEAD
            })
    }

    /// Both directions finished (FIN each way) or a RST was seen.
    pub fn is_closed(&self) -> bool {
        let [c, s] = &self.sides;
        c.first_rst().is_some()
            || s.first_rst().is_some()
            || (c.first_fin.is_some() && s.first_fin.is_some())
    }

    pub fn duration(&self) -> f64 {
        self.end.since(self.start)
    }

    pub fn packets(&self) -> u64 {
        self.sides[0].packets + self.sides[1].packets
    }

    pub fn payload_bytes(&self) -> u64 {
        self.sides[0].payload_bytes + self.sides[1].payload_bytes
    }

    /// Feeds one segment of this connection.
    pub fn on_segment(&mut self, seg: &Segment, cfg: &ConnConfig) -> Analysis {
        let dir = self.dir_of(seg);
        let f = seg.flags;
        let gap_ns = seg.ts.nanos_since(self.end);
        let packets_before = self.packets();
        if packets_before > 0 && gap_ns > 0 {
            let longest = self
                .longest_idle
                .map_or(0, |g| g.after.ts.nanos_since(g.before.ts));
            if gap_ns > longest {
                self.second_idle_ns = longest;
                self.longest_idle = Some(IdleGap {
                    before: At {
                        frame: self.last_frame,
                        ts: self.end,
                    },
                    after: At {
                        frame: seg.frame,
                        ts: seg.ts,
                    },
                });
            } else if gap_ns > self.second_idle_ns {
                self.second_idle_ns = gap_ns;
            }
        }
        self.end = self.end.max(seg.ts);
        self.last_frame = seg.frame;

        if f.syn() {
            self.on_syn(dir, seg);
        } else if dir == Dir::FromClient
            && self.handshake.ack.is_none()
            && f.ack()
            && !f.rst()
            && self.sides[1].isn.is_some_and(|isn| seg.ack == isn.plus(1))
        {
            self.handshake.ack = Some(At {
                frame: seg.frame,
                ts: seg.ts,
            });
        }

        // Wireshark's out-of-order window: the handshake's RTT, from the most recent SYN
        // (ts_mru_syn, so a resent SYN does not stretch it) to the ACK, when known.
        let ooo_threshold_ns = match (self.handshake.last_syn, self.handshake.ack) {
            (Some(syn), Some(ack)) => ack.ts.nanos_since(syn.ts).max(1),
            _ => cfg.ooo_threshold_ns,
        };
        let (this, peer) = split_sides(&mut self.sides, dir);
        let first_payload = seg.payload_len > 0 && this.first_payload.is_none();
        let idle_before_ns = if packets_before > 0 { gap_ns.max(0) } else { 0 };
        let mut analysis = this.analyze(seg, peer, ooo_threshold_ns, idle_before_ns);
        if packets_before == 0 && self.previous.is_some() {
            analysis.set(Analysis::REUSED_PORTS);
        }
        if f.ack() && peer.base.is_none() {
            // The peer has not been seen yet (midstream, or its SYN was missed): as
            // Wireshark, its relative numbers start so that this ACK is relative 1.
            peer.base = Some(seg.ack.minus(1));
        }
        let seq_rel = this.rel(seg.seq);
        let ack_rel = if f.ack() { peer.rel(seg.ack) } else { 0 };
        let window = this.last_window.unwrap_or(u32::from(seg.window));
        self.zeek.on_segment(dir, seg);

        if seg.payload_len > 0 {
            if !analysis.is_retransmission() {
                self.track_exchange(dir, seg);
            } else if let Some((last_dir, at)) = &mut self.last_data {
                // A resent request: the server can only answer once a copy arrives, so
                // the wait counts from the last copy (the time before it is the network's).
                if *last_dir == dir {
                    *at = At {
                        frame: seg.frame,
                        ts: seg.ts,
                    };
                }
            }
        }

        let idle_before_ms =
            (gap_ns >= cfg.idle_mark_ns).then(|| (gap_ns / 1_000_000).min(u32::MAX as i64) as u32);
        let notable = f.syn()
            || f.fin()
            || f.rst()
            || analysis.notable()
            || first_payload
            || idle_before_ms.is_some()
            || packets_before < 3;
        self.timeline.push(
            Event {
                frame: seg.frame,
                ts: seg.ts,
                dir,
                kind: EventKind::Segment {
                    flags: f,
                    seq_rel,
                    ack_rel,
                    len: seg.payload_len,
                    window,
                    analysis,
                    idle_before_ms,
                },
            },
            notable,
        );
        analysis
    }

    fn on_syn(&mut self, dir: Dir, seg: &Segment) {
        let at = At {
            frame: seg.frame,
            ts: seg.ts,
        };
        let hs = &mut self.handshake;
        if seg.flags.ack() {
            hs.syn_ack_count += 1;
            if hs.syn_acks.len() < MAX_HANDSHAKE_TIMES {
                if hs.syn_acks.capacity() == 0 {
                    hs.syn_acks.reserve_exact(1); // most handshakes have one
                }
                hs.syn_acks.push(at);
            }
        } else {
            hs.syn_count += 1;
            // Only SYNs before the handshake completed time it (a late duplicate does not).
            if hs.ack.is_none() {
                hs.last_syn = Some(at);
            }
            if hs.syns.len() < MAX_HANDSHAKE_TIMES {
                if hs.syns.capacity() == 0 {
                    hs.syns.reserve_exact(1);
                }
                hs.syns.push(at);
            }
        }
        self.sides[dir.idx()].set_syn(seg);
        // Window scaling applies once both SYNs carried the option (RFC 7323).
        let [c, s] = &mut self.sides;
        if let (Some(co), Some(so)) = (c.syn_options, s.syn_options) {
            if let (Some(cw), Some(sw)) = (co.window_scale, so.window_scale) {
                c.window_shift = Some(cw);
                s.window_shift = Some(sw);
            }
        }
    }

    /// Request/response bookkeeping: the wait between the last data of one side and
    /// the first data of the other.
    fn track_exchange(&mut self, dir: Dir, seg: &Segment) {
        let at = At {
            frame: seg.frame,
            ts: seg.ts,
        };
        match self.last_data {
            Some((prev_dir, prev)) if prev_dir != dir => {
                let wait = ResponseWait {
                    request_dir: prev_dir,
                    request: prev,
                    response: at,
                    // first_wait is set by the first turn, so None means this is it.
                    first_exchange: self.first_wait.is_none(),
                };
                if wait.first_exchange {
                    self.first_wait = Some(wait);
                }
                if wait.request_dir == Dir::FromClient {
                    self.server_answers += 1;
                    self.slowest_responses.offer(wait);
                }
            }
            _ => {}
        }
        self.last_data = Some((dir, at));
    }
}

fn split_sides(sides: &mut [Side; 2], dir: Dir) -> (&mut Side, &mut Side) {
    let [c, s] = sides;
    match dir {
        Dir::FromClient => (c, s),
        Dir::FromServer => (s, c),
    }
}

/// Ports Zeek's default scripts register as `likely_server_ports` (well-known ports
/// plus common service ports above 1024).
pub fn likely_server_port(port: u16) -> bool {
    port < 1024
        || matches!(
            port,
            1080 | 1433
                | 1521
                | 1883
                | 2049
                | 2181
                | 3128
                | 3306
                | 3389
                | 5060
                | 5061
                | 5222
                | 5432
                | 5672
                | 5900
                | 6379
                | 6443
                | 6666
                ..=6669
                    | 8000
                    | 8080
                    | 8081
                    | 8443
                    | 8888
                    | 9000
                    | 9090
                    | 9092
                    | 9200
                    | 11211
                    | 27017
        )
}

/// Zeek's WantConnection flip for a first packet that is not a pure SYN: its sender
/// is the server when it uses a likely server port (and, if both do, the lower one).
pub fn flip_midstream(src_port: u16, dst_port: u16) -> bool {
    if !likely_server_port(src_port) {
        return false;
    }
    !likely_server_port(dst_port) || src_port < dst_port
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serialized_names() {
        for r in [
            RoleSource::Syn,
            RoleSource::SynAck,
            RoleSource::PortHeuristic,
            RoleSource::FirstPacket,
        ] {
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.name())
            );
        }
        for h in [CloseHow::Fin, CloseHow::Rst] {
            assert_eq!(
                serde_json::to_string(&h).unwrap(),
                format!("\"{}\"", h.name())
            );
        }
        for e in [
            EndReason::Closed,
            EndReason::Idle,
            EndReason::Evicted,
            EndReason::MemoryLimit,
            EndReason::Reused,
            EndReason::EndOfCapture,
        ] {
            assert_eq!(
                serde_json::to_string(&e).unwrap(),
                format!("\"{}\"", e.name())
            );
        }
    }

    #[test]
    fn midstream_roles() {
        assert!(flip_midstream(80, 40000));
        assert!(!flip_midstream(40000, 443));
        assert!(flip_midstream(8080, 45000));
        assert!(!flip_midstream(45000, 46000));
        assert!(flip_midstream(80, 8080));
        assert!(!flip_midstream(8080, 80));
    }

    use crate::decode::TcpFlags;
    use crate::model::SeqNum;

    fn cfg() -> ConnConfig {
        ConnConfig {
            timeline: crate::flow::timeline::TimelineMode::Collapsed,
            timeline_cap: 100,
            idle_mark_ns: 1_000_000_000,
            ooo_threshold_ns: 3_000_000,
        }
    }

    /// Feeds (secs, from_client, flags, seq, ack, len) to one connection.
    fn feed(script: &[(f64, bool, u8, u32, u32, u32)]) -> Connection {
        let mut conn = None;
        for (i, &(secs, from_client, flags, seq, ack, len)) in script.iter().enumerate() {
            let ts = Ts::from_secs_f64(secs);
            let seg = Segment::test_conn(i as u64 + 1, ts, from_client, flags, seq, ack, len);
            conn.get_or_insert_with(|| Connection::new(1, &seg, &cfg()))
                .on_segment(&seg, &cfg());
        }
        conn.unwrap()
    }

    const S: u8 = TcpFlags::SYN;
    const A: u8 = TcpFlags::ACK;
    const P: u8 = TcpFlags::PSH;
    const F: u8 = TcpFlags::FIN;
    const R: u8 = TcpFlags::RST;

    #[test]
    fn close_is_the_first_fin_or_rst_and_fin_rst_is_a_rst() {
        let open = [
            (0.0, true, S, 100, 0, 0),
            (0.001, false, S | A, 500, 101, 0),
            (0.002, true, A, 101, 501, 0),
        ];
        assert_eq!(feed(&open).close(), None);
        let mut fins = open.to_vec();
        fins.extend([
            (0.1, false, F | A, 501, 101, 0),
            (0.2, true, R | A, 101, 502, 0),
        ]);
        let c = feed(&fins).close().expect("closed");
        assert_eq!((c.by, c.how, c.frame), (Dir::FromServer, CloseHow::Fin, 4));
        let mut fin_rst = open.to_vec();
        fin_rst.extend([
            (0.1, true, F | R | A, 101, 501, 0),
            (0.2, false, F | A, 501, 102, 0),
        ]);
        let c = feed(&fin_rst).close().expect("closed");
        assert_eq!((c.by, c.how, c.frame), (Dir::FromClient, CloseHow::Rst, 4));
        assert_eq!(c.ts, Ts::from_secs_f64(0.1));
    }

    /// A zero-window probe answered by a window update: a later duplicate ACK with
    /// the same window is a duplicate ACK, not the probe's ACK (it was answered).
    #[test]
    fn a_probe_answered_by_a_window_update_is_not_acked_again() {
        // (secs, from_client, flags, seq, ack, len, window)
        let script = [
            (0.0, true, S, 100, 0, 0, 1000),
            (0.001, false, S | A, 500, 101, 0, 1000),
            (0.002, true, A, 101, 501, 0, 1000),
            (0.003, false, P | A, 501, 101, 1000, 1000),
            // The client's window closes.
            (0.004, true, A, 101, 1501, 0, 0),
            // The server probes with one byte; the client opens its window.
            (0.5, false, A, 1501, 101, 1, 1000),
            (0.501, true, A, 101, 1501, 0, 500),
            // Later, the same ACK and window again: a duplicate ACK.
            (0.6, true, A, 101, 1501, 0, 500),
        ];
        let mut conn: Option<Connection> = None;
        for (i, &(secs, from_client, flags, seq, ack, len, window)) in script.iter().enumerate() {
            let ts = Ts::from_secs_f64(secs);
            let mut seg = Segment::test_conn(i as u64 + 1, ts, from_client, flags, seq, ack, len);
            seg.window = window;
            conn.get_or_insert_with(|| Connection::new(1, &seg, &cfg()))
                .on_segment(&seg, &cfg());
        }
        let conn = conn.unwrap();
        let server = &conn.side(Dir::FromServer).counts;
        let client = &conn.side(Dir::FromClient).counts;
        assert_eq!(server.zero_window_probes, 1);
        assert_eq!(client.window_updates, 1);
        assert_eq!(client.dup_acks, 1);
    }

    fn wait(secs: f64, frame: u64) -> ResponseWait {
        let at = |t: f64, f: u64| At {
            frame: f,
            ts: Ts::from_secs_f64(t),
        };
        ResponseWait {
            request_dir: Dir::FromClient,
            request: at(0.0, frame),
            response: at(secs, frame + 1),
            first_exchange: false,
        }
    }

    #[test]
    fn slowest_responses_keep_the_longest_in_order() {
        let mut top = SlowestResponses::default();
        assert!(top.longest().is_none());
        for (i, secs) in [0.5, 3.0, 0.1, 2.0, 4.0, 1.0, 0.2].into_iter().enumerate() {
            top.offer(wait(secs, i as u64 * 10));
        }
        let kept: Vec<f64> = top.iter().map(|w| w.secs()).collect();
        assert_eq!(kept, [4.0, 3.0, 2.0, 1.0]);
        assert_eq!(top.longest().unwrap().request.frame, 40);
        // Equal waits keep the earlier one first.
        let mut tie = SlowestResponses::default();
        tie.offer(wait(1.0, 1));
        tie.offer(wait(1.0, 2));
        assert_eq!(tie.longest().unwrap().request.frame, 1);
    }

    #[test]
    fn response_wait_counts_from_the_last_copy_of_a_resent_request() {
        // Request at 1.0 s lost, resent at 1.4 s (RTO); the server answers at 1.45 s:
        // the server thought for 50 ms, the other 400 ms were the network's.
        let conn = feed(&[
            (0.0, true, S, 100, 0, 0),
            (0.001, false, S | A, 500, 101, 0),
            (0.002, true, A, 101, 501, 0),
            (1.0, true, P | A, 101, 501, 20),
            (1.4, true, P | A, 101, 501, 20),
            (1.45, false, P | A, 501, 121, 30),
            (1.46, true, A, 121, 531, 0),
        ]);
        let w = conn.slowest_responses.longest().expect("a wait");
        assert_eq!((w.request.frame, w.response.frame), (5, 6));
        assert!((w.secs() - 0.05).abs() < 1e-9, "{}", w.secs());
        assert_eq!(conn.server_answers, 1);
    }

    #[test]
    fn midstream_relative_numbers_start_at_one_like_wireshark() {
        // No handshake: the client's first byte is 7001, the server's first is 9001.
        let conn = feed(&[
            (0.0, true, P | A, 7001, 9001, 10),
            (0.001, false, P | A, 9001, 7011, 5),
        ]);
        let c = conn.side(Dir::FromClient);
        let s = conn.side(Dir::FromServer);
        assert_eq!(c.rel(SeqNum(7001)), 1);
        // The server's base came from the client's ACK before the server spoke.
        assert_eq!(s.rel(SeqNum(9001)), 1);
        assert_eq!(c.rel(SeqNum(7011)), 11);
    }
}
