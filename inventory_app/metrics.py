"""Prometheus metrics of the app process (outbox relay), served at GET /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

OUTBOX_PENDING = Gauge("outbox_pending_rows", "Outbox rows not yet acknowledged by Kafka", registry=REGISTRY)
OUTBOX_OLDEST_AGE = Gauge(
    "outbox_oldest_pending_age_seconds", "Age of the oldest pending outbox row", registry=REGISTRY
)
OUTBOX_PUBLISHED = Counter(
    "outbox_published_total", "Events acknowledged by Kafka and marked published", registry=REGISTRY
)
OUTBOX_PUBLISH_ERRORS = Counter("outbox_publish_errors_total", "Failed publish attempts (batches)", registry=REGISTRY)
OUTBOX_PUBLISH_LATENCY = Histogram(
    "outbox_publish_latency_seconds",
    "Commit of the change to broker acknowledgement",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
OUTBOX_RELAY_LEADER = Gauge(
    "outbox_relay_leader", "1 while this process's relay holds the publishing lock, 0 on standby", registry=REGISTRY
)
OUTBOX_QUARANTINED = Counter(
    "outbox_quarantined_total", "Outbox rows the broker kept refusing, moved to outbox_quarantine", registry=REGISTRY
)
OUTBOX_RECOVERED = Counter(
    "outbox_recovered_total",
    "Rows a new relay leader marked published from the relay-state topic (committed to Kafka, not yet to PostgreSQL)",
    registry=REGISTRY,
)
RETENTION_DELETED = Counter(
    "retention_deleted_rows_total",
    "Rows deleted by retention (published outbox rows, expired idempotency keys)",
    ["table"],
    registry=REGISTRY,
)
COMMITS_ANNOUNCED = Counter(
    "commit_announcements_total",
    "Commits this process announced after them (product_changes / outbox NOTIFY, adapters/commit_notices.py)",
    registry=REGISTRY,
)
COMMIT_NOTICE_SENDS = Counter(
    "commit_notice_sends_total",
    "NOTIFY transactions that carried them (under load one carries many)",
    registry=REGISTRY,
)
COMMIT_NOTICE_ERRORS = Counter(
    "commit_notice_errors_total", "Sends of commit notices that failed (retried with backoff)", registry=REGISTRY
)
SSE_CLIENTS = Gauge("sse_clients", "Connected notification stream clients", registry=REGISTRY)
SSE_GAPS = Counter("sse_gaps_total", "gap messages sent: a stream that could not be complete", registry=REGISTRY)
