"""The Docker Compose path of `make up`/`make down`, and the checks that pick it.

`make up` runs compose wherever a Docker engine answers: the gpu profile (NGC image) when an
NVIDIA GPU answers too, else the cpu profile (Triton built from docker/triton.Dockerfile).
Where no image registry answers, docker/compose.no-registry.yaml is added and every image is
built from Debian's archive and PyPI. Without an engine, the local path runs. STACK_RUNNER
(auto|compose|local) overrides the choice. The same checks give the e2e tests their skip reasons.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import stack_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = PROJECT_ROOT / "compose.yaml"
NO_REGISTRY_FILE = PROJECT_ROOT / "docker" / "compose.no-registry.yaml"
PROBE_TIMEOUT_S = 20
CLIENT_WAIT_S = 3600  # the seed-size export on 2 CPU cores takes minutes; a GPU host far less


class ComposeError(stack_settings.StackError):
    """The compose stack did not come up; the message names the service and the fix."""


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
    if problem:
        return f"no Docker engine: {problem}"
    problem = _probe(["docker", "compose", "version"])
    return f"no Docker Compose v2: {problem}" if problem else None


def gpu_problem() -> str | None:
    """Why no NVIDIA GPU can be used, or None when `nvidia-smi -L` lists one."""
    problem = _probe(["nvidia-smi", "-L"])
    return f"no NVIDIA GPU: {problem}" if problem else None


def registry_problem(image: str) -> str | None:
    """Why `image` cannot be had from its registry (None: present here or pulled)."""
    if _probe(["docker", "image", "inspect", image]) is None:
        return None
    problem = _probe(["docker", "pull", "--quiet", image])
    return f"no image registry answered: {problem}" if problem else None


@dataclass(frozen=True)
class PathChoice:
    """Which way `make up` runs the stack, and why."""

    use_compose: bool
    reason: str
    profile: str | None = None  # gpu or cpu when use_compose


def choose_path(engine: str | None, gpu: str | None, runner: str = "auto") -> PathChoice:
    """Compose wherever an engine answers (gpu profile with a GPU, else cpu); else local."""
    if runner == "local":
        return PathChoice(False, "STACK_RUNNER=local -> running the local path (no Docker)")
    if engine:
        if runner == "compose":
            raise ComposeError(f"STACK_RUNNER=compose, but {engine}: start Docker, or unset it")
        return PathChoice(False, f"{engine} -> running the local path (no Docker)")
    if gpu is None:
        return PathChoice(True, "Docker engine and NVIDIA GPU found: compose, gpu profile", "gpu")
    return PathChoice(
        True, f"Docker engine found, {gpu} -> compose, cpu profile (CPU Triton image)", "cpu"
    )


def compose_files() -> list[Path]:
    """COMPOSE_FILE (colon-separated, relative to the project) if set, else compose.yaml."""
    setting = stack_settings.get("COMPOSE_FILE", "")
    if not setting:
        return [COMPOSE_FILE]
    return [PROJECT_ROOT / part for part in setting.split(os.pathsep) if part]


def compose_command(files: list[Path] | None = None) -> list[str]:
    """`docker compose` (v2 plugin) with this project's compose files."""
    command = ["docker", "compose", "--project-directory", str(PROJECT_ROOT)]
    for path in files or compose_files():
        command += ["-f", str(path)]
    return command


def compose_environment() -> dict[str, str]:
    """The environment compose runs with. compose.yaml needs nothing exported (its keygen service
    generates a key); `make up` seeds keygen with .stack/control.key, so the local path, compose
    and `make rotate-key` share one key."""
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


def services() -> list[str]:
    """Services of the active profiles."""
    return _compose("config", "--services", capture=True).stdout.split()


def service_of(prefix: str) -> str:
    """The one service of the active profile whose name starts with `prefix` (client, triton)."""
    found = [s for s in services() if s.startswith(prefix)]
    if len(found) != 1:
        raise ComposeError(
            f"expected one {prefix} service in the active profiles, found {found}: "
            "set COMPOSE_PROFILES to exactly one of gpu, cpu, trt, profile"
        )
    return found[0]


def keygen(*args: str, capture: bool = False) -> subprocess.CompletedProcess:
    """The keygen service's command (docker/stack/keygen.py) in a one-off container, from the
    image `make up` used (the no-registry one where no registry answers)."""
    use_no_registry_where_needed()
    return _compose("run", "--rm", "--no-deps", "keygen", *args, capture=capture)


def restart_triton() -> None:
    """Triton takes the key as a flag: a restart re-reads the key volume (its entrypoint)."""
    _compose("restart", service_of("triton"))


def container_state(service: str) -> dict:
    """docker inspect's State of the service's container ({} when it has none)."""
    ids = _compose("ps", "--all", "--quiet", service, capture=True, check=False).stdout.split()
    if not ids:
        return {}
    result = subprocess.run(
        ["docker", "inspect", "--format", "{{json .State}}", ids[0]],
        capture_output=True,
        text=True,
        check=False,
    )
    return json.loads(result.stdout) if result.returncode == 0 else {}


def load_failures(service: str) -> str:
    """The server log's model-load failures (Triton's own reason), else its tail."""
    log = _compose("logs", "--no-color", "--tail", "300", service, capture=True, check=False)
    lines = log.stdout.splitlines()
    failures = [line for line in lines if "failed to load" in line or "Invalid argument" in line]
    return "\n".join(failures or lines[-20:])


def wait_for_client(client: str, triton: str, timeout_s: float = CLIENT_WAIT_S) -> None:
    """Until the client's load runs are over (healthy); names the service that stopped it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = container_state(client)
        if state.get("Health", {}).get("Status") == "healthy":
            return
        exporter = container_state("exporter")
        if exporter.get("Status") == "exited" and exporter.get("ExitCode"):
            raise ComposeError(
                f"the exporter exited {exporter['ExitCode']}, so triton never started: "
                "see `docker compose logs exporter`"
            )
        server = container_state(triton)
        if (
            server.get("Health", {}).get("Status") == "unhealthy"
            or server.get("Status") == "exited"
        ):
            raise ComposeError(
                f"`{triton}` did not become ready:\n{load_failures(triton)}\n"
                f"see `docker compose logs {triton}`; fix the model or its config, then `make up`"
            )
        if state.get("Status") == "exited":
            raise ComposeError(
                f"`{client}` exited {state.get('ExitCode')}: see `docker compose logs {client}`"
            )
        time.sleep(3)
    raise ComposeError(f"`{client}` did not finish within {timeout_s:.0f} s")


def configure(choice: PathChoice) -> list[str]:
    """Settings of this run into os.environ (compose reads them); returns what was decided."""
    notes = []
    if choice.profile == "cpu":
        if stack_settings.get("COMPOSE_PROFILES", "cpu") != "cpu":
            notes.append("no GPU: COMPOSE_PROFILES=cpu (instances KIND_CPU)")
        os.environ |= {"COMPOSE_PROFILES": "cpu", "CONTAINER_INSTANCE_KIND": "KIND_CPU"}
        problem = use_no_registry_where_needed()
        if problem:
            notes.append(
                f"{problem}\n    -> every image is built from Debian's archive and PyPI "
                "(`make images`); Grafana is left out (no image), Prometheus shows the data"
            )
    return notes


def use_no_registry_where_needed() -> str | None:
    """Add docker/compose.no-registry.yaml to COMPOSE_FILE (this process) where no registry
    answers and COMPOSE_FILE is not set; returns why, or None when nothing changed."""
    if stack_settings.get("COMPOSE_FILE", ""):
        return None
    problem = registry_problem(stack_settings.get("PYTHON_IMAGE"))
    if problem:
        files = [COMPOSE_FILE, NO_REGISTRY_FILE]
        os.environ["COMPOSE_FILE"] = os.pathsep.join(
            str(p.relative_to(PROJECT_ROOT)) for p in files
        )
    return problem


def served_by(triton: str) -> str:
    """Which ONNX Runtime backend the triton service runs (the NGC image's own, or the cpu image's)."""
    if triton != "triton-cpu":
        return "NVIDIA's onnxruntime_backend of the NGC image"
    if stack_settings.get("TRITON_ONNXRUNTIME_BACKEND", "native") == "python":
        return (
            "our Python-based backend (TRITON_ONNXRUNTIME_BACKEND=python in the triton-cpu image)"
        )
    return "NVIDIA onnxruntime_backend r24.10, built from source in the triton-cpu image"


def uses_no_registry_images() -> bool:
    return NO_REGISTRY_FILE in compose_files()


def build_images() -> None:
    """`make images`: the no-registry images (debootstrap base needs root)."""
    subprocess.run([str(PROJECT_ROOT / "docker" / "build-images.sh")], check=True)


def up(report_dir: Path, choice: PathChoice) -> int:
    """Build, start, wait for the client's load runs, copy its report out."""
    for note in configure(choice):
        print(f"==> {note}", flush=True)
    if uses_no_registry_images():
        build_images()
        _compose("up", "--detach")
    else:
        _compose("up", "--detach", "--build")
    client, triton = service_of("client"), service_of("triton")
    print(f"==> onnxruntime models served by {served_by(triton)}", flush=True)
    print(f"\n==> waiting for `{client}` to finish its load runs", flush=True)
    wait_for_client(client, triton)
    report_dir.mkdir(parents=True, exist_ok=True)
    _compose("cp", f"{client}:/reports/latest/.", str(report_dir), check=False)
    _compose("logs", "--no-color", client, check=False)
    status = json.loads((report_dir / "status.json").read_text())
    if status["exit_code"] != 0:
        print(f"error: load runs {status['models']}; see `docker compose logs {client}`")
        return status["exit_code"]
    get = stack_settings.get
    address = get("PUBLISH_ADDRESS")
    print(f"\nreport: {report_dir} (one folder per model: summary.json, summary.csv)")
    print(f"prometheus: http://{address}:{get('PROMETHEUS_PORT')}")
    print(f"alertmanager: http://{address}:{get('ALERTMANAGER_PORT')}")
    if "grafana" in services():
        print(f"grafana: http://{address}:{get('GRAFANA_PORT')} (anonymous viewer; admin password:")
        print("  `make key NAME=grafana-admin-password`)")
    else:
        print("grafana: left out (no Grafana image without a registry); its dashboard's queries")
        print("  run against Prometheus in the tests")
    print("the stack keeps serving until `make down`")
    return 0


def is_running() -> bool:
    """True when this project has compose containers (running or stopped)."""
    if docker_engine_problem():
        return False
    result = _compose("--profile", "*", "ps", "--all", "--quiet", check=False, capture=True)
    return result.returncode == 0 and bool(result.stdout.strip())


def down() -> int:
    """Stop and remove every profile's containers (volumes are kept)."""
    return _compose("--profile", "*", "down", "--remove-orphans", check=False).returncode
