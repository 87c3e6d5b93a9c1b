"""Triton's /metrics during the run (--collect-metrics): GPU utilisation, power and memory,
CPU use, and the model's latency summaries, sampled every --metrics-interval ms."""

from __future__ import annotations

import argparse
import math
import threading
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

import stack_settings

# Triton's gauge -> our name; the GPU ones exist only where DCGM sees a GPU.
GPU_GAUGES = {
    "nv_gpu_utilization": "utilization",  # 0..1
    "nv_gpu_power_usage": "power_w",
    "nv_gpu_memory_used_bytes": "memory_used_bytes",
    "nv_gpu_memory_total_bytes": "memory_total_bytes",
}
CPU_GAUGES = {
    "nv_cpu_utilization": "utilization",
    "nv_cpu_memory_used_bytes": "memory_used_bytes",
}
SUMMARIES = ("request", "queue", "compute_input", "compute_infer", "compute_output")


class MetricsUnavailableError(RuntimeError):
    """--collect-metrics cannot read the metrics URL (exit 2, before any load)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The server-metrics flag group (perf_analyzer's names)."""
    group = parser.add_argument_group("server-side metrics (perf_analyzer's names)")
    group.add_argument(
        "--collect-metrics",
        action="store_true",
        help="sample Triton's /metrics during each window: GPU utilisation, power and memory "
        "(absent on a CPU server: the report says so), CPU, and the model's latency summaries",
    )
    group.add_argument(
        "--metrics-url",
        help="Triton's metrics (default http://TRITON_HOST:TRITON_METRICS_PORT/metrics)",
    )
    group.add_argument(
        "--metrics-interval",
        type=float,
        default=1000.0,
        metavar="MS",
        help="sampling period within each window (default 1000)",
    )


def default_url() -> str:
    """Triton's metrics endpoint from the same settings the server uses."""
    host = stack_settings.get("TRITON_HOST", "127.0.0.1")
    return f"http://{host}:{stack_settings.get_int('TRITON_METRICS_PORT')}/metrics"


def parse(text: str, model: str) -> dict:
    """One scrape: {'gpu': {uuid: {...}}, 'cpu': {...}, 'summary_us': {stage: {q: us}}}."""
    sample = {"gpu": {}, "cpu": {}, "summary_us": {}}
    for family in text_string_to_metric_families(text):
        for point in family.samples:
            if point.name in GPU_GAUGES:
                gpu = point.labels.get("gpu_uuid", "gpu")
                sample["gpu"].setdefault(gpu, {})[GPU_GAUGES[point.name]] = point.value
            elif point.name in CPU_GAUGES:
                sample["cpu"][CPU_GAUGES[point.name]] = point.value
            elif (
                point.name.endswith("_summary_us")
                and "quantile" in point.labels
                and point.labels.get("model") == model
            ):
                stage = point.name.removeprefix("nv_inference_").removesuffix("_summary_us")
                if stage in SUMMARIES and not math.isnan(point.value):
                    quantiles = sample["summary_us"].setdefault(stage, {})
                    quantiles[f"p{float(point.labels['quantile']) * 100:g}"] = point.value
    return sample


class MetricsSampler:
    """A thread that scrapes the metrics URL; `window()` summarises a time range of samples."""

    def __init__(self, url: str, interval_s: float, model: str):
        self.url, self.interval_s, self.model = url, interval_s, model
        self.samples: list[tuple[int, dict]] = []
        self._stop = threading.Event()
        self.samples.append((time.time_ns(), self._scrape()))  # fails now, not mid-run
        self._thread = threading.Thread(target=self._run, name="metrics-sampler", daemon=True)
        self._thread.start()

    def _scrape(self) -> dict:
        try:
            with urllib.request.urlopen(self.url, timeout=5) as response:
                return parse(response.read().decode(), self.model)
        except OSError as exc:
            raise MetricsUnavailableError(
                f"--collect-metrics: cannot read {self.url} ({exc}); pass --metrics-url or "
                f"check TRITON_METRICS_PORT"
            ) from exc

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.samples.append((time.time_ns(), self._scrape()))
            except MetricsUnavailableError:
                continue  # a missed sample; the window says how many it had

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def window(self, start_ns: int, end_ns: int) -> dict:
        """Averages and peaks of the samples in [start, end); the latest before, if none."""
        inside = [s for t, s in list(self.samples) if start_ns <= t < end_ns]
        if not inside:
            before = [s for t, s in list(self.samples) if t < end_ns]
            inside = before[-1:]
        gpus = sorted({g for s in inside for g in s["gpu"]})
        result = {
            "samples": len(inside),
            "gpu": {g: _aggregate([s["gpu"].get(g, {}) for s in inside]) for g in gpus} or None,
            "cpu": _aggregate([s["cpu"] for s in inside]) or None,
            "summary_us": inside[-1]["summary_us"] if inside else {},
        }
        if not gpus:
            result["gpu_note"] = (
                "no nv_gpu_* metrics: the server sees no GPU (CPU-only server, or started "
                "with --allow-gpu-metrics=false)"
            )
        if not result["summary_us"]:
            result["summary_note"] = (
                "no latency summaries for this model: start Triton with "
                "--metrics-config=summary_latencies=true"
            )
        return result


def _aggregate(samples: list[dict]) -> dict:
    keys = sorted({k for s in samples for k in s})
    out = {}
    for key in keys:
        values = [s[key] for s in samples if key in s]
        out[key] = {"avg": round(sum(values) / len(values), 3), "max": round(max(values), 3)}
    return out


def start(args, model: str) -> MetricsSampler | None:
    """The sampler --collect-metrics asks for, or None."""
    if not args.collect_metrics:
        return None
    if args.metrics_interval <= 0:
        raise MetricsUnavailableError(
            f"--metrics-interval must be > 0 ms, got {args.metrics_interval}"
        )
    return MetricsSampler(args.metrics_url or default_url(), args.metrics_interval / 1e3, model)


def for_run(sampler: MetricsSampler | None, result) -> dict | None:
    """The metrics over a step's measured windows (or its whole run when fixed)."""
    if sampler is None:
        return None
    measured = result.windows[-3:]
    if measured:
        return sampler.window(measured[0]["start_ns"], measured[-1]["end_ns"])
    records = result.records
    if not records:
        return sampler.window(0, time.time_ns())
    return sampler.window(min(r[1] for r in records), max(r[2] for r in records))


def line(metrics: dict) -> str:
    """What the server's gauges said over a step, in one line."""
    if metrics.get("gpu"):
        parts = [
            f"GPU {gpu[:12]}: util avg {v.get('utilization', {}).get('avg', 0) * 100:.0f}%, "
            f"power avg {v.get('power_w', {}).get('avg', float('nan')):.0f} W, "
            f"memory max {v.get('memory_used_bytes', {}).get('max', 0) / 2**30:.2f} GiB"
            for gpu, v in metrics["gpu"].items()
        ]
        text = "; ".join(parts)
    else:
        text = metrics["gpu_note"]
    request = metrics.get("summary_us", {}).get("request")
    if request:
        text += f"; server request p99 {request.get('p99', float('nan')) / 1e3:.2f} ms (summary)"
    return f"server metrics ({metrics['samples']} samples): {text}"


def csv_columns(metrics: dict | None) -> dict:
    """perf_analyzer's --collect-metrics CSV columns: 'gpu:value;' per GPU, empty without one."""
    gpus = (metrics or {}).get("gpu") or {}

    def per_gpu(key: str, stat: str, scale: float = 1.0) -> str:
        return "".join(f"{gpu}:{v[key][stat] * scale:g};" for gpu, v in gpus.items() if key in v)

    return {
        "Avg GPU Utilization": per_gpu("utilization", "avg"),
        "Avg GPU Power Usage": per_gpu("power_w", "avg"),
        "Max GPU Memory Usage": per_gpu("memory_used_bytes", "max"),
        "Total GPU Memory": per_gpu("memory_total_bytes", "max"),
    }
