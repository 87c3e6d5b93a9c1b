"""Starts and stops the real tritonserver (from nvidia-pytriton) with a controlled environment.

The python backend stub embeds the interpreter of the venv first on PATH and imports
numpy from it, so that environment is set here, in one place, and checked: Triton
2.51's stub needs numpy<2 or every output comes back empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import urllib.error
import urllib.request
from pathlib import Path

import stack_settings
from local_stack import backend_dir
from local_stack.processes import ManagedProcess, busy_ports_message
from local_stack.triton_command import local_only_args, triton_args
from stack_settings.control_key import control_headers


class ServerStartError(stack_settings.StackError):
    """tritonserver did not become ready; the message carries the log tail."""


def server_environment() -> dict[str, str]:
    """Environment for tritonserver and its stubs: this venv first, pytriton's libs found."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "/usr/bin:/bin")])
    env["VIRTUAL_ENV"] = sys.prefix
    env["PYTHONNOUSERSITE"] = "1"  # no ~/.local packages (an old numpy 2 there would win)
    libs = [str(backend_dir.pytriton_libs_dir()), sysconfig.get_config_var("LIBDIR") or ""]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        [p for p in libs + env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
    )
    return env


def stub_numpy_version(env: dict[str, str]) -> str:
    """numpy version the stub will import: asked of the python first on the server's PATH."""
    result = subprocess.run(
        ["python3", "-c", "import numpy; print(numpy.__version__)"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ServerStartError(f"the server's Python cannot import numpy: {result.stderr.strip()}")
    return result.stdout.strip()


def check_stub_environment(env: dict[str, str]) -> str:
    """Refuse numpy>=2 in the server's environment (it silently empties every output)."""
    version = stub_numpy_version(env)
    if int(version.split(".")[0]) >= 2:
        raise ServerStartError(
            f"the server's Python environment has numpy {version}; Triton 2.51's python backend "
            f"stub returns EMPTY outputs with numpy 2. Install numpy<2 there "
            f"(pip install 'numpy<2'), which `make venv` does."
        )
    return version


def _load_failures(process: ManagedProcess) -> str:
    """The server log's model-load failures (the reason users need), else its tail."""
    lines = process.log_tail(400).splitlines()
    failures = [line for line in lines if "failed to load '" in line]
    return ("\n".join(failures) if failures else "\n".join(lines[-30:])) + "\n"


def triton_process(run_dir: Path) -> ManagedProcess:
    """The managed tritonserver process of the local stack."""
    return ManagedProcess("tritonserver", run_dir)


def trace_file_for(run_dir: Path) -> Path:
    """Where the local server writes Triton's request traces (when tracing is switched on)."""
    return run_dir.resolve() / "traces" / "triton_trace.json"


def http_url() -> str:
    """Base URL of the local server's HTTP endpoint."""
    return f"http://127.0.0.1:{stack_settings.get_int('TRITON_HTTP_PORT')}"


def is_ready(url: str | None = None, timeout: float = 2.0) -> bool:
    """True when /v2/health/ready answers 200."""
    try:
        with urllib.request.urlopen(f"{url or http_url()}/v2/health/ready", timeout=timeout) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def model_states(url: str | None = None) -> dict[str, str]:
    """{model: state} from the repository index."""
    request = urllib.request.Request(
        f"{url or http_url()}/v2/repository/index", method="POST", headers=control_headers("http")
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return {m["name"]: m.get("state", "UNKNOWN") for m in json.load(response)}


def start(
    model_repository: Path,
    run_dir: Path,
    timeout: float = 300.0,
    env: dict[str, str] | None = None,
    check_environment: bool = True,
) -> ManagedProcess:
    """Start tritonserver on `model_repository` and wait for /v2/health/ready.

    `env` replaces the controlled environment and `check_environment=False` skips the
    numpy check: both exist only so a test can show what the check protects against.
    """
    process = triton_process(run_dir)
    if process.pid() is not None:
        if is_ready():
            return process
        raise ServerStartError(
            f"tritonserver (pid {process.pid()}) is running but not ready; see {process.log_file} "
            f"or run `make down` first"
        )
    ports = {  # someone else's server answering there is one kind of taken port
        name: stack_settings.get_int(name)
        for name in ("TRITON_HTTP_PORT", "TRITON_GRPC_PORT", "TRITON_METRICS_PORT")
    }
    if message := busy_ports_message(ports, "tritonserver"):
        raise ServerStartError(message)
    if not model_repository.is_dir():
        raise ServerStartError(
            f"model repository {model_repository} does not exist; run the exporter first"
        )
    env = env or server_environment()
    if check_environment:
        check_stub_environment(env)
    backends = backend_dir.assemble(run_dir)
    binary = backend_dir.pytriton_server_dir() / "bin" / "tritonserver"
    trace_file = trace_file_for(run_dir)
    trace_file.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(binary),
        *triton_args(str(model_repository), trace_file=str(trace_file)),
        *local_only_args(str(backends)),
    ]
    child = process.start(command, env=env)
    outcome = process.wait_ready(child, is_ready, timeout)
    if outcome == "ready":
        return process
    if outcome == "exited":
        raise ServerStartError(
            f"tritonserver exited (code {child.returncode}) during start-up.\n"
            f"{_load_failures(process)}Full log: {process.log_file}"
        )
    raise ServerStartError(
        f"tritonserver not ready after {timeout:.0f}s; last lines of {process.log_file}:\n"
        f"{process.log_tail()}"
    )
