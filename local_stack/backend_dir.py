"""Assembles the backend folder the local tritonserver loads.

<run-dir>/backends/
  python/        libtriton_python.so, triton_python_backend_utils.py and the stub built
                 for this interpreter's Python version (all from nvidia-pytriton)
  onnxruntime/   this repository's backends/onnxruntime/*.py (a Python-based backend)

Files are copied, not linked: Triton refuses a backend library whose real path
"escapes" the backend folder.
"""

from __future__ import annotations

import filecmp
import importlib.util
import shutil
import sys
from pathlib import Path

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


def assemble(run_dir: Path) -> Path:
    """Create or refresh <run_dir>/backends and return its path."""
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
    for source in OUR_BACKEND.glob("*.py"):
        _copy_if_changed(source, ours / source.name)
    for stale in set(p.name for p in ours.glob("*.py")) - set(
        p.name for p in OUR_BACKEND.glob("*.py")
    ):
        (ours / stale).unlink()
    return backends
