"""`make up` / `make down`: Docker Compose wherever an engine answers, else the local path.

python -m local_stack.launch up|down
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import stack_settings
from local_stack import compose_stack


def up() -> int:
    """Pick the path (printed with its reason) and run it."""
    runner = stack_settings.get("STACK_RUNNER", "auto")
    engine = None if runner == "local" else compose_stack.docker_engine_problem()
    gpu = compose_stack.gpu_problem() if engine is None and runner != "local" else None
    choice = compose_stack.choose_path(engine, gpu, runner)
    print(f"==> {choice.reason}", flush=True)
    if choice.use_compose:
        runs = stack_settings.get_path("STACK_RUN_DIR")
        report_dir = runs / "reports" / f"compose-{time.strftime('%Y%m%d-%H%M%S')}"
        return compose_stack.up(report_dir, choice)
    from local_stack import pipeline  # noqa: PLC0415 (the local path's imports only when used)

    return pipeline.up()


def down() -> int:
    """Stop the compose stack when one exists, and the local server; safe to run twice."""
    status = 0
    if compose_stack.is_running():
        print("==> docker compose down", flush=True)
        status = compose_stack.down()
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


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in COMMANDS:
        print(f"usage: python -m local_stack.launch {{{'|'.join(COMMANDS)}}}", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(run(sys.argv[1]))
