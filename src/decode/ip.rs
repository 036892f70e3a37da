//! IPv4 / IPv6 (with extension headers) through etherparse's lax slicer, which still
//! yields a complete transport header when the capture cut the payload short.

use std::net::IpAddr;

use etherparse::{IpNumber, LaxIpSlice};

use super::tcp::{self, TcpSegment};

#[derive(Debug, Clone, Copy)]
pub struct IpInfo {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
    /// IPv4 identification; IPv6 has none outside fragments.
    pub ip_id: Option<u16>,
    /// Bytes from the start of the IP header to the transport header (IPv6
    /// extension headers included).
    pub header_len: u16,
}

#[derive(Debug)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp {
        src_port: u16,
        dst_port: u16,
        /// Captured payload bytes (may be cut by the snaplen).
        payload: &'a [u8],
    },
    /// A non-first fragment, or a first fragment: neither gives a complete segment.
    Fragment,
    /// Any other protocol (ICMP, GRE, IP in IP, ...): its IP protocol number and its
    /// captured payload.
    Other(u8, &'a [u8]),
}

/// Always inlined: its result is taken apart by the caller at once, and a call would
/// have to write it out (the plain path's largest cost after the flow table).
#[inline(always)]
pub fn parse(network: &[u8]) -> Result<(IpInfo, Transport<'_>), &'static str> {
    let (slice, _ext_err) = LaxIpSlice::from_slice(network).map_err(|_| "bad IP header")?;
    let (mut info, declared_total) = match &slice {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let info = IpInfo {
                src: IpAddr::V4(h.source_addr()),
                dst: IpAddr::V4(h.destination_addr()),
                ttl: h.ttl(),
                ip_id: Some(h.identification()),
                header_len: 0,
            };
            (info, usize::from(h.total_len()))
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            let info = IpInfo {
                src: IpAddr::V6(h.source_addr()),
                dst: IpAddr::V6(h.destination_addr()),
                ttl: h.hop_limit(),
                ip_id: None,
                header_len: 0,
            };
            let payload_len = usize::from(h.payload_length());
            // A zero payload length means a jumbogram (or a TSO capture): no declared size.
            (
                info,
                if payload_len == 0 {
                    0
                } else {
                    40 + payload_len
                },
            )
        }
    };
    let payload = slice.payload();
    if payload.fragmented {
        return Ok((info, Transport::Fragment));
    }
    let offset = payload.payload.as_ptr() as usize - network.as_ptr() as usize;
    info.header_len = offset.min(usize::from(u16::MAX)) as u16;
    // Bytes of transport header + payload that were on the wire. Offload captures
    // carry total length 0 and cut captures carry more than we have: trust the header
    // only when it is at least what was captured.
    let captured = payload.payload.len();
    let on_wire = if declared_total >= offset + captured {
        declared_total - offset
    } else {
        captured
    };
    let transport = match payload.ip_number {
        IpNumber::TCP => Transport::Tcp(tcp::parse(payload.payload, on_wire)?),
        IpNumber::UDP => {
            let b = payload.payload;
            if b.len() < 8 {
                return Err("UDP header cut short");
            }
            Transport::Udp {
                src_port: u16::from_be_bytes([b[0], b[1]]),
                dst_port: u16::from_be_bytes([b[2], b[3]]),
                payload: &b[8..],
            }
        }
        other => Transport::Other(other.0, payload.payload),
    };
    Ok((info, transport))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_tcp(total_len: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 63, 6, 0, 0];
        p[2..4].copy_from_slice(&total_len.to_be_bytes());
        p.extend_from_slice(&[192, 0, 2, 1, 198, 51, 100, 2]);
        // TCP: ports 40000 -> 80, seq 1, ack 0, doff 5, flags PSH|ACK, window 1000
        p.extend_from_slice(&[
            0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0x03, 0xe8,
        ]);
        p.extend_from_slice(&[0, 0, 0, 0]);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn snaplen_cut_keeps_wire_length() {
        // IP says 20 + 20 + 100 bytes, we captured only 10 bytes of payload.
        let pkt = ipv4_tcp(140, &[0u8; 10]);
        let (info, t) = parse(&pkt).unwrap();
        assert_eq!(info.ttl, 63);
        assert_eq!(info.ip_id, Some(0x1234));
        match t {
            Transport::Tcp(seg) => {
                assert_eq!(seg.payload_len, 100);
                assert_eq!(seg.payload.len(), 10);
                assert!(seg.truncated());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn zero_total_length_falls_back_to_captured() {
        let pkt = ipv4_tcp(0, &[1u8; 30]);
        match parse(&pkt) {
            Ok((_, Transport::Tcp(seg))) => assert_eq!(seg.payload_len, 30),
            // etherparse may refuse a total length smaller than the header; either is safe.
            Ok(other) => panic!("{other:?}"),
            Err(_) => {}
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse(&[0x45]).is_err());
        assert!(parse(&[0x99; 40]).is_err());
        assert!(parse(&[]).is_err());
    }
}
