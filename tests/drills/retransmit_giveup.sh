#!/usr/bin/env bash
# retransmit_giveup (seed 003: "when TCP sockets refuse to die", tcp_retries2 and
# TCP_USER_TIMEOUT): two uploads to nginx lose their path mid-transfer; each client kernel
# retransmits with exponential backoff and gives up silently (no RST), at the time ITS limit allows:
#   client  192.0.2.10   (c0/r0)  --\
#                                      router 192.0.2.1 | 203.0.113.1 | 198.51.100.1 -- server 198.51.100.10
#   client2 203.0.113.10 (c2/r2)  --/                                   (r1/s0)   nginx :80, reply-server :9101
# Server: nginx with dav_methods PUT (client_max_body_size 0): it reads request bodies as they come.
# Upload A, from "client", whose namespace has net.ipv4.tcp_retries2=4 (no TCP_USER_TIMEOUT):
#   PUT of a 256 MiB body, 8 KiB every 10 ms (~0.8 MB/s, so data is always in flight).
# Upload B, from "client2" (its own namespace: tcp_retries2 stays at the default 15), the same,
#   with TCP_USER_TIMEOUT=2000 ms on the socket.
# ~1 s after both started, the router drops tcp port 80 in both directions (nft forward chain).
#   From then on neither the data nor the server's ACKs pass. Each client retransmits the first
#   unacknowledged segment with RTO backoff (200 ms, 400, 800, ...; RTO min 200 ms):
#   B gives up ~2 s after that segment was first sent (TCP_USER_TIMEOUT, the last RTO clamped to
#     the deadline), far earlier than tcp_retries2=15 would (~924.6 s);
#   A gives up when tcp_retries2=4 allows: (2^5 - 1) x 200 ms = 6.2 s after that segment was first
#     sent, at the expiry after its 4th retransmission.
#   Neither sends a RST: the kernel drops the socket silently and the next send() fails with
#   ETIMEDOUT. The server keeps both sockets ESTABLISHED.
# Heartbeat: "client" opens a short connection to the reply-server on port 9101 (not dropped)
#   every 0.5 s until 2.5 s after upload A failed: the capture visibly goes on past the moments the
#   next retransmissions were due, which is what proves the silence in a saved capture.
# Live: tcpdiag capture on client (c0, its netns reads tcp_retries2=4) and on client2 (c2, reads
#   15); tcpdump on c0 and on c2, merged by time into capture.pcap (both Ethernet).
# A careful engineer concludes: both uploads gave up after retransmission timeouts on a
#   blackholed path. A: after ~6.2 s of unacknowledged data, exactly what tcp_retries2=4 allows
#   (live: stated with the known value 4, never "~924.6 s at 15"). B: after ~2 s, far below what
#   tcp_retries2 allows (15 there; in the merged replay unknown): TCP_USER_TIMEOUT ~2000 ms was in
#   effect. Silent give-up (no RST from either client); the path (the router) dropped everything.
SCENARIO=${SCENARIO:-retransmit_giveup}
. "$(dirname "$0")/lib.sh"
need nginx mergecap

routed_topology
mkns client2
no_ipv6 client2
link client2 c2 router r2
mac client2 c2 02:00:00:00:02:0a
mac router r2 02:00:00:00:02:01
addr client2 c2 203.0.113.10/24
addr router r2 203.0.113.1/24
ip -n "$(ns client2)" route add default via 203.0.113.1
sysctl_ns client net.ipv4.tcp_retries2=4
note "client:  $(\in client sysctl net.ipv4.tcp_retries2 net.ipv4.tcp_rto_min_us | tr '\n' ' ')"
note "client2: $(\in client2 sysctl net.ipv4.tcp_retries2 net.ipv4.tcp_rto_min_us | tr '\n' ' ')"

start_nginx server 198.51.100.10 80 "" "dav_methods PUT; client_max_body_size 0; client_body_timeout 60s;"
chmod 777 "$WORK/www"
bg server python3 -u "$SCRIPTS_DIR/peers.py" reply-server 198.51.100.10 9101 --reply $'beat\n' >"$WORK/beat_server.log" 2>&1
wait_port server 9101
settle client 198.51.100.10
settle client2 198.51.100.10
settle server 192.0.2.10
settle server 203.0.113.10

cat >"$WORK/upload.py" <<'PY'
import socket, sys, time
from peers import Clock, errname
label, user_timeout_ms = sys.argv[1], int(sys.argv[2])
clock = Clock(label)
retries2 = open("/proc/sys/net/ipv4/tcp_retries2").read().strip()
s = socket.socket()
if user_timeout_ms:
    s.setsockopt(socket.IPPROTO_TCP, getattr(socket, "TCP_USER_TIMEOUT", 18), user_timeout_ms)
clock.sleep_until(0.3)
s.connect(("198.51.100.10", 80))
clock.log("upload from port %d, tcp_retries2=%s, TCP_USER_TIMEOUT=%d ms" % (s.getsockname()[1], retries2, user_timeout_ms))
s.sendall(b"PUT /upload-%s.bin HTTP/1.1\r\nHost: 198.51.100.10\r\nUser-Agent: drill\r\n"
          b"Content-Length: %d\r\n\r\n" % (label.encode(), 256 << 20))
chunk, sent, last_ok = b"u" * 8192, 0, None
while clock.now() < 25:                    # safety net only: both give up long before
    try:
        s.sendall(chunk)
        sent += len(chunk)
        last_ok = time.time()
    except OSError as e:
        clock.log("send failed at epoch %.3f after %d bytes: %s" % (time.time(), sent, errname(e)))
        break
    time.sleep(0.01)
s.close()
PY

capture_start client c0 "$WORK/client.pcap" -s 128 'tcp'
CAP_A=$CAPTURE_PID
capture_start client2 c2 "$WORK/client2.pcap" -s 128 'tcp'
CAP_B=$CAPTURE_PID
live_capture client c0 "$OUT/live_client.json" 12s -f 'tcp'
LIVE_A=$LIVE_PID
live_capture client2 c2 "$OUT/live_client2.json" 12s -f 'tcp'
LIVE_B=$LIVE_PID

\in client python3 -u "$WORK/upload.py" A 0 >"$WORK/upload_a.log" 2>&1 &
UP_A=$!; BG_PIDS+=("$UP_A")
\in client2 python3 -u "$WORK/upload.py" B 2000 >"$WORK/upload_b.log" 2>&1 &
UP_B=$!; BG_PIDS+=("$UP_B")
HB_STOP="$WORK/heartbeat.stop"
\in client python3 -u -c '
import os, socket, sys, time
while not os.path.exists(sys.argv[1]):
    b = socket.create_connection(("198.51.100.10", 9101))
    b.sendall(b"beat\n")
    b.recv(100)
    b.close()
    time.sleep(0.5)
' "$HB_STOP" >"$WORK/heartbeat.log" 2>&1 &
HB=$!; BG_PIDS+=("$HB")

sleep 1.3
\in router nft -f - <<'NFT'
table inet blackhole {
    chain forward_f {
        type filter hook forward priority 0; policy accept;
        tcp dport 80 counter drop
        tcp sport 80 counter drop
    }
}
NFT
note "router drops tcp port 80 both ways from epoch $(date +%s.%N)"
wait "$UP_B" || true
wait "$UP_A" || true
sleep 2.5
touch "$HB_STOP"
wait "$HB" || true
note "$(cat "$WORK/upload_a.log" "$WORK/upload_b.log")"
note "server sockets on :80: $(\in server ss -Htn 'sport = :80' | awk '{print $1, $2, $4, $5}' | tr '\n' ';')"
note "router drops: $(\in router nft list table inet blackhole | grep -o 'packets [0-9]*' | tr '\n' ' ')"
wait "$LIVE_A" || true
wait "$LIVE_B" || true
capture_stop "$CAP_A"
capture_stop "$CAP_B"
mergecap -F pcap -w "$OUT/capture.pcap" "$WORK/client.pcap" "$WORK/client2.pcap"
pcap_done "$OUT/capture.pcap"
