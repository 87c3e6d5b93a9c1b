"""The search space: instance count, max_batch_size, queue delay and preferred batch size."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, replace

PREFERRED = ("off", "max")  # no preferred_batch_size, or preferred_batch_size: [max_batch_size]


@dataclass(frozen=True, order=True)
class Candidate:
    """One point of the space; `canonical()` folds knobs that cannot matter."""

    instances: int
    max_batch_size: int
    queue_delay_us: int
    preferred: str = "off"

    def canonical(self) -> Candidate:
        """Without batching (max_batch_size <= 1) the delay and preferred size do nothing."""
        if self.max_batch_size <= 1:
            return replace(self, queue_delay_us=0, preferred="off")
        return self

    def label(self) -> str:
        """Short text for tables and plots: i2 b8 d500 p."""
        pref = " pref" if self.preferred == "max" else ""
        return f"i{self.instances} b{self.max_batch_size} d{self.queue_delay_us}{pref}"

    def as_dict(self) -> dict:
        return asdict(self)


class SpaceError(ValueError):
    """A search-space flag names values that no valid config can have."""


@dataclass(frozen=True)
class SearchSpace:
    """Sorted values per knob; a model without a batch axis searches instances only."""

    instances: tuple[int, ...] = (1, 2, 3, 4)
    max_batch_size: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    queue_delay_us: tuple[int, ...] = (0, 100, 500, 1000, 5000)
    preferred: tuple[str, ...] = PREFERRED

    def __post_init__(self) -> None:
        for knob in ("instances", "max_batch_size", "queue_delay_us", "preferred"):
            values = getattr(self, knob)
            if not values:
                raise SpaceError(f"search space: --{knob.replace('_', '-')} has no values")
            if knob != "preferred":
                object.__setattr__(self, knob, tuple(sorted(set(values))))
        if min(self.instances) < 1:
            raise SpaceError(f"search space: --instances must be >= 1, got {self.instances}")
        if min(self.max_batch_size) < 0:
            raise SpaceError(
                f"search space: --max-batch-size must be >= 0, got {self.max_batch_size}"
            )
        if min(self.queue_delay_us) < 0:
            raise SpaceError(
                f"search space: --queue-delay-us must be >= 0, got {self.queue_delay_us}"
            )
        bad = set(self.preferred) - set(PREFERRED)
        if bad:
            raise SpaceError(
                f"search space: --preferred takes {', '.join(PREFERRED)}, got {sorted(bad)}"
            )

    def for_model(self, batching: bool) -> SearchSpace:
        """A non-batching model (max_batch_size 0) keeps only the instance knob."""
        if batching:
            if max(self.max_batch_size) < 1:
                raise SpaceError("search space: the model batches; give --max-batch-size >= 1")
            return replace(self, max_batch_size=tuple(b for b in self.max_batch_size if b >= 1))
        return replace(self, max_batch_size=(0,), queue_delay_us=(0,), preferred=("off",))

    def all(self) -> list[Candidate]:
        """Every distinct valid candidate (exhaustive mode), in a stable order."""
        points = {
            Candidate(*values).canonical()
            for values in itertools.product(
                self.instances, self.max_batch_size, self.queue_delay_us, self.preferred
            )
        }
        return sorted(points)

    def snap(self, candidate: Candidate) -> Candidate:
        """The point of the space nearest to `candidate` (the serving config as a start)."""

        def nearest(values, value):
            return min(values, key=lambda v: (abs(v - value), v))

        preferred = (
            candidate.preferred if candidate.preferred in self.preferred else self.preferred[0]
        )
        return Candidate(
            nearest(self.instances, candidate.instances),
            nearest(self.max_batch_size, candidate.max_batch_size),
            nearest(self.queue_delay_us, candidate.queue_delay_us),
            preferred,
        ).canonical()

    def neighbours(self, candidate: Candidate) -> list[Candidate]:
        """Candidates one step away along one knob (quick mode's hill-climbing moves)."""
        found = []
        for knob in ("instances", "max_batch_size", "queue_delay_us", "preferred"):
            values = list(getattr(self, knob))
            here = getattr(candidate, knob)
            index = values.index(here) if here in values else None
            steps = [index - 1, index + 1] if index is not None else range(len(values))
            for step in steps:
                if 0 <= step < len(values):
                    moved = replace(candidate, **{knob: values[step]}).canonical()
                    if moved != candidate.canonical() and moved not in found:
                        found.append(moved)
        return found

    def size(self) -> int:
        return len(self.all())


def concurrency_for(candidate: Candidate, limit: int, request_batch: int = 1) -> int:
    """Requests in flight that fill the candidate's batches twice over (model_analyzer's 2 x batch
    x instances), counting `request_batch` items per request; at most `limit`."""
    items = 2 * max(candidate.max_batch_size, 1) * candidate.instances
    return max(1, min(limit, -(-items // max(request_batch, 1))))
