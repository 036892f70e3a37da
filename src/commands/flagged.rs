//! Which spooled frames belong to flows with findings (`capture --write-flagged`).
//!
//! A flow is found again in the spool by its 4-tuple, the frames it spanned and the
//! tunnel that carried it: two tenants' flows with one inner 4-tuple, at the same
//! time, are two flows (as in the flow table). The tunnel is learned from the flow's
//! own first frame, whose number the flow recorded. A translated flow (NAT) is also
//! found under its other tuple. DNS messages are kept while any flagged flow was open.

use rustc_hash::FxHashMap;

use crate::flow::Connection;
use crate::model::{FlowKey, TunnelId, TunnelKey};

/// One flagged flow.
struct Flow {
    first_frame: u64,
    last_frame: u64,
    /// The tunnel of its first frame, once that frame was read (`None` before).
    tunnel: Option<TunnelKey>,
}

/// The flagged flows of a capture, bounded by `max`.
pub struct FlaggedFlows {
    flows: Vec<Flow>,
    /// Both tuples of a translated flow point at it.
    by_tuple: FxHashMap<FlowKey, Vec<usize>>,
    max: usize,
    /// Flagged flows not kept (over `max`).
    pub dropped: u64,
}

impl FlaggedFlows {
    pub fn new(max: usize) -> FlaggedFlows {
        FlaggedFlows {
            flows: Vec::new(),
            by_tuple: FxHashMap::default(),
            max,
            dropped: 0,
        }
    }

    /// Remembers a flow that has findings.
    pub fn add(&mut self, conn: &Connection) {
        let (key, _) = FlowKey::of(conn.client, conn.server);
        let alias = conn.nat.as_ref().map(|nat| FlowKey {
            tunnel: TunnelId::default(),
            ..nat.alias
        });
        self.insert(key, alias, conn.first_frame, conn.last_frame);
    }

    fn insert(&mut self, key: FlowKey, alias: Option<FlowKey>, first: u64, last: u64) {
        if self.flows.len() >= self.max {
            self.dropped += 1;
            return;
        }
        let i = self.flows.len();
        self.flows.push(Flow {
            first_frame: first,
            last_frame: last,
            tunnel: None,
        });
        self.by_tuple.entry(key).or_default().push(i);
        if let Some(alias) = alias.filter(|a| *a != key) {
            self.by_tuple.entry(alias).or_default().push(i);
        }
    }

    /// Whether frame `number`, a TCP segment on `tuple` carried by `tunnel`, belongs
    /// to a flagged flow. Frames must be offered in order (the first frame of a flow
    /// teaches its tunnel).
    pub fn keeps_segment(&mut self, number: u64, tuple: FlowKey, tunnel: &TunnelKey) -> bool {
        let Some(ids) = self.by_tuple.get(&tuple) else {
            return false;
        };
        let mut keep = false;
        for &i in ids {
            let f = &mut self.flows[i];
            if !(f.first_frame..=f.last_frame).contains(&number) {
                continue;
            }
            if number == f.first_frame {
                f.tunnel = Some(*tunnel);
            }
            // Before its first frame is read the tunnel is unknown: a frame in the
            // span is kept (a NAT alias's frames may come first on another tuple).
            keep |= f.tunnel.is_none_or(|t| t == *tunnel);
        }
        keep
    }

    /// The frame spans during which some flagged flow was open, merged.
    pub fn open_spans(&self) -> Vec<(u64, u64)> {
        merged_spans(self.flows.iter().map(|f| (f.first_frame, f.last_frame)))
    }
}

/// Frame ranges merged into sorted, disjoint spans.
fn merged_spans(ranges: impl Iterator<Item = (u64, u64)>) -> Vec<(u64, u64)> {
    let mut v: Vec<(u64, u64)> = ranges.collect();
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

pub fn in_spans(spans: &[(u64, u64)], n: u64) -> bool {
    let i = spans.partition_point(|&(_, b)| b < n);
    spans.get(i).is_some_and(|&(a, _)| a <= n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(port: u16) -> FlowKey {
        use crate::model::Endpoint;
        let a = Endpoint::new("10.0.0.1".parse().unwrap(), port);
        let b = Endpoint::new("10.0.0.2".parse().unwrap(), 80);
        FlowKey::of(a, b).0
    }

    fn vni(id: u32) -> TunnelKey {
        use crate::model::TunnelKind;
        let (a, b) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        TunnelKey::new(TunnelKind::Vxlan, id, a, b)
    }

    #[test]
    fn two_tenants_with_one_inner_tuple_stay_apart() {
        let mut f = FlaggedFlows::new(10);
        // Tenant 43's flow (frames 10-50) has findings; tenant 42's, at the same
        // time on the same inner 4-tuple, has none.
        f.insert(tuple(40000), None, 10, 50);
        assert!(
            !f.keeps_segment(5, tuple(40000), &vni(42)),
            "before the span"
        );
        assert!(
            f.keeps_segment(10, tuple(40000), &vni(43)),
            "its first frame"
        );
        assert!(
            !f.keeps_segment(11, tuple(40000), &vni(42)),
            "the other tenant"
        );
        assert!(f.keeps_segment(12, tuple(40000), &vni(43)));
        assert!(
            !f.keeps_segment(13, tuple(40001), &vni(43)),
            "another tuple"
        );
        assert!(
            !f.keeps_segment(51, tuple(40000), &vni(43)),
            "after the span"
        );
    }

    #[test]
    fn a_translated_flow_is_found_under_both_tuples() {
        let mut f = FlaggedFlows::new(10);
        f.insert(tuple(40000), Some(tuple(8080)), 3, 9);
        assert!(f.keeps_segment(3, tuple(40000), &TunnelKey::None));
        assert!(f.keeps_segment(4, tuple(8080), &TunnelKey::None));
        assert!(!f.keeps_segment(4, tuple(8081), &TunnelKey::None));
        assert_eq!(f.open_spans(), vec![(3, 9)]);
    }

    #[test]
    fn the_bound_counts_what_it_drops() {
        let mut f = FlaggedFlows::new(1);
        f.insert(tuple(1), None, 1, 2);
        f.insert(tuple(2), None, 3, 4);
        assert_eq!(f.dropped, 1);
        assert!(!f.keeps_segment(3, tuple(2), &TunnelKey::None));
    }

    #[test]
    fn spans_merge_and_answer_membership() {
        let s = merged_spans([(10, 20), (1, 3), (15, 30), (31, 31), (40, 41)].into_iter());
        assert_eq!(s, vec![(1, 3), (10, 31), (40, 41)]);
        assert!(in_spans(&s, 1) && in_spans(&s, 25) && in_spans(&s, 41));
        assert!(!in_spans(&s, 4) && !in_spans(&s, 35) && !in_spans(&s, 42));
        assert!(!in_spans(&[], 1));
    }
}
