"""Start-up checks and background tasks that live as long as the app process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from starlette.concurrency import run_in_threadpool

from inventory_app import metrics
from inventory_app.adapters.change_feed import ProductChangeFeed
from inventory_app.adapters.db import assert_migrated
from inventory_app.adapters.notification_hub import NotificationHub
from inventory_app.adapters.outbox import OutboxRelay, psycopg_url
from inventory_app.adapters.pg_pool import close_pool, get_pool
from inventory_app.adapters.retention import RetentionSweeper, idempotency_sweep, outbox_sweep
from inventory_app.bootstrap import wiring

log = logging.getLogger("inventory_app")


@asynccontextmanager
async def check_database_migrated() -> AsyncIterator[None]:
    """Refuse to serve on an unmigrated database, with a message saying what to run."""
    await run_in_threadpool(assert_migrated)
    yield


@asynccontextmanager
async def database_pool() -> AsyncIterator[None]:
    """The async connection pool of this worker's event loop: opened at start, closed at shutdown."""
    await get_pool()
    try:
        yield
    finally:
        await close_pool()


@asynccontextmanager
async def outbox_relay() -> AsyncIterator[None]:
    """Publish committed outbox events to Kafka in the background, off the request path."""
    settings = wiring().settings
    if not settings.outbox_relay_enabled:
        yield
        return
    task = asyncio.create_task(OutboxRelay(settings).run_forever(), name="outbox-relay")
    try:
        yield
    finally:
        await _cancel(task, timeout_s=10)


@asynccontextmanager
async def retention() -> AsyncIterator[None]:
    """Delete published outbox rows and expired idempotency keys as fast as they come due."""
    settings = wiring().settings
    sweeper = RetentionSweeper(
        psycopg_url(settings.database_url),
        [outbox_sweep(settings.outbox_retention_s), idempotency_sweep()],
        interval_s=settings.retention_interval_s,
        batch=settings.retention_batch_size,
        on_deleted=lambda table, n: metrics.RETENTION_DELETED.labels(table).inc(n),
    )
    task = asyncio.create_task(sweeper.run_forever(), name="retention")
    try:
        yield
    finally:
        await _cancel(task, timeout_s=5)


@asynccontextmanager
async def commit_notices() -> AsyncIterator[None]:
    """Announce this process's commits to the other processes and the relay, coalesced (commit_notices.py)."""
    task = asyncio.create_task(wiring().commit_notices.run_forever(), name="commit-notices")
    try:
        yield
    finally:
        await _cancel(task, timeout_s=5)


@asynccontextmanager
async def product_change_feed() -> AsyncIterator[None]:
    """Keep this process's read and credential caches in step with commits made anywhere (LISTEN)."""
    parts = wiring()
    feed = ProductChangeFeed(parts.settings, parts.read_cache, parts.credential_cache)
    task = asyncio.create_task(feed.run_forever(), name="product-change-feed")
    try:
        yield
    finally:
        await _cancel(task, timeout_s=5)


@asynccontextmanager
async def notification_hub() -> AsyncIterator[None]:
    """One notifications consumer per process, feeding every open SSE stream."""
    hub = NotificationHub(wiring().settings)
    wiring().hub = hub
    task = asyncio.create_task(hub.run_forever(), name="notification-hub")
    try:
        yield
    finally:
        hub.close()
        await _cancel(task, timeout_s=5)
        wiring().hub = None


async def _cancel(task: asyncio.Task, timeout_s: float) -> None:
    """Stop a background task at shutdown, waiting a bounded time for its clean-up."""
    task.cancel()
    with suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(task, timeout=timeout_s)


def configure_logging() -> None:
    """Reflex leaves Python logging unconfigured: give our loggers a handler so the relay is visible."""
    app_logger = logging.getLogger("inventory_app")
    if not app_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        app_logger.addHandler(handler)
        app_logger.setLevel(wiring().settings.log_level)
        app_logger.propagate = False
