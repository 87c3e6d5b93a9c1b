#!/usr/bin/env bash
# GPU proof of the local path (issue 7): export on the GPU machine, serve with instance kind GPU,
# then scripts/gpu_check.py checks parity over CUDA shm / system shm / no shm at batch 1, 4, 8 with
# merging, the device-resident data path, GPU memory over 1,000 requests, GPU metrics, EPs, cleanup.
#
#   scripts/gpu-check.sh [OUT_DIR]
#
# GPU_CHECK_WHEELS: folder of wheels to install over the machine's Python (default .whl; on the lent
#   GPU machine nothing can be downloaded, so nvidia-pytriton, numpy<2, tritonclient and
#   onnxruntime-gpu travel as wheels: see docs/gpu/README.md).
# GPU_CHECK_VENV: the venv to use or create (default /tmp/tos-gpu-venv, over the machine's packages).
# GPU_CHECK_CPU_SMOKE=1: run on a machine without a GPU, skipping the CUDA-only checks.
# TRITON_ONNXRUNTIME_BACKEND: native (default; NVIDIA's backend, GPU variant carried as built
#   elsewhere, see scripts/gpu-env.sh) or python (ours). With native, a short verbose start first
#   records ONNX Runtime's node placement (scripts/gpu_native_placement.py).
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=${1:-${OUT:-/tmp/gpu-check-out}}
work=${GPU_CHECK_WORK:-/tmp/tos-gpu}
mkdir -p "$out_dir" "$work"

source scripts/gpu-env.sh

export MODEL_REPOSITORY="$work/model_repository" STACK_RUN_DIR="$work/run"
# Batch-8 requests can only merge under a larger max batch; a longer queue delay makes the
# dynamic batcher merge the check's 4 requests in flight, so the split path is proven too.
export DEFAULT_MAX_BATCH_SIZE=${DEFAULT_MAX_BATCH_SIZE:-16} MAX_QUEUE_DELAY_US=${MAX_QUEUE_DELAY_US:-5000}
if [ "${GPU_CHECK_CPU_SMOKE:-0}" = 1 ]; then
  export INSTANCE_KIND=KIND_CPU; smoke=--no-gpu-ok
else
  export INSTANCE_KIND=KIND_GPU; smoke=
fi

trap '"$py" -m local_stack down >/dev/null 2>&1 || true; cp -f "$work/run/logs/tritonserver.log" "$out_dir/" 2>/dev/null || true' EXIT
echo "==> export ($INSTANCE_KIND)"
"$py" -m exporter --repository "$MODEL_REPOSITORY" 2>&1 | tail -8
placement=()
if [ "${TRITON_ONNXRUNTIME_BACKEND:-native}" = native ] && [ -z "$smoke" ]; then
  echo "==> native backend: ONNX Runtime's node placement (verbose start, own ports)"
  "$py" scripts/gpu_native_placement.py --repository "$MODEL_REPOSITORY" --run-dir "$work/placement-run" \
    --out "$out_dir/native-placement.log" && placement=(--placement-log "$out_dir/native-placement.log") || true
fi
# GPU memory before the server exists, to show the metric follows what the models take.
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits >"$work/memory-before-mib" 2>/dev/null || true
echo "==> serve"
"$py" -m local_stack serve
echo "==> checks"
set -o pipefail
"$py" scripts/gpu_check.py --out "$work/runs" --memory-before "$work/memory-before-mib" $smoke "${placement[@]}" 2>&1 | tee "$out_dir/gpu-check.log"
