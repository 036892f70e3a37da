#!/usr/bin/env bash
# tw_reuse: TIME_WAIT with net.ipv4.tcp_tw_reuse=1 on a client with a small ephemeral range.
#   client 192.0.2.10 (c0) --veth-- 192.0.2.1 (s0) server: nginx on port 80
# Client namespace: net.ipv4.ip_local_port_range="40000 40099" (100 ports), tcp_tw_reuse=1,
# tcp_timestamps=1 (reuse needs them); tcp_tw_reuse_delay stays at its default (1000 ms).
# 160 sequential HTTP/1.1 GETs (python http.client, one new connection each, keep-alive): the
# CLIENT closes each connection after its response (nginx would keep it open for 30 s), so the
# client holds TIME_WAIT for 60 s. Connections 1-100 go back to back (~0.1-0.3 s): they use the
# 100 free ports. After a pause of 1.2 s (every TIME_WAIT is then older than tcp_tw_reuse_delay)
# connections 101-160 follow 20 ms apart: no port is free, so each connect() takes over a
# 4-tuple still in TIME_WAIT on the client: a new SYN (new ISN, higher timestamp) on a 4-tuple
# that ended ~1.3 s earlier. (Were the first burst slower than tcp_tw_reuse_delay, the kernel
# would already reuse old TIME_WAIT ports before the free ones run out: the run would then show
# fewer than 100 ports; notes.txt says so.) No connect() fails.
# Capture: at the client (veth c0, Ethernet); `tcpdiag sockets` in the client namespace at the
# end (sockets_client.json).
# What a careful engineer concludes: 160 active closes towards 192.0.2.1:80 but never more than
# 100 TIME_WAIT sockets (one per port of the range): 60 new connections reused a TIME_WAIT
# 4-tuple, which is tcp_tw_reuse doing its job (a single observation, not 60 problems).
# Recommending tcp_tw_reuse here would be wrong: it is on. The range is small, but nothing
# failed; if connection rates grow, widen ip_local_port_range or keep connections alive longer.
SCENARIO=${SCENARIO:-tw_reuse}
. "$(dirname "$0")/lib.sh"
COUNT=160 GAP=0.02

pair_topology
sysctl_ns client net.ipv4.ip_local_port_range="40000 40099" net.ipv4.tcp_tw_reuse=1 \
    net.ipv4.tcp_timestamps=1
\in client sysctl net.ipv4.ip_local_port_range net.ipv4.tcp_tw_reuse net.ipv4.tcp_timestamps \
    net.ipv4.tcp_tw_reuse_delay 2>/dev/null | sed 's/^/client sysctl: /' | tee -a "$OUT/notes.txt" >&2 \
    || true

start_nginx server 192.0.2.1 80
settle client 192.0.2.1

capture_start client c0 "$OUT/capture.pcap" -s 128 'tcp port 80'
fg_in client python3 -u -c '
import http.client, sys, time
count, first, pause, gap = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
t0 = time.monotonic()
ports, failed = [], 0
def get(n):
    global failed
    c = http.client.HTTPConnection("192.0.2.1", 80, timeout=5)
    try:
        c.request("GET", "/index.html?n=%d" % n)
        r = c.getresponse()
        r.read()
        ports.append(c.sock.getsockname()[1])
        if r.status != 200:
            raise OSError("HTTP status %d" % r.status)
    except OSError as e:
        failed += 1
        print("client: t=%.3f connection %d failed: %s" % (time.monotonic() - t0, n, e), flush=True)
    finally:
        c.close()                 # active close: TIME_WAIT stays on the client
for n in range(1, first + 1):
    get(n)
t1 = time.monotonic()
print("client: t=%.3f connections 1-%d done back to back (%d distinct local ports)"
      % (t1 - t0, first, len(set(ports))), flush=True)
if t1 - t0 > 0.9:
    print("client: warning: the burst took over 0.9 s; TIME_WAIT reuse may start before all "
          "ports are used", flush=True)
time.sleep(pause)
t2 = time.monotonic()
for i, n in enumerate(range(first + 1, count + 1)):
    time.sleep(max(0, t2 + i * gap - time.monotonic()))
    get(n)
distinct = len(set(ports))
print("client: t=%.3f connections %d-%d done, %d ms apart; %d failed; %d distinct local ports; "
      "%d connections on a local port used before (first at connection %s)"
      % (time.monotonic() - t0, first + 1, count, gap * 1000, failed, distinct,
         len(ports) - distinct, next((i + 1 for i, p in enumerate(ports) if p in ports[:i]), "-")),
      flush=True)
' "$COUNT" 100 1.2 "$GAP" 2>&1 | tee -a "$OUT/notes.txt"
[ "${PIPESTATUS[0]}" = 0 ]
note "client: $(\in client ss -Htan state time-wait | wc -l) sockets in TIME_WAIT after the run (ss)"
capture_stop
tcpdiag_in client sockets --format json >"$OUT/sockets_client.json" 2>"$OUT/sockets_client.err" || true
pcap_done "$OUT/capture.pcap"
