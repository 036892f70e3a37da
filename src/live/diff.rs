//! Snapshot N vs N+1 for `watch`: sockets that appeared or went, state transitions
//! and timer changes, keyed by the 4-tuple (so ESTABLISHED -> FIN-WAIT-1 ->
//! TIME_WAIT is one socket changing state, although the kernel swaps in a new
//! TIME_WAIT object) or, for sockets without a peer (LISTEN), by the kernel cookie.

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::model::socket::{SocketInfo, TcpState, Timer, TimerKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    /// The namespace's inode (0 without `--all-netns`) and the 4-tuple: the same
    /// addresses in two namespaces are two sockets.
    Pair(u64, SocketAddr, SocketAddr),
    /// Cookies are unique across namespaces.
    Cookie(u64),
}

pub fn key(s: &SocketInfo) -> Key {
    if s.peer.port() == 0 {
        Key::Cookie(s.cookie)
    } else {
        Key::Pair(s.netns.as_ref().map_or(0, |n| n.inode), s.local, s.peer)
    }
}

#[derive(Debug)]
pub enum Change<'a> {
    New(&'a SocketInfo),
    Gone(&'a SocketInfo),
    State {
        from: TcpState,
        socket: &'a SocketInfo,
    },
    Timer {
        from: Option<Timer>,
        socket: &'a SocketInfo,
    },
}

/// Whether a timer change is worth a line: a retransmission or probe count moved,
/// or a persist timer started/stopped. A retransmission timer that is armed and
/// disarmed with every send is not (it would drown everything on a busy host).
pub fn timer_changed(a: Option<Timer>, b: Option<Timer>) -> bool {
    let count = |t: Option<Timer>| t.map_or(0, |t| t.count);
    let name = |t: Option<Timer>| t.map(|t| t.name);
    let persist = |t: Option<Timer>| name(t) == Some(TimerKind::Persist);
    if name(a) == name(b) && count(a) == count(b) {
        return false;
    }
    count(a) > 0 || count(b) > 0 || persist(a) || persist(b)
}

/// Changes from the previous poll's sockets to `cur` (nothing without a previous
/// poll: the first one is the baseline). Both polls are borrowed: the caller keeps
/// the previous snapshot anyway, so nothing is copied.
pub fn diff<'a>(prev: Option<&'a [SocketInfo]>, cur: &'a [SocketInfo]) -> Vec<Change<'a>> {
    let Some(prev) = prev else {
        return Vec::new();
    };
    let mut before: HashMap<Key, &SocketInfo> = prev.iter().map(|s| (key(s), s)).collect();
    let mut changes = Vec::new();
    for s in cur {
        match before.remove(&key(s)) {
            None => changes.push(Change::New(s)),
            Some(old) => {
                if old.state != s.state {
                    changes.push(Change::State {
                        from: old.state,
                        socket: s,
                    });
                }
                if timer_changed(old.timer, s.timer) {
                    changes.push(Change::Timer {
                        from: old.timer,
                        socket: s,
                    });
                }
            }
        }
    }
    let mut gone: Vec<&SocketInfo> = before.into_values().collect();
    gone.sort_by(|a, b| a.local.cmp(&b.local).then(a.peer.cmp(&b.peer)));
    changes.extend(gone.into_iter().map(Change::Gone));
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(state: TcpState, local: &str, peer: &str, timer: Option<(TimerKind, u8)>) -> SocketInfo {
        SocketInfo {
            timer: timer.map(|(name, count)| Timer {
                name,
                expires_s: 1.0,
                count,
            }),
            cookie: 7,
            ..SocketInfo::bare(state, local, peer)
        }
    }

    #[test]
    fn transitions_new_gone_and_timers() {
        let a = vec![
            s(TcpState::Listen, "0.0.0.0:80", "0.0.0.0:0", None),
            s(TcpState::Established, "10.0.0.1:80", "10.0.0.2:5000", None),
            s(
                TcpState::Established,
                "10.0.0.1:80",
                "10.0.0.2:5001",
                Some((TimerKind::On, 0)),
            ),
            s(
                TcpState::Established,
                "10.0.0.1:80",
                "10.0.0.2:5002",
                Some((TimerKind::Keepalive, 0)),
            ),
        ];
        assert!(diff(None, &a).is_empty(), "the first poll is the baseline");
        let b = vec![
            s(TcpState::Listen, "0.0.0.0:80", "0.0.0.0:0", None),
            s(
                TcpState::TimeWait,
                "10.0.0.1:80",
                "10.0.0.2:5000",
                Some((TimerKind::Timewait, 0)),
            ),
            // A plain RTO timer being re-armed: not a change worth a line.
            s(TcpState::Established, "10.0.0.1:80", "10.0.0.2:5001", None),
            s(
                TcpState::Established,
                "10.0.0.1:80",
                "10.0.0.2:5002",
                Some((TimerKind::Keepalive, 1)),
            ),
            s(
                TcpState::SynRecv,
                "10.0.0.1:80",
                "10.0.0.3:6000",
                Some((TimerKind::On, 0)),
            ),
        ];
        let ch = diff(Some(&a), &b);
        let kinds: Vec<String> = ch
            .iter()
            .map(|c| match c {
                Change::New(s) => format!("new {}", s.peer),
                Change::Gone(s) => format!("gone {}", s.peer),
                Change::State { from, socket } => {
                    format!("state {} {:?}->{:?}", socket.peer, from, socket.state)
                }
                Change::Timer { from, socket } => format!(
                    "timer {} {:?}->{:?}",
                    socket.peer,
                    from.map(|t| t.count),
                    socket.timer.map(|t| t.count)
                ),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                "state 10.0.0.2:5000 Established->TimeWait",
                "timer 10.0.0.2:5002 Some(0)->Some(1)",
                "new 10.0.0.3:6000",
            ]
        );
        let c = vec![s(TcpState::Listen, "0.0.0.0:80", "0.0.0.0:0", None)];
        let ch = diff(Some(&b), &c);
        assert_eq!(
            ch.iter().filter(|c| matches!(c, Change::Gone(_))).count(),
            4
        );
    }

    #[test]
    fn timer_noise_filter() {
        let t = |name, count| {
            Some(Timer {
                name,
                expires_s: 0.2,
                count,
            })
        };
        assert!(!timer_changed(None, t(TimerKind::On, 0)));
        assert!(timer_changed(t(TimerKind::On, 1), t(TimerKind::On, 2)));
        assert!(timer_changed(None, t(TimerKind::Persist, 0)));
        assert!(!timer_changed(
            t(TimerKind::Keepalive, 0),
            t(TimerKind::Keepalive, 0)
        ));
    }

    #[test]
    fn the_same_tuple_in_two_namespaces_is_two_sockets() {
        let label = |inode| crate::model::netns::NetnsLabel {
            inode,
            name: None,
            pid: None,
            container: None,
        };
        let mut a = s(
            TcpState::Established,
            "127.0.0.1:80",
            "127.0.0.1:5000",
            None,
        );
        a.netns = Some(label(1));
        let mut b = a.clone();
        b.netns = Some(label(2));
        b.state = TcpState::CloseWait;
        // Namespace 2's socket is new, not namespace 1's changing state.
        let cur = [a.clone(), b];
        let ch = diff(Some(std::slice::from_ref(&a)), &cur);
        assert_eq!(ch.len(), 1);
        assert!(matches!(ch[0], Change::New(s) if s.netns.as_ref().unwrap().inode == 2));
    }
}
