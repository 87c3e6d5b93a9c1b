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
        for _ in range(2):
            session.run(None, {node.name: x})
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            session.run(None, {node.name: x})
            timings.append(time.perf_counter() - started)
        median = float(np.median(timings))
        rows.append(
            {
                "batch_size": batch,
                "latency_ms": round(median * 1e3, 2),
                "throughput_infer_per_s": round(batch / median, 2),
            }
        )
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
        for _ in range(3):
            session.run_with_iobinding(binding)
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            session.run_with_iobinding(binding)
            binding.synchronize_outputs()
            timings.append(time.perf_counter() - started)
        median = float(np.median(timings))
        rows.append(
            {
                "batch_size": batch,
                "latency_ms": round(median * 1e3, 3),
                "throughput_infer_per_s": round(batch / median, 2),
            }
        )
    return rows
