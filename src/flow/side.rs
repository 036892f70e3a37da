//! One direction of a connection: what its sender said (options, windows, TTL, MAC)
//! and how its sequence space progressed. `analyze` classifies each segment the way
//! Wireshark's TCP analysis does, from this side's and the peer's state.

use serde::Serialize;

use super::analysis::Analysis;
use super::episodes::{
    HeapBytes, Keepalives, LastData, Resend, ResendCause, Resends, ZeroWindows, RTO_MIN_NS,
};
use super::segment::{PayloadHead, Segment};
use crate::decode::TcpFlags;
use crate::model::{SeqNum, Ts};

/// Options a side announced in its SYN or SYN-ACK.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct SynOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamps: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AnalysisCounts {
    pub retransmissions: u32,
    pub fast_retransmissions: u32,
    pub spurious_retransmissions: u32,
    pub out_of_order: u32,
    pub lost_segments: u32,
    pub acked_unseen: u32,
    pub dup_acks: u32,
    pub zero_windows: u32,
    pub window_updates: u32,
    pub window_full: u32,
    pub keep_alives: u32,
    pub zero_window_probes: u32,
    pub truncated: u32,
}

impl AnalysisCounts {
    fn count(&mut self, a: Analysis) {
        // Most segments carry no flag, or only the snaplen cut: skip the table walk.
        if a.is_empty() {
            return;
        }
        if a.0 == Analysis::TRUNCATED {
            self.truncated += 1;
            return;
        }
        let pairs: [(u32, &mut u32); 13] = [
            (Analysis::RETRANSMISSION, &mut self.retransmissions),
            (
                Analysis::FAST_RETRANSMISSION,
                &mut self.fast_retransmissions,
            ),
            (
                Analysis::SPURIOUS_RETRANSMISSION,
                &mut self.spurious_retransmissions,
            ),
            (Analysis::OUT_OF_ORDER, &mut self.out_of_order),
            (Analysis::LOST_SEGMENT, &mut self.lost_segments),
            (Analysis::ACKED_UNSEEN, &mut self.acked_unseen),
            (Analysis::DUP_ACK, &mut self.dup_acks),
            (Analysis::ZERO_WINDOW, &mut self.zero_windows),
            (Analysis::WINDOW_UPDATE, &mut self.window_updates),
            (Analysis::WINDOW_FULL, &mut self.window_full),
            (Analysis::KEEP_ALIVE, &mut self.keep_alives),
            (Analysis::ZERO_WINDOW_PROBE, &mut self.zero_window_probes),
            (Analysis::TRUNCATED, &mut self.truncated),
        ];
        for (flag, counter) in pairs {
            if a.has(flag) {
                *counter += 1;
            }
        }
    }
}

/// A frame reference: number and time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    pub frame: u64,
    pub ts: Ts,
}

/// A RST as it was on the wire, for attributing it to its real sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RstInfo {
    pub at: At,
    pub ttl: u8,
    pub ip_id: Option<u16>,
    /// IP ID of this side's previous packet.
    pub prev_ip_id: Option<u16>,
    pub mac: Option<[u8; 6]>,
    pub has_timestamps: bool,
    pub ack_flag: bool,
    /// Offset of the RST's sequence number from this side's next expected one
    /// (0 = exactly where the sender's stream stood).
    pub seq_offset: Option<i64>,
    /// Bytes of sequence space this side had sent that the peer had not acknowledged:
    /// how far back a genuine RST's sequence number can be (a host answering the
    /// peer's segment for a socket it lost uses the peer's ACK).
    pub unacked: Option<i64>,
    /// Packets this side had sent before the RST.
    pub packets_before: u64,
    pub window: u16,
}

/// The kind of 0/1-byte probe a side sent last, so the peer's answer can be named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Probe {
    KeepAlive,
    ZeroWindow,
}

#[derive(Clone, Debug, Default)]
pub struct Side {
    pub packets: u64,
    /// Payload bytes on the wire, retransmissions included.
    pub payload_bytes: u64,
    pub isn: Option<SeqNum>,
    /// Base for relative sequence numbers: the ISN; midstream, one before the first
    /// sequence number seen (or the peer's first ACK), as Wireshark does.
    pub base: Option<SeqNum>,
    /// One past the highest sequence number sent (Wireshark's "nextseq").
    pub next_seq: Option<SeqNum>,
    next_seq_advanced: Ts,
    /// Highest acknowledgement number this side sent.
    pub max_ack: Option<SeqNum>,
    last_ack: Option<SeqNum>,
    last_ack_ts: Ts,
    /// Last advertised window, scaled when the handshake negotiated scaling.
    pub last_window: Option<u32>,
    pub syn_options: Option<SynOptions>,
    /// Shift applied to this side's window field (set once both SYNs agreed).
    pub window_shift: Option<u8>,
    /// The snaplen cut this side's SYN options: whether it offered window scaling
    /// (and what else) is unknown.
    pub scale_unknown: bool,
    pub counts: AnalysisCounts,
    pub first_payload: Option<At>,
    pub first_fin: Option<At>,
    pub last_seen: Option<At>,
    /// TTL / hop limit: first, min, max over this side's packets (RSTs excluded so a
    /// forged RST cannot move the baseline).
    pub ttl_first: Option<u8>,
    pub ttl_min: u8,
    pub ttl_max: u8,
    pub last_ip_id: Option<u16>,
    /// Consecutive non-zero IP IDs compared, and the largest step between them.
    pub ip_id_steps: u32,
    pub max_ip_id_step: u16,
    /// Source MAC of the first packet (when the link has one), and how many packets
    /// carried another one.
    pub mac: Option<[u8; 6]>,
    pub mac_mismatches: u32,
    /// Non-RST packets that carried the TCP timestamps option.
    pub packets_with_timestamps: u64,
    /// Consecutive duplicate ACKs this side sent for `last_ack`.
    pub dup_ack_run: u32,
    last_probe: Option<Probe>,
    /// Boxed: rare, and a connection is kept small while live.
    pub first_rst_info: Option<Box<RstInfo>>,
    /// Resends, zero-window episodes and keepalive probes: each allocated when its
    /// first event happens, so most connections never hold them (see the accessors).
    resends: Option<Box<Resends>>,
    zero_windows: Option<Box<ZeroWindows>>,
    keepalives: Option<Box<Keepalives>>,
    /// The last new data this side sent.
    pub last_data: Option<LastData>,
    /// The start of this side's first payload (a banner names its daemon).
    pub first_bytes: Option<PayloadHead>,
    /// When this side last made progress (see Resend::since_progress_ns).
    progress: Ts,
    /// Segments whose payload exceeded the MSS the peer announced (offloads at the
    /// capture point).
    pub oversize_segments: u32,
    pub first_oversize: Option<At>,
    /// Whether the capturing host sent this side's packets (cooked captures only).
    pub sent_by_capture_host: Option<bool>,
    pub max_payload: u32,
    /// Segments that carried `max_payload` bytes: more than one makes it the
    /// sender's segment size, not just its largest message.
    pub max_payload_segments: u32,
}

/// What a side without resends, zero windows or keepalives reads.
static NO_RESENDS: Resends = Resends::EMPTY;
static NO_ZERO_WINDOWS: ZeroWindows = ZeroWindows::EMPTY;
static NO_KEEPALIVES: Keepalives = Keepalives::EMPTY;

impl Side {
    /// This side's resends of data, by cause (SYNs are the handshake's).
    pub fn resends(&self) -> &Resends {
        self.resends.as_deref().unwrap_or(&NO_RESENDS)
    }

    /// Zero windows this side advertised (it is the receiver), episode by episode.
    pub fn zero_windows(&self) -> &ZeroWindows {
        self.zero_windows.as_deref().unwrap_or(&NO_ZERO_WINDOWS)
    }

    /// Keepalive probes this side sent, and the peer's answers.
    pub fn keepalives(&self) -> &Keepalives {
        self.keepalives.as_deref().unwrap_or(&NO_KEEPALIVES)
    }

    /// Whether this side holds anything on the heap (trackers, the first RST).
    #[inline]
    pub fn has_heap(&self) -> bool {
        self.resends.is_some()
            || self.zero_windows.is_some()
            || self.keepalives.is_some()
            || self.first_rst_info.is_some()
    }

    /// Heap bytes of the trackers this side started (memory budget).
    pub fn trackers_heap_bytes(&self) -> usize {
        self.resends.as_ref().map_or(0, |t| t.heap_bytes())
            + self.zero_windows.as_ref().map_or(0, |t| t.heap_bytes())
            + self.keepalives.as_ref().map_or(0, |t| t.heap_bytes())
    }

    /// MSS this side announced in its SYN or SYN-ACK.
    pub fn mss(&self) -> Option<u16> {
        self.syn_options.and_then(|o| o.mss)
    }

    /// Where this side first sent a RST.
    pub fn first_rst(&self) -> Option<At> {
        self.first_rst_info.as_ref().map(|r| r.at)
    }

    /// Relative sequence number (Wireshark's `tcp.seq` with relative numbering).
    pub fn rel(&self, seq: SeqNum) -> u32 {
        self.base.map_or(seq.0, |b| seq.rel(b))
    }

    pub fn scaled_window(&self, raw: u16, syn: bool) -> u32 {
        // Windows in SYNs are never scaled (RFC 7323).
        match (syn, self.window_shift) {
            (false, Some(shift)) => u32::from(raw) << shift.min(14),
            _ => u32::from(raw),
        }
    }

    /// Classifies `seg`, sent by this side; `peer` is the other direction.
    /// `ooo_threshold_ns`: a segment below `next_seq` that arrives within this
    /// time of the highest one is out-of-order rather than retransmitted.
    /// `idle_before_ns`: the silence (both directions) before this segment.
    /// Every segment also feeds the running trackers (zero-window episodes, probes,
    /// resends) that the analyzers read.
    pub fn analyze(
        &mut self,
        seg: &Segment,
        peer: &mut Side,
        ooo_threshold_ns: i64,
        idle_before_ns: i64,
    ) -> Analysis {
        let mut a = Analysis::default();
        let f = seg.flags;
        let control = f.syn() || f.fin() || f.rst();
        let seq_len = seg.seq_len();
        let window = self.scaled_window(seg.window, f.syn());
        if seg.truncated() {
            a.set(Analysis::TRUNCATED);
        }
        if seg.window == 0 && !control {
            a.set(Analysis::ZERO_WINDOW);
        }
        if let Some(next) = self.next_seq {
            let peer_window_zero = peer.last_window == Some(0);
            if seq_len <= 1 && !control && seg.seq == next.minus(1) {
                // 0/1-byte segment one below snd_nxt: a probe. Which kind depends on
                // the window the peer last advertised.
                if peer_window_zero {
                    a.set(Analysis::ZERO_WINDOW_PROBE);
                    self.last_probe = Some(Probe::ZeroWindow);
                } else {
                    a.set(Analysis::KEEP_ALIVE);
                    self.last_probe = Some(Probe::KeepAlive);
                }
            } else if seq_len == 1 && !control && seg.seq == next && peer_window_zero {
                a.set(Analysis::ZERO_WINDOW_PROBE);
                self.last_probe = Some(Probe::ZeroWindow);
            } else if seg.seq.gt(next) && !f.rst() {
                a.set(Analysis::LOST_SEGMENT);
            }
            let probe = a.has(Analysis::KEEP_ALIVE | Analysis::ZERO_WINDOW_PROBE);
            if seq_len > 0 && !probe && !f.rst() && seg.seq.lt(next) {
                let kind = self.classify_resend(seg, seq_len, peer, ooo_threshold_ns);
                a.set(kind);
                if kind != Analysis::OUT_OF_ORDER && !f.syn() {
                    self.note_resend(seg, seq_len, kind, peer);
                }
            }
            let pure_ack = seq_len == 0 && !control && f.ack() && seg.seq == next;
            if pure_ack && Some(seg.ack) == self.last_ack {
                if Some(window) != self.last_window {
                    a.set(Analysis::WINDOW_UPDATE);
                    // The probe was answered, by opening the window: a later duplicate
                    // ACK is not its ACK.
                    peer.last_probe = None;
                } else if let Some(probe) = peer.last_probe.take() {
                    a.set(match probe {
                        Probe::KeepAlive => Analysis::KEEP_ALIVE_ACK,
                        Probe::ZeroWindow => Analysis::ZERO_WINDOW_PROBE_ACK,
                    });
                } else {
                    a.set(Analysis::DUP_ACK);
                }
            }
        }
        // With the SYNs' options cut by the snaplen the window scale is unknown, and
        // unscaled windows would make "window full" up.
        if seq_len > 0 && !f.syn() && !self.scale_unknown && !peer.scale_unknown {
            if let (Some(pack), Some(pwin)) = (peer.last_ack, peer.last_window) {
                let end = seg.seq.plus(seq_len);
                if pwin > 0 && end == pack.plus(pwin) {
                    a.set(Analysis::WINDOW_FULL);
                }
            }
        }
        // A sender may not exceed the MSS its peer announced: bigger segments were
        // merged by offloads at the capture point.
        if peer
            .mss()
            .is_some_and(|mss| seg.payload_len > u32::from(mss))
        {
            self.oversize_segments += 1;
            self.first_oversize.get_or_insert(At {
                frame: seg.frame,
                ts: seg.ts,
            });
        }
        if f.rst() && self.first_rst_info.is_none() {
            self.first_rst_info = Some(Box::new(RstInfo {
                at: At {
                    frame: seg.frame,
                    ts: seg.ts,
                },
                ttl: seg.ttl,
                ip_id: seg.ip_id,
                prev_ip_id: self.last_ip_id,
                mac: seg.src_mac,
                has_timestamps: seg.opts.timestamps.is_some(),
                ack_flag: f.ack(),
                seq_offset: self.next_seq.map(|n| seg.seq.diff(n)),
                unacked: self
                    .next_seq
                    .zip(peer.max_ack)
                    .map(|(next, acked)| next.diff(acked).max(0)),
                packets_before: self.packets,
                window: seg.window,
            }));
        }
        // Progress for the retransmission timer: new data into an empty pipe starts it,
        // an ACK that advances snd_una restarts the peer's.
        if seq_len > 0 && !f.rst() {
            let pipe_empty = match (self.next_seq, peer.max_ack) {
                (Some(next), Some(acked)) => !acked.lt(next),
                _ => true,
            };
            if pipe_empty && self.next_seq.is_none_or(|n| seg.seq.plus(seq_len).gt(n)) {
                self.progress = seg.ts;
            }
        }
        if f.ack() && !f.rst() {
            if self.max_ack.is_none_or(|m| seg.ack.gt(m)) {
                peer.progress = seg.ts;
            }
            if peer
                .next_seq
                .is_some_and(|pnext| seg.ack.gt(pnext) && peer.packets > 0)
            {
                a.set(Analysis::ACKED_UNSEEN);
            }
        }
        self.track(seg, peer, a, idle_before_ns);
        self.record(seg, seq_len, a, window);
        a
    }

    /// Feeds the running trackers with this segment and its labels.
    fn track(&mut self, seg: &Segment, peer: &mut Side, a: Analysis, idle_before_ns: i64) {
        let f = seg.flags;
        let at = At {
            frame: seg.frame,
            ts: seg.ts,
        };
        // Most segments advertise an open window on a side with no episode open.
        if !f.syn() && !f.rst() && (seg.window == 0 || self.zero_windows().open.is_some()) {
            self.zero_windows
                .get_or_insert_with(Box::default)
                .on_window(at, seg.window == 0);
        }
        if a.has(Analysis::ZERO_WINDOW_PROBE) {
            peer.zero_windows
                .get_or_insert_with(Box::default)
                .on_probe(at);
        }
        if a.has(Analysis::ZERO_WINDOW_PROBE_ACK) {
            self.zero_windows
                .get_or_insert_with(Box::default)
                .on_probe_ack();
        }
        if a.has(Analysis::KEEP_ALIVE) {
            self.keepalives
                .get_or_insert_with(Box::default)
                .on_probe(at, idle_before_ns);
        }
        if a.has(Analysis::KEEP_ALIVE_ACK) {
            peer.keepalives
                .get_or_insert_with(Box::default)
                .on_answer(seg.ts);
        }
        if let Some(resends) = peer.resends.as_mut().filter(|_| f.ack() && !f.rst()) {
            if let Some((l, r)) = seg.opts.sack_first.filter(|_| seg.opts.dsack(seg.ack.0)) {
                resends.on_dsack(SeqNum(l), SeqNum(r));
            }
        }
        if seg.payload_len > 0 && !f.rst() {
            if self.first_bytes.is_none() && !seg.head.is_empty() {
                self.first_bytes = Some(seg.head);
            }
            let end = seg.seq.plus(seg.seq_len());
            if self.last_data.is_none_or(|d| end.gt(d.end)) {
                self.last_data = Some(LastData {
                    at,
                    psh: f.has(TcpFlags::PSH),
                    len: seg.payload_len,
                    end,
                });
            }
        }
    }

    /// Records a resend with its cause. Wireshark's label (`kind`) says how the
    /// capture sees it; the cause says what sent it: no Linux retransmission timer
    /// fires sooner than RTO_MIN after the last progress, so an earlier resend of the
    /// sender's latest segment is a tail-loss probe, and an earlier one of older data
    /// was ACK-driven recovery (SACK/RACK) even without Wireshark's two dup ACKs.
    fn note_resend(&mut self, seg: &Segment, seq_len: u32, kind: u32, peer: &Side) {
        let since_progress_ns = seg.ts.nanos_since(self.progress);
        let early = since_progress_ns < RTO_MIN_NS;
        let at_tail = Some(seg.seq.plus(seq_len)) == self.next_seq;
        // The peer's duplicate ACKs / SACKs kept coming until just before the resend:
        // loss recovery (RACK, SACK) sent it, not a timer that saw silence.
        let ack_driven = peer.dup_ack_run > 0 && seg.ts.nanos_since(peer.last_ack_ts) < RTO_MIN_NS;
        let cause = match kind {
            Analysis::FAST_RETRANSMISSION => ResendCause::Fast,
            _ if early && at_tail => ResendCause::TailLossProbe,
            _ if early || ack_driven => ResendCause::Fast,
            Analysis::SPURIOUS_RETRANSMISSION => ResendCause::Spurious,
            _ => ResendCause::Timeout,
        };
        let seq_rel = self.rel(seg.seq);
        self.resends
            .get_or_insert_with(Box::default)
            .record(Resend {
                at: At {
                    frame: seg.frame,
                    ts: seg.ts,
                },
                seq: seg.seq,
                seq_rel,
                len: seg.payload_len,
                cause,
                since_progress_ns,
            });
    }

    /// A segment that starts below next_seq: which kind of resend is it? Wireshark's
    /// order: fast retransmission (>= 2 dup ACKs for this seq, within 20 ms of the
    /// last), out-of-order (within the handshake RTT, or 3 ms, of the highest
    /// segment), spurious (all of it already acknowledged), else retransmission.
    fn classify_resend(
        &self,
        seg: &Segment,
        seq_len: u32,
        peer: &Side,
        ooo_threshold_ns: i64,
    ) -> u32 {
        let end = seg.seq.plus(seq_len);
        if peer.dup_ack_run >= 2
            && peer.last_ack == Some(seg.seq)
            && seg.ts.nanos_since(peer.last_ack_ts) < 20_000_000
        {
            return Analysis::FAST_RETRANSMISSION;
        }
        // An exact copy of the latest segment (ending at next_seq) is a retransmission.
        if seg.ts.nanos_since(self.next_seq_advanced) < ooo_threshold_ns
            && !seg.flags.syn()
            && Some(end) != self.next_seq
        {
            return Analysis::OUT_OF_ORDER;
        }
        if let Some(acked) = peer.last_ack {
            if seg.payload_len > 0 && end.le(acked) {
                return Analysis::SPURIOUS_RETRANSMISSION;
            }
        }
        Analysis::RETRANSMISSION
    }

    fn record(&mut self, seg: &Segment, seq_len: u32, a: Analysis, window: u32) {
        let f = seg.flags;
        let at = At {
            frame: seg.frame,
            ts: seg.ts,
        };
        self.packets += 1;
        if let Some(d) = seg.link_dir {
            self.sent_by_capture_host
                .get_or_insert(d == crate::decode::LinkDirection::Outgoing);
        }
        self.payload_bytes += u64::from(seg.payload_len);
        self.counts.count(a);
        if self.base.is_none() {
            // Midstream: as Wireshark, take the first byte seen as relative 1 (a SYN
            // already set the base to the ISN).
            self.base = Some(seg.seq.minus(1));
        }
        let end = seg.seq.plus(seq_len);
        match self.next_seq {
            Some(next) if !end.gt(next) => {}
            _ if f.rst() && self.next_seq.is_some() => {}
            _ => {
                self.next_seq = Some(end);
                self.next_seq_advanced = seg.ts;
            }
        }
        if f.ack() {
            if Some(seg.ack) == self.last_ack && seq_len == 0 && !f.rst() {
                if a.has(Analysis::DUP_ACK) {
                    self.dup_ack_run += 1;
                }
            } else {
                self.dup_ack_run = 0;
            }
            self.last_ack = Some(seg.ack);
            self.last_ack_ts = seg.ts;
            self.max_ack = Some(self.max_ack.map_or(seg.ack, |m| m.max(seg.ack)));
        }
        if !f.rst() {
            self.last_window = Some(window);
        }
        if seg.payload_len > 0 {
            self.first_payload.get_or_insert(at);
            if seg.payload_len > self.max_payload {
                self.max_payload = seg.payload_len;
                self.max_payload_segments = 1;
            } else if seg.payload_len == self.max_payload {
                self.max_payload_segments += 1;
            }
        }
        if f.fin() {
            self.first_fin.get_or_insert(at);
        }
        // The first RST is kept in `first_rst_info` (set in `analyze`).
        if !f.rst() {
            if self.ttl_first.is_none() {
                self.ttl_first = Some(seg.ttl);
                self.ttl_min = seg.ttl;
            }
            self.ttl_min = self.ttl_min.min(seg.ttl);
            self.ttl_max = self.ttl_max.max(seg.ttl);
            if seg.opts.timestamps.is_some() {
                self.packets_with_timestamps += 1;
            }
            if let Some(mac) = seg.src_mac {
                match self.mac {
                    None => self.mac = Some(mac),
                    Some(m) if m != mac => self.mac_mismatches += 1,
                    _ => {}
                }
            }
        }
        if let Some(id) = seg.ip_id {
            // Steps between this side's own (non-RST, non-zero) IP IDs: a Linux socket
            // counts up by one per packet, other stacks use random or host-wide IDs.
            if let Some(prev) = self.last_ip_id.filter(|&p| p != 0 && id != 0) {
                self.ip_id_steps += 1;
                self.max_ip_id_step = self.max_ip_id_step.max(id.wrapping_sub(prev));
            }
            self.last_ip_id = Some(id);
        }
        self.last_seen = Some(at);
    }

    /// Records the options of this side's SYN or SYN-ACK.
    pub fn set_syn(&mut self, seg: &Segment) {
        if self.isn.is_none() {
            self.isn = Some(seg.seq);
            self.base = Some(seg.seq);
        }
        let o = &seg.opts;
        self.scale_unknown = o.cut && o.window_scale.is_none();
        self.syn_options = Some(SynOptions {
            mss: o.mss,
            window_scale: o.window_scale,
            sack_permitted: o.sack_permitted,
            timestamps: o.timestamps.is_some(),
        });
    }
}
