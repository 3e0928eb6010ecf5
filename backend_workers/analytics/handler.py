"""The analytics worker's handler: one PostgreSQL transaction per event; outages hold the offsets."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from backend_workers.analytics.aggregates import apply_event
from backend_workers.consumed import ConsumedEvent, DependencyUnavailable
from inventory_app.adapters.outbox import psycopg_url
from inventory_app.settings import Settings


class AnalyticsHandler:
    def __init__(self, settings: Settings) -> None:
        self.url = psycopg_url(settings.database_url)
        self.conn: psycopg.AsyncConnection | None = None
        self.applied = 0
        self.duplicates = 0

    async def _connection(self) -> psycopg.AsyncConnection:
        if self.conn is None or self.conn.closed:
            self.conn = await psycopg.AsyncConnection.connect(self.url, connect_timeout=5)
        return self.conn

    async def handle(self, item: ConsumedEvent) -> None:
        try:
            conn = await self._connection()
            applied = await apply_event(conn, item.event)
        except psycopg.OperationalError as error:
            if self.conn is not None:
                await self.conn.close()
            self.conn = None
            raise DependencyUnavailable(str(error)) from error
        if applied:
            self.applied += 1
        else:
            self.duplicates += 1

    async def handle_batch(self, items: Sequence[ConsumedEvent]) -> None:
        """One transaction per event (an aggregate row is hot): a batch is its events in order."""
        for item in items:
            await self.handle(item)

    async def flush(self, batch: Sequence[ConsumedEvent]) -> None:
        """Each event commits on its own, so there is nothing left to flush."""

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()
