//! Plain-text pieces shared by the terminal outputs: a flow's timeline and findings.

use std::fmt::Write as _;

use super::record::{timeline_records, EventRecord};
use crate::analyze::Finding;
use crate::flow::Connection;

pub fn timeline_text(conn: &Connection) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "flow {}  {} -> {}  {} {}",
        conn.id,
        conn.client,
        conn.server,
        conn.zeek.conn_state(),
        conn.zeek.history()
    );
    let _ = writeln!(s, "  {:>8}  {:>11}  {:<3}  event", "frame", "t(rel)", "dir");
    for ev in timeline_records(conn) {
        let _ = writeln!(s, "  {}", event_line(&ev));
    }
    if conn.timeline.dropped > 0 {
        let _ = writeln!(
            s,
            "  ... {} more events not kept (timeline cap)",
            conn.timeline.dropped
        );
    }
    s
}

fn event_line(ev: &EventRecord) -> String {
    let mut line = format!("{:>8}  {:>11.6}  {:<3}  ", ev.frame, ev.at_rel, ev.dir);
    if let Some(idle) = ev.idle_before_s {
        let _ = write!(line, "(after {idle:.1} s idle) ");
    }
    line.push_str(&ev.label);
    // Segments only (they have seq and len; the length is already in the label).
    if let Some(seq) = ev.seq {
        let _ = write!(line, "  seq={seq}");
        if let Some(ack) = ev.ack {
            let _ = write!(line, " ack={ack}");
        }
        if let Some(win) = ev.win {
            let _ = write!(line, " win={win}");
        }
    }
    if let Some(run) = &ev.run {
        let _ = write!(
            line,
            "  (frames {}-{}, until {:.6})",
            ev.frame, run.last_frame, run.end_rel
        );
    }
    line
}

pub fn finding_text(f: &Finding) -> String {
    let mut s = format!(
        "  {:<7} {}  [{} confidence]\n          {}\n",
        f.severity.as_str().to_uppercase(),
        f.id,
        match f.confidence {
            crate::analyze::Confidence::High => "high",
            crate::analyze::Confidence::Medium => "medium",
            crate::analyze::Confidence::Low => "low",
        },
        f.summary
    );
    if !f.evidence.is_empty() {
        let ev = serde_json::to_string(&f.evidence).unwrap_or_default();
        let _ = writeln!(s, "          evidence: {ev}");
    }
    if !f.hint.is_empty() {
        let _ = writeln!(s, "          hint: {}", f.hint);
    }
    s
}

/// The live capture's lines under the table: how it ran, drops, socket polls and
/// the host counters that moved.
pub fn capture_text(c: &crate::source::live::CaptureSummary) -> String {
    let mut s = String::new();
    let drops = c.pcap_stats.map_or("drops unknown".to_string(), |p| {
        format!(
            "{} dropped by the kernel, {} by the interface",
            p.dropped, p.if_dropped
        )
    });
    let _ = writeln!(
        s,
        "captured on {}{} for {:.1} s (stopped by {}), {} frames, {drops}",
        c.interface,
        c.netns
            .as_deref()
            .map_or(String::new(), |n| format!(" in netns {n}")),
        c.duration_s,
        c.stop_reason,
        c.frames
    );
    if let Some(p) = &c.sockets {
        let _ = write!(
            s,
            "socket polls: {} every {} s ({} failed), {} snapshots joined to flows",
            p.polls, p.interval_s, p.failed_polls, p.snapshots_joined
        );
        if let Some(n) = p.without_packets {
            let _ = write!(s, ", {n} sockets without packets");
        }
        if let Some(e) = &p.first_error {
            let _ = write!(s, " (error: {e})");
        }
        s.push('\n');
    }
    if let Some(h) = &c.host {
        if !h.counter_deltas.is_empty() {
            let parts: Vec<String> = h
                .counter_deltas
                .iter()
                .map(|(k, v)| format!("{k} {v:+}"))
                .collect();
            let _ = writeln!(s, "host counters during the capture: {}", parts.join(", "));
        }
        if let Some(e) = &h.error {
            let _ = writeln!(s, "host context: {e}");
        }
    }
    s
}
