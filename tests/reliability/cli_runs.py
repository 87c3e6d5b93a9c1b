"""Running `python -m client` against a private server and reading what it reported."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import PROJECT_ROOT


def client_command(model: str, url: str, report: Path, *args: str) -> list[str]:
    """The client's command line with a report folder and no metrics port unless given."""
    extra = list(args)
    if "--metrics-port" not in extra:
        extra += ["--metrics-port", "0"]
    return [
        sys.executable,
        "-m",
        "client",
        "--model",
        model,
        "--url",
        url,
        "--report",
        str(report),
        "--quiet",
        *extra,
    ]


def start_client(model: str, url: str, report: Path, *args: str) -> subprocess.Popen:
    """The client as a background process (for faults injected while it runs)."""
    return subprocess.Popen(
        client_command(model, url, report, *args),
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass
class ClientRun:
    """A finished client run: exit code, output, and its pid (its regions are tos_<pid>_*)."""

    returncode: int
    stdout: str
    stderr: str
    pid: int


def run_client(model: str, url: str, report: Path, *args: str) -> ClientRun:
    """The client run to its end."""
    process = start_client(model, url, report, *args)
    stdout, stderr = process.communicate(timeout=300)
    return ClientRun(process.returncode, stdout, stderr, process.pid)


def summary(report: Path) -> dict:
    """The single summary.json entry the client wrote."""
    (entry,) = json.loads((report / "summary.json").read_text())
    return entry


def scrape(url: str, metric: str, model: str) -> float:
    """Sum of one counter's samples for a model in a Prometheus text page (0 when absent)."""
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    pattern = re.compile(rf'^{metric}\{{[^}}]*model="{model}"[^}}]*\}} (\S+)$', re.MULTILINE)
    return sum(float(value) for value in pattern.findall(text))


def wait_for_answers(metrics_port: int, model: str, at_least: int, timeout: float = 120) -> None:
    """Block until the client's own metrics count `at_least` answers (the load is under way)."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if scrape(url, "tos_client_requests_total", model) >= at_least:
                return
        except OSError:
            pass  # the client has not opened its metrics port yet
        time.sleep(0.1)
    raise TimeoutError(f"the client answered fewer than {at_least} requests in {timeout:.0f}s")
