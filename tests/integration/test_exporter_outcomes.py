"""Both PyTorch exporters x both built-in models: the recorded outcome, and the traps we found."""

from __future__ import annotations

import json
import re

import onnx
import pytest
import torch

from exporter import export as exporters
from exporter.models import ModelSpec, SimpleTransformer
from exporter.verify import PARITY_ATOL
from tests.conftest import run_module

# What torch 2.13 / onnx 1.23 / onnxruntime 1.32 do today (README "Exporter"): both pass.
EXPECTED = {
    ("simple_cnn", "torchscript"): "passes",
    ("simple_cnn", "dynamo"): "passes",
    ("simple_transformer", "torchscript"): "passes",
    ("simple_transformer", "dynamo"): "passes",
}


def record(repository, model):
    return json.loads((repository / model / "export-record.json").read_text())


@pytest.mark.parametrize(("model", "exporter"), sorted(EXPECTED))
def test_recorded_outcome_per_model_and_exporter(repository, model, exporter):
    attempt = record(repository, model)["attempts"][exporter]
    assert EXPECTED[model, exporter] == "passes"
    assert attempt["exported"] and attempt["checker"] and attempt["shape_inference"], attempt
    assert attempt["error"] is None
    assert set(attempt["parity"]) == {"1", "2", "8"}  # batch 1, 2 and max
    assert max(attempt["parity"].values()) < PARITY_ATOL


def test_first_passing_exporter_in_preference_order_is_published(repository):
    for model in ("simple_cnn", "simple_transformer"):
        assert record(repository, model)["served_by"] == exporters.EXPORTERS[0] == "torchscript"


def tiny_transformer_spec() -> ModelSpec:
    def build():
        torch.manual_seed(0)
        return SimpleTransformer(d_model=16, nhead=2, num_layers=1).eval()

    return ModelSpec("tiny_transformer", build, (4, 16))


def test_torchscript_fails_on_transformer_under_no_grad(tmp_path):
    # Why export.py keeps grad enabled: under no_grad nn.TransformerEncoder takes its fused
    # fast path, which the TorchScript exporter cannot express.
    spec = tiny_transformer_spec()
    with torch.no_grad():
        result = exporters.export(spec, "torchscript", tmp_path / "m.onnx")
    assert not result.ok
    assert "_transformer_encoder_layer_fwd" in result.error


def test_dynamo_with_batch_one_example_specialises_the_batch_dim(tmp_path):
    # Why export.py gives the dynamo exporter a batch-2 example.
    spec = tiny_transformer_spec()
    batch = torch.export.Dim("batch", min=1, max=1024)
    # torch 2.13: no error, no warning - the exported graph just has a static batch of 1.
    program = torch.onnx.export(
        spec.build(), (spec.example_input(1),), input_names=["input"],
        dynamic_shapes=({0: batch},), dynamo=True, verbose=False,
    )  # fmt: skip
    program.save(str(tmp_path / "b1.onnx"))
    dim0 = onnx.load(str(tmp_path / "b1.onnx")).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.HasField("dim_value") and dim0.dim_value == 1
    result = exporters.export(spec, "dynamo", tmp_path / "b2.onnx")
    assert result.ok, result.error
    dim0 = onnx.load(str(tmp_path / "b2.onnx")).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.HasField("dim_param"), "batch-2 example keeps the batch dim symbolic"


def test_check_served_loads_each_model_into_triton_and_matches_ort(stack):
    result = run_module(
        "exporter", "--repository", str(stack.repository), "--check-served", stack.grpc
    )
    rows = re.findall(
        r"^(\S+) +torchscript .* (yes|NO|unchecked) +<- published", result.stdout, re.M
    )
    assert set(rows) == {
        ("simple_cnn", "yes"),
        ("simple_transformer", "yes"),
    }, result.stdout
