"""The pool checks a connection at checkout only when it has been idle: a round trip saved per request."""

from __future__ import annotations

import asyncio

import pytest

from inventory_app.adapters import pg_pool


class Connection:
    """What AsyncConnectionPool.check_connection touches: autocommit and execute."""

    autocommit = True

    def __init__(self) -> None:
        self.executed: list[str] = []

    async def execute(self, query: str) -> None:
        self.executed.append(query)


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(pg_pool.time, "monotonic", lambda: now[0])
    return now


def test_a_connection_returned_moments_ago_is_handed_out_unchecked(clock: list[float]) -> None:
    connection = Connection()
    pg_pool._returned(connection)  # type: ignore[arg-type]
    clock[0] += pg_pool.CHECK_IDLE_AFTER_S / 2
    asyncio.run(pg_pool._check_if_idle(connection))  # type: ignore[arg-type]
    assert connection.executed == []


def test_a_connection_idle_longer_is_checked_first(clock: list[float]) -> None:
    connection = Connection()
    pg_pool._returned(connection)  # type: ignore[arg-type]
    clock[0] += pg_pool.CHECK_IDLE_AFTER_S
    asyncio.run(pg_pool._check_if_idle(connection))  # type: ignore[arg-type]
    assert connection.executed == [""]


def test_a_connection_never_seen_is_checked(clock: list[float]) -> None:
    connection = Connection()
    asyncio.run(pg_pool._check_if_idle(connection))  # type: ignore[arg-type]
    assert connection.executed == [""]


def test_a_failed_check_raises_so_the_pool_replaces_the_connection(clock: list[float]) -> None:
    class Broken(Connection):
        async def execute(self, query: str) -> None:
            raise OSError("server closed the connection")

    with pytest.raises(OSError):
        asyncio.run(pg_pool._check_if_idle(Broken()))  # type: ignore[arg-type]


def test_the_pool_notes_each_return_itself_so_the_next_checkout_skips_the_check(
    clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    returned: list[object] = []

    async def putconn(self: object, connection: object) -> None:  # the pool's own return, not under test
        returned.append(connection)

    monkeypatch.setattr(pg_pool.AsyncConnectionPool, "putconn", putconn)
    pool = pg_pool.InventoryPool.__new__(pg_pool.InventoryPool)  # no server: only putconn is called
    connection = Connection()
    asyncio.run(pool.putconn(connection))  # type: ignore[arg-type]
    assert returned == [connection]
    asyncio.run(pg_pool._check_if_idle(connection))  # type: ignore[arg-type]
    assert connection.executed == []
