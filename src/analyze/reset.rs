//! Resets: who sent them and in what context (rst.client / rst.server), RSTs that
//! probably did not come from the endpoint whose address they carry (rst.injected),
//! and RSTs after long silence (idle.reset, aggregated across flows).

use super::hosts::HostProfiles;
use super::{round_ms, AnalyzerConfig, Cause, Confidence, Finding, Severity, Symptom};
use crate::flow::conn::Connection;
use crate::flow::side::{RstInfo, Side};
use crate::model::units::format_mac;
use crate::model::Dir;

/// The usual initial TTLs; a TTL's hop distance is counted from the next one up.
fn hops(ttl: u8) -> u8 {
    [32u8, 64, 128, 255]
        .into_iter()
        .find(|&i| i >= ttl)
        .unwrap_or(255)
        - ttl
}

/// How much a RST's TTL outside the endpoint's range says. Two or more hops away
/// from the range, or another initial TTL (another OS or box), is a strong sign. One
/// hop is also what a route change or ECMP does, so it counts less, unless the RST
/// left its sender with an unspent initial TTL: a box on the capture's own link sent
/// it, while the endpoint's own packets arrive routed.
pub(crate) fn ttl_sign_weight(rst_ttl: u8, lo: u8, hi: u8) -> u32 {
    let initial = |t: u8| t + hops(t);
    let distance = if rst_ttl < lo {
        lo - rst_ttl
    } else {
        rst_ttl.saturating_sub(hi)
    };
    let same_family = initial(rst_ttl) == initial(lo) && initial(rst_ttl) == initial(hi);
    let from_this_link = hops(rst_ttl) == 0 && hops(lo) > 0;
    if distance >= 2 || !same_family || from_this_link {
        2
    } else {
        1
    }
}

/// Where in the connection a RST came, in words, and what that says caused it.
fn context(conn: &Connection, by: Dir, rst: &RstInfo) -> (&'static str, String, Cause) {
    let me = conn.side(by);
    let peer = conn.side(by.other());
    if conn.handshake.ack.is_none() && conn.payload_bytes() == 0 {
        return (
            "handshake",
            "during the handshake".into(),
            Cause::HandshakeAborted,
        );
    }
    if rst.packets_before == 0 {
        return (
            "unknown_connection",
            "as its first packet in this connection: answering a segment for a connection it does not know".into(),
            Cause::UnknownConnection,
        );
    }
    if let Some(fin) = me.first_fin {
        if fin.ts <= rst.at.ts {
            // Both FINs exchanged and this side's FIN acknowledged before the RST, with
            // no data from the peer after it: the connection had closed cleanly and the
            // RST answers a stray or repeated segment.
            let closed = peer.first_fin.is_some_and(|pf| pf.ts <= rst.at.ts)
                && peer.max_ack.zip(me.next_seq).is_some_and(|(a, n)| !a.lt(n))
                && peer.last_data.is_none_or(|d| d.at.ts < fin.ts);
            if closed {
                return (
                    "after_close",
                    format!(
                        "after both sides had closed (its FIN at frame {}, acknowledged), answering a late segment",
                        fin.frame
                    ),
                    Cause::AfterClose,
                );
            }
            let after_peer = peer
                .last_seen
                .is_some_and(|p| p.ts >= fin.ts && p.frame < rst.at.frame);
            // The peer's first data came only after this side had closed: it had given
            // up waiting, and the RST answers the late response.
            if after_peer && peer.first_payload.is_some_and(|d| d.ts > fin.ts) {
                return (
                    "late_response",
                    format!(
                        "after it had given up waiting and closed (its FIN at frame {}): the peer's first data came later",
                        fin.frame
                    ),
                    Cause::LateResponse,
                );
            }
            return if after_peer {
                (
                    "after_own_fin",
                    format!(
                        "after it had closed (its FIN at frame {}) and the peer kept sending: the socket was gone or had unread data",
                        fin.frame
                    ),
                    Cause::SocketGone,
                )
            } else {
                (
                    "after_own_fin",
                    format!("after its own FIN (frame {})", fin.frame),
                    Cause::AbortiveClose,
                )
            };
        }
    }
    if peer.first_fin.is_some_and(|f| f.ts <= rst.at.ts) {
        return (
            "after_peer_fin",
            "after the peer's FIN".into(),
            Cause::AfterPeerFin,
        );
    }
    if !rst.ack_flag && peer.last_seen.is_some_and(|p| p.frame < rst.at.frame) {
        // Linux (like other stacks) sends RST+ACK when an application aborts; a bare RST
        // is how a host answers a segment for a socket it no longer has.
        return (
            "unknown_connection",
            format!(
                "without the ACK flag, answering the peer's segment after {} + {} payload bytes: the way a \
                 host answers a connection it no longer has (socket already gone: timed out, closed \
                 earlier, or the host restarted), or a middle box resetting it; an application's abortive \
                 close sends RST+ACK",
                conn.sides[0].payload_bytes, conn.sides[1].payload_bytes
            ),
            Cause::UnknownConnection,
        );
    }
    if me.payload_bytes > 0 || peer.payload_bytes > 0 {
        return (
            "abortive_close",
            format!(
                "after {} + {} payload bytes, instead of a FIN: an abortive close (SO_LINGER 0, or close() with unread data)",
                conn.sides[0].payload_bytes, conn.sides[1].payload_bytes
            ),
            Cause::AbortiveClose,
        );
    }
    (
        "established",
        "on an established connection without data".into(),
        Cause::ResetWithoutData,
    )
}

/// Independent signs that the RST was forged by another box.
fn injection_signs(
    side: &Side,
    rst: &RstInfo,
    hosts: &HostProfiles,
    ip: std::net::IpAddr,
    flow: u64,
) -> (Vec<String>, u32, serde_json::Map<String, serde_json::Value>) {
    let mut signs = Vec::new();
    let mut score = 0;
    let mut ev = serde_json::Map::new();
    let own = side.ttl_first.is_some();
    let (ttl_lo, ttl_hi, basis) = if own {
        (side.ttl_min, side.ttl_max, "this flow")
    } else if let Some(p) = hosts.get(ip).filter(|p| p.last_flow != flow || p.flows > 1) {
        (p.ttl_min, p.ttl_max, "other flows")
    } else {
        (0, 255, "")
    };
    ev.insert("rst_ttl".into(), rst.ttl.into());
    if !basis.is_empty() {
        ev.insert(
            "endpoint_ttl_range".into(),
            serde_json::json!([ttl_lo, ttl_hi]),
        );
        ev.insert("ttl_baseline_from".into(), basis.into());
        if !(ttl_lo..=ttl_hi).contains(&rst.ttl) {
            score += ttl_sign_weight(rst.ttl, ttl_lo, ttl_hi);
            signs.push(format!(
                "TTL {} vs {}{} on the endpoint's packets in {basis} (~{} vs ~{} hops away)",
                rst.ttl,
                ttl_lo,
                if ttl_hi != ttl_lo {
                    format!("-{ttl_hi}")
                } else {
                    String::new()
                },
                hops(rst.ttl),
                hops(ttl_lo)
            ));
        }
    }
    let usual_mac = side.mac.or_else(|| hosts.get(ip).and_then(|p| p.mac));
    if let (Some(m), Some(u)) = (rst.mac, usual_mac) {
        ev.insert("rst_mac".into(), format_mac(&m).into());
        ev.insert("endpoint_mac".into(), format_mac(&u).into());
        if m != u {
            score += 2;
            signs.push(format!(
                "source MAC {} vs the endpoint's {}",
                format_mac(&m),
                format_mac(&u)
            ));
        }
    }
    let non_rst = side.packets.saturating_sub(1);
    if non_rst > 0 {
        ev.insert("rst_has_timestamps".into(), rst.has_timestamps.into());
        ev.insert(
            "endpoint_packets_with_timestamps".into(),
            side.packets_with_timestamps.into(),
        );
        if !rst.has_timestamps
            && side.packets_with_timestamps >= 2
            && side.packets_with_timestamps == non_rst
            && rst.ack_flag
        {
            score += 1;
            signs.push(format!(
                "no TCP timestamps option while all {non_rst} of the endpoint's other packets carry one"
            ));
        }
    }
    if let (Some(id), Some(prev)) = (rst.ip_id, rst.prev_ip_id) {
        ev.insert("rst_ip_id".into(), id.into());
        ev.insert("previous_ip_id".into(), prev.into());
        let step = id.wrapping_sub(prev);
        // Only an endpoint whose own IP IDs were seen counting up in small steps (a
        // Linux socket) has a sequence to break; random or host-wide IDs (BSD, macOS,
        // a busy Windows host) say nothing. Linux sends its own RSTs with IP ID 0.
        let sequential = side.ip_id_steps >= 2 && side.max_ip_id_step <= 64;
        ev.insert("ip_id_sequential".into(), sequential.into());
        if sequential && prev != 0 && id != 0 && !(1..=64).contains(&step) {
            score += 1;
            signs.push(format!(
                "IP ID {id} does not follow the endpoint's previous {prev}"
            ));
        }
    }
    if let Some(off) = rst.seq_offset {
        ev.insert("rst_seq_offset".into(), off.into());
        // Genuine RSTs sit between the peer's last ACK and the stream's next byte. The
        // data in flight is bounded by the peer's window: 64 KiB unscaled, far more
        // with window scaling on a long fat path, so the bound is what was unacked.
        let max_behind = rst.unacked.unwrap_or(0).max(65535);
        if off != 0 && !(-max_behind..=0).contains(&off) {
            score += 1;
            signs.push(format!(
                "sequence number {off:+} from where the endpoint's stream stood"
            ));
        }
    }
    (signs, score, ev)
}

/// The RSTs of a flow: `rst.injected` when the RST carries signs of another box,
/// `rst.client` / `rst.server` with where it came and what that implies (both claim
/// the RST; `verdict::decide` keeps one), then `idle.reset`.
pub fn analyze(
    conn: &Connection,
    cfg: &AnalyzerConfig,
    hosts: &HostProfiles,
    out: &mut Vec<Finding>,
) {
    let state = conn.zeek.conn_state();
    for by in [Dir::FromClient, Dir::FromServer] {
        let side = conn.side(by);
        let Some(rst) = side.first_rst_info.as_deref().copied() else {
            continue;
        };
        let ep = if by == Dir::FromClient {
            conn.client
        } else {
            conn.server
        };
        let (signs, score, ev) = injection_signs(side, &rst, hosts, ep.ip, conn.id);
        if score >= 2 {
            let confidence = match score {
                2 => Confidence::Medium,
                _ => Confidence::High,
            };
            let mut f = Finding::new("rst.injected", Severity::Error, Some(conn.id), rst.at.ts.secs_f64())
                .summary(format!(
                    "The RST at frame {} claiming to come from {ep} ({}) probably came from another box: {}",
                    rst.at.frame,
                    by.side(),
                    signs.join("; ")
                ))
                .evidence("rst_frame", rst.at.frame)
                .evidence("claimed_sender", ep.to_string())
                .evidence("signs", &signs)
                .confidence(confidence)
                .claim(Symptom::Rst(rst.at.frame))
                .with_cause(Cause::Middlebox);
            for (k, v) in ev {
                f.evidence.insert(k, v);
            }
            out.push(f);
        }
        if state == "REJ" && by == Dir::FromServer {
            continue; // handshake.rejected says it
        }
        let (ctx_id, ctx_text, cause) = context(conn, by, &rst);
        let id = if by == Dir::FromClient {
            "rst.client"
        } else {
            "rst.server"
        };
        out.push(
            Finding::new(
                id,
                if matches!(cause, Cause::AfterClose | Cause::LateResponse) {
                    Severity::Info
                } else {
                    Severity::Warning
                },
                Some(conn.id),
                rst.at.ts.secs_f64(),
            )
            .summary(format!(
                "{} {ep} reset the connection {ctx_text} (frame {})",
                by.side(),
                rst.at.frame
            ))
            .evidence("rst_frame", rst.at.frame)
            .evidence("at_rel", round_ms(rst.at.ts.since(conn.start)))
            .evidence("context", ctx_id)
            .evidence(
                "payload_bytes",
                [conn.sides[0].payload_bytes, conn.sides[1].payload_bytes],
            )
            .evidence("rst_ttl", rst.ttl)
            .evidence("injection_signs", &signs)
            .confidence(if score == 1 {
                Confidence::Medium
            } else {
                Confidence::High
            })
            .claim(Symptom::Rst(rst.at.frame))
            .with_cause(cause),
        );
    }
    idle_reset(conn, cfg, hosts, out);
}

/// A RST that ended (or answered the end of) a long silence.
pub struct IdleRst {
    pub idle_s: f64,
    pub by: Dir,
    pub rst: RstInfo,
    /// The frame that ended the silence.
    pub resumed: u64,
    /// How long after the silence ended a RST still counts as its answer.
    pub answer_window_s: f64,
    /// The flow's next longest silence (its usual rhythm).
    pub usual_idle_s: f64,
    /// Signs that the RST did not come from the endpoint (TTL, options, MAC...).
    pub signs: Vec<String>,
    /// Shorter than --idle-reset: judged against the flow's own rhythm, with signs.
    pub relative: bool,
}

/// A silence is long for its flow when it is this many times the flow's next longest
/// one, and at least `RELATIVE_MIN_S`.
const RELATIVE_FACTOR: f64 = 5.0;
const RELATIVE_MIN_S: f64 = 1.0;

/// The RST and the silence before it: a silence of at least --idle-reset, or, when
/// the RST does not look like the endpoint's own (TTL, options), one that is long
/// for this flow (`RELATIVE_FACTOR` times its next longest silence): a box that
/// forgot an idle connection answers the first segment after it.
pub fn idle_before_rst(
    conn: &Connection,
    cfg: &AnalyzerConfig,
    hosts: &HostProfiles,
) -> Option<IdleRst> {
    let gap = conn.longest_idle?;
    let idle = gap.after.ts.since(gap.before.ts);
    let usual = conn.second_idle_ns as f64 / 1e9;
    let long_for_flow = idle >= RELATIVE_MIN_S && idle >= RELATIVE_FACTOR * usual;
    if idle < cfg.idle_reset_s && !long_for_flow {
        return None;
    }
    // The RST is the packet that ended the silence, or answers it (within a second,
    // or two handshake round trips on slow paths).
    let answer_window = (2.0 * conn.handshake.rtt_or_zero()).max(1.0);
    let (by, rst) = [Dir::FromClient, Dir::FromServer]
        .into_iter()
        .filter_map(|d| conn.side(d).first_rst_info.as_deref().map(|r| (d, *r)))
        .filter(|(_, r)| r.at.ts >= gap.after.ts && r.at.ts.since(gap.after.ts) <= answer_window)
        .min_by_key(|(_, r)| r.at.frame)?;
    let ep = if by == Dir::FromClient {
        conn.client
    } else {
        conn.server
    };
    let (signs, score, _) = injection_signs(conn.side(by), &rst, hosts, ep.ip, conn.id);
    let relative = idle < cfg.idle_reset_s;
    // Below --idle-reset only the pattern of a box that forgot the connection counts:
    // the first segment after the silence is answered by a RST that is not the
    // endpoint's own. A RST that is itself the end of a short silence is just a RST.
    if relative && (score == 0 || rst.at.frame == gap.after.frame) {
        return None;
    }
    Some(IdleRst {
        idle_s: idle,
        by,
        rst,
        resumed: gap.after.frame,
        answer_window_s: answer_window,
        usual_idle_s: usual,
        signs,
        relative,
    })
}

fn idle_reset(
    conn: &Connection,
    cfg: &AnalyzerConfig,
    hosts: &HostProfiles,
    out: &mut Vec<Finding>,
) {
    let Some(IdleRst {
        idle_s: idle,
        by,
        rst,
        resumed,
        answer_window_s,
        usual_idle_s,
        signs,
        relative,
    }) = idle_before_rst(conn, cfg, hosts)
    else {
        return;
    };
    let resumed_at = conn.longest_idle.map_or(rst.at.ts, |g| g.after.ts);
    out.push(
        Finding::new("idle.reset", Severity::Warning, Some(conn.id), rst.at.ts.secs_f64())
            .summary(format!(
                "RST from the {}'s address (frame {}) {:.3} s after a {idle:.1} s silence ended at frame {resumed}{}{}: \
                 the signature of an idle timeout in a load balancer, firewall or NAT",
                by.side(),
                rst.at.frame,
                rst.at.ts.since(resumed_at),
                if relative {
                    format!(" (otherwise the flow was never quiet for more than {usual_idle_s:.3} s)")
                } else {
                    String::new()
                },
                if signs.is_empty() {
                    String::new()
                } else {
                    format!("; the RST does not look like the {}'s own: {}", by.side(), signs.join("; "))
                },
            ))
            .evidence("idle_s", round_ms(idle))
            .evidence("idle_threshold_s", cfg.idle_reset_s)
            .evidence("usual_idle_s", round_ms(usual_idle_s))
            .evidence("judged_against_flow", relative)
            .evidence("resumed_frame", resumed)
            .evidence("rst_after_resume_s", round_ms(rst.at.ts.since(resumed_at)))
            .evidence("answer_window_s", round_ms(answer_window_s))
            .evidence("rst_frame", rst.at.frame)
            .evidence("rst_from", by.side())
            .evidence("injection_signs", &signs)
            .confidence(if signs.is_empty() {
                Confidence::Medium
            } else {
                Confidence::High
            })
            .claim(Symptom::Rst(rst.at.frame))
            .with_cause(Cause::MiddleboxIdleTimeout),
    );
}

/// Idle times kept for the statistics (memory stays bounded).
const MAX_IDLES: usize = 100_000;

/// Idle resets across flows: "9 resets after 30.0 +/- 0.4 s idle".
pub struct IdleResetTracker {
    /// All idle resets; their idle times are kept for the first `max_idles`
    /// (MAX_IDLES at the default memory limit).
    resets: u64,
    idles: Vec<f64>,
    flows: Vec<u64>,
    first: Option<f64>,
    max_idles: usize,
}

impl Default for IdleResetTracker {
    fn default() -> Self {
        IdleResetTracker {
            resets: 0,
            idles: Vec::new(),
            flows: Vec::new(),
            first: None,
            max_idles: MAX_IDLES,
        }
    }
}

impl IdleResetTracker {
    /// Sizes the bound for the process's memory limit.
    pub fn fit(&mut self, limit: usize) {
        self.max_idles = crate::budget::scaled_cap(MAX_IDLES, limit);
    }

    /// Bytes held (memory budget).
    pub fn footprint(&self) -> usize {
        crate::budget::vec_bytes(&self.idles) + crate::budget::vec_bytes(&self.flows)
    }

    pub fn on_flow(&mut self, conn: &Connection, cfg: &AnalyzerConfig, hosts: &HostProfiles) {
        if let Some(IdleRst {
            idle_s: idle, rst, ..
        }) = idle_before_rst(conn, cfg, hosts)
        {
            self.resets += 1;
            if self.idles.len() < self.max_idles {
                self.idles.push(idle);
                self.flows.push(conn.id);
            }
            let t = rst.at.ts.secs_f64();
            self.first = Some(self.first.map_or(t, |f: f64| f.min(t)));
        }
    }

    pub fn findings(&self, out: &mut Vec<Finding>) {
        let n = self.idles.len();
        if n < 2 {
            return;
        }
        let mean = self.idles.iter().sum::<f64>() / n as f64;
        let sd = (self.idles.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        let (lo, hi) = self
            .idles
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
        let consistent = sd <= 0.1 * mean.max(1.0);
        out.push(
            Finding::new("idle.reset", Severity::Warning, None, self.first.unwrap_or(0.0))
                .summary(format!(
                    "{} resets after {mean:.1} +/- {sd:.1} s idle (range {lo:.1}-{hi:.1} s){}",
                    self.resets,
                    if consistent {
                        ": a consistent idle timeout on the path; look for a box with an idle/session timeout of about that"
                    } else {
                        ": idle durations vary, a fixed timeout is less likely"
                    }
                ))
                .evidence("resets", self.resets)
                .evidence("idle_stats_over", n)
                .evidence("idle_mean_s", round_ms(mean))
                .evidence("idle_stddev_s", round_ms(sd))
                .evidence("idle_min_s", round_ms(lo))
                .evidence("idle_max_s", round_ms(hi))
                .evidence("flows", self.flows.iter().take(50).collect::<Vec<_>>())
                .confidence(if consistent { Confidence::High } else { Confidence::Low })
                .with_cause(Cause::MiddleboxIdleTimeout),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rst(ip_id: u16, prev: u16) -> RstInfo {
        RstInfo {
            at: crate::flow::side::At {
                frame: 9,
                ts: crate::model::Ts(1),
            },
            ttl: 64,
            ip_id: Some(ip_id),
            prev_ip_id: Some(prev),
            mac: None,
            has_timestamps: false,
            ack_flag: true,
            seq_offset: Some(0),
            unacked: None,
            packets_before: 5,
            window: 0,
        }
    }

    /// An endpoint whose packets all arrived with TTL `ttl`.
    fn side_at_ttl(ttl: u8) -> Side {
        let mut side = Side::default();
        side.ttl_first = Some(ttl);
        side.ttl_min = ttl;
        side.ttl_max = ttl;
        side
    }

    #[test]
    fn ip_id_sign_needs_a_sequential_endpoint() {
        let mut side = side_at_ttl(64);
        let ip = "192.0.2.1".parse().unwrap();
        let hosts = HostProfiles::default();
        // A Linux socket: IDs counted up by 1.
        side.ip_id_steps = 4;
        side.max_ip_id_step = 1;
        let (signs, score, ev) = injection_signs(&side, &rst(40000, 1000), &hosts, ip, 1);
        assert_eq!(score, 1, "{signs:?}");
        assert_eq!(ev["ip_id_sequential"], true);
        // Random IDs (BSD, macOS) or a host-wide counter: the same jump says nothing.
        side.max_ip_id_step = 31000;
        let (signs, score, ev) = injection_signs(&side, &rst(40000, 1000), &hosts, ip, 1);
        assert_eq!(score, 0, "{signs:?}");
        assert_eq!(ev["ip_id_sequential"], false);
    }

    #[test]
    fn a_rst_at_the_peers_ack_behind_a_large_window_is_no_sign() {
        let side = side_at_ttl(64);
        let ip = "192.0.2.1".parse().unwrap();
        let hosts = HostProfiles::default();
        // 300 kB in flight (a scaled window), RST at the peer's ACK 200 kB back.
        let mut r = rst(0, 0);
        r.ip_id = None;
        r.seq_offset = Some(-200_000);
        r.unacked = Some(300_000);
        let (signs, score, _) = injection_signs(&side, &r, &hosts, ip, 1);
        assert_eq!(score, 0, "{signs:?}");
        // Further back than anything unacknowledged: a sign.
        r.seq_offset = Some(-400_000);
        let (signs, score, _) = injection_signs(&side, &r, &hosts, ip, 1);
        assert_eq!(score, 1, "{signs:?}");
    }

    #[test]
    fn one_hop_ttl_change_alone_is_a_weak_sign() {
        // A box on the capture's link (TTL unspent) against an endpoint one hop away.
        assert_eq!(ttl_sign_weight(64, 63, 63), 2);
        // Several hops closer or farther, or another initial TTL: strong.
        assert_eq!(ttl_sign_weight(60, 56, 57), 2);
        assert_eq!(ttl_sign_weight(54, 56, 57), 2);
        assert_eq!(ttl_sign_weight(250, 56, 57), 2);
        // One hop on a routed path: a route change looks the same.
        assert_eq!(ttl_sign_weight(58, 56, 57), 1);
        assert_eq!(ttl_sign_weight(55, 56, 57), 1);
        let side = side_at_ttl(57);
        let mut r = rst(0, 0);
        r.ttl = 58;
        r.ip_id = None;
        let ip = "192.0.2.1".parse().unwrap();
        let (signs, score, _) = injection_signs(&side, &r, &HostProfiles::default(), ip, 1);
        assert_eq!(score, 1, "not rst.injected on its own: {signs:?}");
    }

    #[test]
    fn hop_estimates() {
        assert_eq!(hops(64), 0);
        assert_eq!(hops(63), 1);
        assert_eq!(hops(120), 8);
        assert_eq!(hops(250), 5);
    }
}
