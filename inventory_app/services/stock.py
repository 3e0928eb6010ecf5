"""Stock adjustments: the hot write path, on the async psycopg pool (no ORM, no worker thread).

The rules are the domain's, the same function every other path calls (`domain.changes.adjust`), and the
events the same contract-checked CloudEvents; only the persistence differs from the ORM use cases: one
row lock, then the product update, ledger row, outbox rows and idempotency record sent as one round
trip, all in one transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from inventory_app.adapters import product_store
from inventory_app.adapters.pg_pool import get_pool
from inventory_app.domain import changes
from inventory_app.domain.errors import ProductNotFound
from inventory_app.domain.identity import Principal, Role
from inventory_app.domain.model import validate_adjustment
from inventory_app.services import idempotency
from inventory_app.services.products import Result, movement_to_public, parse_product_id, to_public
from inventory_app.services.read_cache import get_read_cache
from inventory_app.settings import get_settings
from schemas.registry import validate_event

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
        product = await product_store.lock_product(conn, pid)
        if product is None:
            raise ProductNotFound(f"No product with id {pid}.")
        change = changes.adjust(
            product,
            request.delta,
            request.reason,
            request.note,
            now=datetime.now(UTC),
            source=source,
            actor=actor,
        )
        product, movement = change.after, change.movement
        for event in change.events:
            validate_event(event)  # an event outside its contract rolls the whole change back
        after = to_public(product)
        body = {"movement": movement_to_public(movement), "product": after}
        await conn.execute(
            WRITE_SQL,
            {
                "id": pid,
                "quantity": product.quantity,
                "version": product.version,
                "now": product.updated_at,
                "alerted": product.low_stock_alerted,
                "movement_id": movement.id,
                "delta": movement.delta,
                "reason": movement.reason,
                "note": movement.note,
                "events": Jsonb(list(change.events)),
                "actor": Jsonb(actor),
            },
        )
        if idempotency_key is not None:
            ttl_s = settings.idempotency_ttl_s
            await idempotency.remember_on(conn, scope, idempotency_key, body_hash, 201, body, ttl_s)
    get_read_cache().invalidate([pid])
    return Result(201, body)
