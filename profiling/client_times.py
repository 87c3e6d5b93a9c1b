"""Per-request client timestamps: {id, send_ns, recv_ns}, and the files that carry them.

Read: this package's own `client_requests.json` ({"clock": ..., "requests": [...]}), a bare
list of such objects, or a perf_analyzer-style `--profile-export-file` (experiments[].requests[]
with `timestamp` and `response_timestamps`, plus `request_id` where the exporter adds one).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from profiling.errors import ProfilingError

MONOTONIC = "CLOCK_MONOTONIC"  # the clock of Triton's trace (std::chrono::steady_clock)


@dataclass(frozen=True)
class ClientRequest:
    """One request as the client saw it: its id and when it was sent and answered (ns)."""

    id: str
    send_ns: int
    recv_ns: int

    @property
    def latency_ns(self) -> int:
        return self.recv_ns - self.send_ns


def save(path: Path, requests: list[ClientRequest], clock: str) -> Path:
    """Write this package's format."""
    path.write_text(json.dumps({"clock": clock, "requests": [asdict(r) for r in requests]}))
    return path


def _from_perf_analyzer(data: dict) -> list[dict]:
    rows = []
    for experiment in data.get("experiments", []):
        for n, request in enumerate(experiment.get("requests", [])):
            if request.get("ok") is False:  # failed requests have no server-side record to pair
                continue
            responses = request.get("response_timestamps") or [None]
            rows.append(
                {
                    "id": request.get("request_id", f"#{len(rows) + n}"),
                    "send_ns": request.get("timestamp"),
                    "recv_ns": responses[-1],
                }
            )
    return rows


def load(path: Path) -> tuple[list[ClientRequest], str | None]:
    """(requests, clock name or None when unknown); ProfilingError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ProfilingError(f"client timestamps file {path} does not exist")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ProfilingError(f"client timestamps file {path} is not valid JSON: {exc}") from None
    clock = None
    if isinstance(data, dict) and "experiments" in data:
        rows = _from_perf_analyzer(data)
    elif isinstance(data, dict):
        rows, clock = data.get("requests"), data.get("clock")
    else:
        rows = data
    if not isinstance(rows, list) or not rows:
        raise ProfilingError(
            f"client timestamps file {path} holds no requests: expected a list of "
            f'{{"id", "send_ns", "recv_ns"}} (or a perf_analyzer profile export)'
        )
    try:
        requests = [ClientRequest(str(r["id"]), int(r["send_ns"]), int(r["recv_ns"])) for r in rows]
    except (KeyError, TypeError, ValueError) as exc:
        raise ProfilingError(
            f"client timestamps file {path}: a request lacks an integer send_ns/recv_ns or an "
            f"id ({exc})"
        ) from None
    return requests, clock
