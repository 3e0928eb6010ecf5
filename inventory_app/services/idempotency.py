"""Idempotency keys: the same key and body replays the first response; another body is an error."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from inventory_app.domain.errors import FieldError, IdempotencyKeyReused, ValidationFailed

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Stored:
    """A key's record: the hash of the request that used it first, and the answer it got."""

    request_hash: str
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


def replay_or_refuse(stored: Stored, body_hash: str) -> StoredResponse:
    """The first answer again, for the same body; another body under a used key is the caller's error."""
    if stored.request_hash != body_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body.",
            [FieldError("Idempotency-Key", "was used before with a different body")],
        )
    return StoredResponse(stored.status, stored.body)
