"""The compose `client` service: one verified load run per model, then stay scrapeable.

python -m client.service [REPORT_DIR]

Runs `python -m client` once per model in LOAD_MODELS (protocol, shm, concurrency and
request count from LOAD_* settings) in this process, all counting into ONE metrics
endpoint, writes REPORT_DIR/status.json ({"models": {model: exit code}, "exit_code": N}),
then keeps the endpoint up with the final counters until SIGTERM, so Prometheus and the
dashboard keep the client's numbers after the load (a finished container would vanish from
the network: "no such host"). The container's healthcheck is "status.json exists".
Exit code on SIGTERM: the worst of the runs (0 when every request was answered).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

import stack_settings
from client import cli
from client.metrics import ClientMetrics, MetricsPortError

STATUS_FILE = "status.json"


def load_arguments(model: str, report_dir: Path) -> list[str]:
    """The client command line of one model's run, from the LOAD_* settings."""
    return [
        "--model", model,
        "--protocol", stack_settings.get("LOAD_PROTOCOL"),
        "--shm", stack_settings.get("LOAD_SHM"),
        "--concurrency", stack_settings.get("LOAD_CONCURRENCY"),
        "--requests", stack_settings.get("LOAD_REQUESTS"),
        "--verify", "--quiet",
        "--report", str(report_dir / model),
    ]  # fmt: skip


def write_status(report_dir: Path, codes: dict[str, int]) -> Path:
    """status.json, written atomically (the healthcheck and `make up` read it)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    status = {"models": codes, "exit_code": max(codes.values(), default=0)}
    target = report_dir / STATUS_FILE
    partial = target.with_name(f".{STATUS_FILE}.partial")
    partial.write_text(json.dumps(status, indent=2) + "\n")
    os.replace(partial, target)
    return target


def hold_until_terminated() -> None:
    """Block until SIGTERM or SIGINT (compose stop / Ctrl-C)."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(3600):
        pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    report_dir = Path(argv[0] if argv else "/reports/latest")
    try:
        models = stack_settings.get("LOAD_MODELS").split()
        address = stack_settings.get("CLIENT_METRICS_ADDRESS", "127.0.0.1")
        metrics = ClientMetrics(stack_settings.get_int("CLIENT_METRICS_PORT"), address)
    except (stack_settings.SettingError, MetricsPortError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        codes = {}
        for model in models:
            print(f"==> load run: {model}", flush=True)
            codes[model] = cli.main(load_arguments(model, report_dir), metrics=metrics)
            if codes[model] in (130, 143):  # stopped during the run: no hold, no next model
                return codes[model]
        status = write_status(report_dir, codes)
        print(
            f"==> done: {json.dumps(codes)} ({status}); metrics stay up until SIGTERM", flush=True
        )
        hold_until_terminated()
        return max(codes.values(), default=0)
    except KeyboardInterrupt:  # SIGTERM/Ctrl-C during a run: cli.main already cleaned up
        return 143
    finally:
        metrics.close()


if __name__ == "__main__":
    raise SystemExit(main())
