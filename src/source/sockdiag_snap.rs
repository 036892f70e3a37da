//! The capture's socket poller on top of `source::sockdiag`: one netlink socket,
//! opened in the capture's namespace, dumped on every poll (every TCP state,
//! listeners included for their accept queues, kernel-filtered to the capture's
//! ports when the BPF filter gives them), each `SocketInfo` turned into the flow
//! layer's compact `SockSnap`, plus the namespace's ListenOverflows / ListenDrops.
//! With `--all-netns` the namespaces linked to the capture's are dumped too
//! (`netns_dump`); conntrack's translated connections are read after the sockets.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::conntrack::Conntrack;
use super::netns_dump::{MultiDumper, Scope};
use super::sockdiag::{DumpQuery, Dumper, PortRange, ALL_STATES};
use super::sockpoll::{DumpFn, PollData};
use crate::flow::socket::{SockSnap, TcpInfoLite};
use crate::model::socket::SocketInfo;
use crate::model::{Endpoint, Ts};

/// Beyond this many ports one unfiltered dump is cheaper than two per port.
const MAX_FILTER_PORTS: usize = 8;

/// The queries for one poll: every socket, or those with one of `ports` at either
/// end (sport and dport are ANDed in one query, so two each).
pub fn queries(ports: Option<&[u16]>) -> Vec<DumpQuery> {
    queries_for(ports, ALL_STATES)
}

/// TcpExt ListenOverflows and ListenDrops of the calling thread's namespace.
fn listen_counters() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/thread-self/net/netstat").ok()?;
    let mut table = std::collections::BTreeMap::new();
    super::host::counters::parse_table(&text, &mut table);
    Some((
        *table.get("TcpExt.ListenOverflows")?,
        *table.get("TcpExt.ListenDrops")?,
    ))
}

fn queries_for(ports: Option<&[u16]>, states: u32) -> Vec<DumpQuery> {
    let base = DumpQuery {
        states,
        netns: super::netns::Netns::Current,
        tcp_info: true,
        ..DumpQuery::default()
    };
    match ports {
        Some(ports) if !ports.is_empty() && ports.len() <= MAX_FILTER_PORTS => ports
            .iter()
            .flat_map(|&p| {
                let r = Some(PortRange { lo: p, hi: p });
                [
                    DumpQuery {
                        sport: r,
                        ..base.clone()
                    },
                    DumpQuery {
                        dport: r,
                        ..base.clone()
                    },
                ]
            })
            .collect(),
        _ => vec![base],
    }
}

/// Every socket the queries return, each once: a socket with a listed port at
/// both ends comes back from two of them.
fn dump_once(d: &mut Dumper, queries: &[DumpQuery]) -> Result<Vec<SocketInfo>, String> {
    if let [q] = queries {
        return d.dump(q).map_err(|e| e.to_string());
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for q in queries {
        let got = d.dump(q).map_err(|e| e.to_string())?;
        out.extend(got.into_iter().filter(|s| seen.insert(s.cookie)));
    }
    Ok(out)
}

/// What the capture's polls read beyond its own namespace's sockets.
#[derive(Clone, Debug, Default)]
pub struct PollScope {
    /// The sockets of the namespaces linked to the capture's.
    pub all_netns: bool,
    /// Conntrack's translated connections, read only when this count (the flows
    /// the capture has started so far, kept up to date by the capture thread) moved
    /// since the last read: only a new flow can need a pair, and a large table
    /// costs the kernel a walk per read.
    pub conntrack: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

/// How often `--all-netns` looks for namespaces that came or went.
const RESCAN: Duration = Duration::from_secs(2);

/// Where the poller's sockets come from.
enum Sockets {
    Own(Dumper),
    Linked {
        dumpers: MultiDumper,
        scanned: Instant,
    },
}

/// Opens the netlink sockets now (in the calling thread's namespace, which the
/// capture already entered) and returns the dump for the poller thread, plus why
/// conntrack cannot be read when it was asked for and cannot (None: it can, or it
/// was not asked for).
pub fn dumper(ports: Option<&[u16]>, scope: PollScope) -> Result<(DumpFn, Option<String>), String> {
    let mut sockets = if scope.all_netns {
        Sockets::Linked {
            dumpers: MultiDumper::open(Scope::Linked).map_err(|e| e.to_string())?,
            scanned: Instant::now(),
        }
    } else {
        Sockets::Own(Dumper::open(&super::netns::Netns::Current).map_err(|e| e.to_string())?)
    };
    let (mut conntrack, conntrack_error) = match scope.conntrack {
        None => (None, None),
        // No conntrack module: nothing is translated here (and asking would load it).
        Some(_) if !super::conntrack::available() => (
            None,
            Some("no conntrack table in this namespace".to_string()),
        ),
        Some(flows) => match Conntrack::open() {
            Ok(c) => (Some((c, flows, None::<u64>)), None),
            Err(e) => (None, Some(e.to_string())),
        },
    };
    let queries = queries(ports);
    let ports: Option<Vec<u16>> = ports.map(<[u16]>::to_vec);
    Ok((
        Box::new(move |at| {
            let mut data = PollData {
                listen_counters: listen_counters(),
                ..PollData::default()
            };
            match &mut sockets {
                Sockets::Own(d) => {
                    data.snaps = dump_once(d, &queries)?
                        .iter()
                        .map(|s| snap_of(s, at))
                        .collect();
                }
                Sockets::Linked { dumpers, scanned } => {
                    if scanned.elapsed() >= RESCAN {
                        dumpers.refresh();
                        *scanned = Instant::now();
                    }
                    for ns in dumpers.dump_with(|d| dump_once(d, &queries)) {
                        let snaps = ns
                            .sockets
                            .map(|v| v.iter().map(|s| snap_of(s, at)).collect());
                        match (ns.own, snaps) {
                            (true, Ok(s)) => data.snaps = s,
                            (true, Err(e)) => return Err(e),
                            (false, Ok(s)) => data.other_netns.push((ns.label, s)),
                            (false, Err(e)) => data.netns_errors.push(format!("{}: {e}", ns.label)),
                        }
                    }
                }
            }
            if let Some((c, flows, read_at)) = &mut conntrack {
                let now = flows.load(std::sync::atomic::Ordering::Relaxed);
                if *read_at != Some(now) {
                    data.nat = Some(c.nat_dump(ports.as_deref()).map_err(|e| e.to_string()));
                    *read_at = Some(now);
                }
            }
            Ok(data)
        }),
        conntrack_error,
    ))
}

/// One dump of every socket the capture is about, listeners included, as the
/// `sockets` command sees them: for the socket-level findings at the end.
pub fn full_dump(ports: Option<&[u16]>) -> Result<Vec<SocketInfo>, String> {
    let mut d = Dumper::open(&super::netns::Netns::Current).map_err(|e| e.to_string())?;
    dump_once(&mut d, &queries_for(ports, ALL_STATES))
}

fn us(s: f64) -> u32 {
    (s * 1e6).round().clamp(0.0, f64::from(u32::MAX)) as u32
}

fn ms(s: f64) -> u32 {
    (s * 1e3).round().clamp(0.0, f64::from(u32::MAX)) as u32
}

pub fn snap_of(s: &SocketInfo, at: Ts) -> SockSnap {
    let timer = s.timer;
    SockSnap {
        at,
        local: Endpoint::new(s.local.ip(), s.local.port()),
        remote: Endpoint::new(s.peer.ip(), s.peer.port()),
        state: s.state.kernel_number().unwrap_or(0),
        timer: timer.map_or(0, |t| t.name.kernel_number()),
        timer_expires_ms: timer.map_or(0, |t| ms(t.expires_s)),
        timer_retrans: timer.map_or(0, |t| t.count),
        recv_q: s.recv_q,
        send_q: s.send_q,
        inode: s.inode,
        info: s.tcp_info.as_ref().map(|i| TcpInfoLite {
            retransmits: i.retransmits,
            probes: i.probes,
            backoff: i.backoff,
            rto_us: us(i.rto_s),
            rtt_us: us(i.rtt_s),
            rttvar_us: us(i.rttvar_s),
            unacked: i.unacked,
            lost: i.lost,
            total_retrans: i.total_retrans,
            snd_cwnd: i.snd_cwnd,
            notsent_bytes: i.notsent_bytes.unwrap_or(0),
            last_data_recv_ms: ms(i.last_data_recv_s),
            last_ack_recv_ms: ms(i.last_ack_recv_s),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_filters_become_two_queries_per_port() {
        let q = queries(Some(&[80, 443]));
        assert_eq!(q.len(), 4);
        assert_eq!(q[0].sport, Some(PortRange { lo: 80, hi: 80 }));
        assert_eq!(q[1].dport, Some(PortRange { lo: 80, hi: 80 }));
        // Listeners too: their accept queues explain dropped SYNs.
        assert!(q.iter().all(|q| q.states & (1 << 10) != 0));
        assert_eq!(queries(None).len(), 1);
        let many: Vec<u16> = (1..20).collect();
        assert_eq!(queries(Some(&many)).len(), 1);
    }
}
