"""The Horizontal Pod Autoscaler's algorithm (autoscaling/v2, Kubernetes' replica calculator and
behavior rules), applied to recorded metric values by the autoscaling simulation.

desired = ceil(current x metric / target), no change within the tolerance (0.1); pods not ready
yet count as 0 when scaling up; scale-up takes the lowest and scale-down the highest
recommendation of its stabilization window; policies cap how many pods one period may add or remove.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

TOLERANCE = 0.1  # kube-controller-manager --horizontal-pod-autoscaler-tolerance default
SYNC_PERIOD_S = 15.0  # --horizontal-pod-autoscaler-sync-period default


@dataclass(frozen=True)
class Policy:
    """One HPAScalingPolicy: `Pods` or `Percent`, `value` per `period_s`."""

    type: str
    value: int
    period_s: float


@dataclass(frozen=True)
class Rules:
    """One direction's HPAScalingRules."""

    window_s: float
    policies: tuple[Policy, ...]
    select: str = "Max"


@dataclass
class Autoscaler:
    """An HPA with a Pods metric of AverageValue `target`; call step() once per sync period."""

    min_replicas: int
    max_replicas: int
    target: float
    scale_up: Rules
    scale_down: Rules
    tolerance: float = TOLERANCE
    recommendations: list[tuple[float, int]] = field(default_factory=list)
    events: list[tuple[float, int]] = field(default_factory=list)

    @classmethod
    def from_values(cls, autoscaling: dict) -> Autoscaler:
        """From the chart's `autoscaling` values (values.yaml)."""

        def rules(raw: dict) -> Rules:
            policies = tuple(
                Policy(p["type"], int(p["value"]), float(p["periodSeconds"]))
                for p in raw["policies"]
            )
            return Rules(float(raw["stabilizationWindowSeconds"]), policies, raw["selectPolicy"])

        return cls(
            min_replicas=int(autoscaling["minReplicas"]),
            max_replicas=int(autoscaling["maxReplicas"]),
            target=float(autoscaling["targetRatio"]),
            scale_up=rules(autoscaling["behavior"]["scaleUp"]),
            scale_down=rules(autoscaling["behavior"]["scaleDown"]),
        )

    def proposal(self, current: int, ready: int, metric: float) -> int:
        """The replica calculator: ceil(current x ratio), unready pods counted as 0 on scale-up."""
        ratio = metric / self.target
        if abs(ratio - 1.0) <= self.tolerance:
            return current
        if ratio > 1.0 and ready < current:
            # The unready pods report nothing yet; HPA assumes they would read 0.
            ratio = metric * ready / current / self.target
            if ratio <= 1.0 + self.tolerance:
                return current
        return math.ceil(current * ratio)

    def _stabilized(self, now: float, current: int, desired: int) -> int:
        up = down = desired
        for when, value in self.recommendations:
            if when > now - self.scale_up.window_s:
                up = min(up, value)
            if when > now - self.scale_down.window_s:
                down = max(down, value)
        self.recommendations = [
            (w, v)
            for w, v in self.recommendations
            if w > now - max(self.scale_up.window_s, self.scale_down.window_s)
        ]
        self.recommendations.append((now, desired))
        return min(max(current, up), down)

    def _changed_in(self, now: float, period_s: float, sign: int) -> int:
        return sum(abs(d) for w, d in self.events if w > now - period_s and d * sign > 0)

    def _limit(self, now: float, current: int, rules: Rules, up: bool) -> int:
        limits = []
        for policy in rules.policies:
            if up:
                start = current - self._changed_in(now, policy.period_s, +1)
                limits.append(
                    start + policy.value
                    if policy.type == "Pods"
                    else math.ceil(start * (1 + policy.value / 100))
                )
            else:
                start = current + self._changed_in(now, policy.period_s, -1)
                limits.append(
                    start - policy.value
                    if policy.type == "Pods"
                    else int(start * (1 - policy.value / 100))  # Kubernetes truncates here
                )
        if rules.select == "Disabled":
            return current
        # Max lets the policy allowing the biggest change win, Min the smallest.
        if up:
            return max(limits) if rules.select == "Max" else min(limits)
        return min(limits) if rules.select == "Max" else max(limits)

    def step(self, now: float, current: int, ready: int, metric: float) -> int:
        """Replicas after one sync at time `now` (seconds) from the metric's average per pod."""
        desired = self._stabilized(now, current, self.proposal(current, ready, metric))
        if desired > current:
            desired = min(desired, self._limit(now, current, self.scale_up, up=True))
        elif desired < current:
            desired = max(desired, self._limit(now, current, self.scale_down, up=False))
        desired = max(self.min_replicas, min(self.max_replicas, desired))
        if desired != current:
            self.events.append((now, desired - current))
        return desired
