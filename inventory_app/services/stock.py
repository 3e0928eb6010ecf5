"""Stock use cases: adjustments (the hot write path), transfers between locations, stock per location and
each location's minimum for a product.

The rules are the domain's (`domain.changes.adjust`, `transfer`, `set_minimum`) and the persistence the one
unit of work every change goes through: the product's row lock (every writer of its stock takes it first,
so concurrent changes of one product queue, and opposite transfers never deadlock), the places it touches
share-locked, then the rows, ledger rows and outbox rows written as one pipelined round trip.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from inventory_app.adapters import location_store, product_store
from inventory_app.bootstrap import wiring
from inventory_app.domain import changes, locations
from inventory_app.domain.changes import Place, ProductState, StockLevel
from inventory_app.domain.errors import FieldError, LocationNotFound, ProductNotFound, ValidationFailed
from inventory_app.domain.identity import Principal, Role
from inventory_app.domain.locations import Location
from inventory_app.domain.model import MAX_QUANTITY, has_nul, parse_uuid, validate_adjustment
from inventory_app.domain.views import AdjustmentResult, ProductStock, StockLevelView, TransferResult
from inventory_app.services import idempotency
from inventory_app.services.products import Result, movement_to_public, parse_product_id
from inventory_app.services.unit_of_work import UnitOfWork, UnitOfWorkFactory


async def adjust_stock(
    product_id: str | uuid.UUID,
    payload: Any,
    *,
    by: Principal,
    idempotency_key: str | None = None,
    uow: UnitOfWorkFactory | None = None,
) -> Result:
    """Apply a stock adjustment: 201 with the (first) ledger row and the product, or a replay of the first
    answer. Without `location_id` an increase goes to the default location and a decrease draws from the
    default first, then from the others by code (one ledger row per location touched)."""
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
        product = await _locked_product(unit, pid)
        named = [request.location_id] if request.location_id else []
        levels, places = await unit.lock_stock(pid, named)
        change = changes.adjust(
            product,
            request.delta,
            request.reason,
            request.note,
            now=datetime.now(UTC),
            source=wiring().settings.event_source,
            actor=by.actor.to_json(),
            levels=levels,
            default=changes.default_place(places),
            place=_named(places, request.location_id, "location_id"),
        )
        await unit.record(change)
        body: AdjustmentResult = {"movement": movement_to_public(change.movement), "product": change.view_after()}
        if idempotency_key is not None:
            await unit.remember(scope, idempotency_key, body_hash, 201, body)
    return Result(201, body)


async def transfer_stock(
    product_id: str | uuid.UUID,
    payload: Any,
    *,
    by: Principal,
    idempotency_key: str | None = None,
    uow: UnitOfWorkFactory | None = None,
) -> Result:
    """Move stock of a product between two locations: 201 with both ledger rows and the stock after it."""
    by.require(Role.EDITOR)
    origin_id, destination_id, quantity, note = _transfer_request(payload)
    pid = parse_product_id(product_id)
    scope = f"transfer_stock:{by.user_id or 'system'}:{pid}"
    body_hash = idempotency.request_hash(payload) if idempotency_key is not None else ""
    async with (uow or wiring().unit_of_work)(by.actor) as unit:
        if idempotency_key is not None:
            stored = await unit.replay(scope, idempotency_key, body_hash)
            if stored is not None:
                return Result(stored.status, stored.body, replayed=True)
        product = await _locked_product(unit, pid)
        levels, places = await unit.lock_stock(pid, [origin_id, destination_id])
        change = changes.transfer(
            product,
            levels,
            _named(places, origin_id, "from_location_id"),
            _named(places, destination_id, "to_location_id"),
            quantity,
            note,
            now=datetime.now(UTC),
            source=wiring().settings.event_source,
            actor=by.actor.to_json(),
        )
        await unit.record(change)
        after = {level.place.id: level for level in [*levels, *change.levels]}
        body: TransferResult = {
            "transfer_id": str(change.movements[0].transfer_id),
            "movements": [movement_to_public(m) for m in change.movements],
            "stock": stock_view(product, list(after.values()), await unit.locations()),
        }
        if idempotency_key is not None:
            await unit.remember(scope, idempotency_key, body_hash, 201, body)
    return Result(201, body)


async def set_minimum(
    product_id: str | uuid.UUID,
    location_id: str | uuid.UUID,
    payload: Any,
    *,
    by: Principal,
    uow: UnitOfWorkFactory | None = None,
) -> ProductStock:
    """Set or clear (`null`) a location's minimum for the product; the product's stock per location after."""
    by.require(Role.EDITOR)
    minimum = _minimum_request(payload)
    pid = parse_product_id(product_id)
    lid = parse_location_id(location_id)
    async with (uow or wiring().unit_of_work)(by.actor) as unit:
        product = await _locked_product(unit, pid)
        levels, places = await unit.lock_stock(pid, [lid])
        if lid not in places:
            raise LocationNotFound(f"No location with id {lid}.")
        level = next((lv for lv in levels if lv.place.id == lid), None) or StockLevel(pid, places[lid])
        change = changes.set_minimum(product, level, minimum)
        await unit.record(change)
        after = {lv.place.id: lv for lv in [*levels, *change.levels]}
        return stock_view(product, list(after.values()), await unit.locations())


async def product_stock(product_id: str | uuid.UUID) -> ProductStock:
    """The product's quantity in each location that holds it (or has a minimum for it), and the total."""
    pid = parse_product_id(product_id)
    async with (await wiring().pool()).connection() as conn, conn.transaction():
        product = await product_store.fetch_product(conn, pid)
        if product is None:
            raise ProductNotFound(f"No product with id {pid}.")
        levels, _ = await location_store.stock_of(conn, pid)
        return stock_view(product, levels, await location_store.fetch_all(conn))


def stock_view(product: ProductState, levels: list[StockLevel], tree: list[Location]) -> ProductStock:
    """Levels in the tree's order (depth first), each with its location's path; empty rows without a
    minimum are left out (stock moved away leaves a row at 0)."""
    order = {entry.location.id: entry for entry in locations.tree(tree)}
    shown = [lv for lv in levels if lv.quantity or lv.min_quantity is not None]
    shown.sort(key=lambda lv: list(order).index(lv.place.id) if lv.place.id in order else len(order))
    return {
        "product_id": str(product.id),
        "sku": product.sku,
        "total": product.quantity,
        "data": [_level_view(lv, order[lv.place.id].path if lv.place.id in order else lv.place.name) for lv in shown],
    }


def _level_view(level: StockLevel, path: str) -> StockLevelView:
    place = level.place
    return {
        "location_id": str(place.id),
        "code": place.code,
        "name": place.name,
        "path": path,
        "active": place.active,
        "is_default": place.is_default,
        "quantity": level.quantity,
        "min_quantity": level.min_quantity,
        "low": level.low,
    }


def parse_location_id(value: str | uuid.UUID) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise LocationNotFound(f"No location with id {value!r}.") from None


async def _locked_product(unit: UnitOfWork, pid: uuid.UUID) -> ProductState:
    # The row lock serialises every change of the product's stock: no lost update, one ledger row each.
    product = await unit.lock(pid)
    if product is None:
        raise ProductNotFound(f"No product with id {pid}.")
    return product


def _named(places: dict[uuid.UUID, Place], location_id: uuid.UUID | None, field: str) -> Place | None:
    if location_id is None:
        return None
    if location_id not in places:
        raise ValidationFailed(
            "The request names a location that does not exist.", [FieldError(field, "names no location")]
        )
    return places[location_id]


def _transfer_request(payload: Any) -> tuple[uuid.UUID, uuid.UUID, int, str | None]:
    if not isinstance(payload, dict):
        raise ValidationFailed("The body must be a JSON object.", [FieldError("body", "must be an object")])
    allowed = ("from_location_id", "to_location_id", "quantity", "note")
    errors = [FieldError(key, "is not a known field") for key in payload if key not in allowed]
    ids = {}
    for field in ("from_location_id", "to_location_id"):
        if payload.get(field) is None:
            errors.append(FieldError(field, "is required"))
        else:
            ids[field] = parse_uuid(payload[field], field, errors)
    quantity = payload.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        errors.append(FieldError("quantity", f"is required and must be an integer between 1 and {MAX_QUANTITY}"))
    note = payload.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 500 or has_nul(note)):
        errors.append(FieldError("note", "must be a string of at most 500 characters without NUL"))
    if errors:
        raise ValidationFailed("The transfer is invalid.", errors)
    return ids["from_location_id"], ids["to_location_id"], quantity, note or None


def _minimum_request(payload: Any) -> int | None:
    if not isinstance(payload, dict) or set(payload) != {"min_quantity"}:
        raise ValidationFailed(
            "The body must be an object with min_quantity only.",
            [FieldError("min_quantity", "is required (an integer >= 0, or null to remove the minimum)")],
        )
    minimum = payload["min_quantity"]
    if minimum is not None and (
        isinstance(minimum, bool) or not isinstance(minimum, int) or not 0 <= minimum <= MAX_QUANTITY
    ):
        raise ValidationFailed(
            "Invalid minimum.",
            [FieldError("min_quantity", f"must be an integer between 0 and {MAX_QUANTITY}, or null")],
        )
    return minimum
