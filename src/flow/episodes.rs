//! Running trackers that every segment feeds: zero-window episodes, keepalive probes,
//! resends (with their cause: retransmission timeout, tail-loss probe, fast) and the
//! last data each side sent. The analyzers read these, never the stored timeline, so
//! what is detected does not depend on what is kept for printing (`--timeline-cap`,
//! the memory budget). Each tracker is a few counters plus the first few moments of
//! its series (evidence), allocated only when the series starts.

use super::side::At;
use crate::model::{SeqNum, Ts};

/// Moments kept per series for evidence and schedules (intervals, backoff).
pub const KEPT: usize = 16;

/// A counted series of moments: the total, and the first `KEPT` of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Series {
    pub count: u64,
    pub head: Vec<At>,
}

impl Series {
    pub const EMPTY: Series = Series {
        count: 0,
        head: Vec::new(),
    };

    pub fn push(&mut self, at: At) {
        self.count += 1;
        if self.head.len() < KEPT {
            if self.head.capacity() == 0 {
                self.head.reserve_exact(4);
            }
            self.head.push(at);
        }
    }

    pub fn first(&self) -> Option<At> {
        self.head.first().copied()
    }

    /// Seconds between consecutive kept moments.
    pub fn intervals(&self) -> Vec<f64> {
        self.head
            .windows(2)
            .map(|w| w[1].ts.since(w[0].ts))
            .collect()
    }
}

/// One stretch of zero windows advertised by a receiver: from its first zero-window
/// segment to the segment that reopened the window (or the end of the flow).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZeroEpisode {
    pub start: At,
    /// The receiver's segment that advertised a non-zero window again.
    pub reopened: Option<At>,
    /// Zero-window segments the receiver sent in the episode.
    pub ads: u64,
    /// The sender's persist (zero-window) probes during the episode.
    pub probes: Series,
    /// The receiver's answers to them.
    pub probe_acks: u64,
}

impl ZeroEpisode {
    /// How long the window stayed shut; an episode still open lasts until `end`.
    pub fn duration_ns(&self, end: Ts) -> i64 {
        self.reopened
            .map_or(end, |r| r.ts)
            .nanos_since(self.start.ts)
    }
}

/// Zero-window episodes of one receiver: all counted, the longest kept whole.
#[derive(Clone, Debug, Default)]
pub struct ZeroWindows {
    /// Zero-window segments in all (Wireshark's tcp.analysis.zero_window count).
    pub ads: u64,
    pub episodes: u32,
    /// Time spent at zero in closed episodes.
    pub closed_ns: i64,
    /// The longest closed episode.
    pub longest: Option<Box<ZeroEpisode>>,
    /// The episode in progress.
    pub open: Option<Box<ZeroEpisode>>,
    /// Persist probes seen in all episodes.
    pub probes: Series,
}

impl ZeroWindows {
    pub const EMPTY: ZeroWindows = ZeroWindows {
        ads: 0,
        episodes: 0,
        closed_ns: 0,
        longest: None,
        open: None,
        probes: Series::EMPTY,
    };

    /// A segment from the receiver (not SYN, not RST) advertising `window`.
    pub fn on_window(&mut self, at: At, zero: bool) {
        if zero {
            self.ads += 1;
            match &mut self.open {
                Some(ep) => ep.ads += 1,
                None => {
                    self.episodes += 1;
                    self.open = Some(Box::new(ZeroEpisode {
                        start: at,
                        reopened: None,
                        ads: 1,
                        probes: Series::default(),
                        probe_acks: 0,
                    }));
                }
            }
            return;
        }
        let Some(mut ep) = self.open.take() else {
            return;
        };
        ep.reopened = Some(at);
        let dur = ep.duration_ns(at.ts);
        self.closed_ns += dur;
        if self
            .longest
            .as_ref()
            .is_none_or(|l| dur > l.duration_ns(at.ts))
        {
            self.longest = Some(ep);
        }
    }

    /// A persist probe from the sender into this receiver's zero window.
    pub fn on_probe(&mut self, at: At) {
        self.probes.push(at);
        if let Some(ep) = &mut self.open {
            ep.probes.push(at);
        }
    }

    /// The receiver answered a persist probe.
    pub fn on_probe_ack(&mut self) {
        if let Some(ep) = &mut self.open {
            ep.probe_acks += 1;
        }
    }

    /// The longest episode, an open one lasting until `end`, with its duration.
    pub fn worst(&self, end: Ts) -> Option<(&ZeroEpisode, i64)> {
        let closed = self.longest.as_deref().map(|e| (e, e.duration_ns(end)));
        let open = self.open.as_deref().map(|e| (e, e.duration_ns(end)));
        match (closed, open) {
            (Some(c), Some(o)) if o.1 > c.1 => Some(o),
            (Some(c), _) => Some(c),
            (None, o) => o,
        }
    }

    /// Time at zero over all episodes, an open one until `end`.
    pub fn total_ns(&self, end: Ts) -> i64 {
        self.closed_ns + self.open.as_ref().map_or(0, |e| e.duration_ns(end))
    }
}

/// Keepalive probes one side sent, and the peer's answers.
#[derive(Clone, Debug, Default)]
pub struct Keepalives {
    pub probes: Series,
    /// Silence (both directions) before the first probe: the socket's TCP_KEEPIDLE.
    pub idle_before_first_ns: Option<i64>,
    pub answered: u64,
    pub last_answer: Option<Ts>,
    /// Probes since the last answer, and the first of them.
    pub unanswered_tail: u64,
    pub tail_first: Option<At>,
    pub last_probe: Option<At>,
}

impl Keepalives {
    pub const EMPTY: Keepalives = Keepalives {
        probes: Series::EMPTY,
        idle_before_first_ns: None,
        answered: 0,
        last_answer: None,
        unanswered_tail: 0,
        tail_first: None,
        last_probe: None,
    };

    pub fn on_probe(&mut self, at: At, idle_before_ns: i64) {
        if self.probes.count == 0 {
            self.idle_before_first_ns = Some(idle_before_ns);
        }
        self.probes.push(at);
        if self.unanswered_tail == 0 {
            self.tail_first = Some(at);
        }
        self.unanswered_tail += 1;
        self.last_probe = Some(at);
    }

    pub fn on_answer(&mut self, at: Ts) {
        self.answered += 1;
        self.last_answer = Some(at);
        self.unanswered_tail = 0;
        self.tail_first = None;
    }
}

/// Linux's smallest retransmission timeout (TCP_RTO_MIN): a resend sooner than this
/// after the sender's last progress cannot be a timeout of a Linux sender.
pub const RTO_MIN_NS: i64 = 200_000_000;

/// Why a segment was sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResendCause {
    /// The retransmission timer expired (no duplicate ACKs, at least RTO_MIN after
    /// the last progress).
    Timeout,
    /// The sender's last segment resent sooner than any RTO could fire: a tail-loss
    /// probe (Linux TLP, about two round trips after the last send).
    TailLossProbe,
    /// After duplicate ACKs (Wireshark's fast retransmission).
    Fast,
    /// Data the receiver had already acknowledged (Wireshark's spurious
    /// retransmission), resent by a timer that fired too early.
    Spurious,
}

/// One resent segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resend {
    pub at: At,
    pub seq: SeqNum,
    pub seq_rel: u32,
    pub len: u32,
    pub cause: ResendCause,
    /// Time since the sender last made progress (new data into an empty pipe, or an
    /// ACK that moved snd_una): what the kernel's retransmission timer measured.
    pub since_progress_ns: i64,
}

/// Consecutive timeouts of the same sequence number: the timer's backoff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    pub first: Resend,
    pub last: Resend,
    /// The resend before `last` (its interval gives the next one's due time).
    pub before_last: Option<At>,
    pub count: u32,
    pub head: Vec<At>,
}

impl Chain {
    fn new(r: Resend) -> Chain {
        Chain {
            first: r,
            last: r,
            before_last: None,
            count: 1,
            head: vec![r.at],
        }
    }

    fn extend(&mut self, r: Resend) {
        self.before_last = Some(self.last.at);
        self.last = r;
        self.count += 1;
        if self.head.len() < 2 * KEPT {
            self.head.push(r.at);
        }
    }

    /// Seconds between the kept resends of the chain.
    pub fn intervals(&self) -> Vec<f64> {
        self.head
            .windows(2)
            .map(|w| w[1].ts.since(w[0].ts))
            .collect()
    }
}

/// Frames of resends kept for evidence.
pub const KEPT_RESENDS: usize = 8;

/// A recent resend that the receiver may still D-SACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    start: SeqNum,
    end: SeqNum,
    cause: ResendCause,
}

/// Resends of one side's data (SYNs are the handshake's): counts per cause, the
/// first few of each for evidence, the timeout chains, and which resends the
/// receiver reported with a D-SACK (RFC 2883: data it already had).
#[derive(Clone, Debug, Default)]
pub struct Resends {
    pub timeouts: u32,
    pub tail_loss_probes: u32,
    pub fast: u32,
    pub spurious: u32,
    /// Payload bytes resent, all causes.
    pub bytes: u64,
    /// Resends the receiver D-SACKed (any cause), and tail-loss probes among them.
    pub dsacked: u32,
    pub dsacked_probes: u32,
    /// The first KEPT_RESENDS resends, any cause.
    pub first: Vec<Resend>,
    /// The longest timeout chain, and the chain in progress (the flow's last).
    pub worst_chain: Option<Box<Chain>>,
    pub last_chain: Option<Box<Chain>>,
    /// The latest resend of any cause.
    pub latest: Option<Resend>,
    pending: [Option<Pending>; 4],
}

impl Resends {
    pub const EMPTY: Resends = Resends {
        timeouts: 0,
        tail_loss_probes: 0,
        fast: 0,
        spurious: 0,
        bytes: 0,
        dsacked: 0,
        dsacked_probes: 0,
        first: Vec::new(),
        worst_chain: None,
        last_chain: None,
        latest: None,
        pending: [None; 4],
    };

    pub fn total(&self) -> u32 {
        self.timeouts + self.tail_loss_probes + self.fast + self.spurious
    }

    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    pub fn record(&mut self, r: Resend) {
        match r.cause {
            ResendCause::Timeout => self.timeouts += 1,
            ResendCause::TailLossProbe => self.tail_loss_probes += 1,
            ResendCause::Fast => self.fast += 1,
            ResendCause::Spurious => self.spurious += 1,
        }
        self.bytes += u64::from(r.len);
        if self.first.len() < KEPT_RESENDS {
            // Most flows resend a few segments: room for 4, then for all that are kept.
            match self.first.capacity() {
                0 => self.first.reserve_exact(4),
                4 if self.first.len() == 4 => self.first.reserve_exact(KEPT_RESENDS - 4),
                _ => {}
            }
            self.first.push(r);
        }
        self.latest = Some(r);
        if r.cause == ResendCause::Timeout {
            match &mut self.last_chain {
                Some(c) if c.first.seq == r.seq => c.extend(r),
                _ => {
                    self.close_chain();
                    self.last_chain = Some(Box::new(Chain::new(r)));
                }
            }
        }
        // Newest first; the oldest falls off.
        self.pending.rotate_right(1);
        self.pending[0] = Some(Pending {
            start: r.seq,
            end: r.seq.plus(r.len.max(1)),
            cause: r.cause,
        });
    }

    /// A chain ends when another sequence number is resent by timeout: it becomes
    /// the worst if it is the longest so far.
    fn close_chain(&mut self) {
        if let Some(c) = self.last_chain.take() {
            if self.worst_chain.as_ref().is_none_or(|w| c.count > w.count) {
                self.worst_chain = Some(c);
            }
        }
    }

    /// The longest timeout chain of the flow (the one in progress included).
    pub fn longest_chain(&self) -> Option<&Chain> {
        match (self.worst_chain.as_deref(), self.last_chain.as_deref()) {
            (Some(w), Some(l)) if l.count > w.count => Some(l),
            (Some(w), _) => Some(w),
            (None, l) => l,
        }
    }

    /// The receiver reported the block `left..right` twice (a D-SACK): the resend that
    /// covers it was spurious.
    pub fn on_dsack(&mut self, left: SeqNum, right: SeqNum) {
        for slot in &mut self.pending {
            let Some(p) = *slot else { continue };
            if left.lt(p.end) && p.start.lt(right) {
                self.dsacked += 1;
                if p.cause == ResendCause::TailLossProbe {
                    self.dsacked_probes += 1;
                }
                *slot = None;
                return;
            }
        }
    }
}

/// Heap bytes of a boxed tracker (its box and its buffers, with the allocator's
/// per-block overhead), for the memory budget.
pub trait HeapBytes {
    fn heap_bytes(&self) -> usize;
}

fn series_bytes(s: &Series) -> usize {
    crate::budget::vec_bytes(&s.head)
}

fn boxed<T>(inner: usize) -> usize {
    std::mem::size_of::<T>() + crate::budget::BLOCK_OVERHEAD + inner
}

impl HeapBytes for Resends {
    fn heap_bytes(&self) -> usize {
        let chain = |c: &Option<Box<Chain>>| {
            c.as_ref()
                .map_or(0, |c| boxed::<Chain>(crate::budget::vec_bytes(&c.head)))
        };
        boxed::<Resends>(
            crate::budget::vec_bytes(&self.first)
                + chain(&self.worst_chain)
                + chain(&self.last_chain),
        )
    }
}

impl HeapBytes for ZeroWindows {
    fn heap_bytes(&self) -> usize {
        let episode = |e: &Option<Box<ZeroEpisode>>| {
            e.as_ref()
                .map_or(0, |e| boxed::<ZeroEpisode>(series_bytes(&e.probes)))
        };
        boxed::<ZeroWindows>(
            episode(&self.longest) + episode(&self.open) + series_bytes(&self.probes),
        )
    }
}

impl HeapBytes for Keepalives {
    fn heap_bytes(&self) -> usize {
        boxed::<Keepalives>(series_bytes(&self.probes))
    }
}

/// The last data segment a side sent: did the sender stop in the middle of a write?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LastData {
    pub at: At,
    /// Linux sets PSH on the last segment of each write: without it, more of the
    /// same write was queued behind this segment.
    pub psh: bool,
    pub len: u32,
    /// One past its last byte.
    pub end: SeqNum,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(frame: u64, ms: i64) -> At {
        At {
            frame,
            ts: Ts(ms * 1_000_000),
        }
    }

    #[test]
    fn the_longest_zero_window_episode_wins_and_an_open_one_counts() {
        let mut z = ZeroWindows::default();
        z.on_window(at(1, 0), true);
        z.on_window(at(2, 10), true);
        z.on_window(at(3, 20), false); // 20 ms
        z.on_window(at(4, 100), true);
        z.on_probe(at(5, 300));
        z.on_probe_ack();
        z.on_probe(at(6, 700));
        z.on_window(at(7, 5100), false); // 5 s
        z.on_window(at(8, 6000), true);
        z.on_window(at(9, 6001), false);
        assert_eq!((z.ads, z.episodes), (4, 3));
        let (worst, ns) = z.worst(Ts(7_000_000_000)).unwrap();
        assert_eq!(
            (worst.start.frame, worst.reopened.map(|r| r.frame)),
            (4, Some(7))
        );
        assert_eq!(ns, 5_000_000_000);
        assert_eq!((worst.probes.count, worst.probe_acks), (2, 1));
        // A still-open episode longer than any closed one is the worst.
        z.on_window(at(10, 7000), true);
        let (worst, ns) = z.worst(Ts(20_000_000_000)).unwrap();
        assert_eq!((worst.start.frame, worst.reopened), (10, None));
        assert_eq!(ns, 13_000_000_000);
    }

    #[test]
    fn keepalive_tail_restarts_after_an_answer() {
        let mut k = Keepalives::default();
        k.on_probe(at(1, 0), 5_000_000_000);
        k.on_answer(Ts(1));
        k.on_probe(at(3, 1000), 0);
        k.on_probe(at(4, 2000), 0);
        assert_eq!(k.unanswered_tail, 2);
        assert_eq!(k.tail_first.map(|a| a.frame), Some(3));
        assert_eq!(k.idle_before_first_ns, Some(5_000_000_000));
        assert_eq!(k.probes.count, 3);
    }

    fn resend(frame: u64, ms: i64, seq: u32, cause: ResendCause) -> Resend {
        Resend {
            at: at(frame, ms),
            seq: SeqNum(seq),
            seq_rel: seq,
            len: 100,
            cause,
            since_progress_ns: 0,
        }
    }

    #[test]
    fn chains_and_dsacks() {
        let mut r = Resends::default();
        r.record(resend(1, 10, 1000, ResendCause::TailLossProbe));
        // The receiver D-SACKs the probe's bytes at once: spurious.
        r.on_dsack(SeqNum(1000), SeqNum(1100));
        assert_eq!((r.dsacked, r.dsacked_probes), (1, 1));
        r.record(resend(2, 300, 3000, ResendCause::Timeout));
        r.record(resend(3, 700, 3000, ResendCause::Timeout));
        r.record(resend(4, 2000, 5000, ResendCause::Timeout));
        assert_eq!((r.tail_loss_probes, r.timeouts), (1, 3));
        assert_eq!(r.longest_chain().unwrap().count, 2);
        assert_eq!(r.last_chain.as_ref().unwrap().first.seq, SeqNum(5000));
        // Unrelated bytes are no D-SACK of a resend.
        r.on_dsack(SeqNum(90000), SeqNum(90100));
        assert_eq!(r.dsacked, 1);
    }
}
