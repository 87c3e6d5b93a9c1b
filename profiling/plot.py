"""A PNG of one request's timeline (client, Triton, ORT rows), readable without a trace viewer."""

from __future__ import annotations

from pathlib import Path

from profiling.timeline import RequestTimeline

COLOURS = {
    "client → server": "#8da0cb",
    "server → client": "#8da0cb",
    "server I/O in": "#fc8d62",
    "server I/O out": "#fc8d62",
    "queue": "#e5c494",
    "compute input": "#a6d854",
    "compute infer": "#66c2a5",
    "compute output": "#a6d854",
}
NODE_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d"]


def request_png(path: Path, line: RequestTimeline, title: str) -> Path:
    """Draw `line` as three rows of bars, times in ms after the client sent it."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    t0 = line.start_ns
    ms = lambda ns: (ns - t0) / 1e6  # noqa: E731
    fig, ax = plt.subplots(figsize=(12, 4.4))
    rows = {"client": 2, "triton": 1, "onnxruntime": 0}
    ax.broken_barh([(0, line.latency_ns / 1e6)], (rows["client"] + 0.3, 0.4), color="#cccccc")
    for name, start, end in line.parts:
        row = "client" if name in ("client → server", "server → client") else "triton"
        y = rows[row] - 0.35
        ax.broken_barh(
            [(ms(start), (end - start) / 1e6)], (y, 0.6), color=COLOURS[name], edgecolor="white"
        )
        if (end - start) / max(line.latency_ns, 1) > 0.06:
            ax.text(
                ms(start) + (end - start) / 2e6, y + 0.3, name, ha="center", va="center", fontsize=7
            )
    # The heaviest op types get colours; the rest share grey (a legend of 20 ops helps nobody).
    totals: dict[str, int] = {}
    for op, ns in line.ort_groups.items():
        totals[op] = totals.get(op, 0) + ns
    top = sorted(totals, key=lambda op: -totals[op])[: len(NODE_COLOURS)]
    colour = {op: NODE_COLOURS[i] for i, op in enumerate(top)}
    for run in line.runs:
        ax.broken_barh([(ms(run.start_ns), run.dur_ns / 1e6)], (0.25, 0.35), color="#dddddd")
        for node in run.nodes:
            shade = colour.get(node.op, "#999999")
            ax.broken_barh([(ms(node.start_ns), node.dur_ns / 1e6)], (-0.35, 0.55), color=shade)
    labels = {name: COLOURS[name] for name, _, _ in line.parts if name in COLOURS}
    labels |= {"ORT model_run": "#dddddd"} if line.runs else {}
    labels |= {f"ORT {op}": colour[op] for op in top}
    if len(totals) > len(top):
        labels["ORT other ops"] = "#999999"
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in labels.values()]
    ax.legend(
        handles,
        list(labels),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.22),
        fontsize=7,
        ncol=6,
        frameon=False,
    )
    ax.set_yticks(list(rows.values()), [f"{k}" for k in rows])
    ax.set_ylim(-0.6, 2.9)
    ax.set_xlabel("ms after the client sent the request")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
