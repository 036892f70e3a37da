//! Decoding: raw link-layer frames -> borrowed views of IP/TCP/UDP/DNS.
//!
//! Nothing here allocates on the TCP path and nothing can panic on hostile bytes:
//! every length is checked before it is used. Snaplen-cut packets still decode as
//! long as the TCP header is complete; the payload length then comes from the IP
//! header (what was on the wire), not from the captured bytes.
//!
//! Tunnels (`tunnel`: VXLAN, Geneve, GRE, ERSPAN, IP in IP) and link-level
//! encapsulations (`link`: VLAN, MPLS, PPPoE) are peeled off until the innermost IP
//! packet, which is what `Packet` describes; `Packet::tunnel` says which tunnel
//! carried it. Plain traffic pays one match on the transport for this.

pub mod dedupe;
pub mod dns;
pub mod ip;
pub mod link;
pub mod tcp;
pub mod tunnel;

pub use ip::{IpInfo, Transport};
pub use link::{LinkDirection, LinkType};
pub use tcp::{TcpFlags, TcpOptions, TcpSegment};
pub use tunnel::Encap;

use crate::model::TunnelKey;
use tunnel::{Inner, NoVisit, Visit};

/// One decoded frame.
#[derive(Debug)]
pub struct Packet<'a> {
    /// Link-layer source address when the link has one (Ethernet, cooked with
    /// ARPHRD_ETHER); for a tunnelled packet, that of the innermost Ethernet header.
    pub src_mac: Option<[u8; 6]>,
    /// Whether the capturing host sent or received the frame (cooked captures only).
    pub link_dir: Option<LinkDirection>,
    /// The interface the frame was captured on (cooked v2: `-i any`), which tells
    /// copies of one packet seen on several interfaces apart.
    pub ifindex: Option<u32>,
    pub ip: IpInfo,
    pub transport: Transport<'a>,
    /// The (innermost) IP packet `ip` and `transport` describe, as captured.
    pub network: &'a [u8],
    /// The innermost tunnel that carried the packet; `TunnelKey::None` for plain
    /// traffic.
    pub tunnel: TunnelKey,
    /// Some encapsulation (a tunnel, MPLS, PPPoE) was peeled off: `encapsulation`
    /// lists it.
    pub encapsulated: bool,
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

/// Tunnels inside tunnels peeled at most (a hostile frame cannot loop for long).
pub(crate) const MAX_TUNNELS: usize = 4;

/// Decodes one frame captured on a link of type `link`.
#[inline]
pub fn decode(link: LinkType, frame: &[u8]) -> Decoded<'_> {
    decode_visiting(link, frame, &mut NoVisit)
}

/// The encapsulation layers around a frame's innermost IP packet, outermost first
/// (empty for plain traffic). Decodes the frame again: meant for the first packet
/// of a flow, not for every packet.
pub fn encapsulation(link: LinkType, frame: &[u8]) -> Vec<Encap> {
    let mut layers = Vec::new();
    let _ = decode_visiting(link, frame, &mut layers);
    layers
}

#[inline]
fn decode_visiting<'a, V: Visit>(link: LinkType, frame: &'a [u8], v: &mut V) -> Decoded<'a> {
    let l2 = match link::parse(link, frame, v) {
        Ok(Some(l2)) => l2,
        Ok(None) => return Decoded::NotIp,
        Err(why) => return Decoded::Malformed(why),
    };
    let ifindex = l2.ifindex;
    let link_dir = l2.direction;
    let mut src_mac = l2.src_mac;
    let mut network = l2.network;
    let mut tunnel = TunnelKey::None;
    let mut encapsulated = l2.encapsulated;
    let mut tunnels = 0;
    loop {
        let (ip, transport) = match ip::parse(network) {
            Ok(x) => x,
            Err(why) => return Decoded::Malformed(why),
        };
        let peeled = match transport {
            Transport::Tcp(_) => None,
            Transport::Udp {
                dst_port, payload, ..
            } if tunnel::is_udp_tunnel_port(dst_port) => {
                // A port is only a guess: a payload that is not the tunnel's (or
                // whose inside is damaged) leaves the datagram a plain UDP one.
                tunnel::udp(dst_port, payload, ip.src, ip.dst, v).unwrap_or(None)
            }
            Transport::Other(
                proto @ (tunnel::IPPROTO_IPIP | tunnel::IPPROTO_IPV6 | tunnel::IPPROTO_GRE),
                payload,
            ) => match tunnel::ip_proto(proto, payload, ip.src, ip.dst, v) {
                Ok(p) => p,
                Err(why) => return Decoded::Malformed(why),
            },
            _ => None,
        };
        let Some(peeled) = peeled else {
            return Decoded::Ip(Packet {
                src_mac,
                link_dir,
                ifindex,
                ip,
                transport,
                network,
                tunnel,
                encapsulated,
            });
        };
        tunnels += 1;
        if tunnels > MAX_TUNNELS {
            return Decoded::Malformed("tunnels nested too deep");
        }
        encapsulated = true;
        tunnel = peeled.key;
        match peeled.inner {
            Inner::Ip(l2) => {
                if l2.src_mac.is_some() {
                    src_mac = l2.src_mac;
                }
                network = l2.network;
            }
            Inner::NotIp => return Decoded::NotIp,
        }
    }
}
