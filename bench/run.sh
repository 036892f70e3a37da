#!/usr/bin/env bash
# Side-by-side replay benchmark: tcpdiag against tshark, tcptrace, tcpdump and a bare
# libpcap loop on the corpus of bench/make_corpus.sh, all in one run. Each command runs
# RUNS times (default 3) on a warm page cache; the table shows the median wall time as
# packets/s and the median peak RSS (/usr/bin/time -v, whole process).
# Usage: bench/run.sh [SIZE...]       SIZE: 1x 4x 10x synflood (default: all)
#   env: RUNS=3  BASELINE=/path/to/older/tcpdiag (adds its ndjson/table rows on 1x and
#        synflood, for before/after)  PEERS=0 (tcpdiag only)  SLOW_PEERS_UP_TO=4x (tshark runs on sizes up to this one; tcptrace too
#        except that 10x gets one tcptrace run)  OUT=bench/results/DATE.md
#        CORPUS=DIR (default bench/corpus)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${CORPUS:-$ROOT/bench/corpus}
RUNS=${RUNS:-3}
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(1x 4x 10x synflood)
mkdir -p "$ROOT/bench/results"
OUT=${OUT:-$ROOT/bench/results/$(date -u +%Y%m%d-%H%M).md}
WORK=$(mktemp -d /tmp/tdpf-run.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

for tool in tshark tcptrace tcpdump gcc /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
TCPDIAG="$ROOT/target/release/tcpdiag"
gcc -O2 -o "$WORK/pcap_loop" "$ROOT/bench/pcap_loop.c" -lpcap

file_of() { case $1 in synflood) echo "$CORPUS/synflood.pcap" ;; *) echo "$CORPUS/web_$1.pcap" ;; esac; }

# measure LABEL N CMD...: runs CMD N times (stdout to /dev/null);
# prints "median_wall_s median_rss_kb median_cpu_s" (cpu = user + system, all threads)
measure() {
    local label=$1 n=$2; shift 2
    local i walls=() rss=() cpus=()
    for i in $(seq "$n"); do
        /usr/bin/time -f "%e %M %U %S" -o "$WORK/t" "$@" >/dev/null 2>"$WORK/err" || {
            # tcpdiag exits 1 only with --fail-on; anything else is a failure
            echo "$label failed:" >&2; cat "$WORK/err" >&2; exit 1; }
        read -r w m u s <"$WORK/t"
        walls+=("$w"); rss+=("$m"); cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')")
        echo "  $label run $i: ${w}s ${m}KB cpu $u+$s (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    done
    median() { sort -g | awk '{a[NR]=$1} END {printf "%s ", a[int((NR+1)/2)]}'; }
    printf '%s\n' "${walls[@]}" | median
    printf '%s\n' "${rss[@]}" | median
    printf '%s\n' "${cpus[@]}" | median
    echo
}

rank() { case $1 in 1x) echo 1 ;; 4x) echo 4 ;; 10x) echo 10 ;; *) echo 0 ;; esac; }
slow_up_to=$(rank "${SLOW_PEERS_UP_TO:-4x}")

{
    echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC') on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, kernel $(uname -r)"
    echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg). Median of $RUNS runs each unless noted."
    echo
    echo "| corpus | packets | tool | command | packets/s | wall s | CPU s | peak RSS MiB |"
    echo "|---|---:|---|---|---:|---:|---:|---:|"
} >"$OUT"

for size in "${SIZES[@]}"; do
    f=$(file_of "$size")
    [ -f "$f" ] || { echo "missing $f: run bench/make_corpus.sh" >&2; exit 2; }
    cat "$f" >/dev/null   # warm the page cache
    packets=$("$TCPDIAG" replay "$f" --format ndjson --findings-only | tail -1 | jq .packets.frames)
    echo "== $size: $packets packets" >&2
    row() { # row TOOL CMDTEXT N CMD...
        local tool=$1 text=$2 n=$3; shift 3
        read -r wall rss cpu < <(measure "$size $tool" "$n" "$@")
        awk -v c="$size" -v p="$packets" -v t="$tool" -v x="$text" -v w="$wall" -v r="$rss" -v u="$cpu" -v n="$n" 'BEGIN {
            note = (n == 1) ? " (1 run)" : "";
            printf "| %s | %d | %s | `%s`%s | %.0f | %.2f | %.2f | %.0f |\n", c, p, t, x, note, p / w, w, u, r / 1024 }' >>"$OUT"
    }
    row tcpdiag "tcpdiag replay F --format ndjson" "$RUNS" "$TCPDIAG" replay "$f" --format ndjson
    row tcpdiag "tcpdiag replay F --format ndjson --threads 1" "$RUNS" "$TCPDIAG" replay "$f" --format ndjson --threads 1
    if [ -n "${BASELINE:-}" ] && { [ "$size" = 1x ] || [ "$size" = synflood ]; }; then
        row "tcpdiag before" "tcpdiag replay F --format ndjson" "$RUNS" "$BASELINE" replay "$f" --format ndjson
        row "tcpdiag before" "tcpdiag replay F --format table" "$RUNS" "$BASELINE" replay "$f" --format table
    fi
    row tcpdiag "tcpdiag replay F --format json" "$RUNS" "$TCPDIAG" replay "$f" --format json
    row tcpdiag "tcpdiag replay F --format table" "$RUNS" "$TCPDIAG" replay "$f" --format table
    [ "${PEERS:-1}" = 1 ] || continue
    row "libpcap loop" "pcap_loop F" "$RUNS" "$WORK/pcap_loop" "$f"
    # The C loop of the instruction benchmark: read, parse, flow hash table.
    row "C flow loop" "pcap_loop --flows F" "$RUNS" "$WORK/pcap_loop" --flows "$f"
    [ "$size" = synflood ] && continue
    row tcpdump "tcpdump -r F -w /dev/null" "$RUNS" tcpdump -r "$f" -w /dev/null
    r=$(rank "$size")
    if [ "$r" -le "$slow_up_to" ]; then
        row tcptrace "tcptrace -n F" "$RUNS" tcptrace -n "$f"
        row tshark "tshark -n -q -r F -z conv,tcp" "$RUNS" tshark -n -q -r "$f" -z conv,tcp
    else
        row tcptrace "tcptrace -n F" 1 tcptrace -n "$f"
    fi
    if [ "$r" = 1 ]; then
        row tshark "tshark -n -r F -Y tcp.analysis.flags" "$RUNS" tshark -n -r "$f" -Y tcp.analysis.flags
    fi
done
echo >>"$OUT"
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT"
cat "$OUT"
