"""GPU memory before/after a long run (used by gpu_check.py): nothing may grow per request."""

from __future__ import annotations

import subprocess
import time

from local_stack import client_run, triton_metrics

GROWTH_TOLERANCE_BYTES = 16 * 2**20  # allocator rounding; a per-request leak of 25 MB shows
METRICS_INTERVAL_S = 2.5  # Triton refreshes nv_gpu_* every 2 s


def device_memory(metrics_url: str) -> dict[str, float]:
    """nv_gpu_memory_used_bytes (whole GPU) and per-process GPU memory (stubs hold ORT's arena)."""
    time.sleep(METRICS_INTERVAL_S)
    values = {
        "nv_gpu_memory_used_bytes": max(
            (s.value for s in triton_metrics.read_samples(metrics_url)
             if s.name == "nv_gpu_memory_used_bytes"),
            default=float("nan"),
        )
    }  # fmt: skip
    try:
        listed = subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, check=False, timeout=20,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        listed = ""
    for line in listed.strip().splitlines():
        pid, _, used = line.partition(",")
        if used.strip().isdigit():
            values[f"pid {pid.strip()} MiB"] = float(used)
    return values


def run_requests(models, url: str, out, requests: int) -> list[str]:
    """`requests` requests per model over CUDA shm with merging; returns failures."""
    failures = []
    for model in models:
        try:
            summary = client_run.run_client(
                model, out / f"memory-{model}", protocol="grpc", shm="cuda", concurrency=4,
                requests=requests, url=url,
            )  # fmt: skip
            if summary["requests_failed"]:
                failures.append(f"{model}: {summary['requests_failed']} failed")
        except client_run.ClientRunError as exc:
            failures.append(f"{model}: {exc}")
    return failures


def growth(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Bytes gained per key present in both (per-process values are MiB -> bytes)."""
    scale = {key: 2**20 if key.endswith("MiB") else 1 for key in before}
    return {k: (after[k] - before[k]) * scale[k] for k in before if k in after}
