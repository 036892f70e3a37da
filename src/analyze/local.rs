//! Correlation with the local socket (live capture): when one end of a flow is on
//! this host, its socket snapshots (sock_diag) say what the kernel thought while the
//! packets went by. That turns guesses into statements:
//!
//! - who sent a RST: this host's RST leaves in its own outgoing packets, so a flow
//!   reset while this host's captured packets carry neither RST nor FIN was reset by
//!   something else (`rst.not_from_this_host`), and a RST from this host's side is
//!   confirmed with the socket's state before it;
//! - what a stall was: during a first-byte or response wait, an empty send queue
//!   with no timer means the application had not written yet; unacknowledged data
//!   with the retransmission timer on means the network lost it;
//! - keepalive probes as counted by the kernel.
//!
//! Pure: it reads the flow model only (snapshots were joined by the flow table).

use serde_json::{json, Value};

use super::context::CaptureContext;
use super::{AnalyzerConfig, Cause, Confidence, Finding, Severity, Symptom};
use crate::flow::conn::Connection;
use crate::flow::socket::{
    state_name, timer_name, LocalSocket, SockSnap, STATE_ESTABLISHED, TIMER_KEEPALIVE, TIMER_ON,
    TIMER_PERSIST,
};
use crate::model::{Dir, Ts};

fn snap_json(s: &SockSnap, conn: &Connection) -> Value {
    let mut v = json!({
        "at_rel": crate::model::time::round_us(s.at.since(conn.start)),
        "state": state_name(s.state),
        "timer": timer_name(s.timer),
        "timer_expires_s": f64::from(s.timer_expires_ms) / 1000.0,
        "timer_count": s.timer_retrans,
        "send_q": s.send_q,
        "recv_q": s.recv_q,
    });
    if let Some(i) = s.info {
        v["unacked"] = i.unacked.into();
        v["notsent_bytes"] = i.notsent_bytes.into();
        v["retransmits"] = i.retransmits.into();
        v["probes"] = i.probes.into();
        v["rtt_ms"] = (f64::from(i.rtt_us) / 1000.0).into();
    }
    v
}

pub fn analyze(conn: &Connection, cfg: &AnalyzerConfig, found: &mut Vec<Finding>) {
    let sockets = conn.local.as_deref();
    // Both ends on this host (loopback): every packet is this host's, so there is no
    // attribution to make, but each end's socket still explains its own RST and the
    // server's socket its waits.
    if let Some(both) = sockets.filter(|l| l.sides.iter().all(Option::is_some)) {
        for f in found.iter_mut().filter(|f| f.flow == Some(conn.id)) {
            let by = match f.id {
                "rst.client" => Dir::FromClient,
                "rst.server" | "handshake.rejected" => Dir::FromServer,
                "stall.first_byte" | "stall.response" => {
                    if let Some(s) = &both.sides[Dir::FromServer.idx()] {
                        annotate_wait(conn, Dir::FromServer, s, f);
                    }
                    continue;
                }
                _ => continue,
            };
            annotate_rst(conn, by, both.sides[by.idx()].as_ref(), true, f);
        }
        return;
    }
    let sock = sockets.and_then(|l| l.only());
    let Some(ldir) = sock.map(|(d, _)| d).or_else(|| local_dir(conn, cfg)) else {
        forwarded(conn, cfg, found);
        return;
    };
    let sock = sock.map(|(_, s)| s);
    // The other end is this host too (loopback, or one of its own addresses) but its
    // socket was not polled (gone before the poll, or shorter than it): its RST is
    // this host's as well, so nothing may be said to come from elsewhere.
    let peer_local = is_this_host(cfg, endpoint(conn, ldir.other()).ip);
    // Without a socket poll (--no-sockets, or none done yet) a missing socket says
    // nothing about the connection.
    let polled = cfg.last_socket_poll.is_some();
    for f in found.iter_mut().filter(|f| f.flow == Some(conn.id)) {
        match (f.id, sock) {
            ("rst.client" | "rst.server" | "handshake.rejected", _) => {
                let by = if f.id == "rst.client" {
                    Dir::FromClient
                } else {
                    Dir::FromServer
                };
                if !peer_local || by == ldir {
                    annotate_rst(conn, ldir, sock, polled, f);
                }
            }
            ("stall.first_byte" | "stall.response", Some(s)) => annotate_wait(conn, ldir, s, f),
            ("keepalive.dead_peer" | "keepalive.probe", Some(s)) => annotate_keepalive(s, f),
            (
                "retransmit.timeout" | "retransmit.give_up" | "retransmit.tail_loss_probe",
                Some(s),
            ) if !conn.side(ldir).resends().is_empty() => annotate_timer(conn, s, TIMER_ON, f),
            ("window.persist_probe", Some(s)) => annotate_timer(conn, s, TIMER_PERSIST, f),
            _ => {}
        }
    }
    if let Some(sock) = sock {
        drop_false_give_up(conn, cfg, ldir, sock, found);
    }
    if peer_local {
        return;
    }
    if let Some(f) = not_from_this_host(conn, ldir, sock, polled, cfg.capture_drops, found) {
        found.push(f);
    }
}

/// SYNs that this host's own listener dropped: its accept queue was full while they
/// came (the polls of the listener say so; ListenOverflows rising says the kernel
/// counted the drops). That, not the path, is why they went unanswered.
pub fn listener_causes(conn: &Connection, ctx: &CaptureContext, found: &mut [Finding]) {
    if ctx.listeners.is_empty() {
        return;
    }
    let hs = &conn.handshake;
    let (Some(first), Some(last)) = (hs.syns.first(), hs.last_syn.or(hs.syns.last().copied()))
    else {
        return;
    };
    // Until the next retry was due (a SYN waits at most its retransmission timeout).
    let until = Ts(last.ts.0 + 1_000_000_000);
    let Some(st) = ctx.listeners.during(conn.server, first.ts, until) else {
        return;
    };
    if !st.fullest.full() {
        return;
    }
    for f in found.iter_mut().filter(|f| {
        f.flow == Some(conn.id)
            && matches!(f.id, "handshake.syn_retransmit" | "handshake.unanswered")
    }) {
        f.set_cause(Cause::AcceptQueueFull);
        f.certain = true;
        f.evidence.insert(
            "listener".into(),
            json!({
                "listener": st.listener.to_string(),
                "accept_queue": st.fullest.queue,
                "backlog": st.fullest.backlog,
                "polled_at_rel": crate::model::time::round_us(st.fullest.at.since(conn.start)),
                "ListenOverflows_delta": st.overflows,
                "ListenDrops_delta": st.drops,
            }),
        );
        append(
            &mut f.summary,
            &format!(
                "This host's listener {} had a full accept queue ({} waiting, backlog {}){}: the kernel dropped these SYNs",
                st.listener,
                st.fullest.queue,
                st.fullest.backlog,
                match st.overflows {
                    Some(o) if o > 0 => format!(" and ListenOverflows rose by {o}"),
                    _ => String::new(),
                }
            ),
        );
    }
}

/// Whether `ip` is one of this host's addresses (any loopback address counts).
fn is_this_host(cfg: &AnalyzerConfig, ip: std::net::IpAddr) -> bool {
    ip.is_loopback() || cfg.local_addrs.contains(&ip)
}

/// A capture that ends a moment after a retransmission looks like a sender that
/// gave up ("then fell silent"). When this host is that sender and its socket was
/// in the latest poll, after the last resend, still retrying (ESTABLISHED, the
/// retransmission timer pending), it had not given up: `retransmit.give_up` is
/// withdrawn.
fn drop_false_give_up(
    conn: &Connection,
    cfg: &AnalyzerConfig,
    ldir: Dir,
    sock: &LocalSocket,
    found: &mut Vec<Finding>,
) {
    let Some(last_resend) = conn.side(ldir).resends().latest else {
        return;
    };
    let s = &sock.last;
    // In the latest poll (so it had not been torn down), after the last resend,
    // with the retransmission timer still pending.
    let still_retrying = cfg.last_socket_poll == Some(s.at)
        && s.at > last_resend.at.ts
        && s.timer == TIMER_ON
        && s.state == STATE_ESTABLISHED;
    if !still_retrying {
        return;
    }
    let before = found.len();
    found.retain(|f| {
        let ours = f.id == "retransmit.give_up"
            && f.claimed().any(|c| c == Symptom::Resends(conn.id, ldir));
        !ours
    });
    if found.len() < before {
        for f in found
            .iter_mut()
            .filter(|f| f.flow == Some(conn.id) && f.id == "retransmit.timeout")
        {
            f.evidence
                .insert("still_retrying_at_end".into(), true.into());
            append(
                &mut f.summary,
                "The kernel had not given up: the socket was still retrying in the last poll",
            );
        }
    }
}

/// Which end is this host when no socket of the flow was seen (a refused SYN has
/// none): the end with one of this host's addresses, else the end whose packets a
/// cooked capture marked as sent by this host. None when neither or both.
fn local_dir(conn: &Connection, cfg: &AnalyzerConfig) -> Option<Dir> {
    // An address of this host that conntrack translated (a DNAT port forward, a
    // masquerade) is no socket of this host: the connection's end is elsewhere.
    let translated = |d: Dir| {
        conn.nat
            .as_ref()
            .is_some_and(|n| n.pair.is_translated_endpoint(endpoint(conn, d)))
    };
    local_dir_of(conn, cfg).filter(|d| !translated(*d))
}

fn local_dir_of(conn: &Connection, cfg: &AnalyzerConfig) -> Option<Dir> {
    let by_addr = (
        cfg.local_addrs.contains(&conn.client.ip),
        cfg.local_addrs.contains(&conn.server.ip),
    );
    match by_addr {
        (true, false) => return Some(Dir::FromClient),
        (false, true) => return Some(Dir::FromServer),
        (true, true) => return None,
        (false, false) => {}
    }
    match (
        conn.side(Dir::FromClient).sent_by_capture_host,
        conn.side(Dir::FromServer).sent_by_capture_host,
    ) {
        (Some(true), Some(false)) => Some(Dir::FromClient),
        (Some(false), Some(true)) => Some(Dir::FromServer),
        _ => None,
    }
}

/// Adds "who sent it" with certainty to a RST finding. `polled`: socket state was
/// polled at least once, so a missing socket means one was not seen.
fn annotate_rst(
    conn: &Connection,
    ldir: Dir,
    sock: Option<&LocalSocket>,
    polled: bool,
    f: &mut Finding,
) {
    let by = match f.id {
        "rst.client" => Dir::FromClient,
        _ => Dir::FromServer,
    };
    let Some(rst) = conn.side(by).first_rst_info.as_ref() else {
        return;
    };
    let before = sock.and_then(|s| s.at_or_before(rst.at.ts));
    // A socket in another namespace (a container behind this host) is not "this host".
    let elsewhere = sock.and_then(|s| s.netns.as_deref());
    let mut ev = json!({
        "this_host": endpoint(conn, ldir).to_string(),
        "this_host_sent_it": by == ldir && elsewhere.is_none(),
        "known_from": if sock.is_some() { "socket" } else { "address" },
    });
    if let (Some(ns), Some(s)) = (elsewhere, sock) {
        ev["netns"] = json!(ns);
        ev["socket"] = s.last.local.to_string().into();
        ev["socket_sent_it"] = (by == ldir).into();
    }
    if let Some(s) = before {
        ev["socket_before"] = snap_json(s, conn);
    }
    let sender = sender(conn, ldir, sock);
    if by == ldir {
        match before {
            Some(s) => {
                let why = rst_cause(s, rst.ack_flag);
                if let Some((kind, text)) = &why {
                    ev["rst_cause"] = (*kind).into();
                    // This host's socket says why it reset: that is the cause, whatever
                    // the packets alone suggested.
                    if matches!(f.id, "rst.client" | "rst.server") {
                        if let Some(cause) = Cause::from_name(kind) {
                            f.set_cause(cause);
                            f.certain = true;
                        }
                    }
                    let who = match (*kind == "closed_with_unread_data", elsewhere) {
                        (true, _) => format!("{sender} sent it"),
                        (false, None) => {
                            "This host's kernel sent it, not the application".to_string()
                        }
                        (false, Some(_)) => {
                            format!("{sender} sent it (its kernel, not the application)")
                        }
                    };
                    append(&mut f.summary, &format!("{who}: {text}"));
                } else {
                    append(
                        &mut f.summary,
                        &format!(
                            "{sender} sent it: its socket was {} before the RST",
                            s.describe()
                        ),
                    );
                }
            }
            None if sock.is_some() => append(
                &mut f.summary,
                &format!("{sender} sent it (its socket was seen only after the RST)"),
            ),
            None => append(
                &mut f.summary,
                &format!(
                    "This host sent it: the RST left from its own address {}, and {}{}",
                    endpoint(conn, ldir),
                    if polled {
                        "no socket of this connection was seen on it"
                    } else {
                        "socket state was not polled"
                    },
                    if f.id == "handshake.rejected" {
                        " (a refused SYN: nothing listened on the port, or this host's firewall rejected it)"
                    } else {
                        ""
                    }
                ),
            ),
        }
    } else {
        let me = conn.side(ldir);
        ev["this_host_sent_fin"] = me.first_fin.is_some().into();
        // A bare RST (no ACK) answers a segment for a connection its sender does not
        // have: not an application closing its socket.
        if !rst.ack_flag && conn.side(by).first_fin.is_none() && me.packets > 0 {
            append(
                &mut f.summary,
                &format!(
                    "It carries no ACK flag: the {}'s stack answered this host's segment as if \
                     the connection did not exist, which is not an application closing its socket \
                     (see rst.not_from_this_host)",
                    by.side()
                ),
            );
        }
    }
    f.evidence.insert("local_socket".into(), ev);
}

/// Says what the kernel saw during a wait: the application or the network.
fn annotate_wait(conn: &Connection, ldir: Dir, sock: &LocalSocket, f: &mut Finding) {
    let wait = f
        .evidence
        .get("wait_s")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let from = Ts::from_secs_f64(f.at);
    let to = Ts::from_secs_f64(f.at + wait);
    let during: Vec<&SockSnap> = sock.between(from, to).collect();
    // The latest snapshot before the end of the wait counts too: a quiet socket
    // changes nothing, so its state may come from before the wait began.
    let seen: Vec<&SockSnap> = if during.is_empty() {
        sock.at_or_before(to).into_iter().collect()
    } else {
        during
    };
    let Some(last) = seen.last() else {
        return;
    };
    let responder_is_local = ldir == Dir::FromServer;
    let info = last.info.unwrap_or_default();
    // The poll is stamped when its dump starts and reads each socket later (a dump
    // of a large table takes tens of ms): a response the capture saw leave just after
    // the stamp can show in flight. Only retransmissions blame the network.
    let retransmitting = last.timer == TIMER_ON && (last.timer_retrans > 0 || info.retransmits > 0);
    // An established socket that no process holds yet (inode 0) sits in its
    // listener's accept queue: nothing it does can be the application's.
    let never_accepted = seen.iter().all(|s| s.inode == 0);
    let (verdict, cause) = if responder_is_local {
        if never_accepted {
            (
                "the connection had not been accepted (socket inode 0: still in the listener's accept queue): the application was not calling accept()",
                Some(Cause::NotAccepted),
            )
        } else if retransmitting {
            (
                "the response was sent but not acknowledged (retransmission timer on): the network",
                Some(Cause::ResponseLost),
            )
        } else if last.timer == TIMER_ON || info.unacked > 0 {
            (
                "the response was in flight, not yet acknowledged, without a retransmission (just sent, or held in this host's queueing discipline)",
                Some(Cause::ResponseInFlight),
            )
        } else if info.notsent_bytes > 0 || last.send_q > 0 {
            (
                "the response was queued in the socket but not sent (peer window or congestion)",
                Some(Cause::ResponseQueued),
            )
        } else {
            // What the application was doing (DNS, thinking) the packets say better.
            (
                "this host's socket had nothing queued or in flight: the application had not written its response yet",
                None,
            )
        }
    } else if last.recv_q > 0 {
        (
            "data had arrived in this host's socket but the application had not read it",
            Some(Cause::ResponseUnread),
        )
    } else {
        (
            "this host's socket was waiting for the peer with nothing unread",
            None,
        )
    };
    if let Some(cause) = cause {
        f.set_cause(cause);
        f.certain = true;
    }
    let place = match &sock.netns {
        None => format!("on this host ({})", endpoint(conn, ldir)),
        Some(ns) => format!("in network namespace {ns} ({})", last.local),
    };
    append(
        &mut f.summary,
        &format!("Kernel view {place}: socket {}; {verdict}", last.describe()),
    );
    f.evidence.insert(
        "local_socket_during_wait".into(),
        Value::Array(seen.iter().take(8).map(|s| snap_json(s, conn)).collect()),
    );
    f.evidence
        .insert("local_socket_verdict".into(), verdict.into());
}

/// Adds a sentence to a finding's summary.
fn append(summary: &mut String, sentence: &str) {
    let t = summary.trim_end();
    summary.truncate(t.len());
    if !summary.is_empty() && !summary.ends_with(['.', '!', '?']) {
        summary.push('.');
    }
    summary.push(' ');
    summary.push_str(sentence);
    summary.push('.');
}

/// Why this host's kernel sent a RST on its own: a timer gave up (the socket's last
/// snapshot had the keepalive timer with unanswered probes, or the retransmission
/// timer with retries), or the application closed the socket with data it had not
/// read (Linux then resets instead of sending a FIN). A keepalive that gives up
/// resets the connection (RST+ACK); retransmissions that give up drop it silently
/// (tcp_write_err), so only a RST without ACK, the kernel answering the peer's next
/// segment for a connection it no longer has, follows them.
fn rst_cause(s: &SockSnap, rst_has_ack: bool) -> Option<(&'static str, String)> {
    if s.recv_q > 0 && s.timer != TIMER_KEEPALIVE {
        return Some((
            "closed_with_unread_data",
            format!(
                "just before it {} received bytes sat unread in the socket: the application \
                 closed it without reading them, and Linux answers that with a RST instead of a FIN",
                s.recv_q
            ),
        ));
    }
    match s.timer {
        TIMER_KEEPALIVE if s.timer_retrans > 0 => Some((
            "keepalive_gave_up",
            format!(
                "just before it the socket's keepalive timer had sent {} unanswered probes \
                 (net.ipv4.tcp_keepalive_probes / TCP_KEEPCNT reached: the keepalive gave up)",
                s.timer_retrans
            ),
        )),
        TIMER_ON if s.timer_retrans > 0 && !rst_has_ack => Some((
            "retransmissions_gave_up",
            format!(
                "just before it the socket's retransmission timer had retried {} times \
                 (tcp_retries2 or TCP_USER_TIMEOUT reached: the kernel dropped the connection \
                 without a RST, and this one, without ACK, answered the peer's next segment)",
                s.timer_retrans
            ),
        )),
        _ => None,
    }
}

/// The kernel's own count for a timer this host's socket ran (retransmission or
/// persist): the snapshot where it had retried most.
fn annotate_timer(conn: &Connection, sock: &LocalSocket, timer: u8, f: &mut Finding) {
    let Some(most) = sock
        .history
        .iter()
        .chain(std::iter::once(&sock.last))
        .filter(|s| s.timer == timer)
        .max_by_key(|s| (s.timer_retrans, s.at))
    else {
        return;
    };
    f.evidence
        .insert("kernel_timer".into(), snap_json(most, conn));
    let place = match &sock.netns {
        None => "on this host".to_string(),
        Some(ns) => format!("in network namespace {ns}"),
    };
    append(
        &mut f.summary,
        &format!(
            "Kernel view {place} at +{:.3} s: socket {}",
            most.at.since(conn.start),
            most.describe()
        ),
    );
}

fn annotate_keepalive(sock: &LocalSocket, f: &mut Finding) {
    let most = sock
        .history
        .iter()
        .chain(std::iter::once(&sock.last))
        .filter(|s| s.timer == TIMER_KEEPALIVE)
        .map(|s| s.timer_retrans)
        .max();
    if let Some(n) = most {
        f.evidence
            .insert("kernel_keepalive_probes_max".into(), n.into());
    }
}

/// Who a socket of end `dir` is in a sentence: "This host", or "The server's
/// socket 172.30.0.2:80 in network namespace 'c1' (net:[...], pid 812), reached
/// through this host's DNAT from 198.51.100.1:8080".
fn sender(conn: &Connection, dir: Dir, sock: Option<&LocalSocket>) -> String {
    let Some((ns, s)) = sock.and_then(|s| Some((s.netns.as_deref()?, s))) else {
        return "This host".to_string();
    };
    let via = match conn.nat.as_deref() {
        Some(n) if s.last.local != endpoint(conn, dir) => format!(
            ", reached through this host's {} from {},",
            if n.pair.dnat() { "DNAT" } else { "NAT" },
            endpoint(conn, dir)
        ),
        _ => String::new(),
    };
    format!(
        "The {}'s socket {} in network namespace {ns}{via}",
        dir.side(),
        s.last.local
    )
}

/// A RST from an end whose address is this host's but which conntrack shows as
/// translated (a DNAT port forward, a masquerade), with no socket of it seen: the
/// RST came from wherever the translation leads, not from this host's sockets.
fn forwarded(conn: &Connection, cfg: &AnalyzerConfig, found: &mut [Finding]) {
    let Some(nat) = conn.nat.as_deref() else {
        return;
    };
    for f in found.iter_mut().filter(|f| f.flow == Some(conn.id)) {
        let by = match f.id {
            "rst.client" => Dir::FromClient,
            "rst.server" | "handshake.rejected" => Dir::FromServer,
            _ => continue,
        };
        let addr = endpoint(conn, by);
        if !nat.pair.is_translated_endpoint(addr) || !is_this_host(cfg, addr.ip) {
            continue;
        }
        let Some(real) = nat.pair.real_of(addr) else {
            continue;
        };
        let kind = if addr == nat.pair.orig_dst {
            "dnat"
        } else {
            "snat"
        };
        f.evidence.insert(
            "nat".into(),
            json!({
                "address": addr.to_string(),
                "translated_to": real.to_string(),
                "kind": kind,
                "this_host_sent_it": false,
            }),
        );
        append(
            &mut f.summary,
            &format!(
                "{addr} is this host's address, but conntrack shows this connection {} {real}: \
                 the RST came from the socket (or box) at {real}, not from a socket of this host \
                 (--all-netns looks for it in the namespaces linked to this one)",
                if kind == "dnat" {
                    "forwarded (DNAT) to"
                } else {
                    "masqueraded (SNAT) for"
                }
            ),
        );
    }
}

fn endpoint(conn: &Connection, dir: Dir) -> crate::model::Endpoint {
    match dir {
        Dir::FromClient => conn.client,
        Dir::FromServer => conn.server,
    }
}

/// The flow was reset by the peer's address while this host, whose outgoing packets
/// the capture holds, sent neither RST nor FIN, and the RST does not look like the
/// peer's own stack closing normally.
fn not_from_this_host(
    conn: &Connection,
    ldir: Dir,
    sock: Option<&LocalSocket>,
    polled: bool,
    capture_drops: u64,
    found: &[Finding],
) -> Option<Finding> {
    let me = conn.side(ldir);
    let peer_dir = ldir.other();
    let peer = conn.side(peer_dir);
    let rst = peer.first_rst_info.as_ref()?;
    if me.first_rst_info.is_some() || me.first_fin.is_some() || me.packets == 0 {
        return None;
    }
    let before = sock.and_then(|s| s.at_or_before(rst.at.ts));
    // The socket had already sent its FIN (FIN-WAIT-1/2, CLOSING, TIME_WAIT,
    // LAST_ACK) although the capture holds none: the capture missed this host's
    // packets (drops, another interface), so it cannot say what this host sent.
    if before.is_some_and(|s| {
        use crate::model::socket::TcpState as T;
        matches!(
            T::from_kernel(s.state),
            T::FinWait1 | T::FinWait2 | T::Closing | T::TimeWait | T::LastAck
        )
    }) {
        return None;
    }
    let was_established =
        conn.handshake.ack.is_some() || before.is_some_and(|s| s.state == STATE_ESTABLISHED);
    if !was_established {
        return None;
    }
    // Why this RST is not the peer closing its own connection:
    let mut reasons = Vec::new();
    let mut strong = false;
    let mut weak_ttl = false;
    if found
        .iter()
        .any(|f| f.flow == Some(conn.id) && f.id == "rst.injected")
    {
        strong = true;
        reasons.push("it carries signs of injection (see rst.injected)".to_string());
    } else if peer.ttl_first.is_some() && !(peer.ttl_min..=peer.ttl_max).contains(&rst.ttl) {
        // Weighed as rst.injected weighs it: one hop off is also a route change.
        let weight = super::reset::ttl_sign_weight(rst.ttl, peer.ttl_min, peer.ttl_max);
        strong = weight >= 2;
        weak_ttl = !strong;
        reasons.push(format!(
            "its TTL {} differs from the {}'s other packets ({}-{}){}",
            rst.ttl,
            peer_dir.side(),
            peer.ttl_min,
            peer.ttl_max,
            if strong {
                ""
            } else {
                " by one hop (a route change does that too)"
            }
        ));
    }
    if !rst.ack_flag && peer.first_fin.is_none() {
        // A RST without ACK answers a segment for a connection its sender does not
        // have (Linux with no socket; a firewall's reject-with-reset likewise): the
        // peer's end was gone, or a box answered in its name. The peer never closed.
        reasons.push(format!(
            "it has no ACK flag and the {} never sent a FIN: it answers this host's segment as if the connection did not exist (the peer's end was torn down without a FIN or RST from this host, or a box answered in its name)",
            peer_dir.side()
        ));
    }
    // A single hop alone does not outweigh the peer closing abortively itself
    // (rst.client / rst.server say that).
    if reasons.is_empty() || (reasons.len() == 1 && weak_ttl) {
        return None;
    }
    let peer_ep = endpoint(conn, peer_dir);
    let here = endpoint(conn, ldir);
    let elsewhere = sock.and_then(|s| s.netns.as_deref());
    let me_text = match elsewhere {
        None => format!("This host ({here}, the {})", ldir.side()),
        Some(_) => sender(conn, ldir, sock),
    };
    let socket_text = before.map_or_else(
        || match sock {
            Some(_) => "no socket snapshot before it".to_string(),
            // A connection shorter than the poll interval: this host is known by
            // its address, and its packets are the capture's own.
            None if polled => {
                "its socket was not polled while it existed (shorter than --poll)".to_string()
            }
            None => "socket state was not polled".to_string(),
        },
        |s| {
            format!(
                "{:.3} s before it {} socket was {}",
                rst.at.ts.since(s.at),
                if elsewhere.is_some() {
                    "that"
                } else {
                    "this host's"
                },
                s.describe()
            )
        },
    );
    let mut f = Finding::new(
        "rst.not_from_this_host",
        Severity::Error,
        Some(conn.id),
        rst.at.ts.secs_f64(),
    )
    .summary(format!(
        "{me_text} sent neither RST nor FIN on this connection ({} of its packets captured); \
         the RST at frame {} carrying {peer_ep}'s address ended it, and {}; {socket_text}{}.",
        me.packets,
        rst.at.frame,
        reasons.join("; "),
        if capture_drops > 0 {
            format!(
                "; but the capture dropped {capture_drops} packets, so this host's own RST or FIN may be among them"
            )
        } else {
            String::new()
        }
    ))
    .evidence("rst_frame", rst.at.frame)
    .evidence("rst_from", peer_ep.to_string())
    .evidence("rst_ttl", rst.ttl)
    .evidence("rst_ack_flag", rst.ack_flag)
    .evidence("this_host", here.to_string())
    .evidence("this_host_role", ldir.side())
    .evidence("this_host_packets", me.packets)
    .evidence("this_host_sent_rst", false)
    .evidence("this_host_sent_fin", false)
    .evidence("reasons", &reasons)
    .evidence("socket_polls", sock.map_or(0, |s| s.polls))
    .evidence("this_host_known_from", if sock.is_some() { "socket" } else { "address" })
    .evidence("capture_dropped_packets", capture_drops)
    .claim(Symptom::Rst(rst.at.frame))
    // A capture that dropped packets may have lost this host's own RST or FIN.
    .confidence(if strong && capture_drops == 0 {
        Confidence::High
    } else if capture_drops == 0 {
        Confidence::Medium
    } else {
        Confidence::Low
    })
    // A box sent it (its TTL or options say so), or the peer's end answered as if the
    // connection did not exist (its end torn down by something else).
    .with_cause(if strong {
        Cause::Middlebox
    } else {
        Cause::UnknownConnection
    });
    if peer.ttl_first.is_some() {
        f = f.evidence("peer_ttl_range", [peer.ttl_min, peer.ttl_max]);
    }
    if let (Some(ns), Some(s)) = (elsewhere, sock) {
        f = f
            .evidence("this_host_netns", json!(ns))
            .evidence("this_host_socket", s.last.local.to_string());
    }
    if let Some(s) = before {
        f = f.evidence("socket_before", snap_json(s, conn));
    }
    if let Some(after) = sock.map(|s| s.last).filter(|a| a.at > rst.at.ts) {
        f = f.evidence("socket_after", snap_json(&after, conn));
    }
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpFlags;
    use crate::flow::conn::ConnConfig;
    use crate::flow::socket::{SockSnap, TcpInfoLite};
    use crate::flow::{Segment, TimelineMode};
    use crate::model::{Endpoint, FlowKey};

    const S: u8 = TcpFlags::SYN;
    const A: u8 = TcpFlags::ACK;
    const R: u8 = TcpFlags::RST;
    const P: u8 = TcpFlags::PSH;

    fn cfg() -> ConnConfig {
        ConnConfig {
            timeline: TimelineMode::Collapsed,
            timeline_cap: 100,
            idle_mark_ns: 1_000_000_000,
            ooo_threshold_ns: 3_000_000,
        }
    }

    fn ep(s: &str) -> Endpoint {
        let (ip, port) = s.rsplit_once(':').unwrap();
        Endpoint::new(ip.parse().unwrap(), port.parse().unwrap())
    }

    /// An ESTABLISHED socket with no timer and empty queues, polled at `at`.
    fn idle_snap(at: f64, local: Endpoint, remote: Endpoint) -> SockSnap {
        SockSnap {
            at: Ts::from_secs_f64(at),
            local,
            remote,
            state: STATE_ESTABLISHED,
            timer: 0,
            timer_expires_ms: 0,
            timer_retrans: 0,
            recv_q: 0,
            send_q: 0,
            inode: 1,
            info: None,
        }
    }

    struct Seg(u64, f64, bool, u8, u32, u32, u32, u8);

    /// client 192.0.2.10:40000 -> server 198.51.100.10:8080; the server is this host.
    fn flow(segs: &[Seg], snaps: &[(f64, u8, u8)]) -> Connection {
        let c = ep("192.0.2.10:40000");
        let s = ep("198.51.100.10:8080");
        let mk = |x: &Seg| {
            let (src, dst) = if x.2 { (c, s) } else { (s, c) };
            let mut seg =
                Segment::for_test(x.0, Ts::from_secs_f64(x.1), src, dst, x.3, x.4, x.5, x.6);
            seg.ttl = x.7;
            seg
        };
        let mut conn = Connection::new(1, &mk(&segs[0]), &cfg());
        let mut snaps = snaps.iter().peekable();
        for x in segs {
            while let Some(&&(at, state, timer)) = snaps.peek() {
                if at > x.1 {
                    break;
                }
                snaps.next();
                conn.on_socket(SockSnap {
                    state,
                    timer,
                    timer_expires_ms: 150,
                    info: Some(TcpInfoLite::default()),
                    ..idle_snap(at, s, c)
                });
            }
            conn.on_segment(&mk(x), &cfg());
        }
        conn
    }

    fn handshake() -> Vec<Seg> {
        vec![
            Seg(1, 0.0, true, S, 100, 0, 0, 63),
            Seg(2, 0.001, false, S | A, 900, 101, 0, 64),
            Seg(3, 0.002, true, A, 101, 901, 0, 63),
            Seg(4, 0.003, false, P | A, 901, 101, 10, 64),
            Seg(5, 0.004, true, A, 101, 911, 0, 63),
        ]
    }

    #[test]
    fn rst_with_the_wrong_ttl_and_no_rst_or_fin_from_this_host() {
        let mut segs = handshake();
        segs.push(Seg(6, 2.0, false, P | A, 911, 101, 5, 64));
        // The "client's" RST arrives with the router's TTL (64, not 63).
        segs.push(Seg(7, 2.001, true, R, 101, 0, 0, 64));
        let conn = flow(&segs, &[(0.5, 1, 0), (1.9, 1, 0)]);
        let f = not_from_this_host(&conn, &AnalyzerConfig::default());
        assert_eq!(f.confidence, Confidence::High);
        assert_eq!(f.evidence["rst_frame"], 7);
        assert_eq!(f.evidence["this_host_role"], "server");
        assert_eq!(f.evidence["socket_before"]["state"], "ESTABLISHED");
        assert!(f.summary.contains("TTL 64"), "{}", f.summary);
    }

    /// One hop off the client's TTL is also what a route change does: the RST is
    /// still not this host's (no ACK, no FIN from the client), but not a strong sign
    /// of a box.
    #[test]
    fn a_one_hop_ttl_difference_is_a_weak_sign() {
        let mut segs: Vec<Seg> = handshake()
            .into_iter()
            .map(|mut s| {
                if s.2 {
                    s.7 = 60;
                }
                s
            })
            .collect();
        segs.push(Seg(6, 2.0, false, P | A, 911, 101, 5, 64));
        segs.push(Seg(7, 2.001, true, R, 101, 0, 0, 59));
        let conn = flow(&segs, &[(0.5, 1, 0), (1.9, 1, 0)]);
        let f = not_from_this_host(&conn, &AnalyzerConfig::default());
        assert_eq!(f.confidence, Confidence::Medium);
        assert_eq!(f.cause, Some(Cause::UnknownConnection));
        assert!(f.summary.contains("by one hop"), "{}", f.summary);
        // With the ACK flag, one hop is all there is: the client's own abortive close.
        let last = segs.len() - 1;
        segs[last].3 = R | A;
        segs[last].5 = 916;
        let conn = flow(&segs, &[(0.5, 1, 0), (1.9, 1, 0)]);
        let mut found = Vec::new();
        analyze(&conn, &AnalyzerConfig::default(), &mut found);
        assert!(found.iter().all(|f| f.id != "rst.not_from_this_host"));
    }

    /// The analyzers' rst.not_from_this_host finding on `conn` (it must be there).
    fn not_from_this_host(conn: &Connection, cfg: &AnalyzerConfig) -> Finding {
        let mut found = Vec::new();
        analyze(conn, cfg, &mut found);
        found
            .into_iter()
            .find(|f| f.id == "rst.not_from_this_host")
            .expect("finding")
    }

    #[test]
    fn capture_drops_lower_the_claim() {
        let mut segs = handshake();
        segs.push(Seg(6, 2.0, false, P | A, 911, 101, 5, 64));
        segs.push(Seg(7, 2.001, true, R, 101, 0, 0, 64));
        let conn = flow(&segs, &[(0.5, 1, 0), (1.9, 1, 0)]);
        let mut found = Vec::new();
        let cfg = AnalyzerConfig {
            capture_drops: 3,
            ..AnalyzerConfig::default()
        };
        analyze(&conn, &cfg, &mut found);
        let f = found
            .iter()
            .find(|f| f.id == "rst.not_from_this_host")
            .expect("finding");
        // Same evidence as with a complete capture, but this host's RST or FIN may be
        // among the dropped packets.
        assert_eq!(f.confidence, Confidence::Low);
        assert_eq!(f.evidence["capture_dropped_packets"], 3);
        assert!(f.summary.contains("dropped 3 packets"), "{}", f.summary);
    }

    #[test]
    fn a_peer_closing_normally_is_not_flagged() {
        let mut segs = handshake();
        // The client's own abortive close: RST+ACK with its usual TTL.
        segs.push(Seg(6, 2.0, true, R | A, 101, 911, 0, 63));
        let conn = flow(&segs, &[(0.5, 1, 0)]);
        let mut found = Vec::new();
        analyze(&conn, &AnalyzerConfig::default(), &mut found);
        assert!(found.iter().all(|f| f.id != "rst.not_from_this_host"));
    }

    #[test]
    fn this_host_sending_a_fin_is_not_flagged() {
        let mut segs = handshake();
        segs.push(Seg(6, 1.0, false, TcpFlags::FIN | A, 911, 101, 0, 64));
        segs.push(Seg(7, 2.001, true, R, 101, 0, 0, 64));
        let conn = flow(&segs, &[(0.5, 1, 0)]);
        let mut found = Vec::new();
        analyze(&conn, &AnalyzerConfig::default(), &mut found);
        assert!(found.iter().all(|f| f.id != "rst.not_from_this_host"));
    }

    #[test]
    fn loopback_rst_after_unread_data_is_explained_by_its_socket() {
        let mut segs = handshake();
        segs.push(Seg(6, 2.0, true, R | A, 101, 911, 0, 63));
        let mut conn = flow(&segs, &[]);
        // The client's socket (also on this host) had the server's 10 bytes unread.
        conn.on_socket(SockSnap {
            recv_q: 10,
            inode: 2,
            ..idle_snap(1.5, conn.client, conn.server)
        });
        conn.on_socket(SockSnap {
            inode: 3,
            ..idle_snap(1.5, conn.server, conn.client)
        });
        let mut found = vec![Finding::new("rst.client", Severity::Warning, Some(1), 2.0)
            .summary("client reset the connection")];
        analyze(&conn, &AnalyzerConfig::default(), &mut found);
        assert_eq!(found.len(), 1);
        let ev = &found[0].evidence["local_socket"];
        assert_eq!(ev["this_host_sent_it"], true);
        assert_eq!(ev["rst_cause"], "closed_with_unread_data");
        assert!(found[0].summary.contains("10 received bytes sat unread"));
    }

    /// The server 198.51.100.10:8080 is this host's address, but a port forward to
    /// a container (conntrack's pair), and the server resets the connection.
    fn forwarded_reset() -> (Connection, AnalyzerConfig, Vec<Finding>) {
        let mut segs = handshake();
        segs.push(Seg(6, 2.0, false, R | A, 911, 101, 0, 64));
        let mut conn = flow(&segs, &[]);
        conn.nat = Some(Box::new(crate::flow::nat::FlowNat {
            pair: crate::flow::nat::NatPair {
                orig_src: conn.client,
                orig_dst: conn.server,
                reply_src: ep("172.30.0.2:80"),
                reply_dst: conn.client,
            },
            alias: FlowKey::of(conn.client, ep("172.30.0.2:80")).0,
            copies: 0,
            merged_flow: None,
        }));
        let cfg = AnalyzerConfig {
            local_addrs: vec![conn.server.ip],
            last_socket_poll: Some(Ts::from_secs_f64(1.0)),
            ..AnalyzerConfig::default()
        };
        let found = vec![Finding::new("rst.server", Severity::Warning, Some(1), 2.0)
            .summary("server reset the connection")];
        (conn, cfg, found)
    }

    #[test]
    fn a_port_forward_reset_is_not_this_host_s() {
        let (conn, cfg, mut found) = forwarded_reset();
        analyze(&conn, &cfg, &mut found);
        let f = &found[0];
        assert!(!f.summary.contains("This host sent it"), "{}", f.summary);
        assert!(
            f.summary.contains("forwarded (DNAT) to 172.30.0.2:80"),
            "{}",
            f.summary
        );
        assert_eq!(f.evidence["nat"]["this_host_sent_it"], false);
        assert!(f.evidence.get("local_socket").is_none());
        // Without the conntrack pair the address alone made it this host's.
        let (mut conn, cfg, mut found) = forwarded_reset();
        conn.nat = None;
        analyze(&conn, &cfg, &mut found);
        assert!(
            found[0].summary.contains("This host sent it"),
            "{}",
            found[0].summary
        );
    }

    #[test]
    fn a_reset_from_a_container_socket_names_its_namespace() {
        let (mut conn, cfg, mut found) = forwarded_reset();
        let c1 = std::sync::Arc::new(crate::model::netns::NetnsLabel {
            inode: 4026532301,
            name: Some("c1".into()),
            pid: Some(812),
            container: None,
        });
        // The container's socket, polled in its namespace under the translated tuple,
        // with unread data before the RST.
        let client = conn.client;
        assert_ne!(
            conn.on_socket_in(
                SockSnap {
                    recv_q: 7,
                    ..idle_snap(1.5, ep("172.30.0.2:80"), client)
                },
                Some(&c1),
            ),
            crate::flow::socket::Recorded::NotThisFlow
        );
        analyze(&conn, &cfg, &mut found);
        let f = &found[0];
        let ev = &f.evidence["local_socket"];
        assert_eq!(ev["this_host_sent_it"], false);
        assert_eq!(ev["socket_sent_it"], true);
        assert_eq!(ev["netns"]["name"], "c1");
        assert_eq!(ev["socket"], "172.30.0.2:80");
        assert_eq!(ev["rst_cause"], "closed_with_unread_data");
        assert!(!f.summary.contains("This host"), "{}", f.summary);
        assert!(
            f.summary
                .contains("The server's socket 172.30.0.2:80 in network namespace 'c1'")
                && f.summary.contains("DNAT from 198.51.100.10:8080"),
            "{}",
            f.summary
        );
    }

    #[test]
    fn a_socket_that_had_sent_its_fin_is_not_flagged_without_one_captured() {
        // The socket was in FIN-WAIT-1 before the RST, yet no FIN from this host is in
        // the capture: the capture missed it, so "sent neither RST nor FIN" is not
        // known.
        let mut segs = handshake();
        segs.push(Seg(6, 2.0, false, P | A, 911, 101, 5, 64));
        segs.push(Seg(7, 2.001, true, R, 101, 0, 0, 64));
        let conn = flow(&segs, &[(0.5, 1, 0), (1.9, 4, 1)]);
        let mut found = Vec::new();
        analyze(&conn, &AnalyzerConfig::default(), &mut found);
        assert!(found.iter().all(|f| f.id != "rst.not_from_this_host"));
    }

    #[test]
    fn a_peer_on_this_host_without_a_polled_socket_is_not_elsewhere() {
        // Both ends are this host's addresses, but only the server's socket was
        // polled (the client's was gone before the poll): the client's bare RST is
        // this host's own kernel answering, not something in the middle.
        let mut segs = handshake();
        segs.push(Seg(6, 2.0, false, P | A, 911, 101, 5, 64));
        segs.push(Seg(7, 2.001, true, R, 101, 0, 0, 64));
        let conn = flow(&segs, &[(0.5, 1, 0), (1.9, 1, 0)]);
        let cfg = AnalyzerConfig {
            local_addrs: vec![conn.client.ip, conn.server.ip],
            ..AnalyzerConfig::default()
        };
        let mut found = vec![
            Finding::new("rst.client", Severity::Warning, Some(1), 2.001)
                .summary("client reset the connection"),
        ];
        analyze(&conn, &cfg, &mut found);
        assert!(found.iter().all(|f| f.id != "rst.not_from_this_host"));
        assert!(found[0].evidence.get("local_socket").is_none());
        assert!(!found[0]
            .summary
            .contains("as if the connection did not exist"));
    }

    #[test]
    fn without_socket_snapshots_nothing_is_said() {
        let mut segs = handshake();
        segs.push(Seg(6, 2.001, true, R, 101, 0, 0, 64));
        let conn = flow(&segs, &[]);
        let mut found = Vec::new();
        analyze(&conn, &AnalyzerConfig::default(), &mut found);
        assert!(found.is_empty());
    }

    #[test]
    fn a_connection_shorter_than_a_poll_is_known_by_this_hosts_address() {
        let mut segs = handshake();
        segs.push(Seg(6, 0.01, true, R, 101, 0, 0, 64));
        let conn = flow(&segs, &[]);
        let cfg = AnalyzerConfig {
            local_addrs: vec![conn.server.ip],
            ..AnalyzerConfig::default()
        };
        let f = not_from_this_host(&conn, &cfg);
        assert_eq!(f.evidence["this_host_known_from"], "address");
        assert_eq!(f.evidence["this_host_role"], "server");
        assert!(f.evidence.get("socket_before").is_none());
    }

    #[test]
    fn without_socket_polls_a_missing_socket_is_not_called_short() {
        // --no-sockets (or no poll done yet): nothing says the connection was shorter
        // than a poll, and no socket was looked for.
        let mut segs = handshake();
        segs.push(Seg(6, 30.0, true, R, 101, 0, 0, 64));
        let conn = flow(&segs, &[]);
        let mut cfg = AnalyzerConfig {
            local_addrs: vec![conn.server.ip],
            ..AnalyzerConfig::default()
        };
        let f = not_from_this_host(&conn, &cfg);
        assert!(
            f.summary.contains("socket state was not polled"),
            "{}",
            f.summary
        );
        assert!(!f.summary.contains("shorter than --poll"), "{}", f.summary);
        // With polls running, the missing socket is the short-connection case.
        cfg.last_socket_poll = Some(Ts::from_secs_f64(31.0));
        let f = not_from_this_host(&conn, &cfg);
        assert!(f.summary.contains("shorter than --poll"), "{}", f.summary);

        // This host's own RST: "no socket seen" only when one was looked for.
        let mut segs = handshake();
        segs.push(Seg(6, 30.0, false, R, 911, 0, 0, 64));
        let conn = flow(&segs, &[]);
        let mut found = vec![Finding::new("rst.server", Severity::Warning, Some(1), 30.0)
            .summary("server reset the connection")];
        cfg.last_socket_poll = None;
        analyze(&conn, &cfg, &mut found);
        let text = &found[0].summary;
        assert!(text.contains("socket state was not polled"), "{text}");
        assert!(
            !text.contains("no socket of this connection was seen"),
            "{text}"
        );
    }

    #[test]
    fn only_retransmissions_make_a_wait_the_networks() {
        // The server (this host) answers after 2 s; its socket is read with the
        // response in flight (timer on, unacknowledged) but never retransmitted: the
        // poll caught it being sent, not the network losing it.
        let mut segs = handshake();
        segs.push(Seg(6, 1.0, true, P | A, 101, 911, 20, 63));
        segs.push(Seg(7, 3.0, false, P | A, 911, 121, 50, 64));
        let verdict_with = |timer_retrans: u8| {
            let mut conn = flow(&segs, &[]);
            conn.on_socket(SockSnap {
                timer: TIMER_ON,
                timer_expires_ms: 200,
                timer_retrans,
                send_q: 50,
                info: Some(TcpInfoLite {
                    unacked: 1,
                    ..TcpInfoLite::default()
                }),
                ..idle_snap(2.9, conn.server, conn.client)
            });
            let mut found = vec![
                Finding::new("stall.response", Severity::Warning, Some(1), 1.0)
                    .summary("slow response")
                    .evidence("wait_s", 2.0),
            ];
            analyze(&conn, &AnalyzerConfig::default(), &mut found);
            found[0].evidence["local_socket_verdict"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let in_flight = verdict_with(0);
        assert!(!in_flight.contains("the network"), "{in_flight}");
        assert!(
            in_flight.contains("without a retransmission"),
            "{in_flight}"
        );
        assert!(verdict_with(2).contains("the network"));
    }

    #[test]
    fn retransmissions_that_give_up_send_no_rst_and_ack() {
        // The server (this host) was retransmitting before its RST. Retransmissions
        // that run out drop the connection silently: a RST+ACK is an active reset
        // (the application's abort), only a bare RST is the kernel answering the
        // peer after it gave up.
        let cause_of = |flags: u8| {
            let mut segs = handshake();
            segs.push(Seg(6, 1.0, false, P | A, 911, 101, 5, 64));
            segs.push(Seg(7, 2.0, false, flags, 916, 101, 0, 64));
            let mut conn = flow(&segs, &[]);
            conn.on_socket(SockSnap {
                timer: TIMER_ON,
                timer_expires_ms: 400,
                timer_retrans: 2,
                send_q: 5,
                ..idle_snap(1.5, conn.server, conn.client)
            });
            let mut found = vec![Finding::new("rst.server", Severity::Warning, Some(1), 2.0)
                .summary("server reset the connection")];
            analyze(&conn, &AnalyzerConfig::default(), &mut found);
            let ev = &found[0].evidence["local_socket"];
            assert_eq!(ev["this_host_sent_it"], true);
            (ev.get("rst_cause").cloned(), found[0].summary.clone())
        };
        let (cause, text) = cause_of(R | A);
        assert_eq!(cause, None, "{text}");
        assert!(!text.contains("not the application"), "{text}");
        let (cause, _) = cause_of(R);
        assert_eq!(cause, Some("retransmissions_gave_up".into()));
    }
}
