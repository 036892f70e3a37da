//! Polls the kernel's socket state on a timer, in a thread of its own, while the
//! capture runs on the main thread. Each poll becomes one `PollBatch` (wall-clock
//! time, the snapshots or the error) sent over a channel; the main thread joins the
//! snapshots to flows between packet reads. The thread inherits the network
//! namespace the capture entered.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::flow::socket::SockSnap;
use crate::model::netns::NetnsLabel;
use crate::model::Ts;

/// What one poll read: the sockets (listeners included) and the namespace's
/// ListenOverflows / ListenDrops counters when they could be read; with
/// `--all-netns` the sockets of the linked namespaces; and conntrack's translated
/// connections (read after the sockets, so every socket's connection is in it).
#[derive(Debug, Default)]
pub struct PollData {
    pub snaps: Vec<SockSnap>,
    pub listen_counters: Option<(u64, u64)>,
    /// Sockets of other namespaces, by namespace.
    pub other_netns: Vec<(std::sync::Arc<NetnsLabel>, Vec<SockSnap>)>,
    /// Other namespaces whose dump failed: why.
    pub netns_errors: Vec<String>,
    /// Conntrack's dump (None when not read: no conntrack, or --no-sockets).
    pub nat: Option<Result<super::conntrack::NatDump, String>>,
}

/// One poll's result.
pub struct PollBatch {
    pub at: Ts,
    pub snaps: Result<PollData, String>,
    /// How long the dump took.
    pub took: Duration,
}

/// One dump of the sockets of interest (the sock_diag adapter); the snapshots carry
/// the poll's time, given.
pub type DumpFn = Box<dyn FnMut(Ts) -> Result<PollData, String> + Send>;

pub struct Poller {
    rx: Receiver<PollBatch>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

/// Wall-clock now, on the packet timestamps' clock (CLOCK_REALTIME).
pub fn wall_now() -> Ts {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Ts::from_secs_nanos(d.as_secs() as i64, i64::from(d.subsec_nanos()))
}

impl Poller {
    /// Polls right away, then every `interval`, until `stop`.
    pub fn start(interval: Duration, mut dump: DumpFn) -> Poller {
        let (tx, rx) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let interval = interval.max(Duration::from_millis(10));
        let handle = std::thread::Builder::new()
            .name("sockpoll".into())
            .spawn(move || {
                let mut next = Instant::now();
                while !flag.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let at = wall_now();
                    let snaps = dump(at);
                    let batch = PollBatch {
                        at,
                        snaps,
                        took: started.elapsed(),
                    };
                    if tx.send(batch).is_err() {
                        return;
                    }
                    next += interval;
                    // A slow poll does not queue up missed ones.
                    let now = Instant::now();
                    if next < now {
                        next = now;
                    }
                    while !flag.load(Ordering::Relaxed) {
                        let now = Instant::now();
                        if now >= next {
                            break;
                        }
                        std::thread::sleep((next - now).min(Duration::from_millis(20)));
                    }
                }
            })
            .ok();
        Poller { rx, stop, handle }
    }

    /// Batches that arrived so far.
    pub fn batches(&self) -> impl Iterator<Item = PollBatch> + '_ {
        self.rx.try_iter()
    }

    /// Stops the thread and returns the batches not yet taken.
    pub fn stop(mut self) -> Vec<PollBatch> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.rx.try_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_at_once_then_on_the_interval_and_stops() {
        let mut n = 0;
        let p = Poller::start(
            Duration::from_millis(30),
            Box::new(move |_| {
                n += 1;
                if n == 2 {
                    Err("boom".into())
                } else {
                    Ok(PollData::default())
                }
            }),
        );
        std::thread::sleep(Duration::from_millis(100));
        let got = p.stop();
        assert!(got.len() >= 3 && got.len() <= 6, "{}", got.len());
        assert!(got[1].snaps.is_err());
        assert!(got.windows(2).all(|w| w[0].at <= w[1].at));
    }
}

/// The TCP ports a simple BPF filter restricts the capture to, so the socket polls
/// can be filtered in the kernel the same way. Only filters whose every packet must
/// carry one of the ports qualify: port terms joined by `or`/`and`, optionally with
/// `tcp`, `src`/`dst` and `host ADDR` terms joined by `and`. Anything else (`not`,
/// `portrange`, `net`, `host` or a bare `tcp` in an `or`, ...) gives None: poll
/// every TCP socket.
pub fn ports_of_filter(expr: &str) -> Option<Vec<u16>> {
    let spaced = expr.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut ports = Vec::new();
    let mut has_or = false;
    let mut has_host = false;
    // A `tcp` that qualifies nothing ("tcp or port 80"): in an `or` it lets every
    // TCP packet through.
    let mut bare_tcp = false;
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            "port" => {
                let p: u16 = tokens.get(i + 1)?.parse().ok()?;
                ports.push(p);
                i += 2;
                continue;
            }
            "host" => {
                let a = tokens.get(i + 1)?;
                a.parse::<std::net::IpAddr>().ok()?;
                has_host = true;
                i += 2;
                continue;
            }
            "or" | "||" => has_or = true,
            "tcp" => {
                bare_tcp |= !matches!(
                    tokens.get(i + 1),
                    Some(&("port" | "src" | "dst" | "and" | "&&"))
                );
            }
            "and" | "&&" | "src" | "dst" | "(" | ")" => {}
            _ => return None,
        }
        i += 1;
    }
    if ports.is_empty() || (has_or && (has_host || bare_tcp)) {
        return None;
    }
    // "port 80 and port 8080" (both ends) still only ever involves those ports.
    ports.sort_unstable();
    ports.dedup();
    Some(ports)
}

/// Whether the port-filtered polls see exactly the connections the filter lets
/// through (ports only, no `host` term), so a polled socket without packets really
/// had none. The polls ask for any of the ports, so port terms joined by `and`
/// ("port 80 and port 8080": both ends) let through fewer connections than are
/// polled; an `and` that only adds `tcp` changes nothing.
pub fn polls_mirror_filter(expr: &str) -> bool {
    let spaced = expr.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let narrowing_and = tokens.iter().enumerate().any(|(i, t)| {
        matches!(*t, "and" | "&&")
            && i.checked_sub(1).and_then(|p| tokens.get(p)) != Some(&"tcp")
            && tokens.get(i + 1) != Some(&"tcp")
    });
    ports_of_filter(expr).is_some() && !tokens.contains(&"host") && !narrowing_and
}

#[cfg(test)]
mod filter_tests {
    use super::{polls_mirror_filter, ports_of_filter};

    #[test]
    fn simple_port_filters_give_their_ports() {
        assert_eq!(ports_of_filter("port 443"), Some(vec![443]));
        assert_eq!(
            ports_of_filter("tcp port 80 or port 8080"),
            Some(vec![80, 8080])
        );
        assert_eq!(
            ports_of_filter("host 192.0.2.1 and (tcp dst port 25)"),
            Some(vec![25])
        );
        assert_eq!(ports_of_filter("tcp"), None);
        assert_eq!(ports_of_filter("not port 22"), None);
        assert_eq!(ports_of_filter("port 80 or host 192.0.2.1"), None);
        assert_eq!(ports_of_filter("portrange 1-100"), None);
        assert_eq!(ports_of_filter("port http"), None);
        assert_eq!(ports_of_filter("udp port 53"), None);
        // A bare `tcp` in an `or` lets every TCP port through.
        assert_eq!(ports_of_filter("tcp or port 80"), None);
        assert_eq!(ports_of_filter("port 80 or tcp"), None);
        assert!(!polls_mirror_filter("port 80 or tcp"));
        assert_eq!(ports_of_filter("port 80 and tcp"), Some(vec![80]));
        assert_eq!(
            ports_of_filter("tcp and (port 80 or port 443)"),
            Some(vec![80, 443])
        );
        assert!(polls_mirror_filter("tcp port 80 or port 8080"));
        assert!(!polls_mirror_filter("host 192.0.2.1 and port 80"));
        assert!(!polls_mirror_filter("tcp"));
        // Both ports at once: a socket with only one of them is polled but filtered out.
        assert!(!polls_mirror_filter("port 80 and port 8080"));
        assert!(!polls_mirror_filter(
            "tcp port 80 && (port 443 or port 8080)"
        ));
        assert!(polls_mirror_filter("tcp and (port 80 or port 443)"));
        assert!(polls_mirror_filter("port 80 and tcp"));
    }
}
