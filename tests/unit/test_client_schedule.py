"""The client's schedule and list arguments, without a server."""

from __future__ import annotations

import argparse

import pytest

from client.cli import _choices, _int_list
from client.load import LoadProfile, Schedule


def tickets(profile: LoadProfile) -> list[tuple[int, float]]:
    schedule = Schedule(profile)
    schedule.begin()
    out = []
    while (ticket := schedule.next()) is not None:
        out.append((ticket[0], ticket[1] - schedule.started))
    return out


def test_constant_rate_spaces_send_times_and_bounds_them_by_duration():
    sent = tickets(LoadProfile("m", rate=50.0, duration_s=2.0, requests=None))
    assert len(sent) == 100  # send times, not wall time, end the run: exact
    assert [i for i, _ in sent] == list(range(100))
    assert [t for _, t in sent] == pytest.approx([i / 50.0 for i in range(100)])


def test_poisson_rate_is_seeded_and_averages_to_the_rate():
    profile = LoadProfile("m", rate=200.0, duration_s=10.0, requests=None, arrival="poisson")
    first, second = tickets(profile), tickets(profile)
    # Repeatable: the same arrivals (times are offsets from two different start clocks, so
    # equal to float rounding only).
    assert [i for i, _ in first] == [i for i, _ in second]
    assert [t for _, t in first] == pytest.approx([t for _, t in second], abs=1e-9)
    assert len(first) == pytest.approx(2000, rel=0.05)  # 2000 arrivals: spread ~2.2 %
    gaps = [b - a for (_, a), (_, b) in zip(first, first[1:], strict=False)]
    assert min(gaps) >= 0 and len(set(gaps)) > 100  # random gaps, in order


def test_request_count_bounds_the_run():
    assert len(tickets(LoadProfile("m", requests=7))) == 7


def test_stop_ends_the_schedule():
    schedule = Schedule(LoadProfile("m", requests=None, duration_s=60.0))
    schedule.begin()
    assert schedule.next() is not None
    schedule.stop.set()
    assert schedule.next() is None


def test_list_arguments():
    assert _int_list("1,2,4") == [1, 2, 4]
    assert _choices(("http", "grpc"))("grpc,http,grpc") == ["grpc", "http"]
    with pytest.raises(argparse.ArgumentTypeError, match="'http,tcp'.*http, grpc"):
        _choices(("http", "grpc"))("http,tcp")
    with pytest.raises(argparse.ArgumentTypeError, match="comma list"):
        _int_list("1,two")
