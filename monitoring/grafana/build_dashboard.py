"""Writes dashboards/triton.json: `python monitoring/grafana/build_dashboard.py`.

The dashboard is built here (plain dicts, no extra library) and checked in as JSON; a test
fails when the two differ, and another runs every panel's query against a real Prometheus.
"""

from __future__ import annotations

import json
from pathlib import Path

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
OUTPUT = Path(__file__).resolve().parent / "dashboards" / "triton.json"
SEL = 'model=~"$model", instance=~"$instance"'
CLIENT_SEL = 'model=~"$model"'
RATE = "$__rate_interval"

# (title, unit, [(legend, expr)]) per panel, in rows of two.
PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "Throughput per model (server)",
        "reqps",
        [
            (
                "{{model}} success",
                f"sum by (model) (rate(nv_inference_request_success{{{SEL}}}[{RATE}]))",
            ),
            ("{{model}} inferences", f"sum by (model) (rate(nv_inference_count{{{SEL}}}[{RATE}]))"),
        ],
    ),
    (
        "Throughput per model (client)",
        "reqps",
        [
            (
                "{{model}} {{protocol}}/{{shm}}",
                f"sum by (model, protocol, shm) (rate(tos_client_requests_total{{{CLIENT_SEL}}}[{RATE}]))",
            )
        ],
    ),
    (
        "Latency breakdown per request (server)",
        "µs",
        [
            (
                f"{{{{model}}}} {part}",
                f"sum by (model) (rate(nv_inference_{metric}_duration_us{{{SEL}}}[{RATE}])) / sum by (model) (rate(nv_inference_request_success{{{SEL}}}[{RATE}]))",
            )
            for part, metric in (
                ("queue", "queue"),
                ("input", "compute_input"),
                ("infer", "compute_infer"),
                ("output", "compute_output"),
            )
        ],
    ),
    (
        "Latency p50 / p99: client beside server",
        "s",
        [
            (
                f"{{{{model}}}} client p{q}",
                f"histogram_quantile(0.{q}, sum by (model, le) (rate(tos_client_request_latency_seconds_bucket{{{CLIENT_SEL}}}[{RATE}])))",
            )
            for q in ("50", "99")
        ]
        + [
            (
                f"{{{{model}}}} server p{q}",
                f'max by (model) (nv_inference_request_summary_us{{{SEL}, quantile="{float("0." + q)}"}}) / 1e6',
            )
            for q in ("50", "99")
        ],
    ),
    (
        "Batch size achieved (inferences / executions)",
        "none",
        [
            (
                "{{model}}",
                f"sum by (model) (rate(nv_inference_count{{{SEL}}}[{RATE}])) / sum by (model) (rate(nv_inference_exec_count{{{SEL}}}[{RATE}]))",
            )
        ],
    ),
    (
        "Pending requests (server queue) and client in flight",
        "short",
        [
            ("{{model}} pending", f"sum by (model) (nv_inference_pending_request_count{{{SEL}}})"),
            # max over the window: the gauge moves faster than scrapes, and the client exits after a run
            (
                "{{model}} client in flight",
                f"max by (model) (max_over_time(tos_client_requests_in_flight{{{CLIENT_SEL}}}[{RATE}]))",
            ),
        ],
    ),
    (
        "Failures by reason",
        "short",
        [
            (
                "{{model}} {{reason}}",
                f"sum by (model, reason) (increase(nv_inference_request_failure{{{SEL}}}[{RATE}]))",
            ),
            (
                "client {{model}} {{kind}}",
                f"sum by (model, kind) (increase(tos_client_request_errors_total{{{CLIENT_SEL}}}[{RATE}]))",
            ),
        ],
    ),
    (
        "GPU utilisation",
        "percentunit",
        [("{{gpu_uuid}}", 'avg by (gpu_uuid) (nv_gpu_utilization{instance=~"$instance"})')],
    ),
    (
        "GPU memory used",
        "bytes",
        [
            (
                "{{gpu_uuid}} used",
                'max by (gpu_uuid) (nv_gpu_memory_used_bytes{instance=~"$instance"})',
            ),
            (
                "{{gpu_uuid}} total",
                'max by (gpu_uuid) (nv_gpu_memory_total_bytes{instance=~"$instance"})',
            ),
        ],
    ),
    (
        "GPU power",
        "watt",
        [("{{gpu_uuid}}", 'max by (gpu_uuid) (nv_gpu_power_usage{instance=~"$instance"})')],
    ),
    (
        "CPU utilisation (Triton host)",
        "percentunit",
        [("{{instance}}", 'max by (instance) (nv_cpu_utilization{instance=~"$instance"})')],
    ),
    (
        "Host memory (Triton host)",
        "bytes",
        [
            ("used", 'max by (instance) (nv_cpu_memory_used_bytes{instance=~"$instance"})'),
            ("total", 'max by (instance) (nv_cpu_memory_total_bytes{instance=~"$instance"})'),
        ],
    ),
]


def _panel(panel_id: int, title: str, unit: str, targets: list[tuple[str, str]]) -> dict:
    index = panel_id - 1
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom"}},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
            }
            for i, (legend, expr) in enumerate(targets)
        ],
    }


def _variable(name: str, query: str) -> dict:
    return {
        "name": name,
        "label": name,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-values"},
        "definition": query,
        "refresh": 2,  # on time range change: models appear as Triton loads them
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def dashboard() -> dict:
    """The Triton + client dashboard as Grafana JSON."""
    return {
        "uid": "triton-onnx-stack",
        "title": "Triton ONNX stack",
        "tags": ["triton", "onnxruntime"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "5s",
        "time": {"from": "now-15m", "to": "now"},
        "templating": {
            "list": [
                _variable("model", "label_values(nv_inference_request_success, model)"),
                _variable("instance", 'label_values(up{job="triton"}, instance)'),
            ]
        },
        "panels": [_panel(i + 1, *spec) for i, spec in enumerate(PANELS)],
    }


def render() -> str:
    """The JSON text exactly as checked in."""
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT}")
