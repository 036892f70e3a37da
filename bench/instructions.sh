#!/usr/bin/env bash
# Instruction benchmark: instructions per packet of `tcpdiag replay --threads 1`, counted
# by valgrind's callgrind (independent of the machine's load, unlike wall time), in total
# and per stage (bench/callgrind_stages.py), on slices of the bench corpus:
#   web_300k.pcap       the first 300,000 packets of web_1x.pcap (classic pcap), replayed
#                       with --format ndjson, json and table
#   synflood_100k.pcap  the first 100,000 SYNs of synflood.pcap, --format ndjson
# and the C loop (bench/pcap_loop.c --flows: libpcap read, parse, flow hash) on the web
# slice, with its reading alone, for the ratio.
# The row for the commit goes into docs/performance.md ("Instruction benchmark"),
# replacing an older row of the same commit; a build with uncommitted changes is
# measured and printed but not recorded.
# Usage: bench/instructions.sh [COMMIT]   (default: the worktree as it is; a COMMIT is
#        exported with git archive and built apart, in target/instructions)
#   env: CORPUS=DIR (default bench/corpus)  NO_DOC=1 (do not touch the docs)
#        FORMATS="ndjson json table flood"
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${CORPUS:-$ROOT/bench/corpus}
SLICES="$CORPUS/slices"
FORMATS=${FORMATS:-ndjson json table flood}
RESULTS="$ROOT/bench/results/instructions"
DOC="$ROOT/docs/performance.md"
export COLUMNS=200 TZ=UTC LANG=C.UTF-8 LC_ALL=C.UTF-8 NO_COLOR=1
unset TERM
for tool in valgrind gcc editcap python3; do
    command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }
done
mkdir -p "$RESULTS" "$SLICES"
WORK=$(mktemp -d /tmp/tdinstr.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# The slices (classic pcap, so the reader is the same as for the full files).
slice() { # slice SRC DST N
    [ -s "$2" ] && return 0
    [ -f "$1" ] || { echo "missing $1: run bench/make_corpus.sh" >&2; exit 2; }
    editcap -F pcap -r "$1" "$2.tmp" "1-$3" && mv "$2.tmp" "$2"
}
slice "$CORPUS/web_1x.pcap" "$SLICES/web_300k.pcap" 300000
slice "$CORPUS/synflood.pcap" "$SLICES/synflood_100k.pcap" 100000

# The build: the profiling profile is the release build with symbols (same code).
if [ -n "${1:-}" ]; then
    COMMIT=$(git -C "$ROOT" rev-parse --short=7 "$1^{commit}")
    SRC="$WORK/src"
    mkdir -p "$SRC"
    git -C "$ROOT" archive "$COMMIT" | tar -x -C "$SRC"
    LABEL=$COMMIT
    export CARGO_TARGET_DIR="$ROOT/target/instructions"
else
    SRC=$ROOT
    COMMIT=$(git -C "$ROOT" rev-parse --short=7 HEAD)
    LABEL=$COMMIT
    if ! git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock build.rs; then
        LABEL="$COMMIT-dirty"
    fi
    export CARGO_TARGET_DIR="$ROOT/target"
fi
DATE=$(git -C "$ROOT" show -s --format=%cs "$COMMIT")
grep -q '^\[profile.profiling\]' "$SRC/Cargo.toml" || printf '\n[profile.profiling]\ninherits = "release"\ndebug = 1\nstrip = false\n' >>"$SRC/Cargo.toml"
cargo build --quiet --profile profiling --manifest-path "$SRC/Cargo.toml" --bin tcpdiag
BIN="$CARGO_TARGET_DIR/profiling/tcpdiag"
gcc -O2 -o "$WORK/pcap_loop" "$ROOT/bench/pcap_loop.c" -lpcap

# callgrind NAME CMD...: instructions of CMD (stdout discarded), profile in RESULTS
callgrind() {
    local name=$1; shift
    valgrind --tool=callgrind --callgrind-out-file="$RESULTS/$LABEL.$name.out" "$@" \
        >/dev/null 2>"$WORK/$name.err" || { echo "$name failed:" >&2; cat "$WORK/$name.err" >&2; exit 1; }
    sed -n 's/^summary: //p' "$RESULTS/$LABEL.$name.out"
}
packets_of() { "$WORK/pcap_loop" "$1" | cut -d' ' -f1; }
WEB_PKTS=$(packets_of "$SLICES/web_300k.pcap")
FLOOD_PKTS=$(packets_of "$SLICES/synflood_100k.pcap")

declare -A PER_PKT=()
for f in $FORMATS; do
    case $f in
        flood) file=$SLICES/synflood_100k.pcap; fmt=ndjson; n=$FLOOD_PKTS ;;
        *) file=$SLICES/web_300k.pcap; fmt=$f; n=$WEB_PKTS ;;
    esac
    echo "== $LABEL $f" >&2
    callgrind "$f" "$BIN" replay "$file" --format "$fmt" --threads 1 >/dev/null
    python3 "$ROOT/bench/callgrind_stages.py" "$RESULTS/$LABEL.$f.out" "$n" >"$WORK/$f.stages"
    PER_PKT[$f]=$(awk -F'\t' '$1 == "total" {print $3}' "$WORK/$f.stages")
done
c_total=$(callgrind cloop "$WORK/pcap_loop" --flows "$SLICES/web_300k.pcap")
c_read=$(callgrind cread "$WORK/pcap_loop" "$SLICES/web_300k.pcap")
C_LOOP=$(awk -v t="$c_total" -v n="$WEB_PKTS" 'BEGIN {printf "%.0f", t / n}')
C_READ=$(awk -v t="$c_read" -v n="$WEB_PKTS" 'BEGIN {printf "%.0f", t / n}')

# Per-stage table: one column per format.
{
    echo "Instructions per packet, $LABEL ($DATE), callgrind, --threads 1; measured $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    printf '| stage |'; for f in $FORMATS; do printf ' %s |' "$f"; done; echo
    printf '|---|'; for f in $FORMATS; do printf -- '---:|'; done; echo
    first=$(echo "$FORMATS" | cut -d' ' -f1)
    cut -f1 "$WORK/$first.stages" | while read -r stage; do
        printf '| %s |' "$stage"
        for f in $FORMATS; do
            printf ' %s |' "$(awk -F'\t' -v s="$stage" '$1 == s {print $3}' "$WORK/$f.stages")"
        done
        echo
    done
    echo
    echo "C loop (bench/pcap_loop.c --flows) on the web slice: $C_LOOP instructions per packet, of which reading (libpcap) $C_READ."
} | tee "$RESULTS/$LABEL.md"

row="| \`$COMMIT\` | $DATE | ${PER_PKT[ndjson]:--} | ${PER_PKT[json]:--} | ${PER_PKT[table]:--} | ${PER_PKT[flood]:--} | $C_LOOP |"
echo
echo "$row"
if [ "$LABEL" != "$COMMIT" ] || [ "${NO_DOC:-0}" = 1 ]; then
    echo "(not recorded in docs/performance.md: ${LABEL#"$COMMIT"}${NO_DOC:+ NO_DOC})" >&2
    exit 0
fi
# The row replaces the commit's older row, or ends the table.
python3 - "$DOC" "$COMMIT" "$row" <<'PY'
import sys
path, commit, row = sys.argv[1:]
head = "| commit | date | ndjson | json | table | flood | C loop |"
lines = open(path).read().split("\n")
if head not in lines:
    sys.exit(f"{path}: no '{head}' table (section 'Instruction benchmark')")
i = lines.index(head) + 2
while i < len(lines) and lines[i].startswith("|"):
    if lines[i].startswith(f"| `{commit}` |"):
        lines[i] = row
        break
    i += 1
else:
    lines.insert(i, row)
open(path, "w").write("\n".join(lines))
PY
echo "recorded in docs/performance.md" >&2
