"""Triton's trace extension: switch TIMESTAMPS tracing on for one model, then restore it.

Triton 2.51 refuses to move the trace file over the network, so the server is started with
`--trace-config=triton,file=...` (local_stack/triton_command.py) and tracing OFF; here only
level, rate, count and log frequency change, for one model, and are put back afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Iterator

from profiling.errors import ProfilingError
from profiling.http_api import call

# The settings a model can have of its own (the file is the server's, see above).
SETTING_KEYS = ("trace_level", "trace_rate", "trace_count", "log_frequency")


def global_setting(url: str) -> dict:
    """The server-wide trace setting."""
    return call(url, "/v2/trace/setting")


def model_setting(url: str, model: str) -> dict:
    """The trace setting in force for `model` (its own, or the global one it mirrors)."""
    return call(url, f"/v2/models/{model}/trace/setting")


def update_model_setting(url: str, model: str, values: dict) -> dict:
    """POST new values for `model`; None clears a value back to the global one."""
    return call(url, f"/v2/models/{model}/trace/setting", values)


def trace_file(url: str, model: str) -> str:
    """The server-side trace file path; an error naming the fix when the server has none."""
    path = model_setting(url, model).get("trace_file", "")
    if not path:
        raise ProfilingError(
            f"Triton at {url} was started without a trace file: start it with "
            f"--trace-config=triton,file=<path> (local_stack/triton_command.py does)"
        )
    return path


def indexed_files(local_trace_file: str) -> set[str]:
    """The `<trace file>.<n>` files Triton has written so far (one per log_frequency batch)."""
    return {
        p for p in glob.glob(glob.escape(local_trace_file) + ".*") if p.rsplit(".", 1)[1].isdigit()
    }


@contextlib.contextmanager
def tracing(url: str, model: str, log_frequency: int = 100) -> Iterator[dict]:
    """Trace every request of `model` (TIMESTAMPS, rate 1) inside the block; restore after.

    A model that mirrored the global setting before goes back to mirroring it (values
    cleared, not copied), so later global changes still reach it.
    """
    before = model_setting(url, model)
    mirrored = all(before.get(k) == v for k, v in global_setting(url).items() if k in SETTING_KEYS)
    on = {
        "trace_level": ["TIMESTAMPS"],
        "trace_rate": "1",
        "trace_count": "-1",
        # Every N traces go to <file>.<k>; the rest when the setting is replaced (restore).
        "log_frequency": str(log_frequency),
    }
    update_model_setting(url, model, on)
    try:
        yield before
    finally:
        restore = (
            {k: None for k in SETTING_KEYS} if mirrored else {k: before[k] for k in SETTING_KEYS}
        )
        update_model_setting(url, model, restore)


def server_path_here(server_path: str, server_dir: str, local_dir: str | None) -> str:
    """Where a file the server wrote under `server_dir` is seen from here (compose volumes)."""
    if not local_dir:
        return server_path
    relative = os.path.relpath(server_path, server_dir)
    return os.path.join(local_dir, relative)
