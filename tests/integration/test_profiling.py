"""python -m profiling on the real server: trace on/off round trip, N requests -> N records."""

from __future__ import annotations

import json

import pytest

from profiling import client_times, trace_api, triton_trace
from profiling.client_times import MONOTONIC
from profiling.http_api import call
from profiling.run import Target, profile_model
from tests.conftest import run_module

MODEL = "simple_transformer"


def _settings(url: str, model: str) -> tuple[dict, dict]:
    return trace_api.global_setting(url), trace_api.model_setting(url, model)


@pytest.fixture(scope="module")
def local_stack(python_backend_stack):
    """ORT's kernel profile comes from our backend: this module serves with ours."""
    return python_backend_stack


def test_tracing_round_trip_leaves_the_settings_as_they_were(local_stack):
    url = local_stack.http_url
    before = _settings(url, MODEL)
    assert before[1]["trace_level"] == ["OFF"]  # the stack starts with tracing off
    with trace_api.tracing(url, MODEL, log_frequency=7):
        during_global, during = _settings(url, MODEL)
        assert during["trace_level"] == ["TIMESTAMPS"]
        assert (during["trace_rate"], during["log_frequency"]) == ("1", "7")
        assert during_global == before[0]  # only the one model is traced
    assert _settings(url, MODEL) == before
    # Still mirroring the global setting: a global change reaches the model again.
    trace_api.call(url, "/v2/trace/setting", {"trace_rate": "999"})
    try:
        assert trace_api.model_setting(url, MODEL)["trace_rate"] == "999"
    finally:
        trace_api.call(url, "/v2/trace/setting", {"trace_rate": None})
    assert _settings(url, MODEL) == before


def test_a_model_with_its_own_setting_gets_it_back(local_stack):
    url = local_stack.http_url
    trace_api.update_model_setting(url, MODEL, {"trace_rate": "5"})
    try:
        own = trace_api.model_setting(url, MODEL)
        with trace_api.tracing(url, MODEL):
            assert trace_api.model_setting(url, MODEL)["trace_rate"] == "1"
        assert trace_api.model_setting(url, MODEL) == own
    finally:
        trace_api.update_model_setting(url, MODEL, {k: None for k in trace_api.SETTING_KEYS})


@pytest.mark.parametrize(
    ("protocol", "shm", "concurrency", "requests", "load"),
    [
        ("http", "none", 1, 12, "driver"),
        ("grpc", "system", 2, 10, "driver"),
        ("http", "system", 2, 8, "client"),
    ],
)
def test_a_trace_of_n_requests_holds_n_complete_records(
    local_stack, tmp_path, protocol, shm, concurrency, requests, load
):
    url = local_stack.http_url
    config_before = call(url, f"/v2/models/{MODEL}/config")
    settings_before = _settings(url, MODEL)
    infer_url = local_stack.grpc if protocol == "grpc" else local_stack.http
    result = profile_model(
        Target(url, infer_url, protocol, shm, load), MODEL, requests, concurrency, tmp_path
    )

    raw = tmp_path / MODEL / "raw"
    records = triton_trace.requests_of(
        triton_trace.read(sorted(raw.glob("triton_trace.*.json"))), MODEL
    )
    # The load client's warm-ups are traced too, without an id; the driver's are not traced.
    tagged = [r for r in records if r.request_id]
    assert len(tagged) == requests and all(r.complete for r in records)
    # The driver's own file, or the load client's --profile-export-file (issue 12's export).
    client, clock = client_times.load(next(raw.glob("client_*.json")))
    assert clock == (MONOTONIC if load == "driver" else None)  # the client's is the wall clock
    traced_ids = {r.request_id for r in records if r.request_id}
    assert traced_ids == {c.id for c in client} and len(client) == requests

    timeline = json.loads((tmp_path / MODEL / "timeline.json").read_text())
    events = timeline["traceEvents"]
    assert sum(e["name"].startswith("request ") for e in events) == requests
    # Every traced request has its ORT run inside Triton's compute window, with MatMul nodes.
    assert sum(e["name"] == "model_run" for e in events) >= 1
    assert any(e.get("args", {}).get("op") == "MatMul" for e in events)
    summary = (tmp_path / MODEL / "summary.txt").read_text()
    assert "ORT MatMul" in summary and "WARNING" not in summary
    assert f"{requests} inside traced requests" in summary or concurrency > 1  # batched runs share
    assert (tmp_path / MODEL / "request.png").stat().st_size > 10_000
    assert result["requests"] == requests
    # The server is as it was: config without the profiling parameter, tracing off.
    assert call(url, f"/v2/models/{MODEL}/config") == config_before
    assert _settings(url, MODEL) == settings_before


def test_merge_names_a_missing_trace_file(tmp_path):
    client = tmp_path / "client.json"
    client.write_text(json.dumps([{"id": "a", "send_ns": 1, "recv_ns": 2}]))
    missing = tmp_path / "nowhere.json"
    result = run_module(
        "profiling", "merge", "--model", MODEL, "--client-times", str(client),
        "--triton-trace", str(missing), "--out", str(tmp_path / "out"), check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"trace file {missing} does not exist" in result.stderr
    assert "Traceback" not in result.stderr
