"""The served numbers: a bench server on its own ports, driven by the real client CLI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from exporter.model_config import parse_pbtxt, to_pbtxt
from local_stack import client_run

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
    """One measured window of `python -m client` (2 warm-up requests per worker first)."""
    report_dir = report_dir or Path(os.environ.get("TMPDIR", "/tmp")) / "tos-bench-cell"
    return client_run.run_client(
        model, report_dir, protocol=protocol, shm=shm, concurrency=concurrency,
        duration_s=seconds, batch_size=batch_size, warmup=2, url=url,
    )  # fmt: skip


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
        _write_variant(source, repository / name, config)
        variants[name] = label
    delay = base.dynamic_batching.max_queue_delay_microseconds
    variants[model] = f"dynamic batching, max_queue_delay {delay} us (default)"
    return variants


def _write_variant(source: Path, target: Path, config) -> None:
    """A sibling model: `source`'s version 1 with `config`, replacing an earlier one."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source / "1", target / "1")
    (target / "config.pbtxt").write_text(to_pbtxt(config))


def add_instance_variants(repository: Path, models, count: int) -> dict[str, str]:
    """Copies of `models` with `count` instances per GPU: {variant: model}."""
    variants = {}
    for model in models:
        source = repository / model
        config = parse_pbtxt((source / "config.pbtxt").read_text())
        name = f"{model}_x{count}"
        config.name = name
        for group in config.instance_group:
            group.count = count
        _write_variant(source, repository / name, config)
        variants[name] = model
    return variants
