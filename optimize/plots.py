"""throughput_vs_p99.png: every measured point, the Pareto front, the budget, the winner."""

from __future__ import annotations

from pathlib import Path

from optimize.results import Goal, pareto_front


def throughput_vs_p99(
    points: list[dict],
    goal: Goal,
    winner: dict | None,
    path: Path,
    title: str,
    baseline: dict | None = None,
) -> Path:
    """Scatter of p99 (x) against throughput (y); the front as a line, the budget as a dashed line."""
    import matplotlib  # noqa: PLC0415 - slow import, only when a plot is written

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    good = [p for p in points if not p.get("error") and p.get("p99_ms") is not None]
    figure, axes = plt.subplots(figsize=(8, 5.5))
    axes.scatter(
        [p["p99_ms"] for p in good], [p["throughput"] for p in good], color="tab:gray", s=22,
        label="measured (candidate x concurrency)",
    )  # fmt: skip
    for p in good:
        axes.annotate(f"{p['label']} c{p['concurrency']}", (p["p99_ms"], p["throughput"]), fontsize=6, alpha=0.7,
                      xytext=(3, 2), textcoords="offset points")  # fmt: skip
    front = pareto_front(good)
    if front:
        axes.plot([p["p99_ms"] for p in front], [p["throughput"] for p in front], "o-",
                  color="tab:blue", label="Pareto front")  # fmt: skip
    if goal.p99_budget_ms is not None:
        axes.axvline(goal.p99_budget_ms, color="tab:red", linestyle="--",
                     label=f"p99 budget {goal.p99_budget_ms:.1f} ms")  # fmt: skip
    if goal.min_throughput is not None:
        axes.axhline(goal.min_throughput, color="tab:orange", linestyle="--",
                     label=f"min throughput {goal.min_throughput:.1f}/s")  # fmt: skip
    if baseline is not None:
        axes.scatter([baseline["p99_ms"]], [baseline["throughput"]], marker="D", s=70,
                     color="tab:purple", zorder=4,
                     label=f"serving config, c{baseline['concurrency']}")  # fmt: skip
    if winner is not None:
        axes.scatter([winner["p99_ms"]], [winner["throughput"]], marker="*", s=260,
                     color="tab:green", zorder=5, label=f"winner {winner['label']}")  # fmt: skip
    axes.set_xlabel("p99 latency (ms)")
    axes.set_ylabel("throughput (inferences/s)")
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")  # away from the points
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
