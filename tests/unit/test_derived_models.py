"""Derived models published from an exported one: TensorRT variant, ensembles, pre/post pipeline."""

from __future__ import annotations

import onnx

from exporter import derived
from exporter.model_config import ServingOptions, build_model_config, parse_pbtxt, to_pbtxt
from exporter.repository import staged_model_dir
from tests.unit.test_model_config import identity_model


def publish_fake_cnn(repository):
    model = identity_model(["batch", 3, 8, 8], name_in="input", name_out="output")
    with staged_model_dir(repository, "simple_cnn") as model_dir:
        (model_dir / "1").mkdir()
        onnx.save(model, str(model_dir / "1" / "model.onnx"))
        config = build_model_config("simple_cnn", model, ServingOptions())
        (model_dir / "config.pbtxt").write_text(to_pbtxt(config))


def test_trt_variant_shares_the_onnx_file_and_is_a_gpu_config(tmp_path):
    repository = tmp_path / "repo"
    publish_fake_cnn(repository)
    name = derived.publish_tensorrt_variant(repository, "simple_cnn", "/models/trt_cache")
    assert name == "simple_cnn_trt"
    source = repository / "simple_cnn" / "1" / "model.onnx"
    assert (repository / name / "1" / "model.onnx").samefile(source), "hard link, not a copy"
    config = parse_pbtxt((repository / name / "config.pbtxt").read_text())
    assert config.name == "simple_cnn_trt" and config.instance_group[0].kind == 1  # KIND_GPU
    accelerator = config.optimization.execution_accelerators.gpu_execution_accelerator[0]
    assert accelerator.parameters["trt_engine_cache_path"] == "/models/trt_cache"


def test_derived_models_are_not_rewritten_when_unchanged(tmp_path):
    repository = tmp_path / "repo"
    publish_fake_cnn(repository)
    names = [
        derived.publish_ensemble(repository, "simple_cnn", 3),
        derived.publish_tensorrt_variant(repository, "simple_cnn", "/c"),
        *derived.publish_pipeline(repository, max_batch_size=4),
    ]
    assert names == [
        "ensemble_cnn_3", "simple_cnn_trt", "preprocess", "postprocess", "cnn_classify",
    ]  # fmt: skip
    inodes = {n: (repository / n).stat().st_ino for n in names}
    derived.publish_ensemble(repository, "simple_cnn", 3)
    derived.publish_tensorrt_variant(repository, "simple_cnn", "/c")
    derived.publish_pipeline(repository, max_batch_size=4)
    assert {n: (repository / n).stat().st_ino for n in names} == inodes


def test_pipeline_configs_take_the_exporters_max_batch_size(tmp_path):
    repository = tmp_path / "repo"
    derived.publish_pipeline(repository, max_batch_size=2)
    for name in derived.PIPELINE_MODELS:
        assert parse_pbtxt((repository / name / "config.pbtxt").read_text()).max_batch_size == 2
        assert (repository / name / "1").is_dir()
    assert (repository / "postprocess" / "1" / "labels.txt").read_text().split() == [
        "red", "green", "blue",
    ]  # fmt: skip
