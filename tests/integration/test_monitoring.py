"""A real Prometheus (same config as compose) scraping the test Triton and a real client run.

Proves the metrics path: both targets up, Prometheus's totals equal what the client counted,
and every dashboard panel query returns data (GPU panels excepted on a CPU host).
"""

from __future__ import annotations

import json
import math
import shutil
from urllib.parse import urlparse

import pytest

from local_stack import dashboards, prometheus
from tests.conftest import PORT_BASE, run_module

PROMETHEUS_PORT = PORT_BASE + 70
CLIENT_METRICS_PORT = PORT_BASE + 71
MODEL = "simple_transformer"
REQUESTS = 40

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None,
    reason="prometheus missing: apt-get install -y prometheus (.ci/run installs it)",
)


def _value(result: list[dict]) -> float:
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def _triton_success(base: str) -> float:
    promql = f'sum(nv_inference_request_success{{job="triton", model="{MODEL}"}})'
    return _value(prometheus.wait_for(base, promql, lambda r: len(r) == 1))


@pytest.fixture(scope="module")
def prometheus_url(stack, tmp_path_factory):
    """Prometheus on its own port, scraping the session's Triton and the client's port."""
    run_dir = tmp_path_factory.mktemp("prometheus")
    targets = prometheus.local_targets(
        urlparse(stack.metrics_url).port, CLIENT_METRICS_PORT, "127.0.0.1"
    )
    process = prometheus.start(run_dir, PROMETHEUS_PORT, targets)
    try:
        yield prometheus.url(PROMETHEUS_PORT)
    finally:
        process.stop()


@pytest.fixture(scope="module")
def load_run(stack, prometheus_url, tmp_path_factory) -> dict:
    """One bounded client run with its metrics endpoint lingering for the last scrapes."""
    base = prometheus_url
    prometheus.wait_for(base, 'up{job="triton"} == 1', bool)
    success_before = _triton_success(base)
    report = tmp_path_factory.mktemp("client-report")
    result = run_module(
        "client",
        "--model", MODEL,
        "--url", stack.http,
        "--protocol", "http",
        "--shm", "system",
        "--concurrency", "2",
        "--requests", str(REQUESTS),
        "--warmup", "0",  # warm-up requests reach Triton but not the client's counters
        "--metrics-port", str(CLIENT_METRICS_PORT),
        "--linger", "3",  # > 2 scrapes at 0 before and at the totals after
        "--report", str(report),
        "--quiet",
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (summary,) = json.loads((report / "summary.json").read_text())
    return {"summary": summary, "success_before": success_before}


def test_prometheus_scraped_both_targets(prometheus_url, load_run):
    for job in ("triton", "client"):
        # the client has exited by now: its last scrapes (during --linger) said up == 1
        result = prometheus.query(prometheus_url, f'max_over_time(up{{job="{job}"}}[2m])')
        assert _value(result) == 1.0, f"{job} was never scraped: {result}"


def test_prometheus_totals_equal_the_client_counts(prometheus_url, load_run):
    summary = load_run["summary"]
    assert summary["requests_ok"] == REQUESTS and summary["requests_failed"] == 0
    client_total = prometheus.query(
        prometheus_url, f'sum(last_over_time(tos_client_requests_total{{model="{MODEL}"}}[2m]))'
    )
    assert _value(client_total) == REQUESTS
    # declared at 0 and scraped before the first request (--linger), so rate() sees the whole run
    first = prometheus.query(
        prometheus_url, f'min_over_time(tos_client_requests_total{{model="{MODEL}"}}[2m])'
    )
    assert _value(first) == 0
    buckets = prometheus.query(
        prometheus_url,
        f'sum(last_over_time(tos_client_request_latency_seconds_count{{model="{MODEL}"}}[2m]))',
    )
    assert _value(buckets) == REQUESTS
    # Triton's own counter, as Prometheus scraped it, moved by exactly the client's requests.
    served = _triton_success(prometheus_url) - load_run["success_before"]
    assert served == REQUESTS == summary["server"]["success"]


def test_every_dashboard_panel_returns_data(prometheus_url, load_run, stack):
    instance = f"127.0.0.1:{urlparse(stack.metrics_url).port}"
    variables = dashboards.default_variables(model=MODEL, instance=instance, window="2m")
    queries = [
        query
        for path in sorted(dashboards.DASHBOARD_DIR.glob("*.json"))
        for query in dashboards.panel_queries(path, variables)
    ]
    assert queries
    empty, gpu_only, errors_only = [], set(), []
    for query in queries:
        if query.gpu_only:
            gpu_only.add(query.title)
            continue  # nv_gpu_* exist only on a GPU host; proven there, not here
        result = prometheus.query(prometheus_url, query.expr)
        if query.errors_only and not load_run["summary"]["requests_failed"]:
            errors_only.append(query.expr)
            assert result == [], "the client counted no error, Prometheus must show none"
            continue
        if not any(math.isfinite(float(series["value"][1])) for series in result):
            empty.append(f"#{query.panel_id}{query.ref_id} {query.title}: {query.expr} -> {result}")
    assert not empty, "panel queries without data:\n" + "\n".join(empty)
    assert len(errors_only) == 1  # the client-errors target of "Failures by reason"
    assert gpu_only == {"GPU utilisation", "GPU memory used", "GPU power"}
    print("GPU-only panel queries (empty on CPU):", gpu_only)


def test_recording_rules_produce_the_derived_series(prometheus_url, load_run):
    for record in (
        "model:nv_inference_request_success:rate1m",
        "model:nv_inference_queue_us_per_request:rate1m",
        "model:nv_inference_compute_us_per_request:rate1m",
        "model:nv_inference_request_summary_us:p99",
        "model:nv_inference_batch_size:rate1m",
    ):
        result = prometheus.wait_for(
            prometheus_url, f'max_over_time({record}{{model="{MODEL}"}}[2m])', bool
        )
        assert math.isfinite(_value(result)) and _value(result) > 0, (record, result)
