#!/usr/bin/env bash
# rst_forged (seed 004: a firewall HA pair reset sessions from the wrong box; the web server sent
# neither RST nor FIN): a box in the path forges a RST in the server's name on an idle
# keep-alive connection.
#   client 192.0.2.10 --c0/r0-- router 192.0.2.1 | 198.51.100.1 --r1/s0-- server 198.51.100.10:80
# Server: nginx (keepalive_timeout 30 s). Client: python, HTTP/1.1 keep-alive: GET /index.html
#   and GET /small.txt on one connection, then it waits for more data on it (recv, 15 s timeout).
# Router (the "forger"): tcpdump on r0 sees the conversation; ~1 s after the last exchange the
#   script reads from that capture the server's next sequence number, its ACK, window and IP ID,
#   and the TTL the server's packets have on the client's segment (63: 64 minus the router hop),
#   and sends with hping3 from the router namespace ONE RST|ACK toward the client with
#     source 198.51.100.10:80, seq = the server's snd_nxt (exactly what the client expects),
#     ack = the client's snd_nxt, the server's window, DF, IP ID = the server's last IP ID + 1
#     (so the IP ID sequence looks right), TTL = 62 on arrival (ONE below the server's 63),
#     and no TCP options (the real server sends TCP timestamps on every segment).
#   The client kernel accepts it (exact seq), recv() fails with ECONNRESET. The server never sees
#   anything: its socket stays ESTABLISHED with nothing queued, and it sends neither RST nor FIN
#   (nginx would only close after its 30 s keep-alive timeout, after the drill).
# Live: tcpdiag capture on the server (s0) and on the client (c0) around the RST, tcpdiag
#   sockets in the server namespace after it; tcpdump at the client (c0) -> capture.pcap.
# A careful engineer concludes: exactly one cause for the RST: it was injected by a box in
#   between (TTL one hop short of the server's AND no timestamps while every server segment
#   carries them; the IP ID and window were copied, so they are no sign). From the server's own
#   live capture and sockets: the server sent no RST and no FIN and still holds the connection
#   ESTABLISHED, i.e. proof that the server did not reset it. It is NOT "the server closed with
#   SO_LINGER / unread data" (the server did not send that RST at all).
SCENARIO=${SCENARIO:-rst_forged}
. "$(dirname "$0")/lib.sh"
need hping3 tshark nginx

routed_topology
start_nginx server 198.51.100.10 80
settle client 198.51.100.10
settle server 192.0.2.10

# the forger's view (router side of the client link), only for reading sequence numbers
capture_start router r0 "$WORK/router.pcap" -s 96 'tcp port 80'
ROUTER_CAP=$CAPTURE_PID
capture_start client c0 "$OUT/capture.pcap" -s 128 'tcp port 80'
CLIENT_CAP=$CAPTURE_PID
live_capture server s0 "$OUT/live_server.json" 7s -f 'tcp port 80'
LIVE_SERVER=$LIVE_PID
live_capture client c0 "$OUT/live_client.json" 7s -f 'tcp port 80'
LIVE_CLIENT=$LIVE_PID
note "live captures started at $(date +%T.%N)"

READY="$WORK/client.ready"
\in client python3 -u -c '
import socket, sys
from peers import Clock, errname
clock = Clock()
ready = sys.argv[1]
def get(s, path):
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: 198.51.100.10\r\nUser-Agent: drill\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
    while len(body) < length:
        body += s.recv(4096)
    return head.split(b"\r\n")[0].decode()
clock.sleep_until(0.3)
s = socket.create_connection(("198.51.100.10", 80))
port = s.getsockname()[1]
clock.log("connected from port %d" % port)
clock.log("GET /index.html -> %s" % get(s, b"/index.html"))
clock.sleep_until(0.6)
clock.log("GET /small.txt -> %s" % get(s, b"/small.txt"))
open(ready, "w").write("%d\n" % port)
s.settimeout(15)
try:
    d = s.recv(1000)
    clock.log("recv returned %r" % d)
except OSError as e:
    clock.log("recv failed: %s" % errname(e, "timeout"))
s.close()
' "$READY" >"$WORK/client.log" 2>&1 &
CLIENT_JOB=$!
BG_PIDS+=("$CLIENT_JOB")

for _ in $(seq 200); do [ -s "$READY" ] && break; sleep 0.05; done
[ -s "$READY" ] || { note "client never got its answers"; exit 1; }
CPORT=$(tr -d '\n' <"$READY")
sleep 1.0    # the connection idles; then the forger strikes
capture_stop "$ROUTER_CAP"
# last segment the server sent on this connection, as the router saw it
read -r SEQ LEN ACK WIN IPID TTL < <(tshark -r "$WORK/router.pcap" -Y "ip.src==198.51.100.10 && tcp.dstport==$CPORT" \
    -T fields -e tcp.seq_raw -e tcp.len -e tcp.ack_raw -e tcp.window_size_value -e ip.id -e ip.ttl 2>/dev/null | tail -1)
[ -n "${TTL:-}" ] || { note "router saw no server segment"; exit 1; }
NSEQ=$((SEQ + LEN))
FTTL=$((TTL - 1))
FID=$(((IPID + 1) & 0xffff))
note "forger: server segments reach the client with TTL $TTL; forging RST|ACK 198.51.100.10:80 -> 192.0.2.10:$CPORT seq=$NSEQ ack=$ACK win=$WIN id=$FID ttl=$FTTL, no TCP options"
\in router hping3 -q -I r0 -c 1 -a 198.51.100.10 -s 80 -k -p "$CPORT" -R -A -M "$NSEQ" -L "$ACK" \
    -w "$WIN" -N "$FID" -y -t "$FTTL" 192.0.2.10 >/dev/null 2>&1 || true
note "forged RST sent at $(date +%T.%N)"
for _ in $(seq 60); do kill -0 "$CLIENT_JOB" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$CLIENT_JOB" 2>/dev/null; then
    note "the client did not accept the forged RST within 3 s"; note "$(cat "$WORK/client.log")"; exit 1
fi
wait "$CLIENT_JOB" || true
note "$(cat "$WORK/client.log")"
sleep 0.5
note "server sockets on :80 after the RST: $(\in server ss -Htn 'sport = :80' | awk '{print $1, $2, $3, $4, $5}' | tr '\n' ';')"
tcpdiag_in server sockets --sport 80 --format json >"$OUT/sockets_server.json" 2>"$OUT/sockets_server.err" || true
wait "$LIVE_SERVER" || true
wait "$LIVE_CLIENT" || true
capture_stop "$CLIENT_CAP"
pcap_done "$OUT/capture.pcap"
