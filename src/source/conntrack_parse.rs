//! Conntrack entries from ctnetlink replies, parsed by hand: the nfgenmsg header,
//! then attributes (CTA_TUPLE_ORIG / CTA_TUPLE_REPLY with their nested address and
//! port attributes, CTA_STATUS, CTA_ZONE). Anything else is skipped. A reply is
//! kernel input like any other: an attribute that is too short or runs past its
//! message makes that entry an error (the caller skips and counts it), never a
//! panic, and an entry without both tuples is no entry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::flow::nat::NatPair;
use crate::model::Endpoint;

/// enum ctattr_type (include/uapi/linux/netfilter/nfnetlink_conntrack.h).
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
pub const CTA_STATUS: u16 = 3;
const CTA_ZONE: u16 = 18;
pub const CTA_STATUS_MASK: u16 = 26;
/// enum ctattr_tuple / ctattr_ip / ctattr_l4proto.
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_SRC: u16 = 3;
const CTA_IP_V6_DST: u16 = 4;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_PROTO_DST_PORT: u16 = 3;
/// NLA_F_NESTED and NLA_F_NET_BYTEORDER share the type field's top bits.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// IPS_SRC_NAT | IPS_DST_NAT (enum ip_conntrack_status).
pub const IPS_NAT_MASK: u32 = (1 << 4) | (1 << 5);
pub const IPPROTO_TCP: u8 = 6;

/// One direction's tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtTuple {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub proto: u8,
}

/// One conntrack entry: what tcpdiag needs of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CtEntry {
    pub orig: CtTuple,
    pub reply: CtTuple,
    pub status: u32,
    pub zone: u16,
}

impl CtEntry {
    /// The entry as a `NatPair` (the flow layer's view).
    pub fn pair(&self) -> NatPair {
        NatPair {
            orig_src: self.orig.src,
            orig_dst: self.orig.dst,
            reply_src: self.reply.src,
            reply_dst: self.reply.dst,
        }
    }
}

/// The attributes of `b`: (type without flags, value). Stops with an error at an
/// attribute whose length is impossible.
fn attrs(mut b: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), &'static str>> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([b[0], b[1]]));
        let kind = u16::from_ne_bytes([b[2], b[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > b.len() {
            b = &[];
            return Some(Err("attribute length out of bounds"));
        }
        let value = &b[4..len];
        let next = (len + 3) & !3;
        b = b.get(next..).unwrap_or(&[]);
        Some(Ok((kind, value)))
    })
}

fn ip_of(v: &[u8]) -> Result<IpAddr, &'static str> {
    match v.len() {
        4 => Ok(IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3]))),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(v);
            Ok(IpAddr::V6(Ipv6Addr::from(a)))
        }
        _ => Err("bad address length"),
    }
}

fn be16(v: &[u8]) -> Result<u16, &'static str> {
    match v {
        [a, b, ..] => Ok(u16::from_be_bytes([*a, *b])),
        _ => Err("short u16 attribute"),
    }
}

fn be32(v: &[u8]) -> Result<u32, &'static str> {
    match v {
        [a, b, c, d, ..] => Ok(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => Err("short u32 attribute"),
    }
}

/// A CTA_TUPLE_* value; None when it lacks an address or a port (ICMP has ids, not
/// ports: no TCP flow anyway).
fn tuple(b: &[u8]) -> Result<Option<CtTuple>, &'static str> {
    let (mut src, mut dst, mut sport, mut dport, mut proto) = (None, None, None, None, None);
    for a in attrs(b) {
        let (kind, v) = a?;
        match kind {
            CTA_TUPLE_IP => {
                for a in attrs(v) {
                    let (kind, v) = a?;
                    match kind {
                        CTA_IP_V4_SRC | CTA_IP_V6_SRC => src = Some(ip_of(v)?),
                        CTA_IP_V4_DST | CTA_IP_V6_DST => dst = Some(ip_of(v)?),
                        _ => {}
                    }
                }
            }
            CTA_TUPLE_PROTO => {
                for a in attrs(v) {
                    let (kind, v) = a?;
                    match kind {
                        CTA_PROTO_NUM => proto = Some(*v.first().ok_or("empty protocol")?),
                        CTA_PROTO_SRC_PORT => sport = Some(be16(v)?),
                        CTA_PROTO_DST_PORT => dport = Some(be16(v)?),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(match (src, dst, sport, dport, proto) {
        (Some(s), Some(d), Some(sp), Some(dp), Some(p)) => Some(CtTuple {
            src: Endpoint::new(s, sp),
            dst: Endpoint::new(d, dp),
            proto: p,
        }),
        _ => None,
    })
}

/// One IPCTNL_MSG_CT_NEW message's payload (after the netlink header): the entry,
/// None when it has no complete pair of tuples, or why it could not be read.
pub fn parse_entry(payload: &[u8]) -> Result<Option<CtEntry>, &'static str> {
    // struct nfgenmsg { u8 family; u8 version; be16 res_id; }
    let body = payload.get(4..).ok_or("short nfgenmsg")?;
    let (mut orig, mut reply, mut status, mut zone) = (None, None, 0, 0);
    for a in attrs(body) {
        let (kind, v) = a?;
        match kind {
            CTA_TUPLE_ORIG => orig = tuple(v)?,
            CTA_TUPLE_REPLY => reply = tuple(v)?,
            CTA_STATUS => status = be32(v)?,
            CTA_ZONE => zone = be16(v)?,
            _ => {}
        }
    }
    Ok(match (orig, reply) {
        (Some(orig), Some(reply)) => Some(CtEntry {
            orig,
            reply,
            status,
            zone,
        }),
        _ => None,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Whole netlink messages from `conntrack`'s own socket on this project's kernel
    /// (6.18, little-endian), one per connection of a namespace lab: a DNAT port
    /// forward 198.51.100.1:8080 -> 172.30.0.2:80, a container masqueraded out
    /// through 198.51.100.1, and an IPv6 DNAT [2001:db8:1::1]:8080 -> [2001:db8:2::2]:80.
    pub(crate) const DNAT_V4: &str = "d400000000012200070000002d36000002000000340001801400018008000100c633640208000200c63364011c0002800500010006000000060002009c400000060003001f900000340002801400018008000100ac1e000208000200c63364021c00028005000100060000000600020000500000060003009c40000008000300000001ae080008000000000008000c0073114cce08000b0000000001080007000006977f300004802c0001800500010003000000050002000a000000050003000a00000006000400230000000600050023000000";
    pub(crate) const MASQ_V4: &str = "d400000000012200070000001a39000002000000340001801400018008000100ac1e000208000200c63364021c000280050001000600000006000200a02800000600030023280000340002801400018008000100c633640208000200c63364011c0002800500010006000000060002002328000006000300a0280000080003000000019e080008000000000008000c002ad4bf5108000b0000000001080007000006977e300004802c0001800500010003000000050002000a000000050003000a00000006000400230000000600050023000000";
    pub(crate) const DNAT_V6: &str = "040100000001220007000000df3800000a0000004c0001802c0001801400030020010db80001000000000000000000021400040020010db80001000000000000000000011c00028005000100060000000600020094b80000060003001f9000004c0002802c0001801400030020010db80002000000000000000000021400040020010db80001000000000000000000021c000280050001000600000006000200005000000600030094b8000008000300000001ae080008000000000008000c0006ab80fe08000b0000000001080007000006977f300004802c0001800500010003000000050002000a000000050003000a00000006000400230000000600050023000000";

    fn ep(s: &str) -> Endpoint {
        let (ip, port) = s.rsplit_once(':').unwrap();
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        Endpoint::new(ip.parse().unwrap(), port.parse().unwrap())
    }

    fn entry(msg: &str) -> CtEntry {
        parse_entry(&hex(msg)[16..]).unwrap().unwrap()
    }

    #[test]
    fn real_entries_from_this_kernel() {
        let e = entry(DNAT_V4);
        assert_eq!(e.orig.proto, IPPROTO_TCP);
        let p = e.pair();
        assert_eq!(
            (p.orig_src, p.orig_dst, p.reply_src, p.reply_dst),
            (
                ep("198.51.100.2:40000"),
                ep("198.51.100.1:8080"),
                ep("172.30.0.2:80"),
                ep("198.51.100.2:40000")
            )
        );
        assert!(p.dnat() && !p.snat());
        assert_eq!(e.status & IPS_NAT_MASK, 1 << 5);

        let p = entry(MASQ_V4).pair();
        assert_eq!(p.orig_src, ep("172.30.0.2:41000"));
        assert_eq!(p.reply_dst, ep("198.51.100.1:41000"));
        assert!(p.snat() && !p.dnat());

        let p = entry(DNAT_V6).pair();
        assert_eq!(p.orig_dst, ep("[2001:db8:1::1]:8080"));
        assert_eq!(p.reply_src, ep("[2001:db8:2::2]:80"));
        assert_eq!(p.orig_src, ep("[2001:db8:1::2]:38072"));
    }

    #[test]
    fn the_crate_reads_the_same_tuples() {
        // netlink-packet-netfilter's own parser on the same bytes agrees on the
        // original tuple's addresses (it is what the dump request is built with).
        use netlink_packet_core::NetlinkMessage;
        use netlink_packet_netfilter::conntrack::{
            ConntrackAttribute, ConntrackMessage, IPTuple, Tuple,
        };
        use netlink_packet_netfilter::{NetfilterMessage, NetfilterMessageInner};
        for msg in [DNAT_V4, MASQ_V4, DNAT_V6] {
            let bytes = hex(msg);
            let ours = entry(msg);
            let theirs = NetlinkMessage::<NetfilterMessage>::deserialize(&bytes).unwrap();
            let netlink_packet_core::NetlinkPayload::InnerMessage(m) = theirs.payload else {
                panic!("not an inner message");
            };
            let NetfilterMessageInner::Conntrack(ConntrackMessage::New(attrs)) = m.inner else {
                panic!("not a conntrack entry");
            };
            let orig = attrs
                .iter()
                .find_map(|a| match a {
                    ConntrackAttribute::CtaTupleOrig(t) => Some(t),
                    _ => None,
                })
                .unwrap();
            let ips: Vec<IpAddr> = orig
                .iter()
                .filter_map(|t| match t {
                    Tuple::Ip(ips) => Some(ips),
                    _ => None,
                })
                .flatten()
                .filter_map(|ip| match ip {
                    IPTuple::SourceAddress(a) | IPTuple::DestinationAddress(a) => Some(*a),
                    _ => None,
                })
                .collect();
            assert_eq!(ips, vec![ours.orig.src.ip, ours.orig.dst.ip]);
        }
    }

    #[test]
    fn damaged_entries_are_errors_or_nothing_never_panics() {
        let good = hex(DNAT_V4);
        let payload = &good[16..];
        // Every truncation: an error or no entry, never a panic.
        for cut in 0..payload.len() {
            let _ = parse_entry(&payload[..cut]);
        }
        // Every single-byte corruption likewise.
        for i in 0..payload.len() {
            let mut p = payload.to_vec();
            p[i] ^= 0xff;
            let _ = parse_entry(&p);
        }
        // An attribute claiming more than is there.
        let mut p = payload.to_vec();
        p[4] = 0xff;
        p[5] = 0x0f;
        assert!(parse_entry(&p).is_err());
        // No tuples at all: no entry.
        assert_eq!(parse_entry(&[2, 0, 0, 0]), Ok(None));
        assert!(parse_entry(&[2]).is_err());
        // An address of the wrong size.
        assert_eq!(ip_of(&[1, 2, 3]), Err("bad address length"));
    }
}
