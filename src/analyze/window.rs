//! Peak count of events inside a trailing time window ("200 half-open handshakes
//! within 10 s", "up to 8 sockets in TIME_WAIT at once"). Flows finish in close
//! order, not start order, so events may arrive a little out of time order.
//! Memory is bounded: the window is counted in slices, not kept event by event.

use std::collections::VecDeque;

use crate::model::Ts;

/// The window is counted in this many slices: memory is bounded by it whatever the
/// event rate (a flood of a million SYNs a second holds 101 counters, not a million
/// timestamps), and the window's edge is exact to one slice (1% of its length).
const SLICES: i64 = 100;

#[derive(Debug, Default)]
pub struct WindowPeak {
    /// (slice number, events in it) for the slices within the horizon of the newest
    /// event, in order.
    slices: VecDeque<(i64, usize)>,
    /// Events in `slices`.
    in_window: usize,
    slice_ns: i64,
    newest: Option<Ts>,
    pub peak: usize,
    /// Time of the newest event when the peak was reached.
    pub peak_at: Option<Ts>,
}

impl WindowPeak {
    /// Heap bytes of the slices (memory budget).
    pub fn footprint(&self) -> usize {
        self.slices.capacity() * std::mem::size_of::<(i64, usize)>()
    }

    pub fn add(&mut self, at: Ts, horizon_ns: i64) {
        if self.slice_ns == 0 {
            self.slice_ns = (horizon_ns / SLICES).max(1);
        }
        let slice = at.0.div_euclid(self.slice_ns);
        let newest = self.newest.map_or(at, |n| n.max(at));
        self.newest = Some(newest);
        let newest_slice = newest.0.div_euclid(self.slice_ns);
        // Usually in order (the last slice); flows finish in close order, so a late
        // one goes to its own slice, or nowhere if it is already out of the window.
        if newest_slice - slice >= SLICES {
            return;
        }
        match self.slices.back_mut() {
            Some((s, n)) if *s == slice => *n += 1,
            Some((s, _)) if *s > slice => {
                let pos = self.slices.partition_point(|&(s, _)| s < slice);
                match self.slices.get_mut(pos) {
                    Some((s, n)) if *s == slice => *n += 1,
                    _ => self.slices.insert(pos, (slice, 1)),
                }
            }
            _ => self.slices.push_back((slice, 1)),
        }
        self.in_window += 1;
        while let Some(&(s, n)) = self.slices.front() {
            if newest_slice - s < SLICES {
                break;
            }
            self.slices.pop_front();
            self.in_window -= n;
        }
        if self.in_window > self.peak {
            self.peak = self.in_window;
            self.peak_at = Some(newest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_in_trailing_window_tolerates_disorder() {
        let mut w = WindowPeak::default();
        let s = |x: i64| Ts::from_secs_nanos(x, 0);
        for t in [0, 1, 3, 2, 9, 10, 30] {
            w.add(s(t), 10_000_000_000);
        }
        // 0,1,2,3,9 fit in [0, 10); at 10 the 0 drops out: still 5.
        assert_eq!(w.peak, 5);
        assert_eq!(w.peak_at, Some(s(9)));
    }

    #[test]
    fn memory_is_bounded_by_slices_not_events() {
        let mut w = WindowPeak::default();
        // One million events in 10 s, a little out of order.
        for i in 0..1_000_000i64 {
            let t = i * 10_000 + if i % 7 == 0 { -25_000 } else { 0 };
            w.add(Ts(t.max(0)), 10_000_000_000);
        }
        assert!(w.slices.len() <= SLICES as usize + 1, "{}", w.slices.len());
        assert_eq!(w.peak, 1_000_000);
    }

    #[test]
    fn window_edge_is_exact_to_one_slice() {
        let mut w = WindowPeak::default();
        let ms = |x: i64| Ts(x * 1_000_000);
        // Events every 100 ms (one per slice of a 10 s window): at most 100 at once.
        for i in 0..1000 {
            w.add(ms(i * 100), 10_000_000_000);
        }
        assert_eq!(w.peak, 100);
        // Late events older than the window of the newest are not counted.
        w.add(ms(0), 10_000_000_000);
        assert_eq!(w.peak, 100);
    }
}
