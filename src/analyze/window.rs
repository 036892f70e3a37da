//! Peak count of events inside a trailing time window ("200 half-open handshakes
//! within 10 s", "up to 8 sockets in TIME_WAIT at once"). Flows finish in close
//! order, not start order, so events may arrive a little out of time order.

use std::collections::VecDeque;

use crate::model::Ts;

#[derive(Debug, Default)]
pub struct WindowPeak {
    /// Event times within the horizon of the newest one, in time order.
    window: VecDeque<Ts>,
    pub peak: usize,
    /// Time of the newest event when the peak was reached.
    pub peak_at: Option<Ts>,
}

impl WindowPeak {
    pub fn add(&mut self, at: Ts, horizon_ns: i64) {
        // Usually in order (a push at the back); a binary search keeps late arrivals cheap
        // when a flood fills the window with hundreds of thousands of events.
        if self.window.back().is_none_or(|&t| t <= at) {
            self.window.push_back(at);
        } else {
            let pos = self.window.partition_point(|&t| t <= at);
            self.window.insert(pos, at);
        }
        let newest = *self.window.back().expect("just inserted");
        while self
            .window
            .front()
            .is_some_and(|&t| newest.nanos_since(t) >= horizon_ns)
        {
            self.window.pop_front();
        }
        if self.window.len() > self.peak {
            self.peak = self.window.len();
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
}
