"""Locations and stock per location in PostgreSQL, on the async pool: the SQL of the location tree and of
the stock levels the stock rules read (products' own SQL is `product_store.py`)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

from psycopg import AsyncConnection
from psycopg.errors import UniqueViolation
from psycopg.rows import args_row

from inventory_app.domain.changes import PRODUCT_COLUMNS, Place, ProductState, StockLevel
from inventory_app.domain.errors import DuplicateLocationCode, FieldError
from inventory_app.domain.locations import LOCATION_COLUMNS, Location

COLUMNS = ", ".join(LOCATION_COLUMNS)


async def fetch_all(conn: AsyncConnection, active: bool | None = None) -> list[Location]:
    cursor = conn.cursor(row_factory=args_row(Location))
    if active is None:
        await cursor.execute(f"SELECT {COLUMNS} FROM location")
    else:
        await cursor.execute(f"SELECT {COLUMNS} FROM location WHERE active = %s", (active,))
    return await cursor.fetchall()


async def fetch(conn: AsyncConnection, location_id: uuid.UUID, *, lock: bool = False) -> Location | None:
    cursor = conn.cursor(row_factory=args_row(Location))
    await cursor.execute(f"SELECT {COLUMNS} FROM location WHERE id = %s{' FOR UPDATE' if lock else ''}", (location_id,))
    return await cursor.fetchone()


async def parents(conn: AsyncConnection) -> dict[uuid.UUID, uuid.UUID | None]:
    cursor = await conn.execute("SELECT id, parent_id FROM location")
    return dict(await cursor.fetchall())


def _duplicate(code: str) -> DuplicateLocationCode:
    return DuplicateLocationCode(f"A location with code {code} already exists.", [FieldError("code", "already exists")])


async def insert(conn: AsyncConnection, location: Location) -> None:
    try:
        await conn.execute(
            f"INSERT INTO location ({COLUMNS}) VALUES ({', '.join(['%s'] * len(LOCATION_COLUMNS))})",
            [getattr(location, name) for name in LOCATION_COLUMNS],
        )
    except UniqueViolation:
        raise _duplicate(location.code) from None


async def update(conn: AsyncConnection, location: Location) -> None:
    try:
        await conn.execute(
            "UPDATE location SET code = %s, name = %s, parent_id = %s, active = %s, version = %s, updated_at = %s"
            " WHERE id = %s",
            (
                location.code,
                location.name,
                location.parent_id,
                location.active,
                location.version,
                location.updated_at,
                location.id,
            ),
        )
    except UniqueViolation:
        raise _duplicate(location.code) from None


async def code_taken(conn: AsyncConnection, code: str, except_id: uuid.UUID | None = None) -> bool:
    cursor = await conn.execute("SELECT 1 FROM location WHERE code = %s AND id IS DISTINCT FROM %s", (code, except_id))
    return await cursor.fetchone() is not None


async def uses(conn: AsyncConnection, location_id: uuid.UUID) -> dict[str, int]:
    """What keeps a location from being deleted: units held, child locations, ledger rows naming it."""
    cursor = await conn.execute(
        """
        SELECT (SELECT COALESCE(sum(quantity), 0) FROM stock_level WHERE location_id = %(id)s),
               (SELECT count(*) FROM location WHERE parent_id = %(id)s),
               (SELECT count(*) FROM (SELECT 1 FROM stock_movement WHERE location_id = %(id)s LIMIT 1) AS any_row)
        """,
        {"id": location_id},
    )
    units, children, ledger = await cursor.fetchone()
    return {"units": int(units), "children": int(children), "ledger": int(ledger)}


async def delete(conn: AsyncConnection, location_id: uuid.UUID) -> None:
    # Rows left at 0 (a minimum once set, stock moved out) are not stock: they go with the location.
    await conn.execute("DELETE FROM stock_level WHERE location_id = %s AND quantity = 0", (location_id,))
    await conn.execute("DELETE FROM location WHERE id = %s", (location_id,))


PLACE_AND_LEVEL = (
    "SELECT l.id, l.code, l.name, l.active, l.is_default, s.quantity, s.min_quantity, s.low_alerted"
    " FROM location l LEFT JOIN stock_level s ON s.location_id = l.id AND s.product_id = %(product_id)s"
)


async def lock_stock(
    conn: AsyncConnection, product_id: uuid.UUID, named: Iterable[uuid.UUID] = ()
) -> tuple[list[StockLevel], dict[uuid.UUID, Place]]:
    """The product's stock per place, and the places a change may touch (the default, those named, those
    holding the product), share-locked so that no admin deactivates or deletes one under the change.

    The caller holds the product's row lock, and every writer of its stock takes that lock first: the
    levels themselves need no lock, and opposite transfers queue on the product instead of deadlocking.
    """
    cursor = await conn.execute(
        PLACE_AND_LEVEL + " WHERE l.is_default OR l.id = ANY(%(named)s) OR s.product_id IS NOT NULL"
        " ORDER BY l.id FOR SHARE OF l",
        {"product_id": product_id, "named": list(named)},
    )
    return _levels(product_id, await cursor.fetchall())


async def lock_stock_levels(conn: AsyncConnection, product_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[StockLevel]]:
    """Each product's stock per place (only products holding a level row appear), the places holding them
    share-locked as `lock_stock` does, in one round trip for many products (the CSV import, per chunk).
    The caller holds the products' row locks."""
    cursor = await conn.execute(
        "SELECT s.product_id, l.id, l.code, l.name, l.active, l.is_default, s.quantity, s.min_quantity,"
        " s.low_alerted FROM stock_level s JOIN location l ON l.id = s.location_id"
        " WHERE s.product_id = ANY(%s) ORDER BY l.id FOR SHARE OF l",
        (product_ids,),
    )
    found: dict[uuid.UUID, list[StockLevel]] = {}
    places: dict[uuid.UUID, Place] = {}
    for product_id, location_id, code, name, active, is_default, quantity, minimum, alerted in await cursor.fetchall():
        place = places.setdefault(location_id, Place(location_id, code, name, active, is_default))
        found.setdefault(product_id, []).append(StockLevel(product_id, place, quantity, minimum, alerted))
    return found


async def stock_of(conn: AsyncConnection, product_id: uuid.UUID) -> tuple[list[StockLevel], dict[uuid.UUID, Place]]:
    """The same, read without locks (the product's stock page)."""
    cursor = await conn.execute(PLACE_AND_LEVEL + " WHERE s.product_id IS NOT NULL", {"product_id": product_id})
    return _levels(product_id, await cursor.fetchall())


def _levels(product_id: uuid.UUID, rows: list[tuple[Any, ...]]) -> tuple[list[StockLevel], dict[uuid.UUID, Place]]:
    places: dict[uuid.UUID, Place] = {}
    levels: list[StockLevel] = []
    for location_id, code, name, active, is_default, quantity, minimum, alerted in rows:
        place = places[location_id] = Place(location_id, code, name, active, is_default)
        if quantity is not None:
            levels.append(StockLevel(product_id, place, quantity, minimum, alerted))
    return levels, places


async def stream_stock_by_sku(
    conn: AsyncConnection, batch: int
) -> AsyncIterator[list[tuple[ProductState, str | None, int | None]]]:
    """Every product with each location holding it (one row each; a product holding nothing once, without a
    location), in SKU then code order, from a server-side cursor in the caller's transaction (one snapshot)."""
    columns = ", ".join(f"p.{name}" for name in PRODUCT_COLUMNS)
    cursor = conn.cursor(name="export_stock")
    async with cursor:
        await cursor.execute(
            f"SELECT {columns}, l.code, s.quantity FROM product p"
            " LEFT JOIN stock_level s ON s.product_id = p.id AND s.quantity > 0"
            " LEFT JOIN location l ON l.id = s.location_id ORDER BY p.sku, l.code"
        )
        width = len(PRODUCT_COLUMNS)
        while rows := await cursor.fetchmany(batch):
            yield [(ProductState(*row[:width]), row[width], row[width + 1]) for row in rows]
