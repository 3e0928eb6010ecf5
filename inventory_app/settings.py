"""One typed settings object: every environment variable the app and workers read."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Defaults point at the native local stack started by `python -m devstack up`."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # PostgreSQL (psycopg 3 driver for SQLAlchemy)
    database_url: str = "postgresql+psycopg://inventory:inventory@127.0.0.1:55432/inventory"
    database_pool_size: int = Field(default=10, ge=1)
    database_statement_timeout_ms: int = Field(default=15_000, ge=100)

    # Kafka
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_product_events: str = "inventory.product-events"
    kafka_topic_notifications: str = "inventory.notifications"
    kafka_topic_dead_letters: str = "inventory.dead-letters"
    kafka_topic_partitions: int = Field(default=6, ge=1)
    kafka_request_timeout_ms: int = Field(default=10_000, ge=100)

    # AWS-compatible endpoints (moto server locally, DynamoDB Local / MinIO in compose)
    aws_region: str = "us-east-1"
    aws_access_key_id: str = "local"
    aws_secret_access_key: str = "local"
    dynamodb_endpoint_url: str | None = "http://127.0.0.1:5005"
    s3_endpoint_url: str | None = "http://127.0.0.1:5005"
    dynamodb_events_table: str = "inventory-events"
    s3_archive_bucket: str = "inventory-event-archive"
    event_retention_days: int = Field(default=30, ge=1)

    # Outbox relay
    outbox_relay_enabled: bool = True
    outbox_batch_size: int = Field(default=500, ge=1, le=5000)  # one Kafka transaction each
    outbox_poll_interval_s: float = Field(default=1.0, gt=0)
    outbox_retention_s: int = Field(default=3600, ge=0)
    # Retention (adapters/retention.py): a sweep deletes in batches of this size and goes again at once
    # while batches come back full; it sleeps this interval only when nothing more is due.
    retention_batch_size: int = Field(default=5000, ge=100, le=100_000)
    retention_interval_s: float = Field(default=5.0, gt=0, le=3600)
    # A row the broker refuses this many times in a row is moved to outbox_quarantine (with the reason), so
    # the events behind it keep flowing.
    outbox_max_publish_attempts: int = Field(default=5, ge=1, le=100)
    # Test-only: hold a batch right after Kafka committed it and before PostgreSQL does, so a test can kill
    # the relay in the window the relay-state record exists for. Never set it in production.
    outbox_test_pause_after_kafka_commit_s: float = Field(default=0.0, ge=0, le=60)
    # Test-only: hold a batch's open Kafka transaction before committing it (to race a new leader against it).
    outbox_test_pause_before_kafka_commit_s: float = Field(default=0.0, ge=0, le=60)
    producer_ready_attempts: int = Field(default=10, ge=1)

    # Notifier
    notifier_group_id: str = "inventory-notifier"
    notifier_dynamodb_connect_attempts: int = Field(default=5, ge=1)
    notifier_archive_batch_size: int = Field(default=500, ge=1)
    notifier_archive_interval_s: float = Field(default=5.0, gt=0)
    notifier_metrics_port: int = 9310
    # At start, refill the event table and archive from the product-events topic when the table was
    # missing (moto keeps nothing across a restart) or was never rebuilt since it was created.
    notifier_rebuild_on_start: bool = True
    # A rebuild gives up when it reads nothing new from the broker for this long.
    notifier_rebuild_stall_timeout_s: float = Field(default=60.0, gt=0)

    # Analytics
    analytics_group_id: str = "inventory-analytics"
    analytics_metrics_port: int = 9311
    # How long the analytics worker remembers an event id to drop a redelivery (a replay of dead letters
    # must come within it). Redeliveries come within minutes; the default leaves a week.
    analytics_dedup_retention_s: int = Field(default=7 * 86_400, ge=3600)

    # Consumers (shared loop)
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_backoff_initial_s: float = Field(default=0.2, gt=0)
    consumer_backoff_max_s: float = Field(default=10.0, gt=0)
    # How fast a crashed worker's partitions move to the survivors (Kafka's floor is 6 s).
    consumer_session_timeout_ms: int = Field(default=10_000, ge=6_000)

    # Web app
    app_port: int = 3000
    # The address the server binds: loopback by default; 0.0.0.0 (or an interface's address) to serve
    # a network, behind TLS (compose puts Caddy in front).
    app_host: str = "127.0.0.1"
    # Server limits (inventory_app.serve): pending connections, and requests in flight per worker; every
    # open SSE stream is one request in flight.
    server_backlog: int = Field(default=4096, ge=128)
    server_max_concurrent_requests: int = Field(default=4096, ge=64)
    app_public_url: str = "http://127.0.0.1:3000"
    idempotency_ttl_s: int = Field(default=86_400, ge=60)
    # A CSV export waits at most this long for a client to take each 64 kB chunk, then gives up.
    export_send_timeout_s: float = Field(default=60.0, gt=0)
    # The largest CSV an import accepts (REST and UI), counted on the bytes as they arrive.
    import_max_bytes: int = Field(default=20_000_000, ge=1024)
    # Per process: the read cache's bytes (product reads and list pages; least recently used go first).
    read_cache_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)
    # Off answers every product read from PostgreSQL (X-Cache: miss): the bench's uncached runs, or a diagnosis.
    read_cache_enabled: bool = True
    readiness_timeout_s: float = Field(default=2.0, gt=0)
    sse_ping_interval_s: float = Field(default=15.0, gt=0)
    # Newest notices each app process keeps: what a reconnecting client can be replayed, and how far
    # a slow client may fall behind before it is told to reload (a `gap`).
    notice_window_size: int = Field(default=10_000, ge=10)
    # Open notification streams per user (sessions) or per API token: one tab holds one stream, so this is
    # generous for people and stops one credential from holding a process's connections.
    sse_max_streams_per_user: int = Field(default=20, ge=1)
    event_source: str = "/inventory-service"

    # Identity and access
    # Origins whose pages may make cookie-authenticated writes and sign in (comma-separated; CORS uses
    # the same list). Empty: the app's public URL plus http://localhost:PORT and http://127.0.0.1:PORT.
    app_allowed_origins: str = ""
    session_idle_timeout_s: int = Field(default=2 * 3600, ge=60)
    session_max_age_s: int = Field(default=12 * 3600, ge=60)
    # None: Secure cookies when app_public_url is https.
    session_cookie_secure: bool | None = None
    signin_failure_window_s: int = Field(default=900, ge=1)
    signin_max_failures_per_account: int = Field(default=5, ge=1)
    signin_max_failures_per_address: int = Field(default=50, ge=1)
    # How long a process trusts a credential it checked without asking PostgreSQL again; a revocation
    # reaches every process at once through LISTEN credential_changes, this bounds the rest.
    credential_cache_ttl_s: float = Field(default=30.0, ge=0)
    # How long a commit's announcement may wait for other writes running in the same process to join its NOTIFY
    # (adapters/commit_notices.py): fewer NOTIFYs under load, at most this much later; 0 sends each at once.
    commit_notice_interval_s: float = Field(default=0.05, ge=0, le=0.5)

    # Benchmarks only: mounts GET /bench/constant, the stack's ceiling (a constant JSON body).
    bench_routes_enabled: bool = False

    log_level: str = "INFO"


def allowed_origins(settings: Settings) -> list[str]:
    configured = [o.strip().rstrip("/") for o in settings.app_allowed_origins.split(",") if o.strip()]
    if configured:
        return configured
    origins = [settings.app_public_url.rstrip("/")]
    origins += [f"http://localhost:{settings.app_port}", f"http://127.0.0.1:{settings.app_port}"]
    return list(dict.fromkeys(origins))


def cookie_secure(settings: Settings) -> bool:
    if settings.session_cookie_secure is not None:
        return settings.session_cookie_secure
    return settings.app_public_url.startswith("https://")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
