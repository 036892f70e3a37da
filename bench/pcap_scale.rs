//! Benchmark corpus tool: writes N copies of a classic pcap file end to end, each copy
//! shifted in time (after the previous copy's last frame) and in address space (copy k
//! XORs k into the second byte of every IPv4/IPv6 source and destination address), so the
//! copies' connections never share a 4-tuple and timestamps stay monotonic. IPv4 header and
//! TCP/UDP checksums are patched incrementally (RFC 1624), so the copies stay as valid as
//! the original. Ethernet (with VLAN tags) and raw IP link types are rewritten; frames of
//! other kinds are copied unchanged.
//!
//! Usage: pcap_scale IN.pcap N OUT.pcap

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: pcap_scale IN.pcap N OUT.pcap");
        std::process::exit(2);
    }
    let copies: u32 = match args[2].parse() {
        Ok(n) if (1..=255).contains(&n) => n,
        _ => {
            eprintln!("N must be 1..=255");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args[1], copies, &args[3]) {
        eprintln!("pcap_scale: {e}");
        std::process::exit(2);
    }
}

struct Header {
    raw: [u8; 24],
    swapped: bool,
    nanos: bool,
    link: u32,
}

fn read_header(r: &mut impl Read) -> std::io::Result<Header> {
    let mut raw = [0u8; 24];
    r.read_exact(&mut raw)?;
    let magic = u32::from_le_bytes(raw[0..4].try_into().unwrap());
    let (swapped, nanos) = match magic {
        0xa1b2_c3d4 => (false, false),
        0xa1b2_3c4d => (false, true),
        0xd4c3_b2a1 => (true, false),
        0x4d3c_b2a1 => (true, true),
        _ => return Err(std::io::Error::other("not a classic pcap file")),
    };
    let mut h = Header {
        raw,
        swapped,
        nanos,
        link: 0,
    };
    h.link = h.u32(&raw[20..24]) & 0x0fff_ffff;
    Ok(h)
}

impl Header {
    fn u32(&self, b: &[u8]) -> u32 {
        let v = u32::from_le_bytes(b[..4].try_into().unwrap());
        if self.swapped {
            v.swap_bytes()
        } else {
            v
        }
    }
    fn put_u32(&self, b: &mut [u8], v: u32) {
        let v = if self.swapped { v.swap_bytes() } else { v };
        b[..4].copy_from_slice(&v.to_le_bytes());
    }
    fn ts_ns(&self, rec: &[u8; 16]) -> u64 {
        let sec = u64::from(self.u32(&rec[0..4]));
        let frac = u64::from(self.u32(&rec[4..8]));
        sec * 1_000_000_000 + if self.nanos { frac } else { frac * 1000 }
    }
    fn set_ts_ns(&self, rec: &mut [u8; 16], ns: u64) {
        self.put_u32(&mut rec[0..4], (ns / 1_000_000_000) as u32);
        let frac = ns % 1_000_000_000;
        let frac = if self.nanos { frac } else { frac / 1000 };
        self.put_u32(&mut rec[4..8], frac as u32);
    }
}

/// First and last timestamp of the file, to place the copies one after another.
fn time_span(path: &str) -> std::io::Result<(u64, u64)> {
    let mut r = BufReader::with_capacity(1 << 20, File::open(path)?);
    let h = read_header(&mut r)?;
    let (mut first, mut last) = (None, 0u64);
    let mut rec = [0u8; 16];
    let mut buf = vec![0u8; 1 << 18];
    while r.read_exact(&mut rec).is_ok() {
        let ts = h.ts_ns(&rec);
        first.get_or_insert(ts);
        last = last.max(ts);
        let caplen = h.u32(&rec[8..12]) as usize;
        if caplen > buf.len() {
            return Err(std::io::Error::other("frame larger than 256 KiB"));
        }
        r.read_exact(&mut buf[..caplen])?;
    }
    Ok((first.unwrap_or(0), last))
}

fn run(input: &str, copies: u32, output: &str) -> std::io::Result<()> {
    let (first, last) = time_span(input)?;
    // One second of quiet between copies.
    let shift = last - first + 1_000_000_000;
    let mut w = BufWriter::with_capacity(1 << 20, File::create(output)?);
    let mut frames = 0u64;
    let mut buf = vec![0u8; 1 << 18];
    for k in 0..copies {
        let mut r = BufReader::with_capacity(1 << 20, File::open(input)?);
        let h = read_header(&mut r)?;
        if k == 0 {
            w.write_all(&h.raw)?;
        }
        let mut rec = [0u8; 16];
        while r.read_exact(&mut rec).is_ok() {
            let caplen = h.u32(&rec[8..12]) as usize;
            let frame = &mut buf[..caplen];
            r.read_exact(frame)?;
            if k > 0 {
                let ts = h.ts_ns(&rec) + u64::from(k) * shift;
                h.set_ts_ns(&mut rec, ts);
                rewrite(h.link, frame, k as u8);
            }
            w.write_all(&rec)?;
            w.write_all(frame)?;
            frames += 1;
        }
    }
    w.flush()?;
    eprintln!("pcap_scale: wrote {frames} frames ({copies} copies) to {output}");
    Ok(())
}

/// Moves one frame's addresses into copy `k`'s space.
fn rewrite(link: u32, frame: &mut [u8], k: u8) {
    let ip_start = match link {
        1 => {
            let mut off = 12;
            loop {
                if frame.len() < off + 2 {
                    return;
                }
                match u16::from_be_bytes([frame[off], frame[off + 1]]) {
                    0x8100 | 0x88a8 => off += 4,
                    0x0800 | 0x86dd => break off + 2,
                    _ => return,
                }
            }
        }
        101 | 228 | 229 => 0,
        _ => return,
    };
    let ip = &mut frame[ip_start..];
    let Some(&v) = ip.first() else { return };
    match v >> 4 {
        4 if ip.len() >= 20 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let proto = ip[9];
            let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
            let mut words = Vec::with_capacity(2);
            for a in [12usize, 16] {
                let old = u16::from_be_bytes([ip[a], ip[a + 1]]);
                ip[a + 1] ^= k;
                words.push((old, u16::from_be_bytes([ip[a], ip[a + 1]])));
            }
            patch(ip, 10, &words);
            if frag == 0 && ihl >= 20 {
                let at = ihl.min(ip.len());
                patch_l4(&mut ip[at..], proto, &words);
            }
        }
        6 if ip.len() >= 40 => {
            let proto = ip[6];
            let mut words = Vec::with_capacity(2);
            for a in [8usize, 24] {
                let old = u16::from_be_bytes([ip[a], ip[a + 1]]);
                ip[a + 1] ^= k;
                words.push((old, u16::from_be_bytes([ip[a], ip[a + 1]])));
            }
            patch_l4(&mut ip[40..], proto, &words);
        }
        _ => {}
    }
}

/// Patches the TCP or UDP checksum of a transport header for changed pseudo-header words.
fn patch_l4(l4: &mut [u8], proto: u8, words: &[(u16, u16)]) {
    match proto {
        6 if l4.len() >= 18 => patch(l4, 16, words),
        17 if l4.len() >= 8 && (l4[6], l4[7]) != (0, 0) => patch(l4, 6, words),
        _ => {}
    }
}

/// RFC 1624 incremental update of the checksum at `at`: HC' = ~(~HC + ~m + m').
fn patch(b: &mut [u8], at: usize, words: &[(u16, u16)]) {
    let mut sum = u32::from(!u16::from_be_bytes([b[at], b[at + 1]]));
    for &(old, new) in words {
        sum += u32::from(!old) + u32::from(new);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    b[at..at + 2].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}
