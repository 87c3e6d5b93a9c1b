"""Grafana cannot run here, so its dashboards are proven by running their PromQL directly.

`python -m local_stack.dashboards [--prometheus URL] [--model M] [--instance I]` runs every
panel query (template variables substituted) and prints how many series each returns; on a
GPU host point it at compose's Prometheus with --gpu to prove the GPU panels too.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from local_stack import prometheus

DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "monitoring" / "grafana" / "dashboards"
# Series that only a GPU host exports; panels reading them are empty on CPU, by design.
GPU_ONLY_METRICS = (
    "nv_gpu_utilization",
    "nv_gpu_memory_used_bytes",
    "nv_gpu_memory_total_bytes",
    "nv_gpu_power_usage",
)

# prometheus-client exports a labelled counter only once a label set is used: the client's
# error counter has no series until a request failed.
ERROR_ONLY_METRICS = ("tos_client_request_errors_total",)


@dataclass(frozen=True)
class PanelQuery:
    """One target of one panel, with its variables substituted."""

    dashboard: str
    panel_id: int
    title: str
    ref_id: str
    expr: str

    @property
    def gpu_only(self) -> bool:
        return _reads_any(self.expr, GPU_ONLY_METRICS)

    @property
    def errors_only(self) -> bool:
        return _reads_any(self.expr, ERROR_ONLY_METRICS)


def _reads_any(expr: str, metrics: tuple[str, ...]) -> bool:
    return any(re.search(rf"\b{m}\b", expr) for m in metrics)


def substitute(expr: str, variables: dict[str, str]) -> str:
    """Replace $name / ${name} the way Grafana would (longest names first)."""
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace(f"${{{name}}}", variables[name]).replace(f"${name}", variables[name])
    if "$" in expr:
        raise ValueError(f"unsubstituted variable left in {expr!r}; add it to the variables")
    return expr


def panel_queries(path: Path, variables: dict[str, str]) -> list[PanelQuery]:
    """Every panel target's PromQL in a dashboard file."""
    dashboard = json.loads(path.read_text())
    return [
        PanelQuery(
            path.name, panel["id"], panel["title"], t["refId"], substitute(t["expr"], variables)
        )
        for panel in dashboard["panels"]
        for t in panel.get("targets", [])
    ]


def default_variables(model: str = ".*", instance: str = ".*", window: str = "1m") -> dict:
    """Values for the dashboards' variables and Grafana's built-in interval variables."""
    return {
        "model": model,
        "instance": instance,
        "__rate_interval": window,
        "__interval": window,
        "__range": window,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.dashboards", description=__doc__)
    parser.add_argument(
        "--prometheus", default=None, help="base URL (default: local PROMETHEUS_PORT)"
    )
    parser.add_argument("--model", default=".*", help="regex for $model")
    parser.add_argument("--instance", default=".*", help="regex for $instance")
    parser.add_argument("--window", default="1m", help="value for $__rate_interval")
    parser.add_argument("--gpu", action="store_true", help="GPU panels must show data too")
    args = parser.parse_args(argv)
    base = args.prometheus or prometheus.url()
    variables = default_variables(args.model, args.instance, args.window)
    empty = []
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        for query in panel_queries(path, variables):
            series = len(prometheus.query(base, query.expr))
            note = " (GPU only)" if query.gpu_only else ""
            note += " (only after a client error)" if query.errors_only else ""
            print(
                f"{series:4d} series  {query.dashboard}#{query.panel_id}{query.ref_id} {query.title}{note}"
            )
            if not series and not query.errors_only and (args.gpu or not query.gpu_only):
                empty.append(query)
    print(f"{len(empty)} panel queries without data that should have it")
    return 1 if empty else 0


if __name__ == "__main__":
    sys.exit(main())
