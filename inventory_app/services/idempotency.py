"""Idempotency keys: the same key and body replays the first response; another body is an error."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from sqlalchemy import text
from sqlalchemy.orm import Session

from inventory_app.adapters.orm import IdempotencyKey
from inventory_app.domain.errors import FieldError, IdempotencyKeyReused, ValidationFailed

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


def request_hash(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            "Invalid Idempotency-Key header.",
            [FieldError("Idempotency-Key", f"must be 1-{MAX_KEY_LENGTH} printable characters")],
        )


def lookup(session: Session, scope: str, key: str, body_hash: str) -> StoredResponse | None:
    """Serialise requests with the same key (advisory lock until commit) and return a replay if any."""
    check_key(key)
    # "\n" cannot occur in a (printable) key; a NUL separator is refused by PostgreSQL text.
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"{scope}\n{key}"})
    row = session.get(IdempotencyKey, (scope, key))
    if row is None:
        return None
    if row.expires_at <= datetime.now(UTC):
        session.delete(row)
        session.flush()
        return None
    return _replay(row.request_hash, body_hash, row.response_status, row.response_body)


def _replay(stored_hash: str, body_hash: str, status: int, body: dict[str, Any]) -> StoredResponse:
    if stored_hash != body_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body.",
            [FieldError("Idempotency-Key", "was used before with a different body")],
        )
    return StoredResponse(status, body)


def remember(
    session: Session, scope: str, key: str, body_hash: str, status: int, body: dict[str, Any], ttl_s: int
) -> None:
    now = datetime.now(UTC)
    session.add(
        IdempotencyKey(
            scope=scope,
            key=key,
            request_hash=body_hash,
            response_status=status,
            response_body=body,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
    )


# -- the same, for use cases on a psycopg connection (the async write path) --------------------------
LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
READ_SQL = (
    "SELECT request_hash, response_status, response_body, expires_at FROM idempotency_key WHERE scope = %s AND key = %s"
)
DELETE_SQL = "DELETE FROM idempotency_key WHERE scope = %s AND key = %s"
INSERT_SQL = (
    "INSERT INTO idempotency_key (scope, key, request_hash, response_status, response_body, created_at, expires_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


async def lookup_on(conn: AsyncConnection, scope: str, key: str, body_hash: str) -> StoredResponse | None:
    """`lookup` on a psycopg connection inside the caller's transaction."""
    check_key(key)
    await conn.execute(LOCK_SQL, (f"{scope}\n{key}",))
    row = await (await conn.execute(READ_SQL, (scope, key))).fetchone()
    if row is None:
        return None
    stored_hash, status, body, expires_at = row
    if expires_at <= datetime.now(UTC):
        await conn.execute(DELETE_SQL, (scope, key))
        return None
    return _replay(stored_hash, body_hash, status, body)


async def remember_on(
    conn: AsyncConnection, scope: str, key: str, body_hash: str, status: int, body: dict[str, Any], ttl_s: int
) -> None:
    now = datetime.now(UTC)
    await conn.execute(INSERT_SQL, (scope, key, body_hash, status, Jsonb(body), now, now + timedelta(seconds=ttl_s)))
