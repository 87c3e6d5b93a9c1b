"""Lines up client, Triton and ORT per request on one clock and splits each request's time.

Clocks: Triton's trace and the backend's ORT sidecar use CLOCK_MONOTONIC (ORT's wall-clock
stamps are mapped in ort_trace). The client's times are put on that axis by an offset theta
(server = client + theta): each request bounds it, since the server received the request
after the client sent it and answered before the client had the answer:
    max(sent_by_server - recv_by_client) <= theta <= min(received_by_server - send_by_client).
A client on the same clock has theta = 0 (checked against the bounds); any other clock gets
the middle of the bounds, which moves time between the first and last parts only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from profiling.client_times import MONOTONIC, ClientRequest
from profiling.errors import ProfilingError
from profiling.ort_trace import OrtRun
from profiling.triton_trace import TritonRecord


@dataclass
class Offset:
    """theta (ns, server minus client) and the bounds the requests put on it."""

    theta_ns: int
    low_ns: int
    high_ns: int
    how: str


@dataclass
class RequestTimeline:
    """One request: the three sources and its time split into named parts (ns)."""

    client: ClientRequest
    triton: TritonRecord
    runs: list[OrtRun]
    start_ns: int  # client send on the server's clock
    end_ns: int
    parts: list[tuple[str, int, int]] = field(default_factory=list)  # (name, start, end)
    ort_groups: dict[str, int] = field(default_factory=dict)  # op type -> ns

    @property
    def latency_ns(self) -> int:
        return self.client.latency_ns

    def durations(self) -> dict[str, int]:
        """{part: ns} in request order, ORT node groups inside compute infer."""
        out: dict[str, int] = {}
        for name, start, end in self.parts:
            if name == "compute infer" and self.runs:
                ran = sum(r.dur_ns for r in self.runs)
                for op, ns in sorted(self.ort_groups.items(), key=lambda kv: -kv[1]):
                    out[f"ORT {op}"] = ns
                out["ORT between nodes"] = ran - sum(self.ort_groups.values())
                out["backend outside ORT"] = (end - start) - ran
            else:
                out[name] = end - start
        return out


def clock_offset(pairs: list[tuple[ClientRequest, TritonRecord]], clock: str | None) -> Offset:
    """theta for the client's clock; ProfilingError when no single offset fits every request."""
    low = max(t.sent() - c.recv_ns for c, t in pairs)
    high = min(t.received() - c.send_ns for c, t in pairs)
    if clock == MONOTONIC:
        if not low <= 0 <= high:
            raise ProfilingError(
                f"client and Triton claim one monotonic clock, but the requests need an offset "
                f"in [{low / 1e6:.3f}, {high / 1e6:.3f}] ms: are they on different hosts? Drop "
                f"the clock name from the client timestamps to estimate the offset instead"
            )
        return Offset(0, low, high, "same clock (CLOCK_MONOTONIC), offset 0")
    if low > high:
        raise ProfilingError(
            f"no single clock offset fits every request (bounds {low / 1e6:.3f} > "
            f"{high / 1e6:.3f} ms): the client's times do not belong to these traces, or its "
            f"clock jumped during the run"
        )
    return Offset((low + high) // 2, low, high, "estimated: middle of the per-request bounds")


def match(
    clients: list[ClientRequest], records: list[TritonRecord]
) -> list[tuple[ClientRequest, TritonRecord]]:
    """Pairs by request id; when the client sent none, by order (same count needed)."""
    by_id = {r.request_id: r for r in records if r.request_id}
    pairs = [(c, by_id[c.id]) for c in clients if c.id in by_id]
    if pairs:
        return pairs
    if len(clients) != len(records):
        raise ProfilingError(
            f"{len(clients)} client requests and {len(records)} Triton traces share no request "
            f"id and differ in number: send a request id with each request"
        )
    ordered = sorted(clients, key=lambda c: c.send_ns)
    return list(zip(ordered, records, strict=True))


def _runs_inside(record: TritonRecord, runs: list[OrtRun]) -> list[OrtRun]:
    """ORT runs whose middle lies in the request's compute-infer window (batched: shared)."""
    start, end = record.stamps["COMPUTE_INPUT_END"], record.stamps["COMPUTE_OUTPUT_START"]
    return [r for r in runs if start <= r.start_ns + r.dur_ns // 2 <= end]


def build(
    clients: list[ClientRequest],
    records: list[TritonRecord],
    runs: list[OrtRun],
    clock: str | None,
) -> tuple[list[RequestTimeline], Offset]:
    """One RequestTimeline per matched request, and the clock offset used."""
    pairs = match(clients, records)
    if not pairs:
        raise ProfilingError("no request has both client times and a Triton trace")
    offset = clock_offset(pairs, clock)
    timelines = []
    for client, record in pairs:
        s = record.stamps
        inside = _runs_inside(record, runs)
        line = RequestTimeline(
            client,
            record,
            inside,
            client.send_ns + offset.theta_ns,
            client.recv_ns + offset.theta_ns,
        )
        done = s.get("INFER_RESPONSE_COMPLETE", s["COMPUTE_END"])
        bounds = [
            ("client → server", line.start_ns, record.received()),
            ("server I/O in", record.received(), s["QUEUE_START"]),
            ("queue", s["QUEUE_START"], s["COMPUTE_START"]),
            ("compute input", s["COMPUTE_START"], s["COMPUTE_INPUT_END"]),
            ("compute infer", s["COMPUTE_INPUT_END"], s["COMPUTE_OUTPUT_START"]),
            ("compute output", s["COMPUTE_OUTPUT_START"], done),
            ("server I/O out", done, record.sent()),
            ("server → client", record.sent(), line.end_ns),
        ]
        line.parts = bounds
        for run in inside:
            for op, ns in run.op_totals().items():
                line.ort_groups[op] = line.ort_groups.get(op, 0) + ns
        timelines.append(line)
    return timelines, offset


def unmatched_runs(timelines: list[RequestTimeline], runs: list[OrtRun]) -> int:
    """ORT runs no traced request owns (model warm-up, untraced requests)."""
    owned = {id(r) for t in timelines for r in t.runs}
    return sum(1 for r in runs if id(r) not in owned)
