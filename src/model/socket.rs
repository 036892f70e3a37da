//! One TCP socket as the kernel reports it through sock_diag: plain data (serde both
//! ways) so that `sockets`, `watch` and the live capture can poll, store and join
//! snapshots without touching netlink. Units: durations in seconds (`*_s`), sizes in
//! bytes, rates in bytes per second. `None` means the kernel did not say (an older
//! kernel's shorter tcp_info, a TIME_WAIT socket without tcp_info, ...).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// TCP states with the kernel's numbers (include/net/tcp_states.h) as discriminants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(u8)]
pub enum TcpState {
    Established = 1,
    SynSent = 2,
    SynRecv = 3,
    FinWait1 = 4,
    FinWait2 = 5,
    TimeWait = 6,
    Close = 7,
    CloseWait = 8,
    LastAck = 9,
    Listen = 10,
    Closing = 11,
    /// A state number this build does not know.
    Unknown = 255,
}

impl TcpState {
    pub const ALL: [TcpState; 11] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
    ];

    /// From the kernel's number; request sockets (TCP_NEW_SYN_RECV, 12) are SYN-RECV.
    pub fn from_kernel(n: u8) -> TcpState {
        match n {
            1 => TcpState::Established,
            2 => TcpState::SynSent,
            3 | 12 => TcpState::SynRecv,
            4 => TcpState::FinWait1,
            5 => TcpState::FinWait2,
            6 => TcpState::TimeWait,
            7 => TcpState::Close,
            8 => TcpState::CloseWait,
            9 => TcpState::LastAck,
            10 => TcpState::Listen,
            11 => TcpState::Closing,
            _ => TcpState::Unknown,
        }
    }

    /// The kernel's number (for the dump request's state bitmask).
    pub fn kernel_number(self) -> Option<u8> {
        (self != TcpState::Unknown).then_some(self as u8)
    }

    /// The JSON name ("ESTABLISHED", "SYN_RECV", ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait1 => "FIN_WAIT1",
            TcpState::FinWait2 => "FIN_WAIT2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::Unknown => "UNKNOWN",
        }
    }

    /// The name `ss` prints ("ESTAB", "SYN-RECV", "TIME-WAIT", ...).
    pub fn ss_name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTAB",
            TcpState::SynSent => "SYN-SENT",
            TcpState::SynRecv => "SYN-RECV",
            TcpState::FinWait1 => "FIN-WAIT-1",
            TcpState::FinWait2 => "FIN-WAIT-2",
            TcpState::TimeWait => "TIME-WAIT",
            TcpState::Close => "UNCONN",
            TcpState::CloseWait => "CLOSE-WAIT",
            TcpState::LastAck => "LAST-ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::Unknown => "UNKNOWN",
        }
    }

    /// Accepts the JSON name, the ss name, any case, '-' or '_' ("time-wait", "estab").
    pub fn parse(s: &str) -> Option<TcpState> {
        let norm: String = s
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_uppercase();
        TcpState::ALL.into_iter().find(|st| {
            let a: String = st.as_str().chars().filter(|c| *c != '_').collect();
            let b: String = st.ss_name().chars().filter(|c| *c != '-').collect();
            norm == a || norm == b
        })
    }
}

/// The socket's pending timer (`ss -o`), from the inet_diag_msg header.
/// The discriminants are idiag_timer's numbers (0 is no timer: `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum TimerKind {
    /// Retransmission (also tail-loss probe / reordering) timer: idiag_timer 1.
    On = 1,
    /// Keepalive (and the FIN-WAIT-2 / SYN-RECV timers that share sk_timer): 2.
    Keepalive = 2,
    /// TIME_WAIT countdown: 3.
    Timewait = 3,
    /// Zero-window probe (persist) timer: 4.
    Persist = 4,
    /// Delayed ACK (newer kernels): 5.
    Delack = 5,
    Unknown = 255,
}

impl TimerKind {
    pub fn from_kernel(n: u8) -> Option<TimerKind> {
        match n {
            0 => None,
            1 => Some(TimerKind::On),
            2 => Some(TimerKind::Keepalive),
            3 => Some(TimerKind::Timewait),
            4 => Some(TimerKind::Persist),
            5 => Some(TimerKind::Delack),
            _ => Some(TimerKind::Unknown),
        }
    }

    /// idiag_timer's number (`Unknown` is 255).
    pub fn kernel_number(self) -> u8 {
        self as u8
    }

    /// The name of idiag_timer `n` as `ss -o` prints it, "off" for no timer.
    pub fn name_of(n: u8) -> &'static str {
        TimerKind::from_kernel(n).map_or("off", TimerKind::as_str)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::On => "on",
            TimerKind::Keepalive => "keepalive",
            TimerKind::Timewait => "timewait",
            TimerKind::Persist => "persist",
            TimerKind::Delack => "delack",
            TimerKind::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timer {
    pub name: TimerKind,
    /// Seconds until it fires (idiag_expires).
    pub expires_s: f64,
    /// idiag_retrans: retransmissions for `on`, probes sent for `keepalive` and
    /// `persist`, SYN-ACK retransmissions for SYN-RECV request sockets.
    pub count: u8,
}

/// INET_DIAG_SKMEMINFO (`ss -m`), bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkMemInfo {
    pub rmem_alloc: u32,
    pub rcvbuf: u32,
    pub wmem_alloc: u32,
    pub sndbuf: u32,
    pub fwd_alloc: u32,
    pub wmem_queued: u32,
    pub optmem: u32,
    pub backlog: u32,
    pub drops: Option<u32>,
}

/// struct tcp_info, every field the kernel sent. The first 104 bytes (Linux 2.6.x)
/// are required; later fields are `None` when the payload is too short for them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TcpInfo {
    /// Congestion-avoidance state: open, disorder, cwr, recovery, loss.
    pub ca_state: String,
    /// Current consecutive retransmissions (icsk_retransmits).
    pub retransmits: u8,
    /// Unanswered zero-window or keepalive probes (icsk_probes_out).
    pub probes: u8,
    /// RTO exponential backoff count.
    pub backoff: u8,
    /// Negotiated options: "ts", "sack", "wscale", "ecn", "ecn_seen", "syn_data".
    pub options: Vec<String>,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    pub rto_s: f64,
    pub ato_s: f64,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    /// Segments sent but not acknowledged (packets_out).
    pub unacked: u32,
    pub sacked: u32,
    pub lost: u32,
    /// Segments currently retransmitted and not acknowledged (retrans_out).
    pub retrans: u32,
    /// Seconds since the last data was sent / received / an ACK was received.
    pub last_data_sent_s: f64,
    pub last_data_recv_s: f64,
    pub last_ack_recv_s: f64,
    pub pmtu: u32,
    pub rcv_ssthresh: u32,
    pub rtt_s: f64,
    pub rttvar_s: f64,
    /// `None` while slow start has no threshold (TCP_INFINITE_SSTHRESH).
    pub snd_ssthresh: Option<u32>,
    pub snd_cwnd: u32,
    pub advmss: u32,
    pub reordering: u32,
    pub rcv_rtt_s: f64,
    pub rcv_space: u32,
    /// Retransmitted segments over the connection's life.
    pub total_retrans: u32,
    /// Bytes per second; `None` also when unlimited (the kernel's ~0).
    pub pacing_rate: Option<u64>,
    pub max_pacing_rate: Option<u64>,
    pub bytes_acked: Option<u64>,
    pub bytes_received: Option<u64>,
    pub segs_out: Option<u32>,
    pub segs_in: Option<u32>,
    /// Bytes written by the application and not yet sent.
    pub notsent_bytes: Option<u32>,
    pub min_rtt_s: Option<f64>,
    pub data_segs_in: Option<u32>,
    pub data_segs_out: Option<u32>,
    /// Bytes per second.
    pub delivery_rate: Option<u64>,
    pub delivery_rate_app_limited: Option<bool>,
    /// Time busy sending / limited by the receiver's window / by the send buffer.
    pub busy_time_s: Option<f64>,
    pub rwnd_limited_s: Option<f64>,
    pub sndbuf_limited_s: Option<f64>,
    pub delivered: Option<u32>,
    pub delivered_ce: Option<u32>,
    pub bytes_sent: Option<u64>,
    pub bytes_retrans: Option<u64>,
    pub dsack_dups: Option<u32>,
    pub reord_seen: Option<u32>,
    pub rcv_ooopack: Option<u32>,
    /// The peer's advertised window (bytes).
    pub snd_wnd: Option<u32>,
    pub rcv_wnd: Option<u32>,
    pub rehash: Option<u32>,
    pub total_rto: Option<u16>,
    pub total_rto_recoveries: Option<u16>,
    pub total_rto_time_s: Option<f64>,
}

/// A process holding the socket (`-p`), from /proc/PID/fd.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcRef {
    pub pid: u32,
    pub comm: String,
    pub fd: u32,
    /// The process state from /proc/PID/stat ("R (running)", "S (sleeping)",
    /// "T (stopped)"...): a reader that is stopped cannot drain its socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// One TCP socket in one dump.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SocketInfo {
    /// "inet" or "inet6": the socket's own family (a dual-stack socket with an IPv4
    /// peer is "inet6" while `local`/`peer` show the plain IPv4 addresses).
    pub family: String,
    pub state: TcpState,
    /// `::ffff:a.b.c.d` is normalised to `a.b.c.d`.
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// LISTEN: the accept queue length; otherwise bytes not read by the application.
    pub recv_q: u32,
    /// LISTEN: the backlog; otherwise bytes not acknowledged by the peer.
    pub send_q: u32,
    pub timer: Option<Timer>,
    pub uid: u32,
    /// 0 for TIME_WAIT, request and orphaned sockets.
    pub inode: u64,
    /// The kernel's socket cookie: unique per socket in the namespace.
    pub cookie: u64,
    /// Bound device index (SO_BINDTODEVICE), 0 when none.
    pub ifindex: u32,
    pub cong: Option<String>,
    /// Bit 0: receive shut down, bit 1: send shut down.
    pub shutdown: Option<u8>,
    pub skmem: Option<SkMemInfo>,
    pub tcp_info: Option<TcpInfo>,
    /// Filled by `-p` (null when not looked up; empty when no process holds it).
    pub processes: Option<Vec<ProcRef>>,
    /// The network namespace it lives in (`--all-netns` only; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<crate::model::netns::NetnsLabel>,
}

impl SocketInfo {
    /// "local -> peer" for sentences.
    pub fn pair(&self) -> String {
        format!("{} -> {}", self.local, self.peer)
    }

    /// Orphaned: no process holds it any more (closed, still finishing).
    pub fn is_orphan(&self) -> bool {
        self.inode == 0
            && matches!(
                self.state,
                TcpState::FinWait1 | TcpState::FinWait2 | TcpState::Closing | TcpState::LastAck
            )
    }

    /// A socket with only its state and addresses set (queues, ids and every
    /// optional part empty): the start of the sockets unit tests build.
    #[cfg(test)]
    pub(crate) fn bare(state: TcpState, local: &str, peer: &str) -> SocketInfo {
        SocketInfo {
            family: "inet".into(),
            state,
            local: local.parse().unwrap(),
            peer: peer.parse().unwrap(),
            recv_q: 0,
            send_q: 0,
            timer: None,
            uid: 0,
            inode: 0,
            cookie: 0,
            ifindex: 0,
            cong: None,
            shutdown: None,
            skmem: None,
            tcp_info: None,
            processes: None,
            netns: None,
        }
    }
}

/// One poll: every socket dumped at `at` (epoch seconds) and, when known, the host
/// context read at the same moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub at: f64,
    pub netns: Option<String>,
    pub sockets: Vec<SocketInfo>,
    pub host: Option<crate::model::host::HostContext>,
    /// `--all-netns`: every namespace looked into (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<Vec<crate::model::netns::NetnsSeen>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names() {
        assert_eq!(TcpState::parse("time-wait"), Some(TcpState::TimeWait));
        assert_eq!(TcpState::parse("TIME_WAIT"), Some(TcpState::TimeWait));
        assert_eq!(TcpState::parse("estab"), Some(TcpState::Established));
        assert_eq!(TcpState::parse("syn-recv"), Some(TcpState::SynRecv));
        assert_eq!(TcpState::parse("fin-wait-2"), Some(TcpState::FinWait2));
        assert_eq!(TcpState::parse("bogus"), None);
        assert_eq!(TcpState::from_kernel(12), TcpState::SynRecv);
        for s in TcpState::ALL {
            assert_eq!(TcpState::from_kernel(s.kernel_number().unwrap()), s);
        }
        assert_eq!(TcpState::Unknown.kernel_number(), None);
        assert_eq!(TcpState::from_kernel(0), TcpState::Unknown);
        // The sockets table sorts by the derived order: ALL's order, Unknown last.
        assert!(TcpState::ALL.windows(2).all(|w| w[0] < w[1]));
        assert!(TcpState::ALL.iter().all(|s| *s < TcpState::Unknown));
    }

    #[test]
    fn timer_numbers_round_trip() {
        for n in 1..=5 {
            assert_eq!(TimerKind::from_kernel(n).unwrap().kernel_number(), n);
        }
        assert_eq!(TimerKind::from_kernel(0), None);
        assert_eq!(TimerKind::from_kernel(9), Some(TimerKind::Unknown));
        assert_eq!(TimerKind::name_of(0), "off");
        assert_eq!(TimerKind::name_of(2), "keepalive");
        assert_eq!(TimerKind::name_of(9), "unknown");
    }
}
