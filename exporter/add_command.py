"""`python -m exporter add path/to/model.onnx --name X [--repository DIR]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import stack_settings
from exporter.derived import published_config
from exporter.model_config import UnsupportedModelError, to_pbtxt
from exporter.onnx_import import OnnxImportError, add_onnx
from exporter.settings import serving_options


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m exporter add",
        description="Copy an ONNX file (and its external data) into the model repository "
        "with a config generated from its signature.",
    )
    parser.add_argument("onnx_file", type=Path)
    parser.add_argument("--name", required=True, help="the Triton model name")
    parser.add_argument("--repository", type=Path, help="default $MODEL_REPOSITORY")
    parser.add_argument("--version", type=int, default=1, help="version folder (default 1)")
    parser.add_argument("--version-policy", help="'all', 'latest:N' or 'specific:1,2'")
    parser.add_argument(
        "--load",
        metavar="HOST:GRPC_PORT",
        help="then load it into this running Triton (explicit model control)",
    )
    return parser


def add_main(argv: list[str]) -> int:
    """Run `add`; errors name the file/tensor and the fix, and leave the repository untouched."""
    args = _parser().parse_args(argv)
    repository = args.repository or stack_settings.get_path("MODEL_REPOSITORY")
    options = serving_options()
    options.version_policy = args.version_policy
    try:
        model_dir = add_onnx(args.onnx_file, args.name, repository, options, args.version)
    except (OnnxImportError, UnsupportedModelError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"added {args.name} (version {args.version}) to {model_dir}")
    print(to_pbtxt(published_config(repository, args.name)))
    if args.load:
        import tritonclient.grpc as grpcclient  # noqa: PLC0415
        from tritonclient.utils import InferenceServerException  # noqa: PLC0415

        from stack_settings.control_key import control_headers, refusal_fix  # noqa: PLC0415

        try:
            client = grpcclient.InferenceServerClient(args.load)
            client.load_model(args.name, headers=control_headers())
        except InferenceServerException as exc:
            fix = refusal_fix(str(exc))
            print(
                f"error: Triton at {args.load} could not load {args.name}: {exc}"
                + (f" -> {fix}" if fix else ""),
                file=sys.stderr,
            )
            return 1
        print(f"loaded {args.name} into Triton at {args.load}")
    return 0
