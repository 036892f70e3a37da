#!/usr/bin/env bash
# ooo_after_syn_retry: a lost first SYN, then a lossy bulk download.
#
# Incident: a client's first SYN is lost on the path, so its kernel resends the SYN ~1 s later
# (initial RTO 1 s); that connection then downloads 3 MiB from nginx while the router drops
# ~2 % of the server's data segments at random. The capture at the client shows the first SYN,
# the resent SYN (same ISN) ~1 s later, the handshake, then the download with holes (the lost
# segments never reach the client), the client's duplicate ACKs with SACK blocks, and the
# server's retransmissions filling the holes (fast retransmissions and plain retransmissions,
# milliseconds after the data around them).
#
# Topology (routed_topology): client 192.0.2.10 (c0) -- (r0) router (r1) -- (s0) 198.51.100.10
#   server. nginx on 198.51.100.10:80 serves bulk.bin (3 MiB); curl downloads it once.
#   router nft forward chain:
#     - drops the first SYN of each client ip.port and lets its retransmission through (a
#       one-shot via a dynamic set: the first SYN adds ip.port to @syn_seen and is dropped,
#       later SYNs of that ip.port match @syn_seen and pass);
#     - drops ~2 % of server->client segments longer than 100 bytes
#       (numgen random mod 100 < 2): data only, never SYN-ACK, pure ACKs or FIN; and only in
#       the first ~2.8 MB of the response (conntrack "ct reply bytes < 2800000"), so the tail
#       of the transfer is never lost: every loss is recovered by SACK/fast recovery, no
#       tail-loss probe makes the findings vary from run to run. On top of the random loss,
#       the 400th and 403rd data segments that reach the rule are always dropped (numgen
#       inc): at least one recovery with two holes in flight, whose second repair is a plain
#       (non-fast) retransmission in tshark's terms, in every run. Each sequence number is
#       dropped at most once (a dynamic set of dropped sequence numbers lets their
#       retransmissions through): no lost retransmission, so (nearly) never an RTO.
# Capture: at the client (c0), tcpdump -s 96 'tcp port 80' -> OUTDIR/capture.pcap.
# notes.txt: curl's result, the router's drop counters, the SYN times.
# Cross-check files: OUTDIR/tshark_flags.tsv (the -Y ... -e frame.number -e tcp.analysis.flags
#   listing), OUTDIR/tshark_analysis.tsv (tshark's retransmission/out-of-order/fast
#   retransmission frames), OUTDIR/tcpdiag_timeline.json (tcpdiag replay --timeline full),
#   OUTDIR/disagreements.tsv (frame, tshark's verdict, tcpdiag's labels, seconds since the
#   previous server data segment).
#
# What a careful engineer should conclude: one connection (SF) that needed a SYN
# retransmission (first SYN lost, ~1 s connect delay), then genuine data loss in the
# server->client direction recovered by fast retransmissions / retransmissions (SACK
# recovery), not reordering. Wireshark measures its out-of-order window (the first RTT) from
# the MOST RECENT SYN, so here the window is the sub-millisecond handshake RTT and the
# hole-filling segments, sent milliseconds after the data around them, are retransmissions.
# tcpdiag-baseline measures the window from the FIRST SYN (~1 s, including the lost SYN's
# timeout), so it wrongly calls genuine retransmissions "out-of-order".
set -euo pipefail
. "$(dirname "$0")/lib.sh"
rm -f "$OUT/notes.txt"
need tshark jq editcap

routed_topology
SRV=198.51.100.10 CLI=192.0.2.10

\in router nft -f - <<NFT
table inet tdd_path {
    set syn_seen {
        type ipv4_addr . inet_service
        flags dynamic, timeout
        timeout 1m
    }
    set data_dropped {
        typeof tcp sequence
        flags dynamic, timeout
        timeout 1m
    }
    chain forward_f {
        type filter hook forward priority 0; policy accept;
        ip daddr $SRV tcp dport 80 tcp flags & (syn|ack) == syn ip saddr . tcp sport @syn_seen counter accept
        ip daddr $SRV tcp dport 80 tcp flags & (syn|ack) == syn add @syn_seen { ip saddr . tcp sport } counter drop
        ip saddr $SRV tcp sport 80 tcp sequence @data_dropped counter accept
        ip saddr $SRV tcp sport 80 ip length > 100 numgen inc mod 1000000 { 400, 403 } add @data_dropped { tcp sequence } counter drop
        ip saddr $SRV tcp sport 80 ip length > 100 ct reply bytes < 2800000 numgen random mod 100 < 2 add @data_dropped { tcp sequence } counter drop
    }
}
NFT
# conntrack byte counters for the "ct reply bytes" condition (per namespace; the ct expression
# above loaded conntrack here, so the sysctl exists now)
sysctl_ns router net.netfilter.nf_conntrack_acct=1

# the server's uplink is shaped to 20 Mbit/s (tbf): data segments reach the client ~0.6 ms
# apart, several times the ~0.1-0.2 ms handshake RTT, so a segment that fills a hole at least
# one segment time after the newest data is a retransmission, not reordering (without the
# shaper the whole 3 MiB takes ~10 ms and the fills arrive within one RTT: tshark itself then
# calls them out-of-order)
\in server tc qdisc add dev s0 root tbf rate 20mbit burst 3028 latency 100ms
# The server uses cubic on its route to the client (a per-route congctl: this host's default
# is bbr, and the namespace may not change its default). Measured here: with bbr behind the
# tbf, some holes stayed unrepaired ~200 ms until an RTO (TcpExtTCPTimeouts 1-5 per run);
# with cubic every loss is normally repaired by SACK recovery (TCPFastRetrans == RetransSegs,
# TCPTimeouts 0; 1 RTO in ~1 run of 6 measured).
ip -n "$(ns server)" route replace default via 198.51.100.1 congctl cubic
start_nginx server "$SRV" 80
head -c $((3 << 20)) /dev/zero >"$WORK/www/bulk.bin"
chmod a+r "$WORK/www/bulk.bin"
settle client 192.0.2.1
settle server 198.51.100.1

CTRS="TcpRetransSegs TcpExtTCPFastRetrans TcpExtTCPSackRecovery TcpExtTCPLostRetransmit TcpExtTCPTimeouts TcpExtTCPLossProbes"
note "server nstat before: $(\in server nstat -saz $CTRS | awk '/^Tcp/ {printf "%s=%s ", $1, $2}')"
capture_start client c0 "$OUT/capture.pcap" -s 96 'tcp port 80'
fg_in client curl -sS --max-time 20 -o /dev/null \
    -w 'curl: HTTP %{http_code}, %{size_download} bytes, connect %{time_connect}s, total %{time_total}s\n' \
    "http://$SRV/bulk.bin" 2>&1 | tee -a "$OUT/notes.txt" >&2
capture_stop
pcap_done "$OUT/capture.pcap" >&2
note "server nstat after:  $(\in server nstat -saz $CTRS | awk '/^Tcp/ {printf "%s=%s ", $1, $2}')"
note "router nft: $(\in router nft list chain inet tdd_path forward_f | grep -o 'counter packets [0-9]* bytes [0-9]* [a-z]*' | tr '\n' ';')"
note "client SYNs (frame, time): $(tshark -r "$OUT/capture.pcap" -Y 'tcp.flags.syn==1 && tcp.flags.ack==0' -T fields -e frame.number -e frame.time_relative 2>/dev/null | tr '\t\n' ' ;')"

# Cross-check: tshark's verdicts vs tcpdiag's per-event analysis labels
tshark -r "$OUT/capture.pcap" \
    -Y 'tcp.analysis.retransmission || tcp.analysis.out_of_order || tcp.analysis.fast_retransmission' \
    -T fields -e frame.number -e tcp.analysis.flags 2>/dev/null >"$OUT/tshark_flags.tsv"
# tcp.analysis.flags is only a marker: name the verdict per frame
tshark -r "$OUT/capture.pcap" \
    -Y 'tcp.analysis.retransmission || tcp.analysis.out_of_order || tcp.analysis.fast_retransmission' \
    -T fields -e frame.number -e frame.time_relative -e tcp.seq -e tcp.len \
    -e tcp.analysis.fast_retransmission -e tcp.analysis.retransmission -e tcp.analysis.out_of_order \
    -e tcp.analysis.spurious_retransmission 2>/dev/null |
    awk -F'\t' '{v = ($5 != "") ? "fast_retransmission" : ($7 != "") ? "out_of_order" : ($8 != "") ? "spurious_retransmission" : "retransmission"; print $1 "\t" $2 "\t" $3 "\t" $4 "\t" v}' \
    >"$OUT/tshark_analysis.tsv"
# gap since the previous server data segment, per frame (what decides retransmission vs
# out-of-order: Wireshark compares it with the first RTT measured from the most recent SYN)
IRTT=$(tshark -r "$OUT/capture.pcap" -Y tcp.analysis.initial_rtt -T fields -e tcp.analysis.initial_rtt 2>/dev/null | awk 'NR == 1')
note "tshark initial RTT (from the most recent SYN): ${IRTT} s; tcpdiag handshake: $("$TCPDIAG" replay "$OUT/capture.pcap" --format json | jq -c '.flows[0].handshake | {syn_count, rtt_s}')"
tshark -r "$OUT/capture.pcap" -Y 'tcp.srcport == 80 && tcp.len > 0' -T fields -e frame.number -e frame.time_relative 2>/dev/null |
    awk -F'\t' '{ if (NR > 1) printf "%s\t%.6f\n", $1, $2 - prev; prev = $2 }' >"$WORK/gaps.tsv"
awk -F'\t' 'NR == FNR { gap[$1] = $2; next } { print $0 "\t" (($1 in gap) ? gap[$1] : "-") }' \
    "$WORK/gaps.tsv" "$OUT/tshark_analysis.tsv" >"$WORK/t.tsv" && mv "$WORK/t.tsv" "$OUT/tshark_analysis.tsv"
"$TCPDIAG" replay "$OUT/capture.pcap" --format json --timeline full >"$OUT/tcpdiag_timeline.json"
jq -r '.flows[].timeline[]? | select((.analysis // []) | map(select(test("retransmission|out-of-order|out_of_order"))) | length > 0)
       | [.frame, (.analysis | join(","))] | @tsv' "$OUT/tcpdiag_timeline.json" >"$OUT/tcpdiag_analysis.tsv"
# join on frame number: frames either tool flags, with both verdicts
awk -F'\t' 'NR == FNR { td[$1] = $2; next } { ts[$1] = $5; gp[$1] = $6 }
    END {
        for (f in ts) all[f] = 1; for (f in td) all[f] = 1
        for (f in all) {
            t = (f in ts) ? ts[f] : "-"; d = (f in td) ? td[f] : "-"
            dn = d; gsub(/-/, "_", dn); gsub(/ /, "_", dn)
            same = (t == "fast_retransmission" && dn ~ /fast_retransmission/) ||
                   (t == "retransmission" && dn ~ /(^|,)retransmission/ && dn !~ /out_of_order/) ||
                   (t == "out_of_order" && dn ~ /out_of_order/)
            if (!same) print f "\t" t "\t" d "\t" ((f in gp) ? gp[f] : "-")
        }
    }' "$OUT/tcpdiag_analysis.tsv" "$OUT/tshark_analysis.tsv" | sort -n >"$OUT/disagreements.tsv"
note "tshark: $(cut -f5 "$OUT/tshark_analysis.tsv" | sort | uniq -c | awk '{printf "%s %s; ", $1, $2}')"
note "tcpdiag: $(cut -f2 "$OUT/tcpdiag_analysis.tsv" | sort | uniq -c | awk '{printf "%s %s; ", $1, $2}')"
note "frames where tshark and tcpdiag disagree (frame, tshark, tcpdiag, s since the previous server data segment): $(wc -l <"$OUT/disagreements.tsv")"
sed 's/^/  /' "$OUT/disagreements.tsv" | head -40 | tee -a "$OUT/notes.txt" >&2
# Control: the same capture without frame 1 (the lost first SYN's copy). Now the first SYN
# is the most recent one, and tcpdiag's labels should match tshark's.
editcap "$OUT/capture.pcap" "$WORK/without_first_syn.pcap" 1
note "control (frame 1 removed), tcpdiag labels: $("$TCPDIAG" replay "$WORK/without_first_syn.pcap" --format json --timeline full |
    jq -r '.flows[].timeline[]? | select((.analysis // []) | map(select(test("retransmission|out-of-order"))) | length > 0) | (.analysis | join(","))' |
    sort | uniq -c | awk '{printf "%s %s; ", $1, $2}')"
