"""Turns a LoadResult into numbers people read: a table, JSON and CSV."""

from __future__ import annotations

import csv
import json
import platform
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np

from client import server_stats
from client.load import LoadResult
from client.stability import STABLE_WINDOWS, in_range, latency_stats

server_window = server_stats.window  # the name report users import


def summarize(result: LoadResult, percentile: int | None = None) -> dict:
    """The summary JSON: throughput, latency percentiles, errors, server-side breakdown."""
    profile = result.profile
    errors = dict(result.errors)  # the whole run, windows or not: a failure is never hidden
    measured = result.windows[-STABLE_WINDOWS:]
    if measured:  # the result is the last windows together, as perf_analyzer reports it
        inside = in_range(result.records, measured[0]["start_ns"], measured[-1]["end_ns"])
        latencies_ms = np.array([(r[2] - r[1]) / 1e6 for r in inside if r[3]])
        wall_s = (measured[-1]["end_ns"] - measured[0]["start_ns"]) / 1e9
    else:
        latencies_ms = result.latencies_s * 1e3
        wall_s = result.wall_s
    ok = int(latencies_ms.size)
    settings = result.measurement
    latency = latency_stats(latencies_ms, percentile)  # --percentile is reported either way
    wall = wall_s or float("nan")
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
        "wall_s": round(wall_s, 3),
        "throughput_rps": round(ok / wall, 3) if ok else 0.0,
        "throughput_infer_per_s": round(ok * profile.batch_size / wall, 3) if ok else 0.0,
        "latency_ms": latency,
        "server": server_window(result.server_before, result.server_after),
        "verified": sum(w.verified for w in result.workers),
        "max_abs_diff": max((w.max_abs_diff for w in result.workers), default=0.0),
        "cleanup_problems": [p for w in result.workers for p in w.cleanup_problems],
        "responses_by_version": dict(sorted(_by_version(result).items())),
        "version_timeline": version_timeline(result),
        # None: a fixed --requests/--duration run, not checked; True/False: windows compared
        "stable": result.stable,
        "measurement": asdict(settings) if settings else None,
        "windows": result.windows,
        "machine": {
            "host": platform.node(),
            "cpu": platform.processor() or platform.machine(),
            "python": sys.version.split()[0],
        },
    }


def _version_counts(result: LoadResult) -> Counter:
    """(second of the run, model version) -> responses, over all workers."""
    total = Counter()
    for worker in result.workers:
        total.update(worker.versions)
    return total


def _by_version(result: LoadResult) -> Counter:
    versions = Counter()
    for (_, version), count in _version_counts(result).items():
        versions[version] += count
    return versions


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
        f" {'stable':>6}"
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
            f" {_stable_cell(s):>6}"
        )
    return "\n".join(lines)


def composing_lines(summary: dict) -> list[str]:
    """One line per step model of an ensemble: its queue and compute per request."""
    return [
        f"step {name}: {w['success']} requests, queue {w['queue_ms_per_request'] or 0:.2f} ms, "
        f"compute input/infer/output {w['compute_input_ms_per_request'] or 0:.2f}/"
        f"{w['compute_infer_ms_per_request'] or 0:.2f}/{w['compute_output_ms_per_request'] or 0:.2f}"
        f" ms per request"
        for name, w in summary["server"].get("composing", {}).items()
    ]


def _stable_cell(summary: dict) -> str:
    stable = summary.get("stable")
    return "-" if stable is None else ("yes" if stable else "NO")


def write(summaries: list[dict], directory: Path) -> tuple[Path, Path]:
    """summary.json (a list of runs) and summary.csv (flattened) in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "summary.json"
    json_path.write_text(json.dumps(summaries, indent=2))
    # Windows stay in the JSON; the flat CSV keeps one row per step and counts them.
    rows = [_flatten(s | {"windows": len(s.get("windows") or [])}) for s in summaries]
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
