"""`make up` / `make down`: Docker Compose wherever an engine answers, else the local path.

python -m launcher up|down, or key show [NAME]|rotate|path (the stack's secrets: launcher/key_command.py)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import stack_settings
from launcher import compose_runner, key_command


def up() -> int:
    """Pick the path (printed with its reason) and run it."""
    runner = stack_settings.get("STACK_RUNNER", "auto")
    engine = None if runner == "local" else compose_runner.docker_engine_problem()
    gpu = compose_runner.gpu_problem() if engine is None and runner != "local" else None
    choice = compose_runner.choose_path(engine, gpu, runner)
    print(f"==> {choice.reason}", flush=True)
    if choice.use_compose:
        runs = stack_settings.get_path("STACK_RUN_DIR")
        report_dir = runs / "reports" / f"compose-{time.strftime('%Y%m%d-%H%M%S')}"
        return compose_runner.up(report_dir, choice)
    from local_stack import pipeline  # noqa: PLC0415 (the local path's imports only when used)

    return pipeline.up()


def down() -> int:
    """Stop the compose stack when one exists, and the local server; safe to run twice."""
    status = 0
    if compose_runner.is_running():
        print("==> docker compose down", flush=True)
        status = compose_runner.down()
    from local_stack import pipeline  # noqa: PLC0415

    return pipeline.down() or status


COMMANDS = {"up": up, "down": down}


def run(command: str) -> int:
    """Run one command; known failures print their message (it names the fix), not a traceback."""
    try:
        return COMMANDS[command]()
    except stack_settings.StackError as exc:
        problem = str(exc)
    except subprocess.CalledProcessError as exc:
        program, *args = (str(part) for part in exc.cmd)
        # e.g. "python3 -m exporter", "docker compose up"
        step = " ".join([Path(program).name, *args[:2]])
        problem = f"`{step}` failed (exit {exc.returncode}); its output is above"
    print(f"\nmake {command} failed: {problem}", file=sys.stderr, flush=True)
    if command == "up":
        print("Whatever it started keeps running: `make down` stops it.", file=sys.stderr)
    return 1


def run_key(command: str, *args: str) -> int:
    """`key show [NAME]|rotate|path`; a bad key file's message names the fix."""
    try:
        return key_command.COMMANDS[command](*args)
    except stack_settings.StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        shown = " ".join(str(part) for part in exc.cmd)
        print(
            f"error: `{shown}` failed (exit {exc.returncode}); its output is above", file=sys.stderr
        )
        return 1


def main(args: list[str]) -> int:
    """`up|down`, or `key show [NAME]|rotate|path`; a usage line otherwise."""
    key_call = args[:1] == ["key"] and len(args) >= 2 and args[1] in key_command.COMMANDS
    if key_call and (len(args) == 2 or (args[1] == "show" and len(args) == 3)):
        return run_key(args[1], *args[2:])
    if len(args) != 1 or args[0] not in COMMANDS:
        keys = "show [NAME]|rotate|path"
        print(
            f"usage: python -m launcher {{{'|'.join(COMMANDS)}}} | key {{{keys}}}", file=sys.stderr
        )
        return 2
    return run(args[0])
