#!/usr/bin/env bash
# One full sock_diag dump with tcp_info of ~20,000 TCP sockets: `tcpdiag sockets
# --format json` against `ss -tanoi`, each timed as a whole process with hyperfine.
# Run as root (it makes a network namespace, tdsk_bench_PID, and removes it).
#   PAIRS=10000 bench/sockets_vs_ss.sh        # 10,000 connected pairs + 1 listener
# The numbers go into docs/performance.md, section "sock_diag dump".
set -euo pipefail
cd "$(dirname "$0")/.."

PAIRS=${PAIRS:-10000}
RUNS=${RUNS:-30}
NS=tdsk_bench_$$
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "needs python3" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)" >&2; exit 2; }

cargo build --release -q
BIN=$PWD/target/release/tcpdiag

holder=""
cleanup() {
    [ -n "$holder" ] && pkill -P "$holder" 2>/dev/null; [ -n "$holder" ] && kill "$holder" 2>/dev/null || true
    ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
    wait 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT

ip netns add "$NS"
ip -n "$NS" link set lo up
ip netns exec "$NS" sysctl -qw net.ipv4.ip_local_port_range="10000 60999"

ready=$(mktemp)
# Two processes (clients, server) so each needs only PAIRS descriptors.
ulimit -n $((PAIRS + 100)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
ip netns exec "$NS" python3 -u -c "
import os, resource, socket, time, sys
n = $PAIRS
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < n + 20: sys.exit(f'need ulimit -n {n + 20}, have {soft}')
l = socket.socket(); l.bind(('127.0.0.1', 9000)); l.listen(4096)
if os.fork() == 0:
    l.close(); keep = []
    for i in range(n):
        c = socket.create_connection(('127.0.0.1', 9000)); keep.append(c)
        if i % 7 == 0: c.send(b'x' * 100)   # some with data received and unread
    time.sleep(3600); sys.exit(0)
keep = [l.accept()[0] for i in range(n)]
time.sleep(0.5)
print('ready', flush=True)
time.sleep(3600)
" >"$ready" &
holder=$!
for _ in $(seq 600); do grep -q ready "$ready" && break; sleep 0.1; done
grep -q ready "$ready" || { echo "socket holder did not start" >&2; exit 1; }

socks=$(ss -tanH -N "$NS" | wc -l)
echo "sockets in $NS: $socks"
echo "tcpdiag JSON size: $("$BIN" sockets --netns "$NS" --format json | wc -c) bytes; ss -tanoi: $(ss -tanoi -N "$NS" | wc -c) bytes"

md=${BENCH_MD:-$(mktemp)}
hyperfine -N --warmup 3 --runs "$RUNS" --export-markdown "$md" \
    "$BIN sockets --netns $NS --format json" \
    "$BIN sockets --netns $NS --format json --no-info" \
    "ss -tanoi -N $NS" \
    "ss -tan -N $NS"
cat "$md"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), kernel $(uname -r), $(date -u +%Y-%m-%d)"
