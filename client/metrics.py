"""The client's own Prometheus metrics, so Grafana shows client and server side by side."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

LABELS = ("model", "protocol", "shm")
# Buckets from 1 ms to 30 s: covers a small transformer up to a full-HD batch of 8 on CPU.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.25,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class MetricsPortError(RuntimeError):
    """The metrics endpoint's port cannot be bound (exit code 2, before any load)."""


class ClientMetrics:
    """Latency histogram, in-flight gauge, request and error counters."""

    def __init__(self, port: int = 0, address: str = "127.0.0.1"):
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "tos_client_request_latency_seconds",
            "Client-side request latency",
            LABELS,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "tos_client_requests_in_flight",
            "Requests sent and not yet answered",
            LABELS,
            registry=self.registry,
        )
        self.requests = Counter(
            "tos_client_requests", "Requests answered successfully", LABELS, registry=self.registry
        )
        self.errors = Counter(
            "tos_client_request_errors",
            "Requests that failed, by kind",
            (*LABELS, "kind"),
            registry=self.registry,
        )
        self.server = None
        if port:
            try:
                self.server, _ = start_http_server(port, addr=address, registry=self.registry)
            except OSError as exc:
                raise MetricsPortError(
                    f"cannot serve client metrics on {address}:{port}: {exc.strerror}. Another "
                    f"process holds that port (node_exporter's default is 9100): pass "
                    f"--metrics-port with a free port (0 turns the endpoint off), or change "
                    f"CLIENT_METRICS_PORT in .env (Prometheus scrapes the port set there)"
                ) from exc

    def declare(self, *labels: str) -> None:
        """Export the run's series at 0 before the first request, so rate() sees it all."""
        for metric in (self.latency, self.in_flight, self.requests):
            metric.labels(*labels)

    def bind(self, *labels: str) -> BoundMetrics:
        """The metric children for one label set, looked up once (the load loop is hot)."""
        return BoundMetrics(self, labels)

    def started(self, *labels: str) -> None:
        self.in_flight.labels(*labels).inc()

    def finished(self, *labels: str) -> None:
        self.in_flight.labels(*labels).dec()

    def observe(self, *labels_and_latency) -> None:
        *labels, latency = labels_and_latency
        self.latency.labels(*labels).observe(latency)
        self.requests.labels(*labels).inc()

    def failed(self, *labels_and_kind: str) -> None:
        self.errors.labels(*labels_and_kind).inc()

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class BoundMetrics:
    """ClientMetrics for one model/protocol/shm: no label lookups per request."""

    def __init__(self, metrics: ClientMetrics, labels: tuple[str, ...]):
        self._metrics, self._labels = metrics, labels
        self._in_flight = metrics.in_flight.labels(*labels)
        self._latency = metrics.latency.labels(*labels)
        self._requests = metrics.requests.labels(*labels)
        self.started = self._in_flight.inc
        self.finished = self._in_flight.dec

    def observe(self, latency_s: float) -> None:
        self._latency.observe(latency_s)
        self._requests.inc()

    def failed(self, kind: str) -> None:
        self._metrics.errors.labels(*self._labels, kind).inc()
