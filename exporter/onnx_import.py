"""Bring-your-own ONNX: `python -m exporter add model.onnx --name X` copies a file in and configures it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError
from onnx.external_data_helper import uses_external_data

from exporter.model_config import (
    ServingOptions,
    UnsupportedModelError,
    build_model_config,
    parse_pbtxt,
    to_pbtxt,
)
from exporter.repository import staged_model_dir, write_atomic


class OnnxImportError(ValueError):
    """An ONNX file that cannot be served; the message names the file and the fix."""


def _external_files(model: onnx.ModelProto, source: Path) -> list[str]:
    """Relative locations of the external-data files the graph's tensors point to."""
    locations: set[str] = set()
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        tensors += [a.t for a in node.attribute if a.HasField("t")]
    for tensor in tensors:
        if not uses_external_data(tensor):
            continue
        entry = {e.key: e.value for e in tensor.external_data}
        location = entry.get("location", "")
        path = Path(location)
        if path.is_absolute() or ".." in path.parts or not location:
            raise OnnxImportError(
                f"{source}: tensor {tensor.name!r} keeps its data at {location!r}; only paths "
                f"relative to the model file, inside its folder, can be copied. Re-save with "
                f"onnx.save(model, path, save_as_external_data=True, location='weights.bin')"
            )
        if not (source.parent / path).is_file():
            raise OnnxImportError(
                f"{source}: external data file {location!r} of tensor {tensor.name!r} is missing "
                f"next to the model; copy it beside {source.name}"
            )
        locations.add(location)
    return sorted(locations)


def check_onnx_file(source: Path) -> onnx.ModelProto:
    """Load the graph (weights stay on disk) after the full ONNX checker; errors name the file."""
    if not source.is_file():
        raise OnnxImportError(f"ONNX file {source} not found; check the path")
    try:
        model = onnx.load(str(source), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise OnnxImportError(
            f"{source} is not a readable ONNX model ({type(exc).__name__}: {exc}); "
            f"re-export it or check that the download/copy is complete"
        ) from exc
    _external_files(model, source)  # before the checker: a clearer message for missing data
    try:
        # Path-based so models with external data (and over 2 GB) are checked whole.
        onnx.checker.check_model(str(source), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        opsets = ", ".join(f"{d.domain or 'ai.onnx'}:{d.version}" for d in model.opset_import)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OnnxImportError(
            f"{source} fails the ONNX checker (opset {opsets}): {first}. Fix the graph or "
            f"re-export with an opset where every op exists (torch.onnx.export(..., opset_version=18))"
        ) from exc
    return model


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def add_onnx(
    source: Path,
    name: str,
    repository: Path,
    options: ServingOptions,
    version: int = 1,
) -> Path:
    """Copy `source` (and its external data) into `repository/name/<version>/` with a config.

    Other versions already there are kept; the whole model folder is swapped in atomically.
    """
    source = Path(source)
    if not name or "/" in name or name.startswith("."):
        raise OnnxImportError(f"model name {name!r}: use a plain folder name such as 'my_model'")
    if version < 1:
        raise OnnxImportError(f"version {version}: Triton versions are integers >= 1")
    model = check_onnx_file(source)
    external = _external_files(model, source)
    filename = source.name if source.suffix == ".onnx" else "model.onnx"
    options = ServingOptions(**{**options.__dict__, "default_model_filename": filename})
    try:
        config = build_model_config(name, model, options)
    except UnsupportedModelError as exc:
        raise OnnxImportError(f"{source}: {exc}") from exc
    text = to_pbtxt(config)
    with staged_model_dir(repository, name) as model_dir:
        _keep_other_versions(repository / name, model_dir, version, filename)
        version_dir = model_dir / str(version)
        version_dir.mkdir()
        _link_or_copy(source, version_dir / filename)
        for location in external:
            _link_or_copy(source.parent / location, version_dir / location)
        write_atomic(model_dir / "config.pbtxt", text.encode())
    return repository / name


def _keep_other_versions(current: Path, model_dir: Path, version: int, filename: str) -> None:
    """Carry the model's other versions over (hard links: big weights are not copied).

    One default_model_filename serves every version, so their files take the new name;
    external data is found relative to the folder, not the file name, so this is safe.
    """
    if not (current / "config.pbtxt").is_file():
        return
    previous = parse_pbtxt((current / "config.pbtxt").read_text()).default_model_filename
    previous = previous or "model.onnx"
    for entry in current.iterdir():
        if entry.is_dir() and entry.name.isdigit() and entry.name != str(version):
            shutil.copytree(entry, model_dir / entry.name, copy_function=_hardlink_or_copy)
            if previous != filename and (model_dir / entry.name / previous).exists():
                os.rename(model_dir / entry.name / previous, model_dir / entry.name / filename)


def _hardlink_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
