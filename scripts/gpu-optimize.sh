#!/usr/bin/env bash
# Issue 14 on a GPU machine: `python -m optimize` for simple_cnn and simple_transformer at the seed
# sizes, instance kind GPU, on the live local server (explicit model control), one report per model.
#
#   scripts/gpu-optimize.sh [OUT_DIR]      (same wheel/venv variables as scripts/gpu-check.sh)
#
# Budget: each model's served config's p99 at concurrency 16; ceiling: in-process ONNX Runtime
# (CUDA EP) over batch 1-32, measured in the same run. OPTIMIZE_ARGS adds flags (e.g. --exhaustive,
# --shm cuda); OPTIMIZE_MODELS picks the models. Commit OUT_DIR/<model>/ under docs/optimize/.
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=${1:-${OUT:-/tmp/gpu-optimize-out}}
work=${GPU_CHECK_WORK:-/tmp/tos-gpu}
mkdir -p "$out_dir" "$work"
source scripts/gpu-env.sh

export MODEL_REPOSITORY="$work/model_repository" STACK_RUN_DIR="$work/optimize-run"
export INSTANCE_KIND=KIND_GPU ENSEMBLE_STEPS=0
trap '"$py" -m local_stack down >/dev/null 2>&1 || true; cp -f "$STACK_RUN_DIR/logs/tritonserver.log" "$out_dir/" 2>/dev/null || true' EXIT
echo "==> export (KIND_GPU)"
"$py" -m exporter --repository "$MODEL_REPOSITORY" --models ${OPTIMIZE_MODELS:-simple_cnn simple_transformer} 2>&1 | tail -6
echo "==> serve"
"$py" -m local_stack serve
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$out_dir/gpu.txt" 2>/dev/null || true
status=0
for model in ${OPTIMIZE_MODELS:-simple_cnn simple_transformer}; do
  echo "==> optimize $model"
  "$py" -m optimize --model "$model" --budget-at-concurrency 16 --ceiling --quick \
    --report "$out_dir/$model" ${OPTIMIZE_ARGS:-} 2>&1 | tee "$out_dir/$model.log" || status=1
done
exit $status
