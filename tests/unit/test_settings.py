"""`.env` is the single source of settings; the environment overrides it."""

from __future__ import annotations

import pytest

import stack_settings


def test_env_file_values_and_environment_override(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nA_PORT=8000\nNAME='quoted'\n\nREL=models\n")
    monkeypatch.setenv("STACK_ENV_FILE", str(env_file))
    stack_settings._file_values.cache_clear()
    try:
        assert stack_settings.get_int("A_PORT") == 8000
        assert stack_settings.get("NAME") == "quoted"
        assert stack_settings.get_path("REL") == tmp_path / "models"
        monkeypatch.setenv("A_PORT", "9000")
        assert stack_settings.get_int("A_PORT") == 9000
        with pytest.raises(stack_settings.SettingError, match="MISSING_ONE"):
            stack_settings.get("MISSING_ONE")
        monkeypatch.setenv("A_PORT", "eighty")
        with pytest.raises(stack_settings.SettingError, match="A_PORT='eighty' must be an integer"):
            stack_settings.get_int("A_PORT")
    finally:
        stack_settings._file_values.cache_clear()


def test_project_env_names_the_interface_settings():
    values = stack_settings.parse_env_file(stack_settings.find_env_file())
    for name in ("TRITON_HTTP_PORT", "TRITON_GRPC_PORT", "TRITON_METRICS_PORT", "MODEL_REPOSITORY"):
        assert name in values
