"""Where ONNX Runtime placed each model's nodes under NVIDIA's native backend (GPU proof).

ONNX Runtime reports its node placement ("All nodes placed on [CUDAExecutionProvider]") only
at its verbose level, which the native backend turns on only with the server's --log-verbose.
So scripts/gpu-check.sh runs this once before the measured server: the same command line
(local_stack's flags and backend folder) plus --log-verbose=1, on ports of its own, until every
model is loaded; then it stops the server and keeps the placement lines.

    python scripts/gpu_native_placement.py --repository R --run-dir D --out placement.log
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PORT_BASE = 18950
KEEP = re.compile(
    r"All nodes placed on|Some nodes were not assigned|Node\(s\) placed on|"
    r"TRITONBACKEND_ModelInstanceInitialize|CUDA Execution Accelerator is set|"
    r"successfully loaded|failed to load|error",
    re.IGNORECASE,
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repository", type=Path, required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="the kept lines")
    parser.add_argument("--timeout", type=float, default=240.0)
    args = parser.parse_args()
    os.environ.update(
        {
            "TRITON_HTTP_PORT": str(PORT_BASE),
            "TRITON_GRPC_PORT": str(PORT_BASE + 1),
            "TRITON_METRICS_PORT": str(PORT_BASE + 2),
            "TRITON_ONNXRUNTIME_BACKEND": "native",
        }
    )
    from local_stack import backend_dir, server, triton_command  # noqa: PLC0415 - ports first

    args.run_dir.mkdir(parents=True, exist_ok=True)
    backends = backend_dir.assemble(args.run_dir, "native")
    command = [
        str(backend_dir.pytriton_server_dir() / "bin" / "tritonserver"),
        *triton_command.triton_args(
            str(args.repository), trace_file=str(args.run_dir / "trace.json")
        ),
        *triton_command.local_only_args(str(backends)),
        "--log-verbose=1",
    ]
    log = args.run_dir / "tritonserver-verbose.log"
    started = time.monotonic()
    with open(log, "w") as handle:
        child = subprocess.Popen(
            command, env=server.server_environment(), stdout=handle, stderr=subprocess.STDOUT
        )
        ready = False
        while time.monotonic() - started < args.timeout and child.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{PORT_BASE}/v2/health/ready", timeout=2
                ) as response:
                    ready = response.status == 200
            except (urllib.error.URLError, OSError):
                pass
            if ready:
                break
            time.sleep(1)
        loaded_s = time.monotonic() - started
        child.terminate()
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    text = log.read_text(errors="replace").splitlines()
    kept = [line[:400] for line in text if KEEP.search(line)]
    shown = re.sub(r"(restricted-\w+=[^ ]*?=)[^ ]+", r"\1<control key>", " ".join(command))
    header = (
        f"# {shown}\n# ready={ready} after {loaded_s:.1f} s; exit {child.returncode};"
        f" {len(text)} log lines, {len(kept)} kept\n"
    )
    args.out.write_text(header + "\n".join(kept) + "\n")
    placed = [line for line in kept if "All nodes placed on" in line]
    print(header.rstrip())
    for line in placed:
        print(line[:300])
    return 0 if ready else 1


if __name__ == "__main__":
    raise SystemExit(main())
