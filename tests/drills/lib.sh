#!/usr/bin/env bash
# Shared helpers for the incident drills: real Debian daemons (nginx, sshd, proftpd) and
# clients (curl, ssh, socat, hping3) in network namespaces, captured with tcpdump and
# watched live with tcpdiag itself. Builds on fixtures/scripts/lib.sh (namespaces, veth,
# tcpdump, cleanup on exit).
#
# Contract of a drill script tests/drills/NAME.sh:
#   usage:   NAME.sh OUTDIR        (root; TCPDIAG=/path/to/tcpdiag in the environment)
#   writes:  OUTDIR/capture.pcap   the tcpdump capture (small snaplen) of the incident
#            OUTDIR/*.json|ndjson  live tcpdiag output (capture/sockets/watch), when the
#                                  drill runs them; OUTDIR/notes.txt what the daemons said
#   bounded: under ~40 s, namespaces "tddPID-NAME-*" removed on exit (also on failure)
# tests/drills.rs runs every drill and asserts the exact WARNING/ERROR findings.
DRILL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:?usage: $0 OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
: >"$OUT/notes.txt"
export FIXTURES_OUT="$OUT"
SCENARIO=${SCENARIO:-$(basename "$0" .sh)}
TCPDIAG=${TCPDIAG:?set TCPDIAG to the tcpdiag binary}
# fixtures/scripts/lib.sh names namespaces tdf-SCENARIO-ROLE; drills use their own prefix.
. "$DRILL_DIR/../../fixtures/scripts/lib.sh"
# The drill's process id in the names: two test runs at once (two clones, CI and a
# developer) never share a namespace.
NS_PREFIX="tdd$$-${SCENARIO}"
# Daemon configs, keys and document roots live here; removed on exit with the namespaces.
WORK=$(mktemp -d /tmp/tdd-"$SCENARIO".XXXXXX)
chmod 755 "$WORK"
trap 'rc=$?; cleanup; rm -rf "$WORK"; exit $rc' EXIT

note() { echo "$*" | tee -a "$OUT/notes.txt" >&2; }

# start_nginx ROLE ADDR PORT [EXTRA_LISTEN_PARAMS] [EXTRA_HTTP_DIRECTIVES]: nginx in the
# foreground of a background job, one worker, serving $WORK/www (index.html, big.bin of
# 8 MiB, small.txt). Sets NGINX_PID (the master). EXTRA_LISTEN_PARAMS e.g. "backlog=16".
start_nginx() {
    local role=$1 addr=$2 port=$3 listen_extra=${4:-} http_extra=${5:-}
    mkdir -p "$WORK/www" "$WORK/nginx"
    echo hello >"$WORK/www/index.html"
    echo small >"$WORK/www/small.txt"
    [ -f "$WORK/www/big.bin" ] || head -c $((8 << 20)) /dev/zero >"$WORK/www/big.bin"
    chmod -R a+rX "$WORK/www"
    cat >"$WORK/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log info;
events { worker_connections 512; }
http {
    access_log $WORK/nginx/access.log;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    sendfile off;
    keepalive_timeout 30s;
    $http_extra
    server {
        listen $addr:$port $listen_extra;
        root $WORK/www;
    }
}
NGINX
    bg "$role" nginx -c "$WORK/nginx/nginx.conf" -g 'daemon off;'
    NGINX_PID=${BG_PIDS[-1]}
    wait_port "$role" "$port"
}

# nginx_pids: the master and worker processes of the drill's nginx (for SIGSTOP/SIGCONT)
nginx_pids() { pgrep -f "nginx -c $WORK/nginx/nginx.conf" || true; pgrep -P "$(pgrep -f "nginx -c $WORK/nginx/nginx.conf" | head -1)" || true; }

# start_sshd ROLE ADDR PORT [EXTRA_CONFIG_LINES]: OpenSSH's sshd with its own host key,
# accepting the drill's key for root (so `ssh_login` logs in without a password).
start_sshd() {
    local role=$1 addr=$2 port=$3 extra=${4:-}
    mkdir -p "$WORK/ssh" /run/sshd
    chmod 700 "$WORK/ssh"
    ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/host_key" </dev/null
    ssh-keygen -q -t ed25519 -N '' -f "$WORK/ssh/client_key" </dev/null
    cp "$WORK/ssh/client_key.pub" "$WORK/ssh/authorized_keys"
    cat >"$WORK/ssh/sshd_config" <<SSHD
ListenAddress $addr:$port
HostKey $WORK/ssh/host_key
PidFile $WORK/ssh/sshd.pid
AuthorizedKeysFile $WORK/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
$extra
SSHD
    bg "$role" /usr/sbin/sshd -D -e -f "$WORK/ssh/sshd_config"
    wait_port "$role" "$port"
}

# ssh_login ROLE ADDR PORT CMD: run CMD over ssh as root with the drill's key
ssh_login() {
    local role=$1 addr=$2 port=$3; shift 3
    \in "$role" ssh -q -i "$WORK/ssh/client_key" -p "$port" \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
        -o ConnectTimeout=20 "root@$addr" "$@"
}

# start_proftpd ROLE ADDR PORT [EXTRA_CONFIG_LINES]: ProFTPD standalone in the foreground,
# anonymous login off; EXTRA e.g. "UseReverseDNS on".
start_proftpd() {
    local role=$1 addr=$2 port=$3 extra=${4:-}
    mkdir -p "$WORK/ftp"
    cat >"$WORK/ftp/proftpd.conf" <<FTP
ServerName "drill"
ServerType standalone
DefaultServer on
DefaultAddress $addr
SocketBindTight on
Port $port
PidFile $WORK/ftp/proftpd.pid
ScoreboardFile $WORK/ftp/scoreboard
DelayTable none
WtmpLog off
User nobody
Group nogroup
MaxInstances 30
$extra
FTP
    bg "$role" proftpd -n -q -c "$WORK/ftp/proftpd.conf"
    wait_port "$role" "$port"
}

# resolver_for ROLE NAMESERVER: /etc/resolv.conf (and nsswitch/hosts) for ROLE's namespace
# only (`ip netns exec` bind-mounts /etc/netns/NS/*), with short resolver timeouts.
resolver_for() {
    local n; n=$(ns "$1")
    mkdir -p "/etc/netns/$n"
    printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$2" >"/etc/netns/$n/resolv.conf"
    printf 'hosts: files dns\n' >"/etc/netns/$n/nsswitch.conf"
    printf '127.0.0.1 localhost\n::1 localhost\n' >"/etc/netns/$n/hosts"
}

# dns_blackhole ROLE: the namespace silently drops every DNS query it receives
dns_blackhole() {
    \in "$1" nft -f - <<'NFT'
table inet tdd_dns {
    chain input {
        type filter hook input priority 0; policy accept;
        udp dport 53 drop
        tcp dport 53 drop
    }
}
NFT
}

# live_capture ROLE IFACE OUTFILE DURATION [tcpdiag capture args...]: tcpdiag capture in
# ROLE's namespace in the background (JSON report to OUTFILE); returns once it captures.
# Sets LIVE_PID; wait for it with `wait $LIVE_PID`.
live_capture() {
    local role=$1 dev=$2 out=$3 dur=$4; shift 4
    "$TCPDIAG" capture --netns "$(ns "$role")" -i "$dev" --duration "$dur" --format json "$@" \
        >"$out" 2>"$out.err" &
    LIVE_PID=$!
    BG_PIDS+=("$LIVE_PID")
    for _ in $(seq 100); do
        grep -q "capturing on" "$out.err" 2>/dev/null && return 0
        kill -0 "$LIVE_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "tcpdiag capture did not start:" >&2; cat "$out.err" >&2; return 1
}

# tcpdiag_in ROLE ARGS...: tcpdiag sockets/watch/host looking into ROLE's namespace
tcpdiag_in() { local role=$1 cmd=$2; shift 2; "$TCPDIAG" "$cmd" --netns "$(ns "$role")" "$@"; }
