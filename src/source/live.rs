//! Live capture from a network interface through libpcap.
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

use pcap::{Active, Capture, Precision, Savefile};
use serde::Serialize;

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
    next_number: u64,
    writers: Vec<Savefile>,
}

/// Names of the interfaces libpcap can capture on, for the "no such interface" error.
pub fn interface_names() -> Vec<String> {
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
    OpenError(format!(
        "no interface named '{iface}' (available: {list})"
    ))
}

impl LiveCapture {
    pub fn open(cfg: &LiveConfig) -> Result<LiveCapture, OpenError> {
        let iface = cfg.interface.as_str();
        // Check the name first: libpcap's own message for a missing device varies by
        // version and, without privilege, is a permission error instead.
        if iface != "any" && !std::path::Path::new("/sys/class/net").join(iface).exists() {
            let known = interface_names();
            if !known.iter().any(|n| n == iface) {
                return Err(no_such_interface(iface));
            }
        }
        let inactive = Capture::from_device(iface)
            .map_err(|e| classify_open_error(iface, &e))?
            .immediate_mode(true)
            .promisc(cfg.promisc)
            .snaplen(cfg.snaplen.clamp(64, 262_144) as i32)
            .buffer_size(cfg.buffer_bytes.min(i32::MAX as u32) as i32)
            .precision(Precision::Nano);
        let mut cap = inactive
            .open()
            .map_err(|e| classify_open_error(iface, &e))?;
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
            next_number: 1,
            writers: Vec::new(),
        })
    }

    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Also write every captured frame to `path` (pcap, nanosecond timestamps).
    pub fn write_to(&mut self, path: &std::path::Path) -> Result<(), OpenError> {
        let f = self
            .cap
            .savefile(path)
            .map_err(|e| OpenError(format!("cannot write {}: {}", path.display(), clean(&e))))?;
        self.writers.push(f);
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
                    for w in &mut self.writers {
                        w.write(&p);
                    }
                    let ts = Ts::from_secs_nanos(p.header.ts.tv_sec, p.header.ts.tv_usec);
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

    /// Flushes the pcap writers; the first error is returned.
    pub fn flush_writers(&mut self) -> Result<(), String> {
        for w in &mut self.writers {
            w.flush().map_err(|e| clean(&e))?;
        }
        Ok(())
    }
}
