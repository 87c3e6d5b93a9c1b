"""Triton `config.pbtxt` generated from an ONNX signature, through Triton's own schema.

Configs are built as `model_config_pb2.ModelConfig` messages (the schema tritonclient
ships) and re-parsed after formatting, so a misspelt field can never reach the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import onnx
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

# ONNX element type -> Triton data type (the pairs Triton's ONNX Runtime backend maps). No
# BFLOAT16: onnxruntime_backend r24.10 (NGC 24.10) maps none, its load fails ("unsupported datatype
# TYPE_BF16"), so the exporter refuses it up front.
ONNX_TO_TRITON = {
    onnx.TensorProto.FLOAT: mc.TYPE_FP32,
    onnx.TensorProto.FLOAT16: mc.TYPE_FP16,
    onnx.TensorProto.DOUBLE: mc.TYPE_FP64,
    onnx.TensorProto.INT8: mc.TYPE_INT8,
    onnx.TensorProto.INT16: mc.TYPE_INT16,
    onnx.TensorProto.INT32: mc.TYPE_INT32,
    onnx.TensorProto.INT64: mc.TYPE_INT64,
    onnx.TensorProto.UINT8: mc.TYPE_UINT8,
    onnx.TensorProto.UINT16: mc.TYPE_UINT16,
    onnx.TensorProto.UINT32: mc.TYPE_UINT32,
    onnx.TensorProto.UINT64: mc.TYPE_UINT64,
    onnx.TensorProto.BOOL: mc.TYPE_BOOL,
    onnx.TensorProto.STRING: mc.TYPE_STRING,
}


class UnsupportedModelError(ValueError):
    """The ONNX model has a tensor Triton cannot describe."""


@dataclass(frozen=True)
class TensorSignature:
    """One graph input or output: name, Triton type and dims (-1 for dynamic)."""

    name: str
    data_type: int
    dims: tuple[int, ...]
    batch_dynamic: bool  # first dim is symbolic (or -1), i.e. a batch axis


@dataclass
class ServingOptions:
    """Knobs of the generated config that do not come from the ONNX graph."""

    default_max_batch_size: int = 8
    instance_count: int = 1
    instance_kind: str = "KIND_CPU"  # KIND_GPU on a GPU host
    max_queue_delay_us: int = 200
    default_model_filename: str = "model.onnx"
    parameters: dict[str, str] = field(default_factory=dict)
    graph_level: int | None = None  # optimization.graph.level (-1 basic, 1 extended, 2 all)
    warmup_batch_size: int = 0  # 0: no model_warmup entry
    version_policy: str | None = None  # "latest:N", "all" or "specific:1,2"


def _tensor_signature(value: onnx.ValueInfoProto, model_name: str) -> TensorSignature:
    tensor_type = value.type.tensor_type
    if not value.type.HasField("tensor_type"):
        raise UnsupportedModelError(
            f"model {model_name!r}: tensor {value.name!r} is not a plain tensor "
            f"(sequence/map types cannot be served by the ONNX Runtime backend)"
        )
    if tensor_type.elem_type == onnx.TensorProto.BFLOAT16:
        raise UnsupportedModelError(
            f"model {model_name!r}: tensor {value.name!r} is BFLOAT16, which Triton 24.10's ONNX "
            f"Runtime backend cannot serve (its load fails: unsupported datatype TYPE_BF16); cast "
            f"it to FLOAT16 or FLOAT in the graph before exporting"
        )
    if tensor_type.elem_type not in ONNX_TO_TRITON:
        type_name = onnx.TensorProto.DataType.Name(tensor_type.elem_type)
        raise UnsupportedModelError(
            f"model {model_name!r}: tensor {value.name!r} has element type {type_name}, "
            f"which Triton has no data type for; cast it in the graph before exporting"
        )
    if not tensor_type.HasField("shape"):
        raise UnsupportedModelError(
            f"model {model_name!r}: tensor {value.name!r} has no shape (unknown rank); "
            f"export with a fixed rank or run onnx shape inference first"
        )
    dims = tuple(
        d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else -1
        for d in tensor_type.shape.dim
    )
    batch_dynamic = bool(dims) and dims[0] == -1
    return TensorSignature(value.name, ONNX_TO_TRITON[tensor_type.elem_type], dims, batch_dynamic)


def onnx_signature(model: onnx.ModelProto, model_name: str):
    """Inputs and outputs of a graph (initializers listed as inputs are left out)."""
    initializers = {init.name for init in model.graph.initializer}
    inputs = [
        _tensor_signature(v, model_name) for v in model.graph.input if v.name not in initializers
    ]
    outputs = [_tensor_signature(v, model_name) for v in model.graph.output]
    return inputs, outputs


def build_model_config(
    name: str, model: onnx.ModelProto, options: ServingOptions
) -> mc.ModelConfig:
    """A complete ModelConfig for serving `model` with the ONNX Runtime backend."""
    inputs, outputs = onnx_signature(model, name)
    batched = all(t.batch_dynamic for t in inputs + outputs)
    config = mc.ModelConfig(name=name, backend="onnxruntime")
    config.max_batch_size = options.default_max_batch_size if batched else 0
    if options.default_model_filename != "model.onnx":
        config.default_model_filename = options.default_model_filename
    for tensor, target in [(t, config.input.add()) for t in inputs] + [
        (t, config.output.add()) for t in outputs
    ]:
        target.name = tensor.name
        target.data_type = tensor.data_type
        if not batched and not tensor.dims:
            raise UnsupportedModelError(
                f"model {name!r}: tensor {tensor.name!r} is a scalar (rank 0) and the model does "
                f"not batch; Triton serves no scalar tensors there: give it shape [1] in the "
                f"graph (Unsqueeze) or a dynamic batch axis"
            )
        dims = tensor.dims[1:] if batched else tensor.dims
        target.dims.extend(dims or [1])
        if not dims:  # Triton refuses empty dims: [1] per item, reshaped to the model's [B]
            target.reshape.SetInParent()
    group = config.instance_group.add()
    group.count = options.instance_count
    group.kind = mc.ModelInstanceGroup.Kind.Value(options.instance_kind)
    if group.kind == mc.ModelInstanceGroup.KIND_GPU:
        keep_inputs_on_gpu(config)
        pick_conv_algorithms_by_heuristic(config)
    if batched:
        config.dynamic_batching.max_queue_delay_microseconds = options.max_queue_delay_us
    for key, value in options.parameters.items():
        config.parameters[key].string_value = value
    if options.graph_level is not None:
        config.optimization.graph.level = options.graph_level
    if options.version_policy:
        set_version_policy(config, options.version_policy)
    if options.warmup_batch_size > 0:
        add_random_warmup(config, inputs, options.warmup_batch_size)
        if group.kind == mc.ModelInstanceGroup.KIND_GPU:
            # ORT's CUDA EP searches cuDNN's conv algorithms for each new input shape, i.e.
            # for every batch size the dynamic batcher first merges: on the H200 the full-HD
            # CNN's served throughput collapsed at concurrency >= 4 (merged batches) while
            # batch 1 was fast. Warm every size up front so that search happens at load.
            for batch in range(1, config.max_batch_size + 1):
                if batch != options.warmup_batch_size:
                    add_random_warmup(config, inputs, batch, name=f"random_input_b{batch}")
    return config


def set_version_policy(config: mc.ModelConfig, policy: str) -> None:
    """`latest:N`, `all` or `specific:1,2` -> config.version_policy."""
    kind, _, value = policy.partition(":")
    if kind == "all" and not value:
        config.version_policy.all.SetInParent()
    elif kind == "latest" and value.isdigit():
        config.version_policy.latest.num_versions = int(value)
    elif kind == "specific" and all(v.strip().isdigit() for v in value.split(",")):
        config.version_policy.specific.versions.extend(int(v) for v in value.split(","))
    else:
        raise ValueError(
            f"version policy {policy!r} is not one of 'all', 'latest:N', 'specific:1,2'"
        )


def add_random_warmup(
    config: mc.ModelConfig, inputs, batch_size: int, name: str = "random_input"
) -> None:
    """A model_warmup entry with random data so the first real request is not cold."""
    warmup = config.model_warmup.add()
    warmup.name = name
    # Triton sends the warmup batch as is: a non-batching model takes one request of its dims.
    warmup.batch_size = min(batch_size, config.max_batch_size) if config.max_batch_size else 1
    batched = config.max_batch_size > 0
    for tensor in inputs:
        dims = tensor.dims[1:] if batched else tensor.dims
        if any(d < 0 for d in dims):
            # Random data needs a concrete shape; a -1 dim cannot be warmed up generically.
            del config.model_warmup[:]
            return
        entry = warmup.inputs[tensor.name]
        entry.data_type = tensor.data_type
        entry.dims.extend(dims)
        if tensor.data_type == mc.TYPE_STRING:
            entry.zero_data = True  # random bytes are not valid strings
        else:
            entry.random_data = True


def add_tensorrt_accelerator(
    config: mc.ModelConfig, cache_path: str, workspace_bytes: int = 1 << 30
) -> mc.ModelConfig:
    """A copy of `config` for GPU instances with the TensorRT execution accelerator (FP16)."""
    trt = mc.ModelConfig()
    trt.CopyFrom(config)
    del trt.instance_group[:]
    group = trt.instance_group.add()
    group.count = config.instance_group[0].count if config.instance_group else 1
    group.kind = mc.ModelInstanceGroup.KIND_GPU
    keep_inputs_on_gpu(trt)
    pick_conv_algorithms_by_heuristic(trt)
    accelerator = trt.optimization.execution_accelerators.gpu_execution_accelerator.add()
    accelerator.name = "tensorrt"
    accelerator.parameters["precision_mode"] = "FP16"
    accelerator.parameters["max_workspace_size_bytes"] = str(workspace_bytes)
    accelerator.parameters["trt_engine_cache_enable"] = "1"
    accelerator.parameters["trt_engine_cache_path"] = cache_path
    return trt


def keep_inputs_on_gpu(config: mc.ModelConfig) -> None:
    """Let the python backend hand GPU inputs (CUDA shm) to our backend as they are.

    By default it copies every input to the host first; our backend binds GPU inputs to ONNX
    Runtime in place (backends/onnxruntime/device_io.py). The NGC image's native backend
    ignores this key.
    """
    config.parameters["FORCE_CPU_ONLY_INPUT_TENSORS"].string_value = "no"


def pick_conv_algorithms_by_heuristic(config: mc.ModelConfig) -> None:
    """cuDNN convolution algorithms by heuristic, not ONNX Runtime's default exhaustive search.

    With the exhaustive search, batches whose size changes from one run to the next (what a
    dynamic batcher with a queue delay produces) ran the full-HD CNN at 147 images/s on an H200
    against 1,107 at a fixed batch 8, every size warmed; the heuristic gave 675 and 1,099
    (scripts/gpu_batch_shapes.py, docs/optimize/README.md). "1" = HEURISTIC in the parameter
    Triton's ONNX Runtime backend documents (0 EXHAUSTIVE, 2 DEFAULT); ours reads it too.
    """
    config.parameters["cudnn_conv_algo_search"].string_value = "1"


def to_pbtxt(config: mc.ModelConfig) -> str:
    """Text form of a config, checked by parsing it back through the schema."""
    text = text_format.MessageToString(config)
    parse_pbtxt(text)
    return text


def parse_pbtxt(text: str) -> mc.ModelConfig:
    """Parse config.pbtxt text with Triton's schema (raises on unknown fields)."""
    return text_format.Parse(text, mc.ModelConfig())
