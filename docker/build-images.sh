#!/usr/bin/env bash
# `make images`: every image the compose cpu profile needs, from Debian's archive and PyPI only
# (no pull from any image registry): the debootstrap base, then exporter, triton-cpu, client-cpu,
# prometheus + alertmanager (Debian's packages) through docker/compose.no-registry.yaml.
# A CPU torch wheel on this machine (LOCAL_WHEELS, default /opt/wheels) is copied into
# docker/wheels/ so the exporter image needs no PyTorch index.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
docker/base/build.sh
index_arg=()
for wheel in "${LOCAL_WHEELS:-/opt/wheels}"/torch-*+cpu-*.whl; do
  [ -f "$wheel" ] || continue
  cmp -s "$wheel" "docker/wheels/$(basename "$wheel")" || cp "$wheel" docker/wheels/
  index_arg=(--build-arg TORCH_INDEX_URL=)  # the local wheel is the CPU build: no index needed
  echo "images: torch from local wheel $(basename "$wheel")"
done
compose=(docker compose -f compose.yaml -f docker/compose.no-registry.yaml --profile cpu)
# compose interpolates the whole file even to build, and requires the control key; a build
# uses no key, so a placeholder will do where none is exported (docs/security.md).
export TRITON_CONTROL_KEY="${TRITON_CONTROL_KEY:-not-used-by-image-builds}"
# prometheus and alertmanager share one image: building it once is enough.
"${compose[@]}" build "${index_arg[@]}" exporter triton-cpu client-cpu prometheus
echo "images built in $(( $(date +%s) - start )) s:"
docker image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | grep triton-onnx-stack
