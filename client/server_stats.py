"""The server's own counters for a window: the model's statistics and, for an ensemble, each
composing model's (queue and compute per step)."""

from __future__ import annotations

import time

STAGES = ("queue", "compute_input", "compute_infer", "compute_output")


def read(transport, client, model) -> dict:
    """The model's statistics entry; an ensemble's carries its step models' under 'composing'."""
    stats = transport.statistics(client, model.name, model.version)
    if model.composing:
        stats = dict(stats)
        stats["composing"] = {
            name: transport.statistics(client, name) for name in dict.fromkeys(model.composing)
        }
    return stats


def read_settled(transport, client, model) -> dict:
    """Statistics once the server has counted every answered request (no sender is active).

    Triton counts a request when it releases it, which can be just after the client has
    its response; a snapshot taken at once would put late warm-ups inside the window.
    """
    stats = read(transport, client, model)
    for _ in range(50):  # at most ~1 s
        time.sleep(0.02)
        again = read(transport, client, model)
        if again.get("inference_stats") == stats.get("inference_stats"):
            return again
        stats = again
    return stats


def _count_ns(stats: dict, key: str) -> tuple[int, int]:
    entry = stats.get("inference_stats", {}).get(key, {})
    return int(entry.get("count", 0)), int(entry.get("ns", 0))


def window(before: dict, after: dict) -> dict:
    """What the server counted between two statistics snapshots (the measured window)."""
    success = _count_ns(after, "success")[0] - _count_ns(before, "success")[0]
    counted = {
        "success": success,
        "fail": _count_ns(after, "fail")[0] - _count_ns(before, "fail")[0],
        "inference_count": int(after.get("inference_count", 0))
        - int(before.get("inference_count", 0)),
        "execution_count": int(after.get("execution_count", 0))
        - int(before.get("execution_count", 0)),
    }
    for stage in STAGES:
        ns = _count_ns(after, stage)[1] - _count_ns(before, stage)[1]
        counted[f"{stage}_ms_per_request"] = round(ns / 1e6 / success, 3) if success else None
    executions = counted["execution_count"]
    counted["avg_batch_size"] = (
        round(counted["inference_count"] / executions, 2) if executions else None
    )
    if "composing" in after:  # the ensemble's steps; a model used by others counts theirs too
        counted["composing"] = {
            name: window(before.get("composing", {}).get(name, {}), stats)
            for name, stats in after["composing"].items()
        }
    return counted
