//! Parsing of sock_diag replies by hand: the 72-byte inet_diag_msg header (the crate
//! hides the timer fields), its attributes, and struct tcp_info of any length (the
//! crate's struct stops at the 5.4 layout and rejects shorter payloads). Nothing here
//! panics on short or hostile bytes: a record that is too short is an error, an
//! attribute that is too short is skipped.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::model::socket::{SkMemInfo, SocketInfo, TcpInfo, TcpState, Timer, TimerKind};

pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;
pub const INET_DIAG_MSG_LEN: usize = 72;

const INET_DIAG_INFO: u16 = 2;
const INET_DIAG_CONG: u16 = 4;
const INET_DIAG_SKMEMINFO: u16 = 7;
const INET_DIAG_SHUTDOWN: u16 = 8;

/// TCP_INFINITE_SSTHRESH: slow start without a threshold.
const INFINITE_SSTHRESH: u32 = 0x7fff_ffff;

pub(super) fn u16_ne(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

pub(super) fn u32_ne(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_ne(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(a)
}

/// What follows a netlink message or attribute of `len` bytes at the start of `b`
/// (both are padded to 4 bytes; the last one's padding may be missing).
pub(super) fn after_aligned(b: &[u8], len: usize) -> &[u8] {
    b.get((len + 3) & !3..).unwrap_or(&[])
}

/// An address from the 16-byte field, `::ffff:a.b.c.d` folded to IPv4.
fn addr(family: u8, raw: &[u8]) -> IpAddr {
    if family == AF_INET {
        return IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]));
    }
    let mut a = [0u8; 16];
    a.copy_from_slice(&raw[..16]);
    let v6 = Ipv6Addr::from(a);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// One SOCK_DIAG_BY_FAMILY record (the netlink payload after the 16-byte header).
pub fn parse_record(p: &[u8]) -> Result<SocketInfo, String> {
    if p.len() < INET_DIAG_MSG_LEN {
        return Err(format!(
            "sock_diag record of {} bytes (an inet_diag_msg is {INET_DIAG_MSG_LEN})",
            p.len()
        ));
    }
    let family = p[0];
    if family != AF_INET && family != AF_INET6 {
        return Err(format!("sock_diag record of address family {family}"));
    }
    let state = TcpState::from_kernel(p[1]);
    let timer = TimerKind::from_kernel(p[2]).map(|name| Timer {
        name,
        expires_s: f64::from(u32_ne(p, 52)) / 1000.0,
        count: p[3],
    });
    let sport = u16::from_be_bytes([p[4], p[5]]);
    let dport = u16::from_be_bytes([p[6], p[7]]);
    let local = SocketAddr::new(addr(family, &p[8..24]), sport);
    let peer = SocketAddr::new(addr(family, &p[24..40]), dport);
    let cookie = u64::from(u32_ne(p, 44)) | (u64::from(u32_ne(p, 48)) << 32);
    let mut s = SocketInfo {
        family: if family == AF_INET { "inet" } else { "inet6" }.to_string(),
        state,
        local,
        peer,
        recv_q: u32_ne(p, 56),
        send_q: u32_ne(p, 60),
        timer,
        uid: u32_ne(p, 64),
        inode: u64::from(u32_ne(p, 68)),
        cookie,
        ifindex: u32_ne(p, 40),
        cong: None,
        shutdown: None,
        skmem: None,
        tcp_info: None,
        processes: None,
        netns: None,
    };
    let mut rest = &p[INET_DIAG_MSG_LEN..];
    while rest.len() >= 4 {
        let len = usize::from(u16_ne(rest, 0));
        let kind = u16_ne(rest, 2) & 0x3fff; // strip NLA_F_NESTED / NET_BYTEORDER
        if len < 4 || len > rest.len() {
            break;
        }
        let val = &rest[4..len];
        match kind {
            INET_DIAG_INFO => s.tcp_info = parse_tcp_info(val),
            INET_DIAG_CONG => {
                let name = val.split(|b| *b == 0).next().unwrap_or(&[]);
                s.cong = Some(String::from_utf8_lossy(name).into_owned());
            }
            INET_DIAG_SKMEMINFO => s.skmem = parse_skmem(val),
            INET_DIAG_SHUTDOWN if !val.is_empty() => s.shutdown = Some(val[0]),
            _ => {}
        }
        rest = after_aligned(rest, len);
    }
    Ok(s)
}

fn parse_skmem(v: &[u8]) -> Option<SkMemInfo> {
    if v.len() < 32 {
        return None;
    }
    Some(SkMemInfo {
        rmem_alloc: u32_ne(v, 0),
        rcvbuf: u32_ne(v, 4),
        wmem_alloc: u32_ne(v, 8),
        sndbuf: u32_ne(v, 12),
        fwd_alloc: u32_ne(v, 16),
        wmem_queued: u32_ne(v, 20),
        optmem: u32_ne(v, 24),
        backlog: u32_ne(v, 28),
        drops: (v.len() >= 36).then(|| u32_ne(v, 32)),
    })
}

fn ca_state(n: u8) -> &'static str {
    match n {
        0 => "open",
        1 => "disorder",
        2 => "cwr",
        3 => "recovery",
        4 => "loss",
        _ => "unknown",
    }
}

fn us(v: u32) -> f64 {
    f64::from(v) / 1e6
}

fn ms(v: u32) -> f64 {
    f64::from(v) / 1e3
}

/// struct tcp_info (include/uapi/linux/tcp.h) of any length. Returns None when even
/// the original 104-byte layout is not there.
pub fn parse_tcp_info(b: &[u8]) -> Option<TcpInfo> {
    if b.len() < 104 {
        return None;
    }
    let has = |end: usize| b.len() >= end;
    let o32 = |at: usize| has(at + 4).then(|| u32_ne(b, at));
    let o64 = |at: usize| has(at + 8).then(|| u64_ne(b, at));
    // ~0 means "no pacing limit": null rather than a number JSON tools round.
    let rate = |at: usize| o64(at).filter(|v| *v != u64::MAX);
    let o16 = |at: usize| has(at + 2).then(|| u16_ne(b, at));
    let opts = b[5];
    let mut options = Vec::new();
    for (bit, name) in [
        (1, "ts"),
        (2, "sack"),
        (4, "wscale"),
        (8, "ecn"),
        (16, "ecn_seen"),
        (32, "syn_data"),
        (64, "usec_ts"),
        (128, "tfo_child"),
    ] {
        if opts & bit != 0 {
            options.push(name.to_string());
        }
    }
    let ssthresh = u32_ne(b, 76);
    Some(TcpInfo {
        ca_state: ca_state(b[1]).to_string(),
        retransmits: b[2],
        probes: b[3],
        backoff: b[4],
        options,
        snd_wscale: b[6] & 0x0f,
        rcv_wscale: b[6] >> 4,
        rto_s: us(u32_ne(b, 8)),
        ato_s: us(u32_ne(b, 12)),
        snd_mss: u32_ne(b, 16),
        rcv_mss: u32_ne(b, 20),
        unacked: u32_ne(b, 24),
        sacked: u32_ne(b, 28),
        lost: u32_ne(b, 32),
        retrans: u32_ne(b, 36),
        last_data_sent_s: ms(u32_ne(b, 44)),
        last_data_recv_s: ms(u32_ne(b, 52)),
        last_ack_recv_s: ms(u32_ne(b, 56)),
        pmtu: u32_ne(b, 60),
        rcv_ssthresh: u32_ne(b, 64),
        rtt_s: us(u32_ne(b, 68)),
        rttvar_s: us(u32_ne(b, 72)),
        snd_ssthresh: (ssthresh < INFINITE_SSTHRESH).then_some(ssthresh),
        snd_cwnd: u32_ne(b, 80),
        advmss: u32_ne(b, 84),
        reordering: u32_ne(b, 88),
        rcv_rtt_s: us(u32_ne(b, 92)),
        rcv_space: u32_ne(b, 96),
        total_retrans: u32_ne(b, 100),
        pacing_rate: rate(104),
        max_pacing_rate: rate(112),
        bytes_acked: o64(120),
        bytes_received: o64(128),
        segs_out: o32(136),
        segs_in: o32(140),
        notsent_bytes: o32(144),
        min_rtt_s: o32(148).map(us),
        data_segs_in: o32(152),
        data_segs_out: o32(156),
        delivery_rate: o64(160),
        delivery_rate_app_limited: has(168).then(|| b[7] & 1 != 0),
        busy_time_s: o64(168).map(|v| v as f64 / 1e6),
        rwnd_limited_s: o64(176).map(|v| v as f64 / 1e6),
        sndbuf_limited_s: o64(184).map(|v| v as f64 / 1e6),
        delivered: o32(192),
        delivered_ce: o32(196),
        bytes_sent: o64(200),
        bytes_retrans: o64(208),
        dsack_dups: o32(216),
        reord_seen: o32(220),
        rcv_ooopack: o32(224),
        snd_wnd: o32(228),
        rcv_wnd: o32(232),
        rehash: o32(236),
        total_rto: o16(240),
        total_rto_recoveries: o16(242),
        total_rto_time_s: o32(244).map(ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply record in the kernel's layout, built field by field so the test
    /// documents the offsets: an IPv4 listener on 127.0.0.1:8080 (backlog 128) with
    /// INET_DIAG_INFO (`info_len` bytes; 6.18 sends 280), CONG "cubic", SKMEMINFO and
    /// SHUTDOWN. The live tests (tests/sockets_live.rs) check the same parser against
    /// the running kernel.
    fn listener_record(info_len: usize) -> Vec<u8> {
        let mut p = vec![0u8; 72];
        p[0] = AF_INET;
        p[1] = 10; // LISTEN
        p[2] = 0;
        p[4..6].copy_from_slice(&8080u16.to_be_bytes());
        p[8..12].copy_from_slice(&[127, 0, 0, 1]);
        p[44..48].copy_from_slice(&0x1234u32.to_ne_bytes());
        p[48..52].copy_from_slice(&0x1u32.to_ne_bytes());
        p[56..60].copy_from_slice(&3u32.to_ne_bytes());
        p[60..64].copy_from_slice(&128u32.to_ne_bytes());
        p[64..68].copy_from_slice(&1000u32.to_ne_bytes());
        p[68..72].copy_from_slice(&424242u32.to_ne_bytes());
        // INET_DIAG_INFO
        let mut info = vec![0u8; info_len.max(104)];
        info[0] = 10;
        info[5] = 1 | 2 | 4;
        info[6] = 7 | (7 << 4);
        info[8..12].copy_from_slice(&1_000_000u32.to_ne_bytes());
        info[68..72].copy_from_slice(&50u32.to_ne_bytes());
        info[76..80].copy_from_slice(&INFINITE_SSTHRESH.to_ne_bytes());
        info[80..84].copy_from_slice(&10u32.to_ne_bytes());
        if info_len >= 148 {
            info[144..148].copy_from_slice(&4096u32.to_ne_bytes());
        }
        info.truncate(info_len);
        push_attr(&mut p, 2, &info);
        push_attr(&mut p, 4, b"cubic\0");
        push_attr(&mut p, 7, &[1u8; 36]);
        push_attr(&mut p, 8, &[0]);
        p
    }

    fn push_attr(p: &mut Vec<u8>, kind: u16, val: &[u8]) {
        p.extend_from_slice(&((val.len() + 4) as u16).to_ne_bytes());
        p.extend_from_slice(&kind.to_ne_bytes());
        p.extend_from_slice(val);
        while p.len() % 4 != 0 {
            p.push(0);
        }
    }

    #[test]
    fn header_and_attributes() {
        let s = parse_record(&listener_record(280)).unwrap();
        assert_eq!(s.state, TcpState::Listen);
        assert_eq!(s.local.to_string(), "127.0.0.1:8080");
        assert_eq!(s.peer.to_string(), "0.0.0.0:0");
        assert_eq!((s.recv_q, s.send_q, s.uid, s.inode), (3, 128, 1000, 424242));
        assert_eq!(s.cookie, 0x1_0000_1234);
        assert_eq!(s.timer, None);
        assert_eq!(s.cong.as_deref(), Some("cubic"));
        assert_eq!(s.shutdown, Some(0));
        assert_eq!(s.skmem.unwrap().drops, Some(0x01010101));
        let ti = s.tcp_info.unwrap();
        assert_eq!(ti.rto_s, 1.0);
        assert_eq!(ti.rtt_s, 50e-6);
        assert_eq!(ti.snd_ssthresh, None);
        assert_eq!(ti.snd_cwnd, 10);
        assert_eq!(ti.options, vec!["ts", "sack", "wscale"]);
        assert_eq!(ti.notsent_bytes, Some(4096));
        assert!(ti.total_rto_time_s.is_some());
    }

    #[test]
    fn short_tcp_info_keeps_what_is_there() {
        // A 2.6-era 104-byte tcp_info: later fields are None, not an error.
        let s = parse_record(&listener_record(104)).unwrap();
        let ti = s.tcp_info.unwrap();
        assert_eq!(ti.snd_cwnd, 10);
        assert_eq!(ti.notsent_bytes, None);
        assert_eq!(ti.bytes_acked, None);
        // Too short for even that: no tcp_info, the socket is still reported.
        let s = parse_record(&listener_record(60)).unwrap();
        assert!(s.tcp_info.is_none());
        assert_eq!(s.cong.as_deref(), Some("cubic"));
    }

    #[test]
    fn timers_and_mapped_addresses() {
        let mut p = vec![0u8; 72];
        p[0] = AF_INET6;
        p[1] = 1;
        p[2] = 2; // keepalive
        p[3] = 3; // probes
        p[8..24].copy_from_slice(&"::ffff:10.0.0.1".parse::<Ipv6Addr>().unwrap().octets());
        p[24..40].copy_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        p[52..56].copy_from_slice(&1500u32.to_ne_bytes());
        let s = parse_record(&p).unwrap();
        assert_eq!(s.family, "inet6");
        assert_eq!(s.local.ip().to_string(), "10.0.0.1");
        assert_eq!(s.peer.to_string(), "[2001:db8::2]:0");
        let t = s.timer.unwrap();
        assert_eq!(
            (t.name, t.count, t.expires_s),
            (TimerKind::Keepalive, 3, 1.5)
        );
    }

    #[test]
    fn hostile_bytes() {
        assert!(parse_record(&[0u8; 10]).is_err());
        let mut p = listener_record(280);
        // An attribute claiming to be longer than the record: ignored, no panic.
        let n = p.len();
        p.extend_from_slice(&[0xff, 0x7f, 2, 0]);
        assert!(parse_record(&p).is_ok());
        p.truncate(n - 3);
        assert!(parse_record(&p).is_ok());
        let mut bad = vec![0u8; 72];
        bad[0] = 1;
        assert!(parse_record(&bad).is_err());
    }
}
