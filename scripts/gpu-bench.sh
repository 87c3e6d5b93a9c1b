#!/usr/bin/env bash
# `make bench --gpu` on a GPU machine: CUDA EP floor, instance kind GPU, CUDA shm among the data paths.
#   scripts/gpu-bench.sh [OUT_DIR] [bench flags]   (same wheel/venv variables as scripts/gpu-check.sh)
# BENCH_BACKENDS (default native,python): the onnxruntime backends served in turn in this one run,
#   against the same floors (one server each, same cells).
set -euo pipefail
cd "$(dirname "$0")/.."
out_dir=${1:-${OUT:-/tmp/gpu-bench-out}}
source scripts/gpu-env.sh
export STACK_RUN_DIR=${GPU_CHECK_WORK:-/tmp/tos-gpu}/bench-run
"$py" -m bench --gpu --out "$out_dir" --backends "${BENCH_BACKENDS:-native,python}" "${@:2}"
