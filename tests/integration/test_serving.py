"""The served models answer correctly: real tritonserver, our onnxruntime backend, real ORT."""

from __future__ import annotations

import json
import time
import urllib.request

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
import tritonclient.utils.shared_memory as system_shm
from tritonclient.utils import InferenceServerException

from local_stack import triton_metrics
from stack_settings.control_key import control_headers
from tests.conftest import run_module

# Same ORT build, same CPU, same inputs on both sides: the results should be identical.
# 1e-6 absolute leaves room only for thread-count-dependent reductions.
SERVER_VS_ORT_ATOL = 1e-6


def unregister_all_when_free(client, patience_s: float = 10.0) -> None:
    """Unregister every region, retrying while Triton 2.51 still holds the last request's
    reference ("currently in use" right after a response; released moments later)."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            client.unregister_system_shared_memory(headers=control_headers())
            return
        except InferenceServerException as exc:
            if "in use" not in str(exc) and "Failed to unregister" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def model_config(stack, name: str) -> dict:
    with urllib.request.urlopen(f"{stack.http_url}/v2/models/{name}/config") as response:
        return json.load(response)


def ort_reference(stack, name: str, batch: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(stack.repository / name / "1" / "model.onnx"))
    return session.run(None, {session.get_inputs()[0].name: batch})[0]


def test_builtin_models_are_ready(stack):
    client = httpclient.InferenceServerClient(stack.http)
    for name in ("simple_cnn", "simple_transformer"):
        assert client.is_model_ready(name), f"{name} not READY; see {stack.log_file}"
        config = model_config(stack, name)
        assert config["backend"] == "onnxruntime"
        assert config["max_batch_size"] == 8
        assert "dynamic_batching" in config


def test_config_without_max_batch_size_gets_backend_default_of_8(stack):
    # The server hands Python-based backends default-max-batch-size 4; ours must read the 8
    # passed with --backend-config=onnxruntime,default-max-batch-size=8.
    config = model_config(stack, "auto_batch")
    assert config["max_batch_size"] == 8
    assert [i["name"] for i in config["input"]] == ["input"]
    assert config["input"][0]["dims"] == ["8", "64"] or config["input"][0]["dims"] == [8, 64]


def test_an_explicit_max_batch_size_zero_is_auto_completed_as_nvidia_does(stack):
    # NVIDIA's backend reads 0 as "not set" (protobuf cannot tell them apart) and, since the graph
    # batches, fills in default-max-batch-size; ours does the same (docs/native-backend.md).
    config = model_config(stack, "explicit_no_batch")
    assert config["max_batch_size"] == 8
    assert [int(d) for d in config["input"][0]["dims"]] == [8, 64]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
@pytest.mark.parametrize("model", ["simple_cnn", "simple_transformer"])
def test_system_shm_outputs_equal_onnxruntime(stack, protocol, model):
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(stack.http if protocol == "http" else stack.grpc)
    config = model_config(stack, model)
    dims = [int(d) for d in config["input"][0]["dims"]]
    batch = np.random.default_rng(7).standard_normal([3, *dims]).astype(np.float32)
    expected = ort_reference(stack, model, batch)
    key = f"test_{protocol}_{model}"
    handles = []
    try:
        region_in = system_shm.create_shared_memory_region(f"{key}_in", f"/{key}_in", batch.nbytes)
        handles.append(region_in)
        region_out = system_shm.create_shared_memory_region(
            f"{key}_out", f"/{key}_out", expected.nbytes
        )
        handles.append(region_out)
        system_shm.set_shared_memory_region(region_in, [batch])
        client.register_system_shared_memory(
            f"{key}_in", f"/{key}_in", batch.nbytes, headers=control_headers()
        )
        client.register_system_shared_memory(
            f"{key}_out", f"/{key}_out", expected.nbytes, headers=control_headers()
        )
        (source,), (sink,) = config["input"], config["output"]  # input_image, input, ...
        infer_input = module.InferInput(source["name"], list(batch.shape), "FP32")
        infer_input.set_shared_memory(f"{key}_in", batch.nbytes)
        output = module.InferRequestedOutput(sink["name"])
        output.set_shared_memory(f"{key}_out", expected.nbytes)
        client.infer(model, [infer_input], outputs=[output])
        actual = system_shm.get_contents_as_numpy(region_out, np.float32, list(expected.shape))
        assert np.abs(actual).sum() > 0, "output region untouched: the empty-output trap"
        np.testing.assert_allclose(actual, expected, rtol=0, atol=SERVER_VS_ORT_ATOL)
    finally:
        unregister_all_when_free(client)
        for handle in handles:
            system_shm.destroy_shared_memory_region(handle)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_outputs_without_shm_are_non_empty_and_correct(stack, protocol):
    # With numpy 2 in the stub's environment these came back as 0 bytes, with no error.
    module = httpclient if protocol == "http" else grpcclient
    client = module.InferenceServerClient(stack.http if protocol == "http" else stack.grpc)
    batch = np.random.default_rng(3).standard_normal([2, 8, 64]).astype(np.float32)
    infer_input = module.InferInput("input", list(batch.shape), "FP32")
    infer_input.set_data_from_numpy(batch)
    result = client.infer("simple_transformer", [infer_input])
    actual = result.as_numpy("output")
    assert actual is not None and actual.nbytes == batch.nbytes
    np.testing.assert_allclose(
        actual, ort_reference(stack, "simple_transformer", batch), atol=SERVER_VS_ORT_ATOL
    )


def test_metric_counts_equal_requests_sent(stack):
    before = triton_metrics.per_model(
        "nv_inference_request_success", triton_metrics.read_samples(stack.metrics_url)
    )
    before_count = triton_metrics.per_model(
        "nv_inference_count", triton_metrics.read_samples(stack.metrics_url)
    )
    requests, concurrency, warmup, batch = 12, 2, 1, 2
    result = run_module(
        "client",
        "--model",
        "simple_cnn",
        "--protocol",
        "http",
        "--shm",
        "system",
        "--concurrency",
        str(concurrency),
        "--requests",
        str(requests),
        "--warmup",
        str(warmup),
        "--batch-size",
        str(batch),
        "--url",
        stack.http,
        "--quiet",
        "--metrics-port",
        "0",
    )
    assert "simple_cnn" in result.stdout
    samples = triton_metrics.read_samples(stack.metrics_url)
    sent = requests + concurrency * warmup
    after = triton_metrics.per_model("nv_inference_request_success", samples)
    after_count = triton_metrics.per_model("nv_inference_count", samples)
    assert after["simple_cnn"] - before.get("simple_cnn", 0) == sent
    assert after_count["simple_cnn"] - before_count.get("simple_cnn", 0) == sent * batch
