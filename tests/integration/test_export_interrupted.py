"""An export that dies half-way leaves the last good model serving and nothing partial visible."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest

import exporter.build as build
from exporter.model_config import ServingOptions
from exporter.models import builtin_models
from exporter.repository import staging_root
from tests.conftest import PROJECT_ROOT, SMALL_MODELS


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def visible_entries(repository) -> set[str]:
    """Everything the server would see: every path under the repository."""
    return {str(p.relative_to(repository)) for p in repository.rglob("*")}


@pytest.fixture
def built_cnn(tmp_path, monkeypatch):
    for key, value in SMALL_MODELS.items():
        monkeypatch.setenv(key, value)
    repository = tmp_path / "repo"
    spec = builtin_models()["simple_cnn"]
    outcome = build.build_model(spec, repository, ServingOptions(), ("torchscript",))
    assert outcome.ok
    return repository, spec


def test_exception_while_publishing_keeps_previous_version(built_cnn, monkeypatch):
    repository, spec = built_cnn
    model_file = repository / "simple_cnn" / "1" / "model.onnx"
    before, entries = digest(model_file), visible_entries(repository)
    calls = []

    def crash_on_record(path, data):  # the config is written, then the exporter "crashes"
        calls.append(path.name)
        if path.name == "export-record.json":
            raise OSError("disk full (injected)")
        path.write_bytes(data)

    monkeypatch.setattr(build, "write_atomic", crash_on_record)
    with pytest.raises(OSError, match="injected"):
        build.build_model(spec, repository, ServingOptions(max_queue_delay_us=7), force=True)
    assert calls == ["config.pbtxt", "export-record.json"], "crash happened mid-publish"
    assert digest(model_file) == before
    assert visible_entries(repository) == entries
    assert (
        "max_queue_delay_microseconds: 7"
        not in (repository / "simple_cnn" / "config.pbtxt").read_text()
    )
    assert not any(staging_root(repository).iterdir()), "staging cleaned up"


def test_kill_9_mid_export_keeps_previous_version_and_next_run_cleans_up(built_cnn):
    repository, _ = built_cnn
    model_file = repository / "simple_cnn" / "1" / "model.onnx"
    before, entries = digest(model_file), visible_entries(repository)
    env = os.environ | SMALL_MODELS | {"MAX_QUEUE_DELAY_US": "9"}  # a change: forces a rebuild
    command = [sys.executable, "-m", "exporter", "--repository", str(repository),
               "--models", "simple_cnn"]  # fmt: skip
    child = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        # Wait until the child writes its first ONNX file into staging, then kill it hard.
        deadline = time.monotonic() + 120
        while not list(staging_root(repository).glob("*/*.onnx")):
            assert child.poll() is None, "exporter finished before it could be interrupted"
            assert time.monotonic() < deadline, "exporter never started writing"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    assert digest(model_file) == before
    assert visible_entries(repository) == entries
    assert any(staging_root(repository).iterdir()), "the dead writer left its staging folder"

    rerun = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert (
        "max_queue_delay_microseconds: 9"
        in (repository / "simple_cnn" / "config.pbtxt").read_text()
    )
    assert not any(staging_root(repository).iterdir()), "stale staging of the killed run removed"
