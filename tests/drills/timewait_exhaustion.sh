#!/usr/bin/env bash
# timewait_exhaustion (seed 001): TIME_WAIT on the active closer eats a tiny ephemeral port range
# until connect() fails with EADDRNOTAVAIL ("Cannot assign requested address").
#   client 192.0.2.10 (c0) --veth-- 192.0.2.1 (s0) server: nginx on port 80
# Client namespace: net.ipv4.ip_local_port_range="40000 40039" (40 ports), tcp_tw_reuse=0,
# tcp_timestamps=1. The client (python http.client, HTTP/1.1 keep-alive) makes one GET per new
# connection, 10 ms apart, and closes each connection itself after the response (nginx would
# keep it open for 30 s): the CLIENT is the active closer and holds TIME_WAIT for 60 s. After 40
# connections every port of the range is in TIME_WAIT towards 192.0.2.1:80 and, with
# tcp_tw_reuse=0, the 41st connect() fails at once with errno 99 EADDRNOTAVAIL; two more tries
# 0.5 s apart fail the same way (notes.txt). A failed connect() sends nothing: the capture shows
# 40 complete connections on 40 distinct ports, each closed by the client first, and no more SYNs.
# Capture: at the client (veth c0, Ethernet); `tcpdiag sockets` in the client namespace at the
# end (sockets_client.json). Replay the capture with --port-range 40000-40039 (the client's
# range; notes.txt repeats it).
# What a careful engineer concludes: the client, not the server, closes first and so holds every
# TIME_WAIT; 40 TIME_WAIT sockets to one server ip:port = the whole 40-port range: the range is
# exhausted towards 192.0.2.1:80 and new connections fail until the oldest TIME_WAIT expires
# (~60 s after it began). Fix: reuse connections (keep-alive/pooling), widen
# ip_local_port_range, or enable net.ipv4.tcp_tw_reuse=1 (timestamps are on, which it needs).
SCENARIO=${SCENARIO:-timewait_exhaustion}
. "$(dirname "$0")/lib.sh"
LO=40000 HI=40039

pair_topology
sysctl_ns client net.ipv4.ip_local_port_range="$LO $HI" net.ipv4.tcp_tw_reuse=0 \
    net.ipv4.tcp_timestamps=1
\in client sysctl net.ipv4.ip_local_port_range net.ipv4.tcp_tw_reuse net.ipv4.tcp_timestamps \
    2>/dev/null | sed 's/^/client sysctl: /' | tee -a "$OUT/notes.txt" >&2 || true
note "replay with: --port-range $LO-$HI"

start_nginx server 192.0.2.1 80
settle client 192.0.2.1

capture_start client c0 "$OUT/capture.pcap" -s 128 'tcp port 80'
fg_in client python3 -u -c '
import errno, http.client, sys, time
limit, gap = int(sys.argv[1]), float(sys.argv[2])
t0 = time.monotonic()
ok, ports, failures = 0, [], 0
for n in range(1, limit + 1):
    c = http.client.HTTPConnection("192.0.2.1", 80, timeout=5)
    try:
        c.connect()
    except OSError as e:
        failures += 1
        print("client: t=%.3f connection %d: connect() failed: [Errno %d] %s (%s)"
              % (time.monotonic() - t0, n, e.errno, e.strerror, errno.errorcode.get(e.errno, "?")),
              flush=True)
        c.close()
        if e.errno != errno.EADDRNOTAVAIL or failures == 3:
            break
        time.sleep(0.5)
        continue
    if failures:
        print("client: t=%.3f connection %d: connected again after the failure" % (time.monotonic() - t0, n), flush=True)
    ports.append(c.sock.getsockname()[1])
    c.request("GET", "/index.html?n=%d" % n)
    r = c.getresponse()
    r.read()
    c.close()                     # active close: TIME_WAIT stays on the client
    ok += 1
    time.sleep(gap)
print("client: %d connections completed on %d distinct local ports (%d-%d), each closed by the "
      "client first; %d connect() failures" % (ok, len(set(ports)), min(ports), max(ports), failures),
      flush=True)
sys.exit(0 if failures else 3)
' 200 0.01 2>&1 | tee -a "$OUT/notes.txt"
rc=${PIPESTATUS[0]}
note "client: $(\in client ss -Htan state time-wait | wc -l) sockets in TIME_WAIT after the run (ss)"
capture_stop
tcpdiag_in client sockets --format json >"$OUT/sockets_client.json" 2>"$OUT/sockets_client.err" || true
pcap_done "$OUT/capture.pcap"
[ "$rc" = 0 ] || { note "connect() never failed with EADDRNOTAVAIL"; exit 1; }
