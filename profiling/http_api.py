"""Triton's HTTP control endpoints as the profiler uses them (always with the control key)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from profiling.errors import ProfilingError
from stack_settings.control_key import control_header_name, control_headers


def call(base_url: str, path: str, body: dict | None = None, timeout: float = 120.0) -> dict:
    """GET (no body) or POST `path`; the parsed JSON answer, or ProfilingError naming it."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{base_url}{path}",
        data=data,
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json", **control_headers()},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace").strip()
        hint = ""
        if exc.code in (401, 403):
            hint = (
                f" (a control API: set TRITON_CONTROL_KEY or CONTROL_KEY_FILE to the server's "
                f"key; it is sent as the {control_header_name()!r} header)"
            )
        raise ProfilingError(f"{base_url}{path}: HTTP {exc.code} {detail}{hint}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ProfilingError(
            f"{base_url}{path}: cannot reach Triton ({exc}); is the server up (`make up`) "
            f"and is --url right?"
        ) from None
    return json.loads(text) if text.strip() else {}
