"""The tritonserver command line: one definition for compose.yaml and the local path."""

from __future__ import annotations

import stack_settings
from stack_settings.control_key import control_header_name, ensure_control_key

# Control APIs that need the key: they change what the server serves (load/unload any model in
# the repository), map another process's memory (shm register by key), or reconfigure it (trace,
# logging). Left open, all read-only: health, metadata and inference (the service itself),
# model-config (clients build requests from it), statistics (the client's server-side breakdown;
# the same counters /metrics exports without a key).
RESTRICTED_APIS = ("model-repository", "shared-memory", "trace", "logging")


def python_shm_config() -> str:
    """Shared memory between Triton and python-backend stubs, sized for full-HD batches.

    The defaults (1 MiB, growing 1 MiB at a time) make each 25 MB image cost dozens of
    region growths. Configured under `python`: the python backend library reads its
    settings there, also when it hosts our Python-based `onnxruntime` backend.
    """
    default = stack_settings.get_int("PYTHON_SHM_DEFAULT_BYTES")
    growth = stack_settings.get_int("PYTHON_SHM_GROWTH_BYTES")
    return f"python,shm-default-byte-size={default},shm-growth-byte-size={growth}"


def restricted_api_args(control_key: str | None = None) -> list[str]:
    """Triton's flags that put the control APIs behind the key, over HTTP and over gRPC.

    Triton 2.51 parses `<apis>:<header>=<key>` (its --help shows a comma before the header, which
    the parser refuses). `control_key` defaults to the local one (generated on first use); the
    chart passes a placeholder its pod spec fills from a Secret.
    """
    key = ensure_control_key() if control_key is None else control_key
    restriction = f"{','.join(RESTRICTED_APIS)}:{control_header_name()}={key}"
    return [f"--http-restricted-api={restriction}", f"--grpc-restricted-protocol={restriction}"]


def triton_args(
    model_repository: str, trace_file: str | None = None, control_key: str | None = None
) -> list[str]:
    """Flags shared by every way of running the server (the container's command).

    Tracing stays OFF; the trace file (default: the container's, CONTAINER_TRACE_FILE) is fixed
    here because Triton refuses to move it over the network. `python -m profiling` switches
    tracing on per model at runtime (docs/profiling.md), sending the control key.
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
        *restricted_api_args(control_key),
    ]


def local_only_args(backend_directory: str, bind_address: str = "127.0.0.1") -> list[str]:
    """Extra flags of the local path: loopback only, our assembled backend folder, CUDA pool."""
    args = [
        f"--backend-directory={backend_directory}",
        f"--http-address={bind_address}",
        f"--grpc-address={bind_address}",
        f"--metrics-address={bind_address}",
    ]
    pool = stack_settings.get("CUDA_MEMORY_POOL_BYTES", "").strip()
    if pool:
        # GPU outputs of our backend reach the server through this pool; when a merged batch
        # does not fit, the python backend falls back to CUDA IPC per output (20+ ms a request
        # for full-HD images on the H200).
        args.append(f"--cuda-memory-pool-byte-size=0:{int(pool)}")
    return args
