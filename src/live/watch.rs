//! `tcpdiag watch`: poll, diff, analyze, print; SIGINT/SIGTERM end the run with its
//! summary (`stop`).

use std::collections::BTreeMap;
use std::io;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::{exit_for, query, snapshot, socket_config, stop};
use crate::analyze::sockets::{analyze, Changes};
use crate::analyze::Finding;
use crate::cli::WatchArgs;
use crate::commands::{default_format, fail};
use crate::model::host::HostContext;
use crate::model::socket::Snapshot;
use crate::report::sockets::{CounterDelta, WatchSummary, WatchWriter};
use crate::report::Format;

/// Non-zero counter and interface-drop increases between two host readings.
pub fn counter_deltas(prev: &HostContext, cur: &HostContext) -> BTreeMap<String, CounterDelta> {
    let dt = (cur.at - prev.at).max(1e-3);
    let mut out = BTreeMap::new();
    let mut add = |name: String, a: u64, b: u64| {
        if b > a {
            let d = b - a;
            out.insert(
                name,
                CounterDelta {
                    delta: d,
                    per_s: crate::analyze::round_ms(d as f64 / dt),
                },
            );
        }
    };
    for (k, b) in &cur.counters {
        if k == "Tcp.CurrEstab" {
            continue; // a gauge, not a counter
        }
        if let Some(a) = prev.counters.get(k) {
            add(k.clone(), *a, *b);
        }
    }
    for i in &cur.interfaces {
        if let Some(p) = prev.interfaces.iter().find(|p| p.name == i.name) {
            add(format!("{}.rx_dropped", i.name), p.rx_dropped, i.rx_dropped);
            add(format!("{}.tx_dropped", i.name), p.tx_dropped, i.tx_dropped);
            add(format!("{}.rx_errors", i.name), p.rx_errors, i.rx_errors);
            add(format!("{}.tx_errors", i.name), p.tx_errors, i.tx_errors);
            if let (Some(a), Some(b)) = (p.rx_missed_errors, i.rx_missed_errors) {
                add(format!("{}.rx_missed_errors", i.name), a, b);
            }
        }
    }
    out
}

fn sleep_until(deadline: Instant) {
    while !stop::requested() {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
    }
}

pub fn watch(args: WatchArgs) -> ExitCode {
    let q = match query(&args.ns, &args.filter, true) {
        Ok(q) => q,
        Err(e) => return fail(e),
    };
    let mut dumper = match super::Sockets::open(&q, args.all_netns) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    if args.count == Some(0) {
        return fail("--count must be at least 1");
    }
    if args.interval < Duration::from_millis(10) {
        return fail("--interval must be at least 10ms");
    }
    stop::install_handlers();
    let cfg = socket_config(&args.thresholds, args.stuck_polls);
    let format = match default_format(args.format, Format::Ndjson) {
        Format::Table => Format::Table,
        _ => Format::Ndjson,
    };
    let stdout = io::stdout();
    let mut w = WatchWriter::new(io::BufWriter::new(stdout.lock()), format);
    let mut changes = Changes::default();
    let mut prev: Option<Snapshot> = None;
    let mut all_findings: Vec<Finding> = Vec::new();
    let mut summary = WatchSummary::default();
    let start = Instant::now();
    let mut next = Instant::now();
    let mut poll = 0u64;
    loop {
        poll += 1;
        let snap = match snapshot(&mut dumper, &q, args.filter.processes) {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let diff = super::diff::diff(prev.as_ref().map(|p| p.sockets.as_slice()), &snap.sockets);
        let deltas = match (
            prev.as_ref().and_then(|p| p.host.as_ref()),
            snap.host.as_ref(),
        ) {
            (Some(a), Some(b)) => Some(counter_deltas(a, b)),
            _ => None,
        };
        let mut found: Vec<Finding> = analyze(&snap, &cfg)
            .into_iter()
            .filter(|f| changes.first_time(f))
            .collect();
        if let Some(p) = &prev {
            found.extend(changes.on_poll(p, &snap, &cfg));
        }
        summary.record(poll, &diff, &found);
        let r = w
            .poll(
                poll,
                &snap,
                &diff,
                deltas.as_ref(),
                &found,
                prev.as_ref().map(|p| p.at),
            )
            .and_then(|_| w.flush());
        if let Err(e) = r {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return exit_for(&all_findings, args.fail_on);
            }
            return fail(format!("writing failed: {e}"));
        }
        all_findings.extend(found);
        drop(diff);
        prev = Some(snap);
        if args.count.is_some_and(|c| poll >= c) || stop::requested() {
            break;
        }
        next += args.interval;
        sleep_until(next);
        if stop::requested() {
            break;
        }
    }
    summary.duration_s = crate::analyze::round_ms(start.elapsed().as_secs_f64());
    summary.stopped_by = if stop::requested() { "signal" } else { "count" };
    if let Some(p) = &prev {
        summary.final_states = crate::analyze::sockets::summarize(p).states;
    }
    let r = w.summary(&summary).and_then(|_| w.flush());
    if let Err(e) = r {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return fail(format!("writing failed: {e}"));
        }
    }
    exit_for(&all_findings, args.fail_on)
}
