"""The machine and versions printed next to every number."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import subprocess
import time
from importlib.metadata import PackageNotFoundError, version

PACKAGES = ("onnxruntime", "onnxruntime-gpu", "numpy", "torch", "tritonclient", "nvidia-pytriton")


def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def describe() -> dict:
    """Host, CPU, core count, memory, Python and package versions, date."""
    versions = {}
    for name in PACKAGES:
        with contextlib.suppress(PackageNotFoundError):
            versions[name] = version(name)
    gpu = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        gpu = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.strip()
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host": socket.gethostname(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": round(memory_gib, 1),
        "gpu": gpu or "none",
        "python": platform.python_version(),
        "packages": versions,
        "triton": "2.51.0 (nvidia-pytriton 0.7.0) + Python-based onnxruntime backend",
    }


def header_lines(info: dict) -> list[str]:
    packages = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    return [
        f"- date: {info['date']}",
        f"- machine: {info['host']}, {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB, "
        f"GPU: {info.get('gpu', 'none')}",
        f"- python {info['python']}; {packages}",
        f"- server: {info['triton']}",
    ] + ([f"- settings: {info['settings']}"] if info.get("settings") else [])
