"""A Python-based Triton backend named `onnxruntime`: ONNX Runtime inside the python backend.

It reads the same config.pbtxt as Triton's native ONNX Runtime backend in the NGC image,
so one model repository serves on both. Placed at <backend-dir>/onnxruntime/model.py
beside <backend-dir>/python/ (libtriton_python.so + stub); see local_stack/backend_dir.py.
"""

import json
import os
import sys

import numpy as np

# The Triton 2.51 stub silently returns EMPTY (0-byte) outputs when it runs with numpy 2.
# Refuse to load instead: the model goes UNAVAILABLE with this message in the server log.
if int(np.__version__.split(".")[0]) >= 2:
    raise ImportError(
        f"onnxruntime backend: the python backend stub loaded numpy {np.__version__} from "
        f"{os.path.dirname(np.__file__)}; Triton 2.51's stub needs numpy<2 (with numpy 2 every "
        f"output comes back empty). Start tritonserver with a venv holding numpy<2 first on PATH."
    )

import triton_python_backend_utils as pb_utils  # noqa: E402  (provided by the stub)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onnxruntime as ort  # noqa: E402
import ort_profile  # noqa: E402
import server_flags  # noqa: E402
import signature  # noqa: E402
from device_io import runner_for  # noqa: E402
from session import providers_for, session_options  # noqa: E402


def _stub_model_path() -> str:
    """Path of this model version's file: the stub's first argument (honours default_model_filename)."""
    with open("/proc/self/cmdline", "rb") as handle:
        return handle.read().split(b"\0")[1].decode()


def _check_dims(session, config: dict, name: str) -> None:
    """Refuse a config whose dims contradict the graph, as NVIDIA's backend does at load."""
    batched = int(config.get("max_batch_size", 0)) > 0
    entries = {e["name"]: e for e in config.get("input", []) + config.get("output", [])}
    for node in list(session.get_inputs()) + list(session.get_outputs()):
        if node.name in entries:
            problem = signature.dims_mismatch(node, entries[node.name], batched)
            if problem:
                raise pb_utils.TritonModelException(f"model '{name}', {problem}")


class TritonPythonModel:
    @staticmethod
    def auto_complete_config(auto_complete_model_config):
        """Fill inputs, outputs and max_batch_size from the ONNX graph, as the native backend does."""
        config = auto_complete_model_config.as_dict()
        model_path = _stub_model_path()
        session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        batching = signature.supports_batching(session)

        # As NVIDIA's backend: a max_batch_size of 0 (written or not: protobuf cannot tell them
        # apart) becomes default-max-batch-size when every input and output batches.
        if config.get("max_batch_size", 0) == 0 and batching:
            auto_complete_model_config.set_max_batch_size(server_flags.default_max_batch_size())
            if "dynamic_batching" not in config and "sequence_batching" not in config:
                auto_complete_model_config.set_dynamic_batching()
        batched = auto_complete_model_config.as_dict()["max_batch_size"] > 0

        if not config["input"]:
            for node in session.get_inputs():
                auto_complete_model_config.add_input(signature.tensor_entry(node, batched))
        if not config["output"]:
            for node in session.get_outputs():
                auto_complete_model_config.add_output(signature.tensor_entry(node, batched))
        return auto_complete_model_config

    def initialize(self, args):
        self.config = json.loads(args["model_config"])
        self.name = args["model_name"]
        self.max_batch_size = int(self.config.get("max_batch_size", 0))
        model_path = _stub_model_path()
        kind = args["model_instance_kind"]
        providers, notes = providers_for(self.config, kind, int(args["model_instance_device_id"]))
        options = session_options(self.config)
        ort_profile.enable(options, self.config)
        self.session = ort.InferenceSession(model_path, sess_options=options, providers=providers)
        _check_dims(self.session, self.config, self.name)
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.output_names = [node.name for node in self.session.get_outputs()]
        device_id = int(args["model_instance_device_id"])
        self.device_runner, data_path = runner_for(self.session, self.config, kind, device_id)
        log = pb_utils.Logger
        for note in notes:
            log.log_warn(f"{self.name}: {note}")
        log.log_info(
            f"{self.name} ({args['model_instance_name']}): onnxruntime {ort.__version__}, "
            f"providers {self.session.get_providers()}, numpy {np.__version__}, {data_path}"
        )

    def execute(self, requests):
        """Run the requests the dynamic batcher gathered as one ORT call where shapes allow."""
        if self.device_runner is not None:
            return self._execute_on_device(requests)
        feeds = [self._feeds(request) for request in requests]
        if self._mergeable(feeds):
            return self._run_batched(feeds)
        return [self._run_one(feed) for feed in feeds]

    def _mergeable(self, feeds) -> bool:
        return len(feeds) > 1 and self.max_batch_size > 0 and _same_trailing_shapes(feeds)

    def _feeds(self, request) -> dict:
        # as_numpy() is a view of the request's shared memory: no copy before ORT reads it.
        return {
            name: _ort_input(_host_array(pb_utils.get_input_tensor_by_name(request, name)))
            for name in self.input_names
        }

    def _execute_on_device(self, requests):
        """Inputs, ORT run and outputs in device memory (see device_io.py)."""
        torch = self.device_runner.torch
        feeds = [
            {
                name: _torch_tensor(torch, pb_utils.get_input_tensor_by_name(request, name))
                for name in self.input_names
            }
            for request in requests
        ]
        groups = [feeds] if self._mergeable(feeds) else [[feed] for feed in feeds]
        responses = []
        for group in groups:
            try:
                outputs = self.device_runner.run(group)
            except Exception as exc:  # noqa: BLE001 - becomes these requests' error
                error = pb_utils.TritonError(f"{self.name}: {exc}")
                responses += [pb_utils.InferenceResponse(error=error) for _ in group]
                continue
            responses += [
                pb_utils.InferenceResponse(
                    output_tensors=[
                        pb_utils.Tensor.from_dlpack(name, tensor)
                        for name, tensor in zip(self.output_names, tensors, strict=False)
                    ]
                )
                for tensors in outputs
            ]
        return responses

    def _run_one(self, feed):
        try:
            outputs = self.session.run(self.output_names, feed)
        except Exception as exc:  # noqa: BLE001 - becomes this request's error, not a crash
            return pb_utils.InferenceResponse(error=pb_utils.TritonError(f"{self.name}: {exc}"))
        return _response(self.output_names, outputs)

    def _run_batched(self, feeds):
        sizes = [next(iter(feed.values())).shape[0] for feed in feeds]
        merged = {name: np.concatenate([f[name] for f in feeds]) for name in self.input_names}
        try:
            outputs = self.session.run(self.output_names, merged)
        except Exception as exc:  # noqa: BLE001
            error = pb_utils.TritonError(f"{self.name}: {exc}")
            return [pb_utils.InferenceResponse(error=error) for _ in feeds]
        bounds = np.cumsum([0] + sizes)
        return [
            _response(self.output_names, [out[lo:hi] for out in outputs])
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=False)
        ]

    def finalize(self):
        ort_profile.finish(self.session, self.config)  # writes ORT's profile when it was on
        self.session = None


def _host_array(tensor):
    """A numpy view of a CPU input; a GPU input (device path off) is copied to the host once."""
    if tensor.is_cpu():
        return tensor.as_numpy()
    try:
        import torch  # noqa: PLC0415

        return torch.from_dlpack(tensor.to_dlpack()).cpu().numpy()
    except ImportError:
        return ort.OrtValue.from_dlpack(tensor.to_dlpack()).numpy()


def _torch_tensor(torch, tensor):
    """The input as a torch tensor where it lies: a view of the stub's shm or of GPU memory."""
    if tensor.is_cpu():
        return torch.from_numpy(tensor.as_numpy())
    return torch.from_dlpack(tensor.to_dlpack())


def _ort_input(array):
    """TYPE_STRING arrives as bytes objects; ORT would str() them into "b'...'": decode."""
    if array.dtype != object:
        return array
    return np.vectorize(
        lambda v: v.decode("utf-8") if isinstance(v, bytes) else v, otypes=[object]
    )(array)


def _same_trailing_shapes(feeds) -> bool:
    first = feeds[0]
    return all(
        feed[name].shape[1:] == first[name].shape[1:] for feed in feeds[1:] for name in first
    )


def _response(names, arrays):
    return pb_utils.InferenceResponse(
        output_tensors=[
            pb_utils.Tensor(name, np.ascontiguousarray(a))
            for name, a in zip(names, arrays, strict=False)
        ]
    )
