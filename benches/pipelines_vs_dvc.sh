#!/usr/bin/env bash
# kiroku repro vs DVC 3 on the pipelines issue's project, in the same go: 10 raw files of 20 MB
# → 10 prep stages → 5 train stages → 1 eval stage, plus four independent stages that sleep
# 1 s. Each tool gets its own copy of the project (both `dvc init --no-scm`, so both fill a
# DVC cache) and kiroku its own fresh store. Timed: the first repro, a no-op repro, a no-op
# status, the rerun after one raw file changes (its rerun set checked: prep@3, train@1, eval),
# and the four 1-second stages forced. Prints a table with the ratio DVC / kiroku.
#
#   benches/pipelines_vs_dvc.sh            # builds target/release/kiroku first
#   KIROKU=/path/to/kiroku benches/pipelines_vs_dvc.sh
#
# Needs dvc (pip install 'dvc==3.67.*') and python3.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "${KIROKU:-}" ]; then
  (cd "$here" && cargo build --release --quiet)
  KIROKU="$here/target/release/kiroku"
fi
command -v dvc >/dev/null || { echo "dvc is missing: pip install 'dvc==3.67.*'"; exit 1; }
export DVC_NO_ANALYTICS=1

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "project in $work ($(dvc --version | head -1) vs $("$KIROKU" --version))"

base="$work/base"
mkdir -p "$base/raw"
for i in $(seq 0 9); do
  head -c $((20 * 1024 * 1024)) /dev/urandom > "$base/raw/raw_$i.bin"
done
cat > "$base/prep.py" <<'EOF'
import sys
i = sys.argv[1]
data = open(f"raw/raw_{i}.bin", "rb").read()
open(f"prep/prep_{i}.bin", "wb").write(bytes(reversed(data)))
EOF
cat > "$base/train.py" <<'EOF'
import hashlib, json, sys
i, a, b = sys.argv[1:4]
h = hashlib.sha256()
for part in (a, b):
    h.update(open(f"prep/prep_{part}.bin", "rb").read())
json.dump({"model": i, "digest": h.hexdigest()}, open(f"models/model_{i}.json", "w"))
EOF
cat > "$base/eval.py" <<'EOF'
import glob, json
models = [json.load(open(p)) for p in sorted(glob.glob("models/model_*.json"))]
json.dump({"models": len(models), "score": sum(int(m["digest"][:4], 16) for m in models) / 65536}, open("metrics.json", "w"))
EOF
{
  echo "stages:"
  echo "  prep:"
  echo "    foreach: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"
  echo "    do:"
  echo "      cmd: mkdir -p prep && python3 prep.py \${item}"
  echo "      deps:"
  echo "        - prep.py"
  echo "        - raw/raw_\${item}.bin"
  echo "      outs:"
  echo "        - prep/prep_\${item}.bin"
  echo "  train:"
  echo "    foreach:"
  for i in 0 1 2 3 4; do
    echo "      - {id: $i, a: $((2 * i)), b: $((2 * i + 1))}"
  done
  echo "    do:"
  echo "      cmd: mkdir -p models && python3 train.py \${item.id} \${item.a} \${item.b}"
  echo "      deps:"
  echo "        - train.py"
  echo "        - prep/prep_\${item.a}.bin"
  echo "        - prep/prep_\${item.b}.bin"
  echo "      outs:"
  echo "        - models/model_\${item.id}.json"
  echo "  eval:"
  echo "    cmd: python3 eval.py"
  echo "    deps:"
  echo "      - eval.py"
  for i in 0 1 2 3 4; do echo "      - models/model_$i.json"; done
  echo "    metrics: [metrics.json]"
  echo "  sleep:"
  echo "    foreach: [a, b, c, d]"
  echo "    do:"
  echo "      cmd: mkdir -p slept && sleep 1 && echo \${item} > slept/\${item}.txt"
  echo "      outs:"
  echo "        - slept/\${item}.txt"
} > "$base/dvc.yaml"

cp -r "$base" "$work/dvc"
cp -r "$base" "$work/kiroku"
(cd "$work/dvc" && dvc init --no-scm -q)
(cd "$work/kiroku" && dvc init --no-scm -q)
mkdir -p "$work/store" && (cd "$work/store" && "$KIROKU" init >/dev/null)
export KIROKU_STORE="$work/store/.kiroku"

# Seconds `$@` takes in folder $1 (output to $work/last.out).
timed() {
  local dir="$1"; shift
  local t0 t1
  t0=$(date +%s.%N)
  (cd "$dir" && "$@") > "$work/last.out" 2>&1 || { cat "$work/last.out" >&2; echo "failed: $*" >&2; return 1; }
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.3f}')"
}

rows=()
row() { rows+=("$1|$2|$3"); }

d=$(timed "$work/dvc" dvc repro); k=$(timed "$work/kiroku" "$KIROKU" repro); row "first repro" "$d" "$k"
d=$(timed "$work/dvc" dvc repro); k=$(timed "$work/kiroku" "$KIROKU" repro); row "no-op repro" "$d" "$k"
status=("$KIROKU" status)
if ! "$KIROKU" status --help >/dev/null 2>&1; then
  echo "(this kiroku has no \`status\`: timing \`repro --dry\` in its place)"
  status=("$KIROKU" repro --dry)
fi
d=$(timed "$work/dvc" dvc status); k=$(timed "$work/kiroku" "${status[@]}"); row "no-op status" "$d" "$k"

# One raw file changes (the same bytes in both copies).
head -c 4096 /dev/urandom > "$work/extra.bin"
cat "$work/extra.bin" >> "$work/dvc/raw/raw_3.bin"
cat "$work/extra.bin" >> "$work/kiroku/raw/raw_3.bin"
d=$(timed "$work/dvc" dvc repro)
dvc_ran=$(grep -o "Running stage '[^']*'" "$work/last.out" | sed "s/Running stage '\(.*\)'/\1/" | sort | tr '\n' ' ')
k=$(timed "$work/kiroku" "$KIROKU" repro --format json)
kiroku_ran=$(python3 -c "import json,sys; print(' '.join(sorted(s['stage'] for s in json.load(open(sys.argv[1]))['stages'] if s['outcome'] == 'ran')))" "$work/last.out")
row "repro after raw_3 changed" "$d" "$k"

d=$(timed "$work/dvc" dvc repro -f -s sleep@a sleep@b sleep@c sleep@d)
k=$(timed "$work/kiroku" "$KIROKU" repro -f -s sleep@a sleep@b sleep@c sleep@d)
row "four 1-second stages" "$d" "$k"

printf '\n%-28s %10s %10s %8s\n' "operation" "dvc (s)" "kiroku (s)" "ratio"
for r in "${rows[@]}"; do
  IFS='|' read -r name d k <<<"$r"
  printf '%-28s %10s %10s %7.1fx\n' "$name" "$d" "$k" "$(python3 -c "print($d / max($k, 0.001))")"
done
echo
echo "rerun set after raw_3 changed: dvc [${dvc_ran% }], kiroku [$kiroku_ran]"
expected="eval prep@3 train@1"
[ "${dvc_ran% }" = "$expected" ] || echo "UNEXPECTED dvc rerun set (expected $expected)"
[ "$kiroku_ran" = "$expected" ] || { echo "UNEXPECTED kiroku rerun set (expected $expected)"; exit 1; }
# DVC agrees that kiroku left its copy up to date.
(cd "$work/kiroku" && dvc status) | grep -q "up to date" && echo "dvc status in kiroku's copy: up to date" \
  || { echo "dvc status in kiroku's copy is not up to date:"; (cd "$work/kiroku" && dvc status); exit 1; }
