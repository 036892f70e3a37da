//! The most common frame of a capture, decoded in a straight line: Ethernet without
//! VLAN tags, IPv4 (no AH, not a fragment), TCP. The general decoder (`decode_plain`)
//! gives the same result for these frames; it is built for every case and passes its
//! result through several enums, which costs more than the parsing itself. Anything
//! else (another link, VLAN tags, IPv6, a damaged or cut header) returns None and
//! goes the general way, which also reports the errors.

use std::net::{IpAddr, Ipv4Addr};

use super::ip::IpInfo;
use super::tcp::{self, TcpSegment};

/// A frame the fast path took: what `Packet` would hold for it.
pub struct PlainTcp<'a> {
    pub src_mac: [u8; 6],
    pub ip: IpInfo,
    pub tcp: TcpSegment<'a>,
}

const IPPROTO_TCP: u8 = 6;

/// Ethernet / IPv4 / TCP, exactly as `decode_plain` decodes it, or None.
#[inline(always)]
pub fn ethernet_ipv4_tcp(frame: &[u8]) -> Option<PlainTcp<'_>> {
    // Ethernet: 14 bytes, ethertype IPv4, then at least the fixed IPv4 header.
    if frame.len() < 14 + 20 || frame[12] != 0x08 || frame[13] != 0x00 {
        return None;
    }
    let ip = &frame[14..];
    // Version 4, a header of 5 or more words, all captured; TCP; not a fragment.
    let ihl = usize::from(ip[0] & 0x0f);
    let header_len = ihl * 4;
    if ip[0] >> 4 != 4 || ihl < 5 || ip.len() < header_len || ip[9] != IPPROTO_TCP {
        return None;
    }
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 {
        return None;
    }
    let total_len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    // etherparse's lax rules: the payload ends at the total length when it was all
    // captured and the total length covers the header, else at the end of the capture.
    let end = if total_len >= header_len && ip.len() >= total_len {
        total_len
    } else {
        ip.len()
    };
    let payload = &ip[header_len..end];
    // What was on the wire: the header's total length, unless less than captured.
    let on_wire = if total_len >= header_len + payload.len() {
        total_len - header_len
    } else {
        payload.len()
    };
    let tcp = tcp::parse(payload, on_wire).ok()?;
    let mut src_mac = [0u8; 6];
    src_mac.copy_from_slice(&frame[6..12]);
    Some(PlainTcp {
        src_mac,
        ip: IpInfo {
            src: IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15])),
            dst: IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19])),
            ttl: ip[8],
            ip_id: Some(u16::from_be_bytes([ip[4], ip[5]])),
            header_len: header_len as u16,
        },
        tcp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode, Decoded, LinkType, Transport};

    /// The fast path and the general decoder agree on every frame the fast path
    /// takes; it declines everything else.
    fn agree(frame: &[u8]) -> bool {
        let Some(fast) = ethernet_ipv4_tcp(frame) else {
            return false;
        };
        let Decoded::Ip(p) = decode(LinkType::Ethernet, frame) else {
            panic!("general decoder refused a frame the fast path took: {frame:?}");
        };
        let Transport::Tcp(t) = p.transport else {
            panic!("not TCP: {frame:?}");
        };
        assert_eq!(p.src_mac, Some(fast.src_mac));
        assert_eq!((p.link_dir, p.ifindex, p.encapsulated), (None, None, false));
        assert_eq!(
            (p.ip.src, p.ip.dst, p.ip.ttl, p.ip.ip_id, p.ip.header_len),
            (
                fast.ip.src,
                fast.ip.dst,
                fast.ip.ttl,
                fast.ip.ip_id,
                fast.ip.header_len
            )
        );
        let f = fast.tcp;
        assert_eq!(
            (t.src_port, t.dst_port, t.seq, t.ack, t.flags, t.window),
            (f.src_port, f.dst_port, f.seq, f.ack, f.flags, f.window)
        );
        assert_eq!(
            (
                t.header_len,
                t.options,
                t.payload_len,
                t.payload,
                t.options_cut
            ),
            (
                f.header_len,
                f.options,
                f.payload_len,
                f.payload,
                f.options_cut
            )
        );
        true
    }

    fn frame(ip_header: &[u8], tcp: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0x10, 0x08, 0x00];
        f.extend_from_slice(ip_header);
        f.extend_from_slice(tcp);
        f
    }

    fn ipv4(total_len: u16, ihl: u8, frag: u16) -> Vec<u8> {
        let mut h = vec![0x40 | ihl, 0, 0, 0, 0x12, 0x34, 0, 0, 64, 6, 0, 0];
        h[2..4].copy_from_slice(&total_len.to_be_bytes());
        h[6..8].copy_from_slice(&frag.to_be_bytes());
        h.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 2]);
        h.resize(usize::from(ihl) * 4, 1);
        h
    }

    const TCP: [u8; 32] = [
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 9, 0x80, 0x18, 0x03, 0xe8, 0, 0, 0, 0, 1, 1, 8, 10,
        0, 0, 0, 1, 0, 0, 0, 2,
    ];

    #[test]
    fn agrees_with_the_general_decoder() {
        let mut taken = 0;
        // Total lengths below, at and above what was captured; IP options; payloads
        // cut at every length, through the TCP header and its options.
        for ihl in [5u8, 6, 15] {
            for extra in [0usize, 10, 100] {
                for total in [0u16, 19, 20, 40, 52, 60, 62, 200, 65535] {
                    let mut tcp = TCP.to_vec();
                    tcp.extend(std::iter::repeat_n(0xaa, extra));
                    let f = frame(&ipv4(total, ihl, 0), &tcp);
                    for cut in 0..=f.len() {
                        taken += usize::from(agree(&f[..cut]));
                    }
                }
            }
        }
        assert!(taken > 1000, "{taken}");
    }

    #[test]
    fn declines_what_it_does_not_handle() {
        let tcp = TCP.to_vec();
        // Fragments, another protocol, IPv6, a VLAN tag, a short IHL.
        assert!(ethernet_ipv4_tcp(&frame(&ipv4(52, 5, 0x2000), &tcp)).is_none());
        assert!(ethernet_ipv4_tcp(&frame(&ipv4(52, 5, 0x0001), &tcp)).is_none());
        assert!(ethernet_ipv4_tcp(&frame(&ipv4(52, 5, 0x4000), &tcp)).is_some());
        let mut udp = frame(&ipv4(52, 5, 0), &tcp);
        udp[14 + 9] = 17;
        assert!(ethernet_ipv4_tcp(&udp).is_none());
        let mut v6 = frame(&ipv4(52, 5, 0), &tcp);
        v6[14] = 0x65;
        assert!(ethernet_ipv4_tcp(&v6).is_none());
        let mut tagged = frame(&ipv4(52, 5, 0), &tcp);
        tagged[12] = 0x81;
        assert!(ethernet_ipv4_tcp(&tagged).is_none());
        let mut short = frame(&ipv4(52, 5, 0), &tcp);
        short[14] = 0x44;
        assert!(ethernet_ipv4_tcp(&short).is_none());
    }
}
