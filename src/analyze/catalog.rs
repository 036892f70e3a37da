//! The finding catalog behind `tcpdiag explain` and docs/findings.md (generated
//! from this table by `tcpdiag explain --markdown`; a test keeps them equal).

pub struct Entry {
    pub id: &'static str,
    pub severity: &'static str,
    pub meaning: &'static str,
    pub evidence: &'static str,
    pub causes: &'static str,
    pub check: &'static str,
}

pub const CATALOG: &[Entry] = &[
    Entry {
        id: "handshake.syn_retransmit",
        severity: "warning (error when never answered)",
        meaning: "The client sent the same SYN (same ISN) more than once: the first ones got no answer.",
        evidence: "SYN frames and times, intervals, the backoff shape (exponential from the initial RTO, 1 s on Linux, or linear 1 s steps from net.ipv4.tcp_syn_linear_timeouts, or irregular), tcp_syn_retries used (given with --syn-retries, else the Linux default 6, marked as assumed), tcp_syn_linear_timeouts as the schedule shows it (n intervals of 1 s = the initial RTO plus n - 1 linear retries; marked as assumed when no doubling is visible) and when connect() gives up: at the first timer expiry after tcp_syn_retries + linear retransmissions or after the time bound (2^(retries+1) - 1) initial RTOs, whichever comes first (127 s at 6 with a classic schedule, 131 s with 4 linear retries; measured on 6.18). When the SYNs double from another initial RTO (a BPF-set tcp_timeout_init, an old kernel), that observed RTO is used for both.",
        causes: "SYNs dropped by a firewall or security group, a server that is down, a full accept queue with tcp_abort_on_overflow=0, loss on the path.",
        check: "Whether the SYNs reach the server (capture there), nft/iptables rules, ss -ltn and ListenOverflows on the server.",
    },
    Entry {
        id: "handshake.unanswered",
        severity: "error",
        meaning: "A SYN was never answered in the capture (Zeek conn_state S0).",
        evidence: "First and last SYN frames, number of attempts and their span.",
        causes: "Host down or unreachable, a firewall that drops (not rejects), routing asymmetry, capture taken where replies do not pass.",
        check: "Capture on the server side; firewall DROP rules; routing back to the client.",
    },
    Entry {
        id: "handshake.rejected",
        severity: "warning",
        meaning: "The SYN was answered by a RST: connection refused (Zeek REJ).",
        evidence: "RST frame and TTL, and whether that TTL/MAC matches the server host's other packets (the kernel's own RST) or not (a firewall rejecting with tcp reset).",
        causes: "Nothing listening on the port, a service that crashed or is restarting, a firewall 'reject with tcp reset' rule.",
        check: "ss -ltn on the server; the service's status; nft list ruleset | grep reject.",
    },
    Entry {
        id: "handshake.synack_retransmit",
        severity: "warning",
        meaning: "The server repeated its SYN-ACK: the client's final ACK did not arrive (or was never sent).",
        evidence: "SYN-ACK frames, times and intervals; whether the handshake completed; the ACK frame.",
        causes: "Client->server ACKs dropped (stateful firewall, asymmetric routing), a client that vanished after its SYN, SYN floods.",
        check: "Drops of client->server packets; net.ipv4.tcp_synack_retries on the server (default 5).",
    },
    Entry {
        id: "handshake.half_open_flood",
        severity: "error",
        meaning: "Many handshakes to one server ip:port never completed within a short window (capture-wide).",
        evidence: "Number of half-open handshakes, peak within the window (default 10 s, at least --flood-min), rate, distinct sources, example flows, and folded_flow_findings: the per-flow syn_retransmit / synack_retransmit / unanswered findings of these flows that this finding stands for (left out of the top-level list and the table).",
        causes: "A SYN flood, a scan, or a listener whose backlog is exhausted so SYN-ACKs are not completed.",
        check: "net.ipv4.tcp_syncookies, net.ipv4.tcp_max_syn_backlog, net.core.somaxconn and the listen() backlog, ListenOverflows/ListenDrops, SyncookiesSent in /proc/net/netstat.",
    },
    Entry {
        id: "stall.first_byte",
        severity: "warning",
        meaning: "The handshake completed quickly but the first payload byte (a server banner, or the response to the first request) came more than the threshold (--stall-threshold, default 1 s) later, less the handshake's RTT (one round trip is the path's, not the server's).",
        evidence: "Handshake RTT, the frames bounding the wait, the wait, DNS queries the server host sent during it (PTR lookups of the client's own address called out, answered or not, with their retry intervals, i.e. resolver timeouts; the summary says whether the lookups cover the wait to within the threshold, or how much of it lay outside them). Live capture at the server: the server socket's snapshots during the wait and the verdict (nothing written yet: the application; retransmitted and unacknowledged: the network; in flight without a retransmission: just sent).",
        causes: "Reverse DNS of the client by the daemon (sshd UseDNS, ftpd without -n, ident lookups) against a slow or dead resolver; slow authentication backends; an overloaded server.",
        check: "sshd: UseDNS no; in.ftpd -n / vsftpd reverse_lookup_enable=NO; proftpd UseReverseDNS off; /etc/resolv.conf (nameserver, options timeout: attempts:); strace -f -tt on the daemon.",
    },
    Entry {
        id: "stall.response",
        severity: "warning",
        meaning: "A client request after the first exchange waited more than the threshold (--stall-threshold, default 1 s) for the server's response; reported once per flow with the worst wait and how many other responses were slow. The wait runs from the request's last data segment (or its last retransmission) to the response's first data segment. A wait counts as slow when, less the handshake's RTT (one round trip is the path's, as seen from the client's side), it exceeds the threshold.",
        evidence: "Request and response frames, the wait, its time in the flow, the other slow responses (the 4 longest waits are kept: the count is a lower bound when all are slow), the number of responses in the flow; live capture: the local socket during the wait, as for stall.first_byte. Medium confidence: a server that speaks on its own (long polling, push) looks the same.",
        causes: "Server think time: slow backend or database, lock contention, GC pauses, per-request lookups.",
        check: "Server application logs and metrics at that time, its own outbound traffic during the wait.",
    },
    Entry {
        id: "stall.transfer",
        severity: "warning",
        meaning: "A side's data stopped and the connection stayed silent for longer than --stall-threshold (less the handshake RTT) until the receiver closed or the capture ended, while more data was expected: the last segment carried no PSH (Linux pushes the last segment of every write, so the sender had more of the same write queued), or it was never acknowledged. A zero window is window.zero's and resends are the retransmission findings'.",
        evidence: "The last data frame and its time, whether it carried PSH and was acknowledged, the bytes sent, the silence and what ended it (the receiver's FIN, or the end of the capture).",
        causes: "The sender's socket was torn down out of sight (a middle box reset or dropped it, the process was killed or froze, the host died), a blackholed path whose retransmissions are not in this capture.",
        check: "The sender host and process at that moment, boxes between the hosts, a capture on the sender's side.",
    },
    Entry {
        id: "rst.client",
        severity: "warning",
        meaning: "The client reset the connection, with the context: during the handshake, an abortive close after data (RST instead of FIN), after its own FIN, or answering a segment for a connection it no longer knows.",
        evidence: "RST frame and relative time, context, payload bytes each way, RST TTL, any weak signs of injection. Live capture on one end: whether this host sent it (local_socket), the socket's state and timer before it, and whether this host's kernel sent it because keepalive or retransmissions gave up, or the application closed it with unread data (rst_cause).",
        causes: "SO_LINGER {1,0}, close() with unread data, a process that exited, timeouts in the application.",
        check: "How the client application closes sockets; its logs at that moment.",
    },
    Entry {
        id: "rst.server",
        severity: "warning",
        meaning: "The server reset the connection (same contexts as rst.client). Refused SYNs are reported as handshake.rejected instead.",
        evidence: "As rst.client.",
        causes: "Server closing with unread request data, worker restarts, connection limits, a socket that no longer exists.",
        check: "Server logs, restarts, connection limits; whether the client sent after the server closed.",
    },
    Entry {
        id: "rst.injected",
        severity: "error",
        meaning: "A RST that probably did not come from the endpoint whose address it carries: a firewall, load balancer or IPS reset the connection in its name.",
        evidence: "Each independent sign: TTL/hop limit outside the endpoint's range in this flow (or in its other flows when this one has none), a source MAC other than the endpoint's, no TCP timestamps when all the endpoint's other packets carry them, an IP ID that does not follow the endpoint's sequence (only when its own IP IDs were seen counting up in steps of at most 64, as a Linux socket's do; ip_id_sequential), a sequence number away from where the endpoint's stream stood. Confidence grows with the number of signs (TTL and MAC count double).",
        causes: "Firewall HA pairs where the passive box resets sessions it does not know, IPS/DPI resets, load balancer or NAT timeouts, TCP reset injection.",
        check: "Which box is that many hops away (TTL) or owns that MAC; its session table and reset rules; a capture on the real endpoint proving it sent no RST.",
    },
    Entry {
        id: "rst.not_from_this_host",
        severity: "error",
        meaning: "Live capture on one end of the connection: the connection was reset with the peer's address, while this host, whose outgoing packets on it are in the capture (this host is known by its socket, seen by sock_diag, or, for a connection shorter than a poll, by its own address), sent neither a RST nor a FIN. The RST this host received was forged by a box in between (its TTL differs from the peer's packets, or rst.injected found other signs), or the peer answered with a bare RST (no ACK flag) because its end had already been torn down by something other than this host.",
        evidence: "The RST frame, its TTL against the peer's TTL range, its ACK flag, this host's endpoint, role and packet count, that it sent no RST and no FIN, the local socket's last snapshot before the RST (state, timer, queues) and after it when it still existed, how this host was known (this_host_known_from: socket or address), the reasons, and capture_dropped_packets (kernel and interface drops so far: any drop makes the confidence low, since this host's own RST or FIN may be among them).",
        causes: "A firewall HA pair whose passive box resets sessions it does not know, load balancer or NAT state timeouts, an IPS resetting connections, a middle box that reset the peer's side earlier.",
        check: "Capture on the peer and at each box in between at the same time; session/conntrack tables and timeouts of firewalls and load balancers; failover logs at that moment.",
    },
    Entry {
        id: "idle.reset",
        severity: "warning",
        meaning: "A RST that ends (or answers the packet that ended) a long silence (--idle-reset, default 10 s): the signature of an idle timeout in a load balancer, firewall or NAT. Across flows it reports the common idle duration ('9 resets after 30.0 +/- 0.4 s idle').",
        evidence: "Idle seconds, the frame that resumed, the RST frame and its sender; capture-wide: count, mean, standard deviation, range, flows.",
        causes: "Middlebox idle/session timeouts shorter than the application's idle periods.",
        check: "Idle timeouts of the boxes on the path; enable TCP keepalive (TCP_KEEPIDLE below the timeout) or application pings.",
    },
    Entry {
        id: "close.port_reuse",
        severity: "info",
        meaning: "A new SYN on a 4-tuple less than TIME_WAIT (60 s) after the previous connection on it closed.",
        evidence: "Previous flow, seconds since its close, which side held TIME_WAIT, whether TCP timestamps were on.",
        causes: "A small or busy ephemeral port range on the client, net.ipv4.tcp_tw_reuse, or clients that bind fixed ports.",
        check: "net.ipv4.ip_local_port_range, tcp_tw_reuse (needs tcp_timestamps), connection reuse in the client.",
    },
    Entry {
        id: "timewait.buildup",
        severity: "warning (error at half the port range)",
        meaning: "A client address actively closed many connections (at least --timewait-min) to one server ip:port, so it holds many TIME_WAIT entries; the peak concurrent count (each close + 60 s) is compared with the ephemeral port range (--port-range, default 32768-60999 = 28232 ports).",
        evidence: "Active closes, peak concurrent TIME_WAIT, distinct local ports, port range, example flows. The port range says where it came from (port_range_from): --port-range, Linux's default, or, in a live capture, this host's net.ipv4.ip_local_port_range (which is the client's only when the client is this host).",
        causes: "Short-lived connections without keep-alive or pooling, closed by the client.",
        check: "Connection reuse; net.ipv4.ip_local_port_range; net.ipv4.tcp_tw_reuse=1 with net.ipv4.tcp_timestamps=1; EADDRNOTAVAIL ('Cannot assign requested address') in client logs.",
    },
    Entry {
        id: "keepalive.probe",
        severity: "info",
        meaning: "Keepalive probes (0/1-byte segments at snd_nxt - 1 while the peer's window is open) and their answers.",
        evidence: "Probe frames, idle time before the first probe (TCP_KEEPIDLE), intervals (TCP_KEEPINTVL), answered count.",
        causes: "SO_KEEPALIVE on the socket.",
        check: "Nothing to fix: informational.",
    },
    Entry {
        id: "keepalive.dead_peer",
        severity: "error",
        meaning: "Keepalive probes went unanswered (and the connection was then reset or went silent): the peer is dead or unreachable.",
        evidence: "Probe frames, idle before the first, intervals, unanswered count (TCP_KEEPCNT), the RST frame. Live capture: the probes the kernel counted (socket timer keepalive).",
        causes: "Peer host crashed or rebooted, a firewall/NAT dropped the state, network partition.",
        check: "Peer health; middlebox idle timeouts; keepalive settings (TCP_KEEPIDLE/KEEPINTVL/KEEPCNT, net.ipv4.tcp_keepalive_*).",
    },
    Entry {
        id: "window.zero",
        severity: "warning (info when it reopened within 1 s)",
        meaning: "A receiver advertised a zero window; how long until it reopened.",
        evidence: "Zero-window frames, count, the frame that reopened it, seconds at zero.",
        causes: "The receiving application reads too slowly or is blocked; a small SO_RCVBUF.",
        check: "The reader on that host, Recv-Q in ss, net.ipv4.tcp_rmem.",
    },
    Entry {
        id: "window.persist_probe",
        severity: "info",
        meaning: "The sender's zero-window (persist) probes. Linux sends them as 0-byte segments at snd_una - 1, exactly like keepalives (Wireshark labels both 'Keep-Alive'); tcpdiag calls them persist probes because the peer's last window was 0.",
        evidence: "Probe frames, times, intervals, whether they back off exponentially.",
        causes: "A receiver with a zero window.",
        check: "See window.zero.",
    },
    Entry {
        id: "retransmit.timeout",
        severity: "warning",
        meaning: "Retransmissions by the retransmission timer (no duplicate ACKs triggered them), with the backoff schedule.",
        evidence: "Count, frames, the worst chain (same sequence number resent), the first timeout measured from the sender's last progress, the intervals after it, whether they double.",
        causes: "Loss of segments or of their ACKs, tail loss, a blackholed path.",
        check: "Interface and qdisc drops, firewall drops, RetransSegs/TCPTimeouts in /proc/net/snmp and netstat.",
    },
    Entry {
        id: "retransmit.tail_loss_probe",
        severity: "info",
        meaning: "The sender resent its latest segment sooner after its last progress than any retransmission timeout can fire (TCP_RTO_MIN, 200 ms on Linux): a tail-loss probe (Linux TLP, about two round trips after the last send). When the receiver D-SACKs it, it had the data already: an ACK was lost or late, and nothing was lost.",
        evidence: "Probes, their frames, how long after the last progress each was sent (ms), how many the receiver D-SACKed (RFC 2883 duplicate SACK), the RTO minimum used.",
        causes: "A lost or delayed ACK for the last segments of a response, or a lost last segment (the probe then recovers it without an RTO).",
        check: "Nothing, when D-SACKed; otherwise drops of the last segments or of ACKs. TcpExtTCPLossProbes and TCPLossProbeRecovery in nstat, TCPTimeouts staying flat.",
    },
    Entry {
        id: "retransmit.fast",
        severity: "info (warning when over 1% of the bytes were resent)",
        meaning: "Fast retransmissions after duplicate ACKs (Wireshark tcp.analysis.fast_retransmission).",
        evidence: "Count, frames, the peer's dup ACKs, bytes resent and their share.",
        causes: "Packet loss from congestion or a lossy link.",
        check: "tc -s qdisc, interface errors, path capacity.",
    },
    Entry {
        id: "retransmit.give_up",
        severity: "error",
        meaning: "Retransmissions of unacknowledged data that end in a RST from the sender or in silence: the connection gave up. Silence counts only when the capture shows time passing (other packets, or a live capture's stop) beyond the moment the next retransmission was due (twice the last interval, at most 120 s); a capture that ends sooner gets no give_up, and its retransmit.timeout says still_retrying_at_end.",
        evidence: "Retransmissions, frames, how long the data stayed unacknowledged, how it ended (rst or silence: silence_s, silence_until, next_retransmission_due_s), gave_up_within_s (in silence the give-up lies between the last resend and the next due time), what tcp_retries2 allows (~924.6 s at 15; --retries2 when known) and, when much shorter, the TCP_USER_TIMEOUT range (suggested_user_timeout_ms: [min, max]) or tcp_retries2 it suggests.",
        causes: "Dead peer, blackholed path, firewall dropping the flow; an application TCP_USER_TIMEOUT.",
        check: "Peer health and the path; TCP_USER_TIMEOUT in the application; net.ipv4.tcp_retries2.",
    },
    Entry {
        id: "capture.offload",
        severity: "info",
        meaning: "Segments larger than the MSS: GRO/LRO or TSO/GSO merged them at the capture point, so sizes and counts are not wire sizes.",
        evidence: "Oversize segments, flows, largest payload vs MSS, an example frame.",
        causes: "Capturing on a host with offloads on (the default).",
        check: "ethtool -k IFACE; capture with offloads off or on a mirror port when segment sizes matter.",
    },
    Entry {
        id: "capture.truncated",
        severity: "info",
        meaning: "Segments were cut by the snaplen. Sizes and sequence analysis still use the IP header lengths; payload contents are incomplete.",
        evidence: "Count of cut segments.",
        causes: "A small snaplen (tcpdump -s).",
        check: "Capture with -s 0 when payload matters.",
    },
    Entry {
        id: "capture.midstream",
        severity: "info",
        meaning: "Flows without their handshake in the capture: client and server come from the port numbers (Zeek's likely-server-port rule) or the first packet's sender (`roles` in the JSON), relative sequence numbers start at 1 from the first byte seen (as Wireshark), and handshake facts (RTT, options, ISN, window scale) are unknown, so first-byte stalls and handshake findings are not computed for them.",
        evidence: "Count and example flows.",
        causes: "The capture started after the connections opened.",
        check: "Start captures earlier.",
    },
    Entry {
        id: "capture.dropped",
        severity: "warning (error when 1 % or more was lost)",
        meaning: "A live capture lost packets: the kernel dropped them because the capture buffer was full, or the interface dropped them. Flows may show gaps, retransmissions or missing handshakes that did not happen on the wire.",
        evidence: "Kernel and interface drop counts (pcap_stats), packets received, the share lost.",
        causes: "Bursts larger than the capture buffer, a full snaplen on a busy link, a slow consumer, NIC ring overruns.",
        check: "--buffer-size, --snaplen, a narrower -f filter, a specific interface instead of 'any'; ethtool -S and ethtool -g for interface drops.",
    },
    Entry {
        id: "capture.flow_limit",
        severity: "warning",
        meaning: "Connections were finished early to keep the live-flow table under its cap (--max-flows).",
        evidence: "Evicted count, peak live flows, first eviction frame.",
        causes: "SYN floods, scans, or very many concurrent connections.",
        check: "Raise --max-flows if memory allows; look for a flood (handshake.half_open_flood).",
    },
    Entry {
        id: "capture.inputs_overlap",
        severity: "warning",
        meaning: "replay reads its files as one capture in the order given; a file that starts more than 1 s before an earlier one ended overlaps it (rotated files reordered by a few milliseconds at their edges are fine), so connections seen in both are merged or split and their timing (waits, idle times, TIME_WAIT reuse) is wrong.",
        evidence: "Per overlapping file: its first packet, the earlier file it overlaps and that file's last packet, the overlap in seconds (first 10), and how many files overlap.",
        causes: "Rotated files given out of order (a shell glob sorting file.10 before file.2), or captures of the same moment at different points (client and server side) given together.",
        check: "Give the files in time order or merge them (mergecap -w all.pcap ...); replay captures of different points separately.",
    },
    Entry {
        id: "sock.timewait_buildup",
        severity: "warning (error at half the usable port range, unless tcp_tw_reuse lets new connections reuse them)",
        meaning: "Live sockets (`sockets`, `watch`): many TIME_WAIT sockets from one local address to one remote ip:port (at least --timewait-min, or half the usable ephemeral ports), so connect() to that destination is running out of local ports.",
        evidence: "Count, local address, remote ip:port, how many use ports inside net.ipv4.ip_local_port_range, usable ports (range minus ip_local_reserved_ports), their share, the remaining TIME_WAIT time (min/max), tcp_tw_reuse and tcp_timestamps and whether reuse applies to this peer (tw_reuse_applies: 1 with timestamps, or 2 for a loopback peer), total TIME_WAIT against tcp_max_tw_buckets, TCPTimeWaitOverflow.",
        causes: "Short-lived connections closed first by this host (no keep-alive or pooling), a narrow ip_local_port_range.",
        check: "Connection reuse in the client; net.ipv4.ip_local_port_range; net.ipv4.tcp_tw_reuse=1 with net.ipv4.tcp_timestamps=1; EADDRNOTAVAIL ('Cannot assign requested address') in logs.",
    },
    Entry {
        id: "sock.close_wait_buildup",
        severity: "warning",
        meaning: "Live sockets: at least --close-wait-min sockets in CLOSE_WAIT held by one process (with -p) or one local address: the peers closed, the application never called close().",
        evidence: "Count, the process (pid, command) when -p is given, local endpoints, examples, the longest time without data received, unread bytes.",
        causes: "A missing close() on an error path, a leaked connection pool, a process blocked elsewhere.",
        check: "The process's code paths that handle EOF/errors; ls /proc/PID/fd | wc -l against ulimit -n; lsof -p PID.",
    },
    Entry {
        id: "sock.accept_queue_full",
        severity: "error when full (warning at 90%)",
        meaning: "Live sockets: a listener's accept queue (Recv-Q of the LISTEN socket) is at or beyond its backlog (Send-Q); `watch` also reports ListenOverflows rising while it is full.",
        evidence: "Listener, accept queue, backlog, SYN-RECV count, processes, net.core.somaxconn, tcp_abort_on_overflow, ListenOverflows and ListenDrops (cumulative; deltas per interval in watch).",
        causes: "An application that accepts too slowly (blocked, overloaded, too few workers), a backlog too small for bursts.",
        check: "The application's accept loop and worker pool; listen() backlog and net.core.somaxconn; nstat -az TcpExtListenOverflows.",
    },
    Entry {
        id: "sock.syn_recv_buildup",
        severity: "warning (error beyond the listener's backlog)",
        meaning: "Live sockets: many half-open connections (SYN-RECV) on one listener (at least --syn-recv-min, or more than its backlog, where the kernel switches to syncookies or drops).",
        evidence: "Listener, SYN-RECV count, distinct peers, backlog, the most SYN-ACK retransmissions, tcp_max_syn_backlog, tcp_syncookies, tcp_synack_retries, SyncookiesSent/Failed, TCPReqQFullDrop, ListenDrops.",
        causes: "Clients' final ACKs dropped on the way in (firewall, asymmetric routing), a SYN flood or scan.",
        check: "Firewall rules for packets from the clients; net.ipv4.tcp_syncookies; the listen() backlog; SyncookiesSent in nstat.",
    },
    Entry {
        id: "sock.retransmitting",
        severity: "warning (error from tcp_retries1 timeouts in a row)",
        meaning: "Live sockets: a socket's retransmission timer is running with retransmissions or backoff (ss: timer:(on,...,N)); for SYN-SENT, connect() repeating its SYN. Says when the kernel will give up.",
        evidence: "Retransmits in a row, backoff, RTO, expiry, unacknowledged and lost segments, total retransmissions, time since the last ACK, the limit that applies (tcp_retries2; tcp_syn_retries plus tcp_syn_linear_timeouts for SYN-SENT; tcp_orphan_retries, 0 meaning 8, for orphans), the give-up time it implies (Linux checks a time bound when the timer fires: the first expiry of the socket's RTO schedule at or after (2^(n+1)-1) x 200 ms, 120 s steps beyond the RTO cap, 924.6 s at 15; for SYNs, 1 s steps then doubling, ending at the first expiry after tcp_syn_retries + tcp_syn_linear_timeouts retransmissions or (2^(tcp_syn_retries+1)-1) s, whichever comes first), the estimated time spent and left.",
        causes: "A dead peer, a blackholed path, a firewall dropping this flow, heavy loss.",
        check: "The path and peer; RetransSegs/TCPTimeouts and interface drops (tcpdiag host); TCP_USER_TIMEOUT in the application; net.ipv4.tcp_retries2.",
    },
    Entry {
        id: "sock.zero_window",
        severity: "warning (error when probes go unanswered)",
        meaning: "Live sockets: the persist timer is running: the peer advertises a zero window and this host probes it (ss: timer:(persist,...)).",
        evidence: "Probes unanswered, expiry, backoff, bytes waiting (Send-Q and notsent), the peer's window, tcp_retries2.",
        causes: "The peer application stopped reading or reads slower than this host writes; a tiny SO_RCVBUF.",
        check: "The peer process and its Recv-Q; its receive buffer (net.ipv4.tcp_rmem, SO_RCVBUF); TCP_USER_TIMEOUT to bound the wait.",
    },
    Entry {
        id: "sock.transmit_blocked",
        severity: "error",
        meaning: "Live sockets: the persist timer runs while the peer's window is open (tcpi_snd_wnd > 0) and nothing is in flight: this host cannot transmit. Linux arms the same timer as for a zero window when its own sends fail (a local nftables/iptables OUTPUT drop), so this is not the peer's doing.",
        evidence: "The send window, Send-Q and notsent bytes, unacknowledged segments (0), the probes so far and the next one, tcp_retries2.",
        causes: "A local firewall rule dropping output, a route or device that fails sends, a qdisc dropping everything.",
        check: "nft list ruleset and iptables -S OUTPUT on this host, ip route get PEER, tc -s qdisc, the interface's state.",
    },
    Entry {
        id: "sock.not_reading",
        severity: "warning",
        meaning: "Live sockets: a connected socket of this host has received data waiting (Recv-Q > 0) and a receive window of 0 (tcpi_rcv_wnd): its application is not reading, so the peer's sender is stopped by a zero window. With -p the process and its state (T = stopped) are named.",
        evidence: "Recv-Q, the receive window, rcv_space, how long since data last arrived, the processes and their states.",
        causes: "A reader that is stopped (SIGSTOP, a debugger), blocked on something else, or too slow for what it is sent.",
        check: "The process (its state in /proc/PID/stat, what its threads wait on: cat /proc/PID/stack, strace -p PID).",
    },
    Entry {
        id: "sock.keepalive_probing",
        severity: "warning",
        meaning: "Live sockets: keepalive probes were sent and not answered (ss: timer:(keepalive,...,N) with N > 0): the peer is probably dead or a middlebox forgot the connection.",
        evidence: "Probes sent, next probe, tcp_keepalive_probes and tcp_keepalive_intvl (socket options may override them) and the estimated time until the kernel resets the connection.",
        causes: "A peer host that crashed or lost its network, a firewall/NAT idle timeout.",
        check: "The peer's health; middlebox idle timeouts; TCP_KEEPIDLE/KEEPINTVL/KEEPCNT or net.ipv4.tcp_keepalive_*.",
    },
    Entry {
        id: "sock.send_queue_stuck",
        severity: "warning",
        meaning: "`watch` only: a socket's send queue (Send-Q plus tcpi_notsent_bytes) stayed non-empty with nothing acknowledged for --stuck-polls consecutive polls.",
        evidence: "Polls and seconds without progress, Send-Q, notsent bytes, bytes acknowledged, the peer's window, the timer.",
        causes: "A closed peer window, loss, or a peer that stopped reading.",
        check: "See sock.zero_window and sock.retransmitting; the peer application.",
    },
    Entry {
        id: "sock.orphan_buildup",
        severity: "warning (error at half of tcp_max_orphans)",
        meaning: "Live sockets: many orphaned sockets (closed by their process, still in FIN-WAIT-1/2, CLOSING or LAST-ACK): at least --orphan-min, or a quarter of net.ipv4.tcp_max_orphans.",
        evidence: "Orphans by state, /proc/net/sockstat's orphan count, tcp_max_orphans, tcp_fin_timeout, tcp_orphan_retries, the peers with the most, TCPAbortOnMemory.",
        causes: "Peers that never send their FIN (FIN-WAIT-2) or stop acknowledging (FIN-WAIT-1, LAST-ACK); many short connections closed by this host.",
        check: "The top peers; net.ipv4.tcp_fin_timeout, tcp_orphan_retries, tcp_max_orphans; 'too many orphaned sockets' in dmesg.",
    },
];

pub fn explain(id: &str) -> Option<String> {
    CATALOG.iter().find(|e| e.id == id).map(render)
}

pub fn explain_all() -> String {
    CATALOG.iter().map(render).collect::<Vec<_>>().join("\n")
}

fn render(e: &Entry) -> String {
    format!(
        "{} ({})\n  meaning:  {}\n  evidence: {}\n  causes:   {}\n  check:    {}\n",
        e.id, e.severity, e.meaning, e.evidence, e.causes, e.check
    )
}

/// docs/findings.md.
pub fn markdown() -> String {
    let mut s = String::from(
        "# Findings\n\nGenerated by `tcpdiag explain --markdown`; the ids are part of the public interface.\n\
         Every finding carries `id`, `severity`, `flow` (null for capture-wide findings), `at` (epoch seconds),\n\
         `summary`, `evidence` (frames, times and values), `confidence` (high | medium | low) and `hint`.\n",
    );
    for e in CATALOG {
        s.push_str(&format!(
            "\n## `{}`\n\n*Severity:* {}\n\n{}\n\n- **Evidence:** {}\n- **Common causes:** {}\n- **What to check:** {}\n",
            e.id, e.severity, e.meaning, e.evidence, e.causes, e.check
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_documented_in_source() {
        let mut ids: Vec<&str> = CATALOG.iter().map(|e| e.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CATALOG.len());
        assert!(explain("rst.injected").unwrap().contains("TTL"));
        assert!(explain("no.such").is_none());
    }
}
