#!/usr/bin/env bash
# snaplen68: an ordinary download captured with tcpdump's old default snaplen of 68 bytes.
#
# Incident: someone captured with "tcpdump -s 68" (tcpdump's default before 4.0, and what many
# appliances still use). 68 bytes = Ethernet 14 + IPv4 20 + 34 bytes of TCP: the fixed 20-byte
# TCP header is always complete, and so are the data segments' and ACKs' 12-byte timestamp
# option blocks (66 bytes in all), but the SYN's and SYN-ACK's 20 option bytes (MSS 4,
# SACK_PERM 2, timestamps 10, NOP 1, window scale 3) are cut after 14: MSS and SACK_PERM
# survive, the timestamps option is cut in the middle, and the window-scale option is gone.
# The pcap records keep the original lengths (74 bytes for SYN and SYN-ACK).
#
# Topology (pair_topology): client 192.0.2.10 (c0) --veth-- (s0) 192.0.2.1 server, IPv4
# only, offloads off. nginx on 192.0.2.1:80 serves mb.bin (1 MiB); curl downloads it once
# and closes (keep-alive: the client sends the first FIN). Both ends use window scaling
# (Linux default: wscale 10 on this host, so the raw 16-bit windows in data/ACK segments are
# small numbers like 63-2800 that mean 64 KiB-2.8 MiB).
# Capture: at the client (c0), tcpdump -s 68 'tcp port 80' -> OUTDIR/capture.pcap.
# notes.txt: curl's result, tshark's view of the SYN/SYN-ACK options and of the conversation.
#
# What a careful engineer should conclude: one ordinary, complete connection (Zeek SF: SYN,
# SYN-ACK, ACK, request, 1 MiB response, FIN both ways), no errors. The handshake packets are
# snaplen-truncated, not malformed: their headers are intact (data offset 40 bytes, the IP
# total length and the pcap orig_len agree), only the option bytes past the snaplen are
# missing. MSS 1460 and SACK permitted are still readable; the window scale factors are
# unknown (cut), so absolute receive windows cannot be computed, and no window-based verdict
# (zero window, window full) may be drawn from the raw values. Nothing is wrong with the
# connection; the capture settings are the only problem (capture with -s 0 or >= 96).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
rm -f "$OUT/notes.txt"
need tshark

pair_topology
SRV=192.0.2.1

start_nginx server "$SRV" 80
head -c $((1 << 20)) /dev/urandom >"$WORK/www/mb.bin"
chmod a+r "$WORK/www/mb.bin"
settle client "$SRV"
note "client sysctl: $(\in client sysctl -n net.ipv4.tcp_window_scaling) (tcp_window_scaling), rmem $(\in client sysctl -n net.ipv4.tcp_rmem)"

capture_start client c0 "$OUT/capture.pcap" -s 68 'tcp port 80'
fg_in client curl -sS --max-time 10 -o /dev/null \
    -w 'curl: HTTP %{http_code}, %{size_download} bytes, total %{time_total}s, local port %{local_port}\n' \
    "http://$SRV/mb.bin" 2>&1 | tee -a "$OUT/notes.txt" >&2
capture_stop
pcap_done "$OUT/capture.pcap" >&2

note "tshark, SYN and SYN-ACK (frame | caplen | len | TCP hdr len | captured option bytes | MSS | WS shift | SACK_PERM | expert):"
tshark -r "$OUT/capture.pcap" -Y 'tcp.flags.syn == 1' -T fields -E 'separator=|' \
    -e frame.number -e frame.cap_len -e frame.len -e tcp.hdr_len -e tcp.options \
    -e tcp.options.mss_val -e tcp.options.wscale.shift -e tcp.options.sack_perm \
    -e _ws.expert.message 2>/dev/null | sed 's/^/  /' | tee -a "$OUT/notes.txt" >&2
note "tshark: malformed frames: $(tshark -r "$OUT/capture.pcap" -Y '_ws.malformed' 2>/dev/null | wc -l); window size scaling factor of the data frames: $(tshark -r "$OUT/capture.pcap" -Y 'tcp.len > 0' -T fields -e tcp.window_size_scalefactor 2>/dev/null | sort | uniq -c | awk '{printf "%s x %s; ", $1, $2}')(-1 = unknown)"
tshark -r "$OUT/capture.pcap" -q -z conv,tcp 2>/dev/null | sed -n '/<->/p' | sed 's/^/  conv,tcp: /' | tee -a "$OUT/notes.txt" >&2
