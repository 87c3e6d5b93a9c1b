"""The device-resident data path inside the real tritonserver, on the CPU.

`parameters { device_io: "on" }` runs backends/onnxruntime/device_io.py on a CPU instance
(torch CPU tensors, ORT I/O binding on host buffers): the same DLPack inputs, merge, bind,
split and DLPack outputs that a GPU instance uses on CUDA memory. scripts/gpu-check.sh
proves the GPU side on a lent GPU.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient

from exporter.model_config import parse_pbtxt, to_pbtxt
from stack_settings.control_key import control_headers

pytest.importorskip("torch")

NAME = "simple_cnn_device_io"
ATOL = 1e-6  # same ORT build and CPU on both sides


@pytest.fixture(scope="module")
def stack(python_backend_stack):
    """device_io is our backend's data path: this module serves with ours."""
    return python_backend_stack


@pytest.fixture(scope="module")
def device_io_model(stack):
    """simple_cnn served through the device-resident path; a long queue delay makes batches merge."""
    source = stack.repository / "simple_cnn"
    target = stack.repository / NAME
    shutil.copytree(source / "1", target / "1", dirs_exist_ok=True)
    config = parse_pbtxt((source / "config.pbtxt").read_text())
    config.name = NAME
    config.parameters["device_io"].string_value = "on"
    config.dynamic_batching.max_queue_delay_microseconds = 300_000
    del config.model_warmup[:]
    (target / "config.pbtxt").write_text(to_pbtxt(config))
    client = grpcclient.InferenceServerClient(stack.grpc)
    client.load_model(NAME, headers=control_headers())
    try:
        yield client
    finally:
        client.unload_model(NAME, headers=control_headers())
        shutil.rmtree(target, ignore_errors=True)


def _infer(client, batch: np.ndarray) -> np.ndarray:
    infer_input = grpcclient.InferInput("input_image", list(batch.shape), "FP32")
    infer_input.set_data_from_numpy(batch)
    return client.infer(NAME, [infer_input]).as_numpy("output_image")


def test_device_path_is_chosen_and_logged(device_io_model, stack):
    log = stack.log_file.read_text()
    assert f"{NAME}" in log and "device-resident data path" in log and "on cpu" in log


def test_merged_requests_equal_in_process_ort(device_io_model, stack):
    session = ort.InferenceSession(str(stack.repository / "simple_cnn" / "1" / "model.onnx"))
    shape = [int(d) for d in session.get_inputs()[0].shape[1:]]
    rng = np.random.default_rng(7)
    batches = [rng.standard_normal([b, *shape]).astype(np.float32) for b in (1, 3, 2, 1)]
    before = device_io_model.get_inference_statistics(NAME).model_stats[0]
    with ThreadPoolExecutor(len(batches)) as pool:
        outputs = list(pool.map(lambda b: _infer(device_io_model, b), batches))
    after = device_io_model.get_inference_statistics(NAME).model_stats[0]
    for batch, output in zip(batches, outputs, strict=True):
        expected = session.run(None, {"input_image": batch})[0]
        assert output.shape == expected.shape
        assert float(np.max(np.abs(output - expected))) <= ATOL
    inferences = after.inference_count - before.inference_count
    executions = after.execution_count - before.execution_count
    assert inferences == 7
    assert executions < len(batches), "the dynamic batcher did not merge: nothing to split"
