//! Timers seen on the wire: keepalive probes, zero windows and persist probes,
//! retransmissions by timeout, tail-loss probes and fast retransmissions, and
//! connections that gave up. Everything here reads the flow's running trackers
//! (`flow::episodes`), fed by every segment, never the stored timeline: a
//! `--timeline-cap` or the memory budget cannot change what is found.

use super::cause::Cause;
use super::context::CaptureContext;
use super::kernel::{give_up_schedule, retries_timeout, RTO_MIN_S};
use super::{fmt_list, round_ms, AnalyzerConfig, Confidence, Finding, Severity, Symptom};
use crate::flow::conn::{Connection, EndReason};
use crate::flow::episodes::{Chain, ResendCause};
use crate::model::units::plural;
use crate::model::{Dir, Endpoint, Ts};

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

fn endpoint(conn: &Connection, dir: Dir) -> Endpoint {
    if dir == Dir::FromClient {
        conn.client
    } else {
        conn.server
    }
}

fn ms_list(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| round_ms(*x)).collect()
}

pub fn analyze(
    conn: &Connection,
    cfg: &AnalyzerConfig,
    ctx: &CaptureContext,
    out: &mut Vec<Finding>,
) {
    for dir in [Dir::FromClient, Dir::FromServer] {
        keepalive(conn, dir, out);
        zero_window(conn, dir, ctx, out);
        retransmissions(conn, dir, cfg, ctx, out);
    }
}

fn keepalive(conn: &Connection, prober: Dir, out: &mut Vec<Finding>) {
    let k = &conn.side(prober).keepalives;
    let Some(first) = k.probes.first() else {
        return;
    };
    let intervals = ms_list(&k.probes.intervals());
    let idle = k.idle_before_first_ns.map(|ns| round_ms(ns as f64 / 1e9));
    let who = endpoint(conn, prober);
    let frames: Vec<u64> = k.probes.head.iter().map(|a| a.frame).collect();
    let median_interval = {
        let mut v = intervals.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let settings = format!(
        "TCP_KEEPIDLE ~{} s, TCP_KEEPINTVL ~{} s",
        idle.map_or("?".into(), |i| format!("{i:.0}")),
        median_interval.map_or("?".into(), |i| format!("{i:.0}"))
    );
    let tail_first = k.tail_first.filter(|_| k.unanswered_tail >= 2);
    // The prober's own RST after its unanswered probes: its kernel gave up.
    let rst_after = conn
        .side(prober)
        .first_rst_info
        .as_deref()
        .copied()
        .filter(|r| k.last_probe.is_some_and(|p| r.at.ts >= p.ts));
    let dead = tail_first.is_some_and(|tail| {
        rst_after.is_some()
            || conn
                .side(prober.other())
                .last_seen
                .is_none_or(|s| s.ts < tail.ts)
    });
    if let (true, Some(tail)) = (dead, tail_first) {
        let mut f = Finding::new("keepalive.dead_peer", Severity::Error, Some(conn.id), tail.ts.secs_f64())
            .summary(format!(
                "{} {who} sent {} keepalive probes{} that went unanswered{}: the peer is dead or unreachable ({settings}, TCP_KEEPCNT ~{})",
                prober.side(),
                k.unanswered_tail,
                if intervals.is_empty() { String::new() } else { format!(" {} s apart", fmt_list(&intervals)) },
                rst_after.map_or(String::new(), |r| format!(", then its kernel reset the connection (frame {})", r.at.frame)),
                k.unanswered_tail
            ))
            .evidence("probe_frames", &frames)
            .evidence("probes", k.probes.count)
            .evidence("idle_before_first_s", idle)
            .evidence("intervals_s", &intervals)
            .evidence("unanswered", k.unanswered_tail)
            .evidence("answered", k.answered)
            .evidence("rst_frame", rst_after.map(|r| r.at.frame))
            .confidence(Confidence::High)
            .with_cause(Cause::KeepaliveGaveUp);
        if let Some(r) = rst_after {
            f = f.claim(Symptom::Rst(r.at.frame));
        }
        out.push(f);
    } else {
        out.push(
            Finding::new("keepalive.probe", Severity::Info, Some(conn.id), first.ts.secs_f64())
                .summary(format!(
                    "{} {who} sent {} ({settings}), {} answered",
                    prober.side(),
                    plural(k.probes.count, "keepalive probe"),
                    k.answered
                ))
                .evidence("probe_frames", &frames)
                .evidence("probes", k.probes.count)
                .evidence("idle_before_first_s", idle)
                .evidence("intervals_s", &intervals)
                .evidence("answered", k.answered)
                .confidence(Confidence::High)
                .hint("Informational: keepalive is on for this socket; probes answered mean the peer is alive."),
        );
    }
}

/// A zero-window episode at least this long is a warning (a reader that stalls for
/// seconds), shorter ones are flow control doing its job.
const ZERO_WINDOW_WARN_S: f64 = 1.0;

fn zero_window(conn: &Connection, receiver: Dir, ctx: &CaptureContext, out: &mut Vec<Finding>) {
    let z = &conn.side(receiver).zero_windows;
    // An episode still open at the end lasts until the capture ended.
    let end = ctx.capture_end.map_or(conn.end, |e| e.max(conn.end));
    let Some((worst, worst_ns)) = z.worst(end) else {
        return;
    };
    let worst_s = worst_ns as f64 / 1e9;
    let who = endpoint(conn, receiver);
    let probe_times: Vec<f64> = worst
        .probes
        .head
        .iter()
        .map(|a| round_ms(a.ts.since(worst.start.ts)))
        .collect();
    let open = worst.reopened.is_none();
    out.push(
        Finding::new(
            "window.zero",
            if worst_s >= ZERO_WINDOW_WARN_S || open { Severity::Warning } else { Severity::Info },
            Some(conn.id),
            worst.start.ts.secs_f64(),
        )
        .summary(format!(
            "{} {who} advertised a zero window for {worst_s:.3} s at worst (frame {} {}), {} in all over {} ({:.3} s at zero); the sender probed it {} in that episode",
            receiver.side(),
            worst.start.frame,
            match worst.reopened {
                Some(r) => format!("to its reopening at frame {}", r.frame),
                None => "until the end of the capture: it never reopened".to_string(),
            },
            plural(z.ads, "zero-window segment"),
            plural(u64::from(z.episodes), "episode"),
            z.total_ns(end) as f64 / 1e9,
            plural(worst.probes.count, "time"),
        ))
        .evidence("longest_episode", serde_json::json!({
            "start_frame": worst.start.frame,
            "reopened_frame": worst.reopened.map(|r| r.frame),
            "duration_s": round_ms(worst_s),
            "zero_window_segments": worst.ads,
            "persist_probes": worst.probes.count,
            "persist_probes_answered": worst.probe_acks,
            "probe_times_rel_s": probe_times,
        }))
        .evidence("episodes", z.episodes)
        .evidence("count", z.ads)
        .evidence("zero_for_s", round_ms(z.total_ns(end) as f64 / 1e9))
        .evidence("reopened_frame", worst.reopened.map(|r| r.frame))
        .confidence(Confidence::High)
        .with_cause(Cause::ReceiverNotReading),
    );
    let probes = &z.probes;
    if probes.count > 0 {
        let times: Vec<f64> = probes
            .head
            .iter()
            .map(|a| round_ms(a.ts.since(conn.start)))
            .collect();
        let intervals: Vec<f64> = times.windows(2).map(|w| round_ms(w[1] - w[0])).collect();
        let backoff = intervals.windows(2).all(|w| w[1] >= w[0] * 1.5);
        out.push(
            Finding::new("window.persist_probe", Severity::Info, Some(conn.id), probes.head[0].ts.secs_f64())
                .summary(format!(
                    "{} sent {} at {} s{}; Wireshark labels these \"Keep-Alive\", but the peer's window was 0",
                    receiver.other().side(),
                    plural(probes.count, "zero-window (persist) probe"),
                    fmt_list(&times),
                    if intervals.len() >= 2 && backoff { ", backing off exponentially" } else { "" }
                ))
                .evidence("probe_frames", probes.head.iter().map(|a| a.frame).collect::<Vec<_>>())
                .evidence("probes", probes.count)
                .evidence("times_rel_s", &times)
                .evidence("intervals_s", &intervals)
                .evidence("exponential_backoff", backoff)
                .confidence(Confidence::High)
                .hint("Informational: the sender waits for the receiver to drain its buffer; the persist timer never gives up by itself while probes are answered (tcp_retries2 / TCP_USER_TIMEOUT bound it only when they are not)."),
        );
    }
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
    let r = &side.resends;
    if r.is_empty() {
        return;
    }
    let who = endpoint(conn, dir);
    let frames_of = |cause: ResendCause| -> Vec<u64> {
        r.first
            .iter()
            .filter(|x| x.cause == cause)
            .map(|x| x.at.frame)
            .collect()
    };
    if r.tail_loss_probes > 0 {
        let probes: Vec<_> = r
            .first
            .iter()
            .filter(|x| x.cause == ResendCause::TailLossProbe)
            .collect();
        let after_ms: Vec<f64> = probes
            .iter()
            .map(|x| round_ms(x.since_progress_ns as f64 / 1e6))
            .collect();
        let spurious = r.dsacked_probes > 0 && r.dsacked_probes == r.tail_loss_probes;
        out.push(
            // `first` keeps the first resends of any cause: the probes may not be among them.
            Finding::new("retransmit.tail_loss_probe", Severity::Info, Some(conn.id), probes.first().copied().or(r.latest.as_ref()).map_or(conn.start, |x| x.at.ts).secs_f64())
                .summary(format!(
                    "{} {who} resent its last segment {} only {} ms after its last progress, sooner than any retransmission timeout (>= {:.0} ms on Linux): {}{}",
                    dir.side(),
                    plural(u64::from(r.tail_loss_probes), "time"),
                    fmt_list(&after_ms),
                    RTO_MIN_S * 1000.0,
                    "tail-loss probes",
                    match r.dsacked_probes {
                        0 => String::new(),
                        n if spurious => format!("; the receiver D-SACKed {}: it already had the data, so nothing was lost", plural(u64::from(n), "of them")),
                        n => format!("; the receiver D-SACKed {n} of them"),
                    }
                ))
                .evidence("probes", r.tail_loss_probes)
                .evidence("frames", probes.iter().map(|x| x.at.frame).collect::<Vec<_>>())
                .evidence("after_progress_ms", &after_ms)
                .evidence("dsacked", r.dsacked_probes)
                .evidence("rto_min_ms", RTO_MIN_S * 1000.0)
                .confidence(if spurious { Confidence::High } else { Confidence::Medium })
                .with_cause(Cause::TailLossProbe { spurious }),
        );
    }
    if r.timeouts > 0 {
        timeouts(conn, dir, cfg, ctx, out);
    }
    let fast = r.fast;
    if fast > 0 {
        let resent_bytes = r.bytes;
        let loss = resent_bytes as f64 / side.payload_bytes.max(1) as f64;
        let fast_frames = frames_of(ResendCause::Fast);
        out.push(
            Finding::new(
                "retransmit.fast",
                if loss >= 0.01 { Severity::Warning } else { Severity::Info },
                Some(conn.id),
                r.first
                    .iter()
                    .find(|x| x.cause == ResendCause::Fast)
                    .map_or(conn.start.secs_f64(), |x| x.at.ts.secs_f64()),
            )
            .summary(format!(
                "{} {who} resent {} after duplicate ACKs or SACKs ({} dup ACKs from the peer){}; {:.2}% of its bytes were resent",
                dir.side(),
                plural(u64::from(fast), "segment"),
                peer.counts.dup_acks,
                if r.total() > fast { format!(", {} resends in all", r.total()) } else { String::new() },
                loss * 100.0
            ))
            .evidence("fast_retransmissions", fast)
            .evidence("frames", &fast_frames)
            .evidence("peer_dup_acks", peer.counts.dup_acks)
            .evidence("resent_bytes", resent_bytes)
            .evidence("resends", r.total())
            .evidence("resent_share", round_ms(loss))
            .confidence(Confidence::High)
            .with_cause(Cause::AckDrivenRecovery),
        );
    }
}

/// Whether a chain's intervals double, as the retransmission timer's backoff does.
fn doubling(intervals: &[f64]) -> bool {
    intervals.len() >= 2
        && intervals
            .windows(2)
            .all(|w| w[1] >= w[0] * 1.6 && w[1] <= w[0] * 2.5)
}

/// `retransmit.timeout`, then `retransmit.give_up` when the flow's last chain of
/// timeouts ended in a RST or in silence.
fn timeouts(
    conn: &Connection,
    dir: Dir,
    cfg: &AnalyzerConfig,
    ctx: &CaptureContext,
    out: &mut Vec<Finding>,
) {
    let r = &conn.side(dir).resends;
    let who = endpoint(conn, dir);
    let Some(worst) = r.longest_chain() else {
        return;
    };
    let first_rto = worst.first.since_progress_ns as f64 / 1e9;
    let intervals = ms_list(&worst.intervals());
    let doubling = doubling(&intervals);
    let frames: Vec<u64> = r
        .first
        .iter()
        .filter(|x| x.cause == ResendCause::Timeout)
        .map(|x| x.at.frame)
        .collect();
    let first_at = r
        .first
        .iter()
        .find(|x| x.cause == ResendCause::Timeout)
        .map_or(worst.first.at, |x| x.at);
    out.push(
        Finding::new("retransmit.timeout", Severity::Warning, Some(conn.id), first_at.ts.secs_f64())
            .summary(format!(
                "{} {who} retransmitted {} after timeouts (worst: seq {} resent {}, first {:.3} s after the last progress{}{})",
                dir.side(),
                plural(u64::from(r.timeouts), "time"),
                worst.first.seq_rel,
                plural(u64::from(worst.count), "time"),
                first_rto,
                if intervals.is_empty() { String::new() } else { format!(", then after {} s", fmt_list(&intervals)) },
                if doubling { ": exponential RTO backoff" } else { "" }
            ))
            .evidence("retransmissions", r.timeouts)
            .evidence("frames", &frames)
            .evidence("worst_chain_frames", worst.head.iter().map(|a| a.frame).collect::<Vec<_>>())
            .evidence("worst_chain_length", worst.count)
            .evidence("first_rto_s", round_ms(first_rto))
            .evidence("backoff_intervals_s", &intervals)
            .evidence("exponential_backoff", doubling)
            .confidence(Confidence::High)
            .claim(Symptom::Resends(conn.id, dir))
            .with_cause(Cause::PathLoss),
    );
    if let Some(last) = r.last_chain.as_deref() {
        give_up(conn, dir, cfg, ctx, last, out);
    }
}

/// Linux's cap on the retransmission timeout (TCP_RTO_MAX).
const RTO_MAX_S: f64 = 120.0;

/// When the sender's next retransmission was due after the chain's last one: the
/// timer doubles. After a single resend allow at least 1 s.
fn next_resend_due_s(chain: &Chain) -> f64 {
    let due = match chain.before_last {
        Some(prev) => 2.0 * chain.last.at.ts.since(prev.ts),
        None => (2.0 * chain.first.since_progress_ns as f64 / 1e9).max(1.0),
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
/// capture ended, and the `retransmit.timeout` finding (the last one pushed) says so,
/// with when the kernel will give up if the host's tcp_retries2 is known.
fn give_up(
    conn: &Connection,
    dir: Dir,
    cfg: &AnalyzerConfig,
    ctx: &CaptureContext,
    chain: &Chain,
    out: &mut Vec<Finding>,
) {
    let side = conn.side(dir);
    let peer = conn.side(dir.other());
    let last = chain.last;
    if peer.last_seen.is_some_and(|p| p.ts > last.at.ts) {
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
    // The data has been outstanding since the sender's last progress before the chain.
    let outstanding_since = Ts(chain.first.at.ts.0 - chain.first.since_progress_ns);
    let known = cfg.retries2_of(endpoint(conn, dir).ip);
    let (retries2, assumed) = known.map_or((15, true), |r| (r, false));
    let allowed = retries_timeout(retries2);
    // When this sender's kernel gives up, on its observed first RTO: the first
    // expiry at or after the tcp_retries2 time bound.
    let first_rto = (chain.first.since_progress_ns as f64 / 1e9).max(RTO_MIN_S);
    let schedule_end: f64 = give_up_schedule(first_rto, 0, u64::from(retries2), RTO_MIN_S, None)
        .iter()
        .sum();
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
            if !assumed {
                let at = outstanding_since.secs_f64() + schedule_end;
                let left = at - ctx.capture_end.unwrap_or(last.at.ts).secs_f64();
                timeout.summary.push_str(&format!(
                    "; with this host's tcp_retries2={retries2} the kernel gives up ~{schedule_end:.1} s after \
                     the data was first sent, {}",
                    if left > 0.0 {
                        format!("{left:.1} s after the capture ended, unless TCP_USER_TIMEOUT is shorter")
                    } else {
                        "already before the capture ended".to_string()
                    }
                ));
                timeout.evidence.insert(
                    "gives_up_at".into(),
                    crate::model::time::round_us(at).into(),
                );
                timeout
                    .evidence
                    .insert("tcp_retries2".into(), retries2.into());
            }
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
    let intervals = ms_list(&chain.intervals());
    let end_ts = rst.map_or(last.at.ts, |r| r.at.ts);
    let total = end_ts.since(outstanding_since);
    // In silence the kernel gave up after the last resend and before the next was due.
    let latest = if rst.is_some() { total } else { total + due };
    // Much shorter than the host's limit allows: TCP_USER_TIMEOUT (or a lower
    // tcp_retries2 than the one assumed).
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
    let limit_text = format!(
        "tcp_retries2={retries2}{} gives up ~{schedule_end:.1} s after the first send on this schedule",
        if assumed { " (Linux default, assumed: give --retries2)" } else { "" },
    );
    let cause = if short {
        Cause::UserTimeout
    } else {
        Cause::PeerUnreachable
    };
    let mut f = Finding::new("retransmit.give_up", Severity::Error, Some(conn.id), end_ts.secs_f64())
        .summary(format!(
            "{} {} gave up after {} retransmissions of unacknowledged data, {when}, {}; {limit_text}{}",
            dir.side(),
            endpoint(conn, dir),
            chain.count,
            match (rst, silence) {
                (Some(r), _) => format!("ending with a RST (frame {})", r.at.frame),
                (None, Some(q)) => format!(
                    "then fell silent: no retransmission in the {q:.1} s to the {silence_by}, though the next was due ~{due:.1} s after the last"
                ),
                (None, None) => format!("then fell silent until the {silence_by}"),
            },
            if short {
                let (lo, hi) = (retries_for(total), retries_for(latest));
                let retries = if lo == hi { lo.to_string() } else { format!("{lo}-{hi}") };
                if assumed {
                    format!(": much shorter, so TCP_USER_TIMEOUT {user_timeout} or tcp_retries2 ~{retries} is in effect")
                } else {
                    format!(": much shorter, so the socket had TCP_USER_TIMEOUT {user_timeout}")
                }
            } else {
                String::new()
            }
        ))
        .evidence("retransmissions", chain.count)
        .evidence("frames", chain.head.iter().map(|a| a.frame).collect::<Vec<_>>())
        .evidence("first_rto_s", round_ms(chain.first.since_progress_ns as f64 / 1e9))
        .evidence("backoff_intervals_s", &intervals)
        .evidence("exponential_backoff", doubling(&intervals))
        .evidence("unacked_for_s", round_ms(total))
        .evidence("gave_up_within_s", [round_ms(total), round_ms(latest)])
        .evidence("ended_with", if rst.is_some() { "rst" } else { "silence" })
        .evidence("silence_s", silence.filter(|q| q.is_finite()).map(round_ms))
        .evidence("silence_until", silence_by)
        .evidence("next_retransmission_due_s", round_ms(due))
        .evidence("tcp_retries2", retries2)
        .evidence("tcp_retries2_assumed", assumed)
        .evidence("retries2_allows_s", round_ms(schedule_end))
        .evidence(
            "suggested_user_timeout_ms",
            short.then(|| [(total * 1000.0).round(), (latest * 1000.0).round()]),
        )
        .confidence(if rst.is_some() { Confidence::High } else { Confidence::Medium })
        .claim(Symptom::Resends(conn.id, dir))
        .with_cause(cause);
    f = match rst {
        Some(r) => f.claim(Symptom::Rst(r.at.frame)),
        None => f.claim(Symptom::Silence(conn.id)),
    };
    out.push(f);
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
