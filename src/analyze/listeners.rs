//! This host's listeners over a live capture: each poll's accept queue and backlog
//! (sock_diag's Recv-Q / Send-Q of a LISTEN socket) and the namespace's
//! ListenOverflows / ListenDrops counters. From them the analyzers can say that
//! this host itself dropped SYNs because an accept queue was full, which no packet
//! shows. Bounded: polls are kept only when something changed, per listener and in
//! all.

use rustc_hash::FxHashMap;

use super::{round_ms, Cause, Confidence, Finding, Severity};
use crate::model::{Endpoint, Ts};

/// Polls kept per listener (only those where the queue changed), and listeners.
const MAX_POLLS: usize = 512;
const MAX_LISTENERS: usize = 1024;
const MAX_COUNTER_POLLS: usize = 4096;

/// One poll of a listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueuePoll {
    pub at: Ts,
    /// Connections waiting for accept() (Recv-Q).
    pub queue: u32,
    /// The listen() backlog, capped by net.core.somaxconn (Send-Q).
    pub backlog: u32,
}

impl QueuePoll {
    /// Linux drops a new connection when the queue already holds more than the
    /// backlog (sk_acceptq_is_full: queue > backlog).
    pub fn full(&self) -> bool {
        self.queue > self.backlog
    }
}

/// ListenOverflows and ListenDrops (TcpExt) at one poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenCounters {
    pub at: Ts,
    pub overflows: u64,
    pub drops: u64,
}

#[derive(Default)]
pub struct ListenerLog {
    listeners: FxHashMap<Endpoint, Vec<QueuePoll>>,
    counters: Vec<ListenCounters>,
    /// Polls not kept (bounds reached).
    pub dropped: u64,
}

/// What the polls say about a listener during a stretch of time.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueState {
    pub listener: Endpoint,
    /// The fullest poll in the stretch (the last poll before it counts: a queue that
    /// does not change is not re-recorded).
    pub fullest: QueuePoll,
    /// ListenOverflows over the stretch (from the polls just before and just after).
    pub overflows: Option<u64>,
    pub drops: Option<u64>,
}

impl ListenerLog {
    pub fn is_empty(&self) -> bool {
        self.listeners.is_empty()
    }

    /// Bytes held (memory budget).
    pub fn footprint(&self) -> usize {
        use crate::budget::{table_bytes, vec_bytes};
        table_bytes(
            self.listeners.capacity(),
            std::mem::size_of::<(Endpoint, Vec<QueuePoll>)>(),
        ) + self.listeners.values().map(vec_bytes).sum::<usize>()
            + vec_bytes(&self.counters)
    }

    /// A listener at one poll.
    pub fn record(&mut self, listener: Endpoint, poll: QueuePoll) {
        if !self.listeners.contains_key(&listener) && self.listeners.len() >= MAX_LISTENERS {
            self.dropped += 1;
            return;
        }
        let polls = self.listeners.entry(listener).or_default();
        if polls
            .last()
            .is_some_and(|p| p.queue == poll.queue && p.backlog == poll.backlog)
        {
            return;
        }
        if polls.len() >= MAX_POLLS {
            self.dropped += 1;
            return;
        }
        polls.push(poll);
    }

    pub fn record_counters(&mut self, c: ListenCounters) {
        if self
            .counters
            .last()
            .is_some_and(|p| p.overflows == c.overflows && p.drops == c.drops)
        {
            return;
        }
        if self.counters.len() >= MAX_COUNTER_POLLS {
            self.dropped += 1;
            return;
        }
        self.counters.push(c);
    }

    /// The listener that takes connections to `server`: the same address, else a
    /// wildcard on its port.
    fn listener_for(&self, server: Endpoint) -> Option<(&Endpoint, &Vec<QueuePoll>)> {
        self.listeners.get_key_value(&server).or_else(|| {
            self.listeners
                .iter()
                .find(|(l, _)| l.port == server.port && l.ip.is_unspecified())
        })
    }

    /// The counters' rise between the last poll at or before `from` and the first
    /// at or after `to`.
    fn counter_delta(&self, from: Ts, to: Ts) -> Option<(u64, u64)> {
        let before = self.counters.iter().rev().find(|c| c.at <= from)?;
        // The counters are recorded only when they change: the latest record at or
        // before `to` plus any change right after it bound the rise.
        let after = self
            .counters
            .iter()
            .find(|c| c.at >= to)
            .or_else(|| self.counters.last())?;
        Some((
            after.overflows.saturating_sub(before.overflows),
            after.drops.saturating_sub(before.drops),
        ))
    }

    /// The listener of `server` between `from` and `to`, when it was polled.
    pub fn during(&self, server: Endpoint, from: Ts, to: Ts) -> Option<QueueState> {
        let (listener, polls) = self.listener_for(server)?;
        let start = polls.iter().rposition(|p| p.at <= from).unwrap_or(0);
        let fullest = polls[start..]
            .iter()
            .take_while(|p| p.at <= to)
            .max_by_key(|p| (p.full(), p.queue))
            .copied()?;
        let delta = self.counter_delta(from, to);
        Some(QueueState {
            listener: *listener,
            fullest,
            overflows: delta.map(|d| d.0),
            drops: delta.map(|d| d.1),
        })
    }

    /// `sock.accept_queue_full` for each listener seen full during the capture, with
    /// the per-flow findings it stands for (`folded`, by id).
    pub fn findings(
        &self,
        folded: &FxHashMap<Endpoint, std::collections::BTreeMap<&'static str, u64>>,
        out: &mut Vec<Finding>,
    ) {
        let mut listeners: Vec<_> = self.listeners.iter().collect();
        listeners.sort_by_key(|(l, _)| **l);
        for (listener, polls) in listeners {
            let full: Vec<&QueuePoll> = polls.iter().filter(|p| p.full()).collect();
            let (Some(first), Some(last)) = (full.first(), full.last()) else {
                continue;
            };
            // Full until the next poll that was not.
            let until = polls
                .iter()
                .find(|p| p.at > last.at && !p.full())
                .map(|p| p.at);
            let peak = full
                .iter()
                .max_by_key(|p| p.queue)
                .copied()
                .copied()
                .unwrap_or(**first);
            // The queue filled some time after the last poll that saw it not full: the
            // drops are counted from there.
            let since = polls
                .iter()
                .rev()
                .find(|p| p.at < first.at && !p.full())
                .map_or(first.at, |p| p.at);
            let delta = self.counter_delta(since, until.unwrap_or(last.at));
            let flows = folded.get(listener).cloned().unwrap_or_default();
            let waiting: u64 = flows.values().sum();
            out.push(
                Finding::new("sock.accept_queue_full", Severity::Error, None, first.at.secs_f64())
                    .summary(format!(
                        "Listener {listener}: its accept queue was full ({} waiting for accept(), backlog {}) for {}{}: the application was not accepting connections{}",
                        peak.queue,
                        peak.backlog,
                        match until {
                            Some(u) => format!("{:.1} s", u.since(first.at)),
                            None => "the rest of the capture".to_string(),
                        },
                        match delta {
                            Some((o, d)) if o > 0 || d > 0 => format!("; ListenOverflows rose by {o} and ListenDrops by {d}: this host dropped that many SYNs or handshake ACKs"),
                            _ => String::new(),
                        },
                        if waiting > 0 {
                            format!("; {waiting} per-flow findings (unanswered SYNs, waits for a response) are this queue's doing")
                        } else {
                            String::new()
                        }
                    ))
                    .evidence("listener", listener.to_string())
                    .evidence("accept_queue", peak.queue)
                    .evidence("backlog", peak.backlog)
                    .evidence("full_from", crate::model::time::round_us(first.at.secs_f64()))
                    .evidence("full_for_s", until.map(|u| round_ms(u.since(first.at))))
                    .evidence("ListenOverflows_delta", delta.map(|d| d.0))
                    .evidence("ListenDrops_delta", delta.map(|d| d.1))
                    .evidence("folded_flow_findings", &flows)
                    .confidence(Confidence::High)
                    .with_cause(Cause::AcceptQueueFull),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Endpoint {
        let (ip, port) = s.rsplit_once(':').unwrap();
        Endpoint::new(ip.parse().unwrap(), port.parse().unwrap())
    }

    fn poll(secs: i64, queue: u32) -> QueuePoll {
        QueuePoll {
            at: Ts::from_secs_nanos(secs, 0),
            queue,
            backlog: 16,
        }
    }

    #[test]
    fn a_full_queue_during_the_syns_with_overflows_rising() {
        let mut log = ListenerLog::default();
        let l = ep("0.0.0.0:80");
        log.record(l, poll(0, 0));
        log.record(l, poll(1, 17));
        log.record(l, poll(2, 17)); // unchanged: not kept
        log.record(l, poll(9, 0));
        for (t, o) in [(0, 5), (1, 5), (4, 97), (9, 97)] {
            log.record_counters(ListenCounters {
                at: Ts::from_secs_nanos(t, 0),
                overflows: o,
                drops: o,
            });
        }
        let s = |x| Ts::from_secs_nanos(x, 0);
        let st = log.during(ep("192.0.2.1:80"), s(2), s(5)).expect("polled");
        assert!(st.fullest.full());
        assert_eq!(st.overflows, Some(92));
        assert!(log.during(ep("192.0.2.1:81"), s(2), s(5)).is_none());
        // Before the queue filled it was not full.
        let early = log
            .during(
                ep("192.0.2.1:80"),
                Ts::from_secs_nanos(0, 1),
                Ts::from_secs_nanos(0, 2),
            )
            .unwrap();
        assert!(!early.fullest.full());
        // After it emptied: a flow that waited then was not this queue's doing.
        let later = log.during(ep("192.0.2.1:80"), s(10), s(12)).unwrap();
        assert!(!later.fullest.full());
        let mut out = Vec::new();
        log.findings(&FxHashMap::default(), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].evidence["accept_queue"], 17);
        assert_eq!(out[0].evidence["full_for_s"], 8.0);
    }
}
