"""perf_analyzer's stability rule and the window flags, without a server."""

from __future__ import annotations

import argparse

import pytest

from client import stability


def window(throughput: float, avg: float, p95: float | None = None) -> dict:
    return {"throughput_infer_per_s": throughput, "latency_ms": {"avg": avg, "p95": p95 or avg}}


def test_stable_needs_three_windows_within_the_percentage_on_both_measures():
    settings = stability.MeasurementSettings(stability_percentage=10)
    assert not stability.is_stable([window(100, 5)] * 2, settings)  # fewer than three
    assert stability.is_stable([window(100, 5), window(109, 5.4), window(101, 5)], settings)
    assert not stability.is_stable([window(100, 5), window(111, 5), window(101, 5)], settings)
    assert not stability.is_stable([window(100, 5), window(100, 5.6), window(100, 5)], settings)
    # Only the last three count: a slow first window does not hold the result back.
    assert stability.is_stable([window(10, 50)] + [window(100, 5)] * 3, settings)
    assert not stability.is_stable([window(100, 5), window(0, 5), window(100, 5)], settings)


def test_percentile_replaces_the_average_for_stability():
    settings = stability.MeasurementSettings(stability_percentage=10, percentile=95)
    steady_p95 = [window(100, 5, 9), window(100, 7, 9.5), window(100, 5, 9.2)]
    assert stability.is_stable(steady_p95, settings)
    assert not stability.is_stable(steady_p95, stability.MeasurementSettings())


def args(**given) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int)
    parser.add_argument("--duration", type=float)
    stability.add_arguments(parser)
    flags = []
    for key, value in given.items():
        flags += [f"--{key.replace('_', '-')}", str(value)]
    return parser.parse_args(flags)


def test_window_settings_from_flags_and_their_errors():
    assert stability.settings_from(args(requests=5)) is None  # a fixed run
    default = stability.settings_from(args())
    assert (default.mode, default.interval_ms, default.max_trials) == ("time_windows", 5000, 10)
    count = stability.settings_from(args(measurement_mode="count", measurement_request_count=9))
    assert (count.mode, count.request_count) == ("count_windows", 9)
    with pytest.raises(ValueError, match="--duration and --measurement-interval"):
        stability.settings_from(args(duration=2, measurement_interval=100))
    with pytest.raises(ValueError, match="--max-trials must be >= 3"):
        stability.settings_from(args(max_trials=2))
    with pytest.raises(ValueError, match="--percentile must be between 1 and 99"):
        stability.settings_from(args(percentile=100))
