//! Link layers found in real captures: Ethernet (802.1Q / QinQ tags), Linux cooked
//! v1 and v2 (`tcpdump -i any`; v2 carries the interface index), raw IP and BSD
//! loopback/null; behind an Ethernet or cooked header also MPLS label stacks
//! (0x8847/0x8848, with an Ethernet pseudowire behind a control word) and PPPoE
//! sessions (0x8864). Cooked headers are parsed here because etherparse rejects
//! ARPHRD_LOOPBACK and lacks v2.

use super::tunnel::{Encap, Visit};

/// The link types we decode, from the value libpcap reports (DLT_*), not the file
/// format's LINKTYPE_* number: libpcap maps LINKTYPE_RAW (101) to DLT_RAW (12 on Linux).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    Ethernet,
    LinuxSll,
    LinuxSll2,
    RawIp,
    Ipv4,
    Ipv6,
    /// DLT_NULL: 4-byte address family in the capturing host's byte order.
    Null,
    /// DLT_LOOP (OpenBSD): 4-byte address family in network byte order.
    Loop,
}

impl LinkType {
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        Some(match dlt {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::RawIp,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            LinkType::Ethernet => "EN10MB",
            LinkType::LinuxSll => "LINUX_SLL",
            LinkType::LinuxSll2 => "LINUX_SLL2",
            LinkType::RawIp => "RAW",
            LinkType::Ipv4 => "IPV4",
            LinkType::Ipv6 => "IPV6",
            LinkType::Null => "NULL",
            LinkType::Loop => "LOOP",
        }
    }
}

/// Whether the capturing host sent or received a frame (cooked pkttype).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkDirection {
    Incoming,
    Outgoing,
}

#[derive(Debug)]
pub struct L2<'a> {
    pub src_mac: Option<[u8; 6]>,
    pub direction: Option<LinkDirection>,
    /// The interface the frame was captured on (cooked v2, `-i any`).
    pub ifindex: Option<u32>,
    /// The IP packet (IPv4 or IPv6, decided by its version nibble).
    pub network: &'a [u8],
    /// MPLS labels or a PPPoE session came between the link header and IP.
    pub encapsulated: bool,
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
pub(crate) const ETHERTYPE_MPLS_UC: u16 = 0x8847;
pub(crate) const ETHERTYPE_MPLS_MC: u16 = 0x8848;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;
const ARPHRD_ETHER: u16 = 1;
const PACKET_OUTGOING: u8 = 4;
const MAX_VLAN_TAGS: usize = 4;
const MAX_MPLS_LABELS: usize = 16;
/// Link layers inside link layers (Ethernet over MPLS over Ethernet...): bounded so a
/// hostile frame cannot recurse deeply.
const MAX_LINK_NESTING: u8 = 4;

pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn mac_at(b: &[u8], at: usize) -> Option<[u8; 6]> {
    b.get(at..at + 6)?.try_into().ok()
}

fn is_ip_ethertype(t: u16) -> bool {
    t == ETHERTYPE_IPV4 || t == ETHERTYPE_IPV6
}

fn direction_of(pkttype: u8) -> LinkDirection {
    if pkttype == PACKET_OUTGOING {
        LinkDirection::Outgoing
    } else {
        LinkDirection::Incoming
    }
}

/// Ok(None): a well-formed frame that does not carry IP. `v` is told about the MPLS
/// and PPPoE layers found on the way (a no-op on the hot path).
#[inline]
pub fn parse<'a, V: Visit>(
    link: LinkType,
    frame: &'a [u8],
    v: &mut V,
) -> Result<Option<L2<'a>>, &'static str> {
    match link {
        LinkType::Ethernet => ethernet_top(frame, v),
        LinkType::LinuxSll => sll_v1(frame, v),
        LinkType::LinuxSll2 => sll_v2(frame, v),
        LinkType::RawIp | LinkType::Ipv4 | LinkType::Ipv6 => Ok(raw(frame, 0, None, None)),
        LinkType::Null => null(frame, false),
        LinkType::Loop => null(frame, true),
    }
}

fn raw<'a>(
    frame: &'a [u8],
    at: usize,
    src_mac: Option<[u8; 6]>,
    direction: Option<LinkDirection>,
) -> Option<L2<'a>> {
    let network = frame.get(at..)?;
    match network.first()? >> 4 {
        4 | 6 => Some(L2 {
            src_mac,
            direction,
            ifindex: None,
            network,
            encapsulated: false,
        }),
        _ => None,
    }
}

/// A captured Ethernet frame: `ethernet`, inlined into `parse` (the hot path; the
/// tunnels' inner frames use the out-of-line copy).
#[inline(always)]
fn ethernet_top<'a, V: Visit>(frame: &'a [u8], v: &mut V) -> Result<Option<L2<'a>>, &'static str> {
    ethernet_at(frame, 0, v)
}

/// An Ethernet frame inside something else (VXLAN, Geneve, GRE-TEB, ERSPAN, an MPLS
/// pseudowire). `nesting` counts the link layers already around it.
#[inline(never)]
pub(crate) fn ethernet<'a, V: Visit>(
    frame: &'a [u8],
    nesting: u8,
    v: &mut V,
) -> Result<Option<L2<'a>>, &'static str> {
    ethernet_at(frame, nesting, v)
}

#[inline(always)]
fn ethernet_at<'a, V: Visit>(
    frame: &'a [u8],
    nesting: u8,
    v: &mut V,
) -> Result<Option<L2<'a>>, &'static str> {
    let src_mac = mac_at(frame, 6).ok_or("ethernet header cut short")?;
    let mut ethertype = be16(frame, 12).ok_or("ethernet header cut short")?;
    let mut at = 14;
    let mut tags = 0;
    while matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        tags += 1;
        if tags > MAX_VLAN_TAGS {
            return Err("too many VLAN tags");
        }
        ethertype = be16(frame, at + 2).ok_or("VLAN tag cut short")?;
        at += 4;
    }
    if !is_ip_ethertype(ethertype) {
        return other_ethertype(ethertype, frame, at, Some(src_mac), None, nesting, v);
    }
    raw(frame, at, Some(src_mac), None)
        .map(Some)
        .ok_or("IP header missing after ethernet header")
}

/// What follows an ethertype that is not IP: MPLS, a PPPoE session, or nothing we
/// decode (ARP, LLDP, ...). Out of line: the plain path never comes here.
#[cold]
#[inline(never)]
fn other_ethertype<'a, V: Visit>(
    ethertype: u16,
    frame: &'a [u8],
    at: usize,
    src_mac: Option<[u8; 6]>,
    direction: Option<LinkDirection>,
    nesting: u8,
    v: &mut V,
) -> Result<Option<L2<'a>>, &'static str> {
    let inner = match ethertype {
        ETHERTYPE_MPLS_UC | ETHERTYPE_MPLS_MC => mpls(frame.get(at..).unwrap_or(&[]), nesting, v)?,
        ETHERTYPE_PPPOE_SESSION => pppoe(frame.get(at..).unwrap_or(&[]), v)?,
        _ => return Ok(None),
    };
    Ok(inner.map(|mut l2| {
        // The MAC nearest the IP packet is the one that speaks for its sender.
        l2.src_mac = l2.src_mac.or(src_mac);
        l2.direction = direction;
        l2.encapsulated = true;
        l2
    }))
}

/// An MPLS label stack (RFC 3032) and what its bottom label carries: IPv4 or IPv6
/// (told by the version nibble), or an Ethernet pseudowire behind a control word
/// (first nibble 0, RFC 4448). Anything else is not decoded.
pub(crate) fn mpls<'a, V: Visit>(
    b: &'a [u8],
    nesting: u8,
    v: &mut V,
) -> Result<Option<L2<'a>>, &'static str> {
    let mut labels = [0u32; super::tunnel::MAX_LABELS_KEPT];
    let mut n = 0;
    let mut at = 0;
    loop {
        let entry = be32(b, at).ok_or("MPLS label stack cut short")?;
        at += 4;
        if V::COLLECT && n < labels.len() {
            labels[n] = entry >> 12;
            n += 1;
        }
        if entry & 0x100 != 0 {
            break;
        }
        if at / 4 >= MAX_MPLS_LABELS {
            return Err("MPLS label stack too deep");
        }
    }
    if V::COLLECT {
        v.layer(Encap::Mpls {
            labels: labels[..n].to_vec(),
        });
    }
    let payload = &b[at..];
    match payload.first().map(|x| x >> 4) {
        Some(4 | 6) => Ok(raw(payload, 0, None, None)),
        Some(0) if payload.len() >= 4 => {
            if nesting >= MAX_LINK_NESTING {
                return Err("link layers nested too deep");
            }
            ethernet(&payload[4..], nesting + 1, v)
        }
        Some(_) => Ok(None),
        None => Err("MPLS payload missing"),
    }
}

/// A PPPoE session frame (RFC 2516): version/type, code, session id, length, then
/// the PPP protocol field.
fn pppoe<'a, V: Visit>(b: &'a [u8], v: &mut V) -> Result<Option<L2<'a>>, &'static str> {
    let session = be16(b, 2).ok_or("PPPoE header cut short")?;
    let protocol = be16(b, 6).ok_or("PPPoE header cut short")?;
    if b[0] != 0x11 || b[1] != 0 {
        return Ok(None);
    }
    if V::COLLECT {
        v.layer(Encap::Pppoe { session });
    }
    match protocol {
        PPP_IPV4 | PPP_IPV6 => raw(b, 8, None, None)
            .map(Some)
            .ok_or("IP header missing after PPPoE header"),
        _ => Ok(None),
    }
}

fn sll_v1<'a, V: Visit>(frame: &'a [u8], v: &mut V) -> Result<Option<L2<'a>>, &'static str> {
    // pkttype(2) arphrd(2) addr_len(2) addr(8) protocol(2)
    let pkttype = be16(frame, 0).ok_or("cooked header cut short")?;
    let arphrd = be16(frame, 2).ok_or("cooked header cut short")?;
    let addr_len = be16(frame, 4).ok_or("cooked header cut short")?;
    let protocol = be16(frame, 14).ok_or("cooked header cut short")?;
    let mac = (arphrd == ARPHRD_ETHER && addr_len == 6)
        .then(|| mac_at(frame, 6))
        .flatten();
    let direction = Some(direction_of(pkttype as u8));
    if !is_ip_ethertype(protocol) {
        return other_ethertype(protocol, frame, 16, mac, direction, 0, v);
    }
    raw(frame, 16, mac, direction)
        .map(Some)
        .ok_or("IP header missing after cooked header")
}

fn sll_v2<'a, V: Visit>(frame: &'a [u8], v: &mut V) -> Result<Option<L2<'a>>, &'static str> {
    // protocol(2) reserved(2) ifindex(4) arphrd(2) pkttype(1) addr_len(1) addr(8)
    if frame.len() < 20 {
        return Err("cooked v2 header cut short");
    }
    let protocol = u16::from_be_bytes([frame[0], frame[1]]);
    let ifindex = u32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let arphrd = u16::from_be_bytes([frame[8], frame[9]]);
    let pkttype = frame[10];
    let addr_len = frame[11];
    let mac = (arphrd == ARPHRD_ETHER && addr_len == 6)
        .then(|| mac_at(frame, 12))
        .flatten();
    let direction = Some(direction_of(pkttype));
    let l2 = if is_ip_ethertype(protocol) {
        raw(frame, 20, mac, direction)
            .map(Some)
            .ok_or("IP header missing after cooked v2 header")?
    } else {
        other_ethertype(protocol, frame, 20, mac, direction, 0, v)?
    };
    Ok(l2.map(|l2| L2 {
        ifindex: Some(ifindex),
        ..l2
    }))
}

fn null(frame: &[u8], network_order: bool) -> Result<Option<L2<'_>>, &'static str> {
    let bytes: [u8; 4] = frame
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or("loopback header cut short")?;
    // DLT_NULL's byte order is the capturing host's, which we do not know: accept both.
    let family = if network_order {
        u32::from_be_bytes(bytes)
    } else {
        let le = u32::from_le_bytes(bytes);
        if le <= 0xffff {
            le
        } else {
            u32::from_be_bytes(bytes)
        }
    };
    // AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS).
    match family {
        2 | 10 | 24 | 28 | 30 => raw(frame, 4, None, None)
            .map(Some)
            .ok_or("IP header missing after loopback header"),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tunnel::NoVisit;

    fn p(link: LinkType, frame: &[u8]) -> Result<Option<L2<'_>>, &'static str> {
        parse(link, frame, &mut NoVisit)
    }

    const IPV4_MIN: [u8; 20] = [
        0x45, 0, 0, 20, 0, 1, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2,
    ];

    fn eth(tags: &[u16], ethertype: u16) -> Vec<u8> {
        let mut f = vec![0xaa; 6];
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
        for t in tags {
            f.extend_from_slice(&t.to_be_bytes());
            f.extend_from_slice(&[0, 100]);
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(&IPV4_MIN);
        f
    }

    #[test]
    fn ethernet_plain_vlan_and_qinq() {
        for tags in [
            &[][..],
            &[ETHERTYPE_VLAN][..],
            &[ETHERTYPE_QINQ, ETHERTYPE_VLAN][..],
        ] {
            let f = eth(tags, ETHERTYPE_IPV4);
            let l2 = p(LinkType::Ethernet, &f).unwrap().unwrap();
            assert_eq!(l2.network, &IPV4_MIN[..]);
            assert_eq!(l2.src_mac, Some([2, 0, 0, 0, 0, 1]));
        }
    }

    #[test]
    fn ethernet_non_ip_and_short() {
        assert!(p(LinkType::Ethernet, &eth(&[], 0x0806)).unwrap().is_none());
        assert!(p(LinkType::Ethernet, &[0u8; 13]).is_err());
        assert!(p(LinkType::Ethernet, &eth(&[ETHERTYPE_VLAN; 5], 0x0800)).is_err());
    }

    #[test]
    fn cooked_v1_loopback_and_v2() {
        // v1, ARPHRD_LOOPBACK (772), outgoing
        let mut v1 = vec![0, 4, 0x03, 0x04, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
        v1.extend_from_slice(&IPV4_MIN);
        let l2 = p(LinkType::LinuxSll, &v1).unwrap().unwrap();
        assert_eq!(l2.src_mac, None);
        assert_eq!(l2.direction, Some(LinkDirection::Outgoing));
        assert_eq!(l2.network.len(), 20);
        // v2, ARPHRD_ETHER, incoming, with MAC
        let mut v2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6];
        v2.extend_from_slice(&[2, 0, 0, 0, 0, 9, 0, 0]);
        v2.extend_from_slice(&IPV4_MIN);
        let l2 = p(LinkType::LinuxSll2, &v2).unwrap().unwrap();
        assert_eq!(l2.src_mac, Some([2, 0, 0, 0, 0, 9]));
        assert_eq!(l2.direction, Some(LinkDirection::Incoming));
        assert!(p(LinkType::LinuxSll2, &v2[..19]).is_err());
    }

    #[test]
    fn null_both_byte_orders() {
        let mut le = 2u32.to_le_bytes().to_vec();
        le.extend_from_slice(&IPV4_MIN);
        assert!(p(LinkType::Null, &le).unwrap().is_some());
        let mut be = 30u32.to_be_bytes().to_vec();
        be.extend_from_slice(&IPV4_MIN);
        assert!(p(LinkType::Null, &be).unwrap().is_some());
        let mut other = 7u32.to_le_bytes().to_vec();
        other.extend_from_slice(&IPV4_MIN);
        assert!(p(LinkType::Null, &other).unwrap().is_none());
    }

    #[test]
    fn dlt_numbers_from_libpcap() {
        assert_eq!(LinkType::from_dlt(12), Some(LinkType::RawIp));
        assert_eq!(LinkType::from_dlt(276), Some(LinkType::LinuxSll2));
        assert_eq!(LinkType::from_dlt(105), None);
    }

    fn hex(s: &str) -> Vec<u8> {
        crate::decode::tunnel::tests::hex(s)
    }

    /// mpls.pcap frames 1 and 2: labels 100, 200 one way, 300 the other (10.8.0.1:40001
    /// -> 10.8.0.2:7000); pppoe.pcap frame 1: session 0x1234.
    const MPLS_TWO: &str = "020000000802020000000801884700064040000c81404500003ce6454000400640640a0800010a0800029c411b5881fe542600000000a002ff00d7d00000020405500402080a1031bf8d000000000103030a";
    const MPLS_ONE: &str = "02000000080102000000080288470012c1404500003c00004000400626aa0a0800020a0800011b589c419746a2d081fe5427a012fcc051b40000020405500402080a8344caef1031bf8d0103030a";
    const PPPOE: &str = "020000000802020000000801886411001234003e00214500003cf6cc400040062fdb0a0900010a0900029c421b58793961ee00000000a002ff0000eb0000020405500402080a2bad75f1000000000103030a";
    /// container_any.pcap frame 1: cooked v2 on interface 3 (a container's veth).
    const SLL2_VETH: &str = "08000000000000030001030602000000880200004500003ca2c34000400683440a5800020a5800039c411b58fe22ce1a00000000a002faf0506a0000020405b40402080adc7287a3000000000103030a";

    #[test]
    fn mpls_label_stacks() {
        for (frame, labels, src) in [
            (MPLS_TWO, vec![100, 200], [10, 8, 0, 1]),
            (MPLS_ONE, vec![300], [10, 8, 0, 2]),
        ] {
            let f = hex(frame);
            let l2 = p(LinkType::Ethernet, &f).unwrap().unwrap();
            assert!(l2.encapsulated);
            assert_eq!(&l2.network[12..16], &src);
            let mut seen = Vec::new();
            parse(LinkType::Ethernet, &f, &mut seen).unwrap();
            assert_eq!(seen, vec![Encap::Mpls { labels }]);
        }
        // A stack that never ends (no bottom-of-stack bit) is bounded.
        let mut f = hex(MPLS_TWO)[..14].to_vec();
        for _ in 0..40 {
            f.extend_from_slice(&[0, 0x10, 0, 64]);
        }
        assert!(p(LinkType::Ethernet, &f).is_err());
        // A pseudowire: control word, then an Ethernet frame carrying the IP packet.
        let inner = hex(MPLS_TWO);
        let mut pw = inner[..14].to_vec();
        pw.extend_from_slice(&[0, 0x64, 0x11, 64, 0, 0, 0, 0]);
        pw.extend_from_slice(&inner[..12]);
        pw.extend_from_slice(&[0x08, 0x00]);
        pw.extend_from_slice(&inner[22..]);
        let l2 = p(LinkType::Ethernet, &pw).unwrap().unwrap();
        assert_eq!(&l2.network[12..16], &[10, 8, 0, 1]);
    }

    #[test]
    fn pppoe_session() {
        let f = hex(PPPOE);
        let l2 = p(LinkType::Ethernet, &f).unwrap().unwrap();
        assert_eq!(&l2.network[12..16], &[10, 9, 0, 1]);
        assert_eq!(l2.src_mac, Some([2, 0, 0, 0, 8, 1]));
        let mut seen = Vec::new();
        parse(LinkType::Ethernet, &f, &mut seen).unwrap();
        assert_eq!(seen, vec![Encap::Pppoe { session: 0x1234 }]);
        // LCP (0xc021) is not IP.
        let mut lcp = f.clone();
        lcp[20..22].copy_from_slice(&[0xc0, 0x21]);
        assert!(p(LinkType::Ethernet, &lcp).unwrap().is_none());
        assert!(p(LinkType::Ethernet, &f[..19]).is_err());
    }

    #[test]
    fn cooked_v2_names_the_interface() {
        let f = hex(SLL2_VETH);
        let l2 = p(LinkType::LinuxSll2, &f).unwrap().unwrap();
        assert_eq!(l2.ifindex, Some(3));
        assert_eq!(l2.src_mac, Some([2, 0, 0, 0, 0x88, 2]));
        assert_eq!(
            p(LinkType::Ethernet, &hex(PPPOE)).unwrap().unwrap().ifindex,
            None
        );
    }

    #[test]
    fn every_cut_is_safe() {
        for (link, frame) in [
            (LinkType::Ethernet, MPLS_TWO),
            (LinkType::Ethernet, PPPOE),
            (LinkType::LinuxSll2, SLL2_VETH),
        ] {
            let f = hex(frame);
            for n in 0..=f.len() {
                let _ = p(link, &f[..n]);
                let _ = parse(link, &f[..n], &mut Vec::new());
            }
        }
    }
}
