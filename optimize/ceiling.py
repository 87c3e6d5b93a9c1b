"""The ceiling: the best in-process ONNX Runtime throughput over batch sizes, same machine, same run."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tritonclient.utils import triton_to_np_dtype

CEILING_ROUNDS = 3


def _inputs(config: dict, batch: int, rng: np.random.Generator) -> dict:
    """Random feeds of `batch` items from the served config's input dims (-1 taken as 1)."""
    feeds = {}
    for tensor in config["input"]:
        dims = [1 if int(d) < 0 else int(d) for d in tensor["dims"]]
        dtype = triton_to_np_dtype(tensor["data_type"].removeprefix("TYPE_"))
        feeds[tensor["name"]] = rng.standard_normal([batch, *dims]).astype(dtype)
    return feeds


def providers_for(config: dict) -> list[str]:
    """The CUDA EP when the model's instances are GPU ones and this onnxruntime has it."""
    kinds = {group.get("kind") for group in config.get("instance_group", [])}
    if "KIND_GPU" in kinds and "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def in_process_throughput(
    model_file: Path, config: dict, batches: list[int], seconds: float, log=print
) -> dict:
    """{"by_batch": {b: infer/s}, "best_batch", "best", "provider"} for one ORT session.

    The session keeps ONNX Runtime's defaults (all cores): the best this machine does in-process.
    """
    session = ort.InferenceSession(str(model_file), providers=providers_for(config))
    rng = np.random.default_rng(0)
    by_batch = {}
    for batch in batches:
        feeds = _inputs(config, batch, rng)
        session.run(None, feeds)  # first run allocates: not counted
        # The best of a few rounds: a ceiling should not count the moments others took the CPU.
        rounds = []
        for _ in range(CEILING_ROUNDS):
            runs, started = 0, time.perf_counter()
            while runs < 2 or time.perf_counter() - started < seconds / CEILING_ROUNDS:
                session.run(None, feeds)
                runs += 1
            rounds.append(runs * batch / (time.perf_counter() - started))
        by_batch[str(batch)] = round(max(rounds), 2)
        log(f"  in-process ORT batch {batch:>3}: {by_batch[str(batch)]:>9.1f} infer/s")
    best_batch = max(by_batch, key=by_batch.get)
    return {
        "by_batch": by_batch,
        "best_batch": int(best_batch),
        "best": by_batch[best_batch],
        "provider": session.get_providers()[0],
        "onnxruntime": ort.__version__,
    }
