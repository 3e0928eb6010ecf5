"""psycopg 3 async connection pool: every runtime read and write of the app, without threads or the ORM.

One pool per event loop, so one per server worker process (the CLI's and a test's loop get their own),
sized by DATABASE_POOL_SIZE and holding two connections at rest.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable
from typing import TypeVar

import orjson
from psycopg import AsyncConnection
from psycopg.types.json import set_json_dumps
from psycopg_pool import AsyncConnectionPool

from inventory_app.adapters.commit_notices import SESSION_SETTING
from inventory_app.adapters.outbox import KEEPALIVES, psycopg_url
from inventory_app.settings import Settings, get_settings

T = TypeVar("T")

# How long a request waits for a connection before answering 503. Queueing for a free connection under
# load takes milliseconds; waiting longer only makes a client of a stopped database hang.
CHECKOUT_TIMEOUT_S = 3.0
# Checking a connection at checkout costs a round trip, as much as a primary-key read. A connection that came
# back working moments ago is handed out as it is; one idle longer (long enough to span a server restart) is
# checked first. One broken in between fails its request with a 503 and the pool replaces it on return.
CHECK_IDLE_AFTER_S = 1.0
_returned_at: weakref.WeakKeyDictionary[AsyncConnection, float] = weakref.WeakKeyDictionary()
_pools: dict[asyncio.AbstractEventLoop, AsyncConnectionPool] = {}


async def _configure(connection: AsyncConnection) -> None:
    set_json_dumps(orjson.dumps, context=connection)
    _returned(connection)  # just connected: working


def _returned(connection: AsyncConnection) -> None:
    """Note that the connection was working just now (handed back, or just connected)."""
    _returned_at[connection] = time.monotonic()


async def _check_if_idle(connection: AsyncConnection) -> None:
    if time.monotonic() - _returned_at.get(connection, 0.0) >= CHECK_IDLE_AFTER_S:
        await AsyncConnectionPool.check_connection(connection)


class InventoryPool(AsyncConnectionPool):
    """Notes when each connection came back, for `_check_if_idle`.

    In `putconn`, not with the pool's `reset` callback: with a `reset` callback every return goes through
    a queued maintenance task (a pool worker returns it later), which cost CPU per request and kept
    returned connections from the next request for a turn of the event loop.
    """

    async def putconn(self, conn: AsyncConnection) -> None:
        _returned(conn)
        await super().putconn(conn)


def make_pool(settings: Settings, url: str | None = None) -> AsyncConnectionPool:
    return InventoryPool(
        psycopg_url(url or settings.database_url),
        kwargs={
            "connect_timeout": 5,
            # The change triggers stay quiet for these sessions: the unit of work announces its commits
            # itself, after them (commit_notices.py, migration 0010).
            "options": f"-c statement_timeout={settings.database_statement_timeout_ms} -c {SESSION_SETTING}=on",
            # The process's one pool for runtime data access: pg_stat_activity shows it by this name.
            "application_name": "inventory-app",
        },
        min_size=2,
        max_size=settings.database_pool_size,
        open=False,
        configure=_configure,
        # A connection broken by a server restart is found and replaced at checkout, not handed to a request.
        check=_check_if_idle,
        timeout=CHECKOUT_TIMEOUT_S,
        reconnect_timeout=60,
        name="inventory",
    )


async def notice_connection(settings: Settings) -> AsyncConnection:
    """The commit-notice sender's own connection (commit_notices.py): autocommit, one statement per send; a
    notice lost in a server crash is moot (every listener reconnects and starts its cache again), so its
    commits do not wait for the disk."""
    return await AsyncConnection.connect(
        psycopg_url(settings.database_url),
        autocommit=True,
        connect_timeout=5,
        options="-c synchronous_commit=off",
        application_name="inventory-commit-notices",
        **KEEPALIVES,
    )


async def get_pool() -> AsyncConnectionPool:
    """The pool of the running event loop, opened on first use (opening does not wait for the server)."""
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = make_pool(get_settings())
        await pool.open(wait=False)
    return pool


async def close_pool() -> None:
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        await pool.close(timeout=5)


def run_with_pool(coroutine: Awaitable[T]) -> T:
    """Run one coroutine to completion from synchronous code (the CLI, the bench), closing its loop's pool."""

    async def run() -> T:
        try:
            return await coroutine
        finally:
            await close_pool()

    return asyncio.run(run())
