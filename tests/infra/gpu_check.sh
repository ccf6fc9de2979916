#!/usr/bin/env bash
# The job queue on a real NVIDIA GPU, once, where a box with a driver and a GPU is at hand (CI
# has none: tests/gpu_discovery.rs covers discovery there with a stand-in `nvidia-smi`):
#
#   1. what `nvidia-smi` reports, beside `kiroku jobs gpus` through NVML and through
#      `nvidia-smi` (KIROKU_NVML=off);
#   2. one job with `--gpus 1` on the local target (`gpus = "auto"`): a Python script that
#      creates a CUDA context and holds 1 GiB through the driver API (ctypes, libcuda.so.1; no
#      framework needed) and prints the CUDA variables it got; while it runs, a second
#      `--gpus 1` job (on a one-GPU box it waits and says why), `kiroku jobs gpus` and the
#      driver's compute processes; then both jobs, the first's log and its run.
#
# Usage: tests/infra/gpu_check.sh [KIROKU_BINARY]   (default target/release/kiroku). Writes
# everything to stdout and, when $OUT is set, to $OUT/gpu_check.txt. About 40 s.
set -uo pipefail
KIROKU=$(realpath "${1:-target/release/kiroku}")
[ -x "$KIROKU" ] || { echo "$KIROKU is missing: cargo build --release" >&2; exit 2; }
WORK=$(mktemp -d /tmp/kiroku-gpu.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
if [ -n "${OUT:-}" ]; then exec > >(tee "$OUT/gpu_check.txt") 2>&1; fi
cd "$WORK"
export KIROKU_STORE="$WORK/.kiroku" KIROKU_USER=gpu-check
k() { echo "\$ kiroku $*"; "$KIROKU" "$@"; }

echo "== the driver"
nvidia-smi --query-gpu=index,uuid,name,memory.used,memory.total,utilization.gpu --format=csv
"$KIROKU" init >/dev/null
echo "== discovery through NVML"
k jobs gpus --format table
k jobs gpus --format json
echo "== discovery through nvidia-smi"
KIROKU_NVML=off "$KIROKU" jobs gpus --format table

printf '[targets.local]\nkind = "local"\ngpus = "auto"\nmax_parallel = 4\n' > kiroku.toml
cat > hold.py <<'PY'
import ctypes, os, sys, time
print("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES"),
      "CUDA_DEVICE_ORDER", os.environ.get("CUDA_DEVICE_ORDER"), flush=True)
cuda = ctypes.CDLL("libcuda.so.1")
assert cuda.cuInit(0) == 0, "cuInit"
count, dev = ctypes.c_int(), ctypes.c_int()
cuda.cuDeviceGetCount(ctypes.byref(count))
cuda.cuDeviceGet(ctypes.byref(dev), 0)
name = ctypes.create_string_buffer(128)
cuda.cuDeviceGetName(name, 128, dev)
print("devices visible:", count.value, "first:", name.value.decode(), flush=True)
ctx, ptr = ctypes.c_void_p(), ctypes.c_uint64()
assert cuda.cuCtxCreate_v2(ctypes.byref(ctx), 0, dev) == 0, "cuCtxCreate"
assert cuda.cuMemAlloc_v2(ctypes.byref(ptr), 1 << 30) == 0, "cuMemAlloc"
print("holding 1 GiB on the GPU", flush=True)
time.sleep(float(sys.argv[1]))
print("loss: 0.25", flush=True)
PY

echo "== one job with --gpus 1"
first=$("$KIROKU" submit --gpus 1 --name gpu-check -- python3 hold.py 12) || exit 1
second=$("$KIROKU" submit --gpus 1 --name second -- python3 hold.py 1) || exit 1
echo "jobs $first and $second"
for _ in $(seq 100); do
    grep -q 'holding' "$WORK"/.kiroku/runs/*/output.log 2>/dev/null && break
    sleep 0.2
done
sleep 2
k jobs ls --format table
k jobs gpus --format table
echo "\$ nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory"
nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory --format=csv
for _ in $(seq 150); do
    [ "$("$KIROKU" jobs ls --status queued --status starting --status running --format json |
        grep -c '"id"')" = 0 ] && break
    sleep 0.2
done
k jobs ls --format table
k jobs show "$first"
k jobs logs "$first"
run=$("$KIROKU" jobs show "$first" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["job"]["run_id"])')
k show "$run"
