"""`python -m client`: drive a Triton model and report latency and throughput.

python -m client --model NAME --protocol http|grpc --shm none|system|cuda --concurrency N
                 (--requests N | --duration S) [--rate R] [--verify] [--report DIR]
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from tqdm import tqdm

import stack_settings
from client import report
from client.errors import explain
from client.load import LoadProfile, run_load
from client.metrics import ClientMetrics
from client.model_info import ModelSpecError, from_config
from client.shm import SHM_MODES, ShmUnavailableError, load_cuda_shm
from client.transport import PROTOCOLS, InferenceServerException, Transport, default_url
from client.verify import NoReference, Reference, ReferenceUnavailableError, model_file


class ClientError(RuntimeError):
    """A problem the user must fix before any load can run (exit code 2)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m client",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="served model name")
    p.add_argument("--model-version", default="", help="model version (default: server's choice)")
    p.add_argument("--protocol", choices=PROTOCOLS, default="http")
    p.add_argument("--shm", choices=SHM_MODES, default="none", help="data path for inputs/outputs")
    p.add_argument("--concurrency", type=int, default=1, help="requests kept in flight")
    bound = p.add_mutually_exclusive_group(required=True)
    bound.add_argument("--requests", type=int, help="measured requests in total")
    bound.add_argument("--duration", type=float, help="measured seconds")
    p.add_argument(
        "--rate", type=float, help="target requests/s (open loop, capped by concurrency)"
    )
    p.add_argument("--arrival", choices=("constant", "poisson"), default="constant")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--warmup", type=int, default=1, help="unmeasured requests per worker first")
    p.add_argument("--verify", action="store_true", help="compare outputs with in-process ORT")
    p.add_argument("--verify-every", type=int, default=1, help="with --verify: every Nth request")
    p.add_argument("--url", help="host:port (default from TRITON_HOST and the port settings)")
    p.add_argument("--model-repository", type=Path, help="for --verify (default $MODEL_REPOSITORY)")
    p.add_argument("--report", type=Path, help="folder for summary.json and summary.csv")
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve client metrics here (default CLIENT_METRICS_PORT; 0 = off)",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="per-request timeout in seconds")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _validate(args) -> None:
    if args.concurrency < 1:
        raise ClientError(f"--concurrency must be >= 1, got {args.concurrency}")
    if args.requests is not None and args.requests < 1:
        raise ClientError(f"--requests must be >= 1, got {args.requests}")
    if args.duration is not None and args.duration <= 0:
        raise ClientError(f"--duration must be > 0, got {args.duration}")
    if args.rate is not None and args.rate <= 0:
        raise ClientError(f"--rate must be > 0, got {args.rate}")


def _model_info(transport: Transport, args):
    client = transport.connect(args.timeout)
    try:
        try:
            live = client.is_server_live()
        except Exception as exc:  # noqa: BLE001 - connection refused, DNS, timeout...
            raise ClientError(
                f"cannot reach Triton at {transport.url} over {transport.protocol} ({exc}); "
                f"start it with `make up` or pass --url"
            ) from exc
        if not live:
            raise ClientError(f"Triton at {transport.url} is not live; see its log")
        try:
            ready = client.is_model_ready(args.model, args.model_version)
        except InferenceServerException:
            ready = False
        if not ready:
            names = transport.model_names(client)
            version = f" version {args.model_version}" if args.model_version else ""
            raise ClientError(
                f"model {args.model!r}{version} is not ready on {transport.url}; "
                f"models there: {names or 'none'}"
            )
        config = transport.model_config(client, args.model, args.model_version)
    finally:
        client.close()
    return from_config(config, args.model_version), config


def _reference(args, config):
    if not args.verify:
        return NoReference()
    repository = args.model_repository or stack_settings.get_path("MODEL_REPOSITORY")
    return Reference(model_file(repository, args.model, args.model_version, config))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM cleans up like Ctrl-C
    metrics = None
    try:
        _validate(args)
        transport = Transport(args.protocol, args.url or default_url(args.protocol))
        model, config = _model_info(transport, args)
        model.check_batch_size(args.batch_size)
        if args.shm == "cuda":
            load_cuda_shm()  # once, before any worker: fails early with what is missing
        reference = _reference(args, config)
        port = args.metrics_port
        if port is None:
            port = stack_settings.get_int("CLIENT_METRICS_PORT", 0)
        metrics = ClientMetrics(port, stack_settings.get("CLIENT_METRICS_ADDRESS", "127.0.0.1"))
        profile = LoadProfile(
            model=args.model,
            protocol=args.protocol,
            shm=args.shm,
            concurrency=args.concurrency,
            requests=args.requests,
            duration_s=args.duration,
            rate=args.rate,
            arrival=args.arrival,
            batch_size=args.batch_size,
            warmup_per_worker=args.warmup,
            verify_every=args.verify_every if args.verify else 0,
            timeout_s=args.timeout,
        )
        bar = tqdm(
            total=args.requests,
            desc=f"{args.model} {args.protocol}/{args.shm}",
            unit="req",
            file=sys.stderr,
            disable=True if args.quiet else None,
        )  # None: off when not a terminal
        with bar:
            result = run_load(
                profile,
                transport,
                model,
                reference,
                metrics,
                progress=lambda n: bar.update(n - bar.n),
            )
    except (
        ClientError,
        ModelSpecError,
        ShmUnavailableError,
        ReferenceUnavailableError,
        stack_settings.SettingError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (InferenceServerException, ConnectionError, TimeoutError) as exc:
        print(f"error: {args.model}: the request failed: {explain(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: shared-memory regions unregistered and freed", file=sys.stderr)
        return 130
    finally:
        if metrics is not None:
            metrics.close()

    summary = report.summarize(result)
    print(report.table([summary]))
    if args.verify:
        print(
            f"verified {summary['verified']} responses, max abs diff {summary['max_abs_diff']:.3g}"
        )
    if args.report:
        json_path, csv_path = report.write([summary], args.report)
        print(f"report: {json_path} {csv_path}")
    for kind, example in summary["error_examples"].items():
        print(f"error ({kind}, {summary['errors'].get(kind, 0)}x): {example}", file=sys.stderr)
    for problem in summary["cleanup_problems"]:
        print(f"cleanup: {problem}", file=sys.stderr)
    return 1 if summary["requests_failed"] or summary["cleanup_problems"] else 0
