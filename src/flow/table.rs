//! The live-flow table: finds the connection of each segment, starts new ones
//! (including a new connection on a reused 4-tuple), and releases finished ones so
//! memory grows with concurrently open connections, never with total packets.
//!
//! A connection is finished when it closed (both FINs or a RST) and stayed quiet for
//! `close_linger`, when it was idle for `idle_timeout`, when a new SYN with a new ISN
//! takes over its 4-tuple, or when the table is full and it is the least recently
//! active (`max_flows`; counted as evictions and reported).
//!
//! NAT (live capture): conntrack says which two 4-tuples are one translated
//! connection (`on_nat`). The flow keeps the tuple it was first seen under; the other
//! becomes an alias pointing at it, so the segments seen under the alias (the same
//! packets on the other side of the translation) are counted, not analysed twice,
//! and sockets that know the connection by the alias join it. A flow already
//! started under the alias is folded into the first one.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::budget::{table_bytes, MemoryBudget, Part};

use super::conn::{ConnConfig, Connection, EndReason, PreviousConn};
use super::nat::{FlowNat, NatPair};
use super::recent::RecentTuples;
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
    /// The process's memory budget in bytes (`--memory-limit`), enforced here.
    pub memory_limit: usize,
}

/// Remembered 4-tuples per generation at the default memory limit (between one and
/// two generations are remembered, see `recent.rs`).
const RECENT_PER_GENERATION: usize = 200_000;

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
    /// Connections finished early to stay under the memory budget (they are not in
    /// `evicted`).
    pub finished_for_memory: u64,
    /// Flows started under a translated 4-tuple and folded into the flow of the
    /// same connection (live capture with NAT; absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub nat_merged: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What `FlowTable::on_nat` did with a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatJoin {
    /// No live flow has either tuple (or the pair is not translated).
    NotLive,
    /// The live flow now knows its other tuple.
    Joined,
    /// It knew it already.
    Known,
    /// Two live flows were the same connection: the later one was folded in.
    Merged,
}

pub struct FlowTable {
    cfg: TableConfig,
    live: FxHashMap<FlowKey, Box<Connection>>,
    /// Closed connections in close order: (time of closing, key, id).
    closing: VecDeque<(Ts, FlowKey, u64)>,
    /// Finished connections remembered for `recent_ns` so a new connection on the same
    /// 4-tuple knows what came before it (TIME_WAIT reuse).
    recent: RecentTuples,
    /// NAT: a translated 4-tuple -> the key its connection is tracked under.
    aliases: FxHashMap<FlowKey, FlowKey>,
    next_id: u64,
    now: Ts,
    last_idle_sweep: Ts,
    pub stats: TableStats,
    budget: Arc<MemoryBudget>,
    /// Bytes the live connections hold (what each was last accounted at).
    used: usize,
    /// Segments since the budget was last checked, and checks since the last measure.
    since_check: u32,
    checks: u32,
    /// What the process held after the last shed (see check_budget).
    held_after_shed: usize,
    /// The scaled estimate at the last measure: growth past BUDGET_MEASURE_GROWTH of
    /// the limit since then measures again (a fast ramp at the start must not
    /// overshoot before the next periodic measure).
    estimate_at_measure: usize,
}

/// Segments between two checks of the memory budget: a check costs a pass over the
/// parts; between checks the table grows by at most this many segments' worth.
const BUDGET_CHECK_EVERY: u32 = 1024;
/// The allocator is asked for its counts (a walk of its free lists: not free) at every
/// BUDGET_MEASURE_EVERY-th check, and before shedding; in between the parts'
/// estimates are scaled by what the last count showed.
const BUDGET_MEASURE_EVERY: u32 = 64;
/// ... and whenever the estimate grew by this share of the limit since the last count.
const BUDGET_MEASURE_GROWTH: f64 = 0.02;
/// The table sheds when what is in use reaches this share of the limit (the rest is
/// the margin for the allocator's free chunks, what grows between checks and the
/// other thread's peaks) ...
const BUDGET_TRIGGER: f64 = crate::budget::CROWDED;
/// ... down to this share in use, so it does not shed again at every check.
const BUDGET_LOW_WATER: f64 = 0.7;

impl FlowTable {
    pub fn new(cfg: TableConfig) -> FlowTable {
        FlowTable {
            cfg,
            live: FxHashMap::default(),
            closing: VecDeque::new(),
            recent: RecentTuples::new(
                crate::budget::scaled_cap(RECENT_PER_GENERATION, cfg.memory_limit),
                cfg.recent_ns,
            ),
            aliases: FxHashMap::default(),
            next_id: 1,
            now: Ts::ZERO,
            last_idle_sweep: Ts::ZERO,
            stats: TableStats::default(),
            budget: Arc::new(MemoryBudget::new(cfg.memory_limit)),
            used: 0,
            since_check: 0,
            checks: 0,
            held_after_shed: 0,
            estimate_at_measure: 0,
        }
    }

    /// The process's memory budget, shared with the other parts of the pipeline.
    pub fn budget(&self) -> Arc<MemoryBudget> {
        Arc::clone(&self.budget)
    }

    pub fn budget_ref(&self) -> &MemoryBudget {
        &self.budget
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
                self.used = self.used + account(conn) - conn.accounted_before;
                self.check_budget(done);
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
        // The same packet on the other side of a translation: counted on its flow.
        if previous.is_none() && !self.aliases.is_empty() && self.copy_of_alias(&key) {
            return false;
        }
        if previous.is_none() && seg.flags.syn() && !seg.flags.ack() {
            previous = self.recent.take(&key, seg.ts.max(self.now));
        }
        if self.live.len() >= self.cfg.max_flows {
            self.evict(seg, done);
        }
        let mut conn = Box::new(Connection::new(self.next_id, seg, &self.cfg.conn));
        conn.previous = previous;
        self.next_id += 1;
        self.stats.flows += 1;
        feed(&mut conn, seg, key, &self.cfg.conn, &mut self.closing);
        self.used += account(&mut conn);
        self.live.insert(key, conn);
        self.stats.peak_live = self.stats.peak_live.max(self.live.len());
        self.check_budget(done);
        true
    }

    /// Every BUDGET_CHECK_EVERY segments: publishes what the table holds and, past
    /// the limit, sheds down to BUDGET_LOW_WATER of it: first the stored timelines of
    /// the least recently active flows (their counters, trackers and so their findings
    /// stay), then whole flows, least recently active first, finished early.
    fn check_budget(&mut self, done: &mut dyn FnMut(Box<Connection>)) {
        self.since_check += 1;
        if self.since_check < BUDGET_CHECK_EVERY {
            return;
        }
        self.since_check = 0;
        self.checks += 1;
        self.publish();
        let limit = self.budget.limit() as f64;
        let estimate = self.budget.estimated_in_use();
        let near = estimate as f64 >= limit * BUDGET_TRIGGER;
        let grew =
            estimate as f64 > self.estimate_at_measure as f64 + limit * BUDGET_MEASURE_GROWTH;
        if near || grew || self.checks % BUDGET_MEASURE_EVERY == 0 {
            self.budget.measure();
            self.estimate_at_measure = self.budget.estimated_in_use();
        } else {
            self.budget.measure_resident();
        }
        // The process's held memory (in use plus the free chunks the allocator keeps,
        // which count in the resident set) is what must stay under the limit. Shedding
        // frees chunks that later allocations reuse; the held figure does not shrink
        // with it, so after a shed only renewed growth (more held, or more in use)
        // sheds again.
        let held = self.budget.held();
        let in_use = self.budget.in_use();
        let trigger = (limit * BUDGET_TRIGGER) as usize;
        let grown = held > self.held_after_shed + (limit * 0.01) as usize;
        if in_use < trigger && !(held >= trigger && grown) {
            return;
        }
        // Down to the low water mark, leaving the allocator's free chunks their room.
        let target = (limit * BUDGET_LOW_WATER) as usize;
        let Some(mut need) = held.max(in_use).checked_sub(target).filter(|n| *n > 0) else {
            return;
        };
        self.budget
            .first_reached_ns
            .compare_exchange(
                0,
                self.now.0.max(1) as u64,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .ok();
        // Least recently active first; for finishing early, flows that already closed
        // (only waiting out the close linger) go before open ones.
        let mut by_age: Vec<(bool, Ts, FlowKey)> = self
            .live
            .iter()
            .map(|(k, c)| (!c.is_closed(), c.end, *k))
            .collect();
        by_age.sort_unstable_by_key(|(open, end, _)| (*open, *end));
        let mut oldest: Vec<&(bool, Ts, FlowKey)> = by_age.iter().collect();
        oldest.sort_unstable_by_key(|(_, end, _)| *end);
        for (_, _, key) in oldest {
            if need == 0 {
                break;
            }
            let Some(conn) = self.live.get_mut(key) else {
                continue;
            };
            if conn.timeline.shed || conn.timeline.heap_bytes() == 0 {
                continue;
            }
            let events = conn.timeline.shed();
            self.budget.timelines_shed.fetch_add(1, Ordering::Relaxed);
            self.budget
                .events_shed
                .fetch_add(events as u64, Ordering::Relaxed);
            let before = conn.accounted;
            self.used = self.used + account(conn) - conn.accounted_before;
            need = need.saturating_sub(before - conn.accounted);
        }
        for (_, _, key) in by_age {
            if need == 0 {
                break;
            }
            let Some(conn) = self.live.remove(&key) else {
                continue;
            };
            // A closed flow had ended: it finishes as closed (and is remembered for
            // TIME_WAIT reuse); only its close linger was cut short.
            let reason = if conn.is_closed() {
                self.budget.lingers_cut.fetch_add(1, Ordering::Relaxed);
                EndReason::Closed
            } else {
                self.stats.finished_for_memory += 1;
                self.budget
                    .flows_finished_early
                    .fetch_add(1, Ordering::Relaxed);
                EndReason::MemoryLimit
            };
            need = need.saturating_sub(conn.accounted);
            self.finish(conn, reason, done);
        }
        self.publish();
        self.budget.trim();
        self.budget.measure();
        self.estimate_at_measure = self.budget.estimated_in_use();
        self.held_after_shed = self.budget.held();
    }

    /// Tells the budget what the table holds: live connections, and the remembered
    /// 4-tuples with the close queue.
    fn publish(&self) {
        use std::mem::size_of;
        self.budget.set(
            Part::Flows,
            self.used
                + table_bytes(
                    self.live.capacity(),
                    size_of::<(FlowKey, Box<Connection>)>(),
                ),
        );
        self.budget.set(
            Part::Recent,
            self.recent.heap_bytes() + self.closing.capacity() * size_of::<(Ts, FlowKey, u64)>(),
        );
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
        self.on_socket_in(snap, None)
    }

    /// `on_socket` for a snapshot from another network namespace (`netns`); the
    /// 4-tuple may be a translated one (an alias).
    pub fn on_socket_in(
        &mut self,
        snap: SockSnap,
        netns: Option<&std::sync::Arc<crate::model::netns::NetnsLabel>>,
    ) -> bool {
        let (key, _) = FlowKey::of(snap.local, snap.remote);
        let key = match self.aliases.get(&key) {
            Some(primary) if !self.live.contains_key(&key) => *primary,
            _ => key,
        };
        match self.live.get_mut(&key) {
            Some(conn) => {
                let joined = conn.on_socket_in(snap, netns) != Recorded::NotThisFlow;
                self.used = self.used + account(conn) - conn.accounted_before;
                joined
            }
            None => false,
        }
    }

    /// A segment under an alias whose flow is live: count it there.
    fn copy_of_alias(&mut self, key: &FlowKey) -> bool {
        let Some(primary) = self.aliases.get(key).copied() else {
            return false;
        };
        match self.live.get_mut(&primary).and_then(|c| c.nat.as_mut()) {
            Some(nat) if nat.alias == *key => {
                nat.copies += 1;
                true
            }
            _ => {
                self.aliases.remove(key);
                false
            }
        }
    }

    /// Joins the two 4-tuples of a translated connection (a conntrack entry) in
    /// the live flow that has one of them.
    pub fn on_nat(&mut self, pair: &NatPair) -> NatJoin {
        let (orig, reply) = (pair.original_key(), pair.reply_key());
        if orig == reply {
            return NatJoin::NotLive;
        }
        let (primary, alias) = match (self.live.get(&orig), self.live.get(&reply)) {
            (None, None) => return NatJoin::NotLive,
            (Some(_), None) => (orig, reply),
            (None, Some(_)) => (reply, orig),
            (Some(a), Some(b)) => {
                let (primary, alias) = if a.id <= b.id {
                    (orig, reply)
                } else {
                    (reply, orig)
                };
                let folded = self.live.remove(&alias).expect("present");
                self.merge(primary, alias, pair, &folded);
                return NatJoin::Merged;
            }
        };
        let conn = self.live.get_mut(&primary).expect("present");
        if conn.nat.as_ref().is_some_and(|n| n.alias == alias) {
            return NatJoin::Known;
        }
        // Another pair for the same flow (an entry that replaced an older one): one
        // alias per flow.
        if let Some(old) = conn.nat.as_ref().map(|n| n.alias) {
            if self.aliases.get(&old) == Some(&primary) {
                self.aliases.remove(&old);
            }
        }
        conn.nat = Some(Box::new(FlowNat {
            pair: *pair,
            alias,
            copies: 0,
            merged_flow: None,
        }));
        self.aliases.insert(alias, primary);
        NatJoin::Joined
    }

    /// `folded`, the flow under `alias`, was the connection of the flow under
    /// `primary` seen on the other side of the translation: its packets become the
    /// primary's copies and its sockets, when the primary has none, the primary's.
    fn merge(&mut self, primary: FlowKey, alias: FlowKey, pair: &NatPair, folded: &Connection) {
        self.stats.nat_merged += 1;
        // One connection: the folded flow is not counted (its id is not reused).
        self.stats.flows = self.stats.flows.saturating_sub(1);
        let conn = self.live.get_mut(&primary).expect("present");
        let copies = conn.nat.as_ref().map_or(0, |n| n.copies) + folded.packets();
        conn.nat = Some(Box::new(FlowNat {
            pair: *pair,
            alias,
            copies,
            merged_flow: Some(folded.id),
        }));
        // The same orientation (both flows' clients are the same end): the sides
        // line up.
        let same_way =
            pair.end_of(conn.client, conn.server) == pair.end_of(folded.client, folded.server);
        if conn.local.is_none() && same_way {
            conn.local = folded.local.clone();
        }
        self.aliases.insert(alias, primary);
    }

    /// Whether a connection on this 4-tuple finished recently (within TIME_WAIT).
    pub fn recently_finished(&self, key: &FlowKey) -> bool {
        self.recent.contains(key, self.now)
    }

    /// Finishes connections that closed long enough ago, and (periodically) idle ones.
    /// Called for every segment: most of the time nothing is due, which three
    /// comparisons tell without touching the queues' keys.
    #[inline]
    fn expire(&mut self, done: &mut dyn FnMut(Box<Connection>)) {
        // Remembered 4-tuples age by generation: two comparisons.
        self.recent.expire(self.now);
        let closing_due = self
            .closing
            .front()
            .is_some_and(|e| self.now.nanos_since(e.0) >= self.cfg.close_linger_ns);
        if closing_due || self.now.nanos_since(self.last_idle_sweep) >= self.idle_sweep_every() {
            self.expire_due(done);
        }
    }

    fn idle_sweep_every(&self) -> i64 {
        (self.cfg.idle_timeout_ns / 4).max(1_000_000_000)
    }

    #[inline(never)]
    fn expire_due(&mut self, done: &mut dyn FnMut(Box<Connection>)) {
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
        if self.now.nanos_since(self.last_idle_sweep) >= self.idle_sweep_every() {
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
        self.used = self.used.saturating_sub(conn.accounted);
        conn.end_reason = reason;
        if let Some(nat) = &conn.nat {
            let (key, _) = FlowKey::of(conn.client, conn.server);
            if self.aliases.get(&nat.alias) == Some(&key) {
                self.aliases.remove(&nat.alias);
            }
        }
        if reason == EndReason::Closed && self.cfg.recent_ns > 0 {
            let (key, _) = FlowKey::in_tunnel(conn.client, conn.server, conn.tunnel);
            let close = conn.close();
            let ended = close.map_or(conn.end, |c| c.ts);
            self.recent.insert(
                key,
                PreviousConn {
                    id: conn.id,
                    ended,
                    close,
                },
            );
        }
        match reason {
            EndReason::Closed => self.stats.finished_closed += 1,
            EndReason::Idle => self.stats.finished_idle += 1,
            EndReason::Reused => self.stats.finished_reused += 1,
            EndReason::Evicted | EndReason::EndOfCapture | EndReason::MemoryLimit => {}
        }
        done(conn);
    }

    /// End of input: finish everything still live, oldest first.
    pub fn finish_all(&mut self, done: &mut dyn FnMut(Box<Connection>)) {
        self.publish();
        self.budget.measure();
        let mut rest: Vec<Box<Connection>> = self.live.drain().map(|(_, c)| c).collect();
        rest.sort_by_key(|c| c.id);
        self.closing.clear();
        self.aliases.clear();
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

/// Accounts a connection at its current footprint; returns the new figure (the old
/// one stays in `accounted_before` for the caller's difference).
fn account(conn: &mut Connection) -> usize {
    conn.accounted_before = conn.accounted;
    conn.accounted = conn.footprint();
    conn.accounted
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
    use crate::model::{Dir, Endpoint};

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
            memory_limit: usize::MAX,
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
    const R: u8 = TcpFlags::RST;

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
    fn a_port_forward_seen_on_both_sides_is_one_flow() {
        use crate::flow::nat::NatPair;
        use crate::flow::socket::{SockSnap, STATE_ESTABLISHED};
        use crate::model::Endpoint;
        let ep = |ip: &str, port| Endpoint::new(ip.parse().unwrap(), port);
        let client = ep("198.51.100.2", 40000);
        let forward = ep("198.51.100.1", 8080);
        let container = ep("172.30.0.2", 80);
        let pair = NatPair {
            orig_src: client,
            orig_dst: forward,
            reply_src: container,
            reply_dst: client,
        };
        // `-i any`: each segment on the uplink (before DNAT), then on the bridge.
        let both = |n: u64, t: f64, from_client: bool, flags: u8, seq: u32, ack: u32| {
            let (up, br) = if from_client {
                ((client, forward), (client, container))
            } else {
                ((forward, client), (container, client))
            };
            let at = Ts::from_secs_f64(t);
            let a = Segment::for_test(n * 2, at, up.0, up.1, flags, seq, ack, 0);
            let b = Segment::for_test(n * 2 + 1, at, br.0, br.1, flags, seq, ack, 0);
            if from_client {
                [a, b]
            } else {
                [b, a]
            }
        };
        let mut t = FlowTable::new(cfg());
        let mut done: Vec<Connection> = Vec::new();
        for s in
            both(1, 0.0, true, S, 100, 0)
                .into_iter()
                .chain(both(2, 0.001, false, S | A, 900, 101))
        {
            t.on_segment(&s, &mut |c| done.push(*c));
        }
        // Before conntrack is read: two flows, the second a copy.
        assert_eq!(t.live(), 2);
        assert_eq!(t.on_nat(&pair), NatJoin::Merged);
        assert_eq!(t.live(), 1);
        assert_eq!(t.on_nat(&pair), NatJoin::Known);
        for s in both(3, 0.002, true, A, 101, 901).into_iter().chain(both(
            4,
            0.003,
            false,
            R | A,
            901,
            101,
        )) {
            t.on_segment(&s, &mut |c| done.push(*c));
        }
        assert_eq!(t.live(), 1);
        // The container's socket, polled in its namespace, joins by its own tuple.
        let snap = SockSnap {
            at: Ts::from_secs_f64(0.0025),
            local: container,
            remote: client,
            state: STATE_ESTABLISHED,
            timer: 0,
            timer_expires_ms: 0,
            timer_retrans: 0,
            recv_q: 0,
            send_q: 0,
            inode: 9,
            info: None,
        };
        assert!(t.on_socket(snap));
        t.finish_all(&mut |c| done.push(*c));
        assert_eq!(done.len(), 1);
        let c = &done[0];
        assert_eq!((c.client, c.server), (client, forward));
        assert_eq!(c.packets(), 4);
        let nat = c.nat.as_deref().unwrap();
        assert_eq!(nat.pair, pair);
        // 2 folded with the merged flow, 2 counted under the alias afterwards.
        assert_eq!(nat.copies, 4);
        assert_eq!(nat.merged_flow, Some(2));
        let (dir, sock) = c.local.as_deref().unwrap().only().unwrap();
        assert_eq!((dir, sock.last.local), (Dir::FromServer, container));
        assert_eq!(t.stats.flows, 1);
        assert_eq!(t.stats.nat_merged, 1);
        // The alias is forgotten with its flow: a later connection on it is new.
        let late = Segment::for_test(99, Ts::from_secs_f64(9.0), client, container, S, 5, 0, 0);
        t.on_segment(&late, &mut |c| done.push(*c));
        assert_eq!(t.live(), 1);
    }

    #[test]
    fn only_one_side_captured_learns_its_other_tuple() {
        use crate::flow::nat::NatPair;
        let mut t = FlowTable::new(cfg());
        let mut done = Vec::new();
        connection(&mut t, 0.0, 100, &mut done);
        let c = Endpoint::new("192.0.2.1".parse().unwrap(), 40000);
        let s = Endpoint::new("198.51.100.2".parse().unwrap(), 80);
        let pair = NatPair {
            orig_src: c,
            orig_dst: s,
            reply_src: Endpoint::new("10.88.0.2".parse().unwrap(), 8080),
            reply_dst: c,
        };
        assert_eq!(t.on_nat(&pair), NatJoin::Joined);
        // Not translated, or not tracked: nothing.
        let plain = NatPair {
            reply_src: s,
            ..pair
        };
        assert_eq!(t.on_nat(&plain), NatJoin::NotLive);
        t.finish_all(&mut |c| done.push(*c));
        assert_eq!(done[0].nat.as_ref().map(|n| n.copies), Some(0));
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

    #[test]
    fn past_the_memory_limit_closed_flows_finish_as_closed_and_open_ones_early() {
        let mut c = cfg();
        c.max_flows = 100_000;
        // Below anything a process holds: every budget check sheds.
        c.memory_limit = 1;
        let mut t = FlowTable::new(c);
        let server = Endpoint::new("192.0.2.1".parse().unwrap(), 80);
        let mut done: Vec<Connection> = Vec::new();
        let mut frame = 0;
        let mut send = |t: &mut FlowTable, at: f64, port: u16, out: bool, flags: u8, seq, ack| {
            frame += 1;
            let client = Endpoint::new("198.51.100.7".parse().unwrap(), port);
            let (src, dst) = if out {
                (client, server)
            } else {
                (server, client)
            };
            let s = Segment::for_test(frame, Ts::from_secs_f64(at), src, dst, flags, seq, ack, 0);
            t.on_segment(&s, &mut |c| done.push(*c));
        };
        for i in 0..600u16 {
            let (p, at) = (10_000 + i, f64::from(i) * 0.001);
            send(&mut t, at, p, true, S, 100, 0);
            send(&mut t, at, p, false, S | A, 9000, 101);
            send(&mut t, at, p, true, A, 101, 9001);
            if i % 2 == 0 {
                send(&mut t, at, p, true, F | A, 101, 9001);
                send(&mut t, at, p, false, F | A, 9001, 102);
                send(&mut t, at, p, true, A, 102, 9002);
            }
        }
        let early: Vec<&Connection> = done
            .iter()
            .filter(|c| c.end < Ts::from_secs_f64(5.0))
            .collect();
        assert!(
            !early.is_empty(),
            "a limit of one byte finishes flows early"
        );
        for c in early {
            let closed = c.is_closed();
            let want = if closed {
                EndReason::Closed
            } else {
                EndReason::MemoryLimit
            };
            assert_eq!(c.end_reason, want, "flow {} closed: {closed}", c.id);
        }
        assert!(t.stats.finished_for_memory > 0);
        let shed = t.budget_ref().lingers_cut.load(Ordering::Relaxed);
        assert!(shed > 0, "closed flows go first");
    }
}
