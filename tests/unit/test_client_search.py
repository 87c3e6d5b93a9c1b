"""The latency-threshold search and range flags, on a made-up latency curve (no server)."""

from __future__ import annotations

import argparse

import pytest

from client import search


def fake_step(latency_per_level: float, calls: list):
    def measure(level):
        calls.append(level)
        latency = level * latency_per_level
        return {
            "latency_ms": {"p99": latency, "p90": latency / 2},
            "throughput_infer_per_s": 100.0 * level,
            "stable": True,
            "requests_failed": 0,
        }

    return measure


@pytest.mark.parametrize("binary", [False, True])
def test_search_finds_the_last_level_under_and_the_first_over(binary):
    calls: list = []
    found = search.run("concurrency", range(1, 33), 10.0, None, binary, fake_step(1.5, calls))
    assert found.best["level"] == 6 and found.over["level"] == 7  # 9.0 ms <= 10 < 10.5 ms
    assert len(calls) == len(set(calls))  # no level measured twice
    assert calls == list(range(1, 8)) if not binary else len(calls) <= 7  # log2(32) + 2 ends
    assert "highest concurrency with p99 <= 10 ms: 6 (p99 9.00 ms" in found.line()
    assert "7 goes over (p99 10.50 ms)" in found.line()


def test_search_on_a_percentile_and_the_edges():
    found = search.run("request_rate", [1.0, 2.0], 10.0, 90, True, fake_step(100.0, []))
    assert found.best is None and "no request rate keeps p90 <= 10 ms" in found.line()
    found = search.run("concurrency", [1, 2], 10.0, None, True, fake_step(0.1, []))
    assert found.over is None and "the whole range stays under" in found.line()


def test_failing_requests_count_as_over_the_threshold():
    def measure(level):
        return {
            "latency_ms": {"p99": 1.0},
            "throughput_infer_per_s": 1.0,
            "stable": True,
            "requests_failed": int(level > 2),
        }

    found = search.run("concurrency", [1, 2, 3, 4], 10.0, None, False, measure)
    assert found.best["level"] == 2 and found.over["level"] == 3


def test_range_flags_parse_like_perf_analyzer():
    parse = search._range(int)
    assert parse("4") == (4, 4, 1)
    assert list(search.levels(*parse("1:9:4"))) == [1, 5, 9]
    assert list(search.levels(*search._range(float)("10:30:10"))) == [10.0, 20.0, 30.0]
    with pytest.raises(argparse.ArgumentTypeError, match="START"):
        parse("0:4")
