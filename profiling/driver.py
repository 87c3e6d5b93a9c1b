"""A short, tagged load for a profiling run: every request carries an id Triton's trace records.

Built from the load client's own pieces (transport, model info, shared-memory regions), so it
sends what `python -m client` sends, over HTTP or gRPC, with shm none|system|cuda. It adds only
what a timeline needs: a request id per request and send/receive times on the monotonic clock
of Triton's trace. The client's per-request export can replace it (`merge --client-times`).
"""

from __future__ import annotations

import threading
import time

from client.model_info import from_config
from client.shm import WorkerRegions, region_prefix
from client.transport import Transport
from profiling.client_times import MONOTONIC, ClientRequest
from profiling.errors import ProfilingError
from profiling.http_api import call


def _request(transport: Transport, model, inputs: dict, regions):
    """(inputs, outputs) for one batch-1 request, through shm regions when given."""
    infer_inputs, outputs = [], []
    for tensor in model.inputs:
        shape = tensor.shape(1, model.batched)
        data = inputs[tensor.name] if regions is None else None
        infer_input = transport.infer_input(tensor.name, shape, tensor.datatype, data)
        if regions is not None:
            region = regions.inputs[tensor.name]
            infer_input.set_shared_memory(region.name, region.byte_size)
        infer_inputs.append(infer_input)
    for tensor in model.outputs:
        output = transport.requested_output(tensor.name)
        if regions is not None:
            output.set_shared_memory(
                regions.outputs[tensor.name].name, regions.outputs[tensor.name].byte_size
            )
        outputs.append(output)
    return infer_inputs, outputs


def drive(
    http_url: str,
    transport: Transport,
    model_name: str,
    requests: int,
    concurrency: int = 1,
    shm: str = "none",
    warmup: int = 2,
    run_tag: str = "prof",
    on_warm=None,
) -> tuple[list[ClientRequest], str]:
    """Send `requests` tagged requests; (per-request times, clock). `on_warm` runs once warm."""
    model = from_config(call(http_url, f"/v2/models/{model_name}/config"))
    done: list[ClientRequest] = []
    failures: list[str] = []
    tickets = iter(range(requests))
    lock = threading.Lock()
    # Runs in the last worker to get warm, before any worker sends a traced request.
    warm = threading.Barrier(concurrency, action=on_warm)

    def worker(index: int) -> None:
        # tritonclient's HTTP client must stay on the thread that made it (gevent).
        client = transport.connect()
        regions = None
        try:
            inputs = model.make_inputs(1, seed=index)
            if shm != "none":
                regions = WorkerRegions(shm, client, region_prefix(1000 + index))
                regions.prepare(model, 1, inputs)
            infer_inputs, outputs = _request(transport, model, inputs, regions)
            for _ in range(warmup):
                client.infer(model_name, infer_inputs, outputs=outputs)
            warm.wait()
            while (ticket := _next(tickets, lock)) is not None:
                request_id = f"{run_tag}-{ticket}"
                began = time.monotonic_ns()
                client.infer(model_name, infer_inputs, outputs=outputs, request_id=request_id)
                ended = time.monotonic_ns()
                with lock:
                    done.append(ClientRequest(request_id, began, ended))
        except threading.BrokenBarrierError:
            pass  # another worker failed first and says why
        except Exception as exc:  # noqa: BLE001 - reported after the run
            failures.append(f"{type(exc).__name__}: {exc}")
            warm.abort()
        finally:
            if regions is not None:
                failures.extend(regions.close())
            client.close()
            transport.end_thread()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise ProfilingError(f"profiling requests to {model_name} failed: {failures[0]}")
    return sorted(done, key=lambda r: r.send_ns), MONOTONIC


def _next(tickets, lock) -> int | None:
    with lock:
        return next(tickets, None)
