"""Small hand-built ONNX files for the bring-your-own tests (each a few hundred bytes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 18


def _save(graph: onnx.GraphProto, path: Path, opset: int = OPSET, **save_kwargs) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9  # what onnxruntime 1.19 (Triton 24.10) reads
    onnx.save(model, str(path), **save_kwargs)
    return path


def add_constant(path: Path, batch, name_in="x", name_out="y", offset=1.0, **save_kwargs) -> Path:
    """y = x + weight, over [batch, 4]; `batch` is an int (static) or a name (dynamic)."""
    weight = numpy_helper.from_array(
        (np.arange(4, dtype=np.float32) + offset).reshape(1, 4), "weight.data/0"
    )
    graph = helper.make_graph(
        [helper.make_node("Add", [name_in, "weight.data/0"], [name_out])],
        "add_constant",
        [helper.make_tensor_value_info(name_in, TensorProto.FLOAT, [batch, 4])],
        [helper.make_tensor_value_info(name_out, TensorProto.FLOAT, [batch, 4])],
        [weight],
    )
    return _save(graph, path, **save_kwargs)


# Element types served through Triton here; each goes through an Identity of its own.
SERVED_TYPES = {
    "fp16": TensorProto.FLOAT16,
    "fp64": TensorProto.DOUBLE,
    "int8": TensorProto.INT8,
    "int32": TensorProto.INT32,
    "int64": TensorProto.INT64,
    "uint8": TensorProto.UINT8,
    "bool": TensorProto.BOOL,
}


def many_types(path: Path) -> Path:
    """One Identity per element type: in_<type> -> out_<type>, [batch, 3]."""
    nodes, inputs, outputs = [], [], []
    for key, elem in SERVED_TYPES.items():
        nodes.append(helper.make_node("Identity", [f"in_{key}"], [f"out_{key}"]))
        inputs.append(helper.make_tensor_value_info(f"in_{key}", elem, ["batch", 3]))
        outputs.append(helper.make_tensor_value_info(f"out_{key}", elem, ["batch", 3]))
    return _save(helper.make_graph(nodes, "many_types", inputs, outputs), path)


def gelu_at_opset_13(path: Path) -> Path:
    """Gelu exists from opset 20: at 13 the checker must reject it."""
    graph = helper.make_graph(
        [helper.make_node("Gelu", ["x"], ["y"])],
        "gelu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 4])],
    )
    return _save(graph, path, opset=13)


def string_identity(path: Path) -> Path:
    """TYPE_STRING in and out: s -> t, [batch, 2]."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["s"], ["t"])],
        "strings",
        [helper.make_tensor_value_info("s", TensorProto.STRING, ["b", 2])],
        [helper.make_tensor_value_info("t", TensorProto.STRING, ["b", 2])],
    )
    return _save(graph, path)


def complex_input(path: Path) -> Path:
    """A COMPLEX64 input: valid ONNX, but Triton has no data type for it."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["signal/in:0"], ["y"])],
        "complex",
        [helper.make_tensor_value_info("signal/in:0", TensorProto.COMPLEX64, ["b", 4])],
        [helper.make_tensor_value_info("y", TensorProto.COMPLEX64, ["b", 4])],
    )
    return _save(graph, path)
