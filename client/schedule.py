"""What a run asks for (LoadProfile) and when each request goes out (Schedule)."""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadProfile:
    """How to drive one model: protocol, data path, concurrency and how long."""

    model: str
    protocol: str = "http"
    shm: str = "none"
    concurrency: int = 1
    requests: int | None = 100
    duration_s: float | None = None
    rate: float | None = None  # requests/s; None = closed loop (as fast as concurrency allows)
    arrival: str = "constant"  # or "poisson" (with rate)
    batch_size: int = 1
    warmup_per_worker: int = 1
    verify_every: int = 0  # 0 = never; N = every Nth request
    timeout_s: float = 60.0
    # Gaps between sends in seconds, looped (a replayed trace); overrides rate and arrival.
    intervals_s: tuple[float, ...] | None = None
    request_id_prefix: str = ""  # request ids are prefix + index, for matching server traces


class Schedule:
    """Hands out request tickets: a count limit or deadline, and optional send times."""

    def __init__(self, profile: LoadProfile):
        self.profile = profile
        self._lock = threading.Lock()
        self._issued = 0
        self._next_offset = 0.0  # seconds after `started`; kept relative so rounding cannot grow
        self.started = 0.0
        self.stop = threading.Event()
        self._rng = random.Random(0)
        intervals = profile.intervals_s
        if intervals:  # send offsets of one pass through the trace, and its length
            self._trace = [0.0, *itertools.accumulate(intervals)]

    def begin(self) -> None:
        self.started = time.perf_counter()
        self._next_offset = 0.0

    def next(self) -> tuple[int, float] | None:
        """(index, time to send at) or None when the run is over."""
        with self._lock:
            if self.stop.is_set():
                return None
            limit = self.profile.requests
            if limit is not None and self._issued >= limit:
                return None
            index = self._issued
            offset = time.perf_counter() - self.started
            rate = self.profile.rate if not self.profile.intervals_s else None
            if rate:
                # Open loop: the send time is fixed by the arrival process, not by when a
                # worker came free, and the duration bounds send times (not ticket grabs).
                # Constant arrivals are index / rate (no summed gaps: 100 sums of 0.02 are
                # not 2.0 in floating point, and one extra request would slip in).
                offset = index / rate if self.profile.arrival == "constant" else self._next_offset
            if self.profile.intervals_s:
                loops, step = divmod(index, len(self.profile.intervals_s))
                offset = loops * self._trace[-1] + self._trace[step]
            duration = self.profile.duration_s
            if duration is not None and offset >= duration:
                return None
            if rate and self.profile.arrival == "poisson":
                self._next_offset += self._rng.expovariate(rate)
            self._issued += 1
            return index, self.started + offset
