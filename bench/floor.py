"""The floor: in-process ONNX Runtime on the same model files, no server."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnxruntime as ort


def sample_shape(model_path: Path) -> list[int]:
    """The model's first input shape without the batch dimension."""
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    return [int(d) for d in session.get_inputs()[0].shape[1:]]


def measure(
    model_path: Path,
    batch_sizes: tuple[int, ...],
    repeats: int = 10,
    provider: str = "CPUExecutionProvider",
) -> list[dict]:
    """Median latency and throughput per batch size (after warm-up runs), inputs from host memory."""
    if provider != "CPUExecutionProvider" and hasattr(ort, "preload_dlls"):
        ort.preload_dlls()
    session = ort.InferenceSession(str(model_path), providers=[provider, "CPUExecutionProvider"])
    node = session.get_inputs()[0]
    rows = []
    for batch in batch_sizes:
        shape = [batch, *[int(d) for d in node.shape[1:]]]
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        run_once = lambda feeds={node.name: x}: session.run(None, feeds)  # noqa: E731
        rows.append(_timed_row(batch, run_once, warmups=2, repeats=repeats, digits=2))
    return rows


def measure_device(model_path: Path, batch_sizes: tuple[int, ...], repeats: int = 20) -> list[dict]:
    """The device-resident floor: CUDA EP with I/O binding, inputs and outputs in GPU memory.

    What CUDA shm can offer: no host copy at all. Buffers are torch CUDA tensors bound by
    pointer; run_with_iobinding returns once ORT's stream is done.
    """
    import torch  # noqa: PLC0415 - the GPU machine's torch; CPU runs never get here

    if hasattr(ort, "preload_dlls"):
        ort.preload_dlls()
    session = ort.InferenceSession(
        str(model_path), providers=["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    node, out = session.get_inputs()[0], session.get_outputs()[0]
    rows = []
    for batch in batch_sizes:
        shape = [batch, *[int(d) for d in node.shape[1:]]]
        x = torch.randn(shape, device="cuda")
        y = torch.empty([batch, *[int(d) for d in out.shape[1:]]], device="cuda")
        binding = session.io_binding()
        binding.bind_input(node.name, "cuda", 0, np.float32, shape, x.data_ptr())
        binding.bind_output(out.name, "cuda", 0, np.float32, list(y.shape), y.data_ptr())

        def run_once(binding=binding):
            session.run_with_iobinding(binding)
            binding.synchronize_outputs()

        rows.append(_timed_row(batch, run_once, warmups=3, repeats=repeats, digits=3))
    return rows


def _timed_row(batch: int, run_once, warmups: int, repeats: int, digits: int) -> dict:
    """One batch size's row: `warmups` untimed runs, then the median of `repeats` timed ones."""
    for _ in range(warmups):
        run_once()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run_once()
        timings.append(time.perf_counter() - started)
    median = float(np.median(timings))
    return {
        "batch_size": batch,
        "latency_ms": round(median * 1e3, digits),
        "throughput_infer_per_s": round(batch / median, 2),
    }
