#!/usr/bin/env bash
# midstream_stop: a download stops in the middle and nothing ever closes the connection. At
# ~3 s into a rate-limited download the server's socket is torn down silently: the server
# namespace drops every outgoing RST (nftables, hook output), then `ss -K` destroys nginx's
# connection socket (the kernel's abort RST is dropped; nginx sees the error and closes its
# fd). The server has forgotten the connection; the client never hears about it: no FIN, no
# RST. The client, which has nothing to send, waits in silence (~13 s, until the capture
# ends) - like a server crash, an HA failover or a lost NAT/conntrack entry would leave it.
#
# Topology (routed_topology): client 192.0.2.10 (c0) -- router -- 198.51.100.10 server (s0),
#   IPv4 only; the router's link to the client is a 2 Mbit/s bottleneck (tbf on r0, a deep
#   queue, no drops), so the server's TCP is limited by its congestion window, like a bulk
#   transfer over a slow path, and the stream is cut in the middle of a write.
#   server: nginx (start_nginx) on 198.51.100.10:80 (a download that takes ~34 s for the
#           8 MiB big.bin, so it is still running at 3 s).
#   client: python3, GET /big.bin (HTTP/1.1, Connection: close), reads everything as it
#           comes and logs its progress every second; it is killed at the end of the drill.
#   nft (server ns, at ~3 s): table inet tdd_midstream_stop, chain output (hook output):
#           tcp flags & rst == rst drop
#   then: ss -K state established '( sport = :80 )' in the server namespace.
#   At ~16 s (13 s after the kill) a health check from the client namespace,
#           `curl http://198.51.100.10/small.txt`, on a new connection: it succeeds (the server
#           host and nginx are fine, only the old connection is gone). It also puts a packet
#           after the silence into the pcap, which has no end-of-capture time of its own:
#           without it the 13 s of silence would not exist in capture.pcap.
#   Live: tcpdiag capture --netns <client> -i c0 for the whole drill -> capture_live.json
#         tcpdiag sockets --netns <server> -p after the kill -> sockets_server.json (only the
#         listener is left);
#         tcpdiag sockets --netns <client> -p just before the health check ->
#         sockets_client.json (the client's socket still ESTABLISHED, nothing queued, no
#         timer, no data received for ~12 s).
#   Capture: tcpdump on the client's c0, snaplen 128, "tcp port 80" -> capture.pcap.
#
# What a careful engineer should conclude: data stopped mid-transfer (Content-Length not
# reached: the client still expects more); nothing closed the connection (no FIN, no RST
# reached the client); the client had nothing outstanding (all data ACKed, window open,
# no zero window, no retransmissions), so neither side's timers will ever notice: the client
# waits forever unless it has an application/read timeout or TCP keepalive. The server side
# vanished silently; look at the server (restart, crash, socket killed) or state between.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KILL_AT=${KILL_AT:-3}
SILENCE=${SILENCE:-13}
routed_topology
start_nginx server 198.51.100.10 80
# A slow path instead of nginx's limit_rate: the server's TCP sends as its congestion
# window allows, so when its socket dies the last segment it had sent lies inside a
# write (no PSH), as in a bulk transfer cut by a crash or a middle box. (A rate-limited
# sender pushes every small chunk, and a bottleneck in the server's own qdisc sends the
# whole write after the socket is gone: cut there, a stream looks like a finished one.)
\in router tc qdisc add dev r0 root tbf rate 2mbit burst 16kb limit 4mb
settle client 198.51.100.10

capture_start client c0 "$OUT/capture.pcap" -s 128 'tcp port 80'
live_capture client c0 "$OUT/capture_live.json" $((KILL_AT + SILENCE + 2))s

ip netns exec "$(ns client)" python3 -u -c '
import socket, time
t0 = time.monotonic()
def log(msg):
    print("client: t=%.3f %s" % (time.monotonic() - t0, msg), flush=True)
s = socket.create_connection(("198.51.100.10", 80))
s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: drill\r\nConnection: close\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(4096)
hdr, body = head.split(b"\r\n\r\n", 1)
length = int([l.split(b":")[1] for l in hdr.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
got = len(body)
log("response %r, Content-Length %d" % (hdr.split(b"\r\n")[0], length))
s.settimeout(1)
last = -1
while got < length:
    try:
        d = s.recv(65536)
    except socket.timeout:
        d = None
    if d == b"":
        log("EOF after %d bytes" % got)
        break
    if d:
        got += len(d)
    sec = int(time.monotonic() - t0)
    if sec != last:
        last = sec
        log("%d of %d bytes" % (got, length))
' >>"$OUT/notes.txt" 2>&1 &
CLIENT=$!
BG_PIDS+=("$CLIENT")

# The transfer is under way once nginx's connection exists; tear it down KILL_AT s later.
for _ in $(seq 100); do
    \in server ss -tnH state established '( sport = :80 )' | grep -q . && break
    sleep 0.05
done
T0=$(date +%s.%N)
at() { python3 -c "import time; time.sleep(max(0, $T0 + $1 - time.time()))"; }
at "$KILL_AT"
\in server nft -f - <<'NFT'
table inet tdd_midstream_stop {
    chain output {
        type filter hook output priority 0; policy accept;
        tcp flags & rst == rst drop
    }
}
NFT
{ echo "--- server socket killed with ss -K (its RST is dropped by nft):"; \in server ss -K -tn state established '( sport = :80 )'; } >>"$OUT/notes.txt"
note "script: server socket destroyed at t=${KILL_AT} s, outgoing RSTs dropped"
sleep 0.5
tcpdiag_in server sockets -p --format json >"$OUT/sockets_server.json"

at $((KILL_AT + SILENCE - 1))
{ echo "--- ss -tino, client, after ~$((SILENCE - 1)) s of silence"; \in client ss -tino state established; } >>"$OUT/notes.txt"
tcpdiag_in client sockets -p --format json >"$OUT/sockets_client.json"
at $((KILL_AT + SILENCE))
\in client curl -s -o /dev/null --max-time 3 -w "health check: GET /small.txt -> %{http_code} in %{time_total}s\n" \
    http://198.51.100.10/small.txt >>"$OUT/notes.txt" 2>&1 || note "health check failed"
# Stop the captures before the client goes: its exit would close the socket (a FIN).
wait "$LIVE_PID" || true
capture_stop
kill "$CLIENT" 2>/dev/null || true
{ echo "--- nginx error.log (what the server application saw):"; grep -v ' \[notice\] ' "$WORK/nginx/error.log" || true; } >>"$OUT/notes.txt"
pcap_done "$OUT/capture.pcap"
