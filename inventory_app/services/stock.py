"""Stock adjustments: the hot write path.

The rule is the domain's (`domain.changes.adjust`, the same function the import calls for a quantity
correction) and the persistence the one unit of work every change goes through: one row lock, then the
product update, ledger row and outbox rows written as one pipelined round trip, in one transaction.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from inventory_app.bootstrap import wiring
from inventory_app.domain import changes
from inventory_app.domain.errors import ProductNotFound
from inventory_app.domain.identity import Principal, Role
from inventory_app.domain.model import validate_adjustment
from inventory_app.domain.views import AdjustmentResult
from inventory_app.services import idempotency
from inventory_app.services.products import Result, movement_to_public, parse_product_id, to_public
from inventory_app.services.unit_of_work import UnitOfWorkFactory


async def adjust_stock(
    product_id: str | uuid.UUID,
    payload: Any,
    *,
    by: Principal,
    idempotency_key: str | None = None,
    uow: UnitOfWorkFactory | None = None,
) -> Result:
    """Apply a stock adjustment: 201 with the ledger row and the product, or a replay of the first answer."""
    by.require(Role.EDITOR)
    request = validate_adjustment(payload)
    pid = parse_product_id(product_id)
    # Keys are the caller's own: another user's identical key never replays this user's answer.
    scope = f"adjust_stock:{by.user_id or 'system'}:{pid}"
    body_hash = idempotency.request_hash(payload) if idempotency_key is not None else ""
    async with (uow or wiring().unit_of_work)(by.actor) as unit:
        if idempotency_key is not None:
            stored = await unit.replay(scope, idempotency_key, body_hash)
            if stored is not None:
                return Result(stored.status, stored.body, replayed=True)
        # The row lock serialises concurrent adjustments: no lost update, one ledger row each.
        product = await unit.lock(pid)
        if product is None:
            raise ProductNotFound(f"No product with id {pid}.")
        change = changes.adjust(
            product,
            request.delta,
            request.reason,
            request.note,
            now=datetime.now(UTC),
            source=wiring().settings.event_source,
            actor=by.actor.to_json(),
        )
        await unit.record(change)
        body: AdjustmentResult = {"movement": movement_to_public(change.movement), "product": to_public(change.after)}
        if idempotency_key is not None:
            await unit.remember(scope, idempotency_key, body_hash, 201, body)
    return Result(201, body)
