"""Runs the client service as its own process, as its container would, and reads its summary.

Used by `make up`, the benchmarks and the GPU check, so the command line is built in one place.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from stack_settings import StackError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ClientRunError(StackError):
    """The client exited non-zero; carries its exit code and the end of its output."""

    def __init__(self, command: list[str], returncode: int, output: str):
        self.returncode = returncode
        tail = " | ".join(output.strip().splitlines()[-12:])
        super().__init__(f"client exited {returncode} ({' '.join(command[3:])}): {tail}")


def client_command(
    model: str,
    report_dir: Path,
    *,
    protocol: str = "http",
    shm: str = "none",
    concurrency: int = 1,
    requests: int | None = None,
    duration_s: float | None = None,
    batch_size: int = 1,
    warmup: int = 1,
    url: str | None = None,
    verify_repository: Path | None = None,
    metrics_port: int = 0,
    linger_s: float = 0.0,
) -> list[str]:
    """`python -m client ...` for one measured run (requests or duration, not both)."""
    bound = (
        ["--requests", str(requests)] if requests is not None else ["--duration", str(duration_s)]
    )
    command = [
        sys.executable, "-m", "client", "--model", model, "--protocol", protocol, "--shm", shm,
        "--concurrency", str(concurrency), *bound, "--batch-size", str(batch_size),
        "--warmup", str(warmup), "--report", str(report_dir), "--metrics-port", str(metrics_port),
    ]  # fmt: skip
    if url:
        command += ["--url", url]
    if linger_s:
        command += ["--linger", str(linger_s)]
    if verify_repository is not None:
        command += ["--verify", "--model-repository", str(verify_repository)]
    return command


def run_client(model: str, report_dir: Path, *, show_output: bool = False, **options) -> dict:
    """Run one client process and return its summary; raises ClientRunError on failure."""
    command = client_command(model, report_dir, **options)
    if not show_output:
        command.append("--quiet")
    env = os.environ | {"PYTHONFAULTHANDLER": "1"}  # a crash prints where it happened
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, text=True, check=False,
        capture_output=not show_output,
    )  # fmt: skip
    if done.returncode != 0:
        raise ClientRunError(command, done.returncode, (done.stderr or "") + (done.stdout or ""))
    return json.loads((report_dir / "summary.json").read_text())[0]
