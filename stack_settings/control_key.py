"""The key that guards Triton's control APIs (model repository, shared memory, trace, logging).

Every caller that uses a control API (client shm registration, exporter load/unload, optimizer,
rollout, tracing) sends `control_headers()`. The key comes from TRITON_CONTROL_KEY, else from the
0600 file CONTROL_KEY_FILE (default <STACK_RUN_DIR>/control.key); with neither, no header is sent.
"""

from __future__ import annotations

import os
from pathlib import Path

import stack_settings

DEFAULT_HEADER = "tos-control-key"  # lowercase: gRPC metadata keys must be


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


def control_headers() -> dict[str, str]:
    """Headers to send on control-API calls: {header: key}, or {} without a key."""
    key = control_key()
    return {control_header_name(): key} if key else {}
