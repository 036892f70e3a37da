//! Community ID v1 (github.com/corelight/community-id-spec): the flow hash Zeek,
//! Suricata, Wireshark and Elastic write, so a tcpdiag flow can be joined with their
//! records. SHA-1 over seed (2 bytes), the two addresses and ports in order (the
//! smaller address first, or the smaller port when the addresses are equal), the IP
//! protocol and one zero byte of padding; base64 with padding; "1:" before it.

use std::net::IpAddr;

use crate::model::Endpoint;

/// IP protocol number of TCP.
pub const TCP: u8 = 6;

/// The Community ID of a TCP connection between `a` and `b` (either order), seed 0.
pub fn tcp(a: &Endpoint, b: &Endpoint) -> String {
    of(0, a, b, TCP)
}

/// `tcp(a, b)`'s 30 ASCII bytes, without a String (the flow JSON writes one per flow).
pub fn tcp_bytes(a: &Endpoint, b: &Endpoint) -> [u8; LEN] {
    bytes_of(0, a, b, TCP)
}

/// The Community ID of a port-based flow with `seed` and protocol `proto`.
pub fn of(seed: u16, a: &Endpoint, b: &Endpoint, proto: u8) -> String {
    let mut out = String::with_capacity(LEN);
    // "1:" and base64: ASCII.
    out.push_str(std::str::from_utf8(&bytes_of(seed, a, b, proto)).unwrap_or_default());
    out
}

/// Length of a Community ID v1: "1:" and the base64 of a 20-byte SHA-1.
pub const LEN: usize = 30;

/// `of(seed, a, b, proto)` as bytes. The hashed message is composed in one buffer
/// and hashed in one update.
fn bytes_of(seed: u16, a: &Endpoint, b: &Endpoint, proto: u8) -> [u8; LEN] {
    let ip = |e: &Endpoint| -> ([u8; 16], usize) {
        let mut buf = [0u8; 16];
        match e.ip {
            IpAddr::V4(v4) => {
                buf[..4].copy_from_slice(&v4.octets());
                (buf, 4)
            }
            IpAddr::V6(v6) => {
                buf.copy_from_slice(&v6.octets());
                (buf, 16)
            }
        }
    };
    let (ia, na) = ip(a);
    let (ib, nb) = ip(b);
    let (ia, ib) = (&ia[..na], &ib[..nb]);
    let ordered = ia < ib || (ia == ib && a.port <= b.port);
    let ((i1, p1), (i2, p2)) = if ordered {
        ((ia, a.port), (ib, b.port))
    } else {
        ((ib, b.port), (ia, a.port))
    };
    // seed, the two addresses, protocol, padding, the two ports: at most 40 bytes.
    let mut msg = [0u8; 40];
    let mut n = 0;
    for part in [
        &seed.to_be_bytes()[..],
        i1,
        i2,
        &[proto, 0],
        &p1.to_be_bytes(),
        &p2.to_be_bytes(),
    ] {
        msg[n..n + part.len()].copy_from_slice(part);
        n += part.len();
    }
    let mut h = sha1_smol::Sha1::new();
    h.update(&msg[..n]);
    let mut out = [0u8; LEN];
    out[..2].copy_from_slice(b"1:");
    base64_to(&mut out[2..], &h.digest().bytes());
    out
}

/// Standard base64 (RFC 4648, with padding) of `data` into the first
/// 4 * ceil(len / 3) bytes of `out`.
fn base64_to(out: &mut [u8], data: &[u8]) {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (chunk, to) in data.chunks(3).zip(out.chunks_mut(4)) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, c) in to.iter_mut().enumerate() {
            *c = if i <= chunk.len() {
                ABC[(n >> (18 - 6 * i) & 63) as usize]
            } else {
                b'='
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Endpoint {
        let sa: std::net::SocketAddr = s.parse().unwrap();
        Endpoint::new(sa.ip(), sa.port())
    }

    /// The spec's published baseline (baseline/baseline_deflt.json and
    /// baseline_seed1.json), TCP and UDP/SCTP port-based entries, both directions.
    #[test]
    fn the_specs_test_vectors() {
        let cases: &[(u16, u8, &str, &str, &str)] = &[
            (
                0,
                6,
                "128.232.110.120:34855",
                "66.35.250.204:80",
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
            ),
            (
                1,
                6,
                "128.232.110.120:34855",
                "66.35.250.204:80",
                "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
            ),
            (
                0,
                6,
                "[2001:470:e5bf:dead:4957:2174:e82c:4887]:63943",
                "[2607:f8b0:400c:c03::1a]:25",
                "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
            ),
            (
                1,
                6,
                "[2001:470:e5bf:dead:4957:2174:e82c:4887]:63943",
                "[2607:f8b0:400c:c03::1a]:25",
                "1:eJYTW6AOzFLlSUoESovMjnu7rMw=",
            ),
            (
                0,
                17,
                "192.168.1.52:54585",
                "8.8.8.8:53",
                "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
            ),
            (
                0,
                132,
                "192.168.170.8:7",
                "192.168.170.56:7",
                "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
            ),
        ];
        for &(seed, proto, a, b, want) in cases {
            assert_eq!(of(seed, &ep(a), &ep(b), proto), want, "{a} -> {b}");
            assert_eq!(of(seed, &ep(b), &ep(a), proto), want, "{b} -> {a}");
        }
        assert_eq!(
            tcp(&ep("128.232.110.120:34855"), &ep("66.35.250.204:80")),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
    }

    #[test]
    fn equal_addresses_order_by_port() {
        let a = ep("127.0.0.1:40000");
        let b = ep("127.0.0.1:8080");
        assert_eq!(tcp(&a, &b), tcp(&b, &a));
    }

    #[test]
    fn base64_pads() {
        let mut s = [0u8; 12];
        base64_to(&mut s[..4], b"f");
        base64_to(&mut s[4..8], b"fo");
        base64_to(&mut s[8..], b"foo");
        assert_eq!(&s, b"Zg==Zm8=Zm9v");
        let mut s = [0u8; 8];
        base64_to(&mut s, b"foob");
        assert_eq!(&s, b"Zm9vYg==");
    }
}
