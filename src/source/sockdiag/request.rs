//! Building the SOCK_DIAG_BY_FAMILY dump request: the inet_diag_req_v2 body comes
//! from netlink-packet-sock-diag; the netlink header and the optional
//! INET_DIAG_REQ_BYTECODE filter (ports and address prefixes, run by the kernel for
//! every socket so unwanted ones are never copied out) are written here.

use std::net::IpAddr;

use netlink_packet_core::Emitable;
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};

use super::parse::{AF_INET, AF_INET6};
use super::{PortRange, Prefix};

pub const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const INET_DIAG_REQ_BYTECODE: u16 = 1;
const IPPROTO_TCP: u8 = 6;

// enum inet_diag_bc_op codes (include/uapi/linux/inet_diag.h).
const BC_S_GE: u8 = 2;
const BC_S_LE: u8 = 3;
const BC_D_GE: u8 = 4;
const BC_D_LE: u8 = 5;
const BC_S_COND: u8 = 7;
const BC_D_COND: u8 = 8;
const BC_S_EQ: u8 = 11;
const BC_D_EQ: u8 = 12;

/// What the kernel should filter on, beyond family and state.
#[derive(Clone, Debug, Default)]
pub struct KernelFilter {
    pub sport: Option<PortRange>,
    pub dport: Option<PortRange>,
    pub src: Option<Prefix>,
    pub dst: Option<Prefix>,
}

/// One condition of an AND chain: an op whose `yes` goes to the next condition and
/// whose `no` jumps past the end (reject), plus its operand bytes.
struct Cond {
    code: u8,
    operand: Vec<u8>,
}

fn port_conds(r: PortRange, eq: u8, ge: u8, le: u8, out: &mut Vec<Cond>) {
    let op = |code, port: u16| {
        // The port sits in the `no` field of a second op (struct inet_diag_bc_op).
        let mut b = vec![0u8, 0u8];
        b.extend_from_slice(&port.to_ne_bytes());
        Cond { code, operand: b }
    };
    if r.lo == r.hi {
        out.push(op(eq, r.lo));
    } else {
        if r.lo > 0 {
            out.push(op(ge, r.lo));
        }
        if r.hi < u16::MAX {
            out.push(op(le, r.hi));
        }
    }
}

fn host_cond(code: u8, p: &Prefix) -> Cond {
    // struct inet_diag_hostcond { u8 family; u8 prefix_len; int port; be32 addr[]; }
    let mut b = Vec::with_capacity(24);
    match p.addr {
        IpAddr::V4(a) => {
            b.extend_from_slice(&[AF_INET, p.len, 0, 0]);
            b.extend_from_slice(&(-1i32).to_ne_bytes());
            b.extend_from_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            b.extend_from_slice(&[AF_INET6, p.len, 0, 0]);
            b.extend_from_slice(&(-1i32).to_ne_bytes());
            b.extend_from_slice(&a.octets());
        }
    }
    Cond { code, operand: b }
}

/// The bytecode for an AND of the filter's conditions; empty when there are none.
pub fn bytecode(f: &KernelFilter) -> Vec<u8> {
    let mut conds = Vec::new();
    if let Some(r) = f.sport {
        port_conds(r, BC_S_EQ, BC_S_GE, BC_S_LE, &mut conds);
    }
    if let Some(r) = f.dport {
        port_conds(r, BC_D_EQ, BC_D_GE, BC_D_LE, &mut conds);
    }
    if let Some(p) = &f.src {
        conds.push(host_cond(BC_S_COND, p));
    }
    if let Some(p) = &f.dst {
        conds.push(host_cond(BC_D_COND, p));
    }
    let total: usize = conds.iter().map(|c| 4 + c.operand.len()).sum();
    let mut out = Vec::with_capacity(total);
    for c in &conds {
        let len = 4 + c.operand.len();
        let remaining = total - out.len();
        // yes: the next condition; no: 4 bytes past the end, which the kernel
        // (inet_diag_bc_run) treats as "reject".
        out.push(c.code);
        out.push(len as u8);
        out.extend_from_slice(&((remaining + 4) as u16).to_ne_bytes());
        out.extend_from_slice(&c.operand);
    }
    out
}

/// The whole netlink message for one family's dump.
pub fn dump_request(family: u8, states: u32, tcp_info: bool, bc: &[u8], seq: u32) -> Vec<u8> {
    let mut ext = ExtensionFlags::empty();
    if tcp_info {
        ext = ExtensionFlags::INFO | ExtensionFlags::CONG | ExtensionFlags::SKMEMINFO;
    }
    let req = InetRequest {
        family,
        protocol: IPPROTO_TCP,
        extensions: ext,
        states: StateFlags::from_bits_retain(states),
        socket_id: if family == AF_INET {
            SocketId::new_v4()
        } else {
            SocketId::new_v6()
        },
    };
    let body_len = req.buffer_len();
    let attr_len = if bc.is_empty() { 0 } else { 4 + bc.len() };
    let total = 16 + body_len + ((attr_len + 3) & !3);
    let mut msg = vec![0u8; total];
    msg[0..4].copy_from_slice(&(total as u32).to_ne_bytes());
    msg[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    msg[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    msg[8..12].copy_from_slice(&seq.to_ne_bytes());
    req.emit(&mut msg[16..16 + body_len]);
    if !bc.is_empty() {
        let a = 16 + body_len;
        msg[a..a + 2].copy_from_slice(&(attr_len as u16).to_ne_bytes());
        msg[a + 2..a + 4].copy_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
        msg[a + 4..a + 4 + bc.len()].copy_from_slice(bc);
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let m = dump_request(AF_INET, 1 << 10, true, &[], 7);
        assert_eq!(m.len(), 16 + 56);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 72);
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), 20);
        assert_eq!(u16::from_ne_bytes([m[6], m[7]]), 0x301);
        assert_eq!(u32::from_ne_bytes(m[8..12].try_into().unwrap()), 7);
        assert_eq!(m[16], AF_INET);
        assert_eq!(m[17], 6);
        assert_eq!(m[18], 0b0100_1010); // INFO, CONG, SKMEMINFO
        assert_eq!(u32::from_ne_bytes(m[20..24].try_into().unwrap()), 1 << 10);
    }

    #[test]
    fn bytecode_and_chain() {
        let f = KernelFilter {
            sport: Some(PortRange { lo: 80, hi: 80 }),
            dport: Some(PortRange { lo: 1000, hi: 2000 }),
            src: Some(Prefix {
                addr: "10.0.0.0".parse().unwrap(),
                len: 8,
            }),
            dst: None,
        };
        let bc = bytecode(&f);
        // S_EQ(8) + D_GE(8) + D_LE(8) + S_COND(4 + 8 + 4) = 40 bytes.
        assert_eq!(bc.len(), 40);
        let op = |at: usize| {
            (
                bc[at],
                bc[at + 1],
                u16::from_ne_bytes([bc[at + 2], bc[at + 3]]),
            )
        };
        assert_eq!(op(0), (BC_S_EQ, 8, 44));
        assert_eq!(u16::from_ne_bytes([bc[6], bc[7]]), 80);
        assert_eq!(op(8), (BC_D_GE, 8, 36));
        assert_eq!(op(16), (BC_D_LE, 8, 28));
        assert_eq!(op(24), (BC_S_COND, 16, 20));
        assert_eq!(&bc[28..30], &[AF_INET, 8]);
        assert_eq!(&bc[36..40], &[10, 0, 0, 0]);
        let m = dump_request(AF_INET, u32::MAX, false, &bc, 1);
        assert_eq!(m.len(), 16 + 56 + 44);
        assert_eq!(u16::from_ne_bytes([m[74], m[75]]), INET_DIAG_REQ_BYTECODE);
        assert!(bytecode(&KernelFilter::default()).is_empty());
    }
}
