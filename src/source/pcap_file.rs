//! Saved captures (pcap and pcapng, or "-" for standard input) read through libpcap.
//!
//! Fast path: a regular classic-pcap file is read in 4 MiB blocks and its records are
//! walked here (no stdio copy, no library call per frame). libpcap still opens the file first
//! (format, link type, snaplen, filter), and anything the fast path is not sure of
//! (pcapng, standard input, another magic, a record libpcap would reject or cut) is
//! handed back to libpcap at that record, so errors and edge cases stay libpcap's.

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
    /// Timestamps of the earliest and latest frame (None for an empty file).
    #[serde(
        rename = "first_packet",
        serialize_with = "crate::model::units::ser_opt_ts"
    )]
    pub first_ts: Option<Ts>,
    #[serde(
        rename = "last_packet",
        serialize_with = "crate::model::units::ser_opt_ts"
    )]
    pub last_ts: Option<Ts>,
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
        first_ts: None,
        last_ts: None,
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
    let mut emit = |summary: &mut FileSummary,
                    number: &mut u64,
                    ts: Ts,
                    caplen: u32,
                    len: u32,
                    data: &[u8]| {
        summary.frames += 1;
        summary.bytes += u64::from(caplen);
        summary.first_ts = Some(summary.first_ts.map_or(ts, |t| t.min(ts)));
        summary.last_ts = Some(summary.last_ts.map_or(ts, |t| t.max(ts)));
        if caplen < len {
            summary.cut_frames += 1;
        }
        if program.as_ref().is_some_and(|prog| !prog.filter(data)) {
            *number += 1;
            return;
        }
        sink(RawFrame {
            number: *number,
            ts,
            link,
            wire_len: len,
            data,
        });
        *number += 1;
    };
    // Frames the fast path delivered; libpcap skips them if it has to take over.
    let mut done = 0u64;
    if path != "-" {
        if let Some(mut fast) = FastPcap::open(path) {
            done = fast.walk(|ts, caplen, len, data| {
                emit(&mut summary, &mut number, ts, caplen, len, data)
            });
            if fast.clean_end {
                return (summary, None);
            }
        }
    }
    for _ in 0..done {
        if cap.next_packet().is_err() {
            // Cannot happen (the fast path only passes records libpcap reads alike);
            // say so rather than deliver frames twice.
            return (
                summary,
                Some(fail(Some(number), "file changed while reading".into())),
            );
        }
    }
    loop {
        match cap.next_packet() {
            Ok(p) => {
                let ts = Ts::from_secs_nanos(p.header.ts.tv_sec, p.header.ts.tv_usec);
                emit(
                    &mut summary,
                    &mut number,
                    ts,
                    p.header.caplen,
                    p.header.len,
                    p.data,
                );
            }
            Err(pcap::Error::NoMorePackets) => return (summary, None),
            Err(e) => return (summary, Some(fail(Some(number), clean_pcap_error(&e)))),
        }
    }
}

/// A classic pcap file read in large blocks.
struct FastPcap {
    file: std::fs::File,
    swapped: bool,
    nanos: bool,
    snaplen: u32,
    /// Whether `walk` reached the end of the file exactly at a record boundary.
    clean_end: bool,
}

/// libpcap 1.10 rejects larger records (MAXIMUM_SNAPLEN).
const MAX_RECORD: u32 = 262_144;
/// Read size: large enough that reads cost nothing per frame, small enough for memory.
const BLOCK: usize = 4 << 20;

impl FastPcap {
    /// None for anything but a regular file with one of the four standard magics.
    fn open(path: &str) -> Option<FastPcap> {
        use std::io::Read;
        let mut file = std::fs::File::open(path).ok()?;
        if !file.metadata().ok()?.is_file() {
            return None;
        }
        let mut head = [0u8; 24];
        file.read_exact(&mut head).ok()?;
        let (swapped, nanos) = match u32::from_le_bytes(head[0..4].try_into().ok()?) {
            0xa1b2_c3d4 => (false, false),
            0xa1b2_3c4d => (false, true),
            0xd4c3_b2a1 => (true, false),
            0x4d3c_b2a1 => (true, true),
            _ => return None,
        };
        let mut p = FastPcap {
            file,
            swapped,
            nanos,
            snaplen: 0,
            clean_end: false,
        };
        p.snaplen = p.u32_of(&head[16..20]);
        Some(p)
    }

    #[inline]
    fn u32_of(&self, b: &[u8]) -> u32 {
        let b = [b[0], b[1], b[2], b[3]];
        if self.swapped {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// Hands every record it is sure of to `f`; returns how many. Stops at the first
    /// record libpcap might treat differently (cut by the snaplen, too large, short)
    /// or at a read error, leaving that to libpcap.
    fn walk(&mut self, mut f: impl FnMut(Ts, u32, u32, &[u8])) -> u64 {
        use std::io::Read;
        let mut buf = vec![0u8; BLOCK];
        let (mut start, mut filled) = (0usize, 0usize);
        let mut n = 0u64;
        loop {
            // Parse the whole records in buf[start..filled].
            loop {
                let rest = &buf[start..filled];
                if rest.len() < 16 {
                    break;
                }
                let frac = self.u32_of(&rest[4..8]);
                let caplen = self.u32_of(&rest[8..12]);
                let len = self.u32_of(&rest[12..16]);
                // libpcap cuts records longer than the file's snaplen and rejects huge ones.
                if caplen > MAX_RECORD || caplen > self.snaplen || caplen > len {
                    return n;
                }
                let limit = if self.nanos { 1_000_000_000 } else { 1_000_000 };
                if frac >= limit {
                    return n;
                }
                let Some(data) = rest.get(16..16 + caplen as usize) else {
                    break;
                };
                let sec = self.u32_of(&rest[0..4]);
                let nanos = if self.nanos { frac } else { frac * 1000 };
                // The file's seconds are a signed 32-bit field, as libpcap reads them.
                let ts = Ts::from_secs_nanos(i64::from(sec as i32), i64::from(nanos));
                f(ts, caplen, len, data);
                n += 1;
                start += 16 + caplen as usize;
            }
            // Keep the partial record, refill behind it.
            buf.copy_within(start..filled, 0);
            filled -= start;
            start = 0;
            match self.file.read(&mut buf[filled..]) {
                Ok(0) => {
                    self.clean_end = filled == 0;
                    return n;
                }
                Ok(got) => filled += got,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return n,
            }
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
