"""PostgreSQL LISTEN on `product_changes` (migration 0003) and `credential_changes` (0004): tells this
process's read cache what changed, and its credential cache that a session, token or user did."""

from __future__ import annotations

import asyncio
import logging

import psycopg

from inventory_app.adapters.outbox import KEEPALIVES, heartbeat, psycopg_url
from inventory_app.backoff import backoff_delay
from inventory_app.services.credential_cache import CredentialCache
from inventory_app.services.read_cache import ReadCache
from inventory_app.settings import Settings

log = logging.getLogger("inventory_app.change_feed")
CHANNEL = "product_changes"
CREDENTIALS_CHANNEL = "credential_changes"
# A silent feed is checked this often: a dead connection would otherwise leave the cache on while it
# misses other processes' changes.
HEARTBEAT_S = 10.0


class ProductChangeFeed:
    def __init__(
        self,
        settings: Settings,
        cache: ReadCache,
        credentials: CredentialCache | None = None,
        *,
        application_name: str = "inventory-change-feed",
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self.url = psycopg_url(settings.database_url)
        self.application_name = application_name
        self.heartbeat_s = heartbeat_s
        self.cache = cache
        self.credentials = credentials

    async def run_forever(self) -> None:
        """Listen until cancelled. While disconnected the cache is off, so a missed change is never served."""
        failures = 0
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                self._deactivate()
                raise
            except (psycopg.Error, OSError, TimeoutError) as error:
                self._deactivate()
                failures += 1
                delay = backoff_delay(failures, 0.2, 5.0)
                log.warning("product change feed down (%s); read cache off; retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self.url, autocommit=True, connect_timeout=5, application_name=self.application_name, **KEEPALIVES
        ) as conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            await conn.execute(f"LISTEN {CREDENTIALS_CHANNEL}")
            self.cache.activate()
            if self.credentials is not None:
                self.credentials.activate()
            log.info("read cache on: listening for product and credential changes")
            while True:
                quiet = True
                async for notify in conn.notifies(timeout=self.heartbeat_s):
                    quiet = False
                    self._apply(notify)
                if quiet:
                    await heartbeat(conn)

    def _apply(self, notify: psycopg.Notify) -> None:
        if notify.channel == CREDENTIALS_CHANNEL:
            if self.credentials is not None:
                self.credentials.clear()
        elif notify.payload == "":  # TRUNCATE, or an announcement that everything changed
            self.cache.activate()
        else:  # a trigger's one product id, or an app process's announcement of several (commit_notices.py)
            self.cache.invalidate(notify.payload.split(","))

    def _deactivate(self) -> None:
        self.cache.deactivate()
        if self.credentials is not None:
            self.credentials.deactivate()
