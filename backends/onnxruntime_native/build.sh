#!/usr/bin/env bash
# Builds NVIDIA's ONNX Runtime backend for Triton (onnxruntime_backend r24.10, the release of the
# Triton 2.51 core that nvidia-pytriton 0.7.0 ships and NGC 24.10 runs), unmodified, against ONNX
# Runtime's C library from PyPI. `make native-backend` runs it; so does docker/triton.Dockerfile.
#
#   backends/onnxruntime_native/build.sh [cpu|gpu]    (default: gpu where nvcc exists, else cpu)
#
# Output (cached: a second run with the same inputs rebuilds nothing):
#   $NATIVE_BACKEND_BUILD_DIR/<variant>/backend/   libtriton_onnxruntime.so + ONNX Runtime's libraries,
#                                                  what the server's backends/onnxruntime/ holds
#   .../backend/build-info.json                    variant, ONNX Runtime wheel, refs, time, size
#
# Settings (.env, or exported):
#   ONNXRUNTIME_BACKEND_SOURCES  folder holding triton-{onnxruntime_backend,backend,core,common}-r24.10
#       and onnxruntime-c-api-19/ (default: ../shared/third_party beside the checkout; where it is
#       missing, the same refs are cloned from GitHub into the build folder)
#   NATIVE_ORT_CPU_WHEEL / NATIVE_ORT_GPU_WHEEL  the PyPI package whose capi/ library is linked
#   NATIVE_BACKEND_BUILD_DIR     default build/onnxruntime_native
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
setting() {  # exported value, else .env's, else the default given
  local name=$1 default=${2:-} value
  if [ -n "${!name+x}" ]; then printf '%s' "${!name}"; return; fi
  value=$(sed -n "s/^$name=//p" .env 2>/dev/null | tail -1)
  printf '%s' "${value:-$default}"
}
variant=${1:-}
if [ -z "$variant" ]; then
  if command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; then variant=gpu; else variant=cpu; fi
fi
case "$variant" in cpu | gpu) ;; *) echo "usage: $0 [cpu|gpu]" >&2; exit 2 ;; esac
sources=$(setting ONNXRUNTIME_BACKEND_SOURCES ../shared/third_party)
build_root=$(setting NATIVE_BACKEND_BUILD_DIR build/onnxruntime_native)
if [ "$variant" = cpu ]; then wheel=$(setting NATIVE_ORT_CPU_WHEEL onnxruntime==1.19.2)
else wheel=$(setting NATIVE_ORT_GPU_WHEEL onnxruntime-gpu==1.31.1); fi
mkdir -p "$build_root"
build_root=$(cd "$build_root" && pwd)
out="$build_root/$variant"
missing=()
for tool in cmake make g++; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ -f /usr/include/rapidjson/rapidjson.h ] || missing+=(rapidjson-dev)
[ -f /usr/src/googletest/CMakeLists.txt ] || missing+=(googletest)
if [ ${#missing[@]} -gt 0 ]; then
  echo "native backend: missing build tools: ${missing[*]}; install them with" \
    "\`sudo apt-get install cmake g++ make rapidjson-dev googletest\` (or \`sudo make prereqs\`)," \
    "or serve with the Python-based backend: TRITON_ONNXRUNTIME_BACKEND=python" >&2
  exit 3
fi

# --- sources: the given folder, else a clone of the same refs -------------------------------
refs=(onnxruntime_backend backend core common)
if [ ! -d "$sources/triton-onnxruntime_backend-r24.10" ]; then
  echo "native backend: no sources in $sources; cloning the r24.10 refs from GitHub into $build_root/src"
  sources="$build_root/src"
  for repo in "${refs[@]}"; do
    [ -d "$sources/triton-$repo-r24.10" ] || git clone --quiet --depth 1 --branch r24.10 \
      "https://github.com/triton-inference-server/$repo.git" "$sources/triton-$repo-r24.10"
  done
  mkdir -p "$sources/onnxruntime-c-api-19"
  [ -f "$sources/onnxruntime-c-api-19/onnxruntime_c_api.h" ] || curl -fsSL -o \
    "$sources/onnxruntime-c-api-19/onnxruntime_c_api.h" \
    https://raw.githubusercontent.com/microsoft/onnxruntime/v1.19.2/include/onnxruntime/core/session/onnxruntime_c_api.h
fi
sources=$(cd "$sources" && pwd)
header="$sources/onnxruntime-c-api-19/onnxruntime_c_api.h"
grep -Eq '^#define ORT_API_VERSION 19\s*$' "$header" || {
  echo "native backend: $header is not ONNX Runtime's C API 19 (r24.10 is built against 1.19.x)" >&2; exit 3; }

# --- cache: same sources, wheel, variant and this script -> nothing to do -------------------
fingerprint=$( { echo "$variant $wheel"; cat "$0";
  find "$sources" -type f -not -path '*/.git/*' -print0 | sort -z | xargs -0 sha256sum | cut -c1-64; } | sha256sum | cut -c1-16)
if [ -f "$out/backend/libtriton_onnxruntime.so" ] && [ "$(cat "$out/fingerprint" 2>/dev/null)" = "$fingerprint" ]; then
  echo "native backend ($variant): up to date in $out/backend"
  exit 0
fi
start=$(date +%s)
rm -rf "$out" && mkdir -p "$out/ort/lib" "$out/ort/include" "$out/backend"

# --- ONNX Runtime's C library from the PyPI wheel (the library does not depend on Python) ---
python=${PYTHON:-python3}
echo "native backend ($variant): ONNX Runtime from PyPI's $wheel"
"$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
  --platform manylinux_2_28_x86_64 --dest "$out/wheel" "$wheel"
"$python" - "$out/wheel" "$out/ort/lib" <<'EOF'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
with zipfile.ZipFile(wheel) as archive:
    for name in archive.namelist():
        if name.startswith("onnxruntime/capi/libonnxruntime"):
            target = pathlib.Path(sys.argv[2]) / pathlib.Path(name).name
            target.write_bytes(archive.read(name))
EOF
library=$(cd "$out/ort/lib" && ls libonnxruntime.so.1* | sort | tail -1)
# The soname the backend records (libonnxruntime.so.1) and the name CMake's find_library takes.
[ "$library" = libonnxruntime.so.1 ] || ln -sf "$library" "$out/ort/lib/libonnxruntime.so.1"
ln -sf libonnxruntime.so.1 "$out/ort/lib/libonnxruntime.so"
cp "$header" "$out/ort/include/"

# --- the backend: upstream CMake, fully disconnected from the network ------------------------
backend_src="$sources/triton-backend-r24.10"
cmake_gpu=(-DTRITON_ENABLE_GPU=OFF)
if [ "$variant" = gpu ]; then
  # Build-time patch, on a copy: CUDA 13's nvcc refuses compute capabilities below 7.5, which
  # the backend repo's kernel list (53 ... 90) starts with. The sources stay untouched.
  cp -r "$backend_src" "$out/backend-src" && chmod -R u+w "$out/backend-src"
  sed -i 's/CUDA_ARCHITECTURES "53;60-real;62-real;70-real;72-real;75-real/CUDA_ARCHITECTURES "75-real/' \
    "$out/backend-src/CMakeLists.txt"
  grep -q 'CUDA_ARCHITECTURES "75-real' "$out/backend-src/CMakeLists.txt" || {
    echo "native backend: the CUDA architecture patch no longer applies to $backend_src" >&2; exit 3; }
  backend_src="$out/backend-src"
  export PATH="/usr/local/cuda/bin:$PATH"
  cmake_gpu=(-DTRITON_ENABLE_GPU=ON -DCMAKE_CUDA_COMPILER="$(command -v nvcc)")
fi
echo "native backend ($variant): configuring (log $out/build.log)"
if ! { cmake -S "$sources/triton-onnxruntime_backend-r24.10" -B "$out/cmake" \
    -DCMAKE_BUILD_TYPE=Release "${cmake_gpu[@]}" \
    -DTRITON_ONNXRUNTIME_INCLUDE_PATHS="$out/ort/include" -DTRITON_ONNXRUNTIME_LIB_PATHS="$out/ort/lib" \
    -DTRITON_BACKEND_REPO_TAG=r24.10 -DTRITON_CORE_REPO_TAG=r24.10 -DTRITON_COMMON_REPO_TAG=r24.10 \
    -DFETCHCONTENT_FULLY_DISCONNECTED=ON \
    -DFETCHCONTENT_SOURCE_DIR_REPO-COMMON="$sources/triton-common-r24.10" \
    -DFETCHCONTENT_SOURCE_DIR_REPO-CORE="$sources/triton-core-r24.10" \
    -DFETCHCONTENT_SOURCE_DIR_REPO-BACKEND="$backend_src" \
    -DFETCHCONTENT_SOURCE_DIR_GOOGLETEST=/usr/src/googletest \
  && echo "native backend ($variant): compiling on $(nproc) cores" >&2 \
  && cmake --build "$out/cmake" --target triton-onnxruntime-backend -j"$(nproc)"; } >"$out/build.log" 2>&1; then
  tail -30 "$out/build.log" >&2
  echo "native backend ($variant): build failed; full log: $out/build.log" >&2
  exit 1
fi

# --- what the server's backends/onnxruntime/ holds, as in the NGC image ----------------------
cp "$out/cmake/libtriton_onnxruntime.so" "$out/backend/"
cp -L "$out/ort/lib/libonnxruntime.so.1" "$out/backend/"
for provider in "$out/ort/lib"/libonnxruntime_providers_*.so; do
  [ -f "$provider" ] && cp "$provider" "$out/backend/"
done
"$python" "$here/ort_api_check.py" "$out/backend/libonnxruntime.so.1"
seconds=$(( $(date +%s) - start ))
size=$(du -sb "$out/backend" | cut -f1)
"$python" - "$out" "$variant" "$wheel" "$sources" "$seconds" "$size" <<'EOF'
import json, os, pathlib, sys
out, variant, wheel, sources, seconds, size = sys.argv[1:]
info = {"variant": variant, "onnxruntime_wheel": wheel, "sources": sources,
        "upstream_ref": "r24.10", "build_seconds": int(seconds), "backend_bytes": int(size),
        "cores": os.cpu_count(),
        "files": sorted(p.name for p in pathlib.Path(out, "backend").iterdir())}
pathlib.Path(out, "backend", "build-info.json").write_text(json.dumps(info, indent=2) + "\n")
EOF
echo "$fingerprint" >"$out/fingerprint"
rm -rf "$out/wheel"
echo "native backend ($variant): built in ${seconds} s, $(( size / 1048576 )) MiB -> $out/backend"
