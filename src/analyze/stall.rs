//! Stalls: a fast handshake followed by a slow first byte (and the DNS lookups the
//! server made meanwhile), and slow responses later in a connection.

use super::context::CaptureContext;
use super::{round_ms, AnalyzerConfig, Confidence, Finding, Severity};
use crate::decode::dns::reverse_name_target;
use crate::flow::conn::{Connection, ResponseWait, SlowestResponses};
use crate::flow::side::At;
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
    if let Some(finding) = slow_response_finding(conn, cfg, first_reported) {
        out.push(finding);
    }
}

/// `stall.response`: once per flow, the worst wait for the server's answer after the
/// first exchange (the first is `stall.first_byte`'s), with how many others were slow.
fn slow_response_finding(
    conn: &Connection,
    cfg: &AnalyzerConfig,
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
    Some(
        Finding::new("stall.response", Severity::Warning, Some(conn.id), worst.request.ts.secs_f64())
            .summary(format!(
                "A request from {} waited {wait:.3} s for {}'s response (frames {} -> {}); {count} of the \
                 connection's {} responses waited over {} s",
                conn.client,
                conn.server,
                worst.request.frame,
                worst.response.frame,
                conn.server_answers,
                cfg.stall_threshold_s
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
            // The network carried the request and the server acknowledged it: the wait
            // is the application's. Medium, not high: a protocol where the server speaks
            // on its own (long polling, push) looks the same.
            .confidence(Confidence::Medium)
            .hint(
                "The network delivered the request and stayed quiet: the time is spent in the \
                 server application (slow backend, lock, GC pause, DNS or other lookups). Check \
                 the server's logs and its own outbound traffic during the wait. Long-polling or \
                 server-push protocols wait by design: raise --stall-threshold for them.",
            ),
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
    let server_ip = conn.server.ip;
    let client_ip = conn.client.ip;
    let server_is_capture_host = conn.side(Dir::FromServer).sent_by_capture_host == Some(true);
    // DNS the server host sent during the stall (and PTRs of the client from anywhere).
    let mut queries: Vec<serde_json::Value> = Vec::new();
    let mut ptr_of_client = 0;
    let mut ptr_unanswered = 0;
    let mut ptr_times = Vec::new();
    let mut last_ptr_answer = None;
    for rec in ctx.queries_between(from.ts, to.ts) {
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
        let lookup_time = to.ts.since(first_q);
        let outside = outside_lookups(from.ts, to.ts, &ptr_times, last_ptr_answer, timeout);
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
    let what = if banner {
        "first byte (banner)"
    } else {
        "response to the first request"
    };
    let mut summary = format!(
        "The handshake took {} but {}'s {what} came {wait:.3} s later (frame {} -> {})",
        crate::model::units::human_secs(rtt),
        conn.server,
        from.frame,
        to.frame
    );
    let mut confidence = Confidence::Medium;
    let hint;
    if ptr_of_client > 0 {
        confidence = Confidence::High;
        summary.push_str(&format!(
            ": meanwhile the server looked up the client's name ({ptr_of_client} PTR quer{} for {client_ip}, \
             {ptr_unanswered} unanswered){timeout_note}",
            if ptr_of_client == 1 { "y" } else { "ies" }
        ));
        hint = "The server resolves the client's address before answering. Turn reverse DNS off in the \
                daemon (sshd: UseDNS no; in.ftpd/vsftpd: -n / reverse_lookup_enable=NO; proftpd: \
                UseReverseDNS off; Apache: HostnameLookups Off) or fix the resolver it uses \
                (/etc/resolv.conf nameserver, options timeout:/attempts:)."
            .to_string();
    } else if !queries.is_empty() {
        summary.push_str(&format!(
            "; the server made {} DNS quer{} meanwhile",
            queries.len(),
            if queries.len() == 1 { "y" } else { "ies" }
        ));
        hint =
            "The server waited on DNS before answering: check its resolver (/etc/resolv.conf) and \
                what it looks up per connection."
                .to_string();
    } else {
        hint = format!(
            "The network was idle: the server application took {wait:.1} s before sending. Check what it \
             does per connection (DNS/ident lookups, auth backends, thread pool); strace -f -tt -e \
             trace=network on the server shows the blocking call."
        );
    }
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
    .evidence("dns_queries", queries)
    .evidence("ptr_queries_for_client", ptr_of_client)
    .evidence("ptr_unanswered", ptr_unanswered)
    .evidence("ptr_retry_intervals_s", retry_intervals)
    .confidence(confidence)
    .hint(hint)
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
        let f = slow_response_finding(&conn, &AnalyzerConfig::default(), None).expect("one slow");
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
}
