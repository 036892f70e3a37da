//! Decoding: raw link-layer frames -> borrowed views of IP/TCP/UDP/DNS.
//!
//! Nothing here allocates on the TCP path and nothing can panic on hostile bytes:
//! every length is checked before it is used. Snaplen-cut packets still decode as
//! long as the TCP header is complete; the payload length then comes from the IP
//! header (what was on the wire), not from the captured bytes.
//!
//! Tunnels (`tunnel`: VXLAN, Geneve, GRE, ERSPAN, IP in IP) and link-level
//! encapsulations (`link`: VLAN, MPLS, PPPoE) are peeled off until the innermost IP
//! packet, which is what `Packet` describes; `decode_in_tunnel` also says which tunnel
//! carried it. Plain traffic pays one test of the transport for this, and `Packet`
//! stays small (it is moved for every frame).

pub mod dedupe;
pub mod dns;
pub mod ip;
pub mod link;
pub mod plain_tcp;
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
    decode_in_tunnel(link, frame, &mut TunnelKey::None)
}

/// `decode`, and the innermost tunnel that carried the packet goes to `tunnel` (left
/// as it is for plain traffic).
#[inline]
pub fn decode_in_tunnel<'a>(
    link: LinkType,
    frame: &'a [u8],
    tunnel: &mut TunnelKey,
) -> Decoded<'a> {
    match decode_plain(link, frame) {
        Plain::Decoded(d) => d,
        Plain::MayCarryTunnel => tunnelled(link, frame, tunnel, &mut NoVisit),
    }
}

/// What `decode_plain` found.
pub enum Plain<'a> {
    /// The frame, decoded (it carries no tunnel).
    Decoded(Decoded<'a>),
    /// UDP to a tunnel's port, or IP protocol 4, 41 or 47: `decode_in_tunnel` decodes
    /// it (again, from the start).
    MayCarryTunnel,
}

/// The hot path of `decode`, for a caller that handles tunnelled frames apart: the
/// packet of a plain frame is then built where the caller uses it (a caller that
/// merges both paths into one `Decoded` makes it go through memory). Always inlined.
#[inline(always)]
pub fn decode_plain(link: LinkType, frame: &[u8]) -> Plain<'_> {
    let l2 = match link::parse(link, frame, &mut NoVisit) {
        Ok(Some(l2)) => l2,
        Ok(None) => return Plain::Decoded(Decoded::NotIp),
        Err(why) => return Plain::Decoded(Decoded::Malformed(why)),
    };
    match ip::parse(l2.network) {
        Ok((_, transport)) if may_carry_tunnel(&transport) => Plain::MayCarryTunnel,
        Ok((ip, transport)) => Plain::Decoded(Decoded::Ip(Packet {
            src_mac: l2.src_mac,
            link_dir: l2.direction,
            ifindex: l2.ifindex,
            ip,
            transport,
            encapsulated: l2.encapsulated,
        })),
        Err(why) => Plain::Decoded(Decoded::Malformed(why)),
    }
}

/// UDP to a tunnel's port, or IP protocol 4, 41 or 47: the decoder looks inside.
#[inline(always)]
fn may_carry_tunnel(t: &Transport<'_>) -> bool {
    match t {
        Transport::Tcp(_) | Transport::Fragment => false,
        Transport::Udp { dst_port, .. } => tunnel::is_udp_tunnel_port(*dst_port),
        Transport::Other(proto, _) => matches!(
            *proto,
            tunnel::IPPROTO_IPIP | tunnel::IPPROTO_IPV6 | tunnel::IPPROTO_GRE
        ),
    }
}

/// The encapsulation layers around a frame's innermost IP packet, outermost first
/// (empty for plain traffic). Decodes the frame again: meant for the first packet
/// of a flow, not for every packet.
pub fn encapsulation(link: LinkType, frame: &[u8]) -> Vec<Encap> {
    let mut layers = Vec::new();
    let _ = tunnelled(link, frame, &mut TunnelKey::None, &mut layers);
    layers
}

/// `decode` for a frame whose outer packet may carry a tunnel: peels them all.
#[inline(never)]
fn tunnelled<'a, V: Visit>(
    link: LinkType,
    frame: &'a [u8],
    tunnel: &mut TunnelKey,
    v: &mut V,
) -> Decoded<'a> {
    let l2 = match link::parse(link, frame, v) {
        Ok(Some(l2)) => l2,
        Ok(None) => return Decoded::NotIp,
        Err(why) => return Decoded::Malformed(why),
    };
    match ip::parse(l2.network) {
        Ok((ip, transport)) => peel(l2, ip, transport, tunnel, v),
        Err(why) => Decoded::Malformed(why),
    }
}

/// Peels tunnels off a decoded outer packet until the innermost one; the innermost
/// tunnel goes to `tunnel`.
#[inline(always)]
fn peel<'a, V: Visit>(
    l2: link::L2<'a>,
    mut ip: IpInfo,
    mut transport: Transport<'a>,
    tunnel: &mut TunnelKey,
    v: &mut V,
) -> Decoded<'a> {
    let ifindex = l2.ifindex;
    let link_dir = l2.direction;
    let mut src_mac = l2.src_mac;
    let mut encapsulated = l2.encapsulated;
    let mut tunnels = 0;
    loop {
        let peeled = match transport {
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
                encapsulated,
            });
        };
        tunnels += 1;
        if tunnels > MAX_TUNNELS {
            return Decoded::Malformed("tunnels nested too deep");
        }
        encapsulated = true;
        *tunnel = peeled.key;
        match peeled.inner {
            Inner::Ip(inner) => {
                if inner.src_mac.is_some() {
                    src_mac = inner.src_mac;
                }
                (ip, transport) = match ip::parse(inner.network) {
                    Ok(x) => x,
                    Err(why) => return Decoded::Malformed(why),
                };
            }
            Inner::NotIp => return Decoded::NotIp,
        }
    }
}
