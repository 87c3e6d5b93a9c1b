"""The optimizer's search space, candidate configs, scoring and search strategies (no server)."""

from __future__ import annotations

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from optimize import model_config
from optimize.results import Goal, Results, ResumeError, pareto_front
from optimize.search import exhaustive, quick
from optimize.space import Candidate, SearchSpace, SpaceError, concurrency_for

BASE = text_format.Parse(
    """
    name: "m" backend: "onnxruntime" max_batch_size: 8
    input { name: "x" data_type: TYPE_FP32 dims: [4] }
    output { name: "y" data_type: TYPE_FP32 dims: [4] }
    instance_group { count: 1 kind: KIND_CPU }
    dynamic_batching { max_queue_delay_microseconds: 200 }
    model_warmup { name: "w" batch_size: 8 inputs { key: "x" value { data_type: TYPE_FP32 dims: [4] random_data: true } } }
    """,
    mc.ModelConfig(),
)


def test_every_default_candidate_is_a_distinct_valid_config():
    space = SearchSpace()
    candidates = space.all()
    assert len(candidates) == len(set(candidates))
    hashes = set()
    for candidate in candidates:
        config = model_config.candidate_config(BASE, "m__opt_x", candidate)
        parsed = text_format.Parse(model_config.to_text(config), mc.ModelConfig())
        assert parsed.max_batch_size == candidate.max_batch_size
        assert parsed.instance_group[0].count == candidate.instances
        assert parsed.instance_group[0].kind == mc.ModelInstanceGroup.KIND_CPU
        preferred = list(parsed.dynamic_batching.preferred_batch_size)
        assert all(p <= parsed.max_batch_size for p in preferred)
        assert parsed.model_warmup[0].batch_size <= parsed.max_batch_size
        assert [t.name for t in parsed.input] == ["x"]  # tensors kept from the base
        if candidate.max_batch_size <= 1:  # knobs that cannot matter are folded away
            assert candidate.queue_delay_us == 0 and candidate.preferred == "off"
        hashes.add(model_config.candidate_hash(BASE, candidate))
    assert len(hashes) == len(candidates)  # one sibling name per candidate


def test_non_batching_model_searches_instances_only():
    space = SearchSpace().for_model(batching=False)
    assert {c.max_batch_size for c in space.all()} == {0}
    assert [c.instances for c in space.all()] == [1, 2, 3, 4]
    config = model_config.candidate_config(BASE, "n", space.all()[1])
    assert not config.HasField("dynamic_batching") and config.max_batch_size == 0


def test_neighbours_are_one_step_along_one_knob():
    space = SearchSpace()
    here = Candidate(2, 8, 500, "off")
    neighbours = space.neighbours(here)
    assert set(neighbours) == {
        Candidate(1, 8, 500, "off"), Candidate(3, 8, 500, "off"),
        Candidate(2, 4, 500, "off"), Candidate(2, 16, 500, "off"),
        Candidate(2, 8, 100, "off"), Candidate(2, 8, 1000, "off"),
        Candidate(2, 8, 500, "max"),
    }  # fmt: skip
    assert all(n in space.all() for n in neighbours)
    assert space.snap(Candidate(1, 8, 200, "off")) == Candidate(1, 8, 100, "off")


def test_bad_space_is_refused_naming_the_flag():
    with pytest.raises(SpaceError, match="--instances"):
        SearchSpace(instances=(0, 1))
    with pytest.raises(SpaceError, match="--preferred"):
        SearchSpace(preferred=("min",))


def test_concurrency_is_twice_batch_times_instances_bounded():
    assert concurrency_for(Candidate(2, 8, 0), 64) == 32
    assert concurrency_for(Candidate(4, 32, 0), 64) == 64
    assert concurrency_for(Candidate(3, 0, 0), 64) == 6


def _synthetic(candidate: Candidate) -> dict:
    """Throughput peaks at i2 b16 d500; p99 grows with batch and delay."""
    throughput = (
        100 - 10 * abs(candidate.instances - 2) - 5 * abs(candidate.max_batch_size - 16) ** 0.5
    )
    throughput -= abs(candidate.queue_delay_us - 500) / 1000
    p99 = 10 + candidate.max_batch_size + candidate.queue_delay_us / 1000
    return {
        "label": candidate.label(),
        "candidate": candidate.as_dict(),
        "throughput": throughput,
        "p99_ms": p99,
    }


def test_quick_search_climbs_to_the_best_and_visits_fewer_than_exhaustive():
    space, goal = SearchSpace(preferred=("off",)), Goal()
    everything = exhaustive(space, _synthetic)
    best = max(everything, key=goal.score)
    visited = quick(space, Candidate(1, 1, 0), _synthetic, goal.score, 40, log=lambda _: None)
    assert max(visited, key=goal.score) == best
    assert len(visited) < len(everything)


def test_budget_changes_the_winner_and_quick_respects_max_candidates():
    space, goal = SearchSpace(preferred=("off",)), Goal(p99_budget_ms=20.0)
    everything = exhaustive(space, _synthetic)
    best = max(everything, key=goal.score)
    assert goal.meets(best) and best["p99_ms"] <= 20.0 and best["candidate"]["max_batch_size"] <= 8
    visited = quick(space, Candidate(1, 1, 0), _synthetic, goal.score, 3, log=lambda _: None)
    assert len(visited) == 3


def test_goal_scoring_and_pareto_front():
    goal = Goal(p99_budget_ms=50, min_throughput=10)
    fast = {"throughput": 100, "p99_ms": 40}
    slow = {"throughput": 200, "p99_ms": 60}
    failed = {"throughput": 300, "p99_ms": 10, "requests_failed": 3}
    assert goal.meets(fast) and not goal.meets(slow) and not goal.meets(failed)
    assert goal.score(fast) > goal.score(slow) > goal.score(failed)
    assert Goal(min_throughput=50).score(fast) > Goal(min_throughput=50).score(slow)  # lower p99
    dominated = {"throughput": 90, "p99_ms": 45}
    assert pareto_front([fast, slow, dominated, failed | {"error": "x"}]) == [fast, slow]


def test_results_refuse_to_resume_another_identity(tmp_path):
    results = Results(tmp_path, {"model": "m", "window": {"duration_s": 1}})
    results.add({"hash": "abc", "concurrency": 4, "throughput": 1.0})
    again = Results(tmp_path, {"model": "m", "window": {"duration_s": 1}})
    assert again.resumed == 1 and again.find("abc", 4) and not again.find("abc", 2)
    with pytest.raises(ResumeError, match="--fresh"):
        Results(tmp_path, {"model": "m", "window": {"duration_s": 2}})
    assert Results(tmp_path, {"model": "other"}, fresh=True).resumed == 0
