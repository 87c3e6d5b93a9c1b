"""The Docker Compose path of `make up`/`make down`, and the check that picks it.

`make up` runs compose only where it can work: a reachable Docker engine AND an NVIDIA GPU.
Anywhere else it runs the local path. The same checks give the e2e tests their skip reasons.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = PROJECT_ROOT / "compose.yaml"
PROBE_TIMEOUT_S = 20


def _probe(command: list[str]) -> str | None:
    """None when `command` succeeds, else a one-line reason naming the command."""
    shown = " ".join(command)
    if shutil.which(command[0]) is None:
        return f"`{command[0]}` not found on PATH"
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"`{shown}` did not answer within {PROBE_TIMEOUT_S} s"
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        return f"`{shown}` failed: {detail[-1] if detail else f'exit {result.returncode}'}"
    return None


def docker_engine_problem() -> str | None:
    """Why no Docker engine can be used, or None when `docker info` succeeds."""
    problem = _probe(["docker", "info", "--format", "{{.ServerVersion}}"])
    return f"no Docker engine: {problem}" if problem else None


def gpu_problem() -> str | None:
    """Why no NVIDIA GPU can be used, or None when `nvidia-smi -L` lists one."""
    problem = _probe(["nvidia-smi", "-L"])
    return f"no NVIDIA GPU: {problem}" if problem else None


@dataclass(frozen=True)
class PathChoice:
    """Which way `make up` runs the stack, and why."""

    use_compose: bool
    reason: str


def choose_path(engine_problem: str | None, gpu_problem: str | None) -> PathChoice:
    """Compose when both an engine and a GPU are there; else the local path, saying why."""
    missing = [p for p in (engine_problem, gpu_problem) if p]
    if not missing:
        return PathChoice(True, "Docker engine and NVIDIA GPU found: running Docker Compose")
    return PathChoice(False, "; ".join(missing) + " -> running the local path (no Docker)")


def compose_command() -> list[str]:
    """`docker compose` (v2 plugin) with this project's compose file."""
    return ["docker", "compose", "--project-directory", str(PROJECT_ROOT), "-f", str(COMPOSE_FILE)]


def compose_environment() -> dict[str, str]:
    """The environment compose runs with: compose.yaml requires TRITON_CONTROL_KEY on every
    command (up, ps, down alike), the key of .stack/control.key unless one is exported."""
    from stack_settings.control_key import ensure_control_key  # noqa: PLC0415 (needs .env)

    return os.environ | {"TRITON_CONTROL_KEY": ensure_control_key()}


def _compose(*args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*compose_command(), *args],
        check=check,
        capture_output=capture,
        text=True,
        env=compose_environment(),
    )


def client_service() -> str:
    """The client service of the active profile (client, or client-cpu)."""
    services = _compose("config", "--services", capture=True).stdout.split()
    clients = [s for s in services if s.startswith("client")]
    if len(clients) != 1:
        raise RuntimeError(
            f"expected one client service in the active profiles, found {clients}: "
            "set COMPOSE_PROFILES to exactly one of gpu, cpu, trt, profile"
        )
    return clients[0]


def up(report_dir: Path) -> int:
    """Build, start, wait for the client's load run, copy its report out."""
    _compose("up", "--detach", "--build")
    client = client_service()
    print(f"\n==> waiting for `{client}` to finish its load run", flush=True)
    exit_code = int(_compose("wait", client, capture=True).stdout.strip() or 1)
    report_dir.mkdir(parents=True, exist_ok=True)
    _compose("cp", f"{client}:/reports/latest/.", str(report_dir), check=False)
    _compose("logs", "--no-color", client, check=False)
    if exit_code != 0:
        print(f"error: `{client}` exited {exit_code}; see `docker compose logs {client}`")
        return exit_code
    from stack_settings import get  # noqa: PLC0415 (keeps this module importable without .env)

    print(f"\nreport: {report_dir} (one folder per model: summary.json, summary.csv)")
    print(f"grafana: http://{get('PUBLISH_ADDRESS')}:{get('GRAFANA_PORT')} (anonymous viewer)")
    print("triton keeps serving until `make down`")
    return 0


def is_running() -> bool:
    """True when this project has compose containers (running or stopped)."""
    if docker_engine_problem():
        return False
    result = _compose("ps", "--all", "--quiet", check=False, capture=True)
    return result.returncode == 0 and bool(result.stdout.strip())


def down() -> int:
    """Stop and remove the compose stack's containers (volumes are kept)."""
    return _compose("down", "--remove-orphans", check=False).returncode
