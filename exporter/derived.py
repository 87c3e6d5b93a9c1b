"""Models derived from the exported ones: chained ensembles, TensorRT variants, pre/post pipeline.

Each is published like any model (staged, then swapped in whole) and only when its
content changed, so re-running the exporter stays fast and leaves the server alone.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tritonclient.grpc import model_config_pb2 as mc

from exporter.ensembles import chain_ensemble
from exporter.model_config import add_tensorrt_accelerator, parse_pbtxt, to_pbtxt
from exporter.repository import staged_model_dir, write_atomic

# Hand-written Python-backend models (DESIGN.md: model_repository/ holds them).
HAND_WRITTEN = Path(__file__).resolve().parent.parent / "model_repository"
PIPELINE_MODELS = ("preprocess", "postprocess", "cnn_classify")


def published_config(repository: Path, name: str) -> mc.ModelConfig:
    """The config.pbtxt of a published model, parsed through the schema."""
    return parse_pbtxt((repository / name / "config.pbtxt").read_text())


def _unchanged(repository: Path, name: str, text: str) -> bool:
    path = repository / name / "config.pbtxt"
    return path.is_file() and path.read_text() == text


def publish_ensemble(repository: Path, step_model: str, steps: int) -> str:
    """ensemble_<model>_<steps>: the model chained `steps` times; returns its name."""
    config = chain_ensemble(published_config(repository, step_model), steps)
    text = to_pbtxt(config)
    if not _unchanged(repository, config.name, text):
        with staged_model_dir(repository, config.name) as model_dir:
            (model_dir / "1").mkdir()  # Triton wants a version folder, even an empty one
            write_atomic(model_dir / "config.pbtxt", text.encode())
    return config.name


def publish_tensorrt_variant(repository: Path, model: str, cache_path: str) -> str:
    """<model>_trt: the same ONNX file on GPU instances with TensorRT FP16 (GPU hosts only)."""
    config = published_config(repository, model)
    trt = add_tensorrt_accelerator(config, cache_path)
    trt.name = f"{model}_trt"
    text = to_pbtxt(trt)
    filename = config.default_model_filename or "model.onnx"
    source = repository / model / "1" / filename
    target = repository / trt.name / "1" / filename
    if _unchanged(repository, trt.name, text) and target.exists() and target.samefile(source):
        return trt.name
    with staged_model_dir(repository, trt.name) as model_dir:
        (model_dir / "1").mkdir()
        try:
            os.link(source, model_dir / "1" / filename)  # no second copy of the weights
        except OSError:
            shutil.copy2(source, model_dir / "1" / filename)
        write_atomic(model_dir / "config.pbtxt", text.encode())
    return trt.name


def publish_pipeline(repository: Path, max_batch_size: int) -> list[str]:
    """Copy the hand-written preprocess/postprocess models and their ensemble into `repository`.

    Their configs go through the schema, with max_batch_size set to the exporter's so the
    ensemble never asks more of simple_cnn than its config allows.
    """
    published = []
    for name in PIPELINE_MODELS:
        source = HAND_WRITTEN / name
        config = parse_pbtxt((source / "config.pbtxt").read_text())
        config.max_batch_size = max_batch_size
        text = to_pbtxt(config)
        files = {p.relative_to(source): p.read_bytes() for p in source.rglob("*") if p.is_file()}
        files = {k: v for k, v in files.items() if "__pycache__" not in k.parts}
        files[Path("config.pbtxt")] = text.encode()
        current = repository / name
        if current.is_dir() and all(
            (current / rel).is_file() and (current / rel).read_bytes() == data
            for rel, data in files.items()
        ):
            published.append(name)
            continue
        with staged_model_dir(repository, name) as model_dir:
            for rel, data in files.items():
                (model_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                (model_dir / rel).write_bytes(data)
            (model_dir / "1").mkdir(exist_ok=True)
        published.append(name)
    return published
