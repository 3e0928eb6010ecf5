"""A burst of requests with one credential shares one lookup, and a failed lookup fails them all."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from inventory_app.domain.identity import Principal, Role
from inventory_app.services import credentials, identity

PRINCIPAL = Principal(user_id=None, email="burst@tests.invalid", name="", role=Role.VIEWER, via="token")


def test_a_thousand_requests_with_one_expired_cache_entry_make_one_database_lookup() -> None:
    calls = 0

    async def slow_check(secret: str) -> identity.Checked:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return identity.Checked(PRINCIPAL, datetime.now(UTC) + timedelta(hours=1))

    async def burst() -> list[Principal | None]:
        return await asyncio.gather(*(credentials._cached("t:burst", slow_check, "burst") for _ in range(1000)))

    answers = asyncio.run(burst())
    assert calls == 1
    assert answers == [PRINCIPAL] * 1000


def test_when_the_shared_lookup_fails_every_waiter_sees_the_failure_and_the_next_one_retries() -> None:
    calls = 0

    async def failing_check(secret: str) -> identity.Checked:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise ConnectionError("database unavailable")

    async def burst() -> list[object]:
        return await asyncio.gather(
            *(credentials._cached("t:down", failing_check, "down") for _ in range(50)), return_exceptions=True
        )

    assert all(isinstance(answer, ConnectionError) for answer in asyncio.run(burst()))
    assert calls == 1
    with pytest.raises(ConnectionError):
        asyncio.run(credentials._cached("t:down", failing_check, "down"))
    assert calls == 2
