"""Reads Triton's trace files (mode triton, level TIMESTAMPS) into one record per request."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from profiling.errors import ProfilingError

# The core's activities every finished request has, whatever the frontend.
CORE_STAMPS = (
    "REQUEST_START",
    "QUEUE_START",
    "COMPUTE_START",
    "COMPUTE_INPUT_END",
    "COMPUTE_OUTPUT_START",
    "COMPUTE_END",
    "REQUEST_END",
)
# (arrived, answered) per frontend. gRPC's WAITREAD_START is when the server began waiting
# for *some* request, before the client sent this one: WAITREAD_END is its arrival. And
# GRPC_SEND_END is stamped when gRPC's completion queue reports the write done, which on a
# busy CPU came up to 6 ms after the client already had the answer: SEND_START (response
# handed to gRPC) is the last stamp that is surely before the client's receipt.
FRONTENDS = {
    "http": ("HTTP_RECV_START", "HTTP_SEND_END"),
    "grpc": ("GRPC_WAITREAD_END", "GRPC_SEND_START"),
}


@dataclass
class TritonRecord:
    """One traced request: Triton's trace id, its request id and its timestamps (ns)."""

    trace_id: int
    model: str = ""
    request_id: str = ""
    parent_id: int = 0
    stamps: dict[str, int] = field(default_factory=dict)

    @property
    def frontend(self) -> str | None:
        """'http' or 'grpc' when both ends of that frontend were stamped."""
        for name, (start, end) in FRONTENDS.items():
            if start in self.stamps and end in self.stamps:
                return name
        return None

    @property
    def complete(self) -> bool:
        """Every core activity and both frontend ends were recorded."""
        return self.frontend is not None and all(s in self.stamps for s in CORE_STAMPS)

    def received(self) -> int:
        """When the request arrived at the server (ns, monotonic)."""
        return self.stamps[FRONTENDS[self.frontend][0]]

    def sent(self) -> int:
        """When the server finished writing the response (ns, monotonic)."""
        return self.stamps[FRONTENDS[self.frontend][1]]


def _entries(path: Path) -> list:
    if not path.is_file():
        raise ProfilingError(
            f"trace file {path} does not exist: Triton writes <trace file>.<n> once tracing is "
            f"on and requests were traced (python -m profiling switches it on); on compose, "
            f"read it from the traces volume (docs/profiling.md)"
        )
    text = path.read_text()
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as exc:
        unfinished = text.lstrip().startswith("[") and not text.rstrip().endswith("]")
        why = (
            " (no closing ']': a file Triton is still writing; with log_frequency 0 it is "
            "closed only at server shutdown)"
            if unfinished
            else ""
        )
        raise ProfilingError(f"trace file {path} is not valid JSON: {exc}{why}") from None
    if not isinstance(entries, list):
        raise ProfilingError(
            f"trace file {path} holds a {type(entries).__name__}, not Triton's list of trace "
            f"entries: is it a Triton trace (mode triton, level TIMESTAMPS)?"
        )
    return entries


def read(paths: list[Path]) -> dict[int, TritonRecord]:
    """{trace id: record} from Triton trace files; ProfilingError naming a bad file."""
    records: dict[int, TritonRecord] = {}
    for path in paths:
        for number, entry in enumerate(_entries(Path(path))):
            if not isinstance(entry, dict) or "id" not in entry:
                raise ProfilingError(
                    f"trace file {path}: entry {number} is {str(entry)[:80]!r}, not a trace "
                    f"entry with an 'id'"
                )
            record = records.setdefault(int(entry["id"]), TritonRecord(int(entry["id"])))
            if "model_name" in entry:
                record.model = entry["model_name"]
                record.request_id = str(entry.get("request_id", ""))
                record.parent_id = int(entry.get("parent_id", 0))
            for stamp in entry.get("timestamps", []):
                try:
                    record.stamps[stamp["name"]] = int(stamp["ns"])
                except (KeyError, TypeError, ValueError):
                    raise ProfilingError(
                        f"trace file {path}: entry {number} has a timestamp {stamp!r} without "
                        f"a 'name' and integer 'ns'"
                    ) from None
    return records


def requests_of(records: dict[int, TritonRecord], model: str) -> list[TritonRecord]:
    """The complete top-level records of `model`, in arrival order.

    Records without a model are gRPC read slots that no request used before tracing ended.
    """
    chosen = [r for r in records.values() if r.model == model and not r.parent_id]
    incomplete = [r.trace_id for r in chosen if not r.complete]
    if incomplete:
        raise ProfilingError(
            f"{len(incomplete)} of {len(chosen)} traces of {model} are incomplete (trace ids "
            f"{incomplete[:5]}): were they still in flight when tracing was switched off?"
        )
    return sorted(chosen, key=TritonRecord.received)
