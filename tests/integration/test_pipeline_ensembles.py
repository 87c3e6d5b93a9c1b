"""Ensembles in the real local Triton: chained models and the raw-image classify pipeline."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import onnxruntime as ort
import tritonclient.grpc as grpcclient

from stack_settings.control_key import control_headers
from tests.conftest import run_module

# The server runs the same ORT on the same file; chaining four steps adds a little rounding.
ENSEMBLE_VS_ORT_ATOL = 1e-5
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32).reshape(1, 3, 1, 1)


def ort_session(stack, name):
    return ort.InferenceSession(
        str(stack.repository / name / "1" / "model.onnx"), providers=["CPUExecutionProvider"]
    )


def infer_one(stack, model, name, data, dtype):
    client = grpcclient.InferenceServerClient(stack.grpc)
    infer_input = grpcclient.InferInput(name, list(data.shape), dtype)
    infer_input.set_data_from_numpy(data)
    return client.infer(model, [infer_input])


def test_ensemble_cnn_4_equals_four_ort_steps(stack):
    session = ort_session(stack, "simple_cnn")
    dims = session.get_inputs()[0].shape[1:]
    x = np.random.default_rng(11).standard_normal([2, *dims]).astype(np.float32)
    expected = x
    for _ in range(4):
        (expected,) = session.run(None, {"input_image": expected})
    actual = infer_one(stack, "ensemble_cnn_4", "input_image", x, "FP32").as_numpy("output_image")
    np.testing.assert_allclose(actual, expected, atol=ENSEMBLE_VS_ORT_ATOL)


def test_ensemble_transformer_4_equals_four_ort_steps(stack):
    session = ort_session(stack, "simple_transformer")
    dims = session.get_inputs()[0].shape[1:]
    x = np.random.default_rng(12).standard_normal([3, *dims]).astype(np.float32)
    expected = x
    for _ in range(4):
        (expected,) = session.run(None, {"input": expected})
    actual = infer_one(stack, "ensemble_transformer_4", "input", x, "FP32").as_numpy("output")
    np.testing.assert_allclose(actual, expected, atol=ENSEMBLE_VS_ORT_ATOL)


def test_served_configs_carry_a_random_warmup(stack):
    with urllib.request.urlopen(f"{stack.http_url}/v2/models/simple_cnn/config") as response:
        config = json.load(response)
    (warmup,) = config["model_warmup"]
    assert warmup["batch_size"] == 1 and warmup["inputs"]["input_image"]["random_data"]


def test_raw_image_ensemble_gives_labels_and_scores(stack):
    result = run_module("exporter", "--repository", str(stack.repository), "--pipeline")
    assert "preprocess, postprocess, cnn_classify" in result.stdout
    grpcclient.InferenceServerClient(stack.grpc).load_model(
        "cnn_classify", headers=control_headers()
    )
    session = ort_session(stack, "simple_cnn")
    height, width = session.get_inputs()[0].shape[2:]
    images = np.random.default_rng(5).integers(0, 256, (3, height, width, 3), dtype=np.uint8)

    # Reference: the same steps in NumPy + in-process ORT.
    pixels = (images.transpose(0, 3, 1, 2).astype(np.float32) / 255.0 - MEAN) / STD
    (features,) = session.run(None, {"input_image": pixels.astype(np.float32)})
    pooled = features.mean(axis=(2, 3), dtype=np.float64)
    probabilities = np.exp(pooled) / np.exp(pooled).sum(axis=1, keepdims=True)
    order = np.argsort(-probabilities, axis=1, kind="stable")
    labels = np.array(["red", "green", "blue"])[order]

    result = infer_one(stack, "cnn_classify", "image", images, "UINT8")
    scores = result.as_numpy("scores")
    np.testing.assert_allclose(scores, np.take_along_axis(probabilities, order, 1), atol=1e-6)
    assert (result.as_numpy("labels").astype(str) == labels).all()
    assert np.all(np.diff(scores, axis=1) <= 0), "scores come sorted, highest first"
