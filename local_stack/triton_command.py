"""The tritonserver command line: one definition for compose.yaml and the local path."""

from __future__ import annotations

import stack_settings


def python_shm_config() -> str:
    """Shared memory between Triton and python-backend stubs, sized for full-HD batches.

    The defaults (1 MiB, growing 1 MiB at a time) make each 25 MB image cost dozens of
    region growths. Configured under `python`: the python backend library reads its
    settings there, also when it hosts our Python-based `onnxruntime` backend.
    """
    default = stack_settings.get_int("PYTHON_SHM_DEFAULT_BYTES")
    growth = stack_settings.get_int("PYTHON_SHM_GROWTH_BYTES")
    return f"python,shm-default-byte-size={default},shm-growth-byte-size={growth}"


def triton_args(model_repository: str, trace_file: str | None = None) -> list[str]:
    """Flags shared by every way of running the server (the container's command).

    Tracing stays OFF; the trace file (default: the container's, CONTAINER_TRACE_FILE) is fixed
    here because Triton refuses to move it over the network. `python -m profiling` switches
    tracing on per model at runtime (docs/profiling.md).
    """
    trace_file = trace_file or stack_settings.get("CONTAINER_TRACE_FILE")
    return [
        f"--model-repository={model_repository}",
        f"--backend-config=onnxruntime,default-max-batch-size={stack_settings.get_int('DEFAULT_MAX_BATCH_SIZE')}",
        f"--backend-config={python_shm_config()}",
        "--model-control-mode=explicit",
        "--load-model=*",
        f"--http-port={stack_settings.get_int('TRITON_HTTP_PORT')}",
        f"--grpc-port={stack_settings.get_int('TRITON_GRPC_PORT')}",
        f"--metrics-port={stack_settings.get_int('TRITON_METRICS_PORT')}",
        f"--trace-config=triton,file={trace_file}",
        "--metrics-config=summary_latencies=true",
        "--log-info=true",
    ]


def local_only_args(backend_directory: str, bind_address: str = "127.0.0.1") -> list[str]:
    """Extra flags of the local path: loopback only, and our assembled backend folder."""
    return [
        f"--backend-directory={backend_directory}",
        f"--http-address={bind_address}",
        f"--grpc-address={bind_address}",
        f"--metrics-address={bind_address}",
    ]
