"""User models: a PyTorch module named by import path plus an example input spec.

Registered from the command line (`--user-model pkg.mod:Factory --input-shape 3,32,32`) or a
TOML file (`--model-file models.toml`), so nobody edits our code to add a model:

    [[model]]
    name = "tiny_mlp"                 # Triton model name
    module = "my_models.mlp:TinyMLP"  # import path: a nn.Module class or a factory function
    input_shape = [16]                # one sample, without the batch dimension
    kwargs = { hidden = 32 }          # optional, passed to the class/factory
    python_path = "src"               # optional, relative to the TOML file
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import sys
from pathlib import Path

import torch

from exporter.models import ModelSpec

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


class UserModelError(ValueError):
    """A user model spec that cannot be resolved; the message names the model and the fix."""


def _resolve(name: str, import_path: str):
    module_name, _, attribute = import_path.partition(":")
    if not module_name or not attribute:
        raise UserModelError(
            f"user model {name!r}: import path {import_path!r} must look like 'package.module:Name'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserModelError(
            f"user model {name!r}: cannot import {module_name!r} ({exc}); put it on PYTHONPATH "
            f"or set python_path in the model file"
        ) from exc
    try:
        factory = getattr(module, attribute)
    except AttributeError as exc:
        raise UserModelError(
            f"user model {name!r}: module {module_name!r} has no {attribute!r}"
        ) from exc
    return module, factory


def _source_digest(module) -> str:
    """Hash of the module's source, so editing the model re-exports it."""
    try:
        return hashlib.sha256(inspect.getsource(module).encode()).hexdigest()[:16]
    except (OSError, TypeError):
        return "no-source"


def user_model(
    name: str, import_path: str, input_shape: list[int], kwargs: dict | None = None
) -> ModelSpec:
    """A ModelSpec for a user's module; fails early (import, build, one forward) with a named error."""
    if not name.replace("_", "").replace("-", "").isalnum():
        raise UserModelError(f"user model name {name!r}: use letters, digits, '_' or '-'")
    shape = tuple(int(d) for d in input_shape)
    if not shape or any(d <= 0 for d in shape):
        raise UserModelError(
            f"user model {name!r}: input_shape {list(input_shape)} needs positive dims"
        )
    module, factory = _resolve(name, import_path)
    arguments = dict(kwargs or {})

    def build() -> torch.nn.Module:
        torch.manual_seed(0)  # same weights every export, so parity and re-runs are reproducible
        built = factory(**arguments)
        if not isinstance(built, torch.nn.Module):
            raise UserModelError(
                f"user model {name!r}: {import_path} returned {type(built).__name__}, "
                f"not a torch.nn.Module"
            )
        return built.eval()

    settings = (
        ("import_path", import_path),
        ("kwargs", repr(sorted(arguments.items()))),
        ("source", _source_digest(module)),
    )
    return ModelSpec(name=name, build=build, sample_shape=shape, settings=settings)


def load_model_file(path: Path) -> dict[str, ModelSpec]:
    """All [[model]] entries of a TOML model file."""
    if not path.is_file():
        raise UserModelError(f"model file {path} not found")
    try:
        document = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UserModelError(f"model file {path}: not valid TOML ({exc})") from exc
    specs: dict[str, ModelSpec] = {}
    for index, entry in enumerate(document.get("model", [])):
        missing = [k for k in ("name", "module", "input_shape") if k not in entry]
        if missing:
            raise UserModelError(f"model file {path}: [[model]] #{index + 1} lacks {missing}")
        if "python_path" in entry:
            extra = str((path.parent / entry["python_path"]).resolve())
            if extra not in sys.path:
                sys.path.insert(0, extra)
        specs[entry["name"]] = user_model(
            entry["name"], entry["module"], entry["input_shape"], entry.get("kwargs")
        )
    if not specs:
        raise UserModelError(f"model file {path}: no [[model]] entries")
    return specs
