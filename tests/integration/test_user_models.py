"""User models registered by import path (CLI) or a TOML file: both exporters, served by Triton."""

from __future__ import annotations

import json
import os
import re

from tests.conftest import run_module
from tests.integration.test_exporter_outcomes import record

USER_DIR = os.path.join(os.path.dirname(__file__), "user_models")


def test_model_file_exports_with_both_exporters_and_is_served(stack, tmp_path):
    model_file = tmp_path / "models.toml"
    model_file.write_text(
        f"""
[[model]]
name = "tiny_mlp"
module = "tiny_models:TinyMLP"
input_shape = [16]
kwargs = {{ hidden = 24 }}
python_path = "{USER_DIR}"

[[model]]
name = "tiny_conv"
module = "tiny_models:tiny_conv"
input_shape = [3, 12, 12]
python_path = "{USER_DIR}"
"""
    )
    result = run_module(
        "exporter", "--repository", str(stack.repository), "--model-file", str(model_file),
        "--only-user-models", "--check-served", stack.grpc,
    )  # fmt: skip
    for name in ("tiny_mlp", "tiny_conv"):
        attempts = record(stack.repository, name)["attempts"]
        assert set(attempts) == {"torchscript", "dynamo"}
        for exporter, attempt in attempts.items():
            assert attempt["exported"] and attempt["checker"], (name, exporter, attempt)
            assert attempt["error"] is None and set(attempt["parity"]) == {"1", "2", "8"}
            assert attempt["served"] is True, "each exporter's file was served by Triton = ORT"
    assert not list(stack.repository.glob("*_check")), "temporary check models removed"
    served = re.findall(r"^(tiny_\w+) +torchscript .* (\S+) +<- published", result.stdout, re.M)
    assert sorted(served) == [("tiny_conv", "yes"), ("tiny_mlp", "yes")], result.stdout
    assert "simple_cnn" not in result.stdout


def test_cli_user_model_and_idempotent_rerun(tmp_path):
    env = os.environ | {"PYTHONPATH": USER_DIR}
    args = ("--repository", str(tmp_path / "repo"), "--only-user-models",
            "--user-model", "tiny_models:TinyMLP", "--input-shape", "16")  # fmt: skip
    first = run_module("exporter", *args, env=env)
    assert "tinymlp" in first.stdout and "(unchanged, reused)" not in first.stdout
    before = (tmp_path / "repo" / "tinymlp" / "1" / "model.onnx").stat().st_mtime_ns
    second = run_module("exporter", *args, env=env)
    assert "(unchanged, reused)" in second.stdout
    assert (tmp_path / "repo" / "tinymlp" / "1" / "model.onnx").stat().st_mtime_ns == before
    config = (tmp_path / "repo" / "tinymlp" / "config.pbtxt").read_text()
    assert "dims: 16" in config and "dims: 4" in config
    assert json.loads((tmp_path / "repo" / "tinymlp" / "export-record.json").read_text())


def test_unimportable_user_model_names_model_and_fix(tmp_path):
    result = run_module(
        "exporter", "--repository", str(tmp_path / "repo"), "--only-user-models",
        "--user-model", "no_such_pkg.models:Net", "--input-shape", "4", "--name", "mine",
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "user model 'mine'" in result.stderr and "PYTHONPATH" in result.stderr
    assert not (tmp_path / "repo").exists()


def test_model_failing_parity_with_both_exporters_exits_non_zero_with_reasons(tmp_path):
    env = os.environ | {"PYTHONPATH": USER_DIR}
    result = run_module(
        "exporter", "--repository", str(tmp_path / "repo"), "--only-user-models",
        "--user-model", "tiny_models:NoisyModel", "--input-shape", "4", "--name", "noisy",
        env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "noisy" in result.stderr
    reasons = re.findall(r"reason: AssertionError: batch 1: max abs diff", result.stdout)
    assert len(reasons) == 2, result.stdout  # one per exporter
    assert not (tmp_path / "repo" / "noisy").exists(), "nothing published"
