//! A small classic-pcap reader/writer and an independent reference decoder, used to
//! derive expectations from the packets themselves and to build damaged or
//! re-encapsulated inputs (Ethernet <-> cooked / raw / null / VLAN) at test time.
//! Deliberately independent of the crate under test.

use std::path::Path;

pub const LINKTYPE_NULL: u32 = 0;
pub const LINKTYPE_ETHERNET: u32 = 1;
pub const LINKTYPE_RAW: u32 = 101;
pub const LINKTYPE_LINUX_SLL: u32 = 113;
pub const LINKTYPE_LINUX_SLL2: u32 = 276;
pub const LINKTYPE_USER0: u32 = 147;

#[derive(Clone, Debug)]
pub struct Record {
    pub ts_sec: u32,
    /// Micro- or nanoseconds, as the file's magic says.
    pub ts_frac: u32,
    pub orig_len: u32,
    pub data: Vec<u8>,
}

#[derive(Clone, Debug)]
pub struct Pcap {
    pub big_endian: bool,
    pub nanos: bool,
    pub version: (u16, u16),
    pub snaplen: u32,
    pub linktype: u32,
    pub records: Vec<Record>,
}

fn rd16(b: &[u8], at: usize, be: bool) -> u16 {
    let a = [b[at], b[at + 1]];
    if be {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}

fn rd32(b: &[u8], at: usize, be: bool) -> u32 {
    let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

impl Pcap {
    pub fn parse(d: &[u8]) -> Pcap {
        Pcap::try_parse(d).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Parses a classic pcap file; Err for anything else (pcapng, cut files).
    pub fn try_parse(d: &[u8]) -> Result<Pcap, String> {
        if d.len() < 24 {
            return Err("pcap shorter than its header".into());
        }
        let (big_endian, nanos) = match d[..4] {
            [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
            [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
            [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
            [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
            _ => return Err("not a classic pcap file".into()),
        };
        let be = big_endian;
        let version = (rd16(d, 4, be), rd16(d, 6, be));
        let snaplen = rd32(d, 16, be);
        let linktype = rd32(d, 20, be) & 0x0fff_ffff;
        let mut records = Vec::new();
        let mut off = 24;
        while off < d.len() {
            if off + 16 > d.len() {
                return Err(format!("record header cut short at {off}"));
            }
            let ts_sec = rd32(d, off, be);
            let ts_frac = rd32(d, off + 4, be);
            let caplen = rd32(d, off + 8, be) as usize;
            let orig_len = rd32(d, off + 12, be);
            let start = off + 16;
            if start + caplen > d.len() {
                return Err(format!("record cut short at {off}"));
            }
            records.push(Record {
                ts_sec,
                ts_frac,
                orig_len,
                data: d[start..start + caplen].to_vec(),
            });
            off = start + caplen;
        }
        Ok(Pcap {
            big_endian,
            nanos,
            version,
            snaplen,
            linktype,
            records,
        })
    }

    pub fn read(path: &Path) -> Pcap {
        let d = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        Pcap::try_parse(&d).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// None when the file cannot be read or is not a complete classic pcap.
    pub fn try_read(path: &Path) -> Option<Pcap> {
        Pcap::try_parse(&std::fs::read(path).ok()?).ok()
    }

    fn w16(&self, out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }

    fn w32(&self, out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }

    pub fn header_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        let magic: u32 = if self.nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        self.w32(&mut out, magic);
        self.w16(&mut out, self.version.0);
        self.w16(&mut out, self.version.1);
        self.w32(&mut out, 0);
        self.w32(&mut out, 0);
        self.w32(&mut out, self.snaplen);
        self.w32(&mut out, self.linktype);
        out
    }

    pub fn record_bytes(&self, r: &Record) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + r.data.len());
        self.w32(&mut out, r.ts_sec);
        self.w32(&mut out, r.ts_frac);
        self.w32(&mut out, r.data.len() as u32);
        self.w32(&mut out, r.orig_len);
        out.extend_from_slice(&r.data);
        out
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header_bytes();
        for r in &self.records {
            out.extend(self.record_bytes(r));
        }
        out
    }

    /// Byte offset of each record header in `to_bytes()`.
    pub fn record_offsets(&self) -> Vec<usize> {
        let mut offs = Vec::new();
        let mut off = 24;
        for r in &self.records {
            offs.push(off);
            off += 16 + r.data.len();
        }
        offs
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, self.to_bytes()).expect("write pcap");
    }

    /// Same packets with a different link layer: `f(data) -> Some(new data)` per frame
    /// (None drops the frame). orig_len changes by the same amount as the captured length.
    pub fn relink(&self, linktype: u32, f: impl Fn(&[u8]) -> Option<Vec<u8>>) -> Pcap {
        let records = self
            .records
            .iter()
            .filter_map(|r| {
                let data = f(&r.data)?;
                let delta = data.len() as i64 - r.data.len() as i64;
                Some(Record {
                    ts_sec: r.ts_sec,
                    ts_frac: r.ts_frac,
                    orig_len: (i64::from(r.orig_len) + delta) as u32,
                    data,
                })
            })
            .collect();
        Pcap {
            linktype,
            records,
            ..self.clone()
        }
    }

    /// Cuts every record to `snaplen` captured bytes (orig_len kept), like `tcpdump -s`.
    pub fn cut_to(&self, snaplen: u32) -> Pcap {
        let mut p = self.clone();
        p.snaplen = snaplen;
        for r in &mut p.records {
            r.data.truncate(snaplen as usize);
        }
        p
    }

    /// Reference-decodes every frame.
    pub fn tcp_frames(&self) -> Vec<Option<RefSeg>> {
        self.records
            .iter()
            .map(|r| ref_decode(self.linktype, &r.data))
            .collect()
    }
}

// ---------------------------------------------------------------------------------
// Reference decoder

/// The IP packet inside a frame, for the link types the fixtures use.
pub fn network_of(linktype: u32, d: &[u8]) -> Option<&[u8]> {
    match linktype {
        LINKTYPE_ETHERNET => ethernet_payload(d),
        LINKTYPE_LINUX_SLL => {
            let proto = u16::from_be_bytes([*d.get(14)?, *d.get(15)?]);
            after_ethertype(proto, d.get(16..)?)
        }
        LINKTYPE_LINUX_SLL2 => {
            let proto = u16::from_be_bytes([*d.first()?, *d.get(1)?]);
            after_ethertype(proto, d.get(20..)?)
        }
        LINKTYPE_RAW | 12 | 14 => Some(d),
        LINKTYPE_NULL | 108 => d.get(4..),
        _ => None,
    }
}

/// The IP packet of an Ethernet frame (VLAN tags, MPLS, PPPoE sessions skipped).
fn ethernet_payload(d: &[u8]) -> Option<&[u8]> {
    let mut et = u16::from_be_bytes([*d.get(12)?, *d.get(13)?]);
    let mut at = 14;
    while matches!(et, 0x8100 | 0x88a8 | 0x9100) {
        et = u16::from_be_bytes([*d.get(at + 2)?, *d.get(at + 3)?]);
        at += 4;
    }
    after_ethertype(et, d.get(at..)?)
}

/// The IP packet behind an ethertype: IP itself, an MPLS label stack (up to the
/// bottom-of-stack bit), or a PPPoE session carrying IPv4/IPv6.
fn after_ethertype(et: u16, d: &[u8]) -> Option<&[u8]> {
    match et {
        0x0800 | 0x86dd => Some(d),
        0x8847 | 0x8848 => {
            let mut at = 0;
            loop {
                let bottom = *d.get(at + 2)? & 1 == 1;
                at += 4;
                if bottom {
                    break;
                }
            }
            matches!(d.get(at)? >> 4, 4 | 6).then(|| d.get(at..))?
        }
        0x8864 => {
            let ppp = u16::from_be_bytes([*d.get(6)?, *d.get(7)?]);
            matches!(ppp, 0x0021 | 0x0057).then(|| d.get(8..))?
        }
        _ => None,
    }
}

/// The source MAC a link layer carries, when it has one.
pub fn src_mac_of(linktype: u32, d: &[u8]) -> Option<[u8; 6]> {
    match linktype {
        LINKTYPE_ETHERNET => d.get(6..12)?.try_into().ok(),
        LINKTYPE_LINUX_SLL => {
            let arphrd = u16::from_be_bytes([*d.get(2)?, *d.get(3)?]);
            let alen = u16::from_be_bytes([*d.get(4)?, *d.get(5)?]);
            (arphrd == 1 && alen == 6).then(|| d.get(6..12)?.try_into().ok())?
        }
        LINKTYPE_LINUX_SLL2 => {
            let arphrd = u16::from_be_bytes([*d.get(8)?, *d.get(9)?]);
            (arphrd == 1 && *d.get(11)? == 6).then(|| d.get(12..18)?.try_into().ok())?
        }
        _ => None,
    }
}

/// One TCP segment as the reference decoder sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefSeg {
    /// "192.0.2.10:40001" / "[2001:db8::10]:40001"
    pub src: String,
    pub dst: String,
    pub seq: u32,
    pub ack: u32,
    /// TCP flag byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10).
    pub flags: u8,
    pub window: u16,
    /// Payload length from the IP header (what was on the wire).
    pub payload_len: u32,
    /// Payload bytes actually captured.
    pub captured_payload: u32,
}

impl RefSeg {
    pub fn syn(&self) -> bool {
        self.flags & 0x02 != 0
    }
    pub fn fin(&self) -> bool {
        self.flags & 0x01 != 0
    }
    pub fn rst(&self) -> bool {
        self.flags & 0x04 != 0
    }
    pub fn ack_flag(&self) -> bool {
        self.flags & 0x10 != 0
    }
    pub fn truncated(&self) -> bool {
        self.captured_payload < self.payload_len
    }
    /// Unordered 4-tuple key.
    pub fn key(&self) -> (String, String) {
        if self.src < self.dst {
            (self.src.clone(), self.dst.clone())
        } else {
            (self.dst.clone(), self.src.clone())
        }
    }
}

pub fn ref_decode(linktype: u32, frame: &[u8]) -> Option<RefSeg> {
    ref_ip(network_of(linktype, frame)?, 0)
}

/// What a tunnel carries, by this reference decoder's own reading of the headers:
/// IP in IP (protocol 4/41), GRE (checksum/key/sequence fields; IPv4, IPv6, Ethernet,
/// ERSPAN II/III), VXLAN (UDP 4789/8472), Geneve (UDP 6081).
fn tunnel_inner(proto: u8, payload: &[u8], depth: u32) -> Option<RefSeg> {
    let ip_or_eth = |et: u16, d: &[u8]| match et {
        0x0800 | 0x86dd => ref_ip(d, depth + 1),
        0x6558 => ref_ip(ethernet_payload(d)?, depth + 1),
        _ => None,
    };
    match proto {
        4 | 41 => ref_ip(payload, depth + 1),
        47 => {
            let flags = u16::from_be_bytes([*payload.first()?, *payload.get(1)?]);
            let et = u16::from_be_bytes([*payload.get(2)?, *payload.get(3)?]);
            let mut at = 4;
            for bit in [0x8000, 0x2000, 0x1000] {
                if flags & bit != 0 {
                    at += 4;
                }
            }
            let body = payload.get(at..)?;
            match et {
                0x88be => ip_or_eth(0x6558, body.get(8..)?),
                0x22eb => {
                    let sub = if body.get(11)? & 1 == 1 { 8 } else { 0 };
                    ip_or_eth(0x6558, body.get(12 + sub..)?)
                }
                _ => ip_or_eth(et, body),
            }
        }
        17 => {
            let dport = u16::from_be_bytes([*payload.get(2)?, *payload.get(3)?]);
            let udp = payload.get(8..)?;
            match dport {
                4789 | 8472 => ip_or_eth(0x6558, udp.get(8..)?),
                6081 => {
                    let opts = usize::from(udp.first()? & 0x3f) * 4;
                    let et = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
                    ip_or_eth(et, udp.get(8 + opts..)?)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn ref_ip(ip: &[u8], depth: u32) -> Option<RefSeg> {
    if depth > 4 {
        return None;
    }
    match ip.first()? >> 4 {
        4 => {
            if ip.len() < 20 {
                return None;
            }
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            if *ip.get(9)? != 6 {
                return tunnel_inner(ip[9], ip.get(ihl..total.max(ihl).min(ip.len()))?, depth);
            }
            let src = std::net::Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
            let dst = std::net::Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
            let tcp = ip.get(ihl..)?;
            tcp_part(
                tcp,
                total.checked_sub(ihl)?,
                &src.to_string(),
                &dst.to_string(),
                false,
            )
        }
        6 => {
            let plen = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
            let mut next = *ip.get(6)?;
            let s: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            let mut at = 40;
            let mut remaining = plen;
            // hop-by-hop, routing, destination options
            while matches!(next, 0 | 43 | 60) {
                let len = (usize::from(*ip.get(at + 1)?) + 1) * 8;
                next = *ip.get(at)?;
                at += len;
                remaining = remaining.checked_sub(len)?;
            }
            if next != 6 {
                return tunnel_inner(next, ip.get(at..)?, depth);
            }
            let src = std::net::Ipv6Addr::from(s).to_string();
            let dst = std::net::Ipv6Addr::from(d).to_string();
            tcp_part(ip.get(at..)?, remaining, &src, &dst, true)
        }
        _ => None,
    }
}

fn tcp_part(tcp: &[u8], tcp_total: usize, src: &str, dst: &str, v6: bool) -> Option<RefSeg> {
    let sport = u16::from_be_bytes([*tcp.first()?, *tcp.get(1)?]);
    let dport = u16::from_be_bytes([*tcp.get(2)?, *tcp.get(3)?]);
    let seq = u32::from_be_bytes(tcp.get(4..8)?.try_into().ok()?);
    let ack = u32::from_be_bytes(tcp.get(8..12)?.try_into().ok()?);
    let off = usize::from(*tcp.get(12)? >> 4) * 4;
    let flags = *tcp.get(13)?;
    let window = u16::from_be_bytes([*tcp.get(14)?, *tcp.get(15)?]);
    let payload_len = tcp_total.checked_sub(off)? as u32;
    let captured_payload = tcp.len().saturating_sub(off).min(payload_len as usize) as u32;
    let fmt = |a: &str, p: u16| {
        if v6 {
            format!("[{a}]:{p}")
        } else {
            format!("{a}:{p}")
        }
    };
    Some(RefSeg {
        src: fmt(src, sport),
        dst: fmt(dst, dport),
        seq,
        ack,
        flags,
        window,
        payload_len,
        captured_payload,
    })
}

// ---------------------------------------------------------------------------------
// Re-encapsulation

fn ethertype_of_ip(ip: &[u8]) -> Option<u16> {
    match ip.first()? >> 4 {
        4 => Some(0x0800),
        6 => Some(0x86dd),
        _ => None,
    }
}

/// An Ethernet frame around an IP packet, with the given source MAC.
pub fn ethernet_frame(src_mac: [u8; 6], ip: &[u8]) -> Option<Vec<u8>> {
    let et = ethertype_of_ip(ip)?;
    let mut f = vec![0x02, 0xee, 0xee, 0xee, 0xee, 0xee];
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&et.to_be_bytes());
    f.extend_from_slice(ip);
    Some(f)
}

/// Any supported capture -> plain untagged Ethernet, keeping the source MAC when the
/// original link had one (zeros otherwise).
pub fn to_ethernet(p: &Pcap) -> Pcap {
    let lt = p.linktype;
    p.relink(LINKTYPE_ETHERNET, |d| {
        let ip = network_of(lt, d)?;
        let mac = src_mac_of(lt, d).unwrap_or([0; 6]);
        ethernet_frame(mac, ip)
    })
}

/// Ethernet -> LINKTYPE_NULL with the address family in the given byte order.
pub fn to_null(p: &Pcap, af6: u32, big_endian_af: bool) -> Pcap {
    let lt = p.linktype;
    p.relink(LINKTYPE_NULL, |d| {
        let ip = network_of(lt, d)?;
        let af: u32 = if ip.first()? >> 4 == 4 { 2 } else { af6 };
        let mut f = if big_endian_af {
            af.to_be_bytes().to_vec()
        } else {
            af.to_le_bytes().to_vec()
        };
        f.extend_from_slice(ip);
        Some(f)
    })
}

/// Any -> LINKTYPE_RAW (the bare IP packet).
pub fn to_raw(p: &Pcap) -> Pcap {
    let lt = p.linktype;
    p.relink(LINKTYPE_RAW, |d| network_of(lt, d).map(<[u8]>::to_vec))
}

/// Ethernet -> Linux cooked v1, ARPHRD_ETHER with the frame's source MAC.
pub fn to_sll(p: &Pcap) -> Pcap {
    let lt = p.linktype;
    p.relink(LINKTYPE_LINUX_SLL, |d| {
        let ip = network_of(lt, d)?;
        let mac = src_mac_of(lt, d).unwrap_or([0; 6]);
        let mut f = vec![0, 0, 0, 1, 0, 6];
        f.extend_from_slice(&mac);
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&ethertype_of_ip(ip)?.to_be_bytes());
        f.extend_from_slice(ip);
        Some(f)
    })
}

/// Ethernet -> Linux cooked v2, ARPHRD_ETHER with the frame's source MAC.
pub fn to_sll2(p: &Pcap) -> Pcap {
    let lt = p.linktype;
    p.relink(LINKTYPE_LINUX_SLL2, |d| {
        let ip = network_of(lt, d)?;
        let mac = src_mac_of(lt, d).unwrap_or([0; 6]);
        let mut f = ethertype_of_ip(ip)?.to_be_bytes().to_vec();
        f.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6]);
        f.extend_from_slice(&mac);
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(ip);
        Some(f)
    })
}

/// Ethernet -> Ethernet with VLAN tags (outermost first: (TPID, VID)).
pub fn to_vlan(p: &Pcap, tags: &[(u16, u16)]) -> Pcap {
    let lt = p.linktype;
    let tags = tags.to_vec();
    p.relink(LINKTYPE_ETHERNET, move |d| {
        let ip = network_of(lt, d)?;
        let mac = src_mac_of(lt, d).unwrap_or([0; 6]);
        let mut f = vec![0x02, 0xee, 0xee, 0xee, 0xee, 0xee];
        f.extend_from_slice(&mac);
        for (tpid, vid) in &tags {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&vid.to_be_bytes());
        }
        f.extend_from_slice(&ethertype_of_ip(ip)?.to_be_bytes());
        f.extend_from_slice(ip);
        Some(f)
    })
}

// ---------------------------------------------------------------------------------
// Expectations from the reference decoder

/// Per-4-tuple facts computed from the packets.
#[derive(Clone, Debug, Default)]
pub struct TupleFacts {
    /// 1-based frame numbers of the tuple's segments.
    pub frames: Vec<u64>,
    /// Packets and wire payload bytes sent by the endpoint that sent the first SYN
    /// (or the first packet) and by the other one.
    pub packets: [u64; 2],
    pub payload: [u64; 2],
    pub truncated: u64,
    pub first_fin: Option<(usize, u64)>,
    pub first_rst: Option<(usize, u64)>,
    pub client: String,
    pub server: String,
}

/// Groups a capture's TCP segments by unordered 4-tuple (no reuse split: use on
/// fixtures with one connection per tuple).
pub fn tuple_facts(p: &Pcap) -> Vec<TupleFacts> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut map: std::collections::HashMap<(String, String), TupleFacts> = Default::default();
    for (i, seg) in p.tcp_frames().into_iter().enumerate() {
        let Some(seg) = seg else { continue };
        let frame = i as u64 + 1;
        let key = seg.key();
        let t = map.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            let (client, server) = if seg.syn() && seg.ack_flag() {
                (seg.dst.clone(), seg.src.clone())
            } else {
                (seg.src.clone(), seg.dst.clone())
            };
            TupleFacts {
                client,
                server,
                ..Default::default()
            }
        });
        let side = usize::from(seg.src != t.client);
        t.frames.push(frame);
        t.packets[side] += 1;
        t.payload[side] += u64::from(seg.payload_len);
        if seg.truncated() {
            t.truncated += 1;
        }
        if seg.fin() && t.first_fin.is_none() {
            t.first_fin = Some((side, frame));
        }
        if seg.rst() && t.first_rst.is_none() {
            t.first_rst = Some((side, frame));
        }
    }
    order.into_iter().map(|k| map.remove(&k).unwrap()).collect()
}

/// Zeek's history letters for a *clean* trace of one connection (no retransmission,
/// no zero window, one FIN/RST per side, no content gap), derived from the packets
/// with Zeek's update_history rules: S/H/F/R on the first of each kind per direction,
/// I for FIN+RST, Q for other multi-flag packets, D for the first payload packet
/// without SYN/FIN/RST, A for the first pure ACK; upper case = client.
/// Panics when the trace is not clean, so the derivation never silently goes wrong.
pub fn clean_trace_history(p: &Pcap, client: &str, server: &str) -> String {
    let mut h = String::new();
    let mut seen = [0u8; 2];
    let mut highest: [Option<u32>; 2] = [None, None];
    for (i, seg) in p.tcp_frames().into_iter().enumerate() {
        let Some(seg) = seg else { continue };
        let side = if seg.src == client && seg.dst == server {
            0
        } else if seg.src == server && seg.dst == client {
            1
        } else {
            continue;
        };
        let seg_len = seg.payload_len + u32::from(seg.syn()) + u32::from(seg.fin());
        let end = seg.seq.wrapping_add(seg_len);
        if seg.payload_len > 0 && !seg.rst() {
            if let Some(hi) = highest[side] {
                assert!(
                    (end.wrapping_sub(hi) as i32) > 0,
                    "frame {}: not a clean trace (payload below the highest sequence seen)",
                    i + 1
                );
            }
        }
        if !seg.rst() {
            highest[side] = Some(match highest[side] {
                Some(hi) if (end.wrapping_sub(hi) as i32) <= 0 => hi,
                _ => end,
            });
        }
        assert!(
            seg.window != 0 || seg.rst(),
            "frame {}: zero window, not a clean trace",
            i + 1
        );
        let bits = u8::from(seg.syn()) + u8::from(seg.fin()) + u8::from(seg.rst());
        let (mask, letter) = if bits > 1 {
            if seg.fin() && seg.rst() {
                (0x08, 'I')
            } else {
                (0x40, 'Q')
            }
        } else if seg.syn() {
            (0x01, if seg.ack_flag() { 'H' } else { 'S' })
        } else if seg.fin() {
            (0x02, 'F')
        } else if seg.rst() {
            (0x04, 'R')
        } else if seg.payload_len > 0 {
            (0x10, 'D')
        } else if seg.ack_flag() {
            (0x20, 'A')
        } else {
            continue;
        };
        if seen[side] & mask == 0 {
            seen[side] |= mask;
            h.push(if side == 0 {
                letter
            } else {
                letter.to_ascii_lowercase()
            });
        }
    }
    h
}

// ---------------------------------------------------------------------------------
// Building synthetic captures

fn checksum16(b: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for ch in b.chunks(2) {
        let w = if ch.len() == 2 {
            u16::from_be_bytes([ch[0], ch[1]])
        } else {
            u16::from_be_bytes([ch[0], 0])
        };
        s += u32::from(w);
    }
    while s > 0xffff {
        s = (s >> 16) + (s & 0xffff);
    }
    !(s as u16)
}

/// TCP flags from letters: S F R P A U (any order).
pub fn flag_bits(flags: &str) -> u8 {
    flags.chars().fold(0u8, |acc, ch| {
        acc | match ch {
            'F' => 0x01,
            'S' => 0x02,
            'R' => 0x04,
            'P' => 0x08,
            'A' => 0x10,
            'U' => 0x20,
            _ => panic!("unknown flag letter {ch}"),
        }
    })
}

fn split_endpoint(ep: &str) -> (std::net::IpAddr, u16) {
    let (ip, port) = ep.rsplit_once(':').expect("ip:port");
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    (ip.parse().expect("ip"), port.parse().expect("port"))
}

/// An Ethernet frame carrying one TCP segment (IPv4 or IPv6 from the addresses,
/// "[2001:db8::1]:80" for IPv6), `len` payload bytes, no TCP options. The IPv4
/// header checksum is valid; the TCP checksum is left 0 (nothing checks it).
pub fn tcp_frame(
    src: &str,
    dst: &str,
    flags: &str,
    seq: u32,
    ack: u32,
    len: usize,
    win: u16,
) -> Vec<u8> {
    let (sip, sport) = split_endpoint(src);
    let (dip, dport) = split_endpoint(dst);
    let mut tcp = Vec::with_capacity(20 + len);
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&dport.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&ack.to_be_bytes());
    tcp.push(5 << 4);
    tcp.push(flag_bits(flags));
    tcp.extend_from_slice(&win.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0]);
    tcp.extend((0..len).map(|i| b'a' + (i % 26) as u8));
    let ip = match (sip, dip) {
        (std::net::IpAddr::V4(s), std::net::IpAddr::V4(d)) => {
            let mut h = vec![0x45, 0];
            h.extend_from_slice(&((20 + tcp.len()) as u16).to_be_bytes());
            h.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            let c = checksum16(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            h.extend(tcp);
            h
        }
        (std::net::IpAddr::V6(s), std::net::IpAddr::V6(d)) => {
            let mut h = vec![0x60, 0, 0, 0];
            h.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
            h.extend_from_slice(&[6, 64]);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            h.extend(tcp);
            h
        }
        _ => panic!("mixed address families"),
    };
    let mac_last = match sip {
        std::net::IpAddr::V4(a) => a.octets()[3],
        std::net::IpAddr::V6(a) => a.octets()[15],
    };
    ethernet_frame([2, 0, 0, 0, 0, mac_last], &ip).unwrap()
}

/// The client's and the server's ISN in `handshake()`.
pub const I: u32 = 1000;
pub const J: u32 = 5000;

/// 192.0.2.10:40000 -> 192.0.2.1:80 after a three-way handshake with ISNs `I` and
/// `J` (the start of most synthesized scenarios).
pub fn handshake() -> Talk {
    let mut t = Talk::new("192.0.2.10:40000", "192.0.2.1:80");
    t.c("S", I, 0, 0)
        .s("SA", J, I + 1, 0)
        .c("A", I + 1, J + 1, 0);
    t
}

/// A conversation written packet by packet: `c(..)` from the client, `s(..)` from the
/// server, 10 ms apart unless `wait` says otherwise; `pcap()` gives the capture
/// (Ethernet, nanosecond timestamps).
pub struct Talk {
    pub client: String,
    pub server: String,
    t_ns: i64,
    next_gap_ns: i64,
    records: Vec<Record>,
}

impl Talk {
    pub fn new(client: &str, server: &str) -> Talk {
        Talk {
            client: client.into(),
            server: server.into(),
            t_ns: 1_700_000_000_000_000_000,
            next_gap_ns: 0,
            records: Vec::new(),
        }
    }

    /// The next packet comes `secs` after the previous one (instead of 10 ms).
    pub fn wait(&mut self, secs: f64) -> &mut Talk {
        self.next_gap_ns = (secs * 1e9) as i64;
        self
    }

    pub fn frame(&mut self, data: Vec<u8>) -> &mut Talk {
        if !self.records.is_empty() {
            self.t_ns += if self.next_gap_ns > 0 {
                self.next_gap_ns
            } else {
                10_000_000
            };
        }
        self.next_gap_ns = 0;
        self.records.push(Record {
            ts_sec: (self.t_ns / 1_000_000_000) as u32,
            ts_frac: (self.t_ns % 1_000_000_000) as u32,
            orig_len: data.len() as u32,
            data,
        });
        self
    }

    /// Client -> server segment with `len` payload bytes and window 502.
    pub fn c(&mut self, flags: &str, seq: u32, ack: u32, len: usize) -> &mut Talk {
        let f = tcp_frame(&self.client, &self.server, flags, seq, ack, len, 502);
        self.frame(f)
    }

    /// Server -> client segment.
    pub fn s(&mut self, flags: &str, seq: u32, ack: u32, len: usize) -> &mut Talk {
        let f = tcp_frame(&self.server, &self.client, flags, seq, ack, len, 502);
        self.frame(f)
    }

    /// Segment with an explicit window.
    pub fn cw(&mut self, flags: &str, seq: u32, ack: u32, len: usize, win: u16) -> &mut Talk {
        let f = tcp_frame(&self.client, &self.server, flags, seq, ack, len, win);
        self.frame(f)
    }

    pub fn sw(&mut self, flags: &str, seq: u32, ack: u32, len: usize, win: u16) -> &mut Talk {
        let f = tcp_frame(&self.server, &self.client, flags, seq, ack, len, win);
        self.frame(f)
    }

    pub fn pcap(&self) -> Pcap {
        Pcap {
            big_endian: false,
            nanos: true,
            version: (2, 4),
            snaplen: 262_144,
            linktype: LINKTYPE_ETHERNET,
            records: self.records.clone(),
        }
    }
}
