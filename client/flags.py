"""The command line of `python -m client`: flags in groups, and what they resolve to."""

from __future__ import annotations

import argparse
from pathlib import Path

from client import input_data, pa_export, search, server_metrics, stability
from client.shm import SHM_MODES
from client.transport import PROTOCOLS


def parser(description: str) -> argparse.ArgumentParser:
    """Every flag, grouped as --help shows them."""
    p = argparse.ArgumentParser(
        prog="python -m client",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="served model name")
    p.add_argument("--model-version", default="", help="model version (default: server's choice)")
    p.add_argument(
        "--protocol", type=_choices(PROTOCOLS), default=["http"], help="http|grpc or a list"
    )
    p.add_argument(
        "--shm",
        type=_choices(SHM_MODES),
        default=["none"],
        help="data path for inputs/outputs: none|system|cuda or a list",
    )
    p.add_argument(
        "--concurrency",
        type=_int_list,
        default=[1],
        help="requests kept in flight; a list (1,2,4,8) sweeps",
    )
    bound = p.add_mutually_exclusive_group()
    bound.add_argument("--requests", type=int, help="measured requests in total (one fixed run)")
    bound.add_argument("--duration", type=float, help="measured seconds (one fixed run)")
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
    p.add_argument(
        "--report", type=Path, help="folder for summary.json, summary.csv and the latency plot"
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve client metrics here (default CLIENT_METRICS_PORT; 0 = off)",
    )
    p.add_argument(
        "--linger",
        type=float,
        default=0.0,
        help="keep the metrics endpoint up S seconds before and after the run, so Prometheus "
        "scrapes the counters at 0 and at their final values (short runs)",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="per-request timeout in seconds")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    stability.add_arguments(p)
    search.add_arguments(p)
    input_data.add_arguments(p)
    server_metrics.add_arguments(p)
    pa_export.add_arguments(p)
    return p


def _choices(allowed: tuple[str, ...]):
    """argparse type: one of `allowed` or a comma list of them."""

    def parse(text: str) -> list[str]:
        values = [v.strip() for v in text.split(",") if v.strip()]
        bad = [v for v in values if v not in allowed]
        if bad or not values:
            raise argparse.ArgumentTypeError(
                f"{text!r}: choose from {', '.join(allowed)} (or a comma list of them)"
            )
        return list(dict.fromkeys(values))

    return parse


def _int_list(text: str) -> list[int]:
    """argparse type: N or a comma list N,M,..."""
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected N or a comma list like 1,2,4"
        ) from None


def resolve(args) -> None:
    """Check the grouped flags together and derive what the run needs from them.

    Sets args.measurement, args.intervals, args.shapes, args.rates and the search plan;
    raises ValueError naming the flags to fix.
    """
    args.measurement = stability.settings_from(args)
    args.intervals = args.request_intervals and input_data.read_request_intervals(
        args.request_intervals
    )
    args.shapes = input_data.parse_shapes(args.shape)
    if args.intervals and args.rate is not None:
        raise ValueError("--request-intervals and --rate both set send times; keep one")
    search.resolve(args)
