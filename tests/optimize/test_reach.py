"""The space that reaches the ceiling (optimize/reach.py), the fill concurrency and the gap report."""

from __future__ import annotations

import pytest

from optimize import gap, reach
from optimize.space import Candidate, SearchSpace, concurrency_for

FULL_HD = {  # simple_cnn as the exporter serves it on a GPU: [3, 1080, 1920] fp32 in and out
    "input": [{"name": "input", "data_type": "TYPE_FP32", "dims": ["3", "1080", "1920"]}],
    "output": [{"name": "output", "data_type": "TYPE_FP32", "dims": ["3", "1080", "1920"]}],
    "instance_group": [{"kind": "KIND_GPU", "count": 1}],
}


def test_item_bytes_count_inputs_and_outputs_and_open_dims_as_one():
    assert reach.item_bytes(FULL_HD) == 2 * 3 * 1080 * 1920 * 4
    config = {"input": [{"data_type": "TYPE_INT64", "dims": ["-1", "8"]}], "output": []}
    assert reach.item_bytes(config) == 8 * 8


def test_gpu_batches_are_capped_by_the_cuda_pool_with_the_reason(monkeypatch):
    monkeypatch.setenv("CUDA_MEMORY_POOL_BYTES", str(1 << 30))
    cap, why = reach.memory_cap(FULL_HD)
    assert cap == (1 << 30) // (2 * 3 * 1080 * 1920 * 4) == 21
    assert "CUDA_MEMORY_POOL_BYTES" in why and "at most 21 items" in why
    monkeypatch.setenv("CUDA_MEMORY_POOL_BYTES", "")
    cap, why = reach.memory_cap(FULL_HD)
    assert cap == 1 and "default CUDA memory pool" in why  # 64 MiB: not even two images
    cap, why = reach.memory_cap(FULL_HD, limit_mb=500)
    assert cap == 10 and "--batch-memory-mb 500" in why


def test_cpu_batches_are_capped_by_free_memory():
    config = FULL_HD | {"instance_group": [{"kind": "KIND_CPU"}]}
    cap, why = reach.memory_cap(config)
    assert cap >= 1 and "free" in why


def test_the_space_reaches_the_target_batch_unless_memory_caps_it():
    said = []
    space = reach.reach(SearchSpace(), 24, None, "no cap", log=said.append)
    assert space.max_batch_size == (1, 2, 4, 8, 16, 24)
    assert said == ["max_batch_size up to 24 (no cap)"]
    space = reach.reach(SearchSpace(), 32, 10, "the pool holds 10", log=said.append)
    assert space.max_batch_size == (1, 2, 4, 8, 10)
    assert said[-1] == "max_batch_size capped at 10 (not 32): the pool holds 10"
    assert Candidate(1, 10, 0) in space.all()


def test_default_data_path_is_cuda_shm_for_gpu_instances():
    assert reach.default_shm(FULL_HD) == "cuda"
    assert reach.default_shm({"instance_group": [{"kind": "KIND_CPU"}]}) == "system"


@pytest.mark.parametrize(
    ("candidate", "request_batch", "limit", "expected"),
    [(Candidate(1, 32, 0), 1, 64, 64), (Candidate(2, 32, 0), 8, 64, 16),
     (Candidate(4, 32, 0), 1, 64, 64), (Candidate(1, 8, 0), 3, 64, 6),
     (Candidate(1, 1, 0), 1, 64, 2)],
)  # fmt: skip
def test_fill_concurrency_counts_items_per_request(candidate, request_batch, limit, expected):
    assert concurrency_for(candidate, limit, request_batch) == expected


def test_gap_splits_the_ceiling_into_batch_compute_and_the_rest():
    ceiling = {"by_batch": {"1": 100.0, "4": 300.0, "16": 500.0}, "best": 500.0, "best_batch": 16}
    assert gap.rate_at(ceiling["by_batch"], 2) == pytest.approx(200.0)
    assert gap.rate_at(ceiling["by_batch"], 64) == 500.0
    winner = {
        "throughput": 200.0, "avg_batch_size": 4.0, "infer_ms": 16.0, "queue_ms": 1.0,
        "input_ms": 0.1, "output_ms": 0.2, "p50_ms": 20.0, "p99_ms": 30.0,
        "candidate": {"instances": 1},
    }  # fmt: skip
    text = "\n".join(gap.lines({"ceiling": ceiling}, winner, "python -m profiling ..."))
    assert "the winner 200.0 (40.0%), 300.0 infer/s short" in text
    assert "batches of 4.00 items" in text and "runs 300.0 infer/s (60.0% of the ceiling)" in text
    # ORT in process: 4 items at 300/s = 13.333 ms; served 16 ms; busy all the time 250/s
    assert "16.000 ms in the backend" in text and "13.333 ms in process" in text
    assert "would serve 250.0 infer/s" in text and "the rest (50.0 infer/s)" in text
    assert "`python -m profiling ...`" in text
    assert gap.lines({}, winner, "x") == [] and gap.lines({"ceiling": ceiling}, None, "x") == []
