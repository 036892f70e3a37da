#!/usr/bin/env bash
# Output must not change with a performance change: this rebuilds tcpdiag, replays the
# benchmark slices (bench/instructions.sh) and every capture under fixtures/ in every
# format, and compares the outputs byte for byte with a reference run.
#   bench/same_output.sh --record [DIR]   write the reference (default DIR below)
#   bench/same_output.sh [DIR]            compare with it; exit 1 on any difference
# What is left out of the comparison, because it measures the process or the clock,
# not the capture: summary.memory's baseline, peak_accounted, peak_in_use and
# peak_resident (resident set and allocator counts), and the #open/#close lines of the
# zeek format (wall-clock time of writing). Everything else must be identical.
# The environment is fixed (COLUMNS, TZ, locale, no colour) so the table is too.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPUS=${CORPUS:-$ROOT/bench/corpus}
RECORD=0
if [ "${1:-}" = --record ]; then RECORD=1; shift; fi
REF=${1:-/tmp/tcpdiag-same-output}
export COLUMNS=200 TZ=UTC LANG=C.UTF-8 LC_ALL=C.UTF-8 NO_COLOR=1
unset TERM

# TCPDIAG=path: use that binary (e.g. an older build, to record the reference from it).
if [ -n "${TCPDIAG:-}" ]; then
    BIN=$TCPDIAG
else
    cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin tcpdiag
    BIN="$ROOT/target/release/tcpdiag"
fi
SLICES="$CORPUS/slices"
[ -f "$SLICES/web_300k.pcap" ] || { echo "missing $SLICES/web_300k.pcap: run bench/instructions.sh once" >&2; exit 2; }

OUT=$(mktemp -d /tmp/tdsame.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
[ "$RECORD" = 1 ] && { rm -rf "$REF"; mkdir -p "$REF"; OUT_DIR=$REF; } || OUT_DIR=$OUT

normalise() {
    sed -E 's/"(baseline|peak_accounted|peak_in_use|peak_resident)":[0-9]+/"\1":-/g; /^#(open|close)\t/d'
}

# run NAME ARGS...: one replay, normalised output in OUT_DIR/NAME
run() {
    local name=$1; shift
    local rc=0
    "$BIN" replay "$@" 2>"$OUT_DIR/$name.err" | normalise >"$OUT_DIR/$name" || rc=$?
    echo "exit $rc" >>"$OUT_DIR/$name.err"
}

for fmt in ndjson json table zeek; do
    run "web_300k.$fmt" "$SLICES/web_300k.pcap" --format "$fmt" --threads 1
    run "synflood_100k.$fmt" "$SLICES/synflood_100k.pcap" --format "$fmt" --threads 1
done
# The two-thread pipeline must write the same bytes; the table in colour too.
run web_300k.ndjson.t2 "$SLICES/web_300k.pcap" --format ndjson --threads 2
run web_300k.table-color "$SLICES/web_300k.pcap" --format table --color always --threads 1
for f in "$ROOT"/fixtures/*.pcap "$ROOT"/fixtures/*.pcapng; do
    b=$(basename "$f")
    for fmt in ndjson json table zeek; do
        run "$b.$fmt" "$f" --format "$fmt" --threads 1
    done
    run "$b.table-timeline" "$f" --format table --timeline --threads 1
    run "$b.table-color" "$f" --format table --timeline --color always --threads 1
    run "$b.json-full" "$f" --format json --timeline full --threads 1
done

if [ "$RECORD" = 1 ]; then
    echo "reference: $(ls "$REF" | grep -vc '\.err$') outputs in $REF ($BIN$([ -n "${TCPDIAG:-}" ] || echo " at $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo ', with uncommitted changes')"))"
    exit 0
fi
bad=0
for ref in "$REF"/*; do
    name=$(basename "$ref")
    if ! cmp -s "$ref" "$OUT/$name"; then
        bad=$((bad + 1))
        echo "DIFFERENT: $name" >&2
        diff <(tr ',' '\n' <"$ref") <(tr ',' '\n' <"$OUT/$name") | head -10 >&2 || true
    fi
done
n=$(ls "$REF" | grep -vc '\.err$')
[ "$bad" = 0 ] && { echo "same output: $n outputs identical to $REF"; exit 0; }
echo "$bad of $((n * 2)) files differ" >&2
exit 1
