//! Causes: what a finding says made the symptom happen, as a machine-readable name
//! (`evidence.cause`) and the advice that follows from it (`hint`). A finding's hint
//! is always its cause's hint, set in one place (`Finding::with_cause`), so a later
//! correction of the cause (the local socket showing that the kernel, not the
//! application, sent a RST) can never leave advice that contradicts the evidence.

use serde::Serialize;

/// A daemon named by the first bytes it sent (its banner).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Daemon {
    OpenSsh,
    ProFtpd,
    /// netkit/OpenBSD in.ftpd ("Linux-ftpd").
    InFtpd,
    VsFtpd,
}

impl Daemon {
    /// Recognises a banner: SSH identification string, FTP 220 greeting.
    pub fn from_banner(b: &[u8]) -> Option<Daemon> {
        let has = |needle: &[u8]| b.windows(needle.len()).any(|w| w == needle);
        if b.starts_with(b"SSH-") && has(b"OpenSSH") {
            Some(Daemon::OpenSsh)
        } else if b.starts_with(b"220") && has(b"ProFTPD") {
            Some(Daemon::ProFtpd)
        } else if b.starts_with(b"220") && has(b"vsFTPd") {
            Some(Daemon::VsFtpd)
        } else if b.starts_with(b"220") && (has(b"Linux-ftpd") || has(b"OpenBSD")) {
            Some(Daemon::InFtpd)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Daemon::OpenSsh => "OpenSSH sshd",
            Daemon::ProFtpd => "ProFTPD",
            Daemon::InFtpd => "in.ftpd",
            Daemon::VsFtpd => "vsftpd",
        }
    }
}

/// What made a symptom happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    // ---- resets
    /// A RST during the handshake (connect timeout, scanner, middle box).
    HandshakeAborted,
    /// A RST answering a segment for a connection its sender does not have.
    UnknownConnection,
    /// The sender had closed (its FIN) and the peer kept sending to the gone socket.
    SocketGone,
    /// A RST after the peer's FIN.
    AfterPeerFin,
    /// A stray segment after both sides had closed, answered with a RST: harmless.
    AfterClose,
    /// The peer's first data arrived after this side had given up waiting and closed:
    /// its RST answers a late response (the wait is the finding).
    LateResponse,
    /// RST+ACK after data instead of a FIN: an application's abortive close.
    AbortiveClose,
    /// The local socket had unread data when its application closed it.
    ClosedWithUnreadData,
    /// The sender's keepalive gave up (its kernel sent the RST).
    KeepaliveGaveUp,
    /// The sender's retransmissions gave up.
    RetransmissionsGaveUp,
    /// The sender's retransmissions gave up sooner than tcp_retries2 allows.
    UserTimeout,
    /// A box between the hosts sent the RST in the endpoint's name.
    Middlebox,
    /// A box's idle timeout: the RST answered the first segment after a silence.
    MiddleboxIdleTimeout,
    /// Nothing listened, or a firewall rejected the SYN.
    Refused,
    /// A RST on an established connection without data.
    ResetWithoutData,
    // ---- waits
    /// The network was idle: the server application took its time.
    ServerApplication,
    /// The server resolved the client's address (PTR) first; the daemon when known.
    ReverseDns(Option<Daemon>),
    /// The server made other DNS queries during the wait.
    DnsLookup,
    /// The connection sat in the listener's accept queue: the application was not
    /// calling accept().
    NotAccepted,
    /// The response was sent but retransmitted, unacknowledged.
    ResponseLost,
    /// The response was in flight, not yet acknowledged, without retransmission.
    ResponseInFlight,
    /// The response was queued in the socket but not sent.
    ResponseQueued,
    /// This host (the client) had the response unread in its socket.
    ResponseUnread,
    /// The sender stopped in the middle of a write and the connection went silent.
    SenderStoppedMidWrite,
    /// The last data was never acknowledged and nothing followed.
    DataUnacknowledged,
    // ---- resends
    /// Segments or ACKs lost; only the retransmission timer recovered them.
    PathLoss,
    /// Linux tail-loss probes; `spurious` when the receiver D-SACKed them.
    TailLossProbe { spurious: bool },
    /// Loss recovered by duplicate ACKs / SACK.
    AckDrivenRecovery,
    /// The peer stopped acknowledging and the sender gave up.
    PeerUnreachable,
    /// SYNs lost or dropped on the way.
    SynsLost,
    /// This host dropped the SYNs: its listener's accept queue was full.
    AcceptQueueFull,
    // ---- windows
    /// The receiving application stopped reading.
    ReceiverNotReading,
    /// This host cannot transmit although the peer's window is open.
    CannotTransmit,
}

/// Generic reverse-DNS advice when the daemon is not known: only options that exist.
const REVERSE_DNS_OPTIONS: &str = "sshd: UseDNS no; ProFTPD: UseReverseDNS off; in.ftpd: -n; \
     Apache httpd: HostnameLookups Off";

impl Cause {
    /// The name written to `evidence.cause`.
    pub fn name(self) -> &'static str {
        match self {
            Cause::HandshakeAborted => "handshake_aborted",
            Cause::UnknownConnection => "unknown_connection",
            Cause::SocketGone => "socket_gone",
            Cause::AfterPeerFin => "after_peer_fin",
            Cause::AfterClose => "after_close",
            Cause::LateResponse => "late_response",
            Cause::AbortiveClose => "abortive_close",
            Cause::ClosedWithUnreadData => "closed_with_unread_data",
            Cause::KeepaliveGaveUp => "keepalive_gave_up",
            Cause::RetransmissionsGaveUp => "retransmissions_gave_up",
            Cause::UserTimeout => "user_timeout",
            Cause::Middlebox => "middlebox",
            Cause::MiddleboxIdleTimeout => "middlebox_idle_timeout",
            Cause::Refused => "refused",
            Cause::ResetWithoutData => "reset_without_data",
            Cause::ServerApplication => "server_application",
            Cause::ReverseDns(_) => "reverse_dns",
            Cause::DnsLookup => "dns_lookup",
            Cause::NotAccepted => "not_accepted",
            Cause::ResponseLost => "response_lost",
            Cause::ResponseInFlight => "response_in_flight",
            Cause::ResponseQueued => "response_queued",
            Cause::ResponseUnread => "response_unread",
            Cause::SenderStoppedMidWrite => "sender_stopped_mid_write",
            Cause::DataUnacknowledged => "data_unacknowledged",
            Cause::PathLoss => "path_loss",
            Cause::TailLossProbe { spurious: false } => "tail_loss_probe",
            Cause::TailLossProbe { spurious: true } => "spurious_tail_loss_probe",
            Cause::AckDrivenRecovery => "ack_driven_recovery",
            Cause::PeerUnreachable => "peer_unreachable",
            Cause::SynsLost => "syns_lost",
            Cause::AcceptQueueFull => "accept_queue_full",
            Cause::ReceiverNotReading => "receiver_not_reading",
            Cause::CannotTransmit => "cannot_transmit",
        }
    }

    /// The advice. Its first sentence is fixed per cause (`hint_lead`), so a test can
    /// hold every finding's hint to its cause.
    pub fn hint(self) -> String {
        let lead = self.hint_lead();
        let rest: String = match self {
            Cause::ReverseDns(Some(d)) => match d {
                Daemon::OpenSsh => " The banner is OpenSSH's: set UseDNS no in sshd_config (the default \
                     since OpenSSH 6.8), or fix the resolver it uses (/etc/resolv.conf)."
                    .into(),
                Daemon::ProFtpd => " The banner is ProFTPD's: set UseReverseDNS off (and IdentLookups off \
                     when mod_ident is loaded) in proftpd.conf, or fix the resolver (/etc/resolv.conf)."
                    .into(),
                Daemon::InFtpd => " The banner is in.ftpd's: run it with -n (numeric addresses in its logs), \
                     or fix the resolver (/etc/resolv.conf)."
                    .into(),
                Daemon::VsFtpd => " The banner is vsftpd's, which (as Debian packages it) has no reverse-lookup \
                     option: the lookup comes from the login path (PAM, tcp_wrappers rules with host names, \
                     nsswitch). Fix the resolver (/etc/resolv.conf) or those lookups."
                    .into(),
            },
            Cause::ReverseDns(None) => format!(
                " Turn reverse lookups off in the daemon ({REVERSE_DNS_OPTIONS}) or fix the resolver it uses \
                 (/etc/resolv.conf nameserver, options timeout:/attempts:)."
            ),
            _ => String::new(),
        };
        if rest.is_empty() {
            // What format! gives (the same capacity too, which the memory budget
            // counts), without its machinery: once per finding with a cause.
            return lead.to_owned();
        }
        format!("{lead}{rest}")
    }

    /// The fixed first sentence(s) of the hint.
    pub fn hint_lead(self) -> &'static str {
        match self {
            Cause::HandshakeAborted => "The handshake was aborted: a connect() timeout in the application, a scanner, or a middle box.",
            Cause::UnknownConnection => "The RST answers a segment for a connection its sender no longer has (socket gone: process exited, timed out, host restarted), or a middle box answered in its name: check the sender's logs and restarts at that moment, and the timeouts of boxes in between.",
            Cause::SocketGone => "The RST answers data sent after that side had closed its socket (the process closed or exited): the peer kept sending after the close; check the two sides' timeouts and who should close first.",
            Cause::AfterPeerFin => "The side reset after the peer's FIN: it still had data to send or aborted its end; check that application's close path.",
            Cause::LateResponse => "Informational: this side had given up waiting and closed its socket; the peer's response arrived afterwards and the kernel answered it with a RST. The wait itself (stall.*) is the problem to look at.",
            Cause::AfterClose => "Informational: both sides had closed (FIN each way, acknowledged) and a stray or repeated segment that arrived afterwards was answered with a RST by a socket that no longer existed; nothing was lost.",
            Cause::AbortiveClose => "An application closed with SO_LINGER {1,0} or with unread data in its receive buffer (the kernel then sends RST instead of FIN): check how it closes sockets and whether it reads the whole request.",
            Cause::ClosedWithUnreadData => "The application closed its socket with received data it had not read, so Linux reset the connection instead of sending a FIN: read the whole request (or drain it) before close().",
            Cause::KeepaliveGaveUp => "Keepalive declared the peer dead and the kernel reset the connection: the peer host is gone, or a stateful box between (firewall/NAT idle timeout) dropped the connection. The schedule is TCP_KEEPIDLE/KEEPINTVL/KEEPCNT on the socket or net.ipv4.tcp_keepalive_time/intvl/probes.",
            Cause::RetransmissionsGaveUp => "The kernel gave up retransmitting (net.ipv4.tcp_retries2): the peer stopped acknowledging (dead host, blackholed path, or a firewall dropping this flow).",
            Cause::UserTimeout => "The connection died sooner than net.ipv4.tcp_retries2 allows, so the application set TCP_USER_TIMEOUT (or a lower tcp_retries2 applies): the peer stopped acknowledging (dead host, blackholed path, firewall).",
            Cause::Middlebox => "A firewall, load balancer or IPS between the hosts reset the connection in the endpoint's name. Find the box whose hop distance (TTL) or MAC matches the RST, check its session timeouts and reset/reject rules, and capture on the real endpoint: if it never sent this RST, the path did.",
            Cause::MiddleboxIdleTimeout => "A stateful box between the hosts (load balancer, firewall, NAT) forgot the idle connection and reset it when traffic resumed. Compare the idle time with the boxes' session/idle timeouts; keep connections alive below it (TCP keepalive with TCP_KEEPIDLE shorter than the timeout, or application pings) or raise the timeout.",
            Cause::Refused => "The SYN was refused: nothing listens on the port (ss -ltn on the server), the service is restarting, or a firewall rejects with tcp reset (nft list ruleset | grep reject).",
            Cause::ResetWithoutData => "The connection was reset before any data: check the application logs on that side at this time.",
            Cause::ServerApplication => "The network delivered the request and stayed quiet: the time is spent in the server application (slow backend, lock, GC pause, lookups, thread pool). strace -f -tt on the server shows the blocking call; long-polling or server-push protocols wait by design (raise --stall-threshold for them).",
            Cause::ReverseDns(_) => "The server resolves the client's address (reverse DNS, PTR) before answering, and its resolver is slow or does not answer.",
            Cause::DnsLookup => "The server waited on DNS before answering: check its resolver (/etc/resolv.conf) and what it looks up per connection.",
            Cause::NotAccepted => "The connection waited in the listener's accept queue: the application was not calling accept() (stopped, blocked, or out of workers). Look at the listening process (its state, its threads), not at the network.",
            Cause::ResponseLost => "The response was sent but not acknowledged and the kernel retransmitted it: packets are lost between the hosts (interface and firewall drops, RetransSegs).",
            Cause::ResponseInFlight => "The response was in flight, not yet acknowledged, without a retransmission: it had just been sent, or this host's queueing discipline held it.",
            Cause::ResponseQueued => "The response was queued in the socket but not sent: the peer's window or the congestion window held it back.",
            Cause::ResponseUnread => "The response had arrived in this host's socket but the application had not read it: look at the client application, not the server.",
            Cause::SenderStoppedMidWrite => "The sender stopped in the middle of a write (its last segment carried no PSH, so more data was queued) and nothing followed: its socket was torn down or reset out of sight (a middle box, a kill, a crash), or its process froze. Check the sender's side and the boxes in between; the receiver waits until its own timeouts fire.",
            Cause::DataUnacknowledged => "The last data was never acknowledged and nothing followed: the receiver or the path went away. Check the receiver host and the path.",
            Cause::PathLoss => "Segments or their ACKs were lost and only the retransmission timer recovered them: look for drops on the path (interface drops in /sys/class/net/*/statistics, firewall drops, full queues) and at RetransSegs / TCPTimeouts in /proc/net/snmp and netstat.",
            Cause::TailLossProbe { spurious: true } => "Informational: Linux's tail-loss probe resent the last segment about two round trips after sending it, and the receiver's D-SACK shows it already had it (an ACK was lost or late): nothing was lost and no retransmission timeout fired (TcpExtTCPLossProbes, not TCPTimeouts).",
            Cause::TailLossProbe { spurious: false } => "Informational: Linux's tail-loss probe resent the last segment about two round trips after sending it, sooner than any retransmission timeout; it recovers a lost tail without waiting for the RTO (TcpExtTCPLossProbes, TCPLossProbeRecovery).",
            Cause::AckDrivenRecovery => "Packet loss on the path, recovered quickly by duplicate ACKs/SACK: check for congestion or a lossy link (interface errors and drops, qdisc drops with tc -s qdisc).",
            Cause::PeerUnreachable => "The peer stopped acknowledging (dead host, blackholed path, or a firewall dropping this flow) and the sender gave up after its retransmission limit.",
            Cause::SynsLost => "SYNs to the server went unanswered: the host is down or unreachable, a firewall drops them silently (DROP rather than REJECT; nft list ruleset, security groups), or the server's listener drops them (full accept queue: ss -ltn, ListenOverflows in nstat). A capture on the server side shows whether they arrive. The client's retry count is net.ipv4.tcp_syn_retries.",
            Cause::AcceptQueueFull => "This host dropped the SYNs itself: the listener's accept queue was full (ListenOverflows rose), because the application does not accept() fast enough. Look at the listening process (stopped, blocked, too few workers), its listen() backlog and net.core.somaxconn.",
            Cause::ReceiverNotReading => "The receiving application is not reading its socket (busy, blocked, stopped, or a small SO_RCVBUF): look at the reader on that host, its Recv-Q in ss, and net.ipv4.tcp_rmem.",
            Cause::CannotTransmit => "This host cannot transmit although the peer's window is open: a local firewall rule dropping output (nft list ruleset, iptables -S OUTPUT), a failing route or device, or a qdisc dropping everything. The kernel keeps probing until tcp_retries2 or TCP_USER_TIMEOUT ends the connection.",
        }
    }

    /// One clause for a summary: what the cause means.
    pub fn clause(self) -> &'static str {
        match self {
            Cause::HandshakeAborted => "the handshake was aborted",
            Cause::UnknownConnection => "the sender answered a segment for a connection it no longer has (its socket was gone) or a box answered in its name",
            Cause::SocketGone => "that side's socket was gone when the peer kept sending",
            Cause::AfterPeerFin => "it reset after the peer's FIN",
            Cause::AfterClose => "a segment after both sides had closed was answered with a RST",
            Cause::LateResponse => "the peer's response came after this side had given up and closed",
            Cause::AbortiveClose => "an abortive close (SO_LINGER 0, or close() with unread data)",
            Cause::ClosedWithUnreadData => "the application closed its socket with unread data, so the kernel reset instead of sending a FIN",
            Cause::KeepaliveGaveUp => "the kernel reset the connection because keepalive got no answer",
            Cause::RetransmissionsGaveUp => "the kernel gave up retransmitting",
            Cause::UserTimeout => "it gave up sooner than tcp_retries2 allows: TCP_USER_TIMEOUT",
            Cause::Middlebox => "a box between the hosts sent it",
            Cause::MiddleboxIdleTimeout => "a box's idle timeout",
            Cause::Refused => "connection refused",
            Cause::ResetWithoutData => "reset before any data",
            Cause::ServerApplication => "the network was idle: the server application took its time",
            Cause::ReverseDns(_) => "the server was resolving the client's address",
            Cause::DnsLookup => "the server was waiting on DNS",
            Cause::NotAccepted => "the connection waited in the accept queue: the application was not calling accept()",
            Cause::ResponseLost => "the response was lost and retransmitted",
            Cause::ResponseInFlight => "the response was in flight",
            Cause::ResponseQueued => "the response was queued but not sent",
            Cause::ResponseUnread => "the response sat unread in this host's socket",
            Cause::SenderStoppedMidWrite => "the sender stopped in the middle of a write",
            Cause::DataUnacknowledged => "its last data was never acknowledged",
            Cause::PathLoss => "segments were lost on the path",
            Cause::TailLossProbe { spurious: true } => "a tail-loss probe the receiver D-SACKed: nothing was lost",
            Cause::TailLossProbe { spurious: false } => "a tail-loss probe, sooner than any timeout",
            Cause::AckDrivenRecovery => "loss recovered by duplicate ACKs",
            Cause::PeerUnreachable => "the peer stopped acknowledging",
            Cause::SynsLost => "the SYNs were lost or dropped",
            Cause::AcceptQueueFull => "this host dropped the SYNs: the listener's accept queue was full",
            Cause::ReceiverNotReading => "the receiving application was not reading",
            Cause::CannotTransmit => "this host cannot transmit",
        }
    }

    /// Every cause, for the consistency tests (one daemon stands for ReverseDns).
    pub const ALL: &'static [Cause] = &[
        Cause::HandshakeAborted,
        Cause::UnknownConnection,
        Cause::SocketGone,
        Cause::AfterPeerFin,
        Cause::AfterClose,
        Cause::LateResponse,
        Cause::AbortiveClose,
        Cause::ClosedWithUnreadData,
        Cause::KeepaliveGaveUp,
        Cause::RetransmissionsGaveUp,
        Cause::UserTimeout,
        Cause::Middlebox,
        Cause::MiddleboxIdleTimeout,
        Cause::Refused,
        Cause::ResetWithoutData,
        Cause::ServerApplication,
        Cause::ReverseDns(None),
        Cause::DnsLookup,
        Cause::NotAccepted,
        Cause::ResponseLost,
        Cause::ResponseInFlight,
        Cause::ResponseQueued,
        Cause::ResponseUnread,
        Cause::SenderStoppedMidWrite,
        Cause::DataUnacknowledged,
        Cause::PathLoss,
        Cause::TailLossProbe { spurious: false },
        Cause::TailLossProbe { spurious: true },
        Cause::AckDrivenRecovery,
        Cause::PeerUnreachable,
        Cause::SynsLost,
        Cause::AcceptQueueFull,
        Cause::ReceiverNotReading,
        Cause::CannotTransmit,
    ];

    /// The cause with this `evidence.cause` name.
    pub fn from_name(name: &str) -> Option<Cause> {
        Cause::ALL.iter().copied().find(|c| c.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut names: Vec<&str> = Cause::ALL.iter().map(|c| c.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Cause::ALL.len());
        for c in Cause::ALL {
            assert_eq!(Cause::from_name(c.name()).map(|c| c.name()), Some(c.name()));
            assert!(c.hint().starts_with(c.hint_lead()));
        }
    }

    #[test]
    fn banners_name_their_daemon() {
        assert_eq!(
            Daemon::from_banner(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"),
            Some(Daemon::OpenSsh)
        );
        assert_eq!(
            Daemon::from_banner(b"220 ProFTPD Server (drill) [192.0.2.1]\r\n"),
            Some(Daemon::ProFtpd)
        );
        assert_eq!(
            Daemon::from_banner(
                b"220 TEST FTP server (Version 6.4/OpenBSD/Linux-ftpd-0.17) ready."
            ),
            Some(Daemon::InFtpd)
        );
        assert_eq!(
            Daemon::from_banner(b"220 (vsFTPd 3.0.3)"),
            Some(Daemon::VsFtpd)
        );
        assert_eq!(Daemon::from_banner(b"HTTP/1.1 200 OK"), None);
        // No advice for an option that does not exist.
        assert!(!Cause::ReverseDns(Some(Daemon::VsFtpd))
            .hint()
            .contains("reverse_lookup_enable"));
        assert!(!Cause::ReverseDns(None).hint().contains("vsftpd"));
    }
}
