"""The ceiling: the best in-process ONNX Runtime throughput over batch sizes (bench/floor.py's floor)."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from bench import floor

# The backend's own session builder: the ceiling gets the providers (and their options, e.g.
# cudnn_conv_algo_search) that the served model's instances get.
BACKEND_SESSION = Path(__file__).resolve().parents[1] / "backends" / "onnxruntime" / "session.py"


@functools.cache
def _backend_session():
    spec = importlib.util.spec_from_file_location("tos_backend_session", BACKEND_SESSION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def providers_for(config: dict) -> list:
    """The execution providers our backend gives an instance of this config (device 0)."""
    kinds = {group.get("kind") for group in config.get("instance_group", [])}
    kind = "GPU" if "KIND_GPU" in kinds else "CPU"
    providers, _notes = _backend_session().providers_for(config, kind, 0)
    return providers


def _provider_name(provider) -> str:
    return provider[0] if isinstance(provider, tuple) else provider


def in_process_throughput(
    model_file: Path, config: dict, batches: list[int], seconds: float, log=print
) -> dict:
    """{"by_batch": {b: infer/s}, "best_batch", "best", "variant", "by_variant", "spread_pct"}.

    The floor module (bench/floor.py) measures it: device-resident and host-fed per batch,
    stable windows; each batch size takes the faster path, "variant" names which one.
    `seconds` per batch size is spread over the windows (at most 6 per path).
    """
    providers = providers_for(config)
    how = floor.FloorWindows(window_s=max(0.1, seconds / 12), max_trials=6)
    measured = floor.measure(model_file, batches, providers, how, log=log)
    by_batch, variant, by_variant, spread = {}, {}, {}, {}
    for batch in batches:
        rows = [r for r in measured["rows"] if r["batch_size"] == batch]
        top = max(rows, key=lambda r: r["throughput_infer_per_s"])
        by_batch[str(batch)], variant[str(batch)] = top["throughput_infer_per_s"], top["path"]
        spread[str(batch)] = top["spread_pct"]
        by_variant[str(batch)] = {r["path"]: r["throughput_infer_per_s"] for r in rows}
    best_batch = max(by_batch, key=by_batch.get)
    return {
        "by_batch": by_batch,
        "best_batch": int(best_batch),
        "best": by_batch[best_batch],
        "variant": variant,
        "by_variant": by_variant,
        "spread_pct": spread,
        "window": measured["window"],
        "provider": measured["provider"],
        "onnxruntime": measured["onnxruntime"],
    }
