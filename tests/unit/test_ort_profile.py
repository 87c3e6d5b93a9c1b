"""The backend's ORT profiler switch, and its clock sidecar, on a real ORT session (no Triton)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from profiling import ort_trace

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "backends" / "onnxruntime"))
import ort_profile  # noqa: E402


def matmul_model(path: Path) -> Path:
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "x"], ["y"]), helper.make_node("Relu", ["y"], ["z"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64, 64])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [64, 64])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def session(model: Path, config: dict) -> ort.InferenceSession:
    options = ort.SessionOptions()
    ort_profile.enable(options, config)
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def test_without_the_parameter_nothing_is_profiled(tmp_path):
    config = {"name": "m", "parameters": {}}
    ran = session(matmul_model(tmp_path / "m.onnx"), config)
    assert ort_profile.finish(ran, config) is None
    assert list(tmp_path.iterdir()) == [tmp_path / "m.onnx"]


def test_profile_runs_land_inside_the_monotonic_window_of_the_call(tmp_path):
    out = tmp_path / "profiles"
    config = {"name": "m", "parameters": {"ort_profile_dir": {"string_value": str(out)}}}
    ran = session(matmul_model(tmp_path / "m.onnx"), config)
    x = np.ones((64, 64), np.float32)
    windows = []
    for _ in range(3):
        before = time.monotonic_ns()
        ran.run(None, {"x": x})
        windows.append((before, time.monotonic_ns()))
    path = Path(ort_profile.finish(ran, config))
    assert path.parent == out and Path(f"{path}.clock.json").is_file()
    runs = ort_trace.read(path)
    assert len(runs) == 3
    for run, (before, after) in zip(runs, windows, strict=True):
        # ORT stamps in whole microseconds: allow 1 us at each end.
        assert before - 1000 <= run.start_ns and run.end_ns <= after + 1000
        assert set(run.op_totals()) == {"MatMul", "Relu"}
