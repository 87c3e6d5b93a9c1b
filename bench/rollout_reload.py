"""Does a version_policy reload in explicit mode drop requests in flight? (docs/rollout.md)

python -m bench.rollout_reload [--concurrency 8] [--sleep 0.2]

Starts a private tritonserver (ports TRITON_*_PORT, repository in a temp folder) with a
python-backend model that sleeps per request and answers x * version, keeps `concurrency`
HTTP requests in flight, and reloads it through the transitions below. Prints a table:
requests in flight when each load call was made, how they ended, who answered.
"""

from __future__ import annotations

import argparse
import py_compile
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import tritonclient.http as httpclient

import stack_settings
from local_stack import server
from stack_settings.control_key import control_headers

MODEL = "slow_version"
MODEL_PY = """
import json, time
import numpy as np
import triton_python_backend_utils as pb_utils

class TritonPythonModel:
    def initialize(self, args):
        self.version = float(args["model_version"])
        params = json.loads(args["model_config"]).get("parameters", {})
        self.sleep_s = float(params["sleep_s"]["string_value"])

    def execute(self, requests):
        time.sleep(self.sleep_s)
        return [pb_utils.InferenceResponse([pb_utils.Tensor("y", (
            pb_utils.get_input_tensor_by_name(r, "x").as_numpy() * self.version
        ).astype(np.float32))]) for r in requests]
"""
# (label, versions served after the load call)
TRANSITIONS = [
    ("add 2 beside 1", [1, 2]),
    ("retire 1", [2]),
    ("direct switch 2 -> 3", [3]),
    ("back to [2, 3]", [2, 3]),
    ("direct switch to 2", [2]),
]


def write_model(repository: Path, versions: list[int], sleep_s: float, instances: int) -> None:
    folder = repository / MODEL
    for version in (1, 2, 3):
        if not (folder / str(version)).is_dir():  # untouched later: Triton keeps loaded ones
            (folder / str(version)).mkdir(parents=True)
            (folder / str(version) / "model.py").write_text(MODEL_PY)
            # Compiled now: a stub writing __pycache__ later would make the version look
            # modified to Triton, which then reloads it instead of keeping it.
            py_compile.compile(str(folder / str(version) / "model.py"), doraise=True)
    policy = ", ".join(map(str, versions))
    (folder / "config.pbtxt").write_text(
        f'name: "{MODEL}"\nbackend: "python"\nmax_batch_size: 0\n'
        'input { name: "x" data_type: TYPE_FP32 dims: [1] }\n'
        'output { name: "y" data_type: TYPE_FP32 dims: [1] }\n'
        f"instance_group {{ count: {instances} kind: KIND_CPU }}\n"
        f"version_policy {{ specific {{ versions: [{policy}] }} }}\n"
        f'parameters {{ key: "sleep_s" value {{ string_value: "{sleep_s}" }} }}\n'
    )


def stub_pids(repository: Path) -> dict[int, set[int]]:
    """version -> pids of its python-backend stubs (a reloaded version gets new ones)."""
    pids: dict[int, set[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_text().split("\0")
        except OSError:
            continue
        for arg in args[1:2]:  # the stub's first argument: the version's model file
            if arg.startswith(f"{repository / MODEL}/"):
                pids.setdefault(int(Path(arg).parent.name), set()).add(int(entry.name))
    return pids


class Load:
    """`concurrency` closed-loop HTTP senders recording (start, end, version or error)."""

    def __init__(self, url: str, concurrency: int):
        self.url, self.records, self.stop = url, [], threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._send) for _ in range(concurrency)]

    def _send(self) -> None:
        client = httpclient.InferenceServerClient(self.url, network_timeout=120)
        tensor = httpclient.InferInput("x", [1], "FP32")
        tensor.set_data_from_numpy(np.ones(1, np.float32))
        while not self.stop.is_set():
            began = time.monotonic()
            try:
                result = client.infer(MODEL, [tensor])
                outcome = str(int(result.as_numpy("y")[0]))
            except Exception as exc:  # noqa: BLE001 - counted: the point of the measurement
                outcome = f"error: {str(exc)[:80]}"
            with self.lock:
                self.records.append((began, time.monotonic(), outcome))
        client.close()


def main(argv: list[str] | None = None) -> int:
    """Run the transitions under load and print what happened to requests in flight."""
    parser = argparse.ArgumentParser(prog="python -m bench.rollout_reload", description=__doc__)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sleep", type=float, default=0.2, help="seconds per request")
    parser.add_argument("--instances", type=int, default=2)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="rollout-reload-"))
    repository = root / "repository"
    write_model(repository, [1], args.sleep, args.instances)
    process = server.start(repository, root / "run")
    url = f"127.0.0.1:{stack_settings.get_int('TRITON_HTTP_PORT')}"
    control = httpclient.InferenceServerClient(url, network_timeout=300)
    load = Load(url, args.concurrency)
    rows = []
    try:
        for thread in load.threads:
            thread.start()
        time.sleep(3)
        for label, versions in TRANSITIONS:
            write_model(repository, versions, args.sleep, args.instances)
            before = stub_pids(repository)
            called = time.monotonic()
            control.load_model(MODEL, headers=control_headers())
            returned = time.monotonic()
            time.sleep(3)
            after = stub_pids(repository)
            kept = sorted(v for v in versions if after.get(v) and after[v] == before.get(v))
            rows.append((label, kept, called, returned))
    finally:
        load.stop.set()
        for thread in load.threads:
            thread.join()
        process.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"concurrency {args.concurrency}, {args.sleep} s per request, Triton 2.51 (pytriton)")
    print(
        f"{'transition':<22} {'load s':>6} {'kept loaded':<12} {'in flight':>9} "
        f"{'answered by':<12} {'failed':>6}"
    )
    for label, kept, called, returned in rows:
        inflight = [r for r in load.records if r[0] < called < r[1]]
        by = sorted({r[2] for r in inflight if not r[2].startswith("error")})
        failed = sum(r[2].startswith("error") for r in inflight)
        print(
            f"{label:<22} {returned - called:>6.2f} {str(kept):<12} {len(inflight):>9} "
            f"{','.join(by):<12} {failed:>6}"
        )
    errors = [r[2] for r in load.records if r[2].startswith("error")]
    print(f"all requests: {len(load.records)}, failed: {len(errors)} {errors[:3]}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
