//! A connection's timeline: notable segments as individual events, runs of ordinary
//! data/ACK segments collapsed into one event with counts and bytes, so a 1 GB
//! transfer stays a few dozen events. `TimelineMode::Full` keeps every segment.

use super::analysis::Analysis;
use crate::decode::TcpFlags;
use crate::model::{Dir, Ts};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TimelineMode {
    /// Notable segments one by one, ordinary runs collapsed.
    Collapsed,
    /// Every segment.
    Full,
}

/// Room the timeline grows to at its second event.
const FIRST_GROWTH: usize = 12;
/// Spare slots a closed connection keeps without shrinking its timeline.
const SHRINK_SLACK: usize = 4;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunInfo {
    pub last_frame: u64,
    pub end: Ts,
    /// Segments and payload bytes per direction (index = Dir::idx()).
    pub packets: [u64; 2],
    pub bytes: [u64; 2],
}

/// Kept small (runs are boxed): a connection holds up to `cap` of these while it is live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A single segment.
    Segment {
        flags: TcpFlags,
        seq_rel: u32,
        ack_rel: u32,
        len: u32,
        window: u32,
        analysis: Analysis,
        /// Seconds of silence (both directions) before this segment, when long.
        idle_before_ms: Option<u32>,
    },
    /// Ordinary data/ACK segments collapsed together.
    Run(Box<RunInfo>),
    /// A socket snapshot from the kernel (live capture): entry `index` of the flow's
    /// local socket history for the endpoint that sends in the event's `dir`.
    Socket { index: u16 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub frame: u64,
    pub ts: Ts,
    /// Direction of the segment; for runs, of the first segment.
    pub dir: Dir,
    pub kind: EventKind,
}

#[derive(Clone, Debug)]
pub struct Timeline {
    pub events: Vec<Event>,
    /// The last event is an ordinary segment that a following one may fold into a run.
    last_ordinary: bool,
    mode: TimelineMode,
    cap: usize,
    /// Events that did not fit under the cap (they are still counted in runs), or
    /// that the memory budget took back.
    pub dropped: u64,
    /// Boxed runs among `events` (heap blocks of their own).
    runs: u32,
    /// The memory budget took this timeline's events back; it keeps no more.
    pub shed: bool,
}

impl Timeline {
    pub fn new(mode: TimelineMode, cap: usize) -> Timeline {
        Timeline {
            events: Vec::new(),
            last_ordinary: false,
            mode,
            cap,
            dropped: 0,
            runs: 0,
            shed: false,
        }
    }

    /// Heap bytes of the stored events (memory budget).
    pub fn heap_bytes(&self) -> usize {
        crate::budget::vec_bytes(&self.events)
            + self.runs as usize * (std::mem::size_of::<RunInfo>() + crate::budget::BLOCK_OVERHEAD)
    }

    /// Gives the stored events back (the memory budget is reached): they count as
    /// dropped, and the timeline stores nothing more. Returns how many went.
    pub fn shed(&mut self) -> usize {
        let n = self.events.len();
        self.dropped += n as u64;
        self.events = Vec::new();
        self.runs = 0;
        self.cap = 0;
        self.last_ordinary = false;
        self.shed = true;
        n
    }

    /// Adds one segment. `notable` segments get an event of their own (in collapsed
    /// mode); ordinary ones extend the run that the last event holds.
    pub fn push(&mut self, ev: Event, notable: bool) {
        let EventKind::Segment { len, .. } = ev.kind else {
            return;
        };
        if self.mode == TimelineMode::Collapsed && !notable {
            match self.events.last_mut() {
                Some(Event {
                    kind: EventKind::Run(run),
                    ..
                }) => {
                    run.last_frame = ev.frame;
                    run.end = ev.ts;
                    run.packets[ev.dir.idx()] += 1;
                    run.bytes[ev.dir.idx()] += u64::from(len);
                    return;
                }
                // A second ordinary segment: the first one becomes a run of two.
                Some(last) if self.last_ordinary => {
                    if let EventKind::Segment { len: first_len, .. } = last.kind {
                        let mut run = RunInfo {
                            last_frame: ev.frame,
                            end: ev.ts,
                            ..RunInfo::default()
                        };
                        run.packets[last.dir.idx()] += 1;
                        run.bytes[last.dir.idx()] += u64::from(first_len);
                        run.packets[ev.dir.idx()] += 1;
                        run.bytes[ev.dir.idx()] += u64::from(len);
                        last.kind = EventKind::Run(Box::new(run));
                        self.runs += 1;
                        return;
                    }
                }
                _ => {}
            }
            self.last_ordinary = self.add(ev);
            return;
        }
        self.last_ordinary = false;
        self.add(ev);
    }

    /// Adds a non-segment event (a socket snapshot) in time order: a poll joined just
    /// after packets that are newer than it goes before them (never inside a run),
    /// and its `frame` becomes the last frame before it. At the end, it ends any run
    /// being collapsed.
    pub fn push_other(&mut self, mut ev: Event) {
        let mut pos = self.events.len();
        while pos > 0 {
            let prev = &self.events[pos - 1];
            if prev.ts <= ev.ts || matches!(prev.kind, EventKind::Run(_)) {
                break;
            }
            pos -= 1;
        }
        if pos == self.events.len() {
            self.last_ordinary = false;
            self.add(ev);
            return;
        }
        if self.events.len() >= self.cap {
            self.dropped += 1;
            return;
        }
        ev.frame = match pos {
            0 => ev.frame.min(self.events[0].frame),
            _ => match &self.events[pos - 1].kind {
                EventKind::Run(run) => run.last_frame,
                _ => self.events[pos - 1].frame,
            },
        };
        self.events.insert(pos, ev);
    }

    /// Appends `ev` unless the cap is reached; true when it was kept.
    fn add(&mut self, ev: Event) -> bool {
        if self.events.len() >= self.cap {
            self.dropped += 1;
            return false;
        }
        match self.events.capacity() {
            // Room for exactly one: many flows (floods, scans) never get a second event.
            0 => self.events.reserve_exact(1),
            // A flow with a second event is usually a whole short connection (about ten
            // events): one step to room for 12 instead of regrowing through 4 and 8.
            1 if self.events.len() == 1 => self.events.reserve_exact(FIRST_GROWTH - 1),
            _ => {}
        }
        self.events.push(ev);
        true
    }

    /// Gives back unused room (called when the connection closes and waits out its
    /// linger with its events kept).
    pub fn shrink(&mut self) {
        // A few spare slots are not worth a reallocation.
        if self.events.capacity() - self.events.len() > SHRINK_SLACK {
            self.events.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(frame: u64, dir: Dir, len: u32) -> Event {
        Event {
            frame,
            ts: Ts(frame as i64 * 1000),
            dir,
            kind: EventKind::Segment {
                flags: TcpFlags(TcpFlags::ACK),
                seq_rel: 0,
                ack_rel: 0,
                len,
                window: 100,
                analysis: Analysis::default(),
                idle_before_ms: None,
            },
        }
    }

    #[test]
    fn ordinary_segments_collapse_into_runs() {
        let mut t = Timeline::new(TimelineMode::Collapsed, 100);
        t.push(seg(1, Dir::FromClient, 0), true);
        for f in 2..=1000 {
            let dir = if f % 2 == 0 {
                Dir::FromServer
            } else {
                Dir::FromClient
            };
            t.push(
                seg(f, dir, if dir == Dir::FromServer { 1448 } else { 0 }),
                false,
            );
        }
        t.push(seg(1001, Dir::FromServer, 0), true);
        t.push(seg(1002, Dir::FromClient, 10), false);
        assert_eq!(t.events.len(), 4);
        let EventKind::Run(run) = &t.events[1].kind else {
            panic!()
        };
        assert_eq!(run.last_frame, 1000);
        assert_eq!(run.packets, [499, 500]);
        assert_eq!(run.bytes, [0, 500 * 1448]);
    }

    #[test]
    fn socket_events_go_in_time_order() {
        let mut t = Timeline::new(TimelineMode::Collapsed, 100);
        t.push(seg(1, Dir::FromClient, 0), true);
        t.push(seg(2, Dir::FromServer, 0), true);
        t.push(seg(3, Dir::FromClient, 0), true);
        // A poll taken between frames 2 and 3, joined after frame 3 was read.
        t.push_other(Event {
            frame: 3,
            ts: Ts(2500),
            dir: Dir::FromServer,
            kind: EventKind::Socket { index: 0 },
        });
        let kinds: Vec<(u64, i64)> = t.events.iter().map(|e| (e.frame, e.ts.0)).collect();
        assert_eq!(kinds, vec![(1, 1000), (2, 2000), (2, 2500), (3, 3000)]);
        // A later one goes at the end and ends the run being collapsed.
        t.push_other(Event {
            frame: 3,
            ts: Ts(3500),
            dir: Dir::FromServer,
            kind: EventKind::Socket { index: 1 },
        });
        t.push(seg(4, Dir::FromClient, 1), false);
        t.push(seg(5, Dir::FromClient, 1), false);
        assert_eq!(t.events.len(), 6);
        assert!(matches!(t.events[4].kind, EventKind::Socket { index: 1 }));
        assert!(matches!(t.events[5].kind, EventKind::Run(_)));
    }

    #[test]
    fn full_mode_keeps_everything_and_cap_holds() {
        let mut t = Timeline::new(TimelineMode::Full, 10);
        for f in 1..=20 {
            t.push(seg(f, Dir::FromClient, 1), false);
        }
        assert_eq!(t.events.len(), 10);
        assert_eq!(t.dropped, 10);
    }
}
