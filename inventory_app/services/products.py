"""Product use cases: create, read, list, update, delete and adjust stock, each with its events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from inventory_app.adapters import product_store
from inventory_app.bootstrap import wiring
from inventory_app.domain import changes, events
from inventory_app.domain.changes import Movement, ProductState
from inventory_app.domain.errors import (
    DuplicateSku,
    FieldError,
    ProductNotFound,
    ValidationFailed,
    VersionConflict,
)
from inventory_app.domain.identity import Principal, Role
from inventory_app.domain.model import (
    has_nul,
    validate_product_fields,
)
from inventory_app.domain.views import AdjustmentResult, MovementsPage, MovementView, ProductsPage, ProductView
from inventory_app.services import idempotency
from inventory_app.services.unit_of_work import UnitOfWork, UnitOfWorkFactory

SORTABLE = product_store.SORT_COLUMNS
MAX_PAGE_SIZE = 200
# The trigram index answers substring searches of three characters or more; a shorter one would read the
# whole table on every keystroke, so it is refused (the UI waits for the third character).
MIN_SEARCH_LENGTH = 3
# A list's `count` is exact up to here. Above it the planner's estimate is reported (`count_estimated`):
# counting a large match exactly reads every matching row on every uncached page.
COUNT_EXACT_LIMIT = 10_000


def to_public(product: Any) -> ProductView:
    return changes.public(product)


def movement_to_public(movement: Movement) -> MovementView:
    return {
        "id": str(movement.id),
        "product_id": str(movement.product_id),
        "delta": movement.delta,
        "reason": movement.reason,
        "note": movement.note,
        "quantity_after": movement.quantity_after,
        "created_at": events.rfc3339(movement.created_at),
        "actor": movement.actor,
        "location_id": str(movement.location_id) if movement.location_id else None,
        "location_code": movement.location_code,
        "location_quantity_after": movement.location_quantity_after,
        "transfer_id": str(movement.transfer_id) if movement.transfer_id else None,
    }


@dataclass(frozen=True)
class Result:
    """A use case's answer; `replayed` is true when an idempotency key returned a stored response."""

    status: int
    body: ProductView | AdjustmentResult  # a replay: the first answer, as stored
    replayed: bool = False


def parse_product_id(value: str | uuid.UUID) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ProductNotFound(f"No product with id {value!r}.") from None


def _check_version(product: ProductState, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != product.version:
        raise VersionConflict(
            f"The product is at version {product.version}, not {expected_version}: "
            "it was changed by someone else. Reload it and try again.",
            [FieldError("If-Match", f"current version is {product.version}")],
        )


async def create_product(
    payload: Any, *, by: Principal, idempotency_key: str | None = None, uow: UnitOfWorkFactory | None = None
) -> Result:
    by.require(Role.EDITOR)
    fields = validate_product_fields(payload, partial=False)
    body_hash = idempotency.request_hash(payload)
    scope = f"create_product:{by.user_id or 'system'}"  # keys are the caller's own
    async with (uow or wiring().unit_of_work)(by.actor) as unit:
        if idempotency_key is not None:
            stored = await unit.replay(scope, idempotency_key, body_hash)
            if stored is not None:
                return Result(stored.status, stored.body, replayed=True)
        if await unit.sku_taken(fields["sku"]):
            raise DuplicateSku(
                f"A product with SKU {fields['sku']} already exists.", [FieldError("sku", "already exists")]
            )
        product_id = uuid.uuid4()
        _, places = await unit.lock_stock(product_id)  # the default place, where its first stock goes
        change = changes.create(
            product_id,
            fields,
            now=datetime.now(UTC),
            source=wiring().settings.event_source,
            default=changes.default_place(places),
        )
        await unit.record(change)
        body = change.view_after()
        if idempotency_key is not None:
            await unit.remember(scope, idempotency_key, body_hash, 201, body)
    return Result(201, body)


async def _locked(unit: UnitOfWork, product_id: str | uuid.UUID, expected_version: int | None) -> ProductState:
    pid = parse_product_id(product_id)
    product = await unit.lock(pid)
    if product is None:
        raise ProductNotFound(f"No product with id {pid}.")
    _check_version(product, expected_version)
    return product


# -- read -------------------------------------------------------------------------------------------
async def get_product(product_id: str | uuid.UUID) -> ProductView:
    pid = parse_product_id(product_id)
    async with (await wiring().pool()).connection() as conn:
        product = await product_store.fetch_product(conn, pid)
    if product is None:
        raise ProductNotFound(f"No product with id {pid}.")
    return to_public(product)


@dataclass(frozen=True)
class ProductQuery:
    q: str | None = None
    category: str | None = None
    low_stock: bool | None = None
    location_id: uuid.UUID | None = None  # stock in this location or under it
    sort: str = "name"
    limit: int = 50
    offset: int = 0

    def validated(self) -> ProductQuery:
        errors: list[FieldError] = []
        if self.sort.lstrip("-") not in SORTABLE or self.sort.count("-") > 1:
            errors.append(FieldError("sort", f"must be one of {', '.join(SORTABLE)} (prefix - for descending)"))
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            errors.append(FieldError("limit", f"must be between 1 and {MAX_PAGE_SIZE}"))
        if self.offset < 0:
            errors.append(FieldError("offset", "must be >= 0"))
        if self.q is not None and (len(self.q) > 200 or has_nul(self.q)):
            errors.append(FieldError("q", "must be at most 200 characters without NUL"))
        elif self.q is not None and 0 < len(self.q.strip()) < MIN_SEARCH_LENGTH:
            errors.append(FieldError("q", f"must be at least {MIN_SEARCH_LENGTH} characters (or empty)"))
        if self.category is not None and (len(self.category) > 100 or has_nul(self.category)):
            errors.append(FieldError("category", "must be at most 100 characters without NUL"))
        if errors:
            raise ValidationFailed("Invalid list parameters.", errors)
        return self


async def list_products(query: ProductQuery) -> ProductsPage:
    query = query.validated()
    q = query.q.strip() if query.q else ""
    where = product_store.ListFilter(
        q=q or None, category=query.category or None, low_stock=query.low_stock, location_id=query.location_id
    )
    async with (await wiring().pool()).connection() as conn:
        count, estimated = await _bounded_count(conn, where)
        rows = await product_store.fetch_page(conn, where, query.sort, query.limit, query.offset)
    return {"data": [to_public(p) for p in rows], "count": count, "count_estimated": estimated}


async def _bounded_count(conn: AsyncConnection, where: product_store.ListFilter) -> tuple[int, bool]:
    """The number of matching products, exact up to COUNT_EXACT_LIMIT, estimated above (and flagged)."""
    capped = await product_store.count_at_most(conn, where, COUNT_EXACT_LIMIT + 1)
    if capped <= COUNT_EXACT_LIMIT:
        return capped, False
    # More than the limit match, whatever the planner believes.
    return max(await product_store.estimate_count(conn, where), COUNT_EXACT_LIMIT + 1), True


async def list_categories(*, limit: int = 200) -> list[str]:
    async with (await wiring().pool()).connection() as conn:
        return await product_store.fetch_categories(conn, limit)


# -- update -----------------------------------------------------------------------------------------
async def update_product(
    product_id: str | uuid.UUID,
    payload: Any,
    *,
    by: Principal,
    expected_version: int | None = None,
    uow: UnitOfWorkFactory | None = None,
) -> ProductView:
    by.require(Role.EDITOR)
    fields = validate_product_fields(payload, partial=True)
    async with (uow or wiring().unit_of_work)(by.actor) as unit:
        product = await _locked(unit, product_id, expected_version)
        if "sku" in fields and fields["sku"] != product.sku and await unit.sku_taken(fields["sku"], product.id):
            raise DuplicateSku(
                f"A product with SKU {fields['sku']} already exists.", [FieldError("sku", "already exists")]
            )
        change = changes.update(
            product, fields, {"kind": "edit"}, now=datetime.now(UTC), source=wiring().settings.event_source
        )
        await unit.record(change)  # an edit that changes nothing records nothing
        return change.view_after()


# -- delete -----------------------------------------------------------------------------------------
async def delete_product(
    product_id: str | uuid.UUID,
    *,
    by: Principal,
    expected_version: int | None = None,
    uow: UnitOfWorkFactory | None = None,
) -> None:
    by.require(Role.EDITOR)
    async with (uow or wiring().unit_of_work)(by.actor) as unit:
        product = await _locked(unit, product_id, expected_version)
        await unit.record(changes.delete(product, source=wiring().settings.event_source))


# -- stock ------------------------------------------------------------------------------------------
async def list_movements(product_id: str | uuid.UUID, *, limit: int = 50, offset: int = 0) -> MovementsPage:
    errors = []
    if not 1 <= limit <= MAX_PAGE_SIZE:
        errors.append(FieldError("limit", f"must be between 1 and {MAX_PAGE_SIZE}"))
    if offset < 0:
        errors.append(FieldError("offset", "must be >= 0"))
    if errors:
        raise ValidationFailed("Invalid list parameters.", errors)
    pid = parse_product_id(product_id)
    async with (await wiring().pool()).connection() as conn:
        count = await product_store.count_movements(conn, pid)
        # A deleted product's ledger stays readable (who moved what before it went); only an id that
        # never had a product answers 404.
        if count == 0 and not await product_store.product_exists(conn, pid):
            raise ProductNotFound(f"No product with id {pid}.")
        rows = await product_store.fetch_movements(conn, pid, limit, offset)
    return {"data": [movement_to_public(m) for m in rows], "count": count}
