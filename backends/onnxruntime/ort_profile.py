"""ONNX Runtime's profiler for one model instance, switched on by a config parameter.

`parameters { key: "ort_profile_dir" value { string_value: "/some/dir" } }` makes every
instance write ORT's per-node profile there when it is finalized (model unload or reload).
ORT stamps its events in microseconds after a wall-clock start (std::chrono::system_clock),
while Triton's trace uses the monotonic clock: a sidecar `<profile>.clock.json` records both
clocks read together in this process, so `python -m profiling` can put ORT's nodes on
Triton's time axis.
"""

from __future__ import annotations

import json
import os
import time

PARAMETER = "ort_profile_dir"


def profile_dir(config: dict) -> str | None:
    """The directory the config asks profiles to go to, or None (profiling off)."""
    value = config.get("parameters", {}).get(PARAMETER, {}).get("string_value", "").strip()
    return value or None


def enable(options, config: dict) -> None:
    """Turn ORT's profiler on in `options` when the config asks for it."""
    directory = profile_dir(config)
    if directory is None:
        return
    os.makedirs(directory, exist_ok=True)
    options.enable_profiling = True
    # One stub process per instance: the pid keeps two instances' files apart.
    options.profile_file_prefix = os.path.join(
        directory, f"ort_{config.get('name', 'model')}_{os.getpid()}"
    )


def finish(session, config: dict) -> str | None:
    """Write the profile (ORT's end_profiling) and its clock sidecar; the profile's path."""
    if session is None or profile_dir(config) is None:
        return None
    path = session.end_profiling()
    if not path:
        return None
    sidecar = {
        "model": config.get("name", ""),
        "pid": os.getpid(),
        "profile": os.path.basename(path),
        "start_wall_ns": session.get_profiling_start_time_ns(),
        # Read back to back: their difference maps ORT's wall clock onto Triton's monotonic one.
        "wall_minus_monotonic_ns": time.time_ns() - time.monotonic_ns(),
    }
    # Written whole, then renamed: a reader polling for the sidecar never sees half of it.
    with open(path + ".clock.tmp", "w") as handle:
        json.dump(sidecar, handle)
    os.replace(path + ".clock.tmp", path + ".clock.json")
    return path
