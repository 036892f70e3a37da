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
    if let (Some(seq), Some(len)) = (ev.seq, ev.len) {
        let _ = write!(line, "  seq={seq}");
        if let Some(ack) = ev.ack {
            let _ = write!(line, " ack={ack}");
        }
        if let Some(win) = ev.win {
            let _ = write!(line, " win={win}");
        }
        let _ = len;
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
