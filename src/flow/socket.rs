//! The kernel's own view of a connection: socket snapshots (what sock_diag / `ss -tino`
//! report) joined to the flow they belong to. Pure data and rules, no OS calls: the
//! live source turns netlink replies into `SockSnap`s and this module decides what a
//! flow keeps.
//!
//! A flow keeps the latest snapshot of each local endpoint, and a short
//! history of the snapshots in which something that matters changed (state, timer,
//! retransmission/probe counters, queues turning non-empty); each of those becomes a
//! timeline event. A snapshot that only moves the timer's countdown or the RTT is
//! remembered as the latest one but adds no event.
//!
//! A socket may live in another network namespace than the capture's (a container
//! behind the host's bridge): it then carries that namespace's label, and it may
//! know the connection under its translated 4-tuple (a DNAT port forward), which
//! the flow's `NatPair` maps to the flow's own ends.

use std::sync::Arc;

use super::nat::NatPair;
use crate::model::netns::NetnsLabel;
use crate::model::socket::{TcpState, TimerKind};
use crate::model::{Dir, Endpoint, Ts};

/// Most snapshots kept in a flow's history (each is one timeline event).
pub const MAX_SOCKET_HISTORY: usize = 64;

/// The latest runs of unchanged polls kept for the analyzers whatever the history
/// holds: on a busy connection the history fills within a minute, and the moments
/// that matter (the poll before a RST, a stall's end) come last.
const RECENT_RUNS: usize = 16;

/// A run of polls that showed the same state: its first and its last poll.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    pub first: SockSnap,
    pub last: SockSnap,
}

/// The kernel's TCP state number by the JSON name the sockets report uses
/// ("ESTABLISHED", "TIME_WAIT", ...).
pub fn state_name(state: u8) -> &'static str {
    TcpState::from_kernel(state).as_str()
}

pub const STATE_ESTABLISHED: u8 = TcpState::Established as u8;
pub const STATE_LISTEN: u8 = TcpState::Listen as u8;

/// inet_diag_msg.idiag_timer numbers (`SockSnap::timer`; 0 is no timer).
pub const TIMER_ON: u8 = TimerKind::On as u8;
pub const TIMER_KEEPALIVE: u8 = TimerKind::Keepalive as u8;
pub const TIMER_PERSIST: u8 = TimerKind::Persist as u8;

/// inet_diag_msg.idiag_timer, named as `ss -o` names it ("off" for none).
pub fn timer_name(timer: u8) -> &'static str {
    TimerKind::name_of(timer)
}

/// The tcp_info fields the analysis uses (absent for TIME_WAIT and request sockets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfoLite {
    /// tcpi_retransmits: consecutive RTO expiries for the current data.
    pub retransmits: u8,
    /// tcpi_probes: unanswered keepalive / zero-window probes.
    pub probes: u8,
    pub backoff: u8,
    pub rto_us: u32,
    pub rtt_us: u32,
    pub rttvar_us: u32,
    pub unacked: u32,
    pub lost: u32,
    pub total_retrans: u32,
    pub snd_cwnd: u32,
    /// tcpi_notsent_bytes (0 when the kernel does not report it).
    pub notsent_bytes: u32,
    pub last_data_recv_ms: u32,
    pub last_ack_recv_ms: u32,
}

/// One socket at one poll, with addresses already normalised (no `::ffff:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SockSnap {
    /// Wall-clock time of the poll (the same clock as packet timestamps).
    pub at: Ts,
    pub local: Endpoint,
    pub remote: Endpoint,
    pub state: u8,
    pub timer: u8,
    pub timer_expires_ms: u32,
    /// idiag_retrans: retransmissions for the `on` timer, probes for keepalive/persist.
    pub timer_retrans: u8,
    pub recv_q: u32,
    pub send_q: u32,
    pub inode: u64,
    pub info: Option<TcpInfoLite>,
}

impl SockSnap {
    /// What must differ for a snapshot to become a timeline event.
    fn signature(&self) -> [u32; 10] {
        let i = self.info.unwrap_or_default();
        [
            u32::from(self.state),
            u32::from(self.timer),
            u32::from(self.timer_retrans),
            u32::from(i.retransmits),
            u32::from(i.probes),
            u32::from(i.backoff),
            i.total_retrans,
            u32::from(i.unacked > 0),
            u32::from(i.notsent_bytes > 0 || self.send_q > 0),
            u32::from(self.recv_q > 0),
        ]
    }

    /// `timer:(on, 3.2 s, 4 retransmits)` as in `ss -o`, spelled out.
    pub fn timer_text(&self) -> String {
        let what = match self.timer {
            TIMER_ON => "retransmits",
            TIMER_KEEPALIVE | TIMER_PERSIST => "probes",
            _ => "",
        };
        let mut s = format!(
            "timer:({}, {:.1} s",
            timer_name(self.timer),
            f64::from(self.timer_expires_ms) / 1000.0
        );
        if !what.is_empty() {
            s.push_str(&format!(", {} {what}", self.timer_retrans));
        }
        s.push(')');
        s
    }

    /// State, timer, and the tcp_info numbers that matter, on one line
    /// ("ESTABLISHED timer:(on, 0.4 s, 2 retransmits) rtt 0.21/0.1 ms ...").
    pub fn describe(&self) -> String {
        let mut s = state_name(self.state).to_string();
        if self.timer != 0 {
            s.push(' ');
            s.push_str(&self.timer_text());
        }
        if let Some(i) = self.info {
            s.push_str(&format!(
                " rtt {}/{} ms rto {} ms",
                ms_text(i.rtt_us),
                ms_text(i.rttvar_us),
                i.rto_us / 1000
            ));
            if i.unacked > 0 {
                s.push_str(&format!(" unacked {}", i.unacked));
            }
            if i.retransmits > 0 || i.total_retrans > 0 {
                s.push_str(&format!(" retrans {}/{}", i.retransmits, i.total_retrans));
            }
            if i.probes > 0 {
                s.push_str(&format!(" probes {}", i.probes));
            }
            if i.backoff > 0 {
                s.push_str(&format!(" backoff {}", i.backoff));
            }
            if i.notsent_bytes > 0 {
                s.push_str(&format!(" notsent {}", i.notsent_bytes));
            }
        }
        if self.send_q > 0 || self.recv_q > 0 {
            s.push_str(&format!(" send-q {} recv-q {}", self.send_q, self.recv_q));
        }
        s
    }
}

/// Microseconds as milliseconds with the digits that matter (0.031, 1.25, 210).
fn ms_text(us: u32) -> String {
    let ms = f64::from(us) / 1000.0;
    if ms < 1.0 {
        format!("{ms:.3}")
    } else if ms < 100.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.0}")
    }
}

/// The snapshots of one local endpoint of a flow.
#[derive(Clone, Debug)]
pub struct LocalSocket {
    /// The latest poll (the first one is `history[0]`).
    pub last: SockSnap,
    pub polls: u32,
    /// Snapshots where something changed, oldest first (at most MAX_SOCKET_HISTORY).
    pub history: Vec<SockSnap>,
    /// For each history entry, the last poll that still showed it unchanged (the
    /// entry itself when the next poll changed something): the kernel's latest word
    /// before a moment, not the older poll where that state began.
    pub last_unchanged: Vec<SockSnap>,
    /// Changes that did not fit in the history.
    pub history_dropped: u32,
    /// The latest RECENT_RUNS runs, oldest first, kept even after the history is full.
    pub recent: std::collections::VecDeque<Run>,
    /// The network namespace the socket lives in when it is not the capture's own.
    pub netns: Option<Arc<NetnsLabel>>,
}

impl LocalSocket {
    /// Whether the socket is the capture's own namespace's ("this host").
    pub fn is_this_host(&self) -> bool {
        self.netns.is_none()
    }

    /// The latest poll taken at or before `t`, as far as it is known: polls that
    /// changed nothing are kept only as the last one of each unchanged run.
    pub fn at_or_before(&self, t: Ts) -> Option<&SockSnap> {
        if self.last.at <= t {
            return Some(&self.last);
        }
        let run = match self.recent.iter().rev().find(|r| r.first.at <= t) {
            Some(run) => run,
            // Older than the recent runs: the history's runs (its first polls).
            None => {
                let i = self.history.iter().rposition(|s| s.at <= t)?;
                return match self.last_unchanged.get(i) {
                    Some(latest) if latest.at <= t => Some(latest),
                    _ => Some(&self.history[i]),
                };
            }
        };
        // The run goes on past `t` when its last poll is later: the poll just before
        // `t` is one of those not kept, so answer with the run's first (same state).
        Some(if run.last.at <= t {
            &run.last
        } else {
            &run.first
        })
    }

    /// The changes seen within [from, to], in time order: the history's and the
    /// recent runs' (they overlap while the history has room).
    pub fn between(&self, from: Ts, to: Ts) -> impl Iterator<Item = &SockSnap> {
        let mut seen: Vec<&SockSnap> = self
            .history
            .iter()
            .chain(self.recent.iter().map(|r| &r.first))
            .filter(|s| s.at >= from && s.at <= to)
            .collect();
        seen.sort_by_key(|s| s.at);
        seen.dedup_by_key(|s| s.at);
        seen.into_iter()
    }

    fn note_run(&mut self, snap: SockSnap, changed: bool) {
        match self.recent.back_mut() {
            Some(run) if !changed => run.last = snap,
            _ => {
                if self.recent.len() >= RECENT_RUNS {
                    self.recent.pop_front();
                }
                self.recent.push_back(Run {
                    first: snap,
                    last: snap,
                });
            }
        }
    }
}

/// The local endpoints of a flow (both, on loopback), indexed by `Dir::idx()` of the
/// direction that endpoint sends in (the client's socket sends `FromClient`).
#[derive(Clone, Debug, Default)]
pub struct LocalSockets {
    pub sides: [Option<LocalSocket>; 2],
}

impl LocalSockets {
    /// Heap bytes (the box and each side's histories), for the memory budget.
    pub fn heap_bytes(&self) -> usize {
        use crate::budget::{vec_bytes, BLOCK_OVERHEAD};
        std::mem::size_of::<LocalSockets>()
            + BLOCK_OVERHEAD
            + self
                .sides
                .iter()
                .flatten()
                .map(|s| {
                    vec_bytes(&s.history)
                        + vec_bytes(&s.last_unchanged)
                        + s.recent.capacity() * std::mem::size_of::<Run>()
                })
                .sum::<usize>()
    }
}

/// What `record` did with a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Something changed: the snapshot is history entry `index`, sent by `dir`'s endpoint.
    Changed { dir: Dir, index: u16 },
    /// Nothing that matters changed (or the history is full): only the latest is updated.
    Unchanged,
    /// The snapshot's local endpoint is neither end of the flow.
    NotThisFlow,
}

/// Which end of the flow (client, server) sends from `local` to `remote`: the
/// flow's own tuple, or the other tuple of its NAT pair.
pub fn dir_of(
    client: Endpoint,
    server: Endpoint,
    nat: Option<&NatPair>,
    local: Endpoint,
    remote: Endpoint,
) -> Option<Dir> {
    if local == client && remote == server {
        return Some(Dir::FromClient);
    }
    if local == server && remote == client {
        return Some(Dir::FromServer);
    }
    let nat = nat?;
    let end = nat.end_of(local, remote)?;
    let client_end = nat.end_of(client, server)?;
    Some(if end == client_end {
        Dir::FromClient
    } else {
        Dir::FromServer
    })
}

impl LocalSockets {
    /// Adds a snapshot of one of the flow's endpoints, given the flow's client/server,
    /// from the capture's own namespace.
    pub fn record(&mut self, client: Endpoint, server: Endpoint, snap: SockSnap) -> Recorded {
        self.record_in(client, server, None, snap, None)
    }

    /// Adds a snapshot taken in namespace `netns` (None: the capture's own), which
    /// may know the connection under the other tuple of `nat`. A side keeps the
    /// namespace of its first snapshot: another namespace's socket with the same
    /// addresses is not this flow's.
    pub fn record_in(
        &mut self,
        client: Endpoint,
        server: Endpoint,
        nat: Option<&NatPair>,
        snap: SockSnap,
        netns: Option<&Arc<NetnsLabel>>,
    ) -> Recorded {
        let Some(dir) = dir_of(client, server, nat, snap.local, snap.remote) else {
            return Recorded::NotThisFlow;
        };
        let slot = &mut self.sides[dir.idx()];
        if let Some(sock) = slot.as_ref() {
            let inode = |n: Option<&Arc<NetnsLabel>>| n.map(|l| l.inode);
            if inode(sock.netns.as_ref()) != inode(netns) {
                return Recorded::NotThisFlow;
            }
        }
        let Some(sock) = slot else {
            let mut sock = LocalSocket {
                last: snap,
                polls: 1,
                history: vec![snap],
                last_unchanged: vec![snap],
                history_dropped: 0,
                recent: Default::default(),
                netns: netns.cloned(),
            };
            sock.note_run(snap, true);
            *slot = Some(sock);
            return Recorded::Changed { dir, index: 0 };
        };
        sock.polls += 1;
        let changed = sock.last.signature() != snap.signature();
        sock.last = snap;
        sock.note_run(snap, changed);
        if !changed {
            // Extends the latest run, unless changes were dropped since it began.
            if sock.history_dropped == 0 {
                if let Some(latest) = sock.last_unchanged.last_mut() {
                    *latest = snap;
                }
            }
            return Recorded::Unchanged;
        }
        if sock.history.len() >= MAX_SOCKET_HISTORY {
            sock.history_dropped += 1;
            return Recorded::Unchanged;
        }
        sock.history.push(snap);
        sock.last_unchanged.push(snap);
        Recorded::Changed {
            dir,
            index: (sock.history.len() - 1) as u16,
        }
    }

    /// The snapshot behind a socket timeline event (`EventKind::Socket`).
    pub fn snapshot(&self, dir: Dir, index: u16) -> Option<&SockSnap> {
        self.sides[dir.idx()]
            .as_ref()?
            .history
            .get(usize::from(index))
    }

    /// The local endpoint's socket when exactly one end of the flow is on this host.
    pub fn only(&self) -> Option<(Dir, &LocalSocket)> {
        match &self.sides {
            [Some(c), None] => Some((Dir::FromClient, c)),
            [None, Some(s)] => Some((Dir::FromServer, s)),
            _ => None,
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

    fn snap(secs: f64, timer: u8, retrans: u8, expires_ms: u32, rtt_us: u32) -> SockSnap {
        SockSnap {
            at: Ts::from_secs_f64(secs),
            local: ep("192.0.2.1:80"),
            remote: ep("192.0.2.10:40000"),
            state: STATE_ESTABLISHED,
            timer,
            timer_expires_ms: expires_ms,
            timer_retrans: retrans,
            recv_q: 0,
            send_q: 0,
            inode: 7,
            info: Some(TcpInfoLite {
                rtt_us,
                rto_us: 201_000,
                ..TcpInfoLite::default()
            }),
        }
    }

    #[test]
    fn only_changes_become_events() {
        let client = ep("192.0.2.10:40000");
        let server = ep("192.0.2.1:80");
        let mut l = LocalSockets::default();
        assert_eq!(
            l.record(client, server, snap(1.0, 0, 0, 0, 100)),
            Recorded::Changed {
                dir: Dir::FromServer,
                index: 0
            }
        );
        // RTT moved, timer still off: no event, but the latest is kept.
        assert_eq!(
            l.record(client, server, snap(1.5, 0, 0, 0, 900)),
            Recorded::Unchanged
        );
        assert_eq!(l.sides[1].as_ref().unwrap().last.info.unwrap().rtt_us, 900);
        // Retransmission timer starts, then counts up: each is an event.
        assert!(matches!(
            l.record(client, server, snap(2.0, 1, 0, 200, 900)),
            Recorded::Changed { index: 1, .. }
        ));
        assert_eq!(
            l.record(client, server, snap(2.5, 1, 0, 100, 900)),
            Recorded::Unchanged
        );
        assert!(matches!(
            l.record(client, server, snap(3.0, 1, 1, 400, 900)),
            Recorded::Changed { index: 2, .. }
        ));
        let s = l.only().unwrap();
        assert_eq!(s.0, Dir::FromServer);
        assert_eq!(s.1.polls, 5);
        // Just before the change at 3.0 s the kernel's latest word is the unchanged
        // poll at 2.5 s (its own expiry), not the 2.0 s poll where the timer started.
        let at_2_7 = s.1.at_or_before(Ts::from_secs_f64(2.7)).unwrap();
        assert_eq!(at_2_7.timer_retrans, 0);
        assert_eq!(at_2_7.at, Ts::from_secs_f64(2.5));
        assert_eq!(at_2_7.timer_expires_ms, 100);
        // Between 2.0 and 2.5 s the poll just before is not kept: the run's first.
        let at_2_2 = s.1.at_or_before(Ts::from_secs_f64(2.2)).unwrap();
        assert_eq!(at_2_2.at, Ts::from_secs_f64(2.0));
        // Before the first poll: nothing.
        assert!(s.1.at_or_before(Ts::from_secs_f64(0.5)).is_none());
        assert_eq!(s.1.last.timer_text(), "timer:(on, 0.4 s, 1 retransmits)");
    }

    #[test]
    fn a_container_socket_joins_under_the_translated_tuple() {
        // The flow as the uplink saw it: client -> the host's port forward.
        let client = ep("198.51.100.2:40000");
        let server = ep("198.51.100.1:8080");
        let nat = NatPair {
            orig_src: client,
            orig_dst: server,
            reply_src: ep("172.30.0.2:80"),
            reply_dst: client,
        };
        let c1 = Arc::new(NetnsLabel {
            inode: 4026532301,
            name: Some("c1".into()),
            pid: Some(812),
            container: None,
        });
        let mut s = snap(1.0, 0, 0, 0, 100);
        s.local = ep("172.30.0.2:80");
        s.remote = client;
        let mut l = LocalSockets::default();
        // Without the pair the container's socket is not this flow's.
        assert_eq!(l.record(client, server, s), Recorded::NotThisFlow);
        assert_eq!(
            l.record_in(client, server, Some(&nat), s, Some(&c1)),
            Recorded::Changed {
                dir: Dir::FromServer,
                index: 0
            }
        );
        let (dir, sock) = l.only().unwrap();
        assert_eq!(dir, Dir::FromServer);
        assert!(!sock.is_this_host());
        assert_eq!(sock.netns.as_ref().unwrap().name.as_deref(), Some("c1"));
        // The socket keeps its own address.
        assert_eq!(sock.last.local, ep("172.30.0.2:80"));
        // Another namespace's socket with the same addresses is someone else's.
        let other = Arc::new(NetnsLabel {
            inode: 4026532999,
            ..(*c1).clone()
        });
        s.at = Ts::from_secs_f64(2.0);
        assert_eq!(
            l.record_in(client, server, Some(&nat), s, Some(&other)),
            Recorded::NotThisFlow
        );
        assert_eq!(
            l.record_in(client, server, Some(&nat), s, None),
            Recorded::NotThisFlow
        );
        assert_eq!(
            l.record_in(client, server, Some(&nat), s, Some(&c1)),
            Recorded::Unchanged
        );
    }

    #[test]
    fn other_tuples_are_refused_and_history_is_capped() {
        let client = ep("192.0.2.10:40000");
        let server = ep("192.0.2.1:80");
        let mut l = LocalSockets::default();
        let mut other = snap(1.0, 0, 0, 0, 1);
        other.remote = ep("192.0.2.11:40000");
        assert_eq!(l.record(client, server, other), Recorded::NotThisFlow);
        for i in 0..200u32 {
            l.record(client, server, snap(f64::from(i), 1, (i % 250) as u8, 0, 1));
        }
        let s = l.sides[1].as_ref().unwrap();
        assert_eq!(s.history.len(), MAX_SOCKET_HISTORY);
        assert_eq!(s.history_dropped, 200 - MAX_SOCKET_HISTORY as u32);
        assert_eq!(s.polls, 200);
    }

    #[test]
    fn late_changes_stay_visible_after_the_history_is_full() {
        let client = ep("192.0.2.10:40000");
        let server = ep("192.0.2.1:80");
        let mut l = LocalSockets::default();
        // A busy connection: every poll changes something, 100 polls 1 s apart.
        for i in 0..100u32 {
            l.record(client, server, snap(f64::from(i), 1, (i % 200) as u8, 0, 1));
        }
        // Then the timer stops changing for three polls (98..100 s unchanged runs
        // aside, the last change is at 99 s).
        for i in 100..103u32 {
            l.record(client, server, snap(f64::from(i), 1, 99, 0, 1));
        }
        let s = l.sides[1].as_ref().unwrap();
        assert_eq!(s.history.len(), MAX_SOCKET_HISTORY);
        // The poll just before 99.5 s is the one at 99 s, not a history entry from
        // the first minute.
        let before = s.at_or_before(Ts::from_secs_f64(99.5)).unwrap();
        assert_eq!(before.at, Ts::from_secs_f64(99.0));
        // Within the unchanged run, the run's latest poll at or before the moment.
        assert_eq!(
            s.at_or_before(Ts::from_secs_f64(101.5)).unwrap().at,
            Ts::from_secs_f64(99.0)
        );
        assert_eq!(
            s.at_or_before(Ts::from_secs_f64(200.0)).unwrap().at,
            Ts::from_secs_f64(102.0)
        );
        // Changes in a late window are found although the history stopped at 63 s.
        let late: Vec<f64> = s
            .between(Ts::from_secs_f64(95.0), Ts::from_secs_f64(98.0))
            .map(|x| x.at.secs_f64())
            .collect();
        assert_eq!(late, [95.0, 96.0, 97.0, 98.0]);
        // Early ones still come from the history.
        assert_eq!(
            s.at_or_before(Ts::from_secs_f64(10.5)).unwrap().at,
            Ts::from_secs_f64(10.0)
        );
    }
}
