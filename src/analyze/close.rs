//! Close and TIME_WAIT, capture-wide per (client address, server endpoint): reuse
//! of 4-tuples soon after their previous connection closed (`close.port_reuse`, one
//! finding per pair with a count), and clients that actively close many connections
//! to one server (`timewait.buildup`: each close holds a TIME_WAIT entry and its local
//! port for TIME_WAIT_LEN = 60 s, unless a new connection on the same 4-tuple takes
//! it over first, which tcp_tw_reuse allows).

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::net::IpAddr;

use super::{round_ms, AnalyzerConfig, Confidence, Finding, Severity};
use crate::flow::conn::{CloseHow, Connection};
use crate::model::{Dir, Endpoint, Ts};

/// Slices per TIME_WAIT length in the concurrency count: its time resolution.
const SLICES_PER_TW: i64 = 120;

/// Concurrent TIME_WAIT entries over time, as +1/-1 steps per slice. Steps older than
/// two TIME_WAIT lengths behind the newest close are folded into the running count
/// (flows arrive in close order, a little out of order), so memory stays bounded by
/// the slices of the last two minutes.
#[derive(Default)]
struct Concurrency {
    slice_ns: i64,
    steps: BTreeMap<i64, i32>,
    folded_until: Option<i64>,
    running: i64,
    peak: i64,
    peak_at: Option<i64>,
    /// Corrections that came after their slice was folded (a reusing connection that
    /// lived longer than two TIME_WAIT lengths): the peak may count those entries.
    late: u64,
}

impl Concurrency {
    fn slice(&mut self, at: Ts, tw_ns: i64) -> i64 {
        if self.slice_ns == 0 {
            self.slice_ns = (tw_ns / SLICES_PER_TW).max(1);
        }
        at.0.div_euclid(self.slice_ns)
    }

    fn step(&mut self, slice: i64, by: i32) -> bool {
        if self.folded_until.is_some_and(|f| slice < f) {
            self.late += 1;
            return false;
        }
        *self.steps.entry(slice).or_default() += by;
        true
    }

    /// A TIME_WAIT from `at` for `tw_ns`.
    fn open(&mut self, at: Ts, tw_ns: i64) {
        let from = self.slice(at, tw_ns);
        let to = self.slice(Ts(at.0 + tw_ns), tw_ns);
        if self.step(from, 1) {
            self.step(to, -1);
        }
        self.fold(from - 2 * SLICES_PER_TW);
    }

    /// The TIME_WAIT opened at `opened` ended early, at `ended` (a new connection took
    /// its 4-tuple over).
    fn cut(&mut self, opened: Ts, ended: Ts, tw_ns: i64) {
        let natural_end = self.slice(Ts(opened.0 + tw_ns), tw_ns);
        let early = self.slice(ended, tw_ns);
        if early < natural_end && self.step(early, -1) {
            self.step(natural_end, 1);
        }
    }

    /// Folds the steps before `until` into the running count and the peak.
    fn fold(&mut self, until: i64) {
        while let Some((&s, &d)) = self.steps.first_key_value() {
            if s >= until {
                break;
            }
            self.steps.pop_first();
            self.running += i64::from(d);
            if self.running > self.peak {
                self.peak = self.running;
                self.peak_at = Some(s);
            }
        }
        self.folded_until = Some(self.folded_until.map_or(until, |f| f.max(until)));
    }

    fn finish(&mut self) {
        self.fold(i64::MAX);
    }
}

/// Reuses of 4-tuples inside TIME_WAIT for one pair.
#[derive(Default)]
struct Reuses {
    count: u64,
    /// Of them, over a TIME_WAIT the client held (only tcp_tw_reuse, or a client
    /// that binds its port, reuses those).
    client_held: u64,
    gaps: Vec<f64>,
    min_gap: f64,
    first_at: Option<Ts>,
    flows: Vec<u64>,
    timestamps: Option<bool>,
}

const MAX_GAPS: usize = 1000;

#[derive(Default)]
struct PairState {
    closes: u64,
    ports: HashSet<u16>,
    example_flows: Vec<u64>,
    time_wait: Concurrency,
    reuses: Reuses,
}

impl PairState {
    /// Heap bytes of its ports, flows, TIME_WAIT steps and reuse gaps (memory budget).
    fn heap_bytes(&self) -> usize {
        use crate::budget::{table_bytes, vec_bytes, BLOCK_OVERHEAD};
        table_bytes(self.ports.capacity(), 2)
            + vec_bytes(&self.example_flows)
            + self.time_wait.steps.len() * (std::mem::size_of::<(i64, i32)>() + BLOCK_OVERHEAD)
            + vec_bytes(&self.reuses.gaps)
            + vec_bytes(&self.reuses.flows)
    }
}

/// Close and reuse facts per (client address, server endpoint).
pub struct TimeWaitTracker {
    pairs: HashMap<(IpAddr, Endpoint), PairState>,
    /// Pairs not tracked (beyond the bound).
    untracked: u64,
    /// Pairs tracked at most (MAX_PAIRS at the default memory limit).
    max_pairs: usize,
    /// What the pairs' states hold on the heap (`PairState::heap_bytes` each), kept
    /// up to date as a flow changes its pair's: the budget asks often.
    pairs_bytes: usize,
}

impl Default for TimeWaitTracker {
    fn default() -> Self {
        TimeWaitTracker {
            pairs: HashMap::default(),
            untracked: 0,
            max_pairs: MAX_PAIRS,
            pairs_bytes: 0,
        }
    }
}

const MAX_PAIRS: usize = 50_000;

impl TimeWaitTracker {
    /// Sizes the bound for the process's memory limit.
    pub fn fit(&mut self, limit: usize) {
        self.max_pairs = crate::budget::scaled_cap(MAX_PAIRS, limit);
    }

    /// Bytes held (memory budget).
    pub fn footprint(&self) -> usize {
        crate::budget::table_bytes(
            self.pairs.capacity(),
            std::mem::size_of::<((IpAddr, Endpoint), PairState)>(),
        ) + self.pairs_bytes
    }

    pub fn on_flow(&mut self, conn: &Connection, cfg: &AnalyzerConfig) {
        let close = conn.close();
        let client_closed =
            close.is_some_and(|c| c.by == Dir::FromClient && c.how == CloseHow::Fin);
        let reuse = conn.previous.filter(|p| {
            let gap = conn.start.since(p.ended);
            // A negative gap: inputs out of time order; the reuse cannot be timed.
            (0.0..cfg.time_wait_s).contains(&gap)
        });
        if !client_closed && reuse.is_none() {
            return;
        }
        let key = (conn.client.ip, conn.server);
        if self.pairs.len() >= self.max_pairs && !self.pairs.contains_key(&key) {
            self.untracked += 1;
            return;
        }
        let tw_ns = (cfg.time_wait_s * 1e9) as i64;
        let st = self.pairs.entry(key).or_default();
        let bytes_before = st.heap_bytes();
        if let Some(prev) = reuse {
            let holder_client = prev
                .close
                .is_some_and(|c| c.how == CloseHow::Fin && c.by == Dir::FromClient);
            let r = &mut st.reuses;
            let gap = conn.start.since(prev.ended);
            r.count += 1;
            if holder_client {
                r.client_held += 1;
                // The new SYN ended the client's TIME_WAIT on this 4-tuple.
                st.time_wait.cut(prev.ended, conn.start, tw_ns);
            }
            if r.gaps.len() < MAX_GAPS {
                r.gaps.push(gap);
            }
            r.min_gap = if r.count == 1 {
                gap
            } else {
                r.min_gap.min(gap)
            };
            r.first_at = Some(r.first_at.map_or(conn.start, |t| t.min(conn.start)));
            if r.flows.len() < 10 {
                r.flows.push(conn.id);
            }
            if let Some(o) = conn.side(Dir::FromClient).syn_options {
                r.timestamps = Some(r.timestamps.unwrap_or(true) && o.timestamps);
            }
        }
        if let (true, Some(close)) = (client_closed, close) {
            st.closes += 1;
            // At most 65,536 ports: bounded by itself.
            st.ports.insert(conn.client.port);
            if st.example_flows.len() < 10 {
                st.example_flows.push(conn.id);
            }
            st.time_wait.open(close.ts, tw_ns);
        }
        self.pairs_bytes = self.pairs_bytes + st.heap_bytes() - bytes_before;
    }

    pub fn findings(&mut self, cfg: &AnalyzerConfig, out: &mut Vec<Finding>) {
        let range = u64::from(cfg.port_range.1 - cfg.port_range.0) + 1;
        let mut pairs: Vec<_> = self.pairs.iter_mut().collect();
        pairs.sort_by_key(|((c, s), _)| (*c, *s));
        for ((client, server), st) in pairs {
            st.time_wait.finish();
            if st.reuses.count > 0 {
                out.push(port_reuse(cfg, *client, *server, &st.reuses));
            }
            let tw = &st.time_wait;
            let peak = tw.peak.max(0) as u64;
            let share = peak as f64 / range as f64;
            // Many closes, or few against a small port range (half of it held).
            if st.closes < cfg.timewait_min as u64 && share < 0.5 {
                continue;
            }
            let reusing = st.reuses.client_held > 0;
            // Ports that tcp_tw_reuse hands back do not run out.
            let severity = if share >= 0.5 && !reusing {
                Severity::Error
            } else {
                Severity::Warning
            };
            let peak_at = tw.peak_at.map_or(0.0, |s| Ts(s * tw.slice_ns).secs_f64());
            out.push(
                Finding::new("timewait.buildup", severity, None, peak_at)
                    .summary(format!(
                        "{client} actively closed {} connections to {server}; up to {peak} were in TIME_WAIT at \
                         once ({:.1}% of the {range} ports in {}-{}, using {} distinct local ports){}{}",
                        st.closes,
                        share * 100.0,
                        cfg.port_range.0,
                        cfg.port_range.1,
                        st.ports.len(),
                        if reusing {
                            format!(
                                "; {} new connections took over a 4-tuple still in TIME_WAIT (tcp_tw_reuse is on at the client)",
                                st.reuses.client_held
                            )
                        } else {
                            String::new()
                        },
                        if share >= 1.0 && !reusing {
                            ": the port range is exhausted, connect() fails with EADDRNOTAVAIL (\"Cannot assign requested address\")"
                        } else {
                            ""
                        }
                    ))
                    .evidence("client", client.to_string())
                    .evidence("server", server.to_string())
                    .evidence("active_closes", st.closes)
                    .evidence("peak_time_wait", peak)
                    .evidence("time_wait_reused", st.reuses.client_held)
                    .evidence("late_corrections", tw.late)
                    .evidence("time_wait_s", cfg.time_wait_s)
                    .evidence("port_range", [cfg.port_range.0, cfg.port_range.1])
                    .evidence("port_range_from", port_range_from(cfg, *client))
                    .evidence("distinct_local_ports", st.ports.len())
                    .evidence("example_flows", &st.example_flows)
                    .confidence(Confidence::High)
                    .hint(if reusing {
                        "The client closes first, so its side holds each 4-tuple in TIME_WAIT; tcp_tw_reuse is already \
                         letting new connections take those over (seen in the capture), so the ports cycle fast. \
                         The lasting fix is fewer connections: reuse them (HTTP keep-alive, pools); widen \
                         net.ipv4.ip_local_port_range if connect() still fails."
                    } else {
                        "The client closes first, so its side keeps each 4-tuple in TIME_WAIT for 60 s. Reuse \
                         connections (HTTP keep-alive, pools); widen net.ipv4.ip_local_port_range; set \
                         net.ipv4.tcp_tw_reuse=1 (with net.ipv4.tcp_timestamps=1) on the client. Do not use \
                         tcp_tw_recycle (removed in Linux 4.12)."
                    }),
            );
        }
        // Finishing folded the TIME_WAIT steps away: count again (once, at the end).
        self.pairs_bytes = self.pairs.values().map(PairState::heap_bytes).sum();
    }
}

/// `close.port_reuse` for one pair: how many new connections took a 4-tuple inside
/// TIME_WAIT, how soon, and whether TCP timestamps let the kernel tell them apart.
fn port_reuse(cfg: &AnalyzerConfig, client: IpAddr, server: Endpoint, r: &Reuses) -> Finding {
    let mut gaps = r.gaps.clone();
    gaps.sort_by(f64::total_cmp);
    let median = gaps.get(gaps.len() / 2).copied().unwrap_or(0.0);
    let holder = if r.client_held == r.count {
        Some("client")
    } else if r.client_held == 0 {
        None
    } else {
        Some("mixed")
    };
    Finding::new(
        "close.port_reuse",
        Severity::Info,
        None,
        r.first_at.map_or(0.0, |t| t.secs_f64()),
    )
    .summary(format!(
        "{} new connection{} from {client} to {server} reused a 4-tuple inside the {:.0} s TIME_WAIT of the \
         previous connection on it (soonest {:.3} s, median {:.3} s after its close){}; TCP timestamps {}",
        r.count,
        if r.count == 1 { "" } else { "s" },
        cfg.time_wait_s,
        r.min_gap,
        median,
        match holder {
            Some("client") => ": the client held those TIME_WAITs, so tcp_tw_reuse is on there",
            Some(_) => ": the client held some of those TIME_WAITs",
            None => "",
        },
        match r.timestamps {
            Some(true) => "on (PAWS lets the kernel tell the connections apart)",
            Some(false) => "off (old duplicates can be taken for new data)",
            None => "unknown",
        }
    ))
    .evidence("client", client.to_string())
    .evidence("server", server.to_string())
    .evidence("reuses", r.count)
    .evidence("time_wait_holder", holder)
    .evidence("seconds_after_close", round_ms(r.min_gap))
    .evidence("median_seconds_after_close", round_ms(median))
    .evidence("timestamps", r.timestamps)
    .evidence("example_flows", &r.flows)
    .confidence(Confidence::High)
    .hint(if r.client_held > 0 {
        "Informational: the client's kernel reuses its TIME_WAIT ports (tcp_tw_reuse), which is safe with TCP \
         timestamps on both ends. Frequent reuse means many short connections from a small or busy port range: \
         reuse connections (keep-alive, pooling) or widen net.ipv4.ip_local_port_range."
    } else {
        "Informational: a 4-tuple came back soon after its previous connection closed (the server held TIME_WAIT, \
         or the client binds fixed ports); with TCP timestamps the kernel tells the connections apart. Reuse \
         connections (keep-alive, pooling) if this is frequent."
    })
}

/// What the port range in a timewait.buildup finding is: this host's own range
/// (live capture, the client is this host), this host's range while the client is
/// another host (whose own range applies), the flag, or Linux's default.
fn port_range_from(cfg: &AnalyzerConfig, client: std::net::IpAddr) -> &'static str {
    match cfg.port_range_from {
        "host" if cfg.local_addrs.contains(&client) => "this host's net.ipv4.ip_local_port_range",
        "host" => "this host's net.ipv4.ip_local_port_range, but the client is another host: its own range applies",
        "--port-range" => "--port-range",
        _ => "Linux default (give the client's range with --port-range)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TW: i64 = 60_000_000_000;

    fn s(secs: f64) -> Ts {
        Ts::from_secs_f64(secs)
    }

    #[test]
    fn time_wait_concurrency_counts_overlaps() {
        let mut c = Concurrency::default();
        for i in 0..5 {
            c.open(s(f64::from(i)), TW);
        }
        // 61 s after the first: it expired, the others still hold.
        c.open(s(61.0), TW);
        c.finish();
        assert_eq!(c.peak, 5);
    }

    #[test]
    fn a_reused_time_wait_ends_early() {
        // Two ports, each reused every second: never more than two at once, however
        // many connections close.
        let mut c = Concurrency::default();
        let mut opened: [Option<Ts>; 2] = [None, None];
        for i in 0..100 {
            let port = i % 2;
            let at = s(i as f64 * 0.5);
            if let Some(prev) = opened[port] {
                c.cut(prev, at, TW);
            }
            c.open(Ts(at.0 + 10_000_000), TW);
            opened[port] = Some(Ts(at.0 + 10_000_000));
        }
        c.finish();
        assert!(c.peak <= 2, "{}", c.peak);
        assert_eq!(c.late, 0);
    }
}
