"""The compose stack (cpu profile) as the `stack` fixture: the local-path assertions run against it.

pytest-docker brings compose.yaml (+ docker/compose.no-registry.yaml where no image registry
answers, + compose.e2e.yaml) up on a real Docker engine; `.ci/run` starts one. Without an engine
every test here skips, saying what is missing, BEFORE any fixture runs (pytest-docker's compose
commands, the export, or a test's own `docker` call).
"""

from __future__ import annotations

import functools
import os
import shlex
import subprocess
import urllib.request
from pathlib import Path

import pytest

import stack_settings
from launcher import compose_runner
from local_stack import triton_metrics
from stack_settings.control_key import ensure_control_key
from tests.conftest import PORT_BASE, PROJECT_ROOT
from tests.stack import RunningStack, exported

# Offsets 150..159: away from the local test server's and the other suites' ports, since the
# compose stack stays up for the whole session.
E2E_PORTS = {
    "TRITON_HTTP_PORT": str(PORT_BASE + 150),
    "TRITON_GRPC_PORT": str(PORT_BASE + 151),
    "TRITON_METRICS_PORT": str(PORT_BASE + 152),
    "CLIENT_METRICS_PORT": str(PORT_BASE + 153),
    "PROMETHEUS_PORT": str(PORT_BASE + 154),
    "ALERTMANAGER_PORT": str(PORT_BASE + 155),
    "GRAFANA_PORT": str(PORT_BASE + 156),
}
E2E_DIR = Path(__file__).parent
E2E_FILE = E2E_DIR / "compose.e2e.yaml"
PROJECT_NAME = f"triton-onnx-stack-e2e-{PORT_BASE}"
# Taken once the client's load runs are over, before any other test sends traffic.
SNAPSHOT: dict[str, dict[str, float]] = {}
READY_TIMEOUT_S = 1200.0  # first run on 2 cores: images (cached by `make images`) and the export


@functools.cache
def missing_requirement() -> str | None:
    """Why the compose stack cannot run here, or None (the cpu profile needs no GPU)."""
    return compose_runner.docker_engine_problem()


def pytest_collection_modifyitems(config, items) -> None:
    """Without an engine (or Compose v2), mark every e2e test skipped with the one-line reason.

    At collection, so no fixture of theirs runs first: a test that calls `docker` itself, or one
    whose fixtures export models, skips as the `stack` users do.
    """
    e2e_items = [item for item in items if E2E_DIR in item.path.parents]
    problem = missing_requirement() if e2e_items else None
    if problem:
        for item in e2e_items:
            item.add_marker(pytest.mark.skip(reason=problem))


def compose_files() -> list[Path]:
    """compose.yaml, the no-registry file where Docker Hub does not answer, the test override."""
    files = [compose_runner.COMPOSE_FILE]
    if compose_runner.registry_problem(stack_settings.get("PYTHON_IMAGE")):
        files.append(compose_runner.NO_REGISTRY_FILE)
    return [*files, E2E_FILE]


@pytest.fixture(scope="session")
def e2e_environment(repository, stack_environment, tmp_path_factory):
    """Compose's interpolation variables for the test stack (exported only around compose calls
    and e2e tests: the local-path tests of the same session keep their own ports)."""
    workspace = Path(repository).parent
    reports = tmp_path_factory.mktemp("e2e-reports")
    # Host ports other than .env's: inside the network the services keep their standard ports,
    # so Prometheus scrapes monitoring/prometheus as it is (instance kind: auto, from the profile).
    values = E2E_PORTS | {
        "COMPOSE_PROFILES": "cpu",
        "LOAD_REQUESTS": "8",
        "E2E_WORKSPACE": str(workspace),
        "E2E_REPORTS": str(reports),
        "E2E_UID": str(os.getuid()),
        "E2E_GID": str(os.getgid()),
        # Seeds the keygen service (as `make up` does): the tests' control_headers() read the
        # same key from the run dir. tests/e2e/test_compose_plain_up.py exports none.
        "TRITON_CONTROL_KEY": ensure_control_key(),
    }
    # compose_runner's helpers (and `docker compose` itself) read the files and project from here.
    values["COMPOSE_FILE"] = os.pathsep.join(str(p) for p in compose_files())
    values["COMPOSE_PROJECT_NAME"] = PROJECT_NAME
    return values


@pytest.fixture(autouse=True)
def in_e2e_environment(request):
    """Each e2e test runs with the e2e settings exported (compose_runner's helpers read them)."""
    with exported(request.getfixturevalue("e2e_environment")):
        yield


@pytest.fixture(scope="session")
def docker_compose_command(e2e_environment) -> str:
    """pytest-docker's compose, with the e2e settings in its environment only."""
    settings = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(e2e_environment.items()))
    return f"env {settings} docker compose"


@pytest.fixture(scope="session")
def docker_compose_file(e2e_environment) -> list[str]:
    return e2e_environment["COMPOSE_FILE"].split(os.pathsep)


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return PROJECT_NAME


@pytest.fixture(scope="session")
def docker_setup(e2e_environment) -> list[str]:
    """Images first (`make images` where no registry answers: cached, seconds), then up."""
    if str(compose_runner.NO_REGISTRY_FILE) in e2e_environment["COMPOSE_FILE"]:
        subprocess.run([str(PROJECT_ROOT / "docker" / "build-images.sh")], check=True)
        return ["up -d"]
    return ["up --build -d"]


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    return ["--profile '*' down --volumes --remove-orphans"]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def compose_runner_running(request) -> RunningStack:
    """The compose stack, up, its client's load runs over (client healthy, still scrapeable)."""
    repository = request.getfixturevalue("repository")  # small models + test-only configs
    with exported(request.getfixturevalue("e2e_environment")):
        return _bring_up(request, Path(repository))


def _bring_up(request, repository: Path) -> RunningStack:
    try:
        services = request.getfixturevalue("docker_services")  # runs `docker compose up`
    except Exception:
        # pytest-docker cleans up only after a successful setup: leave nothing behind.
        compose("--profile", "*", "down", "--volumes", "--remove-orphans", check=False)
        raise
    http = f"127.0.0.1:{E2E_PORTS['TRITON_HTTP_PORT']}"
    services.wait_until_responsive(
        check=lambda: _ready(f"http://{http}/v2/health/ready"), timeout=READY_TIMEOUT_S, pause=2
    )
    compose_runner.wait_for_client("client-cpu", "triton-cpu", timeout_s=READY_TIMEOUT_S)
    metrics_url = f"http://127.0.0.1:{E2E_PORTS['TRITON_METRICS_PORT']}/metrics"
    SNAPSHOT["triton_success"] = triton_metrics.per_model(
        "nv_inference_request_success", triton_metrics.read_samples(metrics_url)
    )
    return RunningStack(
        http=http,
        grpc=f"127.0.0.1:{E2E_PORTS['TRITON_GRPC_PORT']}",
        metrics_url=metrics_url,
        repository=repository,
    )


@pytest.fixture(scope="session")
def stack(compose_runner_running) -> RunningStack:
    """Overrides tests/conftest.py's local stack: same assertions, compose underneath."""
    return compose_runner_running


@pytest.fixture(scope="session")
def prometheus_base() -> str:
    return f"http://127.0.0.1:{E2E_PORTS['PROMETHEUS_PORT']}"


def compose(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """`docker compose` on the e2e project (files and project from the e2e environment)."""
    return subprocess.run(
        [*compose_runner.compose_command(), *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )
