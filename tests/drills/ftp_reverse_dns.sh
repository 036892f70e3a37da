#!/usr/bin/env bash
# ftp_reverse_dns (seed 000): ProFTPD with `UseReverseDNS on` on a server whose DNS resolver
# silently drops every query. A client connects, waits for the 220 banner, sends QUIT.
#   client 198.51.100.10 --veth-- 198.51.100.1 server 203.0.113.1 --veth-- 203.0.113.53 resolver
# The server's resolv.conf (resolver_for: /etc/netns/<ns>/) points at the resolver with
# "options timeout:1 attempts:2"; the resolver namespace drops UDP/TCP port 53 (dns_blackhole).
# Capture: at the server with -i any (Linux cooked v2): the FTP control connection (port 21) and
# the server's PTR queries for 198.51.100.10 (10.100.51.198.in-addr.arpa) in one file; a live
# `tcpdiag capture` runs on the server during the login (capture_live.json).
# What happens: the three-way handshake completes in well under a millisecond, then nothing: the
# proftpd session process looks up the client's address (PTR) before it writes its greeting;
# the query goes unanswered and is retried after the resolver's timeout; only when the lookup
# has failed does "220 ProFTPD Server (drill) [198.51.100.1]" go out, seconds after the handshake.
# What a careful engineer concludes: the network is fine (instant handshake, no loss or
# retransmission); the server application waits before its first byte, and the only thing the
# server does meanwhile is send unanswered PTR queries for the client's address at the resolver's
# timeout interval: the daemon's reverse DNS. Fix the resolver (or its PTR zone), or turn the
# lookup off: ProFTPD `UseReverseDNS off` (in.ftpd -n in the seed's incident).
SCENARIO=${SCENARIO:-ftp_reverse_dns}
. "$(dirname "$0")/lib.sh"

# live_stop: end the live `tcpdiag capture` started by live_capture (SIGINT: it reports and exits)
live_stop() { kill -INT "$LIVE_PID" 2>/dev/null || true; wait "$LIVE_PID" || true; }

mkns client; mkns server; mkns resolver
no_ipv6 client; no_ipv6 server; no_ipv6 resolver
link client c0 server s0
link server s1 resolver r0
addr client c0 198.51.100.10/24
addr server s0 198.51.100.1/24
addr server s1 203.0.113.1/24
addr resolver r0 203.0.113.53/24

resolver_for server 203.0.113.53
dns_blackhole resolver
# The client connects to an address, never a name; should anything in it look a name up, its
# resolver is its own loopback (nothing listens: refused at once, nothing on the capture).
resolver_for client 127.0.0.1

# proftpd -n logs to stderr: keep what it said for notes.txt
start_proftpd server 198.51.100.1 21 "UseReverseDNS on" 2>"$WORK/proftpd.log"
settle client 198.51.100.1
settle server 203.0.113.53

capture_start server any "$OUT/capture.pcap" -s 256 'tcp port 21 or port 53 or port 113 or icmp'
# 30 s is only an upper bound: live_stop ends it once the session is over.
live_capture server any "$OUT/capture_live.json" 30s -f 'tcp port 21 or port 53'

set +e
fg_in client python3 -u -c '
import socket, time
t0 = time.monotonic()
s = socket.create_connection(("198.51.100.1", 21), timeout=20)
t1 = time.monotonic()
banner = b""
while not banner.endswith(b"\r\n"):
    chunk = s.recv(200)
    if not chunk:
        break
    banner += chunk
t2 = time.monotonic()
print("client: connected in %.4f s, banner %r %.3f s after the handshake" % (t1 - t0, banner, t2 - t1), flush=True)
s.sendall(b"QUIT\r\n")
reply = b""
while True:
    chunk = s.recv(200)
    if not chunk:
        break
    reply += chunk
print("client: reply to QUIT %r, closed %.3f s after connecting" % (reply, time.monotonic() - t1), flush=True)
s.close()
' 2>&1 | tee -a "$OUT/notes.txt"
rc=${PIPESTATUS[0]}
set -e
sleep 0.7    # one more socket poll of the live capture after the connection closed
capture_stop
live_stop
pcap_done "$OUT/capture.pcap"
sed 's/^/proftpd: /' "$WORK/proftpd.log" >>"$OUT/notes.txt"
[ "$rc" = 0 ] || { note "ftp client failed"; exit 1; }
