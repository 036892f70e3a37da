//! Endpoints, directions and the flow key that identifies a 4-tuple regardless of
//! which side sent a packet.

use std::fmt;
use std::net::IpAddr;

use super::TunnelId;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl Endpoint {
    pub fn new(ip: IpAddr, port: u16) -> Endpoint {
        Endpoint { ip, port }
    }
}

impl Endpoint {
    /// Appends its Display text to `s` (IPv4 without core::fmt).
    #[inline]
    pub fn push_to(&self, s: &mut String) {
        match self.ip {
            IpAddr::V4(a) => {
                let mut b = [0u8; 21];
                let n = v4_text(a, self.port, &mut b);
                s.push_str(std::str::from_utf8(&b[..n]).unwrap_or_default());
            }
            IpAddr::V6(_) => {
                use std::fmt::Write as _;
                let _ = write!(s, "{self}");
            }
        }
    }
}

impl fmt::Display for Endpoint {
    /// "ip:port", IPv6 as "[addr]:port" (the JSON contract's form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            // Composed in a buffer and written in one piece: the same text as
            // `write!(f, "{}:{}", a, port)` (which ignores the caller's width, as this
            // does) without core::fmt's per-octet formatting. Summaries name
            // endpoints for every flow with a finding.
            IpAddr::V4(a) => {
                let mut b = [0u8; 21];
                let n = v4_text(a, self.port, &mut b);
                // ASCII digits, dots and a colon.
                f.write_str(std::str::from_utf8(&b[..n]).unwrap_or_default())
            }
            IpAddr::V6(a) => write!(f, "[{}]:{}", a, self.port),
        }
    }
}

/// `a.b.c.d:port` into `b`; returns its length (at most 21).
#[inline]
pub fn v4_text(ip: std::net::Ipv4Addr, port: u16, b: &mut [u8; 21]) -> usize {
    let mut n = 0;
    for (i, o) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            b[n] = b'.';
            n += 1;
        }
        if o >= 100 {
            b[n] = b'0' + o / 100;
            n += 1;
        }
        if o >= 10 {
            b[n] = b'0' + o / 10 % 10;
            n += 1;
        }
        b[n] = b'0' + o % 10;
        n += 1;
    }
    b[n] = b':';
    n += 1;
    let mut digits = [0u8; 5];
    let mut len = 0;
    let mut v = port;
    loop {
        digits[4 - len] = b'0' + (v % 10) as u8;
        len += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    b[n..n + len].copy_from_slice(&digits[5 - len..]);
    n + len
}

/// Direction of a packet within a flow: from the client (originator, Zeek "orig")
/// or from the server (responder, Zeek "resp").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dir {
    FromClient = 0,
    FromServer = 1,
}

impl Dir {
    pub fn idx(self) -> usize {
        self as usize
    }
    pub fn other(self) -> Dir {
        match self {
            Dir::FromClient => Dir::FromServer,
            Dir::FromServer => Dir::FromClient,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Dir::FromClient => "c>s",
            Dir::FromServer => "s>c",
        }
    }
    pub fn side(self) -> &'static str {
        match self {
            Dir::FromClient => "client",
            Dir::FromServer => "server",
        }
    }
}

/// A 4-tuple with its two endpoints in a canonical order, so both directions of a
/// connection map to the same key. `lo` is the smaller endpoint. A tunnelled flow's
/// key also holds the tunnel that carried it (`TunnelId`): the same inner 4-tuple in
/// two VNIs is two keys.
#[derive(Clone, Copy, Debug, Eq)]
pub struct FlowKey {
    pub lo: Endpoint,
    pub hi: Endpoint,
    pub tunnel: TunnelId,
}

// By hand: the flow table looks a key up for every segment. The tunnel (one integer)
// is compared first and hashed only when there is one, so a plain key costs what a
// 4-tuple did.
impl PartialEq for FlowKey {
    #[inline]
    fn eq(&self, other: &FlowKey) -> bool {
        self.tunnel == other.tunnel && self.lo == other.lo && self.hi == other.hi
    }
}

impl std::hash::Hash for FlowKey {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.lo.hash(state);
        self.hi.hash(state);
        if self.tunnel != TunnelId::NONE {
            self.tunnel.hash(state);
        }
    }
}

impl FlowKey {
    /// Returns the key of a plain (not tunnelled) 4-tuple and whether `src` is the
    /// `lo` endpoint.
    #[inline]
    pub fn of(src: Endpoint, dst: Endpoint) -> (FlowKey, bool) {
        FlowKey::in_tunnel(src, dst, TunnelId::NONE)
    }

    /// `of` for a 4-tuple carried by `tunnel`.
    #[inline]
    pub fn in_tunnel(src: Endpoint, dst: Endpoint, tunnel: TunnelId) -> (FlowKey, bool) {
        // IPv4 both ways (most segments): the derived order (address as a big-endian
        // integer, then port) as one integer comparison instead of the enum's chain.
        let src_first = match (src.ip, dst.ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let k = |ip: std::net::Ipv4Addr, port: u16| {
                    u64::from(ip.to_bits()) << 16 | u64::from(port)
                };
                k(a, src.port) <= k(b, dst.port)
            }
            _ => src <= dst,
        };
        if src_first {
            (
                FlowKey {
                    lo: src,
                    hi: dst,
                    tunnel,
                },
                true,
            )
        } else {
            (
                FlowKey {
                    lo: dst,
                    hi: src,
                    tunnel,
                },
                false,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_as_the_derived_order() {
        let ips: [IpAddr; 6] = [
            "0.0.0.0".parse().unwrap(),
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
            "192.0.2.1".parse().unwrap(),
            "255.255.255.255".parse().unwrap(),
            "::1".parse().unwrap(),
        ];
        for &a in &ips {
            for &b in &ips {
                for (pa, pb) in [(0, 0), (1, 2), (2, 1), (80, 80), (65535, 0)] {
                    let (src, dst) = (Endpoint { ip: a, port: pa }, Endpoint { ip: b, port: pb });
                    let (key, fwd) = FlowKey::in_tunnel(src, dst, TunnelId::NONE);
                    assert_eq!(fwd, src <= dst);
                    assert_eq!(
                        (key.lo, key.hi),
                        if src <= dst { (src, dst) } else { (dst, src) }
                    );
                }
            }
        }
    }

    #[test]
    fn display_as_core_fmt_writes_it() {
        for (a, port) in [
            ([0, 0, 0, 0], 0),
            ([255, 255, 255, 255], 65535),
            ([10, 0, 9, 100], 80),
            ([192, 0, 2, 1], 10000),
            ([1, 22, 133, 4], 9),
            ([100, 99, 200, 10], 1000),
            ([109, 110, 190, 101], 100),
            ([9, 19, 199, 255], 1),
            ([250, 205, 52, 2], 12345),
        ] {
            let ip = std::net::Ipv4Addr::from(a);
            let e = Endpoint::new(IpAddr::V4(ip), port);
            assert_eq!(e.to_string(), format!("{ip}:{port}"));
            // Width is ignored, as it was.
            assert_eq!(format!("{e:>30}"), format!("{ip}:{port}"));
        }
        let v6 = Endpoint::new("2001:db8::1".parse().unwrap(), 443);
        assert_eq!(v6.to_string(), "[2001:db8::1]:443");
    }

    #[test]
    fn key_is_direction_independent() {
        let a = Endpoint::new("192.0.2.1".parse().unwrap(), 40000);
        let b = Endpoint::new("198.51.100.2".parse().unwrap(), 80);
        let (k1, a_is_lo) = FlowKey::of(a, b);
        let (k2, b_is_lo) = FlowKey::of(b, a);
        assert_eq!(k1, k2);
        assert_ne!(a_is_lo, b_is_lo);
    }

    #[test]
    fn tunnel_is_part_of_the_key() {
        let a = Endpoint::new("10.0.0.2".parse().unwrap(), 40000);
        let b = Endpoint::new("10.0.0.3".parse().unwrap(), 80);
        let (k42, _) = FlowKey::in_tunnel(a, b, TunnelId(1));
        let (k42_back, _) = FlowKey::in_tunnel(b, a, TunnelId(1));
        let (k43, _) = FlowKey::in_tunnel(a, b, TunnelId(2));
        assert_eq!(k42, k42_back);
        assert_ne!(k42, k43);
        assert_ne!(k42, FlowKey::of(a, b).0);
    }

    #[test]
    fn ipv6_display_uses_brackets() {
        let e = Endpoint::new("2001:db8::1".parse().unwrap(), 443);
        assert_eq!(e.to_string(), "[2001:db8::1]:443");
    }
}
