"""The two PyTorch ONNX exporters, each run in isolation and its outcome recorded."""

from __future__ import annotations

import contextlib
import io
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from exporter.models import ModelSpec

EXPORTERS = ("torchscript", "dynamo")
OPSET = 18  # within what Triton 24.10's ONNX Runtime (1.19) and ours (1.32) run


@dataclass
class ExportResult:
    """What one exporter produced for one model."""

    exporter: str
    path: Path | None
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _export_torchscript(module: torch.nn.Module, spec: ModelSpec, path: Path) -> None:
    example = spec.example_input(1)
    torch.onnx.export(
        module,
        (example,),
        str(path),
        input_names=[spec.input_name],
        output_names=[spec.output_name],
        dynamic_axes={spec.input_name: {0: "batch"}, spec.output_name: {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,
    )


def _export_dynamo(module: torch.nn.Module, spec: ModelSpec, path: Path) -> None:
    # Example batch 2: with batch 1, torch.export may specialise the batch dim to 1.
    example = spec.example_input(2)
    batch = torch.export.Dim("batch", min=1, max=1024)
    program = torch.onnx.export(
        module,
        (example,),
        input_names=[spec.input_name],
        output_names=[spec.output_name],
        dynamic_shapes=({0: batch},),
        opset_version=OPSET,
        dynamo=True,
        verbose=False,
    )
    program.save(str(path))


# torch's own logger prints "torchvision is not installed" lines past our redirect.
logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)

_EXPORT_FUNCTIONS = {"torchscript": _export_torchscript, "dynamo": _export_dynamo}


def export(spec: ModelSpec, exporter: str, path: Path) -> ExportResult:
    """Export `spec` with one exporter to `path`; failures are captured, not raised."""
    module = spec.build()
    started = time.perf_counter()
    captured = io.StringIO()
    try:
        # The exporters print progress and warnings of their own; keep our output readable.
        # No torch.no_grad() here: under no_grad, nn.TransformerEncoder takes its fused fast
        # path (aten::_transformer_encoder_layer_fwd), which the TorchScript exporter rejects.
        with (
            warnings.catch_warnings(),
            contextlib.redirect_stdout(captured),
            contextlib.redirect_stderr(captured),
        ):
            warnings.simplefilter("ignore")
            _EXPORT_FUNCTIONS[exporter](module, spec, path)
    except Exception as exc:  # noqa: BLE001 - every exporter failure is an outcome to record
        message = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
        return ExportResult(exporter, None, time.perf_counter() - started, message[:500])
    return ExportResult(exporter, path, time.perf_counter() - started)
