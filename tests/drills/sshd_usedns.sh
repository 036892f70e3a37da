#!/usr/bin/env bash
# sshd_usedns: OpenSSH's sshd with `UseDNS yes` on a server whose DNS resolver silently drops
# every query. The client logs in with a key and runs one command.
#   client 198.51.100.10 --veth-- 198.51.100.1 server 203.0.113.1 --veth-- 203.0.113.53 resolver
# The server's resolv.conf (resolver_for: /etc/netns/<ns>/) points at the resolver with
# "options timeout:1 attempts:2"; the resolver namespace drops UDP/TCP port 53 (dns_blackhole).
# Capture: at the server with -i any (Linux cooked v2), so the SSH connection (port 22) and the
# server's PTR queries for 198.51.100.10 (10.100.51.198.in-addr.arpa) are in one file. A live
# `tcpdiag capture` runs on the server at the same time (capture_live.json).
# What happens: the handshake and both SSH banners ("SSH-2.0-OpenSSH_...") are immediate; sshd
# resolves the client's address only after the banners (during key exchange / authentication),
# so the client's next message waits while the server sends PTR queries that go unanswered
# (retried after the 1 s resolver timeout); then the login completes and the command runs.
# What a careful engineer concludes: not a network problem (handshake and banners are instant,
# no loss, no retransmission); a response stall on the SSH connection that coincides exactly with
# unanswered PTR lookups of the client's address from the server: sshd's reverse DNS (UseDNS).
# Fix the resolver, or set `UseDNS no` in sshd_config (the default since OpenSSH 6.8).
SCENARIO=${SCENARIO:-sshd_usedns}
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

# sshd -e logs to stderr: keep what it said for notes.txt
start_sshd server 198.51.100.1 22 "UseDNS yes
LogLevel VERBOSE" 2>"$WORK/sshd.log"
settle client 198.51.100.1
settle server 203.0.113.53

capture_start server any "$OUT/capture.pcap" -s 256 'tcp port 22 or port 53 or icmp'
# 30 s is only an upper bound: live_stop ends it (SIGINT: it still writes its report) once
# the login is over.
live_capture server any "$OUT/capture_live.json" 30s -f 'tcp port 22 or port 53'

t0=$(date +%s.%N)
set +e
result=$(ssh_login client 198.51.100.1 22 'echo logged-in-as-$(id -un)')
rc=$?
set -e
t1=$(date +%s.%N)
note "client: ssh exit $rc, output '$result', took $(python3 -c "print('%.3f' % ($t1 - $t0))") s"
sleep 0.7    # one more socket poll of the live capture after the connection closed
capture_stop
live_stop
pcap_done "$OUT/capture.pcap"
sed 's/^/sshd: /' "$WORK/sshd.log" >>"$OUT/notes.txt"
[ "$rc" = 0 ] && [ "$result" = logged-in-as-root ] || { note "ssh login failed"; exit 1; }
