"""Command line, the serving config as the search's base, and writing the winner's config."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

from google.protobuf import json_format
from tritonclient.grpc import model_config_pb2 as mc
from tritonclient.utils import InferenceServerException

from optimize import model_config
from optimize.measure import Window
from optimize.repository import RepositoryError, ServerControl
from optimize.space import PREFERRED, SearchSpace

OPTIMIZED_CONFIG = "config.optimized.pbtxt"
BACKUP_CONFIG = "config.pbtxt.before-optimize"

# The command line's help text: owned here, beside the parser (cli.py imports this module).
HELP = """`python -m optimize`: find the best config.pbtxt knobs for a model on the LIVE server.

python -m optimize --model NAME [--p99-budget-ms MS | --budget-at-concurrency C]
                   [--min-throughput R] [--quick | --exhaustive] [--report DIR] [--apply]

Each candidate is a sibling model <NAME>__opt_<hash> sharing the served model's files, loaded
through the repository API (explicit model control), measured by `python -m client`, then
unloaded and removed: also on a failed load, Ctrl-C or SIGTERM. Every measurement lands in
DIR/optimize.json; the same command again resumes from it. The winner is written as
config.optimized.pbtxt beside the model's config.pbtxt (config.pbtxt itself only with --apply).
Exit codes: 0 a winner meets the goal; 1 none does; 2 bad input or unreachable server;
130 Ctrl-C; 143 SIGTERM.
"""


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a comma list like 1,2,4") from None


def _words(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _parser() -> argparse.ArgumentParser:
    defaults, window = SearchSpace(), Window()
    p = argparse.ArgumentParser(
        prog="python -m optimize",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="a model the server serves now")
    goal = p.add_mutually_exclusive_group()
    goal.add_argument("--p99-budget-ms", type=float, help="p99 latency budget in ms")
    goal.add_argument(
        "--budget-at-concurrency",
        type=int,
        help="budget = the serving config's p99 at this concurrency, measured first",
    )
    p.add_argument("--min-throughput", type=float, help="minimum inferences/s")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="hill climbing over one-step neighbours")
    mode.add_argument("--exhaustive", action="store_true", help="every candidate of the space")
    p.add_argument("--instances", type=_ints, default=list(defaults.instances))
    p.add_argument(
        "--max-batch-size", type=_ints,
        help=f"max_batch_size values (default: 1, 2, 4, ... up to --up-to-batch or, with --ceiling, "
        f"the ceiling's best batch, capped by memory; else {','.join(map(str, defaults.max_batch_size))})",
    )  # fmt: skip
    p.add_argument(
        "--up-to-batch", type=int, metavar="N",
        help="search max_batch_size 1, 2, 4, ... N (default with --ceiling: its best batch)",
    )  # fmt: skip
    p.add_argument(
        "--batch-memory-mb", type=float, metavar="MB",
        help="what a merged batch's inputs+outputs may take (default: the CUDA memory pool for GPU "
        "instances, a quarter of free memory for CPU ones)",
    )  # fmt: skip
    p.add_argument("--queue-delay-us", type=_ints, default=list(defaults.queue_delay_us))
    p.add_argument(
        "--preferred", type=_words, default=list(PREFERRED),
        help="off: no preferred_batch_size; max: preferred_batch_size [max_batch_size]",
    )  # fmt: skip
    p.add_argument(
        "--concurrency", type=_ints, metavar="LIST",
        help="measure every candidate at these concurrencies (default: the one that fills its "
        "batches, 2 x batch x instances / --request-batch-size, halved while over the budget)",
    )  # fmt: skip
    p.add_argument("--max-concurrency", type=int, default=64, help="bound on the fill concurrency")
    p.add_argument(
        "--request-batch-size", type=int, default=1, metavar="N",
        help="items per request (the client's --batch-size); throughput counts items",
    )  # fmt: skip
    p.add_argument(
        "--concurrency-steps", type=int, default=3,
        help="halve a candidate's concurrency up to this many times while its p99 is over budget",
    )  # fmt: skip
    p.add_argument("--max-candidates", type=int, default=40, help="quick mode stops here")
    p.add_argument(
        "--measurement-interval", type=int, default=window.interval_ms, metavar="MS",
        help="the client's stable windows: window length in ms",
    )  # fmt: skip
    p.add_argument(
        "--stability-percentage", type=float, default=window.stability_pct, metavar="PCT",
        help="stable when the last 3 windows agree within PCT%% (throughput and latency)",
    )  # fmt: skip
    p.add_argument(
        "--max-trials", type=int, default=window.max_trials, metavar="N",
        help="windows at most per point (then reported unstable)",
    )  # fmt: skip
    p.add_argument(
        "--duration", type=float, metavar="S",
        help="one fixed window of S seconds per point instead of stable windows",
    )  # fmt: skip
    p.add_argument("--warmup", type=int, default=window.warmup_per_worker, help="per client worker")
    p.add_argument("--protocol", choices=("http", "grpc"), default=window.protocol)
    p.add_argument(
        "--shm", choices=("none", "system", "cuda"),
        help="the client's data path (default: cuda for GPU instances, system otherwise)",
    )  # fmt: skip
    p.add_argument("--url", help="Triton HTTP host:port (default TRITON_HOST:TRITON_HTTP_PORT)")
    p.add_argument("--model-repository", type=Path, help="default $MODEL_REPOSITORY")
    p.add_argument("--report", type=Path, help="default $STACK_RUN_DIR/optimize/<model>")
    p.add_argument("--fresh", action="store_true", help="ignore an earlier optimize.json there")
    p.add_argument("--apply", action="store_true", help="also write config.pbtxt and reload")
    p.add_argument("--ceiling", action="store_true", help="measure in-process ORT as the ceiling")
    p.add_argument("--ceiling-batches", type=_ints, default=[1, 2, 4, 8, 16, 32])
    p.add_argument(
        "--ceiling-seconds", type=float, default=6.0, help="per batch size (best of 3 rounds)"
    )
    return p


def parse_args(argv: list[str] | None):
    """Parsed flags, refused early with the flag's name when out of range."""
    parser = _parser()
    args = parser.parse_args(argv)
    checks = {
        "--duration must be > 0": args.duration is not None and args.duration <= 0,
        "--measurement-interval must be >= 100 ms": args.measurement_interval < 100,
        "--stability-percentage must be > 0": args.stability_percentage <= 0,
        "--max-trials must be >= 3 (stability compares the last 3 windows)": args.max_trials < 3,
        "--max-concurrency must be >= 1": args.max_concurrency < 1,
        "--concurrency values must be >= 1": min(args.concurrency or [1]) < 1,
        "--request-batch-size must be >= 1": args.request_batch_size < 1,
        "--up-to-batch must be >= 1": (args.up_to_batch or 1) < 1,
        "--batch-memory-mb must be > 0": args.batch_memory_mb is not None
        and args.batch_memory_mb <= 0,
        "--concurrency-steps must be >= 0": args.concurrency_steps < 0,
        "--max-candidates must be >= 1": args.max_candidates < 1,
        "--budget-at-concurrency must be >= 1": (args.budget_at_concurrency or 1) < 1,
        "--p99-budget-ms must be > 0": args.p99_budget_ms is not None and args.p99_budget_ms <= 0,
        "--min-throughput must be > 0": args.min_throughput is not None
        and args.min_throughput <= 0,
    }
    for message, bad in checks.items():
        if bad:
            parser.error(message)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.machine = (
        f"{platform.node()}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    return args


def serving_base(model_repository: Path, model: str, served: dict) -> mc.ModelConfig:
    """config.pbtxt as written, with what the backend auto-completed (batching) filled in."""
    path = model_repository / model / "config.pbtxt"
    if not path.is_file():
        raise RepositoryError(
            f"model {model!r}: {path} does not exist; pass --model-repository (the folder "
            f"the server reads)"
        )
    base = model_config.parse(path.read_text(), str(path))
    model_config.check_searchable(model, base)
    completed = json_format.ParseDict(served, mc.ModelConfig(), ignore_unknown_fields=True)
    if not base.max_batch_size and completed.max_batch_size:
        base.max_batch_size = completed.max_batch_size
        if completed.HasField("dynamic_batching") and not base.HasField("dynamic_batching"):
            base.dynamic_batching.CopyFrom(completed.dynamic_batching)
    base.name = model
    return base


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def apply_winner(
    args, base, winner: dict, model_repository: Path, report_dir: Path, control: ServerControl
):
    """config.optimized.pbtxt beside the model and in the report; with --apply, config.pbtxt + reload."""
    from optimize.space import Candidate  # noqa: PLC0415

    text = model_config.to_text(
        model_config.candidate_config(base, args.model, Candidate(**winner["candidate"]))
    )
    folder = model_repository / args.model
    written = [folder / OPTIMIZED_CONFIG, report_dir / OPTIMIZED_CONFIG]
    for path in written:
        _write_atomic(path, text)
    if args.apply:
        serving = folder / "config.pbtxt"
        _write_atomic(folder / BACKUP_CONFIG, serving.read_text())
        _write_atomic(serving, text)
        try:
            control.load(args.model)  # explicit mode: a load re-reads the folder
        except InferenceServerException as exc:
            _write_atomic(serving, (folder / BACKUP_CONFIG).read_text())
            control.load(args.model)
            raise RepositoryError(
                f"model {args.model!r} refused the winning config ({exc}); config.pbtxt restored"
            ) from exc
        written.append(serving)
    return written
