"""Stable measurement windows (perf_analyzer's -p/-s/-r) against the real server."""

from __future__ import annotations

import json

from tests.conftest import run_module
from tests.integration.test_client_load import client_args


def windowed_run(stack, tmp_path, *args: str, check: bool = True):
    """Run the client in window mode; (summary of the one step, completed process)."""
    result = run_module(
        "client",
        *client_args(stack, "--model", "simple_transformer"),
        *args,
        "--report",
        str(tmp_path),
        check=check,
    )
    (summary,) = json.loads((tmp_path / "summary.json").read_text())
    return summary, result


def spread(values: list[float]) -> float:
    return max(values) / min(values)


def test_steady_load_converges_in_three_or_more_windows_and_reports_them(stack, tmp_path):
    # Closed loop at concurrency 1 on a small model is steady; 30% allows for the other jobs
    # on this shared 2-core box, and 15 trials give it room to settle.
    summary, result = windowed_run(
        stack, tmp_path, "--concurrency", "1", "-p", "600", "-s", "30", "-r", "15"
    )
    windows = summary["windows"]
    assert summary["stable"] is True, result.stderr
    assert 3 <= len(windows) <= 15
    last = windows[-3:]
    assert spread([w["throughput_infer_per_s"] for w in last]) <= 1.30
    assert spread([w["latency_ms"]["avg"] for w in last]) <= 1.30
    # The result is the last three windows together, and the windows tile time.
    assert summary["requests_ok"] == sum(w["requests_ok"] for w in last)
    assert all(a["end_ns"] == b["start_ns"] for a, b in zip(windows, windows[1:], strict=False))
    assert abs(summary["wall_s"] - (last[-1]["end_ns"] - last[0]["start_ns"]) / 1e9) < 1e-3
    # The server's own count over the same windows. Boundaries cut live, and each statistics
    # snapshot takes a round trip while the loop goes on: at ~0.5 ms a request under NVIDIA's
    # backend a few requests land on either side, so 1% (at least 2) of the window's count.
    allowed = max(2, summary["requests_ok"] // 100)
    assert abs(summary["server"]["success"] - summary["requests_ok"]) <= allowed
    assert summary["measurement"]["stability_percentage"] == 30
    assert "UNSTABLE" not in result.stderr


def test_rate_steps_are_reported_unstable(stack, tmp_path):
    # 1 s at 100 req/s, then 2 s at 20 req/s, looped: any 1 s window tiling has one window
    # wholly in the slow phase and one at least half in the fast phase, so throughput spreads
    # by 3x or more however the windows fall.
    intervals = tmp_path / "intervals.txt"
    intervals.write_text("10000\n" * 100 + "50000\n" * 40)
    summary, result = windowed_run(
        stack,
        tmp_path,
        *("--concurrency", "4", "--request-intervals", str(intervals)),
        *("-p", "1000", "-s", "10", "-r", "4"),
    )
    assert summary["stable"] is False
    assert len(summary["windows"]) == 4  # ran out of trials, and says so
    assert spread([w["throughput_infer_per_s"] for w in summary["windows"][-3:]]) > 2.0
    assert "UNSTABLE: the last 3 of 4 windows differ by more than 10%" in result.stderr
    assert result.returncode == 0  # every request was answered; the verdict is in the report


def test_window_flags_conflicting_with_a_fixed_run_exit_2_naming_both(stack, tmp_path):
    result = run_module(
        "client",
        *client_args(stack, "--model", "simple_transformer"),
        *("--requests", "10", "-p", "500"),
        check=False,
    )
    assert result.returncode == 2
    assert "--requests and --measurement-interval" in result.stderr


def p99_at(stack, tmp_path, concurrency: int) -> float:
    """simple_cnn's p99 (ms) at one concurrency, from a short windowed run."""
    report = tmp_path / f"calibrate-c{concurrency}"
    run_module(
        "client",
        *client_args(stack, "--model", "simple_cnn"),
        *("--concurrency", str(concurrency), "-p", "500", "-s", "50", "-r", "4"),
        *("--report", str(report)),
    )
    (summary,) = json.loads((report / "summary.json").read_text())
    return summary["latency_ms"]["p99"]


def test_latency_threshold_search_brackets_the_threshold(stack, tmp_path):
    # The threshold is calibrated on the machine the test runs on: a fixed one (20 ms) was
    # crossed inside 1:32 on one box and never on a faster CI runner (p99 19.5 ms at 32).
    # Closed-loop latency grows about linearly with concurrency once the server saturates, so
    # the geometric mean of the p99 at both ends sits a wide margin away from either.
    low, high = 1, 64
    p99_low, p99_high = p99_at(stack, tmp_path, low), p99_at(stack, tmp_path, high)
    assert p99_high > 4 * p99_low, f"no saturation to search: p99 {p99_low} ms -> {p99_high} ms"
    threshold = round((p99_low * p99_high) ** 0.5, 1)
    result = run_module(
        "client",
        *client_args(stack, "--model", "simple_cnn"),
        *("--concurrency-range", f"{low}:{high}", "-l", str(threshold), "--binary-search"),
        *("-p", "500", "-s", "50", "-r", "4", "--report", str(tmp_path / "search")),
    )
    found = json.loads((tmp_path / "search" / "search.json").read_text())
    best, over = found["best"], found["next_over"]
    assert best is not None and over is not None, found["line"]
    assert over["level"] == best["level"] + 1  # bisected down to neighbours (STEP 1)
    assert best["latency_ms"] <= threshold < over["latency_ms"]
    # Both are real measured steps of the report, with the p99 the search compared.
    summary = json.loads((tmp_path / "search" / "summary.json").read_text())
    steps = {s["concurrency"]: s for s in summary}
    assert steps[best["level"]]["latency_ms"]["p99"] == best["latency_ms"]
    assert steps[over["level"]]["latency_ms"]["p99"] == over["latency_ms"]
    assert f"highest concurrency with p99 <= {threshold:g} ms: {best['level']} " in result.stdout
