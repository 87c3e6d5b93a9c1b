#!/usr/bin/env bash
# Packs what the lent GPU machine needs (nothing can be downloaded there; a call carries at most
# 64 MiB with the working tree) into parts that scripts/gpu-env.sh joins, checks and unpacks:
#
#   scripts/gpu-pack.sh [WHEEL_DIR]     (default .whl/dl: wheels fetched with pip download, cp312)
#
# The wheels are rewritten uncompressed (nvidia-pytriton without its Python 3.13 libpython and the
# stubs of other Pythons; numpy without its tests; onnxruntime-gpu without its transformers,
# quantization and tools subpackages, and with its 284 MB CUDA provider library last, so that
# xz's window sees libonnxruntime.so and the pybind module side by side: 4 MB less) and tarred with NVIDIA's native backend built here
# (build/onnxruntime_native/gpu/backend/: only libtriton_onnxruntime.so and build-info.json; its ONNX
# Runtime libraries are onnxruntime-gpu's own), then xz -9e'd and split into .whl/p1/ .. .whl/pN/,
# one folder a call: `run` with carry [".whl/p1"], then [".whl/p2"], ... while the machine stays warm.
#   GPU_PACK_PART_BYTES  most bytes per part (default: 64 MiB less the working tree that travels
#                        with every call, less 1 MiB); the parts come out equal in size
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir=${1:-.whl/dl}
native=${NATIVE_BACKEND_BUILD_DIR:-build/onnxruntime_native}/gpu/backend
tree_bytes=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s}')
part_bytes=${GPU_PACK_PART_BYTES:-$((67108864 - tree_bytes - 1048576))}
stage=.whl/stage
[ -f "$native/libtriton_onnxruntime.so" ] || { echo "no $native/libtriton_onnxruntime.so: run backends/onnxruntime_native/build.sh gpu" >&2; exit 2; }
rm -rf "$stage" .whl/p[0-9]* && mkdir -p "$stage/native-gpu"
cp "$native/libtriton_onnxruntime.so" "$native/build-info.json" "$stage/native-gpu/"
python3 - "$source_dir" "$stage" <<'EOF'
import pathlib, re, sys, zipfile
source, stage = map(pathlib.Path, sys.argv[1:])
# the device runs Python 3.12: other stubs and pytriton's bundled libpython 3.13 stay behind
drop = re.compile(r"(nvidia_pytriton\.libs/libpython3-[^/]*13\.so|python_backend_stubs/3\.(8|9|10|11|13)/"
                  r"|^numpy/(.*/)?tests/|^onnxruntime/(transformers|quantization|tools)/)")
for wheel in sorted(source.glob("*.whl")):
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(stage / wheel.name, "w", zipfile.ZIP_STORED) as dst:
        for item in sorted(src.infolist(), key=lambda i: i.file_size > 100_000_000):
            if drop.search(item.filename):
                continue
            data = src.read(item)
            if item.filename.endswith(".dist-info/RECORD"):
                data = b"".join(l for l in data.splitlines(True) if not drop.search(l.decode()))
            item.compress_type = zipfile.ZIP_STORED
            dst.writestr(item, data)
    print(f"{wheel.name}: {wheel.stat().st_size / 1e6:.1f} MB -> {(stage / wheel.name).stat().st_size / 1e6:.1f} MB stored")
EOF
echo "xz -9e on $(nproc) threads ($(du -sm "$stage" | cut -f1) MiB) ..."
tar -C "$stage" -cf - . | xz -9e -T"$(nproc)" -c >.whl/gpu-bundle.tar.xz
sha256sum .whl/gpu-bundle.tar.xz | cut -d' ' -f1 >.whl/gpu-bundle.sha256
total=$(stat -c %s .whl/gpu-bundle.tar.xz)
parts=$(( (total + part_bytes - 1) / part_bytes ))
split -b $(( (total + parts - 1) / parts )) -a 2 .whl/gpu-bundle.tar.xz .whl/gpu-bundle.tar.xz.part.
i=0
for part in .whl/gpu-bundle.tar.xz.part.*; do
  i=$((i + 1)); mkdir -p ".whl/p$i"; mv "$part" ".whl/p$i/"; cp .whl/gpu-bundle.sha256 ".whl/p$i/"
done
rm -f .whl/gpu-bundle.tar.xz
echo "$total bytes in $i parts of <= $(( (total + parts - 1) / parts )) (working tree $tree_bytes): .whl/p1 .. .whl/p$i"
