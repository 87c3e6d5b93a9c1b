"""What the client needs to know about a served model, read from the server's config."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from tritonclient.utils import triton_to_np_dtype


class ModelSpecError(ValueError):
    """The model cannot be driven as asked (names the tensor and the fix)."""


@dataclass(frozen=True)
class TensorInfo:
    name: str
    datatype: str  # KServe name: FP32, INT64, ...
    dims: tuple[int, ...]  # without the batch dimension when the model batches

    @property
    def np_dtype(self):
        return triton_to_np_dtype(self.datatype)

    def shape(self, batch_size: int, batched: bool) -> list[int]:
        return [batch_size, *self.dims] if batched else list(self.dims)

    def byte_size(self, batch_size: int, batched: bool) -> int:
        if -1 in self.dims:
            raise ModelSpecError(
                f"tensor {self.name!r} has a dynamic dimension {list(self.dims)}; its size is "
                f"unknown before the request, so shared memory cannot be sized: use --shm none"
            )
        if self.datatype == "BYTES":
            raise ModelSpecError(
                f"tensor {self.name!r} is BYTES; use --shm none for string tensors"
            )
        count = int(np.prod(self.shape(batch_size, batched)))
        return count * np.dtype(self.np_dtype).itemsize


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    max_batch_size: int
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    composing: tuple[str, ...] = ()  # an ensemble's step models, in step order

    @property
    def batched(self) -> bool:
        return self.max_batch_size > 0

    def check_batch_size(self, batch_size: int) -> None:
        if batch_size < 1:
            raise ModelSpecError(f"batch size must be >= 1, got {batch_size}")
        if self.batched and batch_size > self.max_batch_size:
            raise ModelSpecError(
                f"batch size {batch_size} exceeds max_batch_size {self.max_batch_size} of model "
                f"{self.name!r}; use --batch-size <= {self.max_batch_size}"
            )
        if not self.batched and batch_size != 1:
            raise ModelSpecError(
                f"model {self.name!r} does not batch (max_batch_size 0); use --batch-size 1"
            )

    def with_shapes(self, shapes: dict[str, list[int]]) -> ModelInfo:
        """The model with --shape dims filled in (checked against the config's dims)."""
        names = [t.name for t in self.inputs]
        unknown = sorted(set(shapes) - set(names))
        if unknown:
            raise ModelSpecError(
                f"--shape names input {unknown[0]!r}, which model {self.name!r} does not have; "
                f"its inputs: {', '.join(names)}"
            )
        inputs = []
        for tensor in self.inputs:
            dims = shapes.get(tensor.name)
            if dims is None:
                inputs.append(tensor)
                continue
            fits = len(dims) == len(tensor.dims) and all(
                d == c or c == -1 for d, c in zip(dims, tensor.dims, strict=True)
            )
            if not fits:
                raise ModelSpecError(
                    f"--shape {tensor.name}:{','.join(map(str, dims))} does not fit the config's "
                    f"dims {list(tensor.dims)} of {self.name!r} (give every dim without the "
                    f"batch dim; only -1 dims may change)"
                )
            inputs.append(replace(tensor, dims=tuple(dims)))
        return replace(self, inputs=tuple(inputs))

    def make_inputs(self, batch_size: int, seed: int) -> dict[str, np.ndarray]:
        """Random inputs of the right shape and dtype (reproducible per seed)."""
        rng = np.random.default_rng(seed)
        arrays = {}
        for tensor in self.inputs:
            if -1 in tensor.dims:
                raise ModelSpecError(
                    f"input {tensor.name!r} of {self.name!r} has dynamic dims {list(tensor.dims)}; "
                    f"give its dims with --shape {tensor.name}:D1,D2,... (without the batch dim) "
                    f"or shaped --input-data"
                )
            shape = tensor.shape(batch_size, self.batched)
            dtype = np.dtype(tensor.np_dtype)
            if dtype.kind == "f":
                arrays[tensor.name] = rng.standard_normal(shape).astype(dtype)
            elif dtype.kind in "iu":
                arrays[tensor.name] = rng.integers(0, 100, shape).astype(dtype)
            elif dtype.kind == "b":
                arrays[tensor.name] = rng.integers(0, 2, shape).astype(bool)
            else:
                arrays[tensor.name] = np.array(
                    [str(v).encode() for v in rng.integers(0, 100, int(np.prod(shape)))],
                    dtype=object,
                ).reshape(shape)
        return arrays


def _tensors(entries: list[dict]) -> tuple[TensorInfo, ...]:
    return tuple(
        TensorInfo(
            e["name"],
            e["data_type"].removeprefix("TYPE_").replace("STRING", "BYTES"),
            tuple(int(d) for d in e.get("dims", [])),
        )
        for e in entries
    )


def from_config(config: dict, version: str = "") -> ModelInfo:
    """ModelInfo from a model config as the server returns it (HTTP JSON form)."""
    return ModelInfo(
        name=config["name"],
        version=version,
        max_batch_size=int(config.get("max_batch_size", 0)),
        inputs=_tensors(config.get("input", [])),
        outputs=_tensors(config.get("output", [])),
        composing=tuple(
            step["model_name"] for step in config.get("ensemble_scheduling", {}).get("step", [])
        ),
    )
