#!/usr/bin/env bash
# `make images`: every image the compose cpu profile needs, from Debian's archive and PyPI only
# (no pull from any image registry): the debootstrap base, then exporter, triton-cpu, client-cpu,
# prometheus + alertmanager (Debian's packages) through docker/compose.no-registry.yaml.
# A CPU torch wheel on this machine (LOCAL_WHEELS, default /opt/wheels) is copied into
# docker/wheels/ so the exporter image needs no PyTorch index.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
# An engine and Compose v2 first, in the words `make up` and `make test` use for them: without
# the compose plugin docker itself only says "unknown shorthand flag: 'f' in -f", at the end.
problem=$(python3 -c 'from launcher import compose_runner; print(compose_runner.docker_engine_problem() or "")')
if [ -n "$problem" ]; then
  echo "images: $problem; \`sudo make prereqs\` installs what is missing (what CI runs)" >&2
  exit 1
fi
docker/base/build.sh
index_arg=()
for wheel in "${LOCAL_WHEELS:-/opt/wheels}"/torch-*+cpu-*.whl; do
  [ -f "$wheel" ] || continue
  cmp -s "$wheel" "docker/wheels/$(basename "$wheel")" || cp "$wheel" docker/wheels/
  index_arg=(--build-arg TORCH_INDEX_URL=)  # the local wheel is the CPU build: no index needed
  echo "images: torch from local wheel $(basename "$wheel")"
done
# NVIDIA's ONNX Runtime backend is built inside the triton-cpu image (docker/triton.Dockerfile) from
# the upstream sources of ONNXRUNTIME_BACKEND_SOURCES, staged into the build context; where that
# folder is missing the stage stays empty and the image's build clones the same refs.
sources=${ONNXRUNTIME_BACKEND_SOURCES:-$(sed -n 's/^ONNXRUNTIME_BACKEND_SOURCES=//p' .env | tail -1)}
rm -rf build/native-sources && mkdir -p build/native-sources
if [ -d "$sources/triton-onnxruntime_backend-r24.10" ]; then
  for folder in triton-onnxruntime_backend-r24.10 triton-backend-r24.10 triton-core-r24.10 \
      triton-common-r24.10 onnxruntime-c-api-19; do
    cp -r "$sources/$folder" build/native-sources/
  done
  chmod -R u+w build/native-sources
  echo "images: native backend sources from $sources"
fi
compose=(docker compose -f compose.yaml -f docker/compose.no-registry.yaml --profile cpu)
# prometheus and alertmanager share one image: building it once is enough.
"${compose[@]}" build "${index_arg[@]}" exporter triton-cpu client-cpu prometheus
echo "images built in $(( $(date +%s) - start )) s:"
docker image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | grep triton-onnx-stack
