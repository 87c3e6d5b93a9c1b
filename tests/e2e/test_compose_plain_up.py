"""Plain `docker compose up -d` on a fresh project, as a user types it: no key exported, no make.

Run from the repository root with only the profile and the compose files chosen through the
environment (COMPOSE_PROFILES, COMPOSE_FILE), plus what keeps it beside the session's e2e stack
and quick on 2 cores: its own project name, host ports other than .env's, small models. No
control key, no -f, no --project-directory: compose reads compose.yaml and .env as it finds them.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

import stack_settings
from launcher import compose_runner
from local_stack import prometheus
from tests.conftest import PORT_BASE, PROJECT_ROOT, SMALL_MODELS
from tests.stack import repository_index_status

PROJECT = f"triton-onnx-stack-e2e-plain-{PORT_BASE}"  # .ci/run checks nothing of e2e-* is left
HOST_PORTS = {
    "TRITON_HTTP_PORT": PORT_BASE + 170,
    "TRITON_GRPC_PORT": PORT_BASE + 171,
    "TRITON_METRICS_PORT": PORT_BASE + 172,
    "CLIENT_METRICS_PORT": PORT_BASE + 173,
    "PROMETHEUS_PORT": PORT_BASE + 174,
    "ALERTMANAGER_PORT": PORT_BASE + 175,
    "GRAFANA_PORT": PORT_BASE + 176,
}
MODELS = ("simple_cnn", "simple_transformer")
ORT_ATOL = 1e-5
UP_TIMEOUT_S = 1200


@functools.cache
def compose_file_setting() -> str:
    """COMPOSE_FILE as a user sets it here: + the no-registry file where no registry answers
    (decided once: the probe may try a pull)."""
    files = [compose_runner.COMPOSE_FILE]
    if compose_runner.registry_problem(stack_settings.get("PYTHON_IMAGE")):
        files.append(compose_runner.NO_REGISTRY_FILE)
    return ":".join(str(p.relative_to(PROJECT_ROOT)) for p in files)


def plain_environment() -> dict[str, str]:
    """What a user's shell holds: PATH and HOME, the profile, the files; no key of any kind."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "DOCKER_HOST") if name in os.environ}
    env["COMPOSE_FILE"] = compose_file_setting()
    env["COMPOSE_PROFILES"] = "cpu"
    env["COMPOSE_PROJECT_NAME"] = PROJECT
    env |= {name: str(port) for name, port in HOST_PORTS.items()} | SMALL_MODELS
    env["LOAD_REQUESTS"] = "6"
    return env


def docker_compose(*args: str, check: bool = True, timeout: float = 600):
    return subprocess.run(
        ["docker", "compose", *args],
        cwd=PROJECT_ROOT,
        env=plain_environment(),
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


def state(service: str) -> dict:
    listed = docker_compose("ps", "--all", "--format", "json", service, check=False).stdout
    rows = [json.loads(line) for line in listed.splitlines() if line.strip()]
    return rows[0] if rows else {}


def labelled(kind: list[str]) -> list[str]:
    command = [
        "docker",
        *kind,
        "--quiet",
        "--filter",
        f"label=com.docker.compose.project={PROJECT}",
    ]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()


@pytest.fixture(scope="module")
def plain_up():
    """`docker compose up -d`, then until the client's load runs are over; `down -v` at the end."""
    if compose_runner.NO_REGISTRY_FILE.name in plain_environment()["COMPOSE_FILE"]:
        # `make images`, the step README names before a no-registry `up` (cached: seconds).
        subprocess.run([str(PROJECT_ROOT / "docker" / "build-images.sh")], check=True)
    try:
        up = docker_compose("up", "--detach", check=False, timeout=UP_TIMEOUT_S)
        assert up.returncode == 0, up.stderr[-3000:]
        deadline = time.monotonic() + UP_TIMEOUT_S
        while state("client-cpu").get("Health") != "healthy":
            assert state("client-cpu").get("State") != "exited", docker_compose("logs").stdout
            assert time.monotonic() < deadline, "client-cpu never finished its load runs"
            time.sleep(3)
        yield up
    finally:
        docker_compose("down", "--volumes", "--remove-orphans", check=False)


def in_client(path: str) -> dict | list:
    return json.loads(docker_compose("exec", "-T", "client-cpu", "cat", path).stdout)


def test_plain_up_serves_verified_outputs(plain_up):
    assert in_client("/reports/latest/status.json") == {
        "models": dict.fromkeys(MODELS, 0),
        "exit_code": 0,
    }
    for model in MODELS:
        (entry,) = in_client(f"/reports/latest/{model}/summary.json")
        assert entry["requests_failed"] == 0 and entry["verified"] == entry["requests_ok"] > 0
        assert entry["max_abs_diff"] <= ORT_ATOL, model


def test_logs_ps_and_config_work_and_never_show_the_key(plain_up):
    key = docker_compose("run", "--rm", "keygen", "show", "control-key").stdout.strip()
    assert len(key) >= 43
    ps = docker_compose("ps")
    assert "triton-cpu" in ps.stdout and "healthy" in ps.stdout
    logs = docker_compose("logs", "--no-color")
    assert "Started HTTPService" in logs.stdout
    assert "control key generated" in docker_compose("logs", "keygen").stdout
    config = docker_compose("config")
    for output in (ps.stdout, logs.stdout, logs.stderr, config.stdout, plain_up.stdout):
        assert key not in output


def test_the_key_is_unreadable_without_the_volume_or_the_group(plain_up):
    # prometheus mounts no key volume
    absent = docker_compose(
        "exec", "-T", "prometheus", "cat", "/control-key/control.key", check=False
    )
    assert absent.returncode != 0 and "No such file" in absent.stderr + absent.stdout
    # the volume, as the services' uid 1000 but without the secrets group (plain docker run)
    stranger = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--user", "1000:1000",
         "--volume", f"{PROJECT}_control-key:/control-key:ro", "--entrypoint", "cat",
         "triton-onnx-stack/client:local", "/control-key/control.key"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert stranger.returncode != 0 and "Permission denied" in stranger.stderr + stranger.stdout


def index_status(key: str | None) -> int:
    return repository_index_status(f"127.0.0.1:{HOST_PORTS['TRITON_HTTP_PORT']}", key)


def test_restricted_apis_refuse_without_the_key(plain_up):
    key = docker_compose("run", "--rm", "keygen", "show", "control-key").stdout.strip()
    assert index_status(None) == 403
    assert index_status("not-the-key-0123456789") == 403
    assert index_status(key) == 200


def test_prometheus_scrapes_on_the_standard_ports_whatever_the_host_ports(plain_up):
    base = f"http://127.0.0.1:{HOST_PORTS['PROMETHEUS_PORT']}"
    for job in ("triton", "client"):
        prometheus.wait_for(base, f'up{{job="{job}"}} == 1', bool, timeout=60)
    served = prometheus.wait_for(base, "sum(nv_inference_request_success)", bool, timeout=60)
    assert float(served[0]["value"][1]) > 0


def launcher_key(command: str, tmp_path) -> subprocess.CompletedProcess:
    """`make key` / `make rotate-key` against this project (local key file in tmp_path)."""
    env = plain_environment() | {
        "STACK_RUN_DIR": str(tmp_path / "run"),
        "CONTROL_KEY_FILE": str(tmp_path / "run" / "control.key"),
    }
    return subprocess.run(
        [sys.executable, "-m", "launcher", "key", command],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def wait_ready(timeout_s: float = 300) -> None:
    url = f"http://127.0.0.1:{HOST_PORTS['TRITON_HTTP_PORT']}/v2/health/ready"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, "triton not ready after the key rotation"
        time.sleep(2)


def test_make_key_shows_and_make_rotate_key_restarts_compose_triton(plain_up, tmp_path):
    shown = launcher_key("show", tmp_path)
    assert shown.returncode == 0, shown.stderr
    old = shown.stdout.strip()
    assert index_status(old) == 200
    rotated = launcher_key("rotate", tmp_path)
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert "compose's triton restarted" in rotated.stdout
    new = (tmp_path / "run" / "control.key").read_text().strip()
    wait_ready()
    assert launcher_key("show", tmp_path).stdout.strip() == new != old
    assert (index_status(old), index_status(new)) == (403, 200)


def test_down_volumes_leaves_nothing(plain_up):
    down = docker_compose("down", "--volumes", "--remove-orphans")
    assert down.returncode == 0
    for kind in (["ps", "--all"], ["volume", "ls"], ["network", "ls"]):
        assert labelled(kind) == [], f"docker {' '.join(kind)} still lists {PROJECT}'s"
