//! JSON document and NDJSON stream (contract in docs/json.md). Both write each flow
//! as it finishes, through a buffered writer, so a multi-GB capture streams.

use std::io::{self, Write};

use serde::Serialize;

use super::finding_json::write_finding;
use super::flow_json::write_flow;
use super::json_time::TimeWriter;
use super::{ReportEnd, Sink};
use crate::analyze::Finding;
use crate::flow::Connection;

pub const TOOL: &str = "tcpdiag";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `{"tool","version","source","flows":[...],"findings":[...],"dns":[...],"summary":{...}}`
pub struct JsonSink<W: Write> {
    out: W,
    flows_written: u64,
    findings_only: bool,
    with_timeline: bool,
    started: bool,
    sources: Vec<String>,
    /// One flow's bytes, reused for every flow.
    buf: Vec<u8>,
}

impl<W: Write> JsonSink<W> {
    pub fn new(out: W, sources: Vec<String>, findings_only: bool, with_timeline: bool) -> Self {
        JsonSink {
            out,
            flows_written: 0,
            findings_only,
            with_timeline,
            started: false,
            sources,
            buf: Vec::new(),
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            write!(
                self.out,
                "{{\"tool\":\"{TOOL}\",\"version\":\"{VERSION}\",\"source\":"
            )?;
            serde_json::to_writer(&mut self.out, &self.sources)?;
            write!(self.out, ",\"flows\":[")?;
        }
        Ok(())
    }
}

impl<W: Write> Sink for JsonSink<W> {
    fn flow(&mut self, conn: &Connection, findings: &[Finding]) -> io::Result<()> {
        self.start()?;
        if self.findings_only && findings.is_empty() {
            return Ok(());
        }
        self.buf.clear();
        self.buf.extend_from_slice(if self.flows_written > 0 {
            b",\n"
        } else {
            b"\n"
        });
        self.flows_written += 1;
        write_flow(&mut self.buf, conn, findings, self.with_timeline, None);
        self.out.write_all(&self.buf)
    }

    fn finish(&mut self, end: &ReportEnd<'_>) -> io::Result<()> {
        self.start()?;
        write!(self.out, "\n],\"findings\":[")?;
        // One finding at a time through the flow buffer (up to 20,000 of them).
        let mut times = TimeWriter::default();
        for (i, f) in end.findings.iter().enumerate() {
            self.buf.clear();
            if i > 0 {
                self.buf.push(b',');
            }
            write_finding(&mut self.buf, f, None, &mut times);
            self.out.write_all(&self.buf)?;
        }
        self.out.write_all(b"]")?;
        write!(self.out, ",\"dns\":")?;
        serde_json::to_writer(&mut self.out, &DnsOut(end.dns))?;
        write!(self.out, ",\"summary\":")?;
        serde_json::to_writer(&mut self.out, end.summary)?;
        writeln!(self.out, "}}")?;
        self.out.flush()
    }
}

/// DNS records, each with `at_utc` after its own keys.
struct DnsOut<'a>(&'a [crate::analyze::context::DnsRecord]);

impl Serialize for DnsOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(flatten)]
            record: &'a crate::analyze::context::DnsRecord,
            at_utc: super::Utc,
        }
        s.collect_seq(self.0.iter().map(|r| Out {
            record: r,
            at_utc: super::Utc(r.at.secs_f64()),
        }))
    }
}

/// One JSON object per line: `{"type":"flow",...}` as each flow finishes, then
/// `{"type":"finding",...}` for capture-wide findings, then `{"type":"summary",...}`.
pub struct NdjsonSink<W: Write> {
    out: W,
    findings_only: bool,
    with_timeline: bool,
    /// One line's bytes, reused for every flow.
    buf: Vec<u8>,
    /// Flush after every line (a live or piped input: each flow goes out as it
    /// finishes, not when a buffer fills).
    flush_lines: bool,
}

impl<W: Write> NdjsonSink<W> {
    pub fn new(out: W, findings_only: bool, with_timeline: bool) -> Self {
        NdjsonSink {
            out,
            findings_only,
            with_timeline,
            buf: Vec::new(),
            flush_lines: false,
        }
    }

    /// Flushes the output after every line.
    pub fn flushing_lines(mut self, yes: bool) -> Self {
        self.flush_lines = yes;
        self
    }

    /// A `{"type":"finding",...}` line.
    fn finding_line(&mut self, f: &Finding) -> io::Result<()> {
        self.buf.clear();
        write_finding(
            &mut self.buf,
            f,
            Some("finding"),
            &mut TimeWriter::default(),
        );
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }
}

/// An NDJSON record: `value`'s keys after a leading `"type": kind`.
#[derive(Serialize)]
pub struct Tagged<'a, T> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    #[serde(flatten)]
    pub value: &'a T,
}

/// One NDJSON line: `{"type": kind, ...value}` and a newline (every NDJSON writer's
/// line format, `capture`/`replay` and `sockets` alike).
pub fn write_tagged_line<W: Write, T: Serialize>(
    w: &mut W,
    kind: &str,
    value: &T,
) -> io::Result<()> {
    serde_json::to_writer(&mut *w, &Tagged { kind, value })?;
    w.write_all(b"\n")
}

/// The closing NDJSON line of every command: `{"type":"summary","tool","version",
/// ...value}`.
pub fn write_summary_line<W: Write, T: Serialize>(w: &mut W, value: &T) -> io::Result<()> {
    #[derive(Serialize)]
    struct Tail<'a, T> {
        tool: &'a str,
        version: &'a str,
        #[serde(flatten)]
        value: &'a T,
    }
    write_tagged_line(
        w,
        "summary",
        &Tail {
            tool: TOOL,
            version: VERSION,
            value,
        },
    )
}

impl<W: Write> Sink for NdjsonSink<W> {
    fn flow(&mut self, conn: &Connection, findings: &[Finding]) -> io::Result<()> {
        if self.findings_only {
            for f in findings {
                self.finding_line(f)?;
            }
        } else {
            self.buf.clear();
            write_flow(
                &mut self.buf,
                conn,
                findings,
                self.with_timeline,
                Some("flow"),
            );
            self.buf.push(b'\n');
            self.out.write_all(&self.buf)?;
        }
        if self.flush_lines {
            self.out.flush()?;
        }
        Ok(())
    }

    fn finish(&mut self, end: &ReportEnd<'_>) -> io::Result<()> {
        for f in end.findings.iter().filter(|f| f.flow.is_none()) {
            self.finding_line(f)?;
        }
        write_summary_line(&mut self.out, end.summary)?;
        self.out.flush()
    }
}
