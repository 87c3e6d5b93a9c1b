"""`make up` end to end at the seed's full sizes: export -> serve -> load -> report -> down."""

from __future__ import annotations

import json
import os

import pytest

from local_stack import prometheus
from tests.conftest import PORT_BASE, SMALL_MODELS, ports_at, run_module

pytestmark = pytest.mark.seed_size


@pytest.fixture
def up_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SMALL_MODELS}  # .env's seed sizes
    return (
        env
        | ports_at(20)
        | {
            "MODEL_REPOSITORY": str(tmp_path / "model_repository"),
            "STACK_RUN_DIR": str(tmp_path / "run"),
            "CLIENT_METRICS_PORT": str(PORT_BASE + 23),
            "PROMETHEUS_PORT": str(PORT_BASE + 24),
            "LOAD_REQUESTS": "3",
        }
    )


def test_make_up_runs_the_pipeline_and_down_stops_it(up_env, tmp_path):
    try:
        up = run_module("local_stack", "up", env=up_env, check=False, timeout=900)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        report = tmp_path / "run" / "reports" / "latest" / "report.md"
        assert report.is_file(), up.stdout[-2000:]
        text = report.read_text()
        assert "| simple_cnn | http | system |" in text and "| simple_transformer |" in text
        for model, shape in {
            "simple_cnn": [3, 1080, 1920],
            "simple_transformer": [32, 2048],
        }.items():
            (summary,) = json.loads((report.parent / model / "summary.json").read_text())
            assert summary["requests_ok"] == 3 and summary["verified"] == 3
            # NVIDIA's backend runs ONNX Runtime 1.19.2 (NGC 24.10's), the client's reference the
            # venv's newer one: other kernels, other float32 rounding (4.3e-6 seen at seed sizes).
            assert summary["max_abs_diff"] <= 1e-4
            config = (tmp_path / "model_repository" / model / "config.pbtxt").read_text()
            assert all(f"dims: {d}" in config for d in shape)
        assert "make down" in up.stdout
        if prometheus.binary():  # `make up` runs on without it, saying how to install it
            totals = prometheus.query(
                prometheus.url(PORT_BASE + 24),
                "sum by (model) (last_over_time(tos_client_requests_total[10m]))",
            )
            assert {r["metric"]["model"]: r["value"][1] for r in totals} == {
                "simple_cnn": "3",
                "simple_transformer": "3",
            }
        status = run_module("local_stack", "status", env=up_env, check=False)
        assert status.returncode == 0
    finally:
        first = run_module("local_stack", "down", env=up_env, check=False)
    assert "tritonserver stopped" in first.stdout
    assert ("prometheus stopped" in first.stdout) == bool(prometheus.binary())
    second = run_module("local_stack", "down", env=up_env, check=False)
    assert second.returncode == 0 and "was not running" in second.stdout
    assert run_module("local_stack", "status", env=up_env, check=False).returncode == 1
