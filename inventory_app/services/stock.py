"""Stock adjustments: the hot write path, on the async psycopg pool (no ORM, no worker thread).

The rules are the domain's (`validate_adjustment`, `quantity_after`, the low-stock alert state) and the
events the same contract-checked CloudEvents as everywhere else; only the persistence differs from the
ORM use cases: one row lock, then the product update, ledger row, outbox rows and idempotency record
sent as one pipelined round trip, all in one transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from inventory_app.adapters.pg_pool import get_pool
from inventory_app.domain import events
from inventory_app.domain.errors import ProductNotFound
from inventory_app.domain.identity import Principal, Role
from inventory_app.domain.model import (
    CREATE_FIELDS,
    alert_state_after,
    low_stock_warning_due,
    quantity_after,
    validate_adjustment,
)
from inventory_app.services import idempotency
from inventory_app.services.products import Result, movement_to_public, parse_product_id, to_public
from inventory_app.services.read_cache import get_read_cache
from inventory_app.settings import get_settings
from schemas.registry import validate_event

LOCK_PRODUCT_SQL = """
SELECT id, sku, name, description, category, price, quantity, low_stock_threshold, low_stock_alerted,
       version, created_at, updated_at
FROM product WHERE id = %s FOR UPDATE
"""
# Everything the adjustment writes, as one statement: one round trip, and the outbox trigger fires once.
# The events go in their list order, so the outbox ids (the relay's publishing order) follow it.
WRITE_SQL = """
WITH updated AS (
    UPDATE product SET quantity = %(quantity)s, version = %(version)s, updated_at = %(now)s,
                       low_stock_alerted = %(alerted)s
    WHERE id = %(id)s
), movement AS (
    INSERT INTO stock_movement (id, product_id, delta, reason, note, quantity_after, created_at, actor)
    VALUES (%(movement_id)s, %(id)s, %(delta)s, %(reason)s, %(note)s, %(quantity)s, %(now)s, %(actor)s)
), events AS (
    INSERT INTO outbox (event_id, aggregate_id, event_type, payload, actor)
    SELECT (e.event ->> 'id')::uuid, %(id)s, e.event ->> 'type', e.event, %(actor)s
    FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS e(event, n)
    ORDER BY e.n
)
SELECT 1
"""


@dataclass
class ProductRow:
    """The locked product as read; `to_public` reads the same attributes as on the ORM entity."""

    id: uuid.UUID
    sku: str
    name: str
    description: str
    category: str
    price: Decimal
    quantity: int
    low_stock_threshold: int
    low_stock_alerted: bool
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MovementRow:
    id: uuid.UUID
    product_id: uuid.UUID
    delta: int
    reason: str
    note: str | None
    quantity_after: int
    created_at: datetime
    actor: dict[str, Any] | None


async def adjust_stock(
    product_id: str | uuid.UUID,
    payload: Any,
    *,
    by: Principal,
    idempotency_key: str | None = None,
    pool: AsyncConnectionPool | None = None,
) -> Result:
    """Apply a stock adjustment: 201 with the ledger row and the product, or a replay of the first answer."""
    by.require(Role.EDITOR)
    actor = by.actor.to_json()
    settings = get_settings()
    source = settings.event_source
    request = validate_adjustment(payload)
    pid = parse_product_id(product_id)
    # Keys are the caller's own: another user's identical key never replays this user's answer.
    scope = f"adjust_stock:{by.user_id or 'system'}:{pid}"
    body_hash = idempotency.request_hash(payload) if idempotency_key is not None else ""
    pool = pool or await get_pool()
    async with pool.connection() as conn, conn.transaction():
        if idempotency_key is not None:
            stored = await idempotency.lookup_on(conn, scope, idempotency_key, body_hash)
            if stored is not None:
                return Result(stored.status, stored.body, replayed=True)
        # The row lock serialises concurrent adjustments: no lost update, one ledger row each.
        row = await (await conn.execute(LOCK_PRODUCT_SQL, (pid,))).fetchone()
        if row is None:
            raise ProductNotFound(f"No product with id {pid}.")
        product = ProductRow(*row)
        before = to_public(product)
        now = datetime.now(UTC)
        movement = MovementRow(
            uuid.uuid4(), pid, request.delta, request.reason, request.note,
            quantity_after(product.quantity, request.delta), now, actor,
        )  # fmt: skip
        was_alerted = product.low_stock_alerted
        product.quantity = movement.quantity_after
        product.version += 1
        product.updated_at = now
        product.low_stock_alerted = alert_state_after(
            quantity=product.quantity, low_stock_threshold=product.low_stock_threshold
        )
        after = to_public(product)
        reason = events.stock_adjustment_reason(str(movement.id), request.reason, request.delta)
        new_events = [events.product_updated(after, events.diff(before, after, CREATE_FIELDS), reason, source=source)]
        if low_stock_warning_due(
            was_alerted=was_alerted, quantity=product.quantity, low_stock_threshold=product.low_stock_threshold
        ):
            new_events.append(events.low_stock_warning(after, new_events[0]["id"], source=source))
        for event in new_events:
            validate_event(event)  # an event outside its contract rolls the whole change back
        body = {"movement": movement_to_public(movement), "product": after}
        await conn.execute(
            WRITE_SQL,
            {
                "id": pid,
                "quantity": product.quantity,
                "version": product.version,
                "now": now,
                "alerted": product.low_stock_alerted,
                "movement_id": movement.id,
                "delta": movement.delta,
                "reason": movement.reason,
                "note": movement.note,
                "events": Jsonb(new_events),
                "actor": Jsonb(actor),
            },
        )
        if idempotency_key is not None:
            ttl_s = settings.idempotency_ttl_s
            await idempotency.remember_on(conn, scope, idempotency_key, body_hash, 201, body, ttl_s)
    get_read_cache().invalidate([pid])
    return Result(201, body)
