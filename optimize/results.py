"""The results file (every measurement, for resume), the goal's scoring and the Pareto front."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

RESULTS_FILE = "optimize.json"


class ResumeError(ValueError):
    """A results file from another model, base config or window: not comparable."""


@dataclass(frozen=True)
class Goal:
    """A p99 budget and/or a minimum throughput (inferences/s)."""

    p99_budget_ms: float | None = None
    min_throughput: float | None = None

    def violation(self, point: dict) -> float:
        """0 when `point` meets the goal, else how far off it is (relative)."""
        if point.get("error") or point.get("requests_failed") or point.get("p99_ms") is None:
            return float("inf")
        off = 0.0
        if self.p99_budget_ms is not None:
            off += max(point["p99_ms"] / self.p99_budget_ms - 1.0, 0.0)
        if self.min_throughput is not None:
            off += max(1.0 - point["throughput"] / self.min_throughput, 0.0)
        return off

    def meets(self, point: dict) -> bool:
        return self.violation(point) == 0.0

    def score(self, point: dict) -> tuple:
        """Larger is better: points meeting the goal first, then throughput (or low p99)."""
        off = self.violation(point)
        if off == float("inf"):
            return (-1, 0.0)
        if off > 0:
            return (0, -off)
        if self.p99_budget_ms is None and self.min_throughput is not None:
            return (1, -point["p99_ms"])  # throughput floor only: the lowest latency wins
        return (1, point["throughput"])


def pareto_front(points: list[dict]) -> list[dict]:
    """Measured points no other point beats on both throughput (higher) and p99 (lower)."""
    good = [p for p in points if not p.get("error") and p.get("p99_ms") is not None]
    front = [
        p
        for p in good
        if not any(
            q["throughput"] >= p["throughput"]
            and q["p99_ms"] <= p["p99_ms"]
            and (q["throughput"] > p["throughput"] or q["p99_ms"] < p["p99_ms"])
            for q in good
        )
    ]
    return sorted(front, key=lambda p: p["p99_ms"])


class Results:
    """optimize.json: identity, measurements and run-level numbers; saved after every change."""

    def __init__(self, folder: Path, identity: dict, fresh: bool = False) -> None:
        self.path = folder / RESULTS_FILE
        self.data = {"identity": identity, "measurements": [], "run": {}}
        if self.path.is_file() and not fresh:
            previous = json.loads(self.path.read_text())
            if previous.get("identity") != identity:
                raise ResumeError(
                    f"{self.path} holds results for {_describe(previous.get('identity', {}))}, not "
                    f"for {_describe(identity)}; pass --fresh to start over or another --report"
                )
            self.data = previous
        self.resumed = len(self.data["measurements"])

    @property
    def measurements(self) -> list[dict]:
        return self.data["measurements"]

    @property
    def run(self) -> dict:
        """Run-level numbers (baseline, budget, ceiling, winner)."""
        return self.data["run"]

    def find(self, config_hash: str, concurrency: int | None = None) -> dict | None:
        """A stored measurement of this candidate (at this concurrency), or None."""
        for entry in self.measurements:
            if entry["hash"] == config_hash and (
                concurrency is None or entry.get("concurrency") == concurrency or entry.get("error")
            ):
                return entry
        return None

    def add(self, entry: dict) -> None:
        self.measurements.append(entry)
        self.save()

    def save(self) -> None:
        """Write atomically: an interrupted run keeps a readable file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.data, indent=2))
        os.replace(temporary, self.path)


def _describe(identity: dict) -> str:
    window = identity.get("window", {})
    return (
        f"model {identity.get('model')!r} (base config {identity.get('base_config_sha')}, "
        f"measured {window})"
    )
