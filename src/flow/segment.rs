//! The flow tracker's input: one TCP segment with the IP and link facts that the
//! analyzers need, copied out of the packet buffer (a few dozen bytes, no allocation).

use crate::decode::{LinkDirection, Packet, TcpFlags, TcpOptions, TcpSegment, Transport};
use crate::model::{Endpoint, SeqNum, Ts};

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
    pub fn from_tcp(frame: u64, ts: Ts, p: &Packet<'_>, tcp: &TcpSegment<'_>) -> Segment {
        Segment {
            frame,
            ts,
            src: Endpoint::new(p.ip.src, tcp.src_port),
            dst: Endpoint::new(p.ip.dst, tcp.dst_port),
            seq: SeqNum(tcp.seq),
            ack: SeqNum(tcp.ack),
            flags: tcp.flags,
            window: tcp.window,
            payload_len: tcp.payload_len,
            captured_len: tcp.payload.len() as u32,
            opts: crate::decode::tcp::parse_options(tcp.options),
            ttl: p.ip.ttl,
            ip_id: p.ip.ip_id,
            src_mac: p.src_mac,
            link_dir: p.link_dir,
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

    pub fn truncated(&self) -> bool {
        self.captured_len < self.payload_len
    }
}
