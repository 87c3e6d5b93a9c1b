"""Profiler inputs: malformed or missing files give clear errors; clocks line up (no server)."""

from __future__ import annotations

import json

import pytest

from profiling import client_times, ort_trace, triton_trace
from profiling.client_times import MONOTONIC, ClientRequest
from profiling.errors import ProfilingError
from profiling.timeline import build

ORDER = ["HTTP_RECV_START", "HTTP_RECV_END", "REQUEST_START", "QUEUE_START", "COMPUTE_START",
         "COMPUTE_INPUT_END", "COMPUTE_OUTPUT_START", "INFER_RESPONSE_COMPLETE", "COMPUTE_END",
         "REQUEST_END", "HTTP_SEND_START", "HTTP_SEND_END"]  # fmt: skip


def trace_entries(trace_id: int, request_id: str, start_ns: int, step_ns: int = 1000) -> list:
    """Triton's entries for one HTTP request, one activity every step_ns."""
    entries = [{"id": trace_id, "model_name": "m", "model_version": 1, "request_id": request_id}]
    for n, name in enumerate(ORDER):
        entries.append(
            {"id": trace_id, "timestamps": [{"name": name, "ns": start_ns + n * step_ns}]}
        )
    return entries


def write(path, data) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_missing_trace_file_is_named(tmp_path):
    with pytest.raises(ProfilingError, match=r"trace file .*nowhere.json does not exist"):
        triton_trace.read([tmp_path / "nowhere.json"])


def test_unfinished_trace_file_says_it_is_still_being_written(tmp_path):
    text = json.dumps(trace_entries(1, "a", 0))[:-1]  # no closing ']'
    with pytest.raises(ProfilingError, match="not valid JSON.*still writing"):
        triton_trace.read([write(tmp_path / "t.json", text)])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"id": 1}, "holds a dict, not Triton's list"),
        ([{"timestamps": []}], "entry 0 .* not a trace entry with an 'id'"),
        ([{"id": 1, "timestamps": [{"name": "QUEUE_START"}]}], "without a 'name' and integer 'ns'"),
    ],
)
def test_malformed_trace_files_are_refused(tmp_path, content, message):
    with pytest.raises(ProfilingError, match=message):
        triton_trace.read([write(tmp_path / "t.json", content)])


def test_incomplete_records_are_reported_and_unused_grpc_slots_ignored(tmp_path):
    entries = trace_entries(1, "a", 0) + [
        {"id": 2, "timestamps": [{"name": "GRPC_WAITREAD_START", "ns": 5}]}  # no request came
    ]
    records = triton_trace.read([write(tmp_path / "t.json", entries)])
    assert [r.request_id for r in triton_trace.requests_of(records, "m")] == ["a"]
    cut = entries[:-4]  # lost its last stamps
    with pytest.raises(ProfilingError, match="1 of 1 traces of m are incomplete"):
        triton_trace.requests_of(triton_trace.read([write(tmp_path / "c.json", cut)]), "m")


def test_ort_profile_without_clock_sidecar_is_refused(tmp_path):
    profile = write(tmp_path / "ort_m.json", [])
    with pytest.raises(ProfilingError, match="no clock sidecar"):
        ort_trace.read(profile)


def ort_profile(tmp_path, start_wall_ns: int, wall_minus_mono_ns: int):
    events = [
        {"cat": "Session", "name": "model_run", "ts": 100, "dur": 50},
        {"cat": "Node", "name": "mm_kernel_time", "ts": 110, "dur": 20, "args": {"op_name": "MatMul", "provider": "CPU"}},
        {"cat": "Node", "name": "add_kernel_time", "ts": 135, "dur": 5, "args": {"op_name": "Add", "provider": "CPU"}},
    ]  # fmt: skip
    path = write(tmp_path / "ort_m.json", events)
    clock = {
        "start_wall_ns": start_wall_ns,
        "wall_minus_monotonic_ns": wall_minus_mono_ns,
        "pid": 7,
    }
    write(tmp_path / "ort_m.json.clock.json", clock)
    return path


def test_ort_runs_land_on_the_monotonic_clock(tmp_path):
    (run,) = ort_trace.read(ort_profile(tmp_path, 10_000_000, 9_000_000))
    assert run.start_ns == 1_000_000 + 100_000  # wall start - (wall - mono) + 100 us
    assert run.op_totals() == {"MatMul": 20_000, "Add": 5_000}


@pytest.mark.parametrize(
    ("content", "message"),
    [([], "holds no requests"), ([{"id": "a", "send_ns": 1}], "lacks an integer send_ns/recv_ns")],
)
def test_bad_client_times_are_refused(tmp_path, content, message):
    with pytest.raises(ProfilingError, match=message):
        client_times.load(write(tmp_path / "c.json", content))


def test_perf_analyzer_style_export_is_read_without_failed_requests(tmp_path):
    requests_ = [
        {"timestamp": 5, "response_timestamps": [8, 9], "request_id": "r1", "ok": True},
        {"timestamp": 6, "response_timestamps": [7], "request_id": "r2", "ok": False},
    ]
    export = {"clock": "time.time_ns()", "experiments": [{"requests": requests_}]}
    requests, clock = client_times.load(write(tmp_path / "p.json", export))
    assert requests == [ClientRequest("r1", 5, 9)] and clock is None  # wall clock: estimated


def two_requests(tmp_path, client_shift_ns: int):
    """Two traced requests; the client's clock is the server's minus client_shift_ns."""
    entries = trace_entries(1, "a", 1_000_000) + trace_entries(2, "b", 2_000_000)
    records = triton_trace.requests_of(
        triton_trace.read([write(tmp_path / "t.json", entries)]), "m"
    )
    clients = [  # sent 50 us before arrival, answered 80 us after the last stamp
        ClientRequest(r.request_id, r.received() - 50_000 - client_shift_ns, r.sent() + 80_000 - client_shift_ns)
        for r in records
    ]  # fmt: skip
    return clients, records


def test_same_clock_needs_no_offset_and_parts_tile_the_latency(tmp_path):
    clients, records = two_requests(tmp_path, 0)
    timelines, offset = build(clients, records, [], MONOTONIC)
    assert offset.theta_ns == 0
    for line in timelines:
        assert sum(line.durations().values()) == line.latency_ns
        assert line.durations()["client → server"] == 50_000


def test_another_clock_gets_an_offset_inside_the_bounds(tmp_path):
    shift = 1_700_000_000_000_000_000  # a wall clock vs a monotonic one
    clients, records = two_requests(tmp_path, -shift)
    timelines, offset = build(clients, records, [], None)
    assert offset.low_ns <= -shift <= offset.high_ns
    assert abs(offset.theta_ns + shift) <= 80_000
    assert all(v >= 0 for t in timelines for v in t.durations().values())


def test_a_monotonic_claim_that_does_not_fit_is_refused(tmp_path):
    clients, records = two_requests(tmp_path, 5_000_000)
    with pytest.raises(ProfilingError, match="claim one monotonic clock"):
        build(clients, records, [], MONOTONIC)


def test_requests_without_ids_are_matched_by_order(tmp_path):
    clients, records = two_requests(tmp_path, 0)
    anonymous = [ClientRequest(f"#{n}", c.send_ns, c.recv_ns) for n, c in enumerate(clients)]
    timelines, _ = build(anonymous, records, [], MONOTONIC)
    assert [t.triton.request_id for t in timelines] == ["a", "b"]
