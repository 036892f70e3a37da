//! pcapng read block by block from any byte stream (a file, standard input, a
//! decompressor), with every interface keeping its own link type: what dumpcap
//! writes for `-i eth0 -i any`, which libpcap 1.10 refuses as a whole.
//!
//! Blocks: Section Header (each section has its own byte order and interfaces),
//! Interface Description (link type, snaplen, `if_tsresol`, `if_tsoffset`),
//! Enhanced Packet, Simple Packet, the obsolete Packet block; any other block is
//! skipped. Every length is checked against the block before it is used, so a
//! damaged file ends the walk with an error saying what is wrong, never a panic, and
//! the packets before the damage have been delivered.

use std::io::{self, Read};

use crate::model::Ts;

/// Largest block accepted (libpcap's limit for pcapng blocks).
pub const MAX_BLOCK: usize = 16 << 20;
/// Read size.
const CHUNK: usize = 1 << 20;

const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const OLD_PACKET: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

/// One interface of the current section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// File-format link type (LINKTYPE_*).
    pub linktype: u32,
    /// 0: no limit.
    pub snaplen: u32,
    resolution: Resolution,
    /// Seconds added to every timestamp (`if_tsoffset`).
    offset_s: i64,
}

/// Timestamp units per second: 10^n or 2^n (`if_tsresol`; default microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolution {
    Pow10(u8),
    Pow2(u8),
}

impl Resolution {
    fn of_option(b: u8) -> Resolution {
        if b & 0x80 == 0 {
            Resolution::Pow10(b)
        } else {
            Resolution::Pow2(b & 0x7f)
        }
    }

    /// Nanoseconds of `units` (saturating: a hostile value cannot overflow).
    fn nanos(self, units: u64) -> i64 {
        let units = u128::from(units);
        let ns = match self {
            Resolution::Pow10(n) if n <= 9 => units * 10u128.pow(u32::from(9 - n)),
            Resolution::Pow10(n) => {
                units / 10u128.checked_pow(u32::from(n - 9)).unwrap_or(u128::MAX)
            }
            Resolution::Pow2(n) if n <= 64 => (units * 1_000_000_000) >> n,
            Resolution::Pow2(_) => 0,
        };
        ns.min(i64::MAX as u128) as i64
    }
}

/// What the walker found.
#[derive(Debug)]
pub enum Item<'a> {
    /// An interface was described (its index in the current section is `index`).
    Interface {
        index: usize,
        interface: &'a Interface,
    },
    Packet(Packet<'a>),
}

#[derive(Debug)]
pub struct Packet<'a> {
    pub interface: &'a Interface,
    pub ts: Ts,
    pub wire_len: u32,
    pub data: &'a [u8],
}

pub struct Walker<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Byte offset of buf[start] in the stream.
    offset: u64,
    big_endian: bool,
    in_section: bool,
    interfaces: Vec<Interface>,
    /// Timestamp of the last packet: Simple Packet Blocks have none of their own.
    last_ts: Ts,
}

impl<R: Read> Walker<R> {
    pub fn new(inner: R) -> Walker<R> {
        Walker {
            inner,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            offset: 0,
            big_endian: false,
            in_section: false,
            interfaces: Vec::new(),
            last_ts: Ts::ZERO,
        }
    }

    /// Makes at least `n` bytes available at `buf[start..]`. Ok(false) when the
    /// stream ends first (`end - start` tells how many there are).
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.end - self.start >= n {
            return Ok(true);
        }
        if self.start + n > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if n > self.buf.len() {
                self.buf.resize(n.next_multiple_of(CHUNK), 0);
            }
        }
        while self.end - self.start < n {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => return Ok(false),
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    fn u32_at(&self, b: &[u8], at: usize) -> u32 {
        let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    fn u16_at(&self, b: &[u8], at: usize) -> u16 {
        let a = [b[at], b[at + 1]];
        if self.big_endian {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    }

    /// The next interface or packet; Ok(None) at a clean end (the stream ends between
    /// blocks). An error says what is wrong and where; the walk cannot go on after it.
    pub fn next_item(&mut self) -> Result<Option<Item<'_>>, String> {
        loop {
            let at = self.offset;
            if !self.fill(8).map_err(|e| e.to_string())? {
                return match self.end - self.start {
                    0 => Ok(None),
                    n => Err(format!(
                        "file ends inside a block header at byte {at} ({n} of 8 bytes)"
                    )),
                };
            }
            let head = &self.buf[self.start..self.start + 8];
            let raw_type = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            if raw_type == SHB {
                // The byte order of the section comes from its own header.
                if !self.fill(12).map_err(|e| e.to_string())? {
                    return Err(format!("file ends inside a section header at byte {at}"));
                }
                let b = &self.buf[self.start + 8..self.start + 12];
                self.big_endian = match u32::from_le_bytes([b[0], b[1], b[2], b[3]]) {
                    BYTE_ORDER_MAGIC => false,
                    m if m.swap_bytes() == BYTE_ORDER_MAGIC => true,
                    _ => {
                        return Err(format!(
                            "section header at byte {at} has no valid byte-order magic"
                        ))
                    }
                };
            } else if !self.in_section {
                return Err("not a pcapng file (no section header first)".into());
            }
            let head = &self.buf[self.start..self.start + 8];
            let block_type = self.u32_at(head, 0);
            let len = self.u32_at(head, 4) as usize;
            if len < 12 || len % 4 != 0 || len > MAX_BLOCK {
                return Err(format!(
                    "block at byte {at} has a bad length ({len}: below 12, not a multiple of 4, or above {MAX_BLOCK})"
                ));
            }
            if !self.fill(len).map_err(|e| e.to_string())? {
                return Err(format!(
                    "file ends inside a block at byte {at} ({} of {len} bytes)",
                    self.end - self.start
                ));
            }
            let block = &self.buf[self.start..self.start + len];
            let trailer = self.u32_at(block, len - 4) as usize;
            if trailer != len {
                return Err(format!(
                    "block at byte {at} has different lengths at its start ({len}) and end ({trailer})"
                ));
            }
            // The block is whole: consume it now, parse from its copy of the range.
            let (b0, b1) = (self.start + 8, self.start + len - 4);
            self.start += len;
            self.offset += len as u64;
            match block_type {
                SHB => {
                    let body = &self.buf[b0..b1];
                    if body.len() < 16 {
                        return Err(format!("section header at byte {at} is too short"));
                    }
                    let major = self.u16_at(body, 4);
                    if major != 1 {
                        return Err(format!(
                            "section header at byte {at} has unsupported version {major}"
                        ));
                    }
                    self.in_section = true;
                    self.interfaces.clear();
                }
                IDB => {
                    let body = &self.buf[b0..b1];
                    if body.len() < 8 {
                        return Err(format!("interface description at byte {at} is too short"));
                    }
                    let interface = Interface {
                        linktype: u32::from(self.u16_at(body, 0)),
                        snaplen: self.u32_at(body, 4),
                        resolution: Resolution::Pow10(6),
                        offset_s: 0,
                    };
                    let interface = self.interface_options(interface, &body[8..]);
                    self.interfaces.push(interface);
                    let index = self.interfaces.len() - 1;
                    return Ok(Some(Item::Interface {
                        index,
                        interface: &self.interfaces[index],
                    }));
                }
                EPB | OLD_PACKET => {
                    let body = &self.buf[b0..b1];
                    if body.len() < 20 {
                        return Err(format!("packet block at byte {at} is too short"));
                    }
                    let id = if block_type == EPB {
                        self.u32_at(body, 0) as usize
                    } else {
                        usize::from(self.u16_at(body, 0))
                    };
                    let units =
                        u64::from(self.u32_at(body, 4)) << 32 | u64::from(self.u32_at(body, 8));
                    let caplen = self.u32_at(body, 12) as usize;
                    let wire_len = self.u32_at(body, 16);
                    let Some(data) = body.get(20..).and_then(|d| d.get(..caplen)) else {
                        return Err(format!(
                            "packet block at byte {at} says {caplen} captured bytes, more than the block holds"
                        ));
                    };
                    let Some(interface) = self.interfaces.get(id) else {
                        return Err(self.no_interface(at, id));
                    };
                    let ts = Ts(interface
                        .resolution
                        .nanos(units)
                        .saturating_add(interface.offset_s.saturating_mul(1_000_000_000)));
                    self.last_ts = ts;
                    return Ok(Some(Item::Packet(Packet {
                        interface,
                        ts,
                        wire_len,
                        data,
                    })));
                }
                SPB => {
                    let body = &self.buf[b0..b1];
                    if body.len() < 4 {
                        return Err(format!("simple packet block at byte {at} is too short"));
                    }
                    let Some(interface) = self.interfaces.first() else {
                        return Err(self.no_interface(at, 0));
                    };
                    let wire_len = self.u32_at(body, 0);
                    // The captured length is implied: the original length, cut by the
                    // interface's snaplen and by the block.
                    let mut caplen = (wire_len as usize).min(body.len() - 4);
                    if interface.snaplen > 0 {
                        caplen = caplen.min(interface.snaplen as usize);
                    }
                    return Ok(Some(Item::Packet(Packet {
                        interface,
                        ts: self.last_ts,
                        wire_len,
                        data: &body[4..4 + caplen],
                    })));
                }
                // Name resolution, statistics, custom, decryption secrets...: not ours.
                _ => {}
            }
        }
    }

    fn no_interface(&self, at: u64, id: usize) -> String {
        format!(
            "packet block at byte {at} is on interface {id}, but its section describes {}",
            self.interfaces.len()
        )
    }

    /// `if_tsresol` (9) and `if_tsoffset` (14). Malformed options end the list
    /// (they only refine the timestamps).
    fn interface_options(&self, mut i: Interface, mut opts: &[u8]) -> Interface {
        while opts.len() >= 4 {
            let code = self.u16_at(opts, 0);
            let len = usize::from(self.u16_at(opts, 2));
            let Some(value) = opts.get(4..4 + len) else {
                break;
            };
            match (code, len) {
                (0, _) => break,
                (9, 1) => i.resolution = Resolution::of_option(value[0]),
                (14, 8) => {
                    let v: [u8; 8] = value.try_into().unwrap_or_default();
                    i.offset_s = if self.big_endian {
                        i64::from_be_bytes(v)
                    } else {
                        i64::from_le_bytes(v)
                    };
                }
                _ => {}
            }
            opts = opts.get(4 + len.next_multiple_of(4)..).unwrap_or_default();
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block in the given byte order: type, body (padded), lengths.
    fn block(be: bool, t: u32, body: &[u8]) -> Vec<u8> {
        let w = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut body = body.to_vec();
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let len = (12 + body.len()) as u32;
        let mut out = w(t).to_vec();
        out.extend_from_slice(&w(len));
        out.extend(body);
        out.extend_from_slice(&w(len));
        out
    }

    fn shb(be: bool) -> Vec<u8> {
        let mut body = Vec::new();
        if be {
            body.extend_from_slice(&BYTE_ORDER_MAGIC.to_be_bytes());
            body.extend_from_slice(&1u16.to_be_bytes());
            body.extend_from_slice(&0u16.to_be_bytes());
        } else {
            body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
            body.extend_from_slice(&1u16.to_le_bytes());
            body.extend_from_slice(&0u16.to_le_bytes());
        }
        body.extend_from_slice(&[0xff; 8]);
        block(be, SHB, &body)
    }

    fn idb(be: bool, linktype: u16, tsresol: Option<u8>) -> Vec<u8> {
        let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut body = w16(linktype).to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&if be {
            0u32.to_be_bytes()
        } else {
            0u32.to_le_bytes()
        });
        if let Some(r) = tsresol {
            body.extend_from_slice(&w16(9));
            body.extend_from_slice(&w16(1));
            body.extend_from_slice(&[r, 0, 0, 0]);
            body.extend_from_slice(&[0, 0, 0, 0]);
        }
        block(be, IDB, &body)
    }

    fn epb(be: bool, id: u32, units: u64, data: &[u8]) -> Vec<u8> {
        let w = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut body = w(id).to_vec();
        body.extend_from_slice(&w((units >> 32) as u32));
        body.extend_from_slice(&w(units as u32));
        body.extend_from_slice(&w(data.len() as u32));
        body.extend_from_slice(&w(data.len() as u32 + 10));
        body.extend_from_slice(data);
        block(be, EPB, &body)
    }

    /// Interface linktype, ts, wire_len, data.
    type Seen = (u32, i64, u32, Vec<u8>);

    /// Every packet, and the error that ended the walk.
    fn walk(bytes: &[u8]) -> (Vec<Seen>, Option<String>) {
        let mut w = Walker::new(bytes);
        let mut out = Vec::new();
        loop {
            match w.next_item() {
                Ok(None) => return (out, None),
                Ok(Some(Item::Packet(p))) => {
                    out.push((p.interface.linktype, p.ts.0, p.wire_len, p.data.to_vec()))
                }
                Ok(Some(Item::Interface { .. })) => {}
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn interfaces_keep_their_link_types_and_resolutions() {
        let mut f = shb(false);
        f.extend(idb(false, 1, None));
        f.extend(idb(false, 276, Some(9)));
        f.extend(epb(false, 0, 1_500_000, b"eth"));
        f.extend(block(false, 0x0000_0bad, b"custom block, skipped"));
        f.extend(epb(false, 1, 2_000_000_001, b"sll2"));
        let (p, err) = walk(&f);
        assert_eq!(err, None);
        assert_eq!(
            p,
            vec![
                (1, 1_500_000_000, 13, b"eth".to_vec()),
                (276, 2_000_000_001, 14, b"sll2".to_vec()),
            ]
        );
    }

    #[test]
    fn sections_each_have_their_byte_order_and_interfaces() {
        let mut f = shb(false);
        f.extend(idb(false, 1, None));
        f.extend(epb(false, 0, 1, b"a"));
        f.extend(shb(true));
        f.extend(idb(true, 101, Some(0x80 | 10)));
        f.extend(epb(true, 0, 1024, b"bb"));
        let (p, err) = walk(&f);
        assert_eq!(err, None);
        assert_eq!(p[0], (1, 1_000, 11, b"a".to_vec()));
        // 1024 units of 2^-10 s = 1 s.
        assert_eq!(p[1], (101, 1_000_000_000, 12, b"bb".to_vec()));
        // Interface 1 of the first section does not exist in the second.
        let mut g = f.clone();
        g.extend(epb(true, 1, 0, b"c"));
        let (p, err) = walk(&g);
        assert_eq!(p.len(), 2);
        assert!(err.unwrap().contains("on interface 1"));
    }

    #[test]
    fn simple_packets_use_interface_zero_and_the_last_time() {
        let mut f = shb(false);
        f.extend(idb(false, 1, None));
        f.extend(epb(false, 0, 7, b"x"));
        let mut spb = 6u32.to_le_bytes().to_vec();
        spb.extend_from_slice(b"simple");
        f.extend(block(false, SPB, &spb));
        let (p, err) = walk(&f);
        assert_eq!(err, None);
        assert_eq!(p[1], (1, 7_000, 6, b"simple".to_vec()));
    }

    #[test]
    fn damage_is_an_error_after_the_packets_before_it() {
        let mut good = shb(false);
        good.extend(idb(false, 1, None));
        good.extend(epb(false, 0, 1, b"first"));
        let second = epb(false, 0, 2, b"second");
        // Cut inside the second block, inside its header, and a bad length.
        for (cut, what) in [
            (second.len() - 3, "ends inside a block"),
            (5, "inside a block header"),
        ] {
            let mut f = good.clone();
            f.extend_from_slice(&second[..cut]);
            let (p, err) = walk(&f);
            assert_eq!(p.len(), 1);
            assert!(err.as_deref().unwrap_or("").contains(what), "{err:?}");
        }
        for bad_len in [0u32, 7, 13, 0xffff_fff0] {
            let mut f = good.clone();
            let mut b = second.clone();
            b[4..8].copy_from_slice(&bad_len.to_le_bytes());
            f.extend(b);
            let (p, err) = walk(&f);
            assert_eq!(p.len(), 1);
            assert!(err.unwrap().contains("bad length"));
        }
        // Trailer disagrees.
        let mut f = good.clone();
        let mut b = second.clone();
        let n = b.len();
        b[n - 4..].copy_from_slice(&(n as u32 + 4).to_le_bytes());
        f.extend(b);
        assert!(walk(&f).1.unwrap().contains("different lengths"));
        // caplen larger than the block.
        let mut f = good.clone();
        let mut b = second.clone();
        b[20..24].copy_from_slice(&1000u32.to_le_bytes());
        f.extend(b);
        assert!(walk(&f).1.unwrap().contains("more than the block holds"));
        // Packet before any interface.
        let mut f = shb(false);
        f.extend(epb(false, 0, 1, b"x"));
        assert!(walk(&f).1.unwrap().contains("describes 0"));
    }

    #[test]
    fn hostile_resolutions_do_not_overflow() {
        for r in [0u8, 9, 19, 38, 127, 0x80, 0x80 | 64, 0xff] {
            let res = Resolution::of_option(r);
            for units in [0, 1, u64::MAX] {
                assert!(res.nanos(units) >= 0);
            }
        }
        assert_eq!(Resolution::Pow10(9).nanos(5), 5);
        assert_eq!(Resolution::Pow10(12).nanos(5_000), 5);
    }

    #[test]
    fn random_bytes_after_a_good_start_never_panic() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut start = shb(false);
        start.extend(idb(false, 1, Some(9)));
        for round in 0..2_000 {
            let mut f = start.clone();
            let n = (round * 7) % 300;
            for _ in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                f.push(x as u8);
            }
            // Sometimes a plausible block header with a random length.
            if round % 3 == 0 && f.len() > start.len() + 8 {
                let at = start.len();
                f[at..at + 4].copy_from_slice(&6u32.to_le_bytes());
            }
            let _ = walk(&f);
        }
    }
}
