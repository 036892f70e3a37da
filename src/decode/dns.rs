//! DNS over UDP, decoded just enough to list queries and answers (simple-dns does the
//! wire format), plus reverse-lookup names mapped back to the address they ask about.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::RData;
use simple_dns::{Packet, PacketFlag};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DnsMessage {
    pub id: u16,
    pub response: bool,
    /// RCODE name of a response ("NoError", "NameError" = NXDOMAIN, ...).
    pub rcode: String,
    pub qname: String,
    pub qtype: String,
    /// Answer data as text: addresses, PTR/CNAME targets.
    pub answers: Vec<String>,
}

pub fn parse(payload: &[u8]) -> Option<DnsMessage> {
    let packet = Packet::parse(payload).ok()?;
    let question = packet.questions.first()?;
    let answers = packet
        .answers
        .iter()
        .filter_map(|rr| match &rr.rdata {
            RData::A(a) => Some(Ipv4Addr::from(a.address).to_string()),
            RData::AAAA(a) => Some(Ipv6Addr::from(a.address).to_string()),
            RData::PTR(p) => Some(p.to_string()),
            RData::CNAME(c) => Some(c.to_string()),
            _ => None,
        })
        .collect();
    Some(DnsMessage {
        id: packet.id(),
        response: packet.has_flags(PacketFlag::RESPONSE),
        rcode: format!("{:?}", packet.rcode()),
        qname: question.qname.to_string(),
        qtype: type_name(&format!("{:?}", question.qtype)),
        answers,
    })
}

/// "TYPE(PTR)" (the crate's Debug form) -> "PTR".
fn type_name(debug: &str) -> String {
    let inner = debug
        .strip_prefix("TYPE(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(debug);
    inner.to_string()
}

/// The address a reverse-lookup name asks about: "4.3.2.1.in-addr.arpa" -> 1.2.3.4,
/// nibble-reversed ip6.arpa names -> the IPv6 address.
pub fn reverse_name_target(name: &str) -> Option<IpAddr> {
    let lower = name.trim_end_matches('.').to_ascii_lowercase();
    if let Some(rest) = lower.strip_suffix(".in-addr.arpa") {
        let mut octets = [0u8; 4];
        let parts: Vec<&str> = rest.split('.').collect();
        if parts.len() != 4 {
            return None;
        }
        for (i, p) in parts.iter().rev().enumerate() {
            octets[i] = p.parse().ok()?;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if let Some(rest) = lower.strip_suffix(".ip6.arpa") {
        let nibbles: Vec<&str> = rest.split('.').collect();
        if nibbles.len() != 32 {
            return None;
        }
        let mut value: u128 = 0;
        for n in nibbles.iter().rev() {
            if n.len() != 1 {
                return None;
            }
            value = (value << 4) | u128::from(u8::from_str_radix(n, 16).ok()?);
        }
        return Some(IpAddr::V6(Ipv6Addr::from(value)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name_target("10.2.0.192.in-addr.arpa."),
            Some("192.0.2.10".parse().unwrap())
        );
        let v6 = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";
        assert_eq!(
            reverse_name_target(v6),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(reverse_name_target("example.com"), None);
        assert_eq!(reverse_name_target("1.2.3.in-addr.arpa"), None);
        assert_eq!(reverse_name_target("x.2.0.192.in-addr.arpa"), None);
    }

    #[test]
    fn ptr_query_round_trip() {
        let mut q = Packet::new_query(0x1234);
        q.questions.push(simple_dns::Question::new(
            simple_dns::Name::new_unchecked("10.2.0.192.in-addr.arpa"),
            simple_dns::TYPE::PTR.into(),
            simple_dns::CLASS::IN.into(),
            false,
        ));
        let bytes = q.build_bytes_vec().unwrap();
        let m = parse(&bytes).unwrap();
        assert_eq!(m.id, 0x1234);
        assert!(!m.response);
        assert_eq!(m.qname, "10.2.0.192.in-addr.arpa");
        assert_eq!(m.qtype, "PTR");
        assert!(parse(&bytes[..bytes.len() - 3]).is_none());
        assert!(parse(&[]).is_none());
    }
}
