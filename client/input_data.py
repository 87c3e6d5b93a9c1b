"""What each request carries and when it is sent: --input-data, --shape, --request-intervals."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from client.input_files import InputFileError, read_folder, read_json


class InputDataError(InputFileError):
    """An input file or flag the client cannot use (names the file or tensor and the fix)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The input-data and trace-replay flag group (perf_analyzer's names)."""
    group = parser.add_argument_group("inputs and trace replay (perf_analyzer's names)")
    group.add_argument(
        "--request-intervals",
        type=Path,
        metavar="FILE",
        help="replay send gaps: one interval in microseconds per line, looped; "
        "replaces --rate (concurrency caps the requests in flight)",
    )
    add_input_arguments(group)


def read_request_intervals(path: Path) -> tuple[float, ...]:
    """Gaps in seconds from a file of microseconds, one per line (blank lines skipped)."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise InputDataError(f"--request-intervals {path}: {exc.strerror}") from None
    gaps = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            gap_us = float(line)
        except ValueError:
            raise InputDataError(
                f"--request-intervals {path} line {number}: {line.strip()!r} is not a number; "
                f"write one interval in microseconds per line"
            ) from None
        if gap_us < 0:
            raise InputDataError(
                f"--request-intervals {path} line {number}: {gap_us:g} us is negative"
            )
        gaps.append(gap_us / 1e6)
    if not gaps or sum(gaps) <= 0:
        raise InputDataError(
            f"--request-intervals {path} holds no positive interval; write one interval in "
            f"microseconds per line"
        )
    return tuple(gaps)


def add_input_arguments(group) -> None:
    """--input-data and --shape, in the same group as --request-intervals."""
    group.add_argument(
        "--input-data",
        action="append",
        metavar="zero|random|DIR|FILE.json",
        help="request data: zero, random (default), a folder with one file per input "
        "(raw row-major bytes, NAME.npy, or text lines for BYTES), or perf_analyzer JSON "
        "({'data': [...], 'validation_data': [...]}; repeat to append files)",
    )
    group.add_argument(
        "--shape",
        action="append",
        default=[],
        metavar="NAME:D1,D2,...",
        help="dims of an input with dynamic (-1) dims, without the batch dim; repeatable",
    )


def parse_shapes(values: list[str]) -> dict[str, list[int]]:
    """--shape NAME:D1,D2 flags as {name: dims}."""
    shapes = {}
    for text in values:
        name, _, dims = text.rpartition(":")
        try:
            parsed = [int(d) for d in dims.split(",")]
        except ValueError:
            parsed = []
        if not name or not parsed or min(parsed) < 1:
            raise InputDataError(
                f"--shape {text!r}: expected NAME:D1,D2,... with dims >= 1, e.g. image:64,96,3"
            )
        shapes[name] = parsed
    return shapes


def load_input_sets(sources: list[str] | None, model, batch_size: int):
    """[(inputs, expected or None)] batched for the requests, or None for per-worker random."""
    if not sources or sources == ["random"]:
        return None
    if len(sources) > 1 and {"zero", "random"} & set(sources):
        raise InputDataError(
            "--input-data zero/random cannot be combined with files; give one, or only files"
        )
    if sources == ["zero"]:
        sets = [(_zeros(model.make_inputs(1, seed=0), model), None)]
    else:
        sets = []
        for source in sources:
            path = Path(source)
            if path.is_dir():
                sets.append((read_folder(path, model), None))
            elif path.is_file():
                sets.extend(read_json(path, model))
            else:
                raise InputDataError(
                    f"--input-data {source}: no such file or folder (use zero, random, a "
                    f"folder of per-input files, or a perf_analyzer JSON file)"
                )
    return [(_batched(i, model, batch_size), e and _batched(e, model, batch_size)) for i, e in sets]


def _zeros(sample: dict, model) -> dict:
    # make_inputs gave batch-1 arrays; drop that batch dim again for a batched model.
    out = {}
    for name, array in sample.items():
        array = array[0] if model.batched else array
        out[name] = (
            np.full(array.shape, b"0", dtype=object)
            if array.dtype == object
            else np.zeros_like(array)
        )
    return out


def _batched(arrays: dict, model, batch_size: int) -> dict:
    """Each batch-1 sample repeated to the batch size (with the batch dim of a batched model)."""
    if not model.batched:
        return arrays
    return {name: np.stack([a] * batch_size) for name, a in arrays.items()}
