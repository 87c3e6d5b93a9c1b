"""The key that guards Triton's control APIs (model repository, shared memory, trace, logging).

Every caller that uses a control API (client shm registration, exporter load/unload, optimizer,
rollout, tracing) sends `control_headers()`. The key comes from TRITON_CONTROL_KEY, else from the
0600 file CONTROL_KEY_FILE (default <STACK_RUN_DIR>/control.key); with neither, no header is sent.
Whatever starts a server calls `ensure_control_key()`, which generates the file on first use.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path

import stack_settings

DEFAULT_HEADER = "tos-control-key"  # lowercase: gRPC metadata keys must be
# Triton 2.51 looks for a restricted gRPC protocol's key under this prefix (tried on the binary:
# "This protocol is restricted, expecting header 'triton-grpc-protocol-<header>'").
GRPC_PREFIX = "triton-grpc-protocol-"
# The key travels in Triton's flag `<apis>:<header>=<key>` and in a header: URL-safe text only.
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,}")
# A Kubernetes $(VAR) reference: the chart's pod spec has the kubelet put the Secret's key there.
KEY_REFERENCE = re.compile(r"\$\([A-Z_][A-Z0-9_]*\)")
KEY_BYTES = 32  # secrets.token_urlsafe(32): 43 characters, 256 bits


# Triton 2.51's answer to a restricted API without the right key: HTTP 403 "This API is
# restricted, ...", gRPC UNAVAILABLE "This protocol is restricted, ..." (the server is up).
REFUSED_TEXT = re.compile(
    r"This (?:API|protocol) is restricted, expecting header '(?P<header>[^']*)'"
)


class ControlKeyError(stack_settings.StackError):
    """The configured key or its file cannot be used; the message names the setting and the fix."""


def control_key_file() -> Path:
    """Where the local path keeps the generated key."""
    explicit = os.environ.get("CONTROL_KEY_FILE") or stack_settings.get("CONTROL_KEY_FILE", "")
    if explicit:
        return Path(explicit).expanduser()
    return stack_settings.get_path("STACK_RUN_DIR") / "control.key"


def control_key() -> str | None:
    """The key in force, or None when none is configured."""
    from_env = os.environ.get("TRITON_CONTROL_KEY", "").strip()
    if from_env:
        return from_env
    path = control_key_file()
    if path.is_file():
        text = path.read_text().strip()
        return text or None
    return None


def control_header_name() -> str:
    """The request header (HTTP) / metadata key (gRPC) that carries the key."""
    return stack_settings.get("CONTROL_KEY_HEADER", DEFAULT_HEADER).lower()


def control_headers(protocol: str | None = None) -> dict[str, str]:
    """Headers to send on control-API calls ({} without a key).

    HTTP reads `<header>`, gRPC reads `triton-grpc-protocol-<header>`; with no protocol given both
    are returned, so one dict serves either tritonclient (each ignores the other's name).
    """
    key = control_key()
    if not key:
        return {}
    http = control_header_name()
    names = {"http": [http], "grpc": [GRPC_PREFIX + http], None: [http, GRPC_PREFIX + http]}
    return dict.fromkeys(names[protocol], key)


def refusal_fix(message: str) -> str | None:
    """How to fix Triton's refusal of a control API for want of the key; None for other errors."""
    refused = REFUSED_TEXT.search(message)
    if refused is None:
        return None
    return (
        f"this control API (one of the server's TRITON_RESTRICTED_APIS) needs the control key: "
        f"send header '{refused['header']}' with the key from {control_key_file()} "
        f"(CONTROL_KEY_FILE; or set TRITON_CONTROL_KEY; `make key` prints the stack's). Our "
        f"client, exporter and `make up` send it. For tools that cannot send it (tritonclient's "
        f"shm examples, perf_analyzer --shared-memory), start the server with that API group "
        f"left out of TRITON_RESTRICTED_APIS; see docs/security.md"
    )


def check_key(key: str, source: str) -> str:
    """The key, if Triton's flag and an HTTP header can carry it and it is long enough."""
    if not (KEY_PATTERN.fullmatch(key) or KEY_REFERENCE.fullmatch(key)):
        raise ControlKeyError(
            f"{source}: the control key must be at least 16 characters of A-Z a-z 0-9 _ - "
            f"(it goes into Triton's --http-restricted-api flag and a request header). "
            f"Generate one: python -m launcher key rotate"
        )
    return key


def _check_file_mode(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ControlKeyError(
            f"control key file {path} (CONTROL_KEY_FILE) has mode {mode:04o}: others can read the "
            f"key. Run: chmod 600 {path}  (or rotate it: python -m launcher key rotate)"
        )


def _write_private(path: Path, key: str, replace: bool) -> bool:
    """Write `key` to `path` atomically, mode 0600; False when it existed and `replace` is off."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            os.fchmod(out.fileno(), 0o600)  # whatever the umask says
            out.write(key + "\n")
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(staging, path)
            return True
        try:
            os.link(staging, path)  # fails if another process created it first: keep theirs
        except FileExistsError:
            return False
        return True
    finally:
        staging.unlink(missing_ok=True)


def ensure_control_key() -> str:
    """The key a server must require: TRITON_CONTROL_KEY, else the file, generated on first use."""
    from_env = os.environ.get("TRITON_CONTROL_KEY", "").strip()
    if from_env:
        return check_key(from_env, "TRITON_CONTROL_KEY")
    path = control_key_file()
    if not path.is_file():
        _write_private(path, secrets.token_urlsafe(KEY_BYTES), replace=False)
    _check_file_mode(path)
    return check_key(path.read_text().strip(), f"control key file {path} (CONTROL_KEY_FILE)")


def rotate_control_key() -> Path:
    """Replace the key file with a new key (atomically, 0600); returns the file."""
    if os.environ.get("TRITON_CONTROL_KEY", "").strip():
        raise ControlKeyError(
            "TRITON_CONTROL_KEY is set in the environment, and it wins over the key file: "
            "rotate it where it is set (or unset it to use the file)"
        )
    path = control_key_file()
    _write_private(path, secrets.token_urlsafe(KEY_BYTES), replace=True)
    return path
