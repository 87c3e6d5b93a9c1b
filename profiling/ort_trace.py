"""Reads ONNX Runtime profiles (written by backends/onnxruntime/ort_profile.py) as runs.

ORT stamps events in microseconds after a wall-clock start; the sidecar `.clock.json` the
backend writes beside each profile maps them onto the monotonic clock of Triton's trace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from profiling.errors import ProfilingError


@dataclass
class OrtNode:
    """One node's kernel: ORT's node name, its op type and provider, monotonic ns."""

    name: str
    op: str
    provider: str
    start_ns: int
    dur_ns: int


@dataclass
class OrtRun:
    """One `session.run` (ORT's model_run event) and the nodes it ran."""

    start_ns: int
    dur_ns: int
    pid: int
    nodes: list[OrtNode] = field(default_factory=list)

    @property
    def end_ns(self) -> int:
        return self.start_ns + self.dur_ns

    def op_totals(self) -> dict[str, int]:
        """{op type: summed kernel ns} (the node groups of the summary)."""
        totals: dict[str, int] = {}
        for node in self.nodes:
            totals[node.op] = totals.get(node.op, 0) + node.dur_ns
        return totals


def _load_json(path: Path, what: str):
    if not path.is_file():
        raise ProfilingError(f"{what} {path} does not exist")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ProfilingError(f"{what} {path} is not valid JSON: {exc}") from None


def read(path: Path) -> list[OrtRun]:
    """The runs of one ORT profile, on the monotonic clock; ProfilingError naming the file."""
    path = Path(path)
    sidecar = Path(str(path) + ".clock.json")
    if not sidecar.is_file():
        raise ProfilingError(
            f"ORT profile {path} has no clock sidecar {sidecar.name}: profiles are placed on "
            f"Triton's clock only when written by backends/onnxruntime/ort_profile.py "
            f"(config parameter ort_profile_dir)"
        )
    clock = _load_json(sidecar, "ORT clock sidecar")
    events = _load_json(path, "ORT profile")
    if not isinstance(events, list):
        raise ProfilingError(f"ORT profile {path} is not ORT's list of trace events")
    try:
        base = int(clock["start_wall_ns"]) - int(clock["wall_minus_monotonic_ns"])
        pid = int(clock.get("pid", 0))
        runs = [
            OrtRun(base + int(e["ts"]) * 1000, int(e["dur"]) * 1000, pid)
            for e in events
            if e.get("cat") == "Session" and e.get("name") == "model_run"
        ]
        runs.sort(key=lambda r: r.start_ns)
        for e in events:
            if e.get("cat") != "Node" or not str(e.get("name", "")).endswith("_kernel_time"):
                continue
            args = e.get("args", {})
            start = base + int(e["ts"]) * 1000
            node = OrtNode(
                e["name"].removesuffix("_kernel_time"),
                args.get("op_name", "?"),
                args.get("provider", "?"),
                start,
                int(e["dur"]) * 1000,
            )
            owner = next((r for r in runs if r.start_ns <= start <= r.end_ns), None)
            if owner is not None:
                owner.nodes.append(node)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfilingError(
            f"ORT profile {path}: an event lacks {exc}: not an ORT profile?"
        ) from None
    return runs


def read_all(paths: list[Path]) -> list[OrtRun]:
    """Runs of several profiles (one per model instance), by start time."""
    runs = [run for path in paths for run in read(path)]
    return sorted(runs, key=lambda r: r.start_ns)
