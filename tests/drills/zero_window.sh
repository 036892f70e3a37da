#!/usr/bin/env bash
# zero_window: a fast sender and a reader that stops. The client application stops reading
# its socket for ~13 s in the middle of a download; its receive buffer fills, it advertises a
# zero window, and the server's persist timer probes the closed window (with exponential
# backoff) until the reader comes back and reads the rest.
#
# Topology (pair_topology): client 192.0.2.10 (c0) --veth-- (s0) 192.0.2.1 server, IPv4 only.
#   server: nginx (start_nginx) on 192.0.2.1:80 serving big.bin. big.bin is created here with
#           4 MiB before start_nginx (which keeps an existing file) so the capture stays small.
#           The server's egress s0 is a 6 Mbit/s link (tbf, no drops: its queue holds far
#           more than the 128 KiB receive window). Without a bottleneck nginx fills any reader
#           that reads slower than memory speed, and the reader's "normal" phase would already
#           be a string of short zero windows; with it the reader keeps up until it stops.
#   client: python3 reader, SO_RCVBUF 64 KiB (the kernel doubles it), HTTP/1.1 GET /big.bin,
#           reads everything for 2 s (~1.5 MB), then SIGSTOPs itself; this script SIGCONTs it
#           13 s later; it then reads to the end (~2 s more) and closes.
#   While the reader is stopped (and the server's persist timer runs):
#     tcpdiag sockets --netns <client> -p  -> sockets_client.json (Recv-Q full, rcv window 0,
#                                             process python3 stopped)
#     tcpdiag sockets --netns <server> -p  -> sockets_server.json (nginx's socket: persist
#                                             timer, snd_wnd 0, Send-Q waiting)
#   Capture: tcpdump on the client's c0, snaplen 128, "tcp port 80" -> capture.pcap.
#
# What a careful engineer should conclude: the client application stopped reading (its
# process was stopped/asleep with a full Recv-Q); the client advertised a zero window once,
# for ~13 s (one episode), the server sent zero-window (persist) probes that the client
# answered (window still 0) - the network and the server are fine; once the reader resumed,
# the window reopened and the transfer finished normally (FIN both ways, no RST).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

STOP_S=${STOP_S:-13}
pair_topology
\in server tc qdisc add dev s0 root tbf rate 6mbit burst 16kb limit 4mb
note "client tcp_invalid_ratelimit: $(\in client sysctl -n net.ipv4.tcp_invalid_ratelimit) ms (rate-limits the ACKs answering persist probes)"

mkdir -p "$WORK/www"
head -c $((4 << 20)) /dev/zero >"$WORK/www/big.bin"
start_nginx server 192.0.2.1 80
settle client 192.0.2.1

capture_start client c0 "$OUT/capture.pcap" -s 128 'tcp port 80'

ip netns exec "$(ns client)" python3 -u -c '
import os, signal, socket, time
t0 = time.monotonic()
def log(msg):
    print("client: t=%.3f %s" % (time.monotonic() - t0, msg), flush=True)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
s.connect(("192.0.2.1", 80))
s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: drill\r\nConnection: close\r\n\r\n")
n = 0
while time.monotonic() - t0 < 2.0:
    d = s.recv(65536)
    if not d:
        break
    n += len(d)
log("read %d bytes, stops reading now (SIGSTOP)" % n)
os.kill(os.getpid(), signal.SIGSTOP)
log("resumed")
while True:
    d = s.recv(65536)
    if not d:
        break
    n += len(d)
log("EOF after %d bytes (headers included)" % n)
s.close()
' >>"$OUT/notes.txt" 2>&1 &
READER=$!    # python3 itself: ip netns exec execs it
BG_PIDS+=("$READER")

# Wait until the reader has stopped itself.
for _ in $(seq 200); do
    [ "$(awk '{print $3}' "/proc/$READER/stat" 2>/dev/null)" = T ] && break
    sleep 0.05
done
[ "$(awk '{print $3}' "/proc/$READER/stat")" = T ] || { echo "reader did not stop" >&2; exit 1; }
STOPPED_AT=$(date +%s.%N)
note "script: reader $READER stopped"

# Wait until the server's socket has its persist timer (window closed, first probe pending).
for _ in $(seq 100); do
    \in server ss -tnoH state established '( sport = :80 )' | grep -q 'timer:(persist' && break
    sleep 0.05
done
sleep 1.5   # a few probes answered, so the snapshots show a settled zero-window state
{ echo "--- ss -tinom, server, while the reader is stopped"; \in server ss -tinom state established '( sport = :80 )'; \
  echo "--- ss -tinom, client"; \in client ss -tinom state established '( dport = :80 )'; } >>"$OUT/notes.txt"
tcpdiag_in client sockets -p --format json >"$OUT/sockets_client.json"
tcpdiag_in server sockets -p --format json >"$OUT/sockets_server.json"

# Resume the reader STOP_S after it stopped.
python3 -c "import time; time.sleep(max(0, $STOPPED_AT + $STOP_S - time.time()))"
kill -CONT "$READER"
note "script: reader resumed (SIGCONT)"
for _ in $(seq 300); do
    kill -0 "$READER" 2>/dev/null || break
    sleep 0.05
done
kill -0 "$READER" 2>/dev/null && { echo "reader did not finish" >&2; exit 1; }
capture_stop
pcap_done "$OUT/capture.pcap"
