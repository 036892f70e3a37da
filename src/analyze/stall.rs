//! Stalls: a fast handshake followed by a slow first byte, slow responses later in
//! a connection (with the DNS lookups the server made meanwhile, for both), and a
//! transfer that stopped in the middle with nothing after it.

use super::cause::{Cause, Daemon};
use super::context::CaptureContext;
use super::{round_ms, AnalyzerConfig, Confidence, Finding, Severity, Symptom};
use crate::decode::dns::reverse_name_target;
use crate::flow::conn::{Connection, EndReason, ResponseWait, SlowestResponses};
use crate::flow::side::At;
use crate::model::units::human_bytes;
use crate::model::{Dir, Ts};

/// The wait before the first payload after the handshake: (from, to, banner?).
fn first_byte_wait(conn: &Connection) -> Option<(At, At, bool)> {
    let ack = conn.handshake.ack?;
    let client_first = conn.side(Dir::FromClient).first_payload;
    let server_first = conn.side(Dir::FromServer).first_payload;
    match (client_first, server_first) {
        // Server speaks first (banner protocols: FTP, SMTP, SSH).
        (None, Some(s)) => Some((ack, s, true)),
        (Some(c), Some(s)) if s.ts < c.ts => Some((ack, s, true)),
        // Client asks first: the first response.
        (Some(_), _) => conn
            .first_wait
            .filter(|w| w.request_dir == Dir::FromClient)
            .map(|w| (w.request, w.response, false)),
        (None, None) => None,
    }
}

pub fn analyze(
    conn: &Connection,
    cfg: &AnalyzerConfig,
    ctx: &CaptureContext,
    out: &mut Vec<Finding>,
) {
    let mut first_reported = None;
    if let Some((from, to, banner)) = first_byte_wait(conn) {
        let wait = to.ts.since(from.ts);
        let rtt = conn.handshake.rtt_or_zero();
        // As for stall.response: seen from the client, the wait includes a round trip.
        if wait - rtt > cfg.stall_threshold_s && rtt < cfg.stall_threshold_s {
            first_reported = Some(to.frame);
            out.push(first_byte_finding(conn, cfg, ctx, from, to, banner, rtt));
        }
    }
    if let Some(finding) = slow_response_finding(conn, cfg, ctx, first_reported) {
        out.push(finding);
    }
    for sender in [Dir::FromServer, Dir::FromClient] {
        if let Some(f) = transfer_stopped(conn, cfg, ctx, sender) {
            out.push(f);
            break;
        }
    }
}

/// The daemon that sent the server's first bytes (its banner), when it has one.
fn server_daemon(conn: &Connection) -> Option<Daemon> {
    conn.side(Dir::FromServer)
        .first_bytes
        .and_then(|b| Daemon::from_banner(b.bytes()))
}

/// `stall.response`: once per flow, the worst wait for the server's answer after the
/// first exchange (the first is `stall.first_byte`'s), with how many others were slow.
fn slow_response_finding(
    conn: &Connection,
    cfg: &AnalyzerConfig,
    ctx: &CaptureContext,
    first_reported: Option<u64>,
) -> Option<Finding> {
    // Seen from the client's side a wait includes one round trip; on a long path that
    // alone must not make a response slow. The handshake gives the path's RTT.
    let rtt = conn.handshake.rtt_or_zero();
    let slow: Vec<&ResponseWait> = conn
        .slowest_responses
        .iter()
        .filter(|w| {
            w.secs() - rtt > cfg.stall_threshold_s && first_reported != Some(w.response.frame)
        })
        .collect();
    let worst = *slow.first()?;
    let wait = worst.secs();
    // Only the few longest waits are kept: when all of them are slow there may be more.
    let lower_bound = slow.len() == SlowestResponses::KEPT;
    let count = if lower_bound {
        format!("at least {}", slow.len())
    } else {
        slow.len().to_string()
    };
    let others: Vec<serde_json::Value> = slow[1..]
        .iter()
        .map(|w| {
            serde_json::json!({
                "request_frame": w.request.frame,
                "response_frame": w.response.frame,
                "wait_s": round_ms(w.secs()),
            })
        })
        .collect();
    let dns = dns_during(conn, cfg, ctx, worst.request.ts, worst.response.ts);
    let cause = dns.cause(server_daemon(conn));
    Some(
        Finding::new("stall.response", Severity::Warning, Some(conn.id), worst.request.ts.secs_f64())
            .summary(format!(
                "A request from {} waited {wait:.3} s for {}'s response (frames {} -> {}); {count} of the \
                 connection's {} responses waited over {} s{}",
                conn.client,
                conn.server,
                worst.request.frame,
                worst.response.frame,
                conn.server_answers,
                cfg.stall_threshold_s,
                dns.summary_text(),
            ))
            .evidence("request_frame", worst.request.frame)
            .evidence("response_frame", worst.response.frame)
            .evidence("wait_s", round_ms(wait))
            .evidence("request_at_rel", round_ms(worst.request.ts.since(conn.start)))
            .evidence("slow_responses", slow.len())
            .evidence("slow_responses_is_lower_bound", lower_bound)
            .evidence("other_slow", others)
            .evidence("responses", conn.server_answers)
            .evidence("threshold_s", cfg.stall_threshold_s)
            .evidence("handshake_rtt_s", crate::model::time::round_us(rtt))
            .evidence("dns_queries", &dns.queries)
            .evidence("ptr_queries_for_client", dns.ptr_of_client)
            .evidence("ptr_unanswered", dns.ptr_unanswered)
            .evidence("ptr_retry_intervals_s", &dns.retry_intervals)
            .evidence("server_banner", conn.side(Dir::FromServer).first_bytes.map(|b| b.text()))
            // The network carried the request and the server acknowledged it: the wait
            // is the application's. Medium, not high: a protocol where the server speaks
            // on its own (long polling, push) looks the same; the client's PTR lookups
            // in the wait make it high.
            .confidence(if dns.ptr_of_client > 0 { Confidence::High } else { Confidence::Medium })
            .with_cause(cause),
    )
}

/// Seconds of the wait `from`..`to` not covered by the PTR lookups (`queries`, in
/// order, inside the wait): before the first query, and after the lookups ended, with
/// the last query's answer or, unanswered, when the resolver's `timeout` (the
/// observed retry interval) ran out.
fn outside_lookups(from: Ts, to: Ts, queries: &[Ts], last_answer: Option<Ts>, timeout: f64) -> f64 {
    let (Some(&first), Some(&last)) = (queries.first(), queries.last()) else {
        return to.since(from);
    };
    let lookup_time = to.since(first);
    let lookups = last_answer
        .map_or(last.since(first) + timeout, |a| a.since(first))
        .min(lookup_time);
    first.since(from).max(0.0) + (lookup_time - lookups)
}

/// DNS traffic of the server host during a wait: every query it sent, and the PTR
/// lookups of the client's own address (from anywhere) with their answers and retry
/// intervals (the resolver's timeouts).
struct DnsDuring {
    queries: Vec<serde_json::Value>,
    ptr_of_client: usize,
    ptr_unanswered: usize,
    retry_intervals: Vec<f64>,
    /// "; PTR queries retried after ..." for the summary.
    timeout_note: String,
    client: std::net::IpAddr,
}

impl DnsDuring {
    /// What the DNS traffic says the server was doing.
    fn cause(&self, daemon: Option<Daemon>) -> Cause {
        if self.ptr_of_client > 0 {
            Cause::ReverseDns(daemon)
        } else if !self.queries.is_empty() {
            Cause::DnsLookup
        } else {
            Cause::ServerApplication
        }
    }

    fn summary_text(&self) -> String {
        if self.ptr_of_client > 0 {
            format!(
                ": meanwhile the server looked up the client's name ({} PTR quer{} for {}, {} unanswered){}",
                self.ptr_of_client,
                if self.ptr_of_client == 1 { "y" } else { "ies" },
                self.client,
                self.ptr_unanswered,
                self.timeout_note
            )
        } else if !self.queries.is_empty() {
            format!(
                "; the server made {} DNS quer{} meanwhile",
                self.queries.len(),
                if self.queries.len() == 1 { "y" } else { "ies" }
            )
        } else {
            String::new()
        }
    }
}

fn dns_during(
    conn: &Connection,
    cfg: &AnalyzerConfig,
    ctx: &CaptureContext,
    from: Ts,
    to: Ts,
) -> DnsDuring {
    let server_ip = conn.server.ip;
    let client_ip = conn.client.ip;
    let server_is_capture_host = conn.side(Dir::FromServer).sent_by_capture_host == Some(true);
    let mut queries: Vec<serde_json::Value> = Vec::new();
    let mut ptr_of_client = 0;
    let mut ptr_unanswered = 0;
    let mut ptr_times = Vec::new();
    let mut last_ptr_answer = None;
    for rec in ctx.queries_between(from, to) {
        let is_ptr_of_client = reverse_name_target(&rec.message.qname) == Some(client_ip);
        // From the server host: its address, or (when the capture is on the server) any
        // query the capturing host sent.
        let from_server_host =
            rec.src == server_ip || (server_is_capture_host && rec.outgoing == Some(true));
        if !from_server_host && !is_ptr_of_client {
            continue;
        }
        let answer = ctx.answer_to(rec);
        if is_ptr_of_client {
            ptr_of_client += 1;
            ptr_times.push(rec.at);
            last_ptr_answer = answer.map(|a| a.at);
            if answer.is_none() {
                ptr_unanswered += 1;
            }
        }
        queries.push(serde_json::json!({
            "frame": rec.frame,
            "at_rel": round_ms(rec.at.since(conn.start)),
            "after_wait_start_s": round_ms(rec.at.since(from)),
            "from": rec.src.to_string(),
            "to": rec.dst.to_string(),
            "name": rec.message.qname,
            "type": rec.message.qtype,
            "ptr_of_client": is_ptr_of_client,
            "answer": answer.map(|a| serde_json::json!({
                "frame": a.frame,
                "after_s": round_ms(a.at.since(rec.at)),
                "rcode": a.message.rcode,
                "answers": a.message.answers,
            })),
        }));
    }
    // Resolver timeouts: intervals between retried PTR queries, and how much of the
    // wait the lookups cover.
    let retry_intervals: Vec<f64> = ptr_times
        .windows(2)
        .map(|w| round_ms(w[1].since(w[0])))
        .collect();
    let mut timeout_note = String::new();
    if let (Some(&first_q), Some(&timeout)) = (ptr_times.first(), retry_intervals.last()) {
        let lookup_time = to.since(first_q);
        let outside = outside_lookups(from, to, &ptr_times, last_ptr_answer, timeout);
        timeout_note = format!(
            "; PTR queries retried after {} s (resolver timeouts), and the answer to the client came \
             {lookup_time:.2} s after the first query{}",
            super::fmt_list(&retry_intervals),
            if outside <= cfg.stall_threshold_s {
                " (the lookups account for the delay)".to_string()
            } else {
                format!(" ({outside:.2} s of the wait was outside the lookups)")
            }
        );
    }
    DnsDuring {
        queries,
        ptr_of_client,
        ptr_unanswered,
        retry_intervals,
        timeout_note,
        client: client_ip,
    }
}

fn first_byte_finding(
    conn: &Connection,
    cfg: &AnalyzerConfig,
    ctx: &CaptureContext,
    from: At,
    to: At,
    banner: bool,
    rtt: f64,
) -> Finding {
    let wait = to.ts.since(from.ts);
    let dns = dns_during(conn, cfg, ctx, from.ts, to.ts);
    let what = if banner {
        "first byte (banner)"
    } else {
        "response to the first request"
    };
    let summary = format!(
        "The handshake took {} but {}'s {what} came {wait:.3} s later (frame {} -> {}){}",
        crate::model::units::human_secs(rtt),
        conn.server,
        from.frame,
        to.frame,
        dns.summary_text()
    );
    Finding::new(
        "stall.first_byte",
        Severity::Warning,
        Some(conn.id),
        from.ts.secs_f64(),
    )
    .summary(summary)
    .evidence("handshake_rtt_s", crate::model::time::round_us(rtt))
    .evidence("wait_from_frame", from.frame)
    .evidence("first_byte_frame", to.frame)
    .evidence("wait_s", round_ms(wait))
    .evidence("server_speaks_first", banner)
    .evidence("dns_queries", &dns.queries)
    .evidence("ptr_queries_for_client", dns.ptr_of_client)
    .evidence("ptr_unanswered", dns.ptr_unanswered)
    .evidence("ptr_retry_intervals_s", &dns.retry_intervals)
    .evidence(
        "server_banner",
        conn.side(Dir::FromServer).first_bytes.map(|b| b.text()),
    )
    .confidence(if dns.ptr_of_client > 0 {
        Confidence::High
    } else {
        Confidence::Medium
    })
    .with_cause(dns.cause(server_daemon(conn)))
}

/// Segments this long or longer can be "full-sized" (below it, a small protocol's
/// messages would all look full).
const FULL_SEGMENT_MIN: u32 = 512;
/// MSS minus the segment size a sender uses with TCP options (timestamps: 12 bytes,
/// SACK blocks up to 40).
const TCP_OPTIONS_ALLOWANCE: u32 = 40;

/// `stall.transfer`: a side's data stopped and the connection went silent for
/// longer than the stall threshold, with more data expected: its last segment had
/// no PSH (Linux pushes the last segment of every write, so the sender had more of
/// the same write queued), was full-sized (a finished transfer ends with its
/// remainder), or was never acknowledged while nothing followed. The
/// silence runs to the receiver's close, or to the end of the capture (a flow still
/// open then, or finished by the idle timeout). A receiver advertising a zero window
/// is `window.zero`'s, and resends are the retransmission findings'.
fn transfer_stopped(
    conn: &Connection,
    cfg: &AnalyzerConfig,
    ctx: &CaptureContext,
    sender: Dir,
) -> Option<Finding> {
    let side = conn.side(sender);
    let receiver = conn.side(sender.other());
    let last = side.last_data?;
    // The sender said nothing more: no FIN, no RST, no resend, no ACK after its data.
    if side.last_seen.is_none_or(|s| s.frame != last.at.frame) {
        return None;
    }
    if receiver.last_window == Some(0) || receiver.first_rst_info.is_some() {
        return None;
    }
    let acked = receiver.max_ack.is_some_and(|a| !a.lt(last.end));
    // A stream's last segment before it was cut is full-sized; a finished response
    // ends with its remainder, a full segment only when its length is a multiple of
    // the segment size. Without the receiver's MSS the segment size is the largest
    // payload only when several segments carried it: one large message on an idle
    // keep-alive connection is just its largest.
    let full = last.len >= FULL_SEGMENT_MIN
        && ((last.len == side.max_payload && side.max_payload_segments > 1)
            || receiver
                .mss()
                .is_some_and(|mss| last.len + TCP_OPTIONS_ALLOWANCE >= u32::from(mss)));
    let expected = !last.psh || !acked || full;
    if !expected {
        return None;
    }
    // Until the receiver closed, or the end of the capture.
    let (until, until_what) = match (receiver.first_fin, conn.end_reason) {
        (Some(fin), _) if fin.ts > last.at.ts => (fin.ts, "the receiver closed"),
        (Some(_), _) => return None,
        (None, EndReason::EndOfCapture | EndReason::Idle) => (
            ctx.capture_end.map_or(conn.end, |e| e.max(conn.end)),
            "the end of the capture",
        ),
        (None, _) => return None,
    };
    let silence = until.since(last.at.ts);
    let rtt = conn.handshake.rtt_or_zero();
    if silence - rtt <= cfg.stall_threshold_s {
        return None;
    }
    let cause = if !acked && last.psh && !full {
        Cause::DataUnacknowledged
    } else {
        Cause::SenderStoppedMidWrite
    };
    let who = if sender == Dir::FromClient {
        conn.client
    } else {
        conn.server
    };
    Some(
        Finding::new("stall.transfer", Severity::Warning, Some(conn.id), last.at.ts.secs_f64())
            .summary(format!(
                "Data from the {} {who} stopped at frame {} (+{:.3} s, after {} of payload){}, and nothing \
                 came for {silence:.3} s until {until_what}; neither side closed or reset before that",
                sender.side(),
                last.at.frame,
                last.at.ts.since(conn.start),
                human_bytes(side.payload_bytes),
                match (last.psh, full, acked) {
                    (false, _, _) => " in the middle of a write (its last segment has no PSH: more was queued)",
                    (true, true, _) => " on a full-sized segment (a stream cut off, not the remainder a finished transfer ends with)",
                    _ => " and was never acknowledged",
                },
            ))
            .evidence("last_data_frame", last.at.frame)
            .evidence("last_data_rel_s", round_ms(last.at.ts.since(conn.start)))
            .evidence("last_segment_psh", last.psh)
            .evidence("last_segment_len", last.len)
            .evidence("last_segment_full", full)
            .evidence("last_data_acknowledged", acked)
            .evidence("payload_bytes", side.payload_bytes)
            .evidence("silence_s", round_ms(silence))
            .evidence("silence_until", until_what)
            .evidence("threshold_s", cfg.stall_threshold_s)
            // The wire shows the silence, not why the sender went quiet.
            .confidence(Confidence::Medium)
            .claim(Symptom::Silence(conn.id))
            .with_cause(cause),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_cover_the_wait_or_not() {
        let t = |s: f64| Ts::from_secs_f64(s);
        // Three unanswered PTRs 1 s apart, banner when the third timed out: covered.
        let q = [t(0.002), t(1.005), t(2.006)];
        assert!(outside_lookups(t(0.0), t(3.007), &q, None, 1.001) < 0.01);
        // The same lookups, but the banner 5 s after the wait began: 2 s are not theirs.
        assert!((outside_lookups(t(0.0), t(5.0), &q, None, 1.001) - 1.995).abs() < 1e-6);
        // A lookup that started 4 s into the wait and was answered at once.
        let late = [t(4.0)];
        assert!((outside_lookups(t(0.0), t(4.1), &late, Some(t(4.05)), 1.0) - 4.05).abs() < 1e-6);
    }

    /// Feeds (secs, from_client, flags, seq, ack, len) to one connection.
    fn feed(script: &[(f64, bool, u8, u32, u32, u32)]) -> Connection {
        use crate::flow::conn::ConnConfig;
        use crate::flow::{Segment, TimelineMode};
        let cfg = ConnConfig {
            timeline: TimelineMode::Collapsed,
            timeline_cap: 100,
            idle_mark_ns: 1_000_000_000,
            ooo_threshold_ns: 3_000_000,
        };
        let mut conn = None;
        for (i, &(at, c, flags, seq, ack, len)) in script.iter().enumerate() {
            let seg =
                Segment::test_conn(i as u64 + 1, Ts::from_secs_f64(at), c, flags, seq, ack, len);
            conn.get_or_insert_with(|| Connection::new(1, &seg, &cfg))
                .on_segment(&seg, &cfg);
        }
        conn.unwrap()
    }

    const S: u8 = crate::decode::TcpFlags::SYN;
    const A: u8 = crate::decode::TcpFlags::ACK;
    const P: u8 = crate::decode::TcpFlags::PSH;

    /// A client-side view of a 0.6 s RTT path: two requests answered after 1.3 s and
    /// 1.9 s. Only the one whose server time (wait minus the RTT) passes 1 s is slow.
    #[test]
    fn a_long_path_alone_is_not_a_slow_response() {
        let conn = feed(&[
            (0.0, true, S, 100, 0, 0),
            (0.6, false, S | A, 500, 101, 0),
            (0.6, true, A, 101, 501, 0),
            (0.7, true, P | A, 101, 501, 10),
            (1.0, false, P | A, 501, 111, 10),
            (2.0, true, P | A, 111, 511, 10),
            (3.3, false, P | A, 511, 121, 10),
            (4.0, true, P | A, 121, 521, 10),
            (5.9, false, P | A, 521, 131, 10),
        ]);
        let f = slow_response_finding(
            &conn,
            &AnalyzerConfig::default(),
            &CaptureContext::default(),
            None,
        )
        .expect("one slow");
        assert_eq!(f.evidence["slow_responses"], 1);
        assert_eq!(f.evidence["response_frame"], 9);
        assert!((f.evidence["handshake_rtt_s"].as_f64().unwrap() - 0.6).abs() < 1e-9);
    }

    /// The first exchange on the same 0.6 s path: answered 1.3 s after the request is
    /// 0.7 s of server time, not a stall; 1.9 s after is.
    #[test]
    fn a_long_path_alone_is_not_a_slow_first_byte() {
        let first_byte = |answer_at: f64| {
            let conn = feed(&[
                (0.0, true, S, 100, 0, 0),
                (0.6, false, S | A, 500, 101, 0),
                (0.6, true, A, 101, 501, 0),
                (0.7, true, P | A, 101, 501, 10),
                (answer_at, false, P | A, 501, 111, 10),
            ]);
            let mut out = Vec::new();
            analyze(
                &conn,
                &AnalyzerConfig::default(),
                &CaptureContext::default(),
                &mut out,
            );
            out.iter().any(|f| f.id == "stall.first_byte")
        };
        assert!(!first_byte(2.0));
        assert!(first_byte(2.6));
    }

    /// An idle keep-alive connection whose last response was one 600-byte segment
    /// (its largest) has not stopped mid-transfer; a response cut after several
    /// segments of the same full size has.
    #[test]
    fn one_large_message_is_not_a_full_segment() {
        let transfer = |sizes: &[u32]| {
            let mut script = vec![
                (0.0, true, S, 100, 0, 0),
                (0.001, false, S | A, 500, 101, 0),
                (0.002, true, A, 101, 501, 0),
                (0.003, true, P | A, 101, 501, 100),
            ];
            let mut seq = 501;
            for (i, &len) in sizes.iter().enumerate() {
                let flags = if i + 1 == sizes.len() { P | A } else { A };
                script.push((0.004 + i as f64 * 1e-4, false, flags, seq, 201, len));
                seq += len;
            }
            script.push((0.01, true, A, 201, seq, 0));
            let mut conn = feed(&script);
            conn.end_reason = EndReason::EndOfCapture;
            let mut ctx = CaptureContext::default();
            ctx.capture_end = Some(Ts::from_secs_f64(30.0));
            let mut out = Vec::new();
            analyze(&conn, &AnalyzerConfig::default(), &ctx, &mut out);
            out.iter().any(|f| f.id == "stall.transfer")
        };
        assert!(!transfer(&[600]));
        assert!(!transfer(&[1448, 1448, 700]));
        assert!(transfer(&[1448, 1448, 1448]));
    }
}
