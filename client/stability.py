"""Measurement windows until the last three agree (perf_analyzer's -p/-s/-r/--percentile)."""

from __future__ import annotations

import argparse
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from client import server_stats

STABLE_WINDOWS = 3  # perf_analyzer compares the most recent three measurements
MIN_COUNT_WINDOW_S = 1.0  # count windows last at least this long (perf_analyzer's rule)
# ... and at most this long: a stalled server must not hold the run forever.
MAX_COUNT_WINDOW_S = 60.0


@dataclass(frozen=True)
class MeasurementSettings:
    """How windows are cut and when they count as stable."""

    mode: str = "time_windows"  # or "count_windows"
    interval_ms: float = 5000.0
    request_count: int = 50
    stability_percentage: float = 10.0
    max_trials: int = 10
    percentile: int | None = None  # None: stabilise on the average latency


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The measurement flag group (perf_analyzer's names and defaults)."""
    group = parser.add_argument_group(
        "measurement (perf_analyzer's stable windows; the default when neither --requests "
        "nor --duration is given)"
    )
    group.add_argument(
        "-p",
        "--measurement-interval",
        type=float,
        default=None,
        metavar="MS",
        help="window length in ms for time_windows (default 5000)",
    )
    group.add_argument(
        "--measurement-mode",
        choices=("time_windows", "count_windows", "time", "count"),
        default=None,
        help="cut windows by time (default) or by completed requests",
    )
    group.add_argument(
        "--measurement-request-count",
        type=int,
        default=None,
        metavar="N",
        help="requests per window for count_windows (default 50; a window lasts >= 1 s)",
    )
    group.add_argument(
        "-s",
        "--stability-percentage",
        type=float,
        default=10.0,
        metavar="PCT",
        help="stable when max/min of the last 3 windows is within PCT%% for throughput and "
        "latency (default 10)",
    )
    group.add_argument(
        "-r",
        "--max-trials",
        type=int,
        default=10,
        metavar="N",
        help="windows at most before the result is reported UNSTABLE (default 10)",
    )
    group.add_argument(
        "--percentile",
        type=int,
        default=None,
        metavar="P",
        help="stabilise on the P-th percentile latency (default: the average) and report it",
    )


def settings_from(args) -> MeasurementSettings | None:
    """The window settings the arguments ask for, or None for a --requests/--duration run.

    Raises ValueError with the flag to fix.
    """
    windowed_flags = [
        flag
        for flag, value in (
            ("--measurement-interval", args.measurement_interval),
            ("--measurement-mode", args.measurement_mode),
            ("--measurement-request-count", args.measurement_request_count),
        )
        if value is not None
    ]
    bound = "--requests" if args.requests is not None else "--duration"
    if args.requests is not None or args.duration is not None:
        if windowed_flags:
            raise ValueError(
                f"{bound} and {windowed_flags[0]} both set the measurement: drop {bound} to "
                f"measure in stable windows, or drop {windowed_flags[0]} for one fixed run"
            )
        return None
    mode = {"time": "time_windows", "count": "count_windows"}.get(
        args.measurement_mode, args.measurement_mode or "time_windows"
    )
    settings = MeasurementSettings(
        mode=mode,
        interval_ms=args.measurement_interval or 5000.0,
        request_count=args.measurement_request_count or 50,
        stability_percentage=args.stability_percentage,
        max_trials=args.max_trials,
        percentile=args.percentile,
    )
    if settings.interval_ms <= 0:
        raise ValueError(f"--measurement-interval must be > 0 ms, got {settings.interval_ms}")
    if settings.request_count < 1:
        raise ValueError(f"--measurement-request-count must be >= 1, got {settings.request_count}")
    if settings.stability_percentage <= 0:
        raise ValueError(f"--stability-percentage must be > 0, got {settings.stability_percentage}")
    if settings.max_trials < STABLE_WINDOWS:
        raise ValueError(
            f"--max-trials must be >= {STABLE_WINDOWS} (stability compares the last "
            f"{STABLE_WINDOWS} windows), got {settings.max_trials}"
        )
    if settings.percentile is not None and not 0 < settings.percentile < 100:
        raise ValueError(f"--percentile must be between 1 and 99, got {settings.percentile}")
    return settings


def latency_key(percentile: int | None) -> str:
    """The latency_ms key stability is judged on: 'avg' or 'pNN'."""
    return "avg" if percentile is None else f"p{percentile}"


def latency_stats(latencies_ms: np.ndarray, percentile: int | None = None) -> dict:
    """avg, p50/p90/p95/p99 (and the chosen percentile), max, in ms."""
    if not latencies_ms.size:
        return {}
    points = sorted({50, 90, 95, 99} | ({percentile} if percentile else set()))
    stats = {f"p{p}": round(float(np.percentile(latencies_ms, p)), 3) for p in points}
    stats["avg"] = round(float(latencies_ms.mean()), 3)
    stats["mean"] = stats["avg"]  # the key summary.json had before windows existed
    stats["max"] = round(float(latencies_ms.max()), 3)
    return stats


def is_stable(windows: list[dict], settings: MeasurementSettings) -> bool:
    """True when the last three windows' throughput and latency each vary by <= s% (max/min)."""
    if len(windows) < STABLE_WINDOWS:
        return False
    last = windows[-STABLE_WINDOWS:]
    key = latency_key(settings.percentile)
    limit = 1.0 + settings.stability_percentage / 100.0
    for values in (
        [w["throughput_infer_per_s"] for w in last],
        [w["latency_ms"].get(key) for w in last],
    ):
        if any(v is None or v <= 0 for v in values) or max(values) / min(values) > limit:
            return False
    return True


def in_range(records, start_ns: int, end_ns: int) -> list:
    """Requests answered inside [start, end): perf_analyzer counts a request where it completes."""
    return [r for r in records if start_ns <= r[2] < end_ns]


@dataclass
class WindowController:
    """Cuts windows while the load runs; says when to stop (stable or out of trials)."""

    settings: MeasurementSettings
    batch_size: int
    statistics: object  # () -> the model's server statistics dict, or {} if unavailable
    sampler: object = None  # client.server_metrics.MetricsSampler, with --collect-metrics
    on_window: object = None  # called with each window as it closes (live progress)
    windows: list[dict] = field(default_factory=list)
    stable: bool = False
    boundary_stats: list[dict] = field(default_factory=list)  # server statistics at each cut
    done: bool = False
    _cursors: dict = field(default_factory=dict)  # worker index -> records read so far
    _start_ns: int = 0
    _start_answered: int = 0
    _start_clock: float = 0.0

    def tick(self, workers, started: float) -> bool:
        """Close the current window if it is due; True once the run should stop."""
        if self.done:  # the runner ticks on until the workers have finished
            return True
        answered = sum(len(w.stats.records) for w in workers)
        now = time.perf_counter()
        if not self._start_ns:
            self._open(answered, now)
            return False
        elapsed = now - self._start_clock
        if self.settings.mode == "time_windows":
            due = elapsed * 1e3 >= self.settings.interval_ms
        else:
            enough = answered - self._start_answered >= self.settings.request_count
            due = (enough and elapsed >= MIN_COUNT_WINDOW_S) or elapsed >= MAX_COUNT_WINDOW_S
        if not due:
            return False
        end_ns = time.time_ns()
        self.boundary_stats.append(self.statistics())
        self.windows.append(self._window(self._answered_before(workers, end_ns), end_ns))
        self.stable = is_stable(self.windows, self.settings)
        if self.on_window:
            self.on_window(self.windows[-1] | {"stable_so_far": self.stable})
        if self.stable or len(self.windows) >= self.settings.max_trials:
            self.done = True
            return True
        self._start_ns, self._start_answered, self._start_clock = end_ns, answered, now
        return False

    def _answered_before(self, workers, end_ns: int) -> list:
        """Records answered since the last cut and before `end_ns`, without rescanning.

        Each worker appends in the order its requests complete, so a cursor per worker is
        where the previous window stopped reading.
        """
        inside = []
        for worker in workers:
            records, at = worker.stats.records, self._cursors.get(worker.index, 0)
            while at < len(records) and records[at][2] < end_ns:
                inside.append(records[at])
                at += 1
            self._cursors[worker.index] = at
        return inside

    def _open(self, answered: int, now: float) -> None:
        self._start_ns = time.time_ns()
        self.boundary_stats.append(self.statistics())
        self._start_answered, self._start_clock = answered, now

    def _window(self, records, end_ns: int) -> dict:
        inside = in_range(records, self._start_ns, end_ns)
        ok = np.array([(r[2] - r[1]) / 1e6 for r in inside if r[3]])
        duration_s = (end_ns - self._start_ns) / 1e9
        window = {
            "index": len(self.windows),
            "start_ns": self._start_ns,
            "end_ns": end_ns,
            "duration_s": round(duration_s, 3),
            "requests_ok": int(ok.size),
            "requests_failed": len(inside) - int(ok.size),
            "throughput_rps": round(ok.size / duration_s, 3),
            "throughput_infer_per_s": round(ok.size * self.batch_size / duration_s, 3),
            "latency_ms": latency_stats(ok, self.settings.percentile),
            "server": server_stats.window(*self.boundary_stats[-2:]),
        }
        if self.sampler is not None:
            window["server_metrics"] = self.sampler.window(self._start_ns, end_ns)
        return window

    def measured(self) -> list[dict]:
        """The windows the result stands on: the last three (stable or not)."""
        return self.windows[-STABLE_WINDOWS:]

    def measured_statistics(self) -> tuple[dict, dict]:
        """Server statistics at the start and end of the measured windows."""
        if len(self.boundary_stats) < 2:
            return {}, {}
        first = max(0, len(self.boundary_stats) - 1 - STABLE_WINDOWS)
        return self.boundary_stats[first], self.boundary_stats[-1]


@contextmanager
def statistics_reader(transport, model, timeout_s: float):
    """A () -> statistics function on a client of the calling thread, closed afterwards."""
    client = None

    def read() -> dict:
        nonlocal client
        try:
            if client is None:
                client = transport.connect(timeout_s)
            return server_stats.read(transport, client, model)
        except Exception:  # noqa: BLE001 - a window without server numbers, not a failed run
            return {}

    try:
        yield read
    finally:
        if client is not None:
            client.close()


def describe(window: dict, settings: MeasurementSettings) -> str:
    """One live line per closed window."""
    key = latency_key(settings.percentile)
    latency = window["latency_ms"].get(key, float("nan"))
    state = "stable" if window.get("stable_so_far") else "not stable yet"
    return (
        f"window {window['index'] + 1}/{settings.max_trials}: "
        f"{window['throughput_infer_per_s']:.1f} infer/s, {key} {latency:.2f} ms, "
        f"{window['requests_ok']} ok in {window['duration_s']:.2f} s ({state})"
    )


def unstable_message(summary: dict) -> str:
    """The line that says a result never settled, with its spread and what to try."""
    settings = summary["measurement"]
    last = summary["windows"][-STABLE_WINDOWS:]
    key = latency_key(settings["percentile"])
    rates = [w["throughput_infer_per_s"] for w in last]
    latencies = [w["latency_ms"].get(key, float("nan")) for w in last]
    return (
        f"UNSTABLE: the last {len(last)} of {len(summary['windows'])} windows differ by more "
        f"than {settings['stability_percentage']:g}% (throughput {min(rates):.1f}-"
        f"{max(rates):.1f} infer/s, {key} latency {min(latencies):.2f}-{max(latencies):.2f} "
        f"ms); the numbers above are not a steady state. Try a longer --measurement-interval, "
        f"more --max-trials, or a quieter machine"
    )
