"""The live server's side of a rollout: load, check, probe and drain over gRPC (+ metrics).

Every repository call (load, unload, index) sends the control-API key header.
"""

from __future__ import annotations

import contextlib
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException, triton_to_np_dtype

import stack_settings
from stack_settings.control_key import control_headers

# Parity tolerance: the server may run another ORT build or device (CUDA in the NGC image)
# than this process (CPU): fp32 summation order differs, so the same small error as the client.
PARITY_ATOL = 1e-3
PARITY_RTOL = 1e-3


def default_grpc_url() -> str:
    """host:port of Triton's gRPC endpoint, from TRITON_HOST and TRITON_GRPC_PORT."""
    return f"{stack_settings.get('TRITON_HOST', '127.0.0.1')}:{stack_settings.get_int('TRITON_GRPC_PORT')}"


def default_metrics_url() -> str:
    """Triton's metrics endpoint, from TRITON_HOST and TRITON_METRICS_PORT."""
    host = stack_settings.get("TRITON_HOST", "127.0.0.1")
    return f"http://{host}:{stack_settings.get_int('TRITON_METRICS_PORT')}/metrics"


@dataclass
class ProbeResult:
    """A parity check and latency probe of one served version."""

    max_abs_diff: float
    p50_ms: float
    reason: str | None = None  # None: passed


class LiveServer:
    """One Triton server, reached over gRPC, with the control key on repository calls."""

    def __init__(self, url: str, metrics_url: str | None = None):
        self.url, self.metrics_url = url, metrics_url
        self.client = grpcclient.InferenceServerClient(url)
        self.headers = control_headers()

    def close(self) -> None:
        self.client.close()

    def ready_versions(self, name: str) -> list[int]:
        """Versions of `name` the server has READY, ascending ([] when none or unreachable)."""
        index = self.client.get_model_repository_index(headers=self.headers, as_json=True)
        return sorted(
            int(m["version"])
            for m in index.get("models", [])
            if m.get("name") == name and m.get("state") == "READY" and m.get("version")
        )

    def retired(self, name: str, version: int, timeout_s: float) -> float | None:
        """Seconds until `version` has left the server (unloaded); None on timeout."""
        began = time.monotonic()
        while time.monotonic() - began < timeout_s:
            index = self.client.get_model_repository_index(headers=self.headers, as_json=True)
            states = [
                m.get("state")
                for m in index.get("models", [])
                if m.get("name") == name and m.get("version") == str(version)
            ]
            if not states or all(state in ("UNAVAILABLE", "UNLOADED") for state in states):
                return round(time.monotonic() - began, 2)
            time.sleep(0.1)
        return None

    def load(self, name: str) -> None:
        """(Re)load `name` from its folder: only versions whose files changed are reloaded."""
        self.client.load_model(name, headers=self.headers)

    def unload(self, name: str) -> None:
        """Unload `name`; a model that was never loaded is not an error."""
        with contextlib.suppress(InferenceServerException):
            self.client.unload_model(name, headers=self.headers)

    def config(self, name: str) -> dict:
        """The served model config (JSON form)."""
        return self.client.get_model_config(name, as_json=True)["config"]

    def infer(self, name: str, version: int | None, feeds: dict) -> dict[str, np.ndarray]:
        """One request; outputs by name."""
        inputs = []
        for tensor, data in feeds.items():
            datatype = _triton_type(data.dtype)
            infer_input = grpcclient.InferInput(tensor, list(data.shape), datatype)
            infer_input.set_data_from_numpy(data)
            inputs.append(infer_input)
        version_text = "" if version is None else str(version)
        result = self.client.infer(name, inputs, model_version=version_text)
        outputs = result.get_response(as_json=True).get("outputs", [])
        return {o["name"]: result.as_numpy(o["name"]) for o in outputs}

    def probe(
        self, name: str, version: int | None, model_file: Path, requests: int = 20
    ) -> ProbeResult:
        """Parity with in-process ORT on sample inputs, and the p50 of `requests` requests."""
        config = self.config(name)
        feeds = sample_feeds(config)
        session = ort.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
        expected = dict(
            zip([o.name for o in session.get_outputs()], session.run(None, feeds), strict=True)
        )
        actual = self.infer(name, version, feeds)
        worst = 0.0
        for output, reference in expected.items():
            served = actual.get(output)
            if served is None or served.shape != reference.shape:
                shape = None if served is None else served.shape
                return ProbeResult(float("inf"), 0.0, f"output {output!r}: served shape {shape} "
                                   f"!= ORT {reference.shape}")  # fmt: skip
            diff = float(np.max(np.abs(served.astype(np.float64) - reference), initial=0.0))
            worst = max(worst, diff)
            if not np.allclose(served, reference, atol=PARITY_ATOL, rtol=PARITY_RTOL):
                return ProbeResult(diff, 0.0, f"output {output!r}: max abs diff {diff:.3g} from "
                                   f"in-process ORT (tolerance atol {PARITY_ATOL}, rtol "
                                   f"{PARITY_RTOL})")  # fmt: skip
        return ProbeResult(worst, self.p50_ms(name, version, feeds, requests))

    def p50_ms(self, name: str, version: int | None, feeds: dict, requests: int) -> float:
        """Median latency of `requests` sequential requests (a short probe, not a benchmark)."""
        latencies = []
        for _ in range(requests):
            began = time.perf_counter()
            self.infer(name, version, feeds)
            latencies.append(time.perf_counter() - began)
        return float(np.median(latencies) * 1e3)

    def answered(self, name: str, version: int) -> int:
        """Requests version `version` has finished (success + failure), from statistics."""
        stats = self.client.get_inference_statistics(name, str(version), as_json=True)
        total = 0
        for entry in stats.get("model_stats", []):
            inference = entry.get("inference_stats", {})
            total += int(inference.get("success", {}).get("count", 0))
            total += int(inference.get("fail", {}).get("count", 0))
        return total

    def pending(self, name: str, version: int) -> int | None:
        """nv_inference_pending_request_count of one version (None: metrics unreachable)."""
        if not self.metrics_url:
            return None
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
                text = response.read().decode()
        except (urllib.error.URLError, OSError):
            return None
        pattern = re.compile(
            r'^nv_inference_pending_request_count\{[^}]*model="' + re.escape(name)
            + r'"[^}]*version="' + str(version) + r'"[^}]*\}\s+(\S+)', re.M
        )  # fmt: skip
        match = pattern.search(text)
        return int(float(match.group(1))) if match else 0

    def drain(self, name: str, version: int, settle_s: float, timeout_s: float) -> dict:
        """Wait until `version` has nothing pending and answers nothing new for `settle_s`."""
        began = time.monotonic()
        last = self.answered(name, version)
        quiet_since = time.monotonic()
        while True:
            time.sleep(0.2)
            now = time.monotonic()
            count, pending = self.answered(name, version), self.pending(name, version)
            if count != last or pending:
                last, quiet_since = count, now
            if now - quiet_since >= settle_s:
                return {"drained": True, "waited_s": round(now - began, 2), "answered": count}
            if now - began > timeout_s:
                return {"drained": False, "waited_s": round(now - began, 2), "answered": count}


def sample_feeds(config: dict, batch: int = 2, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded random inputs matching a served config (dynamic dims taken as 1)."""
    rng = np.random.default_rng(seed)
    batched = int(config.get("max_batch_size", 0)) > 0
    feeds = {}
    for tensor in config["input"]:
        dims = [int(d) for d in tensor["dims"]]
        shape = ([batch] if batched else []) + [1 if d < 0 else d for d in dims]
        dtype = triton_to_np_dtype(tensor["data_type"].removeprefix("TYPE_"))
        if np.issubdtype(dtype, np.floating):
            feeds[tensor["name"]] = rng.standard_normal(shape).astype(dtype)
        elif dtype is np.bool_:
            feeds[tensor["name"]] = rng.integers(0, 2, shape).astype(bool)
        else:
            feeds[tensor["name"]] = rng.integers(0, 100, shape).astype(dtype)
    return feeds


def _triton_type(dtype: np.dtype) -> str:
    from tritonclient.utils import np_to_triton_dtype  # noqa: PLC0415

    return np_to_triton_dtype(dtype)
