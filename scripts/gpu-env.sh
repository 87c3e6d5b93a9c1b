# Sourced by the GPU scripts: a venv layered over the GPU machine's own Python packages, with the
# wheels in GPU_CHECK_WHEELS (default .whl) installed on top: above all numpy<2, which Triton 2.51's
# python backend stub needs (with numpy 2 every output comes back empty).
venv=${GPU_CHECK_VENV:-/tmp/tos-gpu-venv}
# GPU outputs of a merged full-HD batch must fit the CUDA pool (see .env).
if command -v nvidia-smi >/dev/null; then
  export CUDA_MEMORY_POOL_BYTES=${CUDA_MEMORY_POOL_BYTES:-1073741824}
fi
wheels=${GPU_CHECK_WHEELS:-.whl}
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
