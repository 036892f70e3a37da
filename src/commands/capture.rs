//! `tcpdiag capture`: live packets (libpcap) and the kernel's socket state
//! (sock_diag, polled in a thread) into the same engine and report as `replay`.
//!
//! The main thread waits on the capture descriptor (50 ms at most), feeds what is
//! buffered to the engine, joins the socket snapshots that arrived, and advances the
//! flow table's clock from the wall clock so quiet flows still finish (and stream
//! with `--format ndjson`). It stops on `--duration`, `--count`, SIGINT or SIGTERM,
//! drains what libpcap still holds, and writes the report.
//!
//! `--write-flagged`: every frame is spooled to a temporary pcap next to the output
//! file (or the `-w` file is used) while capturing, so memory stays bounded; at the
//! end the spool is read again and only frames of flows with findings (their
//! 4-tuple, within the flow's first and last frame numbers) are copied out.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use super::flagged::{in_spans, FlaggedFlows};
use super::{
    analyzer_config_of, default_report_format, exit_for_findings, fail, make_sink, table_config_of,
    write_run_report, SourceSummary, EXIT_BAD_INPUT,
};
use crate::analyze::listeners::{ListenCounters, QueuePoll};
use crate::analyze::{Analyzers, Finding};
use crate::cli::CaptureArgs;
use crate::decode::{self, Decoded, Transport};
use crate::engine::Engine;
use crate::flow::socket::{state_name, STATE_LISTEN};
use crate::flow::table::NatJoin;
use crate::flow::Connection;
use crate::model::{Endpoint, FlowKey, Ts, TunnelKey};
use crate::report::{ReportEnd, ReportFormat, Sink};
use crate::source::conntrack::ConntrackSummary;
use crate::source::live::{
    self, CaptureSummary, HostSummary, LiveCapture, LiveConfig, SocketPollSummary, SocketSeen,
};
use crate::source::pcap_file;
use crate::source::pcap_writer::PcapWriter;
use crate::source::sockpoll::{self, PollBatch, Poller};
use crate::source::{RawFrame, SourceError};

/// Most flows with findings remembered for --write-flagged.
const MAX_FLAGGED: usize = 100_000;
/// Most sockets without packets remembered (the rest are counted).
const MAX_UNMATCHED: usize = 10_000;
/// The flow table's clock trails the wall clock by this much, so packets still in
/// libpcap's buffer never arrive after their flow was finished.
const TICK_LAG_NS: i64 = 2_000_000_000;

/// The sink chain of a live capture: remembers flows with findings (for
/// --write-flagged) and clears the status line before a flow streams out.
struct LiveSink<'a> {
    inner: Box<dyn Sink + 'a>,
    flagged: Option<FlaggedFlows>,
    status: bool,
}

impl Sink for LiveSink<'_> {
    fn flow(&mut self, conn: &Connection, findings: &[Finding]) -> io::Result<()> {
        if let Some(flagged) = &mut self.flagged {
            if !findings.is_empty() {
                flagged.add(conn);
            }
        }
        if self.status {
            clear_status();
        }
        self.inner.flow(conn, findings)
    }

    fn finish(&mut self, end: &ReportEnd<'_>) -> io::Result<()> {
        self.inner.finish(end)
    }
}

fn clear_status() {
    let mut e = io::stderr().lock();
    let _ = e.write_all(b"\r\x1b[2K");
    let _ = e.flush();
}

/// Most namespaces listed in the summary.
const MAX_NETNS_LISTED: usize = 1_000;

/// Socket polls joined to flows, and what the summary says about them.
struct SocketJoin {
    summary: SocketPollSummary,
    /// Sockets with no flow so far (only when the polls cover what the capture sees).
    unmatched: Option<FxHashMap<FlowKey, SocketSeen>>,
    unmatched_dropped: u64,
    /// `--all-netns`: the other namespaces seen, by inode.
    netns_seen: Option<BTreeMap<u64, crate::model::netns::NetnsLabel>>,
}

impl SocketJoin {
    fn apply(&mut self, engine: &mut Engine<'_>, batch: PollBatch) {
        self.summary.polls += 1;
        self.summary.slowest_poll_s = self.summary.slowest_poll_s.max(batch.took.as_secs_f64());
        let snaps = match batch.snaps {
            Ok(s) => s,
            Err(e) => {
                self.summary.failed_polls += 1;
                self.summary.first_error.get_or_insert(e);
                return;
            }
        };
        let mut by_state: BTreeMap<&'static str, u64> = BTreeMap::new();
        // The translations first: a socket of this poll may know its connection only
        // by the tuple on the other side of the NAT.
        self.apply_nat(engine, snaps.nat);
        if let Some((overflows, drops)) = snaps.listen_counters {
            engine.on_listen_counters(ListenCounters {
                at: batch.at,
                overflows,
                drops,
            });
        }
        for snap in snaps.snaps {
            // Listeners join no flow: their accept queues are the analyzers' context.
            if snap.state == STATE_LISTEN {
                engine.on_listener(
                    snap.local,
                    QueuePoll {
                        at: snap.at,
                        queue: snap.recv_q,
                        backlog: snap.send_q,
                    },
                );
                continue;
            }
            *by_state.entry(state_name(snap.state)).or_default() += 1;
            let (key, _) = FlowKey::of(snap.local, snap.remote);
            if engine.on_socket(snap) {
                self.summary.snapshots_joined += 1;
                if let Some(u) = &mut self.unmatched {
                    u.remove(&key);
                }
            } else if let Some(u) = &mut self.unmatched {
                if !engine.recently_finished(&key) && !u.contains_key(&key) {
                    if u.len() < MAX_UNMATCHED {
                        u.insert(
                            key,
                            SocketSeen {
                                local: snap.local.to_string(),
                                remote: snap.remote.to_string(),
                                state: state_name(snap.state),
                                first_seen: crate::model::time::round_us(snap.at.secs_f64()),
                            },
                        );
                    } else {
                        self.unmatched_dropped += 1;
                    }
                }
            }
        }
        // Other namespaces' sockets (--all-netns) join the flows they belong to;
        // their listeners and their sockets without packets are not this host's.
        for (label, snaps) in snaps.other_netns {
            if let Some(seen) = &mut self.netns_seen {
                if seen.len() < MAX_NETNS_LISTED || seen.contains_key(&label.inode) {
                    seen.insert(label.inode, (*label).clone());
                }
            }
            for snap in snaps {
                if snap.state == STATE_LISTEN {
                    continue;
                }
                *by_state.entry(state_name(snap.state)).or_default() += 1;
                if engine.on_socket_in(snap, Some(&label)) {
                    self.summary.snapshots_joined += 1;
                }
            }
        }
        if let Some(e) = snaps.netns_errors.into_iter().next() {
            self.summary.first_netns_error.get_or_insert(e);
        }
        for (state, n) in by_state {
            let peak = self.summary.peak_by_state.entry(state).or_default();
            *peak = (*peak).max(n);
        }
        engine.socket_poll_done(batch.at);
    }

    /// Conntrack's translated connections of one poll, joined to the live flows.
    fn apply_nat(
        &mut self,
        engine: &mut Engine<'_>,
        nat: Option<Result<crate::source::conntrack::NatDump, String>>,
    ) {
        let (Some(nat), Some(sum)) = (nat, self.summary.conntrack.as_mut()) else {
            return;
        };
        sum.polls += 1;
        let dump = match nat {
            Ok(d) => d,
            Err(e) => {
                sum.failed_polls += 1;
                sum.first_error.get_or_insert(e);
                return;
            }
        };
        sum.peak_translated = sum
            .peak_translated
            .max(dump.pairs.len() as u64 + dump.dropped);
        sum.dropped += dump.dropped;
        sum.unreadable += dump.unreadable;
        for pair in &dump.pairs {
            match engine.on_nat(pair) {
                NatJoin::Joined => sum.flows_joined += 1,
                NatJoin::Merged => {
                    sum.flows_joined += 1;
                    sum.flows_merged += 1;
                }
                NatJoin::Known | NatJoin::NotLive => {}
            }
        }
    }

    fn finish(mut self) -> SocketPollSummary {
        if let Some(seen) = self.netns_seen.take() {
            self.summary.namespaces = Some(seen.into_values().collect());
        }
        if let Some(u) = self.unmatched.take() {
            self.summary.without_packets = Some(u.len() as u64 + self.unmatched_dropped);
            let mut ex: Vec<SocketSeen> = u.into_values().collect();
            ex.sort_by(|a, b| a.first_seen.total_cmp(&b.first_seen));
            ex.truncate(20);
            self.summary.without_packets_examples = ex;
        }
        self.summary
    }
}

pub fn run(args: CaptureArgs) -> ExitCode {
    if args.list_interfaces {
        return super::interfaces::run();
    }
    if let Some(ns) = &args.netns {
        if let Err(e) = live::enter_netns(ns) {
            return fail(e);
        }
    }
    let cfg = LiveConfig {
        interface: args.interface.clone(),
        filter: args.filter.clone(),
        snaplen: args.snaplen.unwrap_or(live::DEFAULT_SNAPLEN),
        buffer_bytes: args.buffer_size.saturating_mul(1 << 20),
        promisc: args.promisc,
    };
    let mut cap = match LiveCapture::open(&cfg) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    // What each pcap writer is, in the order they are added, for their errors.
    let mut writer_roles: Vec<WriterRole> = Vec::new();
    if let Some(path) = &args.write {
        if let Err(e) = cap.write_to(path) {
            return fail(e);
        }
        writer_roles.push(WriterRole::All(path.clone()));
    }
    // Where --write-flagged copies from: the -w file when there is one, else a
    // temporary spool beside the flagged output (so the final copy is a local read).
    let spool: Option<Spool> = match (&args.write_flagged, &args.write) {
        (None, _) => None,
        (Some(_), Some(all)) => Some(Spool::Written(all.clone())),
        (Some(path), None) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let made = tempfile::Builder::new()
                .prefix(".tcpdiag-spool-")
                .suffix(".pcap")
                .tempfile_in(dir);
            match made {
                Ok(f) => {
                    if let Err(e) = cap.write_to(f.path()) {
                        return fail(e);
                    }
                    writer_roles.push(WriterRole::Spool(path.clone()));
                    Some(Spool::Temp(f))
                }
                Err(e) => {
                    // tempfile appends the spool's own name ("... at path X"): not the user's.
                    let text = e.to_string();
                    let why = text.split(" at path ").next().unwrap_or(&text);
                    return fail(format!("cannot write {}: {why}", path.display()));
                }
            }
        }
    };
    crate::live::stop::install_handlers();

    let mut acfg = analyzer_config_of(&args.thresholds);
    acfg.local_addrs = live::local_addresses();
    // The default snaplen cuts payloads by design; only a chosen one is worth a finding.
    acfg.report_snaplen_cut = args.snaplen.is_some();
    let mut host_error = None;
    let host = if args.no_sockets {
        None
    } else {
        match crate::source::hostpoll::HostWatch::start(args.netns.as_deref()) {
            Ok(h) => Some(h),
            Err(e) => {
                host_error = Some(e);
                None
            }
        }
    };
    let mut sysctls_used = BTreeMap::new();
    if let Some(h) = &host {
        if args.thresholds.port_range.is_none() {
            if let Some(r) = h.port_range() {
                acfg.port_range = r;
                acfg.port_range_from = "host";
                sysctls_used.insert(
                    "net.ipv4.ip_local_port_range".to_string(),
                    serde_json::json!([r.0, r.1]),
                );
            }
        }
        // Read from this host, they apply to this host's own connections only (the
        // analyzers check the sender's address); flags apply to every sender.
        if acfg.tcp_syn_retries.is_none() {
            acfg.syn_retries_from_host = true;
            acfg.tcp_syn_retries = h.sysctl_u32("net.ipv4.tcp_syn_retries");
            if let Some(v) = acfg.tcp_syn_retries {
                sysctls_used.insert("net.ipv4.tcp_syn_retries".into(), v.into());
            }
        }
        if acfg.tcp_retries2.is_none() {
            acfg.retries2_from_host = true;
            acfg.tcp_retries2 = h.sysctl_u32("net.ipv4.tcp_retries2");
            if let Some(v) = acfg.tcp_retries2 {
                sysctls_used.insert("net.ipv4.tcp_retries2".into(), v.into());
            }
        }
    }

    let format = default_report_format(args.report.format, ReportFormat::Json);
    // Line formats stream: each flow goes out the moment it finishes (the sink
    // flushes every line).
    let out: Box<dyn Write + Send> = Box::new(io::BufWriter::with_capacity(1 << 16, io::stdout()));
    let source = match &args.netns {
        Some(ns) => format!("live:{ns}/{}", args.interface),
        None => format!("live:{}", args.interface),
    };
    let mut report_args = args.report.clone();
    report_args.format = Some(format);
    let status_on = io::stderr().is_terminal();
    // On a terminal the table shows the timelines of the flows with findings, where
    // packets and the kernel's socket state sit side by side.
    let inner: Box<dyn Sink> = if format == ReportFormat::Table && args.report.timeline.is_none() {
        Box::new(
            crate::report::table::TableSink::new(out, super::table_options(&args.report))
                .with_finding_timelines(),
        )
    } else {
        make_sink(&report_args, vec![source], out, true)
    };
    let mut sink = LiveSink {
        inner,
        flagged: spool.as_ref().map(|_| FlaggedFlows::new(MAX_FLAGGED)),
        status: status_on,
    };

    let kernel_ports = args.filter.as_deref().and_then(sockpoll::ports_of_filter);
    let mut join = SocketJoin {
        summary: SocketPollSummary {
            interval_s: args.poll.as_secs_f64(),
            kernel_filter_ports: kernel_ports.clone(),
            ..SocketPollSummary::default()
        },
        // Without a filter, or with one the polls mirror, a socket with no packet
        // really had none; with any other filter the capture does not see them all.
        unmatched: args
            .filter
            .as_deref()
            .is_none_or(sockpoll::polls_mirror_filter)
            .then(FxHashMap::default),
        unmatched_dropped: 0,
        netns_seen: args.all_netns.then(BTreeMap::new),
    };
    // Flows started so far, for the poller: conntrack is read only when it moved.
    let flows_started = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let poller = if args.no_sockets {
        None
    } else {
        let scope = crate::source::sockdiag_snap::PollScope {
            all_netns: args.all_netns,
            conntrack: Some(std::sync::Arc::clone(&flows_started)),
        };
        match crate::source::sockdiag_snap::dumper(kernel_ports.as_deref(), scope) {
            Ok((dump, conntrack_error)) => {
                join.summary.conntrack = Some(ConntrackSummary {
                    available: conntrack_error.is_none(),
                    first_error: conntrack_error,
                    ..ConntrackSummary::default()
                });
                Some(Poller::start(args.poll, dump))
            }
            Err(e) => {
                join.summary.first_error = Some(e);
                None
            }
        }
    };

    // Like tcpdump's "listening on": says the capture runs (and scripts can wait for it).
    eprintln!(
        "tcpdiag: capturing on {}{} ({}), snaplen {}, buffer {} MiB{}",
        args.interface,
        args.netns
            .as_deref()
            .map_or(String::new(), |n| format!(" in netns {n}")),
        cap.link_name,
        live::effective_snaplen(args.snaplen.unwrap_or(live::DEFAULT_SNAPLEN)),
        args.buffer_size,
        if status_on { "; Ctrl-C stops" } else { "" }
    );
    let started_wall = sockpoll::wall_now();
    let started = Instant::now();
    let deadline = args.duration.map(|d| started + d);
    let mut engine = Engine::new(
        table_config_of(&args.report, &args.tracking),
        Analyzers::new(acfg),
        &mut sink,
    );
    engine.set_interface_names(Box::new(live::interface_name));
    let stop_reason;
    let mut read_error: Option<SourceError> = None;
    // Files that could not be written: said at once, and in summary.errors.
    let mut write_errors: Vec<SourceError> = Vec::new();
    let note_write_failures = |failed: Vec<live::WriterFailed>,
                               write_errors: &mut Vec<SourceError>| {
        for f in failed {
            let e = write_error(&writer_roles[f.writer], &f);
            if status_on {
                clear_status();
            }
            eprintln!("tcpdiag: {e}");
            write_errors.push(e);
        }
    };
    let mut last_tick = Instant::now();
    let mut drops = live::DropStats::default();
    loop {
        if crate::live::stop::requested() {
            stop_reason = "signal";
            break;
        }
        if engine.output_failed() {
            // `... | head`: the reader is gone; nothing more can be reported.
            stop_reason = "output_closed";
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            stop_reason = "duration";
            break;
        }
        let remaining = args
            .count
            .map_or(usize::MAX, |c| c.saturating_sub(cap.frames()) as usize);
        if remaining == 0 {
            stop_reason = "count";
            break;
        }
        let wait_ms = deadline.map_or(50, |d| {
            d.saturating_duration_since(Instant::now())
                .as_millis()
                .clamp(1, 50) as u16
        });
        if cap.wait_readable(wait_ms) {
            if let Err(e) = cap.read_available(remaining.min(10_000), &mut |f| engine.on_frame(f)) {
                read_error = Some(SourceError {
                    file: args.interface.clone(),
                    frame: Some(cap.frames() + 1),
                    message: e,
                });
                stop_reason = "error";
                break;
            }
        }
        if let Some(p) = &poller {
            for batch in p.batches() {
                join.apply(&mut engine, batch);
            }
            flows_started.store(engine.flows_started(), std::sync::atomic::Ordering::Relaxed);
        }
        if last_tick.elapsed() >= Duration::from_millis(250) {
            last_tick = Instant::now();
            let now = sockpoll::wall_now();
            // Drops first: flows finishing in this tick are judged knowing them.
            if let Some(s) = cap.stats() {
                drops = s;
                engine.note_capture_drops(u64::from(s.dropped) + u64::from(s.if_dropped));
            }
            engine.tick(Ts(now.0 - TICK_LAG_NS));
            // Keeps the files current, and notices a full disk within a tick.
            cap.flush_writers();
            note_write_failures(cap.new_write_failures(), &mut write_errors);
            if status_on {
                let (live_flows, flows, findings) = engine.progress();
                let mut e = io::stderr().lock();
                let _ = write!(
                    e,
                    "\r\x1b[2Ktcpdiag: {} {:.1} s, {} packets, {} flow{} ({} live), {} dropped, {} finding{}",
                    args.interface,
                    started.elapsed().as_secs_f64(),
                    cap.frames(),
                    flows,
                    if flows == 1 { "" } else { "s" },
                    live_flows,
                    u64::from(drops.dropped) + u64::from(drops.if_dropped),
                    findings,
                    if findings == 1 { "" } else { "s" }
                );
                let _ = e.flush();
            }
        }
    }
    // What libpcap still holds was captured before the stop: keep it.
    if read_error.is_none() && stop_reason != "count" {
        let _ = cap.read_available(usize::MAX, &mut |f| engine.on_frame(f));
    }
    if status_on {
        clear_status();
    }
    let ended_wall = sockpoll::wall_now();
    let pcap_stats = cap.stats();
    if let Some(s) = pcap_stats {
        engine.note_capture_drops(u64::from(s.dropped) + u64::from(s.if_dropped));
    }
    note_write_failures(cap.close_writers(), &mut write_errors);
    if let Some(p) = poller {
        for batch in p.stop() {
            join.apply(&mut engine, batch);
        }
    }
    let mut host_end = None;
    let host_summary = match (host, host_error) {
        (Some(h), _) => {
            let (mut s, end): (HostSummary, _) = h.finish();
            s.sysctls.extend(sysctls_used);
            host_end = end;
            Some(s)
        }
        (None, Some(e)) => Some(HostSummary {
            error: Some(e),
            ..HostSummary::default()
        }),
        (None, None) => None,
    };
    let frames = cap.frames();
    let link_name = cap.link_name;
    let link = cap.link();
    drop(cap);
    // A quiet end (no packets for a while before the stop) still counts as time seen.
    engine.note_capture_end(ended_wall);
    let result = engine.finish();
    let flagged = sink.flagged.take();
    // The flagged copy is made before the report, so that its failure is in it.
    if let (Some(path), Some(spool), Some(mut flagged)) = (&args.write_flagged, &spool, flagged) {
        let from = match spool {
            Spool::Written(p) => p.as_path(),
            Spool::Temp(f) => f.path(),
        };
        let snaplen = live::effective_snaplen(args.snaplen.unwrap_or(live::DEFAULT_SNAPLEN));
        match write_flagged(from, path, &mut flagged, link, snaplen) {
            Ok(_) => {
                if flagged.dropped > 0 {
                    eprintln!(
                        "tcpdiag: {} flows with findings beyond the first {MAX_FLAGGED} are not in {}",
                        flagged.dropped,
                        path.display()
                    );
                }
            }
            Err(message) => {
                let e = SourceError {
                    file: path.display().to_string(),
                    frame: None,
                    message,
                };
                eprintln!("tcpdiag: {e}");
                write_errors.push(e);
            }
        }
    }
    drop(spool);

    // Findings of this source beyond the engine's.
    let mut extra: Vec<Finding> = Vec::new();
    // The kernel's view of the socket population at the stop (TIME_WAIT against the
    // real port range, CLOSE_WAIT, full accept queues, SYN-RECV, orphans), as the
    // `sockets` command reports it.
    if !args.no_sockets {
        match socket_findings(&args, kernel_ports.as_deref(), ended_wall, host_end) {
            Ok(found) => extra.extend(found),
            Err(e) => {
                join.summary.first_error.get_or_insert(e);
            }
        }
    }
    if let Some(f) = pcap_stats.and_then(|s| drop_finding(&s, started_wall.secs_f64())) {
        extra.push(f);
    }
    let mut errors: Vec<SourceError> = read_error.iter().cloned().collect();
    errors.extend(write_errors);
    let complete = errors.is_empty();
    let source = SourceSummary {
        inputs: Vec::new(),
        errors,
        first_packet: result
            .first_ts
            .map(|t| crate::model::time::round_us(t.secs_f64())),
        capture: Some(CaptureSummary {
            interface: args.interface.clone(),
            netns: args.netns.clone(),
            link_type: link_name.to_string(),
            filter: args.filter.clone(),
            snaplen: live::effective_snaplen(args.snaplen.unwrap_or(live::DEFAULT_SNAPLEN)),
            buffer_bytes: args.buffer_size.saturating_mul(1 << 20),
            started: crate::model::time::round_us(started_wall.secs_f64()),
            ended: crate::model::time::round_us(ended_wall.secs_f64()),
            duration_s: crate::model::time::round_us(ended_wall.since(started_wall)),
            stop_reason,
            frames,
            pcap_stats,
            sockets: (!args.no_sockets).then(|| join.finish()),
            host: host_summary,
        }),
    };
    let summary = match write_run_report(&mut sink, result, extra, source) {
        Ok(summary) => summary,
        Err(code) => return code,
    };
    if let Some(e) = &read_error {
        eprintln!("tcpdiag: {e} (the report covers frames 1-{frames})");
    }
    if !complete {
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    exit_for_findings(args.report.fail_on, &summary.findings)
}

/// `capture.dropped` from pcap_stats. On Linux `received` (tp_packets) counts the
/// packets the buffer then dropped too; the finding wants those that arrived.
fn drop_finding(s: &live::DropStats, at: f64) -> Option<Finding> {
    crate::analyze::capture::dropped(
        u64::from(s.received.saturating_sub(s.dropped)),
        u64::from(s.dropped),
        u64::from(s.if_dropped),
        at,
    )
}

/// Socket-population findings of `tcpdiag sockets` that a capture's report carries
/// (the per-socket ones overlap the flows' own findings and are left out).
const SOCKET_FINDINGS: &[&str] = &[
    "sock.timewait_buildup",
    "sock.close_wait_buildup",
    "sock.accept_queue_full",
    "sock.syn_recv_buildup",
    "sock.orphan_buildup",
];

fn socket_findings(
    args: &CaptureArgs,
    ports: Option<&[u16]>,
    at: Ts,
    host: Option<crate::model::host::HostContext>,
) -> Result<Vec<Finding>, String> {
    use crate::analyze::sockets::{analyze, SocketConfig};
    let sockets = crate::source::sockdiag_snap::full_dump(ports)?;
    let snap = crate::model::socket::Snapshot {
        at: crate::model::time::round_us(at.secs_f64()),
        netns: args.netns.clone(),
        sockets,
        host,
        namespaces: None,
    };
    let cfg = SocketConfig {
        timewait_min: args.thresholds.timewait_min.max(1),
        ..crate::live::population_config(&args.sockets)
    };
    Ok(analyze(&snap, &cfg)
        .into_iter()
        .filter(|f| SOCKET_FINDINGS.contains(&f.id))
        .collect())
}

/// Every captured frame, for --write-flagged to copy from at the end.
enum Spool {
    /// The -w file.
    Written(std::path::PathBuf),
    /// A temporary file, deleted when dropped.
    Temp(tempfile::NamedTempFile),
}

/// What a pcap writer of the capture is (`LiveCapture::write_to` order).
enum WriterRole {
    /// `-w FILE`.
    All(std::path::PathBuf),
    /// The temporary spool behind `--write-flagged FILE`.
    Spool(std::path::PathBuf),
}

/// The one-line error (and summary.errors entry) of a pcap writer that failed: the
/// file, the first frame missing from it, the OS error, and what it holds.
fn write_error(role: &WriterRole, f: &live::WriterFailed) -> SourceError {
    let first_missing = f.kept + 1;
    match role {
        WriterRole::All(path) => {
            let holds = match (f.kept, f.cut_back) {
                (0, true) => "it holds no frame".to_string(),
                (n, true) => format!("it holds frames 1-{n}"),
                (n, false) => format!("it may end inside frame {}", n + 1),
            };
            SourceError {
                file: path.display().to_string(),
                frame: Some(first_missing),
                message: format!(
                    "writing failed: {}; {holds}; the capture goes on without it",
                    f.error
                ),
            }
        }
        WriterRole::Spool(path) => SourceError {
            file: path.display().to_string(),
            frame: Some(first_missing),
            message: format!(
                "spooling the capture for --write-flagged failed: {}; it can hold frames 1-{} only",
                f.error, f.kept
            ),
        },
    }
}

/// Copies the spooled frames of flagged flows to `out`, and the DNS messages sent
/// while one of them was open (a stall's PTR lookups are part of its evidence);
/// returns how many frames were written. On a failure the message says why (the OS
/// error) and what became of `out`: removed when it holds no frame, else partial.
fn write_flagged(
    spool: &std::path::Path,
    out: &std::path::Path,
    flagged: &mut FlaggedFlows,
    link: decode::LinkType,
    snaplen: u32,
) -> Result<u64, String> {
    let mut save =
        PcapWriter::create(out, link, snaplen).map_err(|e| format!("cannot write: {e}"))?;
    let open_spans = flagged.open_spans();
    let spool_name = spool.to_string_lossy();
    let (_, read_error) = pcap_file::read(&spool_name, None, 1, &mut |f: RawFrame<'_>| {
        let number = f.number;
        let mut tunnel = TunnelKey::None;
        let Decoded::Ip(pkt) = decode::decode_in_tunnel(f.link, f.data, &mut tunnel) else {
            return;
        };
        let keep = match &pkt.transport {
            Transport::Tcp(tcp) => {
                let (key, _) = FlowKey::of(
                    Endpoint::new(pkt.ip.src, tcp.src_port),
                    Endpoint::new(pkt.ip.dst, tcp.dst_port),
                );
                flagged.keeps_segment(number, key, &tunnel)
            }
            Transport::Udp {
                src_port, dst_port, ..
            } if *src_port == 53 || *dst_port == 53 => in_spans(&open_spans, number),
            _ => false,
        };
        if keep {
            save.write(f.ts, f.wire_len, f.data);
        }
    });
    let written = match save.finish() {
        Ok(n) => n,
        Err(f) if f.records_kept == 0 => {
            let _ = std::fs::remove_file(out);
            return Err(format!(
                "writing failed: {}; removed it (no frame could be written)",
                f.error
            ));
        }
        Err(f) => {
            let total = f.records_kept + f.records_lost;
            let what = if f.cut_back {
                format!(
                    "it is partial: it holds {} of {total} frames",
                    f.records_kept
                )
            } else {
                format!(
                    "it is partial and may end inside frame {}",
                    f.records_kept + 1
                )
            };
            return Err(format!("writing failed: {}; {what}", f.error));
        }
    };
    match read_error {
        // The spool cut short: keep what was copied, say where.
        Some(e) => Err(format!(
            "the capture could not be read back past frame {}: {}; it holds {written} frames copied before that",
            e.frame.map_or(0, |n| n - 1),
            e.message
        )),
        None => Ok(written),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_drops_are_part_of_pcap_received() {
        // 1000 packets passed the filter, 10 of them were dropped: 1 % lost.
        let s = live::DropStats {
            received: 1000,
            dropped: 10,
            if_dropped: 0,
        };
        let f = drop_finding(&s, 1.0).expect("finding");
        assert_eq!(f.evidence["received"], 990);
        assert_eq!(f.evidence["lost_percent"], 1.0);
        assert_eq!(f.severity, crate::analyze::Severity::Error);
    }
}
