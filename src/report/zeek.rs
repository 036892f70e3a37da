//! `--format zeek`: Zeek's conn.log in its TSV form (the header lines Zeek's ASCII
//! writer puts first, one line per connection in Zeek's field order and types, and
//! `#close`), so the flows load into the tools that read Zeek logs and join them
//! with Zeek's own by `uid`-free keys: the 5-tuple, `ts` and `community_id`.
//!
//! Fields as Zeek's `Conn::Info` documents them. What tcpdiag does not know is
//! unset (`-`), as Zeek leaves it unset: `service` (no protocol detection),
//! `local_orig`/`local_resp` (no `Site::local_nets`), `orig_ip_bytes`/`resp_ip_bytes`
//! (IP header bytes are not counted), `tunnel_parents`, and `missed_bytes` when the
//! history has a content gap (`g`: the amount is unknown; otherwise 0). `duration`,
//! `orig_bytes` and `resp_bytes` are set only when the duration is above zero, as in
//! Zeek's `set_conn`. `community_id` comes last, where Zeek's
//! `policy/protocols/conn/community-id-logging` puts it.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{ReportEnd, Sink};
use crate::analyze::Finding;
use crate::flow::Connection;

/// (name, Zeek type), in Zeek's order.
pub const FIELDS: &[(&str, &str)] = &[
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
    ("community_id", "string"),
];

const UNSET: &str = "-";

pub struct ZeekSink<W: Write> {
    out: W,
    started: bool,
    findings_only: bool,
    flush_lines: bool,
    line: String,
}

impl<W: Write> ZeekSink<W> {
    pub fn new(out: W, findings_only: bool) -> Self {
        ZeekSink {
            out,
            started: false,
            findings_only,
            flush_lines: false,
            line: String::new(),
        }
    }

    /// Flushes the output after every line (live and piped inputs).
    pub fn flushing_lines(mut self, yes: bool) -> Self {
        self.flush_lines = yes;
        self
    }

    fn header(&mut self) -> io::Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        let names: Vec<&str> = FIELDS.iter().map(|f| f.0).collect();
        let types: Vec<&str> = FIELDS.iter().map(|f| f.1).collect();
        write!(
            self.out,
            "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t{}\n#fields\t{}\n#types\t{}\n",
            super::clock::zeek_stamp(super::clock::now()),
            names.join("\t"),
            types.join("\t")
        )
    }
}

/// Zeek's uid: "C" and 17 base62 digits. Derived from the connection (its tuple, its
/// start and its id) so the same input gives the same uids.
pub fn uid(conn: &Connection) -> String {
    let mut h = sha1_smol::Sha1::new();
    h.update(super::community_id::tcp(&conn.client, &conn.server).as_bytes());
    h.update(&conn.start.0.to_be_bytes());
    h.update(&conn.id.to_be_bytes());
    let d = h.digest().bytes();
    let mut n = u128::from_be_bytes(d[..16].try_into().expect("16 bytes")) >> 32;
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut s = String::with_capacity(18);
    s.push('C');
    for _ in 0..17 {
        s.push(DIGITS[(n % 62) as usize] as char);
        n /= 62;
    }
    s
}

/// One conn.log line (without its newline).
pub fn line(out: &mut String, conn: &Connection) {
    let duration = conn.duration();
    let sizes = conn.zeek.sizes();
    let history = conn.zeek.history();
    let [c, s] = &conn.sides;
    let mut f: Vec<String> = Vec::with_capacity(FIELDS.len());
    f.push(format!("{:.6}", conn.start.secs_f64()));
    f.push(uid(conn));
    f.push(conn.client.ip.to_string());
    f.push(conn.client.port.to_string());
    f.push(conn.server.ip.to_string());
    f.push(conn.server.port.to_string());
    f.push("tcp".into());
    f.push(UNSET.into());
    if duration > 0.0 {
        f.push(format!("{duration:.6}"));
        f.push(sizes[0].to_string());
        f.push(sizes[1].to_string());
    } else {
        f.extend([UNSET.into(), UNSET.into(), UNSET.into()]);
    }
    f.push(conn.zeek.conn_state().into());
    f.push(UNSET.into());
    f.push(UNSET.into());
    f.push(if history.contains('g') {
        UNSET.into()
    } else {
        "0".into()
    });
    f.push(if history.is_empty() {
        UNSET.into()
    } else {
        history.into()
    });
    f.push(c.packets.to_string());
    f.push(UNSET.into());
    f.push(s.packets.to_string());
    f.push(UNSET.into());
    f.push(UNSET.into());
    f.push(super::community_id::tcp(&conn.client, &conn.server));
    debug_assert_eq!(f.len(), FIELDS.len());
    let _ = write!(out, "{}", f.join("\t"));
}

impl<W: Write> Sink for ZeekSink<W> {
    fn flow(&mut self, conn: &Connection, findings: &[Finding]) -> io::Result<()> {
        self.header()?;
        if self.findings_only && findings.is_empty() {
            return Ok(());
        }
        self.line.clear();
        line(&mut self.line, conn);
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())?;
        if self.flush_lines {
            self.out.flush()?;
        }
        Ok(())
    }

    fn finish(&mut self, _end: &ReportEnd<'_>) -> io::Result<()> {
        self.header()?;
        writeln!(
            self.out,
            "#close\t{}",
            super::clock::zeek_stamp(super::clock::now())
        )?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_zeeks() {
        let mut out = Vec::new();
        let mut sink = ZeekSink::new(&mut out, false);
        sink.header().unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#separator \\x09");
        assert_eq!(lines[1], "#set_separator\t,");
        assert_eq!(lines[2], "#empty_field\t(empty)");
        assert_eq!(lines[3], "#unset_field\t-");
        assert_eq!(lines[4], "#path\tconn");
        assert!(lines[5].starts_with("#open\t"));
        assert_eq!(
            lines[6],
            "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tcommunity_id"
        );
        assert_eq!(
            lines[7],
            "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tstring"
        );
    }
}
