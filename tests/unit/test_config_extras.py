"""Generated config extras: TensorRT variant, ORT knobs, warmup, version policy, chained ensembles."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToDict
from onnx import TensorProto
from tritonclient.grpc import model_config_pb2 as mc

from exporter.ensembles import chain_ensemble, ensemble_name
from exporter.model_config import (
    ServingOptions,
    add_tensorrt_accelerator,
    build_model_config,
    parse_pbtxt,
    to_pbtxt,
)
from tests.unit.test_model_config import identity_model

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "backends" / "onnxruntime"))
import session  # noqa: E402  (the backend's module, imported the way the stub does)


def cnn_like_config(**options) -> mc.ModelConfig:
    model = identity_model(["batch", 3, 8, 8], name_in="input", name_out="output")
    return build_model_config("simple_cnn", model, ServingOptions(**options))


def test_tensorrt_variant_is_gpu_fp16_with_engine_cache_and_parses():
    trt = add_tensorrt_accelerator(cnn_like_config(), "/models/trt_cache", workspace_bytes=1 << 30)
    trt.name = "simple_cnn_trt"
    parsed = parse_pbtxt(to_pbtxt(trt))
    assert [g.kind for g in parsed.instance_group] == [mc.ModelInstanceGroup.KIND_GPU]
    (accelerator,) = parsed.optimization.execution_accelerators.gpu_execution_accelerator
    assert accelerator.name == "tensorrt"
    assert dict(accelerator.parameters) == {
        "precision_mode": "FP16",
        "max_workspace_size_bytes": str(1 << 30),
        "trt_engine_cache_enable": "1",
        "trt_engine_cache_path": "/models/trt_cache",
    }


def test_backend_reads_the_tensorrt_fields_we_write():
    # The same names must mean the same thing to our backend (and to Triton's native one).
    trt = add_tensorrt_accelerator(cnn_like_config(), "/cache", workspace_bytes=4096)
    as_json = MessageToDict(trt, preserving_proto_field_name=True)
    (accelerator,) = as_json["optimization"]["execution_accelerators"]["gpu_execution_accelerator"]
    assert session._tensorrt_options(accelerator) == {
        "trt_fp16_enable": True,
        "trt_max_workspace_size": 4096,
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": "/cache",
    }


def test_thread_counts_and_graph_level_reach_the_backend_session():
    config = cnn_like_config(
        parameters={"intra_op_thread_count": "3", "inter_op_thread_count": "2"}, graph_level=1
    )
    as_json = MessageToDict(config, preserving_proto_field_name=True)
    # Triton hands parameters to backends as {"key": {"string_value": ...}}, as MessageToDict does.
    options = session.session_options(as_json)
    assert options.intra_op_num_threads == 3
    assert options.inter_op_num_threads == 2
    assert options.graph_optimization_level == session.GRAPH_LEVELS[1]


def test_warmup_uses_random_data_at_the_configured_batch():
    config = parse_pbtxt(to_pbtxt(cnn_like_config(warmup_batch_size=4)))
    (warmup,) = config.model_warmup
    assert warmup.batch_size == 4
    entry = warmup.inputs["input"]
    assert entry.random_data and list(entry.dims) == [3, 8, 8]
    assert entry.data_type == mc.TYPE_FP32


def test_warmup_is_left_out_when_a_dim_is_dynamic():
    model = identity_model(["b", "seq", 4])
    config = build_model_config("m", model, ServingOptions(warmup_batch_size=2))
    assert not config.model_warmup


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("all", {"all": {}}),
        ("latest:2", {"latest": {"num_versions": 2}}),
        ("specific:1,3", {"specific": {"versions": ["1", "3"]}}),  # int64 as JSON text
    ],
)
def test_version_policy(policy, expected):
    config = cnn_like_config(version_policy=policy)
    assert MessageToDict(config.version_policy, preserving_proto_field_name=True) == expected


def test_bad_version_policy_names_the_accepted_forms():
    with pytest.raises(ValueError, match=r"'newest:2'.*latest:N"):
        cnn_like_config(version_policy="newest:2")


@pytest.mark.parametrize("steps", [1, 4, 7])
def test_chained_ensemble_wires_each_step_into_the_next(steps):
    ensemble = parse_pbtxt(to_pbtxt(chain_ensemble(cnn_like_config(), steps)))
    assert ensemble.name == ensemble_name("simple_cnn", steps) == f"ensemble_cnn_{steps}"
    assert ensemble.platform == "ensemble"
    assert ensemble.max_batch_size == 8
    chain = ensemble.ensemble_scheduling.step
    assert len(chain) == steps
    assert chain[0].input_map["input"] == "input"
    assert chain[-1].output_map["output"] == "output"
    for before, after in zip(chain, chain[1:], strict=False):
        assert after.input_map["input"] == before.output_map["output"]


def test_chaining_a_shape_changing_model_is_refused_naming_it():
    model = identity_model(["b", 4], TensorProto.FLOAT)
    model.graph.output[0].type.tensor_type.shape.dim[1].dim_value = 5
    config = build_model_config("pooler", model, ServingOptions())
    with pytest.raises(ValueError, match="pooler.*cannot feed"):
        chain_ensemble(config, 2)


def test_gpu_instances_keep_inputs_on_the_gpu_and_warm_every_batch_size():
    config = parse_pbtxt(to_pbtxt(cnn_like_config(warmup_batch_size=1, instance_kind="KIND_GPU")))
    assert config.parameters["FORCE_CPU_ONLY_INPUT_TENSORS"].string_value == "no"
    sizes = sorted(w.batch_size for w in config.model_warmup)
    assert sizes == list(range(1, config.max_batch_size + 1))
    assert len({w.name for w in config.model_warmup}) == len(sizes)


def test_cpu_instances_keep_one_warmup_and_no_gpu_parameter():
    config = cnn_like_config(warmup_batch_size=1)
    assert "FORCE_CPU_ONLY_INPUT_TENSORS" not in config.parameters
    assert [w.batch_size for w in config.model_warmup] == [1]


def test_gpu_instances_pick_conv_algorithms_by_heuristic():
    # Measured on an H200: changing batch sizes ran the CNN 5x faster than the exhaustive search.
    gpu = parse_pbtxt(to_pbtxt(cnn_like_config(instance_kind="KIND_GPU")))
    assert gpu.parameters["cudnn_conv_algo_search"].string_value == "1"
    assert "cudnn_conv_algo_search" not in cnn_like_config().parameters


def _cuda_options(config: mc.ModelConfig) -> dict:
    """The CUDA EP options our backend builds for a GPU instance on device 1."""
    as_json = MessageToDict(config, preserving_proto_field_name=True)
    return session._cuda_options(as_json, [], 1)


def test_backend_maps_the_conv_search_parameter_to_the_cuda_ep():
    config = cnn_like_config(instance_kind="KIND_GPU")
    assert _cuda_options(config) == {"device_id": 1, "cudnn_conv_algo_search": "HEURISTIC"}
    config.parameters["cudnn_conv_algo_search"].string_value = "0"
    assert _cuda_options(config)["cudnn_conv_algo_search"] == "EXHAUSTIVE"


def test_backend_passes_cuda_accelerator_parameters_through():
    config = cnn_like_config(instance_kind="KIND_GPU")
    accelerator = config.optimization.execution_accelerators.gpu_execution_accelerator.add()
    accelerator.name = "cuda"
    accelerator.parameters["cudnn_conv_use_max_workspace"] = "0"
    as_json = MessageToDict(config, preserving_proto_field_name=True)
    accelerators = as_json["optimization"]["execution_accelerators"]["gpu_execution_accelerator"]
    options = session._cuda_options(as_json, accelerators, 0)
    assert options["cudnn_conv_use_max_workspace"] == "0"
    _providers, notes = session.providers_for(as_json, "GPU", device_id=0)
    assert not any("'cuda'" in note for note in notes)  # known, not "not supported"


def test_bad_conv_search_value_names_the_parameter_and_the_values():
    config = cnn_like_config(instance_kind="KIND_GPU")
    config.parameters["cudnn_conv_algo_search"].string_value = "fast"
    as_json = MessageToDict(config, preserving_proto_field_name=True)
    with pytest.raises(ValueError, match="cudnn_conv_algo_search.*'fast'.*HEURISTIC"):
        session._cuda_options(as_json, [], 0)
