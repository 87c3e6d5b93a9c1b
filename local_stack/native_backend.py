"""NVIDIA's ONNX Runtime backend (onnxruntime_backend r24.10) as the local path serves it.

backends/onnxruntime_native/build.sh builds it from upstream sources (cached); this module finds
that build, builds it when it is missing, checks its ONNX Runtime library answers C API 19, and
lays it into a server's backends/onnxruntime/ folder the way the NGC image has it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import stack_settings
from stack_settings import StackError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_SCRIPT = PROJECT_ROOT / "backends" / "onnxruntime_native" / "build.sh"
BACKEND_LIBRARY = "libtriton_onnxruntime.so"
ORT_LIBRARY = "libonnxruntime.so.1"
# Which backend serves `backend: "onnxruntime"` configs: NVIDIA's (native) or ours (python).
BACKEND_SETTING = "TRITON_ONNXRUNTIME_BACKEND"
BACKEND_CHOICES = ("native", "python")


def _load_ort_api_check():
    """backends/onnxruntime_native/ort_api_check.py: a script beside build.sh, not a package."""
    spec = importlib.util.spec_from_file_location(
        "ort_api_check", BUILD_SCRIPT.parent / "ort_api_check.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_ort_api_check = _load_ort_api_check()


class NativeBackendError(StackError):
    """The native backend cannot be built or loaded; the message names the fallback setting."""


class BuildToolsMissing(NativeBackendError):
    """build.sh found no compiler, CMake, rapidjson-dev or googletest (its exit code 3)."""


def chosen_backend() -> str:
    """native or python, from TRITON_ONNXRUNTIME_BACKEND (default native)."""
    choice = stack_settings.get(BACKEND_SETTING, "native").strip().lower()
    if choice not in BACKEND_CHOICES:
        raise stack_settings.SettingError(
            f"setting {BACKEND_SETTING}={choice!r} must be one of {', '.join(BACKEND_CHOICES)}"
        )
    return choice


def has_gpu() -> bool:
    """True when nvidia-smi lists a GPU (the GPU variant then serves KIND_GPU instances)."""
    if shutil.which("nvidia-smi") is None:
        return False
    listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    return listed.returncode == 0 and "GPU" in listed.stdout


def chosen_variant() -> str:
    """cpu or gpu, from NATIVE_BACKEND_VARIANT (auto: gpu where a GPU answers)."""
    variant = stack_settings.get("NATIVE_BACKEND_VARIANT", "auto").strip().lower()
    if variant == "auto":
        return "gpu" if has_gpu() else "cpu"
    if variant not in ("cpu", "gpu"):
        raise stack_settings.SettingError(
            f"setting NATIVE_BACKEND_VARIANT={variant!r} must be auto, cpu or gpu"
        )
    return variant


def build_dir(variant: str) -> Path:
    """Where build.sh leaves the variant's backend folder."""
    root = Path(stack_settings.get("NATIVE_BACKEND_BUILD_DIR", "build/onnxruntime_native"))
    if not root.is_absolute():
        root = PROJECT_ROOT / root
    return root / variant / "backend"


def ensure_built(variant: str) -> Path:
    """The variant's built backend folder, running build.sh (cached) when it is missing."""
    folder = build_dir(variant)
    if not (folder / BACKEND_LIBRARY).exists():
        print(f"native backend: building the {variant} variant (once; {BUILD_SCRIPT})", flush=True)
        env = os.environ | {"PYTHON": sys.executable}
        result = subprocess.run(["bash", str(BUILD_SCRIPT), variant], env=env, check=False)
        if result.returncode == 3:
            raise BuildToolsMissing(
                f"NVIDIA's ONNX Runtime backend ({variant}) cannot be built here: build tools are "
                f"missing (see above; `sudo make prereqs` installs them), or serve with our "
                f"Python-based backend: {BACKEND_SETTING}=python in .env"
            )
        if result.returncode != 0 or not (folder / BACKEND_LIBRARY).exists():
            raise NativeBackendError(
                f"NVIDIA's ONNX Runtime backend ({variant}) could not be built (exit "
                f"{result.returncode}, see the lines above); fix that and run `make native-backend`, "
                f"or serve with our Python-based backend: {BACKEND_SETTING}=python in .env"
            )
    return folder


def fall_back_when_unbuildable() -> None:
    """`make up` on a machine without build tools: serve with ours, saying so loudly.

    Only the pipeline's one command does this (a fresh machine must still run end to end); the
    server itself, and so every test, refuses rather than switch backends behind anyone's back.
    """
    if chosen_backend() != "native":
        return
    try:
        ensure_built(chosen_variant())
    except BuildToolsMissing as missing:
        print(
            f"warning: {missing}.\nwarning: serving with our Python-based backend this run "
            f"({BACKEND_SETTING}=python); install the build tools to serve with NVIDIA's.",
            flush=True,
        )
        os.environ[BACKEND_SETTING] = "python"


def check(folder: Path) -> str:
    """ONNX Runtime version of the folder's library; NativeBackendError unless it has C API 19."""
    try:
        return _ort_api_check.check_library(str(folder / ORT_LIBRARY))
    except _ort_api_check.OrtApiError as error:
        raise NativeBackendError(str(error)) from error


def build_info(folder: Path) -> dict:
    """build.sh's record (variant, ONNX Runtime wheel, refs, time, size), {} when absent."""
    path = folder / "build-info.json"
    return json.loads(path.read_text()) if path.exists() else {}


def describe(folder: Path) -> str:
    """One line for `make up`: which backend serves, with its ONNX Runtime."""
    info = build_info(folder)
    wheel = info.get("onnxruntime_wheel", "ONNX Runtime")
    return (
        f"NVIDIA onnxruntime_backend r24.10 ({BACKEND_LIBRARY}, {info.get('variant', '?')} build, "
        f"{wheel})"
    )
