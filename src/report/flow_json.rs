//! The flow object of the JSON contract written straight from a `Connection` into a
//! byte buffer: the same bytes as serializing `record::FlowRecord` with serde_json
//! (a test compares the two on every fixture), without building the record, its
//! strings and its event list first, and without serde_json's per-key escaping.
//! Replays of large captures spend most of their time here, once per finished flow.

use std::io::Write;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

use super::record::{run_label_to, segment_label_to};
use crate::analyze::Finding;
use crate::flow::side::{AnalysisCounts, Side, SynOptions};
use crate::flow::{Connection, EventKind};
use crate::model::time::round_us;
use crate::model::{Dir, Endpoint, Ts};

/// Appends one flow object to `out`. With `tag`, the object starts with
/// `"type":tag` (the NDJSON line form).
pub fn write_flow(
    out: &mut Vec<u8>,
    conn: &Connection,
    findings: &[Finding],
    with_timeline: bool,
    tag: Option<&str>,
) {
    let mut w = W(out);
    let hs = &conn.handshake;
    let start = conn.start;
    let sizes = conn.zeek.sizes();
    let s2sa = hs.syn_to_synack();
    let sa2a = hs.synack_to_ack();
    w.raw("{");
    if let Some(tag) = tag {
        w.raw("\"type\":");
        w.str(tag);
        w.raw(",");
    }
    w.key_first("id");
    w.u64(conn.id);
    w.key("client");
    w.endpoint(&conn.client);
    w.key("server");
    w.endpoint(&conn.server);
    w.key("conn_state");
    w.str(conn.zeek.conn_state());
    w.key("history");
    w.str(conn.zeek.history());
    w.key("start");
    w.f64(round_us(start.secs_f64()));
    w.key("end");
    w.f64(round_us(conn.end.secs_f64()));
    w.key("duration_s");
    w.f64(round_us(conn.duration()));
    w.key("first_frame");
    w.u64(conn.first_frame);
    w.key("last_frame");
    w.u64(conn.last_frame);
    w.key("roles");
    w.serde(&conn.roles);
    w.key("end_reason");
    w.serde(&conn.end_reason);

    w.key("handshake");
    w.key_first_open("syn_count");
    w.u64(hs.syn_count.into());
    w.key("syn_ack_count");
    w.u64(hs.syn_ack_count.into());
    w.key("syn_frame");
    w.opt_u64(hs.syns.first().map(|a| a.frame));
    w.key("syn_ack_frame");
    w.opt_u64(hs.syn_acks.first().map(|a| a.frame));
    w.key("ack_frame");
    w.opt_u64(hs.ack.map(|a| a.frame));
    w.key("syn_to_synack_s");
    w.opt_f64(s2sa.map(round_us));
    w.key("synack_to_ack_s");
    w.opt_f64(sa2a.map(round_us));
    w.key("rtt_s");
    w.opt_f64(s2sa.zip(sa2a).map(|(a, b)| round_us(a + b)));
    w.key("completed");
    w.bool(hs.ack.is_some());
    w.raw("}");

    w.key("client_stats");
    w.side(&conn.sides[0], sizes[0], start);
    w.key("server_stats");
    w.side(&conn.sides[1], sizes[1], start);

    w.key("closed_by");
    match conn.close {
        None => w.null(),
        Some(c) => {
            w.key_first_open("side");
            w.str(c.by.side());
            w.key("how");
            w.serde(&c.how);
            w.key("frame");
            w.u64(c.frame);
            w.key("at_rel");
            w.f64(rel(c.ts, start));
            w.raw("}");
        }
    }
    w.key("longest_idle");
    match conn.longest_idle {
        None => w.null(),
        Some(g) => {
            w.key_first_open("seconds");
            w.f64(round_us(g.after.ts.since(g.before.ts)));
            w.key("after_frame");
            w.u64(g.before.frame);
            w.key("resumed_frame");
            w.u64(g.after.frame);
            w.raw("}");
        }
    }
    w.key("previous_on_tuple");
    match conn.previous {
        None => w.null(),
        Some(p) => {
            w.key_first_open("flow");
            w.u64(p.id);
            w.key("closed_by");
            match p.close {
                None => w.null(),
                Some(c) => w.str(c.by.side()),
            }
            w.key("seconds_before");
            w.f64(round_us(start.since(p.ended)));
            w.raw("}");
        }
    }
    w.key("timeline");
    w.raw("[");
    if with_timeline {
        for (i, ev) in conn.timeline.events.iter().enumerate() {
            if i > 0 {
                w.raw(",");
            }
            w.key_first_open("frame");
            w.u64(ev.frame);
            w.key("at");
            w.f64(round_us(ev.ts.secs_f64()));
            w.key("at_rel");
            w.f64(rel(ev.ts, start));
            w.key("dir");
            w.str(ev.dir.label());
            w.key("label");
            match &ev.kind {
                &EventKind::Segment {
                    flags,
                    seq_rel,
                    ack_rel,
                    len,
                    window,
                    analysis,
                    idle_before_ms,
                } => {
                    // Labels and flag letters are plain ASCII: no escaping needed.
                    w.raw("\"");
                    segment_label_to(w.0, flags, len);
                    if !analysis.is_empty() {
                        w.raw(" [");
                        for (j, l) in analysis.labels().enumerate() {
                            if j > 0 {
                                w.raw(", ");
                            }
                            w.raw(l);
                        }
                        w.raw("]");
                    }
                    w.raw("\"");
                    w.key("flags");
                    w.raw("\"");
                    flags.tcpdump_to(w.0);
                    w.raw("\"");
                    w.key("seq");
                    w.u64(seq_rel.into());
                    if flags.ack() {
                        w.key("ack");
                        w.u64(ack_rel.into());
                    }
                    w.key("len");
                    w.u64(len.into());
                    w.key("win");
                    w.u64(window.into());
                    if !analysis.is_empty() {
                        w.key("analysis");
                        w.raw("[");
                        for (j, l) in analysis.labels().enumerate() {
                            if j > 0 {
                                w.raw(",");
                            }
                            w.str(l);
                        }
                        w.raw("]");
                    }
                    if let Some(ms) = idle_before_ms {
                        w.key("idle_before_s");
                        w.f64(f64::from(ms) / 1000.0);
                    }
                }
                EventKind::Run(run) => {
                    w.raw("\"");
                    run_label_to(w.0, run);
                    w.raw("\"");
                    w.key("run");
                    w.key_first_open("last_frame");
                    w.u64(run.last_frame);
                    w.key("end_rel");
                    w.f64(rel(run.end, start));
                    w.key("client_packets");
                    w.u64(run.packets[Dir::FromClient.idx()]);
                    w.key("client_bytes");
                    w.u64(run.bytes[Dir::FromClient.idx()]);
                    w.key("server_packets");
                    w.u64(run.packets[Dir::FromServer.idx()]);
                    w.key("server_bytes");
                    w.u64(run.bytes[Dir::FromServer.idx()]);
                    w.raw("}");
                }
            }
            w.raw("}");
        }
    }
    w.raw("]");
    w.key("timeline_dropped");
    w.u64(conn.timeline.dropped);
    w.key("findings");
    w.serde(&findings);
    w.raw("}");
}

fn rel(t: Ts, start: Ts) -> f64 {
    round_us(t.since(start))
}

/// A JSON writer over a byte buffer. Keys are the contract's fixed ASCII names and
/// are written as they are.
struct W<'a>(&'a mut Vec<u8>);

impl W<'_> {
    #[inline]
    fn raw(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }
    /// `,"name":`
    #[inline]
    fn key(&mut self, name: &str) {
        self.0.extend_from_slice(b",\"");
        self.0.extend_from_slice(name.as_bytes());
        self.0.extend_from_slice(b"\":");
    }
    /// `"name":` (first key of an object already opened)
    #[inline]
    fn key_first(&mut self, name: &str) {
        self.0.push(b'"');
        self.0.extend_from_slice(name.as_bytes());
        self.0.extend_from_slice(b"\":");
    }
    /// `{"name":`
    #[inline]
    fn key_first_open(&mut self, name: &str) {
        self.0.push(b'{');
        self.key_first(name);
    }
    #[inline]
    fn null(&mut self) {
        self.raw("null");
    }
    #[inline]
    fn bool(&mut self, v: bool) {
        self.raw(if v { "true" } else { "false" });
    }
    #[inline]
    fn u64(&mut self, v: u64) {
        let _ = CompactFormatter.write_u64(self.0, v);
    }
    /// As serde_json: non-finite numbers are `null`.
    #[inline]
    fn f64(&mut self, v: f64) {
        if v.is_finite() {
            let _ = CompactFormatter.write_f64(self.0, v);
        } else {
            self.null();
        }
    }
    fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            Some(v) => self.u64(v),
            None => self.null(),
        }
    }
    fn opt_f64(&mut self, v: Option<f64>) {
        match v {
            Some(v) => self.f64(v),
            None => self.null(),
        }
    }
    /// A JSON string, escaped when it needs it.
    fn str(&mut self, s: &str) {
        if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            self.0.push(b'"');
            self.0.extend_from_slice(s.as_bytes());
            self.0.push(b'"');
        } else {
            self.serde(&s);
        }
    }
    /// Anything else through serde_json (findings, enums' names).
    fn serde<T: Serialize + ?Sized>(&mut self, v: &T) {
        // Serializing into a Vec cannot fail for these types.
        let _ = serde_json::to_writer(&mut *self.0, v);
    }
    fn endpoint(&mut self, e: &Endpoint) {
        self.0.push(b'"');
        match e.ip {
            IpAddr::V4(a) => {
                for (i, o) in a.octets().iter().enumerate() {
                    if i > 0 {
                        self.0.push(b'.');
                    }
                    self.u64(u64::from(*o));
                }
                self.0.push(b':');
                self.u64(u64::from(e.port));
            }
            IpAddr::V6(_) => {
                let _ = write!(self.0, "{e}");
            }
        }
        self.0.push(b'"');
    }
    fn side(&mut self, s: &Side, seq_bytes: u64, start: Ts) {
        self.key_first_open("packets");
        self.u64(s.packets);
        self.key("payload_bytes");
        self.u64(s.payload_bytes);
        self.key("seq_bytes");
        self.u64(seq_bytes);
        self.key("isn");
        self.opt_u64(s.isn.map(|i| u64::from(i.0)));
        self.key("syn_options");
        match s.syn_options {
            None => self.null(),
            Some(o) => self.syn_options(&o),
        }
        self.key("window_scale_applied");
        self.opt_u64(s.window_shift.map(u64::from));
        self.key("last_window");
        self.opt_u64(s.last_window.map(u64::from));
        self.key("ttl");
        match s.ttl_first {
            None => self.null(),
            Some(first) => {
                self.key_first_open("first");
                self.u64(first.into());
                self.key("min");
                self.u64(s.ttl_min.into());
                self.key("max");
                self.u64(s.ttl_max.into());
                self.raw("}");
            }
        }
        self.key("last_ip_id");
        self.opt_u64(s.last_ip_id.map(u64::from));
        self.key("mac");
        match s.mac {
            None => self.null(),
            Some(m) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                self.0.push(b'"');
                for (i, b) in m.iter().enumerate() {
                    if i > 0 {
                        self.0.push(b':');
                    }
                    self.0.push(HEX[usize::from(b >> 4)]);
                    self.0.push(HEX[usize::from(b & 15)]);
                }
                self.0.push(b'"');
            }
        }
        self.key("mac_mismatches");
        self.u64(s.mac_mismatches.into());
        self.key("packets_with_timestamps");
        self.u64(s.packets_with_timestamps);
        self.key("first_payload_rel");
        self.opt_f64(s.first_payload.map(|a| rel(a.ts, start)));
        self.key("first_payload_frame");
        self.opt_u64(s.first_payload.map(|a| a.frame));
        self.key("analysis");
        self.counts(&s.counts);
        self.key("oversize_segments");
        self.u64(s.oversize_segments.into());
        self.key("max_payload");
        self.u64(s.max_payload.into());
        self.raw("}");
    }
    fn syn_options(&mut self, o: &SynOptions) {
        self.key_first_open("mss");
        self.opt_u64(o.mss.map(u64::from));
        self.key("window_scale");
        self.opt_u64(o.window_scale.map(u64::from));
        self.key("sack_permitted");
        self.bool(o.sack_permitted);
        self.key("timestamps");
        self.bool(o.timestamps);
        self.raw("}");
    }
    fn counts(&mut self, c: &AnalysisCounts) {
        let AnalysisCounts {
            retransmissions,
            fast_retransmissions,
            spurious_retransmissions,
            out_of_order,
            lost_segments,
            acked_unseen,
            dup_acks,
            zero_windows,
            window_updates,
            window_full,
            keep_alives,
            zero_window_probes,
            truncated,
        } = *c;
        self.key_first_open("retransmissions");
        self.u64(retransmissions.into());
        for (name, v) in [
            ("fast_retransmissions", fast_retransmissions),
            ("spurious_retransmissions", spurious_retransmissions),
            ("out_of_order", out_of_order),
            ("lost_segments", lost_segments),
            ("acked_unseen", acked_unseen),
            ("dup_acks", dup_acks),
            ("zero_windows", zero_windows),
            ("window_updates", window_updates),
            ("window_full", window_full),
            ("keep_alives", keep_alives),
            ("zero_window_probes", zero_window_probes),
            ("truncated", truncated),
        ] {
            self.key(name);
            self.u64(v.into());
        }
        self.raw("}");
    }
}
