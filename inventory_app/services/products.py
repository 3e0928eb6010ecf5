"""Product use cases: create, read, list, update, delete and adjust stock, each with its events."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inventory_app.adapters.orm import Product, StockMovement
from inventory_app.domain import changes, events
from inventory_app.domain.changes import PRODUCT_COLUMNS, Change, ProductState
from inventory_app.domain.errors import (
    DuplicateSku,
    FieldError,
    ProductNotFound,
    ValidationFailed,
    VersionConflict,
)
from inventory_app.domain.identity import Principal, Role
from inventory_app.domain.model import (
    EDITABLE_FIELDS,
    has_nul,
    validate_product_fields,
)
from inventory_app.services import idempotency
from inventory_app.services.unit_of_work import actor_of, add_event, unit_of_work
from inventory_app.settings import get_settings

SORTABLE = {
    "name": Product.name,
    "sku": Product.sku,
    "quantity": Product.quantity,
    "price": Product.price,
    "updated_at": Product.updated_at,
}
MAX_PAGE_SIZE = 200
# The trigram index answers substring searches of three characters or more; a shorter one would read the
# whole table on every keystroke, so it is refused (the UI waits for the third character).
MIN_SEARCH_LENGTH = 3
# A list's `count` is exact up to here. Above it the planner's estimate is reported (`count_estimated`):
# counting a large match exactly reads every matching row on every uncached page.
COUNT_EXACT_LIMIT = 10_000


def to_public(product: Any) -> dict[str, Any]:
    return changes.public(product)


def _write_back(product: Product, state: ProductState) -> None:
    """Copy a change's new state onto the ORM entity (only what differs, so the UPDATE names just that)."""
    for name in PRODUCT_COLUMNS:
        value = getattr(state, name)
        if getattr(product, name) != value:
            setattr(product, name, value)


def _record(session: Session, change: Change) -> None:
    """Stage a change's ledger row and events in the caller's transaction (events are validated there)."""
    if change.movement is not None:
        session.add(StockMovement(**asdict(change.movement)))
    for event in change.events:
        add_event(session, event)


def movement_to_public(movement: StockMovement) -> dict[str, Any]:
    return {
        "id": str(movement.id),
        "product_id": str(movement.product_id),
        "delta": movement.delta,
        "reason": movement.reason,
        "note": movement.note,
        "quantity_after": movement.quantity_after,
        "created_at": events.rfc3339(movement.created_at),
        "actor": movement.actor,
    }


@dataclass(frozen=True)
class Result:
    """A use case's answer; `replayed` is true when an idempotency key returned a stored response."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


def parse_product_id(value: str | uuid.UUID) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ProductNotFound(f"No product with id {value!r}.") from None


def _load(session: Session, product_id: str | uuid.UUID, *, lock: bool) -> Product:
    pid = parse_product_id(product_id)
    product = session.get(Product, pid, with_for_update=lock)
    if product is None:
        raise ProductNotFound(f"No product with id {pid}.")
    return product


def _check_version(product: Product, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != product.version:
        raise VersionConflict(
            f"The product is at version {product.version}, not {expected_version}: "
            "it was changed by someone else. Reload it and try again.",
            [FieldError("If-Match", f"current version is {product.version}")],
        )


def flush_unique(session: Session, sku: str) -> None:
    try:
        session.flush()
    except IntegrityError as error:
        if "sku" in str(error.orig):
            raise DuplicateSku(
                f"A product with SKU {sku} already exists.", [FieldError("sku", "already exists")]
            ) from None
        raise


def _refuse_taken_sku(session: Session, product: Product, fields: dict[str, Any]) -> None:
    if "sku" in fields and fields["sku"] != product.sku and _sku_taken(session, fields["sku"], product.id):
        raise DuplicateSku(f"A product with SKU {fields['sku']} already exists.", [FieldError("sku", "already exists")])


def _sku_taken(session: Session, sku: str, except_id: uuid.UUID | None = None) -> bool:
    query = select(Product.id).where(Product.sku == sku)
    if except_id is not None:
        query = query.where(Product.id != except_id)
    return session.execute(query).first() is not None


# -- create -----------------------------------------------------------------------------------------
def create_product_in(
    session: Session, fields: dict[str, Any], *, source: str, now: datetime | None = None, sku_checked: bool = False
) -> Product:
    """Insert a validated product and its ProductCreated event into the caller's transaction.

    `sku_checked`: the caller has already looked the SKU up (the import does, a chunk at a time) and will
    flush itself; the rows are then written in batches instead of a round trip each. The unique index
    still has the last word: a concurrent insert of the same SKU fails the caller's flush.
    """
    if not sku_checked and _sku_taken(session, fields["sku"]):
        raise DuplicateSku(f"A product with SKU {fields['sku']} already exists.", [FieldError("sku", "already exists")])
    change = changes.create(uuid.uuid4(), fields, now=now or datetime.now(UTC), source=source)
    product = Product(**asdict(change.after))
    session.add(product)
    if not sku_checked:
        flush_unique(session, product.sku)
    _record(session, change)
    return product


def create_product(
    payload: Any, *, by: Principal, idempotency_key: str | None = None, engine: Engine | None = None
) -> Result:
    by.require(Role.EDITOR)
    settings = get_settings()
    fields = validate_product_fields(payload, partial=False)
    with unit_of_work(engine, actor=by.actor) as session:
        body_hash = idempotency.request_hash(payload)
        scope = f"create_product:{by.user_id or 'system'}"  # keys are the caller's own
        if idempotency_key is not None:
            stored = idempotency.lookup(session, scope, idempotency_key, body_hash)
            if stored is not None:
                return Result(stored.status, stored.body, replayed=True)
        product = create_product_in(session, fields, source=settings.event_source)
        body = to_public(product)
        if idempotency_key is not None:
            idempotency.remember(session, scope, idempotency_key, body_hash, 201, body, settings.idempotency_ttl_s)
    return Result(201, body)


# -- read -------------------------------------------------------------------------------------------
def get_product(product_id: str | uuid.UUID, *, engine: Engine | None = None) -> dict[str, Any]:
    with unit_of_work(engine) as session:
        return to_public(_load(session, product_id, lock=False))


@dataclass(frozen=True)
class ProductQuery:
    q: str | None = None
    category: str | None = None
    low_stock: bool | None = None
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


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_products(query: ProductQuery, *, engine: Engine | None = None) -> dict[str, Any]:
    query = query.validated()
    conditions = []
    if query.q and query.q.strip():
        haystack = func.lower(Product.sku + " " + Product.name + " " + Product.description)
        conditions.append(haystack.like(f"%{_escape_like(query.q.strip().lower())}%", escape="\\"))
    if query.category:
        conditions.append(Product.category == query.category)
    if query.low_stock is True:
        conditions.append(Product.quantity <= Product.low_stock_threshold)
    elif query.low_stock is False:
        conditions.append(Product.quantity > Product.low_stock_threshold)
    column = SORTABLE[query.sort.lstrip("-")]
    order = column.desc() if query.sort.startswith("-") else column.asc()
    with unit_of_work(engine) as session:
        count, estimated = _bounded_count(session, conditions)
        rows = session.execute(
            select(Product).where(*conditions).order_by(order, Product.id).limit(query.limit).offset(query.offset)
        ).scalars()
        return {"data": [to_public(p) for p in rows], "count": count, "count_estimated": estimated}


def _bounded_count(session: Session, conditions: list[Any]) -> tuple[int, bool]:
    """The number of matching products, exact up to COUNT_EXACT_LIMIT, estimated above (and flagged)."""
    matching = select(Product.id).where(*conditions)
    capped = session.execute(
        select(func.count()).select_from(matching.limit(COUNT_EXACT_LIMIT + 1).subquery())
    ).scalar_one()
    if capped <= COUNT_EXACT_LIMIT:
        return capped, False
    compiled = matching.compile(dialect=session.get_bind().dialect)
    with session.connection().connection.cursor() as cursor:  # EXPLAIN takes the query as SQL text
        cursor.execute(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
        plan = cursor.fetchone()[0][0]["Plan"]
    # More than the limit match, whatever the planner believes.
    return max(int(plan["Plan Rows"]), COUNT_EXACT_LIMIT + 1), True


def list_categories(*, engine: Engine | None = None, limit: int = 200) -> list[str]:
    with unit_of_work(engine) as session:
        rows = session.execute(
            select(Product.category).where(Product.category != "").distinct().order_by(Product.category).limit(limit)
        ).scalars()
        return list(rows)


# -- update -----------------------------------------------------------------------------------------
def apply_changes_in(
    session: Session,
    product: Product,
    fields: dict[str, Any],
    reason: dict[str, Any],
    *,
    source: str,
    tracked: tuple[str, ...] = EDITABLE_FIELDS,
) -> dict[str, Any] | None:
    """Apply field changes to a locked product; emit ProductUpdated (+ LowStockWarning). None if no-op."""
    _refuse_taken_sku(session, product, fields)
    change = changes.update(
        ProductState.of(product), fields, reason, now=datetime.now(UTC), source=source, tracked=tracked
    )
    if not change.changed:
        return None
    _write_back(product, change.after)
    flush_unique(session, product.sku)
    _record(session, change)
    return change.events[0]


def update_product(
    product_id: str | uuid.UUID,
    payload: Any,
    *,
    by: Principal,
    expected_version: int | None = None,
    engine: Engine | None = None,
) -> dict[str, Any]:
    by.require(Role.EDITOR)
    fields = validate_product_fields(payload, partial=True)
    with unit_of_work(engine, actor=by.actor) as session:
        product = _load(session, product_id, lock=True)
        _check_version(product, expected_version)
        apply_changes_in(session, product, fields, {"kind": "edit"}, source=get_settings().event_source)
        return to_public(product)


# -- delete -----------------------------------------------------------------------------------------
def delete_product(
    product_id: str | uuid.UUID, *, by: Principal, expected_version: int | None = None, engine: Engine | None = None
) -> None:
    by.require(Role.EDITOR)
    with unit_of_work(engine, actor=by.actor) as session:
        product = _load(session, product_id, lock=True)
        _check_version(product, expected_version)
        change = changes.delete(ProductState.of(product), source=get_settings().event_source)
        session.delete(product)
        session.flush()
        _record(session, change)


# -- stock ------------------------------------------------------------------------------------------
def record_movement_in(
    session: Session,
    product: Product,
    delta: int,
    reason: str,
    note: str | None,
    *,
    source: str,
    event_reason: dict[str, Any] | None = None,
    extra_fields: dict[str, Any] | None = None,
) -> StockMovement:
    """Change a locked product's quantity by `delta`, append the ledger row and emit the events."""
    change = changes.adjust(
        ProductState.of(product),
        delta,
        reason,
        note,
        now=datetime.now(UTC),
        source=source,
        actor=actor_of(session).to_json(),
        event_reason=event_reason,
        extra_values=extra_fields,
    )
    if "sku" in (extra_fields or {}) and _sku_taken(session, extra_fields["sku"], product.id):
        raise DuplicateSku(
            f"A product with SKU {extra_fields['sku']} already exists.", [FieldError("sku", "already exists")]
        )
    _write_back(product, change.after)
    flush_unique(session, product.sku)
    _record(session, change)
    return change.movement


def list_movements(
    product_id: str | uuid.UUID, *, limit: int = 50, offset: int = 0, engine: Engine | None = None
) -> dict[str, Any]:
    errors = []
    if not 1 <= limit <= MAX_PAGE_SIZE:
        errors.append(FieldError("limit", f"must be between 1 and {MAX_PAGE_SIZE}"))
    if offset < 0:
        errors.append(FieldError("offset", "must be >= 0"))
    if errors:
        raise ValidationFailed("Invalid list parameters.", errors)
    with unit_of_work(engine) as session:
        # A deleted product's ledger stays readable (who moved what before it went); only an id that
        # never had a product answers 404.
        pid = parse_product_id(product_id)
        where = StockMovement.product_id == pid
        count = session.execute(select(func.count()).select_from(StockMovement).where(where)).scalar_one()
        if count == 0:
            _load(session, pid, lock=False)
        rows = session.execute(
            select(StockMovement)
            .where(where)
            .order_by(StockMovement.created_at.desc(), StockMovement.id)
            .limit(limit)
            .offset(offset)
        ).scalars()
        return {"data": [movement_to_public(m) for m in rows], "count": count}
