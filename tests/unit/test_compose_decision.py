"""`make up` picks compose wherever an engine answers (gpu profile with a GPU, else cpu), the
local path without one; STACK_RUNNER forces either. The probes name what failed."""

import os
import subprocess
import sys

import pytest

from launcher import compose_runner


def test_engine_and_gpu_run_the_gpu_profile():
    choice = compose_runner.choose_path(None, None)
    assert choice.use_compose and choice.profile == "gpu"


def test_no_engine_runs_local_path_saying_why():
    choice = compose_runner.choose_path("no Docker engine: `docker info` failed: x", None)
    assert not choice.use_compose
    assert "no Docker engine" in choice.reason and "local path" in choice.reason


def test_engine_without_gpu_runs_the_cpu_profile_saying_why():
    choice = compose_runner.choose_path(None, "no NVIDIA GPU: `nvidia-smi` not found on PATH")
    assert choice.use_compose and choice.profile == "cpu"
    assert "no NVIDIA GPU" in choice.reason and "cpu profile" in choice.reason


def test_runner_local_skips_compose_even_with_an_engine():
    choice = compose_runner.choose_path(None, None, runner="local")
    assert not choice.use_compose and "STACK_RUNNER=local" in choice.reason


def test_runner_compose_without_an_engine_is_an_error_naming_both():
    with pytest.raises(compose_runner.ComposeError, match="STACK_RUNNER=compose.*no Docker engine"):
        compose_runner.choose_path("no Docker engine: a", None, runner="compose")


def test_probe_of_missing_command_names_it():
    assert (
        compose_runner._probe(["no-such-command-xyz"]) == "`no-such-command-xyz` not found on PATH"
    )


def test_probe_of_failing_command_names_it_and_its_output():
    reason = compose_runner._probe(["sh", "-c", "echo engine down >&2; exit 3"])
    assert reason is not None
    assert reason == "`sh -c echo engine down >&2; exit 3` failed: engine down"


def test_probe_of_working_command_is_none():
    assert compose_runner._probe(["true"]) is None


def test_launch_down_with_nothing_running_stops_nothing_and_succeeds(tmp_path):
    """Here (no engine) `make down` must not touch compose and must still succeed."""
    env = os.environ | {"STACK_RUN_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "launcher", "down"],
        cwd=compose_runner.PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    if compose_runner.docker_engine_problem():
        assert "docker compose down" not in result.stdout
    assert "tritonserver was not running" in result.stdout


def test_launch_rejects_unknown_command():
    result = subprocess.run(
        [sys.executable, "-m", "launcher", "sideways"],
        cwd=compose_runner.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "usage: python -m launcher {up|down} | key {show [NAME]|rotate|path}" in result.stderr
