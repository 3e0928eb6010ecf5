"""The change rules, once: what a command does to a product, as pure functions.

Each function takes a product's state (an immutable snapshot) and a command, and returns the new state,
the ledger row if stock moved, and the events — ProductUpdated then LowStockWarning on a crossing, the
version bump, the alert flag, one clock reading per change. Every entry point (REST, the UI's handlers,
the CSV import, the async stock path) reaches these through the services, which only load, call one of
them and persist the result; so the paths cannot drift apart (tests/integration/test_paths_agree.py).
Uniqueness (a SKU) and existence are the database's to answer and stay in the services.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from inventory_app.domain import events
from inventory_app.domain.model import (
    CREATE_FIELDS,
    EDITABLE_FIELDS,
    alert_state_after,
    format_price,
    is_low,
    low_stock_warning_due,
    quantity_after,
)
from inventory_app.domain.views import ProductView


@dataclass(frozen=True)
class ProductState:
    """A product as stored. The one list of its columns: every SELECT and write of `product_store` maps onto
    it, so a new column is added here once (`PRODUCT_COLUMNS`) or not at all."""

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


PRODUCT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ProductState))


@dataclass(frozen=True)
class Movement:
    """One ledger row: stock moved by `delta`, leaving `quantity_after`."""

    id: uuid.UUID
    product_id: uuid.UUID
    delta: int
    reason: str
    note: str | None
    quantity_after: int
    created_at: datetime
    actor: dict[str, Any] | None


@dataclass(frozen=True)
class Change:
    """The outcome of one command: `after` is None for a delete; no events means nothing changed."""

    before: ProductState | None
    after: ProductState | None
    events: tuple[dict[str, Any], ...] = ()
    movement: Movement | None = None

    @property
    def changed(self) -> bool:
        return bool(self.events)


def public(product: Any) -> ProductView:
    """The product as the API and the events show it (ProductPublic)."""
    return {
        "id": str(product.id),
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "category": product.category,
        "price": format_price(product.price),
        "quantity": product.quantity,
        "low_stock_threshold": product.low_stock_threshold,
        "low_stock": is_low(product.quantity, product.low_stock_threshold),
        "version": product.version,
        "created_at": events.rfc3339(product.created_at),
        "updated_at": events.rfc3339(product.updated_at),
    }


def create(product_id: uuid.UUID, values: dict[str, Any], *, now: datetime, source: str) -> Change:
    """A new product at version 1 from validated fields, and its ProductCreated."""
    state = ProductState(
        id=product_id,
        version=1,
        created_at=now,
        updated_at=now,
        low_stock_alerted=is_low(values["quantity"], values["low_stock_threshold"]),
        **{name: values[name] for name in CREATE_FIELDS},
    )
    return Change(None, state, (events.product_created(public(state), source=source),))


def update(
    state: ProductState,
    values: dict[str, Any],
    reason: dict[str, Any],
    *,
    now: datetime,
    source: str,
    tracked: tuple[str, ...] = EDITABLE_FIELDS,
) -> Change:
    """Field changes: if any tracked field really changes, the next version, ProductUpdated with the diff,
    and LowStockWarning when the change crosses into low stock. Otherwise no change at all."""
    before = public(state)
    candidate = replace(state, **values)
    diff = events.diff(before, public(candidate), tracked)
    if not diff:
        return Change(state, state)
    after = replace(
        candidate,
        version=state.version + 1,
        updated_at=now,
        low_stock_alerted=alert_state_after(
            quantity=candidate.quantity, low_stock_threshold=candidate.low_stock_threshold
        ),
    )
    snapshot = public(after)
    updated = events.product_updated(snapshot, diff, reason, source=source)
    new_events = [updated]
    if low_stock_warning_due(
        was_alerted=state.low_stock_alerted, quantity=after.quantity, low_stock_threshold=after.low_stock_threshold
    ):
        new_events.append(events.low_stock_warning(snapshot, updated["id"], source=source))
    return Change(state, after, tuple(new_events))


def adjust(
    state: ProductState,
    delta: int,
    reason: str,
    note: str | None,
    *,
    now: datetime,
    source: str,
    actor: dict[str, Any] | None,
    event_reason: dict[str, Any] | None = None,
    extra_values: dict[str, Any] | None = None,
) -> Change:
    """Stock moves by `delta` (never below 0: InsufficientStock): a ledger row, then the update rules.

    `event_reason` replaces the stock-adjustment reason (an import says `{"kind": "import"}`);
    `extra_values` are other field changes made in the same step (an import row's new name, say).
    """
    movement = Movement(
        id=uuid.uuid4(),
        product_id=state.id,
        delta=delta,
        reason=reason,
        note=note,
        quantity_after=quantity_after(state.quantity, delta),
        created_at=now,
        actor=actor,
    )
    why = event_reason or events.stock_adjustment_reason(str(movement.id), reason, delta)
    change = update(
        state,
        {**(extra_values or {}), "quantity": movement.quantity_after},
        why,
        now=now,
        source=source,
        tracked=CREATE_FIELDS,
    )
    return replace(change, movement=movement)


def delete(state: ProductState, *, source: str) -> Change:
    return Change(state, None, (events.product_deleted(public(state), source=source),))
