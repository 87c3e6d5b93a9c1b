"""Shared-memory regions for one load worker: created, registered, and always cleaned up.

Each worker owns one region per input tensor (written once, reused by every request)
and one per output tensor. `close()` unregisters them from the server and unlinks or
frees them locally; the worker calls it on normal exit, on errors and on Ctrl-C.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from client.model_info import ModelInfo
from stack_settings.control_key import control_headers

SHM_MODES = ("none", "system", "cuda")


class ShmUnavailableError(RuntimeError):
    """The requested shared-memory kind cannot be used on this machine."""


# tritonclient's CUDA helpers keep process-wide state (a dict of regions, one CUDA stream
# per device) without locking; two workers creating regions at once crashed the client
# with SIGSEGV on the H100 run. Every call into them goes through this lock.
_CUDA_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def load_cuda_shm():
    """tritonclient's CUDA shm module, probed once; ShmUnavailableError says what is missing."""
    try:
        import tritonclient.utils.cuda_shared_memory as cuda_shm  # noqa: PLC0415

        with _CUDA_LOCK:
            probe = cuda_shm.create_shared_memory_region(f"tos_{os.getpid()}_probe", 64, 0)
            cuda_shm.destroy_shared_memory_region(probe)
    except Exception as exc:  # noqa: BLE001 - any failure means no usable CUDA here
        raise ShmUnavailableError(
            "--shm cuda needs an NVIDIA GPU with its driver and the cuda-python package "
            f"(pip install 'tritonclient[cuda]'); here: {type(exc).__name__}: {exc}. "
            "Use --shm system or --shm none on this machine."
        ) from exc
    return cuda_shm


class _Locked:
    """Calls through to a module while holding a lock (for tritonclient's CUDA helpers)."""

    def __init__(self, module, lock: threading.Lock):
        self._module, self._lock = module, lock

    def __getattr__(self, name):
        function = getattr(self._module, name)

        def locked(*args, **kwargs):
            with self._lock:
                return function(*args, **kwargs)

        return locked


@dataclass
class Region:
    """One registered region holding one tensor."""

    name: str
    byte_size: int
    handle: object = None


@dataclass
class WorkerRegions:
    """The regions of one worker, of kind `system` or `cuda`."""

    kind: str
    client: object
    prefix: str
    device_id: int = 0
    inputs: dict[str, Region] = field(default_factory=dict)
    outputs: dict[str, Region] = field(default_factory=dict)
    _registered: list[str] = field(default_factory=list)
    _created: list[Region] = field(default_factory=list)

    def __post_init__(self):
        if self.kind == "system":
            import tritonclient.utils.shared_memory as system_shm  # noqa: PLC0415

            self._lib = system_shm
        elif self.kind == "cuda":
            self._lib = _Locked(load_cuda_shm(), _CUDA_LOCK)
        else:
            raise ValueError(f"unknown shared-memory kind {self.kind!r}")

    def _create(self, name: str, byte_size: int) -> Region:
        region = Region(name, byte_size)
        if self.kind == "system":
            key = f"/{name}"
            region.handle = self._lib.create_shared_memory_region(name, key, byte_size)
            self._created.append(region)
            self.client.register_system_shared_memory(
                name, key, byte_size, headers=control_headers()
            )
        else:
            region.handle = self._lib.create_shared_memory_region(name, byte_size, self.device_id)
            self._created.append(region)
            raw = self._lib.get_raw_handle(region.handle)
            self.client.register_cuda_shared_memory(
                name, raw, self.device_id, byte_size, headers=control_headers()
            )
        self._registered.append(name)
        return region

    def prepare(self, model: ModelInfo, batch_size: int, inputs: dict[str, np.ndarray]) -> None:
        """Create every region and write the inputs once."""
        for i, tensor in enumerate(model.inputs):
            region = self._create(
                f"{self.prefix}_in{i}", tensor.byte_size(batch_size, model.batched)
            )
            self._lib.set_shared_memory_region(region.handle, [inputs[tensor.name]])
            self.inputs[tensor.name] = region
        for i, tensor in enumerate(model.outputs):
            size = tensor.byte_size(batch_size, model.batched)
            self.outputs[tensor.name] = self._create(f"{self.prefix}_out{i}", size)

    def read_output(self, name: str, dtype, shape: list[int]) -> np.ndarray:
        """A copy of one output tensor."""
        view = self._lib.get_contents_as_numpy(self.outputs[name].handle, dtype, shape)
        return np.array(view, copy=True)

    def close(self, wait_s: float = 10.0) -> list[str]:
        """Unregister and free every region; returns what could not be cleaned (empty if all)."""
        problems = []
        unregister = (
            self.client.unregister_system_shared_memory
            if self.kind == "system"
            else self.client.unregister_cuda_shared_memory
        )
        for name in self._registered:
            try:
                _unregister_when_free(unregister, name, patience_s=wait_s)
            except Exception as exc:  # noqa: BLE001 - the server may already be gone
                problems.append(f"unregister {name}: {exc}")
        problems += [
            f"region {name} is still registered on the server after unregister; "
            f"restart Triton to release it"
            for name in self._still_registered()
        ]
        self._registered.clear()
        for region in self._created:
            try:
                self._lib.destroy_shared_memory_region(region.handle)
            except Exception as exc:  # noqa: BLE001
                problems.append(f"free {region.name}: {exc}")
        self._created.clear()
        return problems

    def _still_registered(self) -> list[str]:
        """Our regions that the server still lists (seen with CUDA regions on Triton 2.51)."""
        status_of = (
            self.client.get_system_shared_memory_status
            if self.kind == "system"
            else self.client.get_cuda_shared_memory_status
        )
        try:
            status = status_of(headers=control_headers())
        except Exception:  # noqa: BLE001 - server gone: nothing is registered there any more
            return []
        if not isinstance(status, list):  # gRPC answers with a protobuf message
            status = list(getattr(status, "regions", {}).values())
        listed = {r["name"] if isinstance(r, dict) else r.name for r in status}
        return [name for name in self._registered if name in listed]


def _unregister_when_free(unregister, name: str, patience_s: float = 10.0) -> None:
    """Unregister, waiting while Triton still uses the region.

    Triton refuses ("it is currently in use") while a request holds the region, e.g. one
    the client gave up on after its timeout; it frees it when that request finishes.
    """
    deadline = time.monotonic() + patience_s
    while True:
        try:
            unregister(name, headers=control_headers())
            return
        except Exception as exc:
            if "in use" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def process_prefix() -> str:
    """The start of every region name this process makes (several clients may share a server)."""
    return f"tos_{os.getpid()}_"


def region_prefix(worker: int) -> str:
    """Region names unique to this process and worker."""
    return f"{process_prefix()}w{worker}"


def sweep_process_regions(client, registered_names: list[str]) -> list[str]:
    """Unregister and unlink anything of this process still left; returns what it removed.

    The workers clean up their own regions; this last pass (on the runner's thread, after
    every worker has ended) makes "nothing left behind" hold even if a worker was cut short.
    """
    prefix, removed = process_prefix(), []
    for name in registered_names:
        if name.startswith(prefix):
            client.unregister_system_shared_memory(name, headers=control_headers())
            removed.append(name)
    for name in os.listdir("/dev/shm") if os.path.isdir("/dev/shm") else []:
        if name.startswith(prefix):
            os.unlink(f"/dev/shm/{name}")
            removed.append(f"/dev/shm/{name}")
    return removed
