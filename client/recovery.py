"""What a worker does when the server went away mid-run, so a restart costs only the
requests sent while it was down (each counted as failed) and not the rest of the run.

gRPC and HTTP clients reconnect by themselves; shared-memory regions do not come back:
a restarted server has forgotten every registration, so the worker registers its
regions again (the data in them is still ours) when the server says one is missing.
"""

from __future__ import annotations

import re

from client.errors import is_connection_error
from stack_settings.control_key import control_headers

_MISSING_REGION = re.compile(r"Unable to find shared memory region: '(?P<region>[^']*)'")


def register_again(regions) -> None:
    """Register every region of a worker again with the (restarted) server."""
    for region in regions._created:  # noqa: SLF001 - the regions this worker created
        if regions.kind == "system":
            regions.client.register_system_shared_memory(
                region.name, f"/{region.name}", region.byte_size, headers=control_headers()
            )
        else:
            raw = regions._lib.get_raw_handle(region.handle)  # noqa: SLF001
            regions.client.register_cuda_shared_memory(
                region.name, raw, regions.device_id, region.byte_size, headers=control_headers()
            )


def after_failure(exc: BaseException, regions) -> bool:
    """React to a failed request; True when the server was lost or restarted meanwhile."""
    if is_connection_error(exc):
        return True
    missing = _MISSING_REGION.search(str(exc))
    if regions is None or not missing:
        return False
    if missing["region"] not in {r.name for r in regions._created}:  # noqa: SLF001
        return False  # not ours: nothing to repair
    try:
        register_again(regions)
    except Exception:  # noqa: BLE001 - still down or refused: the next request reports it
        return True
    return True


def reconnect(transport, client, regions, timeout_s: float):
    """A fresh gRPC client after the server was lost (HTTP's pool reconnects by itself).

    A gRPC channel whose server was killed mid-stream can stay broken after the server is
    back; a new channel connects at once.
    """
    if transport.protocol != "grpc":
        return client
    client.close()
    fresh = transport.connect(timeout_s)
    if regions is not None:
        regions.client = fresh  # later registrations and the final unregister use it
    return fresh


# A request that timed out on the client still runs on the server and holds its regions
# ("currently in use") until it ends; unregistering gives up after this long, and a region
# left then stays registered until Triton restarts. Bounded so a hung server cannot hang us.
TIMED_OUT_RELEASE_WAIT_S = 60.0


def release_wait_s(errors) -> float:
    """How long to keep retrying unregister: longer when requests timed out (still running)."""
    timed_out = errors.get("TimeoutError", 0) + errors.get("deadline_exceeded", 0)
    return TIMED_OUT_RELEASE_WAIT_S if timed_out else 10.0
