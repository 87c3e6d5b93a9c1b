"""Model folders appear whole or not at all."""

from __future__ import annotations

import pytest

from exporter.repository import staged_model_dir, staging_root


def test_new_model_is_published_whole(tmp_path):
    repo = tmp_path / "repo"
    with staged_model_dir(repo, "m") as build:
        (build / "1").mkdir()
        (build / "1" / "model.onnx").write_bytes(b"new")
        (build / "config.pbtxt").write_text("x")
        assert not (repo / "m").exists(), "visible before it was finished"
    assert (repo / "m" / "1" / "model.onnx").read_bytes() == b"new"
    assert not any(staging_root(repo).iterdir()), "staging leftovers"
    assert sorted(p.name for p in repo.iterdir()) == ["m"], (
        "nothing but the model in the repository"
    )


def test_replacing_a_model_swaps_atomically_and_cleans_up(tmp_path):
    repo = tmp_path / "repo"
    for content in (b"v-old", b"v-new"):
        with staged_model_dir(repo, "m") as build:
            (build / "1").mkdir()
            (build / "1" / "model.onnx").write_bytes(content)
    assert (repo / "m" / "1" / "model.onnx").read_bytes() == b"v-new"
    assert not any(staging_root(repo).iterdir())


def test_failure_while_building_leaves_previous_model(tmp_path):
    repo = tmp_path / "repo"
    with staged_model_dir(repo, "m") as build:
        (build / "1").mkdir()
        (build / "1" / "model.onnx").write_bytes(b"good")
    with pytest.raises(RuntimeError), staged_model_dir(repo, "m") as build:
        (build / "1").mkdir()
        (build / "1" / "model.onnx").write_bytes(b"half")
        raise RuntimeError("exporter crashed")
    assert (repo / "m" / "1" / "model.onnx").read_bytes() == b"good"
    assert not any(staging_root(repo).iterdir())
