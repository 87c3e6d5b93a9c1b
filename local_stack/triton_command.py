"""The tritonserver command line: one definition for compose.yaml and the local path."""

from __future__ import annotations

import stack_settings
from stack_settings.control_key import control_header_name, ensure_control_key

# Control APIs that need the key by default: they change what the server serves (load/unload any
# model in the repository), map another process's memory (shm register by key), or reconfigure it
# (trace, logging). Left open, all read-only: health, metadata and inference (the service itself),
# model-config (clients build requests from it), statistics (the client's server-side breakdown;
# the same counters /metrics exports without a key). TRITON_RESTRICTED_APIS (.env) chooses
# otherwise; docs/security.md says what each choice lets in.
RESTRICTED_APIS = ("model-repository", "shared-memory", "trace", "logging")
# Triton 2.51's API groups (--http-restricted-api names), and the setting's word for "no key".
API_GROUPS = (
    "health",
    "metadata",
    "inference",
    "shared-memory",
    "model-config",
    "model-repository",
    "statistics",
    "trace",
    "logging",
)
NO_RESTRICTION = "none"
# Inside a container (compose, the chart) Triton listens on its standard ports, as the NGC image
# does; .env's TRITON_*_PORT choose only the host ports compose publishes them on.
CONTAINER_PORTS = {"http": 8000, "grpc": 8001, "metrics": 8002}


def python_shm_config() -> str:
    """Shared memory between Triton and python-backend stubs, sized for full-HD batches.

    The defaults (1 MiB, growing 1 MiB at a time) make each 25 MB image cost dozens of
    region growths. Configured under `python`: the python backend library reads its
    settings there, also when it hosts our Python-based `onnxruntime` backend.
    """
    default = stack_settings.get_int("PYTHON_SHM_DEFAULT_BYTES")
    growth = stack_settings.get_int("PYTHON_SHM_GROWTH_BYTES")
    return f"python,shm-default-byte-size={default},shm-growth-byte-size={growth}"


def restricted_apis() -> tuple[str, ...]:
    """The API groups behind the key: TRITON_RESTRICTED_APIS (comma-separated, or `none`)."""
    setting = stack_settings.get("TRITON_RESTRICTED_APIS", ",".join(RESTRICTED_APIS)).strip()
    if setting == NO_RESTRICTION:
        return ()
    groups = tuple(part.strip() for part in setting.split(",") if part.strip())
    unknown = [group for group in groups if group not in API_GROUPS]
    if unknown or not groups or len(set(groups)) != len(groups):
        raise stack_settings.SettingError(
            f"TRITON_RESTRICTED_APIS={setting!r}: expected `{NO_RESTRICTION}` or distinct names "
            f"from {', '.join(API_GROUPS)} (unknown: {', '.join(unknown) or '-'}); the default "
            f"is {','.join(RESTRICTED_APIS)} (docs/security.md)"
        )
    return groups


def restricted_api_args(control_key: str | None = None) -> list[str]:
    """Triton's flags that put TRITON_RESTRICTED_APIS behind the key, over HTTP and over gRPC.

    Triton 2.51 parses `<apis>:<header>=<key>` (its --help shows a comma before the header, which
    the parser refuses). `control_key` defaults to the local one (generated on first use); the
    chart passes a placeholder its pod spec fills from a Secret. No flags with `none`.
    """
    groups = restricted_apis()
    if not groups:
        return []
    key = ensure_control_key() if control_key is None else control_key
    restriction = f"{','.join(groups)}:{control_header_name()}={key}"
    return [f"--http-restricted-api={restriction}", f"--grpc-restricted-protocol={restriction}"]


def local_ports() -> dict[str, int]:
    """The local path's ports: .env's TRITON_HTTP_PORT, TRITON_GRPC_PORT, TRITON_METRICS_PORT."""
    return {
        protocol: stack_settings.get_int(f"TRITON_{protocol.upper()}_PORT")
        for protocol in CONTAINER_PORTS
    }


def triton_args(
    model_repository: str,
    trace_file: str | None = None,
    control_key: str | None = None,
    ports: dict[str, int] | None = None,
    restricted: bool = True,
) -> list[str]:
    """Flags shared by every way of running the server.

    Tracing stays OFF; the trace file (default: the container's, CONTAINER_TRACE_FILE) is fixed
    here because Triton refuses to move it over the network. `python -m profiling` switches
    tracing on per model at runtime (docs/profiling.md), sending the control key. `ports`
    default to the local ones; `restricted=False` leaves the key flags to the caller (compose's
    entrypoint appends them from the key file it reads).
    """
    trace_file = trace_file or stack_settings.get("CONTAINER_TRACE_FILE")
    ports = ports or local_ports()
    return [
        f"--model-repository={model_repository}",
        f"--backend-config=onnxruntime,default-max-batch-size={stack_settings.get_int('DEFAULT_MAX_BATCH_SIZE')}",
        f"--backend-config={python_shm_config()}",
        "--model-control-mode=explicit",
        "--load-model=*",
        f"--http-port={ports['http']}",
        f"--grpc-port={ports['grpc']}",
        f"--metrics-port={ports['metrics']}",
        f"--trace-config=triton,file={trace_file}",
        "--metrics-config=summary_latencies=true",
        "--log-info=true",
        *(restricted_api_args(control_key) if restricted else []),
    ]


def container_args(model_repository: str) -> list[str]:
    """compose's tritonserver flags: standard ports; docker/stack/triton-entrypoint.sh appends
    the restricted-API flags with the key it reads from the stack's key volume."""
    return triton_args(model_repository, ports=CONTAINER_PORTS, restricted=False)


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
