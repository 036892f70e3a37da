//! Copies of one packet seen on several interfaces. Linux's `any` device shows a
//! packet once per interface it crosses (a container's veth, the bridge, the
//! uplink; a bond and its slave; a VLAN device and its parent), with the same IP and
//! TCP headers apart from the TTL (decremented where the host routes) and the
//! checksums (which follow the TTL, or are left to the NIC). Counted twice, a copy
//! looks like a retransmission; this window recognises it so it is counted once.
//!
//! A frame is a copy when a frame with the same fingerprint was seen less than
//! `WINDOW_NS` before on another interface, and not yet on this one (a packet seen
//! again on an interface it was already seen on is a new transmission: a real
//! retransmission starts its path again). The fingerprint is the IP header without
//! TTL/hop limit and checksum, the TCP header without checksum (UDP: the header
//! without checksum and the payload's first 16 bytes), and the tunnel that carried
//! it. Only frames that carry an interface index (cooked v2) take part.
//!
//! Each packet's interfaces, in order, are its path; when its window closes the path
//! is handed back (`Retired`) so the flow can record it. Memory is bounded: at most
//! `MAX_PENDING` packets are remembered, the oldest leave first.

use std::collections::VecDeque;
use std::hash::Hasher;

use rustc_hash::{FxHashMap, FxHasher};

use super::{Packet, Transport};
use crate::model::{FlowKey, Hops, Ts, TunnelKey};

/// How long after a packet a copy of it is still recognised: copies are
/// microseconds apart; a retransmission on another interface with identical headers
/// (IP ID, sequence and timestamp options included) cannot come this soon.
pub const WINDOW_NS: i64 = 50_000_000;
/// Packets remembered at most (about 3 MB).
pub const MAX_PENDING: usize = 16_384;
/// Fingerprint bytes compared at most: IPv4 and TCP headers with all their options.
const FP_MAX: usize = 120;

/// The normalised header bytes of one packet and their hash.
pub struct Fingerprint {
    len: u8,
    bytes: [u8; FP_MAX],
    hash: u64,
    tunnel: TunnelKey,
}

/// Where `part` starts in `frame` (both the capture's bytes: the decoder's slices
/// borrow from the frame).
fn offset_in(frame: &[u8], part: &[u8]) -> Option<usize> {
    (part.as_ptr() as usize)
        .checked_sub(frame.as_ptr() as usize)
        .filter(|&at| at <= frame.len())
}

/// Where a packet's headers are in its frame: plain offsets, so finding them does
/// not make the caller keep its decoded packet in memory.
#[derive(Clone, Copy, Debug)]
pub struct Headers {
    ip_at: usize,
    transport_at: usize,
    transport_len: usize,
    checksum_at: usize,
    ipv4: bool,
}

impl Headers {
    /// The headers of a TCP or UDP packet decoded from `frame`; None for anything else.
    #[inline]
    pub fn of(frame: &[u8], p: &Packet<'_>) -> Option<Headers> {
        // The transport header starts 20 bytes before TCP's options, 8 before UDP's
        // payload; the IP header `header_len` before that.
        let (transport_at, transport_len, checksum_at) = match &p.transport {
            Transport::Tcp(t) => (
                offset_in(frame, t.options)?.checked_sub(20)?,
                usize::from(t.header_len),
                16,
            ),
            Transport::Udp { payload, .. } => {
                (offset_in(frame, payload)?.checked_sub(8)?, 8 + 16, 6)
            }
            _ => return None,
        };
        Some(Headers {
            ip_at: transport_at.checked_sub(usize::from(p.ip.header_len))?,
            transport_at,
            transport_len,
            checksum_at,
            ipv4: p.ip.ip_id.is_some(),
        })
    }
}

impl Fingerprint {
    /// The fingerprint of the packet whose headers `h` are in `frame` (carried by
    /// `tunnel`).
    pub fn of(frame: &[u8], h: Headers, tunnel: &TunnelKey) -> Fingerprint {
        let Headers {
            ip_at,
            transport_at,
            transport_len,
            checksum_at,
            ipv4,
        } = h;
        let mut fp = Fingerprint {
            len: 0,
            bytes: [0; FP_MAX],
            hash: 0,
            tunnel: *tunnel,
        };
        let ip = frame.get(ip_at..transport_at).unwrap_or(&[]);
        let ip = &ip[..ip.len().min(FP_MAX)];
        fp.bytes[..ip.len()].copy_from_slice(ip);
        // TTL and header checksum (IPv4), hop limit (IPv6).
        if ipv4 {
            for at in [8, 10, 11] {
                if at < ip.len() {
                    fp.bytes[at] = 0;
                }
            }
        } else if ip.len() > 7 {
            fp.bytes[7] = 0;
        }
        let rest = frame.get(transport_at..).unwrap_or(&[]);
        let transport = &rest[..rest.len().min(transport_len).min(FP_MAX - ip.len())];
        let start = ip.len();
        fp.bytes[start..start + transport.len()].copy_from_slice(transport);
        for at in [checksum_at, checksum_at + 1] {
            if at < transport.len() {
                fp.bytes[start + at] = 0;
            }
        }
        let len = start + transport.len();
        fp.len = len as u8;
        let mut hasher = FxHasher::default();
        hasher.write(&fp.bytes[..len]);
        if !fp.tunnel.is_none() {
            std::hash::Hash::hash(&fp.tunnel, &mut hasher);
        }
        fp.hash = hasher.finish();
        fp
    }

    fn same(&self, other: &Fingerprint) -> bool {
        self.hash == other.hash
            && self.bytes[..usize::from(self.len)] == other.bytes[..usize::from(other.len)]
            && self.tunnel == other.tunnel
    }
}

/// One packet whose copies are still expected.
struct Pending {
    fp: Fingerprint,
    first_ts: Ts,
    /// The frame that was analysed (the first copy).
    frame: u64,
    hops: Hops,
    /// The flow it went to and whether its sender is the key's `lo` end.
    flow: Option<(FlowKey, bool)>,
}

/// A packet whose window closed: the flow it went to and the path it took.
pub struct Retired {
    pub key: FlowKey,
    pub from_lo: bool,
    pub frame: u64,
    pub hops: Hops,
}

/// What `Dedupe::check` found.
pub enum Seen {
    /// The first copy: analyse it. The number identifies it for `set_flow`.
    New(u64),
    /// A copy of a packet seen on another interface: count it, skip it.
    Copy,
}

/// The window of recent packets.
#[derive(Default)]
pub struct Dedupe {
    pending: VecDeque<Pending>,
    /// Sequence number of `pending[0]`.
    base: u64,
    /// Fingerprint hash -> sequence number of its latest packet.
    index: FxHashMap<u64, u64>,
}

impl Dedupe {
    /// Bytes held (memory budget).
    pub fn footprint(&self) -> usize {
        self.pending.capacity() * std::mem::size_of::<Pending>()
            + crate::budget::table_bytes(self.index.capacity(), 16)
    }

    /// Looks a packet up; packets whose window closed before `ts` go to `retired`.
    pub fn check(
        &mut self,
        ts: Ts,
        fp: Fingerprint,
        ifindex: u32,
        frame: u64,
        retired: &mut dyn FnMut(Retired),
    ) -> Seen {
        self.expire(ts, retired);
        if let Some(&seq) = self.index.get(&fp.hash) {
            if let Some(p) = self.pending.get_mut((seq - self.base) as usize) {
                if p.fp.same(&fp)
                    && ts.nanos_since(p.first_ts).abs() < WINDOW_NS
                    && !p.hops.contains(ifindex)
                {
                    p.hops.push(ifindex);
                    return Seen::Copy;
                }
            }
        }
        if self.pending.len() >= MAX_PENDING {
            self.retire_front(retired);
        }
        let seq = self.base + self.pending.len() as u64;
        self.index.insert(fp.hash, seq);
        self.pending.push_back(Pending {
            fp,
            first_ts: ts,
            frame,
            hops: Hops::one(ifindex),
            flow: None,
        });
        Seen::New(seq)
    }

    /// The flow packet `seq` (from `Seen::New`) went to.
    pub fn set_flow(&mut self, seq: u64, key: FlowKey, from_lo: bool) {
        if let Some(p) = seq
            .checked_sub(self.base)
            .and_then(|i| self.pending.get_mut(i as usize))
        {
            p.flow = Some((key, from_lo));
        }
    }

    /// Closes the windows that ended before `now`.
    pub fn expire(&mut self, now: Ts, retired: &mut dyn FnMut(Retired)) {
        while self
            .pending
            .front()
            .is_some_and(|p| now.nanos_since(p.first_ts) >= WINDOW_NS)
        {
            self.retire_front(retired);
        }
    }

    /// Closes every window (end of input).
    pub fn flush(&mut self, retired: &mut dyn FnMut(Retired)) {
        while !self.pending.is_empty() {
            self.retire_front(retired);
        }
    }

    fn retire_front(&mut self, retired: &mut dyn FnMut(Retired)) {
        let Some(p) = self.pending.pop_front() else {
            return;
        };
        if self.index.get(&p.fp.hash) == Some(&self.base) {
            self.index.remove(&p.fp.hash);
        }
        self.base += 1;
        if let Some((key, from_lo)) = p.flow {
            retired(Retired {
                key,
                from_lo,
                frame: p.frame,
                hops: p.hops,
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, Decoded, LinkType};

    /// A TCP SYN from a container (10.0.0.2:45678 -> 10.0.0.3:80, TTL 64) as the
    /// `any` device shows it on interface `ifindex` with `ttl` (cooked v2 header,
    /// then the IPv4 and TCP headers of a real Linux SYN).
    fn syn(ifindex: u32, ttl: u8, ip_csum: [u8; 2], tcp_csum: [u8; 2]) -> Vec<u8> {
        let mut f = vec![0x08, 0x00, 0, 0];
        f.extend_from_slice(&ifindex.to_be_bytes());
        f.extend_from_slice(&[0, 1, 0, 6, 0x02, 0x42, 0x0a, 0, 0, 2, 0, 0]);
        f.extend_from_slice(&[
            0x45, 0x00, 0x00, 0x3c, 0x9c, 0x5e, 0x40, 0x00, ttl, 0x06, ip_csum[0], ip_csum[1], 10,
            0, 0, 2, 10, 0, 0, 3,
        ]);
        f.extend_from_slice(&[
            0xb2,
            0x6e,
            0x00,
            0x50,
            0x5d,
            0x3a,
            0x1b,
            0x27,
            0,
            0,
            0,
            0,
            0xa0,
            0x02,
            0xfa,
            0xf0,
            tcp_csum[0],
            tcp_csum[1],
            0,
            0,
            2,
            4,
            5,
            0xb4,
            4,
            2,
            8,
            10,
            0x8e,
            0x1c,
            0x5a,
            0x43,
            0,
            0,
            0,
            0,
            1,
            3,
            3,
            7,
        ]);
        f
    }

    fn fp(frame: &[u8]) -> Fingerprint {
        match decode(LinkType::LinuxSll2, frame) {
            Decoded::Ip(p) => Fingerprint::of(
                frame,
                Headers::of(frame, &p).expect("TCP"),
                &TunnelKey::None,
            ),
            other => panic!("{other:?}"),
        }
    }

    fn ms(n: i64) -> Ts {
        Ts(1_700_000_000_000_000_000 + n * 1_000_000)
    }

    #[test]
    fn copies_on_other_interfaces_within_the_window() {
        let mut d = Dedupe::default();
        let mut out = Vec::new();
        let mut keep = |r: Retired| out.push((r.frame, r.hops));
        let a = syn(7, 64, [0x8a, 0x5a], [0x14, 0x2e]);
        // The bridge: same bytes; the uplink after routing: TTL 63, checksums differ.
        let b = syn(3, 64, [0x8a, 0x5a], [0x14, 0x2e]);
        let c = syn(2, 63, [0x8b, 0x5a], [0x00, 0x00]);
        let Seen::New(seq) = d.check(ms(0), fp(&a), 7, 1, &mut keep) else {
            panic!("first copy")
        };
        let (k, _) = FlowKey::of(
            crate::model::Endpoint::new("10.0.0.2".parse().unwrap(), 45678),
            crate::model::Endpoint::new("10.0.0.3".parse().unwrap(), 80),
        );
        d.set_flow(seq, k, true);
        assert!(matches!(
            d.check(ms(0), fp(&b), 3, 2, &mut keep),
            Seen::Copy
        ));
        assert!(matches!(
            d.check(ms(1), fp(&c), 2, 3, &mut keep),
            Seen::Copy
        ));
        // Seen again on the first interface one second later: a retransmission.
        assert!(matches!(
            d.check(ms(1000), fp(&a), 7, 4, &mut keep),
            Seen::New(_)
        ));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, 1);
        assert_eq!(out[0].1.as_slice(), &[7, 3, 2]);
    }

    #[test]
    fn same_interface_or_other_bytes_are_not_copies() {
        let mut d = Dedupe::default();
        let mut keep = |_: Retired| {};
        let a = syn(7, 64, [0, 0], [0, 0]);
        assert!(matches!(
            d.check(ms(0), fp(&a), 7, 1, &mut keep),
            Seen::New(_)
        ));
        // Seen twice on one interface within the window: both count.
        assert!(matches!(
            d.check(ms(1), fp(&a), 7, 2, &mut keep),
            Seen::New(_)
        ));
        // Another IP ID: another packet.
        let mut b = syn(3, 64, [0, 0], [0, 0]);
        b[20 + 5] ^= 1;
        assert!(matches!(
            d.check(ms(1), fp(&b), 3, 3, &mut keep),
            Seen::New(_)
        ));
        // After the window: not a copy any more.
        let c = syn(5, 64, [0, 0], [0, 0]);
        assert!(matches!(
            d.check(ms(60), fp(&c), 5, 4, &mut keep),
            Seen::New(_)
        ));
    }

    #[test]
    fn memory_is_bounded() {
        let mut d = Dedupe::default();
        let mut retired = 0;
        let mut keep = |_: Retired| retired += 1;
        for i in 0..(MAX_PENDING as u32 + 100) {
            let mut f = syn(1, 64, [0, 0], [0, 0]);
            f[20 + 4..20 + 6].copy_from_slice(&(i as u16).to_be_bytes());
            f[20 + 20 + 4..20 + 20 + 8].copy_from_slice(&i.to_be_bytes());
            let Seen::New(seq) = d.check(ms(0), fp(&f), 1, u64::from(i), &mut keep) else {
                panic!("new")
            };
            let (k, _) = FlowKey::of(
                crate::model::Endpoint::new("10.0.0.2".parse().unwrap(), 1),
                crate::model::Endpoint::new("10.0.0.3".parse().unwrap(), 2),
            );
            d.set_flow(seq, k, true);
        }
        assert!(d.pending.len() <= MAX_PENDING);
        assert!(d.index.len() <= MAX_PENDING);
        d.flush(&mut keep);
        assert_eq!(retired, MAX_PENDING + 100);
        assert!(d.is_empty());
    }

    #[test]
    fn udp_copies_by_header_and_first_payload_bytes() {
        // A DNS query (10.88.0.2:51515 -> 10.88.0.1:53, id 0x1a2b) in cooked v2 on
        // interface `ifindex`; `id` changes the DNS id (a different query).
        let dns = |ifindex: u32, ttl: u8, id: u16| {
            let mut f = vec![0x08, 0x00, 0, 0];
            f.extend_from_slice(&ifindex.to_be_bytes());
            f.extend_from_slice(&[0, 1, 0, 6, 0x02, 0x42, 0x0a, 0, 0, 2, 0, 0]);
            f.extend_from_slice(&[
                0x45, 0, 0, 45, 0x12, 0x34, 0, 0, ttl, 17, 0, 0, 10, 88, 0, 2, 10, 88, 0, 1,
            ]);
            f.extend_from_slice(&[0xc9, 0x3b, 0, 53, 0, 25, 0xab, 0xcd]);
            f.extend_from_slice(&id.to_be_bytes());
            f.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1]);
            f
        };
        let fp = |f: &[u8]| match decode(LinkType::LinuxSll2, f) {
            Decoded::Ip(p) => {
                Fingerprint::of(f, Headers::of(f, &p).expect("UDP"), &TunnelKey::None)
            }
            other => panic!("{other:?}"),
        };
        let mut d = Dedupe::default();
        let mut keep = |_: Retired| {};
        assert!(matches!(
            d.check(ms(0), fp(&dns(3, 64, 0x1a2b)), 3, 1, &mut keep),
            Seen::New(_)
        ));
        assert!(matches!(
            d.check(ms(0), fp(&dns(2, 64, 0x1a2b)), 2, 2, &mut keep),
            Seen::Copy
        ));
        // Another query with the same addresses, ports and IP ID: not a copy.
        assert!(matches!(
            d.check(ms(0), fp(&dns(5, 63, 0x1a2c)), 5, 3, &mut keep),
            Seen::New(_)
        ));
    }
}
