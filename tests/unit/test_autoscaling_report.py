"""deploy/autoscaling_report.py: the simulation's verdict on hand-made runs."""

from __future__ import annotations

from deploy.autoscaling_report import reversals, verdict


def run(replicas: list[int], p99: list[float], phases: list[str]) -> list[dict]:
    return [
        {"t_s": 15.0 * i, "phase": phase, "replicas": r, "client_p99_ms": ms, "client_late": 0,
         "client_failed": 0}
        for i, (r, ms, phase) in enumerate(zip(replicas, p99, phases, strict=True))
    ]  # fmt: skip


PHASES = ["below"] * 2 + ["above"] * 5 + ["below again"] * 5


def test_reversals_count_direction_changes_only():
    assert reversals([1, 1, 2, 4, 8, 8, 4, 2, 1]) == 1
    assert reversals([1, 4, 2, 4, 2, 1]) == 3
    assert reversals([1, 1, 1]) == 0


def test_scale_up_after_breach_and_back_down_passes():
    rows = run([1, 1, 1, 4, 8, 8, 8, 8, 8, 4, 2, 1], [100, 100, 900, 900, 300, 200, 200] + [100] * 5,
               PHASES)  # fmt: skip
    result = verdict(rows, budget_ms=500, min_replicas=1)
    assert result["passed"], result
    assert result["first_p99_breach_s"] == 30.0 and result["first_scale_up_s"] == 45.0


def test_flapping_or_staying_up_fails():
    flapping = run([1, 1, 1, 4, 2, 4, 2, 4, 2, 2, 1, 1], [100, 100] + [900] * 5 + [100] * 5, PHASES)
    assert not verdict(flapping, 500, 1)["checks"][
        "no flapping (replicas changed direction at most once)"
    ]
    stuck = run([1, 1, 1, 4, 8, 8, 8, 8, 8, 8, 8, 8], [100, 100] + [900] * 5 + [100] * 5, PHASES)
    assert not verdict(stuck, 500, 1)["passed"]
