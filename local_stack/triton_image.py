"""Builds the inside of docker/triton.Dockerfile: the local path's server, as a container.

python -m local_stack.triton_image PREFIX WRAPPER

Assembles PREFIX/backends (the python backend of nvidia-pytriton + our `onnxruntime`
backend, as the local path does) and writes WRAPPER, a `tritonserver` that runs the real
binary with that backend folder and the library path it needs, under
local_stack/supervised_server.py (stop signals forwarded, stub shared memory never left
behind). compose.yaml then runs the same `tritonserver --model-repository=...` command as in
the NGC image.
"""

from __future__ import annotations

import shlex
import sys
import sysconfig
from pathlib import Path

from local_stack import backend_dir, server, supervised_server


def wrapper_script(
    server_binary: Path, backends: Path, library_path: list[str], stack_dir: Path, python: str
) -> str:
    """A POSIX shell wrapper: library path, then the supervisor, which runs the binary with
    our backend folder first."""
    libs = ":".join(library_path)
    stack = shlex.quote(str(stack_dir))
    return (
        "#!/bin/sh\n"
        "# tritonserver (nvidia-pytriton) with this stack's backends: see local_stack/triton_image.py\n"
        f'export LD_LIBRARY_PATH={shlex.quote(libs)}"${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"\n'
        f'PYTHONPATH={stack}"${{PYTHONPATH:+:$PYTHONPATH}}" exec {shlex.quote(python)} '
        f"-m local_stack.supervised_server {shlex.quote(str(server_binary))} "
        f'--backend-directory={shlex.quote(str(backends))} "$@"\n'
    )


def install(prefix: Path, wrapper: Path) -> None:
    """Assemble the backends under `prefix` and write the `tritonserver` wrapper."""
    # The stub's numpy trap: refuse to build an image whose stubs would see numpy 2.
    server.check_stub_environment(server.server_environment())
    backends = backend_dir.assemble(prefix)
    binary = backend_dir.pytriton_server_dir() / "bin" / "tritonserver"
    libs = [str(backend_dir.pytriton_libs_dir()), sysconfig.get_config_var("LIBDIR") or ""]
    # The folder the supervisor takes off PYTHONPATH again before it starts the server.
    stack_dir = Path(supervised_server.STACK_DIR)
    script = wrapper_script(binary, backends, [p for p in libs if p], stack_dir, sys.executable)
    wrapper.write_text(script)
    wrapper.chmod(0o755)
    print(f"triton image: backends in {backends}, wrapper {wrapper} -> {binary}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m local_stack.triton_image PREFIX WRAPPER")
    install(Path(sys.argv[1]), Path(sys.argv[2]))
