//! Timers seen on the wire: keepalive probes, zero windows and persist probes,
//! retransmissions by timeout or after duplicate ACKs, and connections that gave up.

use super::context::CaptureContext;
use super::kernel::retries_timeout;
use super::{fmt_list, round_ms, AnalyzerConfig, Confidence, Finding, Severity};
use crate::flow::analysis::Analysis;
use crate::flow::conn::{Connection, EndReason};
use crate::flow::side::Resend;
use crate::flow::{Event, EventKind};
use crate::model::units::plural;
use crate::model::{Dir, Ts};

/// The tcp_retries2 whose timeout is closest to `secs`.
fn retries_for(secs: f64) -> u32 {
    (1..=15)
        .min_by(|&a, &b| {
            (retries_timeout(a) - secs)
                .abs()
                .total_cmp(&(retries_timeout(b) - secs).abs())
        })
        .unwrap_or(15)
}

fn segment_events(conn: &Connection, dir: Dir, flag: u32) -> Vec<(&Event, Analysis)> {
    conn.timeline
        .events
        .iter()
        .filter(|e| e.dir == dir)
        .filter_map(|e| match e.kind {
            EventKind::Segment { analysis, .. } if analysis.has(flag) => Some((e, analysis)),
            _ => None,
        })
        .collect()
}

fn idle_before(e: &Event) -> Option<f64> {
    match e.kind {
        EventKind::Segment { idle_before_ms, .. } => {
            idle_before_ms.map(|ms| f64::from(ms) / 1000.0)
        }
        _ => None,
    }
}

pub fn analyze(
    conn: &Connection,
    cfg: &AnalyzerConfig,
    ctx: &CaptureContext,
    out: &mut Vec<Finding>,
) {
    for dir in [Dir::FromClient, Dir::FromServer] {
        keepalive(conn, dir, out);
        zero_window(conn, dir, out);
        retransmissions(conn, dir, cfg, ctx, out);
    }
}

fn keepalive(conn: &Connection, prober: Dir, out: &mut Vec<Finding>) {
    let probes = segment_events(conn, prober, Analysis::KEEP_ALIVE);
    if probes.is_empty() {
        return;
    }
    let acks = segment_events(conn, prober.other(), Analysis::KEEP_ALIVE_ACK);
    let times: Vec<Ts> = probes.iter().map(|(e, _)| e.ts).collect();
    let intervals: Vec<f64> = times
        .windows(2)
        .map(|w| round_ms(w[1].since(w[0])))
        .collect();
    let idle = idle_before(probes[0].0);
    let last_ack = acks.last().map(|(e, _)| e.ts);
    let unanswered_tail = probes
        .iter()
        .filter(|(e, _)| last_ack.is_none_or(|a| e.ts > a))
        .count();
    let who = if prober == Dir::FromClient {
        conn.client
    } else {
        conn.server
    };
    let rst_after = conn
        .side(prober)
        .first_rst_info
        .as_deref()
        .copied()
        .filter(|r| r.at.ts >= *times.last().unwrap_or(&r.at.ts));
    let frames: Vec<u64> = probes.iter().map(|(e, _)| e.frame).collect();
    let median_interval = {
        let mut v = intervals.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let dead = unanswered_tail >= 2
        && (rst_after.is_some()
            || conn
                .side(prober.other())
                .last_seen
                .is_none_or(|s| s.ts < times[times.len() - unanswered_tail]));
    let settings = format!(
        "TCP_KEEPIDLE ~{} s, TCP_KEEPINTVL ~{} s",
        idle.map_or("?".into(), |i| format!("{i:.0}")),
        median_interval.map_or("?".into(), |i| format!("{i:.0}"))
    );
    if dead {
        out.push(
            Finding::new("keepalive.dead_peer", Severity::Error, Some(conn.id), times[times.len() - unanswered_tail].secs_f64())
                .summary(format!(
                    "{} {who} sent {} keepalive probes{} that went unanswered{}: the peer is dead or unreachable ({settings}, TCP_KEEPCNT ~{})",
                    prober.side(),
                    unanswered_tail,
                    if intervals.is_empty() { String::new() } else { format!(" {} s apart", fmt_list(&intervals)) },
                    rst_after.map_or(String::new(), |r| format!(", then reset the connection (frame {})", r.at.frame)),
                    unanswered_tail
                ))
                .evidence("probe_frames", &frames)
                .evidence("idle_before_first_s", idle)
                .evidence("intervals_s", &intervals)
                .evidence("unanswered", unanswered_tail)
                .evidence("answered", acks.len())
                .evidence("rst_frame", rst_after.map(|r| r.at.frame))
                .confidence(Confidence::High)
                .hint("Keepalive declared the peer dead: check whether the peer host or a stateful box between (firewall/NAT idle timeout) dropped the connection. The schedule is TCP_KEEPIDLE/KEEPINTVL/KEEPCNT on the socket or net.ipv4.tcp_keepalive_time/intvl/probes."),
        );
    } else {
        out.push(
            Finding::new("keepalive.probe", Severity::Info, Some(conn.id), times[0].secs_f64())
                .summary(format!(
                    "{} {who} sent {} ({settings}), {} answered",
                    prober.side(),
                    plural(probes.len() as u64, "keepalive probe"),
                    acks.len()
                ))
                .evidence("probe_frames", &frames)
                .evidence("idle_before_first_s", idle)
                .evidence("intervals_s", &intervals)
                .evidence("answered", acks.len())
                .confidence(Confidence::High)
                .hint("Informational: keepalive is on for this socket; probes answered mean the peer is alive."),
        );
    }
}

fn zero_window(conn: &Connection, receiver: Dir, out: &mut Vec<Finding>) {
    let zeros = segment_events(conn, receiver, Analysis::ZERO_WINDOW);
    if zeros.is_empty() {
        return;
    }
    let first = zeros[0].0;
    // Reopened: the receiver's next segment advertising a non-zero window.
    let reopened = conn.timeline.events.iter().find(|e| {
        e.dir == receiver
            && e.frame > first.frame
            && matches!(e.kind, EventKind::Segment { window, flags, .. } if window > 0 && !flags.rst())
    });
    let stuck_s = reopened.map_or(conn.end.since(first.ts), |r| r.ts.since(first.ts));
    let who = if receiver == Dir::FromClient {
        conn.client
    } else {
        conn.server
    };
    out.push(
        Finding::new(
            "window.zero",
            if stuck_s >= 1.0 || reopened.is_none() { Severity::Warning } else { Severity::Info },
            Some(conn.id),
            first.ts.secs_f64(),
        )
        .summary(format!(
            "{} {who} advertised a zero window {} (first at frame {}); {}",
            receiver.side(),
            plural(zeros.len() as u64, "time"),
            first.frame,
            match reopened {
                Some(r) => format!("it reopened after {stuck_s:.3} s (frame {})", r.frame),
                None => format!("it never reopened in the capture ({stuck_s:.3} s until its end)"),
            }
        ))
        .evidence("zero_window_frames", zeros.iter().map(|(e, _)| e.frame).take(50).collect::<Vec<_>>())
        .evidence("count", zeros.len())
        .evidence("reopened_frame", reopened.map(|r| r.frame))
        .evidence("zero_for_s", round_ms(stuck_s))
        .confidence(Confidence::High)
        .hint("The receiving application is not reading its socket fast enough (busy, blocked, or a small SO_RCVBUF): look at the reader on that host, its Recv-Q in ss, and net.ipv4.tcp_rmem."),
    );
    let probes = segment_events(conn, receiver.other(), Analysis::ZERO_WINDOW_PROBE);
    if !probes.is_empty() {
        let times: Vec<f64> = probes
            .iter()
            .map(|(e, _)| round_ms(e.ts.since(conn.start)))
            .collect();
        let intervals: Vec<f64> = times.windows(2).map(|w| round_ms(w[1] - w[0])).collect();
        let backoff = intervals.windows(2).all(|w| w[1] >= w[0] * 1.5);
        out.push(
            Finding::new("window.persist_probe", Severity::Info, Some(conn.id), probes[0].0.ts.secs_f64())
                .summary(format!(
                    "{} sent {} at {} s{}; Wireshark labels these \"Keep-Alive\", but the peer's window was 0",
                    receiver.other().side(),
                    plural(probes.len() as u64, "zero-window (persist) probe"),
                    fmt_list(&times),
                    if intervals.len() >= 2 && backoff { ", backing off exponentially" } else { "" }
                ))
                .evidence("probe_frames", probes.iter().map(|(e, _)| e.frame).collect::<Vec<_>>())
                .evidence("times_rel_s", &times)
                .evidence("intervals_s", &intervals)
                .evidence("exponential_backoff", backoff)
                .confidence(Confidence::High)
                .hint("The sender waits for the receiver to drain its buffer; the persist timer never gives up by itself while probes are answered (tcp_retries2 / TCP_USER_TIMEOUT bound it only when they are not)."),
        );
    }
}

/// Chains of resends of the same sequence number, in order.
fn chains(resends: &[Resend]) -> Vec<Vec<Resend>> {
    let mut out: Vec<Vec<Resend>> = Vec::new();
    for r in resends {
        match out.last_mut() {
            Some(c) if c[0].seq_rel == r.seq_rel => c.push(*r),
            _ => out.push(vec![*r]),
        }
    }
    out
}

fn retransmissions(
    conn: &Connection,
    dir: Dir,
    cfg: &AnalyzerConfig,
    ctx: &CaptureContext,
    out: &mut Vec<Finding>,
) {
    let side = conn.side(dir);
    let peer = conn.side(dir.other());
    // SYN retransmissions are the handshake analyzer's.
    let data: Vec<Resend> = side
        .resends
        .iter()
        .filter(|r| !(r.seq_rel == 0 && side.isn.is_some()))
        .copied()
        .collect();
    if data.is_empty() {
        return;
    }
    let who = if dir == Dir::FromClient {
        conn.client
    } else {
        conn.server
    };
    let rto: Vec<Resend> = data
        .iter()
        .filter(|r| r.kind == Analysis::RETRANSMISSION)
        .copied()
        .collect();
    let fast: Vec<Resend> = data
        .iter()
        .filter(|r| r.kind == Analysis::FAST_RETRANSMISSION)
        .copied()
        .collect();
    if !rto.is_empty() {
        let all = chains(&rto);
        let worst = all.iter().max_by_key(|c| c.len()).expect("non-empty");
        let first_rto = worst[0].since_progress_ns as f64 / 1e9;
        let intervals: Vec<f64> = worst
            .windows(2)
            .map(|w| round_ms(w[1].at.ts.since(w[0].at.ts)))
            .collect();
        // The first resend may be a tail loss probe; the timer's doubling shows in the
        // intervals between the resends that follow.
        let doubling = intervals.len() >= 2
            && intervals
                .windows(2)
                .all(|w| w[1] >= w[0] * 1.6 && w[1] <= w[0] * 2.5);
        out.push(
            Finding::new("retransmit.timeout", Severity::Warning, Some(conn.id), rto[0].at.ts.secs_f64())
                .summary(format!(
                    "{} {who} retransmitted {} after timeouts (worst: seq {} resent {}, first {:.3} s after the last progress{}{})",
                    dir.side(),
                    plural(rto.len() as u64, "time"),
                    worst[0].seq_rel,
                    plural(worst.len() as u64, "time"),
                    first_rto,
                    if intervals.is_empty() { String::new() } else { format!(", then after {} s", fmt_list(&intervals)) },
                    if doubling { ": exponential RTO backoff" } else { "" }
                ))
                .evidence("retransmissions", rto.len())
                .evidence("frames", rto.iter().map(|r| r.at.frame).take(50).collect::<Vec<_>>())
                .evidence("worst_chain_frames", worst.iter().map(|r| r.at.frame).collect::<Vec<_>>())
                .evidence("first_rto_s", round_ms(first_rto))
                .evidence("backoff_intervals_s", &intervals)
                .evidence("exponential_backoff", doubling)
                .confidence(Confidence::High)
                .hint("Segments or their ACKs were lost and only the retransmission timer recovered them: look for drops on the path (interface drops in /sys/class/net/*/statistics, firewall drops, full queues) and at RetransSegs / TCPTimeouts in /proc/net/snmp and netstat."),
        );
        give_up(conn, dir, cfg, ctx, worst, out);
    }
    if !fast.is_empty() {
        let resent_bytes: u64 = data.iter().map(|r| u64::from(r.len)).sum();
        let loss = resent_bytes as f64 / side.payload_bytes.max(1) as f64;
        out.push(
            Finding::new(
                "retransmit.fast",
                if loss >= 0.01 { Severity::Warning } else { Severity::Info },
                Some(conn.id),
                fast[0].at.ts.secs_f64(),
            )
            .summary(format!(
                "{} {who} fast-retransmitted {} after duplicate ACKs ({} dup ACKs from the peer); {:.2}% of its bytes were resent",
                dir.side(),
                plural(fast.len() as u64, "segment"),
                peer.counts.dup_acks,
                loss * 100.0
            ))
            .evidence("fast_retransmissions", fast.len())
            .evidence("frames", fast.iter().map(|r| r.at.frame).take(50).collect::<Vec<_>>())
            .evidence("peer_dup_acks", peer.counts.dup_acks)
            .evidence("resent_bytes", resent_bytes)
            .evidence("resent_share", round_ms(loss))
            .confidence(Confidence::High)
            .hint("Packet loss on the path, recovered quickly by duplicate ACKs/SACK: check for congestion or a lossy link (interface errors and drops, qdisc drops with tc -s qdisc)."),
        );
    }
}

/// Linux's cap on the retransmission timeout (TCP_RTO_MAX).
const RTO_MAX_S: f64 = 120.0;

/// When the sender's next retransmission was due after the chain's last one: the
/// timer doubles. After a single resend (possibly a tail loss probe, which does not
/// follow the doubling) allow at least 1 s.
fn next_resend_due_s(chain: &[Resend]) -> f64 {
    let due = match chain {
        [.., prev, last] => 2.0 * last.at.ts.since(prev.at.ts),
        [only] => (2.0 * only.since_progress_ns as f64 / 1e9).max(1.0),
        [] => 1.0,
    };
    due.clamp(0.2, RTO_MAX_S)
}

/// How the capture shows that the sender went quiet after its last resend: the
/// silence that followed (None when it cannot be measured) and what ended the flow.
fn silence_after(conn: &Connection, last: Ts, ctx: &CaptureContext) -> (Option<f64>, &'static str) {
    match conn.end_reason {
        EndReason::Idle => (None, "idle timeout"),
        EndReason::Closed => (None, "connection closed"),
        EndReason::Reused => (None, "new connection on the 4-tuple"),
        EndReason::Evicted => (Some(0.0), "flow evicted"),
        EndReason::EndOfCapture => (
            Some(ctx.capture_end.map_or(0.0, |end| end.since(last).max(0.0))),
            "end of capture",
        ),
    }
}

/// A retransmission chain that ends in the sender's RST or in silence, with the data
/// never acknowledged. Silence counts only when the capture went on past the moment
/// the next retransmission was due; otherwise the chain was still running when the
/// capture ended, and the `retransmit.timeout` finding (the last one pushed) says so.
fn give_up(
    conn: &Connection,
    dir: Dir,
    cfg: &AnalyzerConfig,
    ctx: &CaptureContext,
    chain: &[Resend],
    out: &mut Vec<Finding>,
) {
    let side = conn.side(dir);
    let peer = conn.side(dir.other());
    let last = chain[chain.len() - 1];
    let acked_later = peer.last_seen.is_some_and(|p| p.ts > last.at.ts);
    if acked_later {
        return;
    }
    let rst = side
        .first_rst_info
        .as_deref()
        .copied()
        .filter(|r| r.at.ts >= last.at.ts);
    // Silence: the resend was the sender's last packet.
    let silent = rst.is_none() && side.last_seen.is_some_and(|s| s.frame == last.at.frame);
    if rst.is_none() && !silent {
        return;
    }
    let due = next_resend_due_s(chain);
    let (silence, silence_by) = silence_after(conn, last.at.ts, ctx);
    if rst.is_none() && silence.is_some_and(|q| q < due) {
        if let Some(timeout) = out.last_mut().filter(|f| f.id == "retransmit.timeout") {
            let quiet = silence.unwrap_or(0.0);
            timeout.summary.push_str(&format!(
                "; the capture ended {quiet:.3} s after the last one (frame {}), before the next was due \
                 (~{due:.1} s): whether the sender gave up is not in the capture",
                last.at.frame
            ));
            timeout
                .evidence
                .insert("still_retrying_at_end".into(), true.into());
            timeout
                .evidence
                .insert("capture_ended_after_s".into(), round_ms(quiet).into());
            timeout
                .evidence
                .insert("next_retransmission_due_s".into(), round_ms(due).into());
        }
        return;
    }
    // The data has been outstanding since the sender's last progress before the chain.
    let outstanding_since = chain[0].at.ts.0 - chain[0].since_progress_ns;
    let end_ts = rst.map_or(last.at.ts, |r| r.at.ts);
    let total = (end_ts.0 - outstanding_since) as f64 / 1e9;
    // In silence the kernel gave up after the last resend and before the next was due.
    let latest = if rst.is_some() { total } else { total + due };
    let (retries2, assumed) = cfg.tcp_retries2.map_or((15, true), |r| (r, false));
    let allowed = retries_timeout(retries2);
    let short = latest < allowed * 0.5;
    let when = if rst.is_some() {
        format!("{total:.1} s after it was first sent")
    } else {
        format!("between {total:.1} and {latest:.1} s after it was first sent")
    };
    let user_timeout = if rst.is_some() {
        format!("~{:.0} ms", total * 1000.0)
    } else {
        format!("{:.0}-{:.0} ms", total * 1000.0, latest * 1000.0)
    };
    out.push(
        Finding::new("retransmit.give_up", Severity::Error, Some(conn.id), end_ts.secs_f64())
            .summary(format!(
                "{} {} gave up after {} retransmissions of unacknowledged data, {when}, {}; tcp_retries2={retries2}{} allows ~{allowed:.1} s{}",
                dir.side(),
                if dir == Dir::FromClient { conn.client } else { conn.server },
                chain.len(),
                match (rst, silence) {
                    (Some(r), _) => format!("ending with a RST (frame {})", r.at.frame),
                    (None, Some(q)) => format!(
                        "then fell silent: no retransmission in the {q:.1} s to the {silence_by}, though the next was due ~{due:.1} s after the last"
                    ),
                    (None, None) => format!("then fell silent until the {silence_by}"),
                },
                if assumed { " (Linux default, assumed)" } else { "" },
                if short {
                    let (lo, hi) = (retries_for(total), retries_for(latest));
                    let retries = if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") };
                    format!(
                        ": much shorter, so TCP_USER_TIMEOUT {user_timeout} or tcp_retries2 ~{retries} is in effect"
                    )
                } else {
                    String::new()
                }
            ))
            .evidence("retransmissions", chain.len())
            .evidence("frames", chain.iter().map(|r| r.at.frame).collect::<Vec<_>>())
            .evidence("unacked_for_s", round_ms(total))
            .evidence("gave_up_within_s", [round_ms(total), round_ms(latest)])
            .evidence("ended_with", if rst.is_some() { "rst" } else { "silence" })
            .evidence("silence_s", silence.filter(|q| q.is_finite()).map(round_ms))
            .evidence("silence_until", silence_by)
            .evidence("next_retransmission_due_s", round_ms(due))
            .evidence("tcp_retries2", retries2)
            .evidence("tcp_retries2_assumed", assumed)
            .evidence("retries2_allows_s", round_ms(allowed))
            .evidence(
                "suggested_user_timeout_ms",
                short.then(|| [(total * 1000.0).round(), (latest * 1000.0).round()]),
            )
            .confidence(if rst.is_some() { Confidence::High } else { Confidence::Medium })
            .hint("The peer stopped acknowledging (dead host, blackholed path, or a firewall dropping this flow). The kernel gives up after net.ipv4.tcp_retries2 (~924.6 s at 15) unless TCP_USER_TIMEOUT is set; applications that need faster failure set TCP_USER_TIMEOUT."),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_for_the_closest_bound() {
        assert_eq!(retries_for(3.1), 3);
        assert_eq!(retries_for(924.0), 15);
    }
}
