"""Settings shared by every service: `.env` first, the process environment on top.

compose.yaml reads the same `.env`, so a port or knob is written once. Services in
containers get the values as environment variables; the local path finds `.env` by
walking up from the working directory (or from STACK_ENV_FILE).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

ENV_FILE_NAME = ".env"


class StackError(RuntimeError):
    """A failure whose message names what went wrong and the fix: shown without a traceback."""


class SettingError(StackError):
    """A setting is missing or malformed."""


def find_env_file(start: Path | None = None) -> Path | None:
    """The `.env` that applies: STACK_ENV_FILE, else the nearest one above `start`."""
    explicit = os.environ.get("STACK_ENV_FILE")
    if explicit:
        return Path(explicit)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / ENV_FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def parse_env_file(path: Path) -> dict[str, str]:
    """Parse KEY=VALUE lines the way Docker Compose does for the simple cases we use."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise SettingError(f"{path}:{number}: expected KEY=VALUE, got {raw!r}")
        values[key.strip()] = value.strip().strip("'\"")
    return values


@lru_cache(maxsize=1)
def _file_values() -> tuple[Path | None, dict[str, str]]:
    path = find_env_file()
    return path, (parse_env_file(path) if path else {})


def env_file_path() -> Path | None:
    """Path of the `.env` in use (None inside containers that get plain env vars)."""
    return _file_values()[0]


def all_settings() -> dict[str, str]:
    """Every setting: the `.env` values overridden by the process environment."""
    _, values = _file_values()
    merged = dict(values)
    merged.update({k: v for k, v in os.environ.items() if k in values or k.isupper()})
    return merged


def get(name: str, default: str | None = None) -> str:
    """One setting as text; raises SettingError naming the variable when absent."""
    value = os.environ.get(name)
    if value is None:
        value = _file_values()[1].get(name, default)
    if value is None:
        where = env_file_path() or "the environment (no .env found)"
        raise SettingError(f"setting {name} is not set: add {name}=... to {where} or export it")
    return value


def get_int(name: str, default: int | None = None) -> int:
    """One setting as an integer, with an error naming it when it is not one."""
    text = get(name, None if default is None else str(default))
    try:
        return int(text)
    except ValueError as exc:
        raise SettingError(f"setting {name}={text!r} must be an integer") from exc


def get_path(name: str) -> Path:
    """A path setting; relative paths are taken from the folder holding `.env`."""
    path = Path(get(name)).expanduser()
    if not path.is_absolute():
        base = env_file_path()
        path = (base.parent if base else Path.cwd()) / path
    return path
