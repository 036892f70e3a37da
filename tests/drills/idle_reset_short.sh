#!/usr/bin/env bash
# idle_reset_short (seed 002: RSTs from a middlebox's idle timeout): a stateful firewall with a
# SHORT idle timeout (3 s) forgets a keep-alive connection that idled 5 s, and answers the
# client's next request with a RST in the server's name. 5 s is below tcpdiag's default
# --idle-reset floor (10 s): the drill checks that the idle timeout is still recognised.
#   client 192.0.2.10 --c0/r0-- router 192.0.2.1 | 198.51.100.1 --r1/s0-- server 198.51.100.10:80
# Router ("firewall"): net.netfilter.nf_conntrack_tcp_timeout_established=3,
#   nf_conntrack_tcp_loose=0 (a mid-stream segment cannot re-create an entry), nftables:
#     prerouting (raw): tcp sport/dport 45010 notrack      (the control flow is exempt)
#     forward, policy drop: ct state established,related accept; ct state untracked accept;
#       ct state invalid reject with tcp reset; tcp syn + ct state new accept; icmp accept
#   i.e. the router's own kernel (nf_reject) answers the first segment after the entry expired
#   with a RST from 198.51.100.10:80: TTL 64 as it arrives at the client (the server's packets
#   arrive with 63), IP ID 0, no TCP options (the server sends timestamps). The server never
#   sees the request and keeps its socket ESTABLISHED; it sends neither RST nor FIN.
# Server: nginx (keepalive_timeout 30 s). Client: python, two HTTP/1.1 keep-alive connections,
#   both started at t~0.3 s, both GET /index.html, then both idle 5.0 s (from their answer):
#   idle flow    client port 45001 (tracked): GET /small.txt after 5 s -> the router's RST,
#                recv() fails with ECONNRESET.
#   control flow client port 45010 (not tracked): GET /small.txt after 5 s (0.3 s after the
#                other) -> answered; the client then closes (FIN exchange).
# Live: tcpdiag capture on the client (c0); tcpdump at the client (c0) -> capture.pcap.
# A careful engineer concludes: flow 45001 was reset by a middlebox's idle timeout: ~5 s of
#   silence, the first segment after it answered by a RST carrying the server's address but not
#   from the server (TTL 64 vs 63, no timestamps, IP ID 0) -- an idle-timeout reset even though
#   5 s < 10 s. Flow 45010 idled exactly as long and closed normally: no finding for it.
#   Fix: the firewall's established timeout (3 s) or keepalive/application pings below it.
SCENARIO=${SCENARIO:-idle_reset_short}
. "$(dirname "$0")/lib.sh"
need nginx conntrack

routed_topology
\in router nft -f - <<'NFT'
table inet fw {
    chain pre_raw {
        type filter hook prerouting priority raw; policy accept;
        tcp sport 45010 notrack
        tcp dport 45010 notrack
    }
    chain forward_f {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        ct state untracked accept
        ct state invalid counter reject with tcp reset
        tcp flags & (syn | ack | fin | rst) == syn ct state new accept
        meta l4proto icmp accept
        counter
    }
}
NFT
sysctl_ns router net.netfilter.nf_conntrack_tcp_timeout_established=3 net.netfilter.nf_conntrack_tcp_loose=0
note "router: $(\in router sysctl net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_loose | tr '\n' ' ')"
start_nginx server 198.51.100.10 80
settle client 198.51.100.10
settle server 192.0.2.10

capture_start client c0 "$OUT/capture.pcap" -s 128 'tcp port 80'
CLIENT_CAP=$CAPTURE_PID
live_capture client c0 "$OUT/live_client.json" 8s -f 'tcp port 80'
LIVE_CLIENT=$LIVE_PID

fg_in client python3 -u -c '
import socket, subprocess, sys, threading, time
from peers import Clock, errname
router_ns = sys.argv[1]
clock = Clock()
def get(s, path):
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: 198.51.100.10\r\nUser-Agent: drill\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(4096)
        if not d:
            raise EOFError("server closed")
        data += d
    head, body = data.split(b"\r\n\r\n", 1)
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
    while len(body) < length:
        body += s.recv(4096)
    return head.split(b"\r\n")[0].decode()
def flow(port, delay, close):
    clock.sleep_until(0.3)
    s = socket.socket()
    s.bind(("192.0.2.10", port))
    s.connect(("198.51.100.10", 80))
    clock.log("port %d: GET /index.html -> %s" % (port, get(s, b"/index.html")))
    t = time.monotonic()
    time.sleep(max(0, t + 5.0 + delay - time.monotonic()))
    clock.log("port %d: idle %.3f s, GET /small.txt" % (port, time.monotonic() - t))
    try:
        clock.log("port %d: -> %s" % (port, get(s, b"/small.txt")))
    except (OSError, EOFError) as e:
        clock.log("port %d: failed: %s" % (port, errname(e, "eof") if isinstance(e, OSError) else e))
    if close:
        time.sleep(0.2)
        s.shutdown(socket.SHUT_WR)
        while s.recv(1000):
            pass
        clock.log("port %d: closed normally" % port)
    s.close()
ts = [threading.Thread(target=flow, args=(45001, 0.0, False)),
      threading.Thread(target=flow, args=(45010, 0.3, True))]
[t.start() for t in ts]
time.sleep(1.0)
out = subprocess.run(["ip", "netns", "exec", router_ns, "conntrack", "-L", "-p", "tcp"], capture_output=True, text=True).stdout
tracked = ["%s timeout %s s %s" % (l.split()[6], l.split()[2], l.split()[3]) for l in out.splitlines() if l.startswith("tcp")]
clock.log("router conntrack 0.7 s after the first answers: %s" % ("; ".join(tracked) or "none"))
[t.join() for t in ts]
' "$(ns router)" 2>&1 | tee -a "$OUT/notes.txt"
sleep 0.3
note "server sockets on :80: $(\in server ss -Htn 'sport = :80' | awk '{print $1, $4, $5}' | tr '\n' ';')"
note "router reject counter: $(\in router nft list chain inet fw forward_f | grep reject | grep -o 'packets [0-9]*')"
wait "$LIVE_CLIENT" || true
capture_stop "$CLIENT_CAP"
pcap_done "$OUT/capture.pcap"
