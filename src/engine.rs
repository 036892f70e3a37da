//! The pipeline for a capture: frames -> decode -> flow table -> analyzers -> sink.
//! The engine does not know whether frames come from a file or a live interface.
//!
//! Two halves: the front (decode, frame counts, flow table) turns frames into
//! messages (a finished connection, a DNS record), the back (`Downstream`: tallies,
//! DNS context, analyzers, sink) consumes them in order. `Engine` runs both on the
//! caller's thread; `run_pipelined` runs the back on a second thread, fed in batches.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::analyze::context::{CaptureContext, DnsRecord};
use crate::analyze::{Analyzers, Finding};
use crate::budget::{MemoryBudget, Part};
use crate::decode::dedupe::{Dedupe, Fingerprint, Headers, Retired, Seen};
use crate::decode::{self, dns, Decoded, Encap, LinkType, Plain, Transport};
use crate::flow::{Connection, FlowTable, Segment, TableConfig};
use crate::model::{Dir, FlowKey, Ts, TunnelId, TunnelKey};
use crate::report::Sink;
use crate::source::RawFrame;

/// Counts of what the decoder saw.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DecodeStats {
    pub frames: u64,
    pub tcp_segments: u64,
    pub udp_datagrams: u64,
    pub dns_messages: u64,
    pub other_ip: u64,
    pub ip_fragments: u64,
    pub non_ip: u64,
    pub malformed: u64,
    /// First malformed frame and why.
    pub first_malformed: Option<(u64, &'static str)>,
    /// TCP segments whose payload was cut by the snaplen.
    pub truncated_segments: u64,
    /// Copies of a packet already seen on another interface (cooked v2, `-i any`):
    /// counted here, not analysed again.
    pub interface_duplicates: u64,
}

pub struct Engine<'s> {
    front: Front,
    downstream: Downstream<'s>,
}

/// What the front hands the back, in capture order.
enum Msg {
    Flow(Box<Connection>),
    Dns(Box<DnsRecord>),
    /// The input ended at this time: sent before the flows still open are finished,
    /// so analyzers know how long their silences lasted.
    CaptureEnd(Ts),
}

/// Decode and flow tracking: frames in, messages out.
struct Front {
    table: FlowTable,
    stats: DecodeStats,
    first_ts: Option<Ts>,
    last_ts: Option<Ts>,
    /// Recent packets of frames that name their interface (`-i any`), to count a
    /// packet seen on several interfaces once and record its path.
    dedupe: Dedupe,
    ifnames: IfNames,
    tunnels: TunnelIds,
}

/// Frames between two reports of the decoder's memory.
const DECODE_PUBLISH_EVERY: u64 = 1 << 16;

impl Front {
    /// Tells the budget what the decoder holds: recent packets, tunnel identities.
    fn publish_decode(&self) {
        let tunnels = crate::budget::table_bytes(
            self.tunnels.ids.capacity(),
            std::mem::size_of::<(TunnelKey, TunnelId)>(),
        );
        self.table
            .budget_ref()
            .set(Part::Decode, self.dedupe.footprint() + tunnels);
    }
}

/// The flow key's number for each tunnel identity seen. Exact (a table, not a hash),
/// consulted only for tunnelled packets, bounded: beyond `MAX_TUNNELS` identities it
/// starts again (numbers are not reused, so a flow whose tunnel was forgotten
/// continues as a new flow rather than joining another tunnel's).
#[derive(Default)]
struct TunnelIds {
    ids: FxHashMap<TunnelKey, TunnelId>,
    last: u32,
}

/// Tunnel identities remembered at once (about 64 MiB at most).
const MAX_TUNNELS: usize = 1 << 20;

impl TunnelIds {
    #[inline(never)]
    fn id(&mut self, key: &TunnelKey) -> TunnelId {
        if let Some(id) = self.ids.get(key) {
            return *id;
        }
        if self.ids.len() >= MAX_TUNNELS {
            self.ids.clear();
        }
        self.last = self.last.checked_add(1).unwrap_or(1);
        let id = TunnelId(self.last);
        self.ids.insert(*key, id);
        id
    }
}

/// Gives an interface's name from its index (live capture: `if_indextoname` in the
/// capture's namespace).
pub type IfNameResolver = Box<dyn FnMut(u32) -> Option<String> + Send>;

/// Interface names by index, asked once per interface (when first seen, before a
/// short-lived container's veth can disappear) and kept.
#[derive(Default)]
struct IfNames {
    resolve: Option<IfNameResolver>,
    names: FxHashMap<u32, Arc<str>>,
}

/// Interfaces whose names are kept (more are asked again when needed).
const MAX_IFNAMES: usize = 4096;

impl IfNames {
    fn note(&mut self, ifindex: u32) {
        if self.names.len() < MAX_IFNAMES && !self.names.contains_key(&ifindex) {
            let name = self.lookup(ifindex);
            self.names.insert(ifindex, name);
        }
    }

    fn name(&mut self, ifindex: u32) -> Arc<str> {
        match self.names.get(&ifindex) {
            Some(n) => n.clone(),
            None => self.lookup(ifindex),
        }
    }

    fn lookup(&mut self, ifindex: u32) -> Arc<str> {
        self.resolve
            .as_mut()
            .and_then(|r| r(ifindex))
            .unwrap_or_else(|| format!("ifindex {ifindex}"))
            .into()
    }
}

/// A packet's path, once no more copies of it can come, goes to its flow (unless the
/// flow has finished, or the 4-tuple now belongs to a later connection).
fn record_path(table: &mut FlowTable, names: &mut IfNames, r: Retired) {
    let Some(conn) = table.get_mut(&r.key) else {
        return;
    };
    if r.frame < conn.first_frame {
        return;
    }
    let sender = if r.from_lo { r.key.lo } else { r.key.hi };
    let dir = if sender == conn.client {
        Dir::FromClient
    } else {
        Dir::FromServer
    };
    conn.paths
        .get_or_insert_with(Default::default)
        .record(dir, &r.hops, r.frame, &mut |i| names.name(i));
}

/// Everything a finished connection goes through: tallies, analyzers, the sink.
/// Kept apart from the flow table so the table can hand flows to it while borrowed.
struct Downstream<'s> {
    conn_states: BTreeMap<&'static str, u64>,
    ctx: CaptureContext,
    analyzers: Analyzers,
    sink: &'s mut dyn Sink,
    /// A sink write failed (e.g. the reader of a pipe went away): stop writing.
    sink_error: Option<std::io::Error>,
    /// Findings so far, readable from another thread (progress display).
    findings: &'s AtomicU64,
    /// The process's memory budget: this half reports what it holds.
    budget: Arc<MemoryBudget>,
    delivered: u64,
}

/// Flows delivered between two reports of the analyzer half's memory.
const PUBLISH_EVERY: u64 = 256;

impl Downstream<'_> {
    /// By reference: the pipelined front gets its messages back and frees them itself
    /// (memory is best freed by the thread that allocated it).
    fn handle(&mut self, msg: &Msg) {
        match msg {
            Msg::Flow(conn) => self.deliver(conn),
            Msg::Dns(rec) => self.ctx.add_dns((**rec).clone()),
            Msg::CaptureEnd(at) => self.note_capture_end(*at),
        }
    }

    /// Tells the budget what the analyzers, the context and the sink hold.
    fn publish(&self) {
        self.budget.set(Part::Trackers, self.analyzers.footprint());
        self.budget.set(Part::Context, self.ctx.footprint());
        self.budget.set(Part::Output, self.sink.footprint());
    }

    fn note_capture_end(&mut self, at: Ts) {
        self.ctx.capture_end = self.ctx.capture_end.max(Some(at));
    }

    fn deliver(&mut self, conn: &Connection) {
        self.delivered += 1;
        if self.delivered % PUBLISH_EVERY == 0 {
            self.publish();
        }
        *self.conn_states.entry(conn.zeek.conn_state()).or_default() += 1;
        let findings = self.analyzers.on_flow(conn, &self.ctx);
        if !findings.is_empty() {
            self.findings
                .fetch_add(findings.len() as u64, Ordering::Relaxed);
        }
        if self.sink_error.is_none() {
            if let Err(e) = self.sink.flow(conn, &findings) {
                self.sink_error = Some(e);
            }
        }
    }
}

/// Findings counter of an `Engine` that nobody else reads.
static UNSHARED_FINDINGS: AtomicU64 = AtomicU64::new(0);

impl<'s> Engine<'s> {
    pub fn new(table: TableConfig, mut analyzers: Analyzers, sink: &'s mut dyn Sink) -> Engine<'s> {
        let front = Front::new(table);
        let budget = front.table.budget();
        analyzers.set_budget(Arc::clone(&budget));
        Engine {
            front,
            downstream: Downstream {
                conn_states: BTreeMap::new(),
                ctx: CaptureContext::sized(budget.limit()),
                analyzers,
                sink,
                sink_error: None,
                findings: &UNSHARED_FINDINGS,
                budget,
                delivered: 0,
            },
        }
    }

    /// What the decoder has counted so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.front.stats
    }

    /// How to name the interfaces of frames that carry an interface index (a live
    /// capture on `any`); without it they are named `ifindex N`.
    pub fn set_interface_names(&mut self, resolve: IfNameResolver) {
        self.front.ifnames.resolve = Some(resolve);
    }

    pub fn on_frame(&mut self, frame: RawFrame<'_>) {
        let downstream = &mut self.downstream;
        self.front.on_frame(frame, &mut |m| downstream.handle(&m));
    }

    /// Flows started and findings made so far (for progress displays).
    pub fn progress_counts(&self) -> (u64, u64) {
        let findings = self
            .downstream
            .analyzers
            .severity_counts()
            .iter()
            .map(|(_, n)| n)
            .sum();
        (self.front.table.stats.flows, findings)
    }

    /// Advances time without a frame (live capture on a quiet link), so that closed
    /// and idle flows finish and stream out.
    pub fn tick(&mut self, now: Ts) {
        let downstream = &mut self.downstream;
        self.front.expire_copies(now);
        self.front
            .table
            .advance(now, &mut |conn| downstream.deliver(&conn));
    }

    /// Joins a socket snapshot (live capture) to its flow; false when no live flow
    /// has its 4-tuple.
    pub fn on_socket(&mut self, snap: crate::flow::socket::SockSnap) -> bool {
        self.front.table.on_socket(snap)
    }

    /// `on_socket` for a snapshot from another network namespace, possibly under a
    /// translated 4-tuple (live capture).
    pub fn on_socket_in(
        &mut self,
        snap: crate::flow::socket::SockSnap,
        netns: Option<&std::sync::Arc<crate::model::netns::NetnsLabel>>,
    ) -> bool {
        self.front.table.on_socket_in(snap, netns)
    }

    /// A translated connection's two 4-tuples (live capture, conntrack): joined in
    /// the live flow that has one of them.
    pub fn on_nat(&mut self, pair: &crate::flow::nat::NatPair) -> crate::flow::table::NatJoin {
        self.front.table.on_nat(pair)
    }

    /// Flows started so far, those folded into their NAT twin included: it only
    /// grows (live capture: whether conntrack is worth reading again).
    pub fn flows_started(&self) -> u64 {
        let t = &self.front.table.stats;
        t.flows + t.nat_merged
    }

    /// A listener of this host at one poll (live capture).
    pub fn on_listener(
        &mut self,
        listener: crate::model::Endpoint,
        poll: crate::analyze::listeners::QueuePoll,
    ) {
        self.downstream.ctx.listeners.record(listener, poll);
    }

    /// This host's ListenOverflows / ListenDrops at one poll (live capture).
    pub fn on_listen_counters(&mut self, c: crate::analyze::listeners::ListenCounters) {
        self.downstream.ctx.listeners.record_counters(c);
    }

    /// A socket poll finished at `at` (its snapshots were joined): analyzers may
    /// rely on a socket in it having existed then.
    pub fn socket_poll_done(&mut self, at: Ts) {
        self.downstream.analyzers.cfg.last_socket_poll = Some(at);
    }

    /// Whether a flow on this 4-tuple finished within the last TIME_WAIT period.
    pub fn recently_finished(&self, key: &crate::model::FlowKey) -> bool {
        self.front.table.recently_finished(key)
    }

    /// A sink write failed (e.g. the reader of a pipe went away): nothing more can be
    /// reported, so a live capture may as well stop.
    pub fn output_failed(&self) -> bool {
        self.downstream.sink_error.is_some()
    }

    /// Live flows, flows so far, findings so far: for a status line.
    pub fn progress(&self) -> (usize, u64, u64) {
        let (flows, findings) = self.progress_counts();
        (self.front.table.live(), flows, findings)
    }

    /// Live capture: packets dropped so far (kernel buffer and interface), which
    /// weakens any claim about what this host did not send.
    pub fn note_capture_drops(&mut self, dropped: u64) {
        self.downstream.analyzers.cfg.capture_drops = dropped;
    }

    /// A live capture ran until `at` (later than its last packet when it ended quiet).
    pub fn note_capture_end(&mut self, at: Ts) {
        self.downstream.note_capture_end(at);
    }

    /// Ends the input: finishes every live flow, runs capture-wide analyzers and
    /// returns what the report's end needs.
    pub fn finish(self) -> EngineResult {
        let Engine {
            mut front,
            mut downstream,
        } = self;
        if let Some(last) = front.last_ts {
            downstream.note_capture_end(last);
        }
        front.flush_copies();
        front
            .table
            .finish_all(&mut |conn| downstream.deliver(&conn));
        result(front, downstream)
    }
}

impl Front {
    fn new(table: TableConfig) -> Front {
        Front {
            table: FlowTable::new(table),
            stats: DecodeStats::default(),
            first_ts: None,
            last_ts: None,
            dedupe: Dedupe::default(),
            ifnames: IfNames::default(),
            tunnels: TunnelIds::default(),
        }
    }

    /// A TCP or UDP frame that names its interface: is it a copy of a packet already
    /// seen on another one? None for a copy (counted, to be skipped); else the
    /// number of the packet in the window, for `Dedupe::set_flow`.
    #[inline(never)]
    fn check_copy(
        &mut self,
        headers: Headers,
        tunnel: &TunnelKey,
        ifindex: u32,
        frame: &RawFrame<'_>,
    ) -> Option<u64> {
        let fp = Fingerprint::of(frame.data, headers, tunnel);
        self.ifnames.note(ifindex);
        let Front {
            dedupe,
            table,
            ifnames,
            ..
        } = self;
        match dedupe.check(frame.ts, fp, ifindex, frame.number, &mut |r| {
            record_path(table, ifnames, r)
        }) {
            Seen::Copy => {
                self.stats.interface_duplicates += 1;
                None
            }
            Seen::New(seq) => Some(seq),
        }
    }

    /// Closes the copy windows older than `now` (their paths go to the flows).
    fn expire_copies(&mut self, now: Ts) {
        if self.dedupe.is_empty() {
            return;
        }
        let Front {
            dedupe,
            table,
            ifnames,
            ..
        } = self;
        dedupe.expire(now, &mut |r| record_path(table, ifnames, r));
    }

    /// End of input: every packet's path goes to its flow.
    fn flush_copies(&mut self) {
        let Front {
            dedupe,
            table,
            ifnames,
            ..
        } = self;
        dedupe.flush(&mut |r| record_path(table, ifnames, r));
    }

    /// A tunnelled (or MPLS/PPPoE) segment started a flow: its layers, oriented from
    /// the client, go to the flow record.
    #[cold]
    #[inline(never)]
    fn attach_encapsulation(&mut self, seg: &Segment, frame: &RawFrame<'_>) {
        let (key, _) = FlowKey::in_tunnel(seg.src, seg.dst, seg.tunnel);
        if let Some(conn) = self.table.get_mut(&key) {
            let layers = decode::encapsulation(frame.link, frame.data);
            conn.encapsulation = if conn.client == seg.src {
                layers
            } else {
                layers.iter().map(Encap::reversed).collect()
            };
        }
    }

    fn on_frame(&mut self, frame: RawFrame<'_>, out: &mut dyn FnMut(Msg)) {
        self.stats.frames += 1;
        if self.stats.frames % DECODE_PUBLISH_EVERY == 0 {
            self.publish_decode();
        }
        self.first_ts.get_or_insert(frame.ts);
        self.last_ts = Some(self.last_ts.map_or(frame.ts, |t| t.max(frame.ts)));
        if frame.link == LinkType::Ethernet {
            if let Some(p) = decode::plain_tcp::ethernet_ipv4_tcp(frame.data) {
                let seg = Segment::from_parts(
                    frame.number,
                    frame.ts,
                    &p.ip,
                    &p.tcp,
                    Some(p.src_mac),
                    None,
                );
                self.on_tcp(&seg, out);
                return;
            }
        }
        match decode::decode_plain(frame.link, frame.data) {
            Plain::Decoded(d) => self.on_decoded(d, &TunnelKey::None, &frame, out),
            Plain::MayCarryTunnel => self.on_tunnelled(&frame, out),
        }
    }

    /// A TCP segment: counted and fed to the flow table; true when it started a flow.
    #[inline(always)]
    fn on_tcp(&mut self, seg: &Segment, out: &mut dyn FnMut(Msg)) -> bool {
        self.stats.tcp_segments += 1;
        if seg.truncated() {
            self.stats.truncated_segments += 1;
        }
        self.table.on_segment(seg, &mut |conn| out(Msg::Flow(conn)))
    }

    /// A frame whose packet may carry a tunnel: decoded again, tunnels peeled (apart
    /// from the plain path, which then keeps its packet in registers).
    #[inline(never)]
    fn on_tunnelled(&mut self, frame: &RawFrame<'_>, out: &mut dyn FnMut(Msg)) {
        let mut tunnel = TunnelKey::None;
        let d = decode::decode_in_tunnel(frame.link, frame.data, &mut tunnel);
        self.on_decoded(d, &tunnel, frame, out);
    }

    #[inline(always)]
    fn on_decoded(
        &mut self,
        decoded: Decoded<'_>,
        tunnel: &TunnelKey,
        frame: &RawFrame<'_>,
        out: &mut dyn FnMut(Msg),
    ) {
        let packet = match decoded {
            Decoded::Ip(p) => p,
            Decoded::NotIp => {
                self.stats.non_ip += 1;
                return;
            }
            Decoded::Malformed(why) => {
                self.stats.malformed += 1;
                self.stats
                    .first_malformed
                    .get_or_insert((frame.number, why));
                return;
            }
        };
        // Cooked v2 (`-i any`): a packet seen again on another interface is counted once.
        let mut in_window = None;
        if let Some(ifindex) = packet.ifindex {
            if let Some(headers) = Headers::of(frame.data, &packet) {
                match self.check_copy(headers, tunnel, ifindex, frame) {
                    Some(seq) => in_window = Some(seq),
                    None => return,
                }
            }
        }
        match &packet.transport {
            Transport::Tcp(tcp) => {
                let mut seg = Segment::from_tcp(frame.number, frame.ts, &packet, tcp);
                if !tunnel.is_none() {
                    seg.tunnel = self.tunnels.id(tunnel);
                }
                let started = self.on_tcp(&seg, out);
                if started && packet.encapsulated {
                    self.attach_encapsulation(&seg, frame);
                }
                if let Some(seq) = in_window {
                    let (key, from_lo) = FlowKey::in_tunnel(seg.src, seg.dst, seg.tunnel);
                    self.dedupe.set_flow(seq, key, from_lo);
                }
            }
            Transport::Udp {
                src_port,
                dst_port,
                payload,
            } => {
                self.stats.udp_datagrams += 1;
                if *src_port == 53 || *dst_port == 53 {
                    if let Some(message) = dns::parse(payload) {
                        self.stats.dns_messages += 1;
                        out(Msg::Dns(Box::new(DnsRecord {
                            frame: frame.number,
                            at: frame.ts,
                            src: packet.ip.src,
                            dst: packet.ip.dst,
                            outgoing: packet
                                .link_dir
                                .map(|d| d == crate::decode::LinkDirection::Outgoing),
                            message,
                        })));
                    }
                }
            }
            Transport::Fragment => self.stats.ip_fragments += 1,
            Transport::Other(..) => self.stats.other_ip += 1,
        }
    }
}

/// Both halves done (every flow delivered): the capture-wide findings and the totals.
fn result(front: Front, downstream: Downstream<'_>) -> EngineResult {
    let Front {
        table,
        stats,
        first_ts,
        last_ts,
        ..
    } = front;
    let Downstream {
        conn_states,
        ctx,
        mut analyzers,
        sink_error,
        budget,
        ..
    } = downstream;
    let capture_findings = analyzers.finish(&table.stats, &stats, &ctx, &budget);
    let memory = MemoryReport::of(&budget);
    EngineResult {
        severity_counts: analyzers.severity_counts(),
        findings_not_kept: analyzers.findings_not_kept,
        conn_states,
        first_ts,
        last_ts,
        decode: stats,
        table: table.stats,
        flow_findings: analyzers.flow_findings,
        folded: analyzers.folded,
        capture_findings,
        dns: ctx.dns.into_iter().collect(),
        dns_dropped: ctx.dns_dropped,
        sink_error,
        memory,
    }
}

/// What the memory budget saw: `summary.memory` in the report.
#[derive(Clone, Debug, Serialize)]
pub struct MemoryReport {
    pub limit: u64,
    /// The process's resident memory when the run started (code, libraries, buffers).
    pub baseline: u64,
    /// The most the budget counted at once: in use (its parts' estimates, checked
    /// against the allocator's own count) plus the free memory the allocator keeps
    /// (measured as the resident set at each check).
    pub peak_accounted: u64,
    /// Of it, the most counted in use.
    pub peak_in_use: u64,
    /// The process's peak resident memory (getrusage), for comparison.
    pub peak_resident: Option<u64>,
    pub limit_reached: bool,
    pub timelines_dropped: u64,
    pub timeline_events_dropped: u64,
    pub flows_finished_early: u64,
    pub closed_flows_finished_early: u64,
    /// Each part's estimate at the peak in use (which part to look at when the
    /// limit is reached).
    pub parts_at_peak: std::collections::BTreeMap<&'static str, u64>,
}

impl MemoryReport {
    fn of(b: &MemoryBudget) -> MemoryReport {
        MemoryReport {
            limit: b.limit().min(u64::MAX as usize) as u64,
            baseline: b.baseline() as u64,
            peak_accounted: b.peak().max(b.peak_held()) as u64,
            peak_in_use: b.peak() as u64,
            peak_resident: crate::budget::peak_resident_bytes().map(|v| v as u64),
            limit_reached: b.reached(),
            timelines_dropped: b.timelines_shed.load(Ordering::Relaxed),
            timeline_events_dropped: b.events_shed.load(Ordering::Relaxed),
            flows_finished_early: b.flows_finished_early.load(Ordering::Relaxed),
            closed_flows_finished_early: b.lingers_cut.load(Ordering::Relaxed),
            parts_at_peak: b
                .parts_at_peak()
                .into_iter()
                .map(|(k, v)| (k, v as u64))
                .collect(),
        }
    }
}

/// Messages per batch handed to the back thread, and batches in flight: enough to
/// keep both threads busy, little enough that memory stays bounded (a few thousand
/// finished connections at most).
const BATCH: usize = 512;
const BATCHES_IN_FLIGHT: usize = 2;

/// The feeding side of `run_pipelined`: frames go in here.
pub struct Pipeline<'a> {
    front: Front,
    batch: Vec<Msg>,
    tx: mpsc::SyncSender<Vec<Msg>>,
    /// Emptied batches coming back for reuse.
    spare: mpsc::Receiver<Vec<Msg>>,
    findings: &'a AtomicU64,
    /// The back thread has stopped (it panicked); nothing more is sent.
    broken: bool,
    budget: Arc<MemoryBudget>,
}

impl Pipeline<'_> {
    pub fn on_frame(&mut self, frame: RawFrame<'_>) {
        let Pipeline {
            front,
            batch,
            tx,
            spare,
            broken,
            budget,
            ..
        } = self;
        // Sent as soon as a batch is full, even in the middle of a frame: an eviction
        // finishes thousands of flows at once, and they must not pile up here.
        front.on_frame(frame, &mut |m| push(batch, m, tx, spare, broken, budget));
    }

    /// Flows started and findings made so far (for progress displays).
    pub fn progress_counts(&self) -> (u64, u64) {
        (
            self.front.table.stats.flows,
            self.findings.load(Ordering::Relaxed),
        )
    }
}

/// Bytes of the connections in a batch (memory budget: pending until freed).
fn pending_bytes(batch: &[Msg]) -> usize {
    batch
        .iter()
        .map(|m| match m {
            Msg::Flow(c) => c.accounted,
            _ => 0,
        })
        .sum()
}

/// Adds `m` to the batch; a full batch goes to the back thread.
fn push(
    batch: &mut Vec<Msg>,
    m: Msg,
    tx: &mpsc::SyncSender<Vec<Msg>>,
    spare: &mpsc::Receiver<Vec<Msg>>,
    broken: &mut bool,
    budget: &MemoryBudget,
) {
    if let Msg::Flow(c) = &m {
        budget.add(Part::Pending, c.accounted);
    }
    batch.push(m);
    if batch.len() >= BATCH {
        let next = match spare.try_recv() {
            Ok(mut done) => {
                budget.sub(Part::Pending, pending_bytes(&done));
                done.clear(); // frees the delivered connections here, where they were made
                done
            }
            Err(_) => Vec::with_capacity(BATCH),
        };
        let full = std::mem::replace(batch, next);
        if !*broken && tx.send(full).is_err() {
            *broken = true;
        }
    }
}

/// Runs the engine on two threads: `feed` calls `Pipeline::on_frame` for every frame
/// on this thread (reading, decoding, flow tracking), while analyzers and the sink
/// work on finished connections on a second thread. The result is the same as
/// `Engine`'s: messages keep their order.
pub fn run_pipelined<R>(
    table: TableConfig,
    analyzers: Analyzers,
    sink: &mut (dyn Sink + Send),
    feed: impl FnOnce(&mut Pipeline<'_>) -> R,
) -> (R, EngineResult) {
    let findings = AtomicU64::new(0);
    let front = Front::new(table);
    let budget = front.table.budget();
    let mut analyzers = analyzers;
    analyzers.set_budget(Arc::clone(&budget));
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Vec<Msg>>(BATCHES_IN_FLIGHT);
        let (spare_tx, spare_rx) = mpsc::channel::<Vec<Msg>>();
        let findings = &findings;
        let back_budget = Arc::clone(&budget);
        let back = scope.spawn(move || {
            let mut downstream = Downstream {
                conn_states: BTreeMap::new(),
                ctx: CaptureContext::sized(back_budget.limit()),
                analyzers,
                sink,
                sink_error: None,
                findings,
                budget: back_budget,
                delivered: 0,
            };
            for batch in rx {
                for msg in &batch {
                    downstream.handle(msg);
                }
                // Back to the front, messages included, to be freed and reused there.
                let _ = spare_tx.send(batch);
            }
            // Capture-wide work needs the front's totals: done on the caller's thread.
            (
                downstream.conn_states,
                downstream.ctx,
                downstream.analyzers,
                downstream.sink_error,
            )
        });
        let mut pipe = Pipeline {
            budget: Arc::clone(&budget),
            front,
            batch: Vec::with_capacity(BATCH),
            tx,
            spare: spare_rx,
            findings,
            broken: false,
        };
        let fed = feed(&mut pipe);
        let Pipeline {
            mut front,
            mut batch,
            tx,
            ..
        } = pipe;
        if let Some(last) = front.last_ts {
            batch.push(Msg::CaptureEnd(last));
        }
        front.flush_copies();
        front
            .table
            .finish_all(&mut |conn| batch.push(Msg::Flow(conn)));
        let _ = tx.send(batch);
        drop(tx);
        let (conn_states, ctx, analyzers, sink_error) = match back.join() {
            Ok(parts) => parts,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        // A placeholder sink: the real one is only needed again for `finish`.
        let mut none = NoSink;
        let downstream = Downstream {
            conn_states,
            ctx,
            analyzers,
            sink: &mut none,
            sink_error,
            findings,
            budget,
            delivered: 0,
        };
        (fed, result(front, downstream))
    })
}

/// Stands in for the sink once every flow was written.
struct NoSink;

impl Sink for NoSink {
    fn flow(&mut self, _: &Connection, _: &[Finding]) -> std::io::Result<()> {
        Ok(())
    }
    fn finish(&mut self, _: &crate::report::ReportEnd<'_>) -> std::io::Result<()> {
        Ok(())
    }
}

pub struct EngineResult {
    pub severity_counts: Vec<(crate::analyze::Severity, u64)>,
    /// Per-flow findings counted but not kept for the top-level list.
    pub findings_not_kept: u64,
    pub conn_states: BTreeMap<&'static str, u64>,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    pub decode: DecodeStats,
    pub table: crate::flow::TableStats,
    /// Findings attached to flows (kept, bounded, for the top-level list).
    pub flow_findings: Vec<Finding>,
    /// (flow, finding id) folded into a capture-wide finding (sorted).
    pub folded: Vec<(u64, &'static str)>,
    pub capture_findings: Vec<Finding>,
    pub dns: Vec<DnsRecord>,
    pub dns_dropped: u64,
    pub sink_error: Option<std::io::Error>,
    pub memory: MemoryReport,
}
