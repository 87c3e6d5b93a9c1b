"""Turns a LoadResult into numbers people read: a table, JSON and CSV."""

from __future__ import annotations

import csv
import json
import platform
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from client.load import LoadResult

PERCENTILES = (50, 90, 95, 99)
STAGES = ("queue", "compute_input", "compute_infer", "compute_output")


def _count_ns(stats: dict, key: str) -> tuple[int, int]:
    entry = stats.get("inference_stats", {}).get(key, {})
    return int(entry.get("count", 0)), int(entry.get("ns", 0))


def server_window(before: dict, after: dict) -> dict:
    """What the server counted between two statistics snapshots (the measured window)."""
    success = _count_ns(after, "success")[0] - _count_ns(before, "success")[0]
    window = {
        "success": success,
        "fail": _count_ns(after, "fail")[0] - _count_ns(before, "fail")[0],
        "inference_count": int(after.get("inference_count", 0))
        - int(before.get("inference_count", 0)),
        "execution_count": int(after.get("execution_count", 0))
        - int(before.get("execution_count", 0)),
    }
    for stage in STAGES:
        ns = _count_ns(after, stage)[1] - _count_ns(before, stage)[1]
        window[f"{stage}_ms_per_request"] = round(ns / 1e6 / success, 3) if success else None
    executions = window["execution_count"]
    window["avg_batch_size"] = (
        round(window["inference_count"] / executions, 2) if executions else None
    )
    return window


def summarize(result: LoadResult) -> dict:
    """The summary JSON: throughput, latency percentiles, errors, server-side breakdown."""
    profile = result.profile
    latencies_ms = result.latencies_s * 1e3
    ok = int(latencies_ms.size)
    errors = dict(result.errors)
    latency = {}
    if ok:
        latency = {f"p{p}": round(float(np.percentile(latencies_ms, p)), 3) for p in PERCENTILES}
        latency |= {
            "mean": round(float(latencies_ms.mean()), 3),
            "max": round(float(latencies_ms.max()), 3),
        }
    wall = result.wall_s or float("nan")
    versions = Counter()
    for (_, version), count in _version_counts(result).items():
        versions[version] += count
    examples = {}
    for worker in result.workers:
        examples.update(worker.error_examples)
    return {
        "model": profile.model,
        "protocol": profile.protocol,
        "shm": profile.shm,
        "concurrency": profile.concurrency,
        "batch_size": profile.batch_size,
        "rate_target": profile.rate,
        "requests_ok": ok,
        "requests_failed": sum(errors.values()),
        "errors": errors,
        "error_examples": examples,
        "wall_s": round(result.wall_s, 3),
        "throughput_rps": round(ok / wall, 3) if ok else 0.0,
        "throughput_infer_per_s": round(ok * profile.batch_size / wall, 3) if ok else 0.0,
        "latency_ms": latency,
        "server": server_window(result.server_before, result.server_after),
        "verified": sum(w.verified for w in result.workers),
        "max_abs_diff": max((w.max_abs_diff for w in result.workers), default=0.0),
        "cleanup_problems": [p for w in result.workers for p in w.cleanup_problems],
        "responses_by_version": dict(sorted(versions.items())),
        "version_timeline": version_timeline(result),
        "machine": {
            "host": platform.node(),
            "cpu": platform.processor() or platform.machine(),
            "python": sys.version.split()[0],
        },
    }


def _version_counts(result: LoadResult) -> Counter:
    total = Counter()
    for worker in result.workers:
        total.update(worker.versions)
    return total


def version_timeline(result: LoadResult) -> list[dict]:
    """Responses per model version in each second of the run: [{"t_s": 0, "1": 40}, ...]."""
    rows: dict[int, dict] = {}
    for (second, version), count in sorted(_version_counts(result).items()):
        rows.setdefault(second, {"t_s": second})[version] = count
    return [rows[second] for second in sorted(rows)]


def timeline_text(rows: list[dict]) -> str:
    """'0-9s v1:12000, 10s v1:28/v3:1212, 11-18s v3:9000, ...': runs of one version merged."""
    spans: list[list] = []  # [first second, last second, {version: count}]
    for row in rows:
        counts = {k: v for k, v in row.items() if k != "t_s"}
        if spans and len(counts) == 1 and spans[-1][2].keys() == counts.keys():
            spans[-1][1] = row["t_s"]
            for version, count in counts.items():
                spans[-1][2][version] += count
        else:
            spans.append([row["t_s"], row["t_s"], counts])
    return ", ".join(
        (f"{a}s " if a == b else f"{a}-{b}s ") + "/".join(f"v{v}:{n}" for v, n in c.items())
        for a, b, c in spans
    )


def table(summaries: list[dict]) -> str:
    """A fixed-width table, one row per run."""
    head = (
        f"{'model':<20} {'proto':<5} {'shm':<6} {'conc':>4} {'ok':>6} {'err':>4} {'req/s':>8} "
        f"{'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'srv queue':>9} {'srv infer':>9}"
    )
    lines = [head, "-" * len(head)]
    for s in summaries:
        lat, srv = s["latency_ms"], s["server"]
        lines.append(
            f"{s['model']:<20} {s['protocol']:<5} {s['shm']:<6} {s['concurrency']:>4} "
            f"{s['requests_ok']:>6} {s['requests_failed']:>4} {s['throughput_rps']:>8.2f} "
            f"{lat.get('p50', float('nan')):>8.2f} {lat.get('p90', float('nan')):>8.2f} "
            f"{lat.get('p99', float('nan')):>8.2f} {lat.get('max', float('nan')):>8.2f} "
            f"{srv.get('queue_ms_per_request') or 0:>9.2f} {srv.get('compute_infer_ms_per_request') or 0:>9.2f}"
        )
    return "\n".join(lines)


def write(summaries: list[dict], directory: Path) -> tuple[Path, Path]:
    """summary.json (a list of runs) and summary.csv (flattened) in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "summary.json"
    json_path.write_text(json.dumps(summaries, indent=2))
    rows = [_flatten(s) for s in summaries]
    columns = sorted({k for row in rows for k in row})
    csv_path = directory / "summary.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return json_path, csv_path


def _flatten(summary: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        elif isinstance(value, list):
            flat[f"{prefix}{key}"] = "; ".join(map(str, value))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
