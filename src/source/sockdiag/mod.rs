//! Live TCP sockets from the kernel through netlink sock_diag (what `ss -tino`
//! shows): one dump per address family with the state bitmask and, when asked,
//! port/address bytecode filtered in the kernel; the replies are parsed by hand
//! (`parse`) into plain `SocketInfo` values.
//!
//! Stable API (used by `sockets`, `watch` and the live capture):
//! `dump(&DumpQuery) -> Result<Vec<SocketInfo>>`, or `Dumper::open(&Netns)` once and
//! `Dumper::dump(&DumpQuery)` per poll.

pub mod parse;
pub mod request;

use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::str::FromStr;

use anyhow::{anyhow, Result};
use netlink_sys::{protocols::NETLINK_SOCK_DIAG, Socket, SocketAddr as NlAddr};
use serde::{Deserialize, Serialize};

pub use super::netns::Netns;
use crate::model::socket::{SocketInfo, TcpState};
use parse::{AF_INET, AF_INET6};
use request::KernelFilter;

/// An inclusive port range; "80" is 80-80.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

impl PortRange {
    pub fn contains(&self, p: u16) -> bool {
        (self.lo..=self.hi).contains(&p)
    }
}

impl FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let p = |x: &str| {
            x.trim()
                .parse::<u16>()
                .map_err(|_| format!("bad port '{x}'"))
        };
        match s.split_once('-') {
            Some((a, b)) => {
                let (lo, hi) = (p(a)?, p(b)?);
                if lo > hi {
                    return Err(format!("port range '{s}' is empty"));
                }
                Ok(PortRange { lo, hi })
            }
            None => {
                let v = p(s)?;
                Ok(PortRange { lo: v, hi: v })
            }
        }
    }
}

/// An address prefix; "10.0.0.1" is a /32 (or /128).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl Prefix {
    /// Whether `ip` is inside (an IPv4 prefix does not match IPv6 addresses; mapped
    /// addresses are already folded to IPv4 by the parser).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(p), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(p) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(p), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(p) & mask == u128::from(a) & mask
            }
            // An IPv6 prefix against a dual-stack socket's IPv4 peer (folded from
            // ::ffff:a.b.c.d): the kernel's bytecode compares the mapped form, so
            // `::/0` keeps it, as in `ss src ::/0`.
            (IpAddr::V6(_), IpAddr::V4(a)) => self.contains(IpAddr::V6(a.to_ipv6_mapped())),
            _ => false,
        }
    }
}

impl FromStr for Prefix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, l) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let a = a.trim().trim_start_matches('[').trim_end_matches(']');
        let addr: IpAddr = a.parse().map_err(|_| format!("bad address '{a}'"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match l {
            Some(l) => l
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("bad prefix length '{l}'"))?,
            None => max,
        };
        // ::ffff:a.b.c.d/96 or longer is an IPv4 prefix (the parser folds mapped
        // addresses to IPv4); a shorter one stays IPv6.
        if let IpAddr::V6(v6) = addr {
            if let Some(v4) = v6.to_ipv4_mapped().filter(|_| len >= 96) {
                return Ok(Prefix {
                    addr: IpAddr::V4(v4),
                    len: len - 96,
                });
            }
        }
        Ok(Prefix { addr, len })
    }
}

/// Bitmask of kernel TCP state numbers (1 << TCP_ESTABLISHED, ...).
pub fn state_mask(states: &[TcpState]) -> u32 {
    let mut m = 0u32;
    for s in states {
        if let Some(n) = s.kernel_number() {
            m |= 1 << n;
            if *s == TcpState::SynRecv {
                m |= 1 << 12; // request sockets (TCP_NEW_SYN_RECV)
            }
        }
    }
    m
}

/// Every state, as `ss -a`.
pub const ALL_STATES: u32 = 0x1ffe;

/// What to dump. Filters are applied in the kernel (state mask, bytecode) and
/// checked again on the parsed sockets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpQuery {
    pub ipv4: bool,
    pub ipv6: bool,
    /// Kernel state bitmask (`state_mask`), `ALL_STATES` for everything.
    pub states: u32,
    pub sport: Option<PortRange>,
    pub dport: Option<PortRange>,
    pub src: Option<Prefix>,
    pub dst: Option<Prefix>,
    pub netns: Netns,
    /// Ask for tcp_info, the congestion algorithm and skmeminfo.
    pub tcp_info: bool,
}

impl Default for DumpQuery {
    fn default() -> Self {
        DumpQuery {
            ipv4: true,
            ipv6: true,
            states: ALL_STATES,
            sport: None,
            dport: None,
            src: None,
            dst: None,
            netns: Netns::Current,
            tcp_info: true,
        }
    }
}

impl DumpQuery {
    /// Whether a parsed socket passes the query (the kernel already filtered; this
    /// is the check for kernels that ignore part of a request).
    pub fn matches(&self, s: &SocketInfo) -> bool {
        let st = match s.state.kernel_number() {
            Some(n) => n,
            None => return true,
        };
        self.states & (1 << st) != 0
            && self.sport.is_none_or(|r| r.contains(s.local.port()))
            && self.dport.is_none_or(|r| r.contains(s.peer.port()))
            && self.src.is_none_or(|p| p.contains(s.local.ip()))
            && self.dst.is_none_or(|p| p.contains(s.peer.ip()))
    }

    /// The families worth asking: an IPv6 (non-mapped) address filter rules out the
    /// IPv4 dump; an IPv4 filter still needs the IPv6 dump (dual-stack sockets).
    fn families(&self) -> Vec<u8> {
        let v6_only = [self.src, self.dst]
            .iter()
            .flatten()
            .any(|p| p.addr.is_ipv6());
        let mut f = Vec::new();
        if self.ipv4 && !v6_only {
            f.push(AF_INET);
        }
        if self.ipv6 {
            f.push(AF_INET6);
        }
        f
    }
}

/// An open NETLINK_SOCK_DIAG socket, bound to the namespace it was opened in.
pub struct Dumper {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

/// Netlink dumps fill at most 32 KiB per message; smaller buffers truncate them.
const RECV_BUF: usize = 64 * 1024;

impl Dumper {
    /// Opens the socket inside `ns` (in a short-lived thread for another namespace).
    pub fn open(ns: &Netns) -> Result<Dumper> {
        Ok(Dumper::with(super::netns::run_in(ns, new_socket)?))
    }

    /// Opens the socket inside an opened namespace file (`source::namespaces`).
    pub fn open_in(file: std::fs::File) -> Result<Dumper> {
        Ok(Dumper::with(super::netns::run_in_file(file, new_socket)?))
    }

    fn with(sock: Socket) -> Dumper {
        Dumper {
            sock,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
        }
    }

    /// One dump of every family the query asks for.
    pub fn dump(&mut self, q: &DumpQuery) -> Result<Vec<SocketInfo>> {
        let mut out = Vec::new();
        let bc = request::bytecode(&KernelFilter {
            sport: q.sport,
            dport: q.dport,
            src: q.src,
            dst: q.dst,
        });
        for fam in q.families() {
            let before = out.len();
            match self.dump_family(fam, q, &bc, &mut out) {
                Ok(()) => {}
                // No IPv6 in this kernel (ipv6.disable=1): there are no IPv6 sockets.
                Err(DumpError::Refused(e))
                    if fam == AF_INET6 && (e == ENOENT || e == EAFNOSUPPORT) =>
                {
                    out.truncate(before);
                }
                // A kernel that rejects the bytecode: dump unfiltered, filter below.
                Err(DumpError::Refused(e)) if e == EINVAL && !bc.is_empty() => {
                    out.truncate(before);
                    self.dump_family(fam, q, &[], &mut out)
                        .map_err(|e| e.into_anyhow(fam))?;
                }
                Err(e) => return Err(e.into_anyhow(fam)),
            }
        }
        if !bc.is_empty() || q.states != ALL_STATES {
            out.retain(|s| q.matches(s));
        }
        Ok(out)
    }

    fn dump_family(
        &mut self,
        family: u8,
        q: &DumpQuery,
        bc: &[u8],
        out: &mut Vec<SocketInfo>,
    ) -> Result<(), DumpError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let msg = request::dump_request(family, q.states, q.tcp_info, bc, seq);
        self.sock
            .send(&msg, 0)
            .map_err(|e| DumpError::Other(anyhow!("sock_diag request failed: {e}")))?;
        loop {
            self.buf.clear();
            let n = match self.sock.recv(&mut self.buf, 0) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(DumpError::Other(anyhow!(
                        "reading the sock_diag reply failed: {e}"
                    )))
                }
            };
            if n > self.buf.len() {
                return Err(DumpError::Other(anyhow!(
                    "sock_diag reply truncated ({n} bytes)"
                )));
            }
            if walk_reply(&self.buf[..n], seq, out)? {
                return Ok(());
            }
        }
    }

    /// The raw file descriptor (for poll()).
    pub fn fd(&self) -> i32 {
        self.sock.as_raw_fd()
    }
}

/// A NETLINK_SOCK_DIAG socket in the calling thread's namespace.
fn new_socket() -> Result<Socket> {
    let mut s = Socket::new(NETLINK_SOCK_DIAG)
        .map_err(|e| anyhow!("cannot open a sock_diag netlink socket: {e}"))?;
    s.bind_auto()
        .map_err(|e| anyhow!("cannot bind the sock_diag netlink socket: {e}"))?;
    s.connect(&NlAddr::new(0, 0))
        .map_err(|e| anyhow!("cannot connect the sock_diag netlink socket: {e}"))?;
    // Best effort: a bigger socket buffer lets the kernel queue ahead.
    let _ = s.set_rx_buf_sz(1 << 20);
    Ok(s)
}

/// The netlink messages of one recv(): records of dump `seq` are appended to `out`;
/// true once the dump is over. NLMSG_DONE carries an int: 0, or the negative errno
/// of a dump that failed part way (its records so far are incomplete).
fn walk_reply(mut b: &[u8], seq: u32, out: &mut Vec<SocketInfo>) -> Result<bool, DumpError> {
    while b.len() >= 16 {
        let len = parse::u32_ne(b, 0) as usize;
        let kind = parse::u16_ne(b, 4);
        let mseq = parse::u32_ne(b, 8);
        if len < 16 || len > b.len() {
            return Err(DumpError::Other(anyhow!(
                "malformed netlink message in the sock_diag reply"
            )));
        }
        let payload = &b[16..len];
        let errno = || {
            payload
                .get(0..4)
                .map(|e| parse::u32_ne(e, 0) as i32)
                .unwrap_or(0)
        };
        if mseq == seq {
            match kind {
                NLMSG_DONE => {
                    let e = errno();
                    if e < 0 {
                        return Err(DumpError::Other(anyhow!(
                            "the sock_diag dump stopped part way: {}",
                            std::io::Error::from_raw_os_error(-e)
                        )));
                    }
                    return Ok(true);
                }
                NLMSG_ERROR => {
                    let e = errno();
                    if e == 0 {
                        return Ok(true);
                    }
                    return Err(DumpError::Refused(-e));
                }
                request::SOCK_DIAG_BY_FAMILY => match parse::parse_record(payload) {
                    Ok(s) => out.push(s),
                    Err(e) => return Err(DumpError::Other(anyhow!("bad sock_diag record: {e}"))),
                },
                _ => {}
            }
        }
        b = parse::after_aligned(b, len);
    }
    Ok(false)
}

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const ENOENT: i32 = nix::errno::Errno::ENOENT as i32;
const EINVAL: i32 = nix::errno::Errno::EINVAL as i32;
const EAFNOSUPPORT: i32 = nix::errno::Errno::EAFNOSUPPORT as i32;
#[cfg(test)]
const ENOBUFS: i32 = nix::errno::Errno::ENOBUFS as i32;

enum DumpError {
    /// NLMSG_ERROR with this errno.
    Refused(i32),
    Other(anyhow::Error),
}

impl DumpError {
    fn into_anyhow(self, family: u8) -> anyhow::Error {
        match self {
            DumpError::Refused(e) if e == ENOENT => anyhow!(
                "the kernel has no TCP sock_diag support for {} (modprobe tcp_diag inet_diag)",
                if family == AF_INET { "IPv4" } else { "IPv6" }
            ),
            DumpError::Refused(e) => anyhow!(
                "the kernel refused the sock_diag request: {}",
                std::io::Error::from_raw_os_error(e)
            ),
            DumpError::Other(e) => e,
        }
    }
}

/// One dump with a fresh socket.
pub fn dump(q: &DumpQuery) -> Result<Vec<SocketInfo>> {
    Dumper::open(&q.netns)?.dump(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_filters() {
        assert_eq!(
            "80".parse::<PortRange>().unwrap(),
            PortRange { lo: 80, hi: 80 }
        );
        assert_eq!(
            "1000-2000".parse::<PortRange>().unwrap(),
            PortRange { lo: 1000, hi: 2000 }
        );
        assert!("2-1".parse::<PortRange>().is_err());
        assert!("x".parse::<PortRange>().is_err());
        let p: Prefix = "10.1.0.0/16".parse().unwrap();
        assert!(p.contains("10.1.2.3".parse().unwrap()));
        assert!(!p.contains("10.2.0.1".parse().unwrap()));
        assert!(!p.contains("::1".parse().unwrap()));
        let p: Prefix = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(p.len, 32);
        assert!(p.contains("127.0.0.1".parse().unwrap()));
        let p: Prefix = "[2001:db8::]/32".parse().unwrap();
        assert!(p.contains("2001:db8:1::5".parse().unwrap()));
        let p: Prefix = "0.0.0.0/0".parse().unwrap();
        assert!(p.contains("192.0.2.1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Prefix>().is_err());
        // Mapped prefixes become IPv4 ones (ss accepts them too).
        let p: Prefix = "::ffff:127.0.0.0/104".parse().unwrap();
        assert_eq!((p.addr, p.len), ("127.0.0.0".parse().unwrap(), 8));
        assert!(p.contains("127.0.0.1".parse().unwrap()));
        // An IPv6 prefix covering ::ffff:0:0/96 keeps dual-stack sockets' IPv4 peers
        // (the kernel's bytecode matches their mapped form): `--src ::/0`.
        let p: Prefix = "::/0".parse().unwrap();
        assert!(p.contains("127.0.0.1".parse().unwrap()));
        let p: Prefix = "2001:db8::/32".parse().unwrap();
        assert!(!p.contains("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn state_bits() {
        assert_eq!(state_mask(&[TcpState::Listen]), 1 << 10);
        assert_eq!(state_mask(&[TcpState::SynRecv]), (1 << 3) | (1 << 12));
        assert_eq!(state_mask(&TcpState::ALL) | (1 << 12), ALL_STATES);
    }

    #[test]
    fn families_follow_address_filters() {
        let mut q = DumpQuery::default();
        assert_eq!(q.families(), vec![AF_INET, AF_INET6]);
        q.dst = Some("2001:db8::1".parse().unwrap());
        assert_eq!(q.families(), vec![AF_INET6]);
        q.dst = Some("10.0.0.1".parse().unwrap());
        assert_eq!(q.families(), vec![AF_INET, AF_INET6]);
    }

    #[test]
    fn dumps_own_listener_and_connection() {
        // Works without root: sock_diag reads the process's own namespace.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (_a, _) = l.accept().unwrap();
        let q = DumpQuery {
            sport: Some(PortRange { lo: port, hi: port }),
            ..DumpQuery::default()
        };
        let got = dump(&q).unwrap();
        let listen = got.iter().find(|s| s.state == TcpState::Listen).unwrap();
        assert_eq!(listen.local.port(), port);
        assert!(listen.inode > 0);
        assert!(got.iter().any(|s| s.state == TcpState::Established
            && s.peer == c.local_addr().unwrap()
            && s.tcp_info.as_ref().is_some_and(|t| t.snd_mss > 0)));
        // The kernel filter leaves out the client side (its source port differs).
        assert!(got.iter().all(|s| s.local.port() == port));
        let only_listen = dump(&DumpQuery {
            states: state_mask(&[TcpState::Listen]),
            ..q.clone()
        })
        .unwrap();
        assert_eq!(only_listen.len(), 1);
    }

    fn nlmsg(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&2u16.to_ne_bytes()); // NLM_F_MULTI
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    #[test]
    fn done_with_an_errno_is_an_incomplete_dump() {
        let mut rec = vec![0u8; 72];
        rec[0] = AF_INET;
        rec[1] = 1;
        let mut buf = nlmsg(request::SOCK_DIAG_BY_FAMILY, 5, &rec);
        // A record of another request is skipped.
        buf.extend(nlmsg(request::SOCK_DIAG_BY_FAMILY, 4, &rec));
        let mut out = Vec::new();
        assert!(matches!(walk_reply(&buf, 5, &mut out), Ok(false)));
        assert_eq!(out.len(), 1);
        let ok = nlmsg(NLMSG_DONE, 5, &0i32.to_ne_bytes());
        assert!(matches!(walk_reply(&ok, 5, &mut out), Ok(true)));
        // netlink_dump() ends a dump whose callback failed with DONE carrying -errno.
        let bad = nlmsg(NLMSG_DONE, 5, &(-(ENOBUFS)).to_ne_bytes());
        match walk_reply(&bad, 5, &mut out) {
            Err(DumpError::Other(e)) => assert!(e.to_string().contains("part way"), "{e}"),
            _ => panic!("a failed dump was taken as complete"),
        }
        let refused = nlmsg(NLMSG_ERROR, 5, &(-EINVAL).to_ne_bytes());
        assert!(matches!(
            walk_reply(&refused, 5, &mut out),
            Err(DumpError::Refused(e)) if e == EINVAL
        ));
    }

    #[test]
    fn kernel_refusals_are_errnos() {
        // An unknown bytecode op: the kernel answers EINVAL, which dump() treats as
        // "filter in user space instead".
        let mut d = Dumper::open(&Netns::Current).unwrap();
        let mut out = Vec::new();
        let q = DumpQuery::default();
        match d.dump_family(AF_INET, &q, &[99, 8, 12, 0, 0, 0, 0, 0], &mut out) {
            Err(DumpError::Refused(e)) => assert_eq!(e, EINVAL),
            Err(DumpError::Other(e)) => panic!("{e}"),
            Ok(()) => panic!("bad bytecode accepted"),
        }
        // The socket is still usable afterwards.
        assert!(d.dump(&q).is_ok());
    }
}
