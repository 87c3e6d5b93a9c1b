"""The stack's secrets on `docker compose up`: the control key and Grafana's admin password.

Run as compose's one-shot `keygen` service (user 0:STACK_SECRETS_GID, no capabilities) before
triton, the client, the exporter and Grafana start. Each secret lives in its own named volume,
written atomically, mode 0440, group STACK_SECRETS_GID: only the services that mount the volume
AND have that group (group_add) can read it. Standard library only, so any Python image runs it.

    keygen.py ensure        keep what is there, else generate (TRITON_CONTROL_KEY, if set, wins)
    keygen.py rotate        a new control key (restart triton afterwards: it takes it as a flag)
    keygen.py show NAME     print one secret (control-key, grafana-admin-password): on request only
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path

SECRETS_ROOT = Path(os.environ.get("STACK_SECRETS_ROOT", "/secrets"))
FILES = {
    "control-key": Path("control-key") / "control.key",
    "grafana-admin-password": Path("grafana") / "admin-password",
}
# What Triton's flag and a request header can carry (= stack_settings/control_key.py).
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,}")
SECRET_MODE = 0o440
FOLDER_MODE = 0o750
SHOW_HOW = "docker compose run --rm keygen show control-key  (or `make key`)"


class KeygenError(RuntimeError):
    """A secret cannot be written or read; the message says what to do."""


def secret_path(name: str) -> Path:
    return SECRETS_ROOT / FILES[name]


def read_secret(path: Path) -> str | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return text or None


def write_secret(path: Path, value: str) -> None:
    """`value` into `path` atomically: a reader sees the old secret or the new one, never half."""
    folder = path.parent
    if not folder.is_dir():
        raise KeygenError(f"{folder} is not mounted: run keygen through compose (the volumes)")
    group = os.getegid()
    # The volume's root: no one outside the secrets group may even list it.
    os.chown(folder, -1, group)
    os.chmod(folder, FOLDER_MODE)
    staging = folder / f".{path.name}.{os.getpid()}"
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(value + "\n")
            out.flush()
            os.fchown(out.fileno(), -1, group)
            os.fchmod(out.fileno(), SECRET_MODE)
            os.fsync(out.fileno())
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def ensure_control_key() -> str:
    """The key Triton will require; returns how it was obtained (never the key itself)."""
    path = secret_path("control-key")
    seeded = os.environ.get("TRITON_CONTROL_KEY", "").strip()
    if seeded:
        if not KEY_PATTERN.fullmatch(seeded):
            raise KeygenError(
                "TRITON_CONTROL_KEY must be at least 16 characters of A-Z a-z 0-9 _ - "
                "(it goes into Triton's flag and a header); unset it to have one generated"
            )
        changed = read_secret(path) != seeded
        write_secret(path, seeded)  # also re-applies mode and group when unchanged
        return "taken from TRITON_CONTROL_KEY" if changed else "unchanged (TRITON_CONTROL_KEY)"
    existing = read_secret(path)
    if existing and KEY_PATTERN.fullmatch(existing):
        write_secret(path, existing)
        return "kept from an earlier up"
    write_secret(path, secrets.token_urlsafe(32))
    return "generated"


def ensure_grafana_password() -> str | None:
    path = secret_path("grafana-admin-password")
    if not path.parent.is_dir():
        return None  # this run mounts no Grafana volume
    existing = read_secret(path)
    write_secret(path, existing or secrets.token_urlsafe(24))
    return "kept" if existing else "generated"


def ensure() -> int:
    how = ensure_control_key()
    print(f"keygen: control key {how}, {secret_path('control-key')} (0440); read it: {SHOW_HOW}")
    grafana = ensure_grafana_password()
    if grafana:
        print(
            f"keygen: Grafana admin password {grafana}; read it: "
            "docker compose run --rm keygen show grafana-admin-password"
        )
    return 0


def rotate() -> int:
    write_secret(secret_path("control-key"), secrets.token_urlsafe(32))
    print(
        "keygen: new control key written; Triton still holds the old one until restarted: "
        "docker compose restart triton  (triton-cpu on the cpu profile)"
    )
    return 0


def show(name: str) -> int:
    if name not in FILES:
        raise KeygenError(f"unknown secret {name!r}: one of {', '.join(FILES)}")
    value = read_secret(secret_path(name))
    if value is None:
        raise KeygenError(f"no {name} yet: `docker compose up` writes it")
    print(value)
    return 0


def main(argv: list[str]) -> int:
    try:
        if argv == ["ensure"]:
            return ensure()
        if argv == ["rotate"]:
            return rotate()
        if len(argv) == 2 and argv[0] == "show":
            return show(argv[1])
        raise KeygenError(f"usage: keygen.py ensure | rotate | show {{{'|'.join(FILES)}}}")
    except (KeygenError, OSError) as error:
        print(f"keygen: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
