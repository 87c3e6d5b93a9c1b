"""One repository, both backends: NVIDIA's onnxruntime_backend r24.10 and our Python-based one.

Two real tritonservers serve copies of the same repository, one per TRITON_ONNXRUNTIME_BACKEND
value; every config the exporter writes loads under both, answers the same (compared with
in-process ONNX Runtime), and auto-completes the same. Where the two differ, NVIDIA's behaviour is
the reference (docs/native-backend.md lists the differences that remain).
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as httpclient

from local_stack import server
from tests.conftest import ports_at
from tests.reliability.tiny_models import write_doubler
from tests.stack import exported

BACKEND_PORT_OFFSETS = {"native": 30, "python": 33}
# What the exporter writes (ensembles included), the test stack's auto-complete models and a
# config with two instances: everything must load under either backend.
MODELS = (
    "simple_cnn",
    "simple_transformer",
    "ensemble_cnn_4",
    "ensemble_transformer_4",
    "auto_batch",
    "explicit_no_batch",
)
TUNED_PARAMETERS = """
optimization { graph { level: 1 } }
parameters { key: "cudnn_conv_algo_search" value { string_value: "1" } }
parameters { key: "FORCE_CPU_ONLY_INPUT_TENSORS" value { string_value: "no" } }
parameters { key: "device_io" value { string_value: "off" } }
parameters { key: "intra_op_thread_count" value { string_value: "1" } }
parameters { key: "inter_op_thread_count" value { string_value: "1" } }
"""
TOLERANCE = 1e-5  # both run ONNX Runtime's CPU kernels on the same graph


def _config(http: str, name: str) -> dict:
    with urllib.request.urlopen(f"http://{http}/v2/models/{name}/config", timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def servers(repository, tmp_path_factory):
    """{backend: http address} of two servers on copies of the session repository."""
    started, addresses = [], {}
    try:
        for backend, offset in BACKEND_PORT_OFFSETS.items():
            root = tmp_path_factory.mktemp(f"parity-{backend}")
            copy = root / "model_repository"
            for name in MODELS:
                shutil.copytree(repository / name, copy / name)
            write_doubler(copy, "two_instances")
            with (copy / "two_instances" / "config.pbtxt").open("a") as config:
                config.write("instance_group { count: 2 kind: KIND_CPU }\n")
            # The parameters the exporter writes for GPU instances and ORT tuning, on a CPU
            # instance: NVIDIA's backend must take (or ignore) every one of them.
            shutil.copytree(copy / "simple_cnn", copy / "simple_cnn_tuned")
            config_file = copy / "simple_cnn_tuned" / "config.pbtxt"
            config_file.write_text(
                config_file.read_text().replace('name: "simple_cnn"', 'name: "simple_cnn_tuned"')
                + TUNED_PARAMETERS
            )
            ports = ports_at(offset)
            with exported(ports | {"TRITON_ONNXRUNTIME_BACKEND": backend}):
                started.append(server.start(copy, root / "run"))
            addresses[backend] = f"127.0.0.1:{ports['TRITON_HTTP_PORT']}"
        yield addresses
    finally:
        for process in started:
            process.stop()


def test_each_server_says_which_backend_serves(servers):
    for backend, http in servers.items():
        index = _config(http, "simple_cnn")
        assert index["backend"] == "onnxruntime"
        # NVIDIA's backend leaves `runtime` empty; ours is a Python-based backend (model.py).
        assert (index.get("runtime") or "") == ("" if backend == "native" else "model.py")


@pytest.mark.parametrize("name", MODELS + ("two_instances", "simple_cnn_tuned"))
def test_every_config_loads_and_completes_the_same(servers, name):
    configs = {backend: _config(http, name) for backend, http in servers.items()}
    keys = ("max_batch_size", "input", "output", "dynamic_batching", "instance_group")
    native, ours = ({k: c.get(k) for k in keys} for c in (configs["native"], configs["python"]))
    for group in (native["instance_group"] or []) + (ours["instance_group"] or []):
        group.pop("name", None)  # the instance name is the only field allowed to differ
    assert ours == native


@pytest.mark.parametrize(
    "name", ["simple_cnn", "simple_cnn_tuned", "simple_transformer", "ensemble_transformer_4"]
)
def test_outputs_are_equal_to_onnxruntime_under_both(servers, repository, name):
    source = {"ensemble_transformer_4": "simple_transformer", "simple_cnn_tuned": "simple_cnn"}
    model_dir = repository / source.get(name, name)
    session = ort.InferenceSession(str(model_dir / "1" / "model.onnx"))
    feed = session.get_inputs()[0]
    shape = [2, *feed.shape[1:]]
    batch = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    expected = session.run(None, {feed.name: batch})[0]
    if name == "ensemble_transformer_4":
        for _ in range(3):
            expected = session.run(None, {feed.name: expected})[0]
    for backend, http in servers.items():
        client = httpclient.InferenceServerClient(http)
        inputs = [httpclient.InferInput(feed.name, shape, "FP32")]
        inputs[0].set_data_from_numpy(batch)
        result = client.infer(name, inputs)
        output = result.as_numpy(result.get_response()["outputs"][0]["name"])
        assert np.allclose(output, expected, atol=TOLERANCE, rtol=TOLERANCE), backend


CONTRADICTING_DIMS = (
    'backend: "onnxruntime"\nmax_batch_size: 4\n'
    'input { name: "x" data_type: TYPE_FP32 dims: [ -1 ] }\n'
    'output { name: "y" data_type: TYPE_FP32 dims: [ 4 ] }\n'
)


@pytest.mark.parametrize("case", ["broken_onnx", "contradicting_dims"])
def test_a_bad_model_fails_its_load_under_both_naming_the_model(tmp_path, case):
    # A repository of its own per backend: the model must fail to load, the server must say so.
    for backend in BACKEND_PORT_OFFSETS:
        repository = tmp_path / backend / "model_repository"
        if case == "broken_onnx":
            (repository / "bad" / "1").mkdir(parents=True)
            (repository / "bad" / "1" / "model.onnx").write_bytes(b"not onnx")
            (repository / "bad" / "config.pbtxt").write_text(
                'backend: "onnxruntime"\nmax_batch_size: 4\n'
            )
        else:  # the graph fixes x to [B, 4]; the config says [B, -1]
            write_doubler(repository, "bad")
            (repository / "bad" / "config.pbtxt").write_text(CONTRADICTING_DIMS)
        settings = ports_at(36) | {"TRITON_ONNXRUNTIME_BACKEND": backend}
        with exported(settings), pytest.raises(server.ServerStartError) as failure:
            server.start(repository, tmp_path / backend / "run", timeout=120)
        message = str(failure.value)
        assert "failed to load 'bad'" in message, backend
        if case == "contradicting_dims":
            assert "tensor 'x': the model expects 2 dimensions" in message, backend


def test_a_broken_onnx_runtime_library_names_the_fallback(tmp_path):
    # A build folder whose ONNX Runtime library is not one: the error names it and the fallback.
    from local_stack import native_backend  # noqa: PLC0415

    fake = tmp_path / "build"
    (fake / "cpu" / "backend").mkdir(parents=True)
    (fake / "cpu" / "backend" / native_backend.BACKEND_LIBRARY).write_bytes(b"")
    (fake / "cpu" / "backend" / native_backend.ORT_LIBRARY).write_bytes(b"not a library")
    with exported({"NATIVE_BACKEND_BUILD_DIR": str(fake), "NATIVE_BACKEND_VARIANT": "cpu"}):
        folder = native_backend.ensure_built("cpu")
        with pytest.raises(native_backend.NativeBackendError) as failure:
            native_backend.check(folder)
    message = str(failure.value)
    assert native_backend.ORT_LIBRARY in message and "TRITON_ONNXRUNTIME_BACKEND=python" in message


def test_an_onnx_runtime_without_c_api_19_is_refused_before_the_server_starts(tmp_path):
    from local_stack import native_backend  # noqa: PLC0415

    built = native_backend.build_dir("cpu")
    version = native_backend.check(built)
    assert version.startswith("1.19"), "the cpu build pairs the backend with NGC 24.10's ORT"
    checker = native_backend._ort_api_check
    with pytest.raises(checker.OrtApiError, match="does not provide C API 99"):
        checker.check_library(str(Path(built) / native_backend.ORT_LIBRARY), api_version=99)
