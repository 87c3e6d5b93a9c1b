"""One description of a running stack, shared by the local-path and compose test fixtures."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunningStack:
    """Endpoints of a running stack, however it was started."""

    http: str  # host:port
    grpc: str
    metrics_url: str
    repository: Path  # the model repository the server reads (host view)
    log_file: Path | None = None

    @property
    def http_url(self) -> str:
        return f"http://{self.http}"


@contextmanager
def exported(values: dict[str, str]) -> Iterator[dict[str, str]]:
    """Set environment variables for the block (child processes see them), then restore."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield values
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def repository_index_status(http: str, key: str | None, header: str = "tos-control-key") -> int:
    """HTTP status of POST /v2/repository/index (a restricted API) with `key` (None: no header)."""
    headers = {header: key} if key else {}
    request = urllib.request.Request(
        f"http://{http}/v2/repository/index", data=b"{}", method="POST", headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as refusal:
        return refusal.code
