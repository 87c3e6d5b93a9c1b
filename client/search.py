"""The highest concurrency or request rate under a latency threshold (perf_analyzer's -l)."""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

UNBOUNDED_LIMIT = 4096  # an open range (end 0) stops here if the threshold is never crossed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The search flag group (perf_analyzer's names)."""
    group = parser.add_argument_group("search (perf_analyzer's -l, --binary-search and ranges)")
    group.add_argument(
        "--concurrency-range",
        type=_range(int),
        metavar="START:END:STEP",
        help="concurrency levels START..END by STEP (END 0: until the latency threshold); "
        "replaces --concurrency",
    )
    group.add_argument(
        "--request-rate-range",
        type=_range(float),
        metavar="START:END:STEP",
        help="request rates (req/s) START..END by STEP; replaces --rate. --concurrency caps "
        "the requests in flight: give enough",
    )
    group.add_argument(
        "-l",
        "--latency-threshold",
        type=float,
        metavar="MS",
        help="find the highest level whose p99 latency (or --percentile) stays <= MS; "
        "a linear search stops at the first level over it",
    )
    group.add_argument(
        "--binary-search",
        action="store_true",
        help="with -l: bisect the range (STEP is the precision) instead of walking it",
    )


def _range(kind):
    def parse(text: str):
        parts = text.split(":")
        try:
            values = [kind(v) for v in parts]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected START[:END[:STEP]] with numbers, e.g. 1:16:1"
            ) from None
        if len(values) > 3 or values[0] <= 0 or any(v < 0 for v in values):
            raise argparse.ArgumentTypeError(
                f"{text!r}: expected START[:END[:STEP]], START > 0, END >= 0, STEP > 0"
            )
        start = values[0]
        end = values[1] if len(values) > 1 else start
        step = values[2] if len(values) > 2 else kind(1)
        if step <= 0 or (end and end < start):
            raise argparse.ArgumentTypeError(f"{text!r}: need STEP > 0 and END >= START (or 0)")
        return start, end, step

    return parse


def levels(start, end, step) -> Iterable:
    """The levels of a range; an open range (end 0) counts on up to UNBOUNDED_LIMIT."""
    stop = end if end else start + step * UNBOUNDED_LIMIT
    count = int(round((stop - start) / step + 1e-9)) + 1
    return (
        [start + i * step for i in range(count)]
        if end
        else itertools.islice((start + i * step for i in itertools.count()), count)
    )


def latency_key(percentile: int | None) -> str:
    """The latency compared with the threshold: p99 unless --percentile names another."""
    return f"p{percentile or 99}"


@dataclass
class SearchResult:
    """Every level measured, the best one under the threshold and the first one over."""

    axis: str  # "concurrency" or "request_rate"
    threshold_ms: float
    key: str
    method: str
    probes: list[dict] = field(default_factory=list)
    best: dict | None = None
    over: dict | None = None

    def line(self) -> str:
        """One sentence a user can act on."""
        name = "concurrency" if self.axis == "concurrency" else "request rate"
        limit = f"{self.key} <= {self.threshold_ms:g} ms"
        if self.best is None:
            first = self.over or (self.probes[0] if self.probes else None)
            if first is None:
                return f"search: nothing was measured for {limit}"
            return (
                f"search: no {name} keeps {limit}: {name} {_fmt(first['level'])} already has "
                f"{self.key} {first['latency_ms']:.2f} ms; lower the load or raise the threshold"
            )
        best = self.best
        text = (
            f"search: highest {name} with {limit}: {_fmt(best['level'])} "
            f"({self.key} {best['latency_ms']:.2f} ms, {best['throughput_infer_per_s']:.1f} "
            f"infer/s{_unstable(best)})"
        )
        if self.over is None:
            return text + "; the whole range stays under: extend the range to find the limit"
        over = self.over
        return text + (
            f"; {_fmt(over['level'])} goes over ({self.key} {over['latency_ms']:.2f} ms"
            f"{_unstable(over)})"
        )

    def as_dict(self) -> dict:
        return {
            "axis": self.axis,
            "threshold_ms": self.threshold_ms,
            "latency_key": self.key,
            "method": self.method,
            "best": self.best,
            "next_over": self.over,
            "probes": self.probes,
            "line": self.line(),
        }


def _fmt(level) -> str:
    return f"{level:g}" if isinstance(level, float) else str(level)


def _unstable(probe: dict) -> str:
    return ", UNSTABLE" if probe["stable"] is False else ""


def run(
    axis: str,
    candidates: Iterable,
    threshold_ms: float,
    percentile: int | None,
    binary: bool,
    measure: Callable[[object], dict],
) -> SearchResult:
    """Measure levels (each a full, stabilised step) until the threshold is bracketed."""
    key = latency_key(percentile)
    result = SearchResult(axis, threshold_ms, key, "binary" if binary else "linear")

    def probe(level) -> dict:
        summary = measure(level)
        latency = summary["latency_ms"].get(key)
        entry = {
            "level": level,
            "latency_ms": latency if latency is not None else float("inf"),
            "throughput_infer_per_s": summary["throughput_infer_per_s"],
            "stable": summary["stable"],
            "requests_failed": summary["requests_failed"],
        }
        # A level whose requests fail is over the limit whatever its latency says.
        entry["under"] = entry["latency_ms"] <= threshold_ms and not entry["requests_failed"]
        result.probes.append(entry)
        return entry

    if not binary:
        for level in candidates:
            entry = probe(level)
            if not entry["under"]:
                result.over = entry
                break
            result.best = entry
        return result
    values = list(candidates)
    low, high = probe(values[0]), None
    if not low["under"]:
        result.over = low
        return result
    high = probe(values[-1])
    lo, hi = 0, len(values) - 1
    if high["under"]:
        result.best = high
        return result
    while hi - lo > 1:  # invariant: values[lo] is under, values[hi] is over
        mid = (lo + hi) // 2
        entry = probe(values[mid])
        if entry["under"]:
            lo, low = mid, entry
        else:
            hi, high = mid, entry
    result.best, result.over = low, high
    return result


def resolve(args) -> None:
    """Turn the range and search flags into args.concurrency, args.rates and the search plan.

    Raises ValueError naming the flags to fix.
    """
    if args.concurrency_range and args.request_rate_range:
        raise ValueError(
            "--concurrency-range and --request-rate-range both give the search axis; keep one "
            "(--concurrency caps the requests in flight of a rate search)"
        )
    if args.binary_search and not args.latency_threshold:
        raise ValueError("--binary-search needs --latency-threshold MS (what to search for)")
    if args.latency_threshold is not None and args.latency_threshold <= 0:
        raise ValueError(f"--latency-threshold must be > 0 ms, got {args.latency_threshold}")
    for flag, given in (
        ("--concurrency-range", args.concurrency_range),
        ("--request-rate-range", args.request_rate_range),
    ):
        if given and given[1] == 0 and not args.latency_threshold:
            raise ValueError(f"{flag} with END 0 runs until a latency threshold: add -l MS")
        if given and given[1] == 0 and args.binary_search:
            raise ValueError(f"--binary-search needs an explicit END in {flag}")
    rate_range = args.request_rate_range
    if rate_range and (args.rate is not None or args.intervals):
        given = "--rate" if args.rate is not None else "--request-intervals"
        raise ValueError(f"--request-rate-range and {given} both set send times; keep one")
    if args.concurrency_range:
        args.concurrency = list(levels(*args.concurrency_range))
    args.rates = (
        list(levels(*rate_range)) if rate_range and not args.latency_threshold else [args.rate]
    )
    if not args.latency_threshold:
        return
    if len(args.protocol) > 1 or len(args.shm) > 1:
        raise ValueError(
            "--latency-threshold searches one protocol and one --shm mode; run it once per pair"
        )
    if rate_range:
        args.search_axis, args.search_levels = "request_rate", levels(*rate_range)
    else:
        args.search_axis = "concurrency"
        args.search_levels = (
            levels(*args.concurrency_range)
            if args.concurrency_range
            else sorted(set(args.concurrency))
        )


def write(result: SearchResult, directory) -> object:
    """search.json beside summary.json."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "search.json"
    path.write_text(json.dumps(result.as_dict(), indent=2))
    return path


def for_args(args, step) -> SearchResult:
    """Run the search resolve() planned; `step(protocol, shm, concurrency, rate)` measures."""
    protocol, shm = args.protocol[0], args.shm[0]
    if args.search_axis == "concurrency":

        def measure(level):
            return step(protocol, shm, level, args.rate)
    else:

        def measure(level):
            return step(protocol, shm, max(args.concurrency), level)

    return run(
        args.search_axis,
        args.search_levels,
        args.latency_threshold,
        args.percentile,
        args.binary_search,
        measure,
    )
