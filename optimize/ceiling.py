"""The ceiling: the best in-process ONNX Runtime throughput over batch sizes, same machine, same run."""

from __future__ import annotations

import functools
import importlib.util
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tritonclient.utils import triton_to_np_dtype

CEILING_ROUNDS = 3


def _inputs(config: dict, batch: int, rng: np.random.Generator) -> dict:
    """Random feeds of `batch` items from the served config's input dims (-1 taken as 1)."""
    feeds = {}
    for tensor in config["input"]:
        dims = [1 if int(d) < 0 else int(d) for d in tensor["dims"]]
        dtype = triton_to_np_dtype(tensor["data_type"].removeprefix("TYPE_"))
        feeds[tensor["name"]] = rng.standard_normal([batch, *dims]).astype(dtype)
    return feeds


# The backend's own session builder: the ceiling gets the providers (and their options, e.g.
# cudnn_conv_algo_search) that the served model's instances get.
BACKEND_SESSION = Path(__file__).resolve().parents[1] / "backends" / "onnxruntime" / "session.py"


@functools.cache
def _backend_session():
    spec = importlib.util.spec_from_file_location("tos_backend_session", BACKEND_SESSION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def providers_for(config: dict) -> list:
    """The execution providers our backend gives an instance of this config (device 0)."""
    kinds = {group.get("kind") for group in config.get("instance_group", [])}
    kind = "GPU" if "KIND_GPU" in kinds else "CPU"
    providers, _notes = _backend_session().providers_for(config, kind, 0)
    return providers


def _provider_name(provider) -> str:
    return provider[0] if isinstance(provider, tuple) else provider


def _session(model_file: Path, providers: list[str], spinning: bool) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return ort.InferenceSession(str(model_file), sess_options=options, providers=providers)


def _device_resident(
    session: ort.InferenceSession, feeds: dict, device: str = "cuda"
) -> Callable[[], ort.IOBinding]:
    """One inference with inputs and outputs kept on the GPU (I/O binding): no host copies.

    The served path with CUDA shared memory is device-resident too (docs/gpu/README.md), so
    feeding the ceiling from host memory would put copies in it that the server does not make.
    """
    binding = session.io_binding()
    for name, array in feeds.items():
        binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(array, device, 0))
    for output in session.get_outputs():
        binding.bind_output(output.name, device, 0)

    def run_once() -> ort.IOBinding:
        session.run_with_iobinding(binding)  # returns once the GPU is done
        return binding

    return run_once


def _variants(model_file: Path, providers: list) -> dict[str, Callable[[dict], Callable]]:
    """Ways to run one batch in process, each a candidate for the ceiling: name -> (feeds -> run).

    CPU: ORT's threads spinning (its default) and not; on a CPU shared with other work (or the
    server's own threads) spinning loses. GPU: device-resident (I/O binding) and host-fed.
    """
    if _provider_name(providers[0]) != "CPUExecutionProvider":  # CUDA (or TensorRT) on the GPU
        session = _session(model_file, providers, spinning=False)
        return {
            "device-resident": lambda feeds: _device_resident(session, feeds),
            "host-fed": lambda feeds: lambda: session.run(None, feeds),
        }
    spinning = _session(model_file, providers, spinning=True)
    quiet = _session(model_file, providers, spinning=False)
    return {
        "spinning": lambda feeds: lambda: spinning.run(None, feeds),
        "not spinning": lambda feeds: lambda: quiet.run(None, feeds),
    }


def _best_rate(run_once: Callable[[], None], batch: int, seconds: float) -> float:
    """Inferences/s, the best of a few rounds: others' busy moments do not lower a ceiling."""
    run_once()  # first run allocates (and picks cuDNN algorithms): not counted
    rounds = []
    for _ in range(CEILING_ROUNDS):
        runs, started = 0, time.perf_counter()
        while runs < 2 or time.perf_counter() - started < seconds / CEILING_ROUNDS:
            run_once()
            runs += 1
        rounds.append(runs * batch / (time.perf_counter() - started))
    return max(rounds)


def in_process_throughput(
    model_file: Path, config: dict, batches: list[int], seconds: float, log=print
) -> dict:
    """{"by_batch": {b: infer/s}, "best_batch", "best", "variant", "provider"}: in-process ORT.

    ORT's default threads (all cores). Each batch size takes the best of its variants (see
    `_variants`); "variant" names which one, "by_variant" keeps them all.
    """
    rng = np.random.default_rng(0)
    providers = providers_for(config)
    variants = _variants(model_file, providers)
    by_batch, variant, by_variant = {}, {}, {}
    for batch in batches:
        feeds = _inputs(config, batch, rng)
        rates = {
            name: _best_rate(prepare(feeds), batch, seconds / len(variants))
            for name, prepare in variants.items()
        }
        best = max(rates, key=rates.get)
        by_batch[str(batch)], variant[str(batch)] = round(rates[best], 2), best
        by_variant[str(batch)] = {name: round(rate, 2) for name, rate in rates.items()}
        log(f"  in-process ORT batch {batch:>3}: " + ", ".join(
            f"{rate:>8.1f} infer/s {name}" for name, rate in rates.items()
        ))  # fmt: skip
    best_batch = max(by_batch, key=by_batch.get)
    return {
        "by_batch": by_batch,
        "best_batch": int(best_batch),
        "best": by_batch[best_batch],
        "variant": variant,
        "by_variant": by_variant,
        "provider": _provider_name(providers[0]),
        "onnxruntime": ort.__version__,
    }
