"""The server restarts or reloads a model while the client drives it.

Restart: the client keeps going (HTTP/gRPC reconnect; shm regions are registered again),
and every answered request is accounted for: those answered before the crash (read from
the client's own metrics while the server is frozen) plus Triton's count after the
restart equal the client's total. Reload: explicit model-control loads of the model being
served (same version, then a new version) cost no request.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import urllib.request

import pytest

from tests.conftest import PORT_BASE
from tests.reliability.cli_runs import (
    run_client,
    scrape,
    start_client,
    summary,
    wait_for_answers,
)
from tests.reliability.conftest import registered_regions, tos_files

CLIENT_METRICS_PORT = PORT_BASE + 47  # reliability owns offsets 40..49
RELOAD_METRICS_PORT = PORT_BASE + 49


@pytest.mark.parametrize(
    ("protocol", "shm"), [("http", "system"), ("grpc", "none"), ("grpc", "system")]
)
def test_restart_under_load_reconnects_and_totals_reconcile(running, tmp_path, protocol, shm):
    url = running.http if protocol == "http" else running.grpc
    client = start_client(
        "slow_double",
        url,
        tmp_path,
        *("--protocol", protocol, "--shm", shm, "--concurrency", "2"),
        *("--requests", "200", "--timeout", "30"),  # closed loop: always a request in flight
        *("--metrics-port", str(CLIENT_METRICS_PORT)),
    )
    client_metrics = f"http://127.0.0.1:{CLIENT_METRICS_PORT}/metrics"
    wait_for_answers(CLIENT_METRICS_PORT, "slow_double", at_least=20)
    running.freeze()  # nothing more can be answered: the client's count is now final
    time.sleep(0.5)
    answered_before = scrape(client_metrics, "tos_client_requests_total", "slow_double")
    # The client waits (stopped) while the server restarts, however long that takes here, so
    # the run cannot end before the server is back; its in-flight requests die with the crash.
    os.kill(client.pid, signal.SIGSTOP)
    try:
        running.kill()
        running.start()
    finally:
        os.kill(client.pid, signal.SIGCONT)
    _, stderr = client.communicate(timeout=180)
    entry = summary(tmp_path)
    served_after = scrape(running.metrics_url, "nv_inference_request_success", "slow_double")

    assert entry["requests_ok"] + entry["requests_failed"] == 200
    assert entry["requests_failed"] > 0 and client.returncode == 1  # the outage is reported
    assert "the server stopped answering" in stderr and "not comparable" in stderr
    assert served_after > 0, f"client never got through after the restart: {stderr}"
    assert entry["requests_ok"] == answered_before + served_after
    if shm == "system":  # one failure per region set, then registered again
        missing = entry["errors"].get("404", 0) + entry["errors"].get("not_found", 0)
        assert missing <= 2, entry["errors"]
    assert not tos_files(client.pid) and not registered_regions(running.http)


def test_model_reload_while_serving_loses_no_request(running, tmp_path):
    model_dir = running.repository / "tiny_double"
    client = start_client(
        "tiny_double",
        running.http,
        tmp_path / "report",
        *("--concurrency", "2", "--requests", "300", "--rate", "50", "--shm", "system"),
        *("--verify", "--model-repository", str(running.repository)),
        *("--metrics-port", str(RELOAD_METRICS_PORT)),
    )
    try:
        wait_for_answers(RELOAD_METRICS_PORT, "tiny_double", at_least=20)
        assert running.post("/v2/repository/models/tiny_double/load") == 200  # same version
        shutil.copytree(model_dir / "1", model_dir / "2")  # a new version appears
        assert running.post("/v2/repository/models/tiny_double/load") == 200
        _, stderr = client.communicate(timeout=120)
    finally:
        shutil.rmtree(model_dir / "2", ignore_errors=True)
        running.post("/v2/repository/models/tiny_double/load")  # back to version 1
    entry = summary(tmp_path / "report")
    assert client.returncode == 0, stderr
    assert (entry["requests_ok"], entry["requests_failed"]) == (300, 0)
    assert entry["verified"] == 300 and entry["max_abs_diff"] == 0.0
    assert entry["server"]["success"] + entry["server"]["fail"] >= 0  # window present
    assert not tos_files(client.pid) and not registered_regions(running.http)


def test_statistics_after_reload_count_the_new_version(running, tmp_path):
    """After a reload to version 2, a short run is answered by version 2."""
    model_dir = running.repository / "tiny_double"
    shutil.copytree(model_dir / "1", model_dir / "2")
    try:
        assert running.post("/v2/repository/models/tiny_double/load") == 200
        result = run_client("tiny_double", running.http, tmp_path, "--requests", "5")
        assert result.returncode == 0, result.stderr
        served_v2 = urllib.request.urlopen(
            f"http://{running.http}/v2/models/tiny_double/versions/2/stats", timeout=10
        ).read()
        assert b'"success":{"count":' in served_v2
    finally:
        shutil.rmtree(model_dir / "2", ignore_errors=True)
        running.post("/v2/repository/models/tiny_double/load")
