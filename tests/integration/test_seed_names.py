"""A client written from the seed's code (plain tritonclient, the seed's tensor names) gets
simple_cnn's right answers: `input_image` in, `output_image` out, equal to PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

torch = pytest.importorskip("torch")

from exporter.models import builtin_models  # noqa: E402 - needs torch

# The server runs ONNX Runtime (NVIDIA's backend: ORT 1.19.2), the reference is PyTorch's own
# conv kernels on the same float32 inputs: the exporter's own PyTorch-vs-ORT check allows 1e-4.
SERVED_VS_TORCH_ATOL = 1e-4


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_seed_client_gets_simple_cnn_outputs_equal_to_pytorch(stack, protocol):
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(stack.http if protocol == "http" else stack.grpc)
    spec = builtin_models()["simple_cnn"]  # the test stack's sizes (SMALL_MODELS)
    images = spec.example_input(2, seed=23)
    infer_input = module.InferInput("input_image", list(images.shape), "FP32")
    infer_input.set_data_from_numpy(images.numpy())
    result = client.infer(
        "simple_cnn", [infer_input], outputs=[module.InferRequestedOutput("output_image")]
    )
    served = result.as_numpy("output_image")
    with torch.no_grad():
        expected = spec.build()(images).numpy()
    assert served is not None and served.shape == expected.shape == tuple(images.shape)
    assert np.abs(served).sum() > 0, "an all-zero output would pass a loose comparison"
    np.testing.assert_allclose(served, expected, rtol=0, atol=SERVED_VS_TORCH_ATOL)


def test_simple_cnn_metadata_names_the_seed_tensors(stack):
    metadata = httpclient.InferenceServerClient(stack.http).get_model_metadata("simple_cnn")
    assert [t["name"] for t in metadata["inputs"]] == ["input_image"]
    assert [t["name"] for t in metadata["outputs"]] == ["output_image"]
    transformer = httpclient.InferenceServerClient(stack.http).get_model_metadata(
        "simple_transformer"
    )
    assert [t["name"] for t in transformer["inputs"]] == ["input"]  # the seed's names too
    assert [t["name"] for t in transformer["outputs"]] == ["output"]
