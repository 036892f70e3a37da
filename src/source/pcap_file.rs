//! Saved captures (pcap and pcapng, or "-" for standard input) read through libpcap.

use pcap::{Capture, Precision};
use serde::Serialize;

use super::{RawFrame, SourceError};
use crate::decode::LinkType;
use crate::model::Ts;

/// What was read from one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    pub file: String,
    pub link_type: String,
    pub first_frame: u64,
    pub frames: u64,
    pub bytes: u64,
    pub snaplen: u32,
    /// Frames whose captured length is shorter than their length on the wire.
    pub cut_frames: u64,
}

/// Reads `path` frame by frame into `sink`. Frame numbers continue from `first_frame`.
/// On a read error the frames already delivered stay delivered; the error says where.
pub fn read(
    path: &str,
    filter: Option<&str>,
    first_frame: u64,
    sink: &mut dyn FnMut(RawFrame<'_>),
) -> (FileSummary, Option<SourceError>) {
    let mut summary = FileSummary {
        file: path.to_string(),
        link_type: String::new(),
        first_frame,
        frames: 0,
        bytes: 0,
        snaplen: 0,
        cut_frames: 0,
    };
    let fail = |frame: Option<u64>, message: String| SourceError {
        file: path.to_string(),
        frame,
        message,
    };
    if path != "-" {
        if let Err(e) = std::fs::metadata(path) {
            return (summary, Some(fail(None, format!("cannot open: {e}"))));
        }
    }
    let mut cap = match Capture::from_file_with_precision(path, Precision::Nano) {
        Ok(c) => c,
        Err(e) => return (summary, Some(fail(None, clean_pcap_error(&e)))),
    };
    let dlt = cap.get_datalink();
    summary.snaplen = cap_snaplen(&cap);
    let Some(link) = LinkType::from_dlt(dlt.0) else {
        let name = dlt.get_name().unwrap_or_else(|_| "unknown".into());
        let msg = format!("unsupported link type {} ({name})", dlt.0);
        return (summary, Some(fail(None, msg)));
    };
    summary.link_type = link.name().to_string();
    // The filter runs here rather than inside libpcap so that frame numbers stay the
    // file's own (as in Wireshark and tcpdump -r), filtered or not.
    let program = match filter.map(|expr| (expr, cap.compile(expr, true))) {
        None => None,
        Some((_, Ok(p))) => Some(p),
        Some((expr, Err(e))) => {
            let msg = format!("bad filter '{expr}': {}", clean_pcap_error(&e));
            return (summary, Some(fail(None, msg)));
        }
    };
    let mut number = first_frame;
    loop {
        match cap.next_packet() {
            Ok(p) => {
                let ts = Ts::from_secs_nanos(p.header.ts.tv_sec, p.header.ts.tv_usec);
                summary.frames += 1;
                summary.bytes += u64::from(p.header.caplen);
                if p.header.caplen < p.header.len {
                    summary.cut_frames += 1;
                }
                if program.as_ref().is_some_and(|prog| !prog.filter(p.data)) {
                    number += 1;
                    continue;
                }
                sink(RawFrame {
                    number,
                    ts,
                    link,
                    wire_len: p.header.len,
                    data: p.data,
                });
                number += 1;
            }
            Err(pcap::Error::NoMorePackets) => return (summary, None),
            Err(e) => return (summary, Some(fail(Some(number), clean_pcap_error(&e)))),
        }
    }
}

extern "C" {
    // Part of libpcap's stable API; the crate links libpcap but does not expose it.
    fn pcap_snapshot(p: *mut std::ffi::c_void) -> std::ffi::c_int;
}

fn cap_snaplen(cap: &Capture<pcap::Offline>) -> u32 {
    // SAFETY: the handle is valid for the capture's lifetime; pcap_snapshot only reads it.
    let n = unsafe { pcap_snapshot(cap.as_ptr().cast()) };
    n.max(0) as u32
}

/// libpcap's messages, without the crate's enum wrapping.
fn clean_pcap_error(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) => s.trim().to_string(),
        other => other.to_string(),
    }
}
