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


def _session(model_file: Path, config: dict, spinning: bool) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return ort.InferenceSession(
        str(model_file), sess_options=options, providers=providers_for(config)
    )


def _best_rate(session, feeds: dict, batch: int, seconds: float) -> float:
    """Inferences/s, the best of a few rounds: others' busy moments do not lower a ceiling."""
    session.run(None, feeds)  # first run allocates: not counted
    rounds = []
    for _ in range(CEILING_ROUNDS):
        runs, started = 0, time.perf_counter()
        while runs < 2 or time.perf_counter() - started < seconds / CEILING_ROUNDS:
            session.run(None, feeds)
            runs += 1
        rounds.append(runs * batch / (time.perf_counter() - started))
    return max(rounds)


def in_process_throughput(
    model_file: Path, config: dict, batches: list[int], seconds: float, log=print
) -> dict:
    """{"by_batch": {b: infer/s}, "best_batch", "best", "provider"}: in-process ONNX Runtime.

    ORT's default threads (all cores), with its worker threads spinning and not: spinning is
    ORT's default, but on a CPU shared with other work (or the server's own threads) it loses.
    Each batch size takes the better of the two.
    """
    sessions = {spin: _session(model_file, config, spin) for spin in (True, False)}
    rng = np.random.default_rng(0)
    by_batch, spinning = {}, {}
    for batch in batches:
        feeds = _inputs(config, batch, rng)
        rates = {spin: _best_rate(s, feeds, batch, seconds / 2) for spin, s in sessions.items()}
        best = max(rates, key=rates.get)
        by_batch[str(batch)], spinning[str(batch)] = round(rates[best], 2), best
        log(
            f"  in-process ORT batch {batch:>3}: {rates[True]:>8.1f} infer/s spinning, "
            f"{rates[False]:>8.1f} not"
        )
    best_batch = max(by_batch, key=by_batch.get)
    return {
        "by_batch": by_batch,
        "best_batch": int(best_batch),
        "best": by_batch[best_batch],
        "spinning": spinning,
        "provider": sessions[True].get_providers()[0],
        "onnxruntime": ort.__version__,
    }
