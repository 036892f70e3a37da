//! Plain-text pieces shared by the terminal outputs: a flow's timeline, findings
//! with their evidence as aligned `key: value` lines, the live capture's summary.

use std::fmt::Write as _;

use serde_json::Value;

use super::clock;
use super::record::{timeline_records, EventRecord};
use super::style::{self, Paint, Term};
use super::TimeMode;
use crate::analyze::Finding;
use crate::flow::Connection;

/// A flow's timeline; `time` says how its times read.
pub fn timeline_text(conn: &Connection, time: TimeMode) -> String {
    let mut s = String::new();
    let started = conn.start.secs_f64();
    let _ = writeln!(
        s,
        "flow {}  {} -> {}  {} {}  started {}",
        conn.id,
        conn.client,
        conn.server,
        conn.zeek.conn_state(),
        conn.zeek.history(),
        match time {
            TimeMode::Utc => clock::utc_precise(started),
            _ => clock::local_precise(started),
        }
    );
    let head = match time {
        TimeMode::Rel => "t(rel)",
        TimeMode::Abs => "time (local)",
        TimeMode::Utc => "time (UTC)",
    };
    let _ = writeln!(
        s,
        "  {:>8}  {:>w$}  {:<3}  event",
        "frame",
        head,
        "dir",
        w = time_width(time)
    );
    for ev in timeline_records(conn) {
        let _ = writeln!(s, "  {}", event_line(&ev, started, time));
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

fn time_width(time: TimeMode) -> usize {
    match time {
        TimeMode::Rel => 11,
        TimeMode::Abs => 15,
        TimeMode::Utc => 16,
    }
}

/// An event's time: seconds since `start`, or the time of day (local or UTC).
fn event_time(at: f64, at_rel: f64, time: TimeMode) -> String {
    match time {
        TimeMode::Rel => format!("{at_rel:.6}"),
        TimeMode::Abs => {
            let c = clock::local(at);
            format!(
                "{:02}:{:02}:{:02}.{:06}",
                c.hour, c.minute, c.second, c.micros
            )
        }
        TimeMode::Utc => {
            let c = clock::utc(at);
            format!(
                "{:02}:{:02}:{:02}.{:06}Z",
                c.hour, c.minute, c.second, c.micros
            )
        }
    }
}

fn event_line(ev: &EventRecord, start: f64, time: TimeMode) -> String {
    let mut line = format!(
        "{:>8}  {:>w$}  {:<3}  ",
        ev.frame,
        event_time(ev.at, ev.at_rel, time),
        ev.dir,
        w = time_width(time)
    );
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
            "  (frames {}-{}, until {})",
            ev.frame,
            run.last_frame,
            event_time(start + run.end_rel, run.end_rel, time)
        );
    }
    line
}

/// Indent of a finding's text under its severity.
const BODY: usize = 10;

/// One finding: severity and id (coloured on a terminal), confidence and local time,
/// its summary, its evidence as aligned `key: value` lines, its hint. Long lines
/// wrap at `term.width`.
pub fn finding_text(f: &Finding, term: &Term) -> String {
    let sev = f.severity.as_str().to_uppercase();
    let head = format!(
        "{}{} {}  [{} confidence]",
        term.paint(&sev, Paint::of_severity(f.severity)),
        " ".repeat(7usize.saturating_sub(sev.len())),
        term.paint(f.id, Paint::Bold),
        match f.confidence {
            crate::analyze::Confidence::High => "high",
            crate::analyze::Confidence::Medium => "medium",
            crate::analyze::Confidence::Low => "low",
        },
    );
    let at = term.paint(
        &format!("at {}", clock::local_datetime_ms(f.at)),
        Paint::Dim,
    );
    let fits = term
        .width
        .is_none_or(|w| 2 + style::width(&head) + 2 + style::width(&at) <= w);
    let mut s = if fits {
        format!("  {head}  {at}\n")
    } else {
        format!("  {head}\n{}{at}\n", " ".repeat(BODY))
    };
    push_wrapped(&mut s, &f.summary, BODY, BODY, term.width);
    if !f.evidence.is_empty() {
        let _ = writeln!(s, "{}evidence:", " ".repeat(BODY));
        s.push_str(&evidence_lines(&f.evidence, BODY + 2, term.width));
    }
    if !f.hint.is_empty() {
        let hint = format!("hint: {}", f.hint);
        let mut h = String::new();
        push_wrapped(&mut h, &hint, BODY, BODY + 6, term.width);
        for l in h.lines() {
            let pad = l.len() - l.trim_start().len();
            let _ = writeln!(s, "{}{}", &l[..pad], term.paint(l.trim_start(), Paint::Dim));
        }
    }
    s
}

/// `text` as lines of at most `width` characters: the first indented by `first`,
/// the rest by `rest`. Breaks at spaces (a word longer than a line stays whole);
/// colour escapes do not count.
pub fn push_wrapped(out: &mut String, text: &str, first: usize, rest: usize, width: Option<usize>) {
    let Some(width) = width else {
        push_spaces(out, first);
        out.push_str(text);
        out.push('\n');
        return;
    };
    // Words go straight into `out`; a word that does not fit starts the next line.
    let mut indent = first;
    push_spaces(out, indent);
    let mut line_w = 0;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let w = style::width(word);
        let room = width.saturating_sub(indent).max(20);
        if line_w > 0 && line_w + 1 + w > room {
            out.push('\n');
            indent = rest;
            push_spaces(out, indent);
            line_w = 0;
        }
        if line_w > 0 {
            out.push(' ');
            line_w += 1;
        }
        out.push_str(word);
        line_w += w;
    }
    out.push('\n');
}

/// `n` spaces.
pub fn push_spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Most elements of an array value shown, one per line.
const EVIDENCE_ITEMS: usize = 8;

/// Evidence as aligned `key: value` lines; arrays of objects one element per line.
pub fn evidence_lines(
    ev: &serde_json::Map<String, Value>,
    indent: usize,
    width: Option<usize>,
) -> String {
    let key_w = ev.keys().map(|k| k.len() + 1).max().unwrap_or(0);
    let value_col = indent + key_w + 1;
    let mut s = String::new();
    for (k, v) in ev {
        let values: Vec<String> = match v {
            Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
                let mut lines: Vec<String> = items
                    .iter()
                    .take(EVIDENCE_ITEMS)
                    .map(inline_value)
                    .collect();
                if items.len() > EVIDENCE_ITEMS {
                    lines.push(format!("... {} more", items.len() - EVIDENCE_ITEMS));
                }
                if lines.is_empty() {
                    lines.push("(none)".into());
                }
                lines
            }
            Value::Array(items) if items.is_empty() => vec!["(none)".to_string()],
            v => vec![inline_value(v)],
        };
        // A word too long to follow the key column goes under the key instead.
        let longest = values
            .iter()
            .flat_map(|v| v.split(' '))
            .map(style::width)
            .max()
            .unwrap_or(0);
        if width.is_some_and(|w| value_col + longest.max(20) > w) {
            push_spaces(&mut s, indent);
            s.push_str(k);
            s.push_str(":\n");
            for value in values {
                push_wrapped(&mut s, &value, indent + 2, indent + 4, width);
            }
            continue;
        }
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                push_wrapped(&mut s, value, value_col, value_col + 2, width);
                continue;
            }
            // The first value's line starts with the key, padded to the key column,
            // where push_wrapped would have put its indent.
            push_spaces(&mut s, indent);
            s.push_str(k);
            s.push(':');
            push_spaces(&mut s, key_w.saturating_sub(k.chars().count() + 1) + 1);
            let at = s.len();
            push_wrapped(&mut s, value, value_col, value_col + 2, width);
            s.replace_range(at..at + value_col, "");
        }
    }
    s
}

/// A JSON value on one line: strings bare, arrays comma-separated, objects as
/// `key=value` pairs.
fn inline_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(inline_value).collect::<Vec<_>>().join(", "),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| match v {
                Value::Array(_) | Value::Object(_) => format!("{k}=[{}]", inline_value(v)),
                _ => format!("{k}={}", inline_value(v)),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
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
