"""The chart's autoscaling, simulated on the real local stack: offered load below, above and
below capacity again; the real Prometheus evaluates the recording rule; the HPA algorithm
(deploy/hpa.py, settings from the chart's values.yaml) decides the replicas.

One real tritonserver stands for each of N identical pods: the Service spreads the offered load
evenly over the ready pods, so the client sends offered / ready requests/s to it, and what its
metrics show is what every pod would show. A new pod takes --pod-start-s to become ready.

    python -m deploy.simulate_autoscaling --port-base 18500     # ~15 minutes

Writes docs/autoscaling/simulation.csv, simulation.png and summary.json (--output). The machine's
load average is recorded beside every sample: on a shared machine other work moves the capacity.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VALUES = PROJECT_ROOT / "deploy" / "helm" / "triton-onnx-stack" / "values.yaml"
SIGNAL = "pod:nv_inference_queue_compute_ratio:rate1m"
SAMPLE_S = 5.0
# A client asked to stop gets this long to finish its in-flight requests.
STOP_TIMEOUT_S = 20.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.simulate_autoscaling")
    parser.add_argument("--model", default="simple_transformer")
    parser.add_argument(
        "--low-rps", type=float, help="offered load before/after (default: 0.25 x one pod's rate)"
    )
    parser.add_argument(
        "--high-rps", type=float, help="offered load of the step (default: 2 x one pod's rate)"
    )
    parser.add_argument("--before-s", type=int, default=60)
    parser.add_argument("--high-s", type=int, default=420)
    parser.add_argument("--after-s", type=int, default=330)
    parser.add_argument("--p99-budget-ms", type=float, default=500.0)
    parser.add_argument("--pod-start-s", type=float, default=30.0, help="new pod to ready")
    parser.add_argument("--concurrency", type=int, default=32, help="client's in-flight cap")
    parser.add_argument("--protocol", default="http")
    parser.add_argument("--shm", default="none", help="none: a client stops fast when replaced")
    parser.add_argument("--port-base", type=int, help="Triton, Prometheus ports from here up")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "docs" / "autoscaling")
    args = parser.parse_args(argv)
    for name in ("low_rps", "high_rps", "p99_budget_ms"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0")
    if min(args.before_s, args.high_s, args.after_s) < 15:
        parser.error("--before-s, --high-s and --after-s must each be >= 15 (one HPA sync)")
    return args


def apply_ports(port_base: int | None) -> None:
    """Move every port this run opens (before stack_settings is read)."""
    if port_base is None:
        return
    ports = {
        "TRITON_HTTP_PORT": 0, "TRITON_GRPC_PORT": 1, "TRITON_METRICS_PORT": 2,
        "CLIENT_METRICS_PORT": 3, "PROMETHEUS_PORT": 4,
    }  # fmt: skip
    os.environ.update({name: str(port_base + offset) for name, offset in ports.items()})


@dataclass
class Pod:
    ready_at: float


class Load:
    """The client offering `rate` requests/s to the measured pod until stopped.

    A new process only when the rate changes (a pod became ready, the phase changed): stopping
    the old one drops what it had not sent yet, as its callers would go elsewhere, and process
    start-ups stay rare on a 2-core machine. Its latency histogram reaches Prometheus.
    """

    def __init__(self, args, run_dir: Path):
        self.args, self.run_dir = args, run_dir
        self.rate: float | None = None
        self.process: subprocess.Popen | None = None
        self.restarts = 0

    def offer(self, rate: float, seconds: float) -> None:
        """Keep `rate` (a new process if it differs from the current one)."""
        import stack_settings  # noqa: PLC0415
        from local_stack.client_run import client_command  # noqa: PLC0415

        if self.process is not None and self.process.poll() is None and rate == self.rate:
            return
        self.stop()
        report = self.run_dir / "load" / f"{self.restarts:03d}"
        shutil.rmtree(report, ignore_errors=True)
        report.mkdir(parents=True)
        command = client_command(
            self.args.model, report, protocol=self.args.protocol, shm=self.args.shm,
            concurrency=self.args.concurrency, duration_s=seconds, warmup=0,
            metrics_port=stack_settings.get_int("CLIENT_METRICS_PORT"),
        )  # fmt: skip
        command += ["--rate", f"{rate:.3f}", "--arrival", "poisson", "--quiet"]
        with open(report / "client.log", "w") as log:
            self.process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        self.rate, self.restarts = rate, self.restarts + 1

    def stop(self) -> None:
        """SIGTERM (the client cleans up and exits), SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def prometheus_value(base_url: str, promql: str) -> float | None:
    from local_stack import prometheus  # noqa: PLC0415

    result = prometheus.query(base_url, promql)
    return float(result[0]["value"][1]) if result else None


def ensure_repository(repository: Path, model: str) -> None:
    """Export `model` (sizes from .env) unless the repository already has it."""
    if (repository / model / "config.pbtxt").is_file():
        return
    print(f"exporting {model} into {repository} ...", flush=True)
    env = os.environ | {"MODEL_REPOSITORY": str(repository), "ENSEMBLE_STEPS": "0"}
    subprocess.run(
        [sys.executable, "-m", "exporter", "--repository", str(repository), "--models", model],
        check=True, env=env, cwd=PROJECT_ROOT,
    )  # fmt: skip


def calibrate(args, run_dir: Path) -> float:
    """One pod's rate now, one request at a time (15 s): the load steps scale with it."""
    from local_stack.client_run import run_client  # noqa: PLC0415

    summary = run_client(
        args.model, run_dir / "calibration", protocol=args.protocol, shm=args.shm,
        concurrency=1, duration_s=15, warmup=1,
    )  # fmt: skip
    capacity = summary["throughput_rps"]
    print(f"capacity of one pod now: {capacity:.1f} requests/s (shared machine: it moves)")
    args.low_rps = args.low_rps or round(0.25 * capacity, 1)
    args.high_rps = args.high_rps or round(2.0 * capacity, 1)
    return capacity


def offered_at(t: float, args) -> tuple[str, float]:
    """(phase, offered requests/s) at t seconds into the run."""
    if t < args.before_s:
        return "below", args.low_rps
    if t < args.before_s + args.high_s:
        return "above", args.high_rps
    return "below again", args.low_rps


def run(args, run_dir: Path, autoscaler, base_url: str) -> list[dict]:
    """The simulation loop: a sample every SAMPLE_S, an HPA sync every SYNC_PERIOD_S."""
    from deploy.hpa import SYNC_PERIOD_S  # noqa: PLC0415

    total = args.before_s + args.high_s + args.after_s
    pods = [Pod(ready_at=0.0) for _ in range(autoscaler.min_replicas)]
    model = f'{{model="{args.model}"}}'
    queries = {
        "ratio": f"max({SIGNAL})",
        "served_rps": f"sum(model:nv_inference_request_success:rate1m{model})",
        "client_p99_ms": f"max(model:tos_client_request_latency_seconds:p99{model}) * 1000",
        "server_p99_ms": f"max(model:nv_inference_request_summary_us:p99{model}) / 1000",
    }
    load = Load(args, run_dir)
    rows: list[dict] = []
    start = time.monotonic()
    tick = 0
    try:
        while (t := tick * SAMPLE_S) <= total:
            time.sleep(max(0.0, start + t - time.monotonic()))
            values = {name: prometheus_value(base_url, q) for name, q in queries.items()}
            ready = sum(pod.ready_at <= t for pod in pods)
            if tick % round(SYNC_PERIOD_S / SAMPLE_S) == 0 and values["ratio"] is not None:
                desired = autoscaler.step(t, len(pods), ready, values["ratio"])
                pods = pods[:desired]  # sorted by ready time: the unready go first
                pods += [Pod(t + args.pod_start_s) for _ in range(desired - len(pods))]
                ready = sum(pod.ready_at <= t for pod in pods)
            phase, offered = offered_at(t, args)
            if t < total:
                load.offer(round(offered / max(ready, 1), 3), total - t + 30)
            rows.append({
                "t_s": t, "phase": phase, "offered_rps": offered, "replicas": len(pods),
                "ready_replicas": ready, "per_pod_rps": round(offered / max(ready, 1), 3),
                **values, "p99_budget_ms": args.p99_budget_ms,
                "load_average_1m": round(os.getloadavg()[0], 2),
            })  # fmt: skip
            ratio = values["ratio"]
            print(f"t={t:5.0f}s {phase:11} offered {offered:5.1f}/s pods {len(pods)} "
                  f"(ready {ready}) ratio {ratio if ratio is None else round(ratio, 2)}",
                  flush=True)  # fmt: skip
            tick += 1
    finally:
        load.stop()
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    apply_ports(args.port_base)
    import stack_settings  # noqa: PLC0415
    from deploy import autoscaling_report  # noqa: PLC0415
    from deploy.hpa import Autoscaler  # noqa: PLC0415
    from local_stack import prometheus, server  # noqa: PLC0415

    values = yaml.safe_load(VALUES.read_text())["autoscaling"]
    autoscaler = Autoscaler.from_values(values)
    run_dir = stack_settings.get_path("STACK_RUN_DIR") / "autoscaling"
    repository = run_dir / "model_repository"
    ensure_repository(repository, args.model)
    triton = server.start(repository, run_dir)
    try:
        port = stack_settings.get_int("PROMETHEUS_PORT")
        prom = prometheus.start(run_dir, port, prometheus.settings_targets())
        try:
            base_url = prometheus.url(port)
            args.capacity_rps = calibrate(args, run_dir)
            prometheus.wait_for(base_url, SIGNAL, bool, timeout=60)
            time.sleep(60)  # the rate1m window forgets the calibration's load
            rows = run(args, run_dir, autoscaler, base_url)
        finally:
            prom.stop()
    finally:
        triton.stop()
    verdict = autoscaling_report.write(rows, args, values, args.output)
    return 0 if verdict["passed"] else 1


if __name__ == "__main__":
    from stack_settings import StackError

    try:
        sys.exit(main())
    except StackError as error:  # no prometheus, a taken port, a server that did not start
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
