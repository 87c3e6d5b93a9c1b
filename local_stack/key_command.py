"""`python -m local_stack key rotate|path` (`make rotate-key`): the control-API key's one command."""

from __future__ import annotations

import stack_settings
from local_stack import compose_stack, server
from stack_settings.control_key import control_key_file, rotate_control_key


def rotate() -> int:
    """Write a new key; a running local server is restarted with it (the key is a server flag)."""
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
    if compose_stack.is_running():
        print(
            "the compose stack still runs with the old key: `make up` re-creates triton and the "
            f"client with the new one (by hand: TRITON_CONTROL_KEY=$(cat {path}) docker compose up -d)"
        )
    return 0


def path() -> int:
    """Print where the key file is (for scripts: `cat $(python -m local_stack key path)`)."""
    print(control_key_file())
    return 0


COMMANDS = {"rotate": rotate, "path": path}
