# Sourced by the GPU scripts: a venv layered over the GPU machine's own Python packages, with the
# wheels in GPU_CHECK_WHEELS (default .whl) installed on top: above all numpy<2, which Triton 2.51's
# python backend stub needs (with numpy 2 every output comes back empty).
venv=${GPU_CHECK_VENV:-/tmp/tos-gpu-venv}
# GPU outputs of a merged full-HD batch must fit the CUDA pool (see .env).
if command -v nvidia-smi >/dev/null; then
  export CUDA_MEMORY_POOL_BYTES=${CUDA_MEMORY_POOL_BYTES:-1073741824}
fi
wheels=${GPU_CHECK_WHEELS:-.whl}
# The carried set as one xz-compressed tar in parts (scripts/gpu-pack.sh), each part carried in its
# own call under $wheels/pN/ while the machine stays warm: join, check, unpack once into $wheels.
if compgen -G "$wheels/p*/gpu-bundle.tar.xz.part.*" >/dev/null && [ ! -f "$wheels/bundle.unpacked" ]; then
  sums=$(compgen -G "$wheels/p*/gpu-bundle.sha256" | head -1)
  cat "$wheels"/p*/gpu-bundle.tar.xz.part.* >"$wheels/gpu-bundle.tar.xz"  # p1/ .. p9/: glob order
  echo "$(cut -d' ' -f1 "$sums")  $wheels/gpu-bundle.tar.xz" | sha256sum -c --quiet - \
    || { echo "gpu-bundle.tar.xz: checksum mismatch (a part missing?)" >&2; exit 1; }
  python3 -c 'import lzma, shutil, sys, tarfile
with tarfile.open(fileobj=lzma.open(sys.argv[1]), mode="r|") as t:
    t.extractall(sys.argv[2], **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))' \
    "$wheels/gpu-bundle.tar.xz" "$wheels"
  rm -f "$wheels/gpu-bundle.tar.xz" && touch "$wheels/bundle.unpacked"
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  # --system-site-packages would expose the BASE interpreter's packages, not those of the venv
  # the machine's python3 may itself be; a .pth appends the latter after ours.
  machine_site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  venv_site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$machine_site" >"$venv_site/machine-packages.pth"
fi
if compgen -G "$wheels/*.whl" >/dev/null; then
  "$venv/bin/python" -m pip install -q --no-index --no-deps --no-compile "$wheels"/*.whl
fi
py="$venv/bin/python"
# onnxruntime-gpu's CUDA provider library (284 MB) travels compressed (zstd, unpacked by the
# zstandard wheel, or xz by Python's lzma) in parts beside a wheel without it (docs/gpu/README.md): join, unpack, check.
provider=libonnxruntime_providers_cuda.so
if compgen -G "$wheels/$provider.*.part.*" >/dev/null; then
  capi=$("$py" -c 'import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))')/capi
  if [ ! -f "$capi/$provider" ]; then
    if compgen -G "$wheels/$provider.zst.part.*" >/dev/null; then
      cat "$wheels/$provider.zst.part."* | "$py" -c 'import shutil, sys, zstandard
shutil.copyfileobj(zstandard.ZstdDecompressor().stream_reader(sys.stdin.buffer),
                   open(sys.argv[1], "wb"), 1 << 24)' "$capi/$provider.tmp"
    else
      cat "$wheels/$provider.xz.part."* | "$py" -c 'import lzma, shutil, sys
shutil.copyfileobj(lzma.open(sys.stdin.buffer), open(sys.argv[1], "wb"), 1 << 24)' "$capi/$provider.tmp"
    fi
    echo "$(cut -d' ' -f1 "$wheels/$provider.sha256")  $capi/$provider.tmp" | sha256sum -c --quiet - \
      || { rm -f "$capi/$provider.tmp"; echo "$provider: checksum mismatch" >&2; exit 1; }
    mv "$capi/$provider.tmp" "$capi/$provider"
  fi
fi
# CUDA 13 runtime libraries (cudart, cuBLAS, cuDNN) for NVIDIA's native backend: the machine's
# torch folders (nvidia/cu13/lib, nvidia/cudnn/lib); local_stack/server.py keeps LD_LIBRARY_PATH.
if command -v nvidia-smi >/dev/null; then
  cuda_libs=$("$py" -c 'import nvidia, os
print(":".join(d for p in nvidia.__path__ for d in (os.path.join(p, "cu13", "lib"), os.path.join(p, "cudnn", "lib")) if os.path.isdir(d)))' 2>/dev/null || true)
  [ -n "$cuda_libs" ] && export LD_LIBRARY_PATH="$cuda_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# NVIDIA's native backend (GPU variant), built elsewhere by backends/onnxruntime_native/build.sh gpu:
# only libtriton_onnxruntime.so and build-info.json travel ($wheels/native-gpu/); its ONNX Runtime
# libraries are the carried onnxruntime-gpu's capi/ files, the very ones it was linked against.
if [ -f "$wheels/native-gpu/libtriton_onnxruntime.so" ]; then
  native_dir=${NATIVE_BACKEND_BUILD_DIR:-build/onnxruntime_native}/gpu/backend
  capi=$("$py" -c 'import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))')/capi
  if ! cmp -s "$wheels/native-gpu/libtriton_onnxruntime.so" "$native_dir/libtriton_onnxruntime.so"; then
    mkdir -p "$native_dir"
    cp -f "$capi/$(cd "$capi" && ls libonnxruntime.so.1.* | sort | tail -1)" "$native_dir/libonnxruntime.so.1"
    cp -f "$capi"/libonnxruntime_providers_*.so "$native_dir/"
    cp -f "$wheels/native-gpu/build-info.json" "$wheels/native-gpu/libtriton_onnxruntime.so" "$native_dir/"
  fi
  export NATIVE_BACKEND_VARIANT=${NATIVE_BACKEND_VARIANT:-gpu}
fi
