#!/usr/bin/env bash
# Memory budget benchmark: adversarial captures built to hold as much state as
# possible at once (bench/adversarial.rs), replayed under the default --memory-limit
# (256M). For each: wall time, peak RSS (/usr/bin/time, whole process), and what the
# budget itself counted (summary.memory: peak accounted, peak in use) and dropped.
# Target: every peak RSS under the limit, the budget's accounting within 10% of it.
#   files: concurrent (99,000 flows open at once, 14 data segments each plus a
#          retransmission of each: 3.47 M packets), flood-v4 and flood-v6 (1 M SYNs
#          from 1 M sources), tuples (2 M short connections from 2 M client addresses)
# Usage: bench/memory.sh [NAME...]   env: LIMIT=256M FORMATS="ndjson table" OUT=file.md
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR="$ROOT/bench/corpus/adversarial"
LIMIT=${LIMIT:-256M}
FORMATS=${FORMATS:-ndjson json table}
NAMES=("$@"); [ ${#NAMES[@]} -gt 0 ] || NAMES=(concurrent flood-v4 flood-v6 tuples)
OUT=${OUT:-/dev/stdout}
WORK=$(mktemp -d /tmp/tdmem.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
for tool in jq /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin tcpdiag --example adversarial
TCPDIAG="$ROOT/target/release/tcpdiag"
GEN="$ROOT/target/release/examples/adversarial"
mkdir -p "$DIR"
make_file() {
    local f="$DIR/$1.pcap"
    [ -s "$f" ] && return 0
    case $1 in
        concurrent) "$GEN" concurrent 99000 14 "$f" ;;
        flood-v4) "$GEN" flood 1000000 v4 "$f" ;;
        flood-v6) "$GEN" flood 1000000 v6 "$f" ;;
        tuples) "$GEN" tuples 2000000 "$f" ;;
        *) echo "unknown file $1" >&2; exit 2 ;;
    esac
}
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
{
    echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), --memory-limit $LIMIT"
    echo
    echo "| file | packets | format | wall s | peak RSS MiB | accounted MiB (in use) | accounted / RSS | timelines dropped | closed flows finished early | open flows finished early |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
} >"$OUT"
for name in "${NAMES[@]}"; do
    make_file "$name"
    for fmt in $FORMATS; do
        /usr/bin/time -f "%e %M" -o "$WORK/t" "$TCPDIAG" replay "$DIR/$name.pcap" \
            --memory-limit "$LIMIT" --format "$fmt" >"$WORK/out" 2>"$WORK/err" || {
            echo "$name $fmt failed:" >&2; cat "$WORK/err" >&2; exit 1; }
        read -r wall rss_kb <"$WORK/t"
        # The table prints no JSON: its row shows the resident set only.
        case $fmt in
            ndjson) tail -n 1 "$WORK/out" | jq -c '{m: .memory, p: .packets.frames}' >"$WORK/mem" ;;
            # The document can be gigabytes: its summary is in the last few kilobytes.
            json) tail -c 65536 "$WORK/out" | python3 -c '
import json, re, sys
t = sys.stdin.read()
m = json.JSONDecoder().raw_decode(t, t.index("\"memory\":") + len("\"memory\":"))[0]
p = int(re.search(r"\"packets\":\{\"frames\":(\d+)", t).group(1))
print(json.dumps({"m": m, "p": p}))' >"$WORK/mem" ;;
            *) echo '{"m": {}, "p": null}' >"$WORK/mem" ;;
        esac
        read -r packets acc inuse shed lingers early < <(jq -r '[.p, .m.peak_accounted, .m.peak_in_use, .m.timelines_dropped, .m.closed_flows_finished_early, .m.flows_finished_early] | map(. // "-") | @tsv' "$WORK/mem")
        rss=$((rss_kb * 1024))
        if [ "$acc" = - ]; then
            accounted="-"; ratio="-"
        else
            accounted="$(mib "$acc") ($(mib "$inuse"))"
            ratio=$(awk -v a="$acc" -v r="$rss" 'BEGIN { printf "%.2f", a / r }')
        fi
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
            "$name" "$packets" "$fmt" "$wall" "$(mib "$rss")" "$accounted" \
            "$ratio" "$shed" "$lingers" "$early" >>"$OUT"
    done
done
