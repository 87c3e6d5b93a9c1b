"""Quick (hill climbing) and exhaustive search; each candidate is one sibling model's trial."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tritonclient.utils import InferenceServerException

from optimize import model_config, repository
from optimize.measure import MeasureError, Window, measure
from optimize.results import Goal, Results
from optimize.space import Candidate, SearchSpace, concurrency_for


@contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C / SIGTERM wait while a candidate is unloaded and removed (cleanup runs whole)."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass
class Trials:
    """Writes, loads, measures and removes candidates of one model; reuses stored results."""

    model: str
    base: object  # model_config_pb2.ModelConfig of the serving model
    repository: Path
    control: repository.ServerControl
    url: str | None  # for the client (None: its default for the protocol)
    window: Window
    goal: Goal
    results: Results
    max_concurrency: int = 64
    concurrency_steps: int = 3
    log: Callable[[str], None] = print
    concurrencies: tuple[int, ...] = ()  # named by the user: each measured, instead of the fill

    def evaluate(self, candidate: Candidate) -> dict:
        """The candidate's best point: at the concurrency that fills its batches, halved while
        over the budget; or at each concurrency the user named, up to the first over budget."""
        config_hash = model_config.candidate_hash(self.base, candidate)
        name = f"{self.model}{repository.CANDIDATE_MARK}{config_hash}"
        named = sorted(set(self.concurrencies))
        concurrency = named[0] if named else self._fill(candidate)
        points: list[dict] = []
        written = False
        try:
            for _ in range(len(named) if named else self.concurrency_steps + 1):
                point = self.results.find(config_hash, concurrency)
                if point is None:
                    if not written:
                        written = True
                        error = self._load(name, candidate)
                        if error:
                            point = self._entry(config_hash, candidate, {"error": error})
                            self.results.add(point)
                            return point
                    point = self._measure(name, config_hash, candidate, concurrency)
                    self.results.add(point)
                points.append(point)
                self._print(point)
                if named:  # up the user's list; a higher one only waits longer once over
                    if point.get("error") or self._over_budget(point) or concurrency == named[-1]:
                        break
                    concurrency = named[named.index(concurrency) + 1]
                    continue
                if point.get("error") or not self._over_budget(point) or concurrency == 1:
                    break
                concurrency = max(1, concurrency // 2)
        finally:
            if written:
                with signals_held():
                    repository.remove_candidate(self.control, self.repository, name)
        return max(points, key=self.goal.score)

    def _fill(self, candidate: Candidate) -> int:
        return concurrency_for(candidate, self.max_concurrency, self.window.request_batch)

    def _over_budget(self, point: dict) -> bool:
        budget = self.goal.p99_budget_ms
        return budget is not None and point["p99_ms"] is not None and point["p99_ms"] > budget

    def _load(self, name: str, candidate: Candidate) -> str | None:
        """Write and load the candidate; Triton's reason when it refuses, else None."""
        config = model_config.candidate_config(self.base, name, candidate)
        repository.write_candidate(self.repository, self.model, name, model_config.to_text(config))
        started = time.monotonic()
        try:
            self.control.load(name)
        except InferenceServerException as exc:
            return f"load failed: {str(exc).strip().splitlines()[0][:400]}"
        self.log(f"  loaded {name} ({candidate.label()}) in {time.monotonic() - started:.1f}s")
        return None

    def _measure(self, name: str, config_hash: str, candidate: Candidate, concurrency: int) -> dict:
        try:
            numbers = measure(name, self.url, concurrency, self.window)
        except MeasureError as exc:
            numbers = {"concurrency": concurrency, "error": str(exc)}
        return self._entry(config_hash, candidate, numbers)

    def _entry(self, config_hash: str, candidate: Candidate, numbers: dict) -> dict:
        return {
            "hash": config_hash,
            "candidate": candidate.as_dict(),
            "label": candidate.label(),
        } | numbers

    def _print(self, point: dict) -> None:
        if point.get("error"):
            self.log(f"  {point['label']:<22} {point['error']}")
            return
        mark = "meets goal" if self.goal.meets(point) else "misses goal"
        if point.get("stable") is False:
            mark += f" (UNSTABLE after {point['windows']} windows)"
        self.log(
            f"  {point['label']:<22} c={point['concurrency']:<3} {point['throughput']:>9.1f} infer/s  "
            f"p99 {point['p99_ms']:>8.1f} ms  batch {point['avg_batch_size'] or 0:>5.2f}  {mark}"
        )


def exhaustive(space: SearchSpace, evaluate: Callable[[Candidate], dict]) -> list[dict]:
    """Every candidate of the space."""
    return [evaluate(candidate) for candidate in space.all()]


def quick(
    space: SearchSpace,
    start: Candidate,
    evaluate: Callable[[Candidate], dict],
    score: Callable[[dict], tuple],
    max_candidates: int,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Hill climbing: move to the best one-step neighbour while it scores better."""
    seen: dict[Candidate, dict] = {}

    def visit(candidate: Candidate) -> dict:
        if candidate not in seen:
            seen[candidate] = evaluate(candidate)
        return seen[candidate]

    current = start
    best = visit(current)
    while True:
        log(f"quick: from {current.label()}, trying its neighbours")
        leader = current
        for neighbour in space.neighbours(current):
            if len(seen) >= max_candidates and neighbour not in seen:
                log(f"quick: stopped at --max-candidates {max_candidates}")
                return list(seen.values())
            point = visit(neighbour)
            if score(point) > score(best):
                best, leader = point, neighbour
        if leader == current:
            return list(seen.values())
        current = leader
