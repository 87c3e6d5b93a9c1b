"""`python -m rollout [rollback] --model NAME`: new versions live, and back, under load.

Exit codes: 0 done; 1 the new version failed its check and was refused (the old one serves
on, untouched); 2 bad arguments, unknown model, unreachable server or a broken repository.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import stack_settings
from exporter.model_config import UnsupportedModelError, parse_pbtxt
from rollout.repo import RolloutError, model_dir
from rollout.server import (
    PARITY_ATOL,
    PARITY_RTOL,
    LiveServer,
    default_grpc_url,
    default_metrics_url,
)
from rollout.steps import RolloutOptions, rollback, rollout
from stack_settings.control_key import refusal_fix


def _parser(command: str) -> argparse.ArgumentParser:
    prog = "python -m rollout" + (" rollback" if command == "rollback" else "")
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("--model", required=True, help="the served model's name")
    parser.add_argument("--repository", type=Path, help="default $MODEL_REPOSITORY")
    parser.add_argument(
        "--url", help="Triton gRPC host:port (default TRITON_HOST:TRITON_GRPC_PORT)"
    )
    parser.add_argument(
        "--metrics-url", help="Triton metrics URL for the drain (default from TRITON_HOST)"
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=30.0, help="seconds to wait for the old version"
    )
    if command == "rollout":
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--from-onnx", type=Path, help="the new version's ONNX file")
        source.add_argument(
            "--rebuild", action="store_true", help="re-export the model (built-in or --model-file)"
        )
        parser.add_argument(
            "--model-file", type=Path, help="TOML file of user models, for --rebuild"
        )
        parser.add_argument(
            "--check",
            choices=("parity", "none"),
            default="parity",
            help=f"parity: served outputs must match in-process ORT (atol {PARITY_ATOL}, rtol "
            f"{PARITY_RTOL}) and p50 stay within --max-slowdown of the serving version",
        )
        parser.add_argument(
            "--keep",
            type=int,
            default=2,
            help="version folders kept on disk (2: the new one and the one to roll back to; "
            "1: the new one only, no rollback)",
        )
        parser.add_argument(
            "--max-slowdown",
            type=float,
            default=3.0,
            help="refuse when the new p50 exceeds this multiple of the old one (0: no limit)",
        )
    return parser


def _same_signature(folder: Path, name: str, candidate) -> str | None:
    """None when the candidate has the served inputs/outputs, else what differs."""
    from tritonclient.grpc import model_config_pb2 as mc  # noqa: PLC0415

    from exporter.model_config import build_model_config  # noqa: PLC0415
    from exporter.settings import serving_options  # noqa: PLC0415

    served = parse_pbtxt((folder / "config.pbtxt").read_text())
    built = build_model_config(name, candidate, serving_options())

    def signature(config) -> str:
        tensors = [
            f"{t.name} {mc.DataType.Name(t.data_type).removeprefix('TYPE_')} {list(t.dims)}"
            for t in list(config.input) + list(config.output)
        ]
        batching = "batched" if config.max_batch_size > 0 else "not batched"
        return f"{', '.join(tensors)} ({batching})"

    if signature(served) != signature(built):
        return (
            f"its inputs/outputs [{signature(built)}] differ from the served config's "
            f"[{signature(served)}]; every version of a model shares one config: publish it "
            f"under a new name (`python -m exporter add FILE --name NEW`)"
        )
    return None


def _candidate(args, folder: Path, workdir: Path) -> tuple[Path, list[str]]:
    """(ONNX file, its external data files) for the new version."""
    from exporter.onnx_import import OnnxImportError, _external_files, check_onnx_file  # noqa: PLC0415

    path = _rebuild(args, workdir) if args.rebuild else args.from_onnx
    try:
        model = check_onnx_file(path)
        external = _external_files(model, path)
        problem = _same_signature(folder, args.model, model)
    except (OnnxImportError, UnsupportedModelError) as exc:
        raise RolloutError(str(exc)) from exc
    if problem:
        raise RolloutError(f"{path}: {problem}")
    return path, external


def _rebuild(args, workdir: Path) -> Path:
    """Export the model again (first passing exporter) into `workdir`."""
    from exporter.build import _attempt  # noqa: PLC0415 - torch: only --rebuild needs it
    from exporter.export import EXPORTERS  # noqa: PLC0415
    from exporter.models import builtin_models  # noqa: PLC0415
    from exporter.settings import serving_options  # noqa: PLC0415
    from exporter.user_models import load_model_file  # noqa: PLC0415

    specs = builtin_models() | (load_model_file(args.model_file) if args.model_file else {})
    if args.model not in specs:
        raise RolloutError(
            f"--rebuild: {args.model!r} is not a built-in or --model-file model (known: "
            f"{sorted(specs)}); use --from-onnx FILE"
        )
    batch_sizes = tuple(sorted({1, 2, serving_options().default_max_batch_size}))
    reasons = []
    for exporter in EXPORTERS:
        attempt = _attempt(specs[args.model], exporter, workdir, batch_sizes)
        if attempt["error"] is None:
            print(f"rebuilt {args.model} with {exporter}", file=sys.stderr)
            return workdir / f"{exporter}.onnx"
        reasons.append(f"{exporter}: {attempt['error']}")
    raise RolloutError(f"--rebuild: no exporter produced a verified file: {reasons}")


def main(command: str, argv: list[str]) -> int:
    """Run `rollout` or `rollback`; see the module docstring for exit codes."""
    args = _parser(command).parse_args(argv)
    # Ctrl-C even where SIGINT came in ignored (a background job of a script, nohup, CI).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)  # `docker stop`: clean up like Ctrl-C
    server = None
    workdir = Path(tempfile.mkdtemp(prefix="rollout-"))
    try:
        if command == "rollout" and args.keep < 1:
            raise RolloutError(
                f"--keep must be >= 1 (2 keeps the version to roll back to), got {args.keep}"
            )
        repository = args.repository or stack_settings.get_path("MODEL_REPOSITORY")
        folder = model_dir(repository, args.model)
        server = LiveServer(
            args.url or default_grpc_url(), args.metrics_url or default_metrics_url()
        )
        options = RolloutOptions(drain_timeout_s=args.drain_timeout)
        if command == "rollout":
            options.check, options.keep = args.check, args.keep
            options.max_slowdown = args.max_slowdown
            path, external = _candidate(args, folder, workdir)
            outcome = rollout(repository, args.model, path, external, server, options, _say)
        else:
            outcome = rollback(repository, args.model, server, options, _say)
    except (RolloutError, stack_settings.SettingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted: the steps above say how far it got; a new version not yet switched "
            "to was removed, an unfinished switch was undone",
            file=sys.stderr,
        )
        return 130
    except Exception as exc:  # noqa: BLE001 - an unreachable server, mostly: name it
        url = server.url if server else (args.url or "TRITON_HOST:TRITON_GRPC_PORT")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fix = refusal_fix(str(exc)) or (
            "Is the server up (explicit model control), and --url / "
            "TRITON_HOST:TRITON_GRPC_PORT right?"
        )
        print(f"error: {command} of {args.model!r} via Triton at {url}: {first}. {fix}",
              file=sys.stderr)  # fmt: skip
        return 2
    finally:
        if server is not None:
            server.close()
        shutil.rmtree(workdir, ignore_errors=True)
    if not outcome.promoted:
        print(
            f"error: {args.model}: refused version {outcome.candidate}: {outcome.reason}",
            file=sys.stderr,
        )
        return 1
    print(f"{args.model}: serving version {outcome.serving}")
    return 0


def _on_sigterm(signum, frame) -> None:
    raise KeyboardInterrupt


def _say(text: str) -> None:
    print(f"  {text}", flush=True)
