//! The live socket commands: `sockets` (one snapshot with findings), `watch`
//! (repeated snapshots, diffed) and `host` (host context only). They turn flags into
//! a `DumpQuery` and a `SocketConfig`, take snapshots from the sources (sock_diag,
//! host, /proc for -p), run the socket analyzers and hand the result to
//! `report::sockets`.

pub mod diff;
pub mod stop;
pub mod watch;

use std::collections::HashSet;
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{anyhow, Result};

use crate::analyze::sockets::{analyze, summarize, SocketConfig};
use crate::analyze::{Finding, Severity};
use crate::cli::{
    HostArgs, NetnsArgs, SocketFilterArgs, SocketPopulationArgs, SocketThresholdArgs, SocketsArgs,
};
use crate::commands::{default_format, fail, EXIT_FINDINGS};
use crate::model::netns::NetnsSeen;
use crate::model::socket::{Snapshot, TcpState};
use crate::report::sockets as out;
use crate::report::Format;
use crate::source::host;
use crate::source::netns_dump::{MultiDumper, Scope};
use crate::source::sockdiag::{state_mask, DumpQuery, Dumper, Netns, ALL_STATES};

pub use watch::watch;

pub fn netns_of(a: &NetnsArgs) -> Netns {
    match (&a.netns, a.pid) {
        (Some(n), _) => Netns::Named(n.clone()),
        (None, Some(p)) => Netns::Pid(p),
        _ => Netns::Current,
    }
}

pub fn query(ns: &NetnsArgs, f: &SocketFilterArgs, tcp_info: bool) -> Result<DumpQuery> {
    let mut states = Vec::new();
    for s in &f.states {
        let s = s.trim();
        if s.is_empty() {
            continue;
        }
        if s.eq_ignore_ascii_case("all") {
            states.extend(TcpState::ALL);
            continue;
        }
        states.push(TcpState::parse(s).ok_or_else(|| {
            anyhow!("unknown state '{s}' (use listen, estab, syn-sent, syn-recv, fin-wait-1, fin-wait-2, time-wait, close-wait, last-ack, closing)")
        })?);
    }
    Ok(DumpQuery {
        ipv4: !f.ipv6,
        ipv6: !f.ipv4,
        states: if states.is_empty() {
            ALL_STATES
        } else {
            state_mask(&states)
        },
        sport: f.sport,
        dport: f.dport,
        src: f.src,
        dst: f.dst,
        netns: netns_of(ns),
        tcp_info,
    })
}

pub fn socket_config(t: &SocketThresholdArgs, stuck_polls: usize) -> SocketConfig {
    SocketConfig {
        timewait_min: t.timewait_min.max(1),
        stuck_polls: stuck_polls.max(2),
        ..population_config(&t.population)
    }
}

/// The socket-population thresholds; the rest at their defaults.
pub fn population_config(p: &SocketPopulationArgs) -> SocketConfig {
    SocketConfig {
        close_wait_min: p.close_wait_min.max(1),
        syn_recv_min: p.syn_recv_min.max(1),
        orphan_min: p.orphan_min.max(1),
        ..SocketConfig::default()
    }
}

/// Where the polls look: the namespace of the query, or every namespace.
pub enum Sockets {
    One(Dumper),
    /// `--all-netns`; rescanned before every poll but the first.
    All {
        dumpers: MultiDumper,
        polls: u64,
    },
}

impl Sockets {
    pub fn open(q: &DumpQuery, all_netns: bool) -> Result<Sockets> {
        Ok(if all_netns {
            Sockets::All {
                dumpers: MultiDumper::open(Scope::All)?,
                polls: 0,
            }
        } else {
            Sockets::One(Dumper::open(&q.netns)?)
        })
    }

    /// The sockets of one poll, labelled with their namespace for `--all-netns`,
    /// and the namespaces looked into.
    fn dump(
        &mut self,
        q: &DumpQuery,
    ) -> Result<(
        Vec<crate::model::socket::SocketInfo>,
        Option<Vec<NetnsSeen>>,
    )> {
        let (dumpers, polls) = match self {
            Sockets::One(d) => return Ok((d.dump(q)?, None)),
            Sockets::All { dumpers, polls } => (dumpers, polls),
        };
        if *polls > 0 {
            dumpers.refresh();
        }
        *polls += 1;
        let mut all = Vec::new();
        let mut seen = Vec::new();
        for ns in dumpers.dump(q) {
            let label = (*ns.label).clone();
            match ns.sockets {
                Ok(mut sockets) => {
                    for s in &mut sockets {
                        s.netns = Some(label.clone());
                    }
                    seen.push(NetnsSeen {
                        label,
                        sockets: sockets.len() as u64,
                        error: None,
                    });
                    all.extend(sockets);
                }
                Err(e) => seen.push(NetnsSeen {
                    label,
                    sockets: 0,
                    error: Some(e),
                }),
            }
        }
        seen.extend(dumpers.unopened.iter().map(|(label, e)| NetnsSeen {
            label: label.clone(),
            sockets: 0,
            error: Some(e.clone()),
        }));
        Ok((all, Some(seen)))
    }
}

/// One poll: the dump, the host context of the same namespace (the current one with
/// `--all-netns`) and, with -p, the processes holding the sockets.
pub fn snapshot(src: &mut Sockets, q: &DumpQuery, processes: bool) -> Result<Snapshot> {
    let at = host::now();
    let (mut sockets, namespaces) = src.dump(q)?;
    let host = host::read(&q.netns)?;
    if processes {
        let wanted: HashSet<u64> = sockets
            .iter()
            .map(|s| s.inode)
            .filter(|i| *i != 0)
            .collect();
        let owners = host::procs::socket_owners(&wanted);
        for s in &mut sockets {
            s.processes = Some(owners.get(&s.inode).cloned().unwrap_or_default());
        }
    }
    Ok(Snapshot {
        at,
        netns: q.netns.label(),
        sockets,
        host: Some(host),
        namespaces,
    })
}

/// Exit status for --fail-on.
pub fn exit_for(findings: &[Finding], fail_on: Option<Severity>) -> ExitCode {
    match fail_on {
        Some(level) if findings.iter().any(|f| f.severity >= level) => {
            ExitCode::from(EXIT_FINDINGS)
        }
        _ => ExitCode::SUCCESS,
    }
}

fn write_failed(e: io::Error) -> Option<ExitCode> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        None
    } else {
        Some(fail(format!("writing the report failed: {e}")))
    }
}

pub fn sockets(args: SocketsArgs) -> ExitCode {
    let q = match query(&args.ns, &args.filter, !args.no_info) {
        Ok(q) => q,
        Err(e) => return fail(e),
    };
    let snap = match Sockets::open(&q, args.all_netns)
        .and_then(|mut d| snapshot(&mut d, &q, args.filter.processes))
    {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let cfg = socket_config(&args.thresholds, 3);
    let findings = analyze(&snap, &cfg);
    let summary = summarize(&snap);
    let stdout = io::stdout();
    let mut w = io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let r = match default_format(args.format, Format::Json) {
        Format::Json => out::write_json(&mut w, &snap, &summary, &findings, args.findings_only),
        Format::Ndjson => out::write_ndjson(&mut w, &snap, &summary, &findings, args.findings_only),
        Format::Table => out::write_table(
            &mut w,
            &snap,
            &summary,
            &findings,
            args.findings_only,
            args.filter.processes,
        ),
    }
    .and_then(|_| w.flush());
    if let Err(e) = r {
        if let Some(code) = write_failed(e) {
            return code;
        }
    }
    exit_for(&findings, args.fail_on)
}

pub fn host(args: HostArgs) -> ExitCode {
    let ns = netns_of(&args.ns);
    let h = match host::read(&ns) {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    let stdout = io::stdout();
    let mut w = io::BufWriter::new(stdout.lock());
    let r = match default_format(args.format, Format::Json) {
        Format::Table => out::write_host_table(&mut w, &h),
        Format::Json => out::write_host_json(&mut w, &h),
        Format::Ndjson => out::write_host_ndjson(&mut w, &h),
    }
    .and_then(|_| w.flush());
    if let Err(e) = r {
        if let Some(code) = write_failed(e) {
            return code;
        }
    }
    ExitCode::SUCCESS
}
