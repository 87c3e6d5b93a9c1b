"""Switches ONNX Runtime's profiler on for one model by reloading it with a config parameter.

The backend (backends/onnxruntime/ort_profile.py) profiles every instance whose config has
`parameters { key: "ort_profile_dir" }` and writes the profile when the instance is finalized:
so the model is reloaded with the parameter, driven, and reloaded with the config it had,
which finalizes the profiled instances. Ensembles using the model are reloaded with it.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator

from profiling.http_api import call

# The model-repository interface of our backend (the name is read there, not imported).
PARAMETER = "ort_profile_dir"


def _load(url: str, model: str, config: dict) -> None:
    call(url, f"/v2/repository/models/{model}/load", {"parameters": {"config": json.dumps(config)}})


@contextlib.contextmanager
def ort_profiling(url: str, model: str, server_dir: str) -> Iterator[None]:
    """Inside the block `model` runs with ORT's profiler writing to `server_dir` (server side)."""
    original = call(url, f"/v2/models/{model}/config")
    profiled = copy.deepcopy(original)
    profiled.setdefault("parameters", {})[PARAMETER] = {"string_value": server_dir}
    _load(url, model, profiled)
    try:
        yield
    finally:
        _load(url, model, original)
