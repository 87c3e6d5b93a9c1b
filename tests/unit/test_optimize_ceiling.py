"""The optimizer's ceiling: in-process ONNX Runtime, run here on the CPU EP (no server)."""

from __future__ import annotations

import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto

from bench import floor
from optimize import ceiling
from tests.reliability.tiny_models import add_graph

CONFIG = {
    "input": [{"name": "x", "data_type": "TYPE_FP32", "dims": ["4"]}],
    "instance_group": [{"kind": "KIND_CPU", "count": 1}],
}


def _doubler(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(add_graph([("x", TensorProto.FLOAT, ["batch", 4])], ["y"]), path)
    return path


def test_cpu_ceiling_takes_the_better_variant_per_batch(tmp_path):
    measured = ceiling.in_process_throughput(
        _doubler(tmp_path), CONFIG, [1, 4], seconds=0.2, log=lambda _line: None
    )
    assert measured["provider"] == "CPUExecutionProvider"
    assert set(measured["by_batch"]) == {"1", "4"}
    for batch, rates in measured["by_variant"].items():
        assert set(rates) == {"device-resident", "host-fed"}  # both paths reported
        assert measured["by_batch"][batch] == max(rates.values()) > 0
        assert measured["variant"][batch] == max(rates, key=rates.get)
    assert measured["best"] == measured["by_batch"][str(measured["best_batch"])]
    assert set(measured["spread_pct"]) == {"1", "4"}


def test_floor_windows_follow_the_clients_stability_rule(tmp_path):
    """A run whose windows never agree is reported unstable after max_trials, with its spread."""
    calls = iter(range(1, 10_000))
    flaky = lambda: time.sleep(0.002 * (next(calls) % 7))  # noqa: E731 - varies window to window
    how = floor.FloorWindows(window_s=0.02, stability_pct=0.001, max_trials=4, warmups=0)
    row = floor.windows_until_stable(flaky, 1, how)
    assert row["windows"] == 4 and row["stable"] is False and row["spread_pct"] > 0
    steady = floor.windows_until_stable(lambda: None, 1, floor.FloorWindows(window_s=0.02))
    assert steady["stable"] is True and steady["windows"] >= 3


def test_floor_feeds_take_the_names_from_the_graph(tmp_path):
    session = ort.InferenceSession(str(_doubler(tmp_path)), providers=["CPUExecutionProvider"])
    feeds = floor.feeds_for(session, 3, np.random.default_rng(0))
    assert list(feeds) == [session.get_inputs()[0].name]
    assert feeds[session.get_inputs()[0].name].shape == (3, 4)


def test_gpu_instances_without_the_cuda_ep_measure_on_the_cpu():
    gpu_config = CONFIG | {"instance_group": [{"kind": "KIND_GPU", "count": 1}]}
    expected = (
        "CUDAExecutionProvider"
        if "CUDAExecutionProvider" in ort.get_available_providers()
        else "CPUExecutionProvider"
    )
    assert ceiling._provider_name(ceiling.providers_for(gpu_config)[0]) == expected


def test_device_resident_binding_writes_the_models_output(tmp_path):
    """The I/O-binding path the GPU ceiling uses, bound to the CPU device so CI runs it."""
    session = ort.InferenceSession(str(_doubler(tmp_path)), providers=["CPUExecutionProvider"])
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    run_once = floor.device_resident(session, {"x": x}, device="cpu")
    np.testing.assert_array_equal(run_once().copy_outputs_to_cpu()[0], 2 * x)
    np.testing.assert_array_equal(run_once().copy_outputs_to_cpu()[0], 2 * x)  # reusable


def test_gpu_ceiling_uses_the_served_conv_search(monkeypatch):
    """The ceiling session gets the config's cudnn_conv_algo_search, as the backend's does."""
    monkeypatch.setattr(
        ort,
        "get_available_providers",
        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    gpu_config = CONFIG | {
        "instance_group": [{"kind": "KIND_GPU", "count": 1}],
        "parameters": {"cudnn_conv_algo_search": {"string_value": "1"}},
    }
    assert ceiling.providers_for(gpu_config) == [
        ("CUDAExecutionProvider", {"device_id": 0, "cudnn_conv_algo_search": "HEURISTIC"}),
        "CPUExecutionProvider",
    ]
