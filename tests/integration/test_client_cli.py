"""The client as users run it: every protocol x data path, verified against ORT, cleaned up."""

from __future__ import annotations

import json

import pytest
import tritonclient.http as httpclient

from stack_settings.control_key import control_headers
from tests.conftest import run_module
from tests.integration.test_client_load import client_shm_files


@pytest.mark.parametrize("shm", ["none", "system"])
@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_client_verifies_and_reports(stack, tmp_path, protocol, shm):
    url = stack.http if protocol == "http" else stack.grpc
    shm_before = set(client_shm_files())  # other checkouts' crashed clients are not ours
    result = run_module(
        "client",
        "--model",
        "simple_transformer",
        "--protocol",
        protocol,
        "--shm",
        shm,
        "--concurrency",
        "2",
        "--requests",
        "10",
        "--verify",
        "--url",
        url,
        "--model-repository",
        str(stack.repository),
        "--report",
        str(tmp_path),
        "--quiet",
        "--metrics-port",
        "0",
    )
    (summary,) = json.loads((tmp_path / "summary.json").read_text())
    assert summary["requests_ok"] == 10 and summary["requests_failed"] == 0, result.stderr
    assert summary["verified"] == 10
    assert summary["max_abs_diff"] <= 1e-6
    assert summary["server"]["success"] == 10  # the server counted the same window
    assert set(summary["latency_ms"]) >= {"p50", "p90", "p95", "p99", "max"}
    assert (tmp_path / "summary.csv").read_text().count("\n") == 2
    assert not set(client_shm_files()) - shm_before, "shared-memory files left in /dev/shm"
    status = httpclient.InferenceServerClient(stack.http).get_system_shared_memory_status(
        headers=control_headers()
    )
    assert not [r for r in status if r["name"].startswith("tos_")], "regions left registered"


def test_unknown_model_exits_non_zero_naming_it(stack):
    result = run_module(
        "client",
        "--model",
        "no_such_model",
        "--requests",
        "1",
        "--url",
        stack.http,
        "--metrics-port",
        "0",
        check=False,
    )
    assert result.returncode == 2
    assert "no_such_model" in result.stderr and "simple_cnn" in result.stderr


def test_unreachable_server_exits_non_zero_naming_it():
    result = run_module(
        "client",
        "--model",
        "simple_cnn",
        "--requests",
        "1",
        "--url",
        "127.0.0.1:1",
        "--metrics-port",
        "0",
        check=False,
    )
    assert result.returncode == 2
    assert "cannot reach Triton at 127.0.0.1:1" in result.stderr


def test_taken_metrics_port_exits_before_any_load_naming_it(stack, tmp_path, listener):
    port = listener  # held as node_exporter would hold 9100
    shm_before = set(client_shm_files())
    result = run_module(
        "client",
        "--model",
        "simple_transformer",
        "--shm",
        "system",
        "--requests",
        "3",
        "--url",
        stack.http,
        "--report",
        str(tmp_path),
        "--metrics-port",
        str(port),
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert f"cannot serve client metrics on 127.0.0.1:{port}" in result.stderr
    assert "--metrics-port" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "summary.json").exists()  # nothing was sent, nothing reported
    assert not set(client_shm_files()) - shm_before
