"""The floor: in-process ONNX Runtime on a model file, no server. The one place it is measured.

bench, optimize's ceiling (optimize/ceiling.py) and scripts/gpu_check.py all take their
in-process figure from here, so the three tools cannot disagree by method. Each batch size runs
two ways:
- device-resident: I/O binding, inputs and preallocated outputs on the provider's device (what
  CUDA shared memory offers the server: no host copy); on the CPU EP the same binding on "cpu";
- host-fed: `session.run` with numpy inputs (host to device and back on a GPU).
Each is measured in windows until the last three agree within a percentage: the client's rule
(client/stability.py's is_stable), and the spread of those three windows is reported beside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from client.stability import STABLE_WINDOWS, MeasurementSettings, is_stable

PATHS = ("device-resident", "host-fed")
# ONNX Runtime's tensor type strings -> numpy
_DTYPES = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_,
}  # fmt: skip


@dataclass(frozen=True)
class FloorWindows:
    """How one (batch, path) is measured: windows of `window_s` until the last 3 agree."""

    window_s: float = 0.5
    stability_pct: float = 10.0
    max_trials: int = 10
    warmups: int = 3  # the first runs allocate and pick cuDNN algorithms: not counted


def sample_shape(model_path: Path) -> list[int]:
    """The model's first input shape without the batch dimension."""
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    return [int(d) for d in session.get_inputs()[0].shape[1:]]


def feeds_for(session: ort.InferenceSession, batch: int, rng: np.random.Generator) -> dict:
    """Random inputs of `batch` items, named and shaped by the graph (open dims taken as 1)."""
    feeds = {}
    for node in session.get_inputs():
        dims = [d if isinstance(d, int) and d > 0 else 1 for d in node.shape[1:]]
        dtype = _DTYPES.get(node.type, np.float32)
        feeds[node.name] = rng.standard_normal([batch, *dims]).astype(dtype)
    return feeds


def device_of(session: ort.InferenceSession) -> str:
    """'cuda' when the session's first provider is CUDA's, else 'cpu'."""
    return "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"


def device_resident(session: ort.InferenceSession, feeds: dict, device: str) -> Callable:
    """One inference with inputs and preallocated outputs bound on `device` (no host copies)."""
    outputs = session.run(None, feeds)  # shapes and types of the outputs at this batch
    binding = session.io_binding()
    for name, array in feeds.items():
        binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(array, device, 0))
    for node, value in zip(session.get_outputs(), outputs, strict=True):
        buffer = ort.OrtValue.ortvalue_from_shape_and_type(value.shape, value.dtype, device, 0)
        binding.bind_ortvalue_output(node.name, buffer)

    def run_once() -> ort.IOBinding:
        session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        return binding

    return run_once


def host_fed(session: ort.InferenceSession, feeds: dict) -> Callable:
    """One inference from numpy inputs (host memory)."""
    return lambda: session.run(None, feeds)


def windows_until_stable(run_once: Callable, batch: int, how: FloorWindows) -> dict:
    """Throughput, median latency and spread of the last 3 windows; 'stable' as the client's."""
    for _ in range(how.warmups):
        run_once()
    settings = MeasurementSettings(
        stability_percentage=how.stability_pct, max_trials=how.max_trials
    )
    windows, latencies = [], []
    while len(windows) < how.max_trials:
        runs, started, times = 0, time.perf_counter(), []
        while runs < 2 or time.perf_counter() - started < how.window_s:
            t0 = time.perf_counter()
            run_once()
            times.append(time.perf_counter() - t0)
            runs += 1
        elapsed = time.perf_counter() - started
        windows.append(
            {
                "throughput_infer_per_s": runs * batch / elapsed,
                "latency_ms": {"avg": 1e3 * float(np.mean(times))},
            }
        )
        latencies.append(times)
        if is_stable(windows, settings):
            break
    last = [w["throughput_infer_per_s"] for w in windows[-STABLE_WINDOWS:]]
    return {
        "throughput_infer_per_s": round(float(np.median(last)), 2),
        "latency_ms": round(1e3 * float(np.median(np.concatenate(latencies[-STABLE_WINDOWS:]))), 3),
        "spread_pct": round(100 * (max(last) / min(last) - 1), 1),
        "windows": len(windows),
        "stable": is_stable(windows, settings),
    }


def session_for(model_path: Path, providers: list) -> ort.InferenceSession:
    """A session on `providers` (CUDA's libraries preloaded where this ORT can)."""
    names = [p[0] if isinstance(p, tuple) else p for p in providers]
    if names[0] != "CPUExecutionProvider" and hasattr(ort, "preload_dlls"):
        ort.preload_dlls()
    return ort.InferenceSession(str(model_path), providers=providers)


def measure(
    model_path: Path,
    batch_sizes,
    providers: list | None = None,
    how: FloorWindows = FloorWindows(),
    log: Callable[[str], None] = print,
) -> dict:
    """{"provider", "onnxruntime", "rows": [one per batch and path]}: the floor of one model."""
    session = session_for(model_path, providers or ["CPUExecutionProvider"])
    device = device_of(session)
    rng = np.random.default_rng(0)
    rows = []
    for batch in batch_sizes:
        feeds = feeds_for(session, batch, rng)
        runners = {
            "device-resident": device_resident(session, feeds, device),
            "host-fed": host_fed(session, feeds),
        }
        for path, run_once in runners.items():
            row = {"batch_size": batch, "path": path} | windows_until_stable(run_once, batch, how)
            rows.append(row)
            log(f"  in-process ORT {describe(row)}")
    return {
        "provider": session.get_providers()[0],
        "device": device,
        "onnxruntime": ort.__version__,
        "window": f"windows of {how.window_s:g} s until the last 3 agree within "
        f"{how.stability_pct:g}% (at most {how.max_trials})",
        "rows": rows,
    }


def describe(row: dict) -> str:
    """One line: batch, path, rate, latency and the spread of the windows it stands on."""
    state = "stable" if row["stable"] else "UNSTABLE"
    return (
        f"batch {row['batch_size']:>3} {row['path']:<15} {row['throughput_infer_per_s']:>10.1f} "
        f"infer/s  {row['latency_ms']:>8.3f} ms  spread {row['spread_pct']:.1f}% over the last "
        f"{STABLE_WINDOWS} of {row['windows']} windows ({state})"
    )


def rows_of(floor: dict, path: str) -> list[dict]:
    """The rows of one path (device-resident or host-fed), in batch order."""
    return [r for r in floor["rows"] if r["path"] == path]


def best(floor: dict) -> dict:
    """The fastest row over every batch and path."""
    return max(floor["rows"], key=lambda r: r["throughput_infer_per_s"])
