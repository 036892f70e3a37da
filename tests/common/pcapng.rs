//! A small pcapng writer for tests, independent of the crate under test: sections in
//! either byte order, interfaces of any link type and timestamp resolution, enhanced
//! and simple packet blocks and arbitrary blocks, so multi-interface, multi-section
//! and damaged files can be made at test time (`merge` interleaves classic captures
//! by time, one interface each, as `dumpcap -i a -i b` or `mergecap` write them).

use super::pcap::Pcap;

pub const SHB: u32 = 0x0a0d_0d0a;
pub const IDB: u32 = 1;
pub const SPB: u32 = 3;
pub const EPB: u32 = 6;

pub struct Pcapng {
    big_endian: bool,
    out: Vec<u8>,
    /// Timestamp units per second of each interface of the current section.
    units: Vec<u64>,
    /// Start offset of every block written, with its type.
    pub blocks: Vec<(usize, u32)>,
}

impl Pcapng {
    /// A file that starts with a section header in this byte order.
    pub fn new(big_endian: bool) -> Pcapng {
        let mut p = Pcapng {
            big_endian,
            out: Vec::new(),
            units: Vec::new(),
            blocks: Vec::new(),
        };
        p.section(big_endian);
        p
    }

    fn w16(&self, v: u16) -> [u8; 2] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn w32(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// Any block: type, body (padded to 4 bytes), both lengths.
    pub fn block(&mut self, t: u32, body: &[u8]) -> &mut Pcapng {
        let mut body = body.to_vec();
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let len = (12 + body.len()) as u32;
        self.blocks.push((self.out.len(), t));
        let (t, l) = (self.w32(t), self.w32(len));
        self.out.extend_from_slice(&t);
        self.out.extend_from_slice(&l);
        self.out.extend(body);
        self.out.extend_from_slice(&l);
        self
    }

    /// A new section (its interfaces start from 0 again).
    pub fn section(&mut self, big_endian: bool) -> &mut Pcapng {
        self.big_endian = big_endian;
        self.units.clear();
        let mut body = self.w32(0x1a2b_3c4d).to_vec();
        body.extend_from_slice(&self.w16(1));
        body.extend_from_slice(&self.w16(0));
        body.extend_from_slice(&[0xff; 8]); // section length unknown
        self.block(SHB, &body)
    }

    /// An interface of `linktype` with timestamps in 10^-`tsresol` s (6 is the
    /// default and written without the option).
    pub fn interface(&mut self, linktype: u16, tsresol: u8) -> &mut Pcapng {
        let mut body = self.w16(linktype).to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.w32(262_144));
        if tsresol != 6 {
            body.extend_from_slice(&self.w16(9));
            body.extend_from_slice(&self.w16(1));
            body.extend_from_slice(&[tsresol, 0, 0, 0]);
            body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
        }
        self.units.push(10u64.pow(u32::from(tsresol)));
        self.block(IDB, &body)
    }

    /// An enhanced packet block on interface `iface` at `ts_ns`.
    pub fn packet(&mut self, iface: u32, ts_ns: u64, wire_len: u32, data: &[u8]) -> &mut Pcapng {
        let per_s = self.units[iface as usize];
        let units = (u128::from(ts_ns) * u128::from(per_s) / 1_000_000_000) as u64;
        let mut body = self.w32(iface).to_vec();
        body.extend_from_slice(&self.w32((units >> 32) as u32));
        body.extend_from_slice(&self.w32(units as u32));
        body.extend_from_slice(&self.w32(data.len() as u32));
        body.extend_from_slice(&self.w32(wire_len));
        body.extend_from_slice(data);
        self.block(EPB, &body)
    }

    /// A simple packet block (interface 0, no timestamp).
    pub fn simple(&mut self, data: &[u8]) -> &mut Pcapng {
        let mut body = self.w32(data.len() as u32).to_vec();
        body.extend_from_slice(data);
        self.block(SPB, &body)
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.out.clone()
    }

    /// Start offsets of the packet blocks (enhanced and simple), in file order.
    pub fn packet_offsets(&self) -> Vec<usize> {
        self.blocks
            .iter()
            .filter(|(_, t)| *t == EPB || *t == SPB)
            .map(|(o, _)| *o)
            .collect()
    }
}

/// A classic record's time in nanoseconds.
pub fn record_ns(p: &Pcap, i: usize) -> u64 {
    let r = &p.records[i];
    let frac = if p.nanos {
        u64::from(r.ts_frac)
    } else {
        u64::from(r.ts_frac) * 1000
    };
    u64::from(r.ts_sec) * 1_000_000_000 + frac
}

/// Classic captures merged by time into one section, one interface per capture with
/// that capture's link type (ties keep the order given).
pub fn merge(pcaps: &[&Pcap], big_endian: bool, tsresol: u8) -> Pcapng {
    let mut out = Pcapng::new(big_endian);
    for p in pcaps {
        out.interface(p.linktype as u16, tsresol);
    }
    let mut all: Vec<(u64, usize, usize)> = Vec::new();
    for (k, p) in pcaps.iter().enumerate() {
        for i in 0..p.records.len() {
            all.push((record_ns(p, i), k, i));
        }
    }
    all.sort();
    for (ts, k, i) in all {
        let r = &pcaps[k].records[i];
        out.packet(k as u32, ts, r.orig_len, &r.data);
    }
    out
}
