"""PNG plots of a run or sweep: latency against throughput, one curve per protocol/shm mode."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: the client runs in containers and CI without a display
import matplotlib.pyplot as plt  # noqa: E402


def latency_vs_throughput(summaries: list[dict], path: Path) -> Path:
    """p50 and p99 latency vs requests/s, points labelled with their concurrency."""
    curves: dict[tuple, list[dict]] = {}
    for s in summaries:
        if s["latency_ms"]:
            curves.setdefault((s["model"], s["protocol"], s["shm"]), []).append(s)
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for (model, protocol, shm), steps in curves.items():
        steps.sort(key=lambda s: (s["concurrency"], s["rate_target"] or 0))
        throughput = [s["throughput_rps"] for s in steps]
        for axis, percentile in zip(axes, ("p50", "p99"), strict=True):
            latency = [s["latency_ms"][percentile] for s in steps]
            (line,) = axis.plot(
                throughput, latency, marker="o", label=f"{model} {protocol}/shm={shm}"
            )
            for x, y, s in zip(throughput, latency, steps, strict=True):
                axis.annotate(
                    f"c={s['concurrency']}",
                    (x, y),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=7,
                    color=line.get_color(),
                )
    for axis, percentile in zip(axes, ("p50", "p99"), strict=True):
        axis.set_title(f"{percentile} latency vs throughput")
        axis.set_xlabel("throughput (requests/s)")
        axis.set_ylabel(f"{percentile} latency (ms)")
        axis.grid(True, alpha=0.3)
    if curves:
        axes[0].legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
