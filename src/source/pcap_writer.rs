//! Classic pcap files written record by record (`capture -w`, the `--write-flagged`
//! spool and output). It replaces libpcap's `pcap_dump`, which reports no error: a
//! full disk used to leave a file cut inside a record and a successful exit.
//!
//! Every write to the file is checked. On the first failure the writer stops writing,
//! cuts the file back to the end of the last whole record (so what is on disk still
//! reads as a valid pcap), and keeps the failure (which record, the OS error) for the
//! caller to report. Records are buffered (64 KiB) between flushes.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use crate::decode::LinkType;
use crate::model::Ts;

/// Flush when the buffer holds this much.
const BUFFER: usize = 64 << 10;

/// The first failed write: what the file holds and why the rest is missing.
#[derive(Debug)]
pub struct WriteFailure {
    /// Whole records in the file (the header alone: 0).
    pub records_kept: u64,
    /// Records accepted but not in the file, counted up to the failure.
    pub records_lost: u64,
    pub error: io::Error,
    /// False when the file could not be cut back to a record boundary: it may end
    /// inside a record.
    pub cut_back: bool,
}

pub struct PcapWriter {
    file: File,
    buf: Vec<u8>,
    /// End offset in `buf` of each record it holds (the header counts as one end).
    ends: Vec<usize>,
    /// Bytes already in the file, all of them whole records.
    on_disk: u64,
    records_on_disk: u64,
    records_in_buf: u64,
    failed: Option<WriteFailure>,
}

/// The file-format link type (LINKTYPE_*) of a link libpcap reported by its DLT.
pub fn linktype_number(link: LinkType) -> u32 {
    match link {
        LinkType::Null => 0,
        LinkType::Ethernet => 1,
        LinkType::RawIp => 101,
        LinkType::Loop => 108,
        LinkType::LinuxSll => 113,
        LinkType::Ipv4 => 228,
        LinkType::Ipv6 => 229,
        LinkType::LinuxSll2 => 276,
    }
}

impl PcapWriter {
    /// Creates (truncates) `path` and queues the header: nanosecond timestamps,
    /// native byte order. A failure to write the header shows at the first flush.
    pub fn create(path: &Path, link: LinkType, snaplen: u32) -> io::Result<PcapWriter> {
        let file = File::create(path)?;
        Ok(PcapWriter::to_file(file, link, snaplen))
    }

    fn to_file(file: File, link: LinkType, snaplen: u32) -> PcapWriter {
        let mut buf = Vec::with_capacity(BUFFER + 512);
        buf.extend_from_slice(&0xa1b2_3c4du32.to_ne_bytes());
        buf.extend_from_slice(&2u16.to_ne_bytes());
        buf.extend_from_slice(&4u16.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // thiszone
        buf.extend_from_slice(&0u32.to_ne_bytes()); // sigfigs
        buf.extend_from_slice(&snaplen.to_ne_bytes());
        buf.extend_from_slice(&linktype_number(link).to_ne_bytes());
        PcapWriter {
            file,
            ends: vec![buf.len()],
            buf,
            on_disk: 0,
            records_on_disk: 0,
            records_in_buf: 0,
            failed: None,
        }
    }

    /// Appends one record. Does nothing once a write has failed; returns whether the
    /// writer is still healthy.
    pub fn write(&mut self, ts: Ts, wire_len: u32, data: &[u8]) -> bool {
        let secs = ts.0.div_euclid(1_000_000_000);
        let nanos = ts.0.rem_euclid(1_000_000_000) as u32;
        if self.failed.is_some() {
            if let Some(f) = &mut self.failed {
                f.records_lost += 1;
            }
            return false;
        }
        // The format's seconds are 32 bits; wire_len is at least what was captured.
        let caplen = data.len().min(u32::MAX as usize) as u32;
        self.buf.extend_from_slice(&(secs as u32).to_ne_bytes());
        self.buf.extend_from_slice(&nanos.to_ne_bytes());
        self.buf.extend_from_slice(&caplen.to_ne_bytes());
        self.buf
            .extend_from_slice(&wire_len.max(caplen).to_ne_bytes());
        self.buf.extend_from_slice(&data[..caplen as usize]);
        self.ends.push(self.buf.len());
        self.records_in_buf += 1;
        if self.buf.len() >= BUFFER {
            self.flush();
        }
        self.failed.is_none()
    }

    /// Writes out what is buffered. On a failure the writer stops for good.
    pub fn flush(&mut self) -> Option<&WriteFailure> {
        if self.failed.is_some() || self.buf.is_empty() {
            return self.failed.as_ref();
        }
        let mut done = 0usize;
        let mut error = None;
        while done < self.buf.len() {
            match self.file.write(&self.buf[done..]) {
                Ok(0) => {
                    error = Some(io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let (whole_records, boundary) = whole_prefix(&self.ends, self.on_disk == 0, done);
        match error {
            None => {
                self.on_disk += done as u64;
                self.records_on_disk += self.records_in_buf;
                self.records_in_buf = 0;
                self.buf.clear();
                self.ends.clear();
                None
            }
            Some(error) => {
                let boundary = self.on_disk + boundary as u64;
                // Cut the partial record off; on a full disk this frees space, so it
                // works. A character device (/dev/full) cannot be cut: nothing to do.
                let cut_back =
                    done as u64 + self.on_disk == boundary || self.file.set_len(boundary).is_ok();
                let kept = self.records_on_disk + whole_records;
                self.failed = Some(WriteFailure {
                    records_kept: kept,
                    records_lost: self.records_in_buf - whole_records,
                    error,
                    cut_back,
                });
                self.buf = Vec::new();
                self.ends = Vec::new();
                self.failed.as_ref()
            }
        }
    }

    pub fn failure(&self) -> Option<&WriteFailure> {
        self.failed.as_ref()
    }

    /// Records written so far (in the file or still buffered).
    pub fn records(&self) -> u64 {
        self.records_on_disk + self.records_in_buf
    }

    /// Flushes and closes: the number of records in the file, or the failure.
    pub fn finish(mut self) -> Result<u64, WriteFailure> {
        self.flush();
        match self.failed.take() {
            Some(f) => Err(f),
            None => Ok(self.records_on_disk),
        }
    }
}

/// Of a buffer whose records end at `ends` (the header's end first while the header
/// is not on disk yet), when `done` bytes were written: how many whole records that
/// is, and where the last whole one (or the header) ends.
fn whole_prefix(ends: &[usize], header_pending: bool, done: usize) -> (u64, usize) {
    let whole = ends.iter().take_while(|&&end| end <= done).count();
    let boundary = whole.checked_sub(1).map_or(0, |i| ends[i]);
    let records = if header_pending {
        whole.saturating_sub(1)
    } else {
        whole
    };
    (records as u64, boundary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u8) -> Vec<u8> {
        vec![n; 100]
    }

    #[test]
    fn writes_a_pcap_libpcap_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.pcap");
        let mut w = PcapWriter::create(&path, LinkType::RawIp, 256).unwrap();
        assert!(w.write(
            Ts::from_secs_nanos(1_700_000_000, 123_456_789),
            120,
            &record(1)
        ));
        assert!(w.write(Ts::from_secs_nanos(1_700_000_001, 5), 100, &record(2)));
        assert_eq!(w.finish().unwrap(), 2);
        let mut cap =
            pcap::Capture::from_file_with_precision(&path, pcap::Precision::Nano).unwrap();
        // libpcap's DLT for LINKTYPE_RAW on Linux.
        assert_eq!(cap.get_datalink().0, 12);
        let p = cap.next_packet().unwrap();
        assert_eq!(
            (p.header.ts.tv_sec, p.header.ts.tv_usec),
            (1_700_000_000, 123_456_789)
        );
        assert_eq!((p.header.caplen, p.header.len), (100, 120));
        assert_eq!(p.data, &record(1)[..]);
        assert_eq!(cap.next_packet().unwrap().data, &record(2)[..]);
        assert!(cap.next_packet().is_err());
    }

    #[test]
    fn a_full_device_is_an_error_not_silence() {
        let Ok(file) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
            return;
        };
        let mut w = PcapWriter::to_file(file, LinkType::Ethernet, 256);
        // Buffered: the failure shows at the flush, and every later write says so.
        assert!(w.write(Ts(1), 100, &record(1)));
        let f = w.flush().expect("a failure");
        assert_eq!(f.error.raw_os_error(), Some(28), "ENOSPC: {}", f.error);
        assert_eq!((f.records_kept, f.records_lost), (0, 1));
        assert!(!w.write(Ts(2), 100, &record(2)));
        let f = w.finish().unwrap_err();
        assert_eq!((f.records_kept, f.records_lost), (0, 2));
    }

    #[test]
    fn a_partial_write_keeps_whole_records_only() {
        // Header (24) then records of 116 bytes.
        let ends = [24, 140, 256, 372];
        assert_eq!(whole_prefix(&ends, true, 0), (0, 0));
        assert_eq!(whole_prefix(&ends, true, 23), (0, 0));
        assert_eq!(whole_prefix(&ends, true, 24), (0, 24));
        assert_eq!(whole_prefix(&ends, true, 200), (1, 140));
        assert_eq!(whole_prefix(&ends, true, 372), (3, 372));
        // Header already on disk: every end is a record's.
        let ends = [116, 232];
        assert_eq!(whole_prefix(&ends, false, 115), (0, 0));
        assert_eq!(whole_prefix(&ends, false, 116), (1, 116));
        assert_eq!(whole_prefix(&ends, false, 300), (2, 232));
    }
}
