"""GPU proof for the local path: CUDA shared memory, GPU metrics, CUDA/TensorRT execution.

Run by scripts/gpu-check.sh on a GPU machine with tritonserver already serving the
built-in models (instance kind GPU). Prints one line per check, PASS or FAIL, and exits
non-zero if any check fails. Also runs (and reports FAIL for) the CUDA-shm checks on a
machine without a GPU, so the script itself is testable anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import stack_settings  # noqa: E402
from bench import floor  # noqa: E402
from local_stack import client_run, native_backend, triton_metrics  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
import gpu_check_memory  # noqa: E402

MODELS = ("simple_cnn", "simple_transformer")
GPU_METRICS = ("nv_gpu_utilization", "nv_gpu_memory_used_bytes", "nv_gpu_power_usage")
results: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, detail: str = "") -> bool:
    results.append((name, ok, detail))
    print(f"{'PASS' if ok else 'FAIL'}  {name}  {detail}", flush=True)
    return ok


def skip(name: str, reason: str) -> None:
    """A check that cannot run on this machine: reported, not counted as passed or failed."""
    print(f"SKIP  {name}  {reason}", flush=True)


def header() -> None:
    from importlib.metadata import version

    import onnxruntime as ort

    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except FileNotFoundError:
        smi = "none (nvidia-smi not found)"
    print(f"date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"host: {platform.node()} {platform.machine()} cores={os.cpu_count()}")
    print(f"gpu: {smi}")
    print(
        f"python {sys.version.split()[0]}, numpy {np.__version__}, onnxruntime {ort.__version__} "
        f"providers={ort.get_available_providers()}, tritonclient {version('tritonclient')}"
    )
    try:
        import torch

        print(f"torch {torch.__version__} cuda={torch.cuda.is_available()}")
    except ImportError:
        print("torch: not installed")


def server_version(http: str) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://{http}/v2", timeout=5) as response:
        return json.load(response)["version"]


PARITY_BATCHES = (1, 4, 8)
PARITY_REQUESTS = 16  # per run, 4 in flight: the dynamic batcher merges them


def run_client(model: str, protocol: str, shm: str, batch: int, url: str, repo: Path, out: Path):
    """One verified client run; returns its summary (or None and the error text)."""
    try:
        summary = client_run.run_client(
            model, out / f"{model}-{protocol}-{shm}-b{batch}", protocol=protocol, shm=shm,
            batch_size=batch, concurrency=4, requests=PARITY_REQUESTS, url=url,
            verify_repository=repo,
        )  # fmt: skip
    except client_run.ClientRunError as exc:
        return None, str(exc)
    return summary, None


def check_parity(http: str, grpc: str, repo: Path, out: Path, shms: list[str]) -> None:
    """Outputs equal in-process ORT over every data path, with requests merged on the server."""
    for model in MODELS:
        for shm in shms:
            merged_runs = []
            for protocol, url, batches in (("grpc", grpc, PARITY_BATCHES), ("http", http, (1,))):
                for batch in batches:
                    summary, error = run_client(model, protocol, shm, batch, url, repo, out)
                    name = f"parity {model} {protocol} shm={shm} batch={batch}"
                    if summary is None:
                        check(name, False, f"client failed: {error}")
                        continue
                    executed = summary["server"].get("avg_batch_size") or 0
                    if executed > batch:
                        merged_runs.append(f"{protocol} b{batch}: {executed}")
                    ok = summary["requests_failed"] == 0 and summary["verified"] == PARITY_REQUESTS
                    check(
                        name,
                        ok,
                        f"{summary['verified']}/{PARITY_REQUESTS} verified, max abs diff vs "
                        f"in-process ORT (CPU EP) {summary['max_abs_diff']:.3g} (atol 1e-3 + rtol "
                        f"1e-3; GPU matmuls use TF32), executed batch avg {executed}, "
                        f"p50 {summary['latency_ms'].get('p50')} ms",
                    )
            # gRPC without shm serialises each full-HD batch for up to seconds, so its requests
            # rarely meet in the queue; one merged run per data path proves the split there.
            check(
                f"dynamic batching merged {model} requests over shm={shm}",
                bool(merged_runs),
                f"runs whose executed batch exceeded the request batch: {merged_runs}",
            )


def check_native_placement(log_file: Path, placement_log: Path | None) -> None:
    """NVIDIA's native backend: GPU instances, and ONNX Runtime put every node on the CUDA EP."""
    lines = log_file.read_text(errors="replace").splitlines() if log_file.is_file() else []
    for model in MODELS:
        instances = [
            x for x in lines if "onnxruntime.cc" in x and f"ModelInstanceInitialize: {model}_" in x
        ]
        check(
            f"{model} instances run on the GPU in NVIDIA's native backend",
            bool(instances) and all("(GPU device" in x for x in instances),
            "; ".join(x.split("] ", 1)[-1] for x in instances)[:300] or f"no line in {log_file}",
        )
    # ORT keeps shape computations (Shape, Gather, Unsqueeze, Concat on shape tensors) on the CPU
    # by design and says so in this warning; in process it does the same. Any other reason fails.
    shape_note = "ORT explicitly assigns shape related ops to CPU"
    fallback = [x for x in lines if "Some nodes were not assigned" in x and shape_note not in x]
    check(
        "no node left the CUDA EP other than ORT's shape ops (ORT warnings, server log)",
        not fallback,
        str(fallback)[:300],
    )
    if placement_log is None or not placement_log.is_file():
        skip("ORT node placement", "no --placement-log (scripts/gpu_native_placement.py)")
        return
    kept = placement_log.read_text(errors="replace").splitlines()
    placements = [x.split("VerifyEachNodeIsAssignedToAnEp]", 1)[-1].strip() for x in kept
                  if "placed on [" in x]  # fmt: skip
    on_cuda = [x for x in placements if "placed on [CUDAExecutionProvider]" in x]
    elsewhere = [x for x in placements if x not in on_cuda and "[CPUExecutionProvider]" not in x]
    warned = [x for x in kept if "Some nodes were not assigned" in x]
    check(
        "ORT placed every GPU session on [CUDAExecutionProvider], CPU only for shape ops (verbose start)",
        len(on_cuda) >= len(MODELS) and not elsewhere and all(shape_note in x for x in warned),
        "; ".join(placements)[:400],
    )


def check_data_path(log_file: Path) -> None:
    """Each GPU instance logged that it took the device-resident path."""
    lines = log_file.read_text(errors="replace").splitlines() if log_file.is_file() else []
    for model in MODELS:
        line = next((x for x in lines if f"{model} (" in x and "data path" in x), "")
        check(
            f"{model} serves on the device-resident data path",
            "device-resident data path" in line,
            line.split("providers", 1)[-1].strip()[:200] or f"no data-path line in {log_file}",
        )


def check_memory_growth(metrics_url: str, grpc: str, out: Path) -> None:
    """1,000 requests per model after warm-up: GPU memory must not grow."""
    before = gpu_check_memory.device_memory(metrics_url)
    failures = gpu_check_memory.run_requests(MODELS, grpc, out, 1000)
    after = gpu_check_memory.device_memory(metrics_url)
    gained = gpu_check_memory.growth(before, after)
    tolerance = gpu_check_memory.GROWTH_TOLERANCE_BYTES
    check(
        "no GPU memory growth over 1,000 requests per model (CUDA shm, c4, merged)",
        not failures and all(v <= tolerance for v in gained.values()),
        f"before {before} after {after}; growth in bytes {gained} (tolerance "
        f"{tolerance // 2**20} MiB){'; ' + '; '.join(failures) if failures else ''}",
    )


def gpu_samples(metrics_url: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for sample in triton_metrics.read_samples(metrics_url):
        if sample.name in GPU_METRICS:
            values[sample.name] = max(values.get(sample.name, 0.0), sample.value)
    return values


def check_gpu_metrics(metrics_url: str, grpc_url: str, memory_before: Path | None) -> None:
    idle = gpu_samples(metrics_url)
    print(f"idle gpu metrics: {idle}")
    for name in GPU_METRICS:
        check(f"metric {name} exported", name in idle)
    if memory_before and memory_before.is_file():
        before = float(memory_before.read_text().split()[0]) * 2**20
        used = idle.get("nv_gpu_memory_used_bytes", 0.0)
        check(
            "nv_gpu_memory_used_bytes grew by the served models",
            used > before + 2**28,
            f"nvidia-smi before tritonserver started {before / 2**30:.2f} GiB -> metric with "
            f"models loaded {used / 2**30:.2f} GiB",
        )
    peaks: dict[str, float] = dict(idle)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for key, value in gpu_samples(metrics_url).items():
                peaks[key] = max(peaks.get(key, 0.0), value)
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    load = subprocess.run(
        [
            sys.executable,
            "-m",
            "client",
            "--model",
            "simple_cnn",
            "--protocol",
            "grpc",
            "--shm",
            "system",
            "--batch-size",
            "8",
            "--concurrency",
            "4",
            "--duration",
            "8",
            "--url",
            grpc_url,
            "--quiet",
            "--metrics-port",
            "0",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    print(f"load for the metrics (exit {load.returncode}):\n{load.stdout}{load.stderr[-800:]}")
    stop.set()
    sampler.join()
    print(f"peak gpu metrics under load: {peaks}")
    for name in ("nv_gpu_utilization", "nv_gpu_power_usage"):
        moved = peaks.get(name, 0.0) > idle.get(name, 0.0)
        check(
            f"metric {name} moves under load",
            moved,
            f"idle {idle.get(name)} -> peak {peaks.get(name)}",
        )
    for line in triton_metrics.read_samples(metrics_url):
        if line.name.startswith("nv_gpu_"):
            print(f"  {line.name}{line.labels} {line.value}")


def check_cleanup(http: str) -> None:
    import tritonclient.http as httpclient

    from stack_settings.control_key import control_headers

    client = httpclient.InferenceServerClient(http)
    headers = control_headers("http")
    cuda = [
        r
        for r in client.get_cuda_shared_memory_status(headers=headers)
        if r["name"].startswith("tos_")
    ]
    system = [
        r
        for r in client.get_system_shared_memory_status(headers=headers)
        if r["name"].startswith("tos_")
    ]
    leftovers = [f for f in os.listdir("/dev/shm") if f.startswith("tos_")]
    check("no CUDA shm region left registered", not cuda, str(cuda))
    check("no system shm region left registered", not system, str(system))
    check("no tos_* file left in /dev/shm", not leftovers, str(leftovers))


def check_inprocess_ort(repo: Path) -> None:
    """CUDA EP (and TensorRT EP if present) vs CPU EP on the same inputs, with timings."""
    import onnxruntime as ort

    if hasattr(ort, "preload_dlls"):
        ort.preload_dlls()
    providers = ort.get_available_providers()
    for model in MODELS:
        path = str(repo / model / "1" / "model.onnx")
        cpu = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        name = cpu.get_inputs()[0].name
        shape = [
            4 if d in (None, "batch") or isinstance(d, str) else d
            for d in cpu.get_inputs()[0].shape
        ]
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        expected = cpu.run(None, {name: x})[0]
        for provider in ("CUDAExecutionProvider", "TensorrtExecutionProvider"):
            if provider not in providers:
                if provider == "TensorrtExecutionProvider":
                    skip(f"{provider} {model}", f"not in this onnxruntime's providers {providers}")
                else:
                    check(f"{provider} available for {model}", False, f"not in {providers}")
                continue
            options = {}
            if provider == "TensorrtExecutionProvider":
                cache = Path("/tmp/trt_cache")
                cache.mkdir(exist_ok=True)
                options = {
                    "trt_fp16_enable": True,
                    "trt_engine_cache_enable": True,
                    "trt_engine_cache_path": str(cache),
                }
            try:
                started = time.perf_counter()
                session = ort.InferenceSession(
                    path, providers=[(provider, options), "CPUExecutionProvider"]
                )
                session.run(None, {name: x})
                first = time.perf_counter() - started
                used = session.get_providers()[0]
                if used != provider:  # ORT fell back: the provider's libraries are missing
                    skip(
                        f"{provider} {model}",
                        f"onnxruntime fell back to {used}: the provider's "
                        "libraries (TensorRT: libnvinfer.so.10) are not on this machine",
                    )
                    continue
                actual = session.run(None, {name: x})[0]
                # the same floor as bench and optimize's ceiling (bench/floor.py), batch 4 and 8
                for row in floor.measure(path, (4, 8), [provider, "CPUExecutionProvider"])["rows"]:
                    print(f"      floor {model} {floor.describe(row)}")
                diff = float(np.max(np.abs(actual - expected)))
                tol = 5e-2 if provider == "TensorrtExecutionProvider" else 1e-3
                check(
                    f"in-process {provider} {model} batch 4",
                    used == provider and diff <= tol,
                    f"ran on {used}, max abs diff vs CPU EP {diff:.3g} (tol {tol}), "
                    f"first run (incl. session/engine build) {first:.2f}s",
                )
            except Exception as exc:  # noqa: BLE001 - the failure is the finding
                check(
                    f"in-process {provider} {model}",
                    False,
                    f"{type(exc).__name__}: {str(exc)[:300]}",
                )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("/tmp/gpu-check"))
    parser.add_argument(
        "--memory-before", type=Path, help="file with nvidia-smi MiB used before serving"
    )
    parser.add_argument(
        "--no-gpu-ok", action="store_true", help="skip CUDA-only checks (CPU smoke run)"
    )
    parser.add_argument(
        "--placement-log", type=Path, help="scripts/gpu_native_placement.py's kept lines"
    )
    args = parser.parse_args()
    http = f"127.0.0.1:{stack_settings.get_int('TRITON_HTTP_PORT')}"
    grpc = f"127.0.0.1:{stack_settings.get_int('TRITON_GRPC_PORT')}"
    metrics_url = f"http://127.0.0.1:{stack_settings.get_int('TRITON_METRICS_PORT')}/metrics"
    repo = stack_settings.get_path("MODEL_REPOSITORY")
    header()
    backend = native_backend.chosen_backend()
    print(f"tritonserver {server_version(http)} (nvidia-pytriton), model repository {repo}")
    print(f"onnxruntime backend: {backend}")
    if not args.no_gpu_ok:
        check_inprocess_ort(repo)
    shms = ["system", "none"] if args.no_gpu_ok else ["cuda", "system", "none"]
    check_parity(http, grpc, repo, args.out, shms)
    if not args.no_gpu_ok:
        log_file = stack_settings.get_path("STACK_RUN_DIR") / "logs" / "tritonserver.log"
        if backend == "native":
            check_native_placement(log_file, args.placement_log)
        else:
            check_data_path(log_file)
        check_memory_growth(metrics_url, grpc, args.out)
        check_gpu_metrics(metrics_url, grpc, args.memory_before)
    check_cleanup(http)
    failed = [name for name, ok, _ in results if not ok]
    print(f"\n{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
