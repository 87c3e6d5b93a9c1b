#!/usr/bin/env bash
# Issues 14 and 24 on a GPU machine: `python -m optimize` for simple_cnn and simple_transformer at the
# seed sizes, instance kind GPU, on the live local server (explicit model control; NVIDIA's native
# backend unless TRITON_ONNXRUNTIME_BACKEND=python), one report per model.
#
#   scripts/gpu-optimize.sh [OUT_DIR]      (same wheel/venv variables as scripts/gpu-check.sh)
#
# Goal: a p99 budget of OPTIMIZE_BUDGET_MS (default 50); ceiling: in-process ONNX Runtime (CUDA EP,
# device-resident and host-fed, bench/floor.py) over batch 1-32, measured in the same run; the space's
# max batch sizes go up to the ceiling's best batch (capped by the CUDA memory pool: 8 GiB here).
# Requests go over CUDA shared memory (the default for GPU instances). The winner is applied
# (--apply) and `python -m profiling` then times its requests (OUT_DIR/<model>-profile/).
#   OPTIMIZE_MODELS     the models (default: both); the repository is exported once and kept
#   OPTIMIZE_ARGS       flags for every search (default below: bounded for a lent machine's minutes)
#   OPTIMIZE_ARGS_<model>  flags for that model's search only (e.g. --request-batch-size 8)
#   OPTIMIZE_DEADLINE_<model> / OPTIMIZE_DEADLINE  epoch seconds: stop that search with SIGINT then
#                       (it cleans up and saves); the same command again resumes from
#                       OUT_DIR/<model>/optimize.json
# Commit OUT_DIR/<model>/ under docs/optimize/.
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=${1:-${OUT:-/tmp/gpu-optimize-out}}
work=${GPU_CHECK_WORK:-/tmp/tos-gpu}
models=${OPTIMIZE_MODELS:-simple_cnn simple_transformer}
mkdir -p "$out_dir" "$work"
# A merged full-HD batch of 32 is 0.8 GB in and 0.8 GB out: the pool must hold it (optimize/reach.py).
export CUDA_MEMORY_POOL_BYTES=${CUDA_MEMORY_POOL_BYTES:-8589934592}
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
  deadline_var=OPTIMIZE_DEADLINE_$model model_args_var=OPTIMIZE_ARGS_$model
  deadline=${!deadline_var:-${OPTIMIZE_DEADLINE:-}}
  if [ -n "$deadline" ]; then
    limit=$((deadline - $(date +%s)))
    [ "$limit" -gt 30 ] || { echo "no time left for $model before its deadline"; status=1; continue; }
  fi
  nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader >>"$out_dir/gpu.txt" 2>/dev/null || true
  # shellcheck disable=SC2086 # OPTIMIZE_ARGS are lists of flags
  timeout -s INT "$limit" "$py" -m optimize --model "$model" \
    --p99-budget-ms "${OPTIMIZE_BUDGET_MS:-50}" --ceiling --quick --apply --report "$out_dir/$model" \
    ${OPTIMIZE_ARGS:---max-candidates 8 --measurement-interval 1000 --max-trials 4 --ceiling-seconds 2} \
    ${!model_args_var:-} 2>&1 | tee -a "$out_dir/$model.log" || status=1
  # The winner now serves (--apply): one request's timeline at the winner's concurrency.
  concurrency=$("$py" -c 'import json, sys
w = json.load(open(sys.argv[1]))["run"].get("winner"); print(w["concurrency"] if w else "")' \
    "$out_dir/$model/optimize.json" 2>/dev/null || true)
  if [ -n "$concurrency" ] && [ "${OPTIMIZE_PROFILE:-1}" = 1 ]; then
    echo "==> profile $model as the winner serves it (concurrency $concurrency)"
    timeout -s INT 90 "$py" -m profiling --model "$model" --protocol http --shm cuda \
      --concurrency "$concurrency" --requests 200 --no-ort --out "$out_dir/$model-profile" \
      2>&1 | tail -40 | tee -a "$out_dir/$model.log" || true
  fi
done
exit $status
