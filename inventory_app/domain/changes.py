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
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from inventory_app.domain import events
from inventory_app.domain.errors import FieldError, InsufficientStock, LocationInactive, ValidationFailed
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
    """One ledger row: stock of one location moved by `delta`, leaving the product's total at `quantity_after`
    and the location's at `location_quantity_after`."""

    id: uuid.UUID
    product_id: uuid.UUID
    delta: int
    reason: str
    note: str | None
    quantity_after: int
    created_at: datetime
    actor: dict[str, Any] | None
    location_id: uuid.UUID | None = None
    location_quantity_after: int | None = None
    transfer_id: uuid.UUID | None = None
    location_code: str | None = None  # read with the row (the location's code today), not stored with it


MOVEMENT_COLUMNS = tuple(f.name for f in fields(Movement) if f.name != "location_code")


@dataclass(frozen=True)
class Place:
    """What the stock rules need of a location."""

    id: uuid.UUID
    code: str
    name: str
    active: bool
    is_default: bool

    def ref(self) -> dict[str, Any]:
        return {"location_id": str(self.id), "code": self.code, "name": self.name}


def default_place(places: dict[uuid.UUID, Place]) -> Place:
    """The place stock goes to when a request names none: exactly one (migration 0008, a unique index)."""
    return next(place for place in places.values() if place.is_default)


@dataclass(frozen=True)
class StockLevel:
    """A product's quantity in one place, with that place's optional minimum for it."""

    product_id: uuid.UUID
    place: Place
    quantity: int = 0
    min_quantity: int | None = None
    low_alerted: bool = False

    @property
    def low(self) -> bool:
        return self.min_quantity is not None and self.quantity <= self.min_quantity


@dataclass(frozen=True)
class Change:
    """The outcome of one command: `after` is None for a delete; no events means nothing changed."""

    before: ProductState | None
    after: ProductState | None
    events: tuple[dict[str, Any], ...] = ()
    movements: tuple[Movement, ...] = ()
    levels: tuple[StockLevel, ...] = ()  # stock per place after the change, for the places it touched
    view: ProductView | None = None  # `public(after)`, built once with the events (it is their snapshot)

    @property
    def changed(self) -> bool:
        return bool(self.events)

    def view_after(self) -> ProductView:
        """The product after the change as the API shows it: the events' snapshot, not built again."""
        if self.view is not None:
            return self.view
        assert self.after is not None, "a delete has no product after it"
        return public(self.after)

    @property
    def movement(self) -> Movement | None:
        """The first ledger row (an adjustment that drew from several places has one per place)."""
        return self.movements[0] if self.movements else None


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


def create(
    product_id: uuid.UUID, values: dict[str, Any], *, now: datetime, source: str, default: Place | None = None
) -> Change:
    """A new product at version 1 from validated fields, and its ProductCreated; its initial quantity is in
    the default place."""
    state = ProductState(
        id=product_id,
        version=1,
        created_at=now,
        updated_at=now,
        low_stock_alerted=is_low(values["quantity"], values["low_stock_threshold"]),
        **{name: values[name] for name in CREATE_FIELDS},
    )
    levels = (StockLevel(product_id, default, state.quantity),) if default is not None and state.quantity else ()
    view = public(state)
    return Change(None, state, (events.product_created(view, source=source),), levels=levels, view=view)


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
    proposed = public(candidate)
    diff = events.diff(before, proposed, tracked)
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
    # public(after), from the candidate's view: only the version and the time differ (a third public() per
    # change showed in the write's profile).
    snapshot: ProductView = {**proposed, "version": after.version, "updated_at": events.rfc3339(now)}
    updated = events.product_updated(snapshot, diff, reason, source=source)
    new_events = [updated]
    if low_stock_warning_due(
        was_alerted=state.low_stock_alerted, quantity=after.quantity, low_stock_threshold=after.low_stock_threshold
    ):
        new_events.append(events.low_stock_warning(snapshot, updated["id"], source=source))
    return Change(state, after, tuple(new_events), view=snapshot)


def adjust(
    state: ProductState,
    delta: int,
    reason: str,
    note: str | None,
    *,
    now: datetime,
    source: str,
    actor: dict[str, Any] | None,
    levels: Sequence[StockLevel],
    default: Place,
    place: Place | None = None,
    event_reason: dict[str, Any] | None = None,
    extra_values: dict[str, Any] | None = None,
) -> Change:
    """Stock moves by `delta` (never below 0: InsufficientStock): one ledger row per place touched, then the
    update rules, then a LocationLowStockWarning for each place that crossed its minimum.

    With a `place`, the whole delta is there (an increase needs an active place). Without one, an increase
    goes to the default place, and a decrease draws from the default place first, then from the others in
    the order of their codes. `event_reason` replaces the stock-adjustment reason (an import says
    `{"kind": "import"}`); `extra_values` are other field changes made in the same step.
    """
    total = quantity_after(state.quantity, delta)  # the product-wide rules and message come first
    by_place = {level.place.id: level for level in levels}
    steps = _allocate(delta, by_place, default, place)
    movements, after_levels, running = [], [], state.quantity
    for target, step in steps:
        level = by_place.get(target.id) or StockLevel(state.id, target)
        running += step
        moved = replace(level, quantity=level.quantity + step)
        after_levels.append(moved)
        movements.append(
            Movement(
                uuid.uuid4(),
                state.id,
                step,
                reason,
                note,
                running,
                now,
                actor,
                target.id,
                moved.quantity,
                location_code=target.code,
            )
        )
    why = event_reason or events.stock_adjustment_reason(str(movements[0].id), reason, delta)
    if event_reason is None and (place is not None or steps[0][0].id != default.id or len(steps) > 1):
        why = {**why, "locations": [_located(m) for m in movements]}  # version 2 of ProductUpdated
    change = update(
        state, {**(extra_values or {}), "quantity": total}, why, now=now, source=source, tracked=CREATE_FIELDS
    )
    after_levels, warnings = _location_warnings(change, after_levels, by_place, source)
    return replace(change, events=change.events + warnings, movements=tuple(movements), levels=after_levels)


def _allocate(
    delta: int, by_place: dict[uuid.UUID, StockLevel], default: Place, place: Place | None
) -> list[tuple[Place, int]]:
    """Where the stock of an adjustment goes or comes from: [(place, signed amount), ...]."""
    if place is not None:
        if delta > 0 and not place.active:
            raise LocationInactive(
                f"{place.code} is inactive: it receives no stock.", [FieldError("location_id", "is inactive")]
            )
        held = by_place[place.id].quantity if place.id in by_place else 0
        if held + delta < 0:
            raise InsufficientStock(
                f"Only {held} in {place.code}; a change of {delta} would make it negative.",
                [FieldError("delta", f"at most {held} can be removed from {place.code}")],
            )
        return [(place, delta)]
    if delta > 0:
        return [(default, delta)]
    others = sorted((lv for lv in by_place.values() if lv.place.id != default.id), key=lambda lv: lv.place.code)
    order = [by_place.get(default.id) or StockLevel(uuid.UUID(int=0), default), *others]
    steps, need = [], -delta
    for level in order:
        take = min(need, level.quantity)
        if take:
            steps.append((level.place, -take))
            need -= take
    return steps  # the total check above guarantees `need` reached 0


def _located(movement: Movement) -> dict[str, Any]:
    return {
        "location_id": str(movement.location_id),
        "code": movement.location_code,
        "movement_id": str(movement.id),
        "delta": movement.delta,
        "quantity_after": movement.location_quantity_after,
    }


def _location_warnings(
    change: Change, levels: list[StockLevel], before: dict[uuid.UUID, StockLevel], source: str
) -> tuple[tuple[StockLevel, ...], tuple[dict[str, Any], ...]]:
    """Each touched place's alert flag after the change, and a warning for each that crossed its minimum
    (once per episode: re-armed when the place is above its minimum again, like the product's)."""
    cause = change.events[0]["id"]
    warnings, settled = [], []
    for level in levels:
        was = before.get(level.place.id, level).low_alerted
        if level.low and not was:
            warnings.append(
                events.location_low_stock_warning(
                    change.view_after(), level.place.ref(), level.quantity, level.min_quantity, cause, source=source
                )
            )
        settled.append(replace(level, low_alerted=level.low))
    return tuple(settled), tuple(warnings)


def transfer(
    state: ProductState,
    levels: Sequence[StockLevel],
    origin: Place,
    destination: Place,
    quantity: int,
    note: str | None,
    *,
    now: datetime,
    source: str,
    actor: dict[str, Any] | None,
) -> Change:
    """`quantity` moves from `origin` to `destination`: two ledger rows sharing a transfer id, the total (and
    the product's version) unchanged, a StockTransferred, and a LocationLowStockWarning if the origin crossed
    its minimum."""
    if origin.id == destination.id:
        raise ValidationFailed(
            "A transfer needs two different locations.", [FieldError("to_location_id", "is the source location")]
        )
    if not destination.active:
        raise LocationInactive(
            f"{destination.code} is inactive: it receives no stock.", [FieldError("to_location_id", "is inactive")]
        )
    by_place = {level.place.id: level for level in levels}
    held = by_place[origin.id].quantity if origin.id in by_place else 0
    if quantity > held:
        raise InsufficientStock(
            f"Only {held} in {origin.code}; a transfer of {quantity} would make it negative.",
            [FieldError("quantity", f"at most {held} can be moved from {origin.code}")],
        )
    transfer_id = uuid.uuid4()
    out_level = replace(by_place[origin.id], quantity=held - quantity)
    into = by_place.get(destination.id) or StockLevel(state.id, destination)
    in_level = replace(into, quantity=into.quantity + quantity)
    rows = tuple(
        Movement(
            uuid.uuid4(),
            state.id,
            step,
            "transfer",
            note,
            state.quantity,
            now,
            actor,
            level.place.id,
            level.quantity,
            transfer_id,
            level.place.code,
        )
        for level, step in ((out_level, -quantity), (in_level, quantity))
    )
    data = {
        "transfer_id": str(transfer_id),
        "product_id": str(state.id),
        "sku": state.sku,
        "quantity": quantity,
        "from": _side(rows[0]),
        "to": _side(rows[1]),
        "note": note,
    }
    moved = Change(state, state, (events.stock_transferred(data, source=source),))
    settled, warnings = _location_warnings(moved, [out_level, in_level], by_place, source)
    return replace(moved, events=moved.events + warnings, movements=rows, levels=settled)


def _side(movement: Movement) -> dict[str, Any]:
    return {
        "location_id": str(movement.location_id),
        "code": movement.location_code,
        "movement_id": str(movement.id),
        "quantity_after": movement.location_quantity_after,
    }


def set_minimum(state: ProductState, level: StockLevel, minimum: int | None) -> Change:
    """A place's minimum for the product. It warns with the next movement that leaves the place at or below
    it (a minimum set on a place already below it shows as low at once, and the next movement out warns)."""
    return Change(state, state, levels=(replace(level, min_quantity=minimum, low_alerted=False),))


def delete(state: ProductState, *, source: str) -> Change:
    return Change(state, None, (events.product_deleted(public(state), source=source),))
