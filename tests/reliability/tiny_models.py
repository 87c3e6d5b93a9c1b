"""Tiny ONNX graphs built with onnx.helper, for tests that need many or odd signatures."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

OPSET = 17
ADD_TYPES = (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT32, TensorProto.INT64)


def add_graph(
    inputs: list[tuple[str, int, list[int | str]]], output_names: list[str]
) -> onnx.ModelProto:
    """Each output i = Add(input i, input i), or Identity(input i) for other element types.

    `inputs` holds (name, ONNX element type, dims) where a str dim is symbolic (dynamic).
    """
    nodes, graph_inputs, graph_outputs = [], [], []
    for i, ((name, elem_type, dims), out_name) in enumerate(zip(inputs, output_names, strict=True)):
        graph_inputs.append(helper.make_tensor_value_info(name, elem_type, dims))
        graph_outputs.append(helper.make_tensor_value_info(out_name, elem_type, dims))
        # Add where ORT's CPU kernels have it, Identity (every type) elsewhere.
        add = elem_type in ADD_TYPES
        op_inputs = [name, name] if add else [name]
        nodes.append(
            helper.make_node("Add" if add else "Identity", op_inputs, [out_name], name=f"n{i}")
        )
    graph = helper.make_graph(nodes, "tiny", graph_inputs, graph_outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # readable by every onnxruntime this project allows
    onnx.checker.check_model(model)
    return model


def write_doubler(
    repository: Path, name: str = "tiny_double", max_batch_size: int = 4
) -> onnx.ModelProto:
    """y = x + x over FP32 [B, 4]: NaN/Inf propagate elementwise, easy to compare with ORT."""
    model = add_graph([("x", TensorProto.FLOAT, ["batch", 4])], ["y"])
    (repository / name / "1").mkdir(parents=True, exist_ok=True)
    onnx.save(model, repository / name / "1" / "model.onnx")
    (repository / name / "config.pbtxt").write_text(
        f'name: "{name}"\nbackend: "onnxruntime"\nmax_batch_size: {max_batch_size}\n'
        'input { name: "x" data_type: TYPE_FP32 dims: [4] }\n'
        'output { name: "y" data_type: TYPE_FP32 dims: [4] }\n'
    )
    return model
