"""`make images` (docker/build-images.sh) before `make prereqs`: it names what is missing and the fix."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import PROJECT_ROOT

# A docker CLI with an engine but no compose plugin, as on a fresh machine: the words are docker's.
DOCKER_WITHOUT_COMPOSE = """#!/bin/sh
case "$1" in
  info) echo 20.10.24 ;;
  *) echo "unknown shorthand flag: 'f' in -f" >&2; exit 125 ;;
esac
"""


@pytest.fixture
def docker_without_compose(tmp_path) -> str:
    """A PATH whose `docker` answers `info` and refuses every compose command."""
    folder = tmp_path / "bin"
    folder.mkdir()
    docker = folder / "docker"
    docker.write_text(DOCKER_WITHOUT_COMPOSE)
    docker.chmod(0o755)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


def test_images_without_compose_v2_names_it_and_make_prereqs(docker_without_compose):
    result = subprocess.run(
        [str(PROJECT_ROOT / "docker" / "build-images.sh")],
        env=os.environ | {"PATH": docker_without_compose},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "no Docker Compose v2: `docker compose version` failed" in line
    assert "`sudo make prereqs` installs what is missing" in line
    assert "base image" not in result.stdout  # stopped before the minute-long debootstrap
