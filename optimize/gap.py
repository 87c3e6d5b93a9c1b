"""Where the rest of the ceiling goes, for the winner: batch shortfall, compute, the rest per request.

From numbers the search already has: the ceiling per batch size (in-process ORT) and the winner's
point (the average batch the server formed, Triton's per-request queue/input/compute/output
times). The timeline of one request comes from `python -m profiling` (the command is printed).
"""

from __future__ import annotations

import math


def rate_at(by_batch: dict, batch: float) -> float:
    """The ceiling's infer/s at a (fractional) batch size: linear in log2(batch) between sizes."""
    points = sorted((int(b), v) for b, v in by_batch.items())
    if batch <= points[0][0]:
        return points[0][1]
    for (b0, v0), (b1, v1) in zip(points, points[1:], strict=False):
        if batch <= b1:
            t = (math.log2(batch) - math.log2(b0)) / (math.log2(b1) - math.log2(b0))
            return v0 + t * (v1 - v0)
    return points[-1][1]


def profiling_command(model: str, shm: str, protocol: str, concurrency: int) -> str:
    """The timeline of the winner's median request, served as the winner (after --apply)."""
    return (
        f"python -m profiling --model {model} --protocol {protocol} --shm {shm} "
        f"--concurrency {concurrency} --requests 200 --no-ort"
    )


def lines(run: dict, winner: dict | None, command: str) -> list[str]:
    """Markdown bullets: the ceiling split into what the winner got and where the rest went."""
    ceiling = run.get("ceiling")
    if not ceiling or not winner or not winner.get("avg_batch_size"):
        return []
    best, served = ceiling["best"], winner["throughput"]
    formed = winner["avg_batch_size"]
    at_formed = rate_at(ceiling["by_batch"], formed)
    out = [
        "",
        "### Where the rest of the ceiling goes (winner)",
        "",
        f"- ceiling {best:.1f} infer/s at batch {ceiling['best_batch']}; the winner "
        f"{served:.1f} ({served / best:.1%}), {best - served:.1f} infer/s short:",
        f"- batch size: the server formed batches of {formed:.2f} items on average; in process "
        f"that size runs {at_formed:.1f} infer/s ({at_formed / best:.1%} of the ceiling): "
        f"{max(best - at_formed, 0):.1f} infer/s go to smaller batches",
    ]
    infer_ms = winner.get("infer_ms")
    if infer_ms:
        in_process_ms = 1e3 * formed / at_formed
        instances = winner["candidate"]["instances"]
        compute_bound = instances * formed / infer_ms * 1e3
        out.append(
            f"- compute: one execution took {infer_ms:.3f} ms in the backend (Triton's compute "
            f"infer per request) against {in_process_ms:.3f} ms in process at that batch "
            f"({infer_ms / in_process_ms:.2f}x); {instances} instance(s) busy all the time would "
            f"serve {compute_bound:.1f} infer/s"
        )
        out.append(
            f"- the rest ({max(min(compute_bound, at_formed) - served, 0):.1f} infer/s): time "
            f"the instances wait between executions, for requests (client, protocol, queue "
            f"{winner.get('queue_ms') or 0:.3f} ms, input {winner.get('input_ms') or 0:.3f} ms, "
            f"output {winner.get('output_ms') or 0:.3f} ms per request); p50 "
            f"{winner['p50_ms']:.2f} ms, p99 {winner['p99_ms']:.2f} ms"
        )
    out.append(f"- one request's timeline, served as the winner (`--apply`): `{command}`")
    return out
