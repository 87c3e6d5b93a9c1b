"""`python -m exporter add`: your own ONNX file served by the real local Triton, equal to ORT."""

from __future__ import annotations

import re

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import np_to_triton_dtype

from exporter.repository import staging_root
from stack_settings.control_key import control_headers
from tests.conftest import run_module
from tests.integration import onnx_files

# Same ORT build and CPU in the server and here: results must be identical up to rounding.
SERVER_VS_ORT_ATOL = 1e-6


def add(model_file, name, repository, *extra):
    return run_module(
        "exporter", "add", str(model_file), "--name", name, "--repository", str(repository),
        *extra, check=False,
    )  # fmt: skip


def infer(stack, name, feeds: dict[str, np.ndarray], version: str = "") -> dict[str, np.ndarray]:
    client = grpcclient.InferenceServerClient(stack.grpc)
    inputs = []
    for tensor_name, data in feeds.items():
        infer_input = grpcclient.InferInput(
            tensor_name, list(data.shape), np_to_triton_dtype(data.dtype)
        )
        infer_input.set_data_from_numpy(data)
        inputs.append(infer_input)
    result = client.infer(name, inputs, model_version=version)
    return {o.name: result.as_numpy(o.name) for o in result.get_response().outputs}


def assert_served_like_ort(stack, name, model_file, feeds):
    grpcclient.InferenceServerClient(stack.grpc).load_model(name, headers=control_headers())
    actual = infer(stack, name, feeds)
    session = ort.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
    expected = dict(
        zip([o.name for o in session.get_outputs()], session.run(None, feeds), strict=True)
    )
    assert set(actual) == set(expected)
    for key, reference in expected.items():
        assert actual[key].dtype == reference.dtype, key
        np.testing.assert_allclose(actual[key], reference, atol=SERVER_VS_ORT_ATOL, err_msg=key)


def test_static_batch_model_loads_and_matches_ort(stack, tmp_path):
    model_file = onnx_files.add_constant(tmp_path / "static.onnx", batch=2)
    result = add(model_file, "byo_static", stack.repository, "--load", stack.grpc)
    assert result.returncode == 0, result.stderr
    assert f"loaded byo_static into Triton at {stack.grpc}" in result.stdout
    assert grpcclient.InferenceServerClient(stack.grpc).is_model_ready("byo_static")
    assert "max_batch_size" not in result.stdout  # 0 is the proto default: not printed
    assert 'default_model_filename: "static.onnx"' in result.stdout
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    assert_served_like_ort(stack, "byo_static", model_file, {"x": x})


def test_dynamic_batch_and_odd_tensor_names(stack, tmp_path):
    model_file = onnx_files.add_constant(
        tmp_path / "model.onnx", batch="N", name_in="input/x:0", name_out="out.y/z:0"
    )
    result = add(model_file, "byo_odd_names", stack.repository)
    assert result.returncode == 0, result.stderr
    assert "max_batch_size: 8" in result.stdout
    assert "default_model_filename" not in result.stdout
    for batch in (1, 5):
        x = np.random.default_rng(batch).standard_normal((batch, 4)).astype(np.float32)
        assert_served_like_ort(stack, "byo_odd_names", model_file, {"input/x:0": x})


def test_external_data_model_is_copied_with_its_weights(stack, tmp_path):
    source = tmp_path / "src"
    (source / "weights").mkdir(parents=True)
    model_file = onnx_files.add_constant(
        source / "big.onnx", batch="N", offset=10.0,
        save_as_external_data=True, all_tensors_to_one_file=True, location="weights/big.bin",
        size_threshold=0,
    )  # fmt: skip
    result = add(model_file, "byo_external", stack.repository)
    assert result.returncode == 0, result.stderr
    assert (stack.repository / "byo_external" / "1" / "weights" / "big.bin").is_file()
    x = np.zeros((3, 4), dtype=np.float32)
    assert_served_like_ort(stack, "byo_external", model_file, {"x": x})
    np.testing.assert_array_equal(infer(stack, "byo_external", {"x": x})["y"][0], [10, 11, 12, 13])


def test_every_served_element_type_round_trips(stack, tmp_path):
    model_file = onnx_files.many_types(tmp_path / "types.onnx")
    assert add(model_file, "byo_types", stack.repository).returncode == 0
    rng = np.random.default_rng(3)
    feeds = {
        f"in_{key}": (rng.standard_normal((2, 3)) * 50).astype(
            onnx_files.onnx.helper.tensor_dtype_to_np_dtype(elem)
        )
        for key, elem in onnx_files.SERVED_TYPES.items()
    }
    assert_served_like_ort(stack, "byo_types", model_file, feeds)


def test_string_tensors_round_trip_as_text(stack, tmp_path):
    model_file = onnx_files.string_identity(tmp_path / "strings.onnx")
    result = add(model_file, "byo_strings", stack.repository, "--load", stack.grpc)
    assert result.returncode == 0, result.stderr
    assert "TYPE_STRING" in result.stdout
    texts = np.array([["a/b:0", "ünïcode"], ["", "x.y"]], dtype=object)
    actual = infer(stack, "byo_strings", {"s": np.char.encode(texts.astype(str)).astype(object)})
    # Triton returns bytes; ORT in-process gives the same text back (Identity).
    assert [[v.decode() for v in row] for row in actual["t"]] == texts.tolist()


def test_second_version_with_policy_all_serves_both(stack, tmp_path):
    v1 = onnx_files.add_constant(tmp_path / "v1.onnx", batch="N", offset=0.0)
    v2 = onnx_files.add_constant(tmp_path / "v2.onnx", batch="N", offset=100.0)
    assert add(v1, "byo_versions", stack.repository, "--version-policy", "all").returncode == 0
    result = add(v2, "byo_versions", stack.repository, "--version", "2", "--version-policy", "all")
    assert result.returncode == 0, result.stderr
    grpcclient.InferenceServerClient(stack.grpc).load_model(
        "byo_versions", headers=control_headers()
    )
    x = np.zeros((1, 4), dtype=np.float32)
    # default_model_filename follows the latest `add` (v2.onnx): version 1's file is renamed.
    assert (stack.repository / "byo_versions" / "1" / "v2.onnx").is_file()
    first = infer(stack, "byo_versions", {"x": x}, version="1")["y"]
    second = infer(stack, "byo_versions", {"x": x}, version="2")["y"]
    np.testing.assert_array_equal(first[0], [0, 1, 2, 3])
    np.testing.assert_array_equal(second[0], [100, 101, 102, 103])


@pytest.mark.parametrize(
    ("make_file", "expected"),
    [
        (lambda d: d / "absent.onnx", r"absent\.onnx not found"),
        (lambda d: _write(d / "corrupt.onnx", b"\x08\x07garbage" * 10), r"corrupt\.onnx is not a readable ONNX model"),
        (lambda d: onnx_files.gelu_at_opset_13(d / "gelu13.onnx"), r"gelu13\.onnx fails the ONNX checker \(opset ai\.onnx:13\).*Gelu.*opset_version"),
        (lambda d: onnx_files.complex_input(d / "complex.onnx"), r"complex\.onnx: model 'bad': tensor 'signal/in:0' has element type COMPLEX64.*cast it"),
    ],
    ids=["missing", "corrupt", "op-not-in-opset", "unmappable-type"],
)  # fmt: skip
def test_bad_files_give_named_errors_and_leave_nothing(tmp_path, make_file, expected):
    repository = tmp_path / "repo"
    result = add(make_file(tmp_path), "bad", repository)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert re.search(expected, result.stderr, re.S), result.stderr
    assert not (repository / "bad").exists()
    assert not staging_root(repository).exists() or not any(staging_root(repository).iterdir())


def test_missing_external_data_names_the_file(tmp_path):
    model_file = onnx_files.add_constant(
        tmp_path / "ext.onnx", batch="N", save_as_external_data=True, location="w.bin",
        size_threshold=0,
    )  # fmt: skip
    (tmp_path / "w.bin").unlink()
    result = add(model_file, "ext", tmp_path / "repo")
    assert result.returncode == 1
    assert "external data file 'w.bin'" in result.stderr and "weight.data/0" in result.stderr


def _write(path, data: bytes):
    path.write_bytes(data)
    return path
