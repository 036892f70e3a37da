#!/usr/bin/env bash
# keepalive_giveup (seed 003: "when TCP sockets refuse to die", keepalive): an idle keep-alive
# HTTP connection with aggressive TCP keepalive on the client socket; the path then turns into a
# blackhole, the probes go unanswered and the client's KERNEL declares the peer dead: it sends a
# RST on its own and the application's blocked recv() fails with ETIMEDOUT.
#   client 192.0.2.10 --c0/r0-- router 192.0.2.1 | 198.51.100.1 --r1/s0-- server 198.51.100.10:80
# Server: nginx (keepalive_timeout 30 s). Client: python, SO_KEEPALIVE=1, TCP_KEEPIDLE=1,
#   TCP_KEEPINTVL=1, TCP_KEEPCNT=3 (no TCP_USER_TIMEOUT); GET /index.html (HTTP/1.1 keep-alive),
#   then it blocks in recv() waiting for more (30 s timeout, a safety net only).
# Timeline (t = the response's arrival):
#   t+1 s  keepalive probe 1, answered by the server (the path still works);
#   t+1.5  the router blackholes the connection (nft forward chain: drop tcp port 80 both ways);
#   t+2, t+3, t+4  probes 2..4, unanswered (the socket timer is "keepalive", probes_out 1..3);
#   t+5    probes_out reached TCP_KEEPCNT: the client kernel sends RST|ACK (dropped by the router,
#          so the server never learns it and keeps the connection ESTABLISHED) and recv() fails
#          with ETIMEDOUT. The application never called close()/shutdown() before that.
# Live: tcpdiag capture on the client (c0, socket polls every 250 ms); tcpdump at the client (c0).
# A careful engineer concludes: keepalive probes (1 s idle, 1 s apart) were answered, then 3 went
#   unanswered; keepalive declared the peer dead and the client's KERNEL sent the RST (the
#   keepalive timeout, with the socket's keepalive timer and probe count as proof when live);
#   not "the application aborted the connection" (no SO_LINGER/unread-data close). The cause to
#   look for is the path (a firewall/blackhole in between), not the client or server software.
SCENARIO=${SCENARIO:-keepalive_giveup}
. "$(dirname "$0")/lib.sh"
need nginx

routed_topology
start_nginx server 198.51.100.10 80
settle client 198.51.100.10
settle server 192.0.2.10

capture_start client c0 "$OUT/capture.pcap" -s 128 'tcp port 80'
CLIENT_CAP=$CAPTURE_PID
live_capture client c0 "$OUT/live_client.json" 8s -f 'tcp port 80' --poll 250ms
LIVE_CLIENT=$LIVE_PID

fg_in client python3 -u -c '
import socket, subprocess, sys, threading, time
from peers import Clock, errname
router_ns = sys.argv[1]
clock = Clock()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
clock.sleep_until(0.3)
s.connect(("198.51.100.10", 80))
clock.log("connected from port %d (keepalive idle 1 s, interval 1 s, count 3)" % s.getsockname()[1])
s.sendall(b"GET /index.html HTTP/1.1\r\nHost: 198.51.100.10\r\nUser-Agent: drill\r\n\r\n")
data = b""
while not (b"\r\n\r\n" in data and data.endswith(b"hello\n")):
    data += s.recv(4096)
t = clock.now()
clock.log("response %r, connection now idle" % data.split(b"\r\n")[0])
def blackhole():
    clock.sleep_until(t + 1.5)
    subprocess.run(["ip", "netns", "exec", router_ns, "nft", "-f", "-"], check=True, input=b"""
table inet blackhole {
    chain forward_f {
        type filter hook forward priority 0; policy accept;
        tcp dport 80 counter drop
        tcp sport 80 counter drop
    }
}
""")
    clock.log("router now drops tcp port 80 both ways")
threading.Thread(target=blackhole, daemon=True).start()
s.settimeout(30)
try:
    d = s.recv(1000)
    clock.log("recv returned %r" % d)
except OSError as e:
    clock.log("recv failed after %.3f s idle: %s" % (clock.now() - t, errname(e, "timeout")))
s.close()
' "$(ns router)" 2>&1 | tee -a "$OUT/notes.txt"
sleep 0.5
note "server sockets on :80: $(\in server ss -Htn 'sport = :80' | awk '{print $1, $4, $5}' | tr '\n' ';')"
note "router drops: $(\in router nft list table inet blackhole | grep -o 'packets [0-9]*' | tr '\n' ' ')"
wait "$LIVE_CLIENT" || true
capture_stop "$CLIENT_CAP"
pcap_done "$OUT/capture.pcap"
