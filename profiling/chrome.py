"""The merged timeline as Chrome-trace JSON (opens in Perfetto or chrome://tracing)."""

from __future__ import annotations

import json
from pathlib import Path

from profiling.timeline import Offset, RequestTimeline

CLIENT_PID, TRITON_PID, ORT_PID = 1, 2, 3


def _lanes(timelines: list[RequestTimeline]) -> list[int]:
    """A lane per request such that requests in one lane never overlap (Perfetto nests X events)."""
    ends: list[int] = []
    lanes = []
    for line in timelines:
        lane = next((i for i, end in enumerate(ends) if end <= line.start_ns), len(ends))
        if lane == len(ends):
            ends.append(0)
        ends[lane] = line.end_ns
        lanes.append(lane)
    return lanes


def _event(name: str, pid: int, tid: int, start: int, end: int, t0: int, args=None) -> dict:
    event = {
        "name": name,
        "ph": "X",
        "pid": pid,
        "tid": tid,
        "ts": round((start - t0) / 1e3, 3),  # microseconds, to the nanosecond
        "dur": round(max(end - start, 0) / 1e3, 3),
    }
    if args:
        event["args"] = args
    return event


def events(timelines: list[RequestTimeline], model: str, offset: Offset) -> list[dict]:
    """Chrome-trace events: client, Triton and ORT tracks, microseconds from the first send."""
    timelines = sorted(timelines, key=lambda t: t.start_ns)
    t0 = timelines[0].start_ns
    out = [
        {"name": "process_name", "ph": "M", "pid": CLIENT_PID, "args": {"name": "client"}},
        {"name": "process_name", "ph": "M", "pid": TRITON_PID, "args": {"name": f"triton {model}"}},
        {"name": "process_name", "ph": "M", "pid": ORT_PID, "args": {"name": "onnxruntime"}},
    ]
    seen_runs: set[int] = set()
    for line, lane in zip(timelines, _lanes(timelines), strict=True):
        rid = line.client.id
        args = {"request_id": rid, "trace_id": line.triton.trace_id, "clock_offset": offset.how}
        latency = {"latency_ms": round(line.latency_ns / 1e6, 3)}
        out.append(
            _event(
                f"request {rid}", CLIENT_PID, lane, line.start_ns, line.end_ns, t0, args | latency
            )
        )
        for name, start, end in line.parts:
            pid = CLIENT_PID if name in ("client → server", "server → client") else TRITON_PID
            out.append(_event(name, pid, lane, start, end, t0, {"request_id": rid}))
        for run in line.runs:
            if id(run) in seen_runs:
                continue  # a batched run serves several requests: draw it once
            seen_runs.add(id(run))
            out.append(
                _event(
                    "model_run", ORT_PID, run.pid, run.start_ns, run.end_ns, t0, {"request_id": rid}
                )
            )
            for node in run.nodes:
                node_args = {"op": node.op, "provider": node.provider}
                out.append(
                    _event(
                        node.name,
                        ORT_PID,
                        run.pid,
                        node.start_ns,
                        node.start_ns + node.dur_ns,
                        t0,
                        node_args,
                    )
                )
    return out


def write(path: Path, timelines: list[RequestTimeline], model: str, offset: Offset) -> Path:
    """timeline.json: {"traceEvents": [...], "displayTimeUnit": "ms", "otherData": {...}}."""
    document = {
        "traceEvents": events(timelines, model, offset),
        "displayTimeUnit": "ms",
        "otherData": {
            "model": model,
            "requests": len(timelines),
            "clock_offset_ns": offset.theta_ns,
            "clock_offset_bounds_ns": [offset.low_ns, offset.high_ns],
            "clock_offset": offset.how,
        },
    }
    path.write_text(json.dumps(document))
    return path
