"""Reading perf_analyzer-format input data and folders of tensors (no server)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from client.input_data import InputDataError, load_input_sets, parse_shapes
from client.input_files import InputFileError, read_folder, read_json
from client.model_info import ModelInfo, TensorInfo

MODEL = ModelInfo(
    "m",
    "",
    8,
    (TensorInfo("x", "FP32", (2, 3)), TensorInfo("s", "BYTES", (2,))),
    (TensorInfo("y", "INT64", (2,)),),
)


def test_json_entries_in_every_tensor_form(tmp_path):
    x = np.arange(6, dtype=np.float32)
    path = tmp_path / "d.json"
    path.write_text(
        json.dumps(
            {
                "data": [
                    {"x": x.tolist(), "s": ["a", "bc"]},
                    {"x": {"content": [[0, 1, 2], [3, 4, 5]], "shape": [2, 3]}, "s": ["", "z"]},
                    {"x": {"b64": base64.b64encode(x.tobytes()).decode()}, "s": ["q", "r"]},
                ],
                "validation_data": [{"y": [1, 2]}, {}, {"y": {"content": [5, 6]}}],
            }
        )
    )
    sets = read_json(path, MODEL)
    assert len(sets) == 3
    for inputs, _ in sets:
        np.testing.assert_array_equal(inputs["x"], x.reshape(2, 3))
    assert sets[0][0]["s"].tolist() == [b"a", b"bc"]
    assert sets[0][1]["y"].dtype == np.int64 and sets[1][1] == {}
    batched = load_input_sets([str(path)], MODEL, batch_size=4)
    assert batched[0][0]["x"].shape == (4, 2, 3) and batched[0][1]["y"].shape == (4, 2)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"x": [1.0] * 5, "s": ["a", "b"]}, "has 5 values but shape [2, 3] needs 6"),
        ({"s": ["a", "b"]}, "input 'x' is missing"),
        ({"x": [1.0] * 6, "s": ["a", "b"], "nope": [1]}, "'nope' is not a tensor of 'm'"),
        ({"x": {"b64": "AAAA"}, "s": ["a", "b"]}, "3 bytes, not a whole number of FP32"),
        ({"x": {"content": [1] * 6, "shape": [3, 2]}, "s": ["a", "b"]}, "does not fit"),
    ],
)
def test_bad_json_entries_name_the_entry_and_tensor(tmp_path, entry, message):
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"data": [entry]}))
    with pytest.raises(InputFileError, match="data\\[0\\]") as error:
        read_json(path, MODEL)
    assert message in str(error.value)


def test_folder_takes_npy_raw_bytes_and_text_lines(tmp_path):
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "s").write_text("first\nsecond\n")
    inputs = read_folder(tmp_path, MODEL)
    np.testing.assert_array_equal(inputs["x"], x)
    assert inputs["s"].tolist() == [b"first", b"second"]
    (tmp_path / "x.npy").unlink()
    (tmp_path / "x").write_bytes(x.tobytes())
    np.testing.assert_array_equal(read_folder(tmp_path, MODEL)["x"], x)
    (tmp_path / "x").unlink()
    with pytest.raises(InputFileError, match="no file for input 'x'; add x.npy or x"):
        read_folder(tmp_path, MODEL)


def test_zero_data_shapes_and_flag_errors(tmp_path):
    ((inputs, expected),) = load_input_sets(["zero"], MODEL, batch_size=2)
    assert inputs["x"].shape == (2, 2, 3) and not inputs["x"].any() and expected is None
    assert load_input_sets(["random"], MODEL, 1) is None
    assert parse_shapes(["image:64,96,3"]) == {"image": [64, 96, 3]}
    with pytest.raises(InputDataError, match="NAME:D1,D2"):
        parse_shapes(["image"])
    with pytest.raises(InputDataError, match="no such file or folder"):
        load_input_sets([str(tmp_path / "missing.json")], MODEL, 1)
