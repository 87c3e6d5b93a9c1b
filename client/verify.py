"""In-process ONNX Runtime reference for checking what the server returns."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Server and reference may run different ORT builds or devices (CPU here, CUDA in the
# NGC image): fp32 kernels differ in summation order, so allow small absolute and
# relative error. Same build on the same CPU gives exactly 0.
VERIFY_ATOL = 1e-3
VERIFY_RTOL = 1e-3


class ReferenceUnavailableError(RuntimeError):
    """The model file for --verify cannot be found or loaded."""


def model_file(repository: Path, model: str, version: str, config: dict) -> Path:
    """<repository>/<model>/<version>/<default_model_filename> (highest version if unset)."""
    folder = repository / model
    if not folder.is_dir():
        raise ReferenceUnavailableError(
            f"--verify needs the model files: {folder} does not exist "
            f"(set --model-repository or MODEL_REPOSITORY to the served repository)"
        )
    if not version:
        numeric = sorted((int(p.name) for p in folder.iterdir() if p.name.isdigit()), reverse=True)
        if not numeric:
            raise ReferenceUnavailableError(f"no version folders under {folder}")
        version = str(numeric[0])
    filename = config.get("default_model_filename") or "model.onnx"
    return folder / version / filename


class Reference:
    """Runs the same ONNX file in this process and compares outputs."""

    def __init__(self, path: Path):
        import onnxruntime as ort  # noqa: PLC0415 - only needed with --verify

        if not path.is_file():
            raise ReferenceUnavailableError(f"--verify: model file {path} not found")
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.output_names = [o.name for o in self.session.get_outputs()]
        self._cache: dict[int, dict[str, np.ndarray]] = {}

    def __call__(self, inputs: dict[str, np.ndarray], version: str = "") -> dict[str, np.ndarray]:
        # Each worker reuses its inputs, so compute the reference once per input set.
        key = id(inputs)
        if key not in self._cache:
            outputs = self.session.run(self.output_names, inputs)
            self._cache[key] = dict(zip(self.output_names, outputs, strict=False))
        return self._cache[key]

    @staticmethod
    def compare(actual: np.ndarray, expected: np.ndarray) -> tuple[float, bool]:
        """(max abs diff, within tolerance); a shape or dtype mismatch is never ok."""
        if actual.shape != expected.shape or actual.size == 0:
            return float("inf"), False
        if expected.dtype == object:
            return 0.0 if np.array_equal(actual, expected) else float("inf"), np.array_equal(
                actual, expected
            )
        diff = float(np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64))))
        return diff, bool(np.allclose(actual, expected, atol=VERIFY_ATOL, rtol=VERIFY_RTOL))


class VersionedReference:
    """One Reference per model version, opened when a response first names that version.

    During a rollout two versions answer; each response is checked against its own.
    """

    def __init__(self, repository: Path, model: str, version: str, config: dict):
        self.repository, self.model, self.config = repository, model, config
        first = Reference(model_file(repository, model, version, config))  # fails early
        self.default = version
        self._by_version = {version: first}

    def __call__(self, inputs: dict[str, np.ndarray], version: str = "") -> dict:
        if version not in self._by_version:
            path = model_file(self.repository, self.model, version, self.config)
            self._by_version[version] = Reference(path)
        return self._by_version[version](inputs)

    compare = staticmethod(Reference.compare)


class NoReference:
    """Stands in when --verify is off."""

    def __call__(self, inputs, version=""):
        raise AssertionError("verification is off")
