"""The local path's Prometheus: the compose config with local targets, managed by pid.

monitoring/prometheus/prometheus.yml is the one source; this renders a copy whose targets
point at 127.0.0.1 and the ports from .env, and whose rule files are absolute paths.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import stack_settings
from local_stack.processes import ManagedProcess, busy_ports_message

MONITORING_DIR = Path(__file__).resolve().parent.parent / "monitoring" / "prometheus"
CONFIG_SOURCE = MONITORING_DIR / "prometheus.yml"
# The compose-facing targets and what they become on the local path.
COMPOSE_TARGETS = {"triton": '"triton:8002"', "client": '"client:9100"'}
INSTALL_HINT = (
    "install it with `sudo apt-get install -y prometheus` (Debian/Ubuntu), then `make up` again"
)


class PrometheusError(stack_settings.StackError):
    """Prometheus could not be started or queried; the message says why."""


def binary() -> str | None:
    """Path of the prometheus binary, or None when it is not installed."""
    return shutil.which("prometheus")


def local_targets(triton_metrics_port: int, client_metrics_port: int, client_address: str) -> dict:
    """Scrape targets of the local path, keyed like COMPOSE_TARGETS."""
    return {
        "triton": f'"127.0.0.1:{triton_metrics_port}"',
        "client": f'"{client_address}:{client_metrics_port}"',
    }


def render_config(targets: dict[str, str]) -> str:
    """The compose config with `targets` swapped in and rule files made absolute."""
    text = CONFIG_SOURCE.read_text()
    for job, compose_target in COMPOSE_TARGETS.items():
        if text.count(compose_target) != 1:
            raise PrometheusError(f"{CONFIG_SOURCE}: expected target {compose_target} exactly once")
        text = text.replace(compose_target, targets[job])
    text = without_alerting(text)
    return text.replace("  - rules/", f"  - {MONITORING_DIR}/rules/")


def without_alerting(text: str) -> str:
    """The config minus its `alerting:` block (compose's alertmanager; none on the local path)."""
    lines = text.splitlines(keepends=True)
    if not any(line.startswith("alerting:") for line in lines):
        return text
    start = next(i for i, line in enumerate(lines) if line.startswith("alerting:"))
    end = start + 1
    while end < len(lines) and (lines[end].startswith(" ") or not lines[end].strip()):
        end += 1
    while start > 0 and lines[start - 1].lstrip().startswith("#"):  # its comment goes too
        start -= 1
    return "".join(lines[:start] + lines[end:])


def settings_targets() -> dict[str, str]:
    """Local targets from .env (the client's address 0.0.0.0 is reached on 127.0.0.1)."""
    address = stack_settings.get("CLIENT_METRICS_ADDRESS", "127.0.0.1")
    return local_targets(
        stack_settings.get_int("TRITON_METRICS_PORT"),
        stack_settings.get_int("CLIENT_METRICS_PORT"),
        "127.0.0.1" if address == "0.0.0.0" else address,
    )


def prometheus_process(run_dir: Path) -> ManagedProcess:
    """The managed prometheus process of the local stack."""
    return ManagedProcess("prometheus", run_dir)


def url(port: int | None = None) -> str:
    """Base URL of the local Prometheus."""
    return f"http://127.0.0.1:{port or stack_settings.get_int('PROMETHEUS_PORT')}"


def is_ready(base_url: str) -> bool:
    """True when /-/ready answers 200."""
    try:
        with urllib.request.urlopen(f"{base_url}/-/ready", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start(
    run_dir: Path, port: int, targets: dict[str, str], timeout: float = 60.0
) -> ManagedProcess:
    """Render the config under run_dir/prometheus and start Prometheus on 127.0.0.1:port."""
    process = prometheus_process(run_dir)
    if process.pid() is not None:
        return process
    executable = binary()
    if executable is None:
        raise PrometheusError(f"prometheus is not installed; {INSTALL_HINT}")
    if message := busy_ports_message({"PROMETHEUS_PORT": port}, "prometheus"):
        raise PrometheusError(message)
    home = run_dir / "prometheus"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "prometheus.yml"
    config.write_text(render_config(targets))
    command = [
        executable,
        f"--config.file={config}",
        f"--storage.tsdb.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=2d",
    ]
    child = process.start(command, env={"PATH": "/usr/bin:/bin"})
    outcome = process.wait_ready(child, lambda: is_ready(url(port)), timeout, poll_s=0.3)
    if outcome == "ready":
        return process
    if outcome == "exited":
        raise PrometheusError(
            f"prometheus exited (code {child.returncode}) during start-up; last lines of "
            f"{process.log_file}:\n{process.log_tail()}"
        )
    raise PrometheusError(f"prometheus not ready after {timeout:.0f}s; see {process.log_file}")


def query(base_url: str, promql: str) -> list[dict]:
    """Instant query; returns the result vector (raises PrometheusError on a bad query)."""
    address = f"{base_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(address, timeout=10) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        raise PrometheusError(f"query {promql!r} failed: {exc.read().decode()}") from exc
    return body["data"]["result"]


def wait_for(base_url: str, promql: str, predicate, timeout: float = 30.0) -> list[dict]:
    """Poll `promql` until predicate(result) holds; returns that result."""
    deadline = time.monotonic() + timeout
    result: list[dict] = []
    while time.monotonic() < deadline:
        result = query(base_url, promql)
        if predicate(result):
            return result
        time.sleep(0.5)
    raise PrometheusError(f"after {timeout:.0f}s {promql!r} still gives {result}")
