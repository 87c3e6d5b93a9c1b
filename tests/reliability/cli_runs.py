"""Running `python -m client` against a private server and reading what it reported."""

from __future__ import annotations

import json
import subprocess
import sys
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
