"""Test-only models for the client's concurrency tests, added to the session repository."""

from __future__ import annotations

import shutil
from pathlib import Path

# The dynamic batcher holds requests (up to 3 s) until GATE_BATCH of them are queued, then runs
# them as one batch. A client that truly keeps GATE_BATCH requests in flight therefore makes
# every execution a batch of exactly GATE_BATCH; one that keeps fewer makes smaller batches.
GATE_MODEL = "batch_gate4"
GATE_BATCH = 4
GATE_CONFIG = f"""backend: "onnxruntime"
max_batch_size: 8
dynamic_batching {{
  preferred_batch_size: [ {GATE_BATCH} ]
  max_queue_delay_microseconds: 3000000
}}
"""


def add_client_test_models(repository: Path) -> None:
    """The batch-gate model: simple_transformer's graph behind a batcher that waits for 4."""
    source = repository / "simple_transformer" / "1" / "model.onnx"
    (repository / GATE_MODEL / "1").mkdir(parents=True, exist_ok=True)
    shutil.copy(source, repository / GATE_MODEL / "1" / "model.onnx")
    (repository / GATE_MODEL / "config.pbtxt").write_text(GATE_CONFIG)
