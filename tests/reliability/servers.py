"""Short-lived private tritonservers for tests that stop, restart or reload a server.

Each runs on its own ports (tests/conftest.py PORT_BASE + an offset of 40..49) and its own
repository, so the session `stack` that other tests share is never disturbed.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from local_stack import processes, server
from local_stack.processes import ManagedProcess
from stack_settings.control_key import control_headers
from tests.conftest import ports_at

# A python-backend model that sleeps: a request whose duration the test controls.
SLOW_MODEL_PY = """
import time
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        import json
        params = json.loads(args["model_config"]).get("parameters", {})
        self.sleep_s = float(params.get("sleep_s", {}).get("string_value", "0.05"))

    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "x").as_numpy()
            time.sleep(self.sleep_s)
            out = pb_utils.Tensor("y", (x * 2).astype(np.float32))
            responses.append(pb_utils.InferenceResponse([out]))
        return responses
"""


def add_slow_model(repository: Path, name: str = "slow_double", sleep_s: float = 0.05) -> None:
    """A model (python backend) answering y = 2x after `sleep_s` seconds per request."""
    (repository / name / "1").mkdir(parents=True, exist_ok=True)
    (repository / name / "1" / "model.py").write_text(SLOW_MODEL_PY)
    (repository / name / "config.pbtxt").write_text(
        f'name: "{name}"\nbackend: "python"\nmax_batch_size: 8\n'
        'input { name: "x" data_type: TYPE_FP32 dims: [4] }\n'
        'output { name: "y" data_type: TYPE_FP32 dims: [4] }\n'
        "instance_group { count: 2 kind: KIND_CPU }\n"
        f'parameters {{ key: "sleep_s" value {{ string_value: "{sleep_s}" }} }}\n'
    )


def copy_model(source_repository: Path, repository: Path, name: str) -> None:
    """One model folder of the session repository, copied into a private repository."""
    shutil.copytree(source_repository / name, repository / name, dirs_exist_ok=True)


@dataclass
class PrivateServer:
    """A tritonserver of one test module: its endpoints and how to stop or restart it."""

    repository: Path
    run_dir: Path
    ports: dict[str, str]
    process: ManagedProcess | None = None

    @property
    def http(self) -> str:
        return f"127.0.0.1:{self.ports['TRITON_HTTP_PORT']}"

    @property
    def grpc(self) -> str:
        return f"127.0.0.1:{self.ports['TRITON_GRPC_PORT']}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['TRITON_METRICS_PORT']}/metrics"

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait while the server finishes a reload (it reports not ready while a version unloads)."""
        deadline = time.monotonic() + timeout
        while not server.is_ready(f"http://{self.http}"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"private tritonserver on {self.http} not ready after reload")
            time.sleep(0.2)

    def start(self) -> None:
        """Start (or wait for readiness when it already runs) on this server's own ports."""
        if self.pid() is not None:
            self.wait_ready()
            return
        saved = {key: os.environ.get(key) for key in self.ports}
        os.environ.update(self.ports)  # the launcher reads ports from settings
        try:
            self.process = server.start(self.repository, self.run_dir)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def stop(self) -> None:
        """SIGTERM (then SIGKILL): a server stopped while clients are running."""
        if self.process is not None:
            self.process.stop()

    def kill(self) -> None:
        """SIGKILL the server and its stubs at once: a crash, not a clean shutdown.

        A crashed server leaves its python-backend stubs' /dev/shm regions behind; those
        named on the stubs' command lines (ours only) are removed so tests leak nothing.
        """
        pid = self.pid()
        if pid is None:
            return
        regions = processes.stub_regions(pid)
        os.killpg(pid, signal.SIGKILL)
        self.process.stop()  # reaps it and removes the pid file
        processes.end_group(pid, regions)

    def freeze(self) -> None:
        """SIGSTOP the server: nothing it holds can complete until it is killed or resumed."""
        os.killpg(self.pid(), signal.SIGSTOP)

    def pid(self) -> int | None:
        return self.process.pid() if self.process else None

    def post(self, path: str) -> int:
        """POST to the HTTP API (model control); returns the status code."""
        request = urllib.request.Request(
            f"http://{self.http}{path}", data=b"{}", method="POST", headers=control_headers("http")
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status


@contextmanager
def private_server(repository: Path, run_dir: Path, offset: int):
    """A started PrivateServer on ports_at(offset), always stopped afterwards."""
    if not 40 <= offset <= 49:
        raise ValueError("reliability tests own port offsets 40..49 (3 ports each: use 40, 43, 46)")
    instance = PrivateServer(repository, run_dir, ports_at(offset))
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()
