"""perf_analyzer's report files: the -f latency CSV and the --profile-export-file JSON."""

from __future__ import annotations

import argparse
import csv
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from client.load import LoadResult
from client.server_metrics import csv_columns

# perf_analyzer's -f header, in its order; every time column is microseconds per request.
# "Avg latency" is what newer perf_analyzer versions append after the percentiles.
TIME_COLUMNS = (
    "Client Send",
    "Network+Server Send/Recv",
    "Server Queue",
    "Server Compute Input",
    "Server Compute Infer",
    "Server Compute Output",
    "Client Recv",
    "p50 latency",
    "p90 latency",
    "p95 latency",
    "p99 latency",
    "Avg latency",
)
SERVER_STAGES = {
    "Server Queue": "queue_ms_per_request",
    "Server Compute Input": "compute_input_ms_per_request",
    "Server Compute Infer": "compute_infer_ms_per_request",
    "Server Compute Output": "compute_output_ms_per_request",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The report-file flag group (perf_analyzer's names)."""
    group = parser.add_argument_group("perf_analyzer-compatible report files")
    group.add_argument(
        "-f",
        "--latency-report-file",
        type=Path,
        metavar="FILE",
        help="perf_analyzer's CSV: one row per step, its columns and order, times in us",
    )
    group.add_argument(
        "--profile-export-file",
        type=Path,
        metavar="FILE",
        help="every request's send and receive time (ns since the epoch) and request id, "
        "with the window boundaries, per step (perf_analyzer's profile export layout)",
    )


def first_column(summaries: list[dict]) -> str:
    """perf_analyzer's first column: 'Request Rate' for rate runs, else 'Concurrency'."""
    return "Request Rate" if any(s["rate_target"] for s in summaries) else "Concurrency"


def csv_row(summary: dict, first: str) -> dict:
    """One step as perf_analyzer writes it (integers in us, throughput to 0.1)."""
    latency, server = summary["latency_ms"], summary["server"]

    def us(ms) -> int:
        return round((ms or 0.0) * 1000)

    row = {
        first: summary["rate_target"] if first == "Request Rate" else summary["concurrency"],
        "Inferences/Second": round(summary["throughput_infer_per_s"], 1),
        # The client times a whole tritonclient call; its send and receive halves are not
        # separable from outside, so they count inside Network+Server Send/Recv.
        "Client Send": 0,
        "Client Recv": 0,
    }
    server_us = 0
    for column, key in SERVER_STAGES.items():
        row[column] = us(server.get(key))
        server_us += row[column]
    row["Network+Server Send/Recv"] = max(0, us(latency.get("avg")) - server_us)
    for p in (50, 90, 95, 99):
        row[f"p{p} latency"] = us(latency.get(f"p{p}"))
    row["Avg latency"] = us(latency.get("avg"))
    if "server_metrics" in summary:
        row |= csv_columns(summary["server_metrics"])
    return row


def write_csv(summaries: list[dict], path: Path) -> Path:
    """The -f file: rows sorted by throughput, as perf_analyzer sorts them."""
    first = first_column(summaries)
    columns = (first, "Inferences/Second", *TIME_COLUMNS)
    if any("server_metrics" in s for s in summaries):  # perf_analyzer's --collect-metrics columns
        columns += tuple(csv_columns(None))
    rows = sorted((csv_row(s, first) for s in summaries), key=lambda row: row["Inferences/Second"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def experiment(result: LoadResult) -> dict:
    """One step of the profile export: its load, every request, the window boundaries."""
    profile = result.profile
    prefix = profile.request_id_prefix
    records = result.records
    if result.windows:
        boundaries = [w["start_ns"] for w in result.windows] + [result.windows[-1]["end_ns"]]
    elif records:  # a fixed run is one window: first send to last answer
        boundaries = [min(r[1] for r in records), max(r[2] for r in records)]
    else:
        boundaries = []
    rate_mode = profile.rate is not None or profile.intervals_s is not None
    return {
        "experiment": {
            "mode": "request_rate" if rate_mode else "concurrency",
            "value": profile.rate if profile.rate is not None else profile.concurrency,
            "model": profile.model,
            "protocol": profile.protocol,
            "shm": profile.shm,
            "concurrency": profile.concurrency,
            "batch_size": profile.batch_size,
        },
        "requests": [
            {
                "timestamp": sent,
                "response_timestamps": [received],
                "request_id": f"{prefix}{index}",
                "ok": ok,
            }
            for index, sent, received, ok in records
        ],
        "window_boundaries": boundaries,
    }


class ProfileExport:
    """Collects each step's requests; writes the --profile-export-file JSON."""

    def __init__(self, path: Path | None):
        self.path = path
        self.experiments: list[dict] = []

    def add(self, result: LoadResult) -> None:
        if self.path is not None:
            self.experiments.append(experiment(result))

    def write(self) -> Path | None:
        if self.path is None or not self.experiments:
            return None
        try:
            ours = version("triton-onnx-stack")
        except PackageNotFoundError:
            ours = "unknown"
        document = {
            "version": f"triton-onnx-stack client {ours}",
            "service_kind": "triton",
            "endpoint": "",
            # Wall clock so the ids and times line up with Triton's trace file.
            "clock": "time.time_ns(): nanoseconds since the Unix epoch",
            "experiments": self.experiments,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(document))
        return self.path
