"""Helpers of the Python-based onnxruntime backend (imported the way the stub does)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "backends" / "onnxruntime"))
import server_flags  # noqa: E402

COMPOSE_LIKE = [
    "tritonserver",
    "--model-repository=/models",
    "--backend-config=onnxruntime,default-max-batch-size=8",
    "--backend-config=python,shm-default-byte-size=67108864,shm-growth-byte-size=1",
]


def test_reads_default_max_batch_size_for_onnxruntime():
    assert server_flags.default_max_batch_size(COMPOSE_LIKE) == 8


def test_space_separated_flag_and_global_form():
    assert (
        server_flags.default_max_batch_size(
            ["x", "--backend-config", "onnxruntime,default-max-batch-size=6"]
        )
        == 6
    )
    assert (
        server_flags.default_max_batch_size(["x", "--backend-config=default-max-batch-size=5"]) == 5
    )


def test_backend_specific_value_wins_over_global():
    argv = [
        "x",
        "--backend-config=default-max-batch-size=5",
        "--backend-config=onnxruntime,default-max-batch-size=7",
    ]
    assert server_flags.default_max_batch_size(argv) == 7


def test_falls_back_to_tritons_default_of_4():
    assert (
        server_flags.default_max_batch_size(
            ["x", "--backend-config=python,shm-default-byte-size=1"]
        )
        == 4
    )


def test_ort_spinning_is_off_unless_the_config_asks():
    import session  # noqa: PLC0415 - the backend's module, on sys.path above

    default = session.session_options({})
    assert default.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    asked = session.session_options({"parameters": {"allow_spinning": {"string_value": "1"}}})
    assert asked.get_session_config_entry("session.intra_op.allow_spinning") == "1"
