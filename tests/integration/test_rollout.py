"""Rollout and rollback on the real server while the client drives load: nothing fails.

Two clients (gRPC and HTTP, system shm, concurrency 4 each) run for a fixed time while a
broken version is refused, a version whose outputs are exactly twice the old ones is rolled
out, and the old version is rolled back. Every response is verified by the client against
in-process ORT on the version that answered (atol/rtol 1e-3; the two versions differ by >= 9
in every element, so each response matches exactly one of them).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tritonclient.grpc as grpcclient

from rollout.repo import CHECK_SUFFIX
from stack_settings.control_key import control_headers
from tests.conftest import PROJECT_ROOT, run_module
from tests.integration.rollout_models import scaled_model, write

MODEL = "rollout_scaled"
LOAD_SECONDS = 45  # covers the four commands on 2 busy cores; the test checks it did


@pytest.fixture
def served_v1(stack, tmp_path):
    """MODEL version 1 (scale 1) published and loaded; removed from server and disk after."""
    source = write(scaled_model(1.0), tmp_path / "model.onnx")
    result = run_module("exporter", "add", str(source), "--name", MODEL,
                        "--repository", str(stack.repository), check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    client = grpcclient.InferenceServerClient(stack.grpc)
    client.load_model(MODEL, headers=control_headers())
    try:
        yield client
    finally:
        client.unload_model(MODEL, headers=control_headers())
        client.close()
        shutil.rmtree(stack.repository / MODEL, ignore_errors=True)
        (stack.repository / f"{MODEL}.rollout.json").unlink(missing_ok=True)


def _client(stack, protocol: str, report: Path) -> subprocess.Popen:
    url = stack.grpc if protocol == "grpc" else stack.http
    command = [
        sys.executable, "-m", "client", "--model", MODEL, "--protocol", protocol,
        "--shm", "system", "--concurrency", "4", "--duration", str(LOAD_SECONDS),
        "--verify", "--url", url, "--model-repository", str(stack.repository),
        "--report", str(report), "--metrics-port", "0", "--quiet",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip


def _rollout(stack, *args: str):
    return run_module(
        "rollout", *args, "--model", MODEL, "--repository", str(stack.repository),
        "--url", stack.grpc, "--metrics-url", stack.metrics_url, check=False, timeout=180,
    )  # fmt: skip


def _answered(client) -> int:
    stats = client.get_inference_statistics(MODEL, as_json=True)["model_stats"]
    return sum(int(s["inference_stats"].get("success", {}).get("count", 0)) for s in stats)


def _instances_started(stack) -> int | None:
    """Instances of MODEL the server has initialised so far (None: no server log here)."""
    if stack.log_file is None:
        return None
    return stack.log_file.read_text().count(f"ModelInstanceInitialize: {MODEL}_0_0 ")


def test_rollout_and_rollback_under_load(stack, served_v1, tmp_path):
    started_before = _instances_started(stack)
    bad = write(scaled_model(1.0, noisy=True), tmp_path / "noisy.onnx")
    doubled = write(scaled_model(2.0), tmp_path / "doubled.onnx")
    clients = {p: _client(stack, p, tmp_path / p) for p in ("grpc", "http")}
    try:
        deadline = time.monotonic() + 30
        while _answered(served_v1) < 200:  # both clients warm and sending
            assert time.monotonic() < deadline, "the clients sent no steady load within 30 s"
            time.sleep(0.5)

        began = time.monotonic()
        refused = _rollout(stack, "--from-onnx", str(bad))
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "refused version 2" in refused.stderr and "max abs diff" in refused.stderr
        time.sleep(2)
        # The latency guard is tested on its own (test_rollout_repo.py): here two clients load
        # the 2 cores, and the fresh version's first probes ran 3.2x the warm one's p50 in CI.
        promoted = _rollout(
            stack, "--from-onnx", str(doubled), "--keep", "2", "--max-slowdown", "0"
        )
        assert promoted.returncode == 0, promoted.stdout + promoted.stderr
        assert "serving version 3" in promoted.stdout
        time.sleep(3)
        back = _rollout(stack, "rollback")
        assert back.returncode == 0, back.stdout + back.stderr
        assert "serving version 1" in back.stdout
        time.sleep(2)
        forward = _rollout(stack, "rollback")  # undoes the rollback: v3 checked before served
        assert forward.returncode == 0, forward.stdout + forward.stderr
        assert (
            "serving version 3" in forward.stdout
            and "as rollout_scaled__rollout_check" in forward.stdout
        )
        print(f"four commands took {time.monotonic() - began:.1f} s under load")
        ended = [p for p, c in clients.items() if c.poll() is not None]
        assert not ended, f"load ended before the rollback did: {ended}"
    finally:
        outputs = {p: c.communicate(timeout=LOAD_SECONDS + 60)[0] for p, c in clients.items()}

    for result in (refused, promoted, back, forward):  # the steps, for the CI log
        print(result.stdout, result.stderr)
    for protocol, process in clients.items():
        print(outputs[protocol])
        assert process.returncode == 0, outputs[protocol]
        summary = json.loads((tmp_path / protocol / "summary.json").read_text())[0]
        assert summary["requests_failed"] == 0, summary["error_examples"]
        assert summary["verified"] == summary["requests_ok"] > 0
        # Never the refused version 2; seconds served by one version alone: 1, 3, 1, 3.
        assert set(summary["responses_by_version"]) == {"1", "3"}, summary["responses_by_version"]
        alone = [list(set(row) - {"t_s"}) for row in summary["version_timeline"]]
        runs = [v[0] for i, v in enumerate(alone) if len(v) == 1 and (i == 0 or alone[i - 1] != v)]
        assert runs == ["1", "3", "1", "3"], summary["version_timeline"]
        assert "responses per version: 0-" in outputs[protocol]

    history = json.loads((stack.repository / f"{MODEL}.rollout.json").read_text())
    actions = [e["action"] for e in history["history"]]
    assert actions == ["refused", "rollout", "rollback", "rollback"]
    assert (history["serving"], history["previous"], history["refused"]) == (3, 1, [2])
    versions = sorted(p.name for p in (stack.repository / MODEL).iterdir() if p.name.isdigit())
    assert versions == ["1", "3"]  # the refused version left nothing behind
    assert not (stack.repository / (MODEL + CHECK_SUFFIX)).exists()
    if started_before is not None:  # v3, v1, v3: one per command, nothing else reloaded
        assert _instances_started(stack) - started_before == 3
    index = served_v1.get_model_repository_index(headers=control_headers(), as_json=True)
    ready = [m for m in index["models"] if m["name"].startswith(MODEL) and m["state"] == "READY"]
    assert [(m["name"], m["version"]) for m in ready] == [(MODEL, "3")]


def test_interrupted_rollout_leaves_the_served_version_and_nothing_else(stack, served_v1, tmp_path):
    """SIGTERM while the new version is being checked: v1 serves on, nothing of v2 is left."""
    doubled = write(scaled_model(2.0), tmp_path / "doubled.onnx")
    command = [
        sys.executable, "-m", "rollout", "--model", MODEL, "--from-onnx", str(doubled),
        "--repository", str(stack.repository), "--url", stack.grpc,
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert "published version 2" in process.stdout.readline()  # the check comes next
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert not (stack.repository / MODEL / "2").exists()
    assert not (stack.repository / (MODEL + CHECK_SUFFIX)).exists()
    index = served_v1.get_model_repository_index(headers=control_headers(), as_json=True)
    ready = [m for m in index["models"] if m["name"].startswith(MODEL) and m["state"] == "READY"]
    assert [(m["name"], m["version"]) for m in ready] == [(MODEL, "1")]
    history = json.loads((stack.repository / f"{MODEL}.rollout.json").read_text())
    assert history["refused"] == [2] and "interrupted" in history["history"][-1]["reason"]


def test_a_wrong_control_key_is_named_with_the_fix(stack, served_v1):
    env = os.environ | {"TRITON_CONTROL_KEY": "not_the_key_0123456789"}
    result = run_module("rollout", "rollback", "--model", MODEL, "--repository",
                        str(stack.repository), "--url", stack.grpc, env=env, check=False)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "needs the control key" in result.stderr and "control.key" in result.stderr
