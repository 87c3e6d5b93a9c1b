"""`python -m optimize` on the live test server, on tiny models whose better config is known.

Windows are 1 s: these tests prove the search (valid configs, the known winner, the budget,
resume, cleanup), not performance; the per-call model sleeps, so its ranking holds on a busy box.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tritonclient.http as httpclient

from optimize.model_config import parse
from stack_settings.control_key import control_headers
from tests.conftest import PROJECT_ROOT, run_module
from tests.integration.test_client_load import client_shm_files
from tests.optimize.models import write_per_call_model
from tests.reliability.tiny_models import write_doubler

PER_CALL = "opt_per_call"  # sleeps 20 ms per call, served unbatched (b1, i1)
SLOW_CALL = "opt_slow_call"  # sleeps 100 ms per call: latencies the budget test can rely on
SMALL_SPACE = ["--instances", "1,2", "--max-batch-size", "1,8", "--queue-delay-us", "0",
               "--preferred", "off"]  # fmt: skip


@pytest.fixture(scope="module")
def models(stack):
    """The tiny models, added to the live server's repository and loaded (explicit mode)."""
    write_per_call_model(stack.repository, PER_CALL, call_s=0.02)
    write_per_call_model(stack.repository, SLOW_CALL, call_s=0.1)
    write_doubler(stack.repository, "opt_tiny_double", max_batch_size=4)
    client = httpclient.InferenceServerClient(stack.http)
    for name in (PER_CALL, SLOW_CALL, "opt_tiny_double"):
        client.load_model(name, headers=control_headers())
    yield stack
    client.close()


def optimize_args(stack, model: str, report: Path, *args: str) -> list[str]:
    return ["--model", model, "--url", stack.http, "--model-repository", str(stack.repository),
            "--report", str(report), "--duration", "1", "--warmup", "1", *args]  # fmt: skip


def optimize(stack, model: str, report: Path, *args: str, check_rc: int | None = 0):
    result = run_module("optimize", *optimize_args(stack, model, report, *args), check=False)
    if check_rc is not None:
        assert result.returncode == check_rc, result.stdout + result.stderr
    return result


@pytest.fixture
def shm_before() -> set[str]:
    """Client regions of exited processes before the test (other checkouts' are not ours)."""
    return set(client_shm_files())


def assert_clean(stack, shm_before: set[str]) -> None:
    """No candidate folder, none known to the server, no client shm region left behind."""
    assert not [p.name for p in stack.repository.iterdir() if "__opt_" in p.name]
    client = httpclient.InferenceServerClient(stack.http)
    try:
        index = client.get_model_repository_index(headers=control_headers())
        assert not [m for m in index if "__opt_" in m["name"] and m.get("state") == "READY"]
        regions = client.get_system_shared_memory_status(headers=control_headers())
        assert not [r for r in regions if r["name"].startswith("tos_")]
    finally:
        client.close()
    assert not set(client_shm_files()) - shm_before, "client shared memory left in /dev/shm"


def test_finds_the_batching_config_and_resumes(models, tmp_path, shm_before):
    serving = (models.repository / PER_CALL / "config.pbtxt").read_bytes()
    first = optimize(models, PER_CALL, tmp_path, *SMALL_SPACE)
    data = json.loads((tmp_path / "optimize.json").read_text())
    measured = data["measurements"]
    # Every visited candidate was a valid config: it loaded and answered every request.
    assert {m["label"] for m in measured} == {"i1 b1 d0", "i1 b8 d0", "i2 b1 d0", "i2 b8 d0"}
    assert all(not m.get("error") and m["requests_failed"] == 0 for m in measured), measured
    assert first.stdout.count("loaded opt_per_call__opt_") == 4
    winner = data["run"]["winner"]
    assert winner["candidate"]["max_batch_size"] == 8, first.stdout  # batching must win
    assert winner["avg_batch_size"] > 1
    written = parse((models.repository / PER_CALL / "config.optimized.pbtxt").read_text(), "w")
    assert written.name == PER_CALL and written.max_batch_size == 8
    assert written.instance_group[0].count == winner["candidate"]["instances"]
    assert (models.repository / PER_CALL / "config.pbtxt").read_bytes() == serving  # untouched
    assert (tmp_path / "throughput_vs_p99.png").stat().st_size > 0
    assert "**winner**" in (tmp_path / "report.md").read_text()
    assert_clean(models, shm_before)

    again = optimize(models, PER_CALL, tmp_path, *SMALL_SPACE)
    assert "resuming: 4 measurements" in again.stdout
    assert "loaded " not in again.stdout  # nothing measured twice
    assert json.loads((tmp_path / "optimize.json").read_text())["run"]["winner"] == winner


def test_respects_the_p99_budget(models, tmp_path, shm_before):
    # A call sleeps 100 ms. At 2 x 8 = 16 in flight a b8 candidate queues at least two batches,
    # so its p99 is at least 200 ms: over the 160 ms budget, and the search must halve its
    # concurrency. Unbatched at concurrency 1 a request takes ~100 ms: something fits.
    args = ["--instances", "1", "--max-batch-size", "1,8", "--queue-delay-us", "50000",
            "--preferred", "max", "--p99-budget-ms", "160"]  # fmt: skip
    optimize(models, SLOW_CALL, tmp_path, *args)
    data = json.loads((tmp_path / "optimize.json").read_text())
    winner = data["run"]["winner"]
    assert winner["p99_ms"] <= 160 and winner["requests_failed"] == 0
    b8 = [m for m in data["measurements"] if m["label"] == "i1 b8 d50000 pref"]
    assert b8[0]["concurrency"] == 16 and b8[0]["p99_ms"] > 160, b8
    assert [m["concurrency"] for m in b8][1] == 8  # halved while over the budget
    assert "p99 budget: 160.0 ms" in (tmp_path / "report.md").read_text()
    assert_clean(models, shm_before)


def test_impossible_budget_names_no_winner(models, tmp_path, shm_before):
    optimized = models.repository / PER_CALL / "config.optimized.pbtxt"
    before = optimized.read_text() if optimized.exists() else None
    args = ["--instances", "1", "--max-batch-size", "8", "--queue-delay-us", "0",
            "--preferred", "off", "--p99-budget-ms", "5", "--concurrency-steps", "0"]  # fmt: skip
    result = optimize(models, PER_CALL, tmp_path, *args, check_rc=1)
    assert "no candidate met the goal" in result.stdout
    assert (optimized.read_text() if optimized.exists() else None) == before
    assert_clean(models, shm_before)


def test_onnx_model_candidates_load_from_the_shared_file(models, tmp_path, shm_before):
    args = ["--instances", "1,2", "--max-batch-size", "1,4", "--queue-delay-us", "0,500",
            "--preferred", "max", "--quick", "--max-candidates", "3",
            "--ceiling", "--ceiling-batches", "1,4", "--ceiling-seconds", "0.3"]  # fmt: skip
    result = optimize(models, "opt_tiny_double", tmp_path, *args)
    data = json.loads((tmp_path / "optimize.json").read_text())
    measured = data["measurements"]
    ceiling = data["run"]["ceiling"]  # in-process ORT, before and after the search
    assert ceiling["passes"] == 2 and set(ceiling["by_batch"]) == {"1", "4"}
    assert ceiling["best"] == max(ceiling["by_batch"].values()) > 0
    assert "winner / ceiling: " in (tmp_path / "report.md").read_text()
    assert len({m["hash"] for m in measured}) == 3, result.stdout
    assert all(not m.get("error") and m["requests_failed"] == 0 for m in measured), measured
    assert "from i1 b4 d0 pref" in result.stdout  # the serving config, snapped to the space
    assert_clean(models, shm_before)


def test_a_larger_max_batch_wins_when_the_space_reaches_it(models, tmp_path, shm_before):
    # 100 ms per call whatever the batch: b32 filled serves ~2x b16 and ~4x b8, so only a space
    # that goes up to 32 and a concurrency that fills 32 (2 x 32 = 64 in flight) can find it.
    args = ["--up-to-batch", "32", "--instances", "1", "--queue-delay-us", "0",
            "--preferred", "off", "--exhaustive"]  # fmt: skip
    result = optimize(models, SLOW_CALL, tmp_path, *args)
    assert "max_batch_size up to 32 (" in result.stdout
    data = json.loads((tmp_path / "optimize.json").read_text())
    measured = {m["label"]: m for m in data["measurements"]}
    assert set(measured) == {f"i1 b{b} d0" for b in (1, 2, 4, 8, 16, 32)}
    assert measured["i1 b32 d0"]["concurrency"] == 64  # the fill: twice the batch
    assert all(m["requests_failed"] == 0 for m in measured.values()), measured
    winner = data["run"]["winner"]
    assert winner["candidate"]["max_batch_size"] == 32, result.stdout
    assert winner["avg_batch_size"] > 16
    assert_clean(models, shm_before)


def test_ceiling_bounds_the_space_memory_caps_it_named_concurrencies(models, tmp_path, shm_before):
    # x[4] + y[4] fp32: 32 bytes an item; 64 bytes of batch memory caps max_batch_size at 2.
    args = ["--instances", "1", "--queue-delay-us", "0", "--preferred", "off",
            "--ceiling", "--ceiling-batches", "1,2,4", "--ceiling-seconds", "0.3",
            "--batch-memory-mb", "0.000064", "--concurrency", "1,3",
            "--request-batch-size", "2"]  # fmt: skip
    result = optimize(models, "opt_tiny_double", tmp_path, *args)
    data = json.loads((tmp_path / "optimize.json").read_text())
    best = data["run"]["ceiling"]["best_batch"]
    assert data["run"]["reach"]["cap"] == 2 and "--batch-memory-mb" in data["run"]["reach"]["why"]
    if best > 2:
        assert f"max_batch_size capped at 2 (not {best}): 3.2e-05 MB in + out" in result.stdout
    # b1 is below the request's 2 items; every candidate at each named concurrency
    measured = data["measurements"]
    assert {m["label"] for m in measured} == {"i1 b2 d0"}
    assert sorted(m["concurrency"] for m in measured) == [1, 3]
    assert all(m["requests_failed"] == 0 for m in measured), measured
    report = (tmp_path / "report.md").read_text()
    assert "Where the rest of the ceiling goes" in report
    assert "python -m profiling --model opt_tiny_double --protocol http --shm system" in report
    assert_clean(models, shm_before)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_interrupted_run_cleans_up_and_resumes(models, tmp_path, how, shm_before):
    two = ["--instances", "1", "--max-batch-size", "1,8", "--queue-delay-us", "0",
           "--preferred", "off", "--duration", "2"]  # fmt: skip
    command = [sys.executable, "-m", "optimize", *optimize_args(models, PER_CALL, tmp_path, *two)]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, start_new_session=True, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        # Interrupt while the second candidate is loaded and its client is measuring.
        while (tmp_path / "optimize.json").exists() is False or not _candidate_ready(models):
            assert time.monotonic() < deadline and process.poll() is None, process.communicate()
            time.sleep(0.1)
        time.sleep(1.5)
        if how == "ctrl-c":  # a terminal sends SIGINT to the whole foreground group
            os.killpg(process.pid, signal.SIGINT)
        else:
            process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == (130 if how == "ctrl-c" else 143), stdout + stderr
    assert "candidates unloaded and removed" in stderr
    assert_clean(models, shm_before)
    done = json.loads((tmp_path / "optimize.json").read_text())["measurements"]
    assert len(done) >= 1
    if how == "ctrl-c":
        resumed = optimize(models, PER_CALL, tmp_path, *two)
        assert f"resuming: {len(done)} measurements" in resumed.stdout
        assert resumed.stdout.count("loaded ") == 2 - len(done)
        assert_clean(models, shm_before)


def _candidate_ready(stack) -> bool:
    client = httpclient.InferenceServerClient(stack.http)
    try:
        index = client.get_model_repository_index(headers=control_headers())
    finally:
        client.close()
    return any("__opt_" in m["name"] and m.get("state") == "READY" for m in index)


def test_stale_candidate_of_a_killed_run_is_removed(models, tmp_path, shm_before):
    stale = models.repository / f"{PER_CALL}__opt_deadbeef"
    (stale / "1").mkdir(parents=True)
    (stale / "1" / "model.py").symlink_to(
        os.path.relpath(models.repository / PER_CALL / "1" / "model.py", stale / "1")
    )
    (stale / "config.pbtxt").write_text(
        (models.repository / PER_CALL / "config.pbtxt").read_text().replace(PER_CALL, stale.name)
    )
    (stale / ".optimize-owner.json").write_text(
        json.dumps({"pid": _dead_pid(), "host": os.uname().nodename})
    )
    httpclient.InferenceServerClient(models.http).load_model(stale.name, headers=control_headers())
    result = optimize(models, PER_CALL, tmp_path, "--instances", "1", "--max-batch-size", "1")
    assert f"removed {stale.name}: a candidate left by a run that was killed" in result.stdout
    assert_clean(models, shm_before)


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_bad_input_exits_2_naming_the_fix(models, tmp_path, shm_before):
    result = optimize(models, "no_such_model", tmp_path, check_rc=2)
    assert "'no_such_model' is not ready" in result.stderr and PER_CALL in result.stderr
    result = optimize(models, PER_CALL, tmp_path, "--instances", "0", check_rc=2)
    assert "--instances must be >= 1" in result.stderr
    wrong_key = dict(os.environ, TRITON_CONTROL_KEY="not-the-key")
    result = run_module(
        "optimize", *optimize_args(models, PER_CALL, tmp_path), env=wrong_key, check=False
    )
    assert result.returncode == 2 and "needs the control key" in result.stderr, result.stderr
    assert not (tmp_path / "optimize.json").exists()


def test_apply_replaces_the_serving_config_and_reloads(models, tmp_path, shm_before):
    name = "opt_apply"
    folder = write_per_call_model(models.repository, name, call_s=0.02)
    client = httpclient.InferenceServerClient(models.http)
    try:
        client.load_model(name, headers=control_headers())
        before = (folder / "config.pbtxt").read_text()
        args = ["--instances", "2", "--max-batch-size", "4", "--queue-delay-us", "0",
                "--preferred", "off", "--apply"]  # fmt: skip
        optimize(models, name, tmp_path, *args)
        assert (folder / "config.pbtxt.before-optimize").read_text() == before
        assert (folder / "config.pbtxt").read_text() == (
            folder / "config.optimized.pbtxt"
        ).read_text()
        served = client.get_model_config(name)  # reloaded: the server serves the winner now
        assert served["max_batch_size"] == 4 and served["instance_group"][0]["count"] == 2
        assert client.is_model_ready(name)
    finally:
        client.unload_model(name, headers=control_headers())
        client.close()
    assert_clean(models, shm_before)


def test_refused_candidate_is_recorded_and_removed(models, tmp_path, shm_before):
    name = "opt_refuses_b8"
    write_per_call_model(models.repository, name, call_s=0.02, refuse_batch_above=4)
    client = httpclient.InferenceServerClient(models.http)
    try:
        client.load_model(name, headers=control_headers())
        args = ["--instances", "1", "--max-batch-size", "1,8", "--queue-delay-us", "0",
                "--preferred", "off"]  # fmt: skip
        result = optimize(models, name, tmp_path, *args)
        data = json.loads((tmp_path / "optimize.json").read_text())
        (refused,) = [m for m in data["measurements"] if m.get("error")]
        assert refused["label"] == "i1 b8 d0" and "load failed" in refused["error"]
        assert "max_batch_size 8 > 4" in refused["error"], result.stdout
        assert data["run"]["winner"]["label"] == "i1 b1 d0"
    finally:
        client.unload_model(name, headers=control_headers())
        client.close()
    assert_clean(models, shm_before)


def test_budget_from_the_serving_config(models, tmp_path, shm_before):
    args = ["--instances", "1", "--max-batch-size", "8", "--queue-delay-us", "0",
            "--preferred", "off", "--budget-at-concurrency", "2"]  # fmt: skip
    result = optimize(models, PER_CALL, tmp_path, *args, check_rc=None)
    assert result.returncode in (0, 1), result.stdout + result.stderr  # met or not: noise decides
    run = json.loads((tmp_path / "optimize.json").read_text())["run"]
    passes = run["baseline"]["passes"]
    assert len(passes) == 2 and all(p["concurrency"] == 2 for p in passes)
    assert run["baseline"]["p99_ms"] == min(p["p99_ms"] for p in passes)  # the tighter budget
    report = (tmp_path / "report.md").read_text()
    assert (
        f"p99 budget: {run['baseline']['p99_ms']:.1f} ms (the serving config's p99 at concurrency 2)"
        in report
    )
    assert "winner / serving config" in report or "none met the goal" in report
    assert_clean(models, shm_before)
