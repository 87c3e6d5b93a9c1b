"""Builds the model repository: export each model with both exporters, verify, publish the winner."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import onnx
import torch

from exporter import export as exporters
from exporter import models as model_defs
from exporter.model_config import ServingOptions, build_model_config, to_pbtxt
from exporter.models import ModelSpec
from exporter.repository import (
    RECORD_FILE,
    read_record,
    staged_model_dir,
    staging_prefix,
    staging_root,
    write_atomic,
)
from exporter.verify import verify

VERSION = "1"


@dataclass
class ModelOutcome:
    """Per model: what each exporter did, which one is served, and whether it was rebuilt."""

    name: str
    served_by: str | None = None
    skipped: bool = False  # nothing changed since the last export
    attempts: dict[str, dict] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.served_by is not None


def export_fingerprint(
    spec: ModelSpec, options: ServingOptions, preference: tuple[str, ...]
) -> str:
    """Hash of everything that changes the published model: source, sizes, versions, knobs."""
    digest = hashlib.sha256()
    digest.update(inspect.getsource(model_defs).encode())
    digest.update(inspect.getsource(exporters).encode())
    names = [spec.name, spec.input_name, spec.output_name]
    digest.update(json.dumps([*names, spec.settings, asdict(options), preference]).encode())
    digest.update(f"{torch.__version__} {onnx.__version__}".encode())
    return digest.hexdigest()


def _attempt(spec: ModelSpec, exporter: str, workdir: Path, batch_sizes: tuple[int, ...]) -> dict:
    path = workdir / f"{exporter}.onnx"
    result = exporters.export(spec, exporter, path)
    attempt = {"exported": result.ok, "export_seconds": round(result.seconds, 2)}
    if not result.ok:
        return attempt | {"checker": False, "parity": {}, "error": result.error}
    check = verify(spec, path, batch_sizes)
    return attempt | {
        "checker": check.checker,
        "shape_inference": check.shape_inference,
        "parity": {str(k): v for k, v in check.parity.items()},
        "error": check.error,
    }


def build_model(
    spec: ModelSpec,
    repository: Path,
    options: ServingOptions,
    preference: tuple[str, ...] = exporters.EXPORTERS,
    force: bool = False,
    progress=None,
    served_check: Callable[[str, str, Path], str | None] | None = None,
) -> ModelOutcome:
    """Export, verify and publish one model; the first passing exporter in `preference` wins.

    With `served_check(model, exporter, onnx_path)` (None when Triton answered like ORT, else
    the reason), each verified file must also be served correctly to count as passing.
    """
    fingerprint = export_fingerprint(spec, options, preference)
    previous = read_record(repository, spec.name)
    if not force and previous and previous.get("fingerprint") == fingerprint:
        outcome = ModelOutcome(spec.name, previous.get("served_by"), True, previous["attempts"])
        return outcome

    outcome = ModelOutcome(spec.name)
    batch_sizes = tuple(sorted({1, 2, options.default_max_batch_size}))
    staging = staging_root(repository)
    staging.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=staging_prefix(f"{spec.name}-export"), dir=staging))
    try:
        for exporter in preference:
            if progress:
                progress.set_postfix_str(f"{spec.name}: {exporter} export + verify")
            attempt = _attempt(spec, exporter, workdir, batch_sizes)
            outcome.attempts[exporter] = attempt
            if served_check and attempt["error"] is None:
                if progress:
                    progress.set_postfix_str(f"{spec.name}: {exporter} served by Triton?")
                path = workdir / f"{exporter}.onnx"
                attempt["served"] = served_check(spec.name, exporter, path) or True
            passed = attempt["error"] is None and attempt.get("served", True) is True
            if passed and outcome.served_by is None:
                outcome.served_by = exporter
        if outcome.served_by is None:
            return outcome
        winner = workdir / f"{outcome.served_by}.onnx"
        config = build_model_config(
            spec.name, onnx.load(str(winner), load_external_data=False), options
        )
        record = {
            "fingerprint": fingerprint,
            "served_by": outcome.served_by,
            "attempts": outcome.attempts,
        }
        with staged_model_dir(repository, spec.name) as model_dir:
            (model_dir / VERSION).mkdir()
            os.rename(winner, model_dir / VERSION / options.default_model_filename)
            write_atomic(model_dir / "config.pbtxt", to_pbtxt(config).encode())
            write_atomic(model_dir / RECORD_FILE, json.dumps(record, indent=2).encode())
        return outcome
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _served_cell(attempt: dict, is_winner: bool) -> str:
    served = attempt.get("served")
    if served is True:
        return "yes"
    if served:
        return "NO"
    return "unchecked" if is_winner else "-"


def print_summary(outcomes: list[ModelOutcome], stream=sys.stdout) -> None:
    """A table: model x exporter -> exported / checker / parity / served-by-Triton, and the winner."""
    header = (
        f"{'model':<22} {'exporter':<12} {'exported':<9} {'checker':<8} "
        f"{'parity (max abs diff)':<32} {'triton':<10} published"
    )
    print(header, file=stream)
    print("-" * len(header), file=stream)
    for outcome in outcomes:
        for exporter, attempt in outcome.attempts.items():
            parity = ", ".join(f"b{b}:{d:.1e}" for b, d in attempt.get("parity", {}).items())
            winner = outcome.served_by == exporter
            published = "<- published" if winner else ""
            if outcome.skipped and winner:
                published += " (unchanged, reused)"
            print(
                f"{outcome.name:<22} {exporter:<12} {str(attempt['exported']):<9} "
                f"{str(attempt['checker']):<8} {parity or '-':<32} "
                f"{_served_cell(attempt, winner):<10} {published}",
                file=stream,
            )
            for reason in (attempt.get("error"), attempt.get("served")):
                if isinstance(reason, str):
                    print(f"{'':<22} {'':<12} reason: {reason}", file=stream)
