"""`python -m exporter`: build the built-in models into $MODEL_REPOSITORY."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

import stack_settings
from exporter.build import build_model, print_summary
from exporter.export import EXPORTERS
from exporter.model_config import ServingOptions
from exporter.models import builtin_models


def serving_options() -> ServingOptions:
    """Config knobs from settings (the same names compose passes to the container)."""
    return ServingOptions(
        default_max_batch_size=stack_settings.get_int("DEFAULT_MAX_BATCH_SIZE"),
        instance_count=stack_settings.get_int("INSTANCE_COUNT"),
        instance_kind=stack_settings.get("INSTANCE_KIND", "KIND_CPU"),
        max_queue_delay_us=stack_settings.get_int("MAX_QUEUE_DELAY_US"),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m exporter", description=__doc__)
    parser.add_argument(
        "--repository", type=Path, help="model repository (default $MODEL_REPOSITORY)"
    )
    parser.add_argument("--models", nargs="+", help="built-in models to build (default: all)")
    parser.add_argument(
        "--exporters",
        default=",".join(EXPORTERS),
        help="exporters to try, in order of preference; the first that passes is served",
    )
    parser.add_argument("--force", action="store_true", help="re-export even if nothing changed")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    repository = args.repository or stack_settings.get_path("MODEL_REPOSITORY")
    specs = builtin_models()
    names = args.models or list(specs)
    unknown = sorted(set(names) - set(specs))
    if unknown:
        print(
            f"error: unknown model(s) {unknown}; built-in models are {sorted(specs)}",
            file=sys.stderr,
        )
        return 2
    preference = tuple(e.strip() for e in args.exporters.split(",") if e.strip())
    bad = sorted(set(preference) - set(EXPORTERS))
    if bad:
        print(f"error: unknown exporter(s) {bad}; choose from {EXPORTERS}", file=sys.stderr)
        return 2

    options = serving_options()
    outcomes = []
    with tqdm(names, desc="export", unit="model", file=sys.stderr, disable=None) as progress:
        for name in progress:
            outcomes.append(
                build_model(specs[name], repository, options, preference, args.force, progress)
            )
    print(f"\nmodel repository: {repository}")
    print_summary(outcomes)
    failed = [o.name for o in outcomes if not o.ok]
    if failed:
        print(
            f"\nerror: no exporter produced a verified model for {failed} (reasons above)",
            file=sys.stderr,
        )
        return 1
    return 0
