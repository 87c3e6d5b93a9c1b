"""Test-only models for the client's concurrency tests, added to the session repository."""

from __future__ import annotations

import shutil
from pathlib import Path

import onnx
from onnx import TensorProto, helper

# The dynamic batcher holds requests (up to 3 s) until GATE_BATCH of them are queued, then runs
# them as one batch. A client that truly keeps GATE_BATCH requests in flight therefore makes
# every execution a batch of exactly GATE_BATCH; one that keeps fewer makes smaller batches.
GATE_MODEL = "batch_gate4"
GATE_BATCH = 4
GATE_CONFIG = f"""backend: "onnxruntime"
max_batch_size: 8
dynamic_batching {{
  preferred_batch_size: [ {GATE_BATCH} ]
  max_queue_delay_microseconds: 3000000
}}
"""


# A graph whose sequence dim is open in the ONNX file and the config (Relu over [B, seq, 64]): the
# client needs --shape (or shaped input data) to drive it. (NVIDIA's backend refuses a config
# dim of -1 where the ONNX file fixes it, so simple_transformer's graph cannot serve here.)
DYNAMIC_MODEL = "dynamic_seq"
DYNAMIC_CONFIG = """backend: "onnxruntime"
max_batch_size: 8
input [ { name: "input" data_type: TYPE_FP32 dims: [ -1, 64 ] } ]
output [ { name: "output" data_type: TYPE_FP32 dims: [ -1, 64 ] } ]
"""
# A string (BYTES) input: the python backend answers each string's length in bytes.
STRING_MODEL = "string_length"
STRING_CONFIG = """backend: "python"
max_batch_size: 8
input [ { name: "text" data_type: TYPE_STRING dims: [ 1 ] } ]
output [ { name: "length" data_type: TYPE_INT32 dims: [ 1 ] } ]
"""
STRING_MODEL_PY = """import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            text = pb_utils.get_input_tensor_by_name(request, "text").as_numpy()
            lengths = np.vectorize(len, otypes=[np.int32])(text)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("length", lengths)]))
        return responses
"""


def dynamic_seq_model() -> onnx.ModelProto:
    """Relu over [batch, seq, 64], batch and seq symbolic."""
    shape = ["batch", "seq", 64]
    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["output"])],
        DYNAMIC_MODEL,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9  # what onnxruntime 1.19 (Triton 24.10) reads
    return model


def add_client_test_models(repository: Path) -> None:
    """The batch-gate, dynamic-dims and string models the client tests drive."""
    source = repository / "simple_transformer" / "1" / "model.onnx"
    (repository / GATE_MODEL / "1").mkdir(parents=True, exist_ok=True)
    shutil.copy(source, repository / GATE_MODEL / "1" / "model.onnx")
    (repository / GATE_MODEL / "config.pbtxt").write_text(GATE_CONFIG)
    (repository / DYNAMIC_MODEL / "1").mkdir(parents=True, exist_ok=True)
    onnx.save(dynamic_seq_model(), repository / DYNAMIC_MODEL / "1" / "model.onnx")
    (repository / DYNAMIC_MODEL / "config.pbtxt").write_text(DYNAMIC_CONFIG)
    (repository / STRING_MODEL / "1").mkdir(parents=True, exist_ok=True)
    (repository / STRING_MODEL / "1" / "model.py").write_text(STRING_MODEL_PY)
    (repository / STRING_MODEL / "config.pbtxt").write_text(STRING_CONFIG)
