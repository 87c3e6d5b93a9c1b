"""`python -m profiling`: where each request's time goes, client to ORT kernels.

python -m profiling [--model simple_cnn,simple_transformer] [--requests 50] [--concurrency 1]
                    [--protocol http|grpc] [--shm none|system|cuda] [--load driver|client]
                    [--out DIR] [--no-ort] [--trace-dir-here PATH]
python -m profiling merge --model M --client-times F --triton-trace F [F ...]
                          [--ort-profile F ...] --out DIR

The first runs a short load against a running stack with Triton's tracing switched on for
one model at a time (restored after) and ORT's profiler on (the model is reloaded twice), and
writes DIR/<model>/{timeline.json,summary.txt,request.png} plus DIR/summary.txt. The second
merges files collected elsewhere (compose volumes, the client's per-request export).
Exit codes: 0 done; 2 a trace, profile or setting could not be used (the message says why);
130 Ctrl-C (tracing and the model's config restored first).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import stack_settings
from profiling.errors import ProfilingError
from profiling.run import Target, merge, profile_model


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m profiling",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("command", nargs="?", choices=("run", "merge"), default="run")
    p.add_argument("--model", default="simple_cnn,simple_transformer", help="model or comma list")
    p.add_argument("--requests", type=int, default=50, help="traced requests per model")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--protocol", choices=("http", "grpc"), default="http")
    p.add_argument("--shm", choices=("none", "system", "cuda"), default="none", help="data path")
    p.add_argument(
        "--load",
        choices=("driver", "client"),
        default="driver",
        help="driver: built-in tagged load (same clock as the trace); client: python -m client "
        "with --profile-export-file (wall clock: offset estimated)",
    )
    p.add_argument("--url", help="Triton's HTTP host:port (default TRITON_HOST:TRITON_HTTP_PORT)")
    p.add_argument("--grpc-url", help="host:port for --protocol grpc (default TRITON_GRPC_PORT)")
    p.add_argument("--out", type=Path, help="output folder (default <STACK_RUN_DIR>/profiling)")
    p.add_argument("--no-ort", action="store_true", help="leave the model unprofiled (no reload)")
    p.add_argument(
        "--trace-dir-here", help="where the server's trace folder is visible here (compose volume)"
    )
    merge_args = p.add_argument_group("merge")
    merge_args.add_argument("--client-times", type=Path, help="per-request client times (JSON)")
    merge_args.add_argument("--triton-trace", type=Path, nargs="+", default=[])
    merge_args.add_argument("--ort-profile", type=Path, nargs="+", default=[])
    return p


def _target(args) -> Target:
    host = stack_settings.get("TRITON_HOST", "127.0.0.1")
    http = args.url or f"{host}:{stack_settings.get_int('TRITON_HTTP_PORT')}"
    grpc = args.grpc_url or f"{host}:{stack_settings.get_int('TRITON_GRPC_PORT')}"
    infer = grpc if args.protocol == "grpc" else http
    return Target(f"http://{http}", infer, args.protocol, args.shm, args.load, args.trace_dir_here)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Ctrl-C even where SIGINT came in ignored (a background job of a script, nohup, CI).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    out = args.out or stack_settings.get_path("STACK_RUN_DIR") / "profiling"
    models = [m.strip() for m in args.model.split(",") if m.strip()]
    try:
        if args.command == "merge":
            if len(models) != 1 or not args.client_times or not args.triton_trace:
                raise ProfilingError(
                    "merge needs one --model, --client-times and --triton-trace files"
                )
            results = [
                merge(
                    models[0],
                    args.protocol,
                    args.client_times,
                    args.triton_trace,
                    args.ort_profile,
                    out,
                )
            ]
        else:
            target = _target(args)
            results = []
            for model in models:
                print(
                    f"profiling {model}: {args.requests} requests over {args.protocol} ...",
                    flush=True,
                )
                results.append(
                    profile_model(
                        target, model, args.requests, args.concurrency, out, not args.no_ort
                    )
                )
    except ProfilingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # the with-blocks have put tracing and the model config back
        print("interrupted: tracing and the model's config are as they were", file=sys.stderr)
        return 130
    text = "\n".join(r["text"] for r in results)
    (out / "summary.txt").write_text(text)
    print(text)
    print(
        f"written: {out}/<model>/timeline.json (open in https://ui.perfetto.dev), summary.txt, request.png"
    )
    return 0
