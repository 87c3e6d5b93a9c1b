"""The client CLI under faults on a private server: timeouts, bad arguments, a server that
dies mid-run. Counts stay exact (ok + failed == sent), the exit code is non-zero and names
the failure, and no shared-memory region stays registered or in /dev/shm."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from tests.conftest import PORT_BASE
from tests.reliability.cli_runs import run_client, start_client, summary, wait_for_answers
from tests.reliability.conftest import registered_regions, tos_files

CLIENT_METRICS_PORT = PORT_BASE + 48  # reliability owns offsets 40..49


@pytest.mark.parametrize(("protocol", "shm"), [("http", "system"), ("grpc", "none")])
def test_timeout_fails_each_request_and_says_raise_timeout(running, tmp_path, protocol, shm):
    """Timed-out requests keep running on the server and hold their regions for 3 s more:
    the client waits for them to end and unregisters (it used to give up after 2 s and
    leave the regions registered until Triton restarted)."""
    url = running.http if protocol == "http" else running.grpc
    result = run_client(
        "slower_double",  # 3 s per request
        url,
        tmp_path,
        *("--protocol", protocol, "--shm", shm, "--requests", "2", "--warmup", "0"),
        *("--timeout", "0.4"),
    )
    entry = summary(tmp_path)
    assert result.returncode == 1, result.stderr
    assert (entry["requests_ok"], entry["requests_failed"]) == (0, 2)
    assert "raise --timeout" in result.stderr
    assert "still registered" not in result.stderr
    assert not tos_files(result.pid) and not registered_regions(running.http)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--model-version", "7"), "'tiny_double' version 7 is not ready"),
        (("--batch-size", "5"), "exceeds max_batch_size 4 of model 'tiny_double'"),
        (("--batch-size", "0"), "batch size must be >= 1"),
        (("--shm", "system", "--batch-size", "0"), "batch size must be >= 1"),
    ],
)
def test_bad_arguments_exit_2_before_any_load(running, tmp_path, args, expected):
    result = run_client("tiny_double", running.http, tmp_path, "--requests", "2", *args)
    assert result.returncode == 2 and expected in result.stderr, result.stderr
    assert not (tmp_path / "summary.json").exists()
    assert not tos_files(result.pid) and not registered_regions(running.http)


def test_server_not_running_names_the_address_and_the_fix(running, tmp_path):
    running.stop()
    result = run_client(
        "tiny_double", running.grpc, tmp_path, "--protocol", "grpc", "--requests", "1"
    )
    assert result.returncode == 2
    assert running.grpc in result.stderr and "make up" in result.stderr


@pytest.mark.parametrize(("protocol", "shm"), [("http", "system"), ("grpc", "none")])
def test_server_killed_mid_run_counts_stay_exact(running, tmp_path, protocol, shm):
    url = running.http if protocol == "http" else running.grpc
    client = start_client(
        "slow_double",
        url,
        tmp_path,
        *("--protocol", protocol, "--shm", shm, "--concurrency", "2"),
        *("--requests", "120", "--rate", "40", "--timeout", "5"),
        *("--metrics-port", str(CLIENT_METRICS_PORT)),
    )
    wait_for_answers(CLIENT_METRICS_PORT, "slow_double", at_least=10)
    running.kill()
    _, stderr = client.communicate(timeout=120)
    entry = summary(tmp_path)
    assert client.returncode == 1, stderr
    assert entry["requests_ok"] + entry["requests_failed"] == 120
    assert entry["requests_failed"] > 0 and entry["requests_ok"] > 0
    assert "the server stopped answering" in stderr
    assert "Traceback" not in stderr
    assert entry["server"]["success"] == 0  # no server window from a server that vanished
    assert not tos_files(client.pid)


def test_wrong_answers_count_as_failed_not_ok(running, tmp_path):
    """--verify against a stale reference (y = x, the server computes x + x): every answer
    is wrong, and each is counted once, as failed, so ok + failed still equals sent."""
    stale = tmp_path / "stale_repository" / "tiny_double" / "1"
    stale.mkdir(parents=True)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "stale",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
    )
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), stale / "model.onnx"
    )
    result = run_client(
        "tiny_double",
        running.http,
        tmp_path / "report",
        *("--requests", "10", "--verify", "--model-repository", str(stale.parent.parent)),
    )
    entry = summary(tmp_path / "report")
    assert result.returncode == 1
    assert (entry["requests_ok"], entry["requests_failed"]) == (0, 10)
    assert entry["errors"] == {"mismatch": 10} and "max abs diff" in result.stderr
