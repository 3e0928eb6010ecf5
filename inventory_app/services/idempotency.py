"""Idempotency keys: the same key and body replays the first response; another body is an error."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
    if row.request_hash != body_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body.",
            [FieldError("Idempotency-Key", "was used before with a different body")],
        )
    return StoredResponse(row.response_status, row.response_body)


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
