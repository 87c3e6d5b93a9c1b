"""Config generation from ONNX signatures, through Triton's own schema."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper
from tritonclient.grpc import model_config_pb2 as mc

from exporter.model_config import (
    ServingOptions,
    UnsupportedModelError,
    build_model_config,
    parse_pbtxt,
    to_pbtxt,
)


def identity_model(
    shape, elem_type=TensorProto.FLOAT, name_in="x", name_out="y"
) -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Identity", [name_in], [name_out])],
        "g",
        [helper.make_tensor_value_info(name_in, elem_type, shape)],
        [helper.make_tensor_value_info(name_out, elem_type, shape)],
    )
    return helper.make_model(graph)


def test_dynamic_batch_dim_gives_max_batch_size_and_dynamic_batching():
    config = build_model_config(
        "m", identity_model(["batch", 3, 4]), ServingOptions(default_max_batch_size=8)
    )
    assert config.max_batch_size == 8
    assert list(config.input[0].dims) == [3, 4]
    assert config.HasField("dynamic_batching")
    assert config.backend == "onnxruntime"


def test_static_batch_dim_gives_max_batch_size_zero_and_full_dims():
    config = build_model_config("m", identity_model([2, 3, 4]), ServingOptions())
    assert config.max_batch_size == 0
    assert list(config.input[0].dims) == [2, 3, 4]
    assert not config.HasField("dynamic_batching")


def test_other_dynamic_dims_become_minus_one():
    config = build_model_config("m", identity_model(["b", "seq", 16]), ServingOptions())
    assert list(config.input[0].dims) == [-1, 16]


@pytest.mark.parametrize(
    ("onnx_type", "triton_type"),
    [
        (TensorProto.FLOAT16, mc.TYPE_FP16),
        (TensorProto.INT8, mc.TYPE_INT8),
        (TensorProto.BOOL, mc.TYPE_BOOL),
        (TensorProto.STRING, mc.TYPE_STRING),
        (TensorProto.UINT64, mc.TYPE_UINT64),
    ],
)
def test_element_types_map(onnx_type, triton_type):
    config = build_model_config("m", identity_model(["b", 2], onnx_type), ServingOptions())
    assert config.input[0].data_type == triton_type


def test_bfloat16_is_refused_as_nvidias_backend_would():
    model = identity_model(["b", 2], TensorProto.BFLOAT16, name_in="x")
    with pytest.raises(UnsupportedModelError, match=r"'x' is BFLOAT16.*FLOAT16 or FLOAT"):
        build_model_config("m", model, ServingOptions())


def test_unsupported_type_names_the_tensor():
    model = identity_model(["b", 2], TensorProto.COMPLEX64, name_in="weird/input:0")
    with pytest.raises(UnsupportedModelError, match=r"weird/input:0.*COMPLEX64"):
        build_model_config("m", model, ServingOptions())


def test_pbtxt_round_trips_through_the_schema():
    options = ServingOptions(
        instance_count=2,
        default_model_filename="net.onnx",
        parameters={"intra_op_thread_count": "2"},
    )
    config = build_model_config("m", identity_model(["b", 3], name_in="a.b/c:0"), options)
    text = to_pbtxt(config)
    assert parse_pbtxt(text) == config
    assert 'default_model_filename: "net.onnx"' in text


def test_typo_in_config_is_rejected():
    with pytest.raises(Exception, match="max_batch_sise"):
        parse_pbtxt('name: "m"\nmax_batch_sise: 8\n')
