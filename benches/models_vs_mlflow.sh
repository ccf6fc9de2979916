#!/usr/bin/env bash
# Models through the real MLflow client, kiroku serve against MLflow's own server in one run:
# log_model of a small sklearn model (kiroku no slower) and registry searches over 10,000
# versions (kiroku >= 5x faster). See benches/models_vs_mlflow.py for what is measured.
#
# Usage: benches/models_vs_mlflow.sh [KIROKU_BINARY]   (default target/release/kiroku; build it
# with `cargo build --release`). Needs python3 with mlflow and scikit-learn. Exits 1 when a
# target is missed.
set -euo pipefail
KIROKU=$(realpath "${1:-target/release/kiroku}")
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$KIROKU" ] || { echo "$KIROKU is missing: cargo build --release" >&2; exit 2; }
python3 -c 'import mlflow, sklearn' 2>/dev/null || { echo "needs python3 with mlflow and scikit-learn" >&2; exit 2; }
exec python3 "$HERE/models_vs_mlflow.py" --kiroku "$KIROKU"
