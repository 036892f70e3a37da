#!/usr/bin/env bash
# Builds the benchmark corpus in bench/corpus/ (ignored by git; never commit it):
#   web_1x.pcap   real kernel traffic: nginx served to wrk across a veth pair between two
#                 network namespaces, captured at the server with tcpdump (snaplen 128),
#                 nftables dropping ~1% of packets at random in each direction so the
#                 stacks retransmit. Mix: many short connections (Connection: close, the
#                 bulk of the flows), keep-alive connections fetching a 30 KB page, and
#                 a few rate-limited bulk downloads. Stops at PACKETS frames (default 2 M).
#   web_4x.pcap,  4 and 10 copies of web_1x laid end to end in time, each copy moved to its
#   web_10x.pcap  own client/server addresses (bench/pcap_scale.rs), so every copy's
#                 connections stay distinct and timestamps stay monotonic. This is how the
#                 large files are made: derived, not captured (see docs/performance.md).
#   synflood.pcap 1 M SYNs from distinct source addresses/ports to one server, written
#                 directly (bench/synflood.rs), no answers.
# Needs root (namespaces). Installs nginx-light and wrk from Debian if they are missing.
# Usage: bench/make_corpus.sh [PACKETS]     (env: SKIP_CAPTURE=1 to only rebuild derived files;
#   CORPUS=DIR to build it elsewhere, e.g. /tmp/bench-corpus shared by several worktrees, with
#   bench/corpus a symlink to it)
SCENARIO=bench
. "$(dirname "$0")/../fixtures/scripts/lib.sh"
NS_PREFIX="tdpf-bench"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${CORPUS:-$ROOT/bench/corpus}
PACKETS=${1:-2000000}
mkdir -p "$CORPUS"

if ! command -v nginx >/dev/null || ! command -v wrk >/dev/null; then
    echo "installing nginx-light wrk"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nginx-light wrk >/dev/null
fi
need nginx wrk cargo

if [ "${SKIP_CAPTURE:-0}" != 1 ]; then
    WORK="$CORPUS/.nginx"     # web root and nginx state (inside the ignored corpus directory)
    rm -rf "$WORK"; mkdir -p "$WORK"
    pair_topology
    # Many short connections from one client address: use the whole port range, and let the
    # server's TIME_WAIT sockets accept a newer SYN on the same 4-tuple (as Linux does).
    sysctl_ns client net.ipv4.ip_local_port_range="1024 65535"
    sysctl_ns server net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096
    for role in client server; do
        \in "$role" nft -f - <<'NFT'
table inet tdpf_loss {
    chain out {
        type filter hook output priority 0; policy accept;
        meta l4proto tcp numgen random mod 100 < 1 counter drop
    }
}
NFT
    done

    mkdir -p "$WORK/www"
    head -c 2000 /dev/zero | tr '\0' 'a' >"$WORK/www/small.html"
    head -c 30000 /dev/zero | tr '\0' 'b' >"$WORK/www/page.html"
    head -c 200000000 /dev/zero >"$WORK/www/bulk.bin"
    cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/tmp;
    server {
        listen 192.0.2.1:80 backlog=4096;
        listen 192.0.2.1:8080 backlog=4096;
        root $WORK/www;
        location /bulk.bin { limit_rate 8m; }
    }
}
CONF
    mkdir -p "$WORK/tmp"
    bg server nginx -c "$WORK/nginx.conf"
    wait_port server 80
    wait_port server 8080
    settle client 192.0.2.1

    OUT="$CORPUS/web_1x.pcap"
    # -c: stop at exactly PACKETS frames; -B: a large kernel buffer so the capture keeps up
    capture_start server s0 "$OUT" -s 128 -B 65536 -c "$PACKETS" tcp
    cap=$CAPTURE_PID
    url=http://192.0.2.1
    # load runs until the capture has its frames; each wrk is bounded by -d anyway
    # keep-alive clients pause 20 ms between requests (a browser-like pace, and it leaves the
    # CPU to the short connections, which make most of the flows)
    echo 'function delay() return 20 end' >"$WORK/pace.lua"
    bg client wrk -t1 -c64 -d600s -H 'Connection: close' "$url:80/small.html" >/dev/null
    bg client wrk -t1 -c64 -d600s -H 'Connection: close' "$url:8080/small.html" >/dev/null
    bg client wrk -t1 -c8 -d600s -s "$WORK/pace.lua" "$url:80/page.html" >/dev/null
    bg client wrk -t1 -c2 -d600s "$url:8080/bulk.bin" >/dev/null
    start=$(date +%s)
    while kill -0 "$cap" 2>/dev/null; do
        sleep 1
        [ $(($(date +%s) - start)) -lt 900 ] || { echo "capture did not reach $PACKETS frames in 900 s" >&2; exit 1; }
    done
    wait "$cap" 2>/dev/null || true
    pcap_done "$OUT"
    for role in client server; do \in "$role" nft list ruleset | grep -o 'packets [0-9]*' | sed "s/^/$role dropped: /"; done
fi

cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --example pcap_scale --example synflood
BIN="$ROOT/target/release/examples"
for n in 4 10; do
    "$BIN/pcap_scale" "$CORPUS/web_1x.pcap" "$n" "$CORPUS/web_${n}x.pcap"
done
"$BIN/synflood" 1000000 "$CORPUS/synflood.pcap"
ls -l "$CORPUS"
