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
use crate::model::{FlowKey, Ts};

#[derive(Clone, Copy, Debug)]
pub struct TableConfig {
    pub conn: ConnConfig,
    pub idle_timeout_ns: i64,
    pub close_linger_ns: i64,
    pub max_flows: usize,
}

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
            next_id: 1,
            now: Ts::ZERO,
            last_idle_sweep: Ts::ZERO,
            stats: TableStats::default(),
        }
    }

    pub fn live(&self) -> usize {
        self.live.len()
    }

    /// Feeds one segment; finished connections are handed to `done`.
    pub fn on_segment(&mut self, seg: &Segment, done: &mut dyn FnMut(Connection)) {
        if seg.ts > self.now {
            self.now = seg.ts;
        }
        self.expire(done);
        let (key, _) = FlowKey::of(seg.src, seg.dst);
        let mut previous = None;
        if let Some(conn) = self.live.get(&key) {
            if starts_new_connection(conn, seg) {
                previous = Some(PreviousConn {
                    id: conn.id,
                    ended: conn.close.map_or(conn.end, |c| c.ts),
                    close: conn.close,
                });
                let old = self.live.remove(&key).expect("present");
                self.finish(*old, EndReason::Reused, done);
            }
        }
        if !self.live.contains_key(&key) {
            if self.live.len() >= self.cfg.max_flows {
                self.evict(seg, done);
            }
            let mut conn = Connection::new(self.next_id, seg, &self.cfg.conn);
            conn.previous = previous;
            self.next_id += 1;
            self.stats.flows += 1;
            self.live.insert(key, Box::new(conn));
            self.stats.peak_live = self.stats.peak_live.max(self.live.len());
        }
        let conn = self.live.get_mut(&key).expect("inserted above");
        let was_closed = conn.is_closed();
        conn.on_segment(seg, &self.cfg.conn);
        if !was_closed && conn.is_closed() {
            self.closing.push_back((seg.ts, key, conn.id));
        }
    }

    /// Finishes connections that closed long enough ago, and (periodically) idle ones.
    fn expire(&mut self, done: &mut dyn FnMut(Connection)) {
        while let Some(&(closed_at, key, id)) = self.closing.front() {
            if self.now.nanos_since(closed_at) < self.cfg.close_linger_ns {
                break;
            }
            self.closing.pop_front();
            let quiet = self.live.get(&key).is_some_and(|c| {
                c.id == id && self.now.nanos_since(c.end) >= self.cfg.close_linger_ns
            });
            if quiet {
                let conn = self.live.remove(&key).expect("present");
                self.finish(*conn, EndReason::Closed, done);
            } else if self.live.get(&key).is_some_and(|c| c.id == id) {
                // Still talking after the close (retransmitted FIN, late RST): look again later.
                let end = self.live[&key].end;
                self.closing.push_back((end, key, id));
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
                    self.finish(*conn, EndReason::Idle, done);
                }
            }
        }
    }

    /// The table is full: finish the least recently active eighth of it.
    fn evict(&mut self, seg: &Segment, done: &mut dyn FnMut(Connection)) {
        let mut by_age: Vec<(Ts, FlowKey)> = self.live.iter().map(|(k, c)| (c.end, *k)).collect();
        let n = (by_age.len() / 8).max(1);
        by_age.select_nth_unstable_by_key(n - 1, |(end, _)| *end);
        self.stats.first_eviction.get_or_insert((seg.frame, seg.ts));
        for (_, key) in by_age.into_iter().take(n) {
            if let Some(conn) = self.live.remove(&key) {
                self.stats.evicted += 1;
                self.finish(*conn, EndReason::Evicted, done);
            }
        }
    }

    fn finish(
        &mut self,
        mut conn: Connection,
        reason: EndReason,
        done: &mut dyn FnMut(Connection),
    ) {
        conn.end_reason = reason;
        match reason {
            EndReason::Closed => self.stats.finished_closed += 1,
            EndReason::Idle => self.stats.finished_idle += 1,
            EndReason::Reused => self.stats.finished_reused += 1,
            EndReason::Evicted | EndReason::EndOfCapture => {}
        }
        done(conn);
    }

    /// End of input: finish everything still live, oldest first.
    pub fn finish_all(&mut self, done: &mut dyn FnMut(Connection)) {
        let mut rest: Vec<Box<Connection>> = self.live.drain().map(|(_, c)| c).collect();
        rest.sort_by_key(|c| c.id);
        self.closing.clear();
        for conn in rest {
            let reason = if conn.is_closed() {
                EndReason::Closed
            } else {
                EndReason::EndOfCapture
            };
            self.finish(*conn, reason, done);
        }
    }
}

/// Zeek's reuse rule: a SYN with a new ISN, or any SYN after either side closed,
/// starts a new connection on the same 4-tuple (port reuse, TIME_WAIT reuse).
fn starts_new_connection(conn: &Connection, seg: &Segment) -> bool {
    conn.zeek.is_reuse(conn.dir_of(seg), seg)
}
