"""Real request data: perf_analyzer JSON with validation_data, --shape, string inputs."""

from __future__ import annotations

import base64
import json

import numpy as np
import onnxruntime as ort

from tests.client_models import DYNAMIC_MODEL, STRING_MODEL
from tests.conftest import run_module
from tests.integration.test_client_load import client_args


def run_client(stack, tmp_path, model: str, *args: str):
    result = run_module(
        "client",
        *client_args(stack, "--model", model),
        *args,
        "--report",
        str(tmp_path),
        check=False,
    )
    (summary,) = json.loads((tmp_path / "summary.json").read_text())
    return summary, result


def test_validation_data_catches_a_wrong_output(stack, tmp_path):
    session = ort.InferenceSession(str(stack.repository / "simple_transformer/1/model.onnx"))
    rng = np.random.default_rng(3)
    samples = [rng.standard_normal((8, 64)).astype(np.float32) for _ in range(2)]
    outputs = [session.run(None, {"input": s[None]})[0][0] for s in samples]
    wrong = outputs[1] + 0.5  # what a broken model would answer for the second entry
    document = {
        "data": [
            {"input": {"content": samples[0].ravel().tolist(), "shape": [8, 64]}},
            {"input": {"b64": base64.b64encode(samples[1].tobytes()).decode()}},
        ],
        "validation_data": [
            {"output": {"content": outputs[0].ravel().tolist(), "shape": [8, 64]}},
            {"output": wrong.ravel().tolist()},
        ],
    }
    data = tmp_path / "data.json"
    data.write_text(json.dumps(document))
    summary, result = run_client(
        stack, tmp_path, "simple_transformer", "--requests", "10", "--input-data", str(data)
    )
    # Round-robin: entries 0, 1, 0, 1, ...; every answer to entry 1 is caught, none of 0.
    assert summary["requests_ok"] == 5 and summary["errors"] == {"mismatch": 5}, result.stderr
    assert summary["verified"] == 10
    assert "vs validation_data[1]" in summary["error_examples"]["mismatch"]
    assert result.returncode == 1  # a wrong answer fails the run


def test_shape_drives_a_model_with_dynamic_dims(stack, tmp_path):
    result = run_module(
        "client", *client_args(stack, "--model", DYNAMIC_MODEL, "--requests", "2"), check=False
    )
    assert result.returncode == 2
    assert "--shape input:D1,D2" in result.stderr
    summary, result = run_client(
        stack,
        tmp_path,
        DYNAMIC_MODEL,
        *("--requests", "6", "--shape", "input:8,64", "--verify"),
        *("--model-repository", str(stack.repository)),
    )
    assert summary["requests_ok"] == 6 and summary["verified"] == 6, result.stderr
    assert summary["max_abs_diff"] <= 1e-6


def test_string_inputs_from_json_and_a_folder(stack, tmp_path):
    # The model answers len(text) in bytes: right lengths prove the strings went as given.
    data = tmp_path / "strings.json"
    data.write_text(
        json.dumps(
            {
                "data": [{"text": ["hello"]}, {"text": {"b64": base64.b64encode(b"hi").decode()}}],
                "validation_data": [{"length": [5]}, {"length": [2]}],
            }
        )
    )
    for protocol in ("http", "grpc"):
        summary, result = run_client(
            stack,
            tmp_path,
            STRING_MODEL,
            *("--protocol", protocol, "--concurrency", "2", "--requests", "8"),
            *("--input-data", str(data)),
        )
        assert summary["requests_ok"] == 8 and summary["verified"] == 8, result.stderr
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "text").write_text("a string from a file\n")
    summary, result = run_client(
        stack, tmp_path, STRING_MODEL, "--requests", "3", "--input-data", str(folder)
    )
    assert summary["requests_ok"] == 3, result.stderr
