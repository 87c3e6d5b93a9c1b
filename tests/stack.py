"""One description of a running stack, shared by the local-path and compose test fixtures."""

from __future__ import annotations

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
