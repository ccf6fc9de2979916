#!/usr/bin/env bash
# An agent's search over 100,000 runs through `kiroku mcp` (stdio, the official Python MCP
# client), against the same search at the command line (`kiroku runs ls --format json`, the
# peer: same store, same query), in one go:
#
#   1. a store of RUNS synthetic runs (`kiroku dev gen-store`: params lr/optimizer/seed/
#      batch_size, metrics acc/loss, tag team);
#   2. `kiroku runs ls --filter F --sort S --limit 20 --format json`: median wall time of N
#      process runs (what a script pays, process start included);
#   3. `search_runs` with the same filter and sort through MCP: the cold call (spawn,
#      initialize, first call) and the median and p95 of N calls on the open session, each
#      from request to parsed result.
#
# Usage: benches/mcp_stdio.sh [KIROKU_BINARY]   (default target/release/kiroku: `cargo build
# --release`). Needs python3 with `mcp` (pip install mcp). Exits 1 when an MCP call's median
# is 200 ms or more.
set -euo pipefail

KIROKU=$(realpath "${1:-target/release/kiroku}")
RUNS=${RUNS:-100000}
CALLS=${CALLS:-30}
FILTER=${FILTER:-"params.optimizer = 'adam' and metrics.acc > 0.9"}
SORT=${SORT:-"metrics.acc desc"}
[ -x "$KIROKU" ] || { echo "$KIROKU is missing: cargo build --release" >&2; exit 2; }
python3 -c 'import mcp' 2>/dev/null || { echo "python3 lacks mcp: pip install mcp" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)

WORK=$(mktemp -d /tmp/kiroku-mcp-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
STORE="$WORK/.kiroku"
export KIROKU_USER=bench
(cd "$WORK" && "$KIROKU" init >/dev/null)
echo "== a store of $RUNS runs"
"$KIROKU" --store "$STORE" dev gen-store --runs "$RUNS" --points "$((RUNS * 4))" >/dev/null

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f\n", m }'; }
now_us() { echo "${EPOCHREALTIME/./}"; }

echo "== the command line: runs ls --filter \"$FILTER\" --sort \"$SORT\" --limit 20 (median of $CALLS)"
for _ in $(seq "$CALLS"); do
    t0=$(now_us)
    "$KIROKU" --store "$STORE" runs ls --filter "$FILTER" --sort "$SORT" --limit 20 --format json >/dev/null
    echo "$(( $(now_us) - t0 ))"
done | awk '{ print $1 / 1000 }' | median | sed 's/^/cli_median_ms=/'

echo "== MCP search_runs over stdio (median and p95 of $CALLS calls on one session)"
RESULT=$(python3 "$HERE/mcp_stdio.py" "$KIROKU" "$STORE" "$CALLS" "$FILTER" "$SORT")
echo "$RESULT"
python3 - "$RESULT" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
ok = r["median_ms"] < 200
print(f"search_runs over {r['total']} matching runs: median {r['median_ms']} ms, p95 {r['p95_ms']} ms, cold {r['cold_ms']} ms -> {'OK' if ok else 'TOO SLOW'} (limit 200 ms)")
sys.exit(0 if ok else 1)
PY
