"""HTTP and gRPC behind one small interface, so the load loop is protocol-agnostic."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from gevent._hub_local import get_hub_if_exists
from tritonclient.utils import InferenceServerException

import stack_settings
from stack_settings.control_key import control_headers

PROTOCOLS = ("http", "grpc")


def default_url(protocol: str) -> str:
    """host:port of Triton for a protocol, from TRITON_HOST and the port settings."""
    host = stack_settings.get("TRITON_HOST", "127.0.0.1")
    port = stack_settings.get_int("TRITON_HTTP_PORT" if protocol == "http" else "TRITON_GRPC_PORT")
    return f"{host}:{port}"


@dataclass
class Transport:
    """One protocol's client class and request builders."""

    protocol: str
    url: str

    @property
    def module(self):
        return httpclient if self.protocol == "http" else grpcclient

    def connect(self, timeout_s: float = 60.0):
        """A new client (one per worker thread: tritonclient clients are not thread-safe)."""
        if self.protocol == "http":
            return httpclient.InferenceServerClient(
                self.url, connection_timeout=timeout_s, network_timeout=timeout_s
            )
        return grpcclient.InferenceServerClient(self.url)

    def system_shm_names(self, client) -> list[str]:
        """Names of the system shm regions registered on the server."""
        status = client.get_system_shared_memory_status(headers=control_headers())
        if self.protocol == "http":
            return [region["name"] for region in status]
        return list(self.as_dict(status).get("regions", {}))

    def end_thread(self) -> None:
        """Free this thread's gevent hub (HTTP): left to interpreter exit it can crash it."""
        if self.protocol == "http" and threading.current_thread() is not threading.main_thread():
            hub = get_hub_if_exists()
            if hub is not None:
                hub.destroy(destroy_loop=True)

    def as_dict(self, value: Any) -> dict:
        """Normalise an answer: gRPC gives protobuf, HTTP gives dicts."""
        if isinstance(value, dict):
            return value
        from google.protobuf.json_format import MessageToDict  # noqa: PLC0415

        return MessageToDict(value, preserving_proto_field_name=True)

    def model_config(self, client, model: str, version: str = "") -> dict:
        if self.protocol == "http":
            return client.get_model_config(model, version)
        config = self.as_dict(client.get_model_config(model, version))
        return config.get("config", config)

    def model_names(self, client) -> list[str]:
        """Names in the server's repository index."""
        index = client.get_model_repository_index(headers=control_headers())
        entries = index if isinstance(index, list) else self.as_dict(index).get("models", [])
        return sorted({entry["name"] for entry in entries})

    def statistics(self, client, model: str, version: str = "") -> dict:
        """The model's statistics entry (KServe statistics extension)."""
        if self.protocol == "http":
            stats = client.get_inference_statistics(model, version)
        else:
            stats = self.as_dict(client.get_inference_statistics(model, version))
        return stats["model_stats"][0] if stats.get("model_stats") else {}

    def response_version(self, result) -> str:
        """The model version that answered (rollouts: which one served this request)."""
        response = result.get_response()
        if isinstance(response, dict):
            return str(response.get("model_version", ""))
        return response.model_version

    def infer_input(self, name: str, shape: list[int], datatype: str, data: np.ndarray | None):
        tensor = self.module.InferInput(name, shape, datatype)
        if data is not None:
            if self.protocol == "http":
                tensor.set_data_from_numpy(data, binary_data=True)
            else:
                tensor.set_data_from_numpy(data)
        return tensor

    def requested_output(self, name: str):
        if self.protocol == "http":
            return httpclient.InferRequestedOutput(name, binary_data=True)
        return grpcclient.InferRequestedOutput(name)


__all__ = ["PROTOCOLS", "Transport", "InferenceServerException", "default_url"]
