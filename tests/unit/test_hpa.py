"""deploy/hpa.py: the HPA algorithm the autoscaling simulation applies, on hand-made metric series."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deploy.hpa import Autoscaler, Policy, Rules

VALUES = Path(__file__).resolve().parents[2] / "deploy/helm/triton-onnx-stack/values.yaml"


def autoscaler(down_window_s: float = 120.0, max_replicas: int = 8) -> Autoscaler:
    return Autoscaler(
        min_replicas=1,
        max_replicas=max_replicas,
        target=1.0,
        scale_up=Rules(0, (Policy("Percent", 100, 15), Policy("Pods", 4, 15)), "Max"),
        scale_down=Rules(down_window_s, (Policy("Percent", 50, 60),), "Max"),
    )


def test_chart_values_build_the_same_autoscaler():
    values = yaml.safe_load(VALUES.read_text())["autoscaling"]
    assert Autoscaler.from_values(values) == autoscaler()


@pytest.mark.parametrize(
    ("current", "metric", "expected"),
    [(2, 1.05, 2), (2, 0.91, 2), (2, 3.0, 6), (4, 0.5, 2), (3, 1.2, 4)],
)
def test_replica_calculator_is_ceil_of_current_times_ratio_outside_tolerance(
    current, metric, expected
):
    assert autoscaler().proposal(current, current, metric) == expected


def test_pods_not_ready_count_as_zero_on_scale_up():
    hpa = autoscaler()
    assert hpa.proposal(current=4, ready=1, metric=2.0) == 4  # 2 x 1/4 = 0.5: no scale-up
    assert hpa.proposal(current=4, ready=2, metric=4.0) == 8  # 4 x 2/4 = 2.0


def test_scale_up_is_rate_limited_by_the_policies():
    hpa = autoscaler()
    assert hpa.step(0, current=1, ready=1, metric=100.0) == 5  # max(1 + 4 pods, 1 x 200 %)
    assert hpa.step(15, current=5, ready=5, metric=100.0) == 8  # then maxReplicas


def test_one_idle_sample_does_not_remove_a_pod():
    hpa = autoscaler()
    replicas = 4
    for t, metric in enumerate([1.0, 1.0, 0.0, 1.0, 1.0]):
        replicas = hpa.step(t * 15.0, replicas, replicas, metric)
        assert replicas == 4


def test_scale_down_waits_for_the_window_then_halves_per_period():
    hpa = autoscaler(down_window_s=120)
    replicas, history = 8, []
    hpa.step(0, 8, 8, 1.0)
    for t in range(15, 300, 15):
        replicas = hpa.step(float(t), replicas, replicas, 0.0)
        history.append((t, replicas))
    assert all(r == 8 for t, r in history if t < 120)
    assert dict(history)[120] == 4 and dict(history)[165] == 4  # one step per 60 s
    assert dict(history)[180] == 2 and dict(history)[240] == 1


def queueing_run(autoscaler: Autoscaler, high_s: int = 900) -> list[int]:
    """Replicas per sync for a model pod: capacity 20/s, ratio ~ rho/(1-rho) seen through a 1m
    window (the recording rule's), new pods ready after 30 s; load 7/s, 50/s for high_s, 7/s."""

    def ratio(rho: float) -> float:
        return 6.0 if rho >= 0.97 else min(6.0, 0.6 * rho / (1 - rho))

    ready_at, seen, replicas = [0.0], [], []
    for t in range(90 + high_s + 400):
        offered = 50.0 if 90 <= t < 90 + high_s else 7.0
        ready = sum(r <= t for r in ready_at)
        seen.append(ratio(offered / max(ready, 1) / 20.0))
        if t % 15 == 0:
            window = seen[-60:]
            desired = autoscaler.step(t, len(ready_at), ready, sum(window) / len(window))
            ready_at = sorted(ready_at)[:desired] + [t + 30.0] * (desired - len(ready_at))
            replicas.append(len(ready_at))
    return replicas


def test_chart_scale_down_settles_under_steady_load_where_30s_steps_flap():
    from deploy.autoscaling_report import reversals  # noqa: PLC0415

    values = yaml.safe_load(VALUES.read_text())["autoscaling"]
    chart = queueing_run(Autoscaler.from_values(values))
    assert reversals(chart) == 1 and chart[-1] == 1, chart
    faster = Autoscaler.from_values(values)
    faster.scale_down = Rules(faster.scale_down.window_s, (Policy("Percent", 50, 30),), "Max")
    assert reversals(queueing_run(faster)) > 2  # steps faster than the 1m window can show
