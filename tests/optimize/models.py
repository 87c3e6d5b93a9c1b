"""Tiny models for the optimizer's tests, built so that the better config is known."""

from __future__ import annotations

from pathlib import Path

# One sleep per execute() whatever the batch: the per-call cost dominates, so a config that
# batches (or runs more instances) must win, by about its batch size. Sleeping costs no CPU,
# so the ranking holds on a loaded 2-core machine.
PER_CALL_MODEL_PY = """
import json
import time

import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = config.get("parameters", {})
        self.call_s = float(params.get("call_s", {}).get("string_value", "0.02"))
        refuse = int(params.get("refuse_batch_above", {}).get("string_value", "0"))
        if refuse and config["max_batch_size"] > refuse:  # a config the model cannot serve
            raise ValueError(f"max_batch_size {config['max_batch_size']} > {refuse}")

    def execute(self, requests):
        time.sleep(self.call_s)
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "x").as_numpy()
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("y", x * 2)]))
        return responses
"""


def write_per_call_model(
    repository: Path,
    name: str = "per_call",
    call_s: float = 0.02,
    max_batch_size: int = 1,
    refuse_batch_above: int = 0,
) -> Path:
    """A python-backend model y = 2x whose every call sleeps `call_s`, served unbatched (b1, i1).

    With `refuse_batch_above` its load fails for a larger max_batch_size (a refused candidate).
    """
    folder = repository / name
    (folder / "1").mkdir(parents=True, exist_ok=True)
    (folder / "1" / "model.py").write_text(PER_CALL_MODEL_PY)
    (folder / "config.pbtxt").write_text(
        f'name: "{name}"\nbackend: "python"\nmax_batch_size: {max_batch_size}\n'
        'input { name: "x" data_type: TYPE_FP32 dims: [4] }\n'
        'output { name: "y" data_type: TYPE_FP32 dims: [4] }\n'
        "instance_group { count: 1 kind: KIND_CPU }\n"
        "dynamic_batching { max_queue_delay_microseconds: 0 }\n"
        f'parameters {{ key: "call_s" value {{ string_value: "{call_s}" }} }}\n'
        f'parameters {{ key: "refuse_batch_above" value {{ string_value: "{refuse_batch_above}" }} }}\n'
    )
    return folder
