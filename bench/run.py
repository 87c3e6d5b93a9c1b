"""`make bench`: floor, served overhead, concurrency sweep, dynamic batching, client vs reference.

Writes bench/results/<date>-<host>/ (table.md, results.csv, raw.json, PNG plots) and prints
the table. Runs its own tritonserver on ports BENCH_PORT_BASE.. so a `make up` stack is untouched.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import stack_settings
from bench import floor, gpu_notes, machine, report
from bench.reference import raw_async_throughput
from bench.served import ROOT, add_batching_variants, add_instance_variants, run_client

MODELS = ("simple_cnn", "simple_transformer")
GOALS = {"system_shm": 1.10, "http_no_shm": 2.5, "batching_gain": 1.5, "client_vs_reference": 0.9}


def _row(summary: dict) -> dict:
    server, latency = summary["server"], summary["latency_ms"]
    return {
        "model": summary["model"],
        "protocol": summary["protocol"],
        "shm": summary["shm"],
        "concurrency": summary["concurrency"],
        "requests": summary["requests_ok"],
        "throughput_infer_per_s": summary["throughput_infer_per_s"],
        "p50_ms": latency.get("p50"),
        "p99_ms": latency.get("p99"),
        "avg_batch": server.get("avg_batch_size"),
        "srv_queue_ms": server.get("queue_ms_per_request"),
        "srv_input_ms": server.get("compute_input_ms_per_request"),
        "srv_infer_ms": server.get("compute_infer_ms_per_request"),
        "srv_output_ms": server.get("compute_output_ms_per_request"),
    }


def _prepare(run_dir: Path) -> Path:
    """Seed-size models in a bench repository, plus dynamic-batching variants."""
    repository = run_dir / "model_repository"
    subprocess.run(
        [sys.executable, "-m", "exporter", "--repository", str(repository)], cwd=ROOT, check=True
    )
    return repository


def _notes(results: dict) -> list[str]:
    def verdict(value, goal, higher_is_better):
        ok = value >= goal if higher_is_better else value <= goal
        return f"{'met' if ok else 'MISSED'} ({value:.2f} vs goal {'>=' if higher_is_better else '<='} {goal})"

    notes = []
    by_path = {(r["model"], r["protocol"], r["shm"]): r for r in results["overhead"]}
    cnn_sys = by_path.get(("simple_cnn", "http", "system"))
    cnn_none = by_path.get(("simple_cnn", "http", "none"))
    if cnn_sys:
        notes.append(
            f"- simple_cnn, HTTP + system shm, p50 / floor: {verdict(cnn_sys['ratio_to_floor'], GOALS['system_shm'], False)}"
        )
    if cnn_none:
        notes.append(
            f"- simple_cnn, HTTP without shm, p50 / floor: {verdict(cnn_none['ratio_to_floor'], GOALS['http_no_shm'], False)}"
        )
    batching = {r["variant"]: r for r in results["batching"]}
    on, off = batching.get("simple_transformer"), batching.get("simple_transformer_nobatch")
    if on and off and off["throughput_infer_per_s"]:
        gain = on["throughput_infer_per_s"] / off["throughput_infer_per_s"]
        notes.append(
            f"- dynamic batching throughput gain at concurrency {on['concurrency']}: {verdict(gain, GOALS['batching_gain'], True)}"
        )
    for row in results["reference"]:
        notes.append(
            f"- our client / raw async loop, {row['model']} c{row['concurrency']}: "
            f"{verdict(row['ours_over_reference'], GOALS['client_vs_reference'], True)}"
        )
    notes += [
        "- Where the time goes (batch 1, concurrency 1, measured inside the backend): ORT's own run",
        "  takes about the floor; the rest is the python backend's data path: the server copies the",
        "  input from the client's region into the stub's shared memory, the stub copies ORT's output",
        "  into it, and the server copies that into the client's region (3 copies of 24.9 MB for the",
        "  CNN), plus IPC. Without shm, HTTP adds (de)serialising 2 x 24.9 MB of binary payload.",
        "  The NGC image's native ONNX Runtime backend avoids the stub hop entirely.",
    ]
    return notes


def _plan(gpu: bool) -> dict:
    """What a run measures: GPU runs add CUDA shm, the device floor and batch-8 requests."""
    return {
        "provider": "CUDAExecutionProvider" if gpu else "CPUExecutionProvider",
        "overhead_shm": ("none", "system", "cuda") if gpu else ("none", "system"),
        "sweep_shm": ("cuda", "system") if gpu else ("system",),
        "sweep": (
            ("simple_transformer", (1, 2, 4, 8, 16)),
            ("simple_cnn", (1, 2, 4, 8, 16) if gpu else (1, 2, 4)),
        ),
        # batch-8 requests: the transformer's in-process best is at batch 8
        "batch8": (("simple_transformer", (1, 2, 4)),) if gpu else (),
        # two instances per GPU overlap one stub's Python work with the other's GPU work
        "instances": 2 if gpu else 0,
    }


def _serve_cells(results, backend, args, plan, repository, run_dir, floors, device_floors,
                 variants, instance_variants, http, grpc, server) -> None:  # fmt: skip
    """Every served cell of the plan against one server whose onnxruntime backend is `backend`."""
    process = server.start(
        repository, run_dir / ("run" if backend == "native" else f"run-{backend}")
    )
    try:
        s = args.seconds
        for model in MODELS:
            for protocol, url in (("http", http), ("grpc", grpc)):
                for shm in plan["overhead_shm"]:
                    row = _row(run_client(url, model, protocol, shm, 1, s))
                    row |= {
                        "floor_ms": floors[model],
                        "overhead_ms": round(row["p50_ms"] - floors[model], 2),
                        "ratio_to_floor": round(row["p50_ms"] / floors[model], 3),
                    }
                    if model in device_floors:
                        row["device_floor_ms"] = device_floors[model]
                        row["over_device_floor_ms"] = round(row["p50_ms"] - device_floors[model], 2)
                    results["overhead"].append({"backend": backend} | row)
                    print(
                        f"[{backend}] overhead {model} {protocol}/{shm}: {row['p50_ms']} ms",
                        flush=True,
                    )
        for shm in plan["sweep_shm"]:
            for model, levels in plan["sweep"]:
                for concurrency in levels:
                    row = _row(run_client(grpc, model, "grpc", shm, concurrency, s))
                    results["sweep"].append(
                        {"backend": backend} | row | {"batch_size": 1, "instances": 1}
                    )
                    print(
                        f"[{backend}] sweep {model} {shm} c{concurrency}: {row['throughput_infer_per_s']}/s",
                        flush=True,
                    )
        for model, levels in plan["batch8"]:
            for concurrency in levels:
                row = _row(run_client(grpc, model, "grpc", "cuda", concurrency, s, batch_size=8))
                results["sweep"].append(
                    {"backend": backend} | row | {"batch_size": 8, "instances": 1}
                )
        for variant, model in instance_variants.items():
            levels = dict(plan["sweep"])[model]
            for concurrency in levels[1:]:
                row = _row(run_client(grpc, variant, "grpc", "cuda", concurrency, s))
                results["sweep"].append(
                    {"backend": backend} | row | {"model": model, "batch_size": 1, "instances": 2}
                )
            if model == "simple_transformer":
                for concurrency in (2, 4, 8):
                    row = _row(
                        run_client(grpc, variant, "grpc", "cuda", concurrency, s, batch_size=8)
                    )
                    results["sweep"].append(
                        {"backend": backend}
                        | row
                        | {"model": model, "batch_size": 8, "instances": 2}
                    )
            print(f"[{backend}] sweep {variant} done", flush=True)
        for shm in () if args.goals_only else plan["sweep_shm"]:
            for variant, label in variants.items():
                row = _row(run_client(grpc, variant, "grpc", shm, 16, s))
                results["batching"].append(
                    {"backend": backend, "variant": variant, "label": label} | row
                )
        reference_cells = (
            () if args.goals_only else (("simple_transformer", 4), ("simple_transformer", 16))
        )
        for model, concurrency in reference_cells:
            ours = run_client(grpc, model, "grpc", "none", concurrency, s)
            shape = [1, *floor.sample_shape(repository / model / "1" / "model.onnx")]
            ref = raw_async_throughput(grpc, model, shape, concurrency, s)
            results["reference"].append(
                {
                    "backend": backend,
                    "model": model,
                    "concurrency": concurrency,
                    "ours_rps": ours["throughput_rps"],
                    "reference_rps": ref["throughput_rps"],
                    "ours_over_reference": round(ours["throughput_rps"] / ref["throughput_rps"], 3),
                }
            )
    finally:
        process.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "5"))
    )
    parser.add_argument(
        "--gpu", action="store_true", help="GPU run: CUDA EP floors, KIND_GPU, CUDA shm too"
    )
    parser.add_argument(
        "--out", type=Path, help="results folder (default bench/results/<date>-<host>)"
    )
    parser.add_argument(
        "--backends",
        default=os.environ.get("BENCH_BACKENDS", ""),
        help="comma list of native,python: each serves the same cells in turn, one server each "
        "(default: the TRITON_ONNXRUNTIME_BACKEND setting)",
    )
    parser.add_argument(
        "--goals-only",
        action="store_true",
        help="served cells the goals read (overhead, CUDA-shm sweep, batch 8, instances): no "
        "system-shm sweep, batching variants or client-vs-reference",
    )
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()] or [
        stack_settings.get("TRITON_ONNXRUNTIME_BACKEND", "native")
    ]
    info = machine.describe()
    suffix = "-gpu" if args.gpu else ""
    out = (
        args.out or ROOT / "bench" / "results" / f"{time.strftime('%Y%m%d')}-{info['host']}{suffix}"
    )
    if args.gpu:
        os.environ["INSTANCE_KIND"] = "KIND_GPU"  # read by the exporter for instance_group
    plan = _plan(args.gpu)
    if args.goals_only:
        plan["sweep_shm"] = tuple(x for x in plan["sweep_shm"] if x == "cuda") or plan["sweep_shm"]
    info["floor_provider"] = plan["provider"]
    info["triton"] = "2.51.0 (nvidia-pytriton 0.7.0); onnxruntime backend: " + ", ".join(
        {"native": "NVIDIA's native (onnxruntime_backend r24.10)",
         "python": "our Python-based (inside the python backend)"}.get(b, b) for b in backends
    )  # fmt: skip
    info["settings"] = ", ".join(
        f"{name}={stack_settings.get(name, '')}"
        for name in (
            "BENCH_SECONDS",
            "INSTANCE_KIND",
            "MAX_QUEUE_DELAY_US",
            "CUDA_MEMORY_POOL_BYTES",
        )
    )
    base = int(os.environ.get("BENCH_PORT_BASE", "18700"))
    os.environ.update(
        {
            "TRITON_HTTP_PORT": str(base),
            "TRITON_GRPC_PORT": str(base + 1),
            "TRITON_METRICS_PORT": str(base + 2),
        }
    )
    http, grpc = f"127.0.0.1:{base}", f"127.0.0.1:{base + 1}"
    from local_stack import server  # noqa: PLC0415 - after the ports are set

    run_dir = Path(os.environ.get("STACK_RUN_DIR", ROOT / ".stack")).resolve() / "bench"
    repository = _prepare(run_dir)
    variants = add_batching_variants(repository, "simple_transformer")
    instance_variants = (
        add_instance_variants(repository, MODELS, plan["instances"]) if plan["instances"] else {}
    )
    results: dict = {"machine": info} | {section: [] for section in report.SECTIONS}
    floors, device_floors = {}, {}
    for model in MODELS:
        path = repository / model / "1" / "model.onnx"
        # one measurement, both paths (bench/floor.py): host-fed is the floor, device-resident
        # what CUDA shm can reach
        print(f"floor {model} (in-process ORT, {plan['provider']}):", flush=True)
        measured = floor.measure(path, (1, 2, 4, 8), [plan["provider"], "CPUExecutionProvider"])
        rows = floor.rows_of(measured, "host-fed")
        results["floor"] += [{"model": model} | row for row in rows]
        floors[model] = rows[0]["latency_ms"]
        if args.gpu:
            rows = floor.rows_of(measured, "device-resident")
            results["device_floor"] += [{"model": model} | row for row in rows]
            device_floors[model] = rows[0]["latency_ms"]
        print(
            f"floor {model}: {floors[model]} ms, device {device_floors.get(model)} ms", flush=True
        )
    for backend in backends:
        os.environ["TRITON_ONNXRUNTIME_BACKEND"] = backend  # read by backend_dir.assemble
        _serve_cells(results, backend, args, plan, repository, run_dir, floors, device_floors,
                     variants, instance_variants, http, grpc, server)  # fmt: skip
    notes = gpu_notes.notes(results) if args.gpu else _notes(results)
    table = report.write(results, out, notes)
    print(table.read_text())
    print(f"results: {out}")
    return 0
