"""The unit of work: one transaction per use case, recording each change with its outbox events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from inventory_app.adapters import product_store
from inventory_app.adapters.pg_pool import get_pool
from inventory_app.domain.changes import Change
from inventory_app.domain.identity import Actor
from inventory_app.services.read_cache import get_read_cache
from schemas.registry import validate_event


class AsyncUnitOfWork:
    """One transaction on a pooled psycopg connection, acting for `actor`; `record` stages a domain change."""

    def __init__(self, conn: AsyncConnection, actor: Actor) -> None:
        self.conn = conn
        self.actor = actor
        self.changed: set[str] = set()

    async def record(self, *changes: Change) -> None:
        """Validate the changes' events against the contract, then write their rows and outbox rows.

        An event that leaves its schema raises before anything is written, and the transaction rolls
        back: a row never commits without its event, nor an event without its row.
        """
        for change in changes:
            for event in change.events:
                validate_event(event)
        await product_store.write_changes(self.conn, list(changes), self.actor.to_json())
        self.changed.update(event["subject"] for change in changes for event in change.events)


@asynccontextmanager
async def async_unit_of_work(actor: Actor, pool: AsyncConnectionPool | None = None) -> AsyncIterator[AsyncUnitOfWork]:
    """Begin; the caller locks, applies a domain change and records it; commit; then invalidate the caches."""
    async with (pool or await get_pool()).connection() as conn, conn.transaction():
        unit = AsyncUnitOfWork(conn, actor)
        yield unit
    if unit.changed:
        get_read_cache().invalidate(unit.changed)
