//! Live capture from a network interface through libpcap.
//!
//! The `any` device is opened with the cooked v2 link type (LINUX_SLL2), whose
//! header carries the interface index: the engine uses it to count a packet seen on
//! several interfaces once and to record the interfaces it crossed.
//!
//! The handle is opened in immediate mode (a packet is delivered as soon as it
//! arrives, not when a buffer block fills), with a multi-MiB kernel buffer and a
//! header-sized snaplen so bursts do not drop, and in nonblocking mode: the caller
//! waits with `poll()` on the capture's descriptor, so a quiet interface never
//! blocks a stop request (libpcap's read timeout does not fire on an idle link).
//! It hands `RawFrame`s downstream like the file source and knows nothing of TCP.
//! Frames can be copied to a pcap file as they are read (`-w`, and the spool
//! behind `--write-flagged`).

use std::os::fd::{AsRawFd, BorrowedFd};

use pcap::{Active, Capture, Precision};
use serde::Serialize;

use super::pcap_writer::PcapWriter;
use super::RawFrame;
use crate::decode::LinkType;
use crate::model::Ts;

/// How to open the interface.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    pub interface: String,
    pub filter: Option<String>,
    pub snaplen: u32,
    pub buffer_bytes: u32,
    pub promisc: bool,
}

/// Why the capture could not start, already phrased for the one-line error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenError(pub String);

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// libpcap's and the kernel's counters (pcap_stats).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct DropStats {
    /// Packets the filter accepted (on `lo`, each packet is counted twice).
    pub received: u32,
    /// Dropped because the capture buffer was full (the kernel's ring).
    pub dropped: u32,
    /// Dropped by the interface or its driver, when it reports them.
    pub if_dropped: u32,
}

pub struct LiveCapture {
    cap: Capture<Active>,
    link: LinkType,
    pub link_name: &'static str,
    snaplen: u32,
    next_number: u64,
    writers: Vec<Writer>,
}

/// A pcap file every frame is copied to, and whether its failure was reported.
struct Writer {
    out: PcapWriter,
    reported: bool,
}

/// A copy of the capture (`-w`, the `--write-flagged` spool) that stopped at a write
/// error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterFailed {
    /// The writer's index, in `write_to` order.
    pub writer: usize,
    /// Frames in the file (whole ones; the first missing one is `kept + 1`).
    pub kept: u64,
    /// False when the file could not be cut back to a whole frame.
    pub cut_back: bool,
    /// The OS error.
    pub error: String,
}

/// Names of the network interfaces of this (possibly entered) namespace, plus "any",
/// for the "no such interface" error. /proc/self/net/dev follows setns (sysfs does
/// not); libpcap's own list also holds non-network devices (nflog, dbus, usbmon).
pub fn interface_names() -> Vec<String> {
    if let Ok(text) = std::fs::read_to_string("/proc/self/net/dev") {
        let mut names: Vec<String> = text
            .lines()
            .skip(2)
            .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
            .collect();
        names.sort();
        names.insert(0, "any".to_string());
        return names;
    }
    pcap::Device::list()
        .map(|l| l.into_iter().map(|d| d.name).collect())
        .unwrap_or_default()
}

fn clean(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) => s.trim().to_string(),
        other => other.to_string(),
    }
}

/// The advice for a capture refused for lack of privilege.
pub fn permission_message(iface: &str) -> String {
    format!(
        "capturing on {iface} needs CAP_NET_RAW (run as root, or grant it once: \
         sudo setcap cap_net_raw,cap_net_admin+eip $(which tcpdiag))"
    )
}

fn classify_open_error(iface: &str, e: &pcap::Error) -> OpenError {
    let msg = clean(e);
    let lower = msg.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") {
        return OpenError(permission_message(iface));
    }
    if lower.contains("no such device") || lower.contains("doesn't exist") {
        return no_such_interface(iface);
    }
    OpenError(format!("cannot capture on {iface}: {msg}"))
}

fn no_such_interface(iface: &str) -> OpenError {
    let names = interface_names();
    let list = if names.is_empty() {
        "none visible".to_string()
    } else {
        names.join(", ")
    };
    OpenError(format!("no interface named '{iface}' (available: {list})"))
}

/// Moves the calling thread into network namespace `name` (/run/netns/NAME). The
/// capture command does this once, first, on the main thread: threads started
/// afterwards inherit it, so libpcap, sock_diag and /proc/net all see that namespace.
pub fn enter_netns(name: &str) -> Result<(), OpenError> {
    super::netns::enter(&super::netns::Netns::Named(name.to_string()))
        .map_err(|e| OpenError(e.to_string()))
}

/// DLT_LINUX_SLL2: the cooked header with the interface index.
const LINKTYPE_LINUX_SLL2: i32 = 276;

/// The name of interface `ifindex` in the calling thread's namespace (the capture
/// enters its namespace first), for the paths of packets seen on `any`.
pub fn interface_name(ifindex: u32) -> Option<String> {
    nix::net::if_::if_indextoname(ifindex)
        .ok()
        .and_then(|n| n.into_string().ok())
}

/// Header-sized: Ethernet/VLAN + IPv6 with options + TCP with options fit, and most
/// DNS messages; bursts then fit the buffer.
pub const DEFAULT_SNAPLEN: u32 = 256;

/// The snaplen libpcap is given: at least the headers, at most libpcap's maximum.
pub fn effective_snaplen(asked: u32) -> u32 {
    asked.clamp(64, 262_144)
}

/// This host's addresses (in the current, possibly entered, namespace), so the
/// analysis knows which end of a flow is local even when no socket was seen.
pub fn local_addresses() -> Vec<std::net::IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut out: Vec<std::net::IpAddr> = addrs
        .filter_map(|a| {
            let sa = a.address?;
            if let Some(v4) = sa.as_sockaddr_in() {
                return Some(std::net::IpAddr::V4(v4.ip()));
            }
            sa.as_sockaddr_in6().map(|v6| std::net::IpAddr::V6(v6.ip()))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

impl LiveCapture {
    pub fn open(cfg: &LiveConfig) -> Result<LiveCapture, OpenError> {
        let iface = cfg.interface.as_str();
        // Check the name first: libpcap's own message for a missing device varies by
        // version and, without privilege, is a permission error instead. (Not
        // /sys/class/net: after setns it still shows the namespace sysfs was mounted in.)
        if iface != "any" {
            let known = interface_names();
            if !known.is_empty() && !known.iter().any(|n| n == iface) {
                return Err(no_such_interface(iface));
            }
        }
        let inactive = Capture::from_device(iface)
            .map_err(|e| classify_open_error(iface, &e))?
            .immediate_mode(true)
            .promisc(cfg.promisc)
            .snaplen(effective_snaplen(cfg.snaplen) as i32)
            .buffer_size(cfg.buffer_bytes.min(i32::MAX as u32) as i32)
            .precision(Precision::Nano);
        let mut cap = inactive
            .open()
            .map_err(|e| classify_open_error(iface, &e))?;
        if iface == "any" {
            // Cooked v2 names the interface of every frame, so a packet seen on several
            // (veth, bridge, uplink) is recognised and counted once. libpcap < 1.10
            // lacks it: cooked v1 then, without that.
            let _ = cap.set_datalink(pcap::Linktype(LINKTYPE_LINUX_SLL2));
        }
        if let Some(expr) = &cfg.filter {
            cap.filter(expr, true)
                .map_err(|e| OpenError(format!("bad filter '{expr}': {}", clean(&e))))?;
        }
        let cap = cap
            .setnonblock()
            .map_err(|e| OpenError(format!("cannot capture on {iface}: {}", clean(&e))))?;
        let dlt = cap.get_datalink();
        let Some(link) = LinkType::from_dlt(dlt.0) else {
            let name = dlt.get_name().unwrap_or_else(|_| "unknown".into());
            return Err(OpenError(format!(
                "cannot capture on {iface}: unsupported link type {} ({name})",
                dlt.0
            )));
        };
        Ok(LiveCapture {
            cap,
            link,
            link_name: link.name(),
            snaplen: effective_snaplen(cfg.snaplen),
            next_number: 1,
            writers: Vec::new(),
        })
    }

    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Also write every captured frame to `path` (pcap, nanosecond timestamps). Writers
    /// are numbered in the order they were added (`WriterFailed::writer`).
    pub fn write_to(&mut self, path: &std::path::Path) -> Result<(), OpenError> {
        let out = PcapWriter::create(path, self.link, self.snaplen)
            .map_err(|e| OpenError(format!("cannot write {}: {e}", path.display())))?;
        self.writers.push(Writer {
            out,
            reported: false,
        });
        Ok(())
    }

    /// Waits up to `timeout_ms` for the descriptor to become readable. False on a
    /// timeout or an interrupting signal (the caller checks its stop flag).
    pub fn wait_readable(&self, timeout_ms: u16) -> bool {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        // SAFETY: the descriptor belongs to `self.cap` and outlives this call.
        let fd = unsafe { BorrowedFd::borrow_raw(self.cap.as_raw_fd()) };
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        matches!(poll(&mut fds, PollTimeout::from(timeout_ms)), Ok(n) if n > 0)
    }

    /// Reads what is buffered now (at most `max` frames) into `sink`; returns how many.
    pub fn read_available(
        &mut self,
        max: usize,
        sink: &mut dyn FnMut(RawFrame<'_>),
    ) -> Result<usize, String> {
        let mut n = 0;
        while n < max {
            match self.cap.next_packet() {
                Ok(p) => {
                    let ts = Ts::from_secs_nanos(p.header.ts.tv_sec, p.header.ts.tv_usec);
                    for w in &mut self.writers {
                        w.out.write(ts, p.header.len, p.data);
                    }
                    sink(RawFrame {
                        number: self.next_number,
                        ts,
                        link: self.link,
                        wire_len: p.header.len,
                        data: p.data,
                    });
                    self.next_number += 1;
                    n += 1;
                }
                // Nonblocking mode: nothing buffered right now.
                Err(pcap::Error::TimeoutExpired) | Err(pcap::Error::NoMorePackets) => break,
                Err(e) => return Err(clean(&e)),
            }
        }
        Ok(n)
    }

    pub fn frames(&self) -> u64 {
        self.next_number - 1
    }

    pub fn stats(&mut self) -> Option<DropStats> {
        self.cap.stats().ok().map(|s| DropStats {
            received: s.received,
            dropped: s.dropped,
            if_dropped: s.if_dropped,
        })
    }

    /// Flushes the pcap writers (the capture loop does so every tick, so the files
    /// stay current and a full disk is noticed within a tick).
    pub fn flush_writers(&mut self) {
        for w in &mut self.writers {
            w.out.flush();
        }
    }

    /// Writers that failed since the last call, each reported once. Every frame goes
    /// to every writer, so a writer's record count is the capture's frame number.
    pub fn new_write_failures(&mut self) -> Vec<WriterFailed> {
        let mut out = Vec::new();
        for (i, w) in self.writers.iter_mut().enumerate() {
            if let (Some(f), false) = (w.out.failure(), w.reported) {
                w.reported = true;
                out.push(WriterFailed {
                    writer: i,
                    kept: f.records_kept,
                    cut_back: f.cut_back,
                    error: f.error.to_string(),
                });
            }
        }
        out
    }

    /// Flushes and closes the writers: the failures not reported yet.
    pub fn close_writers(&mut self) -> Vec<WriterFailed> {
        let mut out = Vec::new();
        for (i, w) in std::mem::take(&mut self.writers).into_iter().enumerate() {
            if let (Err(f), false) = (w.out.finish(), w.reported) {
                out.push(WriterFailed {
                    writer: i,
                    kept: f.records_kept,
                    cut_back: f.cut_back,
                    error: f.error.to_string(),
                });
            }
        }
        out
    }
}

/// What the live sources did, for `summary.capture` (docs/json.md).
#[derive(Debug, Clone, Serialize, Default)]
pub struct CaptureSummary {
    pub interface: String,
    pub netns: Option<String>,
    pub link_type: String,
    pub filter: Option<String>,
    pub snaplen: u32,
    pub buffer_bytes: u32,
    pub started: f64,
    pub ended: f64,
    pub duration_s: f64,
    /// duration | count | signal | error
    pub stop_reason: &'static str,
    pub frames: u64,
    /// pcap_stats at the end (None when libpcap could not give them).
    pub pcap_stats: Option<DropStats>,
    /// Socket polling (None with --no-sockets).
    pub sockets: Option<SocketPollSummary>,
    /// Host context: sysctls used and counter deltas over the capture window.
    pub host: Option<HostSummary>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct SocketPollSummary {
    pub interval_s: f64,
    /// Ports the polls were filtered to in the kernel (derived from -f), or null: all.
    pub kernel_filter_ports: Option<Vec<u16>>,
    pub polls: u64,
    pub failed_polls: u64,
    pub first_error: Option<String>,
    /// Slowest poll (dump and parse), seconds.
    pub slowest_poll_s: f64,
    /// Snapshots joined to a live flow.
    pub snapshots_joined: u64,
    /// Most sockets seen in one poll, by state.
    pub peak_by_state: std::collections::BTreeMap<&'static str, u64>,
    /// Sockets that never had a packet in the capture (only counted when the polls
    /// cover the same traffic as the capture filter): count and examples.
    pub without_packets: Option<u64>,
    pub without_packets_examples: Vec<SocketSeen>,
    /// Conntrack's translated connections joined to flows (absent when not asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<super::conntrack::ConntrackSummary>,
    /// `--all-netns`: the other namespaces whose sockets were polled (absent
    /// otherwise), and the first failure to dump one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<crate::model::netns::NetnsLabel>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_netns_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SocketSeen {
    pub local: String,
    pub remote: String,
    pub state: &'static str,
    pub first_seen: f64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct HostSummary {
    /// Sysctls read from the host and used by the analysis (port range, retries).
    pub sysctls: std::collections::BTreeMap<String, serde_json::Value>,
    /// Counters (/proc/net/snmp and netstat) that changed during the capture: end - start.
    pub counter_deltas: std::collections::BTreeMap<String, i64>,
    pub error: Option<String>,
}
