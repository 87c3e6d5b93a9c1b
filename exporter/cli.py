"""`python -m exporter`: build the built-in (and user) models into $MODEL_REPOSITORY.

`python -m exporter add model.onnx --name X [--repository DIR]` brings an ONNX file of your own.
`python -m rollout` changes the served version live (`python -m exporter rollout|rollback` too).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from tqdm import tqdm

import stack_settings
from exporter import derived
from exporter.build import build_model, print_summary
from exporter.export import EXPORTERS
from exporter.models import builtin_models
from exporter.settings import optional_int as _optional_int
from exporter.settings import serving_options
from exporter.user_models import UserModelError, load_model_file, user_model


def _flag_setting(name: str) -> bool:
    return stack_settings.get(name, "0").strip().lower() in ("1", "true", "yes")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m exporter", description=__doc__)
    parser.add_argument(
        "--repository", type=Path, help="model repository (default $MODEL_REPOSITORY)"
    )
    parser.add_argument("--models", nargs="+", help="models to build (default: all)")
    parser.add_argument(
        "--exporters",
        default=",".join(EXPORTERS),
        help="exporters to try, in order of preference; the first that passes is served",
    )
    parser.add_argument("--force", action="store_true", help="re-export even if nothing changed")
    parser.add_argument("--model-file", type=Path, help="TOML file of user models ([[model]])")
    parser.add_argument("--user-model", help="a user model by import path, 'pkg.module:Name'")
    parser.add_argument("--input-shape", help="its sample shape without batch, e.g. 3,32,32")
    parser.add_argument("--name", help="its Triton model name (default: the class name, lower)")
    parser.add_argument("--only-user-models", action="store_true", help="skip the built-in models")
    parser.add_argument(
        "--ensemble-steps",
        type=int,
        default=_optional_int("ENSEMBLE_STEPS") or 0,
        help="also publish ensemble_<model>_<N> chaining each built-in model N times "
        "(default $ENSEMBLE_STEPS; 0: none)",
    )
    parser.add_argument(
        "--trt",
        action="store_true",
        default=_flag_setting("EXPORT_TRT"),
        help="also publish <model>_trt (KIND_GPU + TensorRT FP16; GPU hosts only; $EXPORT_TRT=1)",
    )
    parser.add_argument(
        "--pipeline",
        action="store_true",
        default=_flag_setting("EXPORT_PIPELINE"),
        help="also publish preprocess/postprocess + the cnn_classify ensemble ($EXPORT_PIPELINE=1)",
    )
    parser.add_argument(
        "--check-served",
        metavar="HOST:GRPC_PORT",
        help="load each published model into this running Triton and compare it with ORT",
    )
    return parser


def _user_specs(args) -> dict:
    specs = {}
    if args.model_file:
        specs |= load_model_file(args.model_file)
    if args.user_model:
        if not args.input_shape:
            raise UserModelError("--user-model needs --input-shape (e.g. --input-shape 3,32,32)")
        name = args.name or args.user_model.rpartition(":")[2].lower()
        shape = [int(d) for d in args.input_shape.replace("x", ",").split(",") if d.strip()]
        specs[name] = user_model(name, args.user_model, shape)
    return specs


def build_all(argv: list[str] | None = None) -> int:
    """Export every model, publish the winners and the derived models; print the summary."""
    args = _parser().parse_args(argv)
    repository = args.repository or stack_settings.get_path("MODEL_REPOSITORY")
    builtins = {} if args.only_user_models else builtin_models()
    try:
        specs = builtins | _user_specs(args)
    except UserModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names = args.models or list(specs)
    unknown = sorted(set(names) - set(specs))
    if unknown:
        print(
            f"error: unknown model(s) {unknown}; known models are {sorted(specs)}", file=sys.stderr
        )
        return 2
    preference = tuple(e.strip() for e in args.exporters.split(",") if e.strip())
    bad = sorted(set(preference) - set(EXPORTERS))
    if bad:
        print(f"error: unknown exporter(s) {bad}; choose from {EXPORTERS}", file=sys.stderr)
        return 2

    options = serving_options()
    served_check = None
    if args.check_served:
        from exporter import served  # noqa: PLC0415 - only this step needs a Triton client

        def served_check(model, exporter, path):
            return served.check_candidate(
                args.check_served, repository, model, exporter, path, options
            )

    outcomes = []
    with tqdm(names, desc="export", unit="model", file=sys.stderr, disable=None) as progress:
        for name in progress:
            try:
                outcome = build_model(
                    specs[name], repository, options, preference, args.force, progress,
                    served_check,
                )  # fmt: skip
            except UserModelError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            outcomes.append(outcome)
    failed = [o.name for o in outcomes if not o.ok]
    extra = _publish_derived(
        args, repository, [o.name for o in outcomes if o.ok], builtins, options
    )
    if args.check_served:  # models reused unchanged: check the published version
        reused = [o for o in outcomes if o.ok and o.skipped]
        for outcome in tqdm(reused, desc="served?", file=sys.stderr, disable=None):
            if outcome.ok:
                reason = served.check_served(args.check_served, repository, outcome.name)
                outcome.attempts[outcome.served_by]["served"] = reason or True
                if reason:
                    failed.append(outcome.name)
    print(f"\nmodel repository: {repository}")
    print_summary(outcomes)
    if extra:
        print(f"also published: {', '.join(extra)}")
    if failed:
        print(f"\nerror: these models failed: {failed} (reasons above)", file=sys.stderr)
        return 1
    return 0


def _publish_derived(args, repository: Path, exported: list[str], builtins, options) -> list[str]:
    published = []
    for name in exported:
        if name not in builtins:
            continue
        if args.ensemble_steps:
            published.append(derived.publish_ensemble(repository, name, args.ensemble_steps))
        if args.trt:
            cache = stack_settings.get("TRT_ENGINE_CACHE_PATH", "")
            cache = cache or str(repository.parent / "trt_cache")
            published.append(derived.publish_tensorrt_variant(repository, name, cache))
    if args.pipeline and "simple_cnn" in exported:
        published += derived.publish_pipeline(repository, options.default_max_batch_size)
    return published


def main(argv: list[str] | None = None) -> int:
    """Entry point: build the models (`python -m exporter`)."""
    argv = sys.argv[1:] if argv is None else argv
    # Ctrl-C even where SIGINT came in ignored (a background job of a script, nohup, CI).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return build_all(argv)
