"""`--check-served`: load a published model into a running Triton and compare it with ORT."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException, triton_to_np_dtype

from exporter.model_config import ServingOptions, build_model_config, to_pbtxt
from exporter.repository import staged_model_dir, write_atomic
from stack_settings.control_key import control_headers, refusal_fix

# The server runs the same ONNX Runtime on the same file: only thread-dependent rounding.
SERVED_ATOL = 1e-5


def check_served(grpc_url: str, repository: Path, name: str) -> str | None:
    """Load `name` (explicit model control), infer a random batch, compare with in-process ORT.

    Returns None when Triton's answer matches, else the reason.
    """
    client = grpcclient.InferenceServerClient(grpc_url)
    try:
        client.load_model(
            name, headers=control_headers()
        )  # re-reads the folder: the freshly published version
        config = client.get_model_config(name, as_json=True)["config"]
        batched = int(config.get("max_batch_size", 0)) > 0
        filename = config.get("default_model_filename") or "model.onnx"
        version = max(int(p.name) for p in (repository / name).iterdir() if p.name.isdigit())
        session = ort.InferenceSession(
            str(repository / name / str(version) / filename), providers=["CPUExecutionProvider"]
        )
        rng = np.random.default_rng(0)
        feeds, inputs = {}, []
        for tensor in config["input"]:
            dims = [int(d) for d in tensor["dims"]]
            shape = ([2] if batched else []) + [1 if d < 0 else d for d in dims]
            dtype = triton_to_np_dtype(tensor["data_type"].removeprefix("TYPE_"))
            data = rng.standard_normal(shape).astype(dtype)
            feeds[tensor["name"]] = data
            infer_input = grpcclient.InferInput(tensor["name"], shape, tensor["data_type"][5:])
            infer_input.set_data_from_numpy(data)
            inputs.append(infer_input)
        result = client.infer(name, inputs)
        expected = session.run(None, feeds)
        for output, reference in zip(session.get_outputs(), expected, strict=True):
            actual = result.as_numpy(output.name)
            if actual is None or actual.shape != reference.shape:
                shape = None if actual is None else actual.shape
                return f"output {output.name!r}: Triton shape {shape} != ORT {reference.shape}"
            if not np.allclose(actual, reference, atol=SERVED_ATOL, rtol=0):
                diff = float(np.max(np.abs(actual - reference)))
                return f"output {output.name!r}: max abs diff {diff:.3g} > {SERVED_ATOL}"
    except (InferenceServerException, OSError, KeyError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0][:300]
        fix = refusal_fix(first_line)
        return f"{type(exc).__name__}: {first_line}" + (f" -> {fix}" if fix else "")
    finally:
        client.close()
    return None


def check_candidate(
    grpc_url: str, repository: Path, model: str, exporter: str, path: Path, options: ServingOptions
) -> str | None:
    """Serve one exporter's file under a temporary name, compare with ORT, then remove it."""
    name = f"{model}__{exporter}_check"
    config = build_model_config(name, onnx.load(str(path), load_external_data=False), options)
    with staged_model_dir(repository, name) as model_dir:
        (model_dir / "1").mkdir()
        target = model_dir / "1" / options.default_model_filename
        try:
            os.link(path, target)  # staging sits on the repository's filesystem
        except OSError:
            shutil.copy2(path, target)
        write_atomic(model_dir / "config.pbtxt", to_pbtxt(config).encode())
    try:
        return check_served(grpc_url, repository, name)
    finally:
        client = grpcclient.InferenceServerClient(grpc_url)
        try:
            client.unload_model(name, headers=control_headers())
        except InferenceServerException:
            pass  # never loaded: the reason is already in the result
        finally:
            client.close()
        shutil.rmtree(repository / name, ignore_errors=True)
