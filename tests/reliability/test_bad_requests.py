"""Bad requests against the shared stack: each fails with the server's words plus the fix
(client.errors.explain), nothing stays registered, nothing stays in /dev/shm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.utils.shared_memory as system_shm
from tritonclient.utils import InferenceServerException

from client.errors import explain
from stack_settings.control_key import control_headers
from tests.reliability.conftest import client_for, registered_regions

MODEL = "simple_transformer"  # [B, 8, 64] FP32 in the test stack, max_batch_size 8
PROTOCOLS = ["http", "grpc"]


def _url(stack, protocol: str) -> str:
    return stack.http if protocol == "http" else stack.grpc


def _signature(stack):
    config = client_for("http", stack.http).get_model_config(MODEL)
    tensor = config["input"][0]
    return tensor["name"], [int(d) for d in tensor["dims"]], int(config["max_batch_size"])


def _infer(client, protocol, name, shape, datatype, data, model=MODEL, version=""):
    module = __import__(f"tritonclient.{protocol}", fromlist=["InferInput"])
    tensor = module.InferInput(name, list(shape), datatype)
    tensor.set_data_from_numpy(data)
    return client.infer(model, [tensor], model_version=version)


def _refused(call) -> str:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return explain(caught.value)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_bad_tensors_are_refused_naming_tensor_model_and_fix(stack, protocol):
    client = client_for(protocol, _url(stack, protocol))
    name, dims, max_batch = _signature(stack)
    good = np.zeros([2, *dims], np.float32)

    message = _refused(lambda: _infer(client, protocol, "not_an_input", good.shape, "FP32", good))
    assert "'not_an_input'" in message and MODEL in message and "input names" in message

    ints = good.astype(np.int32)
    message = _refused(lambda: _infer(client, protocol, name, ints.shape, "INT32", ints))
    assert f"'{name}'" in message and "must be FP32, not INT32" in message and "cast" in message

    wrong = np.zeros([2, dims[0], dims[1] + 1], np.float32)
    message = _refused(lambda: _infer(client, protocol, name, wrong.shape, "FP32", wrong))
    assert f"'{name}'" in message and str(list(wrong.shape)).replace(" ", "") in message
    assert "reshape" in message

    big = np.zeros([max_batch + 1, *dims], np.float32)
    message = _refused(lambda: _infer(client, protocol, name, big.shape, "FP32", big))
    assert f"at most {max_batch}" in message and f"--batch-size <= {max_batch}" in message

    empty = np.zeros([0, *dims], np.float32)
    message = _refused(lambda: _infer(client, protocol, name, empty.shape, "FP32", empty))
    assert f"'{name}'" in message and "is empty" in message and "batch size >= 1" in message


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unknown_model_and_version_are_named_with_the_fix(stack, protocol):
    client = client_for(protocol, _url(stack, protocol))
    name, dims, _ = _signature(stack)
    data = np.zeros([1, *dims], np.float32)
    message = _refused(
        lambda: _infer(client, protocol, name, data.shape, "FP32", data, model="no_such_model")
    )
    assert "'no_such_model'" in message and "repository/index" in message
    message = _refused(
        lambda: _infer(client, protocol, name, data.shape, "FP32", data, version="7")
    )
    assert f"'{MODEL}' has no version 7" in message and "--model-version" in message


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_nan_and_inf_inputs_round_trip_equal_to_onnxruntime(stack, protocol):
    """Non-finite values are data, not errors: Triton must return what ORT computes."""
    client = client_for(protocol, _url(stack, protocol))
    config = client_for("http", stack.http).get_model_config("simple_cnn")
    name, out_name = config["input"][0]["name"], config["output"][0]["name"]
    dims = [int(d) for d in config["input"][0]["dims"]]
    data = np.random.default_rng(1).standard_normal([2, *dims]).astype(np.float32)
    data[0, 0, 3, 5], data[0, 1, 10, 10], data[1, 2, 20, 30] = np.nan, np.inf, -np.inf
    result = _infer(client, protocol, name, data.shape, "FP32", data, model="simple_cnn")
    served = result.as_numpy(out_name)
    session = ort.InferenceSession(
        str(stack.repository / "simple_cnn" / "1" / "model.onnx"),
        providers=["CPUExecutionProvider"],
    )
    (expected,) = session.run([out_name], {name: data})
    assert np.isnan(served).any() and np.isfinite(served).any()  # both kinds reached the output
    # Same positions non-finite; finite values equal within float32 rounding of two runs.
    np.testing.assert_array_equal(np.isnan(served), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(served), np.isinf(expected))
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_shared_memory_mistakes_name_the_region_and_leave_nothing(stack, protocol):
    client = client_for(protocol, _url(stack, protocol))
    module = __import__(f"tritonclient.{protocol}", fromlist=["InferInput"])
    name, dims, _ = _signature(stack)
    needed = int(np.prod([1, *dims])) * 4
    region = f"tos_reliability_{protocol}_small"
    handle = system_shm.create_shared_memory_region(region, f"/{region}", 16)
    try:
        client.register_system_shared_memory(region, f"/{region}", 16, headers=control_headers())
        message = _refused(
            lambda: client.register_system_shared_memory(
                region, f"/{region}", 16, headers=control_headers()
            )
        )
        assert f"'{region}' is already registered" in message and "unique name" in message

        tensor = module.InferInput(name, [1, *dims], "FP32")
        tensor.set_shared_memory(region, needed)  # asks for more than the region holds
        message = _refused(lambda: client.infer(MODEL, [tensor]))
        assert f"'{region}' is smaller" in message and "at least" in message

        tensor = module.InferInput(name, [1, *dims], "FP32")
        tensor.set_shared_memory("tos_reliability_never_registered", needed)
        message = _refused(lambda: client.infer(MODEL, [tensor]))
        assert "'tos_reliability_never_registered' is not registered" in message
        assert "register it before" in message
    finally:
        client.unregister_system_shared_memory(region, headers=control_headers())
        system_shm.destroy_shared_memory_region(handle)
    assert region not in registered_regions(stack.http)
    assert not (Path("/dev/shm") / region).exists()
