"""`python -m launcher key show|rotate|path` (`make key`, `make rotate-key`): the stack's secrets.

The local path keeps its control key in .stack/control.key. Compose keeps it in the control-key
volume (the keygen service writes it; `make up` seeds it with the local file, so both agree).
"""

from __future__ import annotations

import sys

import stack_settings
from launcher import compose_runner
from local_stack import server
from stack_settings.control_key import control_key, control_key_file, rotate_control_key

SECRETS = ("control-key", "grafana-admin-password")


def show(name: str = "control-key") -> int:
    """Print a secret on request: the running compose stack's, else the local path's key."""
    if name not in SECRETS:
        print(f"error: unknown secret {name!r}: one of {', '.join(SECRETS)}", file=sys.stderr)
        return 2
    if compose_runner.is_running():
        return compose_runner.keygen("show", name).returncode
    if name != "control-key":
        print(f"error: {name} exists only in the compose stack; it is not running", file=sys.stderr)
        return 2
    key = control_key()
    if key is None:
        print(
            f"error: no control key yet ({control_key_file()}): `make up` generates it",
            file=sys.stderr,
        )
        return 2
    print(key)
    return 0


def rotate() -> int:
    """Write a new key; running servers (local, compose) restart with it (the key is a flag)."""
    path = rotate_control_key()
    print(f"new control key written to {path} (mode 0600)")
    run_dir = stack_settings.get_path("STACK_RUN_DIR")
    process = server.triton_process(run_dir)
    if process.pid() is not None:
        print("restarting the local tritonserver with the new key ...", flush=True)
        process.stop()
        server.start(stack_settings.get_path("MODEL_REPOSITORY"), run_dir)
        print(f"ready: {server.http_url()}; the old key is refused from now on")
    else:
        print("no local tritonserver running: the next `make up` starts it with the new key")
    if compose_runner.is_running():
        print("the compose stack: writing the new key into its volume, restarting triton ...")
        compose_runner.keygen("ensure")  # seeded with the new file (compose_environment)
        compose_runner.restart_triton()
        print("compose's triton restarted; the old key is refused from now on")
    return 0


def path() -> int:
    """Print where the local key file is (for scripts: `cat $(python -m launcher key path)`)."""
    print(control_key_file())
    return 0


COMMANDS = {"show": show, "rotate": rotate, "path": path}
