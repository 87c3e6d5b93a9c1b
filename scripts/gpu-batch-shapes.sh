#!/usr/bin/env bash
# Changing batch sizes on the GPU: in-process ORT with each cuDNN algorithm search, then the
# served simple_cnn (its exported config: 1 GPU instance, max batch 8, 100 us queue delay) at
# concurrency 16 over CUDA shared memory.
#
#   scripts/gpu-batch-shapes.sh [OUT_DIR]     (same wheel/venv variables as scripts/gpu-check.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=${1:-${OUT:-/tmp/gpu-batch-shapes-out}}
work=${GPU_CHECK_WORK:-/tmp/tos-gpu-shapes}
mkdir -p "$out_dir" "$work"
source scripts/gpu-env.sh
export MODEL_REPOSITORY="$work/model_repository" STACK_RUN_DIR="$work/run"
export INSTANCE_KIND=KIND_GPU ENSEMBLE_STEPS=0
trap '"$py" -m local_stack down >/dev/null 2>&1 || true' EXIT
echo "==> export simple_cnn (KIND_GPU)"
"$py" -m exporter --repository "$MODEL_REPOSITORY" --models simple_cnn 2>&1 | tail -3
grep -A1 cudnn_conv_algo_search "$MODEL_REPOSITORY/simple_cnn/config.pbtxt" || true
echo "==> in-process ORT, batch sizes fixed and changing"
"$py" scripts/gpu_batch_shapes.py "$MODEL_REPOSITORY/simple_cnn/1/model.onnx" 8 EXHAUSTIVE HEURISTIC 2>&1 \
  | grep -v 'Memcpy\|Fallback'
echo "==> served simple_cnn, concurrency 16, CUDA shm"
"$py" -m local_stack serve
"$py" -m client --model simple_cnn --protocol http --shm cuda --concurrency 16 \
  --measurement-interval 2000 --max-trials 5 --report "$out_dir/client-c16" 2>&1 | tail -15
grep -i "provider\|cudnn" "$STACK_RUN_DIR/logs/tritonserver.log" | head -5 || true
