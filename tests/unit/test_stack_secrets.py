"""Compose's secrets, run for real on folders standing in for the volumes (no engine needed).

docker/stack/keygen.py (the keygen service) and docker/stack/triton-entrypoint.sh (triton's start)
run here under the same python3 and bash the containers use; the e2e test runs them in compose.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from local_stack.triton_command import restricted_api_args

ROOT = Path(__file__).resolve().parents[2]
KEYGEN = ROOT / "docker" / "stack" / "keygen.py"
ENTRYPOINT = ROOT / "docker" / "stack" / "triton-entrypoint.sh"
SEED = "seeded-key-0123456789abcdef"


@pytest.fixture
def volumes(tmp_path) -> Path:
    """The two volume mount points keygen writes into (compose mounts them under /secrets)."""
    (tmp_path / "control-key").mkdir()
    (tmp_path / "grafana").mkdir()
    return tmp_path


def keygen(volumes: Path, *args: str, seed: str = "") -> subprocess.CompletedProcess:
    env = os.environ | {"STACK_SECRETS_ROOT": str(volumes), "TRITON_CONTROL_KEY": seed}
    return subprocess.run(
        [sys.executable, str(KEYGEN), *args], capture_output=True, text=True, env=env, timeout=30
    )


def key_of(volumes: Path) -> str:
    return (volumes / "control-key" / "control.key").read_text().strip()


def test_first_up_generates_a_key_only_the_secrets_group_reads(volumes):
    result = keygen(volumes, "ensure")
    assert result.returncode == 0, result.stderr
    key_file = volumes / "control-key" / "control.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o440
    assert key_file.stat().st_gid == os.getegid()
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o750
    key = key_of(volumes)
    assert len(key) >= 43
    assert key not in result.stdout + result.stderr  # never printed unasked
    assert "generated" in result.stdout
    password = volumes / "grafana" / "admin-password"
    assert stat.S_IMODE(password.stat().st_mode) == 0o440 and len(password.read_text()) > 24
    assert list(volumes.glob("*/.*")) == []  # no staging file left


def test_later_ups_keep_the_key_and_the_password(volumes):
    keygen(volumes, "ensure")
    key, password = key_of(volumes), (volumes / "grafana" / "admin-password").read_text()
    result = keygen(volumes, "ensure")
    assert result.returncode == 0 and "kept" in result.stdout
    assert key_of(volumes) == key
    assert (volumes / "grafana" / "admin-password").read_text() == password


def test_a_seeded_key_wins_and_a_bad_one_is_refused_naming_it(volumes):
    keygen(volumes, "ensure")
    assert keygen(volumes, "ensure", seed=SEED).returncode == 0
    assert key_of(volumes) == SEED
    bad = keygen(volumes, "ensure", seed="short")
    assert bad.returncode == 2
    assert "TRITON_CONTROL_KEY must be at least 16 characters" in bad.stderr
    assert key_of(volumes) == SEED


def test_show_prints_on_request_and_rotate_replaces(volumes):
    keygen(volumes, "ensure")
    old = key_of(volumes)
    shown = keygen(volumes, "show", "control-key")
    assert shown.returncode == 0 and shown.stdout.strip() == old
    rotated = keygen(volumes, "rotate")
    assert rotated.returncode == 0 and "docker compose restart triton" in rotated.stdout
    assert key_of(volumes) != old and old not in rotated.stdout
    unknown = keygen(volumes, "show", "root-password")
    assert unknown.returncode == 2 and "control-key, grafana-admin-password" in unknown.stderr


def test_without_its_volume_keygen_says_so(tmp_path):
    result = keygen(tmp_path, "ensure")
    assert result.returncode == 2
    assert "is not mounted" in result.stderr


def entrypoint(key_file: Path, apis: str | None = None) -> subprocess.CompletedProcess:
    """The entrypoint with a stand-in tritonserver that prints the arguments it got."""
    env = os.environ | {"CONTROL_KEY_FILE": str(key_file), "CONTROL_KEY_HEADER": "tos-control-key"}
    env.pop("TRITON_RESTRICTED_APIS", None)
    if apis is not None:
        env["TRITON_RESTRICTED_APIS"] = apis
    stand_in = ["printf", "%s\\n", "tritonserver", "--model-repository=/m"]
    return subprocess.run(
        ["bash", str(ENTRYPOINT), *stand_in], capture_output=True, text=True, env=env, timeout=30
    )


@pytest.mark.parametrize(
    "apis", [None, "model-repository,trace,logging", "none"], ids=["default", "no-shm", "none"]
)
def test_the_entrypoint_appends_the_flags_triton_args_gives(tmp_path, monkeypatch, apis):
    """Compose's triton gets the same restricted-API flags as the local path, for each setting."""
    key_file = tmp_path / "control.key"
    key_file.write_text(SEED + "\n")
    result = entrypoint(key_file, apis)
    assert result.returncode == 0, result.stderr
    if apis is not None:
        monkeypatch.setenv("TRITON_RESTRICTED_APIS", apis)
    else:
        monkeypatch.delenv("TRITON_RESTRICTED_APIS", raising=False)
    expected = ["tritonserver", "--model-repository=/m", *restricted_api_args(SEED)]
    assert result.stdout.splitlines() == expected


def test_the_entrypoint_refuses_to_start_triton_without_a_readable_key(tmp_path):
    missing = entrypoint(tmp_path / "absent.key")
    assert missing.returncode == 2
    assert "docker compose logs keygen" in missing.stderr and "tritonserver" not in missing.stdout
    bad = tmp_path / "bad.key"
    bad.write_text("has spaces and ; semicolons\n")
    refused = entrypoint(bad)
    assert refused.returncode == 2 and "keygen rotate" in refused.stderr
