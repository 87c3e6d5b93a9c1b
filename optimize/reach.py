"""A space that can reach the ceiling: max batch sizes up to its best batch, capped by memory.

The ceiling (in-process ONNX Runtime) says at which batch the model runs fastest; a served
config can only get there when its max_batch_size (and the preferred size) reach that batch and
enough requests are in flight to fill it (space.concurrency_for). Memory caps the batch: a merged
batch's tensors must fit where the server gathers them (GPU instances: Triton's CUDA memory pool,
CUDA_MEMORY_POOL_BYTES; CPU instances: a quarter of the memory free now).
"""

from __future__ import annotations

import math
import os
from dataclasses import replace

import stack_settings
from optimize.space import SearchSpace

# Triton's config data types -> bytes per element (TYPE_STRING has no fixed size: 0, ignored)
_TYPE_BYTES = {
    "TYPE_BOOL": 1, "TYPE_UINT8": 1, "TYPE_INT8": 1, "TYPE_UINT16": 2, "TYPE_INT16": 2,
    "TYPE_FP16": 2, "TYPE_BF16": 2, "TYPE_UINT32": 4, "TYPE_INT32": 4, "TYPE_FP32": 4,
    "TYPE_UINT64": 8, "TYPE_INT64": 8, "TYPE_FP64": 8,
}  # fmt: skip
# Triton's default CUDA memory pool per GPU (64 MiB) when CUDA_MEMORY_POOL_BYTES is unset.
TRITON_DEFAULT_CUDA_POOL = 64 << 20


def on_gpu(served: dict) -> bool:
    """Whether the served config's instances run on a GPU."""
    return any(g.get("kind") == "KIND_GPU" for g in served.get("instance_group", []))


def default_shm(served: dict) -> str:
    """CUDA shared memory for GPU instances (the device-resident path), system shm otherwise."""
    return "cuda" if on_gpu(served) else "system"


def item_bytes(served: dict) -> int:
    """Bytes one item (batch 1) takes in the inputs and outputs; open dims (-1) count as 1."""
    total = 0
    for tensor in [*served.get("input", []), *served.get("output", [])]:
        elements = math.prod(max(int(d), 1) for d in tensor.get("dims", [])) or 1
        total += elements * _TYPE_BYTES.get(tensor.get("data_type", ""), 0)
    return total


def batch_memory(served: dict, limit_mb: float | None = None) -> tuple[int, str]:
    """Bytes a merged batch may take, and where that number comes from."""
    if limit_mb is not None:
        return int(limit_mb * 1e6), f"--batch-memory-mb {limit_mb:g}"
    if on_gpu(served):
        pool = stack_settings.get("CUDA_MEMORY_POOL_BYTES", "").strip()
        if pool:
            return int(pool), "the server's CUDA memory pool (CUDA_MEMORY_POOL_BYTES)"
        return (
            TRITON_DEFAULT_CUDA_POOL,
            "Triton's default CUDA memory pool (CUDA_MEMORY_POOL_BYTES unset)",
        )
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return free // 4, "a quarter of the memory free now (CPU instances)"


def memory_cap(served: dict, limit_mb: float | None = None) -> tuple[int | None, str]:
    """The largest batch whose inputs and outputs fit the batch memory, and why (None: no cap)."""
    per_item = item_bytes(served)
    if per_item == 0:
        return None, "no fixed-size tensors: no memory cap"
    limit, source = batch_memory(served, limit_mb)
    cap = max(1, limit // per_item)
    return cap, (
        f"{per_item / 1e6:.3g} MB in + out per item; {source} holds {limit / 1e6:.4g} MB, "
        f"so at most {cap} items"
    )


def powers_of_two_to(batch: int) -> tuple[int, ...]:
    """1, 2, 4, ... up to `batch`, and `batch` itself."""
    values = {1 << k for k in range(batch.bit_length()) if 1 << k <= batch}
    return tuple(sorted(values | {batch}))


def reach(space: SearchSpace, target: int, cap: int | None, why_cap: str, log=print) -> SearchSpace:
    """`space` with max_batch_size 1, 2, 4, ... up to `target` (the ceiling's best batch), capped."""
    top = target
    if cap is not None and cap < target:
        top = cap
        log(f"max_batch_size capped at {cap} (not {target}): {why_cap}")
    else:
        log(f"max_batch_size up to {target} ({why_cap})")
    return replace(space, max_batch_size=powers_of_two_to(top))
