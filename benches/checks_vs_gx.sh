#!/usr/bin/env bash
# kiroku's checks engine against Great Expectations 1.x on pandas and plain pandas, as whole
# processes in the same go: the same 12 checks (row count, not null, two betweens, unique, in
# set, not in set, regex, value lengths, mean, median, stdev) over a ROWS-row, 20-column CSV
# (about 300 MB at the default million rows) and the same data as Parquet for kiroku. Each tool
# runs RUNS times; the best wall time and the peak RSS (`/usr/bin/time -v`) of each are shown,
# with the ratios, and the CPU time (user+sys) of each best run: on a shared machine wall times
# swing with the other load, and kiroku's two threads lose more to it than single-threaded
# pandas does.
#
# Usage: benches/checks_vs_gx.sh [KIROKU_BINARY]   (default: target/release/kiroku; build it with
# `cargo build --release`). Needs python3 with great_expectations, pandas and pyarrow, and GNU
# time. Exits 1 when kiroku (CSV) is not 10x faster than GX and 2x faster than pandas, its peak
# memory is 150 MB or more, or Parquet is slower than CSV.
set -euo pipefail

KIROKU=$(realpath "${1:-target/release/kiroku}")
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$KIROKU" ] || { echo "$KIROKU is missing: cargo build --release" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "GNU time is missing: apt-get install time" >&2; exit 2; }
python3 -c 'import great_expectations, pandas, pyarrow' 2>/dev/null \
    || { echo "needs python3 with great_expectations, pandas, pyarrow" >&2; exit 2; }

WORK=$(mktemp -d /tmp/kiroku-checks-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
echo "generating $ROWS rows ..."
python3 "$HERE/checks_vs_gx.py" generate "$WORK" "$ROWS"
echo "bench.csv $(du -m "$WORK/bench.csv" | cut -f1) MB, bench.parquet $(du -m "$WORK/bench.parquet" | cut -f1) MB"
cat "$WORK/bench.csv" "$WORK/bench.parquet" > /dev/null   # all tools start from a warm page cache

# measure NAME COMMAND...: best wall seconds and the largest peak RSS (MB) over RUNS runs.
declare -A WALL RSS CPU
measure() {
    local name=$1; shift
    local best="" peak=0 cpu=""
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -v -o "$WORK/time.txt" "$@" > "$WORK/out.txt" 2> "$WORK/err.txt" || {
            local code=$?
            # kiroku exits 1 when checks fail (they do: the data has planted defects).
            if [ "$code" -ne 1 ] || [ "$name" = gx ] || [ "$name" = pandas ]; then
                echo "$name failed ($code):"; cat "$WORK/err.txt"; exit 1
            fi
        }
        local wall rss
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$WORK/time.txt")
        rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$WORK/time.txt")
        local used
        used=$(awk -F': ' '/User time|System time/ { s += $2 } END { print s }' "$WORK/time.txt")
        if [ -z "$best" ] || awk "BEGIN { exit !($wall < $best) }"; then best=$wall; cpu=$used; fi
        if [ "$rss" -gt "$peak" ]; then peak=$rss; fi
    done
    WALL[$name]=$best
    RSS[$name]=$peak
    CPU[$name]=$cpu
    printf "%-16s %8.2f s %8.2f s CPU %8d MB   %s\n" "$name" "$best" "$cpu" "$peak" "$(head -c 100 "$WORK/out.txt" | tr '\n' ' ')"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "best of $RUNS runs each (wall time, CPU time user+sys of that run, peak RSS):"
measure gx python3 "$HERE/checks_vs_gx.py" gx "$WORK/bench.csv"
measure pandas python3 "$HERE/checks_vs_gx.py" pandas "$WORK/bench.csv"
measure kiroku-csv "$KIROKU" check "$WORK/suite.toml" --data "bench=$WORK/bench.csv" --no-record --format json
measure kiroku-parquet "$KIROKU" check "$WORK/suite.toml" --data "bench=$WORK/bench.parquet" --no-record --format json

ratio() { awk "BEGIN { printf \"%.1f\", $1 / $2 }"; }
echo
echo "GX / kiroku (CSV):           $(ratio "${WALL[gx]}" "${WALL[kiroku-csv]}")x   (target >= 10x)"
echo "pandas / kiroku (CSV):       $(ratio "${WALL[pandas]}" "${WALL[kiroku-csv]}")x   (target >= 2x)"
echo "kiroku CSV / Parquet:        $(ratio "${WALL[kiroku-csv]}" "${WALL[kiroku-parquet]}")x   (target >= 1x)"
echo "CPU time GX / kiroku (CSV):  $(ratio "${CPU[gx]}" "${CPU[kiroku-csv]}")x, pandas / kiroku (CSV): $(ratio "${CPU[pandas]}" "${CPU[kiroku-csv]}")x"
echo "kiroku peak RSS: CSV ${RSS[kiroku-csv]} MB, Parquet ${RSS[kiroku-parquet]} MB   (target < 150 MB)"

failed=0
awk "BEGIN { exit !(${WALL[gx]} >= 10 * ${WALL[kiroku-csv]}) }" || { echo "FAIL: not 10x faster than GX"; failed=1; }
awk "BEGIN { exit !(${WALL[pandas]} >= 2 * ${WALL[kiroku-csv]}) }" || { echo "FAIL: not 2x faster than pandas"; failed=1; }
awk "BEGIN { exit !(${WALL[kiroku-parquet]} <= ${WALL[kiroku-csv]}) }" || { echo "FAIL: Parquet slower than CSV"; failed=1; }
[ "${RSS[kiroku-csv]}" -lt 150 ] && [ "${RSS[kiroku-parquet]}" -lt 150 ] || { echo "FAIL: 150 MB or more"; failed=1; }
exit $failed
