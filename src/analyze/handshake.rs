//! Handshake findings: SYN / SYN-ACK retransmissions, unanswered and rejected SYNs,
//! and (capture-wide) floods of handshakes that never complete.

use std::collections::BTreeMap;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::net::IpAddr;

use super::hosts::HostProfiles;
use super::kernel;
use super::window::WindowPeak;
use super::{fmt_list, rel, AnalyzerConfig, Cause, Confidence, Finding, Severity, Symptom};
use crate::flow::conn::Connection;
use crate::flow::side::At;
use crate::model::{Dir, Endpoint, Ts};

/// Linux defaults when the host's sysctls are unknown.
pub const DEFAULT_SYN_RETRIES: u32 = 6;
pub const DEFAULT_SYNACK_RETRIES: u32 = 5;

/// How retransmission intervals grew.
#[derive(Debug, PartialEq)]
pub enum Backoff {
    /// Each interval double the one before, starting near `first` seconds.
    Exponential {
        first: f64,
    },
    /// `linear` intervals of ~1 s, then doubling (tcp_syn_linear_timeouts).
    LinearThenExponential {
        linear: usize,
    },
    Irregular,
}

fn near(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.25 * b.max(0.2)
}

pub fn classify_backoff(intervals: &[f64]) -> Backoff {
    if intervals.is_empty() {
        return Backoff::Irregular;
    }
    let linear = intervals.iter().take_while(|&&i| near(i, 1.0)).count();
    let doubles = |from: usize| {
        intervals
            .windows(2)
            .skip(from)
            .all(|w| near(w[1], 2.0 * w[0]))
    };
    if linear >= 2
        && (linear == intervals.len() || (doubles(linear - 1) && near(intervals[linear], 2.0)))
    {
        return Backoff::LinearThenExponential { linear };
    }
    if doubles(0) {
        return Backoff::Exponential {
            first: intervals[0],
        };
    }
    Backoff::Irregular
}

/// Linux's default net.ipv4.tcp_syn_linear_timeouts (6.x): SYN retries 1 s apart
/// before the doubling starts.
const DEFAULT_SYN_LINEAR: u64 = 4;

/// tcp_syn_linear_timeouts as the observed schedule shows it, and whether that is an
/// assumption. The first retry always comes 1 s after the SYN (the initial RTO); the
/// kernel then keeps the RTO at 1 s for `linear` more retries before doubling, so a
/// schedule with n intervals of 1 s means linear = n - 1. Exact when the doubling that
/// follows is visible; when every interval was 1 s, at least n - 1 (the Linux default
/// when that is more); none for a classic exponential schedule.
fn linear_retries(backoff: &Backoff, intervals: usize) -> (u64, bool) {
    match *backoff {
        Backoff::LinearThenExponential { linear: ones } if ones < intervals => {
            (ones.saturating_sub(1) as u64, false)
        }
        Backoff::LinearThenExponential { linear: ones } => (
            (ones.saturating_sub(1) as u64).max(DEFAULT_SYN_LINEAR),
            true,
        ),
        Backoff::Exponential { .. } => (0, false),
        Backoff::Irregular => (0, true),
    }
}

fn times_rel(list: &[At], t0: Ts) -> Vec<f64> {
    list.iter().map(|a| rel(a.ts, t0)).collect()
}

fn intervals(list: &[At]) -> Vec<f64> {
    list.windows(2)
        .map(|w| super::round_ms(w[1].ts.since(w[0].ts)))
        .collect()
}

pub fn analyze(
    conn: &Connection,
    cfg: &AnalyzerConfig,
    hosts: &HostProfiles,
    out: &mut Vec<Finding>,
) {
    let hs = &conn.handshake;
    let state = conn.zeek.conn_state();
    let flow = Some(conn.id);
    let server = conn.server;
    if hs.syns.len() > 1 {
        let iv = intervals(&hs.syns);
        let backoff = classify_backoff(&iv);
        let (retries, assumed) = match cfg.syn_retries_of(conn.client.ip) {
            Some(r) => (r, false),
            None => (DEFAULT_SYN_RETRIES, true),
        };
        let schedule = match backoff {
            Backoff::Exponential { first } => format!("exponential backoff from a {first:.1} s initial RTO"),
            Backoff::LinearThenExponential { linear } => format!(
                "{linear} retries 1 s apart (the initial RTO, then net.ipv4.tcp_syn_linear_timeouts \
                 kept it for {} more){}",
                linear.saturating_sub(1),
                if linear < iv.len() { ", then exponential" } else { "" }
            ),
            Backoff::Irregular => {
                "irregular intervals (not the kernel's backoff: an application retrying, or several clients?)".into()
            }
        };
        let (linear, linear_assumed) = linear_retries(&backoff, iv.len());
        // The initial RTO is the observed first interval when the schedule doubles from
        // something other than TCP_TIMEOUT_INIT (1 s); the schedule evidence says which.
        let initial_rto = match backoff {
            Backoff::Exponential { first } if !near(first, kernel::SYN_RTO_S) => first,
            _ => kernel::SYN_RTO_S,
        };
        let give_up = kernel::syn_give_up_after_rto(initial_rto, u64::from(retries), linear);
        let answered = !hs.syn_acks.is_empty();
        // Refused: a RST answered the resent SYN; connect() got ECONNREFUSED, it did not
        // time out (handshake.rejected says why).
        let refused = (!answered && state == "REJ")
            .then(|| {
                conn.side(Dir::FromServer)
                    .first_rst_info
                    .as_deref()
                    .copied()
            })
            .flatten();
        let first = hs.syns[0];
        let mut f = Finding::new(
            "handshake.syn_retransmit",
            if answered || refused.is_some() {
                Severity::Warning
            } else {
                Severity::Error
            },
            flow,
            first.ts.secs_f64(),
        )
        .summary(format!(
            "{} sent its SYN to {} {} times (at {} s): {}; {}",
            conn.client,
            server,
            hs.syn_count,
            fmt_list(&times_rel(&hs.syns, conn.start)),
            schedule,
            if answered {
                format!(
                    "answered after {:.3} s",
                    hs.syn_acks[0].ts.since(first.ts)
                )
            } else if let Some(rst) = refused {
                format!(
                    "refused with a RST (frame {}) {:.3} s after the first SYN",
                    rst.at.frame,
                    rst.at.ts.since(first.ts)
                )
            } else {
                format!(
                    "with tcp_syn_retries={retries}{} {}connect() fails {give_up:.0} s after the first SYN",
                    if assumed { " (Linux default, assumed)" } else { "" },
                    if initial_rto == kernel::SYN_RTO_S {
                        String::new()
                    } else {
                        format!("and a {initial_rto:.1} s initial RTO, ")
                    }
                )
            }
        ))
        .evidence("frames", hs.syns.iter().map(|a| a.frame).collect::<Vec<_>>())
        .evidence("times_rel_s", times_rel(&hs.syns, conn.start))
        .evidence("intervals_s", &iv)
        .evidence("schedule", format!("{backoff:?}"))
        .evidence("tcp_syn_retries", retries)
        .evidence("tcp_syn_retries_assumed", assumed)
        .evidence("give_up_after_s", super::round_ms(give_up))
        .evidence("tcp_syn_linear_timeouts", linear)
        .evidence("tcp_syn_linear_timeouts_assumed", linear_assumed)
        .evidence("answered", answered)
        .evidence("refused", refused.is_some())
        .with_cause(Cause::SynsLost);
        if !answered && refused.is_none() {
            // The same unanswered SYNs as handshake.unanswered: one of them says it.
            f = f.claim(Symptom::Syns(conn.id));
        }
        if matches!(backoff, Backoff::Irregular) {
            f = f.confidence(Confidence::Medium);
        }
        out.push(f);
    }
    if state == "S0" && hs.syn_count > 0 {
        let first = hs.syns[0];
        let last = *hs.syns.last().unwrap_or(&first);
        out.push(
            Finding::new(
                "handshake.unanswered",
                Severity::Error,
                flow,
                first.ts.secs_f64(),
            )
            .summary(unanswered_summary(
                &conn.client,
                &server,
                hs.syn_count.into(),
                last.ts.since(first.ts),
            ))
            .evidence("first_syn_frame", first.frame)
            .evidence("last_syn_frame", last.frame)
            .evidence("attempts", hs.syn_count)
            .confidence(Confidence::High)
            .claim(Symptom::Syns(conn.id))
            .with_cause(Cause::SynsLost),
        );
    }
    if state == "REJ" {
        if let Some(rst) = conn
            .side(Dir::FromServer)
            .first_rst_info
            .as_deref()
            .copied()
        {
            let (attribution, confidence) =
                hosts.rst_attribution(server.ip, rst.ttl, rst.mac, conn.id);
            out.push(
                Finding::new(
                    "handshake.rejected",
                    Severity::Warning,
                    flow,
                    rst.at.ts.secs_f64(),
                )
                .summary(format!(
                    "{server} answered {}'s SYN with a RST (frame {}, {:.3} ms after the SYN): \
                         connection refused; {attribution}",
                    conn.client,
                    rst.at.frame,
                    hs.syns.last().map_or(0.0, |s| rst.at.ts.since(s.ts) * 1e3)
                ))
                .evidence("rst_frame", rst.at.frame)
                .evidence("rst_ttl", rst.ttl)
                .evidence("attempts", hs.syn_count)
                .evidence("attribution", attribution)
                .confidence(confidence)
                .claim(Symptom::Rst(rst.at.frame))
                .with_cause(Cause::Refused),
            );
        }
    }
    if hs.syn_acks.len() > 1 {
        let iv = intervals(&hs.syn_acks);
        let completed = hs.ack.is_some();
        let first = hs.syn_acks[0];
        out.push(
            Finding::new(
                "handshake.synack_retransmit",
                Severity::Warning,
                flow,
                first.ts.secs_f64(),
            )
            .summary(format!(
                "{server} sent its SYN-ACK {} times (at {} s): the client's final ACK was lost or \
                     never sent; {}",
                hs.syn_ack_count,
                fmt_list(&times_rel(&hs.syn_acks, conn.start)),
                if completed {
                    "the handshake completed in the end".to_string()
                } else {
                    format!(
                        "the handshake never completed (the server gives up after \
                             net.ipv4.tcp_synack_retries, default {DEFAULT_SYNACK_RETRIES})"
                    )
                }
            ))
            .evidence(
                "frames",
                hs.syn_acks.iter().map(|a| a.frame).collect::<Vec<_>>(),
            )
            .evidence("times_rel_s", times_rel(&hs.syn_acks, conn.start))
            .evidence("intervals_s", iv)
            .evidence("completed", completed)
            .evidence("ack_frame", hs.ack.map(|a| a.frame))
            .hint(
                "The third packet of the handshake did not reach the server: look for drops of \
                     client->server ACKs (firewall state tables, asymmetric routing). The server's \
                     retry count is net.ipv4.tcp_synack_retries.",
            ),
        );
    }
}

/// "{client}'s SYN to {server} was never answered in the capture ({attempts} over
/// {over_s:.3} s)", as format! writes it, built piece by piece: a SYN flood has one
/// per flow. It starts with format!'s own first capacity (twice its literal text)
/// and grows the same way, so the capacity the memory budget counts is the same
/// too (a unit test holds both to format!'s).
fn unanswered_summary(client: &Endpoint, server: &Endpoint, attempts: u64, over_s: f64) -> String {
    use std::fmt::Write as _;
    const LITERAL: [&str; 4] = [
        "'s SYN to ",
        " was never answered in the capture (",
        " over ",
        " s)",
    ];
    let literal_len = LITERAL.iter().map(|l| l.len()).sum::<usize>();
    let mut s = String::with_capacity(2 * literal_len);
    client.push_to(&mut s);
    s.push_str(LITERAL[0]);
    server.push_to(&mut s);
    s.push_str(LITERAL[1]);
    s.push_str(itoa::Buffer::new().format(attempts));
    s.push_str(if attempts == 1 {
        " attempt"
    } else {
        " attempts"
    });
    s.push_str(LITERAL[2]);
    let _ = write!(s, "{over_s:.3}");
    s.push_str(LITERAL[3]);
    s
}

/// Per-flow findings that a half-open flood finding stands for, for its server's flows.
const FOLDABLE: [&str; 3] = [
    "handshake.syn_retransmit",
    "handshake.synack_retransmit",
    "handshake.unanswered",
];

/// Unfinished handshakes per server endpoint, for handshake.half_open_flood, and the
/// per-flow handshake findings of those flows: held until the end, when those of a
/// flooded server are folded into its flood finding (one finding instead of
/// hundreds) and the others are released.
pub struct FloodTracker {
    servers: HashMap<Endpoint, FloodState>,
    held: Vec<(Endpoint, Finding)>,
    /// What the held findings hold (`Finding::heap_bytes` each), counted as they are
    /// held: the budget asks often, and summing over them at each ask was quadratic.
    held_bytes: usize,
    /// What the servers' states hold on the heap (`FloodState::heap_bytes` each),
    /// kept up to date as a flow changes its server's.
    servers_bytes: usize,
    /// Bounds (at the default memory limit: MAX_TRACKED_SERVERS, MAX_SOURCES per
    /// server, MAX_TOTAL_SOURCES in all) and the sources held in all.
    max_servers: usize,
    max_sources: usize,
    max_total_sources: usize,
    total_sources: usize,
}

impl Default for FloodTracker {
    fn default() -> Self {
        FloodTracker {
            servers: HashMap::default(),
            held: Vec::new(),
            held_bytes: 0,
            servers_bytes: 0,
            max_servers: MAX_TRACKED_SERVERS,
            max_sources: MAX_SOURCES,
            max_total_sources: MAX_TOTAL_SOURCES,
            total_sources: 0,
        }
    }
}

/// What became of the held per-flow findings at the end.
pub struct Folding {
    /// Findings of servers that were not flooded: they stand on their own.
    pub released: Vec<Finding>,
    /// Findings a flood finding stands for.
    pub folded: Vec<Finding>,
    /// Findings per severity (index = Severity as usize) a flood finding stands for
    /// that were counted but not held (over the bound on kept findings).
    pub folded_unheld: [u64; 3],
    /// Counted but not held, of servers that were not flooded: not kept anywhere.
    pub released_unheld: u64,
}

const MAX_TRACKED_SERVERS: usize = 10_000;
const MAX_SOURCES: usize = 10_000;
/// Source addresses held across all servers (many servers flooded at once).
const MAX_TOTAL_SOURCES: usize = 200_000;

#[derive(Default)]
struct FloodState {
    window: WindowPeak,
    total: u64,
    sources: HashSet<IpAddr>,
    first: Option<Ts>,
    last: Option<Ts>,
    example_flows: Vec<u64>,
    /// Foldable per-flow findings of this server's half-open flows that were counted
    /// but not held: per id, and per severity.
    unheld: BTreeMap<&'static str, u64>,
    unheld_by_severity: [u64; 3],
    /// A source was not recorded (a bound was reached): the count is a lower bound.
    sources_capped: bool,
}

impl FloodState {
    /// Heap bytes of its sources, example flows and window (memory budget).
    fn heap_bytes(&self) -> usize {
        use crate::budget::{table_bytes, vec_bytes};
        table_bytes(self.sources.capacity(), std::mem::size_of::<IpAddr>())
            + vec_bytes(&self.example_flows)
            + self.window.footprint()
    }
}

impl FloodTracker {
    /// Sizes the bounds for the process's memory limit.
    pub fn fit(&mut self, limit: usize) {
        use crate::budget::scaled_cap;
        self.max_servers = scaled_cap(MAX_TRACKED_SERVERS, limit);
        self.max_sources = scaled_cap(MAX_SOURCES, limit);
        self.max_total_sources = scaled_cap(MAX_TOTAL_SOURCES, limit);
    }

    /// Counts the flow if it is a half-open handshake; says whether it was.
    pub fn on_flow(&mut self, conn: &Connection, window_s: f64) -> bool {
        let hs = &conn.handshake;
        let Some(syn) = hs.syns.first() else {
            return false;
        };
        let state = conn.zeek.conn_state();
        // Half-open: SYN sent, not refused, and the client never completed it.
        if hs.ack.is_some() || state == "REJ" || conn.side(Dir::FromClient).payload_bytes > 0 {
            return false;
        }
        if self.servers.len() >= self.max_servers && !self.servers.contains_key(&conn.server) {
            return false;
        }
        let st = self.servers.entry(conn.server).or_default();
        let bytes_before = st.heap_bytes();
        st.total += 1;
        if !st.sources.contains(&conn.client.ip) {
            if st.sources.len() < self.max_sources && self.total_sources < self.max_total_sources {
                st.sources.insert(conn.client.ip);
                self.total_sources += 1;
            } else {
                st.sources_capped = true;
            }
        }
        st.first = Some(st.first.map_or(syn.ts, |t| t.min(syn.ts)));
        st.last = Some(st.last.map_or(syn.ts, |t| t.max(syn.ts)));
        if st.example_flows.len() < 10 {
            st.example_flows.push(conn.id);
        }
        st.window.add(syn.ts, (window_s * 1e9) as i64);
        self.servers_bytes = self.servers_bytes + st.heap_bytes() - bytes_before;
        true
    }

    /// Bytes held (memory budget): the servers with their sources and windows, and
    /// the findings held for folding.
    pub fn footprint(&self) -> usize {
        use crate::budget::{table_bytes, vec_bytes};
        table_bytes(
            self.servers.capacity(),
            std::mem::size_of::<(Endpoint, FloodState)>(),
        ) + self.servers_bytes
            + vec_bytes(&self.held)
            + self.held_bytes
    }

    /// Per-flow findings held so far.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Holds a finding of a half-open flow (`on_flow` said true) until the end if a
    /// flood finding could stand for it; says whether it did.
    pub fn hold(&mut self, server: Endpoint, f: &Finding) -> bool {
        if !FOLDABLE.contains(&f.id) {
            return false;
        }
        let f = f.clone();
        self.held_bytes += f.heap_bytes();
        self.held.push((server, f));
        true
    }

    /// Counts a finding of a half-open flow that could not be held (the bound on kept
    /// findings was reached), so a flood finding still stands for it at the end and
    /// the severity counts do not list it twice. Says whether it was counted.
    pub fn count_unheld(&mut self, server: Endpoint, f: &Finding) -> bool {
        if !FOLDABLE.contains(&f.id) {
            return false;
        }
        let Some(st) = self.servers.get_mut(&server) else {
            return false;
        };
        *st.unheld.entry(f.id).or_default() += 1;
        st.unheld_by_severity[f.severity as usize] += 1;
        true
    }

    /// The end: one finding per flooded server into `out`, and what became of the
    /// held per-flow findings.
    pub fn finish(&mut self, cfg: &AnalyzerConfig, out: &mut Vec<Finding>) -> Folding {
        let flooded = self.flooded(cfg);
        let mut counts: HashMap<Endpoint, BTreeMap<&'static str, u64>> = HashMap::default();
        let mut folding = Folding {
            released: Vec::new(),
            folded: Vec::new(),
            folded_unheld: [0; 3],
            released_unheld: 0,
        };
        for (server, st) in &self.servers {
            if !flooded.contains(server) {
                folding.released_unheld += st.unheld_by_severity.iter().sum::<u64>();
                continue;
            }
            let per_id = counts.entry(*server).or_default();
            for (id, n) in &st.unheld {
                *per_id.entry(id).or_default() += n;
            }
            for (sum, n) in folding.folded_unheld.iter_mut().zip(st.unheld_by_severity) {
                *sum += n;
            }
        }
        self.held_bytes = 0;
        for (server, f) in std::mem::take(&mut self.held) {
            if flooded.contains(&server) {
                *counts.entry(server).or_default().entry(f.id).or_default() += 1;
                folding.folded.push(f);
            } else {
                folding.released.push(f);
            }
        }
        self.findings(cfg, &counts, out);
        folding
    }

    /// Servers whose half-open handshakes reach the flood threshold.
    fn flooded(&self, cfg: &AnalyzerConfig) -> HashSet<Endpoint> {
        self.servers
            .iter()
            .filter(|(_, st)| st.window.peak >= cfg.flood_min)
            .map(|(server, _)| *server)
            .collect()
    }

    /// One finding per flooded server; `folded` counts, per server and id, the per-flow
    /// handshake findings of its half-open flows that the flood finding stands for.
    fn findings(
        &self,
        cfg: &AnalyzerConfig,
        folded: &HashMap<Endpoint, BTreeMap<&'static str, u64>>,
        out: &mut Vec<Finding>,
    ) {
        for (server, st) in &self.servers {
            if st.window.peak < cfg.flood_min {
                continue;
            }
            // Sources are counted up to a bound (memory stays bounded under a
            // flood from spoofed addresses): beyond it the count is a lower bound.
            let sources_capped = st.sources_capped;
            let span = st.last.zip(st.first).map_or(0.0, |(l, f)| l.since(f));
            let rate = if span > 0.0 {
                st.total as f64 / span
            } else {
                st.total as f64
            };
            out.push(
                Finding::new(
                    "handshake.half_open_flood",
                    Severity::Error,
                    None,
                    st.window.peak_at.map_or(0.0, |t| t.secs_f64()),
                )
                .summary(format!(
                    "{} handshakes to {server} never completed ({} within {:.0} s at the peak, \
                     {rate:.0}/s overall, from {}{} source address{}): SYN flood or backlog exhaustion",
                    st.total,
                    st.window.peak,
                    cfg.flood_window_s,
                    if sources_capped { "at least " } else { "" },
                    st.sources.len(),
                    if st.sources.len() == 1 { "" } else { "es" }
                ))
                .evidence("server", server.to_string())
                .evidence("half_open", st.total)
                .evidence("peak_in_window", st.window.peak)
                .evidence("window_s", cfg.flood_window_s)
                .evidence("rate_per_s", super::round_ms(rate))
                .evidence("distinct_sources", st.sources.len())
                .evidence("distinct_sources_capped", sources_capped)
                .evidence("example_flows", &st.example_flows)
                .evidence("folded_flow_findings", folded.get(server).cloned().unwrap_or_default())
                .confidence(if st.sources.len() > 1 { Confidence::High } else { Confidence::Medium })
                .hint(
                    "Check net.ipv4.tcp_syncookies (1 = cookies when the SYN queue overflows), \
                     net.ipv4.tcp_max_syn_backlog and net.core.somaxconn / the listen() backlog, and \
                     ListenOverflows / ListenDrops in /proc/net/netstat. If the sources are spoofed or \
                     few, rate-limit SYNs upstream.",
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The findings of one connection under the default configuration.
    fn findings_of(conn: &Connection) -> Vec<Finding> {
        let mut out = Vec::new();
        analyze(
            conn,
            &AnalyzerConfig::default(),
            &HostProfiles::default(),
            &mut out,
        );
        out
    }

    #[test]
    fn backoff_shapes() {
        assert_eq!(
            classify_backoff(&[1.0, 2.0, 4.0]),
            Backoff::Exponential { first: 1.0 }
        );
        assert_eq!(
            classify_backoff(&[1.0, 1.0, 1.0, 1.0, 2.0, 4.0]),
            Backoff::LinearThenExponential { linear: 4 }
        );
        assert_eq!(
            classify_backoff(&[1.0, 1.0, 1.0]),
            Backoff::LinearThenExponential { linear: 3 }
        );
        assert_eq!(classify_backoff(&[0.5, 3.0]), Backoff::Irregular);
    }

    #[test]
    fn linear_retries_from_the_observed_schedule() {
        let of = |iv: &[f64]| linear_retries(&classify_backoff(iv), iv.len());
        // Classic: no linear part.
        assert_eq!(of(&[1.0, 2.0, 4.0]), (0, false));
        // Five 1 s intervals then doubling: the initial RTO plus 4 linear retries.
        assert_eq!(of(&[1.0, 1.0, 1.0, 1.0, 1.0, 2.0]), (4, false));
        assert_eq!(of(&[1.0, 1.0, 1.0, 2.0, 4.0]), (2, false));
        // Only 1 s intervals seen: at least those, the Linux default 4 assumed.
        assert_eq!(of(&[1.0, 1.0]), (4, true));
        assert_eq!(of(&[1.0; 7]), (6, true));
        // syn_linear.pcap's client (tcp_syn_retries=2 with the default linear 4) gives
        // up 7 s after its first SYN; classic 3 retries 15 s, with linear 4 19 s.
        assert_eq!(kernel::syn_give_up_after(2, 4), 7.0);
        assert_eq!(kernel::syn_give_up_after(3, 0), 15.0);
        assert_eq!(kernel::syn_give_up_after(3, 4), 19.0);
    }

    /// The running byte counts are what summing over every server and held finding
    /// gives (the budget's figure must not change with how it is kept).
    #[test]
    fn flood_footprint_counted_as_it_grows() {
        use crate::decode::TcpFlags;
        use crate::flow::conn::ConnConfig;
        use crate::flow::{Segment, TimelineMode};
        let cfg = ConnConfig {
            timeline: TimelineMode::Collapsed,
            timeline_cap: 100,
            idle_mark_ns: 1_000_000_000,
            ooo_threshold_ns: 3_000_000,
        };
        let summed = |t: &FloodTracker| {
            use crate::budget::{table_bytes, vec_bytes};
            table_bytes(
                t.servers.capacity(),
                std::mem::size_of::<(Endpoint, FloodState)>(),
            ) + t
                .servers
                .values()
                .map(FloodState::heap_bytes)
                .sum::<usize>()
                + vec_bytes(&t.held)
                + t.held.iter().map(|(_, f)| f.heap_bytes()).sum::<usize>()
        };
        let mut t = FloodTracker::default();
        for i in 0..300u32 {
            let client = Endpoint::new(IpAddr::from([10, 0, (i >> 8) as u8, i as u8]), 1025);
            let server = Endpoint::new(IpAddr::from([192, 0, 2, (i % 3) as u8]), 80);
            let seg = Segment::for_test(
                u64::from(i) + 1,
                Ts::from_secs_f64(f64::from(i) * 0.001),
                client,
                server,
                TcpFlags::SYN,
                100,
                0,
                0,
            );
            let mut conn = Connection::new(u64::from(i) + 1, &seg, &cfg);
            conn.on_segment(&seg, &cfg);
            assert!(t.on_flow(&conn, 10.0));
            let out = findings_of(&conn);
            assert!(!out.is_empty());
            for f in &out {
                t.hold(server, f);
            }
            assert_eq!(t.footprint(), summed(&t));
        }
        t.finish(&AnalyzerConfig::default(), &mut Vec::new());
        assert_eq!(t.footprint(), summed(&t));
    }

    #[test]
    fn unanswered_summary_as_format_writes_it() {
        let ep = |s: &str, port| Endpoint::new(s.parse().unwrap(), port);
        for (client, server, attempts, over) in [
            (ep("198.19.134.159", 1025), ep("192.0.2.1", 80), 1u64, 0.0),
            (ep("1.2.3.4", 5), ep("5.6.7.8", 9), 0, 1e-9),
            (ep("10.0.0.1", 40000), ep("10.0.0.2", 443), 7, 63.0004),
            (
                ep("2001:db8:aaaa:bbbb:cccc:dddd:eeee:1", 65535),
                ep("2001:db8:aaaa:bbbb:cccc:dddd:eeee:2", 65535),
                123_456,
                1e12,
            ),
            (ep("::1", 1), ep("255.255.255.255", 65535), 2, f64::NAN),
        ] {
            let want = format!(
                "{}'s SYN to {} was never answered in the capture ({} over {:.3} s)",
                client,
                server,
                crate::model::units::plural(attempts, "attempt"),
                over
            );
            let got = unanswered_summary(&client, &server, attempts, over);
            assert_eq!(got, want);
            assert_eq!(got.capacity(), want.capacity(), "{want}");
        }
    }

    /// A resent SYN answered by a RST: refused, not a connect() that times out. The
    /// resends are a warning; the refusal is handshake.rejected's.
    #[test]
    fn a_resent_syn_refused_is_not_a_timeout() {
        use crate::decode::TcpFlags;
        use crate::flow::conn::ConnConfig;
        use crate::flow::{Segment, TimelineMode};
        let cfg = ConnConfig {
            timeline: TimelineMode::Collapsed,
            timeline_cap: 100,
            idle_mark_ns: 1_000_000_000,
            ooo_threshold_ns: 3_000_000,
        };
        let (syn, rst_ack) = (TcpFlags::SYN, TcpFlags::RST | TcpFlags::ACK);
        let script = [
            (0.0, true, syn, 100, 0),
            (1.0, true, syn, 100, 0),
            (1.0002, false, rst_ack, 0, 101),
        ];
        let mut conn: Option<Connection> = None;
        for (i, &(at, from_client, flags, seq, ack)) in script.iter().enumerate() {
            let seg = Segment::test_conn(
                i as u64 + 1,
                Ts::from_secs_f64(at),
                from_client,
                flags,
                seq,
                ack,
                0,
            );
            conn.get_or_insert_with(|| Connection::new(1, &seg, &cfg))
                .on_segment(&seg, &cfg);
        }
        let conn = conn.unwrap();
        assert_eq!(conn.zeek.conn_state(), "REJ");
        let out = findings_of(&conn);
        let ids: Vec<_> = out.iter().map(|f| (f.id, f.severity)).collect();
        assert!(
            ids.contains(&("handshake.rejected", Severity::Warning)),
            "{ids:?}"
        );
        let resent = out
            .iter()
            .find(|f| f.id == "handshake.syn_retransmit")
            .unwrap();
        assert_eq!(resent.severity, Severity::Warning);
        assert_eq!(resent.evidence["refused"], true);
        assert!(
            resent.summary.contains("refused with a RST (frame 3)"),
            "{}",
            resent.summary
        );
        assert!(!resent.summary.contains("connect() fails"));
        assert!(!out.iter().any(|f| f.id == "handshake.unanswered"));
    }
}
