//! The kernel's conntrack table through netlink (NETLINK_NETFILTER, ctnetlink), as
//! `conntrack -L` reads it, for the translated TCP connections only: a DNAT port
//! forward or a masquerade makes one connection show under two 4-tuples, and this
//! is where the pairs come from. The dump request is built with
//! netlink-packet-netfilter (its conntrack Get message, with the status filter
//! IPS_SRC_NAT|IPS_DST_NAT so the kernel skips untranslated entries on kernels that
//! support it); the replies are parsed by hand (`conntrack_parse`), as sock_diag's
//! are, so one odd entry is skipped instead of failing the dump and a large table
//! costs no allocation per attribute.
//!
//! Conntrack is per network namespace: the socket belongs to the namespace of the
//! thread that opens it.

use anyhow::{anyhow, Result};
use netlink_packet_core::{
    DefaultNla, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_netfilter::conntrack::{ConntrackAttribute, ConntrackMessage, Status};
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr as NlAddr};

use super::conntrack_parse::{parse_entry, CTA_STATUS_MASK, IPPROTO_TCP, IPS_NAT_MASK};
use crate::flow::nat::NatPair;

/// Most pairs one dump hands on; beyond it they are counted (`NatDump::dropped`).
pub const MAX_NAT_PAIRS: usize = 100_000;

const RECV_BUF: usize = 64 * 1024;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
/// (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW: one entry of a dump.
const CT_NEW: u16 = 1 << 8;

/// Whether the namespace the calling thread is in has a conntrack table (the
/// module is loaded: without it nothing is translated). Checked before opening, so
/// that tcpdiag never makes the kernel load conntrack by asking for it.
pub fn available() -> bool {
    std::path::Path::new("/proc/sys/net/netfilter/nf_conntrack_count").exists()
}

/// What one dump found.
#[derive(Debug, Default)]
pub struct NatDump {
    /// Translated TCP connections (at most MAX_NAT_PAIRS).
    pub pairs: Vec<NatPair>,
    /// Translated TCP connections beyond MAX_NAT_PAIRS.
    pub dropped: u64,
    /// Entries that could not be read (skipped).
    pub unreadable: u64,
}

/// What the capture's summary says about conntrack (`sockets.conntrack`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ConntrackSummary {
    /// Whether the capture's namespace has a conntrack table that could be read.
    pub available: bool,
    pub polls: u64,
    pub failed_polls: u64,
    /// Why conntrack could not be read (not available, or the first failed poll).
    pub first_error: Option<String>,
    /// Most translated TCP connections in one dump.
    pub peak_translated: u64,
    /// Flows that learnt their other 4-tuple.
    pub flows_joined: u64,
    /// Flows started under a translated tuple and folded into their connection's.
    pub flows_merged: u64,
    /// Translated connections beyond MAX_NAT_PAIRS in a dump, and entries that
    /// could not be read, over all polls.
    pub dropped: u64,
    pub unreadable: u64,
}

/// An open ctnetlink socket, bound to the namespace it was opened in.
pub struct Conntrack {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Conntrack {
    /// Opens the socket in the calling thread's namespace.
    pub fn open() -> Result<Conntrack> {
        let mut s = Socket::new(NETLINK_NETFILTER)
            .map_err(|e| anyhow!("cannot open a netfilter netlink socket: {e}"))?;
        s.bind_auto()
            .map_err(|e| anyhow!("cannot bind the netfilter netlink socket: {e}"))?;
        s.connect(&NlAddr::new(0, 0))
            .map_err(|e| anyhow!("cannot connect the netfilter netlink socket: {e}"))?;
        let _ = s.set_rx_buf_sz(1 << 20);
        Ok(Conntrack {
            sock: s,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    /// The translated TCP connections of the table. With `ports`, only those with
    /// one of the ports at either end of either tuple.
    pub fn nat_dump(&mut self, ports: Option<&[u16]>) -> Result<NatDump> {
        let mut out = NatDump::default();
        // The kernel's filter is (status & mask) == value: one dump for the entries
        // with a destination translation, one for those with only a source one.
        for kind in [NatKind::Dnat, NatKind::SnatOnly] {
            self.dump_one(kind, ports, &mut out)?;
        }
        Ok(out)
    }

    fn dump_one(&mut self, kind: NatKind, ports: Option<&[u16]>, out: &mut NatDump) -> Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let req = request(seq, kind);
        self.sock
            .send(&req, 0)
            .map_err(|e| anyhow!("conntrack dump request failed: {e}"))?;
        loop {
            self.buf.clear();
            let n = match self.sock.recv(&mut self.buf, 0) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(anyhow!("reading the conntrack dump failed: {e}")),
            };
            if n > self.buf.len() {
                return Err(anyhow!("conntrack reply truncated ({n} bytes)"));
            }
            if walk(&self.buf[..n], seq, kind, ports, out)? {
                return Ok(());
            }
        }
    }
}

/// Which translated entries one dump asks for (disjoint, so none comes twice).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NatKind {
    /// IPS_DST_NAT set (port forwards; with or without a source translation).
    Dnat,
    /// IPS_SRC_NAT set, IPS_DST_NAT not (masquerade).
    SnatOnly,
}

impl NatKind {
    /// (value, mask) of the kernel's status filter.
    fn filter(self) -> (u32, u32) {
        match self {
            NatKind::Dnat => (IPS_DST_NAT, IPS_DST_NAT),
            NatKind::SnatOnly => (IPS_SRC_NAT, IPS_NAT_MASK),
        }
    }
}

const IPS_SRC_NAT: u32 = 1 << 4;
const IPS_DST_NAT: u32 = 1 << 5;

/// The dump request: the entries (both families) of one kind of translation.
/// Kernels before the status filter (Linux 6.0) ignore it; `keep` filters again.
fn request(seq: u32, kind: NatKind) -> Vec<u8> {
    let (value, mask) = kind.filter();
    let mut h = NetlinkHeader::default();
    h.flags = NLM_F_REQUEST | NLM_F_DUMP;
    h.sequence_number = seq;
    let mut msg = NetlinkMessage::new(
        h,
        NetlinkPayload::from(NetfilterMessage::new(
            NetfilterHeader::new(NetfilterProtoFamily::Unspec, 0, 0),
            ConntrackMessage::Get(vec![
                ConntrackAttribute::CtaStatus(Status::from_bits_retain(value)),
                ConntrackAttribute::Other(DefaultNla::new(
                    CTA_STATUS_MASK,
                    mask.to_be_bytes().to_vec(),
                )),
            ]),
        )),
    );
    msg.finalize();
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// Whether a pair is worth handing on: TCP, of the dump's kind, and on one of
/// `ports`.
fn keep(pair: &NatPair, proto: u8, kind: NatKind, ports: Option<&[u16]>) -> bool {
    let of_kind = match kind {
        NatKind::Dnat => pair.dnat(),
        NatKind::SnatOnly => pair.snat() && !pair.dnat(),
    };
    proto == IPPROTO_TCP
        && of_kind
        && ports.is_none_or(|ps| {
            [pair.orig_src, pair.orig_dst, pair.reply_src, pair.reply_dst]
                .iter()
                .any(|e| ps.contains(&e.port))
        })
}

/// The messages of one recv(): entries of dump `seq` go to `out`; true once the
/// dump is over.
fn walk(
    mut b: &[u8],
    seq: u32,
    kind: NatKind,
    ports: Option<&[u16]>,
    out: &mut NatDump,
) -> Result<bool> {
    while b.len() >= 16 {
        let len = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let mtype = u16::from_ne_bytes([b[4], b[5]]);
        let mseq = u32::from_ne_bytes([b[8], b[9], b[10], b[11]]);
        if len < 16 || len > b.len() {
            return Err(anyhow!("malformed netlink message in the conntrack dump"));
        }
        let payload = &b[16..len];
        let errno = || {
            payload
                .get(0..4)
                .map(|e| i32::from_ne_bytes([e[0], e[1], e[2], e[3]]))
                .unwrap_or(0)
        };
        if mseq == seq {
            match mtype {
                NLMSG_DONE => {
                    let e = errno();
                    if e < 0 {
                        return Err(anyhow!(
                            "the conntrack dump stopped part way: {}",
                            std::io::Error::from_raw_os_error(-e)
                        ));
                    }
                    return Ok(true);
                }
                NLMSG_ERROR => {
                    let e = errno();
                    if e == 0 {
                        return Ok(true);
                    }
                    return Err(refused(-e));
                }
                CT_NEW => match parse_entry(payload) {
                    Ok(Some(e)) => {
                        let pair = e.pair();
                        if keep(&pair, e.orig.proto, kind, ports) {
                            if out.pairs.len() < MAX_NAT_PAIRS {
                                out.pairs.push(pair);
                            } else {
                                out.dropped += 1;
                            }
                        }
                    }
                    Ok(None) => {}
                    Err(_) => out.unreadable += 1,
                },
                _ => {}
            }
        }
        let next = (len + 3) & !3;
        b = b.get(next..).unwrap_or(&[]);
    }
    Ok(false)
}

fn refused(errno: i32) -> anyhow::Error {
    match nix::errno::Errno::from_raw(errno) {
        nix::errno::Errno::EPERM => {
            anyhow!("reading the conntrack table needs CAP_NET_ADMIN (run as root)")
        }
        nix::errno::Errno::EPROTONOSUPPORT | nix::errno::Errno::ENOENT => {
            anyhow!("the kernel has no conntrack netlink support (modprobe nf_conntrack_netlink)")
        }
        e => anyhow!("the kernel refused the conntrack dump: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::conntrack_parse::tests::{DNAT_V4, DNAT_V6, MASQ_V4};
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// A real dump reply (sequence number 0x362d) with a DONE message appended.
    fn reply(msgs: &[&str], seq: u32) -> Vec<u8> {
        let mut b = Vec::new();
        for m in msgs {
            let mut m = hex(m);
            m[8..12].copy_from_slice(&seq.to_ne_bytes());
            b.extend(m);
        }
        let mut done = Vec::new();
        done.extend_from_slice(&20u32.to_ne_bytes());
        done.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        done.extend_from_slice(&2u16.to_ne_bytes());
        done.extend_from_slice(&seq.to_ne_bytes());
        done.extend_from_slice(&0u32.to_ne_bytes());
        done.extend_from_slice(&0i32.to_ne_bytes());
        b.extend(done);
        b
    }

    #[test]
    fn request_asks_for_a_nat_filtered_dump() {
        let r = request(7, NatKind::Dnat);
        assert_eq!(
            u32::from_ne_bytes(r[0..4].try_into().unwrap()) as usize,
            r.len()
        );
        // (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET, REQUEST | DUMP.
        assert_eq!(u16::from_ne_bytes([r[4], r[5]]), 0x0101);
        assert_eq!(u16::from_ne_bytes([r[6], r[7]]), 0x0301);
        assert_eq!(u32::from_ne_bytes(r[8..12].try_into().unwrap()), 7);
        // nfgenmsg: AF_UNSPEC (both families), version 0.
        assert_eq!(&r[16..20], &[0, 0, 0, 0]);
        // CTA_STATUS and CTA_STATUS_MASK in network order: status & mask == value.
        assert_eq!(&r[20..28], &[8, 0, 3, 0, 0, 0, 0, 0x20]);
        assert_eq!(&r[28..36], &[8, 0, 26, 0, 0, 0, 0, 0x20]);
        let r = request(8, NatKind::SnatOnly);
        assert_eq!(&r[20..28], &[8, 0, 3, 0, 0, 0, 0, 0x10]);
        assert_eq!(&r[28..36], &[8, 0, 26, 0, 0, 0, 0, 0x30]);
    }

    #[test]
    fn walks_a_real_reply_and_filters_by_port() {
        // A kernel that ignores the status filter sends everything: each kind's
        // dump keeps its own, so none comes twice.
        let b = reply(&[DNAT_V4, MASQ_V4, DNAT_V6], 9);
        let mut out = NatDump::default();
        assert!(walk(&b, 9, NatKind::Dnat, None, &mut out).unwrap());
        assert_eq!(out.pairs.len(), 2);
        assert!(walk(&b, 9, NatKind::SnatOnly, None, &mut out).unwrap());
        assert_eq!(out.pairs.len(), 3);
        let mut out = NatDump::default();
        assert!(walk(&b, 9, NatKind::Dnat, Some(&[8080]), &mut out).unwrap());
        assert!(walk(&b, 9, NatKind::SnatOnly, Some(&[8080]), &mut out).unwrap());
        assert_eq!(out.pairs.len(), 2);
        // Messages of another request are not this dump's.
        let mut out = NatDump::default();
        assert!(!walk(&b, 10, NatKind::Dnat, None, &mut out).unwrap());
        assert!(out.pairs.is_empty());
        // A refusal is an error with the errno's meaning.
        let mut err = reply(&[], 9);
        err[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        err[16..20].copy_from_slice(&(-1i32).to_ne_bytes());
        let e = walk(&err, 9, NatKind::Dnat, None, &mut NatDump::default()).unwrap_err();
        assert!(e.to_string().contains("CAP_NET_ADMIN"), "{e}");
        // A message longer than the buffer is an error, not a panic.
        let mut bad = reply(&[DNAT_V4], 9);
        bad[0] = 0xff;
        bad[1] = 0xff;
        assert!(walk(&bad, 9, NatKind::Dnat, None, &mut NatDump::default()).is_err());
    }

    #[test]
    fn dumps_this_namespace() {
        // Root in its own namespace: an empty (or unavailable) table is fine, a
        // failure to talk to the kernel when conntrack is there is not.
        if !nix::unistd::geteuid().is_root() || !available() {
            return;
        }
        let mut c = Conntrack::open().unwrap();
        let d = c.nat_dump(None).unwrap();
        assert!(d.pairs.iter().all(|p| p.translated()));
        // The socket stays usable.
        assert!(c.nat_dump(Some(&[1])).is_ok());
    }
}
