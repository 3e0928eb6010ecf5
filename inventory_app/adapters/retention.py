"""Retention: delete rows whose job is done, as fast as they arrive.

- the app sweeps outbox rows published more than `OUTBOX_RETENTION_S` ago and idempotency keys past expiry;
- the analytics worker sweeps its processed-event records older than `ANALYTICS_DEDUP_RETENTION_S`.

Each sweep deletes by its index (`published_at`, `expires_at`, `processed_at`) in batches of
`RETENTION_BATCH_SIZE` and goes again at once while a batch comes back full, so deleting keeps pace with any
write rate the database can take; only a short batch lets it sleep `RETENTION_INTERVAL_S`. The old fixed
5,000 rows every 30 s (167 rows/s) fell behind writes of a few hundred a second.

It runs on a connection of its own for each round, never the relay's publishing one: a long delete must not
hold up a publish.
Every app worker runs a sweeper; `FOR UPDATE SKIP LOCKED` lets them share the work instead of queueing on
each other's rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from inventory_app.backoff import Backoff

log = logging.getLogger("inventory_app.retention")

MAX_BACKOFF_S = 30.0


@dataclass(frozen=True)
class Sweep:
    """One table's rule: `sql` deletes at most `%(limit)s` rows whose time is up and returns nothing."""

    table: str
    sql: str
    params: dict[str, Any]


def outbox_sweep(keep_s: int) -> Sweep:
    return Sweep(
        "outbox",
        """DELETE FROM outbox WHERE id IN (
               SELECT id FROM outbox
               WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => %(keep)s)
               ORDER BY published_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)""",
        {"keep": keep_s},
    )


def idempotency_sweep() -> Sweep:
    return Sweep(
        "idempotency_key",
        """DELETE FROM idempotency_key WHERE ctid IN (
               SELECT ctid FROM idempotency_key WHERE expires_at < now()
               ORDER BY expires_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)""",
        {},
    )


def processed_event_sweep(keep_s: int) -> Sweep:
    return Sweep(
        "analytics_processed_event",
        """DELETE FROM analytics_processed_event WHERE event_id IN (
               SELECT event_id FROM analytics_processed_event
               WHERE processed_at < now() - make_interval(secs => %(keep)s)
               ORDER BY processed_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)""",
        {"keep": keep_s},
    )


async def sweep_until_short(conn: psycopg.AsyncConnection, sweep: Sweep, batch: int) -> int:
    """Delete in batches until one comes back short; each batch is its own short transaction."""
    total = 0
    while True:
        async with conn.transaction():
            cursor = await conn.execute(sweep.sql, {**sweep.params, "limit": batch})
        total += cursor.rowcount
        if cursor.rowcount < batch:
            return total
        await asyncio.sleep(0)  # let the rest of the process run between batches


class RetentionSweeper:
    def __init__(
        self,
        url: str,
        sweeps: list[Sweep],
        *,
        interval_s: float,
        batch: int,
        on_deleted: Callable[[str, int], None] | None = None,
        application_name: str = "inventory-retention",
    ) -> None:
        self.url, self.sweeps, self.interval_s, self.batch = url, sweeps, interval_s, batch
        self.on_deleted = on_deleted
        self.application_name = application_name

    async def run_forever(self) -> None:
        """Sweep every table, sleep while nothing is due; a database outage only delays deletion."""
        backoff = Backoff(1.0, MAX_BACKOFF_S)
        while True:
            try:
                await self.sweep_all()
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError) as error:
                delay = backoff.next_delay()
                log.warning("retention sweep failed: %s; retrying in %.1fs", str(error).splitlines()[0], delay)
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            await asyncio.sleep(self.interval_s)

    async def sweep_all(self) -> None:
        # A connection per round, not one held for ever: an idle app holds no connection for retention.
        async with await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=5, application_name=self.application_name
        ) as conn:
            for sweep in self.sweeps:
                deleted = await sweep_until_short(conn, sweep, self.batch)
                if deleted:
                    log.debug("retention deleted %d rows from %s", deleted, sweep.table)
                    if self.on_deleted is not None:
                        self.on_deleted(sweep.table, deleted)
