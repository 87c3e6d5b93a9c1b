"""Fixtures of the reliability suite: a private server it may stop, kill and restart."""

from __future__ import annotations

import os

import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from stack_settings.control_key import control_headers
from tests.reliability.servers import PrivateServer, add_slow_model, private_server
from tests.reliability.tiny_models import write_doubler


def tos_files(pid: int) -> set[str]:
    """Client regions of one client process left in /dev/shm (named tos_<pid>_...).

    Filtered by pid: other checkouts' tests on this machine have regions of their own.
    """
    return {name for name in os.listdir("/dev/shm") if name.startswith(f"tos_{pid}_")}


def registered_regions(http: str) -> list[str]:
    """Names of system shared-memory regions the server at `http` still has registered."""
    status = httpclient.InferenceServerClient(http).get_system_shared_memory_status(
        headers=control_headers()
    )
    return [region["name"] for region in status]


def client_for(protocol: str, url: str):
    """A tritonclient client of either protocol."""
    module = httpclient if protocol == "http" else grpcclient
    return module.InferenceServerClient(url)


@pytest.fixture(scope="session")
def faults_server(tmp_path_factory) -> PrivateServer:
    """A server of our own (ports PORT_BASE+40..42) that tests may stop, kill and restart.

    Models: tiny_double (ONNX, y = x + x), slow_double (python, 50 ms per request) and
    slower_double (python, 3 s per request, for timeouts).
    """
    root = tmp_path_factory.mktemp("faults")
    repository = root / "model_repository"
    repository.mkdir()
    write_doubler(repository)
    add_slow_model(repository, "slow_double", sleep_s=0.05)
    add_slow_model(repository, "slower_double", sleep_s=3.0)
    with private_server(repository, root / "run", 40) as instance:
        yield instance


@pytest.fixture
def running(faults_server) -> PrivateServer:
    """The private server, (re)started if an earlier test left it stopped."""
    faults_server.start()
    return faults_server
