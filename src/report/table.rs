//! The terminal report: a per-server summary first (which service is hurting), then
//! one line per flow fitted to the terminal's width (flows a flood finding stands for
//! collapsed into one line per server), each flow's findings under it and, with
//! --timeline, its events. Rows are kept (bounded) until the end so they can be
//! printed in start order.

use std::io::{self, Write};

use super::clock;
use super::grid::{Border, Cell, Column, Grid};
use super::servers::Servers;
use super::style::{Paint, Term};
use super::text::{finding_text, push_wrapped, timeline_text};
use super::{ReportEnd, Sink, TimeMode};
use crate::analyze::{Finding, Severity};
use crate::flow::Connection;
use crate::model::units::{human_bytes, human_secs};
use crate::model::Endpoint;

/// Rows kept for printing: flows without findings up to the first number, flows with
/// findings up to the second (a terminal table is for reading; JSON has everything).
pub const MAX_TABLE_ROWS: usize = 2000;
pub const MAX_TABLE_ROWS_WITH_FINDINGS: usize = 10_000;

/// With `with_finding_timelines`, the timelines of flows without findings are
/// printed too when there are at most this many such flows.
pub const QUIET_TIMELINES: u64 = 20;

/// What the table shows and how.
#[derive(Clone, Copy, Debug, Default)]
pub struct TableOptions {
    /// Only flows with findings.
    pub findings_only: bool,
    /// Every flow's timeline (--timeline).
    pub timeline: bool,
    /// How timelines show time (--time).
    pub time: TimeMode,
    pub term: Term,
}

/// One flow as the table remembers it.
struct Kept {
    id: u64,
    start: f64,
    client: Endpoint,
    server: Endpoint,
    state: &'static str,
    history: String,
    duration: f64,
    packets: [u64; 2],
    bytes: [u64; 2],
    closed: String,
    findings: Vec<Finding>,
    /// Every finding it had was folded into a capture-wide one.
    folded_away: bool,
    /// Its handshake completed.
    completed: bool,
    timeline: Option<String>,
}

pub struct TableSink<W: Write> {
    out: W,
    rows: Vec<Kept>,
    /// Heap bytes the kept rows hold (their strings and findings).
    rows_heap: usize,
    omitted: u64,
    opts: TableOptions,
    /// Timelines of the flows with findings even without `timeline` (and of the
    /// others too while there are few of them).
    finding_timelines: bool,
    /// Flows without findings seen so far in that mode.
    quiet_flows: u64,
    servers: Servers,
}

impl<W: Write> TableSink<W> {
    pub fn new(out: W, opts: TableOptions) -> Self {
        TableSink {
            out,
            rows: Vec::new(),
            rows_heap: 0,
            omitted: 0,
            opts,
            finding_timelines: false,
            quiet_flows: 0,
            servers: Servers::default(),
        }
    }

    /// Also print the timelines of flows with findings, and of the others while
    /// there are at most QUIET_TIMELINES of them (the live capture's default:
    /// packets and socket state side by side).
    pub fn with_finding_timelines(mut self) -> Self {
        self.finding_timelines = true;
        self
    }

    /// Takes findings that a capture-wide finding stands for off their flows' rows.
    /// A flow whose findings all went is folded away, and so is any unfinished
    /// handshake without findings to the same server (part of the same flood).
    fn drop_folded(&mut self, folded: &[(u64, &'static str)]) {
        let mut flooded: Vec<Endpoint> = Vec::new();
        for k in &mut self.rows {
            let id = k.id;
            let had = k.findings.len();
            k.findings
                .retain(|f| folded.binary_search(&(id, f.id)).is_err());
            k.folded_away = had > 0 && k.findings.is_empty();
            if k.folded_away && !flooded.contains(&k.server) {
                flooded.push(k.server);
            }
        }
        for k in &mut self.rows {
            if k.findings.is_empty() && !k.completed && flooded.contains(&k.server) {
                k.folded_away = true;
            }
        }
        if self.opts.findings_only {
            self.rows
                .retain(|k| !k.findings.is_empty() || k.folded_away);
            self.rows_heap = self.rows.iter().map(row_heap_bytes).sum();
        }
    }
}

fn finding_ids(findings: &[Finding]) -> String {
    let mut ids: Vec<&str> = findings.iter().map(|f| f.id).collect();
    ids.dedup();
    ids.join(" ")
}

/// The FINDINGS cell: ids, each in its severity's colour.
fn findings_cell(findings: &[Finding]) -> Cell {
    Cell {
        text: finding_ids(findings),
        paint: None,
        word_paint: findings
            .iter()
            .map(|f| (f.id.to_string(), Paint::of_severity(f.severity)))
            .collect(),
    }
}

/// The columns of the flows table, from the least to the most droppable.
fn flow_columns() -> Vec<Column> {
    vec![
        Column::new("ID"),
        Column::new("START").drop(6),
        Column::new("CLIENT").cut(15),
        Column::new("SERVER").cut(15),
        Column::new("STATE"),
        Column::new("HISTORY").cut(6).drop(4),
        Column::new("DURATION").drop(5),
        Column::new("PKTS c/s").drop(1),
        Column::new("BYTES c/s").drop(3),
        Column::new("CLOSED").drop(2),
        Column::new("FINDINGS").wrap(12),
    ]
}

/// A start time: the time of day, with the date when the flows span several days.
fn start_text(epoch: f64, with_date: bool) -> String {
    let c = clock::local(epoch);
    // `{:02}` of each field (all below 100), without core::fmt: one per row.
    let mut s = String::with_capacity(14);
    let mut two = |v: u32, sep: Option<char>| {
        s.push(char::from(b'0' + (v / 10 % 10) as u8));
        s.push(char::from(b'0' + (v % 10) as u8));
        if let Some(sep) = sep {
            s.push(sep);
        }
    };
    if with_date {
        two(c.month, Some('-'));
        two(c.day, Some(' '));
    }
    two(c.hour, Some(':'));
    two(c.minute, Some(':'));
    two(c.second, None);
    s
}

fn row_cells(k: &Kept, with_date: bool) -> Vec<Cell> {
    vec![
        Cell::from(number(k.id)),
        Cell::from(start_text(k.start, with_date)),
        Cell::from(endpoint_text(&k.client)),
        Cell::from(endpoint_text(&k.server)),
        Cell::painted(k.state, Paint::of_conn_state(k.state)),
        Cell::from(k.history.clone()),
        Cell::from(human_secs(k.duration)),
        Cell::from(pair(number(k.packets[0]), &number(k.packets[1]))),
        Cell::from(pair(human_bytes(k.bytes[0]), &human_bytes(k.bytes[1]))),
        Cell::from(k.closed.clone()),
        findings_cell(&k.findings),
    ]
}

// Cells are made for thousands of rows: numbers and addresses without core::fmt.

fn number(v: u64) -> String {
    itoa::Buffer::new().format(v).to_string()
}

/// `a/b`.
fn pair(mut a: String, b: &str) -> String {
    a.push('/');
    a.push_str(b);
    a
}

/// What `Endpoint`'s Display writes (`a.b.c.d:port`, IPv6 through Display).
fn endpoint_text(e: &Endpoint) -> String {
    match e.ip {
        std::net::IpAddr::V4(a) => {
            let mut s = String::with_capacity(21);
            let mut b = itoa::Buffer::new();
            for (i, o) in a.octets().iter().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                s.push_str(b.format(*o));
            }
            s.push(':');
            s.push_str(b.format(e.port));
            s
        }
        std::net::IpAddr::V6(_) => e.to_string(),
    }
}

/// One row for the flows to `server` whose findings a capture-wide finding (a
/// flood) stands for: how many, from how many clients, their commonest state.
fn collapsed_cells(group: &[&Kept], wide: &[&Finding], with_date: bool) -> Vec<Cell> {
    let first = group[0];
    let mut clients: Vec<std::net::IpAddr> = group.iter().map(|k| k.client.ip).collect();
    clients.sort_unstable();
    clients.dedup();
    let mut states: Vec<(&str, usize)> = Vec::new();
    for k in group {
        match states.iter_mut().find(|(s, _)| *s == k.state) {
            Some(e) => e.1 += 1,
            None => states.push((k.state, 1)),
        }
    }
    states.sort_by_key(|s| std::cmp::Reverse(s.1));
    let state = states[0].0;
    let last = group
        .iter()
        .map(|k| k.start + k.duration)
        .fold(f64::MIN, f64::max);
    let sum = |f: fn(&Kept) -> u64| group.iter().map(|k| f(k)).sum::<u64>();
    let names: Vec<&Finding> = wide
        .iter()
        .copied()
        .filter(|f| {
            f.evidence.get("server").and_then(|v| v.as_str()) == Some(&first.server.to_string())
        })
        .collect();
    let mut findings = Cell {
        text: String::new(),
        paint: None,
        word_paint: names
            .iter()
            .map(|f| (f.id.to_string(), Paint::of_severity(f.severity)))
            .collect(),
    };
    let mut ids: Vec<&str> = names.iter().map(|f| f.id).collect();
    ids.dedup();
    findings.text = if ids.is_empty() {
        "(capture-wide)".into()
    } else {
        ids.join(" ")
    };
    vec![
        Cell::from(format!("{}..", first.id)),
        Cell::from(start_text(first.start, with_date)),
        Cell::from(format!(
            "{} flows, {} client{}",
            group.len(),
            clients.len(),
            if clients.len() == 1 { "" } else { "s" }
        )),
        Cell::from(first.server.to_string()),
        Cell::painted(
            if states.len() > 1 {
                format!("{state}+")
            } else {
                state.to_string()
            },
            Paint::of_conn_state(state),
        ),
        Cell::from("-"),
        Cell::from(human_secs(last - first.start)),
        Cell::from(format!(
            "{}/{}",
            sum(|k| k.packets[0]),
            sum(|k| k.packets[1])
        )),
        Cell::from(format!(
            "{}/{}",
            human_bytes(sum(|k| k.bytes[0])),
            human_bytes(sum(|k| k.bytes[1]))
        )),
        Cell::from("-"),
        findings,
    ]
}

/// Heap bytes of a kept row (memory budget), fixed once it is kept.
fn row_heap_bytes(k: &Kept) -> usize {
    use crate::budget::{vec_bytes, BLOCK_OVERHEAD};
    [&k.history, &k.closed]
        .iter()
        .map(|s| s.capacity() + BLOCK_OVERHEAD)
        .sum::<usize>()
        + vec_bytes(&k.findings)
        + k.findings.iter().map(Finding::heap_bytes).sum::<usize>()
        + k.timeline
            .as_ref()
            .map_or(0, |t| t.capacity() + BLOCK_OVERHEAD)
}

impl<W: Write> Sink for TableSink<W> {
    fn footprint(&self) -> usize {
        self.servers.footprint() + crate::budget::vec_bytes(&self.rows) + self.rows_heap
    }

    fn flow(&mut self, conn: &Connection, findings: &[Finding]) -> io::Result<()> {
        self.servers.add(conn, findings);
        if self.opts.findings_only && findings.is_empty() {
            return Ok(());
        }
        let cap = if findings.is_empty() {
            MAX_TABLE_ROWS
        } else {
            MAX_TABLE_ROWS_WITH_FINDINGS
        };
        if self.rows.len() >= cap {
            self.omitted += 1;
            return Ok(());
        }
        let [c, s] = &conn.sides;
        let quiet_kept = self.finding_timelines && findings.is_empty() && {
            self.quiet_flows += 1;
            self.quiet_flows <= QUIET_TIMELINES
        };
        let with_timeline =
            self.opts.timeline || quiet_kept || (self.finding_timelines && !findings.is_empty());
        self.rows.push(Kept {
            id: conn.id,
            start: conn.start.secs_f64(),
            client: conn.client,
            server: conn.server,
            state: conn.zeek.conn_state(),
            history: conn.zeek.history().to_string(),
            duration: conn.duration(),
            packets: [c.packets, s.packets],
            bytes: [c.payload_bytes, s.payload_bytes],
            closed: conn
                .close()
                .map(|cl| format!("{} {:?}", cl.by.side(), cl.how).to_lowercase())
                .unwrap_or_else(|| "-".into()),
            findings: findings.to_vec(),
            folded_away: false,
            completed: conn.handshake.ack.is_some(),
            timeline: with_timeline.then(|| timeline_text(conn, self.opts.time)),
        });
        // Counted as it is kept: the budget asks every few hundred flows.
        self.rows_heap += self.rows.last().map_or(0, row_heap_bytes);
        Ok(())
    }

    fn finish(&mut self, end: &ReportEnd<'_>) -> io::Result<()> {
        let term = self.opts.term;
        self.rows.sort_by_key(|k| k.id);
        if !end.folded.is_empty() {
            self.drop_folded(end.folded);
        }
        self.servers.finish(end.folded, end.findings);
        let sum = end.summary;
        let capture_wide: Vec<&Finding> =
            end.findings.iter().filter(|f| f.flow.is_none()).collect();
        if sum.flows.flows >= 2 && !self.servers.is_empty() {
            writeln!(
                self.out,
                "{}",
                term.paint(
                    &format!(
                        "servers ({}), worst first; findings as errors/warnings/infos:",
                        self.servers.len()
                    ),
                    Paint::Bold
                )
            )?;
            write!(self.out, "{}", self.servers.render(&term))?;
            writeln!(self.out)?;
        }
        if !self.rows.is_empty() {
            let days = {
                let mut d: Vec<(i64, u32, u32)> = self
                    .rows
                    .iter()
                    .map(|k| {
                        let c = clock::local(k.start);
                        (c.year, c.month, c.day)
                    })
                    .collect();
                d.sort_unstable();
                d.dedup();
                d.len()
            };
            let with_date = days > 1;
            let mut grid = Grid::new(flow_columns(), Border::Sharp);
            grid.drops_with_borders = 3;
            // Flows folded away, grouped by server and shown where the first of them is.
            let mut groups: Vec<(Endpoint, Vec<&Kept>)> = Vec::new();
            for k in self.rows.iter().filter(|k| k.folded_away) {
                match groups.iter_mut().find(|(s, _)| *s == k.server) {
                    Some((_, g)) => g.push(k),
                    None => groups.push((k.server, vec![k])),
                }
            }
            for k in &self.rows {
                if k.folded_away {
                    if let Some((_, g)) = groups.iter().find(|(_, g)| g[0].id == k.id) {
                        grid.row(collapsed_cells(g, &capture_wide, with_date));
                    }
                } else {
                    grid.row(row_cells(k, with_date));
                }
            }
            write!(self.out, "{}", grid.render(&term))?;
        } else if !self.opts.findings_only {
            writeln!(self.out, "no TCP connections")?;
        }
        if self.omitted > 0 {
            writeln!(
                self.out,
                "({} more flows not shown; use --format json or ndjson for all)",
                self.omitted
            )?;
        }
        for k in &self.rows {
            if !k.findings.is_empty() {
                writeln!(
                    self.out,
                    "\n{}  {} -> {}",
                    term.paint(&format!("flow {}", k.id), Paint::Bold),
                    k.client,
                    k.server
                )?;
                for f in &k.findings {
                    write!(self.out, "{}", finding_text(f, &term))?;
                }
            }
        }
        if !capture_wide.is_empty() {
            writeln!(
                self.out,
                "\n{}",
                term.paint("capture-wide findings", Paint::Bold)
            )?;
            for f in &capture_wide {
                write!(self.out, "{}", finding_text(f, &term))?;
            }
        }
        if self.opts.timeline || self.finding_timelines {
            // Past QUIET_TIMELINES flows without findings, only flagged flows' timelines.
            let all = self.opts.timeline || self.quiet_flows <= QUIET_TIMELINES;
            for k in &self.rows {
                if let Some(t) = &k.timeline {
                    if all || !k.findings.is_empty() {
                        writeln!(self.out)?;
                        write!(self.out, "{t}")?;
                    }
                }
            }
            if !all {
                writeln!(
                    self.out,
                    "\n(timelines of the {} flows without findings not shown; use --timeline)",
                    self.quiet_flows
                )?;
            }
        }
        let p = &sum.packets;
        let counts = [
            (sum.findings.error, "error", Severity::Error),
            (sum.findings.warning, "warning", Severity::Warning),
            (sum.findings.info, "info", Severity::Info),
        ]
        .iter()
        .map(|&(n, name, sev)| {
            let text = format!("{n} {name}");
            if n > 0 {
                term.paint(&text, Paint::of_severity(sev))
            } else {
                text
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
        let mut tail = String::from("\n");
        let incomplete = if sum.complete {
            ""
        } else {
            "  [INPUT INCOMPLETE: see errors]"
        };
        push_wrapped(
            &mut tail,
            &format!(
                "{} frames, {} TCP segments, {} flow{} ({} evicted), findings: {counts}{incomplete}",
                p.frames,
                p.tcp_segments,
                sum.flows.flows,
                if sum.flows.flows == 1 { "" } else { "s" },
                sum.flows.evicted,
            ),
            0,
            2,
            term.width,
        );
        if let Some(first) = sum.first_packet {
            let times = format!(
                "times are local (UTC{}); first packet {}",
                clock::local_offset_text(first),
                clock::local_datetime_ms(first)
            );
            push_wrapped(&mut tail, &times, 0, 2, term.width);
        }
        if let Some(c) = &sum.capture {
            for line in super::text::capture_text(c).lines() {
                push_wrapped(&mut tail, line, 0, 2, term.width);
            }
        }
        self.out.write_all(tail.as_bytes())?;
        self.out.flush()
    }
}
