"""Reading request data from perf_analyzer's JSON format and from a folder of tensors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

from client.model_info import ModelInfo, TensorInfo


class InputFileError(ValueError):
    """A data file the client cannot use (names the file, entry and tensor, and the fix)."""


def _np_dtype(tensor: TensorInfo):
    return np.dtype(object) if tensor.datatype == "BYTES" else np.dtype(tensor.np_dtype)


def sample(tensor: TensorInfo, value, where: str) -> np.ndarray:
    """One batch-1 tensor from a JSON value: a list, {"content","shape"} or {"b64"}."""
    dtype = _np_dtype(tensor)
    shape = list(tensor.dims)
    if isinstance(value, dict):
        if "shape" in value:
            shape = [int(d) for d in value["shape"]]
            if len(shape) != len(tensor.dims) or any(
                c not in (-1, d) for d, c in zip(shape, tensor.dims, strict=False)
            ):
                raise InputFileError(
                    f"{where}: shape {shape} does not fit {tensor.name!r}'s dims "
                    f"{list(tensor.dims)} (shapes are without the batch dim)"
                )
        if "b64" in value:
            raw = base64.b64decode(value["b64"])
            if tensor.datatype == "BYTES":
                array = np.array([raw], dtype=object)
            else:
                if len(raw) % dtype.itemsize:
                    raise InputFileError(
                        f"{where}: b64 holds {len(raw)} bytes, not a whole number of "
                        f"{tensor.datatype} values ({dtype.itemsize} bytes each)"
                    )
                array = np.frombuffer(raw, dtype=dtype)
        elif "content" in value:
            array = _from_list(value["content"], dtype)
        else:
            raise InputFileError(
                f"{where}: a tensor object needs 'content' (a list) or 'b64'; got keys "
                f"{sorted(value)}"
            )
    else:
        array = _from_list(value if isinstance(value, list) else [value], dtype)
    if -1 in shape:
        raise InputFileError(
            f"{where}: input {tensor.name!r} has dynamic dims {shape}; give the tensor as "
            f'{{"content": [...], "shape": [...]}} or pass --shape {tensor.name}:D1,D2,...'
        )
    count = int(np.prod(shape)) if shape else 1
    if array.size != count:
        raise InputFileError(
            f"{where}: {tensor.name!r} has {array.size} values but shape {shape} needs {count} "
            f"(shapes are without the batch dim)"
        )
    return array.reshape(shape)


def _from_list(values, dtype) -> np.ndarray:
    if dtype.kind == "O":
        flat = np.array(values, dtype=object).ravel()
        return np.array([v.encode() if isinstance(v, str) else bytes(v) for v in flat], object)
    return np.array(values, dtype=dtype).ravel()


def read_json(path: Path, model: ModelInfo) -> list[tuple[dict, dict | None]]:
    """(inputs, expected outputs or None) per entry of a perf_analyzer JSON file."""
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise InputFileError(f"--input-data {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(f"--input-data {path}: not JSON ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise InputFileError(
            f'--input-data {path}: expected {{"data": [{{"INPUT": [...]}}, ...]}} '
            f"(perf_analyzer's input data format)"
        )
    entries = _flatten_streams(document["data"])
    expected = document.get("validation_data")
    if expected is not None:
        expected = _flatten_streams(expected)
        if len(expected) != len(entries):
            raise InputFileError(
                f"--input-data {path}: {len(expected)} validation_data entries for "
                f"{len(entries)} data entries; give one per entry"
            )
    sets = []
    for number, entry in enumerate(entries):
        where = f"--input-data {path} data[{number}]"
        inputs = _tensors(model.inputs, entry, where, model.name)
        outputs = None
        if expected is not None:
            outputs = _tensors(
                model.outputs,
                expected[number],
                f"--input-data {path} validation_data[{number}]",
                model.name,
                partial=True,
            )
        sets.append((inputs, outputs))
    if not sets:
        raise InputFileError(f"--input-data {path}: 'data' is empty")
    return sets


def _flatten_streams(entries: list) -> list[dict]:
    # Sequence models give a list of streams (lists of steps); a stateless model takes them
    # one after another.
    flat = []
    for entry in entries:
        flat.extend(entry if isinstance(entry, list) else [entry])
    return flat


def _tensors(tensors, entry: dict, where: str, model: str, partial: bool = False) -> dict:
    if not isinstance(entry, dict):
        raise InputFileError(f"{where}: expected an object of tensors by name")
    known = {t.name for t in tensors}
    unknown = sorted(set(entry) - known)
    if unknown:
        raise InputFileError(
            f"{where}: {unknown[0]!r} is not a tensor of {model!r}; its names: "
            f"{', '.join(sorted(known))}"
        )
    out = {}
    for tensor in tensors:
        if tensor.name not in entry:
            if partial:
                continue  # validation_data may check only some outputs
            raise InputFileError(f"{where}: input {tensor.name!r} is missing")
        out[tensor.name] = sample(tensor, entry[tensor.name], f"{where}.{tensor.name}")
    return out


def read_folder(folder: Path, model: ModelInfo) -> dict:
    """One batch-1 sample per input: NAME.npy, NAME (raw row-major bytes) or NAME (text)."""
    inputs = {}
    for tensor in model.inputs:
        npy, raw = folder / f"{tensor.name}.npy", folder / tensor.name
        where = f"--input-data {folder}"
        if npy.is_file():
            array = np.load(npy, allow_pickle=False)
            if tensor.datatype == "BYTES":
                array = _from_list(array.tolist(), np.dtype(object))
            value = {"content": array.ravel().tolist(), "shape": list(array.shape)}
            if tensor.datatype != "BYTES":
                value = {"b64": base64.b64encode(array.astype(_np_dtype(tensor)).tobytes())}
                value["shape"] = list(array.shape)
            inputs[tensor.name] = sample(tensor, value, f"{where}/{npy.name}")
        elif raw.is_file():
            if tensor.datatype == "BYTES":
                lines = raw.read_text().splitlines()
                inputs[tensor.name] = sample(tensor, lines, f"{where}/{raw.name}")
            else:
                encoded = base64.b64encode(raw.read_bytes())
                inputs[tensor.name] = sample(tensor, {"b64": encoded}, f"{where}/{raw.name}")
        else:
            raise InputFileError(
                f"{where}: no file for input {tensor.name!r}; add {npy.name} or {raw.name} "
                f"(raw row-major {tensor.datatype} bytes, or one string per line for BYTES)"
            )
    return inputs
