//! The live-flow table: finds the connection of each segment, starts new ones
//! (including a new connection on a reused 4-tuple), and releases finished ones so
//! memory grows with concurrently open connections, never with total packets.
//!
//! A connection is finished when it closed (both FINs or a RST) and stayed quiet for
//! `close_linger`, when it was idle for `idle_timeout`, when a new SYN with a new ISN
//! takes over its 4-tuple, or when the table is full and it is the least recently
//! active (`max_flows`; counted as evictions and reported).

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use super::conn::{ConnConfig, Connection, EndReason, PreviousConn};
use super::segment::Segment;
use super::socket::{Recorded, SockSnap};
use crate::model::{FlowKey, Ts};

#[derive(Clone, Copy, Debug)]
pub struct TableConfig {
    pub conn: ConnConfig,
    pub idle_timeout_ns: i64,
    pub close_linger_ns: i64,
    pub max_flows: usize,
    /// How long a finished connection's 4-tuple is remembered (TIME_WAIT, 60 s).
    pub recent_ns: i64,
}

/// Most remembered 4-tuples; the oldest go first beyond it.
const MAX_RECENT: usize = 200_000;

#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct TableStats {
    pub flows: u64,
    pub finished_closed: u64,
    pub finished_idle: u64,
    pub finished_reused: u64,
    pub evicted: u64,
    pub peak_live: usize,
    /// The first eviction, for the capture.flow_limit finding.
    #[serde(skip)]
    pub first_eviction: Option<(u64, Ts)>,
}

pub struct FlowTable {
    cfg: TableConfig,
    live: FxHashMap<FlowKey, Box<Connection>>,
    /// Closed connections in close order: (time of closing, key, id).
    closing: VecDeque<(Ts, FlowKey, u64)>,
    /// Finished connections remembered for `recent_ns` so a new connection on the same
    /// 4-tuple knows what came before it (TIME_WAIT reuse).
    recent: FxHashMap<FlowKey, PreviousConn>,
    recent_order: VecDeque<(Ts, FlowKey, u64)>,
    next_id: u64,
    now: Ts,
    last_idle_sweep: Ts,
    pub stats: TableStats,
}

impl FlowTable {
    pub fn new(cfg: TableConfig) -> FlowTable {
        FlowTable {
            cfg,
            live: FxHashMap::default(),
            closing: VecDeque::new(),
            recent: FxHashMap::default(),
            recent_order: VecDeque::new(),
            next_id: 1,
            now: Ts::ZERO,
            last_idle_sweep: Ts::ZERO,
            stats: TableStats::default(),
        }
    }

    pub fn live(&self) -> usize {
        self.live.len()
    }

    /// Feeds one segment; finished connections are handed to `done`. Returns true
    /// when the segment started a new connection.
    pub fn on_segment(&mut self, seg: &Segment, done: &mut dyn FnMut(Box<Connection>)) -> bool {
        if seg.ts > self.now {
            self.now = seg.ts;
        }
        self.expire(done);
        let (key, _) = FlowKey::in_tunnel(seg.src, seg.dst, seg.tunnel);
        // Common case, one lookup: a segment of a live connection.
        let mut previous = None;
        if let Some(conn) = self.live.get_mut(&key) {
            // Zeek's reuse rule: a SYN with a new ISN, or any SYN after either side
            // closed, starts a new connection (port reuse, TIME_WAIT reuse).
            if !conn.zeek.is_reuse(seg) {
                feed(conn, seg, key, &self.cfg.conn, &mut self.closing);
                return false;
            }
            let close = conn.close();
            previous = Some(PreviousConn {
                id: conn.id,
                ended: close.map_or(conn.end, |c| c.ts),
                close,
            });
            let old = self.live.remove(&key).expect("present");
            self.finish(old, EndReason::Reused, done);
        }
        if previous.is_none() && seg.flags.syn() && !seg.flags.ack() {
            previous = self.recent.remove(&key);
        }
        if self.live.len() >= self.cfg.max_flows {
            self.evict(seg, done);
        }
        let mut conn = Box::new(Connection::new(self.next_id, seg, &self.cfg.conn));
        conn.previous = previous;
        self.next_id += 1;
        self.stats.flows += 1;
        feed(&mut conn, seg, key, &self.cfg.conn, &mut self.closing);
        self.live.insert(key, conn);
        self.stats.peak_live = self.stats.peak_live.max(self.live.len());
        true
    }

    /// The live connection on `key`, if any (callers: a flow's first tunnelled
    /// packet, path records; cold).
    #[cold]
    #[inline(never)]
    pub fn get_mut(&mut self, key: &FlowKey) -> Option<&mut Connection> {
        self.live.get_mut(key).map(|c| &mut **c)
    }

    /// Advances the table's clock without a segment (a live capture on a quiet link:
    /// wall-clock time), so closed and idle connections still finish. The clock never
    /// goes back.
    pub fn advance(&mut self, now: Ts, done: &mut dyn FnMut(Box<Connection>)) {
        if now > self.now {
            self.now = now;
            self.expire(done);
        }
    }

    /// Joins a socket snapshot to the live connection on its 4-tuple. Returns false
    /// when no live connection has that 4-tuple.
    pub fn on_socket(&mut self, snap: SockSnap) -> bool {
        let (key, _) = FlowKey::of(snap.local, snap.remote);
        match self.live.get_mut(&key) {
            Some(conn) => conn.on_socket(snap) != Recorded::NotThisFlow,
            None => false,
        }
    }

    /// Whether a connection on this 4-tuple finished recently (within TIME_WAIT).
    pub fn recently_finished(&self, key: &FlowKey) -> bool {
        self.recent.contains_key(key)
    }

    /// Finishes connections that closed long enough ago, and (periodically) idle ones.
    fn expire(&mut self, done: &mut dyn FnMut(Box<Connection>)) {
        while let Some(&(closed_at, key, id)) = self.closing.front() {
            if self.now.nanos_since(closed_at) < self.cfg.close_linger_ns {
                break;
            }
            self.closing.pop_front();
            // Gone already (reused 4-tuple, evicted): nothing to do.
            let Some(end) = self.live.get(&key).filter(|c| c.id == id).map(|c| c.end) else {
                continue;
            };
            if self.now.nanos_since(end) >= self.cfg.close_linger_ns {
                let conn = self.live.remove(&key).expect("present");
                self.finish(conn, EndReason::Closed, done);
            } else {
                // Still talking after the close (retransmitted FIN, late RST): look again later.
                self.closing.push_back((end, key, id));
            }
        }
        while let Some(&(ended, key, id)) = self.recent_order.front() {
            if self.now.nanos_since(ended) < self.cfg.recent_ns {
                break;
            }
            self.recent_order.pop_front();
            if self.recent.get(&key).is_some_and(|p| p.id == id) {
                self.recent.remove(&key);
            }
        }
        let sweep_every = (self.cfg.idle_timeout_ns / 4).max(1_000_000_000);
        if self.now.nanos_since(self.last_idle_sweep) >= sweep_every {
            self.last_idle_sweep = self.now;
            let timeout = self.cfg.idle_timeout_ns;
            let now = self.now;
            let idle: Vec<FlowKey> = self
                .live
                .iter()
                .filter(|(_, c)| now.nanos_since(c.end) >= timeout)
                .map(|(k, _)| *k)
                .collect();
            for key in idle {
                if let Some(conn) = self.live.remove(&key) {
                    self.finish(conn, EndReason::Idle, done);
                }
            }
        }
    }

    /// The table is full: finish the least recently active eighth of it.
    fn evict(&mut self, seg: &Segment, done: &mut dyn FnMut(Box<Connection>)) {
        let mut by_age: Vec<(Ts, FlowKey)> = self.live.iter().map(|(k, c)| (c.end, *k)).collect();
        let n = (by_age.len() / 8).max(1);
        by_age.select_nth_unstable_by_key(n - 1, |(end, _)| *end);
        self.stats.first_eviction.get_or_insert((seg.frame, seg.ts));
        let mut victims: Vec<Box<Connection>> = by_age
            .into_iter()
            .take(n)
            .filter_map(|(_, key)| self.live.remove(&key))
            .collect();
        // In start order, like every other batch of finished flows: the capture-wide
        // trackers expect roughly time-ordered flows.
        victims.sort_unstable_by_key(|c| c.id);
        for conn in victims {
            self.stats.evicted += 1;
            self.finish(conn, EndReason::Evicted, done);
        }
    }

    fn finish(
        &mut self,
        mut conn: Box<Connection>,
        reason: EndReason,
        done: &mut dyn FnMut(Box<Connection>),
    ) {
        conn.end_reason = reason;
        if reason == EndReason::Closed && self.cfg.recent_ns > 0 {
            let (key, _) = FlowKey::in_tunnel(conn.client, conn.server, conn.tunnel);
            let close = conn.close();
            let ended = close.map_or(conn.end, |c| c.ts);
            if self.recent.len() >= MAX_RECENT {
                if let Some((_, old, _)) = self.recent_order.pop_front() {
                    self.recent.remove(&old);
                }
            }
            self.recent.insert(
                key,
                PreviousConn {
                    id: conn.id,
                    ended,
                    close,
                },
            );
            self.recent_order.push_back((ended, key, conn.id));
        }
        match reason {
            EndReason::Closed => self.stats.finished_closed += 1,
            EndReason::Idle => self.stats.finished_idle += 1,
            EndReason::Reused => self.stats.finished_reused += 1,
            EndReason::Evicted | EndReason::EndOfCapture => {}
        }
        done(conn);
    }

    /// End of input: finish everything still live, oldest first.
    pub fn finish_all(&mut self, done: &mut dyn FnMut(Box<Connection>)) {
        let mut rest: Vec<Box<Connection>> = self.live.drain().map(|(_, c)| c).collect();
        rest.sort_by_key(|c| c.id);
        self.closing.clear();
        for conn in rest {
            let reason = if conn.is_closed() {
                EndReason::Closed
            } else {
                EndReason::EndOfCapture
            };
            self.finish(conn, reason, done);
        }
    }
}

/// Feeds a segment to its connection; a connection that just closed joins the
/// close-linger queue.
fn feed(
    conn: &mut Connection,
    seg: &Segment,
    key: FlowKey,
    cfg: &ConnConfig,
    closing: &mut VecDeque<(Ts, FlowKey, u64)>,
) {
    // Only a FIN or a RST can close a connection: other segments skip both checks.
    let may_close = seg.flags.fin() || seg.flags.rst();
    let was_closed = may_close && conn.is_closed();
    conn.on_segment(seg, cfg);
    if may_close && !was_closed && conn.is_closed() {
        conn.timeline.shrink();
        closing.push_back((seg.ts, key, conn.id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpFlags;
    use crate::flow::conn::ConnConfig;
    use crate::flow::TimelineMode;

    fn cfg() -> TableConfig {
        TableConfig {
            conn: ConnConfig {
                timeline: TimelineMode::Collapsed,
                timeline_cap: 100,
                idle_mark_ns: 1_000_000_000,
                ooo_threshold_ns: 3_000_000,
            },
            idle_timeout_ns: 300_000_000_000,
            close_linger_ns: 5_000_000_000,
            max_flows: 4,
            recent_ns: 60_000_000_000,
        }
    }

    fn seg(frame: u64, secs: f64, from_client: bool, flags: u8, seq: u32, ack: u32) -> Segment {
        Segment::test_conn(
            frame,
            Ts::from_secs_f64(secs),
            from_client,
            flags,
            seq,
            ack,
            0,
        )
    }

    const S: u8 = TcpFlags::SYN;
    const A: u8 = TcpFlags::ACK;
    const F: u8 = TcpFlags::FIN;

    fn connection(t: &mut FlowTable, at: f64, isn: u32, out: &mut Vec<Connection>) {
        let frames = [
            seg(1, at, true, S, isn, 0),
            seg(2, at + 0.001, false, S | A, 9000, isn + 1),
            seg(3, at + 0.002, true, A, isn + 1, 9001),
            seg(4, at + 0.003, true, F | A, isn + 1, 9001),
            seg(5, at + 0.004, false, F | A, 9001, isn + 2),
            seg(6, at + 0.005, true, A, isn + 2, 9002),
        ];
        for s in &frames {
            t.on_segment(s, &mut |c| out.push(*c));
        }
    }

    #[test]
    fn reuse_within_time_wait_links_the_previous_connection() {
        let mut t = FlowTable::new(cfg());
        let mut done = Vec::new();
        connection(&mut t, 0.0, 100, &mut done);
        // 1 s later: the first one is still live (close linger) and is replaced.
        connection(&mut t, 1.0, 5000, &mut done);
        // 30 s later: the second was finished by the linger but is remembered.
        connection(&mut t, 31.0, 90000, &mut done);
        // 100 s later: beyond TIME_WAIT, nothing is linked.
        connection(&mut t, 131.0, 700000, &mut done);
        t.finish_all(&mut |c| done.push(*c));
        done.sort_by_key(|c| c.id);
        assert_eq!(done.len(), 4);
        assert_eq!(done[0].end_reason, EndReason::Reused);
        assert_eq!(done[1].previous.map(|p| p.id), Some(1));
        assert_eq!(done[2].previous.map(|p| p.id), Some(2));
        assert!(done[3].previous.is_none());
        assert!(done.iter().all(|c| c.zeek.conn_state() == "SF"));
    }

    #[test]
    fn the_live_table_stays_under_its_cap() {
        let mut t = FlowTable::new(cfg());
        let mut evicted = 0;
        for i in 0..100u16 {
            let mut s = seg(u64::from(i), f64::from(i) * 0.01, true, S, 1, 0);
            s.src.port = 1000 + i;
            t.on_segment(&s, &mut |c| {
                if c.end_reason == EndReason::Evicted {
                    evicted += 1
                }
            });
            assert!(t.live() <= 4);
        }
        assert!(evicted >= 96);
        assert!(t.stats.first_eviction.is_some());
    }
}
