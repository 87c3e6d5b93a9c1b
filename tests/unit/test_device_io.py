"""The device-resident data path's merge / bind / split logic, run on the CPU (torch + CPU EP).

On a GPU the same code binds CUDA memory; scripts/gpu-check.sh proves that part there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "backends" / "onnxruntime"))
import device_io  # noqa: E402

torch = pytest.importorskip("torch")


def _session(tmp_path: Path, tail) -> ort.InferenceSession:
    """y = 2x + 1 and z = sum over the last axis, for x of shape [batch, *tail]."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", *tail])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", *tail])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", *tail[:-1]])
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [-1])
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["x", "two"], ["x2"]),
            helper.make_node("Add", ["x2", "one"], ["y"]),
            helper.make_node("ReduceSum", ["x", "axes"], ["z"], keepdims=0),
        ],
        "affine",
        [x],
        [y, z],
        [two, one, axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    path = tmp_path / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("tail", [(3, 5), ("n", 5)], ids=["static-dims", "dynamic-dims"])
def test_merged_requests_get_their_own_rows_back(tmp_path, tail):
    session = _session(tmp_path, tail)
    runner = device_io.DeviceRunner(session, "cpu", batched=True)
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((b, 3, 5)).astype(np.float32) for b in (1, 4, 2)]
    outputs = runner.run([{"x": torch.from_numpy(a)} for a in arrays])
    assert len(outputs) == 3
    for array, (y, z) in zip(arrays, outputs, strict=True):
        expected_y, expected_z = session.run(None, {"x": array})
        np.testing.assert_allclose(y.numpy(), expected_y, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(z.numpy(), expected_z, rtol=1e-6, atol=1e-6)


def test_one_request_is_bound_in_place_and_outputs_are_fresh(tmp_path):
    session = _session(tmp_path, (3, 5))
    runner = device_io.DeviceRunner(session, "cpu", batched=True)
    x = torch.randn(2, 3, 5)
    gathered, copied = runner._gather([x], np.float32)
    assert gathered.data_ptr() == x.data_ptr() and not copied
    first = runner.run([{"x": x}])[0][0]
    second = runner.run([{"x": x + 1}])[0][0]
    # each run writes new buffers: a response still being copied out is never overwritten
    torch.testing.assert_close(first, 2 * x + 1)
    torch.testing.assert_close(second, 2 * (x + 1) + 1)


def test_unsupported_types_keep_the_host_path(tmp_path):
    text = helper.make_tensor_value_info("s", TensorProto.STRING, ["batch", 1])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["s"], ["t"])],
        "strings",
        [text],
        [helper.make_tensor_value_info("t", TensorProto.STRING, ["batch", 1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    path = tmp_path / "strings.onnx"
    path.write_bytes(model.SerializeToString())
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    runner, note = device_io.runner_for(
        session, {"max_batch_size": 8, "parameters": {"device_io": {"string_value": "on"}}},
        "CPU", 0,
    )  # fmt: skip
    assert runner is None and "tensor(string)" in note


def test_choice_of_data_path(tmp_path):
    session = _session(tmp_path, (3, 5))
    config = {"max_batch_size": 8}
    runner, note = device_io.runner_for(session, config, "CPU", 0)
    assert runner is None and "host data path" in note  # CPU instances keep today's path
    config["parameters"] = {"device_io": {"string_value": "on"}}
    runner, note = device_io.runner_for(session, config, "CPU", 0)
    assert runner is not None and "device-resident" in note and "cpu" in note
    config["parameters"] = {"device_io": {"string_value": "yes"}}
    runner, note = device_io.runner_for(session, config, "GPU", 0)
    assert runner is None and "'yes' is not auto, on or off" in note
