"""The compose stack as the `stack` fixture: the local-path assertions run against it.

pytest-docker brings compose.yaml (+ compose.e2e.yaml) up on a host with a Docker engine and
an NVIDIA GPU. Anywhere else every test here skips, saying what is missing, BEFORE
pytest-docker runs any compose command.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest

from local_stack import compose_stack
from stack_settings.control_key import ensure_control_key
from tests.conftest import PORT_BASE, PROJECT_ROOT, TEST_PORTS
from tests.stack import RunningStack, exported

# Offsets above the local test server's ports (tests/conftest.py uses PORT_BASE + 0..2).
E2E_PORTS = {
    "CLIENT_METRICS_PORT": str(PORT_BASE + 40),
    "PROMETHEUS_PORT": str(PORT_BASE + 41),
    "GRAFANA_PORT": str(PORT_BASE + 42),
}
READY_TIMEOUT_S = 900.0  # first run builds two images and pulls the NGC image


def missing_requirement() -> str | None:
    """Why the compose stack cannot run here (engine first, then GPU), or None."""
    return compose_stack.docker_engine_problem() or compose_stack.gpu_problem()


@pytest.fixture(scope="session")
def e2e_environment(repository, stack_environment):
    """Compose's interpolation variables for the test stack, set in os.environ."""
    values = E2E_PORTS | {
        "COMPOSE_PROFILES": "gpu",
        "E2E_WORKSPACE": str(Path(repository).parent),
        "E2E_UID": str(os.getuid()),
        "E2E_GID": str(os.getgid()),
        # compose.yaml requires it; the tests' control_headers() read the same key (run dir file)
        "TRITON_CONTROL_KEY": ensure_control_key(),
    }
    with exported(values):
        yield values


@pytest.fixture(scope="session")
def docker_compose_file() -> list[str]:
    return [str(PROJECT_ROOT / "compose.yaml"), str(Path(__file__).with_name("compose.e2e.yaml"))]


@pytest.fixture(scope="session")
def docker_compose_project_name() -> str:
    return f"triton-onnx-stack-e2e-{PORT_BASE}"


@pytest.fixture(scope="session")
def docker_cleanup() -> list[str]:
    return ["down --volumes --remove-orphans"]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def compose_stack_running(request) -> RunningStack:
    """The compose stack, up and idle (its client's load run finished)."""
    problem = missing_requirement()
    if problem:
        pytest.skip(problem)
    repository = request.getfixturevalue("repository")  # small models + test-only configs
    request.getfixturevalue("e2e_environment")
    services = request.getfixturevalue("docker_services")  # runs `docker compose up`
    http = f"127.0.0.1:{TEST_PORTS['TRITON_HTTP_PORT']}"
    services.wait_until_responsive(
        check=lambda: _ready(f"http://{http}/v2/health/ready"), timeout=READY_TIMEOUT_S, pause=2
    )
    # The client's own load run must be over before tests count metrics.
    exit_code = services._docker_compose.execute("wait client").decode().strip()
    assert exit_code == "0", f"compose client exited {exit_code}: see `docker compose logs client`"
    return RunningStack(
        http=http,
        grpc=f"127.0.0.1:{TEST_PORTS['TRITON_GRPC_PORT']}",
        metrics_url=f"http://127.0.0.1:{TEST_PORTS['TRITON_METRICS_PORT']}/metrics",
        repository=Path(repository),
    )


@pytest.fixture(scope="session")
def stack(compose_stack_running) -> RunningStack:
    """Overrides tests/conftest.py's local stack: same assertions, compose underneath."""
    return compose_stack_running
