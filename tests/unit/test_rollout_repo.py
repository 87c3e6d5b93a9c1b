"""The disk side of rollouts: version folders, --keep, the policy rewrite, refusals before load."""

from __future__ import annotations

import json
import time

import pytest

from exporter.model_config import parse_pbtxt
from exporter.onnx_import import add_onnx
from exporter.settings import serving_options
from rollout.repo import (
    RolloutError,
    model_dir,
    next_version,
    prune,
    publish_version,
    read_history,
    record,
    rollout_lock,
    serve_versions,
    staging_root,
    versions_on_disk,
)
from rollout.server import ProbeResult
from rollout.steps import RolloutOptions, _slower
from tests.conftest import run_module
from tests.integration.rollout_models import scaled_model, write


@pytest.fixture
def published(tmp_path):
    """A repository with model `scaled` version 1 (the exporter's `add`)."""
    source = write(scaled_model(1.0), tmp_path / "src" / "model.onnx")
    repository = tmp_path / "repo"
    add_onnx(source, "scaled", repository, serving_options())
    return repository


def test_publish_version_lands_whole_and_leaves_no_staging(published, tmp_path):
    source = write(scaled_model(2.0), tmp_path / "v2.onnx")
    publish_version(published, "scaled", 2, source, [])
    assert versions_on_disk(published / "scaled") == [1, 2]
    assert (published / "scaled" / "2" / "model.onnx").read_bytes() == source.read_bytes()
    assert [p.name for p in staging_root(published).iterdir()] == []
    with pytest.raises(RolloutError, match="already exists"):
        publish_version(published, "scaled", 2, source, [])


def test_serve_versions_rewrites_only_the_policy(published):
    before = parse_pbtxt((published / "scaled" / "config.pbtxt").read_text())
    serve_versions(published / "scaled", [3, 1])
    after = parse_pbtxt((published / "scaled" / "config.pbtxt").read_text())
    assert list(after.version_policy.specific.versions) == [1, 3]
    after.ClearField("version_policy")
    before.ClearField("version_policy")
    assert after == before


def test_prune_keeps_the_newest_and_the_protected(tmp_path):
    folder = tmp_path / "m"
    for version in (1, 2, 3, 5, 8):
        (folder / str(version)).mkdir(parents=True)
    assert prune(folder, keep=2, protect={1, 8}) == [2, 3, 5]
    assert versions_on_disk(folder) == [1, 8]
    assert prune(folder, keep=1, protect={1, 8}) == []  # never below what is protected


def test_refused_numbers_are_never_reused(tmp_path):
    folder = tmp_path / "m"
    (folder / "1").mkdir(parents=True)
    history = read_history(folder)
    history["refused"] = [2]
    record(folder, history, {"action": "refused", "version": 2})
    assert next_version(folder, read_history(folder)) == 3
    saved = json.loads((tmp_path / "m.rollout.json").read_text())
    assert saved["history"][0]["action"] == "refused" and "time" in saved["history"][0]


def test_history_leaves_the_model_folder_untouched(tmp_path):
    """Triton reloads a serving version when anything in the model folder is newer."""
    folder = tmp_path / "m"
    (folder / "1").mkdir(parents=True)
    (folder / "config.pbtxt").write_text("")

    def stamps():
        return {
            p.name: (p.stat().st_mtime_ns, p.stat().st_ctime_ns)
            for p in [folder, *folder.iterdir()]
        }

    before = stamps()
    time.sleep(0.01)
    record(folder, read_history(folder), {"action": "rollout"})
    assert stamps() == before
    assert json.loads((tmp_path / "m.rollout.json").read_text())["history"]


def test_one_rollout_per_model_at_a_time(published):
    with (
        rollout_lock(published, "scaled"),
        pytest.raises(RolloutError, match="another rollout"),
        rollout_lock(published, "scaled"),
    ):
        pass
    with rollout_lock(published, "scaled"):  # released
        pass


def test_unknown_model_names_the_models_there(published):
    with pytest.raises(RolloutError, match=r"models there: \['scaled'\]"):
        model_dir(published, "nope")


def test_cli_refuses_a_changed_signature_before_any_load(published, tmp_path):
    renamed = scaled_model(1.0)
    renamed.graph.input[0].name = renamed.graph.node[0].input[0] = "pixels"  # was "x"
    path = write(renamed, tmp_path / "renamed.onnx")
    result = run_module("rollout", "--model", "scaled", "--from-onnx", str(path),
                        "--repository", str(published), "--url", "127.0.0.1:1", check=False)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "inputs/outputs" in result.stderr and "new name" in result.stderr
    assert versions_on_disk(published / "scaled") == [1]


def test_cli_rejects_bad_arguments(published):
    args = ["--repository", str(published), "--url", "127.0.0.1:1"]
    result = run_module("rollout", "--model", "scaled", "--rebuild", "--keep", "0",
                        *args, check=False)  # fmt: skip
    assert result.returncode == 2 and "--keep must be >= 1" in result.stderr
    result = run_module("rollout", "rollback", "--model", "nope", *args, check=False)
    assert result.returncode == 2 and "'nope' has no config.pbtxt" in result.stderr
    # The exporter image's spelling (its entrypoint is `python -m exporter`) runs the same.
    result = run_module("exporter", "rollback", "--model", "nope", *args, check=False)
    assert result.returncode == 2 and "'nope' has no config.pbtxt" in result.stderr
    result = run_module("exporter", "rollout", "--model", "nope", "--rebuild", *args, check=False)
    assert result.returncode == 2 and "'nope' has no config.pbtxt" in result.stderr
    result = run_module("rollout", "rollback", "--model", "scaled", *args, check=False)
    assert result.returncode == 2 and "127.0.0.1:1" in result.stderr  # unreachable, named


def test_latency_guard_has_a_floor_and_an_off_switch():
    options = RolloutOptions(max_slowdown=3.0, slowdown_floor_ms=2.0)
    assert _slower(ProbeResult(0, 2.2), ProbeResult(0, 0.3), options) is None  # under 2 ms more
    assert "limit 3.00 ms" in _slower(ProbeResult(0, 3.1), ProbeResult(0, 1.0), options)
    assert _slower(ProbeResult(0, 9.0), ProbeResult(0, 4.0), options) is None  # 2.25x
    options.max_slowdown = 0
    assert _slower(ProbeResult(0, 900.0), ProbeResult(0, 1.0), options) is None
