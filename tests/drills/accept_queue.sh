#!/usr/bin/env bash
# accept_queue: the application stops calling accept(). nginx (listen backlog=16) is frozen
# with SIGSTOP (master and worker); 40 curl clients connect at once. The kernel completes
# handshakes into the listener's accept queue until it holds backlog+1 = 17 connections,
# then drops further SYNs (and handshake-completing ACKs): TcpExt.ListenOverflows/ListenDrops
# rise, the clients retransmit their SYNs, and every curl gives up after --max-time 4. The
# 17 queued connections were never accepted: when their clients give up and close, they
# sit in CLOSE_WAIT inside the listener's queue (inode 0, no process; listener Recv-Q 17).
# Then nginx is resumed (SIGCONT): it accepts the stale queue, answers requests whose clients
# are gone, and the clients' kernels answer with RSTs.
#
# Topology (pair_topology): client 192.0.2.10 (c0) --veth-- (s0) 192.0.2.1 server, IPv4 only.
#   server: nginx (start_nginx) 192.0.2.1:80 "backlog=16", small.txt.
#   client: 40 x `curl --max-time 4 http://192.0.2.1/small.txt`, all started together.
#   tcpdiag capture --netns <server> -i s0, the whole incident -> capture_live.json
#   tcpdiag sockets --netns <server> -p, while nginx is stopped and after every curl gave up
#                                             -> sockets_server.json
#   tcpdump on the server's s0, snaplen 128, "tcp port 80" -> capture.pcap
#   notes.txt: curl results, ListenOverflows/ListenDrops before/after, ss -ltn / ss -tn.
#
# What a careful engineer should conclude: the accept queue of 192.0.2.1:80 is full because
# the application (nginx, stopped) is not calling accept(); this host (the server) dropped
# SYNs - ListenOverflows rose - so the clients' waits and SYN retransmissions are caused by
# the listener, not by DNS and not by the network (no loss on the path, SYN-ACKs go out
# for the connections that did fit). The CLOSE_WAIT sockets were never accepted (inode 0):
# the application never saw them, so it is not an application close() leak.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

NCLIENTS=${NCLIENTS:-40}
pair_topology
start_nginx server 192.0.2.1 80 "backlog=16"
settle client 192.0.2.1
\in client curl -s -o /dev/null --max-time 4 http://192.0.2.1/small.txt   # warm-up: nginx answers

# counter NAME: a TcpExt counter of the server namespace
counter() {
    \in server awk -v n="$1" '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) k[i] = $i; h = 1 } else for (i = 1; i <= NF; i++) if (k[i] == n) print $i }' /proc/net/netstat
}

capture_start server s0 "$OUT/capture.pcap" -s 128 'tcp port 80'
live_capture server s0 "$OUT/capture_live.json" 11s
T0=$(date +%s.%N)
at() { python3 -c "import time; time.sleep(max(0, $T0 + $1 - time.time()))"; }
note "before: ListenOverflows=$(counter ListenOverflows) ListenDrops=$(counter ListenDrops)"

NGINX_ALL=$(nginx_pids | sort -u | tr '\n' ' ')
# lib.sh's cleanup TERMs/KILLs only the master: a worker left SIGSTOPped (if this script
# fails before the SIGCONT below) would never exit and keep the namespace alive. Resume
# nginx first on any exit, then run lib.sh's own exit handler.
trap 'rc=$?; kill -CONT $NGINX_ALL 2>/dev/null; cleanup; rm -rf "$WORK"; exit $rc' EXIT
kill -STOP $NGINX_ALL
note "script: nginx stopped (SIGSTOP $NGINX_ALL)"

at 0.5
CURLS=()
for i in $(seq "$NCLIENTS"); do
    ip netns exec "$(ns client)" curl -s -o /dev/null --max-time 4 \
        -w "curl $i: http=%{http_code} connect=%{time_connect}s total=%{time_total}s exit=%{exitcode}\n" \
        http://192.0.2.1/small.txt >"$WORK/curl.$i" 2>&1 &
    CURLS+=($!)
    BG_PIDS+=($!)
done
for p in "${CURLS[@]}"; do wait "$p" || true; done
cat "$WORK"/curl.* >>"$OUT/notes.txt"
note "script: all $NCLIENTS curls gave up; $(grep -c 'connect=0.000000s' "$WORK"/curl.* | awk -F: '{s+=$2} END {print s}') never connected"
# Let the last FINs from the clients reach the queued sockets (CLOSE_WAIT).
for _ in $(seq 40); do
    [ "$(\in server ss -tnH state close-wait | wc -l)" -ge 17 ] && break
    sleep 0.05
done
{ echo "--- ss -ltn, server, nginx stopped"; \in server ss -ltn;
  echo "--- ss -tnoe, server (ino:0 = never accepted)"; \in server ss -tnoe 2>/dev/null; } >>"$OUT/notes.txt"
tcpdiag_in server sockets -p --format json >"$OUT/sockets_server.json"
note "while stopped: ListenOverflows=$(counter ListenOverflows) ListenDrops=$(counter ListenDrops)"

at 7.5
kill -CONT $NGINX_ALL
note "script: nginx resumed (SIGCONT) at t=7.5 s"
wait "$LIVE_PID" || true
note "after: ListenOverflows=$(counter ListenOverflows) ListenDrops=$(counter ListenDrops)"
capture_stop
pcap_done "$OUT/capture.pcap"
