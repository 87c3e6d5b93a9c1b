"""Device-resident data path for GPU instances: inputs, ORT I/O binding and outputs stay on the GPU.

The python backend hands GPU tensors to the stub when the config turns
FORCE_CPU_ONLY_INPUT_TENSORS off (CUDA shm inputs arrive as CUDA IPC memory). Here they are
bound to ORT in place (one request) or gathered into one device buffer (a dynamic batch),
ORT writes its outputs into device buffers, and each request gets views of them back as
DLPack tensors: the server then copies device to device into the client's CUDA region.
Host inputs (system shm, no shm) cost one host-to-device copy into the bound buffer.

Written against torch tensors on any device, so the same merge/bind/split logic runs on the
CPU in CI (device "cpu", CPU EP) and on the GPU (device "cuda:N", CUDA EP).
"""

from __future__ import annotations

import numpy as np

# ORT type -> numpy element type for IOBinding; the types DLPack and torch carry as well.
ORT_NUMPY = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int8)": np.int8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
}


class DevicePathUnavailable(RuntimeError):
    """This session cannot use the device-resident path; the reason says why."""


def _static_tail(shape) -> tuple[int, ...] | None:
    """Dims after the batch dim when all are fixed (outputs can be allocated up front)."""
    tail = shape[1:]
    if all(isinstance(d, int) and d > 0 for d in tail):
        return tuple(tail)
    return None


class DeviceRunner:
    """Runs gathered requests with I/O binding on `device`; outputs stay on that device."""

    def __init__(self, session, device: str, batched: bool):
        try:
            import torch  # noqa: PLC0415 - only GPU instances need it
        except ImportError as exc:
            raise DevicePathUnavailable(f"torch is not importable in the stub ({exc})") from exc
        self.torch = torch
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise DevicePathUnavailable("torch sees no CUDA device")
        self.batched = batched
        self.session = session
        # ORT names its devices "cuda"/"cpu" with a separate id.
        self.ort_device = self.device.type
        self.ort_device_id = self.device.index or 0
        tensors = list(session.get_inputs()) + list(session.get_outputs())
        unsupported = [f"{t.name} ({t.type})" for t in tensors if t.type not in ORT_NUMPY]
        if unsupported:
            raise DevicePathUnavailable(f"tensor types without a device path: {unsupported}")
        self.inputs = [(node.name, ORT_NUMPY[node.type]) for node in session.get_inputs()]
        self.outputs = []
        for node in session.get_outputs():
            tail = _static_tail(node.shape) if batched else None
            self.outputs.append((node.name, ORT_NUMPY[node.type], tail))
        if any(tail is None for *_, tail in self.outputs) and not _has_dlpack_outputs():
            raise DevicePathUnavailable(
                "outputs with dynamic dims need OrtValue DLPack export, missing in this onnxruntime"
            )
        self._torch_dtype = {
            np_type: torch.from_numpy(np.zeros(1, np_type)).dtype for np_type in ORT_NUMPY.values()
        }

    def run(self, requests: list[dict]) -> list[list]:
        """Outputs (tensors on the device) per request, from one ORT run over all of them.

        `requests` maps input names to torch tensors (host or device); the caller has checked
        that trailing shapes agree when there is more than one request.
        """
        sizes = [next(iter(feed.values())).shape[0] for feed in requests] if self.batched else []
        binding = self.session.io_binding()
        staged = []  # device buffers must outlive the run
        copied = False
        for name, np_type in self.inputs:
            pieces = [feed[name] for feed in requests]
            tensor, did_copy = self._gather(pieces, np_type)
            copied |= did_copy
            staged.append(tensor)
            binding.bind_input(
                name, self.ort_device, self.ort_device_id, np_type,
                list(tensor.shape), tensor.data_ptr(),
            )  # fmt: skip
        total = sum(sizes)
        allocated = []
        for name, np_type, tail in self.outputs:
            if tail is None:
                binding.bind_output(name, self.ort_device, self.ort_device_id)
                allocated.append(None)
                continue
            out = self.torch.empty(
                (total, *tail), dtype=self._torch_dtype[np_type], device=self.device
            )
            binding.bind_output(
                name, self.ort_device, self.ort_device_id, np_type, list(out.shape), out.data_ptr()
            )
            allocated.append(out)
        if copied and self.device.type == "cuda":
            # torch queued the copies on its stream; ORT runs on its own stream.
            self.torch.cuda.current_stream(self.device).synchronize()
        self.session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        if any(out is None for out in allocated):
            produced = binding._iobinding.get_outputs()  # C OrtValues: they export DLPack
            allocated = [
                out if out is not None else self.torch.from_dlpack(produced[i])
                for i, out in enumerate(allocated)
            ]
        del staged
        if not self.batched or len(requests) == 1:
            return [allocated]
        bounds = np.cumsum([0, *sizes])
        return [
            [out[lo:hi] for out in allocated]
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=False)
        ]

    def _gather(self, pieces: list, np_type) -> tuple[object, bool]:
        """One contiguous tensor on the device holding every request's piece, in order."""
        dtype = self._torch_dtype[np_type]
        if len(pieces) == 1:
            piece = pieces[0]
            if piece.device == self.device and piece.dtype == dtype and piece.is_contiguous():
                return piece, False  # bound in place: CUDA shm input, no copy at all
            return piece.to(self.device, dtype).contiguous(), True
        shape = (sum(p.shape[0] for p in pieces), *pieces[0].shape[1:])
        merged = self.torch.empty(shape, dtype=dtype, device=self.device)
        row = 0
        for piece in pieces:
            merged[row : row + piece.shape[0]].copy_(piece)  # H2D or D2D, one copy
            row += piece.shape[0]
        return merged, True


def _has_dlpack_outputs() -> bool:
    from onnxruntime.capi import _pybind_state  # noqa: PLC0415

    return hasattr(_pybind_state.OrtValue, "__dlpack__")


def runner_for(session, config: dict, instance_kind: str, device_id: int):
    """(DeviceRunner or None, a note naming the data path and why) for one model instance.

    parameters { key: "device_io" value: { string_value: "on" | "off" } } forces the choice;
    by default GPU instances whose session runs on the CUDA or TensorRT EP take this path.
    """
    choice = config.get("parameters", {}).get("device_io", {}).get("string_value", "auto")
    if choice not in ("auto", "on", "off"):
        return None, f"host data path: parameters.device_io {choice!r} is not auto, on or off"
    if choice == "off":
        return None, "host data path (parameters.device_io is off)"
    provider = session.get_providers()[0]
    on_gpu = instance_kind == "GPU" and provider in GPU_PROVIDERS
    if choice == "auto" and not on_gpu:
        return None, f"host data path (instance kind {instance_kind}, {provider})"
    device = f"cuda:{device_id}" if on_gpu else "cpu"
    batched = int(config.get("max_batch_size", 0)) > 0
    try:
        runner = DeviceRunner(session, device, batched)
    except DevicePathUnavailable as exc:
        return None, f"host data path: the device-resident path is unavailable: {exc}"
    return runner, f"device-resident data path (DLPack in/out, ORT I/O binding on {device})"


GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider")
