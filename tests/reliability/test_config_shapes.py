"""Config generator edge shapes found by the fuzz test (tests/reliability/test_config_fuzz.py)."""

from __future__ import annotations

import pytest
from onnx import TensorProto

from exporter.model_config import (
    ServingOptions,
    UnsupportedModelError,
    build_model_config,
    parse_pbtxt,
    to_pbtxt,
)
from tests.reliability.tiny_models import add_graph


def test_batch_only_tensor_gets_dims_1_and_an_empty_reshape():
    """[B] tensors: Triton refuses empty dims, so one item is [1], reshaped to the model's [B]."""
    model = add_graph([("ids", TensorProto.INT64, ["batch"])], ["out"])
    config = parse_pbtxt(to_pbtxt(build_model_config("m", model, ServingOptions())))
    assert config.max_batch_size == 8
    for tensor in (config.input[0], config.output[0]):
        assert list(tensor.dims) == [1] and tensor.HasField("reshape")
        assert list(tensor.reshape.shape) == []


def test_unbatched_scalar_is_refused_naming_tensor_and_fix():
    model = add_graph([("scale:0", TensorProto.FLOAT, [])], ["out"])
    with pytest.raises(UnsupportedModelError, match=r"'scale:0' is a scalar.*shape \[1\]"):
        build_model_config("m", model, ServingOptions())
