"""Versions of one tiny model for rollout tests: y = scale * (x @ W + b), and a broken one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WIDTH = 16
# b = 10 keeps every output far from 0, so scale 1 and scale 2 can never both match one
# response within the client's tolerance (1e-3): each answer matches exactly one version.
BIAS = 10.0


def scaled_model(scale: float, noisy: bool = False) -> onnx.ModelProto:
    """y = scale * (x @ W + b) over FP32 [B, 16]; `noisy` adds RandomNormalLike(x) (never parity)."""
    rng = np.random.default_rng(7)
    weight = (rng.standard_normal((WIDTH, WIDTH)) * 0.05 * scale).astype(np.float32)
    bias = np.full(WIDTH, BIAS * scale, np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["y" if not noisy else "clean"]),
    ]
    if noisy:
        nodes += [
            helper.make_node("RandomNormalLike", ["x"], ["noise"]),
            helper.make_node("Add", ["clean", "noise"], ["y"]),
        ]
    graph = helper.make_graph(
        nodes,
        "scaled",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", WIDTH])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", WIDTH])],
        [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def write(model: onnx.ModelProto, path: Path) -> Path:
    """Save `model` at `path` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path
