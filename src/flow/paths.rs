//! Where a flow's packets were seen. A capture on Linux's `any` device (cooked v2)
//! sees a packet once per interface it crosses: a container's packet on its veth,
//! on the bridge, on the uplink. The engine counts such copies once
//! (`decode::dedupe`) and records here the interfaces each packet was seen on, in
//! order: its path. Packets that took the same path in the same direction are
//! counted together, so one that was seen on the veth and the bridge but never on
//! the uplink stands out as its own path: a drop between two interfaces.
//!
//! Bounded: at most `MAX_PATHS` distinct paths per flow (further packets are only
//! counted in `other_packets`) and `MAX_HOPS` interfaces per path.

use std::sync::Arc;

pub use crate::model::hops::{Hops, MAX_HOPS};
use crate::model::Dir;

/// Distinct paths kept per flow.
pub const MAX_PATHS: usize = 16;

/// Packets of one direction that took one path.
#[derive(Clone, Debug)]
pub struct PathCount {
    pub dir: Dir,
    pub hops: Hops,
    /// Interface names, one per hop (`ifindex N` when the name is not known, as in
    /// a replayed file).
    pub names: Vec<Arc<str>>,
    pub packets: u64,
    pub first_frame: u64,
    pub last_frame: u64,
}

/// The paths of one flow.
#[derive(Clone, Debug, Default)]
pub struct Paths {
    /// In order of first appearance.
    pub list: Vec<PathCount>,
    /// Packets whose path was not kept (beyond `MAX_PATHS` distinct paths).
    pub other_packets: u64,
}

impl Paths {
    /// One packet (`frame`, the copy the flow analysed) took `hops` in `dir`.
    /// `name` gives an interface's name; it is asked only for a new path.
    pub fn record(
        &mut self,
        dir: Dir,
        hops: &Hops,
        frame: u64,
        name: &mut dyn FnMut(u32) -> Arc<str>,
    ) {
        if let Some(p) = self
            .list
            .iter_mut()
            .find(|p| p.dir == dir && p.hops == *hops)
        {
            p.packets += 1;
            p.first_frame = p.first_frame.min(frame);
            p.last_frame = p.last_frame.max(frame);
            return;
        }
        if self.list.len() >= MAX_PATHS {
            self.other_packets += 1;
            return;
        }
        self.list.push(PathCount {
            dir,
            hops: *hops,
            names: hops.as_slice().iter().map(|&i| name(i)).collect(),
            packets: 1,
            first_frame: frame,
            last_frame: frame,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(i: u32) -> Arc<str> {
        format!("if{i}").into()
    }

    #[test]
    fn same_path_counts_together_and_a_shorter_one_stands_out() {
        let mut p = Paths::default();
        let mut full = Hops::one(7);
        full.push(3);
        full.push(2);
        let mut short = Hops::one(7);
        short.push(3);
        for f in [1, 3, 5] {
            p.record(Dir::FromClient, &full, f, &mut name);
        }
        p.record(Dir::FromClient, &short, 9, &mut name);
        p.record(Dir::FromServer, &Hops::one(2), 2, &mut name);
        assert_eq!(p.list.len(), 3);
        assert_eq!(
            (
                p.list[0].packets,
                p.list[0].first_frame,
                p.list[0].last_frame
            ),
            (3, 1, 5)
        );
        assert_eq!(&*p.list[0].names[2], "if2");
        assert_eq!(
            (p.list[1].packets, p.list[1].hops.as_slice()),
            (1, &[7, 3][..])
        );
        assert_eq!(p.list[2].dir, Dir::FromServer);
    }

    #[test]
    fn bounded() {
        let mut p = Paths::default();
        for i in 0..(MAX_PATHS as u32 + 5) {
            p.record(Dir::FromClient, &Hops::one(i), u64::from(i), &mut name);
        }
        assert_eq!(p.list.len(), MAX_PATHS);
        assert_eq!(p.other_packets, 5);
        let mut h = Hops::one(1);
        for i in 2..20 {
            h.push(i);
        }
        assert_eq!(h.as_slice().len(), MAX_HOPS);
    }
}
