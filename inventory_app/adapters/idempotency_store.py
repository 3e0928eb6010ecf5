"""Idempotency keys in PostgreSQL: the stored first answer to a key, read and written in the use case's
transaction (the rules about keys are `services/idempotency.py`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from inventory_app.services.idempotency import Stored

LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
READ_SQL = (
    "SELECT request_hash, response_status, response_body, expires_at FROM idempotency_key WHERE scope = %s AND key = %s"
)
DELETE_SQL = "DELETE FROM idempotency_key WHERE scope = %s AND key = %s"
INSERT_SQL = (
    "INSERT INTO idempotency_key (scope, key, request_hash, response_status, response_body, created_at, expires_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


async def lock_and_read(conn: AsyncConnection, scope: str, key: str) -> Stored | None:
    """Serialise requests with the same key (an advisory lock until commit), then read its live record."""
    # "\n" cannot occur in a (printable) key; a NUL separator is refused by PostgreSQL text.
    await conn.execute(LOCK_SQL, (f"{scope}\n{key}",))
    row = await (await conn.execute(READ_SQL, (scope, key))).fetchone()
    if row is None:
        return None
    request_hash, status, body, expires_at = row
    if expires_at <= datetime.now(UTC):
        await conn.execute(DELETE_SQL, (scope, key))  # expired: the key is new again
        return None
    return Stored(request_hash, status, body)


async def insert(
    conn: AsyncConnection, scope: str, key: str, body_hash: str, status: int, body: dict[str, Any], ttl_s: int
) -> None:
    now = datetime.now(UTC)
    await conn.execute(INSERT_SQL, (scope, key, body_hash, status, Jsonb(body), now, now + timedelta(seconds=ttl_s)))
