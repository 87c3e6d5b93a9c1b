"""TRITON_RESTRICTED_APIS on the real server: both documented settings, both kinds of client.

The default (model-repository, shared-memory, trace, logging) refuses a plain tritonclient shm
script, with the fix in its message; `model-repository,trace,logging` lets it register system
shm with no key, while the repository API still needs the key. Our client works under both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tests.conftest import PROJECT_ROOT, ports_at, run_module, running_stack
from tests.stack import exported

SCRIPT = PROJECT_ROOT / "scripts" / "plain_shm_client.py"
NO_SHM_RESTRICTION = "model-repository,trace,logging"
PROTOCOLS = ["http", "grpc"]
# Triton serves NVIDIA's backend with ONNX Runtime 1.19.2; the reference is the venv's ORT.
RTOL, ATOL = 1e-4, 1e-4


@pytest.fixture(scope="module")
def open_shm_stack(repository, tmp_path_factory):
    """A server on a copy of the test repository with shared-memory left open."""
    from local_stack import server  # noqa: PLC0415

    root = tmp_path_factory.mktemp("open-shm")
    copy = root / "model_repository"
    shutil.copytree(repository, copy, symlinks=True)
    ports = ports_at(73)
    with exported(ports | {"TRITON_RESTRICTED_APIS": NO_SHM_RESTRICTION}):
        process = server.start(copy, root / "run")
    try:
        yield running_stack(ports, copy, process.log_file)
    finally:
        process.stop()


def plain_client(url: str, protocol: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """The script as a user runs it: no key anywhere in its environment."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("TRITON_CONTROL_KEY", "CONTROL_KEY_FILE")
    }
    save = tmp_path / f"{protocol}.npz"
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--url", url, "--protocol", protocol, "--save", str(save)],
        cwd=tmp_path,  # no .env above it: nothing of ours is read
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def url_of(stack, protocol: str) -> str:
    return stack.http if protocol == "http" else stack.grpc


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_plain_shm_client_works_when_shared_memory_is_left_open(open_shm_stack, protocol, tmp_path):
    result = plain_client(url_of(open_shm_stack, protocol), protocol, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "regions unregistered" in result.stdout
    saved = np.load(tmp_path / f"{protocol}.npz")
    model = open_shm_stack.repository / "simple_transformer" / "1" / "model.onnx"
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    (expected,) = session.run(None, {session.get_inputs()[0].name: saved["input"]})
    np.testing.assert_allclose(saved["output"], expected, rtol=RTOL, atol=ATOL)
    assert not list(Path("/dev/shm").glob("*_plain_*")), "the script left a region behind"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_plain_shm_client_is_refused_under_the_default_with_the_fix(stack, protocol, tmp_path):
    result = plain_client(url_of(stack, protocol), protocol, tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "is restricted, expecting header" in result.stderr
    assert "TRITON_RESTRICTED_APIS=model-repository,trace,logging" in result.stderr
    assert "make key" in result.stderr and "docs/security.md" in result.stderr


def test_leaving_shared_memory_open_keeps_the_repository_api_keyed(open_shm_stack):
    import tritonclient.http as httpclient  # noqa: PLC0415
    from tritonclient.utils import InferenceServerException  # noqa: PLC0415

    from stack_settings.control_key import control_headers  # noqa: PLC0415

    client = httpclient.InferenceServerClient(open_shm_stack.http)
    with pytest.raises(InferenceServerException, match="is restricted, expecting header"):
        client.get_model_repository_index()
    assert client.get_model_repository_index(headers=control_headers())


@pytest.mark.parametrize("which", ["default", "open-shm"])
def test_our_client_runs_a_verified_shm_load_under_both_settings(
    stack, open_shm_stack, which, tmp_path
):
    target = stack if which == "default" else open_shm_stack
    host, port = target.http.rsplit(":", 1)
    env = os.environ | {"TRITON_HOST": host, "TRITON_HTTP_PORT": port}
    result = run_module(
        "client",
        "--model", "simple_transformer", "--protocol", "http", "--shm", "system",
        "--requests", "4", "--verify", "--report", str(tmp_path),
        env=env, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (summary,) = json.loads(next(tmp_path.rglob("summary.json")).read_text())
    assert summary["requests_failed"] == 0 and summary["requests_ok"] >= 4, summary
