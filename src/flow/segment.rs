//! The flow tracker's input: one TCP segment with the IP and link facts that the
//! analyzers need, copied out of the packet buffer (a few dozen bytes, no allocation).

use crate::decode::{IpInfo, LinkDirection, Packet, TcpFlags, TcpOptions, TcpSegment, Transport};
use crate::model::{Endpoint, SeqNum, Ts, TunnelId};

#[derive(Clone, Copy, Debug)]
pub struct Segment {
    pub frame: u64,
    pub ts: Ts,
    pub src: Endpoint,
    pub dst: Endpoint,
    pub seq: SeqNum,
    pub ack: SeqNum,
    pub flags: TcpFlags,
    /// Raw window field (unscaled).
    pub window: u16,
    /// Payload bytes on the wire.
    pub payload_len: u32,
    /// Payload bytes captured (less than `payload_len` when snaplen cut the packet).
    pub captured_len: u32,
    pub opts: TcpOptions,
    pub ttl: u8,
    pub ip_id: Option<u16>,
    pub src_mac: Option<[u8; 6]>,
    pub link_dir: Option<LinkDirection>,
    /// The first captured payload bytes (empty when there is no payload).
    pub head: PayloadHead,
    /// The tunnel that carried it (part of the flow key; the engine numbers the
    /// decoder's `TunnelKey`s); `NONE` for plain traffic.
    pub tunnel: TunnelId,
}

/// The first bytes of a payload as captured: enough to name a daemon by its banner
/// ("SSH-2.0-OpenSSH_9.2", "220 ProFTPD ...") without keeping payloads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PayloadHead {
    len: u8,
    bytes: [u8; PayloadHead::MAX],
}

impl PayloadHead {
    pub const MAX: usize = 32;

    pub fn of(payload: &[u8]) -> PayloadHead {
        let mut head = PayloadHead::default();
        let n = payload.len().min(Self::MAX);
        head.bytes[..n].copy_from_slice(&payload[..n]);
        head.len = n as u8;
        head
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The printable start of the payload (up to the first line end), for evidence.
    pub fn text(&self) -> String {
        let b = self.bytes();
        let line = b.split(|&c| c == b'\r' || c == b'\n').next().unwrap_or(b);
        line.iter()
            .map(|&c| {
                if (0x20..0x7f).contains(&c) {
                    c as char
                } else {
                    '.'
                }
            })
            .collect()
    }
}

impl Segment {
    /// Builds a segment from a decoded TCP packet; None for anything else.
    pub fn from_packet(frame: u64, ts: Ts, p: &Packet<'_>) -> Option<Segment> {
        match &p.transport {
            Transport::Tcp(tcp) => Some(Segment::from_tcp(frame, ts, p, tcp)),
            _ => None,
        }
    }

    /// Builds a segment from a decoded packet and its TCP header (`p.transport`), for
    /// a caller that has already matched the transport.
    #[inline]
    pub fn from_tcp(frame: u64, ts: Ts, p: &Packet<'_>, tcp: &TcpSegment<'_>) -> Segment {
        Segment::from_parts(frame, ts, &p.ip, tcp, p.src_mac, p.link_dir)
    }

    /// `from_tcp` from the parts of a packet (the decoder's fast path has no `Packet`).
    #[inline(always)]
    pub fn from_parts(
        frame: u64,
        ts: Ts,
        ip: &IpInfo,
        tcp: &TcpSegment<'_>,
        src_mac: Option<[u8; 6]>,
        link_dir: Option<LinkDirection>,
    ) -> Segment {
        Segment {
            frame,
            ts,
            src: Endpoint::new(ip.src, tcp.src_port),
            dst: Endpoint::new(ip.dst, tcp.dst_port),
            seq: SeqNum(tcp.seq),
            ack: SeqNum(tcp.ack),
            flags: tcp.flags,
            window: tcp.window,
            payload_len: tcp.payload_len,
            captured_len: tcp.payload.len() as u32,
            opts: crate::decode::tcp::parse_options(tcp.options, tcp.options_cut),
            ttl: ip.ttl,
            ip_id: ip.ip_id,
            src_mac,
            link_dir,
            head: if tcp.payload.is_empty() {
                PayloadHead::default()
            } else {
                PayloadHead::of(tcp.payload)
            },
            tunnel: TunnelId::NONE,
        }
    }

    /// Length in sequence space: payload plus one for SYN and one for FIN.
    #[inline]
    pub fn seq_len(&self) -> u32 {
        self.payload_len + u32::from(self.flags.syn()) + u32::from(self.flags.fin())
    }

    /// A plain segment for unit tests of the state machines.
    #[cfg(test)]
    #[allow(clippy::too_many_arguments)]
    pub fn for_test(
        frame: u64,
        ts: Ts,
        src: Endpoint,
        dst: Endpoint,
        flags: u8,
        seq: u32,
        ack: u32,
        len: u32,
    ) -> Segment {
        Segment {
            frame,
            ts,
            src,
            dst,
            seq: SeqNum(seq),
            ack: SeqNum(ack),
            flags: TcpFlags(flags),
            window: 1000,
            payload_len: len,
            captured_len: len,
            opts: TcpOptions::default(),
            ttl: 64,
            ip_id: None,
            src_mac: None,
            link_dir: None,
            head: PayloadHead::default(),
            tunnel: TunnelId::NONE,
        }
    }

    /// A segment of the unit tests' one connection, client 192.0.2.1:40000 to server
    /// 198.51.100.2:80, sent by the client or by the server.
    #[cfg(test)]
    #[allow(clippy::too_many_arguments)]
    pub fn test_conn(
        frame: u64,
        ts: Ts,
        from_client: bool,
        flags: u8,
        seq: u32,
        ack: u32,
        len: u32,
    ) -> Segment {
        let c = Endpoint::new("192.0.2.1".parse().unwrap(), 40000);
        let s = Endpoint::new("198.51.100.2".parse().unwrap(), 80);
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        Segment::for_test(frame, ts, src, dst, flags, seq, ack, len)
    }

    /// The snaplen cut the payload or the TCP options.
    pub fn truncated(&self) -> bool {
        self.captured_len < self.payload_len || self.opts.cut
    }
}
