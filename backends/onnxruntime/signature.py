"""ONNX Runtime session signature -> Triton config entries (used by auto-complete)."""

from __future__ import annotations

# onnxruntime's type strings -> Triton data types (no bfloat16: NVIDIA's backend serves none)
ORT_TO_TRITON = {
    "tensor(float)": "TYPE_FP32",
    "tensor(float16)": "TYPE_FP16",
    "tensor(double)": "TYPE_FP64",
    "tensor(int8)": "TYPE_INT8",
    "tensor(int16)": "TYPE_INT16",
    "tensor(int32)": "TYPE_INT32",
    "tensor(int64)": "TYPE_INT64",
    "tensor(uint8)": "TYPE_UINT8",
    "tensor(uint16)": "TYPE_UINT16",
    "tensor(uint32)": "TYPE_UINT32",
    "tensor(uint64)": "TYPE_UINT64",
    "tensor(bool)": "TYPE_BOOL",
    "tensor(string)": "TYPE_STRING",
}


def dims_of(shape) -> list[int]:
    """ORT shape (ints, symbolic names or None) -> Triton dims (-1 for dynamic)."""
    return [d if isinstance(d, int) and d > 0 else -1 for d in shape]


def supports_batching(session) -> bool:
    """True when every input and output has a dynamic first dimension."""
    tensors = list(session.get_inputs()) + list(session.get_outputs())
    return all(len(t.shape) > 0 and dims_of(t.shape)[0] == -1 for t in tensors)


def tensor_entry(node, batched: bool) -> dict:
    """A config input/output entry for one session tensor."""
    if node.type not in ORT_TO_TRITON:
        raise ValueError(f"tensor {node.name!r} has type {node.type}, which Triton cannot serve")
    dims = dims_of(node.shape)
    return {
        "name": node.name,
        "data_type": ORT_TO_TRITON[node.type],
        "dims": dims[1:] if batched else dims,
    }


def dims_mismatch(node, config_entry: dict, batched: bool) -> str | None:
    """Why a config tensor contradicts the graph, or None; NVIDIA's backend's rule.

    The full config shape is [-1] + dims when batched. A graph dim that is fixed must be stated
    with the same value (a -1 there is refused too); a dynamic graph dim accepts any config dim.
    """
    graph = dims_of(node.shape)
    # A reshape states the shape the model sees (an empty one: the model's [B] for dims [1]).
    reshape = config_entry.get("reshape")
    stated = [
        int(d) for d in (reshape.get("shape", []) if reshape else config_entry.get("dims", []))
    ]
    full = [-1, *stated] if batched else stated
    if len(full) != len(graph) or any(g != -1 and g != c for g, c in zip(graph, full, strict=True)):
        return (
            f"tensor '{node.name}': the model expects {len(graph)} dimensions (shape {graph}) but "
            f"the model configuration specifies {len(full)} dimensions (full shape {full})"
        )
    return None
