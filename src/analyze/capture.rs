//! Capture quality: what the capture itself hides or distorts.

use super::{round_ms, Confidence, Finding, Severity};
use crate::engine::DecodeStats;
use crate::flow::conn::{Connection, RoleSource};
use crate::flow::TableStats;
use crate::model::time::round_us;
use crate::model::units::plural;
use crate::model::Ts;

/// `capture.memory_limit`: the run reached its memory budget and degraded, in the
/// stated order: stored timelines of the least recently active flows first, then
/// those flows finished early. Counters, trackers and findings of flows whose
/// timeline went are whole; flows finished early may come back as new midstream
/// flows, so their later findings are split.
pub fn memory_limit(b: &crate::budget::MemoryBudget) -> Option<Finding> {
    use std::sync::atomic::Ordering::Relaxed;
    if !b.reached() {
        return None;
    }
    let shed = b.timelines_shed.load(Relaxed);
    let events = b.events_shed.load(Relaxed);
    let early = b.flows_finished_early.load(Relaxed);
    let lingers = b.lingers_cut.load(Relaxed);
    let mib = |v: usize| v as f64 / (1u64 << 20) as f64;
    let at = b.first_reached_ns.load(Relaxed) as f64 / 1e9;
    Some(
        Finding::new(
            "capture.memory_limit",
            if early > 0 {
                Severity::Warning
            } else {
                Severity::Info
            },
            None,
            at,
        )
        .summary(format!(
            "The run reached its memory budget ({:.0} MiB, --memory-limit): the stored timelines of {} were dropped \
             ({} events; their counters and findings are whole){}{}",
            mib(b.limit()),
            plural(shed, "least recently active flow"),
            events,
            if lingers > 0 {
                format!(
                    ", {} that had closed were finished before their close linger ran out",
                    plural(lingers, "connection")
                )
            } else {
                String::new()
            },
            if early > 0 {
                format!(
                    ", then {} finished early (later packets of them start new midstream flows)",
                    plural(early, "flow")
                )
            } else {
                String::new()
            }
        ))
        .evidence("limit_bytes", b.limit())
        .evidence("peak_accounted_bytes", b.peak())
        .evidence("timelines_dropped", shed)
        .evidence("timeline_events_dropped", events)
        .evidence("flows_finished_early", early)
        .evidence("closed_flows_finished_early", lingers)
        .evidence("peak_resident_bytes", b.peak_held())
        .confidence(Confidence::High)
        .hint(
            "Raise --memory-limit if the host has memory to spare, or narrow the input (-f, a shorter \
             capture). Findings do not depend on the dropped timelines; flows finished early can split \
             a connection's findings.",
        ),
    )
}

/// Overlap between input files that `inputs_overlap` lets pass (seconds).
const OVERLAP_TOLERANCE_S: f64 = 1.0;

/// One input file's time span, for `inputs_overlap`.
pub struct InputSpan<'a> {
    pub file: &'a str,
    pub first: Ts,
    pub last: Ts,
}

/// Input files are read as one capture in the order given: a file that starts before
/// an earlier one ended overlaps it (two capture points of the same moment, or files
/// out of order), and connections on the same 4-tuple get merged or split.
pub fn inputs_overlap(inputs: &[InputSpan<'_>]) -> Option<Finding> {
    let mut overlaps = Vec::new();
    let mut total = 0usize;
    let mut latest: Option<&InputSpan<'_>> = None;
    for span in inputs {
        if let Some(prev) = latest {
            // Rotated files of one capture can overlap by the few milliseconds that
            // packets from different CPUs are out of order; that merges nothing.
            if prev.last.since(span.first) > OVERLAP_TOLERANCE_S {
                total += 1;
                if overlaps.len() < 10 {
                    overlaps.push(serde_json::json!({
                        "file": span.file,
                        "starts": round_us(span.first.secs_f64()),
                        "earlier_file": prev.file,
                        "earlier_ends": round_us(prev.last.secs_f64()),
                        "overlap_s": round_ms(prev.last.since(span.first)),
                    }));
                }
            }
        }
        if latest.is_none_or(|p| span.last > p.last) {
            latest = Some(span);
        }
    }
    let first = overlaps.first()?.clone();
    Some(
        Finding::new("capture.inputs_overlap", Severity::Warning, None, first["starts"].as_f64().unwrap_or(0.0))
            .summary(format!(
                "{} starts {} s before {} ends ({} overlapping in all): the files are read as one capture in the \
                 order given, so connections seen in both are merged or split and their timing is wrong",
                first["file"].as_str().unwrap_or("?"),
                first["overlap_s"],
                first["earlier_file"].as_str().unwrap_or("?"),
                plural(total as u64, "file"),
            ))
            .evidence("overlaps", &overlaps)
            .evidence("overlapping_files", total)
            .confidence(Confidence::High)
            .hint(
                "Give rotated files in time order (or merge them: mergecap -w all.pcap *.pcap); replay \
                 captures of different points (client side, server side) separately.",
            ),
    )
}

#[derive(Default)]
pub struct CaptureTracker {
    oversize_segments: u64,
    oversize_flows: u64,
    largest: u32,
    mss: Option<u16>,
    example_frame: Option<u64>,
    midstream: u64,
    midstream_examples: Vec<u64>,
    first_ts: Option<f64>,
}

impl CaptureTracker {
    pub fn on_flow(&mut self, conn: &Connection) {
        let t = conn.start.secs_f64();
        self.first_ts = Some(self.first_ts.map_or(t, |f| f.min(t)));
        let [c, s] = &conn.sides;
        for (side, peer) in [(c, s), (s, c)] {
            if side.oversize_segments > 0 {
                self.oversize_segments += u64::from(side.oversize_segments);
                self.oversize_flows += 1;
                if side.max_payload > self.largest {
                    self.largest = side.max_payload;
                    self.mss = peer.mss();
                    self.example_frame = side.first_oversize.map(|a| a.frame);
                }
            }
        }
        if matches!(
            conn.roles,
            RoleSource::PortHeuristic | RoleSource::FirstPacket
        ) {
            self.midstream += 1;
            if self.midstream_examples.len() < 10 {
                self.midstream_examples.push(conn.id);
            }
        }
    }

    pub fn findings(&self, table: &TableStats, decode: &DecodeStats, out: &mut Vec<Finding>) {
        let at = self.first_ts.unwrap_or(0.0);
        if self.oversize_segments > 0 {
            out.push(
                Finding::new("capture.offload", Severity::Info, None, at)
                    .summary(format!(
                        "{} in {} are larger than the MSS the receiver announced (largest {} bytes, MSS {}): offloads \
                         (GRO/LRO on receive, TSO/GSO on send) merged them at the capture point, so segment \
                         sizes and counts are not what crossed the wire",
                        plural(self.oversize_segments, "segment"),
                        plural(self.oversize_flows, "flow"),
                        self.largest,
                        self.mss.map_or("unknown".into(), |m| m.to_string())
                    ))
                    .evidence("oversize_segments", self.oversize_segments)
                    .evidence("flows", self.oversize_flows)
                    .evidence("largest_payload", self.largest)
                    .evidence("mss", self.mss)
                    .evidence("example_frame", self.example_frame)
                    .confidence(Confidence::High)
                    .hint("For wire-accurate captures: ethtool -K IFACE gro off lro off tso off gso off (on a test host), or capture on a switch mirror port."),
            );
        }
        if decode.truncated_segments > 0 {
            out.push(
                Finding::new("capture.truncated", Severity::Info, None, at)
                    .summary(format!(
                        "{} TCP segments were cut by the capture's snaplen: sizes and sequence analysis use the \
                         IP header lengths, but payload contents (e.g. application data) are incomplete",
                        decode.truncated_segments
                    ))
                    .evidence("truncated_segments", decode.truncated_segments)
                    .confidence(Confidence::High)
                    .hint("Capture with a larger snaplen (tcpdump -s 0) when payload contents matter."),
            );
        }
        if self.midstream > 0 {
            out.push(
                Finding::new("capture.midstream", Severity::Info, None, at)
                    .summary(format!(
                        "{} started before the capture (no SYN seen): client and server are inferred from the \
                         port numbers or the first packet, and handshake facts (RTT, options, ISN) are unknown",
                        plural(self.midstream, "flow")
                    ))
                    .evidence("flows", self.midstream)
                    .evidence("example_flows", &self.midstream_examples)
                    .confidence(Confidence::High)
                    .hint("Start the capture before the connections of interest open."),
            );
        }
        if table.evicted > 0 {
            let (frame, ts) = table.first_eviction.unwrap_or((0, crate::model::Ts::ZERO));
            out.push(
                Finding::new("capture.flow_limit", Severity::Warning, None, ts.secs_f64())
                    .summary(format!(
                        "{} finished early to stay under the live-flow cap (peak {} live, first \
                         eviction at frame {frame}): they appear split, and their later packets as midstream flows",
                        plural(table.evicted, "connection"),
                        table.peak_live
                    ))
                    .evidence("evicted", table.evicted)
                    .evidence("peak_live", table.peak_live)
                    .evidence("first_eviction_frame", frame)
                    .confidence(Confidence::High)
                    .hint("Raise --max-flows if memory allows; a SYN flood or scan also causes this."),
            );
        }
    }
}

/// `capture.dropped`: packets libpcap or the kernel dropped during a live capture
/// (counts from pcap_stats, given by the live source).
pub fn dropped(received: u64, dropped: u64, if_dropped: u64, at: f64) -> Option<Finding> {
    if dropped == 0 && if_dropped == 0 {
        return None;
    }
    let lost = dropped + if_dropped;
    let pct = if received + lost > 0 {
        100.0 * lost as f64 / (received + lost) as f64
    } else {
        100.0
    };
    let severity = if pct >= 1.0 {
        Severity::Error
    } else {
        Severity::Warning
    };
    Some(
        Finding::new("capture.dropped", severity, None, at)
            .summary(format!(
                "The capture lost {lost} packets ({dropped} dropped by the kernel because the capture \
                 buffer was full, {if_dropped} by the interface) of about {} ({pct:.2}%): flows may show \
                 gaps, retransmissions or missing handshakes that did not happen on the wire",
                received + lost
            ))
            .evidence("kernel_dropped", dropped)
            .evidence("interface_dropped", if_dropped)
            .evidence("received", received)
            .evidence("lost_percent", (pct * 100.0).round() / 100.0)
            .confidence(Confidence::High)
            .hint(
                "Give the capture more buffer (--buffer-size), capture fewer bytes per packet \
                 (--snaplen), narrow the filter (-f), or capture on the specific interface instead \
                 of 'any'. Interface drops: ethtool -S DEV, ring sizes (ethtool -g).",
            ),
    )
}

#[cfg(test)]
mod dropped_tests {
    use super::*;

    #[test]
    fn drops_become_a_finding_with_the_share_lost() {
        assert!(dropped(1000, 0, 0, 1.0).is_none());
        let f = dropped(990, 10, 0, 1.0).unwrap();
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.evidence["lost_percent"], 1.0);
        let f = dropped(99_990, 10, 0, 1.0).unwrap();
        assert_eq!(f.severity, Severity::Warning);
    }
}
