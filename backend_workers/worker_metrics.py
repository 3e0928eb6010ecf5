"""A worker's Prometheus metrics (processed, dead-lettered, retries, lag), served on its own port."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from backend_workers.logs import fields

log = logging.getLogger("backend_workers.consumer")


@dataclass
class WorkerMetrics:
    name: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.processed = Counter("worker_events_processed_total", "Events handled", registry=self.registry)
        self.failed = Counter(
            "worker_events_failed_total", "Events sent to the dead-letter topic", registry=self.registry
        )
        self.retries = Counter("worker_retries_total", "Handler retries", registry=self.registry)
        # Event types this worker does not know (a newer producer's addition): skipped, never dead-lettered.
        self.ignored = Counter(
            "worker_events_ignored_total", "Events of unknown types, skipped", ["event_type"], registry=self.registry
        )
        self.lag = Gauge(
            "worker_consumer_lag", "Messages behind the end of the assigned partitions", registry=self.registry
        )
        self.processed_count = 0
        self.failed_count = 0
        self.ignored_count = 0

    def count_processed(self, n: int) -> None:
        self.processed.inc(n)
        self.processed_count += n

    def count_ignored(self, event_type: str) -> None:
        self.ignored.labels(event_type[:100]).inc()
        self.ignored_count += 1

    def count_failed(self) -> None:
        self.failed.inc()
        self.failed_count += 1

    def serve(self, port: int) -> None:
        if port <= 0:
            return
        try:
            start_http_server(port, addr="127.0.0.1", registry=self.registry)
        except OSError as error:  # a second process of the same worker on one host
            log.warning("metrics port in use; metrics only in the log", extra=fields(port=port, error=str(error)))
