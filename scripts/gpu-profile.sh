#!/usr/bin/env bash
# Where a request's time goes on the GPU (issue 15): export the built-in models at the seed's
# sizes, serve them with instance kind GPU (local path: nvidia-pytriton's tritonserver + our
# onnxruntime backend), then `python -m profiling` for both models over HTTP with CUDA shm and
# with system shm. Run it before and after the GPU data-path change to see the device->host->
# device trip go (ORT's MemcpyToHost/MemcpyFromHost nodes, Triton's compute input/output).
#
#   scripts/gpu-profile.sh [OUT_DIR] [LABEL]      e.g. scripts/gpu-profile.sh "$OUT" before
#
# Writes OUT_DIR/<LABEL>-<shm>/<model>/{timeline.json,summary.txt,request.png,raw/}; copy the
# first three into docs/profiling/h200-<LABEL>-<shm>/ (raw/ holds ORT's full profile: large).
# Same wheel/venv variables as scripts/gpu-check.sh (GPU_CHECK_WHEELS, GPU_CHECK_VENV,
# GPU_CHECK_WORK). PROFILE_REQUESTS (default 30) traced requests per model.
# GPU_CHECK_CPU_SMOKE=1: the same on a machine without a GPU (KIND_CPU, system shm and none).
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=${1:-${OUT:-/tmp/gpu-profile-out}}
label=${2:-$(git rev-parse --short HEAD 2>/dev/null || echo run)}
work=${GPU_CHECK_WORK:-/tmp/tos-gpu}
mkdir -p "$out_dir" "$work"

source scripts/gpu-env.sh

export MODEL_REPOSITORY="$work/model_repository" STACK_RUN_DIR="$work/run"
if [ "${GPU_CHECK_CPU_SMOKE:-0}" = 1 ]; then
  export INSTANCE_KIND=KIND_CPU; shms="system none"
else
  export INSTANCE_KIND=KIND_GPU; shms="cuda system"
fi
trap '"$py" -m local_stack down >/dev/null 2>&1 || true; cp -f "$work/run/logs/tritonserver.log" "$out_dir/" 2>/dev/null || true' EXIT
echo "==> export ($INSTANCE_KIND)"
"$py" -m exporter --repository "$MODEL_REPOSITORY" 2>&1 | tail -8
echo "==> serve"
"$py" -m local_stack serve
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out_dir/gpu.txt" || true
for shm in $shms; do
  echo "==> profile, HTTP, shm $shm"
  "$py" -m profiling --protocol http --shm "$shm" --requests "${PROFILE_REQUESTS:-30}" \
    --out "$out_dir/$label-$shm" 2>&1 | tee "$out_dir/$label-$shm.log"
done
