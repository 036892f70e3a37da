//! One TCP connection: roles, both directions, handshake, close, stalls and timeline.

use serde::Serialize;

use super::analysis::Analysis;
use super::segment::Segment;
use super::side::{At, Side};
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseHow {
    Fin,
    Rst,
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
    /// A new connection (new SYN, new ISN) took over the 4-tuple.
    Reused,
    /// Still open when the capture ended.
    EndOfCapture,
}

/// Handshake facts. Times of each SYN / SYN-ACK transmission are kept (capped) for
/// the retransmission findings.
#[derive(Clone, Debug, Default)]
pub struct Handshake {
    pub syns: Vec<At>,
    pub syn_acks: Vec<At>,
    /// The client's ACK that completed the handshake.
    pub ack: Option<At>,
    /// Every SYN / SYN-ACK sent, including those beyond the MAX_HANDSHAKE_TIMES kept.
    pub syn_count: u32,
    pub syn_ack_count: u32,
}

pub const MAX_HANDSHAKE_TIMES: usize = 32;

impl Handshake {
    /// SYN -> SYN-ACK: from the last SYN sent before the first SYN-ACK.
    pub fn syn_to_synack(&self) -> Option<f64> {
        let sa = self.syn_acks.first()?;
        let syn = self.syns.iter().rev().find(|s| s.ts <= sa.ts)?;
        Some(sa.ts.since(syn.ts))
    }
    /// SYN-ACK -> ACK: from the last SYN-ACK sent before the completing ACK.
    pub fn synack_to_ack(&self) -> Option<f64> {
        let ack = self.ack?;
        let sa = self.syn_acks.iter().rev().find(|s| s.ts <= ack.ts)?;
        Some(ack.ts.since(sa.ts))
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
    pub close: Option<CloseInfo>,
    pub end_reason: EndReason,
    pub timeline: Timeline,
    pub longest_wait: Option<ResponseWait>,
    pub first_wait: Option<ResponseWait>,
    pub longest_idle: Option<IdleGap>,
    /// Data segment bookkeeping for request/response waits.
    last_data: Option<(Dir, At)>,
    exchanges: u32,
    /// The 4-tuple carried an earlier connection that ended just before this one.
    pub previous: Option<PreviousConn>,
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
            close: None,
            end_reason: EndReason::EndOfCapture,
            timeline: Timeline::new(cfg.timeline, cfg.timeline_cap),
            longest_wait: None,
            first_wait: None,
            longest_idle: None,
            last_data: None,
            exchanges: 0,
            previous: None,
        }
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

    /// Both directions finished (FIN each way) or a RST was seen.
    pub fn is_closed(&self) -> bool {
        let [c, s] = &self.sides;
        c.first_rst.is_some()
            || s.first_rst.is_some()
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
        if self.sides[0].packets + self.sides[1].packets > 0 && gap_ns > 0 {
            let longest = self
                .longest_idle
                .map_or(0, |g| g.after.ts.nanos_since(g.before.ts));
            if gap_ns > longest {
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

        // Wireshark's out-of-order window: the handshake's SYN -> ACK time when known.
        let ooo_threshold_ns = match (self.handshake.syns.first(), self.handshake.ack) {
            (Some(syn), Some(ack)) => ack.ts.nanos_since(syn.ts).max(1),
            _ => cfg.ooo_threshold_ns,
        };
        let fresh = self.packets() == 0;
        let (this, peer) = split_sides(&mut self.sides, dir);
        let mut analysis = this.analyze(seg, peer, ooo_threshold_ns);
        if fresh && self.previous.is_some() {
            analysis.set(Analysis::REUSED_PORTS);
        }
        let seq_rel = this.rel(seg.seq);
        let ack_rel = if f.ack() { peer.rel(seg.ack) } else { 0 };
        let window = this.last_window.unwrap_or(u32::from(seg.window));
        self.zeek.on_segment(dir, seg);

        if self.close.is_none() && (f.fin() || f.rst()) {
            self.close = Some(CloseInfo {
                by: dir,
                how: if f.rst() {
                    CloseHow::Rst
                } else {
                    CloseHow::Fin
                },
                frame: seg.frame,
                ts: seg.ts,
            });
        }
        let first_payload =
            seg.payload_len > 0 && self.side(dir).first_payload.map(|a| a.frame) == Some(seg.frame);
        if seg.payload_len > 0 && !analysis.is_retransmission() {
            self.track_exchange(dir, seg);
        }

        let idle_before_ms =
            (gap_ns >= cfg.idle_mark_ns).then(|| (gap_ns / 1_000_000).min(u32::MAX as i64) as u32);
        let notable = f.syn()
            || f.fin()
            || f.rst()
            || analysis.notable()
            || first_payload
            || idle_before_ms.is_some()
            || self.packets() <= 3;
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
                    first_exchange: self.exchanges == 0,
                };
                self.exchanges += 1;
                if wait.first_exchange {
                    self.first_wait = Some(wait);
                }
                if self.longest_wait.is_none_or(|w| wait.secs() > w.secs()) {
                    self.longest_wait = Some(wait);
                }
            }
            _ => {}
        }
        self.last_data = Some((dir, at));
    }

    /// Who closed first, for the report: "client fin", "server rst", ...
    pub fn closed_by(&self) -> Option<(Dir, CloseHow)> {
        self.close.map(|c| (c.by, c.how))
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
    fn midstream_roles() {
        assert!(flip_midstream(80, 40000));
        assert!(!flip_midstream(40000, 443));
        assert!(flip_midstream(8080, 45000));
        assert!(!flip_midstream(45000, 46000));
        assert!(flip_midstream(80, 8080));
        assert!(!flip_midstream(8080, 80));
    }
}
