"""The text summary: where the median and the p99 request spent their time, part by part."""

from __future__ import annotations

import numpy as np

from profiling.timeline import Offset, RequestTimeline


def nearest_rank(timelines: list[RequestTimeline], percentile: float) -> RequestTimeline:
    """The request at `percentile` of client latency (nearest rank: a real request)."""
    ordered = sorted(timelines, key=lambda t: t.latency_ns)
    rank = max(int(np.ceil(percentile / 100 * len(ordered))) - 1, 0)
    return ordered[rank]


def part_medians(timelines: list[RequestTimeline]) -> dict[str, float]:
    """Each part's median over all requests (ns), in request order."""
    names: dict[str, None] = {}
    for line in timelines:
        names.update(dict.fromkeys(line.durations()))
    return {
        name: float(np.median([t.durations().get(name, 0) for t in timelines])) for name in names
    }


# Parts no tool measures: the remainder of Triton's compute window after ORT's run (python
# backend stub: IPC, numpy) and of ORT's run after its kernels. Every other part is a tool's
# own interval: client times, Triton's consecutive stamps, ORT's kernel durations.
UNNAMED = ("ORT between nodes", "backend outside ORT")


def named_share(line: RequestTimeline) -> float:
    """The part of the client's latency that the tools' own intervals account for."""
    named = sum(v for k, v in line.durations().items() if k not in UNNAMED)
    return named / line.latency_ns


def check(timelines: list[RequestTimeline]) -> dict[str, float]:
    """Named share of the median and p99 requests (the proof asks for >= 90%)."""
    return {
        "p50_named_share": named_share(nearest_rank(timelines, 50)),
        "p99_named_share": named_share(nearest_rank(timelines, 99)),
    }


def text(
    model: str, protocol: str, timelines: list[RequestTimeline], offset: Offset, ort_note: str
) -> str:
    """The summary.txt of one model."""
    p50, p99 = nearest_rank(timelines, 50), nearest_rank(timelines, 99)
    medians = part_medians(timelines)
    d50, d99 = p50.durations(), p99.durations()
    ms = lambda ns: f"{ns / 1e6:10.3f}"  # noqa: E731
    head = f"{'part (ms)':<28}{'median req':>12}{'p99 req':>12}{'part median':>13}"
    lines = [
        f"{model}: {len(timelines)} traced requests over {protocol}; median request "
        f"{p50.client.id}, p99 request {p99.client.id}",
        f"clock offset client->Triton: {offset.theta_ns / 1e6:.3f} ms ({offset.how}; "
        f"requests allow [{offset.low_ns / 1e6:.3f}, {offset.high_ns / 1e6:.3f}] ms)",
        ort_note,
        "",
        head,
        "-" * len(head),
        f"{'client latency':<28}{ms(p50.latency_ns):>12}{ms(p99.latency_ns):>12}"
        f"{ms(np.median([t.latency_ns for t in timelines])):>13}",
    ]
    for name in medians:
        lines.append(
            f"{'  ' + name:<28}{ms(d50.get(name, 0)):>12}{ms(d99.get(name, 0)):>12}"
            f"{ms(medians[name]):>13}"
        )
    sums = [sum(d50.values()), sum(d99.values()), sum(medians.values())]
    lats = [p50.latency_ns, p99.latency_ns, float(np.median([t.latency_ns for t in timelines]))]
    named = [sum(v for k, v in d.items() if k not in UNNAMED) for d in (d50, d99, medians)]
    lines.append("-" * len(head))
    lines.append(
        f"{'sum of parts':<28}" + "".join(f"{ms(v):>12}" for v in sums[:2]) + f"{ms(sums[2]):>13}"
    )
    lines.append(
        f"{'named parts / latency':<28}"
        + "".join(f"{100 * n / lat:>11.1f}%" for n, lat in zip(named[:2], lats[:2], strict=True))
        + f"{100 * named[2] / lats[2]:>12.1f}%"
    )
    negative = sorted({n for t in timelines for n, v in t.durations().items() if v < 0})
    lines += [
        "",
        "Parts are consecutive intervals of one request on one clock, so they sum to its latency.",
        "Named parts are the tools' own intervals (client, Triton's stamps, ORT's kernels); the",
        f"unnamed remainder is {' and '.join(UNNAMED)} (python backend stub, ORT between kernels).",
        "part median: each part's median over all requests (medians need not add up).",
    ]
    if negative:
        lines.append(f"WARNING: negative durations in {', '.join(negative)}: clocks misaligned?")
    return "\n".join(lines) + "\n"
