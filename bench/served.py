"""The served numbers: a bench server on its own ports, driven by the real client CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from exporter.model_config import parse_pbtxt, to_pbtxt

ROOT = Path(__file__).resolve().parent.parent


def run_client(
    url: str,
    model: str,
    protocol: str,
    shm: str,
    concurrency: int,
    seconds: float,
    batch_size: int = 1,
    report_dir: Path | None = None,
) -> dict:
    """One measured window of `python -m client`; returns its summary."""
    report_dir = report_dir or Path(os.environ.get("TMPDIR", "/tmp")) / "tos-bench-cell"
    command = [
        sys.executable,
        "-m",
        "client",
        "--model",
        model,
        "--protocol",
        protocol,
        "--shm",
        shm,
        "--concurrency",
        str(concurrency),
        "--duration",
        str(seconds),
        "--warmup",
        "2",
        "--batch-size",
        str(batch_size),
        "--url",
        url,
        "--report",
        str(report_dir),
        "--quiet",
        "--metrics-port",
        "0",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"client failed for {model} {protocol}/{shm} c{concurrency}: {done.stderr[-600:]}"
        )
    return json.loads((report_dir / "summary.json").read_text())[0]


def add_batching_variants(repository: Path, model: str) -> dict[str, str]:
    """Copies of `model` with dynamic batching off and with other queue delays."""
    source = repository / model
    base = parse_pbtxt((source / "config.pbtxt").read_text())
    variants = {}
    for suffix, delay in (("nobatch", None), ("qd0", 0), ("qd2000", 2000)):
        name = f"{model}_{suffix}"
        config = type(base)()
        config.CopyFrom(base)
        config.name = name
        if delay is None:
            config.ClearField("dynamic_batching")
            label = "dynamic batching off"
        else:
            config.dynamic_batching.max_queue_delay_microseconds = delay
            label = f"dynamic batching, max_queue_delay {delay} us"
        target = repository / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source / "1", target / "1")
        (target / "config.pbtxt").write_text(to_pbtxt(config))
        variants[name] = label
    delay = base.dynamic_batching.max_queue_delay_microseconds
    variants[model] = f"dynamic batching, max_queue_delay {delay} us (default)"
    return variants
