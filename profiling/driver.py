"""A short, tagged load for a profiling run: every request carries an id Triton's trace records.

Deliberately small (no shm, no rate control): the load client (`python -m client`) is the tool
for measuring; this only needs each request's id and its send/receive times on the monotonic
clock Triton's trace uses. The client's per-request export can replace it (--client-times).
"""

from __future__ import annotations

import threading
import time

import numpy as np

from profiling.client_times import MONOTONIC, ClientRequest
from profiling.errors import ProfilingError
from profiling.http_api import call


def _inputs(config: dict, module) -> list:
    from tritonclient.utils import triton_to_np_dtype  # noqa: PLC0415

    rng = np.random.default_rng(0)
    batched = int(config.get("max_batch_size", 0)) > 0
    tensors = []
    for entry in config["input"]:
        datatype = entry["data_type"].removeprefix("TYPE_")
        dims = [int(d) for d in entry["dims"]]
        if any(d < 0 for d in dims):
            raise ProfilingError(
                f"input {entry['name']!r} of {config['name']} has a dynamic shape {dims}: "
                f"profile it with the client's per-request export instead (--client-times)"
            )
        shape = ([1] if batched else []) + dims
        array = rng.random(shape).astype(triton_to_np_dtype(datatype))
        tensor = module.InferInput(entry["name"], shape, datatype)
        tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    return tensors


def _client(protocol: str, url: str):
    if protocol == "grpc":
        import tritonclient.grpc as module  # noqa: PLC0415
    else:
        import tritonclient.http as module  # noqa: PLC0415
    return module, module.InferenceServerClient(url)


def drive(
    http_url: str,
    infer_url: str,
    protocol: str,
    model: str,
    requests: int,
    concurrency: int = 1,
    warmup: int = 2,
    run_tag: str = "prof",
    on_warm=None,
) -> tuple[list[ClientRequest], str]:
    """Send `requests` tagged requests; (per-request times, clock). `on_warm` runs once warm."""
    config = call(http_url, f"/v2/models/{model}/config")
    done: list[ClientRequest] = []
    failures: list[str] = []
    tickets = iter(range(requests))
    lock = threading.Lock()
    # Runs in the last worker to get warm, before any worker sends a measured request.
    warm = threading.Barrier(concurrency, action=on_warm)

    def worker() -> None:
        # tritonclient's HTTP client must stay on the thread that made it (gevent).
        module, client = _client(protocol, infer_url)
        try:
            body = _inputs(config, module)
            for _ in range(warmup):
                client.infer(model, body)
            warm.wait()
            while True:
                with lock:
                    index = next(tickets, None)
                if index is None:
                    return
                request_id = f"{run_tag}-{index}"
                began = time.monotonic_ns()
                client.infer(model, body, request_id=request_id)
                ended = time.monotonic_ns()
                with lock:
                    done.append(ClientRequest(request_id, began, ended))
        except threading.BrokenBarrierError:
            pass  # another worker failed first and says why
        except Exception as exc:  # noqa: BLE001 - reported after the run
            failures.append(str(exc))
            warm.abort()
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise ProfilingError(f"profiling requests to {model} failed: {failures[0]}")
    return sorted(done, key=lambda r: r.send_ns), MONOTONIC
