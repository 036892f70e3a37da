//! The finding catalog behind `tcpdiag explain` and docs/findings.md (generated
//! from this table by `tcpdiag explain --markdown`; a test keeps them equal).

pub struct Entry {
    pub id: &'static str,
    pub severity: &'static str,
    pub meaning: &'static str,
    pub evidence: &'static str,
    pub causes: &'static str,
    pub check: &'static str,
    /// The finding's honest limits: when the detection fires although its conclusion
    /// is false, or cannot fire although the problem is there, and what its
    /// confidence or evidence does about it.
    pub wrong_when: &'static str,
}

pub const CATALOG: &[Entry] = &[
    Entry {
        id: "handshake.syn_retransmit",
        severity: "warning (error when neither a SYN-ACK nor a RST ever came)",
        meaning: "The client sent the same SYN (same ISN) more than once: the first ones got no answer. When none was answered it also stands for handshake.unanswered (listed in evidence.also_matched).",
        evidence: "SYN frames and times, intervals, the backoff shape (exponential from the initial RTO, 1 s on Linux, or linear 1 s steps from net.ipv4.tcp_syn_linear_timeouts, or irregular: medium confidence), tcp_syn_retries used (given with --syn-retries, or read from this host in a live capture when the client is this host, else the Linux default 6, marked as assumed), tcp_syn_linear_timeouts as the schedule shows it (n intervals of 1 s = the initial RTO plus n - 1 linear retries; marked as assumed when no doubling is visible) and when connect() gives up: at the first timer expiry after tcp_syn_retries + linear retransmissions or after the time bound (2^(retries+1) - 1) initial RTOs, whichever comes first (127 s at 6 with a classic schedule, 131 s with 4 linear retries; measured on 6.18). When the SYNs double from another initial RTO (a BPF-set tcp_timeout_init, an old kernel), that observed RTO is used for both. evidence.answered (a SYN-ACK came) and evidence.refused (a RST answered instead: connect() was refused, not timed out, and handshake.rejected says why). evidence.cause: syns_lost, or accept_queue_full when a live capture's poll saw this host's listener full while the SYNs came (evidence.listener: queue, backlog, ListenOverflows/ListenDrops rise; the finding is then folded into sock.accept_queue_full).",
        causes: "SYNs dropped by a firewall or security group, a server that is down, a full accept queue with tcp_abort_on_overflow=0, loss on the path.",
        check: "Whether the SYNs reach the server (capture there), nft/iptables rules, ss -ltn and ListenOverflows on the server.",
        wrong_when: "The give-up time uses the client host's tcp_syn_retries only when it is known (--syn-retries, or a live capture on the client itself); otherwise it assumes the Linux default 6, and a non-Linux client (another initial RTO, retry count and spacing) shows an irregular schedule (medium confidence) whose give-up time does not apply. A SYN-ACK in the capture before a resent SYN means the SYN arrived and the SYN-ACK was lost on the way back, so cause syns_lost names the wrong direction; a capture that ends (or a flow evicted) before the retries run out reports an error for SYNs that may still be answered. An application that retries connect() on a new socket uses a new port and ISN, so those attempts are separate flows and are not counted here.",
    },
    Entry {
        id: "handshake.unanswered",
        severity: "error",
        meaning: "A single SYN was never answered in the capture (Zeek conn_state S0). When the SYN was resent, handshake.syn_retransmit reports the flow instead and lists this id in evidence.also_matched.",
        evidence: "First and last SYN frames, number of attempts; evidence.cause syns_lost, or accept_queue_full (with evidence.listener) when a live capture saw this host's listener full while the SYN came.",
        causes: "Host down or unreachable, a firewall that drops (not rejects), routing asymmetry, a full accept queue on the server, capture taken where replies do not pass.",
        check: "Capture on the server side; firewall DROP rules; routing back to the client; ss -ltn and ListenOverflows on the server.",
        wrong_when: "Nothing checks that the capture lasted past the SYN's first retransmission time (1 s on Linux): a capture that stops, or a flow evicted (capture.flow_limit), just after a SYN reports it unanswered with high confidence. A capture point the SYN-ACKs do not pass (asymmetric routing, a one-way mirror port) makes answered SYNs look unanswered, and the capture alone cannot tell the two apart. A client that gives up with its own RST before any answer (a short connect() timeout, happy eyeballs cancelling the attempt) turns the state into RSTOS0, so only rst.client (cause handshake_aborted) reports it.",
    },
    Entry {
        id: "handshake.rejected",
        severity: "warning",
        meaning: "The SYN was answered by a RST: connection refused (Zeek REJ).",
        evidence: "RST frame and TTL, and an attribution from the server address's packets in earlier flows: a TTL (and source MAC) that matches them is the server's own kernel (high confidence), a differing TTL or MAC is probably a firewall rejecting with tcp reset (medium), and with no earlier flow to compare the confidence is medium. evidence.cause: refused.",
        causes: "Nothing listening on the port, a service that crashed or is restarting, a firewall 'reject with tcp reset' rule.",
        check: "ss -ltn on the server; the service's status; nft list ruleset | grep reject.",
        wrong_when: "The comparison needs other flows of the same address, so the first connection to a server has nothing to compare, and a firewall running on the server host itself (nftables/iptables reject with tcp-reset) sends its RST from the same stack with the same TTL, so it is taken for a closed port. A route change or ECMP path of another length between flows moves the TTL by a hop and makes the server's own RST look like a box's, and behind a load balancer or NAT address the 'server' is several hosts. A RST with stronger signs of forgery is reported as rst.injected instead, which takes precedence.",
    },
    Entry {
        id: "handshake.synack_retransmit",
        severity: "warning",
        meaning: "The server repeated its SYN-ACK: the client's final ACK did not arrive (or was never sent).",
        evidence: "SYN-ACK frames, times and intervals; whether the handshake completed; the ACK frame.",
        causes: "Client->server ACKs dropped (stateful firewall, asymmetric routing), a client that vanished after its SYN, SYN floods.",
        check: "Drops of client->server packets; net.ipv4.tcp_synack_retries on the server (default 5).",
        wrong_when: "Every SYN-ACK after the first counts, including those the server sent in answer to the client's resent SYNs after its first SYN-ACK was lost on the way back: no ACK was lost then (compare the times with handshake.syn_retransmit on the same flow). When the capture shows the client's ACK before a repeated SYN-ACK, the ACK arrived and the server dropped it itself, typically because its accept queue was full (Linux drops the completing ACK and counts ListenOverflows), which this finding does not check. A server answering with syncookies keeps no state and never repeats its SYN-ACK, so lost ACKs are not seen then.",
    },
    Entry {
        id: "handshake.half_open_flood",
        severity: "error",
        meaning: "Many handshakes to one server ip:port never completed within a short window (capture-wide).",
        evidence: "Number of half-open handshakes, peak within the window (default 10 s, at least --flood-min), rate, distinct sources (a lower bound beyond 10,000: distinct_sources_capped; a single source gives medium confidence), example flows, and folded_flow_findings: the per-flow syn_retransmit / synack_retransmit / unanswered findings of these flows that this finding stands for (left out of the top-level list and the table).",
        causes: "A SYN flood, a scan, or a listener whose backlog is exhausted so SYN-ACKs are not completed.",
        check: "net.ipv4.tcp_syncookies, net.ipv4.tcp_max_syn_backlog, net.core.somaxconn and the listen() backlog, ListenOverflows/ListenDrops, SyncookiesSent in /proc/net/netstat.",
        wrong_when: "Half-open means a SYN seen, not refused, no completing ACK and no client payload, so a SYN scan of an open port (the scanner resets after the SYN-ACK), attempts cancelled by their clients, and flows whose final ACK the capture missed while the client never spoke all count. One busy client retrying from many ports looks like a small flood (one source: medium confidence). Flows finished early (capture.flow_limit) or a capture that ends mid-burst change the counts.",
    },
    Entry {
        id: "stall.first_byte",
        severity: "warning",
        meaning: "The handshake completed quickly but the first payload byte (a server banner, or the response to the first request) came more than the threshold (--stall-threshold, default 1 s) later, less the handshake's RTT (one round trip is the path's, not the server's). Only when the handshake RTT itself is below the threshold, and never for flows whose handshake is not in the capture.",
        evidence: "Handshake RTT, the frames bounding the wait, the wait, DNS queries the server host sent during it (PTR lookups of the client's own address called out, answered or not, with their retry intervals, i.e. resolver timeouts; the summary says whether the lookups cover the wait to within the threshold, or how much of it lay outside them). evidence.cause from the packets: reverse_dns (PTR lookups of the client; the daemon named from its banner; high confidence), dns_lookup (other queries of the server host) or server_application (medium confidence). Live capture with this host's socket: at the server not_accepted (the connection was still in the accept queue, inode 0), response_lost (retransmitted and unacknowledged: the network), response_in_flight or response_queued; at the client response_unread (the response sat unread in this host's socket).",
        causes: "Reverse DNS of the client by the daemon (sshd UseDNS, ftpd without -n, ident lookups) against a slow or dead resolver; slow authentication backends; an overloaded server; an application that does not accept() in time.",
        check: "sshd: UseDNS no; in.ftpd -n / vsftpd reverse_lookup_enable=NO; proftpd UseReverseDNS off; /etc/resolv.conf (nameserver, options timeout: attempts:); strace -f -tt on the daemon.",
        wrong_when: "Subtracting the handshake RTT is right at the client; at the server the wait holds no round trip, so waits up to threshold + RTT are missed on long paths, and a path whose RTT alone is above the threshold never gets this finding. A server that delays its greeting on purpose (SMTP greet pause, postscreen, tarpits) looks the same, and at the client a response lost and resent by the server's timer cannot be told from think time (the first copy seen is the resend). DNS is read from UDP port 53 only: lookups answered from a cache (nscd, sssd, systemd-resolved), /etc/hosts, DoT/DoH or outside the capture leave cause server_application, while any query the server host made during the wait, or a PTR query for the client from any host, is taken as the reason.",
    },
    Entry {
        id: "stall.response",
        severity: "warning",
        meaning: "A client request after the first exchange waited more than the threshold (--stall-threshold, default 1 s) for the server's response; reported once per flow with the worst wait and how many other responses were slow. The wait runs from the request's last data segment (or its last retransmission) to the response's first data segment. A wait counts as slow when, less the handshake's RTT (one round trip is the path's, as seen from the client's side), it exceeds the threshold.",
        evidence: "Request and response frames, the wait, its time in the flow, the other slow responses (the 4 longest waits are kept: the count is a lower bound when all are slow), the number of responses in the flow, DNS queries during the worst wait as for stall.first_byte; evidence.cause as for stall.first_byte (reverse_dns, dns_lookup, server_application; in a live capture not_accepted, response_lost, response_in_flight, response_queued or response_unread). Medium confidence unless the server looked up the client's name: a server that speaks on its own (long polling, push) looks the same.",
        causes: "Server think time: slow backend or database, lock contention, GC pauses, per-request lookups.",
        check: "Server application logs and metrics at that time, its own outbound traffic during the wait.",
        wrong_when: "Requests and responses are inferred from turns (client data, then server data), so server push, long polling, streaming and pipelined or multiplexed protocols (HTTP/2, gRPC, database pipelines) pair data that are not a request and its response. Without the handshake the roles come from port numbers and may be swapped, which turns the client's think time into the server's. As for stall.first_byte, subtracting the handshake RTT misses waits up to threshold + RTT in a capture at the server, and a capture at the client cannot tell think time from a response lost and resent.",
    },
    Entry {
        id: "stall.transfer",
        severity: "warning",
        meaning: "A side's data stopped and the connection stayed silent for longer than --stall-threshold (less the handshake RTT) until the receiver closed or the capture ended, while more data was expected: the last segment carried no PSH (Linux pushes the last segment of every write, so the sender had more of the same write queued), was full-sized (at least 512 bytes and the side's largest, or within 40 bytes of the receiver's MSS: a finished transfer ends with its remainder), or was never acknowledged. The sender must have sent nothing after it (no ACK, FIN, RST or resend) and the receiver no RST; a zero window is window.zero's and resends are the retransmission findings'.",
        evidence: "The last data frame and its time, its length, whether it carried PSH, was full-sized and was acknowledged, the bytes sent, the silence and what ended it (the receiver's FIN, or the end of the capture). evidence.cause: sender_stopped_mid_write, or data_unacknowledged when a pushed, short last segment was never acknowledged. Medium confidence: the wire shows the silence, not why.",
        causes: "The sender's socket was torn down out of sight (a middle box reset or dropped it, the process was killed or froze, the host died), a blackholed path whose retransmissions are not in this capture.",
        check: "The sender host and process at that moment, boxes between the hosts, a capture on the sender's side.",
        wrong_when: "It needs a last segment without PSH, full-sized, or unacknowledged: a rate-limited sender that pushes every small chunk and is cut between chunks looks like a finished response and is missed. Full-sized also matches a last segment of 512 bytes or more that is simply the largest the side sent, so a finished one-segment response on a keep-alive connection left idle until the end of the capture is reported (cause sender_stopped_mid_write). PSH is read as Linux sets it: applications that cork (TCP_CORK, MSG_MORE) or stacks that set PSH differently make ordinary pauses look like a cut, and segments merged by offloads (capture.offload) change both the sizes and the PSH seen. The silence is the capture's: a sender whose later packets take a path the capture does not see, or were dropped by it (capture.dropped), looks stopped.",
    },
    Entry {
        id: "rst.client",
        severity: "warning (info when the cause is after_close or late_response)",
        meaning: "The client reset the connection, with the context: during the handshake, as its first packet in the capture (answering a segment for a connection it does not know), after its own FIN (answering a late response, data sent to a closed socket, or an abortive close), after both sides had closed, after the peer's FIN, without the ACK flag answering the peer (a socket already gone), or an abortive close after data (RST instead of FIN). When a more specific finding explains the same RST (keepalive.dead_peer, retransmit.give_up, idle.reset, rst.not_from_this_host, rst.injected), that one is reported and lists this id in evidence.also_matched.",
        evidence: "RST frame and relative time, context, payload bytes each way, RST TTL, any weak sign of injection (one sign: medium confidence), and evidence.cause from the packets: handshake_aborted, unknown_connection, socket_gone, late_response, after_close, after_peer_fin, abortive_close or reset_without_data. Live capture on one end: whether this host sent it (local_socket), the socket's state and timer before it, and, when this host sent it and its socket says why, the cause it replaces the guess with (rst_cause): keepalive_gave_up, retransmissions_gave_up (a RST without ACK after the retransmission timer ran out) or closed_with_unread_data.",
        causes: "SO_LINGER {1,0}, close() with unread data, a process that exited, timeouts in the application.",
        check: "How the client application closes sockets; its logs at that moment.",
        wrong_when: "The sender is read from the RST's source address, so a box resetting in the client's name is 'the client' unless rst.injected, idle.reset or rst.not_from_this_host recognise it. The context is inferred from what the capture holds: a midstream flow that never carried data is called 'during the handshake' (handshake_aborted) because no handshake ACK was seen, a RST that is the side's first packet in the capture is unknown_connection, and a bare RST is taken for a host without the socket although some stacks and appliances abort that way. Only the first RST of each side is judged, and without this host's socket an abortive close (SO_LINGER 0) and close() with unread data look the same.",
    },
    Entry {
        id: "rst.server",
        severity: "warning (info when the cause is after_close or late_response)",
        meaning: "The server reset the connection (same contexts, causes and precedence as rst.client). Refused SYNs are reported as handshake.rejected instead.",
        evidence: "As rst.client.",
        causes: "Server closing with unread request data, worker restarts, connection limits, a socket that no longer exists.",
        check: "Server logs, restarts, connection limits; whether the client sent after the server closed.",
        wrong_when: "As for rst.client, the address says 'server', not who built the RST, and context and cause are inferred from what the capture holds. A server that ends idle keep-alive connections with an abortive close by design looks like a failure (abortive_close), and a client that sends a request and closes at once gets a RST after its FIN: late_response, info, although nobody waited. Behind a load balancer the server address is the balancer, whose own timeouts and health checks send many of these.",
    },
    Entry {
        id: "rst.injected",
        severity: "error",
        meaning: "A RST that probably did not come from the endpoint whose address it carries: a firewall, load balancer or IPS reset the connection in its name.",
        evidence: "Each independent sign with its weight: a TTL/hop limit outside the endpoint's range in this flow (or in its other flows when this one has none) counts 2 when it is two or more hops off, from another initial TTL, or unspent (a box on the capture's own link) and 1 for a single hop (a route change or ECMP does that); a source MAC other than the endpoint's counts 2; no TCP timestamps on a RST+ACK when all the endpoint's other packets (at least 2) carry them, an IP ID that does not follow the endpoint's sequence (only when its own IP IDs were seen counting up in steps of at most 64, as a Linux socket's do; ip_id_sequential), and a sequence number ahead of the endpoint's stream or further back than its unacknowledged data (64 KiB at least) count 1 each. A total of 2 is medium confidence, 3 or more high; evidence.cause: middlebox.",
        causes: "Firewall HA pairs where the passive box resets sessions it does not know, IPS/DPI resets, load balancer or NAT timeouts, TCP reset injection.",
        check: "Which box is that many hops away (TTL) or owns that MAC; its session table and reset rules; a capture on the real endpoint proving it sent no RST.",
        wrong_when: "Every sign compares the RST with the address's other packets, so whatever changes the machine behind the address fakes them: a failover (VRRP, keepalived, a cloud load balancer), a replaced VM or a pod that got the same IP, a NAT or virtual IP fronting several hosts, an endpoint reached through two routers (two source MACs). A route change or ECMP moves the TTL (one hop counts 1 and needs a second sign), and a capture that lost the endpoint's last packets puts its stream behind the RST's sequence number. A box next to the endpoint (same router, same hop count, same initial TTL) that leaves timestamps and IP IDs alone shows no sign, and its RST stays rst.client or rst.server.",
    },
    Entry {
        id: "rst.not_from_this_host",
        severity: "error",
        meaning: "Live capture on one end of the connection: the connection was reset with the peer's address, while this host, whose outgoing packets on it are in the capture (this host is known by its socket, seen by sock_diag, or, for a connection shorter than a poll, by its own address), sent neither a RST nor a FIN. The RST this host received was forged by a box in between (its TTL differs from the peer's packets, or rst.injected found other signs), or the peer answered with a bare RST (no ACK flag) because its end had already been torn down by something other than this host.",
        evidence: "The RST frame, its TTL against the peer's TTL range, its ACK flag, this host's endpoint, role and packet count, that it sent no RST and no FIN, the local socket's last snapshot before the RST (state, timer, queues) and after it when it still existed, how this host was known (this_host_known_from: socket or address), the reasons, and capture_dropped_packets (kernel and interface drops so far). evidence.cause: middlebox when the TTL differs or rst.injected found signs (high confidence), unknown_connection when only the missing ACK flag speaks (medium); any capture drop makes the confidence low, since this host's own RST or FIN may be among them.",
        causes: "A firewall HA pair whose passive box resets sessions it does not know, load balancer or NAT state timeouts, an IPS resetting connections, a middle box that reset the peer's side earlier.",
        check: "Capture on the peer and at each box in between at the same time; session/conntrack tables and timeouts of firewalls and load balancers; failover logs at that moment.",
        wrong_when: "It trusts that the capture holds every packet this host sent on the connection: a RST or FIN that left through an interface not captured (a multi-homed host, policy routing, a container's own namespace) or was dropped by the capture (low confidence) is missed, and the conclusion is then wrong. A TTL outside the peer's range is weighed as rst.injected weighs it: two or more hops, another initial TTL or an unspent one is a strong sign (cause middlebox), one hop alone is not reported (a route change or ECMP does that); so a container host answering for a pod behind it two hops away still makes the peer's own RST look forged. A bare RST is also the normal answer of a peer whose own kernel dropped the connection silently (its retransmissions gave up, it rebooted): nothing forged it then, which cause unknown_connection leaves open.",
    },
    Entry {
        id: "idle.reset",
        severity: "warning",
        meaning: "A RST that ends, or answers within max(1 s, two handshake RTTs), the packet that ended the flow's longest silence: a silence of at least --idle-reset (default 10 s), or a shorter one (at least 1 s and 5 times the flow's next longest silence) when the RST answers the resuming segment and carries signs that it is not the endpoint's own (TTL, MAC, options, IP ID, sequence). The signature of an idle timeout in a load balancer, firewall or NAT. Across flows (2 or more) it reports the common idle duration ('9 resets after 30.0 +/- 0.4 s idle').",
        evidence: "Idle seconds, the flow's usual (next longest) silence and whether the silence was judged against it (judged_against_flow), the frame that resumed, the RST frame and its sender, how soon after the resume it came and the answer window, the injection signs (any: high confidence, none: medium); evidence.cause: middlebox_idle_timeout. Capture-wide: count, mean, standard deviation, range, flows; high confidence when the idle times agree within 10 %, low otherwise.",
        causes: "Middlebox idle/session timeouts shorter than the application's idle periods.",
        check: "Idle timeouts of the boxes on the path; enable TCP keepalive (TCP_KEEPIDLE below the timeout) or application pings.",
        wrong_when: "At or above --idle-reset no sign is needed, so an endpoint's own idle handling looks the same: a server or pool that ends idle connections with an abortive close (SO_LINGER 0), or a peer that restarted during the silence and answers with a bare RST; the injection signs (high confidence) are what point at a box. Only the flow's longest silence is examined, and a silence longer than --idle-timeout (300 s by default) splits the flow, so the RST lands in a new flow as rst.* unknown_connection: raise --idle-timeout for long box timeouts (an AWS NLB's 350 s). Boxes that drop idle state silently (most NAT and conntrack) send no RST at all: that shows as retransmissions and retransmit.give_up, not here.",
    },
    Entry {
        id: "close.port_reuse",
        severity: "info",
        meaning: "Capture-wide, one finding per client address and server ip:port: new SYNs on a 4-tuple less than TIME_WAIT (60 s) after the previous connection on it closed (its first FIN or RST, or its last packet when it never closed), with how many did.",
        evidence: "Reuses, which side held TIME_WAIT (time_wait_holder: client when the client had closed first with a FIN each time, mixed, or null), the soonest and median seconds after the close, whether TCP timestamps were on in the client's SYNs, example flows.",
        causes: "A small or busy ephemeral port range on the client, net.ipv4.tcp_tw_reuse, or clients that bind fixed ports.",
        check: "net.ipv4.ip_local_port_range, tcp_tw_reuse (needs tcp_timestamps), connection reuse in the client.",
        wrong_when: "No TIME_WAIT exists after a connection ended by a RST or one that never closed, yet a new SYN soon after it is counted (time_wait_holder null). 'The client held TIME_WAIT, so tcp_tw_reuse is on there' is an inference: a client that binds its port before connect() reuses a TIME_WAIT 4-tuple with timestamps on without tcp_tw_reuse, and behind a NAT the client address is many hosts whose ports the NAT hands out again. TIME_WAIT is taken as Linux's 60 s (Windows holds 120-240 s), and a previous connection that closed before the capture started, or more than 60 s earlier, is not linked.",
    },
    Entry {
        id: "timewait.buildup",
        severity: "warning (error when the peak holds half the port range and no new connection was seen taking over a TIME_WAIT 4-tuple)",
        meaning: "A client address actively closed (first FIN) many connections to one server ip:port (at least --timewait-min, or enough that the peak holds half the port range), so it holds many TIME_WAIT entries; the peak concurrent count (each close + 60 s, cut short when a new connection took the 4-tuple over) is compared with the ephemeral port range (--port-range, default 32768-60999 = 28232 ports).",
        evidence: "Active closes, peak concurrent TIME_WAIT, new connections that took over a client-held TIME_WAIT (time_wait_reused: tcp_tw_reuse at work, the severity then stays warning), late_corrections (TIME_WAITs cut short by a reuse too late to come off the peak), distinct local ports, port range, example flows. The port range says where it came from (port_range_from): --port-range, Linux's default, or, in a live capture, this host's net.ipv4.ip_local_port_range (which is the client's only when the client is this host).",
        causes: "Short-lived connections without keep-alive or pooling, closed by the client.",
        check: "Connection reuse; net.ipv4.ip_local_port_range; net.ipv4.tcp_tw_reuse=1 with net.ipv4.tcp_timestamps=1; EADDRNOTAVAIL ('Cannot assign requested address') in client logs.",
        wrong_when: "It assumes Linux's 60 s TIME_WAIT (Windows holds 120-240 s) and the client's port range given with --port-range (otherwise Linux's default; Windows uses 49152-65535). Behind a NAT the client address is many hosts, each with its own ports and TIME_WAITs, so the share says little. Only closes the capture saw count: those before the capture started (or filtered out) are missing from the peak during its first 60 s, and the client's other sockets to the same destination (established ones, or bind()-before-connect() users that need a port free for every destination) are not counted, so ports can run out sooner than the share says.",
    },
    Entry {
        id: "keepalive.probe",
        severity: "info",
        meaning: "Keepalive probes (0/1-byte segments at snd_nxt - 1 while the peer's window is open) and their answers.",
        evidence: "Probe frames, idle time before the first probe (TCP_KEEPIDLE), intervals (TCP_KEEPINTVL), answered count.",
        causes: "SO_KEEPALIVE on the socket.",
        check: "Nothing to fix: informational.",
        wrong_when: "A probe is any 0/1-byte segment one below the sender's next sequence number while the peer's window is open, so a resent 1-byte segment that ends the stream (a lone keystroke, a one-byte protocol message) is taken for a keepalive. Probes after a silence longer than --idle-timeout (300 s by default) fall into a new flow where they cannot be recognised: Linux's default tcp_keepalive_time is 7200 s, so default keepalives are only seen with --idle-timeout raised above it. An answer whose window differs from the answerer's previous segment is counted as a window update rather than an answer.",
    },
    Entry {
        id: "keepalive.dead_peer",
        severity: "error",
        meaning: "At least two keepalive probes in a row went unanswered, and then the prober reset the connection (its kernel gave up) or the peer stayed silent from the first of them on: the peer is dead or unreachable.",
        evidence: "Probe frames, idle before the first, intervals, unanswered count (TCP_KEEPCNT when the prober's RST followed), the RST frame. Live capture: the probes the kernel counted (socket timer keepalive). evidence.cause: keepalive_gave_up.",
        causes: "Peer host crashed or rebooted, a firewall/NAT dropped the state, network partition.",
        check: "Peer health; middlebox idle timeouts; keepalive settings (TCP_KEEPIDLE/KEEPINTVL/KEEPCNT, net.ipv4.tcp_keepalive_*).",
        wrong_when: "Ending in silence, the unanswered count is what the capture saw, not TCP_KEEPCNT: the socket's own TCP_KEEPCNT is invisible on the wire, and a capture that stops after two probes (or answers that take a path the capture does not see) reports dead a peer the kernel had not given up on. An answer whose window differs from the peer's previous segment is read as a window update, so if the prober later resets for another reason (its application aborting) the probes look unanswered and keepalive is blamed; a resent 1-byte last segment is also taken for a probe. Like keepalive.probe it cannot see keepalives after a silence longer than --idle-timeout (300 s by default; Linux's default keepalive idle is 7200 s).",
    },
    Entry {
        id: "window.zero",
        severity: "warning (info when its longest episode reopened within 1 s)",
        meaning: "A receiver advertised a zero window; reported once per receiver with its longest zero-window episode (one still open at the end lasts until the capture ended) and the totals over all episodes.",
        evidence: "longest_episode (start and reopening frames, seconds at zero, zero-window segments, the sender's persist probes and the receiver's answers, probe times), episodes, zero-window segments in all (count), seconds at zero in all (zero_for_s). evidence.cause: receiver_not_reading.",
        causes: "The receiving application reads too slowly or is blocked; a small SO_RCVBUF.",
        check: "The reader on that host, Recv-Q in ss, net.ipv4.tcp_rmem.",
        wrong_when: "A zero window says the receive buffer was full, not why: Linux also shrinks the window to zero under TCP memory pressure (net.ipv4.tcp_mem, TCPMemoryPressures) or with a tiny SO_RCVBUF, and a proxy or load balancer advertises its own backpressure, so cause receiver_not_reading can name the wrong party. An episode still open when the capture ended is a warning however short it was. A receiver that holds the sender with a small but non-zero window (a few bytes) is not detected at all.",
    },
    Entry {
        id: "window.persist_probe",
        severity: "info",
        meaning: "The sender's zero-window (persist) probes. Linux sends them as 0-byte segments at snd_una - 1, exactly like keepalives (Wireshark labels both 'Keep-Alive'); tcpdiag calls them persist probes because the peer's last window was 0.",
        evidence: "Probe frames, times, intervals over all episodes, whether they back off exponentially (each interval at least 1.5 times the one before).",
        causes: "A receiver with a zero window.",
        check: "See window.zero.",
        wrong_when: "A probe is recognised as a 0/1-byte segment one below the sender's next sequence number (or one new byte at it) while the receiver's last window was 0, so a keepalive from an idle sender whose peer's window was left at zero is called a persist probe. The intervals run across all zero-window episodes, so with several episodes the backoff flag compares probes of different episodes.",
    },
    Entry {
        id: "retransmit.timeout",
        severity: "warning",
        meaning: "Retransmissions by the retransmission timer, with the backoff schedule: a resend at least 200 ms (Linux's TCP_RTO_MIN) after the sender's last progress, with no duplicate ACKs or SACKs just before it. Tail-loss probes, ACK-driven recovery (retransmit.fast) and resends of data already acknowledged are left out. When the flow's last chain of timeouts ends in a RST or in silence, retransmit.give_up reports it instead and lists this id in evidence.also_matched.",
        evidence: "Count, frames, the worst chain (same sequence number resent), the first timeout measured from the sender's last progress, the intervals after it, whether they double. When the capture ended before the next resend was due: still_retrying_at_end, capture_ended_after_s, next_retransmission_due_s and, with the sender's tcp_retries2 known, when its kernel gives up (gives_up_at). evidence.cause: path_loss.",
        causes: "Loss of segments or of their ACKs, tail loss, a blackholed path.",
        check: "Interface and qdisc drops, firewall drops, RetransSegs/TCPTimeouts in /proc/net/snmp and netstat.",
        wrong_when: "It assumes Linux's 200 ms minimum RTO: a sender with a smaller one (a route with rto_min lowered, FreeBSD's 30 ms) has real timeouts sooner, which are called tail-loss probes or fast recovery instead. Later than 200 ms also come Linux's tail-loss probes with a single segment in flight (2 x SRTT plus 200 ms) or on paths with an RTT above about 100 ms, and RACK's reordering timer, and those are counted here as timeouts (cause path_loss). Times are taken at the capture point: far from the sender, the gap from an ACK to a resend is stretched by up to one RTT, and resends whose original the capture missed (capture.dropped) are not recognised as resends.",
    },
    Entry {
        id: "retransmit.tail_loss_probe",
        severity: "info",
        meaning: "The sender resent its latest segment sooner after its last progress than any retransmission timeout can fire (TCP_RTO_MIN, 200 ms on Linux): a tail-loss probe (Linux TLP, about two round trips after the last send). When the receiver D-SACKs it, it had the data already: an ACK was lost or late, and nothing was lost.",
        evidence: "Probes, their frames, how long after the last progress each was sent (ms), how many the receiver D-SACKed (RFC 2883 duplicate SACK), the RTO minimum used. evidence.cause: spurious_tail_loss_probe when every probe was D-SACKed (high confidence), else tail_loss_probe (medium).",
        causes: "A lost or delayed ACK for the last segments of a response, or a lost last segment (the probe then recovers it without an RTO).",
        check: "Nothing, when D-SACKed; otherwise drops of the last segments or of ACKs. TcpExtTCPLossProbes and TCPLossProbeRecovery in nstat, TCPTimeouts staying flat.",
        wrong_when: "It assumes Linux's 200 ms minimum RTO: a route with rto_min lowered, or a non-Linux sender with a smaller minimum RTO (FreeBSD: 30 ms), sends real timeouts sooner, which would be called probes. Linux's own probes come later than 200 ms with a single segment in flight (2 x SRTT plus a 200 ms delayed-ACK allowance) or on paths with an RTT above about 100 ms, and are then counted as retransmit.timeout. 'Nothing was lost' rests on D-SACK: with a receiver that sends none (tcp_dsack=0, no SACK) a needless probe cannot be told from one that recovered a loss.",
    },
    Entry {
        id: "retransmit.fast",
        severity: "info (warning when 1 % or more of the side's bytes were resent, every kind of resend counted)",
        meaning: "Resends driven by ACKs: fast retransmissions after duplicate ACKs (Wireshark tcp.analysis.fast_retransmission: at least 2 within 20 ms), and any resend of older data sooner than 200 ms after the sender's last progress or while duplicate ACKs/SACKs kept coming (SACK/RACK recovery).",
        evidence: "Count, frames, the peer's dup ACKs, the side's resends in all, bytes resent (all kinds) and their share of the side's payload. evidence.cause: ack_driven_recovery.",
        causes: "Packet loss from congestion or a lossy link.",
        check: "tc -s qdisc, interface errors, path capacity.",
        wrong_when: "Reordering is not loss: on paths that reorder (ECMP, link aggregation, multipath) the receiver's duplicate ACKs and SACKs make the sender resend data that arrived anyway, and only the receiver's D-SACKs, not part of this finding, show it. The share that sets the severity counts every resend of the side (timeouts and probes too) against its payload including the resends. A sender whose minimum RTO is below 200 ms has its early timeouts of older data counted here.",
    },
    Entry {
        id: "retransmit.give_up",
        severity: "error",
        meaning: "Retransmissions of unacknowledged data that end in a RST from the sender or in silence: the connection gave up. Silence counts only when the capture shows time passing (other packets, or a live capture's stop) beyond the moment the next retransmission was due (twice the last interval, at most 120 s); a capture that ends sooner gets no give_up, and its retransmit.timeout says still_retrying_at_end. It stands for the direction's retransmit.timeout (listed in evidence.also_matched) and for the RST or final silence it explains. In a live capture it is withdrawn when this host was the sender and its socket was still retrying (ESTABLISHED, retransmission timer on) in the last poll after the last resend.",
        evidence: "Retransmissions, frames, how long the data stayed unacknowledged, how it ended (rst or silence: silence_s, silence_until, next_retransmission_due_s), gave_up_within_s (in silence the give-up lies between the last resend and the next due time), what tcp_retries2 allows (~924.6 s at 15; --retries2, or this host's value in a live capture when it is the sender) and, when much shorter, the TCP_USER_TIMEOUT range (suggested_user_timeout_ms: [min, max]) or tcp_retries2 it suggests. evidence.cause: peer_unreachable, or user_timeout when it gave up in less than half of what tcp_retries2 allows. High confidence with a RST, medium in silence.",
        causes: "Dead peer, blackholed path, firewall dropping the flow; an application TCP_USER_TIMEOUT.",
        check: "Peer health and the path; TCP_USER_TIMEOUT in the application; net.ipv4.tcp_retries2.",
        wrong_when: "Linux sends no RST when its retransmissions run out (tcp_write_err drops the connection silently), so a chain that ends in the sender's own RST was ended by its application (its own timeout, then SO_LINGER 0 or close() with unread data) or by memory pressure, and the TCP_USER_TIMEOUT / tcp_retries2 reading does not apply to it. In silence the sender may still be retrying on a path the capture does not see (a route change, another interface) or behind capture drops, and the next due time assumes the interval doubles. user_timeout compares with tcp_retries2=15 unless the sender's value is known, so a non-Linux sender (Windows gives up after 5 retransmissions by default) or a host with a lower tcp_retries2 is said to use TCP_USER_TIMEOUT; earlier timeout chains of the same direction that recovered are not counted in it.",
    },
    Entry {
        id: "capture.offload",
        severity: "info",
        meaning: "Segments larger than the MSS: GRO/LRO or TSO/GSO merged them at the capture point, so sizes and counts are not wire sizes.",
        evidence: "Oversize segments, flows, largest payload vs MSS, an example frame.",
        causes: "Capturing on a host with offloads on (the default).",
        check: "ethtool -k IFACE; capture with offloads off or on a mirror port when segment sizes matter.",
        wrong_when: "It needs the receiver's MSS option, so flows without their handshake (capture.midstream) or with SYN options cut by the snaplen are not checked, and offloads can be on although no checked flow shows it. Merged segments distort what other findings read from sizes, counts and flags: stall.transfer's full-sized and PSH tests, the tail-loss-probe test at the sender's tail, retransmit.fast's share.",
    },
    Entry {
        id: "capture.truncated",
        severity: "info",
        meaning: "Segments were cut by the snaplen. Sizes and sequence analysis still use the IP header lengths; payload contents are incomplete. In a live capture it is reported only when --snaplen is given (the default, header-sized snaplen cuts payloads on purpose).",
        evidence: "Count of cut segments.",
        causes: "A small snaplen (tcpdump -s).",
        check: "Capture with -s 0 when payload matters.",
        wrong_when: "Sequence and size analysis stay right only while the headers are whole: a snaplen that cuts into the TCP options loses the SYN options (window scale, MSS, timestamps), and window figures and the offload and injection checks then have less to go on. DNS messages cut short are not parsed, so stall findings miss the lookups (server_application instead of reverse_dns), and daemon banners cut short are not recognised.",
    },
    Entry {
        id: "capture.midstream",
        severity: "info",
        meaning: "Flows without their handshake in the capture: client and server come from the port numbers (Zeek's likely-server-port rule) or the first packet's sender (`roles` in the JSON), relative sequence numbers start at 1 from the first byte seen (as Wireshark), and handshake facts (RTT, options, ISN, window scale) are unknown, so first-byte stalls and handshake findings are not computed for them. Connections split by --idle-timeout or finished early (capture.flow_limit) continue as midstream flows too.",
        evidence: "Count and example flows.",
        causes: "The capture started after the connections opened.",
        check: "Start captures earlier.",
        wrong_when: "The roles are guesses: with both ports 'likely server ports' the lower one is taken for the server, so a client that binds a privileged source port (NFS, rsh) is taken for the server of a service on a higher port (NFS on 2049), and with neither, the first packet's sender is the client. Swapped roles turn server waits into client waits and rst.client into rst.server. Long-idle connections split by --idle-timeout (300 s by default) are counted here although the capture saw them open.",
    },
    Entry {
        id: "capture.dropped",
        severity: "warning (error when 1 % or more was lost)",
        meaning: "A live capture lost packets: the kernel dropped them because the capture buffer was full, or the interface dropped them. Flows may show gaps, retransmissions or missing handshakes that did not happen on the wire.",
        evidence: "Kernel and interface drop counts (pcap_stats), packets received, the share lost.",
        causes: "Bursts larger than the capture buffer, a full snaplen on a busy link, a slow consumer, NIC ring overruns.",
        check: "--buffer-size, --snaplen, a narrower -f filter, a specific interface instead of 'any'; ethtool -S and ethtool -g for interface drops.",
        wrong_when: "The counts are libpcap's: on Linux the interface count follows the device's rx_dropped, which also counts frames the stack discarded for other reasons (unknown protocols or VLANs) and traffic outside the filter, so it can report losses the capture did not suffer. Drops before those counters (NIC ring overruns counted as missed or FIFO errors, an oversubscribed mirror port) are not reported, and the capture then shows gaps (ACKs for unseen segments) without this finding.",
    },
    Entry {
        id: "capture.flow_limit",
        severity: "warning",
        meaning: "Connections were finished early to keep the live-flow table under its cap (--max-flows).",
        evidence: "Evicted count, peak live flows, first eviction frame.",
        causes: "SYN floods, scans, or very many concurrent connections.",
        check: "Raise --max-flows if memory allows; look for a flood (handshake.half_open_flood).",
        wrong_when: "The count is exact; what it changes elsewhere is the point: an evicted connection is finished early and its later packets form a new midstream flow, so silences, give-ups and unanswered handshakes around the eviction are cut short or split (a retransmission chain cut by eviction reads as still retrying). The evicted flows are the least recently active eighth of the table, not necessarily those of a flood.",
    },
    Entry {
        id: "capture.memory_limit",
        severity: "info (warning when flows were finished early)",
        meaning: "The run reached its memory budget (--memory-limit): the stored timelines of the least recently active flows were dropped first (their counters, trackers and findings stay whole), then, if that was not enough, the least recently active flows were finished early.",
        evidence: "The limit, the peak accounted bytes, timelines and timeline events dropped, flows finished early.",
        causes: "Very many concurrent or long-lived flows, long timelines (--timeline-cap), a flood or scan, a small --memory-limit.",
        check: "Raise --memory-limit if the host has memory to spare; narrow the input (-f, a shorter capture) or lower --timeline-cap.",
        wrong_when: "The budget is an estimate (capacities plus the process's resident memory at the start) checked every 1024 segments, so the real footprint can pass the limit before anything is shed, or stay under it when this fires. Flows finished early come back as new midstream flows: their handshake facts are lost and their later findings split (a silence or give-up cut short, a RST judged as unknown_connection), and this finding does not name those flows.",
    },
    Entry {
        id: "capture.inputs_overlap",
        severity: "warning",
        meaning: "replay reads its files as one capture in the order given; a file that starts more than 1 s before an earlier one ended overlaps it (rotated files reordered by a few milliseconds at their edges are fine), so connections seen in both are merged or split and their timing (waits, idle times, TIME_WAIT reuse) is wrong.",
        evidence: "Per overlapping file: its first packet, the earlier file it overlaps and that file's last packet, the overlap in seconds (first 10), and how many files overlap.",
        causes: "Rotated files given out of order (a shell glob sorting file.10 before file.2), or captures of the same moment at different points (client and server side) given together.",
        check: "Give the files in time order or merge them (mergecap -w all.pcap ...); replay captures of different points separately.",
        wrong_when: "Only each file's first and last packet times are compared, with a 1 s tolerance: overlaps under 1 s, and captures of the same moment by hosts whose clocks differ by more than the overlap, pass unnoticed. Two files of unrelated traffic that cover the same time are flagged although no 4-tuple is merged, and packets out of time order inside one file are not checked.",
    },
    Entry {
        id: "sock.timewait_buildup",
        severity: "warning (error at half the usable port range, unless tcp_tw_reuse lets new connections reuse them)",
        meaning: "Live sockets (`sockets`, `watch`): many TIME_WAIT sockets from one local address to one remote ip:port (at least --timewait-min, or half the usable ephemeral ports), so connect() to that destination is running out of local ports.",
        evidence: "Count, local address, remote ip:port, how many use ports inside net.ipv4.ip_local_port_range, usable ports (range minus ip_local_reserved_ports), their share, the remaining TIME_WAIT time (min/max), tcp_tw_reuse and tcp_timestamps and whether reuse applies to this peer (tw_reuse_applies: 1 with timestamps, or 2 for a loopback peer), total TIME_WAIT against tcp_max_tw_buckets, TCPTimeWaitOverflow.",
        causes: "Short-lived connections closed first by this host (no keep-alive or pooling), a narrow ip_local_port_range.",
        check: "Connection reuse in the client; net.ipv4.ip_local_port_range; net.ipv4.tcp_tw_reuse=1 with net.ipv4.tcp_timestamps=1; EADDRNOTAVAIL ('Cannot assign requested address') in logs.",
        wrong_when: "Only TIME_WAIT sockets are counted: established and other sockets to the same ip:port hold ports too, and an application that binds before connect() (without IP_BIND_ADDRESS_NO_PORT) needs a port free for every destination, so ports can run out sooner than the share says. tw_reuse_applies trusts the host's tcp_tw_reuse and tcp_timestamps, but reuse also needs timestamps in the old connection (the peer's too), and with tcp_tw_reuse=2 the kernel counts only loopback addresses or a socket bound to lo, while here a peer at this socket's own address counts as well. One snapshot of one network namespace: a burst that drained before it, or sockets in other namespaces, are not seen.",
    },
    Entry {
        id: "sock.close_wait_buildup",
        severity: "warning",
        meaning: "Live sockets: at least --close-wait-min sockets in CLOSE_WAIT held by one process (with -p) or one local address: the peers closed, the application never called close(). CLOSE_WAIT sockets that no process holds (inode 0) are still in a listener's accept queue: at least --close-wait-min of them are reported per listener as never accepted (cause not_accepted), or as part of sock.accept_queue_full when that listener is full.",
        evidence: "Count, the process (pid, command) when -p is given, local endpoints, examples, the longest time without data received, unread bytes, how many have not even read the end of stream (eof_unread); never accepted: the listener, its queue and backlog. Medium confidence when grouped by address (without -p).",
        causes: "A missing close() on an error path, a leaked connection pool, a process blocked elsewhere; never accepted: an application that does not accept() while its clients give up.",
        check: "The process's code paths that handle EOF/errors; ls /proc/PID/fd | wc -l against ulimit -n; lsof -p PID.",
        wrong_when: "One snapshot: a server that got the client's FIN after the request (a half-close, shutdown(SHUT_WR)) and is still writing its answer is in CLOSE_WAIT legitimately, so a busy server shows many short-lived ones; oldest_last_data_recv_s tells a leak (minutes, hours) from traffic. Without -p the grouping is by local address, which may mix several processes, and only this network namespace is seen.",
    },
    Entry {
        id: "sock.accept_queue_full",
        severity: "error when full (warning at 90 % in `sockets` and `watch`)",
        meaning: "A listener's accept queue (Recv-Q of the LISTEN socket) holds more than its backlog (Send-Q), where Linux drops new handshakes. `sockets` and `watch` judge one snapshot (a warning from 90 %), and `watch` also reports ListenOverflows rising while a queue is at its backlog. In a live capture it comes from the polls of this host's listeners: one finding per listener seen full, with how long and the ListenOverflows/ListenDrops rise, standing for the per-flow findings the full queue caused (handshake.syn_retransmit and handshake.unanswered with cause accept_queue_full, stall.first_byte and stall.response with cause not_accepted), which are folded into it.",
        evidence: "Listener, accept queue, backlog, SYN-RECV count, connections in the queue already in CLOSE_WAIT (close_wait_not_accepted: their clients gave up), processes, net.core.somaxconn, tcp_abort_on_overflow, ListenOverflows and ListenDrops (cumulative; deltas per interval in watch). Live capture: full_from, full_for_s, ListenOverflows_delta, ListenDrops_delta and folded_flow_findings (per id). evidence.cause: accept_queue_full.",
        causes: "An application that accepts too slowly (blocked, overloaded, too few workers), a backlog too small for bursts.",
        check: "The application's accept loop and worker pool; listen() backlog and net.core.somaxconn; nstat -az TcpExtListenOverflows.",
        wrong_when: "Polls sample the queue (--poll, --interval): a burst that fills and drains between two polls is missed, and only ListenOverflows rising in `watch` (when a poll catches the queue at its backlog) hints at it. ListenOverflows and ListenDrops count the whole network namespace, so their rise is put on whichever listener was seen full. In a live capture SO_REUSEPORT listeners sharing an address (each with its own queue) are merged by address, and a stall with cause not_accepted is folded in whenever its listener was seen full at some point of the capture, not necessarily during that wait.",
    },
    Entry {
        id: "sock.syn_recv_buildup",
        severity: "warning (error beyond the listener's backlog)",
        meaning: "Live sockets: many half-open connections (SYN-RECV) on one listener (at least --syn-recv-min, or more than its backlog, where the kernel switches to syncookies or drops).",
        evidence: "Listener, SYN-RECV count, distinct peers (3 or fewer: medium confidence), backlog, the most SYN-ACK retransmissions, tcp_max_syn_backlog, tcp_syncookies, tcp_synack_retries, SyncookiesSent/Failed, TCPReqQFullDrop, ListenDrops.",
        causes: "Clients' final ACKs dropped on the way in (firewall, asymmetric routing), a SYN flood or scan.",
        check: "Firewall rules for packets from the clients; net.ipv4.tcp_syncookies; the listen() backlog; SyncookiesSent in nstat.",
        wrong_when: "A SYN-RECV socket lives for one round trip, so a busy legitimate server on a long path holds many (1000 connections/s at 150 ms is 150) and passes --syn-recv-min with many sources (high confidence) although every handshake completes; max_synack_retransmits of 0 says so. Handshakes answered with syncookies leave no SYN-RECV socket, so a flood the kernel absorbs with cookies shows only in SyncookiesSent, not here.",
    },
    Entry {
        id: "sock.retransmitting",
        severity: "warning (error from tcp_retries1 timeouts in a row)",
        meaning: "Live sockets: a socket's retransmission timer is running with retransmissions or backoff (ss: timer:(on,...,N)); for SYN-SENT, connect() repeating its SYN. Says when the kernel will give up.",
        evidence: "Retransmits in a row, backoff, RTO, expiry, unacknowledged and lost segments, total retransmissions, time since the last ACK, the limit that applies (tcp_retries2; tcp_syn_retries plus tcp_syn_linear_timeouts for SYN-SENT; tcp_orphan_retries, 0 meaning 8, for orphans), the give-up time it implies (Linux checks a time bound when the timer fires: the first expiry of the socket's RTO schedule at or after (2^(n+1)-1) x 200 ms, 120 s steps beyond the RTO cap, 924.6 s at 15; for SYNs, 1 s steps then doubling, ending at the first expiry after tcp_syn_retries + tcp_syn_linear_timeouts retransmissions or (2^(tcp_syn_retries+1)-1) s, whichever comes first), the estimated time spent and left. Medium confidence.",
        causes: "A dead peer, a blackholed path, a firewall dropping this flow, heavy loss.",
        check: "The path and peer; RetransSegs/TCPTimeouts and interface drops (tcpdiag host); TCP_USER_TIMEOUT in the application; net.ipv4.tcp_retries2.",
        wrong_when: "One snapshot: a single timeout on a lossy but working connection is a warning until the next ACK. The give-up time is rebuilt from the RTO and backoff (doubling from the current RTO halved once per backoff): a per-route rto_min, thin-stream linear timeouts (tcp_thin_linear_timeouts) or TCP_USER_TIMEOUT, which sock_diag does not show, change the real schedule, and a per-socket TCP_SYNCNT replaces tcp_syn_retries for SYN-SENT. Host sysctls missing from the context are Linux defaults (marked assumed), and tcp_syn_linear_timeouts is taken as 0 where the host does not have it.",
    },
    Entry {
        id: "sock.zero_window",
        severity: "warning (error from 2 unanswered probes)",
        meaning: "Live sockets: the persist timer is running and the peer advertises a zero window (tcpi_snd_wnd 0), so this host probes it (ss: timer:(persist,...)). With the peer's window open it is sock.transmit_blocked instead; without tcpi_snd_wnd (no tcp_info, kernels before 5.4) the two cannot be told apart and it is reported here with low confidence.",
        evidence: "Probes unanswered, expiry, backoff, bytes waiting (Send-Q and notsent), the peer's window (snd_wnd), tcp_retries2. evidence.cause: receiver_not_reading.",
        causes: "The peer application stopped reading or reads slower than this host writes; a tiny SO_RCVBUF.",
        check: "The peer process and its Recv-Q; its receive buffer (net.ipv4.tcp_rmem, SO_RCVBUF); TCP_USER_TIMEOUT to bound the wait.",
        wrong_when: "A zero window says the peer's receive buffer is full, not that its application stopped: the peer host may be short of TCP memory, or a proxy in between holds the data back. The probe count is the kernel's, reset by any ACK, so 2 or more means the peer (or the path back) no longer answers, and a live but slow reader stays a warning. The end is estimated with tcp_retries2; a TCP_USER_TIMEOUT on the socket is not visible.",
    },
    Entry {
        id: "sock.transmit_blocked",
        severity: "error",
        meaning: "Live sockets: the persist timer runs while the peer's window is open (tcpi_snd_wnd > 0) and nothing is in flight: this host cannot transmit. Linux arms the same timer as for a zero window when its own sends fail (a local nftables/iptables OUTPUT drop), so this is not the peer's doing.",
        evidence: "The send window, Send-Q and notsent bytes, unacknowledged segments (0), the probes so far and the next one, tcp_retries2. evidence.cause: cannot_transmit.",
        causes: "A local firewall rule dropping output, a route or device that fails sends, a qdisc dropping everything.",
        check: "nft list ruleset and iptables -S OUTPUT on this host, ip route get PEER, tc -s qdisc, the interface's state.",
        wrong_when: "It needs tcpi_snd_wnd (Linux 5.4 and later). Linux also arms the persist timer with an open window when that window is smaller than the next segment (a peer advertising a few bytes, a receiver with a tiny buffer): nothing can be sent and nothing is in flight, yet the cause is the peer's small window, not this host. One snapshot: a send failure that clears at the next probe (a brief route or neighbour failure) is reported as well.",
    },
    Entry {
        id: "sock.not_reading",
        severity: "warning",
        meaning: "Live sockets: a connected socket of this host has received data waiting (Recv-Q > 0) and a receive window of 0 (tcpi_rcv_wnd): its application is not reading, so the peer's sender is stopped by a zero window. With -p the process and its state (T = stopped) are named.",
        evidence: "Recv-Q, the receive window, rcv_space, how long since data last arrived, the processes and their states. evidence.cause: receiver_not_reading.",
        causes: "A reader that is stopped (SIGSTOP, a debugger), blocked on something else, or too slow for what it is sent.",
        check: "The process (its state in /proc/PID/stat, what its threads wait on: cat /proc/PID/stack, strace -p PID).",
        wrong_when: "It needs tcpi_rcv_wnd (Linux 6.2 and later); on older kernels it cannot fire. tcpi_rcv_wnd is the window last advertised, so a reader that is merely slower than its sender is caught whenever its buffer is full at the moment of the snapshot; polls with last_data_recv_s growing (watch) tell a stopped reader from a slow one. A window shrunk to zero under TCP memory pressure looks the same.",
    },
    Entry {
        id: "sock.keepalive_probing",
        severity: "warning",
        meaning: "Live sockets: keepalive probes were sent and not answered (ss: timer:(keepalive,...,N) with N > 0): the peer is probably dead or a middlebox forgot the connection.",
        evidence: "Probes sent, next probe, tcp_keepalive_probes and tcp_keepalive_intvl (socket options may override them) and the estimated time until the kernel resets the connection. Medium confidence.",
        causes: "A peer host that crashed or lost its network, a firewall/NAT idle timeout.",
        check: "The peer's health; middlebox idle timeouts; TCP_KEEPIDLE/KEEPINTVL/KEEPCNT or net.ipv4.tcp_keepalive_*.",
        wrong_when: "sock_diag does not report the socket's TCP_KEEPCNT and TCP_KEEPINTVL, so the time to the reset comes from the host's tcp_keepalive_probes and tcp_keepalive_intvl (Linux defaults when unknown) and is wrong for applications that set their own. The kernel's count drops to 0 on any answer, so N > 0 can also be a probe whose answer is still on its way on a long or lossy path.",
    },
    Entry {
        id: "sock.send_queue_stuck",
        severity: "warning",
        meaning: "`watch` only: a socket's send queue (Send-Q, which includes tcpi_notsent_bytes) stayed non-empty with nothing acknowledged (tcpi_bytes_acked unchanged) for --stuck-polls consecutive polls and at least one RTO, with neither a persist timer nor retransmissions to explain it.",
        evidence: "Polls and seconds without progress, Send-Q, notsent bytes, bytes acknowledged, the peer's window, the timer.",
        causes: "A closed peer window, loss, or a peer that stopped reading.",
        check: "See sock.zero_window and sock.retransmitting; the peer application.",
        wrong_when: "It needs tcpi_bytes_acked (Linux 4.1 and later). Data held back on purpose stays too: an application that corks (TCP_CORK, MSG_MORE) with less than a segment queued, or a pacing rate or shaping qdisc slow enough that nothing is acknowledged between polls. Its time is only as fine as the polls (--interval).",
    },
    Entry {
        id: "sock.orphan_buildup",
        severity: "warning (error at half of tcp_max_orphans)",
        meaning: "Live sockets: many orphaned sockets (closed by their process, still in FIN-WAIT-1/2, CLOSING or LAST-ACK): at least --orphan-min, or a quarter of net.ipv4.tcp_max_orphans.",
        evidence: "Orphans by state, /proc/net/sockstat's orphan count, tcp_max_orphans, tcp_fin_timeout, tcp_orphan_retries, the peers with the most, TCPAbortOnMemory.",
        causes: "Peers that never send their FIN (FIN-WAIT-2) or stop acknowledging (FIN-WAIT-1, LAST-ACK); many short connections closed by this host.",
        check: "The top peers; net.ipv4.tcp_fin_timeout, tcp_orphan_retries, tcp_max_orphans; 'too many orphaned sockets' in dmesg.",
        wrong_when: "Orphans are sockets no process holds (inode 0) in those states in this namespace, set against sockstat's machine-wide count; a burst of short connections closed by this host makes many for a few seconds without harm. The kernel already kills orphans at a half or a quarter of tcp_max_orphans for sockets with errors or long idle (it shifts the count before comparing), so trouble can start below the half that makes this an error.",
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
        "{} ({})\n  meaning:    {}\n  evidence:   {}\n  causes:     {}\n  check:      {}\n  wrong when: {}\n",
        e.id, e.severity, e.meaning, e.evidence, e.causes, e.check, e.wrong_when
    )
}

/// docs/findings.md.
pub fn markdown() -> String {
    let mut s = String::from(
        "# Findings\n\nGenerated by `tcpdiag explain --markdown`; the ids are part of the public interface.\n\
         Every finding carries `id`, `severity`, `flow` (null for capture-wide findings), `at` (epoch seconds),\n\
         `summary`, `evidence` (frames, times and values), `confidence` (high | medium | low) and `hint`.\n\
         Each entry ends with what would make the finding wrong: when it fires although its conclusion is false,\n\
         or cannot fire although the problem is there.\n",
    );
    for e in CATALOG {
        s.push_str(&format!(
            "\n## `{}`\n\n*Severity:* {}\n\n{}\n\n- **Evidence:** {}\n- **Common causes:** {}\n- **What to check:** {}\n- **What would make it wrong:** {}\n",
            e.id, e.severity, e.meaning, e.evidence, e.causes, e.check, e.wrong_when
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

    #[test]
    fn every_entry_says_what_would_make_it_wrong() {
        for e in CATALOG {
            assert!(
                e.wrong_when.trim().len() >= 80,
                "{}: wrong_when is missing or too short",
                e.id
            );
            let text = explain(e.id).unwrap();
            assert!(
                text.contains(&format!("wrong when: {}", e.wrong_when)),
                "{}",
                e.id
            );
        }
        assert!(markdown().contains("- **What would make it wrong:** "));
    }
}
