"""Checks an exported ONNX file: the ONNX checker, shape inference, and ORT-vs-PyTorch parity."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from exporter.models import ModelSpec

# Float32 ONNX Runtime vs PyTorch on CPU: kernels differ in summation order. Measured
# here: 1.2e-7 (CNN) and 2.6e-6 (Transformer, d_model 2048); the bound leaves room for
# other CPUs while still catching a wrong graph (errors there are O(0.1) and up).
PARITY_ATOL = 1e-4
PARITY_RTOL = 1e-4


@dataclass
class VerifyResult:
    """Outcome of each check; `error` names the first one that failed."""

    checker: bool = False
    shape_inference: bool = False
    parity: dict[int, float] = field(default_factory=dict)  # batch size -> max abs diff
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def check_onnx(path: Path) -> None:
    """Full ONNX checker (path-based, so models over 2 GB work) and strict shape inference."""
    onnx.checker.check_model(str(path), full_check=True)


def parity(spec: ModelSpec, path: Path, batch_sizes: tuple[int, ...]) -> dict[int, float]:
    """Max abs difference ORT vs PyTorch per batch size; raises AssertionError past tolerance."""
    module = spec.build()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    diffs: dict[int, float] = {}
    for offset, batch in enumerate(batch_sizes):
        sample = spec.example_input(batch, seed=100 + offset)  # fresh inputs, not the export's
        with torch.no_grad():
            expected = module(sample).numpy()
        (actual,) = session.run(None, {input_name: sample.numpy()})
        if actual.shape != expected.shape:
            raise AssertionError(
                f"batch {batch}: ONNX output shape {actual.shape} != PyTorch {expected.shape}"
            )
        diffs[batch] = float(np.max(np.abs(actual - expected)))
        if not np.allclose(actual, expected, atol=PARITY_ATOL, rtol=PARITY_RTOL):
            raise AssertionError(
                f"batch {batch}: max abs diff {diffs[batch]:.3g} exceeds "
                f"atol={PARITY_ATOL} rtol={PARITY_RTOL}"
            )
    return diffs


def verify(spec: ModelSpec, path: Path, batch_sizes: tuple[int, ...]) -> VerifyResult:
    """Run every check on one exported file and record how far it got."""
    result = VerifyResult()
    try:
        check_onnx(path)
        result.checker = True
        onnx.shape_inference.infer_shapes_path(str(path), str(path) + ".inferred", strict_mode=True)
        Path(str(path) + ".inferred").unlink()
        result.shape_inference = True
        result.parity = parity(spec, path, batch_sizes)
    except Exception as exc:  # noqa: BLE001 - recorded as the outcome of this check
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        result.error = f"{type(exc).__name__}: {first_line}"[:500]
    return result
