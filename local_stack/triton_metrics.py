"""Reads Triton's Prometheus endpoint (the same numbers Prometheus scrapes).

Parsed by name exactly as exposed: prometheus_client's parser renames counters to
`<name>_total`, which would hide the names Triton documents.
"""

from __future__ import annotations

import re
import urllib.request
from typing import NamedTuple

import stack_settings

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class Sample(NamedTuple):
    name: str
    labels: dict[str, str]
    value: float


def metrics_url() -> str:
    return f"http://127.0.0.1:{stack_settings.get_int('TRITON_METRICS_PORT')}/metrics"


def parse(text: str) -> list[Sample]:
    """Samples of a Prometheus text exposition."""
    samples = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and not line.startswith("#"):
            labels = dict(_LABEL.findall(match.group(2) or ""))
            samples.append(Sample(match.group(1), labels, float(match.group(3))))
    return samples


def read_samples(url: str | None = None) -> list[Sample]:
    """Every sample on the endpoint."""
    with urllib.request.urlopen(url or metrics_url(), timeout=5) as response:
        return parse(response.read().decode())


def per_model(metric: str, samples: list[Sample] | None = None) -> dict[str, float]:
    """{model: value} of one counter, summed over versions."""
    totals: dict[str, float] = {}
    for sample in samples if samples is not None else read_samples():
        if sample.name == metric:
            model = sample.labels.get("model", "")
            totals[model] = totals.get(model, 0.0) + sample.value
    return totals
