"""perf_analyzer-compatible outputs: the -f CSV, the profile export, trace replay."""

from __future__ import annotations

import csv
import json

import numpy as np

from tests.conftest import run_module
from tests.integration.test_client_load import client_args

# perf_analyzer's -f header as its docs print it, then the "Avg latency" newer versions add.
PA_COLUMNS = [
    "Concurrency",
    "Inferences/Second",
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
]


def test_latency_csv_reads_with_perf_analyzers_column_names(stack, tmp_path):
    report = tmp_path / "perf.csv"
    run_module(
        "client",
        *client_args(stack, "--model", "simple_transformer"),
        *("--concurrency", "1,3", "--requests", "60", "-f", str(report)),
        *("--report", str(tmp_path)),
    )
    with open(report, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == PA_COLUMNS
    assert len(rows) == 2
    throughputs = [float(r["Inferences/Second"]) for r in rows]
    assert throughputs == sorted(throughputs)  # perf_analyzer sorts rows by throughput
    steps = {s["concurrency"]: s for s in json.loads((tmp_path / "summary.json").read_text())}
    for row in rows:
        step = steps[int(row["Concurrency"])]
        us = {k: int(v) for k, v in row.items() if k not in ("Concurrency", "Inferences/Second")}
        # Units are microseconds: the same numbers as summary.json's milliseconds.
        assert us["p99 latency"] == round(step["latency_ms"]["p99"] * 1000)
        assert us["Server Queue"] == round(step["server"]["queue_ms_per_request"] * 1000)
        assert us["p50 latency"] <= us["p90 latency"] <= us["p95 latency"] <= us["p99 latency"]
        stages = sum(us[k] for k in PA_COLUMNS[2:9])  # the breakdown adds up to the average
        assert abs(stages - us["Avg latency"]) <= 4, row  # each stage rounded to 1 us


def test_request_intervals_are_replayed_within_ten_percent(stack, tmp_path):
    # A looped trace of 20 ms then 5 ms gaps; every send time is recorded in the export.
    intervals = tmp_path / "intervals.txt"
    intervals.write_text("20000\n5000\n")
    export = tmp_path / "profile.json"
    run_module(
        "client",
        *client_args(stack, "--model", "simple_transformer"),
        *("--concurrency", "8", "--request-intervals", str(intervals), "--duration", "2"),
        *("--profile-export-file", str(export)),
    )
    (experiment,) = json.loads(export.read_text())["experiments"]
    requests = sorted(experiment["requests"], key=lambda r: int(r["request_id"].split(".")[-1]))
    assert len(requests) == 160  # send offsets below 2 s: 2 per 25 ms period, 80 periods
    assert all(r["ok"] for r in requests)
    sent_ms = np.array([r["timestamp"] for r in requests]) / 1e6
    gaps = np.diff(sent_ms)
    long_gaps, short_gaps = gaps[0::2], gaps[1::2]  # index 0 -> 1 waits the first interval
    # Medians: on this shared 2-core box a send now and then leaves a few ms late, which
    # lengthens one gap and shortens the next; the typical gap is the replayed one.
    assert abs(np.median(long_gaps) - 20.0) <= 2.0, long_gaps
    assert abs(np.median(short_gaps) - 5.0) <= 0.5, short_gaps
    assert abs(gaps.mean() - 12.5) <= 1.25  # and no drift: sends keep to the trace's clock
    # Every request carries the id it was sent with, and answers come after sends.
    assert len({r["request_id"] for r in requests}) == 160
    assert all(r["response_timestamps"][0] > r["timestamp"] for r in requests)
    assert experiment["window_boundaries"][0] <= requests[0]["response_timestamps"][0]


def test_ensemble_breakdown_and_server_metrics_in_the_report(stack, tmp_path):
    result = run_module(
        "client",
        *client_args(stack, "--model", "ensemble_transformer_4"),
        *("--requests", "20", "--collect-metrics", "--metrics-url", stack.metrics_url),
        *("--metrics-interval", "100", "-f", str(tmp_path / "perf.csv")),
        *("--report", str(tmp_path)),
    )
    (summary,) = json.loads((tmp_path / "summary.json").read_text())
    server = summary["server"]
    assert server["success"] == 20
    # Four steps of simple_transformer per ensemble request, each with its own queue/compute.
    step = server["composing"]["simple_transformer"]
    assert step["success"] == 80
    assert step["compute_infer_ms_per_request"] > 0
    assert "step simple_transformer: 80 requests, queue" in result.stdout
    metrics = summary["server_metrics"]
    assert metrics["samples"] >= 1
    if metrics["gpu"] is None:  # this CPU box: said plainly, in the report and on stdout
        assert "no nv_gpu_* metrics" in metrics["gpu_note"]
        assert "no nv_gpu_* metrics" in result.stdout
    else:  # a GPU host
        assert all("utilization" in gpu for gpu in metrics["gpu"].values())
    # The local server runs with --metrics-config=summary_latencies=true.
    assert metrics["summary_us"]["request"]["p50"] > 0
    with open(tmp_path / "perf.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert "Avg GPU Utilization" in row
