//! Saved captures (pcap and pcapng, plain or gzip/zstd-compressed, or "-" for
//! standard input).
//!
//! `open` tells the format from the first bytes. pcapng goes through this crate's
//! block walker (`pcapng`), so every interface keeps its own link type and a `-f`
//! filter is compiled per link type (`bpf`). Classic pcap goes through libpcap, so
//! its errors and edge cases stay libpcap's: a regular, uncompressed file is opened
//! by path and read in 4 MiB blocks by a small record walker (the fast path) that
//! hands anything unusual back to libpcap at that record; standard input and
//! decompressed streams reach libpcap through a pipe fed by a thread.

use std::io::Read;
use std::os::fd::IntoRawFd;

use pcap::{Capture, Offline, Precision};
use serde::Serialize;

use super::open::{self, Format, Input};
use super::pcapng::{Item, Walker};
use super::{bpf, RawFrame, SourceError};
use crate::decode::LinkType;
use crate::model::Ts;

/// What was read from one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    pub file: String,
    /// libpcap's name of the link type; for a pcapng whose interfaces differ, each
    /// distinct one in the order described, comma-separated ("EN10MB,LINUX_SLL2").
    pub link_type: String,
    /// "gzip" or "zstd" when the file was compressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<&'static str>,
    pub first_frame: u64,
    pub frames: u64,
    pub bytes: u64,
    pub snaplen: u32,
    /// Frames whose captured length is shorter than their length on the wire.
    pub cut_frames: u64,
    /// Frames of pcapng interfaces whose link type is not decoded (numbered, skipped).
    pub unsupported_link_frames: u64,
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

impl FileSummary {
    fn count(&mut self, ts: Ts, caplen: u32, len: u32) {
        self.frames += 1;
        self.bytes += u64::from(caplen);
        self.first_ts = Some(self.first_ts.map_or(ts, |t| t.min(ts)));
        self.last_ts = Some(self.last_ts.map_or(ts, |t| t.max(ts)));
        if caplen < len {
            self.cut_frames += 1;
        }
    }
}

/// Where reading stopped: the frame (None: before any) and why.
type Stop = (Option<u64>, String);

/// Reads `path` frame by frame into `sink`. Frame numbers continue from `first_frame`
/// and count every frame of the file, filtered or not (as Wireshark and tcpdump -r
/// number them). On a read error the frames already delivered stay delivered; the
/// error says where.
pub fn read(
    path: &str,
    filter: Option<&str>,
    first_frame: u64,
    sink: &mut dyn FnMut(RawFrame<'_>),
) -> (FileSummary, Option<SourceError>) {
    let mut summary = FileSummary {
        file: path.to_string(),
        link_type: String::new(),
        compression: None,
        first_frame,
        frames: 0,
        bytes: 0,
        snaplen: 0,
        cut_frames: 0,
        unsupported_link_frames: 0,
        first_ts: None,
        last_ts: None,
    };
    let stop = match open::open(path) {
        Err(message) => Some((None, message)),
        Ok(input) => {
            summary.compression = input.compression;
            match input.format {
                Format::Pcapng => read_pcapng(input.reader, filter, &mut summary, sink),
                Format::Pcap if input.compression.is_none() && path != "-" => {
                    drop(input);
                    let cap = Capture::from_file_with_precision(path, Precision::Nano);
                    read_classic(cap, Some(path), filter, &mut summary, sink)
                }
                Format::Pcap => read_classic_stream(input, filter, &mut summary, sink),
            }
        }
    };
    let error = stop.map(|(frame, message)| SourceError {
        file: path.to_string(),
        frame,
        message,
    });
    (summary, error)
}

/// A classic pcap through libpcap, from `cap`; `fast_path` names a regular file the
/// block walker may read first.
fn read_classic(
    cap: Result<Capture<Offline>, pcap::Error>,
    fast_path: Option<&str>,
    filter: Option<&str>,
    summary: &mut FileSummary,
    sink: &mut dyn FnMut(RawFrame<'_>),
) -> Option<Stop> {
    let mut cap = match cap {
        Ok(c) => c,
        Err(e) => return Some((None, clean_pcap_error(&e))),
    };
    let dlt = cap.get_datalink();
    summary.snaplen = cap_snaplen(&cap);
    let Some(link) = LinkType::from_dlt(dlt.0) else {
        let name = dlt.get_name().unwrap_or_else(|_| "unknown".into());
        return Some((None, format!("unsupported link type {} ({name})", dlt.0)));
    };
    summary.link_type = link.name().to_string();
    // The filter runs here rather than inside libpcap so that frame numbers stay the
    // file's own (as in Wireshark and tcpdump -r), filtered or not.
    let program = match filter.map(|expr| (expr, cap.compile(expr, true))) {
        None => None,
        Some((_, Ok(p))) => Some(p),
        Some((expr, Err(e))) => {
            return Some((
                None,
                format!("bad filter '{expr}': {}", clean_pcap_error(&e)),
            ));
        }
    };
    let mut number = summary.first_frame;
    let mut emit = |summary: &mut FileSummary,
                    number: &mut u64,
                    ts: Ts,
                    caplen: u32,
                    len: u32,
                    data: &[u8]| {
        summary.count(ts, caplen, len);
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
    if let Some(mut fast) = fast_path.and_then(FastPcap::open) {
        done = fast.walk(|ts, caplen, len, data| emit(summary, &mut number, ts, caplen, len, data));
        if fast.clean_end {
            return None;
        }
    }
    for _ in 0..done {
        if cap.next_packet().is_err() {
            // Cannot happen (the fast path only passes records libpcap reads alike);
            // say so rather than deliver frames twice.
            return Some((Some(number), "file changed while reading".into()));
        }
    }
    loop {
        match cap.next_packet() {
            Ok(p) => {
                let ts = Ts::from_secs_nanos(p.header.ts.tv_sec, p.header.ts.tv_usec);
                emit(
                    summary,
                    &mut number,
                    ts,
                    p.header.caplen,
                    p.header.len,
                    p.data,
                );
            }
            Err(pcap::Error::NoMorePackets) => return None,
            Err(e) => return Some((Some(number), clean_pcap_error(&e))),
        }
    }
}

/// A classic pcap from a stream (standard input, a decompressor): a thread copies it
/// into a pipe that libpcap reads. An error of the stream itself (a cut gzip file)
/// is the one reported, since libpcap only sees the pipe end early.
fn read_classic_stream(
    input: Input,
    filter: Option<&str>,
    summary: &mut FileSummary,
    sink: &mut dyn FnMut(RawFrame<'_>),
) -> Option<Stop> {
    let (rx, tx) = match nix::unistd::pipe() {
        Ok(p) => p,
        Err(e) => return Some((None, format!("cannot read: {e}"))),
    };
    let mut reader = input.reader;
    let copier = std::thread::spawn(move || -> std::io::Result<()> {
        let mut out = std::fs::File::from(tx);
        match std::io::copy(&mut reader, &mut out) {
            // libpcap stopped reading (damage, or a bad header): not the stream's fault.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.map(|_| ()),
        }
    });
    let raw = rx.into_raw_fd();
    // SAFETY: `raw` is an open descriptor this function owns; libpcap takes it over
    // (fdopen) and closes it when the capture is dropped.
    let cap = unsafe { Capture::from_raw_fd_with_precision(raw, Precision::Nano) };
    if cap.is_err() {
        // libpcap did not keep it (its FILE, if any, is never used again): close it
        // so the copier stops on a broken pipe.
        // SAFETY: the descriptor is ours and nothing else uses it.
        unsafe { libc::close(raw) };
    }
    // Dropping the capture (inside) closes the pipe.
    let stop = read_classic(cap, None, filter, summary, sink);
    // At a clean end the copier has finished (libpcap saw the pipe close). After an
    // error it may be blocked reading a slow producer: wait briefly, never forever.
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
    while !copier.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let stream_error = if copier.is_finished() {
        copier.join().ok().and_then(Result::err)
    } else {
        None
    };
    match (stream_error, stop) {
        (Some(e), Some((frame, _))) => Some((frame, e.to_string())),
        (Some(e), None) => Some((Some(summary.first_frame + summary.frames), e.to_string())),
        (None, stop) => stop,
    }
}

/// A pcapng from any stream, every interface with its own link type.
fn read_pcapng(
    reader: Box<dyn Read + Send>,
    filter: Option<&str>,
    summary: &mut FileSummary,
    sink: &mut dyn FnMut(RawFrame<'_>),
) -> Option<Stop> {
    let mut walker = Walker::new(reader);
    let mut bpf = filter.map(bpf::Filter::new);
    let mut names: Vec<String> = Vec::new();
    let mut number = summary.first_frame;
    let mut first_unsupported: Option<u32> = None;
    loop {
        let item = match walker.next_item() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(message) => return Some((Some(number), message)),
        };
        match item {
            Item::Interface { index, interface } => {
                let link = link_of(interface.linktype);
                let name =
                    link.map_or_else(|| linktype_name(interface.linktype), |l| l.name().into());
                if !names.contains(&name) {
                    names.push(name.clone());
                    summary.link_type = names.join(",");
                }
                if index == 0 && summary.snaplen == 0 {
                    summary.snaplen = match interface.snaplen {
                        0 => 262_144,
                        n => n,
                    };
                }
                if let (Some(f), Some(_)) = (&mut bpf, link) {
                    if let Err(e) = f.prepare(interface.linktype) {
                        let expr = f.expr();
                        return Some(if summary.frames == 0 {
                            (None, format!("bad filter '{expr}': {e}"))
                        } else {
                            let msg =
                                format!("filter '{expr}' cannot be used on link type {name}: {e}");
                            (Some(number), msg)
                        });
                    }
                }
            }
            Item::Packet(p) => {
                let caplen = p.data.len() as u32;
                summary.count(p.ts, caplen, p.wire_len);
                let lt = p.interface.linktype;
                match link_of(lt) {
                    None => {
                        summary.unsupported_link_frames += 1;
                        first_unsupported.get_or_insert(lt);
                    }
                    Some(link) => {
                        if bpf.as_ref().is_none_or(|f| f.matches(lt, p.data)) {
                            sink(RawFrame {
                                number,
                                ts: p.ts,
                                link,
                                wire_len: p.wire_len,
                                data: p.data,
                            });
                        }
                    }
                }
                number += 1;
            }
        }
    }
    match first_unsupported {
        Some(lt) if summary.unsupported_link_frames == summary.frames => Some((
            None,
            format!("unsupported link type {lt} ({})", linktype_name(lt)),
        )),
        _ => None,
    }
}

/// The decoder's link type of a file-format link type (LINKTYPE_*).
fn link_of(linktype: u32) -> Option<LinkType> {
    i32::try_from(linktype).ok().and_then(LinkType::from_dlt)
}

fn linktype_name(linktype: u32) -> String {
    i32::try_from(linktype)
        .ok()
        .and_then(|n| pcap::Linktype(n).get_name().ok())
        .unwrap_or_else(|| format!("LINKTYPE_{linktype}"))
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

fn cap_snaplen(cap: &Capture<Offline>) -> u32 {
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
