"""Writes the bench run: markdown table, CSV, raw JSON and PNG plots."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from bench.machine import header_lines

SECTIONS = ("floor", "device_floor", "overhead", "sweep", "batching", "reference")


def _csv(rows: list[dict], path: Path) -> None:
    columns = sorted({k for row in rows for k in row})
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _md_table(rows: list[dict], columns: list[str]) -> list[str]:
    if any("backend" in row for row in rows) and "backend" not in columns:
        columns = ["backend", *columns]  # a run over several onnxruntime backends
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    return lines + [""]


def _series(row: dict) -> str:
    """One line in the sweep plot: model, shm kind, and request batch size if not 1."""
    batch, instances = row.get("batch_size", 1), row.get("instances", 1)
    return (
        (f"{row['backend']} " if "backend" in row else "")
        + f"{row['model']} {row.get('shm', 'system')}"
        + (f" b{batch}" if batch != 1 else "")
        + (f" x{instances}" if instances != 1 else "")
    )


def plot(results: dict, out: Path) -> list[Path]:
    """Latency vs throughput per path, and serving overhead vs the floor."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    sweep = results["sweep"]
    if sweep:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for series in sorted({_series(r) for r in sweep}):
            rows = [r for r in sweep if _series(r) == series]
            ax.plot(
                [r["throughput_infer_per_s"] for r in rows],
                [r["p50_ms"] for r in rows],
                "o-",
                label=f"{series} p50",
            )
            ax.plot(
                [r["throughput_infer_per_s"] for r in rows],
                [r["p99_ms"] for r in rows],
                "x--",
                label=f"{series} p99",
            )
            for r in rows:
                ax.annotate(
                    f"c{r['concurrency']}", (r["throughput_infer_per_s"], r["p50_ms"]), fontsize=7
                )
        ax.set_xlabel("throughput (inferences/s)")
        ax.set_ylabel("latency (ms)")
        ax.set_yscale("log")
        ax.set_title("gRPC: latency vs throughput (concurrency sweep)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        paths.append(out / "latency_vs_throughput.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    overhead = results["overhead"]
    if overhead:
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(overhead) + 1.5))
        labels = [
            (f"{r['backend']} " if "backend" in r else "")
            + f"{r['model']} {r['protocol']}/{r['shm']}"
            for r in overhead
        ]
        ax.barh(range(len(overhead)), [r["ratio_to_floor"] for r in overhead], color="tab:blue")
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(overhead)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("served p50 / in-process ORT (batch 1, concurrency 1)")
        ax.set_title("Serving overhead against the floor")
        fig.tight_layout()
        paths.append(out / "overhead_vs_floor.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


def write(results: dict, out: Path, notes: list[str]) -> Path:
    """table.md + results.csv + raw.json + plots in `out`; returns table.md."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "raw.json").write_text(json.dumps(results, indent=2))
    all_rows = []
    for section in SECTIONS:
        all_rows += [{"section": section} | row for row in results.get(section, [])]
    _csv(all_rows, out / "results.csv")
    provider = results["machine"].get("floor_provider", "CPUExecutionProvider")
    gpu = provider != "CPUExecutionProvider"
    kind = "GPU, instance kind GPU" if gpu else "CPU"
    lines = [f"# Benchmark: triton-onnx-stack, local path ({kind})", ""]
    lines += [*header_lines(results["machine"]), ""]
    floor_columns = ["model", "batch_size", "latency_ms", "throughput_infer_per_s", "spread_pct"]
    lines += [f"## Floor: in-process ONNX Runtime ({provider}, inputs in host memory)", ""]
    lines += _md_table(results["floor"], floor_columns)
    if results.get("device_floor"):
        lines += [
            "## Device-resident floor: in-process ORT, CUDA EP with I/O binding, inputs and "
            "outputs already in GPU memory (what CUDA shm can offer)",
            "",
        ]
        lines += _md_table(results["device_floor"], floor_columns)
    overhead_columns = ["model", "protocol", "shm", "p50_ms", "floor_ms", "overhead_ms"]
    overhead_columns += ["ratio_to_floor"]
    if gpu:
        overhead_columns += ["device_floor_ms", "over_device_floor_ms"]
    overhead_columns += ["srv_queue_ms", "srv_input_ms", "srv_infer_ms", "srv_output_ms"]
    lines += ["## Served, batch 1, concurrency 1: overhead against the floor", ""]
    lines += _md_table(results["overhead"], overhead_columns)
    shms = sorted({r["shm"] for r in results["sweep"]})
    lines += [f"## Concurrency sweep (gRPC, shm: {', '.join(shms)})", ""]
    lines += _md_table(
        results["sweep"],
        [
            "model",
            "shm",
            "instances",
            "batch_size",
            "concurrency",
            "throughput_infer_per_s",
            "p50_ms",
            "p99_ms",
            "avg_batch",
            "srv_queue_ms",
            "srv_input_ms",
            "srv_infer_ms",
            "srv_output_ms",
        ],
    )
    lines += [f"## Dynamic batching (simple_transformer, gRPC, shm: {', '.join(shms)})", ""]
    lines += _md_table(
        results["batching"],
        [
            "variant",
            "shm",
            "concurrency",
            "throughput_infer_per_s",
            "p50_ms",
            "p99_ms",
            "avg_batch",
        ],
    )
    lines += ["## Load generator against tritonclient's raw async loop (gRPC, no shm)", ""]
    lines += _md_table(
        results["reference"],
        ["model", "concurrency", "ours_rps", "reference_rps", "ours_over_reference"],
    )
    lines += ["## Reading the numbers", "", *notes, ""]
    lines += [f"![{p.stem}]({p.name})" for p in plot(results, out)]
    path = out / "table.md"
    path.write_text("\n".join(lines) + "\n")
    return path
