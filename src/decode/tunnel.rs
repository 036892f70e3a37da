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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::decode::{
        decode, decode_in_tunnel, encapsulation, Decoded, LinkType, Packet, Transport,
    };

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // The first SYN of connections in the tunnel fixtures (fixtures/scripts/*.sh),
    // captured on the underlay's Ethernet.
    /// vxlan.pcap frame 1: VNI 42, UDP 4789, 10.42.0.1:40001 -> 10.42.0.2:7000.
    const VXLAN_4789: &str = "02000000070202000000070108004500006e9a5f000040115c1cc0000201c0000202be9712b5005afc6a0800000000002a0002000000420202000000420108004500003cd48f4000400651d60a2a00010a2a00029c411b581fef97ef00000000a002fd5c29a40000020405820402080a8654170b000000000103030a";
    /// vxlan.pcap frame 11: VNI 7, UDP 8472, 10.7.0.1:40002 -> 10.7.0.2:7000.
    const VXLAN_8472: &str = "02000000070202000000070108004500006e9a67000040115c14c0000201c0000202e1962118005a83c2080000000000070002000000770202000000770108004500003c827a40004006a4310a0700010a0700029c421b588c5e73f400000000a002fd5c89160000020405820402080a3ed3b6ea000000000103030a";
    /// geneve.pcap frame 1: VNI 5000, one 8-byte option, Ethernet inside.
    const GENEVE: &str = "020000000602020000000601080045000076a8bb400040110db8c0000201c000020217c117c1006223b00200655800138800010280010000002a02000000600202000000600108004500003c7f5940004006a6e80a3c00010a3c00029c411b58e4f3bc9100000000a002ff0037210000020405500402080ad1e6d2be000000000103030a";
    /// gre.pcap frame 1: key 1001 and a sequence number, IPv4 inside.
    const GRE_KEY_SEQ: &str = "02000000020202000000020108004500005cd09f4000402fe5cfc0000201c000020230000800000003e9000000024500003cd70c400040064fab0a0100010a0100029c411b58defbf34d00000000a002ff0022f10000020405500402080aa021e865000000000103030a";
    /// gre.pcap frame 11: checksum and key 2002, Ethernet inside (TEB).
    const GRE_TEB: &str = "02000000020202000000020108004500006ad0a64000402fe5bac0000201c0000202a0006558b7060000000007d202000000220202000000220108004500003c6cc940004006b9ec0a0200010a0200029c421b58f02f6d0600000000a002ff00ef000000020405500402080af0224165000000000103030a";
    /// ipip.pcap frames 1, 11, 21, 31: IPv4 in IPv4, IPv6 in IPv4, IPv6 in IPv6, IPv4 in IPv6.
    const IPIP: &str = "0200000004020200000004010800450000509e45400040041861c0000201c00002024500003cc48c4000400662250a0400010a0400029c411b58e7650dac00000000a002ff00fac70000020405500402080ae57da864000000000103030a";
    const SIT: &str = "0200000004020200000004010800450000642f914000402986dcc0000201c0000202600747520028064020010db800040000000000000000000120010db80004000000000000000000029c421b58e63cb0ea00000000a002fb40117900000204053c0402080a760d1b6f000000000103030a";
    const IP6IP6: &str = "02000000040202000000040186dd6005d42b0050294020010db800000000000000000000000120010db8000000000000000000000002600d27a10028064020010db800060000000000000000000120010db80006000000000000000000029c431b58a191a4a400000000a002fb40863600000204053c0402080acf6e9e3c000000000103030a";
    const IPIP6: &str = "02000000040202000000040186dd60091d09003c044020010db800000000000000000000000120010db80000000000000000000000024500003c520540004006d4a80a0600010a0600029c441b5806c32b5000000000a002ff0001ef0000020405500402080acb227e90000000000103030a";
    /// erspan.pcap frames 1 and 11: type II session 100, type III session 200.
    const ERSPAN_2: &str = "020000000e02020000000e0108004500006eba674000402ffbf5c0000201c0000202100088be00000001100000640000000102000000100202000000100108004500003c64fe40004006c1a70a0a00010a0a00029c411b580f396a1100000000a002faf095200000020405b40402080a8f13e3dd000000000103030a";
    const ERSPAN_3: &str = "020000000e02020000000e01080045000072ba734000402ffbe5c0000201c0000202100022eb00000001200000c8030d96600000005202000000110202000000110108004500003c52f040004006d3b30a0b00010a0b00029c421b58f5a0119f00000000a002faf0a2b20000020405b40402080a8a434d23000000000103030a";

    pub(crate) const ALL: &[&str] = &[
        VXLAN_4789,
        VXLAN_8472,
        GENEVE,
        GRE_KEY_SEQ,
        GRE_TEB,
        IPIP,
        SIT,
        IP6IP6,
        IPIP6,
        ERSPAN_2,
        ERSPAN_3,
    ];

    fn syn(frame: &[u8]) -> Tunnelled<'_> {
        let mut tunnel = TunnelKey::None;
        match decode_in_tunnel(LinkType::Ethernet, frame, &mut tunnel) {
            Decoded::Ip(p) => {
                match &p.transport {
                    Transport::Tcp(t) => assert!(t.flags.syn() && !t.flags.ack()),
                    other => panic!("{other:?}"),
                }
                assert!(p.encapsulated);
                Tunnelled { p, tunnel }
            }
            other => panic!("{other:?}"),
        }
    }

    /// A decoded packet and its tunnel.
    struct Tunnelled<'a> {
        p: Packet<'a>,
        tunnel: TunnelKey,
    }

    impl<'a> std::ops::Deref for Tunnelled<'a> {
        type Target = Packet<'a>;
        fn deref(&self) -> &Packet<'a> {
            &self.p
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn key(kind: TunnelKind, id: u32, a: &str, b: &str) -> TunnelKey {
        TunnelKey::new(kind, id, ip(a), ip(b))
    }

    #[test]
    fn vxlan_on_both_ports() {
        let f = hex(VXLAN_4789);
        let p = syn(&f);
        assert_eq!((p.ip.src, p.ip.dst), (ip("10.42.0.1"), ip("10.42.0.2")));
        assert_eq!(p.src_mac, Some([2, 0, 0, 0, 0x42, 1]), "the inner MAC");
        assert_eq!(
            p.tunnel,
            key(TunnelKind::Vxlan, 42, "192.0.2.2", "192.0.2.1")
        );
        assert_eq!(
            encapsulation(LinkType::Ethernet, &f),
            vec![Encap::Vxlan {
                vni: 42,
                port: 4789,
                outer_src: ip("192.0.2.1"),
                outer_dst: ip("192.0.2.2")
            }]
        );
        let f = hex(VXLAN_8472);
        let p = syn(&f);
        assert_eq!(p.ip.src, ip("10.7.0.1"));
        assert_eq!(
            p.tunnel,
            key(TunnelKind::Vxlan, 7, "192.0.2.1", "192.0.2.2")
        );
    }

    #[test]
    fn geneve_with_options() {
        let f = hex(GENEVE);
        let p = syn(&f);
        assert_eq!(p.ip.src, ip("10.60.0.1"));
        assert_eq!(
            p.tunnel,
            key(TunnelKind::Geneve, 5000, "192.0.2.1", "192.0.2.2")
        );
        assert!(matches!(
            encapsulation(LinkType::Ethernet, &f)[..],
            [Encap::Geneve { vni: 5000, .. }]
        ));
    }

    #[test]
    fn gre_keys_sequence_checksum_and_teb() {
        let f = hex(GRE_KEY_SEQ);
        let p = syn(&f);
        assert_eq!(p.ip.src, ip("10.1.0.1"));
        assert_eq!(
            p.tunnel,
            key(TunnelKind::Gre, 1001, "192.0.2.1", "192.0.2.2")
        );
        assert_eq!(
            encapsulation(LinkType::Ethernet, &f),
            vec![Encap::Gre {
                key: Some(1001),
                payload: "ipv4",
                outer_src: ip("192.0.2.1"),
                outer_dst: ip("192.0.2.2")
            }]
        );
        let f = hex(GRE_TEB);
        let p = syn(&f);
        assert_eq!(p.ip.src, ip("10.2.0.1"));
        assert_eq!(p.src_mac, Some([2, 0, 0, 0, 0x22, 1]));
        assert_eq!(
            p.tunnel,
            key(TunnelKind::Gre, 2002, "192.0.2.1", "192.0.2.2")
        );
        assert!(matches!(
            encapsulation(LinkType::Ethernet, &f)[..],
            [Encap::Gre {
                key: Some(2002),
                payload: "ethernet",
                ..
            }]
        ));
    }

    #[test]
    fn ip_in_ip_all_four_modes() {
        for (frame, inner, mode, outer) in [
            (IPIP, "10.4.0.1", "ipip", "192.0.2.1"),
            (SIT, "2001:db8:4::1", "sit", "192.0.2.1"),
            (IP6IP6, "2001:db8:6::1", "ip6ip6", "2001:db8::1"),
            (IPIP6, "10.6.0.1", "ipip6", "2001:db8::1"),
        ] {
            let f = hex(frame);
            let p = syn(&f);
            assert_eq!(p.ip.src, ip(inner), "{mode}");
            assert!(
                matches!(p.tunnel, TunnelKey::Tunnel { kind: TunnelKind::IpInIp, id: 0, lo, .. } if lo == ip(outer)),
                "{mode}: {:?}",
                p.tunnel
            );
            let layers = encapsulation(LinkType::Ethernet, &f);
            assert!(
                matches!(&layers[..], [Encap::IpInIp { mode: m, .. }] if *m == mode),
                "{layers:?}"
            );
        }
    }

    #[test]
    fn erspan_types_two_and_three() {
        for (frame, erspan_type, session, inner) in [
            (ERSPAN_2, 2, 100, "10.10.0.1"),
            (ERSPAN_3, 3, 200, "10.11.0.1"),
        ] {
            let f = hex(frame);
            let p = syn(&f);
            assert_eq!(p.ip.src, ip(inner));
            assert_eq!(
                p.tunnel,
                key(TunnelKind::Erspan, session, "192.0.2.1", "192.0.2.2")
            );
            assert_eq!(
                encapsulation(LinkType::Ethernet, &f),
                vec![Encap::Erspan {
                    erspan_type,
                    session: session as u16,
                    outer_src: ip("192.0.2.1"),
                    outer_dst: ip("192.0.2.2")
                }]
            );
        }
    }

    #[test]
    fn a_tunnel_port_without_its_header_stays_udp() {
        // VXLAN without the I flag; Geneve version 1: plain UDP datagrams.
        let mut f = hex(VXLAN_4789);
        f[42] = 0;
        assert!(matches!(
            decode(LinkType::Ethernet, &f),
            Decoded::Ip(Packet {
                transport: Transport::Udp { dst_port: 4789, .. },
                encapsulated: false,
                ..
            })
        ));
        let mut f = hex(GENEVE);
        f[42] |= 0x40;
        assert!(matches!(
            decode(LinkType::Ethernet, &f),
            Decoded::Ip(Packet {
                transport: Transport::Udp { dst_port: 6081, .. },
                ..
            })
        ));
        // VXLAN whose inside is not a whole Ethernet header: UDP too.
        let f = hex(VXLAN_4789);
        assert!(matches!(
            decode(LinkType::Ethernet, &f[..55]),
            Decoded::Ip(Packet {
                transport: Transport::Udp { .. },
                ..
            })
        ));
    }

    #[test]
    fn gre_variants_not_decoded_stay_gre() {
        // PPTP's enhanced GRE (version 1) and an unknown payload type.
        let mut f = hex(GRE_KEY_SEQ);
        f[35] |= 1;
        assert!(matches!(
            decode(LinkType::Ethernet, &f),
            Decoded::Ip(Packet {
                transport: Transport::Other(47, _),
                ..
            })
        ));
        let mut f = hex(GRE_KEY_SEQ);
        f[36..38].copy_from_slice(&[0x88, 0x0b]);
        assert!(matches!(
            decode(LinkType::Ethernet, &f),
            Decoded::Ip(Packet {
                transport: Transport::Other(47, _),
                ..
            })
        ));
    }

    #[test]
    fn nesting_is_bounded() {
        // IPv4 in IPv4 n times around the IPIP fixture's inner SYN.
        let f = hex(IPIP);
        let (eth, outer, inner) = (&f[..14], &f[14..34], &f[34..]);
        let nested = |n: usize| {
            let mut g = eth.to_vec();
            for k in 0..n {
                let mut h = outer.to_vec();
                let total = (20 * (n - k) + inner.len()) as u16;
                h[2..4].copy_from_slice(&total.to_be_bytes());
                g.extend_from_slice(&h);
            }
            g.extend_from_slice(inner);
            g
        };
        assert!(matches!(
            decode(LinkType::Ethernet, &nested(crate::decode::MAX_TUNNELS)),
            Decoded::Ip(Packet {
                transport: Transport::Tcp(_),
                ..
            })
        ));
        assert!(matches!(
            decode(LinkType::Ethernet, &nested(crate::decode::MAX_TUNNELS + 1)),
            Decoded::Malformed(_)
        ));
    }

    #[test]
    fn every_cut_and_every_flipped_byte_is_safe() {
        for frame in ALL {
            let f = hex(frame);
            for n in 0..=f.len() {
                let _ = decode(LinkType::Ethernet, &f[..n]);
                let _ = encapsulation(LinkType::Ethernet, &f[..n]);
            }
            for i in 0..f.len() {
                for x in [0xff, 0x01, 0x80] {
                    let mut g = f.clone();
                    g[i] ^= x;
                    let _ = decode(LinkType::Ethernet, &g);
                    let _ = encapsulation(LinkType::Ethernet, &g);
                }
            }
        }
    }
}
