"""Is a CNN slower when consecutive batches change size? In-process ORT CUDA EP, device-resident.

Run on a GPU machine with onnxruntime-gpu:
    python scripts/gpu_batch_shapes.py MODEL.onnx [MAX_BATCH] [ALGO_SEARCH ...]
ALGO_SEARCH: the CUDA EP's cudnn_conv_algo_search (EXHAUSTIVE, its default; HEURISTIC; DEFAULT).
Prints images/s for a fixed batch size and for batch sizes that change every run (as a dynamic
batcher with a queue delay produces), after every size was run once (warmed).
"""

import sys
import time

import numpy as np
import onnxruntime as ort

model, max_batch = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 8
searches = sys.argv[3:] or ["EXHAUSTIVE"]


def measure(search: str) -> None:
    provider = ("CUDAExecutionProvider", {"cudnn_conv_algo_search": search})
    session = ort.InferenceSession(model, providers=[provider])
    print(f"cudnn_conv_algo_search {search}")
    run(session)


def run(session) -> None:
    name = session.get_inputs()[0].name
    dims = [d if isinstance(d, int) else 1 for d in session.get_inputs()[0].shape[1:]]
    bindings = {}
    for batch in range(1, max_batch + 1):
        binding = session.io_binding()
        x = np.random.default_rng(batch).standard_normal([batch, *dims]).astype(np.float32)
        binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(x, "cuda", 0))
        for output in session.get_outputs():
            binding.bind_output(output.name, "cuda", 0)
        bindings[batch] = binding
        for _ in range(2):
            session.run_with_iobinding(binding)  # warm every size

    def rate(sizes):
        images, started = 0, time.perf_counter()
        for batch in sizes:
            session.run_with_iobinding(bindings[batch])
            images += batch
        return images / (time.perf_counter() - started)

    rng = np.random.default_rng(0)
    print(f"onnxruntime {ort.__version__}, input [B, {dims}]")
    print(f"fixed batch {max_batch}:        {rate([max_batch] * 60):8.1f} images/s")
    print(
        f"changing 1..{max_batch} (random): {rate(rng.integers(1, max_batch + 1, 120)):8.1f} images/s"
    )
    print(f"fixed batch {max_batch} again:  {rate([max_batch] * 60):8.1f} images/s")
    for batch in (1, 4, 6):
        print(f"fixed batch {batch}:        {rate([batch] * 60):8.1f} images/s")


for search in searches:
    measure(search)
