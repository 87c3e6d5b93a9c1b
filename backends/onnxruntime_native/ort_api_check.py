"""Checks that an ONNX Runtime library answers the C API version NVIDIA's backend was built for.

onnxruntime_backend r24.10 calls `OrtGetApiBase()->GetApi(19)` when it loads and uses the result
unchecked: a library older than 1.19 returns NULL and the server crashes with no word of why. This
asks the same question first, so the failure names the library and the fix.

    python backends/onnxruntime_native/ort_api_check.py PATH/libonnxruntime.so.1
"""

from __future__ import annotations

import ctypes
import sys

# The C API version of the header the backend is compiled with (third_party onnxruntime-c-api-19).
REQUIRED_API_VERSION = 19


class OrtApiError(RuntimeError):
    """The library cannot serve NVIDIA's backend."""


class _OrtApiBase(ctypes.Structure):
    _fields_ = [
        ("GetApi", ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint32)),
        ("GetVersionString", ctypes.CFUNCTYPE(ctypes.c_char_p)),
    ]


def check_library(path: str, api_version: int = REQUIRED_API_VERSION) -> str:
    """Return the library's ONNX Runtime version; raise OrtApiError unless it has `api_version`."""
    try:
        library = ctypes.CDLL(path)
    except OSError as error:
        raise OrtApiError(
            f"cannot load ONNX Runtime library {path}: {error}; rebuild the native backend "
            f"(make native-backend) or serve with TRITON_ONNXRUNTIME_BACKEND=python"
        ) from error
    library.OrtGetApiBase.restype = ctypes.POINTER(_OrtApiBase)
    base = library.OrtGetApiBase().contents
    version = base.GetVersionString().decode()
    if not base.GetApi(api_version):
        raise OrtApiError(
            f"ONNX Runtime {version} at {path} does not provide C API {api_version}, which "
            f"onnxruntime_backend r24.10 needs (ONNX Runtime 1.19 or newer): set NATIVE_ORT_CPU_WHEEL "
            f"or NATIVE_ORT_GPU_WHEEL to such a release and run `make native-backend`"
        )
    return version


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: {sys.argv[0]} PATH/libonnxruntime.so.1")
    try:
        print(f"ONNX Runtime {check_library(sys.argv[1])}: C API {REQUIRED_API_VERSION} available")
    except OrtApiError as error:
        raise SystemExit(f"error: {error}") from None
