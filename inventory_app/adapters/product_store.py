"""Products in PostgreSQL, on the async psycopg pool: the SQL of the product reads, in one place.

Plain SQL with typed row factories rather than the ORM: a product read is one statement whose rows map
straight onto the domain's `ProductState` (positional, in `PRODUCT_COLUMNS` order), with no session,
identity map or worker thread in between. SQLModel still defines the tables and Alembic migrates them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection, AsyncCursor
from psycopg.errors import UniqueViolation
from psycopg.rows import args_row
from psycopg.types.json import Jsonb

from inventory_app.domain.changes import MOVEMENT_COLUMNS, PRODUCT_COLUMNS, Change, Movement, ProductState
from inventory_app.domain.errors import DuplicateSku, FieldError

COLUMNS = ", ".join(PRODUCT_COLUMNS)
# The expression the trigram index (ix_product_search_trgm) is built on: a search must use it verbatim.
SEARCH_EXPRESSION = "lower(sku || ' ' || name || ' ' || description)"
# Sort keys the API accepts, mapped to columns: only these strings ever reach ORDER BY.
SORT_COLUMNS = {"name": "name", "sku": "sku", "quantity": "quantity", "price": "price", "updated_at": "updated_at"}


# Products with stock in a location or anywhere under it (the subtree, by a recursive walk of the tree).
HELD_UNDER = """EXISTS (
    WITH RECURSIVE under(id) AS (
        SELECT id FROM location WHERE id = %(location_id)s
        UNION SELECT l.id FROM location l JOIN under u ON l.parent_id = u.id
    )
    SELECT 1 FROM stock_level s
    WHERE s.product_id = product.id AND s.quantity > 0 AND s.location_id IN (SELECT id FROM under)
)"""


@dataclass(frozen=True)
class ListFilter:
    """A product list's WHERE clause with its parameters (validated by the service before it gets here)."""

    q: str | None = None
    category: str | None = None
    low_stock: bool | None = None
    location_id: uuid.UUID | None = None

    def sql(self) -> tuple[str, dict[str, Any]]:
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if self.q:
            escaped = self.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append(f"{SEARCH_EXPRESSION} LIKE %(q)s ESCAPE '\\'")
            params["q"] = f"%{escaped}%"
        if self.category:
            clauses.append("category = %(category)s")
            params["category"] = self.category
        if self.low_stock is True:
            clauses.append("quantity <= low_stock_threshold")
        elif self.low_stock is False:
            clauses.append("quantity > low_stock_threshold")
        if self.location_id is not None:
            clauses.append(HELD_UNDER)
            params["location_id"] = self.location_id
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


async def fetch_product(conn: AsyncConnection, product_id: uuid.UUID) -> ProductState | None:
    cursor = conn.cursor(row_factory=args_row(ProductState))
    await cursor.execute(f"SELECT {COLUMNS} FROM product WHERE id = %s", (product_id,))
    return await cursor.fetchone()


async def product_exists(conn: AsyncConnection, product_id: uuid.UUID) -> bool:
    cursor = await conn.execute("SELECT 1 FROM product WHERE id = %s", (product_id,))
    return await cursor.fetchone() is not None


async def fetch_page(
    conn: AsyncConnection, where: ListFilter, sort: str, limit: int, offset: int
) -> list[ProductState]:
    clause, params = where.sql()
    column = SORT_COLUMNS[sort.lstrip("-")]
    direction = "DESC" if sort.startswith("-") else "ASC"
    cursor = conn.cursor(row_factory=args_row(ProductState))
    await cursor.execute(
        f"SELECT {COLUMNS} FROM product{clause} ORDER BY {column} {direction}, id LIMIT %(limit)s OFFSET %(offset)s",
        {**params, "limit": limit, "offset": offset},
    )
    return await cursor.fetchall()


async def count_at_most(conn: AsyncConnection, where: ListFilter, cap: int) -> int:
    """How many products match, counting no further than `cap` (bounded work whatever the table's size)."""
    clause, params = where.sql()
    cursor = await conn.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM product{clause} LIMIT %(cap)s) AS capped", {**params, "cap": cap}
    )
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def estimate_count(conn: AsyncConnection, where: ListFilter) -> int:
    """The planner's estimate of the matching rows: no rows are read."""
    clause, params = where.sql()
    cursor = await conn.execute(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM product{clause}", params)
    row = await cursor.fetchone()
    return int(row[0][0]["Plan"]["Plan Rows"]) if row else 0


async def stream_by_sku(conn: AsyncConnection, batch: int) -> AsyncIterator[list[ProductState]]:
    """Every product in SKU order, `batch` rows at a time from a server-side cursor (inside the caller's
    transaction, so the whole stream is one snapshot)."""
    cursor = conn.cursor(name="export_products", row_factory=args_row(ProductState))
    async with cursor:
        await cursor.execute(f"SELECT {COLUMNS} FROM product ORDER BY sku")
        while rows := await cursor.fetchmany(batch):
            yield rows


async def fetch_categories(conn: AsyncConnection, limit: int) -> list[str]:
    cursor = await conn.execute(
        "SELECT DISTINCT category FROM product WHERE category <> '' ORDER BY category LIMIT %s", (limit,)
    )
    return [row[0] for row in await cursor.fetchall()]


async def count_movements(conn: AsyncConnection, product_id: uuid.UUID) -> int:
    cursor = await conn.execute("SELECT count(*) FROM stock_movement WHERE product_id = %s", (product_id,))
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def fetch_movements(conn: AsyncConnection, product_id: uuid.UUID, limit: int, offset: int) -> list[Movement]:
    cursor = conn.cursor(row_factory=args_row(Movement))
    columns = ", ".join(f"m.{name}" for name in MOVEMENT_COLUMNS)
    await cursor.execute(
        f"SELECT {columns}, l.code FROM stock_movement m LEFT JOIN location l ON l.id = m.location_id"
        " WHERE m.product_id = %s ORDER BY m.created_at DESC, m.id LIMIT %s OFFSET %s",
        (product_id, limit, offset),
    )
    return await cursor.fetchall()


# -- writes -------------------------------------------------------------------------------------------------
INSERT_PRODUCT_SQL = f"INSERT INTO product ({COLUMNS}) VALUES ({', '.join(f'%({name})s' for name in PRODUCT_COLUMNS)})"
UPDATE_PRODUCT_SQL = (
    "UPDATE product SET "
    + ", ".join(f"{name} = %({name})s" for name in PRODUCT_COLUMNS if name != "id")
    + " WHERE id = %(id)s"
)
INSERT_MOVEMENT_SQL = (
    f"INSERT INTO stock_movement ({', '.join(MOVEMENT_COLUMNS)})"
    f" VALUES ({', '.join(f'%({name})s' for name in MOVEMENT_COLUMNS)})"
)
# Every writer of a product's stock holds the product's row lock, so an upsert never races another.
UPSERT_LEVEL_SQL = """
INSERT INTO stock_level (product_id, location_id, quantity, min_quantity, low_alerted, updated_at)
VALUES (%(product_id)s, %(location_id)s, %(quantity)s, %(min_quantity)s, %(low_alerted)s, %(now)s)
ON CONFLICT (product_id, location_id) DO UPDATE SET quantity = EXCLUDED.quantity,
    min_quantity = EXCLUDED.min_quantity, low_alerted = EXCLUDED.low_alerted, updated_at = EXCLUDED.updated_at
"""
# The events in their list order, so the outbox ids (the relay's publishing order) follow it.
INSERT_EVENTS_SQL = """
INSERT INTO outbox (event_id, aggregate_id, event_type, payload, actor)
SELECT (e.event ->> 'id')::uuid, (e.event ->> 'subject')::uuid, e.event ->> 'type', e.event, %(actor)s
FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS e(event, n)
ORDER BY e.n
"""


async def lock_product(conn: AsyncConnection, product_id: uuid.UUID) -> ProductState | None:
    """The product, row-locked until the transaction ends: concurrent changes to it queue here."""
    cursor = conn.cursor(row_factory=args_row(ProductState))
    await cursor.execute(f"SELECT {COLUMNS} FROM product WHERE id = %s FOR UPDATE", (product_id,))
    return await cursor.fetchone()


async def sku_taken(conn: AsyncConnection, sku: str, except_id: uuid.UUID | None = None) -> bool:
    cursor = await conn.execute("SELECT 1 FROM product WHERE sku = %s AND id IS DISTINCT FROM %s", (sku, except_id))
    return await cursor.fetchone() is not None


async def lock_by_skus(conn: AsyncConnection, skus: list[str]) -> list[ProductState]:
    """The products with these SKUs, row-locked in id order (a fixed order: two imports never deadlock)."""
    cursor = conn.cursor(row_factory=args_row(ProductState))
    await cursor.execute(f"SELECT {COLUMNS} FROM product WHERE sku = ANY(%s) ORDER BY id FOR UPDATE", (skus,))
    return await cursor.fetchall()


async def _execute_each(cursor: AsyncCursor[Any], sql: str, rows: Sequence[Any]) -> None:
    """executemany for a batch; a single row (an adjustment's) as a plain execute, which costs less CPU."""
    if len(rows) == 1:
        await cursor.execute(sql, rows[0])
    elif rows:
        await cursor.executemany(sql, rows)


async def write_changes(conn: AsyncConnection, changes: list[Change], actor: dict[str, Any] | None) -> None:
    """Persist what domain changes returned: product rows, ledger rows, outbox rows, in one round trip.

    The statements go out as one pipeline (an adjustment's update, ledger row and events cost one round
    trip), executemany batches a chunk of an import, and the events of all the changes go in as one
    statement in their order. A concurrent insert of the same SKU, which the service's check cannot see,
    fails on the unique index and becomes the same DuplicateSku as the check's.
    """
    # Shallow copies: dataclasses.asdict() deep-copies every value, which showed in the write's profile.
    inserted = [dict(vars(c.after)) for c in changes if c.before is None and c.after is not None]
    updated = [dict(vars(c.after)) for c in changes if c.before is not None and c.after not in (None, c.before)]
    deleted = [(c.before.id,) for c in changes if c.after is None and c.before is not None]
    movements = [{**vars(m), "actor": Jsonb(m.actor)} for c in changes for m in c.movements]
    now = datetime.now(UTC)
    levels = [
        {
            "product_id": level.product_id,
            "location_id": level.place.id,
            "quantity": level.quantity,
            "min_quantity": level.min_quantity,
            "low_alerted": level.low_alerted,
            "now": now,
        }
        for c in changes
        if c.after is not None
        for level in c.levels
    ]
    events = [event for c in changes for event in c.events]
    try:
        async with conn.pipeline(), conn.cursor() as cursor:
            await _execute_each(cursor, INSERT_PRODUCT_SQL, inserted)
            await _execute_each(cursor, UPDATE_PRODUCT_SQL, updated)
            await _execute_each(cursor, "DELETE FROM product WHERE id = %s", deleted)
            await _execute_each(cursor, UPSERT_LEVEL_SQL, levels)
            await _execute_each(cursor, INSERT_MOVEMENT_SQL, movements)
            if events:
                await cursor.execute(INSERT_EVENTS_SQL, {"events": Jsonb(events), "actor": Jsonb(actor)})
    except UniqueViolation as error:
        if "sku" not in str(error):
            raise
        only = changes[0].after if len(changes) == 1 else None
        detail = (
            f"A product with SKU {only.sku} already exists."
            if only is not None
            else "A product with one of these SKUs was created at the same time; nothing was saved. Try again."
        )
        raise DuplicateSku(detail, [FieldError("sku", "already exists")]) from None
