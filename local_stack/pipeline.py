"""`make up` on the local path: export -> serve -> load -> report, leaving the server up."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import stack_settings
from local_stack import backend_dir, native_backend, prometheus, server, triton_metrics
from local_stack.client_run import run_client

BUILTIN_MODELS = ("simple_cnn", "simple_transformer")
# Seconds the client keeps its metrics endpoint up before and after a run: > 2 scrape intervals (1s),
# so Prometheus records its counters at 0 and at their final values.
CLIENT_LINGER_S = "3"


def run_dir() -> Path:
    return stack_settings.get_path("STACK_RUN_DIR")


def _step(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def export(repository: Path) -> None:
    """Run the exporter service (a separate process, as its container would be)."""
    env = os.environ | {"MODEL_REPOSITORY": str(repository)}
    subprocess.run(
        [sys.executable, "-m", "exporter", "--repository", str(repository)], check=True, env=env
    )


def load(
    models: tuple[str, ...], report_dir: Path, repository: Path, linger: str = "0"
) -> list[dict]:
    """Run the client service once per model, verified against ORT; returns its summaries."""
    return [
        run_client(
            model,
            report_dir / model,
            show_output=True,
            protocol=stack_settings.get("LOAD_PROTOCOL"),
            shm=stack_settings.get("LOAD_SHM"),
            concurrency=stack_settings.get_int("LOAD_CONCURRENCY"),
            requests=stack_settings.get_int("LOAD_REQUESTS"),
            verify_repository=repository,
            metrics_port=stack_settings.get_int("CLIENT_METRICS_PORT", 0),
            linger_s=float(linger),
        )
        for model in models
    ]


def write_report(summaries: list[dict], report_dir: Path, log_file: Path) -> Path:
    """report.md: client numbers beside what Triton's metrics endpoint counted."""
    success = triton_metrics.per_model("nv_inference_request_success")
    lines = [
        "# triton-onnx-stack: local run",
        "",
        f"machine: {summaries[0]['machine']}",
        "",
        "| model | protocol | shm | conc | ok | failed | req/s | p50 ms | p99 ms | max diff vs ORT | Triton success (all time) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        lines.append(
            f"| {s['model']} | {s['protocol']} | {s['shm']} | {s['concurrency']} | {s['requests_ok']} | "
            f"{s['requests_failed']} | {s['throughput_rps']} | {s['latency_ms'].get('p50')} | "
            f"{s['latency_ms'].get('p99')} | {s['max_abs_diff']:.3g} | {int(success.get(s['model'], 0))} |"
        )
    lines += ["", f"Triton log: {log_file}", ""]
    path = report_dir / "report.md"
    path.write_text("\n".join(lines))
    return path


def up() -> int:
    """The whole local pipeline; the server keeps running afterwards."""
    repository = stack_settings.get_path("MODEL_REPOSITORY")
    runs = run_dir()
    report_dir = runs / "reports" / time.strftime("%Y%m%d-%H%M%S")
    _step(f"export built-in models into {repository}")
    export(repository)
    _step("start tritonserver (nvidia-pytriton)")
    native_backend.fall_back_when_unbuildable()
    process = server.start(repository, runs)
    print(f"ready: {server.http_url()} (pid {process.pid()}, log {process.log_file})")
    print(f"onnxruntime models served by {backend_dir.served_by(runs / 'backends')}")
    for name, state in sorted(server.model_states().items()):
        print(f"  {name}: {state}")
    monitoring = start_prometheus(runs)
    _step(
        "load: client over "
        + stack_settings.get("LOAD_PROTOCOL")
        + ", shm "
        + stack_settings.get("LOAD_SHM")
    )
    summaries = load(BUILTIN_MODELS, report_dir, repository, CLIENT_LINGER_S if monitoring else "0")
    _step("report")
    report = write_report(summaries, report_dir, process.log_file)
    print(report.read_text())
    latest = runs / "reports" / "latest"
    latest.unlink(missing_ok=True)
    latest.symlink_to(report_dir.name)
    print(f"report: {report}")
    print(f"Triton keeps serving on {server.http_url()}; stop everything with `make down`.")
    if monitoring:
        print(f"Prometheus keeps scraping on {prometheus.url()} (rules and alerts loaded).")
    return 0


def start_prometheus(runs: Path) -> bool:
    """Start the local Prometheus (same config as compose); without it, say how and go on."""
    _step("start prometheus (monitoring/prometheus/prometheus.yml, local targets)")
    try:
        prometheus.start(
            runs, stack_settings.get_int("PROMETHEUS_PORT"), prometheus.settings_targets()
        )
    except prometheus.PrometheusError as exc:
        print(f"warning: no Prometheus this run: {exc}", flush=True)
        return False
    # Prometheus applies targets a few seconds after it is ready; load only once it scrapes,
    # or a short client run would come and go unseen.
    prometheus.wait_for(prometheus.url(), 'up{job="triton"} == 1', bool)
    print(f"ready: {prometheus.url()} (log {prometheus.prometheus_process(runs).log_file})")
    return True


def serve() -> int:
    """Start tritonserver on the existing repository (no export, no load): for scripts."""
    process = server.start(stack_settings.get_path("MODEL_REPOSITORY"), run_dir())
    print(f"ready: {server.http_url()} (pid {process.pid()}, log {process.log_file})")
    print(f"onnxruntime models served by {backend_dir.served_by(run_dir() / 'backends')}")
    return 0


def down() -> int:
    """Stop what `up` started (by pid); safe to run when nothing runs."""
    stopped = prometheus.prometheus_process(run_dir()).stop()
    print("prometheus stopped" if stopped else "prometheus was not running")
    stopped = server.triton_process(run_dir()).stop()
    print("tritonserver stopped" if stopped else "tritonserver was not running")
    return 0


def status() -> int:
    pid = server.triton_process(run_dir()).pid()
    ready = server.is_ready()
    print(f"tritonserver: {'pid ' + str(pid) if pid else 'not running'}, ready={ready}")
    prometheus_pid = prometheus.prometheus_process(run_dir()).pid()
    print(f"prometheus: {'pid ' + str(prometheus_pid) if prometheus_pid else 'not running'}")
    return 0 if pid and ready else 1
