"""The client's load shapes against the real server: in-flight count, rate, sweep, cleanup."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from stack_settings.control_key import control_headers
from tests.client_models import GATE_BATCH, GATE_MODEL
from tests.conftest import PROJECT_ROOT, run_module


def leftovers(stack, pid: int | None = None) -> list[str]:
    """Client regions still registered on our server, or in /dev/shm from finished clients.

    /dev/shm is shared with other checkouts' test runs on this machine, so files count only
    when the client that made them (its pid is in the name) is `pid` or no longer running.
    """
    status = httpclient.InferenceServerClient(stack.http).get_system_shared_memory_status(
        headers=control_headers()
    )
    registered = [r["name"] for r in status if r["name"].startswith("tos_")]
    return registered + [f"/dev/shm/{name}" for name in client_shm_files(pid)]


def client_shm_files(pid: int | None = None) -> list[str]:
    """tos_<pid>_* files of `pid`, or of any client process that has exited."""
    found = []
    for name in os.listdir("/dev/shm"):
        owner = name.split("_")[1] if name.startswith("tos_") else ""
        if not owner.isdigit():
            continue
        if int(owner) == pid or (pid is None and not os.path.exists(f"/proc/{owner}")):
            found.append(name)
    return found


def client_args(stack, *args: str, protocol: str = "http") -> list[str]:
    url = stack.http if protocol == "http" else stack.grpc
    return [*args, "--protocol", protocol, "--url", url, "--quiet", "--metrics-port", "0"]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_concurrency_n_keeps_n_requests_in_flight_on_the_server(stack, tmp_path, protocol):
    # The gate model's batcher runs a batch only once GATE_BATCH requests wait (or after 3 s):
    # 40 requests in exactly 10 executions means every execution saw 4 requests in flight.
    requests = GATE_BATCH * 10
    run_module(
        "client",
        *client_args(stack, "--model", GATE_MODEL, "--shm", "system", protocol=protocol),
        *("--concurrency", str(GATE_BATCH), "--requests", str(requests), "--report", str(tmp_path)),
    )
    (summary,) = json.loads((tmp_path / "summary.json").read_text())
    server = summary["server"]
    assert summary["requests_ok"] == requests == server["success"]
    assert server["inference_count"] == requests
    assert server["execution_count"] == requests // GATE_BATCH, server
    assert server["avg_batch_size"] == GATE_BATCH


@pytest.mark.parametrize("arrival", ["constant", "poisson"])
def test_rate_mode_hits_the_asked_rate(stack, tmp_path, arrival):
    # ~300 arrivals: a Poisson count's spread is sqrt(n)/n ~ 6%, so 10% is a real check for
    # both processes (the client seeds its arrival process, so the draw is repeatable).
    rate, duration = 100.0, 3.0
    run_module(
        "client",
        *client_args(stack, "--model", "simple_transformer"),
        *("--concurrency", "8", "--rate", str(rate), "--arrival", arrival),
        *("--duration", str(duration), "--report", str(tmp_path)),
    )
    (summary,) = json.loads((tmp_path / "summary.json").read_text())
    assert summary["requests_failed"] == 0
    # The client's own count over its own elapsed time, and what the server counted.
    assert summary["throughput_rps"] == pytest.approx(rate, rel=0.10), summary
    assert summary["server"]["success"] == summary["requests_ok"]
    assert summary["server"]["success"] == pytest.approx(rate * duration, rel=0.10)


def test_sweep_writes_one_row_per_step_and_a_plot(stack, tmp_path):
    result = run_module(
        "client",
        *client_args(stack, "--model", "simple_transformer", "--shm", "none,system"),
        *("--concurrency", "1,2,4", "--requests", "12", "--report", str(tmp_path)),
    )
    summaries = json.loads((tmp_path / "summary.json").read_text())
    steps = [(s["shm"], s["concurrency"]) for s in summaries]
    assert steps == [(shm, c) for shm in ("none", "system") for c in (1, 2, 4)]
    for s in summaries:
        assert s["requests_ok"] == 12 == s["server"]["success"]
        assert set(s["latency_ms"]) >= {"p50", "p90", "p95", "p99", "max"}
        assert s["throughput_rps"] > 0
    with open(tmp_path / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["concurrency"]) for r in rows] == [1, 2, 4, 1, 2, 4]
    assert all(float(r["latency_ms.p99"]) > 0 for r in rows)
    png = (tmp_path / "latency_vs_throughput.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    table = result.stdout.splitlines()
    assert table[0].split()[:4] == ["model", "proto", "shm", "conc"]
    assert len([line for line in table if line.startswith("simple_transformer")]) == 6
    assert not leftovers(stack)


def test_bad_list_values_are_named():
    result = run_module(
        "client", "--model", "m", "--shm", "none,tmpfs", "--requests", "1", check=False
    )
    assert result.returncode == 2 and "'none,tmpfs'" in result.stderr and "system" in result.stderr


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_signal_mid_run_leaves_no_shm_behind(stack, tmp_path, protocol, sig, code):
    interrupt_mid_run(stack, tmp_path, protocol, sig, code)


def test_ctrl_c_works_when_sigint_came_in_ignored(stack, tmp_path):
    # A background job of a non-interactive shell (nohup, CI) starts children with SIGINT
    # ignored; the client restores Python's handler, so kill -INT still cleans up.
    interrupt_mid_run(stack, tmp_path, "http", signal.SIGINT, 130, sigint="SIG_IGN")


def with_sigint(action: str, command: list[str]) -> list[str]:
    """`command` started with SIGINT set to `action`, whatever this process inherited.

    exec keeps SIG_IGN and SIG_DFL (and the pid); no preexec_fn, as this process has threads.
    """
    setup = f"import os, signal, sys; signal.signal(signal.SIGINT, signal.{action}); "
    return [sys.executable, "-c", setup + "os.execv(sys.argv[1], sys.argv[1:])", *command]


def interrupt_mid_run(stack, tmp_path, protocol, sig, code, sigint="SIG_DFL") -> None:
    """Signal a running client once its regions exist; it exits `code` and leaves nothing."""
    command = [sys.executable, "-X", "faulthandler", "-m", "client"]
    command += client_args(
        stack, "--model", "simple_transformer", "--shm", "system", protocol=protocol
    )
    command += ["--concurrency", "3", "--duration", "60", "--report", str(tmp_path)]
    process = subprocess.Popen(
        with_sigint(sigint, command), cwd=PROJECT_ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        # Mid-run: every worker's regions exist (2 per worker) and the measured window is open.
        deadline = time.monotonic() + 60
        while len(leftovers(stack, process.pid)) < 2 * 3 * 2 and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.2)
        time.sleep(1.0)
        assert leftovers(stack, process.pid), "the run never registered its regions"
        process.send_signal(sig)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == code, (stderr, leftovers(stack, process.pid))
    assert "unregistered and freed" in stderr
    assert not leftovers(stack, process.pid)


def test_requests_failing_mid_run_leave_no_shm_behind(stack, tmp_path):
    # A bad request mid-run: the test unregisters the client's regions from the server while
    # it runs, so its requests fail; the run goes on, counts them, and still leaves nothing.
    command = [sys.executable, "-X", "faulthandler", "-m", "client"]
    command += client_args(stack, "--model", "simple_transformer", "--shm", "system")
    command += ["--concurrency", "2", "--duration", "4", "--report", str(tmp_path)]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        server = httpclient.InferenceServerClient(stack.http)
        deadline = time.monotonic() + 60
        while len(leftovers(stack, process.pid)) < 2 * 2 * 2 and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.2)
        time.sleep(0.5)
        for region in server.get_system_shared_memory_status(headers=control_headers()):
            if region["name"].startswith(f"tos_{process.pid}_"):
                unregister_between_requests(server, region["name"])
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, stderr
    (summary,) = json.loads((tmp_path / "summary.json").read_text())
    assert summary["requests_failed"] > 0 and summary["requests_ok"] > 0, summary["errors"]
    assert "unable to find shared memory region" in stderr.lower(), stderr
    assert not leftovers(stack, process.pid)


def unregister_between_requests(server, name: str) -> None:
    """Triton refuses to unregister a region a request is using: retry into a gap."""
    for _ in range(2000):
        try:
            server.unregister_system_shared_memory(name, headers=control_headers())
            return
        except InferenceServerException as exc:
            if "in use" not in str(exc):
                raise
            time.sleep(0.002)
    raise AssertionError(f"{name} stayed in use")


def test_cuda_shm_without_a_gpu_fails_clearly_and_leaves_nothing(stack):
    if os.path.exists("/dev/nvidia0"):
        pytest.skip("a GPU is present: CUDA shm is proven by the GPU script instead")
    result = run_module(
        "client",
        *client_args(stack, "--model", "simple_transformer", "--shm", "cuda"),
        *("--requests", "2"),
        check=False,
    )
    assert result.returncode == 2
    assert "--shm cuda needs an NVIDIA GPU" in result.stderr
    assert "Use --shm system or --shm none" in result.stderr
    assert not leftovers(stack)
    cuda = httpclient.InferenceServerClient(stack.http).get_cuda_shared_memory_status(
        headers=control_headers()
    )
    assert not [r for r in cuda if r["name"].startswith("tos_")]
