//! The flow object of the JSON contract written straight from a `Connection` into a
//! byte buffer: the same bytes as serializing `record::FlowRecord` with serde_json
//! (a test compares the two on every fixture), without building the record, its
//! strings and its event list first, and without serde_json's per-key escaping.
//! Replays of large captures spend most of their time here, once per finished flow.

use std::io::Write;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};

use super::json_time::TimeWriter;
use super::record::{event_label_to, run_label_to};
use crate::analyze::Finding;
use crate::flow::side::{AnalysisCounts, Side, SynOptions};
use crate::flow::{Connection, EventKind};
use crate::model::time::round_us;
use crate::model::{Dir, Endpoint, Ts};

/// `,"name":` as one literal (one copy per key).
macro_rules! key {
    ($name:literal) => {
        concat!(",\"", $name, "\":")
    };
}

/// `"name":` (the first key of an object).
macro_rules! first_key {
    ($name:literal) => {
        concat!("\"", $name, "\":")
    };
}

/// Appends one flow object to `out`. With `tag`, the object starts with
/// `"type":tag` (the NDJSON line form).
pub fn write_flow(
    out: &mut Vec<u8>,
    conn: &Connection,
    findings: &[Finding],
    with_timeline: bool,
    tag: Option<&str>,
) {
    let mut w = W(out, TimeWriter::default());
    let hs = &conn.handshake;
    let start = conn.start;
    let sizes = conn.zeek.sizes();
    let s2sa = hs.syn_to_synack_ns();
    let sa2a = hs.synack_to_ack_ns();
    w.raw("{");
    if let Some(tag) = tag {
        w.raw("\"type\":");
        w.str(tag);
        w.raw(",");
    }
    w.raw(first_key!("id"));
    w.u64(conn.id);
    w.raw(key!("client"));
    w.endpoint(&conn.client);
    w.raw(key!("server"));
    w.endpoint(&conn.server);
    w.raw(key!("community_id"));
    w.0.push(b'"');
    w.raw_bytes(&super::community_id::tcp_bytes(&conn.client, &conn.server));
    w.0.push(b'"');
    w.raw(key!("conn_state"));
    w.plain(conn.zeek.conn_state());
    w.raw(key!("history"));
    w.plain(conn.zeek.history());
    w.raw(key!("start"));
    w.secs(start.0);
    w.raw(key!("start_utc"));
    w.utc(start);
    w.raw(key!("end"));
    w.secs(conn.end.0);
    w.raw(key!("end_utc"));
    w.utc(conn.end);
    w.raw(key!("duration_s"));
    w.secs(conn.end.0 - start.0);
    w.raw(key!("first_frame"));
    w.u64(conn.first_frame);
    w.raw(key!("last_frame"));
    w.u64(conn.last_frame);
    w.raw(key!("roles"));
    w.plain(conn.roles.name());
    w.raw(key!("end_reason"));
    w.plain(conn.end_reason.name());

    w.raw(key!("handshake"));
    w.raw(concat!("{", first_key!("syn_count")));
    w.u64(hs.syn_count.into());
    w.raw(key!("syn_ack_count"));
    w.u64(hs.syn_ack_count.into());
    w.raw(key!("syn_frame"));
    w.opt_u64(hs.syns.first().map(|a| a.frame));
    w.raw(key!("syn_ack_frame"));
    w.opt_u64(hs.syn_acks.first().map(|a| a.frame));
    w.raw(key!("ack_frame"));
    w.opt_u64(hs.ack.map(|a| a.frame));
    w.raw(key!("syn_to_synack_s"));
    w.opt_secs(s2sa);
    w.raw(key!("synack_to_ack_s"));
    w.opt_secs(sa2a);
    w.raw(key!("rtt_s"));
    // The sum of the two in seconds, as the record has always computed it.
    w.opt_f64(
        s2sa.zip(sa2a)
            .map(|(a, b)| round_us(a as f64 / 1e9 + b as f64 / 1e9)),
    );
    w.raw(key!("completed"));
    w.bool(hs.ack.is_some());
    w.raw("}");

    w.raw(key!("client_stats"));
    w.side(&conn.sides[0], sizes[0], start);
    w.raw(key!("server_stats"));
    w.side(&conn.sides[1], sizes[1], start);

    w.raw(key!("closed_by"));
    match conn.close() {
        None => w.null(),
        Some(c) => {
            w.raw(concat!("{", first_key!("side")));
            w.plain(c.by.side());
            w.raw(key!("how"));
            w.plain(c.how.name());
            w.raw(key!("frame"));
            w.u64(c.frame);
            w.raw(key!("at_rel"));
            w.secs(c.ts.0 - start.0);
            w.raw("}");
        }
    }
    w.raw(key!("longest_idle"));
    match conn.longest_idle {
        None => w.null(),
        Some(g) => {
            w.raw(concat!("{", first_key!("seconds")));
            w.secs(g.after.ts.0 - g.before.ts.0);
            w.raw(key!("after_frame"));
            w.u64(g.before.frame);
            w.raw(key!("resumed_frame"));
            w.u64(g.after.frame);
            w.raw("}");
        }
    }
    w.raw(key!("previous_on_tuple"));
    match conn.previous {
        None => w.null(),
        Some(p) => {
            w.raw(concat!("{", first_key!("flow")));
            w.u64(p.id);
            w.raw(key!("closed_by"));
            match p.close {
                None => w.null(),
                Some(c) => w.plain(c.by.side()),
            }
            w.raw(key!("seconds_before"));
            w.secs(start.0 - p.ended.0);
            w.raw("}");
        }
    }
    // Live capture only (NAT, sockets in other namespaces): rare, through serde.
    if let Some(n) = super::record::NatRecord::of(conn) {
        w.raw(key!("nat"));
        w.serde(&n);
    }
    if let Some(n) = super::record::SocketNetnsRecord::of(conn) {
        w.raw(key!("socket_netns"));
        w.serde(&n);
    }
    // Tunnelled flows and `-i any` captures only: the serde record's own form.
    if !conn.encapsulation.is_empty() {
        w.raw(key!("encapsulation"));
        w.serde(&conn.encapsulation);
    }
    if let Some(paths) = conn.paths.as_deref() {
        w.raw(key!("paths"));
        w.serde(&super::record::path_records(paths));
        if paths.other_packets > 0 {
            w.raw(key!("paths_not_listed"));
            w.u64(paths.other_packets);
        }
    }
    w.raw(key!("timeline"));
    w.raw("[");
    if with_timeline {
        for (i, ev) in conn.timeline.events.iter().enumerate() {
            // The event's fixed part up to its label, in one slab (at most 205 bytes).
            slab(w.0, &mut w.1, 256, |s| {
                if i > 0 {
                    s.raw(",");
                }
                s.raw(concat!("{", first_key!("frame")));
                s.u64(ev.frame);
                s.raw(key!("at"));
                s.secs_utc(ev.ts, concat!(key!("at_utc"), "\""));
                s.raw(key!("at_rel"));
                s.secs(ev.ts.0 - start.0);
                s.raw(key!("dir"));
                s.plain(ev.dir.label());
                s.raw(key!("label"));
            });
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
                    event_label_to(w.0, flags, len, analysis);
                    // From the label's closing quote to the window (at most 120 bytes).
                    slab(w.0, &mut w.1, 160, |s| {
                        s.raw(concat!("\"", key!("flags"), "\""));
                        s.flags(flags);
                        s.raw(key!("seq"));
                        s.u64(seq_rel.into());
                        if flags.ack() {
                            s.raw(key!("ack"));
                            s.u64(ack_rel.into());
                        }
                        s.raw(key!("len"));
                        s.u64(len.into());
                        s.raw(key!("win"));
                        s.u64(window.into());
                    });
                    if !analysis.is_empty() {
                        w.raw(key!("analysis"));
                        w.raw("[");
                        for (j, l) in analysis.labels().enumerate() {
                            if j > 0 {
                                w.raw(",");
                            }
                            w.plain(l);
                        }
                        w.raw("]");
                    }
                    if let Some(ms) = idle_before_ms {
                        w.raw(key!("idle_before_s"));
                        w.f64(f64::from(ms) / 1000.0);
                    }
                }
                EventKind::Run(run) => {
                    w.raw("\"");
                    run_label_to(w.0, run);
                    // The run's numbers (at most 232 bytes).
                    slab(w.0, &mut w.1, 256, |s| {
                        s.raw(concat!("\"", key!("run"), "{", first_key!("last_frame")));
                        s.u64(run.last_frame);
                        s.raw(key!("end_rel"));
                        s.secs(run.end.0 - start.0);
                        s.raw(key!("client_packets"));
                        s.u64(run.packets[Dir::FromClient.idx()]);
                        s.raw(key!("client_bytes"));
                        s.u64(run.bytes[Dir::FromClient.idx()]);
                        s.raw(key!("server_packets"));
                        s.u64(run.packets[Dir::FromServer.idx()]);
                        s.raw(key!("server_bytes"));
                        s.u64(run.bytes[Dir::FromServer.idx()]);
                        s.raw("}");
                    });
                }
                EventKind::Socket { index } => {
                    // Rare (live capture only): the serde record's own field order.
                    match conn
                        .local
                        .as_deref()
                        .and_then(|l| l.snapshot(ev.dir, *index))
                    {
                        Some(snap) => {
                            w.str(&format!("socket {}", snap.describe()));
                            w.raw(key!("socket"));
                            w.serde(&super::record::SocketRecord::new(snap));
                        }
                        None => w.str("socket snapshot"),
                    }
                }
            }
            w.raw("}");
        }
    }
    w.raw("]");
    w.raw(key!("timeline_dropped"));
    w.u64(conn.timeline.dropped);
    w.raw(key!("findings"));
    super::finding_json::write_findings(w.0, findings, &mut w.1);
    w.raw("}");
}

/// A JSON writer over a byte buffer. Keys are the contract's fixed ASCII names and
/// are written as they are. Times go through `json_time` (and its UTC cache).
struct W<'a>(&'a mut Vec<u8>, TimeWriter);

impl W<'_> {
    #[inline(always)]
    fn raw(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }
    /// Bytes that need no escaping (ASCII from this program's own encoders).
    #[inline(always)]
    fn raw_bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    #[inline]
    fn null(&mut self) {
        self.raw("null");
    }
    #[inline]
    fn bool(&mut self, v: bool) {
        self.raw(if v { "true" } else { "false" });
    }
    /// Single digits (most counters in a flow) are pushed; longer numbers go through
    /// itoa.
    #[inline]
    fn u64(&mut self, v: u64) {
        if v < 10 {
            self.0.push(b'0' + v as u8);
        } else {
            let _ = CompactFormatter.write_u64(self.0, v);
        }
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
    /// Seconds of a nanosecond count, rounded to microseconds (as `round_us`).
    #[inline]
    fn secs(&mut self, ns: i64) {
        self.1.secs(self.0, ns);
    }
    fn opt_secs(&mut self, ns: Option<i64>) {
        match ns {
            Some(ns) => self.secs(ns),
            None => self.null(),
        }
    }
    /// An RFC 3339 UTC string of a time (ASCII; nothing to escape).
    #[inline]
    fn utc(&mut self, t: Ts) {
        self.0.push(b'"');
        self.1.utc(self.0, t.0);
        self.0.push(b'"');
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
    /// A string from this program's own tables (state names, labels, Zeek history
    /// letters): plain ASCII with nothing to escape, so no check per byte.
    #[inline]
    fn plain(&mut self, s: &str) {
        debug_assert!(
            s.bytes().all(|b| b.is_ascii_graphic() || b == b' ') && !s.contains(['"', '\\'])
        );
        self.0.push(b'"');
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(b'"');
    }
    /// A JSON string, escaped when it needs it.
    fn str(&mut self, s: &str) {
        super::finding_json::write_str(self.0, s);
    }
    /// Anything else through serde_json (rare parts: NAT, paths, socket records).
    fn serde<T: Serialize + ?Sized>(&mut self, v: &T) {
        // Serializing into a Vec cannot fail for these types.
        let _ = serde_json::to_writer(&mut *self.0, v);
    }
    fn endpoint(&mut self, e: &Endpoint) {
        match e.ip {
            IpAddr::V4(a) => {
                // Composed with its quotes and appended in one copy.
                let mut text = [0u8; 21];
                let n = crate::model::endpoint::v4_text(a, e.port, &mut text);
                let mut b = [0u8; 23];
                b[0] = b'"';
                b[1..n + 1].copy_from_slice(&text[..n]);
                b[n + 1] = b'"';
                self.0.extend_from_slice(&b[..n + 2]);
            }
            IpAddr::V6(_) => {
                self.0.push(b'"');
                let _ = write!(self.0, "{e}");
                self.0.push(b'"');
            }
        }
    }
    /// A side's object in one slab (`SIDE_MAX`; a test holds the largest side below it).
    fn side(&mut self, s: &Side, seq_bytes: u64, start: Ts) {
        slab(self.0, &mut self.1, SIDE_MAX, |w| {
            w.side(s, seq_bytes, start)
        });
    }
}

/// A stretch of output of bounded size composed in place: the buffer is grown by the
/// bound once (zero-filled), written through a slice with a cursor kept in a local, and
/// cut to what was written. One capacity check for the stretch instead of one per key
/// and number, and the keys' fixed-size copies stay inline (no memcpy call each).
/// Every method writes at most its stated bytes; callers size the stretch from them.
struct Slab<'a, 't> {
    b: &'a mut [u8],
    n: usize,
    times: &'t mut TimeWriter,
}

/// Composes with `f` into a slab of `max` bytes at the end of `out`.
#[inline(always)]
fn slab<R>(
    out: &mut Vec<u8>,
    times: &mut TimeWriter,
    max: usize,
    f: impl FnOnce(&mut Slab<'_, '_>) -> R,
) -> R {
    let at = out.len();
    out.resize(at + max, 0);
    let mut s = Slab {
        b: &mut out[at..],
        n: 0,
        times,
    };
    let r = f(&mut s);
    let n = s.n;
    out.truncate(at + n);
    r
}

/// Room for a side's object: its largest form is about 940 bytes, and the last
/// number may use 20 bytes of scratch (the slab is zero-filled, so smaller is cheaper).
const SIDE_MAX: usize = 1024;
/// Most bytes `Slab::secs` writes (the float path: serde_json's shortest form).
const SECS_MAX: usize = 32;
/// Most bytes `Slab::utc` writes with its quotes (a damaged year included).
const UTC_MAX: usize = 64;

impl Slab<'_, '_> {
    /// A fixed ASCII piece (at most its length).
    #[inline(always)]
    fn raw(&mut self, s: &str) {
        let n = self.n;
        self.b[n..n + s.len()].copy_from_slice(s.as_bytes());
        self.n = n + s.len();
    }
    #[inline]
    fn null(&mut self) {
        self.raw("null");
    }
    #[inline]
    fn bool(&mut self, v: bool) {
        if v {
            self.raw("true");
        } else {
            self.raw("false");
        }
    }
    /// Digits of `v` (at most 20 bytes, and 20 bytes of room used as scratch):
    /// composed from the back two at a time into a stack buffer ending at byte 20,
    /// then copied as a fixed 20-byte window starting at the first digit (no
    /// variable-length copy, no digit count first).
    #[inline(always)]
    fn u64(&mut self, v: u64) {
        let n = self.n;
        if v < 10 {
            self.b[n] = b'0' + v as u8;
            self.n = n + 1;
        } else {
            self.u64_long(v);
        }
    }
    /// `u64` of 10 and more: up to four digits (lengths, windows, most counters)
    /// straight from the pair table; longer numbers in a stack buffer.
    #[inline(never)]
    fn u64_long(&mut self, v: u64) {
        use super::json_time::PAIRS;
        let n = self.n;
        if v < 10_000 {
            let b = &mut self.b[n..n + 4];
            let v = v as usize;
            let len = if v < 100 {
                b[..2].copy_from_slice(&PAIRS[v]);
                2
            } else if v < 1000 {
                b[0] = b'0' + (v / 100) as u8;
                b[1..3].copy_from_slice(&PAIRS[v % 100]);
                3
            } else {
                b[..2].copy_from_slice(&PAIRS[v / 100]);
                b[2..4].copy_from_slice(&PAIRS[v % 100]);
                4
            };
            self.n = n + len;
            return;
        }
        let mut t = [0u8; 40];
        let mut i = 20;
        let mut v = v;
        while v >= 100 {
            i -= 2;
            t[i..i + 2].copy_from_slice(&super::json_time::PAIRS[(v % 100) as usize]);
            v /= 100;
        }
        if v >= 10 {
            i -= 2;
            t[i..i + 2].copy_from_slice(&super::json_time::PAIRS[v as usize]);
        } else {
            i -= 1;
            t[i] = b'0' + v as u8;
        }
        self.b[n..n + 20].copy_from_slice(&t[i..i + 20]);
        self.n = n + 20 - i;
    }
    #[inline]
    fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            Some(v) => self.u64(v),
            None => self.null(),
        }
    }
    /// Seconds of a nanosecond count, as `W::secs` (at most `SECS_MAX`).
    #[inline(always)]
    fn secs(&mut self, ns: i64) {
        let n = self.n;
        match self.times.secs_in(&mut self.b[n..], ns) {
            Some(len) => self.n = n + len,
            None => self.secs_float(ns),
        }
    }
    /// `secs` of a time that is not whole microseconds (or far out).
    #[cold]
    #[inline(never)]
    fn secs_float(&mut self, ns: i64) {
        let mut v = Vec::with_capacity(SECS_MAX);
        self.times.secs(&mut v, ns);
        self.raw_bytes(&v);
    }
    #[inline]
    fn opt_secs(&mut self, ns: Option<i64>) {
        match ns {
            Some(ns) => self.secs(ns),
            None => self.null(),
        }
    }
    /// `secs`, `mid` (which opens the string) and the rest of `utc` of one time
    /// (at most `SECS_MAX`, `mid` and `UTC_MAX`).
    #[inline]
    fn secs_utc(&mut self, t: Ts, mid: &str) {
        let n = self.n;
        match self.times.secs_utc_in(&mut self.b[n..], t.0, mid) {
            Some(len) => self.n = n + len,
            None => {
                self.secs(t.0);
                self.raw(&mid[..mid.len() - 1]);
                self.utc(t);
            }
        }
    }
    /// An RFC 3339 UTC string in quotes, as `W::utc` (at most `UTC_MAX`).
    #[inline]
    fn utc(&mut self, t: Ts) {
        let n = self.n;
        self.b[n] = b'"';
        match self.times.utc_in(&mut self.b[n + 1..], t.0) {
            Some(len) => {
                self.b[n + 1 + len] = b'"';
                self.n = n + len + 2;
            }
            None => {
                let mut v = Vec::with_capacity(UTC_MAX);
                v.push(b'"');
                self.times.utc(&mut v, t.0);
                v.push(b'"');
                self.raw_bytes(&v);
            }
        }
    }
    #[inline]
    fn raw_bytes(&mut self, s: &[u8]) {
        let n = self.n;
        self.b[n..n + s.len()].copy_from_slice(s);
        self.n = n + s.len();
    }
    fn side(&mut self, s: &Side, seq_bytes: u64, start: Ts) {
        self.raw(concat!("{", first_key!("packets")));
        self.u64(s.packets);
        self.raw(key!("payload_bytes"));
        self.u64(s.payload_bytes);
        self.raw(key!("seq_bytes"));
        self.u64(seq_bytes);
        self.raw(key!("isn"));
        self.opt_u64(s.isn.map(|i| u64::from(i.0)));
        self.raw(key!("syn_options"));
        match s.syn_options {
            None => self.null(),
            Some(o) => self.syn_options(&o),
        }
        self.raw(key!("window_scale_applied"));
        self.opt_u64(s.window_shift.map(u64::from));
        self.raw(key!("last_window"));
        self.opt_u64(s.last_window.map(u64::from));
        self.raw(key!("ttl"));
        match s.ttl_first {
            None => self.null(),
            Some(first) => {
                self.raw(concat!("{", first_key!("first")));
                self.u64(first.into());
                self.raw(key!("min"));
                self.u64(s.ttl_min.into());
                self.raw(key!("max"));
                self.u64(s.ttl_max.into());
                self.raw("}");
            }
        }
        self.raw(key!("last_ip_id"));
        self.opt_u64(s.last_ip_id.map(u64::from));
        self.raw(key!("mac"));
        match s.mac {
            None => self.null(),
            Some(m) => {
                // "aa:bb:cc:dd:ee:ff" composed with its quotes, appended in one copy.
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut t = [b':'; 19];
                t[0] = b'"';
                t[18] = b'"';
                for (i, b) in m.iter().enumerate() {
                    t[1 + 3 * i] = HEX[usize::from(b >> 4)];
                    t[2 + 3 * i] = HEX[usize::from(b & 15)];
                }
                self.raw_bytes(&t);
            }
        }
        self.raw(key!("mac_mismatches"));
        self.u64(s.mac_mismatches.into());
        self.raw(key!("packets_with_timestamps"));
        self.u64(s.packets_with_timestamps);
        self.raw(key!("first_payload_rel"));
        self.opt_secs(s.first_payload.map(|a| a.ts.0 - start.0));
        self.raw(key!("first_payload_frame"));
        self.opt_u64(s.first_payload.map(|a| a.frame));
        self.raw(key!("analysis"));
        self.counts(&s.counts);
        self.raw(key!("oversize_segments"));
        self.u64(s.oversize_segments.into());
        self.raw(key!("max_payload"));
        self.u64(s.max_payload.into());
        self.raw("}");
    }
    fn syn_options(&mut self, o: &SynOptions) {
        self.raw(concat!("{", first_key!("mss")));
        self.opt_u64(o.mss.map(u64::from));
        self.raw(key!("window_scale"));
        self.opt_u64(o.window_scale.map(u64::from));
        self.raw(key!("sack_permitted"));
        self.bool(o.sack_permitted);
        self.raw(key!("timestamps"));
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
        // A side with nothing to count but segments cut by the snaplen (most sides
        // of most captures): one copy and one number.
        let cut_only = AnalysisCounts { truncated: 0, ..*c };
        if cut_only == AnalysisCounts::default() {
            self.raw(concat!(
                "{",
                first_key!("retransmissions"),
                "0",
                key!("fast_retransmissions"),
                "0",
                key!("spurious_retransmissions"),
                "0",
                key!("out_of_order"),
                "0",
                key!("lost_segments"),
                "0",
                key!("acked_unseen"),
                "0",
                key!("dup_acks"),
                "0",
                key!("zero_windows"),
                "0",
                key!("window_updates"),
                "0",
                key!("window_full"),
                "0",
                key!("keep_alives"),
                "0",
                key!("zero_window_probes"),
                "0",
                key!("truncated"),
            ));
            self.u64(truncated.into());
            self.raw("}");
            return;
        }
        self.raw(concat!("{", first_key!("retransmissions")));
        self.u64(retransmissions.into());
        // Straight-line (a loop over (key, count) pairs costs about 40 instructions a key).
        self.raw(key!("fast_retransmissions"));
        self.u64(fast_retransmissions.into());
        self.raw(key!("spurious_retransmissions"));
        self.u64(spurious_retransmissions.into());
        self.raw(key!("out_of_order"));
        self.u64(out_of_order.into());
        self.raw(key!("lost_segments"));
        self.u64(lost_segments.into());
        self.raw(key!("acked_unseen"));
        self.u64(acked_unseen.into());
        self.raw(key!("dup_acks"));
        self.u64(dup_acks.into());
        self.raw(key!("zero_windows"));
        self.u64(zero_windows.into());
        self.raw(key!("window_updates"));
        self.u64(window_updates.into());
        self.raw(key!("window_full"));
        self.u64(window_full.into());
        self.raw(key!("keep_alives"));
        self.u64(keep_alives.into());
        self.raw(key!("zero_window_probes"));
        self.u64(zero_window_probes.into());
        self.raw(key!("truncated"));
        self.u64(truncated.into());
        self.raw("}");
    }
    /// `TcpFlags::tcpdump_to` in quotes, closing quote included (at most 9 bytes).
    #[inline]
    fn flags(&mut self, f: crate::decode::TcpFlags) {
        let start = self.n;
        for (bit, c) in crate::decode::TcpFlags::TCPDUMP_LETTERS {
            self.b[self.n] = c;
            self.n += usize::from(f.has(bit));
        }
        if self.n == start {
            self.raw("none");
        }
        self.raw("\"");
    }
    /// A string from this program's own tables, as `W::plain` (its length and 2).
    #[inline]
    fn plain(&mut self, s: &str) {
        debug_assert!(
            s.bytes().all(|b| b.is_ascii_graphic() || b == b' ') && !s.contains(['"', '\\'])
        );
        let n = self.n;
        self.b[n] = b'"';
        self.b[n + 1..n + 1 + s.len()].copy_from_slice(s.as_bytes());
        self.b[n + 1 + s.len()] = b'"';
        self.n = n + s.len() + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slab_numbers_as_itoa() {
        let mut times = TimeWriter::default();
        let mut vals = vec![0u64, 9, 10, 99, 100, 999, 1000, u64::MAX, u64::MAX / 10];
        for d in 0..20 {
            let p = 10u64.pow(d);
            vals.extend([p, p - 1, p + 1, p * 3 + 7]);
        }
        for v in vals {
            let mut out = b"x".to_vec();
            slab(&mut out, &mut times, 32, |s| s.u64(v));
            assert_eq!(out, format!("x{v}").into_bytes());
        }
    }

    #[test]
    fn largest_side_fits_its_slab() {
        use crate::flow::side::At;
        let mut s = Side::default();
        s.packets = u64::MAX;
        s.payload_bytes = u64::MAX;
        s.isn = Some(crate::model::SeqNum(u32::MAX));
        s.syn_options = Some(SynOptions {
            mss: Some(u16::MAX),
            window_scale: Some(u8::MAX),
            sack_permitted: false,
            timestamps: false,
        });
        s.window_shift = Some(u8::MAX);
        s.last_window = Some(u32::MAX);
        s.ttl_first = Some(u8::MAX);
        s.ttl_min = u8::MAX;
        s.ttl_max = u8::MAX;
        s.last_ip_id = Some(u16::MAX);
        s.mac = Some([0xff; 6]);
        s.mac_mismatches = u32::MAX;
        s.packets_with_timestamps = u64::MAX;
        s.first_payload = Some(At {
            frame: u64::MAX,
            ts: Ts(i64::MIN + 1),
        });
        s.oversize_segments = u32::MAX;
        s.max_payload = u32::MAX;
        s.counts = AnalysisCounts {
            retransmissions: u32::MAX,
            fast_retransmissions: u32::MAX,
            spurious_retransmissions: u32::MAX,
            out_of_order: u32::MAX,
            lost_segments: u32::MAX,
            acked_unseen: u32::MAX,
            dup_acks: u32::MAX,
            zero_windows: u32::MAX,
            window_updates: u32::MAX,
            window_full: u32::MAX,
            keep_alives: u32::MAX,
            zero_window_probes: u32::MAX,
            truncated: u32::MAX,
        };
        let mut times = TimeWriter::default();
        let mut out = Vec::new();
        slab(&mut out, &mut times, 4096, |w| {
            w.side(&s, u64::MAX, Ts(i64::MAX))
        });
        assert!(out.len() + 24 <= SIDE_MAX, "{}", out.len());
        // And through the slab of its real size.
        let mut again = Vec::new();
        W(&mut again, TimeWriter::default()).side(&s, u64::MAX, Ts(i64::MAX));
        assert_eq!(again, out);
    }

    #[test]
    fn slab_flags_as_tcpdump() {
        let mut times = TimeWriter::default();
        for f in 0..=255u8 {
            let mut out = Vec::new();
            slab(&mut out, &mut times, 16, |s| {
                s.flags(crate::decode::TcpFlags(f))
            });
            assert_eq!(
                out,
                format!("{}\"", crate::decode::TcpFlags(f).tcpdump()).into_bytes()
            );
        }
    }
}
