#!/usr/bin/env bash
# output_drop: this host cannot transmit. A local firewall rule (nftables, hook output, in the
# server's namespace) drops everything the server sends to the client, in the middle of a
# keep-alive HTTP connection. The client's packets still arrive; nothing leaves the server.
#
# Topology (pair_topology): client 192.0.2.10 (c0) --veth-- (s0) 192.0.2.1 server, IPv4 only.
#   server: nginx (start_nginx) on 192.0.2.1:80.
#   client: python3, one keep-alive connection: GET /small.txt (answered normally: the path
#           and the client's window are fine), then the server's OUTPUT drop is installed,
#           then GET /big.bin; it waits 12 s for an answer, gives up and closes.
#   nft (server ns): table inet tdd_output_drop, chain output (hook output):
#           ip daddr 192.0.2.10 drop
#   While blocked: tcpdiag watch --netns <server> -p --interval 500ms --count 8 -> watch_server.ndjson
#                  tcpdiag sockets --netns <server> -p                      -> sockets_server.json
#                  ss -tino (server and client)                              -> notes.txt
#   Capture: tcpdump on the server's s0, snaplen 128, "tcp port 80" -> capture.pcap. It sees
#           what arrives and what actually leaves: after the rule only the client's packets
#           (the request and its RTO retransmissions), nothing from the server - an OUTPUT
#           drop happens before the packet reaches the device. (The client's close() at 12 s
#           queues its FIN behind the unacknowledged request, cwnd 1: no FIN in the capture.)
#
# Which timer the kernel arms: nginx writes the response while nothing of it is in flight
# (packets_out == 0); the first transmission fails locally (NF_DROP -> -EPERM from
# ip_local_out), so tcp_write_xmit sends nothing and __tcp_push_pending_frames arms the
# zero-window probe timer (tcp_check_probe_timer): `ss -tino` shows timer:(persist,...) with
# a growing probe count and backoff, while snd_wnd stays at the client's open window (~64 KB)
# and everything is notsent. The same happens when the rule arrives mid-transfer: the
# segments already on the wire are delivered and ACKed (input is not filtered), packets_out
# drains to 0, and the next send fails locally -> persist. The RTO timer (timer:(on,...),
# unacked > 0, retrans) is what you get instead when segments leave this host and are lost
# after it (a drop on the path or at the peer's input): there are packets in flight to
# retransmit. So "persist" alone does not mean "the peer closed its window": only
# snd_wnd == 0 does.
#
# What a careful engineer should conclude: this host (the server) cannot send: a local
# firewall drops its output. The client's window is open (snd_wnd > 0, its last advertised
# window in the capture is non-zero), the client keeps retransmitting a request that arrives
# but is never ACKed. It is NOT "the peer advertises a zero window", not loss on the path,
# not a dead or slow client.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

GO=$WORK/go
pair_topology
start_nginx server 192.0.2.1 80
settle client 192.0.2.1

capture_start server s0 "$OUT/capture.pcap" -s 128 'tcp port 80'

ip netns exec "$(ns client)" python3 -u -c '
import os, socket, sys, time
go = sys.argv[1]
t0 = time.monotonic()
def log(msg):
    print("client: t=%.3f %s" % (time.monotonic() - t0, msg), flush=True)
s = socket.create_connection(("192.0.2.1", 80))
s.sendall(b"GET /small.txt HTTP/1.1\r\nHost: drill\r\n\r\n")
resp = b""
while not resp.endswith(b"small\n"):
    resp += s.recv(4096)
log("first response: %r" % resp.split(b"\r\n")[0])
open(go + ".ready", "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: drill\r\n\r\n")
log("sent GET /big.bin")
s.settimeout(12)
try:
    d = s.recv(4096)
    log("got %d bytes" % len(d))
except socket.timeout:
    log("no answer in 12 s, giving up")
s.close()
' "$GO" >>"$OUT/notes.txt" 2>&1 &
CLIENT=$!
BG_PIDS+=("$CLIENT")
for _ in $(seq 200); do [ -e "$GO.ready" ] && break; sleep 0.05; done
[ -e "$GO.ready" ] || { echo "client did not get its first response" >&2; exit 1; }

\in server nft -f - <<'NFT'
table inet tdd_output_drop {
    chain output {
        type filter hook output priority 0; policy accept;
        ip daddr 192.0.2.10 drop
    }
}
NFT
note "script: server OUTPUT drop to 192.0.2.10 installed"
touch "$GO"

# Wait until nginx has written the response and the kernel armed its timer.
for _ in $(seq 100); do
    \in server ss -tnoH state established '( sport = :80 )' | grep -q 'timer:(' && break
    sleep 0.05
done
sleep 0.5
tcpdiag_in server watch -p --interval 500ms --count 8 --format ndjson >"$OUT/watch_server.ndjson"
tcpdiag_in server sockets -p --format json >"$OUT/sockets_server.json"
{ echo "--- ss -tino, server (this host cannot send)"; \in server ss -tino state established;
  echo "--- ss -tino, client"; \in client ss -tino state established;
  echo "--- nft list ruleset, server"; \in server nft list ruleset; } >>"$OUT/notes.txt"

wait "$CLIENT" || true
capture_stop
pcap_done "$OUT/capture.pcap"
