//! Finished connections remembered by 4-tuple for TIME_WAIT's length, so a new
//! connection on the same 4-tuple can name the one it reuses (Zeek's `IsReuse`, the
//! TIME_WAIT findings).
//!
//! Two generations of a fixed size instead of one map with a FIFO: entries are only
//! inserted into the current generation and a full one becomes the previous one
//! (the older previous goes whole). A map that removes its oldest entry for every
//! insert fills with tombstones and, near its capacity, reallocates at twice its
//! size while the old table still exists: a transient of three times its size,
//! which broke the process's memory budget. Here each map is allocated once at its
//! final size and never grows, and at least the newest `generation` entries are
//! always remembered.

use rustc_hash::FxHashMap;

use super::conn::PreviousConn;
use crate::model::{FlowKey, Ts};

pub struct RecentTuples {
    current: FxHashMap<FlowKey, PreviousConn>,
    previous: FxHashMap<FlowKey, PreviousConn>,
    /// Slots of `current` used since it started: inserts, including those whose entry
    /// was taken again (a removed entry leaves a tombstone that still takes a slot).
    used: usize,
    /// The same for `previous` when it was rotated out.
    previous_used: usize,
    /// Entries per generation.
    generation: usize,
    /// The newest close in each generation: once older than the window, the whole
    /// generation is stale.
    current_newest: Option<Ts>,
    previous_newest: Option<Ts>,
    window_ns: i64,
}

impl RecentTuples {
    pub fn new(generation: usize, window_ns: i64) -> RecentTuples {
        let generation = generation.max(1);
        RecentTuples {
            current: FxHashMap::default(),
            previous: FxHashMap::default(),
            used: 0,
            previous_used: 0,
            generation,
            current_newest: None,
            previous_newest: None,
            window_ns,
        }
    }

    /// Remembers a finished connection on `key`.
    pub fn insert(&mut self, key: FlowKey, prev: PreviousConn) {
        if self.used >= self.generation {
            self.rotate();
        }
        if self.current.capacity() == 0 {
            // At its final size from the start: it never reallocates. Only the pages
            // entries land on become resident.
            self.current.reserve(self.generation);
        }
        self.used += 1;
        self.current_newest = Some(
            self.current_newest
                .map_or(prev.ended, |t| t.max(prev.ended)),
        );
        self.current.insert(key, prev);
    }

    fn rotate(&mut self) {
        // The older generation goes before the new one is allocated.
        self.previous = FxHashMap::default();
        self.previous = std::mem::take(&mut self.current);
        self.previous_newest = self.current_newest.take();
        self.previous_used = std::mem::take(&mut self.used);
    }

    /// Takes the connection remembered on `key` if it ended within the window before
    /// `now` (a new connection on the 4-tuple links it).
    pub fn take(&mut self, key: &FlowKey, now: Ts) -> Option<PreviousConn> {
        let found = match self.current.remove(key) {
            Some(p) => Some(p),
            None => self.previous.remove(key),
        };
        found.filter(|p| self.fresh(p, now))
    }

    /// Whether a connection on `key` ended within the window before `now`.
    pub fn contains(&self, key: &FlowKey, now: Ts) -> bool {
        self.current
            .get(key)
            .or_else(|| self.previous.get(key))
            .is_some_and(|p| self.fresh(p, now))
    }

    fn fresh(&self, p: &PreviousConn, now: Ts) -> bool {
        now.nanos_since(p.ended) < self.window_ns
    }

    /// Frees generations whose newest entry is older than the window.
    #[inline]
    pub fn expire(&mut self, now: Ts) {
        let stale = |t: Option<Ts>| t.is_some_and(|t| now.nanos_since(t) >= self.window_ns);
        if stale(self.previous_newest) {
            self.previous = FxHashMap::default();
            self.previous_newest = None;
            self.previous_used = 0;
        }
        if stale(self.current_newest) {
            self.current = FxHashMap::default();
            self.current_newest = None;
            self.used = 0;
        }
    }

    pub fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes resident (memory budget): a map's entries land on random buckets, so a
    /// page of its table is resident once any entry landed on it.
    pub fn heap_bytes(&self) -> usize {
        let entry = std::mem::size_of::<(FlowKey, PreviousConn)>() + 1;
        [
            (&self.current, self.used),
            (&self.previous, self.previous_used),
        ]
        .iter()
        .map(|(m, used)| {
            if m.capacity() == 0 {
                return 0;
            }
            let buckets = (m.capacity() * 8 / 7).next_power_of_two();
            let pages = (buckets * entry).div_ceil(4096) as f64;
            // Every entry ever inserted touched its page (taken ones too).
            let touched = (*used).max(m.len()) as f64;
            let resident = pages * (1.0 - (-touched / pages).exp());
            // The control bytes are written when the table is allocated.
            (resident * 4096.0) as usize + buckets + crate::budget::BLOCK_OVERHEAD
        })
        .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Endpoint;

    fn key(port: u16) -> FlowKey {
        let a = Endpoint::new("192.0.2.1".parse().unwrap(), 80);
        let b = Endpoint::new("198.51.100.2".parse().unwrap(), port);
        FlowKey::of(a, b).0
    }

    fn prev(id: u64, secs: f64) -> PreviousConn {
        PreviousConn {
            id,
            ended: Ts::from_secs_f64(secs),
            close: None,
        }
    }

    const MINUTE: i64 = 60_000_000_000;

    #[test]
    fn remembers_within_the_window_only() {
        let mut r = RecentTuples::new(100, MINUTE);
        r.insert(key(1), prev(1, 10.0));
        assert!(r.contains(&key(1), Ts::from_secs_f64(69.9)));
        assert!(!r.contains(&key(1), Ts::from_secs_f64(70.0)));
        assert_eq!(
            r.take(&key(1), Ts::from_secs_f64(20.0)).map(|p| p.id),
            Some(1)
        );
        // Taken: a second connection does not link it again.
        assert!(r.take(&key(1), Ts::from_secs_f64(21.0)).is_none());
    }

    #[test]
    fn keeps_at_least_the_newest_generation_and_never_grows() {
        let mut r = RecentTuples::new(1000, MINUTE);
        for i in 0..10_000u16 {
            r.insert(key(i), prev(u64::from(i), 1.0));
        }
        let cap = r.current.capacity();
        for i in 10_000..30_000u16 {
            r.insert(key(i), prev(u64::from(i), 1.0));
            // Reuses take entries (tombstones) without making the map grow.
            if i % 3 == 0 {
                r.take(&key(i - 1), Ts::from_secs_f64(2.0));
            }
        }
        assert_eq!(r.current.capacity(), cap);
        assert!(r.len() <= 2000);
        // The newest 1,000 (less those taken) are remembered.
        for i in 29_000..30_000u16 {
            let taken = (i + 1) % 3 == 0 && i + 1 < 30_000;
            assert_eq!(r.contains(&key(i), Ts::from_secs_f64(2.0)), !taken, "{i}");
        }
        assert!(!r.contains(&key(5), Ts::from_secs_f64(2.0)));
    }

    #[test]
    fn stale_generations_are_freed() {
        let mut r = RecentTuples::new(2, MINUTE);
        r.insert(key(1), prev(1, 0.0));
        r.insert(key(2), prev(2, 0.0));
        r.insert(key(3), prev(3, 50.0));
        r.expire(Ts::from_secs_f64(70.0));
        assert_eq!(r.len(), 1);
        assert!(r.contains(&key(3), Ts::from_secs_f64(70.0)));
        r.expire(Ts::from_secs_f64(111.0));
        assert_eq!(r.len(), 0);
        assert_eq!(r.heap_bytes(), 0);
    }
}
