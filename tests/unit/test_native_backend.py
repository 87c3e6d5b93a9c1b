"""The native backend's build script and setting, without building anything."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from local_stack import native_backend
from stack_settings import SettingError
from tests.stack import exported

# What build.sh runs before it looks for the compiler, CMake and the Debian headers.
SHELL_TOOLS = ("bash", "dirname", "sed", "tail", "mkdir")


@pytest.fixture
def bare_path(tmp_path) -> str:
    """A PATH with the shell tools only: no cmake, make, g++ (a machine without build tools)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in SHELL_TOOLS:
        (folder / tool).symlink_to(shutil.which(tool))
    return str(folder)


def test_build_without_tools_exits_3_naming_the_packages_and_the_fallback(bare_path, tmp_path):
    env = os.environ | {"PATH": bare_path, "NATIVE_BACKEND_BUILD_DIR": str(tmp_path / "out")}
    result = subprocess.run(
        ["bash", str(native_backend.BUILD_SCRIPT), "cpu"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 3, result.stderr
    assert "cmake" in result.stderr and "apt-get install" in result.stderr
    assert "TRITON_ONNXRUNTIME_BACKEND=python" in result.stderr


def test_make_up_falls_back_to_ours_loudly_where_it_cannot_build(bare_path, tmp_path, capsys):
    settings = {
        "PATH": bare_path,
        "NATIVE_BACKEND_BUILD_DIR": str(tmp_path / "out"),
        "NATIVE_BACKEND_VARIANT": "cpu",
        "TRITON_ONNXRUNTIME_BACKEND": "native",
    }
    with exported(settings):
        with pytest.raises(native_backend.BuildToolsMissing):
            native_backend.ensure_built("cpu")  # the server itself refuses
        native_backend.fall_back_when_unbuildable()  # make up serves with ours, and says so
        assert os.environ["TRITON_ONNXRUNTIME_BACKEND"] == "python"
    assert "serving with our Python-based backend" in capsys.readouterr().out


def test_an_unknown_backend_setting_names_the_choices():
    setting = {"TRITON_ONNXRUNTIME_BACKEND": "tensorrt"}
    with exported(setting), pytest.raises(SettingError, match="native, python"):
        native_backend.chosen_backend()


def test_an_unknown_variant_is_refused():
    setting = {"NATIVE_BACKEND_VARIANT": "rocm"}
    with exported(setting), pytest.raises(SettingError, match="auto, cpu or gpu"):
        native_backend.chosen_variant()
