//! Zeek-compatible `conn_state` and `history`: a faithful model of Zeek's TCP
//! endpoint bookkeeping (src/packet_analysis/protocol/tcp/TCPSessionAdapter.cc:
//! `Process`, `update_history`, `update_last_seq`, the `Update*State` machine,
//! `IsReuse`; TCP_Endpoint.cc `Size`) and `conn_state()` from
//! scripts/base/protocols/conn/main.zeek.
//!
//! History letters (upper case = originator/client, lower case = responder/server):
//! s SYN, h SYN-ACK, a pure ACK, d data, f FIN, r RST, t retransmitted payload,
//! w zero window, g content gap, i FIN+RST, q SYN+FIN or SYN+RST, ^ flipped roles.
//! a/d/i/q appear once per direction; s/h/f/r again only when their relative
//! sequence number differs from the last of that kind; t/w/g at 1, 10, 100, ...
//!
//! Known differences: Zeek's content gaps come from its reassembler; here a gap is
//! an ACK beyond the highest byte seen from the peer while both sides are
//! established. The rare SYN/SYN-ACK reversal flip is not modelled (a capture that
//! starts with a SYN-ACK is flipped at creation instead, giving Zeek's `^h...`).

use serde::Serialize;

use super::segment::Segment;
use crate::model::{Dir, SeqNum};

/// Zeek's TCP endpoint states (TCP_INACTIVE = 0 ... TCP_RESET = 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EndpointState {
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

const HIST_SYN: u8 = 0x1;
const HIST_FIN: u8 = 0x2;
const HIST_RST: u8 = 0x4;
const HIST_FIN_RST: u8 = 0x8;
const HIST_DATA: u8 = 0x10;
const HIST_ACK: u8 = 0x20;
const HIST_MULTI_FLAG: u8 = 0x40;

/// Counter and next threshold of a logarithmic history letter.
#[derive(Clone, Copy, Debug)]
struct Scaled {
    count: u64,
    threshold: u64,
}

impl Default for Scaled {
    fn default() -> Self {
        Scaled {
            count: 0,
            threshold: 1,
        }
    }
}

impl Scaled {
    /// True when this occurrence should add the letter (1st, 10th, 100th, ...).
    fn hit(&mut self) -> bool {
        self.count += 1;
        if self.count == self.threshold {
            match self.threshold.checked_mul(10) {
                Some(t) => self.threshold = t,
                None => self.count = 0,
            }
            true
        } else {
            false
        }
    }
}

#[derive(Clone, Debug)]
struct ZEndpoint {
    state: EndpointState,
    prev_state: EndpointState,
    start: SeqNum,
    last_seq: SeqNum,
    seq_wraps: u32,
    ack_seq: SeqNum,
    ack_wraps: u32,
    fin_cnt: u32,
    did_close: bool,
    hist_last_syn: i64,
    hist_last_fin: i64,
    hist_last_rst: i64,
    rxmt: Scaled,
    win0: Scaled,
    gap: Scaled,
    /// Stand-in for Zeek's reassembler (ranges only, no data): the end of the
    /// contiguous data seen from relative sequence 1, and the ranges seen above it.
    delivered: i64,
    pending: Vec<(i64, i64)>,
}

/// Out-of-order ranges remembered above a hole; beyond this the oldest is dropped
/// (the worst case is a gap letter Zeek would not add).
const MAX_PENDING: usize = 32;

impl Default for ZEndpoint {
    fn default() -> Self {
        ZEndpoint {
            state: EndpointState::Inactive,
            prev_state: EndpointState::Inactive,
            start: SeqNum(0),
            last_seq: SeqNum(0),
            seq_wraps: 0,
            ack_seq: SeqNum(0),
            ack_wraps: 0,
            fin_cnt: 0,
            did_close: false,
            hist_last_syn: 0,
            hist_last_fin: 0,
            hist_last_rst: 0,
            rxmt: Scaled::default(),
            win0: Scaled::default(),
            gap: Scaled::default(),
            delivered: 1,
            pending: Vec::new(),
        }
    }
}

impl ZEndpoint {
    fn set_state(&mut self, s: EndpointState) {
        if s != self.state {
            self.prev_state = self.state;
            self.state = s;
        }
    }

    /// A FIN or RST processed: the endpoint is reported closed (Zeek's do_close).
    fn close_as(&mut self, s: EndpointState) {
        self.set_state(s);
        self.did_close = true;
    }

    fn reset_seqs(&mut self, seq: SeqNum, last: SeqNum) {
        self.start = seq;
        self.ack_seq = seq;
        self.last_seq = last;
        self.seq_wraps = 0;
        self.ack_wraps = 0;
    }

    /// Zeek's get_relative_seq: offset of `cur` from the start, wrap-aware.
    fn relative(&self, cur: SeqNum, last: SeqNum, wraps: u32) -> i64 {
        let d = cur.diff(last);
        let mut wraps = i64::from(wraps);
        if d < 0 && wraps > 0 && cur.0 > last.0 {
            wraps -= 1;
        } else if d > 0 && cur.0 < last.0 {
            wraps += 1;
        }
        if wraps == 0 {
            cur.diff(self.start)
        } else {
            (wraps << 32) + i64::from(cur.0) - i64::from(self.start.0)
        }
    }

    fn ack64(&self) -> i64 {
        (i64::from(self.ack_wraps) << 32) + i64::from(self.ack_seq.0)
    }

    fn last64(&self) -> i64 {
        (i64::from(self.seq_wraps) << 32) + i64::from(self.last_seq.0)
    }

    /// TCP_Endpoint::Size(): bytes from sequence numbers, SYN and FIN excluded.
    fn size(&self, peer: &ZEndpoint) -> u64 {
        let start = i64::from(self.start.0);
        let no_data_acked = self.ack64() == start || self.ack64() == start + 1;
        if self.prev_state == EndpointState::SynSent
            && self.state == EndpointState::Reset
            && peer.state == EndpointState::Inactive
            && !no_data_acked
        {
            return 0;
        }
        let mut size = self.last64().max(self.ack64()) - start;
        if size < 0 {
            return 0;
        }
        if size != 0 {
            size -= 1;
        }
        if self.fin_cnt > 0 && size != 0 {
            size -= 1;
        }
        size as u64
    }

    fn update_ack_seq(&mut self, ack: SeqNum) {
        let d = ack.diff(self.ack_seq);
        if ack.0 == 0 && d > 1_048_576 {
            return;
        }
        if d > 0 {
            if ack.0 < self.ack_seq.0 {
                self.ack_wraps += 1;
            }
            self.ack_seq = ack;
        }
    }

    fn update_last_seq(&mut self, end: SeqNum) {
        if end.0 < self.last_seq.0 {
            self.seq_wraps += 1;
        }
        self.last_seq = end;
    }

    /// Data [start, end) seen: extends the contiguous part or waits above a hole.
    fn data_seen(&mut self, start: i64, end: i64) {
        if end <= self.delivered {
            return;
        }
        if start > self.delivered {
            if self.pending.len() >= MAX_PENDING {
                self.pending.remove(0);
            }
            self.pending.push((start, end));
            return;
        }
        self.delivered = end;
        self.drain_pending();
    }

    /// Everything up to `upto` counts as delivered (an ACK skipped a hole).
    fn skip_to(&mut self, upto: i64) {
        self.delivered = self.delivered.max(upto);
        self.drain_pending();
    }

    fn drain_pending(&mut self) {
        loop {
            let before = self.pending.len();
            let delivered = &mut self.delivered;
            self.pending.retain(|&(start, end)| {
                if start <= *delivered {
                    *delivered = (*delivered).max(end);
                    false
                } else {
                    true
                }
            });
            if self.pending.len() == before {
                break;
            }
        }
    }

    fn clean(&self) -> bool {
        self.state == EndpointState::Established
            || (self.state == EndpointState::Closed
                && self.prev_state == EndpointState::Established)
    }
}

#[derive(Clone, Debug)]
pub struct ZeekState {
    ep: [ZEndpoint; 2],
    history: String,
    seen: [u8; 2],
}

impl ZeekState {
    /// `flipped`: the roles were decided against the first packet's direction (Zeek
    /// records this as a leading `^`).
    pub fn new(flipped: bool) -> ZeekState {
        ZeekState {
            ep: Default::default(),
            history: if flipped { "^".into() } else { String::new() },
            seen: [0; 2],
        }
    }

    pub fn history(&self) -> &str {
        &self.history
    }

    pub fn state(&self, d: Dir) -> EndpointState {
        self.ep[d.idx()].state
    }

    /// Either side closed (FIN or RST processed): Zeek's IsClosed().
    pub fn any_closed(&self) -> bool {
        self.ep[0].did_close || self.ep[1].did_close
    }

    /// Zeek's orig_bytes / resp_bytes.
    pub fn sizes(&self) -> [u64; 2] {
        [self.ep[0].size(&self.ep[1]), self.ep[1].size(&self.ep[0])]
    }

    /// Zeek's IsReuse: does this segment start a new connection on the 4-tuple?
    pub fn is_reuse(&self, seg: &Segment) -> bool {
        let f = seg.flags;
        if !f.syn() {
            return false;
        }
        let conn_orig = if f.ack() {
            if self.ep[0].state != EndpointState::Inactive {
                return false;
            }
            &self.ep[1]
        } else {
            &self.ep[0]
        };
        if !self.any_closed() && seg.seq == conn_orig.start {
            return false;
        }
        true
    }

    fn add(&mut self, dir: Dir, code: char) {
        self.history.push(match dir {
            Dir::FromClient => code.to_ascii_uppercase(),
            Dir::FromServer => code.to_ascii_lowercase(),
        });
    }

    fn check(&mut self, dir: Dir, mask: u8, code: char) -> bool {
        if self.seen[dir.idx()] & mask == 0 {
            self.seen[dir.idx()] |= mask;
            self.add(dir, code);
            false
        } else {
            true
        }
    }

    /// Zeek's Process() for one segment.
    pub fn on_segment(&mut self, dir: Dir, seg: &Segment) {
        let f = seg.flags;
        let (me, other) = (dir.idx(), dir.other().idx());
        let len = seg.payload_len;
        // Zeek does not count a RST's payload in sequence space.
        let seg_len = if f.rst() {
            seg.seq_len() - len
        } else {
            seg.seq_len()
        };
        let end = seg.seq.plus(seg_len);
        self.init_endpoint(me, seg, end);
        let rel_seq = {
            let e = &self.ep[me];
            e.relative(seg.seq, e.last_seq, e.seq_wraps)
        };
        self.update_history(dir, seg, rel_seq, len);
        if seg.window == 0
            && !f.rst()
            && self.ep[other].state != EndpointState::Closed
            && self.ep[me].state != EndpointState::Reset
            && self.ep[me].win0.hit()
        {
            self.add(dir, 'w');
        }
        if f.fin() {
            self.ep[me].fin_cnt += 1;
        }
        let mut rel_ack = None;
        if f.ack() {
            if self.ep[other].state == EndpointState::Inactive {
                rel_ack = Some(1);
                let p = &mut self.ep[other];
                let base = seg.ack.minus(1);
                p.start = base;
                p.ack_seq = base;
                p.last_seq = base;
            } else {
                let p = &self.ep[other];
                let r = p.relative(seg.ack, p.ack_seq, p.ack_wraps);
                if r < 0 {
                    rel_ack = Some(0);
                } else {
                    rel_ack = Some(r);
                    if !f.rst() {
                        self.ep[other].update_ack_seq(seg.ack);
                    }
                }
            }
        }
        self.update_last_seq(dir, seg, end);
        if len > 0 && !f.rst() {
            // Payload starts after the SYN octet when the segment carries one.
            let start = rel_seq + i64::from(f.syn());
            self.ep[me].data_seen(start, start + i64::from(len));
        }
        self.update_state_machine(dir, seg);
        if let Some(ack) = rel_ack {
            self.ack_received(dir.other(), ack);
        }
    }

    fn init_endpoint(&mut self, me: usize, seg: &Segment, end: SeqNum) {
        let f = seg.flags;
        let e = &mut self.ep[me];
        match e.state {
            EndpointState::Inactive => {
                if f.syn() {
                    e.reset_seqs(seg.seq, end);
                } else {
                    e.reset_seqs(seg.seq.minus(1), seg.seq);
                }
            }
            EndpointState::SynSent | EndpointState::SynAckSent => {
                if f.syn() && seg.seq != e.start {
                    e.reset_seqs(seg.seq, end);
                }
            }
            EndpointState::Established | EndpointState::Partial => {
                if f.syn() {
                    e.reset_seqs(seg.seq, end);
                }
            }
            EndpointState::Reset => {
                if f.syn() && e.prev_state == EndpointState::Inactive {
                    e.reset_seqs(seg.seq, end);
                }
            }
            EndpointState::Closed => {}
        }
    }

    fn update_history(&mut self, dir: Dir, seg: &Segment, rel_seq: i64, len: u32) {
        let f = seg.flags;
        let me = dir.idx();
        let bits = u8::from(f.syn()) + u8::from(f.fin()) + u8::from(f.rst());
        if bits > 1 {
            if f.fin() && f.rst() {
                self.check(dir, HIST_FIN_RST, 'i');
            } else {
                self.check(dir, HIST_MULTI_FLAG, 'q');
            }
        } else if bits == 1 {
            if f.syn() {
                let code = if f.ack() { 'h' } else { 's' };
                if self.check(dir, HIST_SYN, code) && rel_seq != self.ep[me].hist_last_syn {
                    self.add(dir, code);
                }
                self.ep[me].hist_last_syn = rel_seq;
            }
            if f.fin() {
                let fin_at = rel_seq + i64::from(len);
                if self.check(dir, HIST_FIN, 'f') && fin_at != self.ep[me].hist_last_fin {
                    self.add(dir, 'f');
                }
                self.ep[me].hist_last_fin = fin_at;
            }
            if f.rst() {
                if self.check(dir, HIST_RST, 'r') && rel_seq != self.ep[me].hist_last_rst {
                    self.add(dir, 'r');
                }
                self.ep[me].hist_last_rst = rel_seq;
            }
        } else if len > 0 {
            self.check(dir, HIST_DATA, 'd');
        } else if f.ack() {
            self.check(dir, HIST_ACK, 'a');
        }
    }

    /// update_last_seq: advances the highest sequence end, or counts a retransmission.
    fn update_last_seq(&mut self, dir: Dir, seg: &Segment, end: SeqNum) {
        let f = seg.flags;
        let e = &mut self.ep[dir.idx()];
        let delta = end.diff(e.last_seq);
        if (f.syn() || f.rst()) && !(-1_048_576..=1_048_576).contains(&delta) {
            // Implausible jump on a SYN or RST: ignored.
        } else if f.fin() && e.last_seq == e.start.plus(1) {
            e.update_last_seq(end);
        } else if e.state == EndpointState::Reset {
        } else if delta > 0 {
            e.update_last_seq(end);
        } else if seg.payload_len > 0 && e.rxmt.hit() {
            self.add(dir, 't');
        }
    }

    fn update_state_machine(&mut self, dir: Dir, seg: &Segment) {
        use EndpointState::*;
        let f = seg.flags;
        let (me, other) = (dir.idx(), dir.other().idx());
        let is_orig = dir == Dir::FromClient;
        match self.ep[me].state {
            Inactive => {
                if f.syn() {
                    if is_orig {
                        self.ep[me].set_state(if f.ack() { SynAckSent } else { SynSent });
                    } else {
                        if self.ep[other].state == SynSent {
                            self.ep[other].set_state(Established);
                        }
                        self.ep[me].set_state(Established);
                    }
                }
                if f.fin() {
                    self.ep[me].close_as(Closed);
                }
                if f.rst() {
                    self.ep[me].close_as(Reset);
                }
                if self.ep[me].state == Inactive {
                    if !is_orig && seg.payload_len == 0 && self.ep[0].state == SynSent {
                        // An ACK of the SYN before any SYN-ACK: stays inactive.
                    } else if f.ack() && self.ep[other].state == Established {
                        self.ep[me].set_state(Established);
                    } else {
                        self.ep[me].set_state(Partial);
                    }
                }
            }
            SynSent | SynAckSent => {
                if f.fin() {
                    self.ep[me].close_as(Closed);
                }
                if f.rst() {
                    self.ep[me].close_as(Reset);
                }
            }
            Established | Partial => {
                if f.syn()
                    && self.ep[me].state == Partial
                    && self.ep[other].state == Inactive
                    && !f.ack()
                {
                    self.ep[me].set_state(SynSent);
                }
                if f.fin() && !f.rst() {
                    self.ep[me].close_as(Closed);
                    let p = &mut self.ep[other];
                    if p.state == Reset && p.prev_state == Closed {
                        p.set_state(Closed);
                    }
                }
                if f.rst() {
                    self.ep[me].close_as(Reset);
                }
            }
            Closed => {
                if f.rst() && self.ep[other].state != Closed {
                    self.ep[me].close_as(Reset);
                }
            }
            Reset => {}
        }
    }

    /// The peer's reassembler sees an ACK: acknowledged bytes never seen are a gap.
    fn ack_received(&mut self, data_dir: Dir, rel_ack: i64) {
        let d = data_dir.idx();
        let mut upto = rel_ack;
        let e = &self.ep[d];
        if e.fin_cnt > 0 {
            let fin_rel = e.last64() - i64::from(e.start.0);
            upto = upto.min(fin_rel - 1);
        }
        if upto <= e.delivered {
            return;
        }
        let both_clean = self.ep[0].clean() && self.ep[1].clean();
        self.ep[d].skip_to(upto);
        if both_clean && self.ep[d].gap.hit() {
            self.add(data_dir, 'g');
        }
    }

    /// Zeek's conn_state().
    pub fn conn_state(&self) -> &'static str {
        use EndpointState::*;
        let (os, rs) = (self.ep[0].state, self.ep[1].state);
        let o_inactive = matches!(os, Inactive | Partial);
        let r_inactive = matches!(rs, Inactive | Partial);
        if rs == Reset {
            if matches!(os, SynSent | SynAckSent) || (os == Reset && self.sizes() == [0, 0]) {
                "REJ"
            } else if o_inactive {
                "RSTRH"
            } else {
                "RSTR"
            }
        } else if os == Reset {
            if r_inactive {
                if rstos0_history(&self.history) {
                    "RSTOS0"
                } else {
                    "OTH"
                }
            } else {
                "RSTO"
            }
        } else if rs == Closed && os == Closed {
            "SF"
        } else if os == Closed {
            if r_inactive {
                "SH"
            } else {
                "S2"
            }
        } else if rs == Closed {
            if o_inactive {
                "SHR"
            } else {
                "S3"
            }
        } else if os == SynSent && rs == Inactive {
            "S0"
        } else if os == Established && rs == Established {
            "S1"
        } else {
            "OTH"
        }
    }
}

/// `/\^?S[^HAFGIQ]*R.*/ == history`: whole-string, case-sensitive.
fn rstos0_history(h: &str) -> bool {
    let h = h.strip_prefix('^').unwrap_or(h);
    let Some(rest) = h.strip_prefix('S') else {
        return false;
    };
    for c in rest.chars() {
        match c {
            'R' => return true,
            'H' | 'A' | 'F' | 'G' | 'I' | 'Q' => return false,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpFlags;
    use crate::model::Ts;

    const S: u8 = TcpFlags::SYN;
    const A: u8 = TcpFlags::ACK;
    const F: u8 = TcpFlags::FIN;
    const R: u8 = TcpFlags::RST;

    /// Runs packets (dir, flags, seq, ack, len) through a fresh state.
    fn run(flipped: bool, pkts: &[(Dir, u8, u32, u32, u32)]) -> ZeekState {
        let mut z = ZeekState::new(flipped);
        for (i, &(dir, flags, seq, ack, len)) in pkts.iter().enumerate() {
            let from_client = dir == Dir::FromClient;
            let ts = Ts(i as i64);
            let seg = Segment::test_conn(i as u64 + 1, ts, from_client, flags, seq, ack, len);
            z.on_segment(dir, &seg);
        }
        z
    }

    use Dir::{FromClient as C, FromServer as Sv};

    fn handshake() -> Vec<(Dir, u8, u32, u32, u32)> {
        vec![
            (C, S, 100, 0, 0),
            (Sv, S | A, 500, 101, 0),
            (C, A, 101, 501, 0),
        ]
    }

    #[test]
    fn clean_close_is_sf() {
        let mut p = handshake();
        p.extend([
            (C, A, 101, 501, 10),
            (Sv, A, 501, 111, 0),
            (Sv, A, 501, 111, 20),
            (C, A, 111, 521, 0),
            (C, F | A, 111, 521, 0),
            (Sv, F | A, 521, 112, 0),
            (C, A, 112, 522, 0),
        ]);
        let z = run(false, &p);
        assert_eq!(z.history(), "ShADadFf");
        assert_eq!(z.conn_state(), "SF");
        assert_eq!(z.sizes(), [10, 20]);
    }

    #[test]
    fn vectors_from_zeek_baselines() {
        // syn-then-rst: SR -> RSTOS0
        let z = run(false, &[(C, S, 1, 0, 0), (C, R, 2, 0, 0)]);
        assert_eq!((z.history(), z.conn_state()), ("SR", "RSTOS0"));
        // SaR: SYN, responder pure ACK (stays inactive), orig RST
        let z = run(false, &[(C, S, 1, 0, 0), (Sv, A, 9, 2, 0), (C, R, 2, 0, 0)]);
        assert_eq!((z.history(), z.conn_state()), ("SaR", "RSTOS0"));
        // SaFR -> OTH
        let z = run(
            false,
            &[
                (C, S, 1, 0, 0),
                (Sv, A, 9, 2, 0),
                (C, F, 2, 0, 0),
                (C, R, 3, 0, 0),
            ],
        );
        assert_eq!((z.history(), z.conn_state()), ("SaFR", "OTH"));
        // single RST -> OTH
        let z = run(false, &[(C, R, 2, 0, 0)]);
        assert_eq!((z.history(), z.conn_state()), ("R", "OTH"));
    }

    #[test]
    fn derived_vectors() {
        let z = run(false, &[(C, S, 1, 0, 0)]);
        assert_eq!(z.conn_state(), "S0");
        let z = run(false, &[(C, S, 1, 0, 0), (Sv, R | A, 0, 2, 0)]);
        assert_eq!((z.history(), z.conn_state()), ("Sr", "REJ"));
        let z = run(
            false,
            &[(C, S, 1, 0, 0), (Sv, S | A, 7, 2, 0), (C, R, 2, 0, 0)],
        );
        assert_eq!((z.history(), z.conn_state()), ("ShR", "RSTO"));
        let z = run(
            false,
            &[(C, S, 1, 0, 0), (Sv, S | A, 7, 2, 0), (Sv, R, 8, 0, 0)],
        );
        assert_eq!(z.conn_state(), "RSTR");
        let z = run(false, &[(C, S, 1, 0, 0), (C, F, 2, 0, 0)]);
        assert_eq!((z.history(), z.conn_state()), ("SF", "SH"));
        let mut p = handshake();
        p.push((C, F | A, 101, 501, 0));
        p.push((Sv, A, 501, 102, 0));
        assert_eq!(run(false, &p).conn_state(), "S2");
        let mut p = handshake();
        p.push((Sv, F | A, 501, 101, 0));
        assert_eq!(run(false, &p).conn_state(), "S3");
        // midstream clean close: DdFf -> SF
        let z = run(
            false,
            &[
                (C, A, 10, 20, 5),
                (Sv, A, 20, 15, 5),
                (C, F | A, 15, 25, 0),
                (Sv, F | A, 25, 16, 0),
            ],
        );
        assert_eq!((z.history(), z.conn_state()), ("DdFf", "SF"));
        // starts with a SYN-ACK, flipped at creation: ^h... ; then a responder RST -> RSTRH
        let z = run(true, &[(Sv, S | A, 7, 2, 0), (Sv, R, 8, 0, 0)]);
        assert_eq!((z.history(), z.conn_state()), ("^hr", "RSTRH"));
    }

    #[test]
    fn retransmissions_scale_logarithmically() {
        let mut p = handshake();
        for _ in 0..12 {
            p.push((C, A, 101, 501, 100));
        }
        let z = run(false, &p);
        assert_eq!(z.history(), "ShADTT");
        // The same SYN twice is one S; a SYN with another ISN on a live flow is reuse.
        let z = run(false, &[(C, S, 1, 0, 0), (C, S, 1, 0, 0)]);
        assert_eq!(z.history(), "S");
    }

    #[test]
    fn gaps_come_from_holes_not_from_reordering() {
        // Reordered data that fills its hole before the ACK: no gap.
        let mut p = handshake();
        p.extend([
            (C, A, 201, 501, 100),
            (C, A, 101, 501, 100),
            (Sv, A, 501, 301, 0),
        ]);
        assert_eq!(run(false, &p).history(), "ShADTa");
        // A hole the ACK skips over: a gap for the client's data.
        let mut p = handshake();
        p.extend([
            (C, A, 101, 501, 100),
            (C, A, 201 + 100, 501, 100),
            (Sv, A, 501, 401, 0),
        ]);
        assert_eq!(run(false, &p).history(), "ShADaG");
    }

    #[test]
    fn fin_then_rst_then_peer_fin_is_sf() {
        let mut p = handshake();
        p.extend([
            (C, F | A, 101, 501, 0),
            (C, R | A, 102, 501, 0),
            (Sv, F | A, 501, 102, 0),
        ]);
        let z = run(false, &p);
        assert_eq!(z.conn_state(), "SF");
    }

    #[test]
    fn rstos0_pattern() {
        assert!(rstos0_history("SR"));
        assert!(rstos0_history("^SaR"));
        assert!(rstos0_history("StR"));
        assert!(rstos0_history("ShR")); // lower-case letters pass the regex
        assert!(!rstos0_history("SHR"));
        assert!(!rstos0_history("R"));
        assert!(!rstos0_history("SaFR"));
    }
}
