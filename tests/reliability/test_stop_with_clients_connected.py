"""A server stopped while a client keeps its HTTP connection open leaves no stub shared memory.

Triton 2.51 first waits up to --exit-timeout-secs for open HTTP connections to close, then
unloads models with the time left: with a client connected throughout, none is left, the server
exits with its models loaded, and its stubs' /dev/shm regions stay. The bare binary shows that
(so the supervisor is still needed); the supervisor the triton-cpu image runs as PID 1
(local_stack/supervised_server.py) removes them.
"""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from local_stack import backend_dir, processes, server
from tests.conftest import PROJECT_ROOT, ports_at
from tests.reliability.servers import add_slow_model
from tests.reliability.tiny_models import write_doubler

EXIT_TIMEOUT_S = 3
PORTS = ports_at(46)
HTTP_PORT = int(PORTS["TRITON_HTTP_PORT"])


@pytest.fixture(scope="module")
def repository(tmp_path_factory) -> Path:
    """A python-backend model (two stubs) and an ONNX one on our `onnxruntime` backend (one)."""
    repo = tmp_path_factory.mktemp("stop-connected") / "model_repository"
    repo.mkdir()
    add_slow_model(repo, "slow_double", sleep_s=0.01)
    write_doubler(repo)
    return repo


def server_command(repository: Path, run_dir: Path) -> list[str]:
    backends = backend_dir.assemble(run_dir)
    return [
        str(backend_dir.pytriton_server_dir() / "bin" / "tritonserver"),
        f"--model-repository={repository}",
        "--model-control-mode=explicit",
        "--load-model=*",
        f"--backend-directory={backends}",
        f"--http-port={PORTS['TRITON_HTTP_PORT']}",
        f"--grpc-port={PORTS['TRITON_GRPC_PORT']}",
        f"--metrics-port={PORTS['TRITON_METRICS_PORT']}",
        "--http-address=127.0.0.1",
        "--grpc-address=127.0.0.1",
        "--metrics-address=127.0.0.1",
        f"--exit-timeout-secs={EXIT_TIMEOUT_S}",
    ]


def descendants(pid: int) -> list[int]:
    """Live processes below `pid`: the server under a supervisor, and its stubs."""
    parents = {child: int(fields[1]) for child, fields in processes.live_processes().items()}
    found, frontier = [], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def stop_with_a_client_connected(
    command: list[str], log: Path
) -> tuple[int, list[str], list[int], str]:
    """Start `command`, keep one HTTP connection open, SIGTERM it and wait for its exit.

    Returns (exit code, the stub regions it named that are still in /dev/shm, the processes
    below it still running, the log). Whatever the process leaves (stubs, regions) is removed
    afterwards: the assertions read the state before that.
    """
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            env=server.server_environment(),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,  # `-m local_stack...` finds the package here
            start_new_session=True,
        )
    regions: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while not server.is_ready(f"http://127.0.0.1:{HTTP_PORT}"):
            assert process.poll() is None, f"server exited at start:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"server not ready:\n{log.read_text()[-3000:]}"
            time.sleep(0.3)
        below = descendants(process.pid)
        regions = sorted({r for pid in below for r in processes.regions_named_by(pid)})
        client = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=10)
        client.request("GET", "/v2/health/live")  # HTTP/1.1: the connection stays open
        assert client.getresponse().read() == b""
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=EXIT_TIMEOUT_S + 60)
        client.close()
        left = [r for r in regions if Path("/dev/shm", r).exists()]
        lingering = sorted(set(below) & set(processes.live_processes()))
        return code, left, lingering, log.read_text(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        processes.end_group(process.pid, regions)  # ends its group's stubs, unlinks the regions


def test_the_bare_server_leaves_its_stub_regions_when_a_client_stays_connected(
    repository, tmp_path
):
    code, left, _, log = stop_with_a_client_connected(
        server_command(repository, tmp_path), tmp_path / "bare.log"
    )
    assert "Found 1 HTTP service connections" in log  # the drain waited for our client
    assert "Exit timeout expired. Exiting immediately." in log  # no time left to unload
    assert code == 1
    assert left, f"Triton unlinked its stub regions itself: the supervisor may go.\n{log[-2000:]}"


def test_the_supervisor_removes_them_and_passes_the_exit_code_on(repository, tmp_path):
    supervised = [sys.executable, "-m", "local_stack.supervised_server"]
    code, left, lingering, log = stop_with_a_client_connected(
        supervised + server_command(repository, tmp_path), tmp_path / "supervised.log"
    )
    assert "Found 1 HTTP service connections" in log  # the same drain as the bare run
    assert left == [], log[-2000:]
    assert lingering == [], f"stubs still running after the server: {lingering}"
    assert code == 1, log[-2000:]  # Triton's own "Exit timeout expired", passed on
