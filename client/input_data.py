"""What each request carries and when it is sent: --input-data, --shape, --request-intervals."""

from __future__ import annotations

import argparse
from pathlib import Path


class InputDataError(ValueError):
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
