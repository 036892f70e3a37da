//! Tunnels: VXLAN (UDP 4789 and Linux's old default 8472), Geneve (UDP 6081), GRE
//! (RFC 2784/2890: checksum, key and sequence fields; IPv4, IPv6, Ethernet (TEB) and
//! MPLS payloads), ERSPAN type I/II/III inside GRE, and IP in IP (IP protocol 4 and 41
//! in IPv4 or IPv6: IPIP, SIT, IP6IP6, IPv4 in IPv6).
//!
//! `decode` peels one tunnel at a time off a decoded outer packet and hands back
//! the inner link layer or IP packet; the flow key gets the innermost tunnel's
//! identity (`TunnelKey`). The layers themselves (`Encap`, what the flow record
//! shows) are only built when a `Visit` collects them: the per-packet path uses
//! `NoVisit`, for which that code is compiled away, and the engine asks for the
//! layers again (`super::encapsulation`) only when a tunnelled flow starts.
//!
//! Like the rest of the decoder, nothing here panics on hostile bytes: every offset
//! is checked before it is read.

use std::net::IpAddr;

use serde::Serialize;

use super::link::{self, be16, be32, L2};
use crate::model::{TunnelKey, TunnelKind};

pub const VXLAN_PORT: u16 = 4789;
/// The port Linux's VXLAN used before IANA's (and still uses without `dstport`).
pub const VXLAN_LINUX_PORT: u16 = 8472;
pub const GENEVE_PORT: u16 = 6081;

pub const IPPROTO_IPIP: u8 = 4;
pub const IPPROTO_IPV6: u8 = 41;
pub const IPPROTO_GRE: u8 = 47;

const ETHERTYPE_TEB: u16 = 0x6558;
const ETHERTYPE_ERSPAN_2: u16 = 0x88be;
const ETHERTYPE_ERSPAN_3: u16 = 0x22eb;

/// MPLS labels kept per stack in the flow record.
pub const MAX_LABELS_KEPT: usize = 8;

/// One encapsulation layer around a flow's packets, outermost first in a list.
/// Addresses are the outer IP header's, oriented from the flow's client to its
/// server once the flow knows its roles (ERSPAN's are the mirror session's: from the
/// mirroring device to the collector).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Encap {
    Vxlan {
        vni: u32,
        /// The UDP destination port it was recognised on (4789 or 8472).
        port: u16,
        outer_src: IpAddr,
        outer_dst: IpAddr,
    },
    Geneve {
        vni: u32,
        outer_src: IpAddr,
        outer_dst: IpAddr,
    },
    Gre {
        /// The GRE key (RFC 2890), when present.
        key: Option<u32>,
        /// What GRE carried: `ipv4`, `ipv6`, `ethernet` (TEB, gretap), `mpls`.
        payload: &'static str,
        outer_src: IpAddr,
        outer_dst: IpAddr,
    },
    Erspan {
        /// ERSPAN type: 1, 2 or 3.
        erspan_type: u8,
        /// Session id (types 2 and 3; 0 for type 1).
        session: u16,
        outer_src: IpAddr,
        outer_dst: IpAddr,
    },
    /// IP in IP: `ipip` (IPv4 in IPv4), `sit` (IPv6 in IPv4), `ip6ip6`, `ipip6`
    /// (IPv4 in IPv6), as Linux names its tunnel modes.
    IpInIp {
        mode: &'static str,
        outer_src: IpAddr,
        outer_dst: IpAddr,
    },
    Mpls {
        /// The label stack, top first (at most 8 kept).
        labels: Vec<u32>,
    },
    Pppoe {
        session: u16,
    },
}

impl Encap {
    /// The same layer seen from the other end (outer source and destination swapped).
    pub fn reversed(&self) -> Encap {
        let mut e = self.clone();
        match &mut e {
            Encap::Vxlan {
                outer_src,
                outer_dst,
                ..
            }
            | Encap::Geneve {
                outer_src,
                outer_dst,
                ..
            }
            | Encap::Gre {
                outer_src,
                outer_dst,
                ..
            }
            | Encap::IpInIp {
                outer_src,
                outer_dst,
                ..
            } => std::mem::swap(outer_src, outer_dst),
            // A mirror session goes one way (source to collector) whatever the
            // mirrored packet's direction.
            Encap::Erspan { .. } | Encap::Mpls { .. } | Encap::Pppoe { .. } => {}
        }
        e
    }
}

/// Receives the encapsulation layers found while decoding, outermost first.
pub trait Visit {
    /// False for visitors that ignore layers: the layers are then never built.
    const COLLECT: bool;
    fn layer(&mut self, layer: Encap);
}

/// The per-packet visitor: layers are neither built nor kept.
pub struct NoVisit;

impl Visit for NoVisit {
    const COLLECT: bool = false;
    #[inline(always)]
    fn layer(&mut self, _: Encap) {}
}

/// Layers kept per flow (deeper ones are decoded but not listed).
pub const MAX_LAYERS_KEPT: usize = 8;

impl Visit for Vec<Encap> {
    const COLLECT: bool = true;
    fn layer(&mut self, layer: Encap) {
        if self.len() < MAX_LAYERS_KEPT {
            self.push(layer);
        }
    }
}

/// What is inside a tunnel.
pub enum Inner<'a> {
    /// An IP packet (with the link layer it came in, if any, for its MAC).
    Ip(L2<'a>),
    /// A well-formed inner frame that is not IP (ARP inside VXLAN, ...).
    NotIp,
}

/// A tunnel peeled off: its identity and what it carried.
pub struct Peeled<'a> {
    pub key: TunnelKey,
    pub inner: Inner<'a>,
}

fn link_result<'a>(r: Result<Option<L2<'a>>, &'static str>) -> Result<Inner<'a>, &'static str> {
    match r {
        Ok(Some(l2)) => Ok(Inner::Ip(l2)),
        Ok(None) => Ok(Inner::NotIp),
        Err(why) => Err(why),
    }
}

fn ip_inner(b: &[u8]) -> Result<Inner<'_>, &'static str> {
    match b.first().map(|x| x >> 4) {
        Some(4 | 6) => Ok(Inner::Ip(L2 {
            src_mac: None,
            direction: None,
            ifindex: None,
            network: b,
            encapsulated: false,
        })),
        Some(_) => Err("tunnel payload is not IP"),
        None => Err("tunnel payload missing"),
    }
}

/// Whether a UDP destination port is a tunnel's. Both directions of a VXLAN or
/// Geneve tunnel send to the well-known port (the source port is a flow hash).
#[inline]
pub fn is_udp_tunnel_port(dst_port: u16) -> bool {
    matches!(dst_port, VXLAN_PORT | VXLAN_LINUX_PORT | GENEVE_PORT)
}

/// A UDP datagram to a tunnel port. `Ok(None)`: its payload is not that tunnel's
/// header (the port was a coincidence); `Err`: the header was right but what it
/// carries is damaged.
pub fn udp<'a, V: Visit>(
    dst_port: u16,
    payload: &'a [u8],
    outer_src: IpAddr,
    outer_dst: IpAddr,
    v: &mut V,
) -> Result<Option<Peeled<'a>>, &'static str> {
    if dst_port == GENEVE_PORT {
        return geneve(payload, outer_src, outer_dst, v);
    }
    // VXLAN (RFC 7348): flags (I = 0x08), 3 reserved, VNI (24 bits), 1 reserved.
    if payload.len() < 8 || payload[0] & 0x08 == 0 {
        return Ok(None);
    }
    let vni = u32::from_be_bytes([0, payload[4], payload[5], payload[6]]);
    if V::COLLECT {
        v.layer(Encap::Vxlan {
            vni,
            port: dst_port,
            outer_src,
            outer_dst,
        });
    }
    let inner = link_result(link::ethernet(&payload[8..], 0, v))?;
    Ok(Some(Peeled {
        key: TunnelKey::new(TunnelKind::Vxlan, vni, outer_src, outer_dst),
        inner,
    }))
}

/// Geneve (RFC 8926): version (2 bits) and option length (6 bits, in 4-byte words),
/// flags, protocol type, VNI (24 bits), reserved, then the options.
fn geneve<'a, V: Visit>(
    b: &'a [u8],
    outer_src: IpAddr,
    outer_dst: IpAddr,
    v: &mut V,
) -> Result<Option<Peeled<'a>>, &'static str> {
    if b.len() < 8 || b[0] >> 6 != 0 {
        return Ok(None);
    }
    let header_len = 8 + usize::from(b[0] & 0x3f) * 4;
    let protocol = u16::from_be_bytes([b[2], b[3]]);
    let vni = u32::from_be_bytes([0, b[4], b[5], b[6]]);
    let Some(body) = b.get(header_len..) else {
        return Err("Geneve options cut short");
    };
    if V::COLLECT {
        v.layer(Encap::Geneve {
            vni,
            outer_src,
            outer_dst,
        });
    }
    let inner = match protocol {
        ETHERTYPE_TEB => link_result(link::ethernet(body, 0, v))?,
        0x0800 | 0x86dd => ip_inner(body)?,
        _ => Inner::NotIp,
    };
    Ok(Some(Peeled {
        key: TunnelKey::new(TunnelKind::Geneve, vni, outer_src, outer_dst),
        inner,
    }))
}

/// The payload of IP protocol 4, 41 or 47. `Ok(None)`: a GRE variant that is not
/// decoded (PPTP's enhanced GRE, source routing, unknown payloads).
pub fn ip_proto<'a, V: Visit>(
    proto: u8,
    payload: &'a [u8],
    outer_src: IpAddr,
    outer_dst: IpAddr,
    v: &mut V,
) -> Result<Option<Peeled<'a>>, &'static str> {
    if proto == IPPROTO_GRE {
        return gre(payload, outer_src, outer_dst, v);
    }
    if V::COLLECT {
        let mode = match (outer_src.is_ipv4(), proto == IPPROTO_IPIP) {
            (true, true) => "ipip",
            (true, false) => "sit",
            (false, false) => "ip6ip6",
            (false, true) => "ipip6",
        };
        v.layer(Encap::IpInIp {
            mode,
            outer_src,
            outer_dst,
        });
    }
    let inner = ip_inner(payload)?;
    Ok(Some(Peeled {
        key: TunnelKey::new(TunnelKind::IpInIp, 0, outer_src, outer_dst),
        inner,
    }))
}

/// GRE (RFC 2784, keys and sequence numbers of RFC 2890).
fn gre<'a, V: Visit>(
    b: &'a [u8],
    outer_src: IpAddr,
    outer_dst: IpAddr,
    v: &mut V,
) -> Result<Option<Peeled<'a>>, &'static str> {
    const CHECKSUM: u16 = 0x8000;
    const ROUTING: u16 = 0x4000;
    const KEY: u16 = 0x2000;
    const SEQ: u16 = 0x1000;
    let flags = be16(b, 0).ok_or("GRE header cut short")?;
    let protocol = be16(b, 2).ok_or("GRE header cut short")?;
    // Version 1 is PPTP's enhanced GRE; routing (RFC 1701) is long obsolete.
    if flags & 0x7 != 0 || flags & ROUTING != 0 {
        return Ok(None);
    }
    let mut at = 4;
    if flags & CHECKSUM != 0 {
        at += 4;
    }
    let key = if flags & KEY != 0 {
        let k = be32(b, at).ok_or("GRE key cut short")?;
        at += 4;
        Some(k)
    } else {
        None
    };
    let seq = flags & SEQ != 0;
    if seq {
        at += 4;
    }
    let body = b.get(at..).ok_or("GRE header cut short")?;
    let payload = match protocol {
        0x0800 => "ipv4",
        0x86dd => "ipv6",
        ETHERTYPE_TEB => "ethernet",
        link::ETHERTYPE_MPLS_UC | link::ETHERTYPE_MPLS_MC => "mpls",
        ETHERTYPE_ERSPAN_2 | ETHERTYPE_ERSPAN_3 => {
            return erspan(protocol, seq, body, outer_src, outer_dst, v);
        }
        _ => return Ok(None),
    };
    if V::COLLECT {
        v.layer(Encap::Gre {
            key,
            payload,
            outer_src,
            outer_dst,
        });
    }
    let inner = match payload {
        "ethernet" => link_result(link::ethernet(body, 0, v))?,
        "mpls" => link_result(link::mpls(body, 0, v))?,
        _ => ip_inner(body)?,
    };
    Ok(Some(Peeled {
        key: TunnelKey::new(TunnelKind::Gre, key.unwrap_or(0), outer_src, outer_dst),
        inner,
    }))
}

/// ERSPAN inside GRE: type I (0x88be without a sequence number: no header of its
/// own), type II (0x88be, 8-byte header, version 1) and type III (0x22eb, 12-byte
/// header, version 2, plus an 8-byte platform subheader when its O bit is set). Each
/// carries a mirrored Ethernet frame.
fn erspan<'a, V: Visit>(
    protocol: u16,
    seq: bool,
    b: &'a [u8],
    outer_src: IpAddr,
    outer_dst: IpAddr,
    v: &mut V,
) -> Result<Option<Peeled<'a>>, &'static str> {
    let (erspan_type, session, header_len) = if protocol == ETHERTYPE_ERSPAN_2 && !seq {
        (1, 0, 0)
    } else {
        let word = be16(b, 2).ok_or("ERSPAN header cut short")?;
        let version = b[0] >> 4;
        let session = word & 0x03ff;
        match (protocol, version) {
            (ETHERTYPE_ERSPAN_2, 1) => (2, session, 8),
            (ETHERTYPE_ERSPAN_3, 2) => {
                let flags = *b.get(11).ok_or("ERSPAN header cut short")?;
                // Frame type (FT, bits 1-5 of byte 10 and 11): 0 is Ethernet.
                let ft = (be16(b, 10).unwrap_or(0) >> 10) & 0x1f;
                if ft != 0 {
                    return Ok(None);
                }
                (3, session, if flags & 1 != 0 { 20 } else { 12 })
            }
            _ => return Ok(None),
        }
    };
    let body = b.get(header_len..).ok_or("ERSPAN header cut short")?;
    if V::COLLECT {
        v.layer(Encap::Erspan {
            erspan_type,
            session,
            outer_src,
            outer_dst,
        });
    }
    let inner = link_result(link::ethernet(body, 0, v))?;
    Ok(Some(Peeled {
        key: TunnelKey::new(TunnelKind::Erspan, session.into(), outer_src, outer_dst),
        inner,
    }))
}
