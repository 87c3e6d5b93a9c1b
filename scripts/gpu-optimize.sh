#!/usr/bin/env bash
# Issue 14 on a GPU machine: `python -m optimize` for simple_cnn and simple_transformer at the seed
# sizes, instance kind GPU, on the live local server (explicit model control), one report per model.
#
#   scripts/gpu-optimize.sh [OUT_DIR]      (same wheel/venv variables as scripts/gpu-check.sh)
#
# Budget: each model's served config's p99 at concurrency 16; ceiling: in-process ONNX Runtime
# (CUDA EP, device-resident and host-fed) over batch 1-32, measured in the same run. Requests go
# over CUDA shared memory, the device-resident path (docs/gpu/README.md).
#   OPTIMIZE_MODELS     the models (default: both); the repository is exported once and kept
#   OPTIMIZE_ARGS       flags for every search (default below: bounded for a lent machine's minutes)
#   OPTIMIZE_DEADLINE   epoch seconds: stop a search with SIGINT then (it cleans up and saves); the
#                       same command again resumes from OUT_DIR/<model>/optimize.json
# Commit OUT_DIR/<model>/ under docs/optimize/.
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=${1:-${OUT:-/tmp/gpu-optimize-out}}
work=${GPU_CHECK_WORK:-/tmp/tos-gpu}
models=${OPTIMIZE_MODELS:-simple_cnn simple_transformer}
mkdir -p "$out_dir" "$work"
source scripts/gpu-env.sh

export MODEL_REPOSITORY="$work/model_repository" STACK_RUN_DIR="$work/optimize-run"
export INSTANCE_KIND=KIND_GPU ENSEMBLE_STEPS=0
trap '"$py" -m local_stack down >/dev/null 2>&1 || true; cp -f "$STACK_RUN_DIR/logs/tritonserver.log" "$out_dir/" 2>/dev/null || true' EXIT
if [ -f "$MODEL_REPOSITORY/simple_cnn/config.pbtxt" ] && [ -f "$MODEL_REPOSITORY/simple_transformer/config.pbtxt" ]; then
  echo "==> export: kept from an earlier call ($MODEL_REPOSITORY)"
else
  echo "==> export (KIND_GPU)"
  "$py" -m exporter --repository "$MODEL_REPOSITORY" --models simple_cnn simple_transformer 2>&1 | tail -6
fi
echo "==> serve"
"$py" -m local_stack serve
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$out_dir/gpu.txt" 2>/dev/null || true
status=0
for model in $models; do
  echo "==> optimize $model"
  limit=0  # no limit
  if [ -n "${OPTIMIZE_DEADLINE:-}" ]; then
    limit=$((OPTIMIZE_DEADLINE - $(date +%s)))
    [ "$limit" -gt 30 ] || { echo "no time left for $model before OPTIMIZE_DEADLINE"; status=1; continue; }
  fi
  # shellcheck disable=SC2086 # OPTIMIZE_ARGS is a list of flags
  timeout -s INT "$limit" "$py" -m optimize --model "$model" \
    --budget-at-concurrency 16 --ceiling --quick --report "$out_dir/$model" \
    ${OPTIMIZE_ARGS:---shm cuda --max-candidates 12 --max-trials 4 --ceiling-seconds 3} \
    2>&1 | tee -a "$out_dir/$model.log" || status=1
done
exit $status
