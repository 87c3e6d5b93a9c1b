"""Assembles the backend folder the local tritonserver loads.

<run-dir>/backends/
  python/        libtriton_python.so, triton_python_backend_utils.py and the stub built
                 for this interpreter's Python version (all from nvidia-pytriton)
  onnxruntime/   TRITON_ONNXRUNTIME_BACKEND=native (default): NVIDIA's libtriton_onnxruntime.so
                 with its libonnxruntime.so.1, as in the NGC image (local_stack/native_backend.py);
                 =python: this repository's backends/onnxruntime/*.py (our Python-based backend)

Files are copied, not linked: Triton refuses a backend library whose real path
"escapes" the backend folder.
"""

from __future__ import annotations

import filecmp
import importlib.util
import shutil
import sys
from pathlib import Path

from local_stack import native_backend
from stack_settings import StackError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
OUR_BACKEND = PROJECT_ROOT / "backends" / "onnxruntime"


class MissingTritonError(StackError):
    """nvidia-pytriton (the tritonserver binary) is not installed."""


def pytriton_server_dir() -> Path:
    """Folder of the tritonserver distribution inside the nvidia-pytriton wheel."""
    # Found, not imported: importing pytriton pulls in its own runtime (zmq, ...) we never use.
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise MissingTritonError(
            "nvidia-pytriton is not installed in this environment; run `make venv` "
            "(or pip install -e '.[server]')"
        )
    server = Path(spec.submodule_search_locations[0]) / "tritonserver"
    if not (server / "bin" / "tritonserver").exists():
        raise MissingTritonError(
            f"no tritonserver binary under {server}; reinstall nvidia-pytriton"
        )
    return server


def pytriton_libs_dir() -> Path:
    """The shared libraries tritonserver links against (nvidia_pytriton.libs)."""
    return pytriton_server_dir().parent.parent / "nvidia_pytriton.libs"


def _copy_if_changed(source: Path, target: Path) -> None:
    if target.exists() and filecmp.cmp(source, target, shallow=False):
        return
    tmp = target.with_name(target.name + ".tmp")
    shutil.copy2(source, tmp)
    tmp.replace(target)


def _install_python_based(target: Path) -> None:
    """Our Python-based backend: the .py files, nothing of the native one."""
    for stale in target.iterdir():
        if not stale.name.endswith(".py") or not (OUR_BACKEND / stale.name).exists():
            stale.unlink()
    for source in OUR_BACKEND.glob("*.py"):
        _copy_if_changed(source, target / source.name)


def _install_native(target: Path, built: Path) -> None:
    """NVIDIA's backend and its ONNX Runtime libraries, nothing of ours.

    nvidia-pytriton renames the server library libtritonserver-<hash>.so; the backend asks for
    libtritonserver.so, which a link beside it (found through its $ORIGIN run path) names. The
    loader sees the file the server already has loaded and uses that one.
    """
    wanted = {p.name for p in built.iterdir()} | {"libtritonserver.so"}
    for stale in target.iterdir():
        if stale.name not in wanted or stale.is_symlink():
            stale.unlink()
    for source in built.iterdir():
        _copy_if_changed(source, target / source.name)
    (target / "libtritonserver.so").symlink_to(server_library())


def server_library() -> Path:
    """The wheel's libtritonserver-<hash>.so (the one the tritonserver binary links)."""
    found = sorted(pytriton_libs_dir().glob("libtritonserver*.so"))
    if not found:
        raise MissingTritonError(f"no libtritonserver*.so in {pytriton_libs_dir()}")
    return found[0]


def assemble(run_dir: Path, backend: str | None = None) -> Path:
    """Create or refresh <run_dir>/backends and return its path.

    `backend` is native or python (default: the TRITON_ONNXRUNTIME_BACKEND setting).
    """
    backend = backend or native_backend.chosen_backend()
    server = pytriton_server_dir()
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = server / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.exists():
        raise MissingTritonError(
            f"nvidia-pytriton ships no python backend stub for Python {version}"
        )
    backends = run_dir / "backends"
    python_dir = backends / "python"
    ours = backends / "onnxruntime"
    python_dir.mkdir(parents=True, exist_ok=True)
    ours.mkdir(parents=True, exist_ok=True)
    for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
        _copy_if_changed(server / "backends" / "python" / name, python_dir / name)
    _copy_if_changed(stub, python_dir / "triton_python_backend_stub")
    (python_dir / "triton_python_backend_stub").chmod(0o755)
    if backend == "native":
        built = native_backend.ensure_built(native_backend.chosen_variant())
        native_backend.check(built)
        _install_native(ours, built)
    else:
        _install_python_based(ours)
    return backends


def served_by(backends: Path) -> str:
    """Which backend an assembled folder serves `backend: "onnxruntime"` models with."""
    ours = backends / "onnxruntime"
    if (ours / native_backend.BACKEND_LIBRARY).exists():
        return native_backend.describe(ours.resolve())
    return "our Python-based backend (backends/onnxruntime/, inside Triton's python backend)"
