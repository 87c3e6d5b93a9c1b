"""Builds the ONNX Runtime session a model config asks for (providers, threads, TensorRT)."""

from __future__ import annotations

import contextlib

import onnxruntime as ort

# optimization { graph { level: N } } as Triton's ONNX Runtime backend reads it.
GRAPH_LEVELS = {
    -1: ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    0: ort.GraphOptimizationLevel.ORT_ENABLE_ALL,  # Triton's default
    1: ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    2: ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def _parameter(config: dict, key: str) -> str | None:
    return config.get("parameters", {}).get(key, {}).get("string_value")


def session_options(config: dict) -> ort.SessionOptions:
    """Thread counts and graph level from the config's `parameters` / `optimization`."""
    options = ort.SessionOptions()
    # ORT's worker threads spin for a while after each run. In the stub they compete with
    # Triton's own threads, which copy tensors in and out: on 2 cores, turning spinning off
    # cut the full-HD CNN's p50 from ~91 ms to ~85 ms. parameters { key: "allow_spinning" }
    # with "1" restores ORT's default.
    spinning = _parameter(config, "allow_spinning") or "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
    intra = _parameter(config, "intra_op_thread_count")
    inter = _parameter(config, "inter_op_thread_count")
    if intra:
        options.intra_op_num_threads = int(intra)
    if inter:
        options.inter_op_num_threads = int(inter)
    level = int(config.get("optimization", {}).get("graph", {}).get("level", 0))
    options.graph_optimization_level = GRAPH_LEVELS.get(level, GRAPH_LEVELS[0])
    return options


def _tensorrt_options(accelerator: dict) -> dict:
    params = accelerator.get("parameters", {})
    options: dict = {}
    if params.get("precision_mode", "").upper() == "FP16":
        options["trt_fp16_enable"] = True
    if "max_workspace_size_bytes" in params:
        options["trt_max_workspace_size"] = int(params["max_workspace_size_bytes"])
    if params.get("trt_engine_cache_enable", "").lower() in ("1", "true"):
        options["trt_engine_cache_enable"] = True
        options["trt_engine_cache_path"] = params.get("trt_engine_cache_path", "/tmp/trt_cache")
    return options


# parameters { key: "cudnn_conv_algo_search" }, as Triton's ONNX Runtime backend reads it.
CONV_ALGO_SEARCH = {"0": "EXHAUSTIVE", "1": "HEURISTIC", "2": "DEFAULT"}


def _cuda_options(config: dict, accelerators: list[dict], device_id: int) -> dict:
    """CUDA EP options: the model parameter cudnn_conv_algo_search (0/1/2), then any
    gpu_execution_accelerator { name: "cuda" } parameters, passed to ORT as they are."""
    options: dict = {"device_id": device_id}
    search = _parameter(config, "cudnn_conv_algo_search")
    if search is not None:
        if search not in CONV_ALGO_SEARCH:
            raise ValueError(
                f"parameters cudnn_conv_algo_search is {search!r}: use 0 (EXHAUSTIVE), "
                "1 (HEURISTIC) or 2 (DEFAULT)"
            )
        options["cudnn_conv_algo_search"] = CONV_ALGO_SEARCH[search]
    for accelerator in accelerators:
        if accelerator.get("name") == "cuda":
            options |= accelerator.get("parameters", {})
    return options


def _preload_cuda_libraries() -> None:
    """Let onnxruntime-gpu find CUDA/cuDNN from pip's nvidia-* packages (no LD_LIBRARY_PATH)."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:
        with contextlib.suppress(Exception):  # system-wide CUDA may still be found by the loader
            preload()


def providers_for(config: dict, instance_kind: str, device_id: int) -> tuple[list, list[str]]:
    """Execution providers for this instance, plus notes on anything asked for but missing."""
    available = set(ort.get_available_providers())
    if instance_kind == "GPU" and "CUDAExecutionProvider" in available:
        _preload_cuda_libraries()
    notes: list[str] = []
    providers: list = []
    if instance_kind == "GPU":
        accelerators = (
            config.get("optimization", {})
            .get("execution_accelerators", {})
            .get("gpu_execution_accelerator", [])
        )
        for accelerator in accelerators:
            if accelerator.get("name") == "cuda":
                continue  # options of the CUDA EP, below
            if accelerator.get("name") != "tensorrt":
                notes.append(
                    f"GPU accelerator {accelerator.get('name')!r} is not supported; ignored"
                )
            elif "TensorrtExecutionProvider" in available:
                options = {"device_id": device_id} | _tensorrt_options(accelerator)
                providers.append(("TensorrtExecutionProvider", options))
            else:
                notes.append("TensorRT was asked for but this onnxruntime has no TensorRT EP")
        if "CUDAExecutionProvider" in available:
            options = _cuda_options(config, accelerators, device_id)
            providers.append(("CUDAExecutionProvider", options))
        else:
            notes.append(
                "instance kind GPU, but this onnxruntime has no CUDA EP (install onnxruntime-gpu); "
                "running on the CPU"
            )
    providers.append("CPUExecutionProvider")
    return providers, notes
