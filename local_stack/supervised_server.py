"""tritonserver as a container's main process, with its stubs' shared memory cleaned up after it.

python -m local_stack.supervised_server TRITONSERVER [ARGS...]

docker/triton.Dockerfile's `tritonserver` runs the real binary under this supervisor, which
forwards stop signals (docker stop, compose restart) and waits for the server's exit code.

Why: Triton's graceful stop first waits, for up to --exit-timeout-secs, until the clients close
their HTTP connections, and only then unloads models with the time that is left
(triton-inference-server/server#6986). A client with a keep-alive connection open until the end
(a load generator, a connection pool) uses it all. The server then exits with its models still
loaded, and each python-backend stub's region (triton_<backend>_shm_region_<uuid>, 1 MiB to
hundreds of MiB) stays in /dev/shm. There it is memory until something unlinks it: for the
life of the pod's emptyDir, or for the life of the host where /dev/shm is the host's.
The supervisor learns the names from the stubs' command lines while they run, and unlinks them
after the server has exited. A clean exit has unlinked them already; then this does nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from local_stack.processes import end_group, stub_regions

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
POLL_S = 1.0  # how often the stubs' region names are read while the server runs
STACK_DIR = str(Path(__file__).resolve().parents[1])


def server_environment(environ: dict[str, str]) -> dict[str, str]:
    """The server's environment: this module's folder taken off PYTHONPATH (the wrapper puts it
    there for `-m`), so the stubs' Python does not see the stack's packages."""
    env = dict(environ)
    kept = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != STACK_DIR]
    if kept:
        env["PYTHONPATH"] = os.pathsep.join(kept)
    else:
        env.pop("PYTHONPATH", None)
    return env


def reap_orphans() -> None:
    """Collect exited children: as PID 1 of a container, the server's orphaned stubs are ours."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def serve(command: list[str]) -> int:
    """Run `command` until it exits; forward stop signals; unlink what its stubs named."""
    # Its own process group: the stubs are found, and ended, as members of the server's group.
    env = server_environment(dict(os.environ))
    server = subprocess.Popen(command, env=env, start_new_session=True)
    regions: set[str] = set()

    def forward(signum: int, _frame) -> None:
        regions.update(stub_regions(server.pid))  # the stubs are still there to name them
        with contextlib.suppress(ProcessLookupError):
            server.send_signal(signum)

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, forward)
    while server.poll() is None:
        regions.update(stub_regions(server.pid))
        time.sleep(POLL_S)
    end_group(server.pid, sorted(regions))  # kills stubs left running, unlinks their regions
    reap_orphans()
    code = server.returncode
    return 128 - code if code < 0 else code  # killed by signal N: exit 128+N, as a shell does


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit("usage: python -m local_stack.supervised_server TRITONSERVER [ARGS...]")
    sys.exit(serve(sys.argv[1:]))
