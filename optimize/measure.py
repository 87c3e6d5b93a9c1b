"""The one place a candidate is measured: `python -m client` as a subprocess, its summary.json read.

The optimizer meets the client only through its command line and report files, as a user would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

# Headroom over the window for the client's start (imports, connections) and its warmup.
START_SLACK_S = 120.0


@dataclass(frozen=True)
class Window:
    """How each point is measured (part of a measurement's identity when resuming).

    By default the client's stable windows (perf_analyzer's: windows of `interval_ms` until
    the last 3 agree within `stability_pct` on throughput and latency, at most `max_trials`);
    `duration_s` measures one fixed window instead (quick, for tests).
    """

    protocol: str = "http"
    shm: str = "system"
    interval_ms: int = 2000
    stability_pct: float = 10.0
    max_trials: int = 6
    duration_s: float | None = None
    warmup_per_worker: int = 2
    request_batch: int = 1  # items per request (the client's --batch-size)

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        """How points were measured, for the report."""
        items = f", {self.request_batch} items per request" if self.request_batch > 1 else ""
        if self.duration_s:
            return f"{self.protocol}/{self.shm}{items}, one {self.duration_s:g} s window per point"
        return (
            f"{self.protocol}/{self.shm}{items}, stable windows of {self.interval_ms} ms (last 3 within "
            f"{self.stability_pct:g}%, at most {self.max_trials})"
        )

    def longest_s(self) -> float:
        """The longest a point can take to measure."""
        return self.duration_s or self.interval_ms * self.max_trials / 1000


class MeasureError(RuntimeError):
    """The client could not measure at all (exit 2): names the model and the client's reason."""


def client_command(
    model: str, url: str | None, concurrency: int, window: Window, out: Path
) -> list[str]:
    """The client invocation for one point."""
    command = [
        sys.executable, "-m", "client",
        "--model", model,
        "--protocol", window.protocol,
        "--shm", window.shm,
        "--concurrency", str(concurrency),
        "--warmup", str(window.warmup_per_worker),
        "--metrics-port", "0",
        "--quiet",
        "--report", str(out),
    ]  # fmt: skip
    if window.request_batch > 1:
        command += ["--batch-size", str(window.request_batch)]
    if window.duration_s:
        command += ["--duration", str(window.duration_s)]
    else:
        command += ["--measurement-interval", str(window.interval_ms),
                    "--stability-percentage", str(window.stability_pct),
                    "--max-trials", str(window.max_trials)]  # fmt: skip
    if url:
        command += ["--url", url]
    return command


def measure(model: str, url: str | None, concurrency: int, window: Window) -> dict:
    """Throughput and latency of `model` at `concurrency` (a flat dict for the results file)."""
    with tempfile.TemporaryDirectory(prefix="tos-optimize-") as folder:
        out = Path(folder)
        command = client_command(model, url, concurrency, window, out)
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            _, stderr = process.communicate(timeout=window.longest_s() + START_SLACK_S)
        except BaseException:
            # Ctrl-C reached the client too (same process group); SIGTERM or a timeout did not.
            _stop(process)
            raise
        if process.returncode in (130, 143):  # the client alone was stopped: so are we
            raise KeyboardInterrupt
        summary_file = out / "summary.json"
        if process.returncode == 2 or not summary_file.is_file():
            reason = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
            raise MeasureError(f"client on {model!r} (exit {process.returncode}): {reason}")
        summary = json.loads(summary_file.read_text())[0]
    latency = summary["latency_ms"]
    return {
        "concurrency": concurrency,
        "throughput": summary["throughput_infer_per_s"],
        "p50_ms": latency.get("p50"),
        "p99_ms": latency.get("p99"),
        "requests_ok": summary["requests_ok"],
        "requests_failed": summary["requests_failed"],
        "avg_batch_size": summary["server"].get("avg_batch_size"),
        "queue_ms": summary["server"].get("queue_ms_per_request"),
        "infer_ms": summary["server"].get("compute_infer_ms_per_request"),
        "input_ms": summary["server"].get("compute_input_ms_per_request"),
        "output_ms": summary["server"].get("compute_output_ms_per_request"),
        "stable": summary.get("stable"),  # None: one fixed window, not checked
        "windows": len(summary.get("windows") or []),
    }


def _stop(process: subprocess.Popen) -> None:
    """Let the client clean its shm regions up (it handles SIGINT/SIGTERM), then reap it."""
    for sig, wait_s in ((None, 10.0), (signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
        if process.poll() is not None:
            return
        if sig is not None:
            process.send_signal(sig)
        try:
            process.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            continue
