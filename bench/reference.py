"""Load-generator reference: tritonclient's raw gRPC async loop, N requests in flight.

perf_analyzer cannot be installed here (PyPI's `perf-analyzer` is a 0.1.0 placeholder with no
binary, and tritonclient does not ship it), so this minimal loop is the yardstick for our
client's own overhead: no shared memory, inputs built once, nothing measured but completions.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import tritonclient.grpc as grpcclient


def raw_async_throughput(
    url: str, model: str, shape: list[int], concurrency: int, seconds: float
) -> dict:
    """Requests/s of a closed loop keeping `concurrency` async requests in flight."""
    client = grpcclient.InferenceServerClient(url)
    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    (tensor,) = client.get_model_metadata(model).inputs  # simple_cnn: input_image, ...: input
    infer_input = grpcclient.InferInput(tensor.name, shape, "FP32")
    infer_input.set_data_from_numpy(data)
    lock = threading.Lock()
    done = threading.Event()
    state = {"completed": 0, "errors": 0, "in_flight": 0, "first_error": None}
    deadline = time.perf_counter() + seconds

    def send() -> None:
        state["in_flight"] += 1
        client.async_infer(model, [infer_input], callback=on_done)

    def on_done(result, error) -> None:
        with lock:
            state["in_flight"] -= 1
            state["errors" if error else "completed"] += 1
            if error and state["first_error"] is None:
                state["first_error"] = str(error)
            if time.perf_counter() < deadline:
                send()
            elif state["in_flight"] == 0:
                done.set()

    started = time.perf_counter()
    with lock:
        for _ in range(concurrency):
            send()
    done.wait(timeout=seconds + 120)
    elapsed = time.perf_counter() - started
    client.close()
    if not state["completed"]:
        raise RuntimeError(f"reference loop: no request succeeded ({state['first_error']})")
    return {
        "requests": state["completed"],
        "errors": state["errors"],
        "seconds": round(elapsed, 3),
        "throughput_rps": round(state["completed"] / elapsed, 3),
    }
