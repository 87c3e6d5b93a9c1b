"""The control key: generated on first use (0600, atomic), rotated, checked, sent, explained."""

from __future__ import annotations

import multiprocessing
import os
import stat

import pytest

import stack_settings
from local_stack.triton_command import (
    API_GROUPS,
    RESTRICTED_APIS,
    restricted_api_args,
    restricted_apis,
    triton_args,
)
from stack_settings import control_key
from stack_settings.control_key import (
    ControlKeyError,
    control_headers,
    ensure_control_key,
    refusal_fix,
    rotate_control_key,
)
from tests.conftest import run_module


@pytest.fixture
def key_file(tmp_path, monkeypatch):
    """A fresh key location; no key from the environment."""
    path = tmp_path / "run" / "control.key"
    monkeypatch.setenv("CONTROL_KEY_FILE", str(path))
    monkeypatch.delenv("TRITON_CONTROL_KEY", raising=False)
    monkeypatch.delenv("TRITON_RESTRICTED_APIS", raising=False)
    return path


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_use_generates_a_private_key_once(key_file):
    assert control_headers() == {}
    old_umask = os.umask(0)  # the file must be 0600 whatever the umask
    try:
        key = ensure_control_key()
    finally:
        os.umask(old_umask)
    assert control_key.KEY_PATTERN.fullmatch(key) and len(key) >= 40
    assert mode(key_file) == 0o600
    assert key_file.read_text() == key + "\n"
    assert ensure_control_key() == key
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["control.key"]  # no staging


def _first_use(_):
    return ensure_control_key()


def test_processes_racing_on_first_use_agree_on_one_key(key_file):
    with multiprocessing.get_context("fork").Pool(4) as pool:
        keys = set(pool.map(_first_use, range(8)))
    assert keys == {key_file.read_text().strip()}


def test_rotation_replaces_the_key_and_keeps_it_private(key_file):
    old = ensure_control_key()
    assert rotate_control_key() == key_file
    new = ensure_control_key()
    assert new != old and mode(key_file) == 0o600
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["control.key"]


def test_rotate_command_writes_a_new_key(key_file, tmp_path):
    old = ensure_control_key()
    env = os.environ | {"STACK_RUN_DIR": str(tmp_path / "run")}  # no local server there
    result = run_module("launcher", "key", "rotate", env=env, timeout=120)
    assert str(key_file) in result.stdout and "no local tritonserver running" in result.stdout
    assert ensure_control_key() != old and mode(key_file) == 0o600


def test_a_key_file_others_can_read_is_refused_naming_the_fix(key_file):
    ensure_control_key()
    key_file.chmod(0o644)
    with pytest.raises(ControlKeyError, match=rf"chmod 600 {key_file}"):
        ensure_control_key()


def test_key_from_the_environment_wins_and_is_checked(key_file, monkeypatch):
    monkeypatch.setenv("TRITON_CONTROL_KEY", "from-env-0123456789abcdef")
    assert ensure_control_key() == "from-env-0123456789abcdef"
    assert not key_file.exists()
    assert set(control_headers().values()) == {"from-env-0123456789abcdef"}
    with pytest.raises(ControlKeyError, match="rotate it where it is set"):
        rotate_control_key()
    for bad in ("short", "has:colon-and=equals-0123456789", "spaces in the key 0123456789"):
        monkeypatch.setenv("TRITON_CONTROL_KEY", bad)
        with pytest.raises(ControlKeyError, match="TRITON_CONTROL_KEY: the control key must"):
            ensure_control_key()


def test_headers_carry_the_key_under_each_protocols_name(key_file):
    key = ensure_control_key()
    assert control_headers("http") == {"tos-control-key": key}
    assert control_headers("grpc") == {"triton-grpc-protocol-tos-control-key": key}
    assert control_headers() == control_headers("http") | control_headers("grpc")


def test_server_flags_restrict_the_control_apis_with_the_key(key_file):
    key = ensure_control_key()
    restriction = f"model-repository,shared-memory,trace,logging:tos-control-key={key}"
    assert restricted_api_args() == [
        f"--http-restricted-api={restriction}",
        f"--grpc-restricted-protocol={restriction}",
    ]
    assert set(RESTRICTED_APIS).isdisjoint({"health", "metadata", "inference", "statistics"})
    assert triton_args("/models")[-2:] == restricted_api_args()
    # The chart passes a reference its pod spec fills from a Secret (argument or environment).
    assert restricted_api_args("$(KEY)")[0].endswith(":tos-control-key=$(KEY)")


def test_restricted_apis_are_a_setting(key_file, monkeypatch):
    """TRITON_RESTRICTED_APIS picks the groups behind the key; `none` drops the flags (and the
    key: no file is generated)."""
    assert set(RESTRICTED_APIS) <= set(API_GROUPS)
    monkeypatch.setenv("TRITON_RESTRICTED_APIS", " model-repository , trace,logging ")
    assert restricted_apis() == ("model-repository", "trace", "logging")
    assert restricted_api_args("k" * 16)[0] == (
        f"--http-restricted-api=model-repository,trace,logging:tos-control-key={'k' * 16}"
    )
    monkeypatch.setenv("TRITON_RESTRICTED_APIS", "none")
    assert restricted_api_args() == [] and not key_file.exists()
    assert not any("restricted" in arg for arg in triton_args("/models"))


@pytest.mark.parametrize("setting", ["shared-memroy", "", "trace,trace", "none,trace"])
def test_a_bad_restricted_apis_setting_names_itself_and_the_choices(key_file, monkeypatch, setting):
    monkeypatch.setenv("TRITON_RESTRICTED_APIS", setting)
    with pytest.raises(stack_settings.SettingError) as error:
        restricted_apis()
    message = str(error.value)
    assert "TRITON_RESTRICTED_APIS" in message and "model-repository" in message
    assert "docs/security.md" in message


def test_a_kubernetes_reference_passes_as_the_key(key_file, monkeypatch):
    monkeypatch.setenv("TRITON_CONTROL_KEY", "$(TRITON_CONTROL_KEY)")
    assert restricted_api_args()[1].endswith(":tos-control-key=$(TRITON_CONTROL_KEY)")


@pytest.mark.parametrize(
    "message",
    [
        "This API is restricted, expecting header 'tos-control-key'",
        "[StatusCode.UNAVAILABLE] This protocol is restricted, expecting header "
        "'triton-grpc-protocol-tos-control-key'",
    ],
)
def test_refusal_names_the_header_the_file_and_the_setting(key_file, message):
    fix = refusal_fix(message)
    header = message.rsplit("'", 2)[1]
    assert f"send header '{header}'" in fix
    assert str(key_file) in fix and "CONTROL_KEY_FILE" in fix and "TRITON_CONTROL_KEY" in fix
    assert "TRITON_RESTRICTED_APIS" in fix and "make key" in fix


def test_other_errors_get_no_key_advice():
    assert refusal_fix("[StatusCode.UNAVAILABLE] failed to connect to all addresses") is None
