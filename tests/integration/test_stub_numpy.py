"""The silent-data-loss trap: Triton 2.51's stub returns EMPTY outputs under numpy 2.

A venv with numpy 2 first on PATH is what the stub would embed. Both guards must fire:
the launcher refuses to start, and the backend itself refuses to load the model.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from local_stack import server
from tests.conftest import ports_at


@pytest.fixture(scope="module")
def numpy2_env(tmp_path_factory) -> dict[str, str]:
    """A server environment whose python has numpy 2 (downloaded once per session)."""
    folder = tmp_path_factory.mktemp("numpy2-venv")
    venv.create(folder, with_pip=True)
    result = subprocess.run(
        [
            str(folder / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "numpy>=2,<3",
            "onnxruntime",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(
            f"could not install numpy 2 into a venv (no package index?): {result.stderr[-300:]}"
        )
    env = server.server_environment()
    env["PATH"] = f"{folder / 'bin'}:{env['PATH']}"
    env["VIRTUAL_ENV"] = str(folder)
    return env


def test_controlled_environment_has_numpy_1():
    assert server.check_stub_environment(server.server_environment()).startswith("1.")


def test_launcher_refuses_numpy_2(numpy2_env):
    with pytest.raises(server.ServerStartError, match="numpy 2"):
        server.check_stub_environment(numpy2_env)


def test_backend_refuses_to_load_under_numpy_2(numpy2_env, repository, tmp_path, monkeypatch):
    # Bypass the launcher's check to prove the backend's own guard: the model must fail to
    # load loudly instead of serving empty outputs.
    for port, value in ports_at(10).items():
        monkeypatch.setenv(port, value)
    # The guard is our backend's (NVIDIA's has no Python); python-backend models have the same trap.
    monkeypatch.setenv("TRITON_ONNXRUNTIME_BACKEND", "python")
    one_model = tmp_path / "repo"
    shutil.copytree(repository / "simple_transformer", one_model / "simple_transformer")
    with pytest.raises(server.ServerStartError) as failure:
        server.start(
            one_model, tmp_path / "run", timeout=120, env=numpy2_env, check_environment=False
        )
    assert "needs numpy<2" in str(failure.value)
    assert sys.executable  # the test's own interpreter keeps numpy 1 (sanity)
    assert not server.is_ready()
    assert Path(tmp_path / "run" / "pids" / "tritonserver.pid").exists() is False
