#!/usr/bin/env bash
# syn_flood (seed 002): a spoofed SYN flood against nginx, with legitimate clients alongside.
#
# Incident: hping3 sends 1500 SYNs to nginx's port 80 in ~1.5 s (-i u1000), each from a random
# spoofed source address (--rand-source) and source port. The server answers every SYN with a
# SYN-ACK toward the spoofed address; nobody answers those, so each SYN leaves a half-open
# SYN-RECV request socket that the server keeps re-sending its SYN-ACK for (1 s, 3 s, ...
# tcp_synack_retries=5). Once the listener's SYN queue is full (nginx's listen backlog 511;
# tcp_syncookies=1, tcp_max_syn_backlog=2048, somaxconn=4096: all defaults) the kernel answers
# the remaining SYNs with SYN cookies and keeps no state for them. --rand-source also picks
# multicast/class-D sources (~8 %): the server drops those SYNs as martians (never answered). Meanwhile the client host's
# own user runs curl 4 times (t ~0.3, 0.7, 1.1 s during the flood, ~2.2 s after it); those
# connections succeed (SYN-RECV slots or cookies).
#
# Topology (pair_topology): client 192.0.2.10 (c0) --veth-- (s0) 192.0.2.1 server, IPv4 only.
#   server: nginx on 192.0.2.1:80 (listen backlog 511, nginx's default); default route via the
#     client, so SYN-ACKs to the spoofed addresses go out on s0 (and are captured there).
#   client: hping3 -S -p 80 --rand-source -i u1000 -c 1500; curl from 192.0.2.10; an nft rule in
#     the client's prerouting drops (and counts) every packet to an address that is not its own:
#     the SYN-ACKs to spoofed sources vanish, as they would on the Internet.
# Capture: at the server (s0), tcpdump -s 96 (SNAPLEN=64 to override) 'tcp port 80'
#   -> OUTDIR/capture.pcap (the flood's packets are 54-58 bytes, so 96 costs nothing); live
#   `tcpdiag capture` at the server on s0 for the whole flood -> OUTDIR/capture_live.json;
#   `tcpdiag sockets` in the server namespace ~1 s into the flood -> OUTDIR/sockets_server.json.
# notes.txt: server nstat (TcpExtSyncookiesSent, TcpExtTCPReqQFullDoCookies, ListenDrops...)
#   before/after, ss's SYN-RECV count at the snapshot, the curls' results, hping3's summary.
#
# What a careful engineer should conclude: a SYN flood (spoofed, random sources, one port):
# ONE capture-wide half-open flood finding on 192.0.2.1:80 (hundreds of unfinished handshakes
# from ~1000+ distinct sources, ~1000 SYN/s), not hundreds of per-flow unanswered /
# synack_retransmit findings; the listener's SYN queue filled (SYN-RECV build-up to the
# backlog, 511, seen live) and the kernel fell back to SYN cookies (SyncookiesSent > 0); the
# legitimate connections from 192.0.2.10 all completed and got their responses.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
rm -f "$OUT/notes.txt"
need hping3 bc
# 96 bytes: the flood's SYNs (54) and SYN-ACKs (58) are whole either way; the legitimate
# connections' segments carry timestamps (66 bytes, 74 for SYN/SYN-ACK), which -s 64 would cut
SNAPLEN=${SNAPLEN:-96}

pair_topology
SRV=192.0.2.1 CLI=192.0.2.10
ip -n "$(ns server)" route add default via "$CLI"
\in client nft -f - <<NFT
table inet tdd_spoofed {
    chain pre {
        type filter hook prerouting priority 0; policy accept;
        ip daddr != $CLI tcp sport 80 counter drop
    }
}
NFT
note "server: $(\in server sysctl net.ipv4.tcp_syncookies net.ipv4.tcp_max_syn_backlog net.core.somaxconn net.ipv4.tcp_synack_retries | tr '\n' ' ')"

start_nginx server "$SRV" 80
settle client "$SRV"
CTRS="TcpPassiveOpens TcpExtSyncookiesSent TcpExtSyncookiesRecv TcpExtSyncookiesFailed TcpExtTCPReqQFullDoCookies TcpExtTCPReqQFullDrop TcpExtListenOverflows TcpExtListenDrops"
counters() { \in server nstat -saz $CTRS | awk '/^Tcp/ {printf "%s=%s ", $1, $2}'; }
note "server nstat before: $(counters)"

capture_start server s0 "$OUT/capture.pcap" -s "$SNAPLEN" 'tcp port 80'
live_capture server s0 "$OUT/capture_live.json" 5s -f 'tcp port 80'

legit() { # legit N: one request from the real client, result to notes.txt
    \in client curl -sS --max-time 8 -o /dev/null \
        -w "curl $1: HTTP %{http_code}, local port %{local_port}, connect %{time_connect}s, total %{time_total}s\n" \
        "http://$SRV/index.html" >>"$OUT/curl.$1" 2>&1 || echo "curl $1: failed (exit $?)" >>"$OUT/curl.$1"
}
t0=$(date +%s.%N)
at() { sleep "$(echo "$t0 + $1 - $(date +%s.%N)" | bc -l | sed 's/^-.*/0/')"; }
\in client hping3 -S -p 80 --rand-source -i u1000 -c 1500 -q "$SRV" >"$WORK/hping3.out" 2>&1 &
HPING_PID=$!
BG_PIDS+=("$HPING_PID")
at 0.3; legit 1 & CURL_PIDS=($!)
at 0.7; legit 2 & CURL_PIDS+=($!)
at 1.0
tcpdiag_in server sockets --format json >"$OUT/sockets_server.json"
note "server ss at the sockets snapshot (t~1.0 s): $(\in server ss -Htn state syn-recv | wc -l) SYN-RECV, listener Recv-Q/Send-Q $(\in server ss -Hltn 'sport = :80' | awk '{print $2"/"$3}')"
at 1.1; legit 3 & CURL_PIDS+=($!)
wait "$HPING_PID" || true
note "hping3: $(tr '\n' ' ' <"$WORK/hping3.out" | sed 's/  */ /g')"
at 2.2; legit 4 & CURL_PIDS+=($!)
wait "${CURL_PIDS[@]}" || true
at 3.5
capture_stop
wait "$LIVE_PID" || true
cat "$OUT"/curl.[1-4] | tee -a "$OUT/notes.txt" >&2
rm -f "$OUT"/curl.[1-4]
note "server nstat after:  $(counters)"
note "server after: $(\in server ss -Htn state syn-recv | wc -l) SYN-RECV, $(\in server ss -Htn state established | wc -l) ESTABLISHED"
note "client nft (SYN-ACKs to spoofed sources dropped): $(\in client nft list ruleset | grep -o 'packets [0-9]*')"
pcap_done "$OUT/capture.pcap" >&2
