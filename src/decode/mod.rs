//! Decoding: raw link-layer frames -> borrowed views of IP/TCP/UDP/DNS.
//!
//! Nothing here allocates on the TCP path and nothing can panic on hostile bytes:
//! every length is checked before it is used. Snaplen-cut packets still decode as
//! long as the TCP header is complete; the payload length then comes from the IP
//! header (what was on the wire), not from the captured bytes.

pub mod dns;
pub mod ip;
pub mod link;
pub mod tcp;

pub use ip::{IpInfo, Transport};
pub use link::{LinkDirection, LinkType};
pub use tcp::{TcpFlags, TcpOptions, TcpSegment};

/// One decoded frame.
#[derive(Debug)]
pub struct Packet<'a> {
    /// Link-layer source address when the link has one (Ethernet, cooked with ARPHRD_ETHER).
    pub src_mac: Option<[u8; 6]>,
    /// Whether the capturing host sent or received the frame (cooked captures only).
    pub link_dir: Option<LinkDirection>,
    pub ip: IpInfo,
    pub transport: Transport<'a>,
}

/// What a frame turned out to be.
#[derive(Debug)]
pub enum Decoded<'a> {
    Ip(Packet<'a>),
    /// A valid frame that does not carry IP (ARP, LLDP, ...): counted, not an error.
    NotIp,
    /// The frame is shorter than its headers say or carries impossible values.
    Malformed(&'static str),
}

/// Decodes one frame captured on a link of type `link`.
#[inline]
pub fn decode(link: LinkType, frame: &[u8]) -> Decoded<'_> {
    let l2 = match link::parse(link, frame) {
        Ok(Some(l2)) => l2,
        Ok(None) => return Decoded::NotIp,
        Err(why) => return Decoded::Malformed(why),
    };
    match ip::parse(l2.network) {
        Ok((ip, transport)) => Decoded::Ip(Packet {
            src_mac: l2.src_mac,
            link_dir: l2.direction,
            ip,
            transport,
        }),
        Err(why) => Decoded::Malformed(why),
    }
}
