#!/usr/bin/env bash
# tail_loss_probe: a spurious Linux tail-loss probe (TLP), D-SACKed by the receiver.
#
# Incident: a short HTTP response (nginx, tlp.bin = 5000 bytes -> header + body in 4 MSS-sized
# segments sent in one burst) reaches curl intact, but the client's ACKs of that response are
# lost on the way back (here: dropped in the client's own OUTPUT hook). The server has >= 2
# segments outstanding and no ACK, so after its probe timeout (PTO = 2*SRTT + 2 ms, rounded up
# to jiffies: HZ=250 here, so ~4-8 ms on this veth with a sub-millisecond RTT; far below the
# >= 200 ms RTO) it re-sends its LAST segment as a loss probe. The client already has that
# data: it answers with a cumulative ACK of everything plus a D-SACK block for the probe,
# which tells the server the probe was spurious (nothing was lost in its direction).
#
# Topology: client 192.0.2.10 (c0) --veth-- (s0) 192.0.2.1 server, IPv4 only, offloads off.
#   server: nginx on 192.0.2.1:80 (one worker, sendfile off, keepalive).
#   client: curl --rate 2/s GET /tlp.bin then GET /small.txt on the same connection (the
#     second request comes ~0.5 s later, so no client FIN/request acknowledges the data
#     before the probe would fire).
#   client nft (one-shot, stateful via ct mark, no timing race):
#     prerouting: the first server segment carrying data (IP length > 100, no SYN) sets
#       ct mark 1 on the connection;
#     output: while ct mark == 1 every pure ACK of 52 bytes (no SACK option) from the client
#       is dropped; the first client ACK longer than 52 bytes (i.e. the one carrying the
#       D-SACK block) is let through and sets ct mark 2, which ends the dropping for good.
#     So exactly the client's ACKs of the response are lost (1-4 of them, depending on how
#     the client's stack coalesced them: notes.txt has the nft counter), nothing else.
# Capture: at the server (s0), tcpdump -s 128, 'tcp port 80' -> OUTDIR/capture.pcap.
# notes.txt: nstat -az TcpExtTCPLossProbes TcpExtTCPTimeouts TcpExtTCPDSACKRecv in the
#   server namespace before/after, the nft drop counter, what curl got.
#
# What a careful engineer should conclude: the server's only retransmission is a tail-loss
# probe ~2 RTT + a few ms after its burst (TcpExtTCPLossProbes +1, TcpExtTCPTimeouts +0, far
# earlier than any RTO could fire), and the client's next ACK D-SACKs exactly the probed range
# (TcpExtTCPDSACKRecv +1): the data was never lost, only the ACK was. Not a retransmission
# timeout, not path loss of data; nothing to fix on the server side beyond noting that ACKs
# were lost in the client->server direction.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need tshark
rm -f "$OUT/notes.txt"

pair_topology
SRV=192.0.2.1 CLI=192.0.2.10

\in client nft -f - <<NFT
table inet tdd_tlp {
    chain pre {
        type filter hook prerouting priority 0; policy accept;
        ip saddr $SRV tcp sport 80 ct mark 0 ip length > 100 tcp flags & (syn|rst) == 0 counter ct mark set 1
    }
    chain out {
        type filter hook output priority 0; policy accept;
        ip daddr $SRV tcp dport 80 ct mark 1 tcp flags == ack ip length 52 counter drop
        ip daddr $SRV tcp dport 80 ct mark 1 tcp flags == ack ip length > 52 counter ct mark set 2
    }
}
NFT

start_nginx server "$SRV" 80
head -c 5000 /dev/zero | tr '\0' 'x' >"$WORK/www/tlp.bin"
chmod a+r "$WORK/www/tlp.bin"
settle client "$SRV"

counters() { \in server nstat -saz TcpExtTCPLossProbes TcpExtTCPTimeouts TcpExtTCPDSACKRecv | awk '/^TcpExt/ {printf "%s=%s ", $1, $2}'; }
before=$(counters)
note "server nstat before: $before"

capture_start server s0 "$OUT/capture.pcap" -s 128 'tcp port 80'
fg_in client curl -sS --max-time 10 --rate 2/s \
    -o /dev/null -w 'curl: %{url_effective} -> HTTP %{http_code}, %{size_download} bytes, connect %{time_connect}s, total %{time_total}s, new connections %{num_connects}\n' \
    "http://$SRV/tlp.bin" \
    -o /dev/null "http://$SRV/small.txt" 2>&1 | tee -a "$OUT/notes.txt" >&2
sleep 0.2
capture_stop
after=$(counters)
note "server nstat after:  $after"

delta() { # delta NAME: after - before
    local b a
    b=$(echo "$before" | grep -o "$1=[0-9]*" | cut -d= -f2)
    a=$(echo "$after" | grep -o "$1=[0-9]*" | cut -d= -f2)
    echo $((a - b))
}
probes=$(delta TcpExtTCPLossProbes) rtos=$(delta TcpExtTCPTimeouts) dsacks=$(delta TcpExtTCPDSACKRecv)
note "server nstat delta: TcpExtTCPLossProbes +$probes TcpExtTCPTimeouts +$rtos TcpExtTCPDSACKRecv +$dsacks"
note "client nft: $(\in client nft list table inet tdd_tlp | grep -o 'counter packets [0-9]*.*' | tr '\n' ';')"
pcap_done "$OUT/capture.pcap" >&2
# packet-level evidence from tshark: the burst's last segment, the probe (same seq), the D-SACK
note "tshark, server data and its retransmission (frame, t, seq, len, rto per tshark):"
tshark -r "$OUT/capture.pcap" -o tcp.relative_sequence_numbers:TRUE -Y 'tcp.srcport == 80 && tcp.len > 0' \
    -T fields -e frame.number -e frame.time_relative -e tcp.seq -e tcp.len -e tcp.analysis.retransmission -e tcp.analysis.rto \
    2>/dev/null | sed 's/^/  /' | tee -a "$OUT/notes.txt" >&2
note "tshark, client ACKs with a D-SACK (frame, t, ack, dsack_le, dsack_re): $(tshark -r "$OUT/capture.pcap" -Y 'tcp.options.sack.dsack_le' \
    -T fields -e frame.number -e frame.time_relative -e tcp.ack -e tcp.options.sack.dsack_le -e tcp.options.sack.dsack_re 2>/dev/null | tr '\t\n' ' ;')"
if [ "$probes" -lt 1 ] || [ "$rtos" -ne 0 ] || [ "$dsacks" -lt 1 ]; then
    note "UNEXPECTED: wanted one loss probe, no RTO, one D-SACK"
    exit 1
fi
